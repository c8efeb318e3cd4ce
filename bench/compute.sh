#!/bin/bash
# shellcheck source-path=SCRIPTDIR
# compute.sh - compute benchmarks (issue: compute).  Uses the optimised build
# in build/: its own stratusd on a free loopback port, libvirtd (started if
# it does not run), and its own stratus-agent (virt_type qemu, instances
# under its temporary directory), with the test guest images.  Prints
# figures only; never passes or fails on time.  Needs root.
#
#   bench/compute.sh [N]      (default 20)
#
#  - latency of the create call (POST /compute/v2.1/servers, microversion
#    2.37): p50 (it returns before any libvirt work);
#  - time from that POST to ACTIVE (the agent reports the domain running;
#    guest boot not included), one server at a time, each deleted once
#    ACTIVE, with no network and with a port on a private network, with a
#    cold image cache (the agent's _base/ emptied before each of 5 runs) and
#    a warm one (max(N, 5) runs): p50s side by side, and where the time
#    went (bench/build-breakdown.py, from the agent's log lines "desired
#    state revision", "pass for revision" and "build steps"): controller,
#    agent pass, network plumbing, image, disk, seed, libvirt define,
#    libvirt start, report and poll;
#  - libvirt's floor: virsh create of the same domain;
#  - N servers created at once (N concurrent POSTs), without a network and
#    with a port each on one network: time until the last is ACTIVE,
#    against N x the single-server time; then all deleted, and the time
#    until they are gone.  These N (and the single servers they are
#    compared with) boot a blank disk, not the test guest: N guests booting
#    under TCG at once would hold both CPUs of a small machine;
#  - GET /compute/v2.1/servers/detail with 1,000 servers: they are created
#    (one POST with min_count = max_count = 1000) on a second, fake host
#    registered with `stratus-manage host add` and the internal register
#    API with huge capacity, for which no agent ever runs, so they stay
#    BUILD and no VM is booted; then deleted (DELETE each, and the fake
#    host reports them gone);
#  - the agent's and stratusd's RSS at the end.
#
# Servers only ever run one at a time, except the N at once (blank, idle);
# each is destroyed as soon as it is ACTIVE, so guests hardly boot.  The agent
# only touches domains whose disks are under this run's directory.
#
# The benchmark runs in the host's network namespace, beside whatever else
# runs there (an all-in-one cloud, a test): its agent marks and removes only
# its own objects (docs/agent-protocol.md, "Ownership"), and libvirtd, which
# creates the guests' taps, lives there too.  Its network takes VNI 3901, out
# of the ranges of the default networks and of the tests.
set -euo pipefail
n=${1:-20}
case $n in '' | *[!0-9]* | 0) echo "usage: bench/compute.sh [N]" >&2; exit 2 ;; esac
[ "$(id -u)" = 0 ] || { echo "compute.sh needs root (libvirt, the agent)" >&2; exit 2; }
"$(dirname "$0")/../scripts/start-libvirt" || exit 2
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
bench_build stratusd stratus-manage stratus-agent
# The floor's transient domains (below), if the run stops among them.
bench_cleanup_hook() {
    local d
    for d in $(virsh -q -c qemu:///system list --name 2>/dev/null | grep "^stratus-bench-floor-$$"); do
        virsh -q -c qemu:///system destroy "$d" >/dev/null 2>&1 || true
    done
}

# No quota in the way of N servers or of 1,000.
cat >"$ST_TMP/stratusd.conf" <<'CONF'
[quota]
instances = -1
cores = -1
ram = -1
CONF
start_stratusd --config "$ST_TMP/stratusd.conf"
start_libvirt || { echo "libvirtd does not answer" >&2; exit 1; }
# shellcheck disable=SC2119 # no arguments to pass
start_agent || { echo "the agent did not register" >&2; exit 1; }
upload_guest || { cat "$ST_TMP/upload.log" >&2; exit 1; }
bench_token
echo "# $(bench_load)"

C=$ST_URL/compute/v2.1
auth=(-H "X-Auth-Token: $ST_TOKEN")
mv=(-H 'OpenStack-API-Version: compute 2.37' -H 'X-OpenStack-Nova-API-Version: 2.37')
image=$(curl -s "${auth[@]}" "$ST_URL/image/v2/images?name=testguest" | jq -r '.images[0].id')
flavor=$(curl -s "${auth[@]}" "$C/flavors" | jq -r '.flavors[] | select(.name == "tiny") | .id')
if [ -z "$image" ] || [ "$image" = null ] || [ -z "$flavor" ]; then
    echo "no testguest image or tiny flavor" >&2
    exit 1
fi
W=$ST_TMP/work
mkdir -p "$W"
TIMEOUT=120

body() { # NAME [EXTRA JSON MEMBERS]; BODY_IMAGE, BODY_NETWORKS override
    printf '{"server": {"name": "%s", "imageRef": "%s", "flavorRef": "%s", "networks": %s%s}}' \
        "$1" "${BODY_IMAGE:-$image}" "$flavor" "${BODY_NETWORKS:-\"none\"}" "${2:+, $2}"
}

# create NAME: POST; prints "ID SECONDS" (the call's own time).
create() {
    local out
    out=$(curl -s -o "$W/create.out" -w '%{http_code} %{time_total}' "${auth[@]}" "${mv[@]}" \
        -H 'Content-Type: application/json' -d "$(body "$1")" "$C/servers")
    [ "${out%% *}" = 202 ] || { echo "create failed: $out $(cat "$W/create.out")" >&2; return 1; }
    echo "$(jq -r .server.id "$W/create.out") ${out#* }"
}

# status ID: the server's status, "GONE" once it is not found.
status() {
    local out
    out=$(curl -s -w '\n%{http_code}' "${auth[@]}" "$C/servers/$1")
    case ${out##*$'\n'} in
    404) echo GONE ;;
    200) [[ $out =~ \"status\":\ ?\"([A-Z_]+)\" ]] && echo "${BASH_REMATCH[1]}" ;;
    *) echo "HTTP-${out##*$'\n'}" ;;
    esac
}

# wait_for ID STATUS: polls every 10 ms; prints the time (s) since T0 (an
# EPOCHREALTIME) when STATUS was seen, or fails after $TIMEOUT s.
wait_for() {
    local id=$1 want=$2 t0=$3 s
    while :; do
        s=$(status "$id")
        if [ "$s" = "$want" ]; then
            awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN {printf "%.4f\n", b - a}'
            return 0
        fi
        if [ "$s" = ERROR ] || awk -v a="$t0" -v b="$EPOCHREALTIME" -v t=$TIMEOUT 'BEGIN {exit !(b - a > t)}'; then
            echo "# server $id is $s, not $want" >&2
            return 1
        fi
        sleep 0.01
    done
}

delete() { curl -s -o /dev/null -X DELETE "${auth[@]}" "$C/servers/$1"; }

# one NAME [KEEP]: a server from POST to ACTIVE, then (unless KEEP)
# deleted and gone; appends "CALL ACTIVE GONE ID POST-TIME" (seconds) to
# $W/one.
one() {
    local id call t0 active t1 gone=0
    t0=$EPOCHREALTIME
    read -r id call < <(create "$1")
    [ -n "$id" ] || return 1
    active=$(wait_for "$id" ACTIVE "$t0") || return 1
    if [ -z "${2:-}" ]; then
        t1=$EPOCHREALTIME
        delete "$id"
        gone=$(wait_for "$id" GONE "$t1") || return 1
    fi
    echo "$call $active $gone $id $t0" >>"$W/one"
}

# agent_time ID WHAT: when the agent logged that server ID's domain was
# WHAT ("defined", "started"), in seconds since the epoch.
agent_time() {
    local line
    line=$(grep -m1 "server '$1': .*$2\$" "$ST_TMP/agent.log") || return 1
    date -d "${line%% *}" +%s.%N
}

# ---- one at a time ---------------------------------------------------------
# A private network for the networked servers (its DHCP namespace, bridge
# and nft rules are made by the agent, inside this benchmark's namespace).
net=$(curl -sf "${auth[@]}" -H 'Content-Type: application/json' \
    -d '{"network": {"name": "bench-net", "provider:network_type": "vxlan",
    "provider:segmentation_id": 3901}}' "$ST_URL/network/v2.0/networks" | jq -r .network.id)
curl -sf -o /dev/null "${auth[@]}" -H 'Content-Type: application/json' -d '{"subnet": {"network_id":
    "'"$net"'", "ip_version": 4, "cidr": "10.77.0.0/22", "name": "bench-sub"}}' \
    "$ST_URL/network/v2.0/subnets"
NET_NONE='"none"'
NET_ONE='[{"uuid": "'"$net"'"}]'

# series NAME NETWORKS COLD COUNT: COUNT servers one at a time, each
# deleted once ACTIVE; COLD=1 empties the agent's image cache (_base/)
# before each, so it fetches the images again.  Leaves "ID T0 ACTIVE" per
# server in $W/series-NAME and the create calls' times in $W/calls-NAME.
series() {
    local name=$1 nets=$2 cold=$3 count=$4 i
    : >"$W/one"
    for i in $(seq "$count"); do
        [ "$cold" = 1 ] && rm -f "$ST_TMP/instances/_base/"*
        BODY_NETWORKS=$nets one "$name-$i"
    done
    awk '{print $4, $5, $2}' "$W/one" >"$W/series-$name"
    cut -d' ' -f1 "$W/one" >"$W/calls-$name"
}
p50() { sort -g | awk '{a[NR] = $1} END {print a[int(NR * 0.5 + 0.999999)]}'; }
# p50_ms FILE: the p50 of FILE's ACTIVE column in ms.
p50_ms() { cut -d' ' -f3 "$1" | p50 | awk '{printf "%.0f", $1 * 1000}'; }
runs=$(( n < 5 ? 5 : n ))
series none-cold "$NET_NONE" 1 5
series net-cold "$NET_ONE" 1 5
series none-warm "$NET_NONE" 0 "$runs"
series net-warm "$NET_ONE" 0 "$runs"
echo "create call (POST /servers, 2.37): $(cat "$W"/calls-*-warm | pcts 1000) ms ($((runs * 2)) calls, one at a time; target p50 < 10 ms)"
echo "DELETE to gone (404): $(cut -d' ' -f3 "$W/one" | pcts 1000) ms ($runs servers)"
echo "POST to ACTIVE, guest boot excluded (p50 ms; cold: 5 runs, the image cache emptied before each; warm: $runs runs; polled every 10 ms; target < 1000 ms):"
printf '  %-22s %12s %12s\n' "" "--nic none" "one network"
printf '  %-22s %12s %12s\n' "cold image cache" "$(p50_ms "$W/series-none-cold")" "$(p50_ms "$W/series-net-cold")"
printf '  %-22s %12s %12s\n' "warm image cache" "$(p50_ms "$W/series-none-warm")" "$(p50_ms "$W/series-net-warm")"
# Where the time goes, from the agent's log (bench/build-breakdown.py):
# controller (POST until the agent has the revision), the agent's pass and
# within it the network plumbing and the server's build steps, and the
# pass's end until ACTIVE is seen (report and one poll).
echo "  breakdown, p50 ms:      controller   agent pass  (network    image     disk     seed   define    start)  report+poll"
for k in none-cold net-cold none-warm net-warm; do
    /usr/bin/python3 "$BENCH_TOP/bench/build-breakdown.py" "$ST_TMP/agent.log" \
        <"$W/series-$k" >"$W/split-$k"
    [ -s "$W/split-$k" ] || { echo "  $k: no breakdown (agent log lines missing)"; continue; }
    printf '  %-22s' "$k"
    for col in 1 2 3 4 5 6 7 8 9; do
        printf ' %8.1f' "$(cut -d' ' -f$col "$W/split-$k" | p50)"
    done
    echo
done
# libvirt's own floor: the same domain (its XML, a copy of its disks,
# without the stratus metadata, so the agent leaves it alone) started and
# destroyed by virsh as a transient domain, 5 times.
: >"$W/one"
one bench-xml keep
id=$(cut -d' ' -f4 "$W/one")
mkdir -p "$W/floor"
virsh -q -c qemu:///system dumpxml --inactive "instance-$id" >"$W/floor/dom.xml"
cp "$ST_TMP/instances/$id"/disk* "$W/floor/"
delete "$id"
wait_for "$id" GONE "$EPOCHREALTIME" >/dev/null
sed -e "s|$ST_TMP/instances/$id/|$W/floor/|g" -e '/<uuid>/d' -e '/<metadata>/,/<\/metadata>/d' \
    -e "s|<name>instance-$id</name>|<name>stratus-bench-floor-$$</name>|" \
    "$W/floor/dom.xml" >"$W/floor/transient.xml"
for _ in $(seq 5); do
    t0=$EPOCHREALTIME
    virsh -q -c qemu:///system create "$W/floor/transient.xml" >/dev/null
    t1=$EPOCHREALTIME
    virsh -q -c qemu:///system destroy "stratus-bench-floor-$$" >/dev/null
    awk -v a="$t0" -v b="$t1" -v c="$EPOCHREALTIME" 'BEGIN {printf "%.4f %.4f\n", b - a, c - b}'
done >"$W/floor/times"
echo "libvirt floor, virsh create of the same domain (transient, no agent): $(cut -d' ' -f1 "$W/floor/times" | pcts 1000) ms; virsh destroy: $(cut -d' ' -f2 "$W/floor/times" | pcts 1000) ms (5 times, each including virsh's own connection)"

# ---- N at once ---------------------------------------------------------------
# N test guests booting at once under TCG would take this machine's CPUs
# for minutes (and slow every start after the first few): the N servers
# boot a blank 1 MiB raw disk instead (no kernel: the firmware finds
# nothing to boot and idles), the same work for stratus and libvirt
# without the guests' CPU.  The single-server time for the comparison is
# measured with that image too.
head -c 1M /dev/zero >"$W/blank.raw"
blank=$(curl -sf "${auth[@]}" -H 'Content-Type: application/json' -d '{"name": "bench-blank",
    "disk_format": "raw", "container_format": "bare"}' "$ST_URL/image/v2/images" | jq -r .id)
curl -sf -X PUT "${auth[@]}" -H 'Content-Type: application/octet-stream' -T "$W/blank.raw" \
    "$ST_URL/image/v2/images/$blank/file"
export BODY_IMAGE=$blank
: >"$W/one"
one blank-cold
: >"$W/one"
for i in $(seq 5); do
    one "blank-$i"
done
single=$(cut -d' ' -f2 "$W/one" | p50)
echo "POST to ACTIVE, blank image (no guest to boot): $(cut -d' ' -f2 "$W/one" | pcts 1000) ms (5 servers, one at a time)"
# many LABEL: N servers created at once (N concurrent POSTs, the body's
# networks from BODY_NETWORKS): the time until the last is ACTIVE, then all
# deleted at once and the time until they are gone.
count() { # STATUS: servers named many-* with STATUS
    curl -s "${auth[@]}" "$C/servers/detail?name=%5Emany-" |
        jq --arg s "$1" '[.servers[] | select(.status == $s)] | length'
}
many() {
    local label=$1 t0 t1 t_posts accepted t_all= i id pids=()
    : >"$W/many"
    t0=$EPOCHREALTIME
    for i in $(seq "$n"); do
        curl -s -o /dev/null -w '%{http_code}\n' "${auth[@]}" "${mv[@]}" \
            -H 'Content-Type: application/json' -d "$(body "many-$i")" "$C/servers" >>"$W/many" &
        pids+=($!)
    done
    wait "${pids[@]}"
    t_posts=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN {printf "%.0f", (b - a) * 1000}')
    accepted=$(grep -c '^202$' "$W/many" || true)
    while awk -v a="$t0" -v b="$EPOCHREALTIME" -v t=$TIMEOUT 'BEGIN {exit !(b - a < t)}'; do
        if [ "$(count ACTIVE)" -ge "$accepted" ]; then
            t_all=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN {printf "%.4f", b - a}')
            break
        fi
        [ "$(count ERROR)" = 0 ] || break
        sleep 0.02
    done
    if [ -n "$t_all" ]; then
        echo "$n servers created at once, $label, until the last is ACTIVE: $(awk -v s="$t_all" 'BEGIN {printf "%.0f", s * 1000}') ms = $(awk -v a="$t_all" -v s="$single" -v n="$n" 'BEGIN {printf "%.1f", a / s}') x the single-server p50 with that image (target well under $n x; blank image; $accepted of $n POSTs accepted, all sent in ${t_posts} ms; polled every 20 ms)"
    else
        echo "$n servers created at once, $label: not all ACTIVE after $TIMEOUT s ($(count ACTIVE) ACTIVE, $(count ERROR) ERROR)"
    fi
    t1=$EPOCHREALTIME
    pids=()
    for id in $(curl -s "${auth[@]}" "$C/servers?name=%5Emany-" | jq -r '.servers[].id'); do
        delete "$id" &
        pids+=($!)
    done
    wait "${pids[@]}"
    while [ "$(curl -s "${auth[@]}" "$C/servers?name=%5Emany-" | jq '.servers | length')" != 0 ]; do
        awk -v a="$t1" -v b="$EPOCHREALTIME" -v t=$TIMEOUT 'BEGIN {exit !(b - a > t)}' && break
        sleep 0.02
    done
    echo "# the $n servers ($label) deleted and gone in $(awk -v a="$t1" -v b="$EPOCHREALTIME" 'BEGIN {printf "%.0f", (b - a) * 1000}') ms"
}
BODY_NETWORKS=$NET_NONE many "--nic none"
BODY_NETWORKS=$NET_ONE many "each with a port on one network"

# libvirt's floor for N at once: N copies of the floor domain, without its
# kernel (nothing to boot, as the blank image), started by N virsh at once,
# then destroyed at once.
for i in $(seq "$n"); do
    mkdir -p "$W/floor/$i"
    cp "$W/floor"/disk* "$W/floor/$i/"
    sed -e "s|$W/floor/|$W/floor/$i/|g" -e "s|stratus-bench-floor-$$|stratus-bench-floor-$$-$i|" \
        -e '/<kernel>/d' -e '/<initrd>/d' -e '/<cmdline>/d' -e "/<entry name='uuid'>/d" \
        "$W/floor/transient.xml" >"$W/floor/$i/t.xml" # (libvirt takes a missing uuid from SMBIOS)
done
t0=$EPOCHREALTIME
pids=()
for i in $(seq "$n"); do
    virsh -q -c qemu:///system create "$W/floor/$i/t.xml" >/dev/null &
    pids+=($!)
done
wait "${pids[@]}"
t1=$EPOCHREALTIME
pids=()
for i in $(seq "$n"); do
    virsh -q -c qemu:///system destroy "stratus-bench-floor-$$-$i" >/dev/null &
    pids+=($!)
done
wait "${pids[@]}"
echo "libvirt floor, $n virsh create at once (no agent, nothing to boot): $(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.0f", (b - a) * 1000}') ms; $n virsh destroy at once: $(awk -v a="$t1" -v b="$EPOCHREALTIME" 'BEGIN {printf "%.0f", (b - a) * 1000}') ms"

# ---- 1,000 servers on a fake host --------------------------------------------
fake=bench-fake-host
"$ST_BUILD/stratus-manage" --data-dir "$ST_DATA" host add "$fake" >/dev/null
secret=$(cat "$ST_DATA/hosts/$fake.secret")
hauth=(-H "Authorization: Bearer $secret" -H 'Content-Type: application/json')
rev=$(curl -sf "${hauth[@]}" -d '{"hypervisor_type": "QEMU", "hypervisor_hostname": "'$fake'",
    "virt_type": "qemu", "host_ip": "192.0.2.99", "vcpus": 100000, "memory_mb": 1000000000,
    "local_gb": 1000000000, "agent_version": "bench"}' "$ST_URL/internal/v1/hosts/$fake" | jq .revision)
out=$(curl -s -o "$W/create1000" -w '%{http_code} %{time_total}' "${auth[@]}" "${mv[@]}" \
    -H 'Content-Type: application/json' \
    -d "$(body bulk '"min_count": 1000, "max_count": 1000')" "$C/servers")
total=$(curl -s "${auth[@]}" "$C/servers?limit=1000" | jq '.servers | length')
onfake=$(curl -s "${auth[@]}" "$C/servers/detail?host=$fake&limit=1000" | jq '[.servers[] | select(.status == "BUILD")] | length')
echo "# one POST with min_count = max_count = 1000: HTTP ${out%% *} in $(awk -v s="${out#* }" 'BEGIN {printf "%.0f", s * 1000}') ms; $onfake servers BUILD on the fake host (no agent), $total listed"
for _ in $(seq 20); do
    curl -s -o /dev/null -w '%{time_total}\n' "${auth[@]}" "$C/servers/detail"
done >"$W/detail"
echo "GET /compute/v2.1/servers/detail, 1,000 servers: $(pcts 1000 <"$W/detail") ms (20 requests, curl, sequential; servers BUILD on a fake host registered through the internal API, never an agent)"
for _ in $(seq 20); do
    curl -s -o /dev/null -w '%{time_total}\n' "${auth[@]}" "$C/servers"
done | {
    echo "GET /compute/v2.1/servers (ids and names), 1,000 servers: $(pcts 1000) ms (20 requests)"
}

# Delete them: DELETE each (one curl process, keep-alive), then the fake
# host reports them gone, as its agent would.
ids=$(curl -s "${auth[@]}" "$C/servers?host=$fake&limit=1000" | jq -r '.servers[].id')
for id in $ids; do
    printf 'url = "%s/servers/%s"\nrequest = "DELETE"\nheader = "X-Auth-Token: %s"\noutput = "/dev/null"\nnext\n' \
        "$C" "$id" "$ST_TOKEN"
done | sed '$d' >"$W/delete.curl"
t0=$EPOCHREALTIME
curl -s -K "$W/delete.curl"
t_del=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN {printf "%.1f", b - a}')
printf '%s\n' "$ids" | jq -R . | jq -s --argjson rev "$rev" \
    '{revision: $rev, servers: [.[] | {id: ., state: "gone", power_state: 0}]}' >"$W/gone.json"
curl -s -o /dev/null "${hauth[@]}" -d @"$W/gone.json" "$ST_URL/internal/v1/hosts/$fake/report"
left=$(curl -s "${auth[@]}" "$C/servers?limit=1000" | jq '.servers | length')
echo "# 1,000 DELETE calls in ${t_del} s, then one report from the fake host: $left servers left"

echo "stratus-agent RSS at the end: $(mib "$(rss_kib "$ST_AGENT_PID")") MiB"
echo "stratusd RSS at the end: $(mib "$(rss_kib "$ST_PID")") MiB"
