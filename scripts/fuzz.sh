#!/usr/bin/env bash
# Builds the libFuzzer targets of fuzz/ with clang (ASan + UBSan) into build-fuzz and runs
# each for a bounded time on its corpus (fuzz/corpus/<target>). Fails when a target crashes,
# leaks or breaks one of its invariants; the input that did it is left in build-fuzz/crashes/.
#
#   scripts/fuzz.sh                      every target, 60 s each
#   scripts/fuzz.sh --seconds 10         a shorter run
#   scripts/fuzz.sh http_request         only that target (http_request, order_request, event_decode)
#   scripts/fuzz.sh --merge              afterwards, merge new interesting inputs into fuzz/corpus
#
# New inputs found during a run go to build-fuzz/new-corpus/<target>, never straight into the
# repository; --merge adds only those that increase coverage (libFuzzer -merge=1).
# BUILD_DIR chooses the build directory (default build-fuzz); CXX the compiler (clang++-19).
set -euo pipefail

# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

all_targets=(http_request order_request event_decode)
seconds=60
merge=0
targets=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        --seconds)
            [[ $# -ge 2 && "$2" =~ ^[0-9]+$ ]] || die "--seconds needs a number"
            seconds="$2"
            shift
            ;;
        --seconds=*)
            seconds="${1#--seconds=}"
            [[ "$seconds" =~ ^[0-9]+$ ]] || die "--seconds needs a number"
            ;;
        --merge) merge=1 ;;
        -h | --help)
            sed -n '2,14p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
            exit 0
            ;;
        -*) die "unknown option $1 (see --help)" ;;
        *)
            [[ " ${all_targets[*]} " == *" $1 "* ]] || die "unknown target $1 (${all_targets[*]})"
            targets+=("$1")
            ;;
    esac
    shift
done
[[ ${#targets[@]} -gt 0 ]] || targets=("${all_targets[@]}")

# Debian 12's clang 14 cannot compile libstdc++ 12's std::expected; clang 19 (bookworm) can.
cxx="${CXX:-clang++-19}"
if ! command -v "$cxx" >/dev/null 2>&1 || [[ ! -d /usr/lib/llvm-19/lib/clang ]]; then
    ensure_packages build
    mapfile -t missing < <(missing_packages clang-19 libclang-rt-19-dev)
    if [[ ${#missing[@]} -gt 0 ]]; then
        log "installing ${missing[*]}"
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
            "${missing[@]}"
    fi
fi

build_dir="$(build_dir_path "${BUILD_DIR:-build-fuzz}")"
log "configuring $build_dir with $cxx"
cmake -S "$ORDERFLOW_ROOT" -B "$build_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_COMPILER="$cxx" -DORDERFLOW_FUZZ=ON -DORDERFLOW_SANITIZE= >/dev/null
fuzz_targets=()
for target in "${targets[@]}"; do fuzz_targets+=("fuzz_$target"); done
log "building ${fuzz_targets[*]}"
cmake --build "$build_dir" -j"$(nproc)" --target "${fuzz_targets[@]}"

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
mkdir -p "$build_dir/crashes"
failed=()
for target in "${targets[@]}"; do
    corpus="$ORDERFLOW_ROOT/fuzz/corpus/$target"
    found="$build_dir/new-corpus/$target"
    mkdir -p "$found"
    log "fuzzing $target for $seconds s (corpus $corpus)"
    # New inputs go to $found (the first directory); the committed corpus is only read.
    dict=()  # fuzz/<target>.dict: tokens worth trying (e.g. the Authorization header)
    [[ ! -f "$ORDERFLOW_ROOT/fuzz/$target.dict" ]] || dict=(-dict="$ORDERFLOW_ROOT/fuzz/$target.dict")
    if ! "$build_dir/bin/fuzz_$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
        -max_len=16384 -artifact_prefix="$build_dir/crashes/$target-" -print_final_stats=1 \
        "${dict[@]}" "$found" "$corpus" 2>"$build_dir/fuzz-$target.log"; then
        tail -n 60 "$build_dir/fuzz-$target.log" >&2
        warn "$target failed: see $build_dir/fuzz-$target.log and $build_dir/crashes/"
        failed+=("$target")
        continue
    fi
    grep -E '^(stat::number_of_executed_units|stat::new_units_added)' \
        "$build_dir/fuzz-$target.log" | sed "s/^/[$target] /" >&2 || true
    if [[ $merge == 1 ]]; then
        log "merging new inputs of $target into $corpus"
        "$build_dir/bin/fuzz_$target" -merge=1 -max_len=16384 "$corpus" "$found" \
            2>>"$build_dir/fuzz-$target.log"
    fi
done

if [[ ${#failed[@]} -gt 0 ]]; then
    die "fuzzing failed: ${failed[*]}"
fi
log "no crash in ${targets[*]} ($seconds s each)"
