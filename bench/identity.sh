#!/bin/bash
# identity.sh - identity benchmarks (issue: foundation): token validation and
# an authenticated trivial GET at concurrency 8 for 20 s (wrk), token issue
# latency with the password hash cost shown apart, and stratusd's RSS idle
# and under load.  Uses the optimised build in build/.  Prints figures only.
#   bench/identity.sh [DURATION_SECONDS]
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
dur=${1:-20}
B=$top/build
[ -x "$B/stratusd" ] || { meson setup "$B" >/dev/null; }
ninja -C "$B" stratusd stratus-manage bench/bench-hash >/dev/null
tmp=$(mktemp -d)
trap 'kill $pid 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"' EXIT
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
url=http://127.0.0.1:$port
"$B/stratus-manage" --data-dir "$tmp" bootstrap --password bench --public-url "$url" >/dev/null
"$B/stratusd" --data-dir "$tmp" --listen "127.0.0.1:$port" --log-level warning &
pid=$!
for _ in $(seq 100); do curl -sf "$url/identity" >/dev/null && break; sleep 0.05; done
rss() { awk '/VmRSS/ {print $2/1024 " MiB"}' /proc/$pid/status; }
echo "stratusd idle RSS: $(rss)"

body='{"auth":{"identity":{"methods":["password"],"password":{"user":{"name":"admin","domain":{"id":"default"},"password":"bench"}}},"scope":{"project":{"name":"admin","domain":{"id":"default"}}}}}'
token=$(curl -s -D - -o /dev/null -H 'Content-Type: application/json' -d "$body" \
    "$url/identity/v3/auth/tokens" | awk -F': ' 'tolower($1)=="x-subject-token" {print $2}' | tr -d '\r')

# Token issue: 30 sequential requests.
for _ in $(seq 30); do
    curl -s -o /dev/null -w '%{time_total}\n' -H 'Content-Type: application/json' -d "$body" \
        "$url/identity/v3/auth/tokens"
done | sort -n | awk '{a[NR]=$1} END {printf "token issue (curl, sequential): p50 %.1f ms, p90 %.1f ms\n", a[int(NR/2)+1]*1000, a[int(NR*0.9)]*1000}'
"$B/bench/bench-hash"

cat >"$tmp/validate.lua" <<LUA
wrk.headers["X-Auth-Token"] = "$token"
wrk.headers["X-Subject-Token"] = "$token"
LUA
cat >"$tmp/auth.lua" <<LUA
wrk.headers["X-Auth-Token"] = "$token"
LUA
report() {
    awk -v what="$1" '
        /^ +50%/ {p50=$2} /^ +99%/ {p99=$2} /Requests\/sec/ {rps=$2}
        END {printf "%s: p50 %s, p99 %s, %s requests/s (concurrency 8, '"$dur"' s)\n", what, p50, p99, rps}'
}
wrk -t 2 -c 8 -d "${dur}s" --latency -s "$tmp/validate.lua" "$url/identity/v3/auth/tokens?nocatalog" |
    report "token validation GET /identity/v3/auth/tokens"
echo "stratusd RSS after validation load: $(rss)"
wrk -t 2 -c 8 -d "${dur}s" --latency -s "$tmp/auth.lua" "$url/identity/v3/auth/projects" |
    report "authenticated GET /identity/v3/auth/projects"
wrk -t 2 -c 8 -d "${dur}s" --latency "$url/identity/v3" |
    report "unauthenticated GET /identity/v3 (version document)"
echo "stratusd RSS after load: $(rss)"
