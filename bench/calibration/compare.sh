#!/bin/sh
# Runs the calibration study (calib.c) against an older commit and against
# a build of the working tree, so the two tables come from the same
# simulated streams (same seeds, same generator).
#
#   bench/calibration/compare.sh BASE_COMMIT BUILD_DIR [calibration args...]
#
# BASE_COMMIT is exported with `git archive` into $WORK/base (default
# WORK=/tmp/driftwatch-calibration), its library built with meson, and
# calib.c from the working tree compiled against it (calib.c uses only API
# that predates the calibration work). BUILD_DIR must hold a built
# bench/calibration. Output: $WORK/before.md and $WORK/after.md.
set -eu
[ $# -ge 2 ] || { sed -n 2,13p "$0"; exit 2; }
base=$1
build=$2
shift 2
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
work=${WORK:-/tmp/driftwatch-calibration}
mkdir -p "$work"
rm -rf "$work/base"
mkdir -p "$work/base"
git -C "$root" archive "$base" | tar -x -C "$work/base"
(cd "$work/base" && meson setup build >/dev/null && ninja -C build src/libdriftwatch.a >/dev/null)
# The library's dependencies, as meson found them for the base build.
libs=$(pkg-config --libs gsl jansson libcurl libmicrohttpd yaml-0.1 rdkafka libcrypto)
cc -O2 -std=gnu11 -I"$work/base/include" "$here/calib.c" "$work/base/build/src/libdriftwatch.a" \
    $libs -lm -lpthread -o "$work/calibration-base"
"$work/calibration-base" "$@" >"$work/before.md"
"$build/bench/calibration" "$@" >"$work/after.md"
echo "before ($base): $work/before.md"
echo "after (working tree, $build): $work/after.md"
