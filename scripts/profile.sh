#!/usr/bin/env bash
# CPU per order of our own processes, counted in instructions: the three services run under
# valgrind's callgrind (instruction counts are repeatable on a busy machine, unlike seconds;
# `perf stat` has no counters on some VMs) on a RabbitMQ node of its own, and orders are
# offered open-loop through the whole pipeline. Counting starts once every service is ready
# and 20 warm-up orders went through, and stops when the ingress has projected the last
# order's NotificationSent, so start-up is left out; each service's total is divided by the
# orders accepted. Note that callgrind counts each iteration of a `rep stos`/`rep movs` as one
# instruction, so large memset/memcpy (SQLite zeroing its pages) weigh more than they cost.
#
# With --perf the services run natively instead, and the same window is measured in
# seconds: utime and stime per order of the broker and each service (/proc), and each
# service's threads' shares of its CPU (`perf record -e cpu-clock` on each service; the
# threads are named http, publisher, consumer, outbox-relay, store-writer).
#
#   scripts/profile.sh [--orders N] [--rate R] [--out DIR]
#   scripts/profile.sh --perf [--orders N] [--rate R] [--out DIR]
#
#   --orders N   orders to post (default 1000; with --perf 20000)
#   --rate R     orders per second, open loop (default 50, as valgrind runs ~50x slower;
#                with --perf 1000)
#   --out DIR    where the callgrind files go (default .run/profile.<id>/); read them with
#                callgrind_annotate DIR/callgrind.<service>.out; with --perf perf.<service>.data
#                (perf report -i DIR/perf.ingress.data --sort comm,sym)
#   BUILD_DIR    build directory (default build); nothing is built here
#
# Prints one line per service: instructions per order (with --perf: CPU per order, user and
# kernel, and the shares of its threads).
set -euo pipefail

# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

orders=""
rate=""
out_dir=""
perf_mode=0
while [[ $# -gt 0 ]]; do
    case "$1" in
        --perf) perf_mode=1 ;;
        --orders) orders="${2:?--orders needs a number}"; shift ;;
        --rate) rate="${2:?--rate needs a number}"; shift ;;
        --out) out_dir="${2:?--out needs a directory}"; shift ;;
        -h | --help)
            sed -n '2,27p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
            exit 0
            ;;
        *) echo "usage: scripts/profile.sh [--perf] [--orders N] [--rate R] [--out DIR]" >&2; exit 2 ;;
    esac
    shift
done

if [[ $perf_mode == 1 ]]; then
    orders="${orders:-20000}" rate="${rate:-1000}"
    tools=(perf curl jq)
else
    orders="${orders:-1000}" rate="${rate:-50}"
    tools=(valgrind callgrind_control curl jq)
fi
export BUILD_DIR="${BUILD_DIR:-build}"
bin_dir="$(build_dir_path "$BUILD_DIR")/bin"
for tool in "${tools[@]}"; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool is needed (scripts/lib.sh lists the packages)"
done
mkdir -p "$ORDERFLOW_ROOT/.run"
work="$(mktemp -d "$ORDERFLOW_ROOT/.run/profile.XXXXXX")"
out_dir="${out_dir:-$work}"
mkdir -p "$out_dir"
services=(inventory notification ingress)
declare -A pid=() port=()
broker_started=0

# shellcheck disable=SC2317  # reached through the EXIT trap
cleanup() {
    local rc=$? name
    trap - EXIT INT TERM
    for name in "${services[@]}"; do
        [[ -n "${pid[$name]:-}" ]] && kill -TERM "${pid[$name]}" 2>/dev/null
    done
    for name in "${services[@]}"; do
        [[ -n "${pid[$name]:-}" ]] && wait "${pid[$name]}" 2>/dev/null
    done
    [[ $broker_started == 1 ]] && "$ORDERFLOW_ROOT/scripts/broker.sh" stop --dir "$work/broker" >/dev/null 2>&1
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

log "starting a broker of its own in $work/broker"
broker_started=1
start_private_broker "$work/broker" "orderflow-profile-${work##*.}"
export ORDERFLOW_AMQP_URL="amqp://guest:guest@127.0.0.1:${private_amqp_port}/%2f"
used=("$private_amqp_port" "$private_mgmt_port" "$private_dist_port" "$private_stream_port")
for name in "${services[@]}"; do
    port[$name]="$(free_port "${used[@]}")"
    used+=("${port[$name]}")
done
export ORDERFLOW_INVENTORY_URL="http://127.0.0.1:${port[inventory]}"
export ORDERFLOW_NOTIFICATION_URL="http://127.0.0.1:${port[notification]}"
mkdir -p "$work/data"
echo '{"burger": 100000000}' >"$work/data/seed.json"
for name in "${services[@]}"; do
    runner=(valgrind --tool=callgrind --instr-atstart=no
        --callgrind-out-file="$out_dir/callgrind.$name.out")
    [[ $perf_mode == 1 ]] && runner=()
    env ORDERFLOW_HTTP_ADDR="127.0.0.1:${port[$name]}" ORDERFLOW_DATA_DIR="$work/data" \
        ORDERFLOW_INVENTORY_SEED="$work/data/seed.json" \
        "${runner[@]}" "$bin_dir/orderflow-$name" </dev/null >"$work/$name.log" 2>&1 &
    pid[$name]=$!
done
for name in "${services[@]}"; do
    wait_http "http://127.0.0.1:${port[$name]}/readyz" 180 ||
        die "$name not ready (log: $work/$name.log)"
done
# acked: messages the ingress's order-status consumer has acked (two per notified order).
acked() {
    curl -fsS --max-time 10 "http://127.0.0.1:${port[ingress]}/metrics" 2>/dev/null |
        awk '/^orderflow_messages_acked_total/ { s += $NF } END { print s + 0 }'
}
# Warm-up, not counted: the first order builds what each process makes once (the compiled
# JSON schemas, prepared statements, connections to the stores), which is no per-order cost.
warmup=20
"$bin_dir/orderflowctl" load --url "http://127.0.0.1:${port[ingress]}/orders" -c 1 -n "$warmup" \
    --body '{"user_id":"warmup{{seq}}","items":{"burger":1}}' --json >"$work/warmup.json"
deadline=$((SECONDS + 120))
until (($(acked) >= 2 * warmup)); do
    ((SECONDS < deadline)) || die "the pipeline did not finish the warm-up orders in time"
    sleep 0.5
done
acked0="$(acked)"
broker_pid="$(tr -dc '0-9' <"$work/broker/rabbitmq.pid")"
# ticks PID: utime and stime so far (fields 14 and 15 of /proc/PID/stat).
ticks() { awk '{ print $14, $15 }' "/proc/$1/stat"; }
declare -A ticks0=()
perf_pids=()
if [[ $perf_mode == 1 ]]; then
    ticks0[broker]="$(ticks "$broker_pid")"
    for name in "${services[@]}"; do
        ticks0[$name]="$(ticks "${pid[$name]}")"
        perf record -F 999 -e cpu-clock -g -o "$out_dir/perf.$name.data" -p "${pid[$name]}" \
            >"$work/perf.$name.log" 2>&1 &
        perf_pids+=($!)
    done
else
    for name in "${services[@]}"; do callgrind_control --instr=on "${pid[$name]}" >/dev/null 2>&1; done
fi
log "posting $orders orders at $rate/s"
"$bin_dir/orderflowctl" load --url "http://127.0.0.1:${port[ingress]}/orders" --rate "$rate" \
    -n "$orders" --body '{"user_id":"profile{{seq}}","items":{"burger":1}}' --json \
    >"$work/load.json"
accepted="$(jq -r '.successes' "$work/load.json")"
deadline=$((SECONDS + 300))
until (($(acked) >= acked0 + 2 * accepted)); do
    ((SECONDS < deadline)) || die "the pipeline did not finish $accepted orders in time"
    sleep 0.5
done
if [[ $perf_mode == 1 ]]; then
    declare -A ticks1=()
    ticks1[broker]="$(ticks "$broker_pid")"
    for name in "${services[@]}"; do ticks1[$name]="$(ticks "${pid[$name]}")"; done
    for p in "${perf_pids[@]}"; do kill -INT "$p" 2>/dev/null || true; done
    for p in "${perf_pids[@]}"; do wait "$p" 2>/dev/null || true; done
    hz="$(getconf CLK_TCK)"
    echo "orders accepted: $accepted (offered $orders at $rate/s, $(jq -r '.success_rps | floor' "$work/load.json")/s" \
        "accepted, POST p99 $(jq -r '.latency_ms.p99' "$work/load.json") ms); perf files in $out_dir"
    for name in broker "${services[@]}"; do
        read -r u0 s0 <<<"${ticks0[$name]}"
        read -r u1 s1 <<<"${ticks1[$name]}"
        threads=""
        if [[ $name != broker ]]; then
            # Each thread's share of the service's samples: "http 42 %, consumer 29 %, ...".
            threads="$(perf report -i "$out_dir/perf.$name.data" --no-children --sort comm -g none --stdio 2>/dev/null |
                awk '/%/ && $1 ~ /%$/ { sub(/%$/, "", $1); s[$2] += $1 }
                     END { for (t in s) printf "%s %.0f %%\n", t, s[t] }' | sort -k2 -nr | paste -sd, - |
                sed 's/,/, /g')"
        fi
        awk -v n="$name" -v u="$((u1 - u0))" -v s="$((s1 - s0))" -v hz="$hz" -v a="$accepted" -v t="$threads" \
            'BEGIN { printf "%-13s %5.0f us CPU per order: user %4.0f, kernel %4.0f%s\n", n,
                     1e6 * (u + s) / hz / a, 1e6 * u / hz / a, 1e6 * s / hz / a,
                     (t == "" ? "" : "; threads: " t) }'
    done
    exit 0
fi
for name in "${services[@]}"; do
    callgrind_control --dump=orders "${pid[$name]}" >/dev/null 2>&1
    callgrind_control --instr=off "${pid[$name]}" >/dev/null 2>&1
done
sleep 1
echo "orders accepted: $accepted (offered $orders at $rate/s); callgrind files in $out_dir"
for name in "${services[@]}"; do
    file="$out_dir/callgrind.$name.out.1"  # the first dump; the exit writes callgrind.$name.out
    total="$(awk '/^(summary|totals):/ { print $2; exit }' "$file")"
    awk -v n="$name" -v t="$total" -v a="$accepted" -v f="$file" \
        'BEGIN { printf "%-13s %12.0f instructions per order (%s)\n", n, t / a, f }'
done
