# lib.sh - shared helpers for the integration tests (sourced, bash).
#
# Each tNNN-area-what.sh prints TAP (git's test-lib style): a plan, then
# "ok N - what" or "not ok N - what" per check.  Tests start their own
# stratusd on a free loopback port in their own temporary data directory and
# remove everything they made on exit, even on failure.
#
# Binaries come from $STRATUS_BUILD (default build-asan, the sanitizer build):
# a sanitizer report in a daemon's log fails the test that ran it.

set -u
ST_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
ST_BUILD=${STRATUS_BUILD:-$ST_TOP/build-asan}
ST_TMP=$(mktemp -d /tmp/stratus-test.XXXXXX)
ST_N=0
ST_FAILED=0
ST_PIDS=()
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:log_path=$ST_TMP/asan}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:log_path=$ST_TMP/ubsan}
# The Debian openstack CLI, not whatever python3 comes first in PATH.
OPENSTACK=/usr/bin/openstack

st_cleanup() {
    local pid d
    # Domains of this test's agent (their disks are under $ST_TMP), even if
    # the test died before deleting its servers.
    if [ -n "${ST_AGENT_PID:-}" ] && command -v virsh >/dev/null; then
        for d in $(virsh -q -c qemu:///system list --all --name 2>/dev/null | grep '^instance-'); do
            if virsh -q -c qemu:///system dumpxml "$d" 2>/dev/null | grep -q "$ST_TMP/"; then
                virsh -q -c qemu:///system destroy "$d" >/dev/null 2>&1
                virsh -q -c qemu:///system undefine "$d" --managed-save --nvram >/dev/null 2>&1
            fi
        done
    fi
    # Simulated hosts (their agents, libvirtds, guests and namespaces); their
    # logs kept when a check failed.
    if [ -n "${ST_SIM_STATE:-}" ]; then
        if [ "$ST_FAILED" -ne 0 ]; then
            local keep=${TMPDIR:-/tmp}/stratus-sim-logs.$ST_SIM_NAME
            rm -rf "$keep" && mkdir -p "$keep"
            for d in "$ST_SIM_STATE"/[0-9]*; do
                cp "$d/agent.log" "$keep/agent-${d##*/}.log" 2>/dev/null
                cp "$d/log/libvirt/libvirtd.log" "$keep/libvirtd-${d##*/}.log" 2>/dev/null
            done
            cp "$ST_TMP/stratusd.log" "$keep/" 2>/dev/null
            echo "# simulated hosts' logs kept in $keep"
        fi
        "$ST_TOP/scripts/sim-hosts" stop --state-dir "$ST_SIM_STATE" >/dev/null 2>&1
    fi
    for pid in "${ST_PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${ST_PIDS[@]}"; do
        st_reap "$pid"
    done
    # The networking this test's agent made on this machine (bridges, VXLAN
    # devices, veths, qdhcp/qrouter namespaces, dnsmasq, nft tables), even
    # if the test ended with networks still desired: an agent keeps them
    # when it stops, and a VXLAN device of a test's VNI 1001 left behind
    # made the all-in-one cloud's first network fail ("'vxlan-1001' is not
    # this host's").  By the owner mark its state dir remembers: nothing of
    # another agent's is touched.
    if [ -n "${ST_AGENT_PID:-}" ] && [ -s "${ST_DATA:-/nonexistent}/network/host_id" ] &&
        [ -x "$ST_BUILD/tests/net-apply" ]; then
        "$ST_BUILD/tests/net-apply" --state-dir "$ST_DATA/network" --teardown >/dev/null 2>&1 ||
            echo "# net-apply --teardown of this test's agent failed"
    fi
    # STRATUS_TEST_PG: this test's database on the shared test cluster.
    [ -n "${ST_PG_DB:-}" ] &&
        psql -q -X "$STRATUS_TEST_PG/postgres" -c "DROP DATABASE IF EXISTS $ST_PG_DB" >/dev/null 2>&1
    rm -rf "$ST_TMP"
}
# st_reap PID: waits up to 5 s for PID (already signalled) to end, then kills it.
st_reap() {
    for _ in $(seq 50); do
        kill -0 "$1" 2>/dev/null || return 0
        sleep 0.1
    done
    kill -KILL "$1" 2>/dev/null || true
}
trap st_cleanup EXIT
# A signal (run-tests' timeout sends SIGTERM) must still clean up.
trap 'exit 130' INT
trap 'exit 143' TERM

plan() { echo "1..$1"; }

ok() {
    ST_N=$((ST_N + 1))
    echo "ok $ST_N - $*"
}

not_ok() {
    ST_N=$((ST_N + 1))
    ST_FAILED=$((ST_FAILED + 1))
    echo "not ok $ST_N - $*"
}

skip() {
    ST_N=$((ST_N + 1))
    echo "ok $ST_N - # SKIP $*"
}

# check "description" command args...: ok when the command succeeds.
check() {
    local what=$1
    shift
    local out
    if out=$("$@" 2>&1); then
        ok "$what"
    else
        not_ok "$what"
        printf '%s\n' "$out" | sed 's/^/#   /' | tail -n 20
    fi
}

# check_fail "description" command args...: ok when the command fails.
check_fail() {
    local what=$1
    shift
    if "$@" >/dev/null 2>&1; then
        not_ok "$what (it succeeded)"
    else
        ok "$what"
    fi
}

# check_eq "description" expected actual
check_eq() {
    if [ "$2" = "$3" ]; then
        ok "$1"
    else
        not_ok "$1"
        echo "#   expected: $2"
        echo "#   actual:   $3"
    fi
}

# check_match "description" regex actual
check_match() {
    if printf '%s' "$3" | grep -Eq -- "$2"; then
        ok "$1"
    else
        not_ok "$1"
        echo "#   expected to match: $2"
        printf '%s\n' "$3" | head -n 20 | sed 's/^/#   actual: /'
    fi
}

diag() { echo "# $*"; }

free_port() {
    /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# Starts a bootstrapped stratusd.  Sets ST_DATA, ST_PORT, ST_URL, ST_PID and
# exports the admin's OS_* variables.  With STRATUS_TEST_PG set to the URL of
# a PostgreSQL server (postgresql://USER@HOST:PORT, allowed to create
# databases; scripts/run-tests-pg starts one), the test runs on a database of
# its own there instead of SQLite (ST_CONF holds the --config arguments).
ST_CONF=()
start_stratusd() {
    ST_DATA=$ST_TMP/data
    ST_PORT=$(free_port)
    ST_URL=http://${ST_LISTEN_ADDR:-127.0.0.1}:$ST_PORT
    mkdir -p "$ST_DATA"
    if [ -n "${STRATUS_TEST_PG:-}" ] && [ ${#ST_CONF[@]} -eq 0 ]; then
        ST_PG_DB=st_$$_$RANDOM
        psql -q -X "$STRATUS_TEST_PG/postgres" -c "CREATE DATABASE $ST_PG_DB" >/dev/null || return 1
        printf '[database]\nconnection = %s/%s\n' "$STRATUS_TEST_PG" "$ST_PG_DB" >"$ST_TMP/pg.conf"
        ST_CONF=(--config "$ST_TMP/pg.conf")
    fi
    "$ST_BUILD/stratus-manage" "${ST_CONF[@]}" --data-dir "$ST_DATA" bootstrap --password admin-secret \
        --public-url "$ST_URL" >"$ST_TMP/bootstrap.log" 2>&1 || {
        cat "$ST_TMP/bootstrap.log"
        return 1
    }
    # A test's own --config FILE gets the [database] section appended.
    local args=() conf=("${ST_CONF[@]}")
    while [ $# -gt 0 ]; do
        if [ "$1" = --config ] && [ ${#ST_CONF[@]} -gt 0 ]; then
            cat "$2" "$ST_TMP/pg.conf" >"$ST_TMP/merged.conf"
            args+=(--config "$ST_TMP/merged.conf")
            conf=()
            shift 2
        else
            args+=("$1")
            shift
        fi
    done
    "$ST_BUILD/stratusd" "${conf[@]}" --data-dir "$ST_DATA" --listen "${ST_LISTEN_ADDR:-127.0.0.1}:$ST_PORT" \
        --log-file "$ST_TMP/stratusd.log" "${args[@]}" </dev/null >>"$ST_TMP/stratusd.err" 2>&1 &
    ST_PID=$!
    ST_PIDS+=("$ST_PID")
    for _ in $(seq 100); do
        curl -sf "$ST_URL/identity" >/dev/null 2>&1 && break
        sleep 0.05
    done
    use_admin
}

use_admin() {
    # shellcheck disable=SC1091
    . "$ST_DATA/openrc"
    unset OS_CLOUD
}

# use_user NAME PASSWORD PROJECT
use_user() {
    export OS_USERNAME=$1 OS_PASSWORD=$2 OS_PROJECT_NAME=$3
}

# Stops stratusd and checks it exited cleanly with no sanitizer report.
stop_stratusd() {
    local rc=0
    kill -TERM "$ST_PID" 2>/dev/null
    wait "$ST_PID" || rc=$?
    check_eq "stratusd exits 0 on SIGTERM" 0 "$rc"
    sanitizer_clean
}

sanitizer_clean() {
    local reports
    reports=$(cat "$ST_TMP"/asan* "$ST_TMP"/ubsan* 2>/dev/null; grep -h "runtime error\|AddressSanitizer\|LeakSanitizer" "$ST_TMP"/*.err 2>/dev/null)
    if [ -z "$reports" ]; then
        ok "no sanitizer reports"
    else
        not_ok "no sanitizer reports"
        printf '%s\n' "$reports" | head -n 40 | sed 's/^/#   /'
    fi
}

# http METHOD PATH [curl args...]: prints "STATUS BODY" using the current
# token (ST_TOKEN) if set.
http() {
    local method=$1 path=$2
    shift 2
    local hdr=()
    [ -n "${ST_TOKEN:-}" ] && hdr=(-H "X-Auth-Token: $ST_TOKEN")
    case " $* " in
    *Content-Type*) ;;
    *) hdr+=(-H 'Content-Type: application/json') ;;
    esac
    curl -s -o "$ST_TMP/body" -w '%{http_code}' -X "$method" "${hdr[@]}" "$@" "$ST_URL$path"
    echo " $(cat "$ST_TMP/body")"
}

os() { "$OPENSTACK" "$@"; }

# Compute: libvirt, the agent and the test guest.
ST_GUEST=${STRATUS_GUEST_DIR:-$ST_TOP/build/guest}
ST_BOOT_TIMEOUT=${STRATUS_BOOT_TIMEOUT:-180}
NOVA=(--os-compute-api-version 2.latest)

# scripts/start-libvirt: /dev/kvm as udev sets it (else libvirt re-probes
# QEMU at every call), virtlogd and libvirtd started when absent.
start_libvirt() {
    "$ST_TOP/scripts/start-libvirt"
}

# Call these directly, never through check (its $(...) would wait for the
# daemon, which keeps the pipe open).
# Starts stratus-agent for the bootstrapped host (this machine's name),
# with its instances under $ST_TMP, and waits until the host is up.
start_agent() {
    chmod 0755 "$ST_TMP" # QEMU runs as libvirt-qemu and must reach the disks
    mkdir -p "$ST_TMP/instances"
    cat >"$ST_TMP/agent.conf" <<CONF
[DEFAULT]
instances_path = $ST_TMP/instances
report_interval = 2
[libvirt]
virt_type = qemu
${ST_AGENT_EXTRA_CONF:-}
CONF
    "$ST_BUILD/stratus-agent" --data-dir "$ST_DATA" --controller "$ST_URL" \
        --config "$ST_TMP/agent.conf" --log-file "$ST_TMP/agent.log" "$@" \
        </dev/null >>"$ST_TMP/agent.err" 2>&1 &
    ST_AGENT_PID=$!
    ST_PIDS+=("$ST_AGENT_PID")
    for _ in $(seq 150); do
        os hypervisor list -f value -c State 2>/dev/null | grep -q up && return 0
        sleep 0.2
    done
    return 1
}

# start_agent_with "INI LINES": start_agent with more configuration.
start_agent_with() {
    ST_AGENT_EXTRA_CONF=$1
    start_agent
}

kill_agent() { # [SIGNAL]
    kill "-${1:-TERM}" "$ST_AGENT_PID" 2>/dev/null
    wait "$ST_AGENT_PID" 2>/dev/null
}

upload_guest() {
    STRATUS_GUEST_DIR=$ST_GUEST "$ST_TOP/scripts/upload-test-images" >"$ST_TMP/upload.log" 2>&1
}

# wait_status SERVER STATUS [SECONDS]: polls until the server has STATUS.
wait_status() {
    local s=$1 want=$2 t=${3:-$ST_BOOT_TIMEOUT} got=
    for _ in $(seq $((t * 2))); do
        got=$(os server show "$s" -f value -c status 2>/dev/null)
        [ "$got" = "$want" ] && return 0
        [ "$got" = ERROR ] && [ "$want" != ERROR ] && break
        sleep 0.5
    done
    echo "# $s is '$got', not '$want'"
    return 1
}

# wait_console SERVER REGEX [SECONDS]: polls the console log until it
# matches; prints the log.
wait_console() {
    local s=$1 re=$2 t=${3:-$ST_BOOT_TIMEOUT} out=
    for _ in $(seq $((t / 2))); do
        out=$(os console log show "$s" 2>/dev/null)
        if printf '%s' "$out" | grep -Eq -- "$re"; then
            printf '%s' "$out"
            return 0
        fi
        sleep 2
    done
    printf '%s' "$out" | tail -n 15 | sed 's/^/# console: /' >&2
    return 1
}

# The domains, instance directories and QEMU processes of this test.
leak_snapshot() {
    {
        virsh -q -c qemu:///system list --all --name 2>/dev/null | grep '^instance-' | sort
        ls "$ST_TMP/instances" 2>/dev/null | grep -v '^_\|^\.' | sort  # _base, _snapshots: shared
        pgrep -f "qemu-system.*$ST_TMP/instances" | sort
    } | tr '\n' ' '
}

# Several hosts on this machine (scripts/sim-hosts): call sim_underlay
# before start_stratusd (the controller then listens on the underlay
# bridge's address, which the hosts' namespaces reach), then
# sim_hosts_start.  st_cleanup stops them all.
# sim_underlay NAME SUBNET: NAME <= 5 of [a-z0-9], SUBNET A.B.C (a /24).
sim_underlay() {
    ST_SIM_NAME=$1 ST_SIM_SUBNET=$2 ST_SIM_STATE=$ST_TMP/sim
    chmod 0755 "$ST_TMP" # QEMU runs as libvirt-qemu and must reach the disks
    ST_LISTEN_ADDR=$("$ST_TOP/scripts/sim-hosts" net --name "$1" --subnet "$2" \
        --state-dir "$ST_SIM_STATE") || return 1
}
# sim_hosts_start N: N hosts NAME-1..NAME-N, registered with this test's
# stratusd; prints "HOST ADDRESS" lines.
sim_hosts_start() {
    "$ST_TOP/scripts/sim-hosts" start "$1" --name "$ST_SIM_NAME" --subnet "$ST_SIM_SUBNET" \
        --state-dir "$ST_SIM_STATE" --controller "$ST_URL" --data-dir "$ST_DATA" \
        --build "$ST_BUILD" "${@:2}"
}
# sim COMMAND [ARGS]: another sim-hosts command on this test's hosts
# (stop, status, kill-agent I, start-agent I).
sim() { "$ST_TOP/scripts/sim-hosts" "$@" --state-dir "$ST_SIM_STATE"; }
# Simulated hosts are named NAME-N: sim_idx NAME-2 -> 2.
sim_idx() { echo "${1##*-}"; }
vsh() { # HOST virsh-args...: virsh on that simulated host's own libvirtd
    local i
    i=$(sim_idx "$1")
    shift
    virsh -q -c "qemu+unix:///system?socket=$ST_SIM_STATE/$i/run/libvirt/libvirt-sock" "$@"
}
doms_on() { vsh "$1" list --all --name 2>/dev/null | grep . | tr '\n' ' ' | sed 's/ $//'; }
running_on() { vsh "$1" list --name 2>/dev/null | grep . | tr '\n' ' ' | sed 's/ $//'; }
# wait_doms HOST EXPECTED [SECONDS]: until HOST's libvirtd has exactly the
# domains EXPECTED (names, space-separated; "" for none); prints them.
wait_doms() {
    local got=
    for _ in $(seq $((${3:-30} * 4))); do
        got=$(doms_on "$1")
        [ "$got" = "$2" ] && break
        sleep 0.25
    done
    echo "$got"
}
# marker_userdata TAG MARK FILE: the start of a test guest's user-data
# script in FILE: on its first boot it writes MARK to its root disk
# ("TAG-MARK-WRITTEN MARK"), on later boots it reads it back
# ("TAG-MARK-SEEN MARK"), and it counts its boots there ("TAG-BOOTS N").
# The test appends the rest of the script (ending with "exit 0").
marker_userdata() {
    local lc
    lc=$(echo "$1" | tr 'A-Z' 'a-z')
    cat >"$3" <<EOF
#!/bin/sh
m=/mnt/disk
if [ -f \$m/$lc-mark ]; then
    echo "$1-MARK-SEEN \$(cat \$m/$lc-mark)"
else
    echo $2 >\$m/$lc-mark
    echo "$1-MARK-WRITTEN $2"
fi
echo boot >>\$m/$lc-boots
sync
echo "$1-BOOTS \$(grep -c . \$m/$lc-boots)"
EOF
}

done_testing() {
    if [ "$ST_FAILED" -ne 0 ]; then
        echo "# $ST_FAILED of $ST_N failed"
        exit 1
    fi
    exit 0
}
