#!/usr/bin/env bash
# A project-local RabbitMQ cluster on loopback:
#   start|stop|status|env|kill N|pause N|resume N|restart N [--dir DIR] [--nodes N] [--users]
#
# --users (start): one broker user per service with the permissions of SPEC section 11 and
# an administrator (setup_broker_users in lib.sh, as `broker.sh start --users`), then the
# topology declared as that administrator; DIR/users.env (mode 600) holds each service's
# ORDERFLOW_<SERVICE>_AMQP_URL over all the nodes. Passwords are never printed.
#
# Each node is a scripts/broker.sh node in DIR/node<N> (default DIR .run/cluster, or
# $ORDERFLOW_CLUSTER_DIR) on free ports, all with the same Erlang cookie (DIR/cookie);
# nodes 2..N join node 1. `start` prints the comma-separated ORDERFLOW_AMQP_URL of all
# nodes and each node's management URL, and writes DIR/cluster.env (shell variables, for
# scripts: ORDERFLOW_AMQP_URL, ORDERFLOW_MGMT_URL, ORDERFLOW_CLUSTER_NODES,
# ORDERFLOW_CLUSTER_AMQP_URL_<N>, ORDERFLOW_CLUSTER_MGMT_URL_<N>, ORDERFLOW_CLUSTER_NODE_<N>).
# `env` prints them as exports for eval; `status` prints one line per node:
#   node=<N> name=<erlang node> state=running|paused|stopped|not-responding pid=<pid> amqp=<port> mgmt=<port>
# and exits 0 when every node runs, 3 when none does, 1 otherwise.
#
#   kill N      SIGKILL node N (its data stays; `restart N` brings it back into the cluster)
#   pause N     SIGSTOP node N; resume N: SIGCONT
#   restart N   start node N again (after kill), or stop and start it (while it runs)
#
# The queues are declared by the services (or `orderflowctl topology declare`) after
# `start` returns, when every node has joined: a quorum queue then has a replica on each.
# ORDERFLOW_CLUSTER_NAME (default derived from DIR) prefixes the Erlang node names, which
# must be unique on this host.
set -euo pipefail

# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
    sed -n '2,24p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

command=""
target=""
dir="${ORDERFLOW_CLUSTER_DIR:-$ORDERFLOW_ROOT/.run/cluster}"
nodes_wanted=""
want_users=0
while [[ $# -gt 0 ]]; do
    case "$1" in
        start | stop | status | env)
            [[ -z "$command" ]] || { usage >&2; exit 2; }
            command="$1"
            ;;
        kill | pause | resume | restart)
            [[ -z "$command" && $# -ge 2 ]] || { usage >&2; exit 2; }
            command="$1"
            target="$2"
            shift
            ;;
        --dir)
            [[ $# -ge 2 ]] || { usage >&2; exit 2; }
            dir="$2"
            shift
            ;;
        --dir=*) dir="${1#--dir=}" ;;
        --nodes)
            [[ $# -ge 2 ]] || { usage >&2; exit 2; }
            nodes_wanted="$2"
            shift
            ;;
        --nodes=*) nodes_wanted="${1#--nodes=}" ;;
        --users) want_users=1 ;;
        -h | --help) usage; exit 0 ;;
        *) usage >&2; exit 2 ;;
    esac
    shift
done
[[ -n "$command" ]] || { usage >&2; exit 2; }
[[ -n "$dir" ]] || die "--dir must not be empty"
[[ "$dir" == /* ]] || dir="$PWD/$dir"
env_file="$dir/cluster.env"

# The node count: --nodes, else what a previous start recorded, else 3.
node_count() {
    local recorded=""
    if [[ -f "$env_file" ]]; then
        recorded="$(sed -n 's/^ORDERFLOW_CLUSTER_NODES=//p' "$env_file")"
    fi
    printf '%s\n' "${nodes_wanted:-${recorded:-3}}"
}
count="$(node_count)"
[[ "$count" =~ ^[1-9][0-9]?$ ]] || die "--nodes must be a number from 1 to 99"
if [[ -n "$target" ]]; then
    if ! [[ "$target" =~ ^[0-9]+$ ]] || ((target < 1 || target > count)); then
        die "node must be a number from 1 to $count"
    fi
fi

cluster_name="${ORDERFLOW_CLUSTER_NAME:-orderflow-c$(printf '%s' "$dir" | cksum | cut -d' ' -f1)}"
[[ "$cluster_name" =~ ^[A-Za-z0-9_.-]+$ ]] || die "invalid ORDERFLOW_CLUSTER_NAME '$cluster_name'"

node_dir() { printf '%s/node%s\n' "$dir" "$1"; }
node_name() { printf '%s-%s@localhost\n' "$cluster_name" "$1"; }
broker() { "$ORDERFLOW_ROOT/scripts/broker.sh" "$@"; }

# port_of N KEY: a port node N recorded in its ports.env (AMQP, MGMT, DIST, STREAM).
port_of() {
    sed -n "s/^ORDERFLOW_BROKER_$2_PORT=//p" "$(node_dir "$1")/ports.env" 2>/dev/null || true
}

# ctl N ARGS...: rabbitmqctl on node N, with that node's home (its cookie).
ctl() {
    local n="$1"
    shift
    env HOME="$(node_dir "$n")/home" RABBITMQ_CONF_ENV_FILE="$(node_dir "$n")/rabbitmq-env.conf" \
        ERL_EPMD_ADDRESS=127.0.0.1 "$ORDERFLOW_RABBITMQ_BIN/rabbitmqctl" -q -n "$(node_name "$n")" "$@"
}

# The OS pid of node N's Erlang VM, else empty (the same test as broker.sh: -home is ours).
beam_pid() {
    local home proc pid cmdline
    home="$(node_dir "$1")/home"
    for proc in /proc/[0-9]*; do
        pid="${proc#/proc/}"
        cmdline="$(tr '\0' ' ' 2>/dev/null <"$proc/cmdline" || true)"
        if [[ "$cmdline" == *beam* && "$cmdline" == *" -home $home "* ]] && pid_alive "$pid"; then
            printf '%s\n' "$pid"
            return 0
        fi
    done
}

write_env() {
    local n urls="" amqp mgmt
    {
        echo "# Written by scripts/cluster.sh start: the cluster in $dir"
        echo "ORDERFLOW_CLUSTER_DIR=$dir"
        echo "ORDERFLOW_CLUSTER_NODES=$count"
        for ((n = 1; n <= count; n++)); do
            amqp="$(port_of "$n" AMQP)"
            mgmt="$(port_of "$n" MGMT)"
            urls+="${urls:+,}amqp://guest:guest@127.0.0.1:$amqp/%2f"
            echo "ORDERFLOW_CLUSTER_NODE_$n=$(node_name "$n")"
            echo "ORDERFLOW_CLUSTER_AMQP_URL_$n=amqp://guest:guest@127.0.0.1:$amqp/%2f"
            echo "ORDERFLOW_CLUSTER_MGMT_URL_$n=http://guest:guest@127.0.0.1:$mgmt"
        done
        echo "ORDERFLOW_AMQP_URL=$urls"
        echo "ORDERFLOW_MGMT_URL=http://guest:guest@127.0.0.1:$(port_of 1 MGMT)"
    } >"$env_file.tmp"
    mv "$env_file.tmp" "$env_file"
}

print_urls() {
    local n
    printf 'ORDERFLOW_AMQP_URL=%s\n' "$(sed -n 's/^ORDERFLOW_AMQP_URL=//p' "$env_file")"
    for ((n = 1; n <= count; n++)); do
        printf 'node %s: %s  amqp 127.0.0.1:%s  management http://127.0.0.1:%s/\n' "$n" \
            "$(node_name "$n")" "$(port_of "$n" AMQP)" "$(port_of "$n" MGMT)"
    done
    # shellcheck disable=SC2016  # the $(...) is for the reader to run
    printf 'env file: %s (eval "$(scripts/cluster.sh env --dir %s)")\n' "$env_file" "$dir"
}

# start_node N: starts node N with the cluster's cookie, on free ports the first time and
# on the ports it recorded afterwards. A node that has never run joins node 1 as it boots
# (peer discovery from a conf.d file): no rabbitmqctl join, whose Erlang VMs take tens of
# seconds each on a busy 2-core machine.
start_node() {
    local n="$1" ndir
    ndir="$(node_dir "$n")"
    mkdir -p "$ndir/home" "$ndir/conf.d"
    chmod 700 "$ndir/home"
    if [[ ! -f "$ndir/home/.erlang.cookie" ]]; then
        install -m 400 "$dir/cookie" "$ndir/home/.erlang.cookie"
    fi
    cat >"$ndir/conf.d/10-cluster.conf" <<EOF
# Generated by scripts/cluster.sh: a new node joins $(node_name 1).
cluster_formation.peer_discovery_backend = classic_config
cluster_formation.classic_config.nodes.1 = $(node_name 1)
EOF
    if [[ -f "$ndir/ports.env" ]]; then
        RABBITMQ_CONFIG_FILES="$ndir/conf.d" ORDERFLOW_BROKER_PICK_FREE_PORTS=0 \
            broker start --dir "$ndir" >/dev/null
    else
        # Nodes 2..N pick their ports at the same time: each from its own part of the range
        # (two once picked one port, node 2's AMQP and node 3's distribution port).
        local span=$((12000 / count))
        ORDERFLOW_PORT_RANGE_START=$((20000 + (n - 1) * span)) ORDERFLOW_PORT_RANGE_SIZE="$span" \
            RABBITMQ_CONFIG_FILES="$ndir/conf.d" start_private_broker "$ndir" "${cluster_name}-$n"
    fi
}

# The names of the nodes node 1 sees running, one per line (management API: no Erlang CLI).
running_nodes() {
    curl -fsS --max-time 5 -u guest:guest "http://127.0.0.1:$(port_of 1 MGMT)/api/nodes" 2>/dev/null |
        jq -r '.[] | select(.running) | .name' 2>/dev/null || true
}

cmd_start() {
    local n pids=() pid
    mkdir -p "$dir"
    if [[ ! -f "$dir/cookie" ]]; then
        (umask 077 && head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$dir/cookie")
    fi
    # Node 1 first (stop stops it last, so its data are the newest), then the others at once.
    if [[ -z "$(beam_pid 1)" ]]; then
        log "starting node 1 ($(node_name 1))"
        start_node 1
    fi
    for ((n = 2; n <= count; n++)); do
        if [[ -n "$(beam_pid "$n")" ]]; then
            log "node $n already runs"
            continue
        fi
        log "starting node $n ($(node_name "$n"))"
        start_node "$n" &
        pids+=($!)
    done
    for pid in "${pids[@]}"; do
        wait "$pid" || die "a node did not start (logs in $dir/node*/log)"
    done
    local deadline=$((SECONDS + 120)) joined
    while :; do
        joined="$(running_nodes | grep -c "^${cluster_name}-" || true)"
        ((joined >= count)) && break
        if ((SECONDS >= deadline)); then
            warn "node 1 sees $joined of $count nodes running; joining the others with rabbitmqctl"
            for ((n = 2; n <= count; n++)); do
                running_nodes | grep -qx "$(node_name "$n")" && continue
                if ! { ctl "$n" stop_app && ctl "$n" join_cluster "$(node_name 1)" &&
                    ctl "$n" start_app; }; then
                    die "node $n cannot join the cluster (logs in $(node_dir "$n")/log)"
                fi
            done
            break
        fi
        sleep 1
    done
    write_env
    log "cluster of $count nodes running"
    if [[ $want_users == 1 ]]; then
        local amqp_base="" mgmt_url
        for ((n = 1; n <= count; n++)); do
            amqp_base+="${amqp_base:+,}amqp://127.0.0.1:$(port_of "$n" AMQP)"
        done
        mgmt_url="http://guest:guest@127.0.0.1:$(port_of 1 MGMT)"
        setup_broker_users / orderflow "$dir/users.env" "$amqp_base" "$mgmt_url" ""
        declare_topology_as "$dir/users.env"
        log "broker users created; their URLs are in $dir/users.env"
    fi
    print_urls
}

# stop_node N: SIGTERM (RabbitMQ stops gracefully on it; no Erlang CLI to start), waiting for
# the VM to exit, then SIGKILL if it does not within a minute.
stop_node() {
    local pid
    pid="$(beam_pid "$1")"
    [[ -n "$pid" ]] || return 0
    kill -CONT "$pid" 2>/dev/null || true  # a paused node cannot stop
    kill -TERM "$pid" 2>/dev/null || true
    if ! wait_pid_exit "$pid" 60; then
        warn "node $1 (pid $pid) did not stop within 60 s: SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
        wait_pid_exit "$pid" 10 || true
    fi
    rm -f "$(node_dir "$1")/rabbitmq.pid"
}

cmd_stop() {
    local n pids=() pid
    for ((n = count; n >= 2; n--)); do
        stop_node "$n" &
        pids+=($!)
    done
    for pid in "${pids[@]}"; do wait "$pid" || true; done
    stop_node 1
    log "stopped"
}

node_state() {
    local n="$1" pid state
    pid="$(beam_pid "$n")"
    if [[ -z "$pid" ]]; then
        echo stopped
        return
    fi
    state="$(awk '{ print $3 }' "/proc/$pid/stat" 2>/dev/null || true)"
    if [[ "$state" == T ]]; then
        echo paused
    elif ctl "$n" ping --timeout 5 >/dev/null 2>&1 ||
        env HOME="$(node_dir "$n")/home" "$ORDERFLOW_RABBITMQ_BIN/rabbitmq-diagnostics" -q \
            -n "$(node_name "$n")" ping --timeout 5 >/dev/null 2>&1; then
        echo running
    else
        echo not-responding
    fi
}

cmd_status() {
    local n state running=0
    [[ -f "$env_file" || -d "$(node_dir 1)" ]] || { echo "no cluster in $dir"; return 3; }
    for ((n = 1; n <= count; n++)); do
        state="$(node_state "$n")"
        [[ "$state" != running ]] || running=$((running + 1))
        printf 'node=%s name=%s state=%s pid=%s amqp=%s mgmt=%s\n' "$n" "$(node_name "$n")" \
            "$state" "$(beam_pid "$n")" "$(port_of "$n" AMQP)" "$(port_of "$n" MGMT)"
    done
    ((running == count)) && return 0
    ((running == 0)) && return 3
    return 1
}

cmd_env() {
    [[ -f "$env_file" ]] || die "no cluster started in $dir"
    local key value
    while IFS='=' read -r key value; do
        [[ "$key" == ORDERFLOW_* ]] || continue
        printf 'export %s=%q\n' "$key" "$value"
    done <"$env_file"
}

signal_node() {
    local pid
    pid="$(beam_pid "$target")"
    [[ -n "$pid" ]] || die "node $target is not running"
    kill "-$1" "$pid"
    log "node $target ($(node_name "$target"), pid $pid): SIG$1"
}

cmd_restart() {
    stop_node "$target"
    start_node "$target"
    log "node $target running again"
}

case "$command" in
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    env) cmd_env ;;
    kill) signal_node KILL ;;
    pause) signal_node STOP ;;
    resume) signal_node CONT ;;
    restart) cmd_restart ;;
esac
