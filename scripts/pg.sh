#!/usr/bin/env bash
# The project-local PostgreSQL 15 server: start|stop|status|url [--dir DIR].
#
# Debian's server binaries (/usr/lib/postgresql/15/bin), run as the `postgres` user (through
# runuser when we are root) on a cluster of our own: `initdb` into DIR/data (default
# .run/pg, or $ORDERFLOW_PG_DIR), DIR owned by postgres, listening on 127.0.0.1 only, on a
# free port (ORDERFLOW_PG_PORT to choose it), with its Unix socket in DIR too. `start` creates
# the user `orderflow` (password `orderflow`) and the database `orderflow` it owns, and
# prints the URL services take as ORDERFLOW_DATABASE_URL:
#   postgresql://orderflow:orderflow@127.0.0.1:<port>/orderflow
# stop/status/url read the port from DIR/port.
#
# Exit status: 0 success (status: running), 1 failure, 2 usage, 3 status: stopped.
set -euo pipefail

# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
    cat <<'EOF'
usage: scripts/pg.sh start|stop|status|url [--dir DIR]

  start    initdb if needed, start the server (idempotent), print its postgresql:// URL
  stop     stop the server (fast shutdown) and wait for it
  status   print running/stopped; exit 0 when running, 3 when stopped
  url      print the postgresql:// URL of the server of DIR

  --dir DIR   cluster directory (default: $ORDERFLOW_PG_DIR or .run/pg)
EOF
}

PG_BIN="${ORDERFLOW_PG_BIN:-/usr/lib/postgresql/15/bin}"
START_TIMEOUT="${ORDERFLOW_PG_START_TIMEOUT:-60}"

command=""
dir="${ORDERFLOW_PG_DIR:-$ORDERFLOW_ROOT/.run/pg}"
parse_command_and_dir "start stop status url" "$@"

mkdir -p "$dir"
dir="$(cd "$dir" && pwd -P)"
data="$dir/data"

# Runs a command as the postgres user (the server refuses to run as root).
as_postgres() {
    if [[ "$(id -un)" == postgres ]]; then
        "$@"
    elif [[ "$(id -u)" == 0 ]]; then
        runuser -u postgres -- "$@"
    else
        die "run as root (the server runs as the postgres user through runuser) or as postgres"
    fi
}

port_of() { cat "$dir/port" 2>/dev/null || true; }

url_of() { printf 'postgresql://orderflow:orderflow@127.0.0.1:%s/orderflow\n' "$1"; }

running() {
    [[ -f "$data/postmaster.pid" ]] || return 1
    pid_alive "$(head -n1 "$data/postmaster.pid")"
}

psql_admin() {
    as_postgres "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$dir" -p "$(port_of)" -d postgres
}

start() {
    [[ -x "$PG_BIN/postgres" ]] || die "PostgreSQL 15 is not installed ($PG_BIN; apt-get install postgresql-15)"
    if running; then
        url_of "$(port_of)"
        return 0
    fi
    id postgres >/dev/null 2>&1 || die "no postgres user (installed with postgresql-15)"
    # The directory and every parent must be reachable by postgres.
    chown postgres:postgres "$dir"
    chmod 700 "$dir"
    as_postgres test -x "$dir" ||
        die "the postgres user cannot reach $dir: a parent directory is closed to it (chmod o+x)"
    if [[ ! -f "$data/PG_VERSION" ]]; then
        log "initdb in $data"
        as_postgres "$PG_BIN/initdb" -D "$data" -U postgres --auth-local=trust \
            --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 ||
            die "initdb failed: see $dir/initdb.log"
    fi
    local port="${ORDERFLOW_PG_PORT:-$(port_of)}"
    if [[ -z "$port" ]] || port_in_use "$port"; then port="$(free_port)"; fi
    printf '%s\n' "$port" >"$dir/port"
    # Loopback only; the Unix socket lives in DIR, never in /var/run/postgresql.
    # fsync stays on: the services' durability claims hold on this server too.
    as_postgres "$PG_BIN/pg_ctl" -D "$data" -l "$dir/server.log" -w -t "$START_TIMEOUT" \
        -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c max_connections=200" start \
        >/dev/null || die "the server did not start: see $dir/server.log"
    # The orderflow user and database (idempotent).
    psql_admin <<'SQL' || die "could not create the orderflow user and database"
SELECT 'CREATE ROLE orderflow LOGIN CREATEDB PASSWORD ''orderflow'''
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'orderflow') \gexec
SELECT 'CREATE DATABASE orderflow OWNER orderflow'
 WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = 'orderflow') \gexec
SQL
    log "PostgreSQL 15 on 127.0.0.1:$port (data $data, log $dir/server.log)"
    url_of "$port"
}

stop() {
    running || return 0
    as_postgres "$PG_BIN/pg_ctl" -D "$data" -m fast -w -t "$START_TIMEOUT" stop >/dev/null
}

case "$command" in
    start) start ;;
    stop) stop ;;
    status)
        if running; then
            echo "running on 127.0.0.1:$(port_of)"
        else
            echo stopped
            exit 3
        fi
        ;;
    url)
        [[ -n "$(port_of)" ]] || die "no server was started in $dir"
        url_of "$(port_of)"
        ;;
esac
