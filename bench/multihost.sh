#!/bin/bash
# shellcheck source-path=SCRIPTDIR
# multihost.sh - N servers (default 20) booted at once across three simulated
# hosts against one (issue 11).  Uses the optimised build in build/: its own
# stratusd on the underlay bridge of scripts/sim-hosts (198.18.17.0/24), three
# simulated hosts (each a namespace with its own libvirtd and agent), and a
# blank 1 MiB raw image (no guest to boot: N TCG guests booting at once would
# hold both CPUs of a small machine, and the figure is about placing and
# starting them).  Prints figures only; needs root.
#
#   bench/multihost.sh [N]
#
# Each run is one POST with min_count = max_count = N, timed until the last
# server is ACTIVE (polled every 100 ms), then all are deleted.  One host:
# hosts 2 and 3 disabled (compute service set --disable); three hosts: all
# enabled, the weigher spreads them.  Every host's image cache is warmed
# first (one server each).
set -euo pipefail
n=${1:-20}
case $n in '' | *[!0-9]* | 0) echo "usage: bench/multihost.sh [N]" >&2; exit 2 ;; esac
[ "$(id -u)" = 0 ] || { echo "multihost.sh needs root (namespaces, libvirtd)" >&2; exit 2; }
"$(dirname "$0")/../scripts/start-libvirt" || exit 2
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
bench_build stratusd stratus-manage stratus-agent

cat >"$ST_TMP/stratusd.conf" <<'CONF'
[quota]
instances = -1
cores = -1
ram = -1
CONF
sim_underlay bm017 198.18.17
start_stratusd --config "$ST_TMP/stratusd.conf"
os compute service set --disable "$(hostname)" nova-compute >/dev/null 2>&1 || true
t0=$(now_ms)
sim_hosts_start 3 >/dev/null
echo "three simulated hosts started (libvirtd, agent, registered): $(awk -v a="$t0" -v b="$(now_ms)" 'BEGIN {printf "%.1f", (b - a) / 1000}') s"
bench_token
echo "# $(bench_load)"
C=$ST_URL/compute/v2.1
auth=(-H "X-Auth-Token: $ST_TOKEN")
mv=(-H 'OpenStack-API-Version: compute 2.37' -H 'X-OpenStack-Nova-API-Version: 2.37')
head -c 1M /dev/zero >"$ST_TMP/blank.raw"
blank=$(os image create --disk-format raw --container-format bare --file "$ST_TMP/blank.raw" \
    bench-blank -f value -c id)
flavor=$(curl -s "${auth[@]}" "$C/flavors" | jq -r '.flavors[] | select(.name == "tiny") | .id')

# boot NAME COUNT: one POST of COUNT servers; waits until all are ACTIVE;
# prints the seconds and the servers per host.
boot() {
    local name=$1 count=$2 t0 t1 st
    t0=$(now_ms)
    curl -sf -o /dev/null "${auth[@]}" "${mv[@]}" -H 'Content-Type: application/json' \
        -d "{\"server\": {\"name\": \"$name\", \"imageRef\": \"$blank\", \"flavorRef\": \"$flavor\", \"networks\": \"none\", \"min_count\": $count, \"max_count\": $count}}" \
        "$C/servers"
    for _ in $(seq 3000); do
        st=$(curl -s "${auth[@]}" "$C/servers/detail?name=^$name-" |
            jq -r '[.servers[] | .status] | (map(select(. == "ACTIVE")) | length | tostring) + " " + (map(select(. == "ERROR")) | length | tostring)')
        [ "${st%% *}" = "$count" ] && break
        [ "${st#* }" != 0 ] && { echo "# $name: servers in ERROR" >&2; break; }
        sleep 0.1
    done
    t1=$(now_ms)
    echo "$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.1f", (b - a) / 1000}') $(curl -s "${auth[@]}" "$C/servers/detail?name=^$name-" |
        jq -r '[.servers[] | ."OS-EXT-SRV-ATTR:host"] | group_by(.) | map("\(.[0])=\(length)") | join(",")')"
}
delete_all() { # NAME: DELETE each, then until none is listed (server delete
    # --wait deletes one and polls it every 5 s before the next: 100 s for 20)
    local ids id
    ids=$(curl -s "${auth[@]}" "$C/servers?name=^$1-" | jq -r '.servers[].id')
    for id in $ids; do curl -s -o /dev/null -X DELETE "${auth[@]}" "$C/servers/$id"; done
    for _ in $(seq 1200); do
        [ "$(curl -s "${auth[@]}" "$C/servers?name=^$1-" | jq '.servers | length')" = 0 ] && return 0
        sleep 0.1
    done
}

read -r _ placed < <(boot warm 3)
echo "# image caches warmed (one server per host: $placed)"
delete_all warm

for h in 2 3; do os compute service set --disable "bm017-$h" nova-compute >/dev/null; done
read -r one placed_one < <(boot one "$n")
delete_all one
for h in 2 3; do os compute service set --enable "bm017-$h" nova-compute >/dev/null; done
read -r three placed_three < <(boot three "$n")
delete_all three

echo "$n servers at once, POST to the last ACTIVE, one host: $one s ($placed_one)"
echo "$n servers at once, POST to the last ACTIVE, three hosts: $three s ($placed_three)"
echo "makespan three hosts / one host: $(awk -v a="$three" -v b="$one" 'BEGIN {printf "%.2f", a / b}') (all on one machine of $(nproc) cores: the hosts share its CPUs)"
