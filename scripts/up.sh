#!/usr/bin/env bash
# Runs the whole system on this machine: installs what is missing, builds, starts the
# project-local RabbitMQ node (scripts/broker.sh, data under .run/broker) and the four
# services (data in .run/data, logs in .run/logs/<service>.log), prints where everything
# is, and waits. Ctrl-C stops the services (SIGTERM, they finish in-flight work), then the
# broker if this script started it.
#
#   scripts/up.sh               with the project-local broker (default ports unless
#                               ORDERFLOW_BROKER_*_PORT say otherwise; taken ports are
#                               replaced by free ones, and the script says so)
#   scripts/up.sh --no-broker   with the broker at ORDERFLOW_AMQP_URL (and ORDERFLOW_MGMT_URL)
#   scripts/up.sh --no-build    skip the package check and the build: run what is built
#   scripts/up.sh --scale [--replicas N]
#                               the distributed variant (SPEC section 8): PostgreSQL
#                               (scripts/pg.sh, .run/pg), N replicas (default 2) each of
#                               ingress, inventory and notification on free ports, one
#                               analytics, and nginx (.run/nginx) on the usual ports 8000-8002
#                               balancing over the replicas (least connections)
#   scripts/up.sh --tls         the broker with TLS only (scripts/broker.sh start --tls): the
#                               services connect with amqps:// and verify its certificate
#                               against .run/broker/tls/ca.pem (ORDERFLOW_AMQP_CA_FILE); not
#                               with --scale (scripts/cluster.sh has no TLS)
#   scripts/up.sh --users       one broker user per service with least privilege (SPEC 11),
#                               the topology declared as their administrator; each service runs
#                               as its own user; passwords only in users.env (mode 600) of the
#                               broker's (or, with --scale, the cluster's) directory
#                               --tls and --users combine; --users also with --scale
#
#   ORDERFLOW_UP_HTTP_BASE  first HTTP port (default 8000: ingress 8000, inventory 8001,
#                           notification 8002, analytics 8003)
#   BUILD_DIR               build directory (default build)
# Other ORDERFLOW_* settings (SPEC section 2, e.g. ORDERFLOW_INJECT_FAIL_RATE) reach the
# services unchanged.
set -euo pipefail

# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

use_broker=1
do_build=1
scale=0
replicas=2
want_tls=0
want_users=0
while [[ $# -gt 0 ]]; do
    case "$1" in
        --no-broker) use_broker=0 ;;
        --tls) want_tls=1 ;;
        --users) want_users=1 ;;
        --no-build) do_build=0 ;;
        --scale) scale=1 ;;
        --replicas)
            [[ $# -ge 2 && "$2" =~ ^[1-9][0-9]?$ ]] || { echo "--replicas takes a number (1-99)" >&2; exit 2; }
            replicas="$2"
            shift
            ;;
        -h | --help)
            sed -n '2,33p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
            exit 0
            ;;
        *)
            echo "usage: scripts/up.sh [--no-broker] [--no-build] [--scale [--replicas N]] [--tls] [--users]   (see --help)" >&2
            exit 2
            ;;
    esac
    shift
done
if [[ $use_broker == 0 && ($want_tls == 1 || $want_users == 1) ]]; then
    echo "--tls and --users set up the broker that up.sh starts; with --no-broker give the services" >&2
    echo "your broker's ORDERFLOW_AMQP_URL (amqps://...) and ORDERFLOW_AMQP_CA_FILE yourself" >&2
    exit 2
fi
if [[ $scale == 1 && $want_tls == 1 ]]; then
    echo "--tls is not available with --scale: scripts/cluster.sh starts its nodes without TLS" >&2
    echo "(--scale --users works; --tls --users runs on the single node)" >&2
    exit 2
fi

export BUILD_DIR="${BUILD_DIR:-build}"
bin_dir="$(build_dir_path "$BUILD_DIR")/bin"
run_dir="$ORDERFLOW_ROOT/.run"
broker_dir="${ORDERFLOW_BROKER_DIR:-$run_dir/broker}"
data_dir="$run_dir/data"
log_dir="$run_dir/logs"
http_base="${ORDERFLOW_UP_HTTP_BASE:-8000}"
if ! [[ "$http_base" =~ ^[0-9]+$ ]] || ((http_base < 1 || http_base > 65532)); then
    die "ORDERFLOW_UP_HTTP_BASE must be a port number"
fi

# Services in start order, with their HTTP ports and what they serve besides the probes.
services=(inventory notification analytics ingress)
declare -A port=(
    [ingress]=$((http_base)) [inventory]=$((http_base + 1))
    [notification]=$((http_base + 2)) [analytics]=$((http_base + 3))
)
declare -A routes=(
    [ingress]="POST /orders, GET /orders/{id}, POST /orders/sync"
    [inventory]="GET /inventory, POST /reserve"
    [notification]="GET /notifications?order_id=..., POST /send"
    [analytics]="GET / (the console), GET /stats"
)
declare -A pid=()
# What runs: one instance per service, or with --scale N replicas of the three behind nginx.
# instance -> its binary and HTTP port.
declare -A binary=() iport=()
instances=()
pg_dir="$run_dir/pg"
nginx_dir="$run_dir/nginx"
nginx_pid=""
pg_started=0
if [[ $scale == 0 ]]; then
    for service in "${services[@]}"; do
        instances+=("$service")
        binary[$service]="orderflow-$service"
        iport[$service]="${port[$service]}"
    done
else
    for service in "${services[@]}"; do
        if [[ $service == analytics ]]; then
            instances+=(analytics)
            binary[analytics]=orderflow-analytics
            iport[analytics]="${port[analytics]}"
            continue
        fi
        for i in $(seq 1 "$replicas"); do
            instance="$service-$i"
            instances+=("$instance")
            binary[$instance]="orderflow-$service"
            iport[$instance]="$(free_port "${port[@]}" "${iport[@]}")"
        done
    done
fi

# ---------------------------------------------------------------------------- build

if [[ $do_build == 1 ]]; then
    ensure_packages all
    "$ORDERFLOW_ROOT/scripts/setup.sh"
fi
for service in "${services[@]}"; do
    [[ -x "$bin_dir/orderflow-$service" ]] || die "$bin_dir/orderflow-$service was not built"
done
if [[ $scale == 1 ]]; then
    [[ -x /usr/sbin/nginx ]] || die "nginx is not installed (apt-get install nginx-light)"
fi
for service in "${services[@]}"; do
    if port_in_use "${port[$service]}"; then
        die "port ${port[$service]} ($service) is in use: is scripts/up.sh already running? (ORDERFLOW_UP_HTTP_BASE chooses other ports)"
    fi
done

# ---------------------------------------------------------------------------- stopping

broker_started=0
cluster_started=0
cluster_dir="${ORDERFLOW_CLUSTER_DIR:-$run_dir/cluster}"
stopping=0

# shellcheck disable=SC2317  # reached through the traps
stop_all() {
    local service deadline
    [[ $stopping == 0 ]] || return 0
    stopping=1
    trap - INT TERM
    echo >&2
    for service in "${instances[@]}"; do
        if [[ -n "${pid[$service]:-}" ]] && pid_alive "${pid[$service]}"; then
            log "stopping $service (pid ${pid[$service]})"
            kill -TERM "${pid[$service]}" 2>/dev/null || true
        fi
    done
    deadline=$((SECONDS + 30))
    for service in "${instances[@]}"; do
        [[ -n "${pid[$service]:-}" ]] || continue
        while pid_alive "${pid[$service]}" && ((SECONDS < deadline)); do
            sleep 0.2
        done
        if pid_alive "${pid[$service]}"; then
            warn "$service did not stop within 30 s: SIGKILL"
            kill -KILL "${pid[$service]}" 2>/dev/null || true
        fi
        wait "${pid[$service]}" 2>/dev/null || true
    done
    if [[ -n "$nginx_pid" ]] && pid_alive "$nginx_pid"; then
        kill -QUIT "$nginx_pid" 2>/dev/null || true
        wait "$nginx_pid" 2>/dev/null || true
    fi
    if [[ $pg_started == 1 ]]; then
        "$ORDERFLOW_ROOT/scripts/pg.sh" stop --dir "$pg_dir" || true
    fi
    if [[ $cluster_started == 1 ]]; then
        "$ORDERFLOW_ROOT/scripts/cluster.sh" stop --dir "$cluster_dir" || true
    fi
    if [[ $broker_started == 1 ]]; then
        "$ORDERFLOW_ROOT/scripts/broker.sh" stop --dir "$broker_dir" || true
    fi
    log "all stopped"
}
trap 'stop_all; exit 0' INT TERM
trap 'stop_all' EXIT

# ---------------------------------------------------------------------------- broker

# The broker of --scale: the 3-node cluster of scripts/cluster.sh (SPEC section 8); every
# process gets all three nodes in ORDERFLOW_AMQP_URL and fails over between them.
start_scale_broker() {
    if "$ORDERFLOW_ROOT/scripts/cluster.sh" status --dir "$cluster_dir" >/dev/null 2>&1; then
        log "the cluster in $cluster_dir is already running: using it (it stays up afterwards)"
    else
        cluster_started=1
        log "starting a 3-node RabbitMQ cluster in $cluster_dir (a minute or two)"
        "$ORDERFLOW_ROOT/scripts/cluster.sh" start --dir "$cluster_dir" "${broker_flags[@]}" >/dev/null ||
            die "the cluster did not start (node logs under $cluster_dir)"
    fi
    eval "$("$ORDERFLOW_ROOT/scripts/cluster.sh" env --dir "$cluster_dir")"
    users_file="$cluster_dir/users.env"
    if [[ $want_users == 1 && ! -s "$users_file" ]]; then
        die "the cluster in $cluster_dir runs without broker users: stop it (scripts/cluster.sh stop --dir $cluster_dir) or leave out --users"
    fi
}

start_single_broker() {
    local running_tls running_users
    if "$ORDERFLOW_ROOT/scripts/broker.sh" status --dir "$broker_dir" >/dev/null 2>&1; then
        # A node started earlier keeps its mode: say so rather than run otherwise than asked.
        running_tls="$(sed -n 's/^ORDERFLOW_BROKER_TLS=//p' "$broker_dir/ports.env" 2>/dev/null)"
        running_users="$(sed -n 's/^ORDERFLOW_BROKER_USERS=//p' "$broker_dir/ports.env" 2>/dev/null)"
        if [[ $want_tls == 1 && "$running_tls" != 1 ]] || [[ $want_users == 1 && "$running_users" != 1 ]]; then
            die "the broker in $broker_dir is already running without $([[ $want_tls == 1 && "$running_tls" != 1 ]] && echo TLS || echo broker users): stop it (scripts/broker.sh stop --dir $broker_dir) or leave out the flag"
        fi
        log "the broker in $broker_dir is already running: using it (it stays up afterwards)"
    else
        broker_started=1
        ORDERFLOW_BROKER_PICK_FREE_PORTS=1 "$ORDERFLOW_ROOT/scripts/broker.sh" start --dir "$broker_dir" "${broker_flags[@]}" >/dev/null
    fi
    eval "$("$ORDERFLOW_ROOT/scripts/broker.sh" env --dir "$broker_dir")"
    users_file="$broker_dir/users.env"
}

# With --users: each service's own URL (ORDERFLOW_<SERVICE>_AMQP_URL of users.env), which
# replaces ORDERFLOW_AMQP_URL for that service's processes only; the console's (inside
# analytics) becomes analytics' ORDERFLOW_CONSOLE_AMQP_URL.
declare -A service_url=()
load_service_urls() {
    local key value service
    [[ $want_users == 1 ]] || return 0
    [[ -s "$users_file" ]] || die "no $users_file: the broker users were not created"
    for service in "${services[@]}" console; do
        while IFS='=' read -r key value; do
            [[ "$key" == "ORDERFLOW_${service^^}_AMQP_URL" ]] && service_url[$service]="$value"
        done <"$users_file"
        [[ -n "${service_url[$service]:-}" || $service == console ]] ||
            die "$users_file has no URL for $service"
    done
    if [[ -z "${service_url[console]:-}" ]]; then
        log "warning: $users_file has no console user (the broker's users predate it): the console's dead letters are refused to analytics' user; restart the broker to create it"
    fi
}

broker_flags=()
[[ $want_tls == 1 ]] && broker_flags+=(--tls)
[[ $want_users == 1 ]] && broker_flags+=(--users)
users_file=""
if [[ $use_broker == 1 && $scale == 1 ]]; then
    start_scale_broker
elif [[ $use_broker == 1 ]]; then
    start_single_broker
else
    export ORDERFLOW_AMQP_URL="${ORDERFLOW_AMQP_URL:-amqp://guest:guest@127.0.0.1:5672/%2f}"
    export ORDERFLOW_MGMT_URL="${ORDERFLOW_MGMT_URL:-http://guest:guest@127.0.0.1:15672}"
fi
# The console's own broker user comes from --users below: one inherited from the shell (an
# eval of `broker.sh env`) may belong to another broker or vhost. With --no-broker it is
# the caller's to set.
[[ $use_broker == 1 ]] && unset ORDERFLOW_CONSOLE_AMQP_URL
load_service_urls

# ---------------------------------------------------------------------------- services

mkdir -p "$data_dir" "$log_dir"
export ORDERFLOW_DATA_DIR="$data_dir"
export ORDERFLOW_INVENTORY_URL="http://127.0.0.1:${port[inventory]}"
export ORDERFLOW_NOTIFICATION_URL="http://127.0.0.1:${port[notification]}"

if [[ $scale == 1 ]]; then
    if ! "$ORDERFLOW_ROOT/scripts/pg.sh" status --dir "$pg_dir" >/dev/null 2>&1; then
        pg_started=1
    fi
    ORDERFLOW_DATABASE_URL="$("$ORDERFLOW_ROOT/scripts/pg.sh" start --dir "$pg_dir")" ||
        die "PostgreSQL did not start (see $pg_dir/server.log)"
    export ORDERFLOW_DATABASE_URL
    # nginx in front of the replicas, a process of ours (lib.sh): config, pid, logs and
    # temp files under .run/nginx.
    specs=()
    for service in ingress inventory notification; do
        ports=()
        for i in $(seq 1 "$replicas"); do ports+=("${iport[$service-$i]}"); done
        specs+=("$service:${port[$service]}:$(IFS=,; echo "${ports[*]}")")
    done
    write_nginx_conf "$nginx_dir" "${specs[@]}"
    /usr/sbin/nginx -t -q -p "$nginx_dir" -c "$nginx_dir/nginx.conf" || die "bad nginx config: $nginx_dir/nginx.conf"
    /usr/sbin/nginx -p "$nginx_dir" -c "$nginx_dir/nginx.conf" -g 'daemon off;' </dev/null \
        >>"$nginx_dir/error.log" 2>&1 &
    nginx_pid=$!
    log "started nginx (pid $nginx_pid, config $nginx_dir/nginx.conf)"
fi

# The console's write actions (replay, purge) need this token (SPEC section 11); a new one
# each run unless ORDERFLOW_ADMIN_TOKEN is set. Only analytics gets it.
admin_token="${ORDERFLOW_ADMIN_TOKEN:-$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')}"
unset ORDERFLOW_ADMIN_TOKEN

for instance in "${instances[@]}"; do
    log_file="$log_dir/$instance.log"
    printf '\n=== %s scripts/up.sh starts %s\n' "$(date -u +%FT%TZ)" "$instance" >>"$log_file"
    extra_env=()
    [[ $instance == analytics ]] && extra_env=("ORDERFLOW_ADMIN_TOKEN=$admin_token")
    service="${binary[$instance]#orderflow-}"
    [[ -n "${service_url[$service]:-}" ]] && extra_env+=("ORDERFLOW_AMQP_URL=${service_url[$service]}")
    [[ $service == analytics && -n "${service_url[console]:-}" ]] &&
        extra_env+=("ORDERFLOW_CONSOLE_AMQP_URL=${service_url[console]}")
    env "${extra_env[@]}" ORDERFLOW_HTTP_ADDR="127.0.0.1:${iport[$instance]}" \
        "$bin_dir/${binary[$instance]}" </dev/null >>"$log_file" 2>&1 &
    pid[$instance]=$!
    log "started $instance (pid ${pid[$instance]}, port ${iport[$instance]}, log $log_file)"
done

# Every service answers /readyz with 200 once its broker connection and store are usable.
not_ready=("${instances[@]}")
deadline=$((SECONDS + 60))
while [[ ${#not_ready[@]} -gt 0 ]] && ((SECONDS < deadline)); do
    waiting=()
    for service in "${not_ready[@]}"; do
        if ! pid_alive "${pid[$service]}"; then
            tail -n 20 "$log_dir/$service.log" >&2 || true
            die "$service exited during start-up (log: $log_dir/$service.log)"
        fi
        curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:${iport[$service]}/readyz" 2>/dev/null ||
            waiting+=("$service")
    done
    not_ready=("${waiting[@]}")
    [[ ${#not_ready[@]} -eq 0 ]] || sleep 0.5
done
if [[ ${#not_ready[@]} -gt 0 ]]; then
    warn "not ready after 60 s: ${not_ready[*]} (they keep trying; see their logs)"
fi

# ---------------------------------------------------------------------------- summary

relative() { printf '%s\n' "${1#"$ORDERFLOW_ROOT"/}"; }
mgmt_ui="$(printf '%s' "$ORDERFLOW_MGMT_URL" | sed -E 's#^(https?://)[^@/]*@#\1#')"
{
    echo
    echo "orderflow is up"
    for service in ingress inventory notification analytics; do
        printf '  %-13s http://127.0.0.1:%s  %s\n' "$service" "${port[$service]}" "${routes[$service]}"
        if [[ $scale == 0 || $service == analytics ]]; then
            printf '  %-13s log %s\n' "" "$(relative "$log_dir/$service.log")"
        fi
    done
    echo "  every service: GET /healthz, /readyz, /metrics"
    if [[ $scale == 1 ]]; then
        echo
        echo "  replicas      (nginx on ${port[ingress]}-${port[notification]} balances over them, least connections)"
        for instance in "${instances[@]}"; do
            [[ $instance != analytics ]] || continue
            printf '  %-15s http://127.0.0.1:%s  log %s\n' "$instance" "${iport[$instance]}" "$(relative "$log_dir/$instance.log")"
        done
        echo "  nginx         $(relative "$nginx_dir/nginx.conf")"
        echo "  PostgreSQL    $ORDERFLOW_DATABASE_URL (data $(relative "$pg_dir"))"
    fi
    echo
    echo "  console       http://127.0.0.1:${port[analytics]}/   (open it in a browser)"
    echo "  admin token   $admin_token   (paste it in the console to replay or purge dead letters)"
    echo
    if [[ $want_users == 1 ]]; then
        echo "  broker        $(sed -E 's#://[^@/,]*@#://#g' <<<"$ORDERFLOW_AMQP_URL") (each service as its own user, below)"
    else
        echo "  broker        $(redact_url_password "$ORDERFLOW_AMQP_URL")"
    fi
    if [[ -n "${ORDERFLOW_AMQP_CA_FILE:-}" ]]; then
        echo "  TLS           amqps only; every service verifies the broker's certificate and host name"
        echo "                against $(relative "$ORDERFLOW_AMQP_CA_FILE") (ORDERFLOW_AMQP_CA_FILE)"
    fi
    if [[ $want_users == 1 ]]; then
        echo "  broker users  each service runs as its own user (orderflow-ingress, orderflow-inventory,"
        echo "                orderflow-notification, orderflow-analytics, and orderflow-console for the"
        echo "                console's dead letters; orderflow-admin declared the topology)"
        echo "                with the least privilege of SPEC section 11; their passwords and URLs are in"
        echo "                $(relative "$users_file") (mode 600), never printed"
    fi
    if [[ $use_broker == 1 ]]; then
        echo "  management UI $mgmt_ui/ (user guest, password guest)"
    else
        echo "  management UI $mgmt_ui/ (credentials as in ORDERFLOW_MGMT_URL)"
    fi
    if [[ $use_broker == 1 ]]; then
        if [[ $scale == 1 ]]; then
            echo "  cluster data  $(relative "$cluster_dir") (scripts/cluster.sh status|kill N|pause N|resume N|restart N --dir $(relative "$cluster_dir"))"
        else
            echo "  broker data   $(relative "$broker_dir") (log in $(relative "$broker_dir")/log/)"
        fi
    fi
    echo "  service data  $(relative "$data_dir")"
    echo
    echo "Try:"
    echo "  curl -s -X POST http://127.0.0.1:${port[ingress]}/orders -H 'Content-Type: application/json' \\"
    echo "       -d '{\"user_id\":\"user1\",\"items\":{\"burger\":1}}'"
    echo "  curl -s http://127.0.0.1:${port[ingress]}/orders/<order_id>"
    ca_env=""
    [[ -z "${ORDERFLOW_AMQP_CA_FILE:-}" ]] || ca_env="ORDERFLOW_AMQP_CA_FILE=$(relative "$ORDERFLOW_AMQP_CA_FILE") "
    # orderflowctl needs both URLs (the broker's ports may not be the defaults); on loopback
    # they are guest's, as the management UI line says.
    echo "  ${ca_env}ORDERFLOW_AMQP_URL='$ORDERFLOW_AMQP_URL' \\"
    echo "    ORDERFLOW_MGMT_URL=$ORDERFLOW_MGMT_URL $(relative "$bin_dir")/orderflowctl status --watch"
    echo
    echo "Ctrl-C stops everything."
} >&2

# ---------------------------------------------------------------------------- wait

# Wait until Ctrl-C. A service that exits (or is killed, as scripts/demo.sh does) is
# reported; the rest keeps running.
declare -A reported=()
while :; do
    for service in "${instances[@]}"; do
        if [[ -z "${reported[$service]:-}" ]] && ! pid_alive "${pid[$service]}"; then
            status=0
            wait "${pid[$service]}" 2>/dev/null || status=$?
            warn "$service (pid ${pid[$service]}) exited with status $status; see $(relative "$log_dir/$service.log")"
            reported[$service]=1
        fi
    done
    sleep 1 &
    wait $! || true
done
