#!/bin/bash
# t021 - migration and evacuation end to end (issue 11 item 4): Debian's
# openstack CLI against stratusd and three hosts simulated on this machine
# (scripts/sim-hosts: each a namespace with its own libvirtd and agent), one
# test guest on a VXLAN tenant network behind a router (on the first host,
# with the DHCP server) with a floating IP reached from an "outside"
# namespace through the first host's uplink.
#
# The guest starts on the second host (not the router's).  Its user-data
# writes a marker to its root disk on the first boot (T021-MARK-WRITTEN),
# prints it on later boots (T021-MARK-SEEN), counts its boots on that disk
# (T021-BOOTS N), serves HTTP on ports 8000 (the security group lets it in)
# and 8001 (it does not), and prints a tick every second with the marker
# read back from the disk after dropping the page cache (T021-TICK N MARK).
#
#   - server migrate --wait (cold): VERIFY_RESIZE on another host, the source
#     keeps its stopped copy; server migrate confirm: the guest boots there
#     from the copied disk (its marker, its second boot), same IP (DHCP) and
#     MAC, the source's copy removed;
#   - server resize (to a bigger flavor) goes to yet another host; server
#     resize revert: back on the first host, with its disk from before the
#     resize (third boot, not fourth), the other host's copy removed;
#   - server migrate --live-migration --block-migration while the outside
#     pings the floating IP: at most a few pings lost, the guest not rebooted
#     (its ticks go on, reading its marker from the copied disk), same IP and
#     MAC, the floating IP answers, port 8000 answers and 8001 stays blocked;
#   - server evacuate is refused while the host is up; the host crashes (its
#     agent killed, its domains destroyed), compute service set --down,
#     server evacuate: ACTIVE on another host, rebuilt from the image (a
#     fresh disk), the floating IP answers; the crashed host's agent comes
#     back: it never starts its old copy and removes it;
#   - server migration list and os-migrations show the four migrations with
#     their types, statuses and hosts; nothing is left on any host.
. "$(dirname "$0")/lib.sh"
plan 61

[ "$(id -u)" = 0 ] || { echo "1..0 # SKIP needs root"; exit 0; }
UL=198.18.21
H1=t021-1 H2=t021-2 H3=t021-3
EXTNS=stx-t021-$$
trap 'ip netns del "$EXTNS" 2>/dev/null; st_cleanup' EXIT
ext() { ip netns exec "$EXTNS" "$@"; }
# Every action and what it shows go through the CLI; the polls in between
# are API calls (curl: a python start per poll costs 1-2 s on this machine).
api() { # METHOD PATH [curl args]: the body
    curl -s -X "$1" -H "X-Auth-Token: $ST_TOKEN" -H 'OpenStack-API-Version: compute latest' \
        -H 'Content-Type: application/json' "${@:3}" "$ST_URL/compute/v2.1$2"
}
vm_show() { api GET "/servers/$ID" | jq -c .server; }
vm_field() { # KEY of the last vm_show ($VM); a flavor is its name
    jq -r --arg k "$1" '.[$k] | if type == "object" then (.original_name // .name // tostring) else tostring end' <<<"$VM"
}
# wait_vm STATUS [SECONDS] [HOST-NOT]: until the server has STATUS (and is
# not on HOST-NOT); leaves it in $VM.
wait_vm() {
    for _ in $(seq $((${2:-180} * 4))); do
        VM=$(vm_show)
        if [ "$(vm_field status)" = "$1" ] && [ "$(vm_field OS-EXT-SRV-ATTR:host)" != "${3:-}" ]; then
            return 0
        fi
        [ "$(vm_field status)" = ERROR ] && break
        sleep 0.25
    done
    echo "# vm is $(vm_field status) on $(vm_field OS-EXT-SRV-ATTR:host), not $1"
    return 1
}
console_now() { api POST "/servers/$ID/action" -d '{"os-getConsoleOutput": {}}' | jq -r .output | tr -d '\r'; }
# console_has REGEX [SECONDS]: the guest's console log (from its current
# host), its lines joined by spaces, matches.
console_has() {
    for _ in $(seq $((${2:-120} * 2))); do
        console_now | tr '\n' ' ' | grep -Eq -- "$1" && return 0
        sleep 0.5
    done
    console_now | tail -n 8 | sed 's/^/# console: /'
    return 1
}
fip_answers() {
    for _ in $(seq 40); do ext ping -c 1 -W 1 "$FIP" >/dev/null 2>&1 && return 0; sleep 0.5; done
    return 1
}
http_open() { [ "$(ext curl -s --max-time 3 "http://$FIP:8000/")" = "t021 open" ]; }
http_blocked() { ! ext curl -s --max-time 3 -o /dev/null "http://$FIP:8001/"; }

# ---- three hosts, a network behind a router, the outside --------------------
if sim_underlay t021 $UL; then ok "the underlay bridge is made"; else not_ok "the underlay bridge is made"; fi
start_stratusd || { not_ok "stratusd starts"; done_testing; }
check "libvirtd runs" start_libvirt
os compute service set --disable "$(hostname)" nova-compute >/dev/null 2>&1
printf '[network]\nphysical_interface_mappings = physnet1:ext0\n' >"$ST_TMP/agent-extra.conf"
started=$(sim_hosts_start 3 --agent-conf "$ST_TMP/agent-extra.conf" 2>&1)
check_eq "three simulated hosts start and register" "$H1 $UL.11 $H2 $UL.12 $H3 $UL.13" "$(echo $started)"
[ "$(echo $started)" = "$H1 $UL.11 $H2 $UL.12 $H3 $UL.13" ] ||
    { echo "Bail out! the simulated hosts did not start: $started"; exit 1; }
ip netns add "$EXTNS"
ip link add t021x type veth peer name ext0 netns stsim-t021-1
ip link set t021x netns "$EXTNS"
ip -n stsim-t021-1 link set ext0 up
ext ip link set lo up
ext ip addr add 203.0.113.254/24 dev t021x
ext ip link set t021x up
check "upload the test guest" upload_guest

check "a VXLAN network and subnet, a router with an external gateway (flat, physnet1)" sh -c "
    $OPENSTACK network create --provider-network-type vxlan net >/dev/null &&
    $OPENSTACK subnet create --network net --subnet-range 10.21.0.0/24 sub >/dev/null &&
    $OPENSTACK router create r >/dev/null && $OPENSTACK router add subnet r sub &&
    $OPENSTACK network create --external --provider-network-type flat \
        --provider-physical-network physnet1 ext >/dev/null &&
    $OPENSTACK subnet create --network ext --subnet-range 203.0.113.0/24 --no-dhcp \
        --gateway 203.0.113.254 --allocation-pool start=203.0.113.10,end=203.0.113.50 extsub >/dev/null &&
    $OPENSTACK router set --external-gateway ext r &&
    $OPENSTACK security group rule create --protocol icmp --ingress default >/dev/null &&
    $OPENSTACK security group rule create --protocol tcp --dst-port 8000 --ingress default >/dev/null &&
    $OPENSTACK port create --network net --fixed-ip subnet=sub,ip-address=10.21.0.11 pvm >/dev/null"
MAC=$(os port show pvm -f value -c mac_address)
PORT=$(os port show pvm -f value -c id)

MARK=t021-$RANDOM$RANDOM
marker_userdata T021 "$MARK" "$ST_TMP/ud"
cat >>"$ST_TMP/ud" <<EOF
mkdir -p /www
echo "t021 open" >/www/index.html
httpd -p 8000 -h /www
httpd -p 8001 -h /www
( n=0
  while :; do
    n=\$((n + 1))
    echo 3 >/proc/sys/vm/drop_caches
    echo "T021-TICK \$n \$(cat \$m/t021-mark 2>/dev/null)"
    sleep 1
  done ) </dev/null >/dev/console 2>&1 &
exit 0
EOF
check "server create vm on the second host (not the router's)" os "${NOVA[@]}" server create \
    --image testguest --flavor tiny --nic port-id="$PORT" --user-data "$ST_TMP/ud" \
    --availability-zone nova:$H2 vm
ID=$(os server show vm -f value -c id)
ST_TOKEN=$(os token issue -f value -c id)
check "vm is ACTIVE" wait_vm ACTIVE
DOM=instance-$ID
check "it wrote its marker on its disk, booted once, got its address by DHCP across the tunnel" \
    console_has "T021-MARK-WRITTEN $MARK .*T021-BOOTS 1 .*ip=10.21.0.11/24 .*stratus-guest: ready" 180
FIP=$(os floating ip create ext -f value -c floating_ip_address)
check "server add floating ip" os server add floating ip vm "$FIP"
check "the floating IP answers (the guest is not on the router's host)" fip_answers
check "port 8000 (allowed by the security group) answers through the floating IP" http_open
check "port 8001 (not allowed) does not" http_blocked

# ---- cold migration, confirmed ------------------------------------------------
t0=$SECONDS
check "server migrate --wait (cold)" os "${NOVA[@]}" server migrate --wait vm
VM=$(vm_show)
D1=$(vm_field OS-EXT-SRV-ATTR:host)
diag "cold migration $H2 -> $D1: VERIFY_RESIZE after $((SECONDS - t0)) s"
check_eq "VERIFY_RESIZE on another host" "VERIFY_RESIZE yes" \
    "$(vm_field status) $([ "$D1" != "$H2" ] && [ -n "$D1" ] && [ "$D1" != null ] && echo yes)"
check_eq "the source keeps its copy, stopped, until confirmed" "$DOM shut off" \
    "$(doms_on $H2) $(vsh $H2 domstate "$DOM" 2>&1)"
check "server migrate confirm" os server migrate confirm vm
check "ACTIVE again" wait_vm ACTIVE 60
check "the guest booted on the new host from the copied disk (its marker, second boot), same address" \
    console_has "T021-MARK-SEEN $MARK .*T021-BOOTS 2 .*ip=10.21.0.11/24 .*stratus-guest: ready" 180
check_match "its domain on the new host has the port's MAC" "$MAC" "$(vsh "$D1" domiflist "$DOM" 2>&1)"
check_eq "the source's copy is removed once confirmed" "" "$(wait_doms $H2 "")"
check_eq "the port is bound to the new host" "$D1" "$(os port show pvm -f value -c binding_host_id)"

# ---- resize to another host, reverted -----------------------------------------
check "server resize --flavor small --wait" os "${NOVA[@]}" server resize --flavor small --wait vm
VM=$(vm_show)
D2=$(vm_field OS-EXT-SRV-ATTR:host)
check_eq "VERIFY_RESIZE with the new flavor on another host" "VERIFY_RESIZE small yes" \
    "$(vm_field status) $(vm_field flavor | grep -o small) $([ "$D2" != "$D1" ] && [ -n "$D2" ] && [ "$D2" != null ] && echo yes)"
check_match "its domain there has the new flavor's memory (256 MiB)" "Max memory: +262144 KiB" \
    "$(vsh "$D2" dominfo "$DOM" 2>&1)"
check "the resized guest boots there (third boot)" console_has "T021-BOOTS 3 .*stratus-guest: ready" 180
check "server resize revert" os server resize revert vm
# Until the server is back, Nova shows REVERT_RESIZE: a user (or a script)
# waiting for ACTIVE must not see it on the resize host.
seen=
for _ in $(seq 480); do
    VM=$(vm_show)
    st="$(vm_field status)@$(vm_field OS-EXT-SRV-ATTR:host)"
    case " $seen " in *" $st "*) ;; *) seen="$seen $st" ;; esac
    [ "$st" = "ACTIVE@$D1" ] && break
    [ "${st%@*}" = ERROR ] && break
    sleep 0.25
done
diag "statuses seen during the revert:$seen"
check_eq "ACTIVE again on the first host, and not ACTIVE on the resize host before" "ACTIVE@$D1 no" \
    "$st $(grep -q "ACTIVE@$D2" <<<"$seen" && echo yes || echo no)"
check_eq "back on the first host with the old flavor" "$D1 tiny" \
    "$(vm_field OS-EXT-SRV-ATTR:host) $(vm_field flavor | grep -o tiny)"
check "the guest boots from its disk of before the resize (third boot again)" \
    console_has "T021-BOOTS 3 .*stratus-guest: ready" 180
check_fail "... not from the resized one (no fourth boot)" grep -q "T021-BOOTS 4" <<<"$(console_now)"
check_eq "the resize host's copy is removed" "" "$(wait_doms "$D2" "")"
check_match "the domain on the first host has the old memory (128 MiB)" "Max memory: +131072 KiB" \
    "$(vsh "$D1" dominfo "$DOM" 2>&1)"

# ---- live migration while the outside pings the floating IP ------------------
# The destination: a host other than the router's (so that its crash below
# leaves the network host alone).
if [ "$D1" = "$H3" ]; then T=$H2; else T=$H3; fi
check "the floating IP answers before" fip_answers
ticks_before=$(console_now | grep -o 'T021-TICK [0-9]*' | tail -n 1 | awk '{print $2}')
# Every 0.5 s: the outage is the guest's pause (~0.2 s here) plus, when the
# router's host is neither end, the time until its l2population FDB entry
# follows the port binding (1-1.6 s in bench/migrate.sh): <= 10 lost is
# "a few", with room for a loaded machine.
ip netns exec "$EXTNS" ping -i 0.5 -W 1 "$FIP" >"$ST_TMP/ping-live" 2>&1 &
PINGER=$!
ST_PIDS+=("$PINGER")
sleep 1
t0=$SECONDS
check "server migrate --live-migration --block-migration --host $T --wait" \
    os "${NOVA[@]}" server migrate --live-migration --block-migration --host "$T" --wait vm
took=$((SECONDS - t0))
# The window closes once the guest has answered for three seconds again.
for _ in $(seq 60); do
    [ "$(tail -n 6 "$ST_TMP/ping-live" | grep -c 'bytes from')" -ge 6 ] && break
    sleep 0.5
done
kill -INT "$PINGER" 2>/dev/null
wait "$PINGER" 2>/dev/null
read -r sent got < <(awk '/packets transmitted/ {print $1, $4}' "$ST_TMP/ping-live")
diag "live migration $D1 -> $T: $took s; pings every 0.5 s: ${sent:-?} sent, ${got:-?} answered"
few=$([ -n "${sent:-}" ] && [ $((sent - got)) -le 10 ] && [ "$got" -gt 0 ] && echo yes)
# QEMU 7.2's TCG sometimes hands the destination a virtio-net ring the
# guest's driver no longer agrees with ("output.0:id N is not a head!",
# then a soft lockup in virtnet_poll): the guest is dead to the network
# and stuck, whatever stratus does (bench/README.md, "live migration";
# KVM hosts do not have it).  Seen on the guest's own console, the checks
# that need a live guest are skipped with that reason; any other outage
# fails them.
QEMU_TCG_BUG=
if [ "$few" != yes ] && console_now | grep -qE 'is not a head|virtnet_poll'; then
    QEMU_TCG_BUG="the guest's virtio-net ring broke in QEMU's TCG migration (guest kernel: $(console_now | grep -m1 -oE 'virtio_net [^ ]+ [^ ]+:id [0-9]+ is not a head'))"
fi
guest_check() { # check ... unless the guest's kernel lost its NIC to QEMU
    if [ -n "$QEMU_TCG_BUG" ]; then skip "$2 ($QEMU_TCG_BUG)"; else "$@"; fi
}
guest_check check_eq "at most a few pings lost (<= 10)" yes "$few"
if [ "$few" != yes ]; then
    # What CI's log alone must show: the guest's state on both ends, what
    # their agents and libvirtds said about it, the pings' pattern.
    diag "pings: $(grep -oE 'icmp_seq=[0-9]+' "$ST_TMP/ping-live" | cut -d= -f2 | tr '\n' ' ')"
    for h in "$D1" "$T"; do
        diag "$h: domstate $(vsh "$h" domstate --reason "$DOM" 2>&1 | tr '\n' ' ')"
        d=$ST_SIM_STATE/$(sim_idx "$h")
        grep -F -e "$ID" -e "migration" "$d/agent.log" 2>/dev/null | tail -n 12 | sed "s/^/# $h agent: /"
        tail -n 6 "$d/log/libvirt/libvirtd.log" 2>/dev/null | sed "s/^/# $h libvirtd: /"
        tail -n 6 "$d/log/libvirt/qemu/$DOM.log" 2>/dev/null | sed "s/^/# $h qemu: /"
    done
    console_now | tail -n 5 | sed 's/^/# console: /'
fi
VM=$(vm_show)
check_eq "ACTIVE on the chosen host" "ACTIVE $T" "$(vm_field status) $(vm_field OS-EXT-SRV-ATTR:host)"
check_eq "the domain runs on the destination only (gone from the source)" "$DOM|" \
    "$(running_on "$T")|$(wait_doms "$D1" "")"
check_match "with the port's MAC" "$MAC" "$(vsh "$T" domiflist "$DOM" 2>&1)"
check_eq "same fixed IP, port bound to the destination" "10.21.0.11 $T" \
    "$(os port show pvm -f json | jq -r '(.fixed_ips | if type == "string" then . else .[0].ip_address end | tostring | capture("(?<ip>10\\.21\\.0\\.[0-9]+)").ip) + " " + .binding_host_id')"
guest_check check "the floating IP answers after" fip_answers
guest_check check "port 8000 still answers" http_open
guest_check check "port 8001 is still blocked (the security group followed)" http_blocked
ticks=
for _ in $(seq 20); do
    ticks=$(console_now | grep -o "T021-TICK [0-9]* $MARK" | tail -n 1 | awk '{print $2}')
    [ -n "$ticks" ] && [ -n "$ticks_before" ] && [ "$ticks" -gt "$ticks_before" ] && break
    sleep 1
done
diag "ticks: $ticks_before before, $ticks after"
guest_check check_eq "not rebooted: its ticks go on, reading its marker from the copied disk" yes \
    "$([ -n "$ticks" ] && [ -n "$ticks_before" ] && [ "$ticks" -gt "$ticks_before" ] && echo yes)"
check_fail "... and no new boot on the destination's console" grep -q "T021-BOOTS 4" <<<"$(console_now)"

# ---- evacuation of a crashed host ---------------------------------------------
# The host it is on (the destination above, unless that failed).
T=$(vm_field OS-EXT-SRV-ATTR:host)
out=$(os "${NOVA[@]}" server evacuate vm 2>&1)
check_match "server evacuate is refused while the host is up" "409|still in use" "$out"
sim kill-agent "$(sim_idx "$T")"
vsh "$T" destroy "$DOM" >/dev/null 2>&1
check_eq "the host crashed: its agent is dead, its domain stopped (still defined)" "$DOM shut off" \
    "$(doms_on "$T") $(vsh "$T" domstate "$DOM" 2>&1)"
check "compute service set --down" os "${NOVA[@]}" compute service set --down "$T" nova-compute
# Debian 12's client (OSC 6.0.0) exits 1 after the evacuation was accepted:
# "'TupleWithMeta' object has no attribute 'to_dict'" (it formats the
# response as a server, whatever it is); the server's status says the rest.
out=$(os "${NOVA[@]}" server evacuate vm 2>&1)
check_match "server evacuate (accepted)" "^$|TupleWithMeta" "$out"
wait_vm ACTIVE 120 "$T"
E=$(vm_field OS-EXT-SRV-ATTR:host)
check_eq "ACTIVE on another host" "ACTIVE yes" "$(vm_field status) $([ "$E" != "$T" ] && [ -n "$E" ] && [ "$E" != null ] && echo yes)"
check "rebuilt there from the image (a fresh disk: marker written anew, first boot), same address" \
    console_has "T021-MARK-WRITTEN $MARK .*T021-BOOTS 1 .*ip=10.21.0.11/24 .*stratus-guest: ready" 180
check "the floating IP answers" fip_answers
sim start-agent "$(sim_idx "$T")"
left=x started=no
for _ in $(seq 160); do
    [ -n "$(running_on "$T")" ] && started=yes
    left=$(doms_on "$T")
    [ -z "$left" ] && break
    sleep 0.25
done
check_eq "the crashed host's agent back: its old copy never started, and removed" "no ''" \
    "$started '$left'"
check_eq "the guest still runs on the evacuation host" "$DOM ACTIVE $E" \
    "$(running_on "$E") $(os server show vm -f json | jq -r '.status + " " + ."OS-EXT-SRV-ATTR:host"')"
check "compute service set --up" os "${NOVA[@]}" compute service set --up "$T" nova-compute

# ---- the records ---------------------------------------------------------------
check_eq "server migration list: the four migrations, types and statuses" \
    "completed live-migration|confirmed migration|done evacuation|reverted resize" \
    "$(os "${NOVA[@]}" server migration list --server vm -f value -c Status -c Type 2>&1 | sort | paste -sd'|')"
out=$(http GET "/compute/v2.1/os-migrations?instance_uuid=$ID" -H 'OpenStack-API-Version: compute 2.80' |
    cut -d' ' -f2- | jq -r '.migrations | sort_by(.id) | map("\(.migration_type):\(.source_compute)>\(.dest_compute)") | join(" ")' 2>&1)
check_eq "os-migrations: their hosts in order" \
    "migration:$H2>$D1 resize:$D1>$D2 live-migration:$D1>$T evacuation:$T>$E" "$out"

# ---- nothing left ---------------------------------------------------------------
# (server delete --wait polls every 5 s: the API every 0.25 s instead.)
vm_gone() {
    os server delete vm || return 1
    for _ in $(seq 240); do
        [ "$(api GET "/servers/$ID" -o /dev/null -w '%{http_code}')" = 404 ] && return 0
        sleep 0.25
    done
    return 1
}
check "server delete: gone" vm_gone
left=
for h in $H1 $H2 $H3; do
    left+="$(wait_doms "$h" "")$(ls "$ST_SIM_STATE/$(sim_idx "$h")/instances" 2>/dev/null | grep -v '^[_.]' | tr '\n' ' ')"
done
check_eq "no domain or instance directory is left on any host" "" "$left"
check "the migration files are gone from the controller" \
    sh -c "[ -z \"\$(ls -A '$ST_DATA/migrations' 2>/dev/null)\" ]"

sim stop >/dev/null 2>&1
ST_SIM_STATE=
stop_stratusd
done_testing
