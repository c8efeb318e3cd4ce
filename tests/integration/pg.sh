# pg.sh - a private PostgreSQL cluster for tests and benchmarks (sourced, bash).
#
# Debian's postgresql package: initdb and pg_ctl of /usr/lib/postgresql/N/bin,
# run as the postgres user (when we are root) in a directory of our own, on a
# free loopback port, with the unix socket in that directory too, trust
# authentication for local connections only.  Nothing outside the directory
# is touched; pg_cluster_stop stops it (fast shutdown) and removes it.
#
#   pg_cluster_available || skip ...   # the binaries are there
#   pg_cluster_start DIR               # sets PG_DIR, PG_PORT, PG_BASE
#   pg_createdb NAME                   # prints postgresql://... of a new database
#   pg_cluster_stop

pg_bindir() {
    local d
    for d in /usr/lib/postgresql/*/bin; do
        [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && { echo "$d"; return 0; }
    done
    return 1
}

pg_cluster_available() {
    pg_bindir >/dev/null && command -v psql >/dev/null &&
        { [ "$(id -u)" != 0 ] || id postgres >/dev/null 2>&1; }
}

# pg_as CMD...: runs CMD as the postgres user when we are root.
pg_as() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

pg_cluster_start() {
    local bin
    bin=$(pg_bindir) || return 1
    PG_DIR=$1
    PG_PORT=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    mkdir -p "$PG_DIR"
    [ "$(id -u)" = 0 ] && chown postgres: "$PG_DIR"
    # The test tree (mktemp -d) is 0700: let postgres reach its directory.
    [ "$(id -u)" = 0 ] && chmod o+x "$(dirname "$PG_DIR")"
    pg_as "$bin/initdb" -D "$PG_DIR/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 \
        >"$PG_DIR/initdb.log" 2>&1 || { cat "$PG_DIR/initdb.log" >&2; return 1; }
    pg_as "$bin/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 60 \
        -o "-p $PG_PORT -k $PG_DIR -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=off -c shared_buffers=64MB" \
        start >"$PG_DIR/pg_ctl.log" 2>&1 || { cat "$PG_DIR/pg_ctl.log" "$PG_DIR/server.log" >&2; return 1; }
    PG_BASE="postgresql://postgres@127.0.0.1:$PG_PORT"
}

# pg_createdb NAME: creates an empty database and prints its URL.
pg_createdb() {
    psql -q -X "$PG_BASE/postgres" -c "CREATE DATABASE $1" >/dev/null || return 1
    echo "$PG_BASE/$1"
}

pg_cluster_stop() {
    local bin
    [ -n "${PG_DIR:-}" ] && [ -d "$PG_DIR/data" ] || return 0
    bin=$(pg_bindir) || return 0
    pg_as "$bin/pg_ctl" -D "$PG_DIR/data" -m fast -w stop >/dev/null 2>&1
    rm -rf "$PG_DIR"
    PG_DIR=
}
