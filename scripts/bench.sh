#!/usr/bin/env bash
# The sync-vs-async study of the reference reports, as one command. On a fresh RabbitMQ
# node of its own (a temporary directory under .run/, free ports) it starts the services
# from $BUILD_DIR/bin (default build/bin), runs the experiments and writes
# bench/results/<date>.md with its tables, CSV files and gnuplot plots in bench/results/<date>/:
#
#   (0) the load generator's own ceiling: orderflowctl load and wrk against GET /healthz
#   (a) sync vs async latency: baseline, a 2 s inventory delay, an inventory failure
#       (10 sequential requests each, then a 30 s load run)
#   (b) sync vs async at 250 and 500 concurrent clients: latency, throughput, failures,
#       CPU and peak memory of each service
#   (c) flash sale: 100 units, 1,000 buyers: oversells (must be 0), time to sell out
#   (d) backlog drain: 20,000 orders queued with inventory stopped, then drained; the same
#       drain with the console open in headless Chromium and closed; analytics' memory with
#       15 minutes of history
#   (e) the broker's own publish-with-confirms and consume rates, for the ratios; and its
#       ceiling for POST /orders: publishing exactly as the ingress does, with as many
#       messages in flight as the load has clients
#   (f) end-to-end latency at a fixed load: the whole pipeline's end-to-end capacity (closed-
#       loop POSTs with every service running, until the last order is notified), then orders
#       offered open-loop at 25, 50 and 75 % of it: POST latency and accepted -> notified
#   (g) the store: SQLite vs PostgreSQL (scripts/pg.sh, started by the bench), and 1, 2 and 3
#       inventory replicas on PostgreSQL: POST rate and inventory-alone drain, CPU per order
#       of each process, PostgreSQL included (not in the default list: --only g)
#   (h) losing a broker node: orders offered open-loop at a fixed rate while the node leading
#       the work queues is SIGKILLed, on the single node and on a 3-node cluster
#       (scripts/cluster.sh, started by the bench): accepted/s, 503/s and p99 per second,
#       plotted; the window of errors; capacity on each (not in the default list: --only h)
#
#   scripts/bench.sh                 the full run (about 11 minutes)
#   scripts/bench.sh --quick         every experiment shrunk (well under 2 minutes)
#   scripts/bench.sh --out DIR       write DIR/<date>.md and DIR/<date>/ instead
#   scripts/bench.sh --only a,d,e    only these experiments (0 a b c d e f g h)
#   scripts/bench.sh --baseline R    also print report R's CPU-per-order rows of (d) (before/after)
#   scripts/bench.sh --api-keys      the ingress with ORDERFLOW_API_KEYS (a generated key of
#                                    user "bench"); every order is sent with that bearer key
#
#   BUILD_DIR               build directory (default build); nothing is built here
#   ORDERFLOW_BENCH_KEEP=1  keep the temporary broker and service directory
# Exit status: 0 when every experiment ran, 1 when one failed (the report says which).
set -euo pipefail

# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

bench_args="$*"
quick=0
out_root="$ORDERFLOW_ROOT/bench/results"
only="0,a,b,c,d,e,f"
api_keys=0
baseline=""
while [[ $# -gt 0 ]]; do
    case "$1" in
        --quick) quick=1 ;;
        --api-keys) api_keys=1 ;;
        --out)
            [[ $# -ge 2 ]] || die "--out needs a directory"
            out_root="$2"
            shift
            ;;
        --baseline)
            [[ $# -ge 2 && -f "$2" ]] || die "--baseline needs an earlier report (bench/results/<date>.md)"
            baseline="$2"
            shift
            ;;
        --only)
            [[ $# -ge 2 ]] || die "--only needs a list, e.g. a,d"
            only="$2"
            shift
            ;;
        -h | --help)
            sed -n '2,38p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
            exit 0
            ;;
        *)
            echo "usage: scripts/bench.sh [--quick] [--out DIR] [--only 0,a,b,c,d,e,f,g,h] [--baseline REPORT] [--api-keys]   (see --help)" >&2
            exit 2
            ;;
    esac
    shift
done
wants() { [[ ",$only," == *",$1,"* ]]; }

# ---------------------------------------------------------------------------- sizes

if [[ $quick == 1 ]]; then
    seq_requests=3 fault_load_s=1 fault_clients=8 conc_load_s=1 ceiling_s=1
    flash_buyers=1000 flash_units=100 drain_orders=2000 broker_messages=2000 e2e_wait_s=2
    latency_s=2 capacity_s=1 h_capacity_s=2 h_open_s=12 h_kill_s=4
else
    seq_requests=10 fault_load_s=30 fault_clients=16 conc_load_s=30 ceiling_s=10
    flash_buyers=1000 flash_units=100 drain_orders=20000 broker_messages=20000 e2e_wait_s=30
    latency_s=30 capacity_s=10 h_capacity_s=10 h_open_s=60 h_kill_s=15
fi
h_share=50  # (h): the open-loop rate, in % of the single node's capacity
# The closed-loop client count of the POST measurements (d), and so the number of messages
# the broker ceiling of (e) keeps in flight: at most one unconfirmed order per client.
post_clients=64
latency_shares=(25 50 75)
concurrencies=(250 500)
order_body='{"user_id":"bench{{seq}}","items":{"burger":1}}'
big_seed='{"burger": 100000000, "fries": 100000000, "pizza": 100000000, "soda": 100000000, "salad": 100000000}'

# ---------------------------------------------------------------------------- tools

export BUILD_DIR="${BUILD_DIR:-build}"
bin_dir="$(build_dir_path "$BUILD_DIR")/bin"
for binary in orderflow-ingress orderflow-inventory orderflow-notification orderflowctl; do
    [[ -x "$bin_dir/$binary" ]] || die "$bin_dir/$binary was not built (cmake --build $BUILD_DIR)"
done
ctl="$bin_dir/orderflowctl"
ensure_packages broker tools
for tool in curl jq awk; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool is needed (scripts/lib.sh lists the packages)"
done
have_gnuplot=0
command -v gnuplot >/dev/null 2>&1 && have_gnuplot=1
have_wrk=0
command -v wrk >/dev/null 2>&1 && have_wrk=1
clk_tck="$(getconf CLK_TCK)"

date_tag="$(date -u +%F)"
report="$out_root/$date_tag.md"
data_rel="$date_tag"
out="$out_root/$data_rel"
mkdir -p "$out"
rm -f "$out"/*.csv "$out"/*.json "$out"/*.svg "$out"/*.txt
failures=()

# ---------------------------------------------------------------------------- broker

mkdir -p "$ORDERFLOW_ROOT/.run"
work="$(mktemp -d "$ORDERFLOW_ROOT/.run/bench.XXXXXX")"

# --api-keys: one generated key of user "bench" for the ingress (SPEC section 11); every order
# then goes as that user with the key. Without it, the services get no keys file whatever
# the caller's environment holds.
auth_load=() auth_curl=() fixed_user=""
if [[ $api_keys == 1 ]]; then
    bench_key="$(openssl rand -hex 24)"
    (umask 077 && printf '{"%s":"bench"}\n' "$bench_key" >"$work/api-keys.json")
    export ORDERFLOW_API_KEYS="$work/api-keys.json"
    auth_load=(-H "Authorization: Bearer $bench_key")
    auth_curl=(-H "Authorization: Bearer $bench_key")
    fixed_user=bench
    order_body='{"user_id":"bench","items":{"burger":1}}'
else
    unset ORDERFLOW_API_KEYS
fi
broker_dir="$work/broker"
logs="$work/logs"
mkdir -p "$logs"
broker_started=0
declare -A pid=()
services=(inventory notification ingress)

# shellcheck disable=SC2317  # reached through the EXIT trap
cleanup() {
    local rc=$? name
    trap - EXIT INT TERM
    for name in "${services[@]}"; do stop_service "$name"; done
    for name in "${!pid[@]}"; do stop_service "$name"; done
    if [[ -n "${pg_bench_dir:-}" ]]; then
        "$ORDERFLOW_ROOT/scripts/pg.sh" stop --dir "$pg_bench_dir" >/dev/null 2>&1 ||
            warn "could not stop the bench PostgreSQL in $pg_bench_dir"
    fi
    if [[ -n "${cluster_bench_dir:-}" ]]; then
        "$ORDERFLOW_ROOT/scripts/cluster.sh" stop --dir "$cluster_bench_dir" >/dev/null 2>&1 ||
            warn "could not stop the bench cluster in $cluster_bench_dir"
    fi
    if [[ $broker_started == 1 ]]; then
        "$ORDERFLOW_ROOT/scripts/broker.sh" stop --dir "$broker_dir" >/dev/null 2>&1 ||
            warn "could not stop the bench broker in $broker_dir"
    fi
    if [[ $rc == 0 && "${ORDERFLOW_BENCH_KEEP:-0}" != 1 ]]; then
        rm -rf "$work"
    else
        log "bench directory kept for inspection: $work"
    fi
    exit "$rc"
}
trap cleanup EXIT
# A command that stops the bench early (set -e) names itself: the report would not.
set -o errtrace
# shellcheck disable=SC2154  # BASH_COMMAND and BASHPID are bash's
trap '[[ $BASHPID != "$$" ]] || warn "stopped by a failed command at line $LINENO: $BASH_COMMAND"' ERR
trap 'exit 130' INT
trap 'exit 143' TERM

log "starting a broker of its own in $broker_dir"
broker_started=1
start_private_broker "$broker_dir" "orderflow-bench-${work##*.}"
amqp_port="$private_amqp_port"
mgmt_port="$private_mgmt_port"
declare -A port=()
port[ingress]="$(free_port "$amqp_port" "$mgmt_port" "$private_dist_port" "$private_stream_port")"
port[inventory]="$(free_port "$amqp_port" "$mgmt_port" "$private_dist_port" "$private_stream_port" \
    "${port[ingress]}")"
port[notification]="$(free_port "$amqp_port" "$mgmt_port" "$private_dist_port" \
    "$private_stream_port" "${port[ingress]}" "${port[inventory]}")"
broker_pid="$(tr -dc '0-9' <"$broker_dir/rabbitmq.pid")"

export ORDERFLOW_AMQP_URL="amqp://guest:guest@127.0.0.1:${amqp_port}/%2f"
export ORDERFLOW_MGMT_URL="http://guest:guest@127.0.0.1:${mgmt_port}"
export ORDERFLOW_INVENTORY_URL="http://127.0.0.1:${port[inventory]}"
export ORDERFLOW_NOTIFICATION_URL="http://127.0.0.1:${port[notification]}"
ingress="http://127.0.0.1:${port[ingress]}"
inventory="http://127.0.0.1:${port[inventory]}"

mgmt() { curl -fsS --max-time 10 -u guest:guest "http://127.0.0.1:${mgmt_port}$1" "${@:2}"; }
# Messages in a queue (ready + unacked) as the management API last saw them (1 s stats).
# Prints "-" when the API does not answer.
queue_depth() { mgmt "/api/queues/%2f/$1" 2>/dev/null | jq '(.messages // 0)' 2>/dev/null || echo -; }
# num VALUE: VALUE when it is a whole number, else 0 (for arithmetic on optional figures).
num() { if [[ "$1" =~ ^-?[0-9]+$ ]]; then printf '%s\n' "$1"; else echo 0; fi; }

# ---------------------------------------------------------------------------- services

# stop_service NAME: SIGTERM (the service finishes in-flight work), SIGKILL after 30 s.
stop_service() {
    local name="$1" p="${pid[$1]:-}"
    [[ -n "$p" ]] || return 0
    if pid_alive "$p"; then
        kill -TERM "$p" 2>/dev/null || true
        local deadline=$((SECONDS + 30))
        while pid_alive "$p" && ((SECONDS < deadline)); do sleep 0.1; done
        if pid_alive "$p"; then kill -KILL "$p" 2>/dev/null || true; fi
    fi
    wait "$p" 2>/dev/null || true
    pid[$name]=""
}

# start_service NAME [VAR=VALUE...]: starts one service on the current data dir.
start_service() {
    local name="$1"
    shift
    printf '\n=== %s bench starts %s %s\n' "$(date -u +%FT%TZ)" "$name" "$*" >>"$logs/$name.log"
    # A bounded graceful stop: an inventory with an injected delay holds a whole prefetch.
    env ORDERFLOW_HTTP_ADDR="127.0.0.1:${port[$name]}" ORDERFLOW_DATA_DIR="$data_dir" \
        ORDERFLOW_SHUTDOWN_TIMEOUT_MS=5000 "$@" \
        "$bin_dir/orderflow-$name" </dev/null >>"$logs/$name.log" 2>&1 &
    pid[$name]=$!
}

# wait_ready NAME...: until each answers /readyz with 200 (60 s).
wait_ready() {
    local name deadline=$((SECONDS + 60))
    for name in "$@"; do
        until curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:${port[$name]}/readyz" 2>/dev/null; do
            pid_alive "${pid[$name]}" || { tail -n 20 "$logs/$name.log" >&2; die "$name exited during start-up"; }
            ((SECONDS < deadline)) || die "$name not ready after 60 s (log: $logs/$name.log)"
            sleep 0.2
        done
    done
}

# Empties every queue but the stream (services stopped), so that nothing of one experiment
# (retries, backlogs, dead letters) reaches the next.
purge_queues() {
    local queue
    while IFS= read -r queue; do
        mgmt "/api/queues/%2f/$queue/contents" -X DELETE -o /dev/null 2>/dev/null || true
    done < <(mgmt /api/queues/%2f | jq -r '.[] | select(.arguments["x-queue-type"] != "stream") | .name')
}

run_id=0
# fresh_system SEED_JSON [VAR=VALUE...]: every service stopped, queues emptied, a new data
# dir with that inventory seed, the services started (the VAR=VALUE go to inventory only).
fresh_system() {
    local seed="$1" name
    shift
    for name in "${services[@]}"; do stop_service "$name"; done
    purge_queues
    run_id=$((run_id + 1))
    data_dir="$work/data.$run_id"
    mkdir -p "$data_dir"
    printf '%s\n' "$seed" >"$data_dir/seed.json"
    start_service inventory ORDERFLOW_INVENTORY_SEED="$data_dir/seed.json" "$@"
    start_service notification
    start_service ingress
    wait_ready inventory notification ingress
}

restart_inventory() {  # [VAR=VALUE...]
    stop_service inventory
    start_service inventory ORDERFLOW_INVENTORY_SEED="$data_dir/seed.json" "$@"
    wait_ready inventory
}

# ---------------------------------------------------------------------------- measuring

# cpu_ticks PID: utime + stime of a process so far (fields 14 and 15 of /proc/PID/stat).
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
# sys_ticks PID: stime alone (field 15), the kernel's part of cpu_ticks: system calls,
# loopback TCP, context switches, fsync.
sys_ticks() { awk '{ print $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
# Peak resident memory in MiB (VmHWM), reset by reset_peak (clear_refs 5).
peak_mib() { awk '/^VmHWM:/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status" 2>/dev/null || echo 0; }
reset_peak() { { echo 5 >"/proc/$1/clear_refs"; } 2>/dev/null || true; }

# load NAME ARGS...: orderflowctl load with a JSON summary, per-second CSV and percentile
# CSV in the output dir; prints nothing, fails only when the tool could not run.
load() {
    local name="$1"
    shift
    "$ctl" load "$@" "${auth_load[@]}" --json --csv "$out/$name.seconds.csv" --histogram "$out/$name.percentiles.csv" \
        >"$out/$name.json" 2>"$out/$name.err" || {
        warn "load $name failed: $(tail -n 3 "$out/$name.err")"
        echo '{}' >"$out/$name.json"
        return 1
    }
}

# j FILE FILTER: a number from a JSON file, "-" when absent.
j() { jq -r "($2) // \"-\" | if type == \"number\" then (. * 1000 | round / 1000) else . end" "$1" 2>/dev/null || echo -; }
# fmt_ms: milliseconds with a sensible number of digits.
ms() { awk -v v="$1" 'BEGIN { if (v == "-" || v == "") print "-"; else if (v >= 100) printf "%.0f", v; else if (v >= 10) printf "%.1f", v; else printf "%.2f", v }'; }
# r0: a rate without decimals.
r0() { awk -v v="$1" 'BEGIN { if (v == "-" || v == "") print "-"; else printf "%.0f", v }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || b == 0) print "-"; else printf "%.2f", a / b }'; }

# Does the ingress serve the sync chain yet?
sync_available=0 sync_code=-
probe_sync() {
    local code
    code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 30 -X POST -H 'Content-Type: application/json' "${auth_curl[@]}" \
        -d "{\"user_id\":\"${fixed_user:-probe}\",\"items\":{\"burger\":1}}" "$ingress/orders/sync" || true)"
    if [[ "$code" == 404 || "$code" == 405 || "$code" == 000 ]]; then
        sync_available=0 sync_code="$code"
        warn "POST /orders/sync answered $code: the sync chain is not available, its rows say so"
    else
        sync_available=1
    fi
}

# ---------------------------------------------------------------------------- report

md() { printf '%s\n' "$@" >>"$report.tmp"; }
: >"$report.tmp"
started_at="$(date -u +%FT%TZ)"
start_seconds=$SECONDS

fresh_system "$big_seed"
probe_sync
rabbit_version="$(mgmt /api/overview | jq -r '.rabbitmq_version + " (Erlang " + .erlang_version + ")"')"
cpu_model="$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
mem_total="$(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
load_before="$(cut -d' ' -f1-3 /proc/loadavg)"

# ---------------------------------------------------------------------------- (e) broker

broker_pub="-" broker_con="-" broker_pub_stream="-" broker_con_stream="-"
broker_us="-" broker_us_stream="-"
broker_pub_ingress="-" broker_con_ingress="-" broker_us_ingress="-"
broker_pub_one="-" broker_con_one="-" broker_us_one="-" broker_one_messages=0
# per_order TICKS_BEFORE TICKS_AFTER COUNT: CPU microseconds per item (- without items).
per_order() {
    awk -v a="$1" -v b="$2" -v n="$3" -v hz="$clk_tck" \
        'BEGIN { if (n > 0) printf "%.0f", 1e6 * (b - a) / hz / n; else print "-" }'
}
section_e() {
    log "(e) the broker's own rates: $broker_messages messages, to a queue, then to a queue and a stream"
    local before
    before="$(cpu_ticks "$broker_pid")"
    if "$ctl" broker-bench --messages "$broker_messages" --json >"$out/broker.json" 2>"$out/broker.err"; then
        broker_us="$(per_order "$before" "$(cpu_ticks "$broker_pid")" "$broker_messages")"
        broker_pub="$(r0 "$(j "$out/broker.json" .publish_rate)")"
        broker_con="$(r0 "$(j "$out/broker.json" .consume_rate)")"
    else
        failures+=("(e) broker-bench: $(tail -n 1 "$out/broker.err")")
    fi
    before="$(cpu_ticks "$broker_pid")"
    if "$ctl" broker-bench --messages "$broker_messages" --stream --json >"$out/broker-stream.json" \
        2>"$out/broker-stream.err"; then
        broker_us_stream="$(per_order "$before" "$(cpu_ticks "$broker_pid")" "$broker_messages")"
        broker_pub_stream="$(r0 "$(j "$out/broker-stream.json" .publish_rate)")"
        broker_con_stream="$(r0 "$(j "$out/broker-stream.json" .consume_rate)")"
    else
        failures+=("(e) broker-bench --stream: $(tail -n 1 "$out/broker-stream.err")")
    fi
    # The fair ceiling of POST /orders: the broker publishing exactly as the ingress does,
    # at most one unconfirmed message per load client.
    before="$(cpu_ticks "$broker_pid")"
    if "$ctl" broker-bench --messages "$broker_messages" --as-ingress --in-flight "$post_clients" \
        --json >"$out/broker-ingress.json" 2>"$out/broker-ingress.err"; then
        broker_us_ingress="$(per_order "$before" "$(cpu_ticks "$broker_pid")" "$broker_messages")"
        broker_pub_ingress="$(r0 "$(j "$out/broker-ingress.json" .publish_rate)")"
        broker_con_ingress="$(r0 "$(j "$out/broker-ingress.json" .consume_rate)")"
    else
        failures+=("(e) broker-bench --as-ingress: $(tail -n 1 "$out/broker-ingress.err")")
    fi
    # The same with one message in flight: what each message costs the broker when nothing
    # shares its reads, writes and fsyncs, as at moderate rates of evenly spaced orders.
    broker_one_messages=$((broker_messages / 5))
    before="$(cpu_ticks "$broker_pid")"
    if "$ctl" broker-bench --messages "$broker_one_messages" --as-ingress --in-flight 1 \
        --json >"$out/broker-ingress-1.json" 2>"$out/broker-ingress-1.err"; then
        broker_us_one="$(per_order "$before" "$(cpu_ticks "$broker_pid")" "$broker_one_messages")"
        broker_pub_one="$(r0 "$(j "$out/broker-ingress-1.json" .publish_rate)")"
        broker_con_one="$(r0 "$(j "$out/broker-ingress-1.json" .consume_rate)")"
    else
        failures+=("(e) broker-bench --as-ingress --in-flight 1: $(tail -n 1 "$out/broker-ingress-1.err")")
    fi
}
wants e && section_e

# ---------------------------------------------------------------------------- (0) ceiling

section_0() {
    log "(0) load generator ceiling against GET /healthz"
    local threads
    md "## 0. The load generator's ceiling" ""
    md "GET /healthz of the ingress (no broker, no store), 64 keep-alive connections, ${ceiling_s} s each," \
        "orderflowctl load and wrk in the same run, on the same 2 cores as the ingress." ""
    md "| tool | threads | requests/s | p50 ms | p99 ms | errors |" "|---|---|---|---|---|---|"
    for threads in 1 2; do
        if load "ceiling-load-t$threads" --url "$ingress/healthz" -X GET -c 64 --threads "$threads" -d "$ceiling_s"; then
            md "| orderflowctl load | $threads | $(r0 "$(j "$out/ceiling-load-t$threads.json" .throughput_rps)") | $(ms "$(j "$out/ceiling-load-t$threads.json" .latency_ms.p50)") | $(ms "$(j "$out/ceiling-load-t$threads.json" .latency_ms.p99)") | $(j "$out/ceiling-load-t$threads.json" .errors) |"
        fi
        if [[ $have_wrk == 1 ]]; then
            wrk -t"$threads" -c64 -d"${ceiling_s}s" --latency "$ingress/healthz" >"$out/ceiling-wrk-t$threads.txt" 2>&1 || true
            local rps p50 p99
            rps="$(awk '/^Requests\/sec:/ { print $2 }' "$out/ceiling-wrk-t$threads.txt")"
            p50="$(awk '$1 == "50%" { print $2 }' "$out/ceiling-wrk-t$threads.txt")"
            p99="$(awk '$1 == "99%" { print $2 }' "$out/ceiling-wrk-t$threads.txt")"
            md "| wrk | $threads | ${rps:--} | ${p50:--} | ${p99:--} | $(awk '/Non-2xx|Socket errors/ { printf "%s ", $0 }' "$out/ceiling-wrk-t$threads.txt")|"
        fi
    done
    md "" "Both tools share the 2 cores with the ingress, so the figures are the ingress's ceiling" \
        "for a trivial route as much as the tools'. The open-loop mode (--rate) is what the" \
        "experiments below rely on to offer more than the target takes." ""
}
wants 0 && section_0

# ---------------------------------------------------------------------------- (a) faults

# seq_requests NAME URL: N sequential POSTs with curl; rows name,i,status,seconds,order_id.
sequential() {
    local name="$1" url="$2" i result code seconds order_id
    for ((i = 1; i <= seq_requests; i++)); do
        result="$(curl -s -o "$work/body" -w '%{http_code} %{time_total}' --max-time 60 -X POST "${auth_curl[@]}" \
            -H 'Content-Type: application/json' -d "{\"user_id\":\"${fixed_user:-seq$i}\",\"items\":{\"burger\":1}}" "$url" || echo "000 0")"
        code="${result% *}" seconds="${result#* }"
        order_id="$(jq -r '.order_id // ""' "$work/body" 2>/dev/null || true)"
        printf '%s,%d,%s,%s,%s\n' "$name" "$i" "$code" "$seconds" "$order_id"
    done
}

# seq_stats CSV: min avg median max p95 successes errors (seconds) of sequential rows.
seq_stats() {
    awk -F, '{ print $4, $3 }' "$1" | sort -n | awk '
        { v[NR] = $1; s += $1; if ($2 >= 200 && $2 <= 299) ok++; else err++ }
        END {
            if (NR == 0) { print "- - - - - 0 0"; exit }
            m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
            p = int(0.95 * NR + 0.999999); if (p < 1) p = 1
            printf "%.3f %.3f %.3f %.3f %.3f %d %d\n", v[1], s / NR, m, v[NR], v[p], ok, err
        }'
}

# end_to_end CSV: for async rows, time from accepted to notified (from the order history),
# waiting up to e2e_wait_s; prints "completed/total avg_s max_s".
end_to_end() {
    local csv="$1" deadline=$((SECONDS + e2e_wait_s)) id done_count total
    local -a ids=()
    mapfile -t ids < <(awk -F, '$5 != "" { print $5 }' "$csv")
    total=${#ids[@]}
    [[ $total -gt 0 ]] || { echo "0/0 - -"; return; }
    while :; do
        : >"$work/e2e"
        for id in "${ids[@]}"; do
            curl -fsS --max-time 5 "$ingress/orders/$id" 2>/dev/null | jq -r '
                def t: (.[0:19] + "Z" | fromdateiso8601) * 1000 + (.[20:23] | tonumber);
                ([.history[] | select(.status == "accepted") | .at | t] | first) as $a
                | ([.history[] | select(.status == "notified") | .at | t] | first) as $n
                | if $a != null and $n != null then ($n - $a) / 1000 else empty end' >>"$work/e2e" 2>/dev/null || true
        done
        done_count="$(wc -l <"$work/e2e")"
        ((done_count < total && SECONDS < deadline)) || break
        sleep 0.5
    done
    awk -v total="$total" '{ s += $1; if ($1 > m) m = $1 } END {
        if (NR == 0) printf "0/%d - -\n", total; else printf "%d/%d %.3f %.3f\n", NR, total, s / NR, m }' "$work/e2e"
}

section_a() {
    log "(a) sync vs async under faults"
    local scenario query env_arg mode url name stats e2e
    md "## a. Sync vs async per-request latency under faults" ""
    md "Each scenario: $seq_requests sequential requests with curl, then a ${fault_load_s} s closed-loop run" \
        "with $fault_clients clients (orderflowctl load). Sync = \`POST /orders/sync\` (200 after" \
        "inventory /reserve and notification /send); async = \`POST /orders\` (202 after the broker's" \
        "confirm). Faults: sync gets \`?delay_ms=2000\` / \`?fail=1\` per request (forwarded to /reserve);" \
        "async gets the same fault service-wide on inventory (\`ORDERFLOW_INJECT_DELAY_MS=2000\`," \
        "\`ORDERFLOW_INJECT_FAIL_RATE=1\`), which the client never waits for. \"End to end\" is the" \
        "async order's time from accepted to notified, read from its history (waited up to ${e2e_wait_s} s)." ""
    : >"$out/a-sequential.csv"
    echo "name,request,status,seconds,order_id" >"$out/a-sequential.csv"
    md "| scenario | path | seq min s | seq avg s | seq median s | seq p95 s | seq max s | seq ok/err | end to end (done, avg s, max s) | load req/s | load avg ms | load p95 ms | load p99 ms | load failures |" \
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
    for scenario in baseline delay_2s failure; do
        case "$scenario" in
            baseline) query="" env_arg=() ;;
            delay_2s) query="?delay_ms=2000" env_arg=(ORDERFLOW_INJECT_DELAY_MS=2000) ;;
            failure) query="?fail=1" env_arg=(ORDERFLOW_INJECT_FAIL_RATE=1) ;;
        esac
        for mode in sync async; do
            name="a-$scenario-$mode"
            if [[ $mode == sync ]]; then
                if [[ $sync_available == 0 ]]; then
                    md "| $scenario | sync | not available (POST /orders/sync answered $sync_code) |||||||||||||"
                    continue
                fi
                fresh_system "$big_seed"
                url="$ingress/orders/sync$query"
            else
                fresh_system "$big_seed" "${env_arg[@]}"
                url="$ingress/orders"
            fi
            log "  $name"
            sequential "$name" "$url" >"$work/$name.csv"
            cat "$work/$name.csv" >>"$out/a-sequential.csv"
            read -r -a stats < <(seq_stats "$work/$name.csv")
            e2e="n/a (synchronous)"
            [[ $mode == async ]] && e2e="$(end_to_end "$work/$name.csv")"
            load "$name" --url "$url" --body "$order_body" -c "$fault_clients" -d "$fault_load_s" --timeout 60000 || true
            md "| $scenario | $mode | ${stats[0]} | ${stats[1]} | ${stats[2]} | ${stats[4]} | ${stats[3]} | ${stats[5]}/${stats[6]} | $e2e | $(r0 "$(j "$out/$name.json" .throughput_rps)") | $(ms "$(j "$out/$name.json" .latency_ms.avg)") | $(ms "$(j "$out/$name.json" .latency_ms.p95)") | $(ms "$(j "$out/$name.json" .latency_ms.p99)") | $(j "$out/$name.json" '(.failure_rate * 10000 | round / 100 | tostring) + " %"') $(j "$out/$name.json" '.errors_by_status | to_entries | map(.key + " x" + (.value | tostring)) | join(", ")') |"
        done
    done
    md "" "Raw rows: [a-sequential.csv]($data_rel/a-sequential.csv); per-run summaries, per-second rows and" \
        "percentiles: \`$data_rel/a-<scenario>-<path>.{json,seconds.csv,percentiles.csv}\`." ""
    plot_percentiles "a-latency" "Latency under faults (${fault_clients} clients, ${fault_load_s} s)" a-baseline-sync a-baseline-async \
        a-delay_2s-sync a-delay_2s-async a-failure-sync a-failure-async
    md "![latency percentiles under faults]($data_rel/a-latency.svg)" ""
}

# ---------------------------------------------------------------------------- plots

# plot_percentiles NAME TITLE RUN...: latency by percentile, one line per run that has data.
plot_percentiles() {
    local name="$1" title="$2" run plot=""
    shift 2
    [[ $have_gnuplot == 1 ]] || return 0
    for run in "$@"; do
        [[ -s "$out/$run.percentiles.csv" ]] || continue
        # x = 1/(1-p): the tail spreads out as in HdrHistogram plots; p100 is left out.
        plot+="${plot:+, }'$out/$run.percentiles.csv' using (\$1 < 100 ? 100/(100-\$1) : 1/0):(\$2 > 0 ? \$2 : 1/0) skip 1 with lines lw 2 title '${run#*-}'"
    done
    [[ -n "$plot" ]] || return 0
    gnuplot <<EOF 2>>"$out/gnuplot.err" || warn "gnuplot failed for $name"
set terminal svg size 900,500 dynamic background '#ffffff'
set output '$out/$name.svg'
set datafile separator ','
set title '$title'
set logscale x
set logscale y
set xtics ("0%%" 1, "50%%" 2, "90%%" 10, "99%%" 100, "99.9%%" 1000, "99.99%%" 10000)
set xlabel 'percentile'
set ylabel 'latency (ms)'
set grid
set key left top
plot $plot
EOF
}

# ---------------------------------------------------------------------------- (b) clients

section_b() {
    log "(b) sync vs async at ${concurrencies[*]} clients"
    local clients mode name url service before_cpu elapsed row
    local -A cpu0=()
    local clients_text="${concurrencies[*]}"
    md "## b. Sync vs async at ${clients_text// / and } concurrent clients" ""
    md "Closed loop, ${conc_load_s} s per run, keep-alive connections, fresh services and data for each run." \
        "CPU is utime+stime over the run from /proc (100 % = one core); peak memory is VmHWM, reset" \
        "before the run. The async backlog is what inventory had not consumed when the run ended." ""
    md "| clients | path | avg ms | p90 ms | p95 ms | p99 ms | req/s | 2xx/s | failure rate | CPU ingress / inventory / notification / broker | peak MiB ingress / inventory / notification | async backlog at end |" \
        "|---|---|---|---|---|---|---|---|---|---|---|---|"
    echo "clients,path,avg_ms,p90_ms,p95_ms,throughput_rps,failure_rate,cpu_ingress,cpu_inventory,cpu_notification,cpu_broker,mib_ingress,mib_inventory,mib_notification" >"$out/b-summary.csv"
    for clients in "${concurrencies[@]}"; do
        for mode in sync async; do
            name="b-$mode-$clients"
            if [[ $mode == sync && $sync_available == 0 ]]; then
                md "| $clients | sync | not available (POST /orders/sync answered $sync_code) |||||||||||"
                continue
            fi
            fresh_system "$big_seed"
            url="$ingress/orders"
            [[ $mode == sync ]] && url="$ingress/orders/sync"
            log "  $name"
            for service in "${services[@]}"; do
                reset_peak "${pid[$service]}"
                cpu0[$service]="$(cpu_ticks "${pid[$service]}")"
            done
            before_cpu="$(cpu_ticks "$broker_pid")"
            local t0=$SECONDS
            load "$name" --url "$url" --body "$order_body" -c "$clients" --threads 2 -d "$conc_load_s" --timeout 60000 || true
            elapsed=$((SECONDS - t0))
            ((elapsed > 0)) || elapsed=1
            local -A cpu=() mib=()
            for service in "${services[@]}"; do
                cpu[$service]="$(awk -v a="${cpu0[$service]}" -v b="$(cpu_ticks "${pid[$service]}")" -v hz="$clk_tck" -v s="$elapsed" 'BEGIN { printf "%.0f", 100 * (b - a) / hz / s }')"
                mib[$service]="$(peak_mib "${pid[$service]}")"
            done
            cpu[broker]="$(awk -v a="$before_cpu" -v b="$(cpu_ticks "$broker_pid")" -v hz="$clk_tck" -v s="$elapsed" 'BEGIN { printf "%.0f", 100 * (b - a) / hz / s }')"
            local backlog="-"
            [[ $mode == async ]] && backlog="$(queue_depth inventory.order-placed)"
            row="| $clients | $mode | $(ms "$(j "$out/$name.json" .latency_ms.avg)") | $(ms "$(j "$out/$name.json" .latency_ms.p90)") | $(ms "$(j "$out/$name.json" .latency_ms.p95)") | $(ms "$(j "$out/$name.json" .latency_ms.p99)") | $(r0 "$(j "$out/$name.json" .throughput_rps)") | $(r0 "$(j "$out/$name.json" .success_rps)") | $(j "$out/$name.json" '(.failure_rate * 10000 | round / 100 | tostring) + " %"')"
            md "$row | ${cpu[ingress]} / ${cpu[inventory]} / ${cpu[notification]} / ${cpu[broker]} % | ${mib[ingress]} / ${mib[inventory]} / ${mib[notification]} | $backlog |"
            echo "$clients,$mode,$(j "$out/$name.json" .latency_ms.avg),$(j "$out/$name.json" .latency_ms.p90),$(j "$out/$name.json" .latency_ms.p95),$(r0 "$(j "$out/$name.json" .throughput_rps)"),$(j "$out/$name.json" .failure_rate),${cpu[ingress]},${cpu[inventory]},${cpu[notification]},${cpu[broker]},${mib[ingress]},${mib[inventory]},${mib[notification]}" >>"$out/b-summary.csv"
        done
    done
    md "" "Data: [b-summary.csv]($data_rel/b-summary.csv), \`$data_rel/b-<path>-<clients>.*\`." ""
    plot_percentiles "b-latency" "Latency at ${concurrencies[*]} clients (${conc_load_s} s)" \
        b-sync-250 b-async-250 b-sync-500 b-async-500
    md "![latency percentiles at 250 and 500 clients]($data_rel/b-latency.svg)" ""
}

# ---------------------------------------------------------------------------- (c) flash sale

oversells="-"
section_c() {
    log "(c) flash sale: $flash_units units, $flash_buyers buyers"
    local sampler stock first_zero reserved rejected t_start deadline
    fresh_system "{\"burger\": $flash_units}"
    # Our own queues on the events exchange count every reservation and rejection the
    # inventory emits: an independent tally of what it sold.
    local q
    for q in reserved rejected; do
        mgmt "/api/queues/%2f/bench.count.$q" -X PUT -H 'content-type: application/json' \
            -d '{"durable":false,"auto_delete":false,"arguments":{}}' -o /dev/null
        mgmt "/api/bindings/%2f/e/orders/q/bench.count.$q" -X POST -H 'content-type: application/json' \
            -d "{\"routing_key\":\"inventory.$q\"}" -o /dev/null
    done
    # Stock every 100 ms while the sale runs: time to sell out, and never below zero.
    (
        while :; do
            printf '%s,%s\n' "$(date +%s.%N)" "$(curl -fsS --max-time 2 "$inventory/inventory" 2>/dev/null | jq '.burger // "null"')"
            sleep 0.1
        done
    ) >"$out/c-stock.csv" &
    sampler=$!
    t_start="$(date +%s.%N)"
    load c-flash-async --url "$ingress/orders" --body "$order_body" -c 250 --threads 2 -n "$flash_buyers" --timeout 60000 || true
    # Wait until every accepted order has an outcome (reserved + rejected == accepted).
    local accepted
    accepted="$(num "$(j "$out/c-flash-async.json" .successes)")"
    deadline=$((SECONDS + 60))
    while :; do
        reserved="$(num "$(queue_depth bench.count.reserved)")"
        rejected="$(num "$(queue_depth bench.count.rejected)")"
        ((reserved + rejected >= accepted || SECONDS >= deadline)) && break
        sleep 0.5
    done
    sleep 1.5  # one more statistics interval, so the counts are final
    reserved="$(num "$(queue_depth bench.count.reserved)")"
    rejected="$(num "$(queue_depth bench.count.rejected)")"
    kill "$sampler" 2>/dev/null || true
    wait "$sampler" 2>/dev/null || true
    stock="$(curl -fsS "$inventory/inventory" | jq '.burger' || echo -)"
    [[ "$stock" =~ ^-?[0-9]+$ ]] || failures+=("(c) could not read the final stock")
    first_zero="$(awk -F, -v t0="$t_start" '$2 == "0" { printf "%.2f", $1 - t0; exit }' "$out/c-stock.csv")"
    local min_stock
    min_stock="$(awk -F, '$2 ~ /^-?[0-9]+$/ { if (m == "" || $2 < m) m = $2 } END { print m }' "$out/c-stock.csv")"
    oversells=$((reserved > flash_units ? reserved - flash_units : 0))
    (($(num "$stock") >= 0 && $(num "${min_stock:-0}") >= 0)) || oversells=$((oversells + 1))
    awk -F, -v t0="$t_start" 'BEGIN { print "seconds,stock" } $2 ~ /^-?[0-9]+$/ { printf "%.2f,%s\n", $1 - t0, $2 }' \
        "$out/c-stock.csv" >"$out/c-stock.tmp" && mv "$out/c-stock.tmp" "$out/c-stock.csv"
    md "## c. Flash sale" ""
    md "$flash_units units of one SKU (ORDERFLOW_INVENTORY_SEED), $flash_buyers buyers with one order each" \
        "(distinct user ids), 250 at a time, through the async path. Reservations and rejections are" \
        "counted from two queues of the bench bound to \`inventory.reserved\` / \`inventory.rejected\`;" \
        "stock is sampled from \`GET /inventory\` every 100 ms." ""
    md "| buyers | accepted (202) | reserved events | rejected events | final stock | lowest stock seen | oversells | sold out after | posting took |" \
        "|---|---|---|---|---|---|---|---|---|"
    md "| $flash_buyers | $accepted | $reserved | $rejected | $stock | ${min_stock:--} | **$oversells** | ${first_zero:-not sold out} s | $(j "$out/c-flash-async.json" .duration_s) s |"
    md "" "Oversells = reserved events beyond the $flash_units units, plus one if the stock went negative." \
        "Stock curve: [c-stock.csv]($data_rel/c-stock.csv)." ""
    if [[ $sync_available == 0 ]]; then
        md "The sync flash sale is not available (POST /orders/sync answered $sync_code)." ""
    fi
    [[ "$oversells" == 0 ]] || failures+=("(c) $oversells oversells")
    if [[ $have_gnuplot == 1 && -s "$out/c-stock.csv" ]]; then
        gnuplot <<EOF 2>>"$out/gnuplot.err" || warn "gnuplot failed for c-stock"
set terminal svg size 900,400 dynamic background '#ffffff'
set output '$out/c-stock.svg'
set datafile separator ','
set title 'Flash sale: stock while $flash_buyers buyers order'
set xlabel 'seconds since the first order'
set ylabel 'units left'
set grid
plot '$out/c-stock.csv' using 1:2 skip 1 with steps lw 2 title 'burger'
EOF
    fi
    [[ -s "$out/c-stock.svg" ]] && md "![stock during the flash sale]($data_rel/c-stock.svg)" ""
    return 0
}

# ---------------------------------------------------------------------------- (d) drain

post_rate="-" drain_rate="-"
declare -A post_us=([broker]=- [ingress]=-) drain_us=([broker]=- [inventory]=- [notification]=- [ingress]=-)
# The same, stime alone (the kernel's part).
declare -A post_sys=([broker]=- [ingress]=-) drain_sys=([broker]=- [inventory]=- [notification]=- [ingress]=-)
# cpu_row LABEL BROKER INGRESS INVENTORY NOTIFICATION: a row of the CPU-per-order table, with
# the total and the rate at which that work alone would fill every core of this machine.
cpu_row() {
    awk -v l="$1" -v b="$2" -v g="$3" -v i="$4" -v n="$5" -v cores="$(nproc)" 'BEGIN {
        t = b + g + i + n
        printf "| %s | %s | %s | %s | %s | %s | %s |\n", l, b, g, i, n, t,
            (b > 0 ? sprintf("%.0f/s (%.0f/s)", cores * 1e6 / t, cores * 1e6 / b) : "-")
    }'
}
# acked_total [URL]: messages a service (default inventory) has acked so far, from its
# /metrics (immediate, unlike the management API).
acked_total() {
    { curl -fsS --max-time 2 "${1:-$inventory}/metrics" 2>/dev/null || true; } |
        awk '/^orderflow_messages_acked_total/ { s += $NF; n++ } END { if (n) print s; else print "-" }'
}
# wait_for_acks EXPECTED [URL...]: polls the ack counters of the URLs (default inventory's)
# every 50 ms until together they reach EXPECTED, for at most 300 s (60 s quick). Sets the
# caller's `first` (time of the first ack seen), `first_acked` (the count then) and `last`
# (when EXPECTED was reached; left empty on a timeout).
wait_for_acks() {
    local expected="$1" deadline acked now url
    shift
    [[ $# -gt 0 ]] || set -- "$inventory"
    deadline=$((SECONDS + (quick ? 60 : 300)))
    while ((SECONDS < deadline)); do
        acked=0
        for url in "$@"; do acked=$((acked + $(num "$(acked_total "$url")"))); done
        now="$(date +%s.%N)"
        [[ -z "$first" && $acked -gt 0 ]] && first="$now" first_acked="$acked"
        if ((acked >= expected)); then
            last="$now"
            break
        fi
        sleep 0.05
    done
}
# The drain again with inventory alone on the broker: notification and the ingress are
# stopped once the backlog is posted, so their events wait in their queues. Isolates the
# inventory service's own exactly-once path (inbox, reservation, outbox, ack, relay with
# confirms) from the downstream work that otherwise shares the cores.
alone_rate="-" alone_orders="-"
declare -A alone_us=([broker]=- [inventory]=-)
drain_alone() {
    log "(d) backlog drain, inventory alone: $drain_orders orders"
    local expected b0 deadline acked first="" last="" now first_acked=0
    fresh_system "$big_seed"
    stop_service inventory
    load d-alone-post --url "$ingress/orders" --body "$order_body" -c "$post_clients" --threads 2 -n "$drain_orders" --timeout 60000 || true
    expected="$(num "$(j "$out/d-alone-post.json" .successes)")"
    stop_service notification
    stop_service ingress
    b0="$(cpu_ticks "$broker_pid")"
    start_service inventory ORDERFLOW_INVENTORY_SEED="$data_dir/seed.json"
    wait_for_acks "$expected"
    alone_us[broker]="$(per_order "$b0" "$(cpu_ticks "$broker_pid")" "$expected")"
    alone_us[inventory]="$(per_order 0 "$(cpu_ticks "${pid[inventory]}")" "$expected")"
    alone_orders="$expected"
    if [[ -n "$first" && -n "$last" ]]; then
        alone_rate="$(awk -v a="$first" -v b="$last" -v n="$((expected - first_acked))" \
            'BEGIN { printf "%.0f", (b > a) ? n / (b - a) : 0 }')"
    else
        failures+=("(d) inventory alone: backlog not drained in time")
    fi
    stop_service inventory
}

# The drain with the console open in a browser against the same drain without it (issue 12:
# within 5 %). analytics runs in both, as in any deployment (it follows the stream and serves
# the console, its sampler polling the broker every second); "open" adds Debian's headless
# Chromium showing the page, which polls /api/overview, /api/series and /api/dead-letters
# every second and redraws its charts, as it does for a person. Rounds alternate the order
# (off,on / on,off / ...) so that a drift of the machine's load falls on both. A drain lasts
# about 6 s and the closed drains alone spread by 9 % over 3 rounds (session 5), more than
# the 5 % to show: the full run takes 7 rounds and reports two figures, the ratio of the
# medians of each mode and the median of the rounds' own open/closed ratios (the two drains
# of a round run back to back, so a slower drift of the machine cancels out), each mode's
# range beside them. Then analytics is given 15 minutes of history and its memory is read.
console_rounds=$((quick ? 1 : 7))
console_fill_rate=$((quick ? 25 : 200))
console_ratio="-" console_off="-" console_on="-" console_rss="-" console_hwm="-"
console_paired="-" console_off_range="-" console_on_range="-" console_chromium="-"
console_rows=()
console_fill="" console_fill_slots="-" console_fill_kept="-" console_fill_seen="-"
# ticks_tree PID: CPU ticks of a process and all its descendants (Chromium's helpers). A
# helper that exits between ps and the read of its stat counts nothing (an empty answer in
# the arithmetic stopped a whole bench run once).
ticks_tree() {
    local root="$1" p t total=0
    for p in $(ps -e -o pid=,ppid= | awk -v r="$root" '
        { parent[$1] = $2 } END { for (p in parent) { q = p; while (q != "" && q != 0) { if (q == r) { print p; break } q = parent[q] } } }'); do
        t="$(cpu_ticks "$p")"
        [[ "$t" =~ ^[0-9]+$ ]] || continue
        total=$((total + t))
    done
    echo "$total"
}
analytics_url() { echo "http://127.0.0.1:${port[analytics]}"; }
# seen_placed: OrderPlaced events analytics has read (its console's counter).
seen_placed() { curl -fsS --max-time 2 "$(analytics_url)/api/overview" 2>/dev/null | jq -r '.seen.placed // "-"' 2>/dev/null || echo -; }
# series_polls: GET /api/series answered so far (analytics' /metrics): the page's polls.
series_polls() {
    local body _
    for _ in 1 2 3; do  # a busy analytics may miss a 2 s deadline: "0" would skew the count
        body="$(curl -fsS --max-time 2 "$(analytics_url)/metrics" 2>/dev/null)" && break
    done
    awk '/^orderflow_http_requests_total/ && /route="\/api\/series"/ { s += $NF } END { print s + 0 }' <<<"${body:-}"
}
start_console_analytics() {
    port[analytics]="$(free_port "$amqp_port" "$mgmt_port" "$private_dist_port" "$private_stream_port" \
        "${port[ingress]}" "${port[inventory]}" "${port[notification]}")"
    mkdir -p "$work/analytics"
    start_service analytics ORDERFLOW_DATA_DIR="$work/analytics" ORDERFLOW_ANALYTICS_FROM=next
    wait_ready analytics
}
start_console_browser() {
    local profile="$work/chromium-profile.$1" deadline polls0
    mkdir -p "$profile"
    polls0="$(series_polls)"
    chromium --headless --no-sandbox --disable-gpu --disable-dev-shm-usage --no-first-run \
        --disable-background-networking --disable-component-update --disable-sync \
        --window-size=1400,2400 --user-data-dir="$profile" --remote-debugging-port=0 \
        "$(analytics_url)/" </dev/null >>"$logs/chromium.log" 2>&1 &
    pid[chromium]=$!
    # Open means drawn and polling: two polls of the page seen by analytics.
    deadline=$((SECONDS + 30))
    until (($(series_polls) >= polls0 + 2)); do
        pid_alive "${pid[chromium]}" && ((SECONDS < deadline)) || return 1
        sleep 0.2
    done
}
# console_drain ROUND off|on: one drain of $drain_orders orders, whole pipeline and analytics
# running; a row of the table in console_rows, the rate in console_rate.
console_rate="-" console_chromium_pct="-"
console_drain() {
    local round="$1" mode="$2" expected placed0 deadline acked now first="" last="" first_acked=0
    local a0 b0 c0=0 polls0 t0 t1
    console_rate="-" console_chromium_pct="-"
    fresh_system "$big_seed"
    stop_service inventory
    placed0="$(num "$(seen_placed)")"
    load "d-console-$round-$mode-post" --url "$ingress/orders" --body "$order_body" -c "$post_clients" --threads 2 -n "$drain_orders" --timeout 60000 || true
    expected="$(num "$(j "$out/d-console-$round-$mode-post.json" .successes)")"
    # analytics has read every OrderPlaced before the drain starts.
    deadline=$((SECONDS + 60))
    until (($(num "$(seen_placed)") >= placed0 + expected || SECONDS >= deadline)); do sleep 0.2; done
    if [[ $mode == on ]] && ! start_console_browser "$round"; then
        failures+=("(d) console: headless Chromium did not open the page (log: $logs/chromium.log)")
        stop_service chromium
        return 0
    fi
    a0="$(cpu_ticks "${pid[analytics]}")" b0="$(cpu_ticks "$broker_pid")"
    [[ $mode == on ]] && c0="$(ticks_tree "${pid[chromium]}")"
    polls0="$(series_polls)" t0="$(date +%s.%N)"
    start_service inventory ORDERFLOW_INVENTORY_SEED="$data_dir/seed.json"
    wait_for_acks "$expected"
    t1="$(date +%s.%N)"
    local a_us b_us c_pct polls
    a_us="$(per_order "$a0" "$(cpu_ticks "${pid[analytics]}")" "$expected")"
    b_us="$(per_order "$b0" "$(cpu_ticks "$broker_pid")" "$expected")"
    c_pct=-
    if [[ $mode == on ]]; then
        console_chromium_pct="$(awk -v t="$(($(ticks_tree "${pid[chromium]}") - c0))" -v hz="$clk_tck" \
            -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", (b > a) ? 100 * t / hz / (b - a) : 0 }')"
        c_pct="$(printf '%.0f %%' "$console_chromium_pct")"
    fi
    polls="$(($(series_polls) - polls0))"
    [[ $mode == on ]] && stop_service chromium
    if [[ -n "$first" && -n "$last" ]]; then
        console_rate="$(awk -v a="$first" -v b="$last" -v n="$((expected - first_acked))" \
            'BEGIN { printf "%.0f", (b > a) ? n / (b - a) : 0 }')"
    else
        failures+=("(d) console $mode, round $round: backlog not drained in time")
    fi
    console_rows+=("| $round | $mode | $expected | $console_rate msg/s | $a_us µs | $b_us µs | $c_pct | $polls |")
}
# numbers ARG...: the arguments that are numbers ("-" and the like left out), ascending.
numbers() { printf '%s\n' "$@" | { grep -E '^[0-9.]+$' || true; } | sort -g; }
# median ARG...: the median of the numbers among the arguments ("-" when there are none),
# rounded to a whole number when it falls between two; median_real with two decimals
# (ratios, percentages); range: "lowest-highest".
median() { numbers "$@" | awk '{ v[NR] = $1 } END { if (!NR) print "-"; else if (NR % 2) print v[(NR + 1) / 2]; else printf "%.0f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
median_real() { numbers "$@" | awk '{ v[NR] = $1 } END { if (!NR) print "-"; else if (NR % 2) printf "%.2f\n", v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
range() { numbers "$@" | awk 'NR == 1 { lo = $1 } { hi = $1 } END { print NR ? lo "-" hi : "-" }'; }
drain_console() {
    if [[ ! -x "$bin_dir/orderflow-analytics" ]] || ! command -v chromium >/dev/null 2>&1; then
        failures+=("(d) console: orderflow-analytics or chromium missing")
        return 0
    fi
    log "(d) drain with the console closed and open: $console_rounds round(s) of $drain_orders orders"
    start_console_analytics
    local round mode offs=() ons=() pairs=() cpus=() on off
    for ((round = 1; round <= console_rounds; round++)); do
        on="-" off="-"
        for mode in $( ((round % 2)) && echo off on || echo on off); do
            console_drain "$round" "$mode"
            if [[ $mode == on ]]; then
                ons+=("$console_rate") cpus+=("$console_chromium_pct") on="$console_rate"
            else
                offs+=("$console_rate") off="$console_rate"
            fi
        done
        pairs+=("$(ratio "$on" "$off")")
    done
    console_off="$(median "${offs[@]}")" console_on="$(median "${ons[@]}")"
    console_ratio="$(ratio "$console_on" "$console_off")"
    console_paired="$(median_real "${pairs[@]}")" console_chromium="$(median_real "${cpus[@]}")"
    console_off_range="$(range "${offs[@]}")" console_on_range="$(range "${ons[@]}")"
    # 15 minutes of history: orders whose event times span the last 15 minutes, read by the
    # running analytics; then its resident memory, now and at its peak over the whole run.
    log "(d) 15 minutes of history at $console_fill_rate orders/s into analytics"
    stop_service inventory
    stop_service notification
    stop_service ingress
    local placed0 orders deadline
    placed0="$(num "$(seen_placed)")"
    if console_fill="$("$ctl" fill-history --minutes 15 --rate "$console_fill_rate" 2>>"$logs/fill-history.log")"; then
        orders="$(jq -r .orders <<<"$console_fill")"
        deadline=$((SECONDS + (quick ? 120 : 600)))
        until (($(num "$(seen_placed)") >= placed0 + orders || SECONDS >= deadline)); do sleep 0.5; done
        console_fill_seen="$(($(num "$(seen_placed)") - placed0))"
        ((console_fill_seen >= orders)) || failures+=("(d) console: analytics read $console_fill_seen of $orders orders of history")
        sleep 2  # a sample or two of the page's documents with the whole history
        curl -fsS "$(analytics_url)/api/series" >"$out/d-console-series.json" 2>/dev/null || true
        console_fill_slots="$(jq '[.orders.placed[] | select(. > 0)] | length' "$out/d-console-series.json" 2>/dev/null || echo -)"
        console_fill_kept="$(curl -fsS "$(analytics_url)/api/overview" 2>/dev/null | jq -r '.orders_kept // "-"' || echo -)"
    else
        failures+=("(d) console: fill-history failed (log: $logs/fill-history.log)")
    fi
    console_rss="$(awk '/^VmRSS:/ { printf "%.1f", $2 / 1024 }' "/proc/${pid[analytics]}/status" 2>/dev/null || echo -)"
    console_hwm="$(peak_mib "${pid[analytics]}")"
    awk -v m="$console_hwm" 'BEGIN { exit !(m + 0 >= 64) }' &&
        failures+=("(d) console: analytics peaked at $console_hwm MiB (target: under 64)")
    stop_service analytics
}

section_d() {
    log "(d) backlog drain: $drain_orders orders"
    local t0 deadline expected fast slow acked
    fresh_system "$big_seed"
    stop_service inventory
    local -A cpu0=() sys0=()
    cpu0[broker]="$(cpu_ticks "$broker_pid")" sys0[broker]="$(sys_ticks "$broker_pid")"
    cpu0[ingress]="$(cpu_ticks "${pid[ingress]}")" sys0[ingress]="$(sys_ticks "${pid[ingress]}")"
    load d-post --url "$ingress/orders" --body "$order_body" -c "$post_clients" --threads 2 -n "$drain_orders" --timeout 60000 || true
    post_rate="$(r0 "$(j "$out/d-post.json" .success_rps)")"
    expected="$(num "$(j "$out/d-post.json" .successes)")"
    post_us[broker]="$(per_order "${cpu0[broker]}" "$(cpu_ticks "$broker_pid")" "$expected")"
    post_us[ingress]="$(per_order "${cpu0[ingress]}" "$(cpu_ticks "${pid[ingress]}")" "$expected")"
    post_sys[broker]="$(per_order "${sys0[broker]}" "$(sys_ticks "$broker_pid")" "$expected")"
    post_sys[ingress]="$(per_order "${sys0[ingress]}" "$(sys_ticks "${pid[ingress]}")" "$expected")"
    # The management API's depth lags (statistics every second, later under load): wait
    # until it shows the backlog, so the curve starts full.
    deadline=$((SECONDS + 30))
    until (($(num "$(queue_depth inventory.order-placed)") >= expected || SECONDS >= deadline)); do
        sleep 0.5
    done
    t0="$(date +%s.%N)"
    local name status_acked0
    status_acked0="$(num "$(acked_total "$ingress")")"
    cpu0[broker]="$(cpu_ticks "$broker_pid")" sys0[broker]="$(sys_ticks "$broker_pid")"
    for name in ingress notification; do
        cpu0[$name]="$(cpu_ticks "${pid[$name]}")" sys0[$name]="$(sys_ticks "${pid[$name]}")"
    done
    start_service inventory ORDERFLOW_INVENTORY_SEED="$data_dir/seed.json"
    # Two samplers: inventory's own ack counter every 100 ms (exact and immediate: the drain
    # time and rate), and the broker's view of both queues every second (the curve as an
    # operator sees it in the management API or `orderflowctl status`).
    (
        while :; do
            printf '%s,%s\n' "$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')" "$(acked_total)"
            sleep 0.1
        done
    ) >"$work/d-acked.raw" &
    fast=$!
    (
        while :; do
            local now
            now="$(date +%s.%N)"
            printf '%s,%s,%s\n' "$(awk -v a="$t0" -v b="$now" 'BEGIN { printf "%.2f", b - a }')" \
                "$(queue_depth inventory.order-placed)" "$(queue_depth notification.inventory-events)"
            sleep "$(awk -v a="$now" -v b="$(date +%s.%N)" 'BEGIN { d = 1 - (b - a); print (d > 0 ? d : 0) }')"
        done
    ) >"$work/d-mgmt.raw" &
    slow=$!
    deadline=$((SECONDS + (quick ? 60 : 300)))
    while :; do
        acked="$(num "$(acked_total)")"
        ((acked < expected && SECONDS < deadline)) || break
        sleep 0.1
    done
    # The end of the whole pipeline's work: the ingress has projected both events of every
    # order (InventoryReserved, NotificationSent), the CPU figures stop here.
    local until_done=$((SECONDS + 60))
    while (($(num "$(acked_total "$ingress")") < status_acked0 + 2 * expected && SECONDS < until_done)); do
        sleep 0.1
    done
    drain_us[broker]="$(per_order "${cpu0[broker]}" "$(cpu_ticks "$broker_pid")" "$expected")"
    drain_us[inventory]="$(per_order 0 "$(cpu_ticks "${pid[inventory]}")" "$expected")"
    for name in ingress notification; do
        drain_us[$name]="$(per_order "${cpu0[$name]}" "$(cpu_ticks "${pid[$name]}")" "$expected")"
        drain_sys[$name]="$(per_order "${sys0[$name]}" "$(sys_ticks "${pid[$name]}")" "$expected")"
    done
    drain_sys[broker]="$(per_order "${sys0[broker]}" "$(sys_ticks "$broker_pid")" "$expected")"
    drain_sys[inventory]="$(per_order 0 "$(sys_ticks "${pid[inventory]}")" "$expected")"
    # Let the broker's view catch up (both queues empty), for the end of the curve.
    local until_empty=$((SECONDS + 15))
    while ((SECONDS < until_empty)); do
        [[ "$(tail -n 1 "$work/d-mgmt.raw" 2>/dev/null | cut -d, -f2,3)" == 0,0 ]] && break
        sleep 0.5
    done
    kill "$fast" "$slow" 2>/dev/null || true
    wait "$fast" "$slow" 2>/dev/null || true
    { echo "seconds,inventory_acked,inventory_left"
      awk -F, -v n="$expected" '$2 ~ /^[0-9]+$/ { printf "%s,%s,%d\n", $1, $2, n - $2 }' "$work/d-acked.raw"; } >"$out/d-acked.csv"
    { echo "seconds,inventory_queue,notification_queue"; cat "$work/d-mgmt.raw"; } >"$out/d-drain.csv"
    # From the first sample that saw an ack to the first that saw them all.
    local first last rate peak
    read -r first last rate peak < <(awk -F, -v n="$expected" '
        NR > 1 && $2 > 0 && f == "" { f = $1; fa = $2 }
        NR > 1 && $2 >= n && l == "" { l = $1 }
        NR > 1 && pt != "" && $1 - pt >= 0.9 { d = ($2 - pa) / ($1 - pt); if (d > m) m = d; pt = $1; pa = $2 }
        NR > 1 && pt == "" { pt = $1; pa = $2 }
        END {
            if (f == "" || l == "") { print "- - - -"; exit }
            # All acked by the first sample that answered (a short --quick drain): the rate
            # from the start of inventory instead, its start-up included (a lower bound).
            r = (l > f) ? (n - fa) / (l - f) : ((l > 0) ? n / l : 0)
            printf "%s %s %.0f %.0f\n", f, l, r, m
        }' "$out/d-acked.csv")
    drain_rate="$rate"
    [[ "$last" != "-" ]] || { drain_rate="-"; failures+=("(d) backlog not drained in time"); }
    drain_alone
    drain_console
    md "## d. Backlog drain" ""
    md "$drain_orders orders posted ($post_clients keep-alive clients) while inventory was stopped, then inventory" \
        "started at 0 s. Every message takes the full exactly-once path: inbox check, reservation and" \
        "outbox in one SQLite transaction, ack, outbox published with confirms. Drain time and rate" \
        "come from inventory's own ack counter (\`orderflow_messages_acked_total\` on /metrics) sampled" \
        "every 100 ms; the queue depths of the curve from the management API every second, as an" \
        "operator sees them (those statistics lag: RabbitMQ refreshes them every second at best)." ""
    md "| orders accepted | posting req/s (2xx) | posting p99 ms | first ack seen | all acked | drain rate (first to last ack) | best 1 s rate |" \
        "|---|---|---|---|---|---|---|"
    md "| $expected | $post_rate | $(ms "$(j "$out/d-post.json" .latency_ms.p99)") | $first s | $last s | $drain_rate msg/s | $peak msg/s |"
    if [[ "$first" != "-" && "$first" == "$last" ]]; then
        md "" "Every order was acked by the first sample that answered: the drain rate is counted" \
            "from inventory's start instead (its start-up included, so a lower bound)."
    fi
    md "" "CPU per order in microseconds (utime + stime from /proc, broker = the whole beam.smp" \
        "node): while posting, and for the drain from inventory's start (its start-up included)" \
        "until the ingress had projected both events of every order, so that the downstream" \
        "work (notification, order-status) is included." \
        "The last column divides all cores by that work: the most orders per second this" \
        "machine could do if nothing else ran, in brackets with the broker's share alone. The" \
        "load generator's own CPU is not counted." ""
    md "| phase | broker | ingress | inventory | notification | total | $(nproc) cores / total (broker alone) |" \
        "|---|---|---|---|---|---|---|"
    md "$(cpu_row "posting, per accepted order" "${post_us[broker]}" "${post_us[ingress]}" 0 0)"
    md "$(cpu_row "drain, per order" "${drain_us[broker]}" "${drain_us[ingress]}" "${drain_us[inventory]}" "${drain_us[notification]}")"
    md "| of which in the kernel (stime), posting | ${post_sys[broker]} | ${post_sys[ingress]} | - | - | | |"
    md "| of which in the kernel (stime), drain | ${drain_sys[broker]} | ${drain_sys[ingress]} | ${drain_sys[inventory]} | ${drain_sys[notification]} | | |"
    if [[ -n "$baseline" ]]; then
        # --baseline: the same two rows of an earlier report (one run each), for before/after.
        md "" "Before, from one earlier run (\`--baseline $baseline\`), same table:" "" \
            "| phase | broker | ingress | inventory | notification | total | $(nproc) cores / total (broker alone) |" \
            "|---|---|---|---|---|---|---|"
        md "$(grep -E '^\| (posting, per accepted order|drain, per order) \|' "$baseline" |
            sed 's/^| /| before: /')"
    fi
    md "" "The same drain with **inventory alone**: notification and the ingress stopped after" \
        "the backlog was posted, so the InventoryReserved events wait in their queues. Each" \
        "message still takes inventory's whole exactly-once path (inbox, reservation, outbox," \
        "ack, relay with confirms); the downstream work no longer shares the cores." ""
    md "| orders | drain rate (first to last ack, 50 ms polls) | broker CPU per order | inventory CPU per order |" \
        "|---|---|---|---|"
    md "| $alone_orders | $alone_rate msg/s | ${alone_us[broker]} µs | ${alone_us[inventory]} µs |"
    md "" "The drain with **the console open** in a browser against the same drain without it" \
        "(target: within 5 %). Both with the whole pipeline and \`orderflow-analytics\` running" \
        "(it follows the stream, samples the broker every second and serves the console); \"on\"" \
        "adds headless Chromium showing the page, which polls \`/api/overview\`, \`/api/series\` and" \
        "\`/api/dead-letters\` every second and redraws its charts. $console_rounds round(s), the order" \
        "alternating; each drain posts $drain_orders orders with inventory stopped, waits until" \
        "analytics has read them, then starts inventory (rate: first to last ack, 50 ms polls)." \
        "CPU per order from inventory's start to its last ack; Chromium's as a share of one core" \
        "over the same time; page polls = \`GET /api/series\` answered during the drain." ""
    md "| round | console | orders | drain rate | analytics CPU per order | broker CPU per order | Chromium CPU | page polls |" \
        "|---|---|---|---|---|---|---|---|"
    local row
    for row in "${console_rows[@]}"; do md "$row"; done
    md "" "Median drain rate: closed $console_off msg/s (range $console_off_range), open $console_on msg/s" \
        "(range $console_on_range): **open / closed = $console_ratio**; the median of the rounds' own" \
        "open / closed ratios: **$console_paired** (target at least 0.95 for both). Chromium's median" \
        "CPU during the open drains: $console_chromium % of one core (of $(nproc) cores)." ""
    md "Then analytics was given **15 minutes of history**: \`orderflowctl fill-history --minutes 15" \
        "--rate $console_fill_rate\` wrote the events of $console_fill_rate orders per second whose event times" \
        "span the last 15 minutes (OrderPlaced, InventoryReserved or 1 in 50 InventoryRejected," \
        "NotificationSent, as the services publish them) straight onto the stream ($console_fill), and the" \
        "running analytics read them: $console_fill_seen orders; $console_fill_slots of the 900 one-second slots" \
        "of the orders chart hold orders; $console_fill_kept order timelines in memory. Its memory then:" ""
    md "| analytics VmRSS after the history | VmHWM (peak over the whole section) | target |" "|---|---|---|"
    md "| $console_rss MiB | $console_hwm MiB | under 64 MiB |" ""
    md "" "Samples: [d-acked.csv]($data_rel/d-acked.csv) (100 ms, inventory's counter)," \
        "[d-drain.csv]($data_rel/d-drain.csv) (1 s, management API)." ""
    if [[ $have_gnuplot == 1 ]]; then
        gnuplot <<EOF 2>>"$out/gnuplot.err" || warn "gnuplot failed for d-drain"
set terminal svg size 900,450 dynamic background '#ffffff'
set output '$out/d-drain.svg'
set datafile separator ','
set title 'Backlog drain: $expected orders, inventory started at 0 s'
set xlabel 'seconds since inventory started'
set ylabel 'messages left'
set grid
set key right top
plot '$out/d-acked.csv' using 1:3 skip 1 with lines lw 2 title 'left to consume (inventory acks, 100 ms)', \\
     '$out/d-drain.csv' using 1:2 skip 1 with linespoints lw 1 title 'inventory.order-placed (management API, 1 s)', \\
     '$out/d-drain.csv' using 1:3 skip 1 with linespoints lw 1 title 'notification.inventory-events (management API, 1 s)'
EOF
    fi
    [[ -s "$out/d-drain.svg" ]] && md "![drain curve]($data_rel/d-drain.svg)" ""
    return 0
}

# ---------------------------------------------------------------------------- (f) latency

# e2e_stats FILE: "count p50 p95 p99 max" of one latency (ms) per line, nearest rank;
# writes FILE.percentiles.csv in the load tool's format (percentile,latency_ms) for plots.
e2e_stats() {
    sort -n "$1" | awk -v csv="$2" '
        { v[NR] = $1 }
        function at(p,   r) { r = int(p / 100 * NR + 0.999999); if (r < 1) r = 1; return v[r] }
        END {
            if (NR == 0) { print "0 - - - -"; exit }
            print "percentile,latency_ms" >csv
            for (p = 0; p < 100; p++) printf "%d,%.3f\n", p, at(p) >csv
            n = split("99.5 99.9 99.95 99.99 100", extra, " ")
            for (i = 1; i <= n; i++) printf "%s,%.3f\n", extra[i], at(extra[i]) >csv
            printf "%d %s %s %s %s\n", NR, at(50), at(95), at(99), v[NR]
        }'
}

# The whole pipeline's end-to-end capacity: what the machine carries from POST to notified
# when the POSTs and the three consumers share its cores, as in a steady state. Closed-loop
# POSTs ($post_clients clients, capacity_s seconds) with every service running, then the
# wait until the ingress has projected both events of every accepted order: orders / (first
# POST -> last order notified). Neither (d)'s POST rate (nothing consumes meanwhile) nor its
# drain rate (nothing is posted meanwhile) is a rate the pipeline sustains end to end.
capacity_rate="-" capacity_orders="-" capacity_s_taken="-"
measure_capacity() {
    local expected status0 t0 t1 deadline
    fresh_system "$big_seed"
    status0="$(num "$(acked_total "$ingress")")"
    t0="$(date +%s.%N)"
    load f-capacity-post --url "$ingress/orders" --body "$order_body" -c "$post_clients" --threads 2 \
        -d "$capacity_s" --timeout 60000 || true
    expected="$(num "$(j "$out/f-capacity-post.json" .successes)")"
    deadline=$((SECONDS + 180))
    while (($(num "$(acked_total "$ingress")") < status0 + 2 * expected && SECONDS < deadline)); do
        sleep 0.05
    done
    t1="$(date +%s.%N)"
    if ((expected > 0 && $(num "$(acked_total "$ingress")") >= status0 + 2 * expected)); then
        capacity_orders="$expected"
        capacity_s_taken="$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')"
        capacity_rate="$(awk -v a="$t0" -v b="$t1" -v n="$expected" 'BEGIN { printf "%.0f", n / (b - a) }')"
    fi
}

latency_max="-" latency_p99_half="-" latency_post_p99_half="-"
section_f() {
    local max share rate name expected status0 deadline stats hop1 hop2 service hops=()
    md "## f. End-to-end latency at a fixed load" ""
    log "(f) end-to-end capacity: $post_clients clients for ${capacity_s} s, whole pipeline running"
    measure_capacity
    max="$capacity_rate"
    if [[ "$max" == "-" ]]; then
        md "Not measured: the capacity run's orders were not all notified within 180 s." ""
        failures+=("(f) capacity run not drained")
        return 0
    fi
    if ! command -v sqlite3 >/dev/null 2>&1; then
        md "Not measured: sqlite3 (the command) is missing; scripts/lib.sh lists it." ""
        failures+=("(f) sqlite3 missing")
        return 0
    fi
    latency_max="$max"
    local dnote=""
    [[ "$post_rate" != "-" && "$drain_rate" != "-" ]] &&
        dnote="; (d)'s POST rate ($post_rate/s, nothing consuming) and drain rate ($drain_rate/s, nothing posting) are no rates the pipeline sustains end to end"
    log "(f) latency at ${latency_shares[*]} % of $max orders/s, ${latency_s} s each"
    md "Orders offered open-loop (\`orderflowctl load --rate\`, latency from each request's due" \
        "time) at ${latency_shares[*]} % of the whole pipeline's end-to-end capacity measured in" \
        "this run, **$max orders/s**: $capacity_orders orders POSTed by $post_clients closed-loop" \
        "clients for ${capacity_s} s with every service running, divided by the $capacity_s_taken s" \
        "from the first POST until the ingress had projected the last one's NotificationSent" \
        "(POSTs and consumers share the cores, as in any steady state$dnote)." \
        "${latency_s} s per rate, fresh services" \
        "and data each time, the whole pipeline running (ingress, inventory, notification)." \
        "\"Accepted -> notified\" is each order's time from its \`accepted\` to its \`notified\`" \
        "stage in the ingress's order history (the OrderPlaced's and the NotificationSent's" \
        "\`occurred_at\`, millisecond resolution), read from the ingress's store once every" \
        "accepted order was notified (waited up to 60 s); none is left out. CPU per order is" \
        "utime + stime of each process over the run and that wait; the kernel's part of it" \
        "(stime alone) in the last column." ""
    md "| offered | orders/s offered | accepted | POST p50 ms | POST p95 ms | POST p99 ms | POST max ms | notified | accepted -> notified p50 ms | p95 ms | p99 ms | max ms | CPU µs per order: broker / ingress / inventory / notification | of which kernel µs |" \
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
    echo "share,rate,accepted,post_p50_ms,post_p95_ms,post_p99_ms,post_max_ms,notified,e2e_p50_ms,e2e_p95_ms,e2e_p99_ms,e2e_max_ms,cpu_broker_us,cpu_ingress_us,cpu_inventory_us,cpu_notification_us" \
        >"$out/f-summary.csv"
    for share in "${latency_shares[@]}"; do
        rate=$((max * share / 100))
        ((rate > 0)) || rate=1
        name="f-$share"
        fresh_system "$big_seed"
        local -A cpu0=() us=() sys0=() sys=()
        for service in "${services[@]}"; do
            cpu0[$service]="$(cpu_ticks "${pid[$service]}")" sys0[$service]="$(sys_ticks "${pid[$service]}")"
        done
        cpu0[broker]="$(cpu_ticks "$broker_pid")" sys0[broker]="$(sys_ticks "$broker_pid")"
        status0="$(num "$(acked_total "$ingress")")"
        log "  $share %: $rate orders/s"
        load "$name-post" --url "$ingress/orders" --body "$order_body" --rate "$rate" --threads 2 \
            -d "$latency_s" --timeout 60000 || true
        expected="$(num "$(j "$out/$name-post.json" .successes)")"
        # Every accepted order's two events projected by the ingress: all are notified.
        deadline=$((SECONDS + 60))
        while (($(num "$(acked_total "$ingress")") < status0 + 2 * expected && SECONDS < deadline)); do
            sleep 0.1
        done
        for service in "${services[@]}"; do
            us[$service]="$(per_order "${cpu0[$service]}" "$(cpu_ticks "${pid[$service]}")" "$expected")"
            sys[$service]="$(per_order "${sys0[$service]}" "$(sys_ticks "${pid[$service]}")" "$expected")"
        done
        us[broker]="$(per_order "${cpu0[broker]}" "$(cpu_ticks "$broker_pid")" "$expected")"
        sys[broker]="$(per_order "${sys0[broker]}" "$(sys_ticks "$broker_pid")" "$expected")"
        # Per order: accepted -> notified, and its two hops (accepted -> reserved or rejected:
        # the ingress's publish, the broker, inventory's consumer up to its handler; then ->
        # notified: inventory's commit and ack, its outbox relay, the broker, notification).
        sqlite3 -readonly -separator ' ' -cmd '.timeout 5000' "$data_dir/ingress.db" \
            "SELECT CAST(round((julianday(n.at) - julianday(a.at)) * 86400000.0) AS INTEGER),
                    CAST(round((julianday(r.at) - julianday(a.at)) * 86400000.0) AS INTEGER),
                    CAST(round((julianday(n.at) - julianday(r.at)) * 86400000.0) AS INTEGER)
               FROM order_stages a JOIN order_stages n
                 ON n.order_id = a.order_id AND n.status = 'notified'
               JOIN order_stages r ON r.order_id = a.order_id AND r.status IN ('reserved', 'rejected')
              WHERE a.status = 'accepted'" >"$work/$name.hops" 2>>"$out/$name.err" ||
            failures+=("(f) could not read the order histories at $share %")
        cut -d' ' -f1 "$work/$name.hops" >"$work/$name.e2e"
        cut -d' ' -f2 "$work/$name.hops" >"$work/$name.hop1"
        cut -d' ' -f3 "$work/$name.hops" >"$work/$name.hop2"
        read -r -a stats < <(e2e_stats "$work/$name.e2e" "$out/$name-e2e.percentiles.csv")
        read -r -a hop1 < <(e2e_stats "$work/$name.hop1" "$work/$name-hop1.percentiles.csv")
        read -r -a hop2 < <(e2e_stats "$work/$name.hop2" "$work/$name-hop2.percentiles.csv")
        hops+=("| $share % | $rate | ${hop1[1]} / ${hop1[3]} / ${hop1[4]} | ${hop2[1]} / ${hop2[3]} / ${hop2[4]} |")
        ((stats[0] == expected)) || failures+=("(f) $share %: ${stats[0]} of $expected accepted orders notified")
        if [[ $share == 50 ]]; then
            latency_p99_half="${stats[3]}"
            latency_post_p99_half="$(ms "$(j "$out/$name-post.json" .latency_ms.p99)")"
        fi
        md "| $share % | $rate | $expected | $(ms "$(j "$out/$name-post.json" .latency_ms.p50)") | $(ms "$(j "$out/$name-post.json" .latency_ms.p95)") | $(ms "$(j "$out/$name-post.json" .latency_ms.p99)") | $(ms "$(j "$out/$name-post.json" .latency_ms.max)") | ${stats[0]} | ${stats[1]} | ${stats[2]} | ${stats[3]} | ${stats[4]} | ${us[broker]} / ${us[ingress]} / ${us[inventory]} / ${us[notification]} | ${sys[broker]} / ${sys[ingress]} / ${sys[inventory]} / ${sys[notification]} |"
        echo "$share,$rate,$expected,$(j "$out/$name-post.json" .latency_ms.p50),$(j "$out/$name-post.json" .latency_ms.p95),$(j "$out/$name-post.json" .latency_ms.p99),$(j "$out/$name-post.json" .latency_ms.max),${stats[0]},${stats[1]},${stats[2]},${stats[3]},${stats[4]},${us[broker]},${us[ingress]},${us[inventory]},${us[notification]}" \
            >>"$out/f-summary.csv"
    done
    md "" "Where the time goes, per hop (ms, p50 / p99 / max), from the same histories:" \
        "accepted -> reserved or rejected (the ingress's publish, the broker, inventory's consumer" \
        "up to its handler), then -> notified (inventory's commit and ack, its outbox relay's" \
        "publish with confirm, the broker, notification's consumer up to its handler)." "" \
        "| offered | orders/s | accepted -> reserved | reserved -> notified |" "|---|---|---|---|"
    md "${hops[@]}"
    md "" "Data: [f-summary.csv]($data_rel/f-summary.csv); per rate \`$data_rel/f-<share>-post.*\` (the load" \
        "tool's summary, seconds and percentiles) and \`$data_rel/f-<share>-e2e.percentiles.csv\`." ""
    local runs=()
    for share in "${latency_shares[@]}"; do runs+=("f-$share-post" "f-$share-e2e"); done
    plot_percentiles "f-latency" "POST latency and accepted -> notified at ${latency_shares[*]} % of $max orders/s" "${runs[@]}"
    [[ -s "$out/f-latency.svg" ]] && md "![latency at a fixed load]($data_rel/f-latency.svg)" ""
    return 0
}

wants a && section_a
wants b && section_b
wants c && section_c
wants d && section_d
wants f && section_f

# ---------------------------------------------------------------------------- (g) store

pg_bench_dir=""
pg_admin_url=""
# pg_ticks: CPU ticks of the bench's PostgreSQL so far (the postmaster and its backends).
pg_ticks() {
    local master total=0 child
    master="$(head -n1 "$pg_bench_dir/data/postmaster.pid" 2>/dev/null || true)"
    [[ -n "$master" ]] || { echo 0; return; }
    total="$(cpu_ticks "$master")"
    for child in $(ps -o pid= --ppid "$master"); do
        total=$((total + $(cpu_ticks "$child")))
    done
    echo "$total"
}
# new_pg_database NAME: a fresh database on the bench server; prints its URL.
new_pg_database() {
    runuser -u postgres -- /usr/lib/postgresql/15/bin/psql -X -q -h "$pg_bench_dir" \
        -p "$(cat "$pg_bench_dir/port")" -d postgres -c "CREATE DATABASE $1 OWNER orderflow" >/dev/null
    printf '%s\n' "${pg_admin_url%/*}/$1"
}
declare -A g_post=() g_rate=() g_inv_us=() g_pg_us=() g_broker_us=() g_ingress_us=()
# store_run LABEL DATABASE_URL REPLICAS: POST $drain_orders orders with inventory stopped
# (the POST rate), then drain them with REPLICAS inventory replicas alone (notification and
# ingress stopped), on SQLite (empty URL) or that PostgreSQL database.
store_run() {
    local label="$1" url="$2" replicas="$3" expected b0 p0 g0 deadline acked first="" last="" now
    local first_acked=0 i inv_ticks=0 r
    log "(g) $label: $drain_orders orders, $replicas inventory replica(s)"
    export ORDERFLOW_DATABASE_URL="$url"
    fresh_system "$big_seed"
    stop_service inventory
    b0="$(cpu_ticks "$broker_pid")" g0="$(cpu_ticks "${pid[ingress]}")" p0="$(pg_ticks)"
    load "g-$label-post" --url "$ingress/orders" --body "$order_body" -c 64 --threads 2 -n "$drain_orders" --timeout 60000 || true
    g_post[$label]="$(r0 "$(j "$out/g-$label-post.json" .success_rps)")"
    expected="$(num "$(j "$out/g-$label-post.json" .successes)")"
    g_ingress_us[$label]="$(per_order "$g0" "$(cpu_ticks "${pid[ingress]}")" "$expected")"
    stop_service notification
    stop_service ingress
    b0="$(cpu_ticks "$broker_pid")" p0="$(pg_ticks)"
    local -a urls=()
    for i in $(seq 1 "$replicas"); do
        r="inventory"
        if ((i > 1)); then
            r="inventory$i"
            port[$r]="$(free_port "${port[@]}")"
            printf '\n=== %s bench starts %s\n' "$(date -u +%FT%TZ)" "$r" >>"$logs/$r.log"
            env ORDERFLOW_HTTP_ADDR="127.0.0.1:${port[$r]}" ORDERFLOW_DATA_DIR="$data_dir/$r" \
                ORDERFLOW_SHUTDOWN_TIMEOUT_MS=5000 ORDERFLOW_INVENTORY_SEED="$data_dir/seed.json" \
                "$bin_dir/orderflow-inventory" </dev/null >>"$logs/$r.log" 2>&1 &
            pid[$r]=$!
        else
            start_service inventory ORDERFLOW_INVENTORY_SEED="$data_dir/seed.json"
        fi
        urls+=("http://127.0.0.1:${port[$r]}")
    done
    wait_for_acks "$expected" "${urls[@]}"
    g_broker_us[$label]="$(per_order "$b0" "$(cpu_ticks "$broker_pid")" "$expected")"
    g_pg_us[$label]="$([[ -n "$url" ]] && per_order "$p0" "$(pg_ticks)" "$expected" || echo -)"
    for r in inventory $(seq -f 'inventory%g' 2 "$replicas"); do
        [[ -n "${pid[$r]:-}" ]] && inv_ticks=$((inv_ticks + $(cpu_ticks "${pid[$r]}")))
    done
    g_inv_us[$label]="$(per_order 0 "$inv_ticks" "$expected")"
    if [[ -n "$first" && -n "$last" ]]; then
        g_rate[$label]="$(awk -v a="$first" -v b="$last" -v n="$((expected - first_acked))" \
            'BEGIN { printf "%.0f", (b > a) ? n / (b - a) : 0 }')"
    else
        g_rate[$label]="-"
        failures+=("(g) $label: backlog not drained in time")
    fi
    for r in $(seq -f 'inventory%g' 2 "$replicas") inventory; do stop_service "$r"; done
    unset ORDERFLOW_DATABASE_URL
}

section_g() {
    log "(g) the store: SQLite vs PostgreSQL, 1-3 inventory replicas"
    pg_bench_dir="$work/pg"
    chmod 711 "$work"  # the server runs as postgres, which must reach its directory
    pg_admin_url="$("$ORDERFLOW_ROOT/scripts/pg.sh" start --dir "$pg_bench_dir")" ||
        { failures+=("(g) PostgreSQL did not start"); return 0; }
    store_run sqlite "" 1
    local n
    for n in 1 2 3; do store_run "postgres-$n" "$(new_pg_database "bench_g$n")" "$n"; done
    md "## g. The store: SQLite vs PostgreSQL, inventory replicas" ""
    md "$drain_orders orders posted by 64 keep-alive clients with inventory stopped (the POST rate:"
    md "the ingress writes its projection to the store), then drained by inventory alone (notification"
    md "and ingress stopped), as in (d). PostgreSQL 15 is scripts/pg.sh's, on this machine (fsync on)."
    md "CPU per order: utime + stime over the drain (POST for the ingress), per accepted order." ""
    md "| run | POST /orders | ingress CPU/order (POST) | drain (inventory alone) | inventory CPU/order | PostgreSQL CPU/order | broker CPU/order |"
    md "|---|---|---|---|---|---|---|"
    for n in sqlite postgres-1 postgres-2 postgres-3; do
        md "| $n | ${g_post[$n]:--} orders/s | ${g_ingress_us[$n]:--} µs | ${g_rate[$n]:--} msg/s | ${g_inv_us[$n]:--} µs | ${g_pg_us[$n]:--} µs | ${g_broker_us[$n]:--} µs |"
    done
    md "" "PostgreSQL drain with one replica / SQLite drain: $(ratio "${g_rate[postgres-1]:--}" "${g_rate[sqlite]:--}") (target 0.7 or more)." ""
    "$ORDERFLOW_ROOT/scripts/pg.sh" stop --dir "$pg_bench_dir" >/dev/null 2>&1 || true
}

wants g && section_g

# ---------------------------------------------------------------------------- (h) node loss

# The node-loss experiment (issue 11): orders offered open-loop at one fixed rate while the
# broker node that leads the work queues is SIGKILLed, on the bench's single node (killed,
# then started again: the whole broker is that node) and on a 3-node cluster of
# scripts/cluster.sh (the services list all three nodes and fail over). Per second:
# accepted, 503 and other errors, p99 latency (orderflowctl load's per-second CSV).
cluster_bench_dir=""
declare -A h_capacity=() h_accepted=() h_503=() h_other=() h_window=() h_first=() h_last=()
declare -A h_before_rate=() h_before_p99=() h_p99=() h_max=() h_notified=() h_kill_at=()
declare -A h_killed=()
h_rate="-"
# h_services URL: the three services on a fresh data dir, all on broker URL (one or more nodes).
h_services() {
    local url="$1" name
    for name in "${services[@]}"; do stop_service "$name"; done
    run_id=$((run_id + 1))
    data_dir="$work/data.$run_id"
    mkdir -p "$data_dir"
    printf '%s\n' "$big_seed" >"$data_dir/seed.json"
    start_service inventory ORDERFLOW_AMQP_URL="$url" ORDERFLOW_INVENTORY_SEED="$data_dir/seed.json"
    start_service notification ORDERFLOW_AMQP_URL="$url"
    start_service ingress ORDERFLOW_AMQP_URL="$url"
    wait_ready inventory notification ingress
}
# h_notified: orders the ingress's history shows notified (its SQLite store).
h_notified_count() {
    sqlite3 -readonly -cmd '.timeout 5000' "$data_dir/ingress.db" \
        "SELECT COUNT(DISTINCT order_id) FROM order_stages WHERE status = 'notified'" 2>/dev/null || echo -
}
# h_run LABEL KILL_COMMAND...: the capacity (closed loop) once, then the open-loop run at
# $h_rate with KILL_COMMAND run $h_kill_s seconds into it; the services already run.
h_run() {
    local label="$1" t0 t1 expected deadline csv
    shift
    log "(h) $label: capacity, then open-loop for ${h_open_s} s, the kill at ${h_kill_s} s"
    load "h-$label-capacity" --url "$ingress/orders" --body "$order_body" -c 64 --threads 2 \
        -d "$h_capacity_s" --timeout 60000 || true
    h_capacity[$label]="$(r0 "$(j "$out/h-$label-capacity.json" .success_rps)")"
    # Let the backlog of the capacity run drain, so that the open-loop run starts quiet.
    deadline=$((SECONDS + (quick ? 30 : 120)))
    expected="$(num "$(j "$out/h-$label-capacity.json" .successes)")"
    while (($(num "$(h_notified_count)") < expected && SECONDS < deadline)); do sleep 0.5; done
    [[ "$h_rate" != "-" ]] || h_rate=$(($(num "${h_capacity[$label]}") * h_share / 100))
    ((h_rate > 0)) || h_rate=1
    t0="$(date +%s.%N)"
    load "h-$label-open" --url "$ingress/orders" --body "$order_body" --rate "$h_rate" --threads 2 \
        -d "$h_open_s" --timeout 30000 &
    local load_pid=$!
    sleep "$h_kill_s"
    t1="$(date +%s.%N)"
    "$@" >>"$logs/h-$label-kill.log" 2>&1 || warn "(h) $label: the kill command failed (see $logs/h-$label-kill.log)"
    h_kill_at[$label]="$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')"
    wait "$load_pid" || true
    csv="$out/h-$label-open.seconds.csv"
    [[ -s "$csv" ]] || { failures+=("(h) $label: no per-second data"); return 0; }
    h_accepted[$label]="$(num "$(j "$out/h-$label-open.json" .successes)")"
    # Seconds with any non-2xx answer or failure: the first and the last (1 s resolution).
    local u o first last before_rate before_p99
    read -r u o first last before_rate before_p99 < <(
        awk -F, -v kill="${h_kill_at[$label]}" 'NR > 1 {
                u += $7; o += $4 - $7
                if ($4 > 0) { if (first == "") first = $1; last = $1 }
                if ($1 + 1 <= kill && $1 >= 1) { n++; acc += $3; if ($6 > p) p = $6 }
            }
            END { printf "%d %d %s %s %.0f %.1f\n", u, o, (first == "" ? "-" : first),
                  (last == "" ? "-" : last), (n ? acc / n : 0), p }' "$csv")
    h_503[$label]="$u" h_other[$label]="$o" h_first[$label]="$first" h_last[$label]="$last"
    h_before_rate[$label]="$before_rate" h_before_p99[$label]="$before_p99"
    if [[ "${h_first[$label]}" == "-" ]]; then
        h_window[$label]="0 s (no error)"
    else
        h_window[$label]="$((h_last[$label] - h_first[$label] + 1)) s (seconds ${h_first[$label]}-${h_last[$label]})"
    fi
    h_p99[$label]="$(ms "$(j "$out/h-$label-open.json" .latency_ms.p99)")"
    h_max[$label]="$(ms "$(j "$out/h-$label-open.json" .latency_ms.max)")"
    # Every accepted order (both runs) reaches notified: nothing lost to the kill.
    expected=$((expected + h_accepted[$label]))
    deadline=$((SECONDS + (quick ? 30 : 120)))
    while (($(num "$(h_notified_count)") < expected && SECONDS < deadline)); do sleep 0.5; done
    h_notified[$label]="$(h_notified_count) of $expected"
    (($(num "$(h_notified_count)") >= expected)) || failures+=("(h) $label: accepted orders not all notified")
    h_plot "$label"
}
h_plot() {
    local label="$1"
    [[ $have_gnuplot == 1 ]] || return 0
    gnuplot <<GNUPLOT 2>>"$out/gnuplot.err" || warn "gnuplot failed for h-$label"
set terminal svg size 900,500 dynamic background '#ffffff'
set output '$out/h-$label.svg'
set datafile separator ','
set title 'node loss, $label: $h_rate orders/s offered, SIGKILL of ${h_killed[$label]} at ${h_kill_at[$label]} s'
set xlabel 'second of the run'
set ylabel 'answers per second'
set y2label 'p99 latency (ms, log)'
set logscale y2
set ytics nomirror
set y2tics
set grid
set key left top
set arrow from ${h_kill_at[$label]}, graph 0 to ${h_kill_at[$label]}, graph 1 nohead dt 2 lc rgb '#aa0000'
plot '$out/h-$label-open.seconds.csv' using 1:3 skip 1 with lines lw 2 title 'accepted/s', \
     '' using 1:7 skip 1 with lines lw 2 title '503/s', \
     '' using 1:(\$4 - \$7) skip 1 with lines lw 1 title 'other errors/s', \
     '' using 1:(\$6 > 0 ? \$6 : 1/0) skip 1 axes x1y2 with lines lw 1 title 'p99 ms'
GNUPLOT
}

section_h() {
    log "(h) node loss: the single node, then a 3-node cluster"
    if ! command -v sqlite3 >/dev/null 2>&1; then
        md "## h. Losing a broker node under load" "" "Not measured: sqlite3 (the command) is missing." ""
        failures+=("(h) sqlite3 missing")
        return 0
    fi
    # The single node: killed, then started again at once (its data and ports kept).
    h_services "$ORDERFLOW_AMQP_URL"
    h_killed[single]="the node"
    h_run single bash -c "kill -KILL $broker_pid; while kill -0 $broker_pid 2>/dev/null; do sleep 0.05; done
        ORDERFLOW_BROKER_PICK_FREE_PORTS=0 '$ORDERFLOW_ROOT/scripts/broker.sh' start --dir '$broker_dir'"
    broker_pid="$(tr -dc '0-9' <"$broker_dir/rabbitmq.pid")"

    # The cluster: started now, queues declared by the services once every node has joined.
    cluster_bench_dir="$work/cluster"
    log "(h) starting a 3-node cluster in $cluster_bench_dir (a minute or two)"
    if ! ORDERFLOW_CLUSTER_NAME="orderflow-bench-${work##*.}" "$ORDERFLOW_ROOT/scripts/cluster.sh" start \
        --dir "$cluster_bench_dir" --nodes 3 >>"$logs/cluster.log" 2>&1; then
        failures+=("(h) the cluster did not start")
        md "## h. Losing a broker node under load" "" "Not measured on the cluster: it did not start (see the bench directory's logs)." ""
        return 0
    fi
    local env_file="$cluster_bench_dir/cluster.env" cluster_url leader node n
    cluster_url="$(sed -n 's/^ORDERFLOW_AMQP_URL=//p' "$env_file")"
    h_services "$cluster_url"
    leader="$(curl -fsS --max-time 10 "$(sed -n 's/^ORDERFLOW_MGMT_URL=//p' "$env_file")/api/queues/%2f/inventory.order-placed" |
        jq -r '.leader // empty' || true)"
    node=""
    for n in 1 2 3; do
        [[ "$(sed -n "s/^ORDERFLOW_CLUSTER_NODE_$n=//p" "$env_file")" == "$leader" ]] && node="$n"
    done
    if [[ -z "$node" ]]; then
        failures+=("(h) the leader of inventory.order-placed is unknown")
        node=1
    fi
    h_killed[cluster]="node $node (leader of inventory.order-placed)"
    h_run cluster "$ORDERFLOW_ROOT/scripts/cluster.sh" kill "$node" --dir "$cluster_bench_dir"
    for name in "${services[@]}"; do stop_service "$name"; done
    "$ORDERFLOW_ROOT/scripts/cluster.sh" stop --dir "$cluster_bench_dir" >>"$logs/cluster.log" 2>&1 ||
        warn "could not stop the bench cluster in $cluster_bench_dir"
    cluster_bench_dir=""

    md "## h. Losing a broker node under load" ""
    md "The same services (ingress, inventory, notification, fresh data) on the bench's single node and" \
        "then on a 3-node cluster (scripts/cluster.sh, the services list all three nodes). On each: the" \
        "capacity (POST /orders, 64 keep-alive clients, ${h_capacity_s} s), then orders offered open-loop" \
        "at $h_rate orders/s (${h_share} % of the single node's capacity, the same on both) for ${h_open_s} s," \
        "with a SIGKILL ${h_kill_s} s in: of the node on its own (then started again at once: the data" \
        "survives, the broker is away meanwhile), and on the cluster of the node leading" \
        "\`inventory.order-placed\` (the declaring services were connected to it, so it leads most queues)." \
        "The window is the first to the last second with any answer that is not 2xx (1 s resolution);" \
        "latency counts from each request's due time." ""
    md "| setup | node killed | capacity orders/s | offered/s | accepted | 503s | other errors | window of errors | accepted/s before the kill | p99 before the kill ms (worst second) | p99 whole run ms | max ms | notified |" \
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
    local label
    for label in single cluster; do
        md "| $label | ${h_killed[$label]:--} at ${h_kill_at[$label]:--} s | ${h_capacity[$label]:--} | $h_rate | ${h_accepted[$label]:--} | ${h_503[$label]:--} | ${h_other[$label]:--} | ${h_window[$label]:--} | ${h_before_rate[$label]:--} | ${h_before_p99[$label]:--} | ${h_p99[$label]:--} | ${h_max[$label]:--} | ${h_notified[$label]:--} |"
    done
    md "" "Cluster capacity / single node capacity: $(ratio "${h_capacity[cluster]:--}" "${h_capacity[single]:--}")." ""
    md "Data: \`$data_rel/h-<setup>-{capacity,open}.*\` (the load tool's summary and per-second CSV:" \
        "second,requests,successes,errors,p50_ms,p99_ms,status_503)." ""
    for label in single cluster; do
        [[ -s "$out/h-$label.svg" ]] && md "![node loss, $label]($data_rel/h-$label.svg)" ""
    done
    return 0
}

wants h && section_h

# ---------------------------------------------------------------------------- summary

{
    echo "# orderflow bench, $date_tag"
    echo
    echo "Command: \`scripts/bench.sh${bench_args:+ $bench_args}\` (BUILD_DIR=$BUILD_DIR), started $started_at, took $((SECONDS - start_seconds)) s."
    [[ $quick == 1 ]] && echo "**Quick run**: every experiment shrunk; the figures are a smoke test, not a benchmark."
    echo
    echo "## Machine"
    echo
    echo "| | |"
    echo "|---|---|"
    echo "| CPUs (nproc) | $(nproc) |"
    echo "| CPU model | $cpu_model |"
    echo "| RAM | $mem_total |"
    echo "| kernel | $(uname -r) |"
    echo "| RabbitMQ | $rabbit_version, one node started by the bench, loopback only |"
    echo "| load average at start | $load_before (other work on the machine shares these cores) |"
    echo "| API keys on the ingress (--api-keys) | $([[ $api_keys == 1 ]] && echo "on: every order carries a bearer key" || echo off) |"
    echo "| build | $(grep -m1 '^CMAKE_BUILD_TYPE' "$(build_dir_path "$BUILD_DIR")/CMakeCache.txt" 2>/dev/null | cut -d= -f2) |"
    echo
    echo "Everything (broker, three services, load generator) shares the machine. The analytics"
    echo "service runs only in (d)'s console drains. Services log one line per request and message (the default)."
    echo
    echo "## Headline"
    echo
    echo "| figure | measured | target | ratio to the broker's own rate (e) |"
    echo "|---|---|---|---|"
    echo "| broker: publish with confirms to a quorum queue (e) | $broker_pub msg/s | | 1 |"
    echo "| broker: publish with confirms to a quorum queue and a stream, the route of order.placed (e) | $broker_pub_stream msg/s | | 1 |"
    echo "| broker: consume with acks (e) | $broker_con msg/s | | 1 |"
    echo "| broker: publish exactly as the ingress does, at most $post_clients in flight (e) | $broker_pub_ingress msg/s | | 1 |"
    echo "| POST /orders accepted, $post_clients keep-alive clients, inventory stopped (d) | $post_rate orders/s | 0.8 of the line above | **$(ratio "$post_rate" "$broker_pub_ingress")** of publishing as the ingress does ($(ratio "$post_rate" "$broker_pub_stream") of publish to queue and stream) |"
    echo "| inventory drain, full exactly-once path, whole pipeline running (d) | $drain_rate msg/s | 10,000 | $(ratio "$drain_rate" "$broker_con") of consume |"
    echo "| inventory drain, full exactly-once path, inventory alone (d) | $alone_rate msg/s | 10,000 | $(ratio "$alone_rate" "$broker_con") of consume |"
    echo "| drain with the console open in Chromium / closed, medians of $console_rounds round(s) (d) | $console_ratio ($console_on / $console_off msg/s); median of the rounds' ratios $console_paired | at least 0.95 | |"
    echo "| analytics peak RSS, 15 minutes of history at $console_fill_rate orders/s (d) | $console_hwm MiB | under 64 MiB | |"
    echo "| flash sale oversells (c) | $oversells | 0 | |"
    echo "| accepted -> notified p99 at 50 % of the end-to-end capacity ($latency_max orders/s), whole pipeline (f) | $latency_p99_half ms (POST p99 $latency_post_p99_half ms) | 25 ms | |"
    echo
    if [[ ${#failures[@]} -gt 0 ]]; then
        echo "**Problems in this run:** ${failures[*]}"
        echo
    fi
    if wants e; then
        echo "## e. The broker's own rates"
        echo
        echo "\`orderflowctl broker-bench --messages $broker_messages\`: persistent messages of an OrderPlaced's"
        echo "size published with confirms (window 4096) through src/broker's Publisher to a fresh quorum"
        echo "queue, then consumed through its Consumer (prefetch 200, batches of 200 acked at once):"
        echo "the same code paths as the services, without HTTP, JSON or SQLite."
        echo
        echo "With \`--stream\` every message goes through \`amq.topic\` to the queue and to a fresh"
        echo "stream as well, the route an OrderPlaced takes (\`inventory.order-placed\` and"
        echo "\`orders.events\`). Broker CPU is the beam.smp node's utime + stime over the run"
        echo "(publish, consume, declare and delete), per message."
        echo
        echo "| messages | route | publish with confirms | consume with acks | broker CPU per message |"
        echo "|---|---|---|---|---|"
        echo "| $broker_messages | quorum queue | $broker_pub msg/s | $broker_con msg/s | $broker_us µs |"
        echo "| $broker_messages | quorum queue + stream | $broker_pub_stream msg/s | $broker_con_stream msg/s | $broker_us_stream µs |"
        echo "| $broker_messages | as the ingress, at most $post_clients in flight | $broker_pub_ingress msg/s | $broker_con_ingress msg/s | $broker_us_ingress µs |"
        echo "| $broker_one_messages | as the ingress, 1 in flight | $broker_pub_one msg/s | $broker_con_one msg/s | $broker_us_one µs |"
        echo
        echo "The last row is the fair ceiling of POST /orders (\`--as-ingress --in-flight $post_clients\`):"
        echo "every message published exactly as the ingress publishes an OrderPlaced (through a topic"
        echo "exchange to a quorum queue declared as \`inventory.order-placed\` and to a stream declared"
        echo "as \`orders.events\`, a fresh event body and ids, the same properties and \`traceparent\`"
        echo "header, persistent, mandatory), with no more messages awaiting a confirm than the POST"
        echo "run (d) has clients, each of which waits for its answer before the next order. With one"
        echo "message in flight (the row below it) each message's publish, confirm, queue append and"
        echo "stream write is a round of its own, as when orders arrive evenly spaced at a moderate"
        echo "rate (section f): the broker's CPU per message at 1 in flight over that at $post_clients is"
        echo "**$(ratio "$broker_us_one" "$broker_us_ingress")**."
        echo
    fi
    cat "$report.tmp"
} >"$report"
rm -f "$report.tmp"
# A machine-readable digest for the ctest and for comparisons between runs.
jq -n --arg quick "$quick" --arg sync "$sync_available" --arg pub "$broker_pub" --arg con "$broker_con" \
    --arg pub_stream "$broker_pub_stream" --arg broker_us "$broker_us" --arg broker_us_stream "$broker_us_stream" \
    --arg post_broker_us "${post_us[broker]}" --arg post_ingress_us "${post_us[ingress]}" \
    --arg drain_broker_us "${drain_us[broker]}" --arg alone "$alone_rate" \
    --arg pub_ingress "$broker_pub_ingress" --arg broker_us_ingress "$broker_us_ingress" \
    --arg broker_us_one "$broker_us_one" \
    --arg post_broker_sys "${post_sys[broker]}" --arg post_ingress_sys "${post_sys[ingress]}" \
    --arg drain_broker_sys "${drain_sys[broker]}" --arg drain_ingress_sys "${drain_sys[ingress]}" \
    --arg drain_inventory_sys "${drain_sys[inventory]}" --arg drain_notification_sys "${drain_sys[notification]}" \
    --arg latency_max "$latency_max" --arg e2e_p99_half "$latency_p99_half" \
    --arg drain_ingress_us "${drain_us[ingress]}" --arg drain_inventory_us "${drain_us[inventory]}" \
    --arg drain_notification_us "${drain_us[notification]}" \
    --arg post "$post_rate" --arg drain "$drain_rate" --arg over "$oversells" \
    --arg console_ratio "$console_ratio" --arg console_hwm "$console_hwm" \
    --arg console_paired "$console_paired" --arg console_chromium "$console_chromium" \
    --argjson failures "$(printf '%s\n' "${failures[@]}" | jq -R . | jq -s 'map(select(. != ""))')" \
    '{quick: ($quick == "1"), sync_available: ($sync == "1"), broker_publish_rate: $pub,
      broker_consume_rate: $con, broker_publish_stream_rate: $pub_stream,
      broker_cpu_us: $broker_us, broker_stream_cpu_us: $broker_us_stream,
      post_cpu_us: {broker: $post_broker_us, ingress: $post_ingress_us},
      drain_broker_cpu_us: $drain_broker_us,
      drain_cpu_us: {broker: $drain_broker_us, ingress: $drain_ingress_us,
                     inventory: $drain_inventory_us, notification: $drain_notification_us},
      post_orders_rate: $post, drain_rate: $drain,
      drain_alone_rate: $alone, broker_publish_ingress_rate: $pub_ingress,
      broker_ingress_cpu_us: $broker_us_ingress, broker_ingress_one_in_flight_cpu_us: $broker_us_one,
      post_kernel_us: {broker: $post_broker_sys, ingress: $post_ingress_sys},
      drain_kernel_us: {broker: $drain_broker_sys, ingress: $drain_ingress_sys,
                        inventory: $drain_inventory_sys, notification: $drain_notification_sys},
      latency_max_rate: $latency_max,
      e2e_p99_ms_at_half: $e2e_p99_half,
      console_drain_ratio: $console_ratio, console_drain_paired_ratio: $console_paired,
      console_chromium_pct: $console_chromium, analytics_peak_mib: $console_hwm,
      oversells: $over, failures: $failures}' >"$out/summary.json"
log "report: $report"
[[ ${#failures[@]} -eq 0 ]] || { warn "problems: ${failures[*]}"; exit 1; }
