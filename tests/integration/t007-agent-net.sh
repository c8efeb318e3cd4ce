#!/usr/bin/env bash
# t007-agent-net.sh - the agent's network driver (src/agent/net.c) with real
# bridges, veths, namespaces, dnsmasq, nftables and packets.  Prints TAP.
#
# The driver runs through tests/agent/net-apply (one net_reconcile() pass
# per call, report on stdout) on desired states written here.  "VMs" are
# namespaces vm1..vm3, each with a veth whose host end has the port's tap
# name (tap + port id[:11]) and whose guest end has the port's MAC; the
# "physical" network is a veth stphys0 into namespace "upstream", which
# stands for the external router (203.0.113.1).
#
# What it proves: DHCP leases (with the network's MTU) from dnsmasq in
# qdhcp-<net>; two VMs of one group ping each other; two networks reach
# each other only through a router; SNAT to the upstream and a floating IP
# reachable from it (with the floating IP as source); a group without ICMP
# ingress stops ping, adding the rule lets it through, removing it stops it
# again; a VM spoofing its IP or MAC gets nothing through; a VLAN network
# says it is skipped where 802.1Q is missing; VXLAN FDB entries follow the
# peers; a DHCP tap, a DHCP and a router namespace and an nft chain
# deleted by hand come back at the next pass; a pass with nothing to do changes nothing;
# an empty desired state leaves no bridge, namespace, dnsmasq or nft rule.
# Ownership: a bridge, tap and namespace marked by another host, and an
# unmarked bridge, are never touched; a desired network whose bridge is
# another host's is ERROR; an unmarked bridge a desired network names is
# adopted.
#
# Isolation: the whole test runs in a network and mount namespace of its
# own (unshare), with a private tmpfs on /run/netns, so the host's
# interfaces, routes, firewall and namespaces are never touched and
# everything disappears with the test even if it dies.  Needs root,
# unshare, iproute2, nft, dnsmasq and busybox (udhcpc, ping).  Binaries from
# $STRATUS_BUILD (default build-asan).

if [ -z "${T007_ISOLATED:-}" ]; then
    if [ "$(id -u)" -ne 0 ] || ! command -v unshare >/dev/null; then
        echo "1..0 # SKIP needs root and unshare"
        exit 0
    fi
    exec env T007_ISOLATED=1 unshare --mount --net --propagation private -- bash "$0" "$@"
fi

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

NETAPPLY=$ST_BUILD/tests/net-apply
STATE=$ST_TMP/state
DESIRED=$ST_TMP/desired.json
REPORT=$ST_TMP/report.json
BUSYBOX=$(command -v busybox)

for prog in ip nft dnsmasq "$BUSYBOX" "$NETAPPLY" jq; do
    if [ -z "$prog" ] || ! command -v "$prog" >/dev/null; then
        echo "1..0 # SKIP missing $prog"
        exit 0
    fi
done

plan 69

mkdir -p /run/netns
mount -t tmpfs stratus-t007 /run/netns
chmod 0755 "$ST_TMP"

teardown() {
    local f pid
    "$NETAPPLY" --state-dir "$STATE" --host-id "$HOST_ID" --teardown >/dev/null 2>&1
    # dnsmasq daemonises: stop any of ours the teardown could not.
    for f in "$STATE"/dhcp/*/pid; do
        [ -e "$f" ] || continue
        pid=$(cat "$f")
        grep -q "$ST_TMP" "/proc/$pid/cmdline" 2>/dev/null && kill "$pid"
    done
    for f in /run/netns/*; do
        [ -e "$f" ] && ip netns del "$(basename "$f")" 2>/dev/null
    done
    umount /run/netns 2>/dev/null
    st_cleanup
}
trap teardown EXIT

# ---- ids, names and addresses ----
N1=a1000000-0000-4000-8000-000000000001   # tenant network 1, 10.10.0.0/24
N2=a2000000-0000-4000-8000-000000000002   # tenant network 2, 10.20.0.0/24
NX=ae000000-0000-4000-8000-00000000000e   # external, flat on physnet1
NV=a7000000-0000-4000-8000-000000000007   # vlan 100 on physnet1
NW=a8000000-0000-4000-8000-000000000008   # vxlan 1001
P1=b1000000-0000-4000-8000-000000000001   # vm1 on N1
P2=b2000000-0000-4000-8000-000000000002   # vm2 on N1
P3=b3000000-0000-4000-8000-000000000003   # vm3 on N2
P4=b4000000-0000-4000-8000-000000000004   # vm4 on N1 (plugged late)
D1=d1000000-0000-4000-8000-000000000001   # DHCP port of N1
D2=d2000000-0000-4000-8000-000000000002   # DHCP port of N2
R1=e1000000-0000-4000-8000-000000000001
Q1=c1000000-0000-4000-8000-000000000001   # router leg on N1
Q2=c2000000-0000-4000-8000-000000000002   # router leg on N2
QX=ce000000-0000-4000-8000-00000000000e   # router gateway on NX
G1=51000000-0000-4000-8000-000000000001   # group of vm1, vm2 (and vm4)
G2=52000000-0000-4000-8000-000000000002   # group of vm3
S1=71000000-0000-4000-8000-000000000001
S2=72000000-0000-4000-8000-000000000002
SX=7e000000-0000-4000-8000-00000000000e
FIP=203.0.113.50
HOST_ID=7007aaaa-0000-4000-8000-000000000007  # the host record's id, in the desired state
TABLE=stratus-${HOST_ID:0:8}                   # the agent's host tables: bridge and inet
OTHER=stratus-0f0f0f0f                         # another agent's, on the same machine
OTHER_HOST=b0070000-0000-4000-8000-0000000000b7  # another host on this machine
NF=f0000000-0000-4000-8000-0000000000f0      # a network whose bridge is OTHER_HOST's
NA=f1000000-0000-4000-8000-0000000000f1      # a network whose bridge is unmarked

br() { echo "brq${1:0:11}"; }
tap() { echo "tap${1:0:11}"; }

# ---- desired states ----
# desired OPTIONS...: writes $DESIRED.  Options: router fip icmp3 (ICMP
# ingress in vm3's group) vm4 big (1,000 rules in G1) peers2 (other VXLAN
# peers) empty.
desired() {
    local router=0 fip=0 icmp3=0 vm4=0 big=0 peers='"192.0.2.11", "192.0.2.12"' empty=0 o
    for o in "$@"; do
        case $o in
        router) router=1 ;;
        fip) fip=1 ;;
        icmp3) icmp3=1 ;;
        vm4) vm4=1 ;;
        big) big=1 ;;
        peers2) peers='"192.0.2.12", "192.0.2.13"' ;;
        empty) empty=1 ;;
        esac
    done
    if [ $empty = 1 ]; then
        echo '{"host": "t007", "host_id": "'$HOST_ID'", "revision": 99, "networks": [], "ports": [],
               "security_groups": [], "routers": []}' >"$DESIRED"
        return
    fi
    local g2_rules='{"id": "62000000-0000-4000-8000-000000000001", "direction": "egress", "ethertype": "IPv4"}'
    if [ $icmp3 = 1 ]; then
        g2_rules="$g2_rules"', {"id": "62000000-0000-4000-8000-000000000002", "direction": "ingress",
                 "ethertype": "IPv4", "protocol": "icmp", "remote_ip_prefix": "0.0.0.0/0"}'
    fi
    local g1_extra=""
    if [ $big = 1 ]; then
        g1_extra=$(seq 1 1000 | awk '{printf ", {\"id\": \"6f%06x-0000-4000-8000-000000000000\", \"direction\": \"ingress\", \"ethertype\": \"IPv4\", \"protocol\": \"tcp\", \"port_range_min\": %d, \"port_range_max\": %d, \"remote_ip_prefix\": \"198.51.100.%d/32\"}", $1, 1000 + $1, 1000 + $1, $1 % 250}')
    fi
    local vm4_port="" vm4_host="" g1_members='"10.10.0.10", "10.10.0.11"'
    if [ $vm4 = 1 ]; then
        vm4_port=', {"id": "'$P4'", "network_id": "'$N1'", "mac_address": "fa:16:3e:00:00:04",
            "fixed_ips": [{"ip_address": "10.10.0.12", "prefixlen": 24, "subnet_id": "'$S1'"}],
            "port_security_enabled": true, "security_groups": ["'$G1'"], "allowed_address_pairs": []}'
        g1_members="$g1_members"', "10.10.0.12"'
        vm4_host=', {"mac_address": "fa:16:3e:00:00:04", "ip_address": "10.10.0.12", "hostname": "vm4"}'
    fi
    local routers="[]"
    if [ $router = 1 ]; then
        local fips="[]"
        [ $fip = 1 ] && fips='[{"id": "f1000000-0000-4000-8000-000000000001",
                               "floating_ip_address": "'$FIP'", "fixed_ip_address": "10.10.0.10"}]'
        routers='[{"id": "'$R1'",
          "gateway": {"network_id": "'$NX'", "port_id": "'$QX'", "mac_address": "fa:16:3e:00:0c:0e",
                      "fixed_ips": [{"ip_address": "203.0.113.10", "prefixlen": 24, "subnet_id": "'$SX'"}],
                      "gateway_ip": "203.0.113.1", "enable_snat": true},
          "interfaces": [
            {"port_id": "'$Q1'", "network_id": "'$N1'", "mac_address": "fa:16:3e:00:0c:01",
             "fixed_ips": [{"ip_address": "10.10.0.1", "prefixlen": 24, "subnet_id": "'$S1'"}]},
            {"port_id": "'$Q2'", "network_id": "'$N2'", "mac_address": "fa:16:3e:00:0c:02",
             "fixed_ips": [{"ip_address": "10.20.0.1", "prefixlen": 24, "subnet_id": "'$S2'"}]}],
          "routes": [], "floating_ips": '"$fips"'}]'
    fi
    cat >"$DESIRED" <<EOF
{
  "host": "t007", "host_id": "$HOST_ID", "revision": 1,
  "networks": [
    {"id": "$N1", "network_type": "local", "mtu": 1450, "external": false, "vxlan_peers": [],
     "dhcp": {"port_id": "$D1", "mac_address": "fa:16:3e:00:0d:01",
              "fixed_ips": [{"ip_address": "10.10.0.2", "prefixlen": 24, "subnet_id": "$S1"}],
              "subnets": [{"id": "$S1", "cidr": "10.10.0.0/24", "ip_version": 4, "gateway_ip": "10.10.0.1",
                           "enable_dhcp": true, "dns_nameservers": [], "host_routes": [],
                           "allocation_pools": [{"start": "10.10.0.2", "end": "10.10.0.254"}]}],
              "hosts": [{"mac_address": "fa:16:3e:00:00:01", "ip_address": "10.10.0.10", "hostname": "vm1"},
                        {"mac_address": "fa:16:3e:00:00:02", "ip_address": "10.10.0.11", "hostname": "vm2"}
                        $vm4_host]}},
    {"id": "$N2", "network_type": "local", "mtu": 1450, "external": false, "vxlan_peers": [],
     "dhcp": {"port_id": "$D2", "mac_address": "fa:16:3e:00:0d:02",
              "fixed_ips": [{"ip_address": "10.20.0.2", "prefixlen": 24, "subnet_id": "$S2"}],
              "subnets": [{"id": "$S2", "cidr": "10.20.0.0/24", "ip_version": 4, "gateway_ip": "10.20.0.1",
                           "enable_dhcp": true, "dns_nameservers": ["198.51.100.53"], "host_routes": [],
                           "allocation_pools": [{"start": "10.20.0.2", "end": "10.20.0.254"}]}],
              "hosts": [{"mac_address": "fa:16:3e:00:00:03", "ip_address": "10.20.0.10", "hostname": "vm3"}]}},
    {"id": "$NX", "network_type": "flat", "physical_network": "physnet1", "mtu": 1500,
     "external": true, "vxlan_peers": [], "dhcp": null},
    {"id": "$NV", "network_type": "vlan", "physical_network": "physnet1", "segmentation_id": 100,
     "mtu": 1500, "external": false, "vxlan_peers": [], "dhcp": null},
    {"id": "$NW", "network_type": "vxlan", "segmentation_id": 1001, "mtu": 1450,
     "external": false, "vxlan_peers": [$peers], "dhcp": null}
  ],
  "ports": [
    {"id": "$P1", "network_id": "$N1", "mac_address": "fa:16:3e:00:00:01",
     "fixed_ips": [{"ip_address": "10.10.0.10", "prefixlen": 24, "subnet_id": "$S1"}],
     "port_security_enabled": true, "security_groups": ["$G1"], "allowed_address_pairs": []},
    {"id": "$P2", "network_id": "$N1", "mac_address": "fa:16:3e:00:00:02",
     "fixed_ips": [{"ip_address": "10.10.0.11", "prefixlen": 24, "subnet_id": "$S1"}],
     "port_security_enabled": true, "security_groups": ["$G1"], "allowed_address_pairs": []},
    {"id": "$P3", "network_id": "$N2", "mac_address": "fa:16:3e:00:00:03",
     "fixed_ips": [{"ip_address": "10.20.0.10", "prefixlen": 24, "subnet_id": "$S2"}],
     "port_security_enabled": true, "security_groups": ["$G2"], "allowed_address_pairs": []}
    $vm4_port
  ],
  "security_groups": [
    {"id": "$G1", "stateful": true, "member_ips": [$g1_members],
     "rules": [{"id": "61000000-0000-4000-8000-000000000001", "direction": "egress", "ethertype": "IPv4"},
               {"id": "61000000-0000-4000-8000-000000000002", "direction": "ingress", "ethertype": "IPv4",
                "remote_group_id": "$G1"},
               {"id": "61000000-0000-4000-8000-000000000003", "direction": "ingress", "ethertype": "IPv4",
                "protocol": "icmp", "remote_ip_prefix": "0.0.0.0/0"} $g1_extra]},
    {"id": "$G2", "stateful": true, "member_ips": ["10.20.0.10"], "rules": [$g2_rules]}
  ],
  "routers": $routers
}
EOF
}

MAPPINGS=physnet1:stphys0
STATS=$ST_TMP/stats

# reconcile [FILE...]: one pass on each FILE (default $DESIRED) in one
# process; the last report in $REPORT, figures in $STATS.
reconcile() {
    [ $# -gt 0 ] || set -- "$DESIRED"
    "$NETAPPLY" --state-dir "$STATE" --host-id "$HOST_ID" --mappings "$MAPPINGS" \
        --local-ip 192.0.2.10 --stats "$@" >"$REPORT" 2>"$STATS"
}

# status KIND ID: the status of a network, port or router in the report.
status() { jq -r --arg id "$2" ".$1[] | select(.id == \$id) | .status" "$REPORT"; }
error_of() { jq -r --arg id "$2" ".$1[] | select(.id == \$id) | .error" "$REPORT"; }

ping_ok() { ip netns exec "$1" "$BUSYBOX" ping -c 2 -W 1 -w 4 "$2" >/dev/null 2>&1; }
ping_fails() { ! ip netns exec "$1" "$BUSYBOX" ping -c 2 -W 1 -w 2 "$2" >/dev/null 2>&1; }

cat >"$ST_TMP/udhcpc.script" <<EOF
#!/bin/sh
case "\$1" in
bound|renew)
    ip addr flush dev "\$interface"
    ip addr add "\$ip/\${mask:-24}" dev "\$interface"
    [ -n "\$router" ] && ip route replace default via "\${router%% *}" dev "\$interface"
    echo "ip=\$ip router=\$router mtu=\$mtu dns=\$dns" >"$ST_TMP/lease-\$(ip netns identify)"
    ;;
esac
exit 0
EOF
chmod 0755 "$ST_TMP/udhcpc.script"

dhcp() {
    rm -f "$ST_TMP/lease-$1"
    ip netns exec "$1" "$BUSYBOX" udhcpc -i eth0 -n -q -t 4 -T 1 -s "$ST_TMP/udhcpc.script" \
        >/dev/null 2>&1
    cat "$ST_TMP/lease-$1" 2>/dev/null
}

# vm NAME PORT_ID MAC: a namespace with eth0 (MAC) whose peer is the port's tap.
vm() {
    ip netns add "$1"
    ip link add "$(tap "$2")" type veth peer name eth0 netns "$1"
    ip -n "$1" link set eth0 address "$3"
    ip -n "$1" link set eth0 up
    ip -n "$1" link set lo up
}

# listings to compare before and after
listing() {
    ip -o link show | awk -F': ' '{print $2}' | sed 's/@.*//' | sort
    echo "--- netns"
    ls /run/netns | sort
    echo "--- nft"
    nft list ruleset
    echo "--- dnsmasq"
    pgrep -a dnsmasq | grep -F "$ST_TMP" || true
}

# ---- the "physical" network and the VMs ----
ip link set lo up
ip netns add upstream
ip link add stphys0 type veth peer name eth0 netns upstream
ip link set stphys0 up
ip -n upstream addr add 203.0.113.1/24 dev eth0
ip -n upstream link set eth0 up
ip -n upstream link set lo up
# Counts what reaches the upstream, by source address.
ip netns exec upstream nft -f - <<'EOF'
table ip t007 {
    counter from_snat {}
    counter from_fip {}
    chain input {
        type filter hook input priority 0; policy accept;
        ip saddr 203.0.113.10 counter name from_snat
        ip saddr 203.0.113.50 counter name from_fip
    }
}
EOF
vm vm1 "$P1" fa:16:3e:00:00:01
vm vm2 "$P2" fa:16:3e:00:00:02
vm vm3 "$P3" fa:16:3e:00:00:03
vm vm4 "$P4" fa:16:3e:00:00:04

# Does this kernel have 802.1Q?
HAVE_VLAN=0
if ip link add link stphys0 name stprobe.9 type vlan id 9 2>/dev/null; then
    HAVE_VLAN=1
    ip link del stprobe.9
fi

# Another host's objects, as another agent on this machine makes them,
# and an unmarked bridge (an agent's from before the marks).
ip link add "$(br $NF)" type bridge
ip link set "$(br $NF)" alias "stratus host $OTHER_HOST"
ip link add "tap${OTHER_HOST:0:11}" type veth peer name "ns-${OTHER_HOST:0:11}"
ip link set "tap${OTHER_HOST:0:11}" alias "stratus host $OTHER_HOST"
ip netns add "qdhcp-$NF"
ip -n "qdhcp-$NF" link set lo alias "stratus host $OTHER_HOST"
ip link add brq00000000-0l type bridge
ip link set brq00000000-0l alias stratus
aliases() { # the aliases of another host's and the unmarked objects
    echo "$(ip -o link show "$(br $NF)" | grep -o 'alias .*')" \
        "$(ip -o link show "tap${OTHER_HOST:0:11}" | grep -o 'alias .*')" \
        "$(ip -n "qdhcp-$NF" -o link show lo | grep -o 'alias .*')" \
        "$(ip -o link show brq00000000-0l | grep -o 'alias .*')"
}
OTHERS="alias stratus host $OTHER_HOST alias stratus host $OTHER_HOST alias stratus host $OTHER_HOST alias stratus"
# Another agent's host tables on this machine (as a second cloud's would
# be): the driver must neither replace nor remove them.
nft -f - <<EOF
add table bridge $OTHER { comment "stratus host 0f0f0f0f-0000-4000-8000-0000000000ff: another agent"; }
add table inet $OTHER { comment "stratus host 0f0f0f0f-0000-4000-8000-0000000000ff: another agent"; }
add chain inet $OTHER keep
EOF

listing >"$ST_TMP/before"

# ---- networks, ports, DHCP ----
desired
check "first pass succeeds" reconcile
check_eq "another host's bridge, tap and namespace, and an unmarked bridge, are left alone" \
    "$OTHERS" "$(aliases)"
check_match "the unmarked bridge is counted as left alone" "pass 1: .*, 1 unmarked left alone" \
    "$(cat "$STATS")"
check_eq "network 1 is ACTIVE" ACTIVE "$(status networks $N1)"
check_eq "network 2 is ACTIVE" ACTIVE "$(status networks $N2)"
check_eq "external flat network is ACTIVE" ACTIVE "$(status networks $NX)"
check_eq "vxlan network is ACTIVE" ACTIVE "$(status networks $NW)"
if [ $HAVE_VLAN = 1 ]; then
    check_eq "vlan network is ACTIVE (802.1Q present)" ACTIVE "$(status networks $NV)"
    skip "vlan skip message (this kernel has 802.1Q)"
else
    check_eq "vlan network is ERROR without 802.1Q" ERROR "$(status networks $NV)"
    check_match "vlan network says it is skipped and why" "^skipped: .*802\.1Q" \
        "$(error_of networks $NV)"
fi
check_eq "ports on this host are ACTIVE" "ACTIVE ACTIVE ACTIVE" \
    "$(status ports $P1) $(status ports $P2) $(status ports $P3)"
check_eq "vm1's tap is on network 1's bridge" "$(br $N1)" \
    "$(ip -o link show "$(tap $P1)" | grep -o 'master [^ ]*' | cut -d' ' -f2)"
check_eq "the physical interface is network X's uplink" "$(br $NX)" \
    "$(ip -o link show stphys0 | grep -o 'master [^ ]*' | cut -d' ' -f2)"
check_eq "vxlan-1001 has one flooding entry per peer" "192.0.2.11 192.0.2.12" \
    "$(bridge fdb show dev vxlan-1001 | awk '/^00:00:00:00:00:00/ {print $3}' | sort | xargs)"
check_match "vxlan-1001 has VNI 1001, port 4789, no learning" "id 1001 .*dstport 4789 .*nolearning" \
    "$(ip -d link show vxlan-1001)"
check_eq "one dnsmasq per DHCP network" 2 "$(pgrep -a dnsmasq | grep -cF "$ST_TMP")"
check_match "vm1 gets its lease, gateway and MTU from DHCP" "ip=10.10.0.10 router=10.10.0.1 mtu=1450" \
    "$(dhcp vm1)"
check_match "vm2 gets its lease" "ip=10.10.0.11 " "$(dhcp vm2)"
check_match "vm3 gets its lease and DNS server" "ip=10.20.0.10 router=10.20.0.1 mtu=1450 dns=198.51.100.53" \
    "$(dhcp vm3)"
check "vm1 and vm2 (one group) ping each other" ping_ok vm1 10.10.0.11
check "vm2 pings vm1" ping_ok vm2 10.10.0.10
check "without a router vm1 cannot reach network 2" ping_fails vm1 10.20.0.10

# ---- spoofing ----
ip -n vm2 addr flush dev eth0
ip -n vm2 addr add 10.10.0.99/24 dev eth0
check "vm2 with a spoofed IP gets nothing through" ping_fails vm2 10.10.0.10
ip -n vm2 addr flush dev eth0
ip -n vm2 addr add 10.10.0.11/24 dev eth0
ip -n vm2 route replace default via 10.10.0.1
ip -n vm2 link set eth0 address fa:16:3e:00:00:66
check "vm2 with a spoofed MAC gets nothing through" ping_fails vm2 10.10.0.10
ip -n vm2 link set eth0 address fa:16:3e:00:00:02
check "vm2 with its own addresses pings again" ping_ok vm2 10.10.0.10

# ---- a router ----
desired router fip
check "pass with a router succeeds" reconcile
check_eq "router is ACTIVE" ACTIVE "$(status routers $R1)"
check_eq "router namespace has its legs" "lo qg-${QX:0:11} qr-${Q1:0:11} qr-${Q2:0:11}" \
    "$(ip -n qrouter-$R1 -o link show | awk -F': ' '{print $2}' | sed 's/@.*//' | sort | xargs)"
check_eq "router forwards" 1 "$(ip netns exec qrouter-$R1 cat /proc/sys/net/ipv4/ip_forward)"
check_match "router's default route is via the external gateway" \
    "default via 203.0.113.1 dev qg-${QX:0:11}" "$(ip -n qrouter-$R1 route show default)"
check "with a router vm3 reaches vm1 (group 1 allows ICMP)" ping_ok vm3 10.10.0.10
check "group 2 without ICMP ingress stops vm1's ping to vm3" ping_fails vm1 10.20.0.10
check "vm3 reaches the upstream (SNAT)" ping_ok vm3 203.0.113.1
check_match "the upstream saw vm3 as the router's gateway address" "packets [1-9]" \
    "$(ip netns exec upstream nft list counter ip t007 from_snat)"
ip netns exec vm1 nft add table ip t007
ip netns exec vm1 nft add counter ip t007 from_upstream
ip netns exec vm1 nft add chain ip t007 input '{ type filter hook input priority 0; }'
ip netns exec vm1 nft add rule ip t007 input ip saddr 203.0.113.1 counter name from_upstream
check "the upstream reaches vm1 by its floating IP" ping_ok upstream $FIP
check_match "vm1 sees the upstream's own address (no SNAT inbound)" "packets [1-9]" \
    "$(ip netns exec vm1 nft list counter ip t007 from_upstream)"
check "vm2 reaches vm1 by its floating IP too (hairpin)" ping_ok vm2 $FIP
check "vm1 reaches the upstream" ping_ok vm1 203.0.113.1
check_match "the upstream saw vm1 as its floating IP" "packets [1-9]" \
    "$(ip netns exec upstream nft list counter ip t007 from_fip)"

# ---- security group rules come and go ----
desired router fip icmp3 peers2
check "pass adding an ICMP rule to group 2 succeeds" reconcile
check "adding the rule lets vm1's ping to vm3 through" ping_ok vm1 10.20.0.10
check_eq "VXLAN flooding entries follow the peers" "192.0.2.12 192.0.2.13" \
    "$(bridge fdb show dev vxlan-1001 | awk '/^00:00:00:00:00:00/ {print $3}' | sort | xargs)"
desired router fip
check "pass removing the rule succeeds" reconcile
check "removing the rule stops the ping again" ping_fails vm1 10.20.0.10

# ---- idempotence ----
reconcile "$DESIRED" "$DESIRED"
check_match "a pass with nothing to do applies no nft batch and creates no link" \
    "pass 1: .* 0 links created, 0 leftovers removed" "$(sed -n 2p "$STATS")"
check_match "... and touches no nft batch" "0 batches applied" "$(sed -n 2p "$STATS")"
diag "figure: a pass with nothing to do: $(sed -n "2s/.*pass 1: //p" "$STATS")"

# ---- deleted by hand, restored by the next pass ----
nft delete chain inet "$TABLE" to_ports
check "without its ingress chain, vm1's ping to vm3 passes (the deletion matters)" \
    ping_ok vm1 10.20.0.10
ip link del "$(tap $D1)"
ip netns del "qrouter-$R1"
ip netns del "qdhcp-$N2" # its dnsmasq lives on in the namespace that was
check "pass after deletions by hand succeeds" reconcile
check "the DHCP tap is back" ip link show "$(tap $D1)"
check_match "vm1 gets a lease again" "ip=10.10.0.10 " "$(dhcp vm1)"
check_match "a DHCP namespace deleted by hand serves again (dnsmasq restarted in it)" \
    "ip=10.20.0.10 " "$(dhcp vm3)"
check "the router namespace is back and routes vm3 out" ping_ok vm3 203.0.113.1
check "the ingress chain is back and stops vm1's ping to vm3" ping_fails vm1 10.20.0.10

# ---- a dnsmasq that died is started again ----
kill "$(cat "$STATE/dhcp/$N2/pid")"
sleep 0.2
reconcile
check_match "a dnsmasq that died is started again" "ip=10.20.0.10 " "$(dhcp vm3)"

# ---- figures (second pass of one process: what a running agent does) ----
DNSMASQ1=$(cat "$STATE/dhcp/$N1/pid")
cp "$DESIRED" "$ST_TMP/before-vm4.json"
desired router fip vm4
reconcile "$ST_TMP/before-vm4.json" "$DESIRED"
check_eq "plugging vm4's port makes it ACTIVE" ACTIVE "$(status ports $P4)"
check_eq "a new DHCP host reloads dnsmasq (SIGHUP), it is not restarted" "$DNSMASQ1" \
    "$(cat "$STATE/dhcp/$N1/pid")"
check_match "vm4 gets its lease" "ip=10.10.0.12 " "$(dhcp vm4)"
check_match "plugging one port applies one difference, no whole table" \
    "\(1 batches applied, 0 whole\)" "$(sed -n 2p "$STATS")"
diag "figure: a pass plugging one port: $(sed -n '2s/.*pass 1: //p' "$STATS")"
cp "$DESIRED" "$ST_TMP/before-big.json"
desired router fip vm4 big
check "pass with a 1,000-rule group succeeds" reconcile "$ST_TMP/before-big.json" "$DESIRED"
diag "figure: a pass adding a 1,000-rule group: $(sed -n '2s/.*pass 1: //p' "$STATS")"
check_eq "the 1,000 rules are in the kernel" 1002 \
    "$(nft list chain inet "$TABLE" "sg-$G1-ingress" | grep -c 'accept comment')"

# ---- a tap libvirt is still making ----
# libvirt makes a tap, adds it to the bridge, then sets it up; a guest
# arriving by live migration gets its tap from the destination's libvirtd
# while the agent's passes go on.  A down tap in no bridge is left to
# libvirt (taking it first made libvirt's own add fail, EBUSY, and the
# migration with it); an up one outside its bridge is put back.
ip link del "$(tap $P4)"
ip tuntap add dev "$(tap $P4)" mode tap
reconcile
check_eq "a down tap in no bridge is left to libvirt (the port DOWN)" "DOWN none" \
    "$(status ports $P4) $(ip -o link show "$(tap $P4)" | grep -o 'master [^ ]*' | cut -d' ' -f2 | grep . || echo none)"
ip link set "$(tap $P4)" up
reconcile
check_eq "once it is up, a tap outside its bridge is put in it" "ACTIVE $(br $N1)" \
    "$(status ports $P4) $(ip -o link show "$(tap $P4)" | grep -o 'master [^ ]*' | cut -d' ' -f2)"
ip link del "$(tap $P4)"
ip netns del vm4
vm vm4 "$P4" fa:16:3e:00:00:04

# ---- a bridge of another host's, an unmarked one ----
ip link add "$(br $NA)" type bridge
cat >"$ST_TMP/conflict.json" <<EOF
{"host": "t007", "host_id": "$HOST_ID", "revision": 100,
 "networks": [
   {"id": "$NF", "network_type": "local", "mtu": 1450, "external": false, "vxlan_peers": [], "dhcp": null},
   {"id": "$NA", "network_type": "local", "mtu": 1450, "external": false, "vxlan_peers": [], "dhcp": null}],
 "ports": [], "security_groups": [], "routers": []}
EOF
reconcile "$ST_TMP/conflict.json"
check_match "a network whose bridge is another host's is ERROR" "^ERROR .*not this host's" \
    "$(status networks $NF) $(error_of networks $NF)"
check_eq "... and that bridge is untouched" "alias stratus host $OTHER_HOST" \
    "$(ip -o link show "$(br $NF)" | grep -o 'alias .*')"
check_eq "an unmarked bridge a desired network names is adopted" \
    "ACTIVE alias stratus host $HOST_ID" \
    "$(status networks $NA) $(ip -o link show "$(br $NA)" | grep -o 'alias .*')"

# ---- nothing desired, nothing left ----
desired empty
check "pass with an empty desired state succeeds" reconcile
listing >"$ST_TMP/after"
check "no bridge, vxlan, veth, namespace, dnsmasq or nft rule is left" \
    diff -u "$ST_TMP/before" "$ST_TMP/after"
check_eq "no DHCP files are left" "" "$(ls "$STATE/dhcp" 2>/dev/null)"
"$NETAPPLY" --state-dir "$STATE" --teardown >/dev/null 2>&1
check_match "another agent's tables are left alone, also by a teardown" \
    "comment \"stratus host 0f0f0f0f-.*chain keep" "$(nft list table inet "$OTHER" | tr '\n' ' ')"

sanitizer_clean
done_testing
