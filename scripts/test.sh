#!/usr/bin/env bash
# Runs the whole test suite: installs what is missing, builds, starts a RabbitMQ node of
# its own (a temporary directory under .run/, free ports), runs ctest against it, stops
# it, and exits with ctest's status. Arguments other than --sanitize go to ctest:
#
#   scripts/test.sh                 every test
#   scripts/test.sh -L unit         only the unit tests (ctest label)
#   scripts/test.sh -R 'dead.letter' --repeat until-fail:3
#   scripts/test.sh --sanitize      build into build-asan with address,undefined and run there
#
# The tests see ORDERFLOW_TEST_AMQP_URL, ORDERFLOW_TEST_MGMT_URL (also as ORDERFLOW_AMQP_URL
# and ORDERFLOW_MGMT_URL) and ORDERFLOW_TEST_BROKER_DIR, with which they may stop and start
# that node: scripts/broker.sh stop|start --dir "$ORDERFLOW_TEST_BROKER_DIR".
# It also starts a PostgreSQL 15 of its own (scripts/pg.sh, a temporary directory under
# .run/): the tests see its URL as ORDERFLOW_TEST_DATABASE_URL and run the store tests and the
# exactly-once integration tests on it too; ORDERFLOW_TEST_DATABASE_URL set by the caller is
# used instead (an empty value: no PostgreSQL, those halves are skipped).
# BUILD_DIR chooses the build directory (default build); ORDERFLOW_KEEP_TEST_BROKER=1 keeps
# the node's directory (logs, data) even when the tests pass.
set -euo pipefail

# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ctest_args=()
sanitize=0
while [[ $# -gt 0 ]]; do
    case "$1" in
        --sanitize) sanitize=1 ;;
        -h | --help)
            sed -n '2,21p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
            exit 0
            ;;
        --)
            shift
            ctest_args+=("$@")
            break
            ;;
        *) ctest_args+=("$1") ;;
    esac
    shift
done

if [[ $sanitize == 1 ]]; then
    export BUILD_DIR=build-asan ORDERFLOW_SANITIZE=address,undefined
    export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1}"
    export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
else
    export BUILD_DIR="${BUILD_DIR:-build}"
fi
build_dir="$(build_dir_path "$BUILD_DIR")"

ensure_packages all
"$ORDERFLOW_ROOT/scripts/setup.sh"

# ---------------------------------------------------------------------------- broker

mkdir -p "$ORDERFLOW_ROOT/.run"
broker_dir="$(mktemp -d "$ORDERFLOW_ROOT/.run/test-broker.XXXXXX")"
broker_started=0
pg_dir=""
test_status=1

# shellcheck disable=SC2317  # reached through the EXIT trap
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [[ $broker_started == 1 ]]; then
        "$ORDERFLOW_ROOT/scripts/broker.sh" stop --dir "$broker_dir" || warn "could not stop the test broker in $broker_dir"
    fi
    if [[ -n "$pg_dir" ]]; then
        "$ORDERFLOW_ROOT/scripts/pg.sh" stop --dir "$pg_dir" || warn "could not stop the test PostgreSQL in $pg_dir"
    fi
    if [[ $test_status == 0 && "${ORDERFLOW_KEEP_TEST_BROKER:-0}" != 1 ]]; then
        rm -rf "$broker_dir"
        [[ -z "$pg_dir" ]] || rm -rf "$pg_dir"
    else
        log "test broker directory kept for inspection: $broker_dir"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

broker_started=1
start_private_broker "$broker_dir" "orderflow-test-${broker_dir##*.}"
amqp_port="$private_amqp_port"
mgmt_port="$private_mgmt_port"

# The tests restart this node with `broker.sh start --dir`, which must then read the
# node's ports.env, not broker settings the caller happens to have in the environment.
unset ORDERFLOW_BROKER_AMQP_PORT ORDERFLOW_BROKER_MGMT_PORT ORDERFLOW_BROKER_DIST_PORT \
    ORDERFLOW_BROKER_STREAM_PORT ORDERFLOW_BROKER_NODE ORDERFLOW_BROKER_DIR \
    ORDERFLOW_BROKER_PICK_FREE_PORTS

export ORDERFLOW_TEST_AMQP_URL="amqp://guest:guest@127.0.0.1:${amqp_port}/%2f"
export ORDERFLOW_TEST_MGMT_URL="http://guest:guest@127.0.0.1:${mgmt_port}"
export ORDERFLOW_TEST_BROKER_DIR="$broker_dir"
export ORDERFLOW_AMQP_URL="$ORDERFLOW_TEST_AMQP_URL"
export ORDERFLOW_MGMT_URL="$ORDERFLOW_TEST_MGMT_URL"

# ---------------------------------------------------------------------------- PostgreSQL

if [[ -z "${ORDERFLOW_TEST_DATABASE_URL+set}" ]]; then
    pg_dir="$(mktemp -d "$ORDERFLOW_ROOT/.run/test-pg.XXXXXX")"
    ORDERFLOW_TEST_DATABASE_URL="$(ORDERFLOW_PG_PORT='' "$ORDERFLOW_ROOT/scripts/pg.sh" start --dir "$pg_dir")" ||
        die "could not start the test PostgreSQL (see $pg_dir/server.log)"
fi
export ORDERFLOW_TEST_DATABASE_URL
# The outage test stops and starts this server: scripts/pg.sh stop|start --dir "$ORDERFLOW_TEST_PG_DIR".
[[ -z "$pg_dir" ]] || export ORDERFLOW_TEST_PG_DIR="$pg_dir"

# ---------------------------------------------------------------------------- tests

log "running ctest in $build_dir against $ORDERFLOW_TEST_AMQP_URL"
test_status=0
ctest --test-dir "$build_dir" --output-on-failure --no-tests=error -j1 --timeout 600 \
    "${ctest_args[@]}" || test_status=$?
if [[ $test_status == 0 ]]; then
    log "all tests passed"
else
    # The last lines of each failed test's output, again at the end: a CI log that keeps
    # only its head and tail still shows why.
    last_log="$build_dir/Testing/Temporary/LastTest.log"
    if [[ -f "$last_log" ]]; then
        awk '
            /^[0-9]+\/[0-9]+ Testing: / { name = $0; sub(/^[0-9]+\/[0-9]+ Testing: /, "", name); n = 0; inout = 0; next }
            /^Output:$/ { inout = 1; next }
            inout && /^<end of output>$/ { inout = 0; next }
            inout && !/^-+$/ { buf[name, ++n] = $0; cnt[name] = n }
            /^Test Failed/ { failed[name] = 1 }
            END {
                for (t in failed) {
                    printf "[test.sh] last lines of the failed test \"%s\":\n", t
                    for (i = (cnt[t] > 25 ? cnt[t] - 24 : 1); i <= cnt[t]; i++) print "    " buf[t, i]
                }
            }' "$last_log" >&2 || true
    fi
    warn "ctest failed (status $test_status)"
fi
exit "$test_status"
