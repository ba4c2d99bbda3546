#!/usr/bin/env bash
# The project-local RabbitMQ node: start|stop|status|env [--dir DIR].
#
# Everything the node owns lives under DIR (default .run/broker, or $ORDERFLOW_BROKER_DIR):
# data (mnesia/), logs (log/), the Erlang cookie (home/.erlang.cookie), the pid file, the
# generated rabbitmq.conf and ports.env, the ports and node name it was started with, so
# that stop/status/env of the same DIR find it. It listens on 127.0.0.1 only.
#
# Ports and node name for `start` come from the environment, else from DIR/ports.env of a
# previous start, else the defaults:
#   ORDERFLOW_BROKER_AMQP_PORT (5672)    ORDERFLOW_BROKER_MGMT_PORT (15672)
#   ORDERFLOW_BROKER_DIST_PORT (25672)   ORDERFLOW_BROKER_STREAM_PORT (5552)
#   ORDERFLOW_BROKER_NODE (orderflow@localhost)
# stop/status/env use DIR/ports.env when it exists.
# ORDERFLOW_BROKER_ERL_ARGS adds Erlang VM flags to the node (an experiment such as
# "+S 1:1", one scheduler; see the README's performance section). Unset: RabbitMQ's own.
#
# --tls (SPEC section 11): a CA and a server certificate for "localhost" made with openssl in
# DIR/tls/ (make_broker_certs in lib.sh); the node listens for amqps:// only (no plain AMQP
# port), serves the management API over HTTPS and the stream protocol over TLS. Clients
# verify the certificate against DIR/tls/ca.pem (ORDERFLOW_AMQP_CA_FILE) and connect to
# host name localhost, the name the certificate carries.
# --users: one broker user per service with the permissions of SPEC section 11 and an
# administrator (setup_broker_users in lib.sh), then the topology declared as that
# administrator with orderflowctl (declare_topology_as). Passwords are random, kept in
# DIR/users.env (mode 600); `env` prints the URLs with them, `start` masks them.
# `users [--vhost V] [--prefix P]` does the same on the running node for another vhost
# (users named P-<service>, default orderflow-<vhost>): tests use it.
#
# Exit status: 0 success (status: running), 1 failure, 2 usage, 3 status: stopped,
# 4 status: the process exists but the node does not answer.
set -euo pipefail

# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
    cat <<'EOF'
usage: scripts/broker.sh start|stop|status|env|users [--dir DIR] [--tls] [--users]

  start    start the node (idempotent), wait until it runs, print its URLs
  stop     stop the node and wait for its process to exit
  status   print running/stopped; exit 0 when running, 3 when stopped
  env      print `export ORDERFLOW_AMQP_URL=... ORDERFLOW_MGMT_URL=...` for eval (with
           --users started: also ORDERFLOW_<SERVICE>_AMQP_URL, and the CA with --tls)
  users    create the service users on the running node [--vhost V] [--prefix P] and
           print their URLs as `export` lines (declares the topology in V as admin)

  --dir DIR   node directory (default: $ORDERFLOW_BROKER_DIR or .run/broker)
  --tls       start: amqps:// only, management over HTTPS, certificates in DIR/tls/
  --users     start: a user per service with least privilege (SPEC 11), topology declared

Ports for start: ORDERFLOW_BROKER_AMQP_PORT, ORDERFLOW_BROKER_MGMT_PORT,
ORDERFLOW_BROKER_DIST_PORT, ORDERFLOW_BROKER_STREAM_PORT; node name ORDERFLOW_BROKER_NODE.
EOF
}

START_TIMEOUT="${ORDERFLOW_BROKER_START_TIMEOUT:-120}"
STOP_TIMEOUT="${ORDERFLOW_BROKER_STOP_TIMEOUT:-60}"

# ---------------------------------------------------------------------------- arguments

command=""
dir="${ORDERFLOW_BROKER_DIR:-$ORDERFLOW_ROOT/.run/broker}"
want_tls=0
want_users=0
users_vhost="/"
users_prefix=""
while [[ $# -gt 0 ]]; do
    case "$1" in
        --tls) want_tls=1 ;;
        --users) want_users=1 ;;
        --vhost | --prefix)
            [[ $# -ge 2 ]] || { usage >&2; exit 2; }
            if [[ "$1" == --vhost ]]; then users_vhost="$2"; else users_prefix="$2"; fi
            shift
            ;;
        start | stop | status | env | users)
            [[ -z "$command" ]] || { usage >&2; exit 2; }
            command="$1"
            ;;
        --dir)
            [[ $# -ge 2 ]] || { usage >&2; exit 2; }
            dir="$2"
            shift
            ;;
        --dir=*) dir="${1#--dir=}" ;;
        -h | --help) usage; exit 0 ;;
        *) usage >&2; exit 2 ;;
    esac
    shift
done
[[ -n "$command" ]] || { usage >&2; exit 2; }
[[ -n "$dir" ]] || die "--dir must not be empty"
if [[ "$dir" != /* ]]; then
    dir="$PWD/$dir"
fi

pid_file="$dir/rabbitmq.pid"
ports_file="$dir/ports.env"

# ---------------------------------------------------------------------------- settings

declare -A saved=()
if [[ -f "$ports_file" ]]; then
    while IFS='=' read -r key value; do
        case "$key" in
            ORDERFLOW_BROKER_AMQP_PORT | ORDERFLOW_BROKER_MGMT_PORT | ORDERFLOW_BROKER_DIST_PORT | \
                ORDERFLOW_BROKER_STREAM_PORT | ORDERFLOW_BROKER_NODE | ORDERFLOW_BROKER_TLS | \
                ORDERFLOW_BROKER_USERS)
                saved[$key]="$value"
                ;;
        esac
    done <"$ports_file"
fi

# setting KEY DEFAULT: for start the environment wins over ports.env; for the other
# commands ports.env (what the node was started with) wins over the environment. When
# start may pick free ports (scripts/up.sh), ports a previous start picked are forgotten:
# the defaults are tried again. The node name is kept, as the data belong to it.
setting() {
    local key="$1" default="$2" from_env="${!1:-}" from_file="${saved[$1]:-}"
    if [[ "$command" == start && "${ORDERFLOW_BROKER_PICK_FREE_PORTS:-0}" == 1 &&
        "$key" == *_PORT ]]; then
        printf '%s\n' "${from_env:-$default}"
    elif [[ "$command" == start ]]; then
        printf '%s\n' "${from_env:-${from_file:-$default}}"
    else
        printf '%s\n' "${from_file:-${from_env:-$default}}"
    fi
}

amqp_port="$(setting ORDERFLOW_BROKER_AMQP_PORT 5672)"
mgmt_port="$(setting ORDERFLOW_BROKER_MGMT_PORT 15672)"
dist_port="$(setting ORDERFLOW_BROKER_DIST_PORT 25672)"
stream_port="$(setting ORDERFLOW_BROKER_STREAM_PORT 5552)"
node="$(setting ORDERFLOW_BROKER_NODE orderflow@localhost)"

for port in "$amqp_port" "$mgmt_port" "$dist_port" "$stream_port"; do
    if ! [[ "$port" =~ ^[0-9]+$ ]] || ((port < 1 || port > 65535)); then
        die "invalid port '$port'"
    fi
done
[[ "$node" =~ ^[A-Za-z0-9_.-]+@[A-Za-z0-9_.-]+$ ]] || die "invalid node name '$node'"
# TLS and users: what start is told; for the other commands, what the node was started with.
if [[ "$command" == start ]]; then
    tls="$want_tls" users="$want_users"
else
    tls="${saved[ORDERFLOW_BROKER_TLS]:-0}" users="${saved[ORDERFLOW_BROKER_USERS]:-0}"
fi
tls_dir="$dir/tls"
users_file="$dir/users.env"

# Values derived from the ports and node name (again after start picked free ports).
derive() {
    if [[ "$tls" == 1 ]]; then
        # The certificate names localhost: clients must use that name to verify it.
        amqp_base="amqps://localhost:${amqp_port}"
        mgmt_url="https://guest:guest@localhost:${mgmt_port}"
    else
        amqp_base="amqp://127.0.0.1:${amqp_port}"
        mgmt_url="http://guest:guest@127.0.0.1:${mgmt_port}"
    fi
    amqp_url="${amqp_base%%://*}://guest:guest@${amqp_base#*://}/%2f"
    # The environment that points the RabbitMQ scripts at our node and directory. HOME
    # decides where the Erlang cookie lives, for the server and the CLI alike; the
    # distribution port and epmd (when this node is the one starting it) are loopback only.
    rabbit_env=(
        HOME="$dir/home"
        RABBITMQ_NODENAME="$node"
        RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
        RABBITMQ_NODE_PORT="$amqp_port"
        RABBITMQ_DIST_PORT="$dist_port"
        RABBITMQ_MNESIA_BASE="$dir/mnesia"
        RABBITMQ_LOG_BASE="$dir/log"
        RABBITMQ_PID_FILE="$pid_file"
        RABBITMQ_ENABLED_PLUGINS_FILE="$dir/enabled_plugins"
        RABBITMQ_CONFIG_FILE="$dir/rabbitmq.conf"
        RABBITMQ_ADVANCED_CONFIG_FILE="$dir/advanced.config"
        RABBITMQ_CONF_ENV_FILE="$dir/rabbitmq-env.conf"
        RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1} ${ORDERFLOW_BROKER_ERL_ARGS:-}"
        ERL_EPMD_ADDRESS=127.0.0.1
        ERL_CRASH_DUMP="$dir/log/erl_crash.dump"
    )
}
derive

# rabbit TOOL ARGS...: runs a RabbitMQ script (rabbitmqctl, rabbitmq-server, ...) on our node.
rabbit() {
    env "${rabbit_env[@]}" "$ORDERFLOW_RABBITMQ_BIN/$1" "${@:2}"
}

# ---------------------------------------------------------------------------- state

# True when process $1 is an Erlang VM whose -home is our home dir: our node. That home
# dir is unique to DIR, so this tells our node from others and from a reused pid.
is_our_node() {
    local cmdline
    cmdline="$(tr '\0' ' ' 2>/dev/null <"/proc/$1/cmdline" || true)"
    [[ "$cmdline" == *beam* && "$cmdline" == *" -home $dir/home "* ]]
}

# The node's OS pid, else empty: from the pid file, or, while a starting node has not
# written it yet (or after it was deleted), by looking for our node among the processes.
node_pid() {
    local pid proc
    if [[ -f "$pid_file" ]]; then
        pid="$(tr -dc '0-9' <"$pid_file")"
        if [[ -n "$pid" ]] && pid_alive "$pid" && is_our_node "$pid"; then
            printf '%s\n' "$pid"
            return 0
        fi
    fi
    for proc in /proc/[0-9]*; do
        pid="${proc#/proc/}"
        if is_our_node "$pid" && pid_alive "$pid"; then
            printf '%s\n' "$pid"
            return 0
        fi
    done
}

node_answers() {
    rabbit rabbitmq-diagnostics -q ping --timeout 10 >/dev/null 2>&1
}

print_urls() {
    local line
    printf 'AMQP:       %s\n' "$amqp_url"
    if [[ "$tls" == 1 ]]; then
        printf 'management: https://localhost:%s/ (user guest, password guest)\n' "$mgmt_port"
        printf 'TLS:        amqps and https only; clients trust %s (ORDERFLOW_AMQP_CA_FILE)\n' \
            "$tls_dir/ca.pem"
        printf 'stream:     localhost:%s (TLS)\n' "$stream_port"
    else
        printf 'management: http://127.0.0.1:%s/ (user guest, password guest)\n' "$mgmt_port"
        printf 'stream:     127.0.0.1:%s\n' "$stream_port"
    fi
    if [[ "$users" == 1 && -f "$users_file" ]]; then
        printf 'users:      passwords in %s; "scripts/broker.sh env --dir %s" prints the URLs\n' \
            "$users_file" "$dir"
        while IFS= read -r line; do
            [[ "$line" == *_AMQP_URL=* ]] || continue
            printf '            %s\n' "$(redact_url_password "$line")"
        done <"$users_file"
    fi
    printf 'node:       %s, data in %s\n' "$node" "$dir"
}

write_files() {
    mkdir -p "$dir/home" "$dir/mnesia" "$dir/log"
    chmod 700 "$dir/home"
    cat >"$ports_file" <<EOF
ORDERFLOW_BROKER_AMQP_PORT=$amqp_port
ORDERFLOW_BROKER_MGMT_PORT=$mgmt_port
ORDERFLOW_BROKER_DIST_PORT=$dist_port
ORDERFLOW_BROKER_STREAM_PORT=$stream_port
ORDERFLOW_BROKER_NODE=$node
ORDERFLOW_BROKER_TLS=$tls
ORDERFLOW_BROKER_USERS=$users
EOF
    printf '%s\n' '[rabbitmq_management,rabbitmq_stream].' >"$dir/enabled_plugins"
    if [[ "$tls" == 1 ]]; then
        write_tls_config
        return
    fi
    # Loopback only; statistics every second so that queue depths in the management API
    # (orderflowctl status, tests) follow the pipeline closely.
    cat >"$dir/rabbitmq.conf" <<EOF
# Generated by scripts/broker.sh at every start: edit the script, not this file.
listeners.tcp.default = 127.0.0.1:$amqp_port
management.tcp.ip = 127.0.0.1
management.tcp.port = $mgmt_port
stream.listeners.tcp.default = 127.0.0.1:$stream_port
stream.advertised_host = 127.0.0.1
stream.advertised_port = $stream_port
collect_statistics_interval = 1000
log.file.level = info
log.console = false
EOF
}

# rabbitmq.conf of a TLS node: amqps, HTTPS management and stream over TLS, nothing in clear.
write_tls_config() {
    make_broker_certs "$tls_dir" localhost
    cat >"$dir/rabbitmq.conf" <<EOF
# Generated by scripts/broker.sh --tls at every start: edit the script, not this file.
listeners.tcp = none
listeners.ssl.default = 127.0.0.1:$amqp_port
ssl_options.cacertfile = $tls_dir/ca.pem
ssl_options.certfile = $tls_dir/server.pem
ssl_options.keyfile = $tls_dir/server.key
ssl_options.verify = verify_none
ssl_options.fail_if_no_peer_cert = false
management.ssl.ip = 127.0.0.1
management.ssl.port = $mgmt_port
management.ssl.cacertfile = $tls_dir/ca.pem
management.ssl.certfile = $tls_dir/server.pem
management.ssl.keyfile = $tls_dir/server.key
stream.listeners.tcp = none
stream.listeners.ssl.default = 127.0.0.1:$stream_port
stream.advertised_host = localhost
stream.advertised_port = $stream_port
collect_statistics_interval = 1000
log.file.level = info
log.console = false
EOF
}

# Creates the service users on VHOST (prefix PREFIX) and declares the topology there as
# their administrator; writes ENV_FILE.
make_users() {
    local vhost="$1" prefix="$2" env_file="$3"
    local ca=""
    [[ "$tls" == 1 ]] && ca="$tls_dir/ca.pem"
    setup_broker_users "$vhost" "$prefix" "$env_file" "$amqp_base" "$mgmt_url" "$ca"
    declare_topology_as "$env_file" "$ca"
}

# True when epmd knows a node of that name (the part before the @) on this host.
node_name_taken() {
    epmd -names 2>/dev/null | awk -v n="${1%@*}" '$1 == "name" && $2 == n { f = 1 } END { exit !f }'
}

# ORDERFLOW_BROKER_PICK_FREE_PORTS=1 (scripts/up.sh): replaces the ports that are taken by
# free ones, and a node name that is taken by one derived from DIR, and says so. What is
# chosen is written to ports.env, so the next start of DIR reuses it.
pick_free_ports() {
    local var new
    local -a chosen=("$amqp_port" "$mgmt_port" "$dist_port" "$stream_port")
    for var in amqp_port mgmt_port dist_port stream_port; do
        if port_in_use "${!var}"; then
            new="$(free_port "${chosen[@]}")"
            warn "port ${!var} (${var%_port}) is taken: using $new instead"
            printf -v "$var" '%s' "$new"
            chosen+=("$new")
        fi
    done
    if node_name_taken "$node"; then
        new="orderflow-$(printf '%s' "$dir" | cksum | cut -c1-8)@${node#*@}"
        warn "node name ${node%@*} is taken: using ${new%@*} instead"
        node="$new"
    fi
    derive
}

# ---------------------------------------------------------------------------- commands

cmd_start() {
    local pid port
    pid="$(node_pid)"
    if [[ -n "$pid" ]]; then
        log "already running (pid $pid)"
        print_urls
        return 0
    fi
    [[ -x "$ORDERFLOW_RABBITMQ_BIN/rabbitmq-server" ]] || ensure_packages broker
    [[ -x "$ORDERFLOW_RABBITMQ_BIN/rabbitmq-server" ]] ||
        die "$ORDERFLOW_RABBITMQ_BIN/rabbitmq-server not found (install rabbitmq-server)"
    [[ "${ORDERFLOW_BROKER_PICK_FREE_PORTS:-0}" != 1 ]] || pick_free_ports
    for port in "$amqp_port" "$mgmt_port" "$dist_port" "$stream_port"; do
        if port_in_use "$port"; then
            die "port $port is already in use: choose others with ORDERFLOW_BROKER_AMQP_PORT, _MGMT_PORT, _DIST_PORT, _STREAM_PORT (or ORDERFLOW_BROKER_PICK_FREE_PORTS=1)"
        fi
    done
    # Two nodes of one name cannot run on one host: say so instead of timing out below.
    if node_name_taken "$node"; then
        die "a node named ${node%@*} already runs on this host: set ORDERFLOW_BROKER_NODE (or ORDERFLOW_BROKER_PICK_FREE_PORTS=1)"
    fi
    write_files
    rm -f "$pid_file"
    log "starting $node in $dir (console output in log/console.log)"
    # In a session of its own (Ctrl-C in the caller's terminal does not reach it), from DIR
    # (a crash dump lands there, not in the caller's directory), its console in a file so
    # that a node failing early says why. Not -detached, which sends that to /dev/null.
    printf '\n=== %s start\n' "$(date -u +%FT%TZ)" >>"$dir/log/console.log"
    (cd "$dir" && exec setsid env "${rabbit_env[@]}" "$ORDERFLOW_RABBITMQ_BIN/rabbitmq-server") \
        </dev/null >>"$dir/log/console.log" 2>&1 &
    local server=$!
    # A simple command (no function), so that $! is rabbitmqctl itself and can be killed.
    env "${rabbit_env[@]}" "$ORDERFLOW_RABBITMQ_BIN/rabbitmqctl" -q wait --timeout "$START_TIMEOUT" \
        "$pid_file" >"$dir/log/start.out" 2>&1 &
    local waiter=$! status=0
    while pid_alive "$waiter"; do
        if ! pid_alive "$server"; then
            kill "$waiter" 2>/dev/null || true
            break
        fi
        sleep 0.5
    done
    wait "$waiter" || status=$?
    if [[ $status -ne 0 ]] || ! pid_alive "$server"; then
        warn "the node did not start; end of its console and log:"
        tail -n 30 "$dir/log/start.out" "$dir/log/console.log" >&2 || true
        tail -n 30 "$dir/log/$node.log" >&2 2>/dev/null || true
        cmd_stop >/dev/null 2>&1 || true
        die "broker start failed"
    fi
    log "running (pid $(node_pid))"
    if [[ "$users" == 1 ]]; then
        log "creating the service users and declaring the topology as their administrator"
        make_users / orderflow "$users_file"
    fi
    print_urls
}

cmd_stop() {
    local pid
    pid="$(node_pid)"
    if [[ -z "$pid" ]]; then
        log "not running"
        rm -f "$pid_file"
        return 0
    fi
    log "stopping $node (pid $pid)"
    printf '%s\n' "$pid" >"$pid_file"  # rabbitmqctl stop waits for the pid it names
    # With the pid file, rabbitmqctl stop also waits for the OS process to exit.
    if ! timeout "$STOP_TIMEOUT" env "${rabbit_env[@]}" "$ORDERFLOW_RABBITMQ_BIN/rabbitmqctl" \
        -q stop "$pid_file" >"$dir/log/stop.out" 2>&1; then
        warn "rabbitmqctl stop failed or timed out"
    fi
    if ! wait_pid_exit "$pid" 30; then
        warn "pid $pid still running: sending SIGTERM"
        kill -TERM "$pid" 2>/dev/null || true
        if ! wait_pid_exit "$pid" 30; then
            warn "pid $pid still running: sending SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
            wait_pid_exit "$pid" 10 || die "pid $pid does not exit"
        fi
    fi
    rm -f "$pid_file"
    log "stopped"
}

cmd_status() {
    local pid
    pid="$(node_pid)"
    if [[ -z "$pid" ]]; then
        echo "stopped ($dir)"
        return 3
    fi
    if ! node_answers; then
        echo "not responding: pid $pid, node $node ($dir)"
        return 4
    fi
    echo "running: pid $pid"
    print_urls
}

cmd_env() {
    local key value
    printf 'export ORDERFLOW_AMQP_URL=%q\n' "$amqp_url"
    printf 'export ORDERFLOW_MGMT_URL=%q\n' "$mgmt_url"
    [[ "$tls" != 1 ]] || printf 'export ORDERFLOW_AMQP_CA_FILE=%q\n' "$tls_dir/ca.pem"
    if [[ "$users" == 1 && -f "$users_file" ]]; then
        while IFS='=' read -r key value; do
            [[ "$key" == *_AMQP_URL ]] && printf 'export %s=%q\n' "$key" "$value"
        done <"$users_file"
    fi
}

# users: the service users of another vhost on the running node, printed as export lines.
cmd_users() {
    local prefix="${users_prefix:-orderflow-$(percent_encode "$users_vhost")}" env_file key value
    [[ -n "$(node_pid)" ]] || die "the node in $dir is not running"
    [[ "$prefix" =~ ^[A-Za-z0-9_.%-]+$ ]] || die "invalid user prefix '$prefix'"
    env_file="$dir/users-$prefix.env"
    make_users "$users_vhost" "$prefix" "$env_file"
    [[ "$tls" != 1 ]] || printf 'export ORDERFLOW_AMQP_CA_FILE=%q\n' "$tls_dir/ca.pem"
    while IFS='=' read -r key value; do
        [[ "$key" == *_AMQP_URL ]] && printf 'export %s=%q\n' "$key" "$value"
    done <"$env_file"
}

case "$command" in
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    env) cmd_env ;;
    users) cmd_users ;;
esac
