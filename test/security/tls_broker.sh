#!/usr/bin/env bash
# ctest fixture of the security tests: `start DIR` runs a TLS-only RabbitMQ node
# (scripts/broker.sh start --tls) in DIR on free ports; `stop DIR` stops it and removes DIR.
# The tests create their users with `scripts/broker.sh users --dir DIR --vhost V`.
set -euo pipefail

# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib.sh"

[[ $# -eq 2 ]] || { echo "usage: $0 start|stop DIR" >&2; exit 2; }
dir="$2"
case "$1" in
    start)
        "$ORDERFLOW_ROOT/scripts/broker.sh" stop --dir "$dir" >/dev/null 2>&1 || true
        rm -rf "$dir"
        start_private_broker "$dir" "orderflow-sec-$(printf '%s' "$dir" | cksum | cut -c1-8)" --tls
        ;;
    stop)
        "$ORDERFLOW_ROOT/scripts/broker.sh" stop --dir "$dir"
        rm -rf "$dir"
        ;;
    *) echo "usage: $0 start|stop DIR" >&2; exit 2 ;;
esac
