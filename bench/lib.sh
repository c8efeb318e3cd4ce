# shellcheck shell=bash source-path=SCRIPTDIR
# lib.sh - shared helpers of the benchmark scripts (sourced, bash).
#
# Builds the optimised build in build/ (the one the figures are about) and
# sources tests/integration/lib.sh with STRATUS_BUILD pointing at it, so a
# benchmark starts stratusd, libvirtd and the agent exactly as the
# integration tests do: its own temporary directory ($ST_TMP), its own free
# loopback port, everything it started stopped and removed on exit, also on
# SIGINT and SIGTERM.  Benchmarks print figures ("what: number unit
# (context)"); they never pass or fail on time.

BENCH_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_BUILD=$BENCH_TOP/build

# bench_build TARGET...: configures build/ if needed and builds the targets.
# When the tree does not build (work in progress in src/) but the targets
# exist from an earlier build, says so and goes on with those.
bench_build() {
    local t
    [ -f "$BENCH_BUILD/build.ninja" ] || meson setup "$BENCH_BUILD" >/dev/null
    if ! ninja -C "$BENCH_BUILD" "$@" >"$ST_TMP/build.log" 2>&1; then
        for t in "$@"; do
            if [ ! -x "$BENCH_BUILD/$t" ]; then
                tail -n 20 "$ST_TMP/build.log" >&2
                return 1
            fi
        done
        echo "# WARNING: build/ does not build now ($(grep -m1 'error' "$ST_TMP/build.log" || echo 'see ninja')); using the binaries it has"
    fi
}

export STRATUS_BUILD=$BENCH_BUILD
# shellcheck source=../tests/integration/lib.sh
. "$BENCH_TOP/tests/integration/lib.sh"

# On exit, the agent stops first: tests/integration/lib.sh's st_cleanup
# destroys the run's domains while the agent still runs, and an agent that
# sees its servers' domains gone defines and starts them again.
# BENCH_LOGS=DIR keeps the daemons' logs there.  A script may define
# bench_cleanup_hook, run first.
bench_cleanup() {
    if declare -F bench_cleanup_hook >/dev/null; then
        bench_cleanup_hook || true
    fi
    if [ -n "${BENCH_LOGS:-}" ]; then
        mkdir -p "$BENCH_LOGS"
        cp "$ST_TMP"/*.log "$BENCH_LOGS"/ 2>/dev/null || true
    fi
    if [ -n "${ST_AGENT_PID:-}" ] && kill -TERM "$ST_AGENT_PID" 2>/dev/null; then
        st_reap "$ST_AGENT_PID"
    fi
    st_cleanup
}
trap bench_cleanup EXIT

# now_ms: milliseconds since the epoch, with microseconds, without a fork.
now_ms() {
    local t=${EPOCHREALTIME/[.,]/}
    echo "$((t / 1000)).$(printf '%03d' $((t % 1000)))"
}

# bench_token: an admin token (project scope) for $ST_URL, in ST_TOKEN.
bench_token() {
    local body
    body='{"auth":{"identity":{"methods":["password"],"password":{"user":{"name":"admin","domain":{"id":"default"},"password":"admin-secret"}}},"scope":{"project":{"name":"admin","domain":{"id":"default"}}}}}'
    ST_TOKEN=$(curl -s -D - -o /dev/null -H 'Content-Type: application/json' -d "$body" \
        "$ST_URL/identity/v3/auth/tokens" | awk -F': ' 'tolower($1)=="x-subject-token" {print $2}' |
        tr -d '\r')
    [ -n "$ST_TOKEN" ]
}

# pcts SCALE: reads numbers (one a line) and prints "p50 X, p90 Y" of them
# times SCALE (nearest rank), with one decimal.
pcts() {
    sort -g | awk -v k="$1" '{a[NR] = $1 * k}
        END {
            if (!NR) { print "no samples"; exit }
            i50 = int(NR * 0.5 + 0.999999); i90 = int(NR * 0.9 + 0.999999)
            printf "p50 %.1f, p90 %.1f", a[i50], a[i90]
        }'
}

# rss_kib PID: the VmRSS of PID in KiB.
rss_kib() {
    awk '/^VmRSS:/ {print $2}' "/proc/$1/status"
}

# mib KIB: KiB as MiB with one decimal.
mib() { awk -v k="$1" 'BEGIN {printf "%.1f", k / 1024}'; }

# rss_peak_start PID FILE: samples PID's VmRSS every 50 ms in the
# background and keeps the highest value seen (KiB) in FILE; sets
# BENCH_SAMPLER to the sampler's pid (stop it with rss_peak_stop).
rss_peak_start() {
    local pid=$1 out=$2
    (
        max=0
        trap 'exit 0' TERM
        while [ -r "/proc/$pid/status" ]; do
            while read -r k v _; do
                if [ "$k" = VmRSS: ]; then
                    if [ "$v" -gt "$max" ]; then
                        max=$v
                        echo "$max" >"$out"
                    fi
                    break
                fi
            done <"/proc/$pid/status"
            sleep 0.05
        done
    ) &
    BENCH_SAMPLER=$!
    ST_PIDS+=("$BENCH_SAMPLER")
}

rss_peak_stop() {
    kill "$BENCH_SAMPLER" 2>/dev/null || true
    wait "$BENCH_SAMPLER" 2>/dev/null || true
}

# bench_load: what else this machine is doing, for the figures' context.
bench_load() {
    local vms daemons
    vms=$(pgrep -f '^/usr/bin/qemu-system' | wc -l)
    daemons=$(pgrep -af 'stratusd|stratus-agent' | grep -vcF "$ST_TMP" || true)
    echo "load average $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) CPUs; others: $vms QEMU guests, $daemons stratusd/agent processes"
}
