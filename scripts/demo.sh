#!/usr/bin/env bash
# The guided tour of orderflow, narrated step by step:
#   1. a burst of orders, and the consumers draining them (orderflowctl status --watch);
#   2. the inventory consumer killed: new orders wait in its queue; restarted: it drains;
#   3. malformed messages published with `orderflowctl publish` land in the DLQ, with their
#      reasons (`orderflowctl dlq show`);
#   4. an order dead-lettered by a (simulated) outage is replayed once the outage is over;
#   5. the end state: stock and the status of every order.
# With --cluster it runs on a 3-node cluster of its own (scripts/cluster.sh) and adds a step
# before the end: the node leading inventory.order-placed is killed while orders flow, the
# services fail over (orderflowctl status shows the queue served by the others), every
# order is still handled once, and the node is brought back.
# It pauses for Enter between steps when run on a terminal; --yes (or a stdin that is not a
# terminal) runs straight through. Every step checks what it shows, and the script exits 1
# as soon as an expectation is not met, so CI runs it as a test (ctest -L demo).
#
#   scripts/demo.sh [--yes] [--broker-dir DIR | --no-broker | --cluster] [--bin-dir DIR] [--keep]
#
#   (default)         starts a RabbitMQ node of its own in a temporary directory under
#                     .run/ on free ports, and stops and removes it at the end
#   --broker-dir DIR  uses the project-local node in DIR (scripts/broker.sh), starting it
#                     if it is not running (and then stopping it at the end)
#   --no-broker       uses the broker at ORDERFLOW_AMQP_URL and ORDERFLOW_MGMT_URL
#   --cluster         starts a 3-node cluster of its own (scripts/cluster.sh) in a temporary
#                     directory under .run/, and stops and removes it at the end
#   --bin-dir DIR     where the binaries are (default: $BUILD_DIR/bin, BUILD_DIR=build);
#                     built with scripts/setup.sh when missing
#   --keep            keep the data directory (service logs and SQLite files)
#
# The demo always works in a vhost of its own (orderflow-demo-<pid>, deleted at the end),
# with services on free ports and a temporary data dir, so it never touches a running
# system. ORDERFLOW_DEMO_DELAY_MS (default 100) slows inventory down per message so that a
# backlog is visible; ORDERFLOW_DEMO_WATCH_S (default 6) is how long each watch lasts.
set -euo pipefail

# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
    sed -n '2,36p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

assume_yes=0
broker_mode=own
broker_dir=""
bin_dir=""
keep=0
while [[ $# -gt 0 ]]; do
    case "$1" in
        -y | --yes) assume_yes=1 ;;
        --broker-dir)
            [[ $# -ge 2 ]] || { usage >&2; exit 2; }
            broker_mode=dir
            broker_dir="$2"
            shift
            ;;
        --no-broker) broker_mode=external ;;
        --cluster) broker_mode=cluster ;;
        --bin-dir)
            [[ $# -ge 2 ]] || { usage >&2; exit 2; }
            bin_dir="$2"
            shift
            ;;
        --keep) keep=1 ;;
        -h | --help) usage; exit 0 ;;
        *)
            echo "usage: scripts/demo.sh [--yes] [--broker-dir DIR | --no-broker | --cluster] [--bin-dir DIR] [--keep]" >&2
            exit 2
            ;;
    esac
    shift
done
[[ -t 0 ]] || assume_yes=1

delay_ms="${ORDERFLOW_DEMO_DELAY_MS:-100}"
watch_s="${ORDERFLOW_DEMO_WATCH_S:-6}"
[[ "$delay_ms" =~ ^[0-9]+$ ]] || die "ORDERFLOW_DEMO_DELAY_MS must be a number of milliseconds"
[[ "$watch_s" =~ ^[0-9]+$ ]] || die "ORDERFLOW_DEMO_WATCH_S must be a number of seconds"

if [[ -z "$bin_dir" ]]; then
    bin_dir="$(build_dir_path "${BUILD_DIR:-build}")/bin"
fi
binaries=(orderflow-ingress orderflow-inventory orderflow-notification orderflowctl)
for binary in "${binaries[@]}"; do
    if [[ ! -x "$bin_dir/$binary" ]]; then
        log "$bin_dir/$binary is missing: building"
        "$ORDERFLOW_ROOT/scripts/setup.sh"
        break
    fi
done
for binary in "${binaries[@]}"; do
    [[ -x "$bin_dir/$binary" ]] || die "$bin_dir/$binary was not built (--bin-dir?)"
done
bin_dir="$(cd "$bin_dir" && pwd -P)"

# ---------------------------------------------------------------------------- narration

if [[ -t 1 && -z "${NO_COLOR:-}" ]]; then
    bold=$'\e[1m' dim=$'\e[2m' green=$'\e[32m' reset=$'\e[0m'
else
    bold='' dim='' green='' reset=''
fi
step_no=0

say() { printf '%s\n' "$*"; }
step() {
    step_no=$((step_no + 1))
    printf '\n%s== Step %d: %s ==%s\n' "$bold" "$step_no" "$1" "$reset"
    shift
    local line
    for line in "$@"; do say "$line"; done
}
pause() {
    [[ $assume_yes == 0 ]] || return 0
    printf '%s[Enter to continue, Ctrl-C to stop]%s ' "$dim" "$reset"
    read -r _ || true
}
# show CMD...: prints the command as the user would type it, then runs it.
show() {
    printf '%s$ %s%s\n' "$green" "$*" "$reset"
    "$@"
}
ok() { printf '%s  ok:%s %s\n' "$green" "$reset" "$*"; }
fail() { die "step $step_no: $*"; }

# ---------------------------------------------------------------------------- clean-up

run_dir="$ORDERFLOW_ROOT/.run"
mkdir -p "$run_dir"
data_dir="$(mktemp -d "$run_dir/demo-data.XXXXXX")"
vhost="orderflow-demo-$$"
vhost_created=0
broker_started=0
declare -A pid=()

stop_service() {
    local name="$1" deadline
    [[ -n "${pid[$name]:-}" ]] || return 0
    if pid_alive "${pid[$name]}"; then
        kill -TERM "${pid[$name]}" 2>/dev/null || true
        deadline=$((SECONDS + 20))
        while pid_alive "${pid[$name]}" && ((SECONDS < deadline)); do sleep 0.2; done
        if pid_alive "${pid[$name]}"; then kill -KILL "${pid[$name]}" 2>/dev/null || true; fi
    fi
    { wait "${pid[$name]}" || true; } 2>/dev/null  # no "Terminated" notice from bash
    unset "pid[$name]"
}

# shellcheck disable=SC2317  # reached through the EXIT trap
cleanup() {
    local rc=$? name
    trap - EXIT INT TERM
    for name in ingress notification inventory analytics; do stop_service "$name"; done
    if [[ $vhost_created == 1 ]]; then
        curl -fsS -o /dev/null -X DELETE "$mgmt_url/api/vhosts/$vhost" 2>/dev/null ||
            warn "could not delete vhost $vhost"
    fi
    if [[ $broker_started == 1 && $broker_mode == cluster ]]; then
        "$ORDERFLOW_ROOT/scripts/cluster.sh" stop --dir "$broker_dir" >/dev/null 2>&1 ||
            warn "could not stop the demo cluster in $broker_dir"
        [[ $rc != 0 ]] || rm -rf "$broker_dir"
    elif [[ $broker_started == 1 ]]; then
        "$ORDERFLOW_ROOT/scripts/broker.sh" stop --dir "$broker_dir" >/dev/null 2>&1 ||
            warn "could not stop the demo broker in $broker_dir"
        [[ $broker_mode != own || $rc != 0 ]] || rm -rf "$broker_dir"
    fi
    if [[ $keep == 1 || $rc != 0 ]]; then
        log "service logs and data kept in $data_dir"
    else
        rm -rf "$data_dir"
    fi
    [[ $rc == 0 ]] || warn "the demo failed (status $rc)"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------------------- broker

case "$broker_mode" in
    own)
        broker_dir="$(mktemp -d "$run_dir/demo-broker.XXXXXX")"
        log "starting a RabbitMQ node of its own in $broker_dir (takes a few seconds)"
        broker_started=1
        start_private_broker "$broker_dir" "orderflow-demo-${broker_dir##*.}"
        eval "$("$ORDERFLOW_ROOT/scripts/broker.sh" env --dir "$broker_dir")"
        ;;
    dir)
        if "$ORDERFLOW_ROOT/scripts/broker.sh" status --dir "$broker_dir" >/dev/null 2>&1; then
            log "using the running node in $broker_dir (it stays up afterwards)"
        else
            broker_started=1
            ORDERFLOW_BROKER_PICK_FREE_PORTS=1 "$ORDERFLOW_ROOT/scripts/broker.sh" start \
                --dir "$broker_dir" >/dev/null
        fi
        eval "$("$ORDERFLOW_ROOT/scripts/broker.sh" env --dir "$broker_dir")"
        ;;
    cluster)
        broker_dir="$(mktemp -d "$run_dir/demo-cluster.XXXXXX")"
        log "starting a 3-node RabbitMQ cluster of its own in $broker_dir (takes a while)"
        broker_started=1
        ORDERFLOW_CLUSTER_NAME="orderflow-demo-${broker_dir##*.}" \
            "$ORDERFLOW_ROOT/scripts/cluster.sh" start --dir "$broker_dir" --nodes 3 >/dev/null
        eval "$("$ORDERFLOW_ROOT/scripts/cluster.sh" env --dir "$broker_dir")"
        ;;
    external)
        [[ -n "${ORDERFLOW_AMQP_URL:-}" && -n "${ORDERFLOW_MGMT_URL:-}" ]] ||
            die "--no-broker needs ORDERFLOW_AMQP_URL and ORDERFLOW_MGMT_URL"
        ;;
esac
mgmt_url="${ORDERFLOW_MGMT_URL%/}"

# A vhost of its own: the demo's queues and counts are not mixed with anything else.
curl -fsS -o /dev/null -X PUT "$mgmt_url/api/vhosts/$vhost" ||
    die "cannot create vhost $vhost through the management API at $(printf '%s' "$mgmt_url" | sed -E 's#//[^@/]*@#//#')"
vhost_created=1
user="$(printf '%s' "$mgmt_url" | sed -nE 's#^https?://([^:@/]+)(:[^@/]*)?@.*#\1#p')"
curl -fsS -o /dev/null -X PUT -H 'Content-Type: application/json' \
    -d '{"configure":".*","write":".*","read":".*"}' \
    "$mgmt_url/api/permissions/$vhost/${user:-guest}" || die "cannot grant access to vhost $vhost"
# Every node of a cluster's URL list gets the vhost.
vhost_urls=""
IFS=',' read -r -a node_urls <<<"$ORDERFLOW_AMQP_URL"
for node_url in "${node_urls[@]}"; do
    vhost_urls+="${vhost_urls:+,}${node_url%/*}/$vhost"
done
export ORDERFLOW_AMQP_URL="$vhost_urls"
export ORDERFLOW_MGMT_URL="$mgmt_url"
# The console works on the demo's vhost with analytics' URL, not one inherited from the shell.
unset ORDERFLOW_CONSOLE_AMQP_URL

# ---------------------------------------------------------------------------- services

declare -A port=()
port[ingress]="$(free_port)"
port[inventory]="$(free_port "${port[ingress]}")"
port[notification]="$(free_port "${port[ingress]}" "${port[inventory]}")"
port[analytics]="$(free_port "${port[ingress]}" "${port[inventory]}" "${port[notification]}")"
ingress="http://127.0.0.1:${port[ingress]}"
inventory="http://127.0.0.1:${port[inventory]}"
export ORDERFLOW_DATA_DIR="$data_dir"
export ORDERFLOW_INVENTORY_URL="$inventory"
export ORDERFLOW_NOTIFICATION_URL="http://127.0.0.1:${port[notification]}"

# start_service NAME [VAR=VALUE...]: starts orderflow-NAME with extra environment and waits
# until it is ready.
start_service() {
    local name="$1" deadline
    shift
    printf '\n=== %s scripts/demo.sh starts orderflow-%s %s\n' "$(date -u +%FT%TZ)" "$name" "$*" \
        >>"$data_dir/$name.log"
    env ORDERFLOW_HTTP_ADDR="127.0.0.1:${port[$name]}" "$@" "$bin_dir/orderflow-$name" \
        </dev/null >>"$data_dir/$name.log" 2>&1 &
    pid[$name]=$!
    deadline=$((SECONDS + 60))
    until curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:${port[$name]}/readyz" 2>/dev/null; do
        if ! pid_alive "${pid[$name]}"; then
            tail -n 20 "$data_dir/$name.log" >&2 || true
            fail "orderflow-$name exited during start-up"
        fi
        ((SECONDS < deadline)) || fail "orderflow-$name not ready after 60 s"
        sleep 0.3
    done
}

ctl() { "$bin_dir/orderflowctl" "$@"; }

# post_orders COUNT SKU QTY: posts COUNT orders, appends their ids to $orders_file.
orders_file="$data_dir/orders.txt"
: >"$orders_file"
post_orders() {
    local count="$1" sku="$2" qty="$3" i answer id
    for ((i = 1; i <= count; i++)); do
        answer="$(curl -fsS --max-time 10 -X POST "$ingress/orders" -H 'Content-Type: application/json' \
            -d "{\"user_id\":\"demo$i\",\"items\":{\"$sku\":$qty}}")" || fail "POST /orders failed"
        id="$(json_string "$answer" order_id)"
        [[ -n "$id" ]] || fail "no order_id in $answer"
        printf '%s\n' "$id" >>"$orders_file"
        last_answer="$answer"
    done
}

# json_string JSON FIELD: the value of a string field of a flat JSON object.
json_string() {
    printf '%s' "$1" | sed -nE "s/.*\"$2\":\"([^\"]*)\".*/\\1/p"
}
# json_number JSON FIELD: the value of a number field.
json_number() {
    printf '%s' "$1" | sed -nE "s/.*\"$2\":(-?[0-9]+).*/\\1/p"
}

order_status() {
    json_string "$(curl -fsS --max-time 5 "$ingress/orders/$1" 2>/dev/null || true)" status
}

# wait_all_notified SECONDS: waits until every order in $orders_file is notified.
wait_all_notified() {
    local deadline=$((SECONDS + $1)) id pending
    while :; do
        pending=0
        while read -r id; do
            [[ "$(order_status "$id")" == notified ]] || { pending=$((pending + 1)); break; }
        done <"$orders_file"
        [[ $pending -gt 0 ]] || return 0
        ((SECONDS < deadline)) || return 1
        sleep 0.5
    done
}

# wait_queue_field QUEUE FIELD VALUE: polls that figure for up to 15 s until it equals
# VALUE; sets `seen` to the last value read. A DLQ's ready count dips for a moment while the
# console browses it (its messages are fetched and put back), so a figure is taken when
# seen, not read again.
seen=""
wait_queue_field() {
    local _
    for _ in $(seq 1 60); do
        seen="$(queue_field "$1" "$2")"
        [[ "$seen" != "$3" ]] || return 0
        sleep 0.25
    done
    return 1
}
# queue_field QUEUE FIELD: one figure of `orderflowctl status` (its key=value lines).
queue_field() {
    ctl status 2>/dev/null | awk -v q="queue=$1" -v f="$2" '
        { for (i = 1; i <= NF; i++) if ($i == q) found = 1 }
        found { for (i = 1; i <= NF; i++) if (index($i, f "=") == 1) { print substr($i, length(f) + 2); exit } }'
}

# watch_queues SECONDS: orderflowctl status --watch, stopped with Ctrl-C after SECONDS.
watch_queues() {
    show timeout --preserve-status -s INT "$1" "$bin_dir/orderflowctl" status --watch --interval 0.5 ||
        fail "orderflowctl status --watch failed"
}

stock_of() { json_number "$(curl -fsS --max-time 5 "$inventory/inventory")" "$1"; }

# Slowed down, and with a small prefetch: the backlog then waits in the queue (READY in
# status) instead of in the consumer's prefetch buffer (unacked), where it would be
# invisible to passive declares and only seen late through the management API.
slow_inventory=(ORDERFLOW_INJECT_DELAY_MS="$delay_ms" ORDERFLOW_PREFETCH=5)
log "starting the services (data and logs in $data_dir)"
start_service inventory "${slow_inventory[@]}"
start_service notification
start_service ingress
# The live console (orderflow-analytics), with an admin token of this run for its replay
# and purge buttons: every step below can be watched there too.
console_token="$(openssl rand -hex 16 2>/dev/null || echo "demo-$$-$RANDOM")"
start_service analytics ORDERFLOW_ADMIN_TOKEN="$console_token"
initial_burgers="$(stock_of burger)"
[[ -n "$initial_burgers" ]] || fail "GET /inventory has no burger"

step "the system" \
    "The ingress (HTTP) turns each order into an OrderPlaced event on the 'orders' exchange." \
    "Inventory consumes them from its own durable queue (inventory.order-placed), reserves" \
    "stock and emits InventoryReserved/Rejected; notification and the ingress's status" \
    "projection consume those. Broker: $(printf '%s' "$ORDERFLOW_AMQP_URL" | sed -E 's#//[^@/]*@#//#')" \
    "Inventory handles each message with an injected ${delay_ms} ms delay and a prefetch of 5," \
    "so that a backlog is visible in its queue." \
    "" \
    "Watch it live in a browser: the console http://127.0.0.1:${port[analytics]}/ shows each" \
    "step below as it happens (admin token for its Replay and Purge buttons: $console_token)."
show "$bin_dir/orderflowctl" topology check || fail "the services did not declare the topology"
pause

# ---------------------------------------------------------------------------- step 2

burst=40
step "a burst of orders" \
    "We post $burst orders at once. The ingress answers 202 as soon as the broker confirmed" \
    "each event; inventory works through its queue at its own pace. Watch READY fall:"
post_orders "$burst" burger 1
say "posted $burst orders, e.g.: $last_answer"
watch_queues "$watch_s"
wait_all_notified 60 || fail "not every order of the burst reached 'notified' within 60 s"
ok "all $burst orders are 'notified'"
pause

# ---------------------------------------------------------------------------- step 3

step "a consumer goes down; the queue keeps the orders" \
    "We kill the inventory service (SIGKILL, as a crash would) and post more orders."
show kill -KILL "${pid[inventory]}"
{ wait "${pid[inventory]}" || true; } 2>/dev/null  # no "Killed" notice from bash
unset "pid[inventory]"
more=25
before_more="$(wc -l <"$orders_file")"
post_orders "$more" burger 1
say "posted $more more orders; the ingress still accepts them (202): the broker holds them."
ready=""
for _ in $(seq 1 20); do
    ready="$(queue_field inventory.order-placed ready)"
    [[ "$ready" != "$more" ]] || break
    sleep 0.25
done
show "$bin_dir/orderflowctl" status
[[ "$ready" == "$more" ]] || fail "inventory.order-placed holds ${ready:-?} messages, expected $more"
[[ "$(queue_field inventory.order-placed consumers)" == 0 ]] || fail "inventory still has a consumer"
held_id="$(sed -n "$((before_more + 1))p" "$orders_file")"
say "one of them, GET /orders/$held_id:"
show curl -fsS "$ingress/orders/$held_id"
echo
[[ "$(order_status "$held_id")" == accepted ]] || fail "order $held_id should still be 'accepted'"
ok "$more messages wait in inventory.order-placed with 0 consumers; the orders are 'accepted'"
pause

step "the consumer comes back and drains the backlog" \
    "We start inventory again: it re-declares its topology, consumes, and the backlog drains."
start_service inventory "${slow_inventory[@]}"
watch_queues "$watch_s"
wait_all_notified 60 || fail "the backlog did not drain within 60 s"
ok "all $((burst + more)) orders are 'notified'; nothing was lost while inventory was down"
pause

# ---------------------------------------------------------------------------- step 4

step "poison messages go to the dead-letter queue" \
    "orderflowctl publish sends raw messages to the 'orders' exchange. Three malformed ones:" \
    "a body that is not JSON (and no message_id), a schema violation, an unknown schema version."
poison_schema_id="$(cat /proc/sys/kernel/random/uuid)"
poison_version_id="$(cat /proc/sys/kernel/random/uuid)"
show "$bin_dir/orderflowctl" publish --routing-key order.placed --body '{"order_id": oops' \
    --no-message-id || fail "publish failed"
show "$bin_dir/orderflowctl" publish --routing-key order.placed --body \
    "{\"event_id\":\"$poison_schema_id\",\"event_type\":\"OrderPlaced\",\"schema_version\":1,\"occurred_at\":\"2026-11-21T12:00:00.000Z\",\"order_id\":\"$poison_schema_id\",\"user_id\":\"demo\",\"items\":[{\"sku\":\"burger\",\"quantity\":0}]}" ||
    fail "publish failed"
show "$bin_dir/orderflowctl" publish --routing-key order.placed --body \
    "{\"event_id\":\"$poison_version_id\",\"event_type\":\"OrderPlaced\",\"schema_version\":9,\"occurred_at\":\"2026-11-21T12:00:00.000Z\",\"order_id\":\"$poison_version_id\",\"user_id\":\"demo\",\"items\":[{\"sku\":\"burger\",\"quantity\":1}]}" ||
    fail "publish failed"
wait_queue_field inventory.order-placed dlq 3 ||
    fail "inventory.order-placed.dlq holds ${seen:-?} messages, expected the 3 poison ones"
show "$bin_dir/orderflowctl" dlq list
show "$bin_dir/orderflowctl" dlq show inventory.order-placed
kinds="$(ctl dlq show inventory.order-placed --json | grep -o '"kind":"poison"' | wc -l)"
[[ "$kinds" == 3 ]] || fail "expected 3 dead letters of kind poison, found $kinds"
ok "each poison message is in the DLQ at once, with its reason (x-error), never retried"
pause

# ---------------------------------------------------------------------------- step 5

step "a transient failure, dead-lettered, replayed once the cause is gone" \
    "We restart inventory with a simulated outage (every handling fails) and 2 attempts," \
    "and post one order: it is retried once after 300 ms, then dead-lettered as 'exhausted'."
stop_service inventory
start_service inventory ORDERFLOW_INJECT_FAIL_RATE=1 ORDERFLOW_MAX_ATTEMPTS=2 \
    ORDERFLOW_RETRY_DELAYS_MS=300
post_orders 1 burger 1
replay_event="$(json_string "$last_answer" event_id)"
replay_order="$(json_string "$last_answer" order_id)"
wait_queue_field inventory.order-placed dlq 4 ||
    fail "order $replay_order was not dead-lettered (the DLQ holds ${seen:-?})"
say "The outage is over: inventory restarts healthy. The order is still in the DLQ:"
stop_service inventory
start_service inventory
show "$bin_dir/orderflowctl" dlq show inventory.order-placed --limit 4
show "$bin_dir/orderflowctl" dlq replay inventory.order-placed --message-id "$replay_event" ||
    fail "dlq replay failed"
for _ in $(seq 1 60); do
    [[ "$(order_status "$replay_order")" != notified ]] || break
    sleep 0.25
done
[[ "$(order_status "$replay_order")" == notified ]] || fail "the replayed order did not reach 'notified'"
wait_queue_field inventory.order-placed dlq 3 ||
    fail "the DLQ should hold the 3 poison messages only (it holds ${seen:-?})"
show curl -fsS "$ingress/orders/$replay_order"
echo
ok "replayed with confirm, then removed from the DLQ; the poison stays for a human to look at"
pause

# ---------------------------------------------------------------------------- cluster step

# The number (1..3) of the cluster node whose Erlang name is $1.
node_number() {
    sed -n "s/^ORDERFLOW_CLUSTER_NODE_\([0-9]*\)=$1\$/\1/p" "$broker_dir/cluster.env"
}
leader_of() {
    curl -fsS --max-time 5 "$mgmt_url/api/queues/$vhost/$1" 2>/dev/null | jq -r '.leader // empty'
}

# post_until_accepted N: posts order N, repeating it with the same Idempotency-Key after a
# 503 (as a client should); appends its id to $orders_file and counts the 503s in $retries_file.
post_until_accepted() {
    local n="$1" answer code _
    for _ in $(seq 1 120); do
        answer="$(curl -sS --max-time 10 -w '\n%{http_code}' -X POST "$ingress/orders" \
            -H 'Content-Type: application/json' -H "Idempotency-Key: demo-cluster-$n" \
            -d "{\"user_id\":\"demo-cluster-$n\",\"items\":{\"burger\":1}}" || true)"
        code="${answer##*$'\n'}"
        if [[ "$code" == 202 ]]; then
            printf '%s\n' "$(json_string "${answer%$'\n'*}" order_id)" >>"$orders_file"
            return 0
        fi
        echo "$n $code" >>"$retries_file"
        sleep 0.5
    done
    return 1
}

if [[ $broker_mode == cluster ]]; then
    leader_name="$(leader_of inventory.order-placed)"
    leader="$(node_number "$leader_name")"
    [[ -n "$leader" ]] || fail "cannot tell which node leads inventory.order-placed"
    step "a broker node dies while orders flow" \
        "inventory.order-placed is a quorum queue with a replica on each of the 3 nodes; node" \
        "$leader ($leader_name) leads it. We post 30 orders (retrying a 503 with the same" \
        "Idempotency-Key, as a client should) and kill node $leader with SIGKILL after the 10th."
    # Management calls go to a node that survives.
    for n in 1 2 3; do
        [[ $n != "$leader" ]] || continue
        var="ORDERFLOW_CLUSTER_MGMT_URL_$n"
        mgmt_url="${!var}"
        export ORDERFLOW_MGMT_URL="$mgmt_url"
        break
    done
    retries_file="$data_dir/retries.txt"
    : >"$retries_file"
    before_cluster="$(wc -l <"$orders_file")"
    (
        for i in $(seq 1 30); do
            post_until_accepted "$i" || { echo "order $i: no 202 after 60 s" >&2; exit 1; }
            sleep 0.1
        done
    ) 2>>"$data_dir/poster.log" &
    poster=$!
    posting_deadline=$((SECONDS + 60))
    until (($(wc -l <"$orders_file") - before_cluster >= 10)); do
        ((SECONDS < posting_deadline)) || fail "fewer than 10 orders accepted in 60 s (see $data_dir/poster.log)"
        sleep 0.2
    done
    show "$ORDERFLOW_ROOT/scripts/cluster.sh" kill "$leader" --dir "$broker_dir" ||
        fail "cannot kill node $leader"
    sleep 3
    show "$ORDERFLOW_ROOT/scripts/cluster.sh" status --dir "$broker_dir" || true
    watch_queues "$watch_s"
    wait "$poster" || fail "an order was not accepted within 60 s of retries"
    wait_all_notified 120 || fail "not every order reached 'notified' after the node loss"
    new_leader="$(leader_of inventory.order-placed)"
    say "inventory.order-placed is now led by $new_leader; clients saw $(wc -l <"$retries_file") 503(s), each retried."
    [[ -n "$new_leader" && "$new_leader" != "$leader_name" ]] || fail "no new leader for inventory.order-placed"
    show "$ORDERFLOW_ROOT/scripts/cluster.sh" restart "$leader" --dir "$broker_dir" ||
        fail "cannot restart node $leader"
    ok "30 orders accepted and notified across the loss of node $leader; it is back in the cluster"
    pause
fi

# ---------------------------------------------------------------------------- step 6

step "the end state" "Stock, and the status of every order posted:"
show curl -fsS "$inventory/inventory"
echo
total="$(wc -l <"$orders_file")"
declare -A by_status=()
while read -r id; do
    s="$(order_status "$id")"
    by_status[${s:-unknown}]=$((${by_status[${s:-unknown}]:-0} + 1))
done <"$orders_file"
for s in "${!by_status[@]}"; do say "  $s: ${by_status[$s]}"; done
[[ "${by_status[notified]:-0}" == "$total" ]] || fail "not all $total orders are notified"
final_burgers="$(stock_of burger)"
[[ "$final_burgers" == $((initial_burgers - total)) ]] ||
    fail "burger stock is $final_burgers, expected $((initial_burgers - total)) ($initial_burgers - $total orders)"
ok "$total orders, each applied exactly once: burger stock $initial_burgers -> $final_burgers"
show "$bin_dir/orderflowctl" status
say ""
say "${bold}Done.${reset} Everything the demo started is stopped now."
