#!/bin/bash
# t017 - a tenant VXLAN network spanning two simulated hosts
# (scripts/sim-hosts): a guest on each, the network's DHCP on one of them,
# and the guests ping each other across the underlay.  The VXLAN devices
# have no multicast group: each host's FDB holds one all-zeros entry for
# the other host's VTEP (head-end replication) and, as Neutron's
# l2population, an entry for each MAC of the network on the other host,
# from the controller's port bindings.  A router (placed on the first host,
# with the DHCP server) with an external gateway on a flat network whose
# uplink is a veth from the first host into a test namespace: the guest on
# the second host reaches the outside through SNAT and answers ping on its
# floating IP, both across the tunnel to the router's host (issue 11 item 3).
# A deleted guest's MAC leaves the other host's FDB.
. "$(dirname "$0")/lib.sh"
plan 28

[ "$(id -u)" = 0 ] || { echo "1..0 # SKIP needs root"; exit 0; }
H1=t017-1 H2=t017-2
UL=198.18.18
in_host() { local i=$1; shift; ip netns exec "stsim-t017-$i" "$@"; }
# The "outside": a namespace with a veth whose other end (ext0) is the first
# host's uplink of physnet1.
EXTNS=stx-t017-$$
trap 'ip netns del "$EXTNS" 2>/dev/null; st_cleanup' EXIT
ext() { ip netns exec "$EXTNS" "$@"; }
if command -v ping >/dev/null; then PING=(ping); else PING=(busybox ping); fi
printf '[network]\nphysical_interface_mappings = physnet1:ext0\n' >"$ST_TMP/agent-extra.conf"

# The user-data of a guest: report pings to TARGET, forever, as markers.
pinger() { # MARK TARGET...
    local mark=$1
    shift
    cat <<EOF
#!/bin/sh
( while true; do
    for t in $*; do
      if ping -c 1 -W 1 \$t >/dev/null 2>&1; then echo "$mark-OK \$t"; else echo "$mark-NO \$t"; fi
    done
    sleep 2
  done ) >/dev/console 2>&1 &
EOF
}

if sim_underlay t017 $UL; then ok "the underlay bridge is made"; else not_ok "the underlay bridge is made"; fi
start_stratusd || { not_ok "stratusd starts"; done_testing; }
check "libvirtd runs" start_libvirt
os compute service set --disable "$(hostname)" nova-compute >/dev/null 2>&1
started=$(sim_hosts_start 2 --agent-conf "$ST_TMP/agent-extra.conf" 2>&1)
check_eq "two simulated hosts start and register" "$H1 $UL.11 $H2 $UL.12" "$(echo $started)"
[ "$(echo $started)" = "$H1 $UL.11 $H2 $UL.12" ] ||
    { echo "Bail out! the simulated hosts did not start"; exit 1; }
check "upload the test guest" upload_guest
ip netns add "$EXTNS"
ip link add t017x type veth peer name ext0 netns stsim-t017-1
ip link set t017x netns "$EXTNS"
in_host 1 ip link set ext0 up
ext ip link set lo up
ext ip addr add 203.0.113.254/24 dev t017x
ext ip link set t017x up

check "network create (vxlan)" os network create --provider-network-type vxlan net
check "subnet create 10.17.0.0/24" os subnet create --network net --subnet-range 10.17.0.0/24 sub
VNI=$(os network show net -f value -c provider:segmentation_id)
os security group rule create --protocol icmp --ingress default >/dev/null
os port create --network net --fixed-ip subnet=sub,ip-address=10.17.0.11 pa >/dev/null
os port create --network net --fixed-ip subnet=sub,ip-address=10.17.0.12 pb >/dev/null
MAC_A=$(os port show pa -f value -c mac_address)
MAC_B=$(os port show pb -f value -c mac_address)
pinger A 10.17.0.12 >"$ST_TMP/ud-a"
pinger B 10.17.0.11 203.0.113.254 >"$ST_TMP/ud-b"
check "server vma on the first host" os "${NOVA[@]}" server create --image testguest \
    --flavor tiny --nic port-id="$(os port show pa -f value -c id)" --user-data "$ST_TMP/ud-a" \
    --availability-zone nova:$H1 vma
check "server vmb on the second host" os "${NOVA[@]}" server create --image testguest \
    --flavor tiny --nic port-id="$(os port show pb -f value -c id)" --user-data "$ST_TMP/ud-b" \
    --availability-zone nova:$H2 vmb
check_eq "they are on different hosts" "$H1 $H2" \
    "$(os server show vma -f value -c OS-EXT-SRV-ATTR:host) $(os server show vmb -f value -c OS-EXT-SRV-ATTR:host)"
wait_status vma ACTIVE >/dev/null
wait_status vmb ACTIVE >/dev/null
la=$(wait_console vma 'stratus-guest: ready')
lb=$(wait_console vmb 'stratus-guest: ready')
check_match "both get their address by DHCP (one across the tunnel)" \
    "ip=10.17.0.11/24 ip=10.17.0.12/24" \
    "$(grep -o 'ip=10.17.0.11/24' <<<"$la") $(grep -o 'ip=10.17.0.12/24' <<<"$lb")"
check "vma (first host) pings vmb (second host) over VXLAN" wait_console vma 'A-OK 10.17.0.12' 90
check "vmb pings vma" wait_console vmb 'B-OK 10.17.0.11' 60

fdb1=$(in_host 1 bridge fdb show dev "vxlan-$VNI" 2>&1)
fdb2=$(in_host 2 bridge fdb show dev "vxlan-$VNI" 2>&1)
diag "first host's FDB on vxlan-$VNI: $(echo $fdb1)"
check_match "first host: an all-zeros entry to the second host's VTEP" \
    "00:00:00:00:00:00 dst $UL.12" "$fdb1"
check_match "first host: vmb's MAC to the second host's VTEP (l2population)" \
    "$MAC_B dst $UL.12" "$fdb1"
check_match "second host: vma's MAC to the first host's VTEP" "$MAC_A dst $UL.11" "$fdb2"
check_eq "no multicast group on the VXLAN devices" "" \
    "$( (in_host 1 ip -d link show "vxlan-$VNI"; in_host 2 ip -d link show "vxlan-$VNI") |
        grep -oE '(group|remote) ([0-9]+\.[0-9.]+|[0-9a-f]*:[0-9a-f:]+)')"

# ---- a router on the first host, a floating IP for the guest on the second ----
check "router create, add subnet, external gateway on a flat network (physnet1)" sh -c "
    $OPENSTACK router create r >/dev/null &&
    $OPENSTACK router add subnet r sub &&
    $OPENSTACK network create --external --provider-network-type flat \
        --provider-physical-network physnet1 ext >/dev/null &&
    $OPENSTACK subnet create --network ext --subnet-range 203.0.113.0/24 --no-dhcp \
        --gateway 203.0.113.254 --allocation-pool start=203.0.113.10,end=203.0.113.50 extsub >/dev/null &&
    $OPENSTACK router set --external-gateway ext r"
RID=$(os router show r -f value -c id)
HID1=$(os hypervisor show $H1 -f value -c id)
lo_alias=
for _ in $(seq 60); do
    lo_alias=$(ip -n "qrouter-$RID" -o link show lo 2>/dev/null)
    [ -n "$lo_alias" ] && break
    sleep 0.5
done
check_match "the router's namespace is the first host's (its owner mark)" "alias stratus host $HID1" \
    "$lo_alias"
check "vmb (second host) reaches the outside through the router's SNAT" \
    wait_console vmb 'B-OK 203.0.113.254' 90
fip=$(os floating ip create ext -f value -c floating_ip_address)
check_match "floating ip create" '^203\.0\.113\.' "$fip"
check "server add floating ip vmb (not on the router's host)" os server add floating ip vmb "$fip"
fip_answers() {
    for _ in $(seq 30); do ext "${PING[@]}" -c 1 -W 1 "$fip" >/dev/null 2>&1 && return 0; sleep 0.5; done
    return 1
}
check "the floating IP of the guest on the second host answers ping from outside" fip_answers
check_fail "an address of no server does not answer" ext "${PING[@]}" -c 2 -W 1 203.0.113.49
check "server remove floating ip, floating ip delete" sh -c "
    $OPENSTACK server remove floating ip vmb $fip && $OPENSTACK floating ip delete $fip"

check "delete vmb" os server delete --wait vmb
gone=no
for _ in $(seq 40); do
    # The device's own (self) entry; the bridge's learned one ("master")
    # ages out by itself.
    in_host 1 bridge fdb show dev "vxlan-$VNI" | grep -q "$MAC_B dst" || { gone=yes; break; }
    sleep 0.5
done
check_eq "vmb's MAC leaves the first host's FDB" yes "$gone"

os server delete --wait vma >/dev/null 2>&1
sim stop >/dev/null 2>&1
ST_SIM_STATE=
stop_stratusd
done_testing
