#!/bin/bash
# pg.sh - PostgreSQL against SQLite for the identity and compute API (issue:
# many hosts).  Uses the optimised build in build/: the same stratusd,
# bootstrapped the same way, once on a SQLite file and once on a private
# PostgreSQL cluster (tests/integration/pg.sh: Debian's initdb/pg_ctl, a
# free loopback port, fsync off as in the tests; TCP on 127.0.0.1), then
# the same wrk runs at concurrency 8 against each; prints p50 and
# requests/s side by side.  Prints figures only; needs root (or the postgres
# binaries runnable as the current user) and wrk.
#
#   bench/pg.sh [SECONDS]      (each wrk run; default 5)
#
# Reads: token validation, GET /v3/auth/projects, GET /v3/users,
# GET /compute/v2.1/flavors/detail, GET /compute/v2.1/servers/detail (20
# servers).  Writes: POST flavors (an insert and its checks) and POST servers (scheduling onto a fake host registered with
# huge capacity, whose agent never runs: a write transaction with the host
# capacity check), plus token issue (sequential curl; yescrypt dominates).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
dur=${1:-5}
B=$top/build
[ -f "$B/build.ninja" ] || meson setup "$B" >/dev/null
ninja -C "$B" stratusd stratus-manage >/dev/null
# shellcheck source=../tests/integration/pg.sh
. "$top/tests/integration/pg.sh"
pg_cluster_available || { echo "pg.sh: PostgreSQL binaries not installed" >&2; exit 1; }
tmp=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill $pid 2>/dev/null; wait 2>/dev/null; pg_cluster_stop; rm -rf "$tmp"' EXIT
pg_cluster_start "$tmp/pg" >/dev/null
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# run BACKEND: starts a stratusd on BACKEND, measures, writes $tmp/BACKEND.res
# lines "name|p50|req/s".
run() {
    local be=$1 port url conf d
    d=$tmp/$be
    mkdir -p "$d"
    conf=$d/stratusd.conf
    if [ "$be" = postgres ]; then
        printf '[database]\nconnection = %s\n' "$(pg_createdb bench)" >"$conf"
    else
        printf '[database]\nconnection = sqlite://%s/stratus.db\n' "$d" >"$conf"
    fi
    port=$(free_port)
    url=http://127.0.0.1:$port
    "$B/stratus-manage" --config "$conf" --data-dir "$d" bootstrap --password bench \
        --public-url "$url" >/dev/null
    "$B/stratusd" --config "$conf" --data-dir "$d" --listen "127.0.0.1:$port" --log-level warning &
    pid=$!
    for _ in $(seq 100); do curl -sf "$url/identity" >/dev/null && break; sleep 0.05; done
    local body token proj res=$tmp/$be.res
    body='{"auth":{"identity":{"methods":["password"],"password":{"user":{"name":"admin","domain":{"id":"default"},"password":"bench"}}},"scope":{"project":{"name":"admin","domain":{"id":"default"}}}}}'
    token=$(curl -s -D - -o /dev/null -H 'Content-Type: application/json' -d "$body" \
        "$url/identity/v3/auth/tokens" | awk -F': ' 'tolower($1)=="x-subject-token" {print $2}' | tr -d '\r')
    proj=$(curl -s -H "X-Auth-Token: $token" -H "X-Subject-Token: $token" \
        "$url/identity/v3/auth/tokens" | jq -r .token.project.id)
    : >"$res"
    for _ in $(seq 20); do
        curl -s -o /dev/null -w '%{time_total}\n' -H 'Content-Type: application/json' -d "$body" \
            "$url/identity/v3/auth/tokens"
    done | sort -n | awk '{a[NR]=$1} END {printf "token issue (sequential curl)|%.2fms|-\n", a[int(NR/2)+1]*1000}' >>"$res"

    # A fake host with room for everything, and no instance quota.
    "$B/stratus-manage" --config "$conf" --data-dir "$d" host add benchhost >/dev/null
    curl -s -o /dev/null -H "Authorization: Bearer $(cat "$d/hosts/benchhost.secret")" \
        -H 'Content-Type: application/json' -d '{"hypervisor_type": "QEMU",
        "hypervisor_hostname": "benchhost", "virt_type": "qemu", "host_ip": "192.0.2.77",
        "vcpus": 1000000, "memory_mb": 1099511627776, "local_gb": 1000000000,
        "agent_version": "bench"}' "$url/internal/v1/hosts/benchhost"
    curl -s -o /dev/null -X PUT -H "X-Auth-Token: $token" -H 'Content-Type: application/json' \
        -d '{"quota_set": {"instances": -1, "cores": -1, "ram": -1, "key_pairs": -1}}' \
        "$url/compute/v2.1/os-quota-sets/$proj"
    local img fl
    head -c 65536 /dev/zero >"$d/img.raw"
    img=$(curl -s -X POST -H "X-Auth-Token: $token" -H 'Content-Type: application/json' \
        -d '{"name": "bench", "disk_format": "raw", "container_format": "bare"}' \
        "$url/image/v2/images" | jq -r .id)
    curl -s -o /dev/null -X PUT -H "X-Auth-Token: $token" \
        -H 'Content-Type: application/octet-stream' --data-binary @"$d/img.raw" \
        "$url/image/v2/images/$img/file"
    fl=$(curl -s -H "X-Auth-Token: $token" "$url/compute/v2.1/flavors" | jq -r '.flavors[0].id')
    for i in $(seq 20); do
        curl -s -o /dev/null -X POST -H "X-Auth-Token: $token" -H 'Content-Type: application/json' \
            -H 'OpenStack-API-Version: compute 2.37' -d "{\"server\": {\"name\": \"s$i\",
            \"imageRef\": \"$img\", \"flavorRef\": \"$fl\", \"networks\": \"none\"}}" \
            "$url/compute/v2.1/servers"
    done

    cat >"$tmp/auth.lua" <<LUA
wrk.headers["X-Auth-Token"] = "$token"
wrk.headers["X-Subject-Token"] = "$token"
LUA
    # Names unique across wrk's threads (each its own Lua state).
    cat >"$tmp/flavor.lua" <<LUA
local n = 0
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
wrk.method = "POST"
wrk.headers["X-Auth-Token"] = "$token"
wrk.headers["Content-Type"] = "application/json"
request = function()
  n = n + 1
  return wrk.format(nil, nil, nil, '{"flavor": {"name": "f' .. tid .. '-' .. n ..
    '", "vcpus": 1, "ram": 64, "disk": 1}}')
end
LUA
    cat >"$tmp/server.lua" <<LUA
local n = 0
wrk.method = "POST"
wrk.headers["X-Auth-Token"] = "$token"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["OpenStack-API-Version"] = "compute 2.37"
request = function()
  n = n + 1
  return wrk.format(nil, nil, nil, '{"server": {"name": "w' .. n ..
    '", "imageRef": "$img", "flavorRef": "$fl", "networks": "none"}}')
end
LUA
    measure() { # NAME SCRIPT PATH
        wrk -t 2 -c 8 -d "${dur}s" --latency -s "$2" "$url$3" | awk -v what="$1" '
            /^ +50%/ {p50=$2} /Requests\/sec/ {rps=$2}
            /Non-2xx/ {bad=$NF}
            END {printf "%s|%s|%s%s\n", what, p50, rps, bad ? " (" bad " non-2xx!)" : ""}' >>"$res"
    }
    measure "GET /identity/v3/auth/tokens (validate)" "$tmp/auth.lua" "/identity/v3/auth/tokens?nocatalog"
    measure "GET /identity/v3/auth/projects" "$tmp/auth.lua" "/identity/v3/auth/projects"
    measure "GET /identity/v3/users" "$tmp/auth.lua" "/identity/v3/users"
    measure "GET /compute/v2.1/flavors/detail" "$tmp/auth.lua" "/compute/v2.1/flavors/detail"
    measure "GET /compute/v2.1/servers/detail (20)" "$tmp/auth.lua" "/compute/v2.1/servers/detail?limit=20"
    measure "POST /compute/v2.1/flavors" "$tmp/flavor.lua" "/compute/v2.1/flavors"
    measure "POST /compute/v2.1/servers (schedule)" "$tmp/server.lua" "/compute/v2.1/servers"
    kill "$pid"
    wait "$pid" 2>/dev/null || true
    pid=
}

run sqlite
run postgres
echo "stratusd, wrk -t 2 -c 8 -d ${dur}s, $(nproc) cores; PostgreSQL $(psql -V | awk '{print $3}') over TCP loopback"
printf '%-42s %12s %12s   %12s %12s\n' "" "SQLite p50" "req/s" "PG p50" "req/s"
paste -d'|' "$tmp/sqlite.res" "$tmp/postgres.res" |
    awk -F'|' '{printf "%-42s %12s %12s   %12s %12s\n", $1, $2, $3, $5, $6}'
