#!/usr/bin/env bash
# The cluster tests (ctest label `cluster`): starts a 3-node RabbitMQ cluster of its own with
# scripts/cluster.sh (a temporary directory under .run/, free ports), runs the hidden
# [cluster] cases of the integration test binary against it, and stops it.
#
#   bash test/cluster/run.sh BUILD_DIR [catch arguments...]
#
# ORDERFLOW_KEEP_TEST_CLUSTER=1 keeps the cluster's directory (node logs) even on success.
set -euo pipefail

# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib.sh"

build_dir="${1:?usage: test/cluster/run.sh BUILD_DIR [catch arguments...]}"
shift
binary="$build_dir/bin/orderflow_integration_tests"
[[ -x "$binary" ]] || die "$binary not built"

mkdir -p "$ORDERFLOW_ROOT/.run"
dir="$(mktemp -d "$ORDERFLOW_ROOT/.run/test-cluster.XXXXXX")"
status=1
# shellcheck disable=SC2317  # reached through the EXIT trap
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    "$ORDERFLOW_ROOT/scripts/cluster.sh" stop --dir "$dir" || warn "could not stop the cluster in $dir"
    if [[ $status == 0 && "${ORDERFLOW_KEEP_TEST_CLUSTER:-0}" != 1 ]]; then
        rm -rf "$dir"
    else
        log "cluster directory kept for inspection: $dir"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

started=$SECONDS
ORDERFLOW_CLUSTER_NAME="orderflow-test-${dir##*.}" "$ORDERFLOW_ROOT/scripts/cluster.sh" start \
    --dir "$dir" --nodes 3 >/dev/null
log "cluster running after $((SECONDS - started)) s"
# shellcheck source=/dev/null
source "$dir/cluster.env"
mgmt_urls=""
for n in 1 2 3; do
    var="ORDERFLOW_CLUSTER_MGMT_URL_$n"
    mgmt_urls+="${mgmt_urls:+,}${!var}"
done
export ORDERFLOW_TEST_AMQP_URL="$ORDERFLOW_AMQP_URL"
export ORDERFLOW_TEST_MGMT_URL="$mgmt_urls"
export ORDERFLOW_TEST_CLUSTER_DIR="$dir"
unset ORDERFLOW_TEST_BROKER_DIR

status=0
"$binary" "[cluster]" --durations yes "$@" || status=$?
exit "$status"
