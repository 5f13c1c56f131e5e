#!/bin/sh
# Configures (once) and builds driftwatch into ./build.
set -eu
cd "$(dirname "$0")/.."
[ -f build/build.ninja ] || meson setup build "$@"
ninja -C build
