#!/bin/bash
# test-lane: api  (no guests, namespaces or libvirt: runs beside the others, scripts/run-tests)
# t015 - the PostgreSQL store: a private cluster (Debian's initdb/pg_ctl as
# the postgres user, a free port, the socket in our temporary directory);
# db sync; identity, image, compute and network through the stock openstack
# CLI on PostgreSQL; 50 concurrent port creates on a /26 never share an
# address and the subnet's end gives clean 409s; concurrent boots never
# overcommit a host; two stratusd on one database (a token of one works on
# the other, a long-poll on one wakes when the other changes the host);
# db migrate-from-sqlite of an all-in-one cloud with every table checked.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pg.sh"

if ! pg_cluster_available; then
    echo "1..0 # SKIP PostgreSQL server binaries (Debian package postgresql) not installed"
    exit 0
fi
plan 47

# Stop our daemons, then the cluster, then lib.sh's cleanup.
t015_cleanup() {
    local pid
    for pid in "${ST_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
    for pid in "${ST_PIDS[@]}"; do st_reap "$pid"; done
    pg_cluster_stop
    st_cleanup
}
trap t015_cleanup EXIT

if pg_cluster_start "$ST_TMP/pg" >"$ST_TMP/pg-start.log" 2>&1; then
    ok "private PostgreSQL cluster starts (port $PG_PORT)"
else
    not_ok "private PostgreSQL cluster starts"
    sed 's/^/#   /' "$ST_TMP/pg-start.log" | tail -n 20
    done_testing
fi
url=$(pg_createdb cloud)
[ -n "$url" ] || { not_ok "database created"; done_testing; }
check_match "database created" '^postgresql://' "$url"

D=$ST_TMP/data
mkdir -p "$D"
CONF=$ST_TMP/stratusd.conf
cat >"$CONF" <<EOF
[database]
connection = $url
pool_size = 16

[compute]
cpu_allocation_ratio = 1.0
ram_allocation_ratio = 1.0
reserved_host_memory_mb = 0
EOF
manage() { "$ST_BUILD/stratus-manage" --config "$CONF" --data-dir "$D" "$@"; }

out=$(manage db sync 2>&1)
check_match "db sync on PostgreSQL" "schema version [0-9]+ \([0-9]+ migrations applied\)" "$out"
out=$(manage db sync 2>&1)
check_match "db sync again applies nothing" "\(0 migrations applied\)" "$out"
out=$("$ST_BUILD/stratus-manage" --data-dir "$ST_TMP/sq" db sync 2>&1)
check_match "db sync on SQLite still works" "schema version [0-9]+" "$out"

# start_ctl PORT [CONF DATA]: a stratusd on PORT; prints its pid.
start_ctl() {
    local port=$1 conf=${2:-$CONF} data=${3:-$D}
    "$ST_BUILD/stratusd" --config "$conf" --data-dir "$data" --listen "127.0.0.1:$port" \
        --log-file "$ST_TMP/stratusd-$port.log" </dev/null >>"$ST_TMP/stratusd-$port.err" 2>&1 &
    ST_PIDS+=($!)
    for _ in $(seq 100); do
        curl -sf "http://127.0.0.1:$port/identity" >/dev/null 2>&1 && break
        sleep 0.05
    done
    echo $!
}

PA=$(free_port)
A=http://127.0.0.1:$PA
manage bootstrap --password admin-secret --public-url "$A" >"$ST_TMP/bootstrap.log" 2>&1
check_eq "bootstrap on PostgreSQL" 0 $?
start_ctl "$PA" >/dev/null
ST_PID=${ST_PIDS[-1]}
ST_DATA=$D ST_URL=$A
use_admin
out=$(os token issue -f value -c id 2>&1)
check_match "openstack token issue (stratusd on PostgreSQL)" '^[A-Za-z0-9_-]{100,}' "$out"
TOK=$out

# Identity.
check "project create" os project create --description "on postgres" pgdemo
check "user create" os user create --password bob-pw --project pgdemo bob
check "role add" os role add --project pgdemo --user bob member
out=$(os role assignment list --user bob --project pgdemo --names -f value -c Role 2>&1)
check_eq "role assignment list" "member" "$out"
out=$(os project create pgdemo 2>&1)
check_match "duplicate project is a 409" "409|Conflict|already exists" "$out"

# Compute and image.
check "flavor create" os flavor create --vcpus 1 --ram 256 --disk 1 t015.tiny
head -c 1048576 /dev/zero >"$ST_TMP/tiny.raw"
check "image create --file" os image create --disk-format raw --container-format bare \
    --file "$ST_TMP/tiny.raw" tiny
out=$(os image show tiny -f value -c status 2>&1)
check_eq "image is active" "active" "$out"
check "keypair create" os keypair create --public-key /dev/stdin k1 \
    <<<"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHv3CTvd6n1tUPLjA4Vv5vsVIzqzwo+g2nLxNfDNb/Db t015"
out=$(os keypair list -f value -c Name 2>&1)
check_eq "keypair list" "k1" "$out"

# Network: a /26, then 50 concurrent port creates through the API.
check "network create" os network create net26
check "subnet create /26" os subnet create --network net26 --subnet-range 10.77.0.0/26 \
    --no-dhcp sub26
proj=$(os token issue -f value -c project_id)
net=$(os network show net26 -f value -c id)
http_a() { # METHOD PATH [BODY]: prints the status code; body in $ST_TMP/b.$BASHPID
    curl -s -o "$ST_TMP/b.$BASHPID" -w '%{http_code}\n' -X "$1" -H "X-Auth-Token: $TOK" \
        -H 'Content-Type: application/json' ${3:+-d "$3"} "$A$2"
}
http_a PUT "/network/v2.0/quotas/$proj" '{"quota": {"port": 1000}}' >/dev/null
mkdir -p "$ST_TMP/ports"
pids=()
for i in $(seq 50); do
    curl -s -o "$ST_TMP/ports/$i.json" -w '%{http_code}\n' -X POST -H "X-Auth-Token: $TOK" \
        -H 'Content-Type: application/json' \
        -d "{\"port\": {\"network_id\": \"$net\", \"name\": \"p$i\"}}" \
        "$A/network/v2.0/ports" >"$ST_TMP/ports/$i.code" &
    pids+=($!)
done
wait "${pids[@]}"
codes=$(cat "$ST_TMP"/ports/*.code | sort | uniq -c | awk '{print $2 "x" $1}' | tr '\n' ' ')
check_eq "50 concurrent port creates: all 201" "201x50 " "$codes"
ips=$(jq -r '.port.fixed_ips[0].ip_address' "$ST_TMP"/ports/*.json | sort -u | wc -l)
check_eq "50 distinct addresses" 50 "$ips"
# 20 more at once: the /26 has 62 host addresses, the gateway holds one,
# so 11 fit and 9 must fail cleanly with 409 IpAddressGenerationFailure.
rm -f "$ST_TMP"/ports/*
pids=()
for i in $(seq 51 70); do
    curl -s -o "$ST_TMP/ports/$i.json" -w '%{http_code}\n' -X POST -H "X-Auth-Token: $TOK" \
        -H 'Content-Type: application/json' \
        -d "{\"port\": {\"network_id\": \"$net\", \"name\": \"p$i\"}}" \
        "$A/network/v2.0/ports" >"$ST_TMP/ports/$i.code" &
    pids+=($!)
done
wait "${pids[@]}"
codes=$(cat "$ST_TMP"/ports/*.code | sort | uniq -c | awk '{print $2 "x" $1}' | tr '\n' ' ')
check_eq "20 more: 11 created, 9 refused with 409" "201x11 409x9 " "$codes"
fails=$(cat "$ST_TMP"/ports/*.json | jq -r 'select(.NeutronError) | .NeutronError.type' | sort -u)
check_eq "the 409s say IpAddressGenerationFailure" "IpAddressGenerationFailure" "$fails"
all=$(os port list --network net26 -f json | jq -r '.[]."Fixed IP Addresses"' | grep -oE "10\.77\.0\.[0-9]+")
check_eq "61 ports hold 61 distinct addresses of the pool" "61 61" \
    "$(echo "$all" | wc -l) $(echo "$all" | sort -u | wc -l)"

# Concurrent boots on one registered host with room for 4 (vcpus bound).
manage host add fake1 >/dev/null
HSEC=$(cat "$D/hosts/fake1.secret")
hreg=$(curl -s -H "Authorization: Bearer $HSEC" -H 'Content-Type: application/json' \
    -d '{"hypervisor_type": "QEMU", "hypervisor_hostname": "fake1", "virt_type": "qemu",
    "host_ip": "192.0.2.15", "vcpus": 4, "memory_mb": 65536, "local_gb": 1000,
    "agent_version": "t015"}' "$A/internal/v1/hosts/fake1")
rev=$(echo "$hreg" | jq -r .revision)
check_match "fake host registered" '^[0-9]+$' "$rev"
img=$(os image show tiny -f value -c id)
fl=$(os flavor show t015.tiny -f value -c id)
mkdir -p "$ST_TMP/boots"
pids=()
for i in $(seq 10); do
    curl -s -o "$ST_TMP/boots/$i.json" -w '%{http_code}\n' -X POST -H "X-Auth-Token: $TOK" \
        -H 'Content-Type: application/json' -H 'OpenStack-API-Version: compute 2.37' \
        -d "{\"server\": {\"name\": \"b$i\", \"imageRef\": \"$img\", \"flavorRef\": \"$fl\",
             \"networks\": \"none\"}}" "$A/compute/v2.1/servers" >"$ST_TMP/boots/$i.code" &
    pids+=($!)
done
wait "${pids[@]}"
codes=$(cat "$ST_TMP"/boots/*.code | sort -u | tr '\n' ' ')
check_eq "10 concurrent boots accepted (202)" "202 " "$codes"
sleep 1
placed=$(os server list --all-projects --long -f json | jq -r '.[] | select(.Host == "fake1") | .Name' | wc -l)
errors=$(os server list --all-projects -f json | jq -r '.[] | select(.Status == "ERROR") | .Name' | wc -l)
check_eq "exactly 4 placed on the 4-vCPU host, 6 in ERROR (no valid host)" "4 6" "$placed $errors"
used=$(psql -At -X "$url" -c "SELECT COALESCE(SUM(vcpus), 0) FROM servers WHERE host = 'fake1'")
check_eq "the host's servers use 4 vCPUs, not more" 4 "$used"

# A second controller on the same database (same key repository).
PB=$(free_port)
B=http://127.0.0.1:$PB
start_ctl "$PB" >/dev/null
code=$(curl -s -o /dev/null -w '%{http_code}' -H "X-Auth-Token: $TOK" "$B/compute/v2.1/flavors")
check_eq "a token of controller A works on controller B" 200 "$code"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "X-Auth-Token: $TOK" -H "X-Subject-Token: $TOK" \
    "$B/identity/v3/auth/tokens")
check_eq "B validates A's token (GET /v3/auth/tokens)" 200 "$code"
out=$(OS_AUTH_URL=$B/identity/v3 os project create via-b -f value -c name 2>&1)
check_eq "project create through B" "via-b" "$out"
out=$(os project list -f value -c Name | grep -c '^via-b$')
check_eq "A sees B's project" 1 "$out"

# A long-poll on B wakes when A changes the host's desired state.
rev=$(curl -s -H "Authorization: Bearer $HSEC" "$B/internal/v1/hosts/fake1/desired" | jq -r .revision)
curl -s -H "Authorization: Bearer $HSEC" -o "$ST_TMP/lp.json" -w '%{time_total}\n' \
    "$B/internal/v1/hosts/fake1/desired?after=$rev&timeout=30" >"$ST_TMP/lp.time" &
lp=$!
sleep 2
check "the long-poll on B is still waiting" kill -0 "$lp"
victim=$(os server list --all-projects --long -f json | jq -r '[.[] | select(.Host == "fake1")][0].ID')
t1=$(date +%s.%N)
code=$(curl -s -o /dev/null -w '%{http_code}' -X DELETE -H "X-Auth-Token: $TOK" \
    "$A/compute/v2.1/servers/$victim")
check_eq "server delete through A (bumps fake1's revision)" 204 "$code"
wait "$lp"
t2=$(date +%s.%N)
newrev=$(jq -r .revision "$ST_TMP/lp.json")
lat=$(awk "BEGIN { printf \"%.2f\", $t2 - $t1 }")
check_match "B's long-poll woke with a newer revision" '^[0-9]+$' "$([ "$newrev" -gt "$rev" ] && echo "$newrev")"
diag "long-poll on B answered ${lat}s after the DELETE through A was sent (rev $rev -> $newrev)"
check_match "... within a second (LISTEN/NOTIFY, not a poll)" '^0\.' "$lat"
desired=$(jq -r --arg v "$victim" '.servers[] | select(.id == $v) | .delete' "$ST_TMP/lp.json")
check_eq "B's answer carries A's change (the server to delete)" "true" "$desired"

# migrate-from-sqlite: an all-in-one SQLite cloud with content, moved.
SD=$ST_TMP/aio
mkdir -p "$SD"
PS=$(free_port)
"$ST_BUILD/stratus-manage" --data-dir "$SD" bootstrap --password admin-secret \
    --public-url "http://127.0.0.1:$PS" >"$ST_TMP/bootstrap-aio.log" 2>&1
start_ctl "$PS" /dev/null "$SD" >/dev/null
SQ_PID=${ST_PIDS[-1]}
(
    ST_DATA=$SD use_admin
    os project create aio-p >/dev/null &&
        os user create --password pw --project aio-p carol >/dev/null &&
        os role add --project aio-p --user carol member >/dev/null &&
        os flavor create --vcpus 2 --ram 512 --disk 2 aio.small >/dev/null &&
        os network create aio-net >/dev/null &&
        os subnet create --network aio-net --subnet-range 10.88.0.0/24 aio-sub >/dev/null &&
        os port create --network aio-net aio-port >/dev/null &&
        os security group create aio-sg >/dev/null &&
        os image create --disk-format raw --container-format bare --file "$ST_TMP/tiny.raw" \
            aio-img >/dev/null &&
        os project list -f value -c Name | sort >"$ST_TMP/before.projects" &&
        os port list -f value -c ID -c "Fixed IP Addresses" | sort >"$ST_TMP/before.ports"
)
check_eq "an all-in-one SQLite cloud with content" 0 $?
kill -TERM "$SQ_PID"
wait "$SQ_PID" 2>/dev/null
url2=$(pg_createdb cloud2)
printf '[database]\nconnection = %s\n' "$url2" >"$ST_TMP/aio-pg.conf"
out=$("$ST_BUILD/stratus-manage" --config "$ST_TMP/aio-pg.conf" --data-dir "$SD" \
    db migrate-from-sqlite "$SD/stratus.db" 2>&1)
check_match "db migrate-from-sqlite checks every table" "tables copied; row counts and contents match" "$out"
# An independent check: every table, row by row, from sqlite3 and psql.
diffs=0
ntab=0
# (schema_migrations: the same versions; applied_at is when each database
# was migrated.)
for t in $(sqlite3 "$SD/stratus.db" "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite%' ORDER BY name"); do
    ntab=$((ntab + 1))
    cols='*'
    [ "$t" = schema_migrations ] && cols='version, name'
    a=$(sqlite3 -separator '|' "$SD/stratus.db" "SELECT $cols FROM $t" | LC_ALL=C sort | sha256sum)
    b=$(psql -At -F '|' -X "$url2" -c "SELECT $cols FROM $t" | LC_ALL=C sort | sha256sum)
    if [ "$a" != "$b" ]; then
        diffs=$((diffs + 1))
        diag "table $t differs"
    fi
done
check_eq "all $ntab tables identical in sqlite3 and psql (rows and values)" 0 "$diffs"
out=$("$ST_BUILD/stratus-manage" --config "$ST_TMP/aio-pg.conf" --data-dir "$SD" \
    db migrate-from-sqlite "$SD/stratus.db" 2>&1)
check_match "a second migration into a non-empty database is refused" "not empty" "$out"
start_ctl "$PS" "$ST_TMP/aio-pg.conf" "$SD" >/dev/null
(
    ST_DATA=$SD use_admin
    os project list -f value -c Name | sort >"$ST_TMP/after.projects"
    os port list -f value -c ID -c "Fixed IP Addresses" | sort >"$ST_TMP/after.ports"
)
check "the migrated cloud lists the same projects" cmp "$ST_TMP/before.projects" "$ST_TMP/after.projects"
check "... and the same ports with their addresses" cmp "$ST_TMP/before.ports" "$ST_TMP/after.ports"
out=$(ST_DATA=$SD; use_admin; OS_USERNAME=carol OS_PASSWORD=pw OS_PROJECT_NAME=aio-p \
    os token issue -f value -c user_id 2>&1)
check_match "a user of the old cloud logs in on PostgreSQL" '^[0-9a-f]{32}$' "$out"

# Every controller stops cleanly; no sanitizer reports.
rc=0
for pid in "${ST_PIDS[@]}"; do
    kill -0 "$pid" 2>/dev/null || continue
    kill -TERM "$pid"
    wait "$pid" || rc=$?
done
check_eq "every stratusd exits 0 on SIGTERM" 0 "$rc"
sanitizer_clean
pg_cluster_stop
check_fail "the cluster is stopped" test -d "$ST_TMP/pg"
done_testing
