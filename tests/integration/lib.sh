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
    local pid
    for pid in "${ST_PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${ST_PIDS[@]}"; do
        for _ in $(seq 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null || true
    done
    rm -rf "$ST_TMP"
}
trap st_cleanup EXIT

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
# exports the admin's OS_* variables.
start_stratusd() {
    ST_DATA=$ST_TMP/data
    ST_PORT=$(free_port)
    ST_URL=http://127.0.0.1:$ST_PORT
    mkdir -p "$ST_DATA"
    "$ST_BUILD/stratus-manage" --data-dir "$ST_DATA" bootstrap --password admin-secret \
        --public-url "$ST_URL" >"$ST_TMP/bootstrap.log" 2>&1 || {
        cat "$ST_TMP/bootstrap.log"
        return 1
    }
    "$ST_BUILD/stratusd" --data-dir "$ST_DATA" --listen "127.0.0.1:$ST_PORT" \
        --log-file "$ST_TMP/stratusd.log" "$@" 2>>"$ST_TMP/stratusd.err" &
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

done_testing() {
    if [ "$ST_FAILED" -ne 0 ]; then
        echo "# $ST_FAILED of $ST_N failed"
        exit 1
    fi
    exit 0
}
