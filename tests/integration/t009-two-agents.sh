#!/bin/bash
# t009 - two stratus-agents on one machine, each for its own controller,
# keep out of each other's way (ARCHITECTURE §9, docs/agent-protocol.md
# "Ownership").  Both hosts carry this machine's name, as every test's agent
# and the all-in-one one do, so only their ids tell them apart.
#
# Clouds A and B each get a VXLAN network with the same subnet, a port with
# the same address and a server on it; both boot and get their address by
# DHCP.  Every bridge, VXLAN device, tap, namespace and domain carries its
# own host's id.  A network of A's that would need B's VXLAN device (the
# same VNI) is ERROR and leaves B's device alone.
# Then A's server and network are deleted (A's agent removes what it no
# longer wants), A's agent stops, and A's teardown (net_teardown_all, as for
# decommissioning a host) runs: B's bridge, tap, DHCP namespace, dnsmasq,
# nft tables and domain are all still there, B's guest still answers on its
# network, and B's agent still removes its own when B deletes them.  What
# other agents on this machine had before the test (an all-in-one cloud's)
# is still there after it.
. "$(dirname "$0")/lib.sh"
plan 48

[ "$(id -u)" = 0 ] || { echo "1..0 # SKIP needs root"; exit 0; }
NETAPPLY=$ST_BUILD/tests/net-apply
if command -v ping >/dev/null; then PING=(ping); else PING=(busybox ping); fi
SUBNET=10.91.0.0/24
ADDR=10.91.0.11 # the same address in both clouds
declare -A DATA URL SPID APID HID NET SRV VNI
# Two VXLAN devices with one VNI cannot share a machine: the clouds here
# take VNIs of their own, away from the default range (1001:2000) that an
# all-in-one cloud on this machine uses.
declare -A VNIS=([a]=3101:3200 [b]=3201:3300)

# ---- helpers ----
# start_cloud C: a bootstrapped stratusd with its data under $ST_TMP/C.
start_cloud() {
    local c=$1 port
    DATA[$c]=$ST_TMP/$c/data
    mkdir -p "${DATA[$c]}"
    port=$(free_port)
    URL[$c]=http://127.0.0.1:$port
    "$ST_BUILD/stratus-manage" --data-dir "${DATA[$c]}" bootstrap --password admin-secret \
        --public-url "${URL[$c]}" >"$ST_TMP/$c/bootstrap.log" 2>&1 || return 1
    printf '[network]\nvni_ranges = %s\n' "${VNIS[$c]}" >"$ST_TMP/$c/stratusd.conf"
    "$ST_BUILD/stratusd" --data-dir "${DATA[$c]}" --listen "127.0.0.1:$port" \
        --config "$ST_TMP/$c/stratusd.conf" --log-file "$ST_TMP/$c/stratusd.log" \
        </dev/null >>"$ST_TMP/$c-stratusd.err" 2>&1 &
    SPID[$c]=$!
    ST_PIDS+=("${SPID[$c]}")
    for _ in $(seq 100); do
        curl -sf "${URL[$c]}/identity" >/dev/null 2>&1 && return 0
        sleep 0.05
    done
    return 1
}

# cloud C: the admin of cloud C for the openstack CLI.
cloud() {
    # shellcheck disable=SC1090
    . "${DATA[$1]}/openrc"
    unset OS_CLOUD
}

# start_agent_of C: cloud C's agent, instances under $ST_TMP/C; waits for
# its hypervisor to be up and sets HID[C], its host's id.
start_agent_of() {
    local c=$1
    mkdir -p "$ST_TMP/$c/instances"
    cat >"$ST_TMP/$c/agent.conf" <<CONF
[DEFAULT]
instances_path = $ST_TMP/$c/instances
report_interval = 2
[libvirt]
virt_type = qemu
CONF
    "$ST_BUILD/stratus-agent" --data-dir "${DATA[$c]}" --controller "${URL[$c]}" \
        --config "$ST_TMP/$c/agent.conf" --log-file "$ST_TMP/$c/agent.log" \
        </dev/null >>"$ST_TMP/$c-agent.err" 2>&1 &
    APID[$c]=$!
    ST_PIDS+=("${APID[$c]}")
    ST_AGENT_PID=${APID[$c]} # st_cleanup: destroy the domains under $ST_TMP
    cloud "$c"
    for _ in $(seq 150); do
        if os hypervisor list -f value -c State 2>/dev/null | grep -q up; then
            HID[$c]=$(os hypervisor list -f value -c ID)
            return 0
        fi
        sleep 0.2
    done
    return 1
}

br() { echo "brq${NET[$1]:0:11}"; }
alias_of() { ip -o link show "$1" 2>/dev/null | grep -o 'alias .*'; }
mark() { echo "alias stratus host ${HID[$1]}"; }
# The stratus metadata of a domain's persistent definition.
owner_of_domain() {
    virsh -q -c qemu:///system dumpxml --inactive "instance-$1" 2>/dev/null |
        grep -o '<stratus:host [^>]*' | grep -o ' uuid="[^"]*"' | cut -d'"' -f2
}
dnsmasq_of() { cat "${DATA[$1]}/network/dhcp/${NET[$1]}/pid" 2>/dev/null; }
# The nft tables whose listing names host id $1.
tables_of() {
    nft list tables 2>/dev/null | while read -r _ fam name; do
        nft list table "$fam" "$name" 2>/dev/null | grep -q -- "$1" && echo "$fam $name"
    done | sort | tr '\n' ' '
}
pings() { # NAMESPACE ADDRESS: answers within 30 s
    for _ in $(seq 30); do
        ip netns exec "$1" "${PING[@]}" -c 1 -W 1 "$2" >/dev/null 2>&1 && return 0
        sleep 1
    done
    return 1
}
# What other agents have here: links and namespaces named like an agent's,
# and domains.
others() {
    {
        ip -o link show | awk -F': ' '{print $2}' | cut -d@ -f1 | grep -E '^(brq|vxlan-|tap|qr-|qg-|ns-)'
        ip netns list | awk '{print $1}' | grep -E '^(qdhcp|qrouter)-'
        virsh -q -c qemu:///system list --all --name 2>/dev/null | grep .
    } | sort
}

# A killed test leaves nothing: the agents stop, then each host's teardown
# removes its networks (dnsmasq included) while their files are still here.
cleanup_t009() {
    local c
    if [ "$ST_FAILED" -ne 0 ]; then
        for c in a b; do
            cp "$ST_TMP/$c/agent.log" "${TMPDIR:-/tmp}/t009-agent-$c.log" 2>/dev/null &&
                echo "# agent ${c^^}'s log kept in ${TMPDIR:-/tmp}/t009-agent-$c.log"
        done
    fi
    for c in a b; do
        [ -n "${APID[$c]:-}" ] && kill -TERM "${APID[$c]}" 2>/dev/null && st_reap "${APID[$c]}"
    done
    for c in a b; do
        [ -n "${HID[$c]:-}" ] && "$NETAPPLY" --state-dir "${DATA[$c]}/network" \
            --host-id "${HID[$c]}" --teardown >/dev/null 2>&1
    done
    st_cleanup
}
trap cleanup_t009 EXIT

# ---- two clouds, two agents, one machine ----
others >"$ST_TMP/others-before"
diag "other agents on this machine: $(pgrep -a stratus-agent | cut -c1-120 | tr '\n' ';')"
chmod 0755 "$ST_TMP" # QEMU runs as libvirt-qemu and must reach the disks
if start_cloud a && start_cloud b; then ok "two stratusd start"; else not_ok "two stratusd start"; fi
check "libvirtd runs" start_libvirt
if start_agent_of a; then ok "agent A registers"; else not_ok "agent A registers"; fi
if start_agent_of b; then ok "agent B registers"; else not_ok "agent B registers"; fi
cloud a
name_a=$(os hypervisor list -f value -c "Hypervisor Hostname")
cloud b
name_b=$(os hypervisor list -f value -c "Hypervisor Hostname")
check_match "both hosts have this machine's name, and ids of their own" \
    "^$(hostname) $(hostname) [0-9a-f-]{36} [0-9a-f-]{36} different$" \
    "$name_a $name_b ${HID[a]:-} ${HID[b]:-} $([ "${HID[a]:-}" != "${HID[b]:-}" ] && echo different)"

for c in a b; do
    cloud $c
    check "cloud ${c^^}: upload the test guest" upload_guest
done
for c in a b; do
    cloud $c
    check "cloud ${c^^}: network create" os network create net
    check "cloud ${c^^}: subnet create $SUBNET" os subnet create --network net \
        --subnet-range "$SUBNET" sub
    NET[$c]=$(os network show net -f value -c id)
    VNI[$c]=$(os network show net -f value -c provider:segmentation_id)
    os port create --network net --fixed-ip subnet=sub,ip-address=$ADDR p >/dev/null
done
cloud b
check "cloud B: ICMP ingress allowed (to ping its guest)" \
    os security group rule create --protocol icmp --ingress default
for c in a b; do
    cloud $c
    check "cloud ${c^^}: server create on the network" os "${NOVA[@]}" server create \
        --image testguest --flavor tiny --nic port-id="$(os port show p -f value -c id)" vm
    SRV[$c]=$(os server show vm -f value -c id)
done
for c in a b; do
    cloud $c
    wait_status vm ACTIVE >/dev/null
    log=$(wait_console vm 'stratus-guest: ready')
    check_match "cloud ${c^^}: the guest is ACTIVE, boots and gets $ADDR by DHCP" \
        "ip=$ADDR/24" "$log"
    grep -q "ip=$ADDR/24" <<<"$log" ||
        diag "cloud ${c^^}: network $(os network show net -f value -c status)," \
            "server $(os server show vm -f value -c status)"
done

# ---- every object carries its host's id ----
check_eq "A's and B's bridges carry their own host's id" "$(mark a) $(mark b)" \
    "$(alias_of "$(br a)") $(alias_of "$(br b)")"
check_eq "A's and B's VXLAN devices (VNIs ${VNI[a]:-?}, ${VNI[b]:-?}) carry their own host's id" \
    "$(mark a) $(mark b)" "$(alias_of "vxlan-${VNI[a]:-}") $(alias_of "vxlan-${VNI[b]:-}")"
cloud b
TAP_B=tap$(os port show p -f value -c id | cut -c1-11)
check_eq "B's tap (made by libvirt) carries B's id" "$(mark b)" "$(alias_of "$TAP_B")"
check_eq "B's DHCP namespace carries B's id (on its loopback)" "$(mark b)" \
    "$(ip -n "qdhcp-${NET[b]}" -o link show lo 2>/dev/null | grep -o 'alias .*')"
check_eq "B's domain names B's host in its metadata" "${HID[b]}" "$(owner_of_domain "${SRV[b]}")"
check_eq "A's domain names A's host" "${HID[a]}" "$(owner_of_domain "${SRV[a]}")"
check "B's guest answers on its network (from B's DHCP namespace)" pings "qdhcp-${NET[b]}" "$ADDR"
DNSMASQ_B=$(dnsmasq_of b)
TABLES_B=$(tables_of "${HID[b]}")
if [ -n "$TABLES_B" ]; then
    ok "B's nft tables carry B's id ($TABLES_B)"
else
    skip "no nft table names a host id (src/agent/nft.c names them per host)"
fi

# ---- a network of A's that needs B's VXLAN device ----
cloud a
os network create --provider-network-type vxlan --provider-segment "${VNI[b]:-0}" clash \
    >/dev/null 2>&1
os subnet create --network clash --subnet-range 10.92.0.0/24 clashsub >/dev/null 2>&1
st=
for _ in $(seq 30); do
    st=$(os network show clash -f value -c status 2>/dev/null)
    [ "$st" = ERROR ] && break
    sleep 1
done
check_eq "cloud A: a network with B's VNI is ERROR on A's host" ERROR "$st"
check_eq "... and B's VXLAN device is untouched, on B's bridge" "$(mark b) master $(br b)" \
    "$(alias_of "vxlan-${VNI[b]:-}") $(ip -o link show "vxlan-${VNI[b]:-}" | grep -o 'master [^ ]*')"
os subnet delete clashsub >/dev/null 2>&1
os network delete clash >/dev/null 2>&1

# ---- A goes: its agent removes its own, stops, and A's host is torn down ----
cloud a
check "cloud A: server delete --wait" os server delete --wait vm
os port delete p >/dev/null 2>&1
os network delete net >/dev/null 2>&1
gone=1
for _ in $(seq 60); do
    if ! ip link show "$(br a)" >/dev/null 2>&1 && ! ip link show "vxlan-${VNI[a]}" >/dev/null 2>&1 &&
        ! ip netns list | grep -q "qdhcp-${NET[a]}"; then
        gone=0
        break
    fi
    sleep 0.5
done
check_eq "agent A removed its bridge, VXLAN device and DHCP namespace" 0 "$gone"
rc=0
kill -TERM "${APID[a]}"
wait "${APID[a]}" || rc=$?
check_eq "agent A exits 0 on SIGTERM" 0 "$rc"
check "A's teardown (every object of A's host) succeeds" \
    "$NETAPPLY" --state-dir "${DATA[a]}/network" --host-id "${HID[a]}" --teardown

# ---- B is intact ----
check_eq "B's bridge is intact" "$(mark b)" "$(alias_of "$(br b)")"
check_eq "B's VXLAN device is intact" "$(mark b)" "$(alias_of "vxlan-${VNI[b]}")"
check_match "B's tap is intact, on B's bridge" "master $(br b) " "$(ip -o link show "$TAP_B" 2>&1)"
check "B's DHCP namespace is intact" ip netns exec "qdhcp-${NET[b]}" true
check_eq "B's dnsmasq still runs, the same process" "dnsmasq ${DNSMASQ_B:-none}" \
    "$(cat "/proc/${DNSMASQ_B:-0}/comm" 2>/dev/null) $(dnsmasq_of b)"
if [ -n "$TABLES_B" ]; then
    check_eq "B's nft tables are intact" "$TABLES_B" "$(tables_of "${HID[b]}")"
else
    skip "no nft table names a host id (src/agent/nft.c names them per host)"
fi
check_eq "B's domain still runs" running \
    "$(virsh -q -c qemu:///system domstate "instance-${SRV[b]}" 2>&1)"
cloud b
check_eq "B's server is ACTIVE" ACTIVE "$(os server show vm -f value -c status)"
check "B's guest still answers on its network" pings "qdhcp-${NET[b]}" "$ADDR"

# ---- B still removes its own ----
check "cloud B: server delete --wait" os server delete --wait vm
os port delete p >/dev/null 2>&1
os network delete net >/dev/null 2>&1
gone=1
for _ in $(seq 60); do
    if ! ip link show "$(br b)" >/dev/null 2>&1 && ! ip link show "vxlan-${VNI[b]}" >/dev/null 2>&1 &&
        ! ip netns list | grep -q "qdhcp-${NET[b]}" && ! kill -0 "${DNSMASQ_B:-0}" 2>/dev/null; then
        gone=0
        break
    fi
    sleep 0.5
done
check_eq "agent B removed its bridge, VXLAN device, DHCP namespace and dnsmasq" 0 "$gone"
check_eq "B's domain is gone" "" "$(virsh -q -c qemu:///system list --all --name | grep "${SRV[b]}")"

# ---- and everything another agent had here is still here ----
check_eq "other agents' bridges, taps, namespaces and domains are all still here" "" \
    "$(others | comm -13 - "$ST_TMP/others-before" | tr '\n' ' ')"
check_eq "nothing of this test's is left" "" \
    "$(others | comm -23 - "$ST_TMP/others-before" | tr '\n' ' ')"

rc=0
kill -TERM "${APID[b]}"
wait "${APID[b]}" || rc=$?
check_eq "agent B exits 0 on SIGTERM" 0 "$rc"
APID=()
for c in a b; do
    rc=0
    kill -TERM "${SPID[$c]}"
    wait "${SPID[$c]}" || rc=$?
    check_eq "stratusd ${c^^} exits 0 on SIGTERM" 0 "$rc"
done
sanitizer_clean
done_testing
