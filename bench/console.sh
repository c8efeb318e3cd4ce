#!/bin/bash
# shellcheck source-path=SCRIPTDIR
# console.sh - remote console benchmarks (issue 10).  Uses the optimised
# build in build/: its own stratusd, libvirtd and stratus-agent, and one
# test guest.  Prints figures only; never passes or fails on time.  Needs
# root.
#
#   bench/console.sh [N]      (default 50)
#
#  - latency of the console URL call (POST /servers/{id}/remote-consoles,
#    microversion 2.6, protocol vnc): p50 and p90 of N;
#  - WebSocket setup until the first VNC bytes (the RFB version string):
#    from the client's connect to the 12 bytes, through stratusd (token use,
#    upgrade, session, agent long-poll wake-up, agent dial-back, UNIX socket),
#    p50 and p90 of N/5 (each with a new token);
#  - relayed throughput: raw full-screen framebuffer updates read for 5 s
#    through the proxy, MiB/s, against the same read over a direct local TCP
#    connection to the same VNC server.  For that one the agent runs with
#    [libvirt] vnc_listen = 127.0.0.1 (the default, none, has no listener;
#    the relay gets its connection from libvirt either way).
set -euo pipefail
n=${1:-50}
case $n in '' | *[!0-9]* | 0) echo "usage: bench/console.sh [N]" >&2; exit 2 ;; esac
[ "$(id -u)" = 0 ] || { echo "console.sh needs root (libvirt, the agent)" >&2; exit 2; }
"$(dirname "$0")/../scripts/start-libvirt" || exit 2
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
bench_build stratusd stratus-agent stratus-manage
PY=/usr/bin/python3
CC=$BENCH_TOP/tests/integration/console_client.py

pct() { # P: the P-th percentile of the numbers on stdin
    sort -n | awk -v p="$1" '{a[NR] = $1} END {i = int((NR * p + 99) / 100); if (i < 1) i = 1; printf "%.1f", a[i]}'
}

start_stratusd >/dev/null
start_agent_with "vnc_listen = 127.0.0.1" || { echo "the agent did not come up" >&2; exit 1; }
upload_guest
os "${NOVA[@]}" server create --image testguest --flavor tiny --nic none --wait vm1 >/dev/null
wait_console vm1 'stratus-guest: ready' >/dev/null
id=$(os server show vm1 -f value -c id)
tok=$(os token issue -f value -c id)
api() {
    curl -s -o "$ST_TMP/url.json" -w '%{time_total}\n' -H "X-Auth-Token: $tok" \
        -H 'Content-Type: application/json' -H 'OpenStack-API-Version: compute 2.6' \
        -d '{"remote_console": {"protocol": "vnc", "type": "novnc"}}' \
        "$ST_URL/compute/v2.1/servers/$id/remote-consoles"
}
wsurl() { # a fresh /console/ws URL
    api >/dev/null
    jq -r .remote_console.url "$ST_TMP/url.json" | sed 's|.*token%3D|ws://127.0.0.1:'"$ST_PORT"'/console/ws?token=|'
}

for _ in $(seq "$n"); do api; done | awk '{print $1 * 1000}' >"$ST_TMP/url.ms"
echo "console URL call (remote-consoles, vnc): p50 $(pct 50 <"$ST_TMP/url.ms") ms, p90 $(pct 90 <"$ST_TMP/url.ms") ms (n=$n)"

m=$(( n / 5 > 5 ? n / 5 : 5 ))
for _ in $(seq "$m"); do
    $PY "$CC" rfb "$(wsurl)" | awk '{print $NF}'
done >"$ST_TMP/ws.ms"
echo "WebSocket setup to first RFB bytes: p50 $(pct 50 <"$ST_TMP/ws.ms") ms, p90 $(pct 90 <"$ST_TMP/ws.ms") ms (n=$m)"

relayed=$($PY "$CC" throughput "$(wsurl)" 5)
disp=$(virsh -q -c qemu:///system domdisplay "instance-$id")  # vnc://127.0.0.1:N
direct=$($PY "$CC" throughput "tcp:127.0.0.1:$((5900 + ${disp##*:}))" 5)
echo "VNC raw framebuffer reads: relayed $relayed MiB/s, direct local TCP $direct MiB/s (5 s each, python client)"
echo "RSS: stratusd $(ps -o rss= -p "$ST_PID") KiB, agent $(ps -o rss= -p "$ST_AGENT_PID") KiB"
os server delete --wait vm1 >/dev/null
