#!/bin/bash
# shellcheck source-path=SCRIPTDIR
# migrate.sh - live and cold migration of the test guest between hosts
# simulated on this machine (issue 11).  Uses the optimised build in build/:
# its own stratusd on the underlay bridge of scripts/sim-hosts
# (198.18.23.0/24), three simulated hosts (each a namespace with its own
# libvirtd and agent), a VXLAN network whose DHCP server is on the first
# host, and the test guest on the second.  Prints figures only; needs root.
#
#   bench/migrate.sh [RUNS]     (default 1 of each)
#
#  - live migration (os-migrateLive, block_migration auto: local disks
#    copied) of an idle guest and of a busy one (its user-data rewrites
#    32 MiB of its memory in a loop), second host -> third -> second ...:
#    total time from the POST until the server is ACTIVE on the destination
#    (API polled every 100 ms), and the downtime as the outside sees it:
#    ICMP echo every 10 ms from the DHCP namespace (first host, across the
#    tunnel) to the guest's address, lost replies x 10 ms, and the longest
#    run of consecutive losses.  A busy guest that does not converge within
#    [BUSY_FORCE_S] seconds (default 60) is forced (force_complete: the
#    source pauses it), and that is printed;
#  - cold migration (migrate): POST to VERIFY_RESIZE (clean shutdown, disk
#    copy through the controller, define and start on the destination),
#    confirm to ACTIVE, and POST until the guest answers ping again (its
#    boot included).
set -euo pipefail
runs=${1:-1}
case $runs in '' | *[!0-9]* | 0) echo "usage: bench/migrate.sh [RUNS]" >&2; exit 2 ;; esac
[ "$(id -u)" = 0 ] || { echo "migrate.sh needs root (namespaces, libvirtd)" >&2; exit 2; }
"$(dirname "$0")/../scripts/start-libvirt" || exit 2
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
bench_build stratusd stratus-manage stratus-agent
BUSY_FORCE_S=${BUSY_FORCE_S:-60}
# BENCH_LOGS=DIR also keeps the simulated hosts' agent logs.
bench_cleanup_hook() {
    local d
    [ -n "${BENCH_LOGS:-}" ] && [ -n "${ST_SIM_STATE:-}" ] || return 0
    mkdir -p "$BENCH_LOGS"
    for d in "$ST_SIM_STATE"/[0-9]*; do cp "$d/agent.log" "$BENCH_LOGS/agent-${d##*/}.log" 2>/dev/null || true; done
}

sim_underlay bmmig 198.18.23
start_stratusd
os compute service set --disable "$(hostname)" nova-compute >/dev/null 2>&1 || true
sim_hosts_start 3 >/dev/null
bench_token
echo "# $(bench_load)"
upload_guest
C=$ST_URL/compute/v2.1
auth=(-H "X-Auth-Token: $ST_TOKEN")
mv=(-H 'OpenStack-API-Version: compute 2.80' -H 'Content-Type: application/json')

os network create --provider-network-type vxlan bnet >/dev/null
os subnet create --network bnet --subnet-range 10.23.0.0/24 bsub >/dev/null
os security group rule create --protocol icmp --ingress default >/dev/null
NET=$(os network show bnet -f value -c id)
DHCPNS=qdhcp-$NET

ms_since() { awk -v a="$1" -v b="$(now_ms)" 'BEGIN {printf "%.2f", (b - a) / 1000}'; }
field() { # SERVER JQ
    curl -s "${auth[@]}" "${mv[@]}" "$C/servers/$1" | jq -r ".server | $2"
}
# wait_field SERVER JQ VALUE [SECONDS]
wait_field() {
    local got=
    for _ in $(seq $((${4:-300} * 10))); do
        got=$(field "$1" "$2")
        [ "$got" = "$3" ] && return 0
        [ "$got" = ERROR ] && break
        sleep 0.1
    done
    echo "# server $1: $2 is '$got', not '$3'" >&2
    return 1
}
action() { # SERVER JSON
    curl -sf -o /dev/null "${auth[@]}" "${mv[@]}" -d "$2" "$C/servers/$1/action"
}
host_of() { field "$1" '."OS-EXT-SRV-ATTR:host"'; }
answers() { # IP: until it answers ping from the DHCP namespace (up to 300 s)
    for _ in $(seq 3000); do
        ip netns exec "$DHCPNS" ping -c 1 -W 0.2 "$1" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    return 1
}
# pinger_start IP FILE / pinger_stop: ICMP every 10 ms from the DHCP namespace.
pinger_start() {
    ip netns exec "$DHCPNS" ping -i 0.01 -W 1 "$1" >"$2" 2>&1 &
    PINGER=$!
    ST_PIDS+=("$PINGER")
}
pinger_stop() {
    kill -INT "$PINGER" 2>/dev/null || true
    wait "$PINGER" 2>/dev/null || true
}
# lost FILE: "SENT LOST LONGEST-RUN" from a ping's output (a run still going
# at the end counts too).
lost() {
    awk '/icmp_seq=/ { if (match($0, /icmp_seq=[0-9]+/)) { s = substr($0, RSTART + 9, RLENGTH - 9) + 0;
                          if (s - prev - 1 > run) run = s - prev - 1; prev = s } }
         /packets transmitted/ { sent = $1; got = $4 }
         END { if (sent - prev > run) run = sent - prev; printf "%d %d %d\n", sent, sent - got, run }' "$1"
}
# answered_again FILE: until the last 100 echoes (1 s) were all answered (at most 60 s).
answered_again() {
    for _ in $(seq 600); do
        [ "$(tail -n 100 "$1" | grep -c 'bytes from')" -ge 100 ] && return 0
        sleep 0.1
    done
    return 1
}

# boot NAME IP [USER-DATA FILE]: a guest on the second host with a fixed
# address; waits until it answers ping.
boot() {
    local ud=()
    [ -n "${3:-}" ] && ud=(--user-data "$3")
    local port id
    port=$(os port create --network bnet --fixed-ip subnet=bsub,ip-address="$2" "p$1" -f value -c id)
    id=$(os --os-compute-api-version 2.74 server create --image testguest --flavor tiny \
        --nic port-id="$port" "${ud[@]}" --availability-zone nova:bmmig-2 "$1" -f value -c id)
    wait_field "$id" .status ACTIVE 300 >&2
    echo "$id"
}

cat >"$ST_TMP/busy" <<'EOF'
#!/bin/sh
( while :; do dd if=/dev/zero of=/tmp/dirty bs=1M count=32 conv=notrunc 2>/dev/null; done ) </dev/null >/dev/null 2>&1 &
exit 0
EOF

# live NAME ID IP: one live migration to the other of hosts 2 and 3.
live() {
    local name=$1 id=$2 ip=$3 from to t0 total forced=no st
    from=$(host_of "$id")
    if [ "$from" = bmmig-2 ]; then to=bmmig-3; else to=bmmig-2; fi
    NLIVE=$((${NLIVE:-0} + 1))
    local log=$ST_TMP/ping-$NLIVE-$name.log # kept with BENCH_LOGS=DIR
    pinger_start "$ip" "$log"
    sleep 1
    t0=$(now_ms)
    action "$id" "{\"os-migrateLive\": {\"host\": \"$to\", \"block_migration\": \"auto\"}}"
    for _ in $(seq $((BUSY_FORCE_S * 10))); do
        st=$(field "$id" '.status + " " + ."OS-EXT-SRV-ATTR:host"')
        [ "$st" = "ACTIVE $to" ] && break
        sleep 0.1
    done
    if [ "$st" != "ACTIVE $to" ]; then
        mid=$(curl -s "${auth[@]}" "${mv[@]}" "$C/servers/$id/migrations" | jq -r '.migrations[0].id // empty')
        if [ -n "$mid" ]; then
            curl -s -o /dev/null "${auth[@]}" "${mv[@]}" -d '{"force_complete": null}' \
                "$C/servers/$id/migrations/$mid/action"
            forced=yes
        fi
        wait_field "$id" '.status + " " + ."OS-EXT-SRV-ATTR:host"' "ACTIVE $to" 300 || true
    fi
    total=$(ms_since "$t0")
    answered_again "$log" || true
    pinger_stop
    read -r sent nlost run < <(lost "$log")
    echo "live migration, $name guest ($from -> $to): total $total s, ping every 10 ms: $nlost of $sent lost (~$((nlost * 10)) ms), longest outage $run in a row (~$((run * 10)) ms)$([ $forced = yes ] && echo ", forced to complete after ${BUSY_FORCE_S} s (guest paused)")"
}

IDLE=$(boot idle 10.23.0.11)
answers 10.23.0.11
for _ in $(seq "$runs"); do live idle "$IDLE" 10.23.0.11; done
BUSY=$(boot busy 10.23.0.12 "$ST_TMP/busy")
answers 10.23.0.12
sleep 3 # the loop runs
for _ in $(seq "$runs"); do live busy "$BUSY" 10.23.0.12; done
curl -s -o /dev/null -X DELETE "${auth[@]}" "$C/servers/$BUSY"

for _ in $(seq "$runs"); do
    # A guest that has just booted may not have acpid running yet: the power
    # button would go unheard, and the clean shutdown wait for
    # [DEFAULT] shutdown_timeout (60 s) before the destroy.
    sleep 5
    from=$(host_of "$IDLE")
    t0=$(now_ms)
    action "$IDLE" '{"migrate": null}'
    wait_field "$IDLE" .status VERIFY_RESIZE 300
    t_verify=$(ms_since "$t0")
    to=$(host_of "$IDLE")
    t1=$(now_ms)
    action "$IDLE" '{"confirmResize": null}'
    wait_field "$IDLE" .status ACTIVE 300
    t_confirm=$(ms_since "$t1")
    answers 10.23.0.11
    echo "cold migration, idle guest ($from -> $to): POST to VERIFY_RESIZE $t_verify s, confirm to ACTIVE $t_confirm s, POST until it answers ping again (its boot included) $(ms_since "$t0") s"
done
echo "# $(bench_load)"
