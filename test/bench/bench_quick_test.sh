#!/usr/bin/env bash
# ctest "bench": runs `scripts/bench.sh --quick` against the binaries of BUILD_DIR into a
# temporary output directory, then checks that the report exists, has every section, and
# that its numbers are sane: positive rates and zero oversells in the flash sale.
#
#   test/bench/bench_quick_test.sh BUILD_DIR
set -euo pipefail

build_dir="${1:?usage: bench_quick_test.sh BUILD_DIR}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

# fail REASON: the report, then the reason as the last line (the tail is what a CI log keeps);
# the output directory stays for inspection.
fail() {
    [[ -z "${report:-}" || ! -f "$report" ]] || cat "$report" >&2
    echo "bench_quick_test: FAILED: $* (output kept in $out)" >&2
    trap - EXIT
    exit 1
}

status=0
BUILD_DIR="$build_dir" "$root/scripts/bench.sh" --quick --out "$out" || status=$?
shopt -s nullglob
reports=("$out"/*.md)
[[ ${#reports[@]} -eq 1 ]] || fail "expected one report in $out, found ${#reports[@]}"
report="${reports[0]}"
data="${report%.md}"
[[ $status -eq 0 ]] ||
    fail "scripts/bench.sh --quick exited with $status; problems: $(jq -c .failures "$data/summary.json" 2>/dev/null || echo '(no summary)')"

for heading in '## Machine' '## Headline' "## 0. The load generator's ceiling" \
    '## a. Sync vs async' '## b. Sync vs async at 250 and 500' '## c. Flash sale' \
    '## d. Backlog drain' "## e. The broker's own rates" '## f. End-to-end latency at a fixed load'; do
    grep -qF -- "$heading" "$report" || fail "the report has no '$heading' section"
done
grep -qE '^\| CPUs \(nproc\) \| [0-9]+ \|' "$report" || fail "the machine table has no CPU count"
grep -qE '^\| RabbitMQ \| [0-9]+\.[0-9]+' "$report" || fail "the machine table has no RabbitMQ version"

summary="$data/summary.json"
[[ -s "$summary" ]] || fail "no $summary"
positive() {
    jq -e --arg k "$1" '.[$k] | tonumber? // 0 | . > 0' "$summary" >/dev/null ||
        fail "$1 is not a positive number: $(jq -c --arg k "$1" '.[$k]' "$summary")"
}
positive broker_publish_rate
positive broker_consume_rate
positive post_orders_rate
positive drain_rate
positive broker_publish_ingress_rate
positive latency_max_rate
positive console_drain_ratio
# (d): analytics with 15 minutes of history stays under 64 MiB (the bench also lists it as a
# problem); a drain with the console open in Chromium (the bench waits for two polls of
# the page before it starts that drain, else it lists a problem) and Chromium's CPU.
jq -e '.analytics_peak_mib | tonumber? // 99 | . > 0 and . < 64' "$summary" >/dev/null ||
    fail "analytics' peak RSS: $(jq -c .analytics_peak_mib "$summary")"
grep -qE '^\| 1 \| on \| [0-9]+ \| [0-9]+ msg/s \| .* \| [0-9]+ % \| [0-9]+ \|$' "$report" ||
    fail "no (d) row of a drain with the console open"
# (f): a row per offered share, every accepted order notified (section f checks that too, as
# a failure), and a latency that is a number.
for share in 25 50 75; do
    grep -qE "^\| $share % \| [0-9]+ \| [0-9]+ \|" "$report" || fail "no (f) row for $share %"
done
jq -e '.e2e_p99_ms_at_half | tonumber? // -1 | . >= 0' "$summary" >/dev/null ||
    fail "no accepted -> notified p99 at 50 %: $(jq -c .e2e_p99_ms_at_half "$summary")"
jq -e '.oversells == "0"' "$summary" >/dev/null ||
    fail "the flash sale oversold: $(jq -c .oversells "$summary")"
jq -e '.failures == []' "$summary" >/dev/null || fail "problems: $(jq -c .failures "$summary")"

# The flash sale row: every buyer accepted, exactly the 100 units reserved, stock 0.
row="$(grep -E '^\| 1000 \| ' "$report" | head -n 1)"
[[ -n "$row" ]] || fail "no flash sale row"
IFS='|' read -r _ buyers accepted reserved rejected stock _ <<<"$row"
[[ "${reserved// /}" == 100 ]] || fail "flash sale reserved ${reserved// /}, not 100"
[[ "${stock// /}" == 0 ]] || fail "flash sale left stock ${stock// /}, not 0"
((${reserved// /} + ${rejected// /} == ${accepted// /})) || fail "reserved + rejected != accepted"
: "$buyers"

# The drain CSV has samples, and the plots exist when gnuplot does.
[[ $(wc -l <"$data/d-drain.csv") -ge 2 ]] || fail "the drain curve has no samples"
if command -v gnuplot >/dev/null 2>&1; then
    for plot in d-drain.svg a-latency.svg b-latency.svg f-latency.svg; do
        [[ -s "$data/$plot" ]] || fail "no plot $plot"
        grep -qF "$(basename "$data")/$plot" "$report" || fail "the report does not link $plot"
    done
fi
echo "bench_quick_test: ok ($report)"
