#!/usr/bin/env bash
# Installs the Debian packages that are missing and builds orderflow. Idempotent: on a
# machine that has everything it only runs the (incremental) CMake build.
#
#   BUILD_DIR            build directory, relative to the repository root (default: build)
#   ORDERFLOW_SANITIZE   sanitizers for -DORDERFLOW_SANITIZE, e.g. address,undefined
#   CMAKE_BUILD_TYPE     default RelWithDebInfo
#   ORDERFLOW_CMAKE_ARGS extra CMake arguments, e.g. -DORDERFLOW_WERROR=OFF
#   ORDERFLOW_SKIP_PACKAGES=1  do not check or install packages
set -euo pipefail

# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

case "${1:-}" in
    "") ;;
    -h | --help)
        sed -n '2,10p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
        exit 0
        ;;
    *)
        echo "usage: scripts/setup.sh (settings through the environment, see --help)" >&2
        exit 2
        ;;
esac

ensure_packages all
build "${BUILD_DIR:-build}"
log "binaries in $(build_dir_path "${BUILD_DIR:-build}")/bin"
