#!/bin/sh
# Installs the Debian 12 packages driftwatch needs to build, test and run its
# demo. Idempotent; run as root (or with sudo available). prometheus is only
# there for promtool, which checks the shipped alert rules and the PromQL in
# docs/ (tests/integration/test_prometheus_rules.py).
#   --with-sanitizers  also clang and its sanitizer runtimes (CI)
#   --with-bench       also what bench/ needs beyond the build: valgrind
#                      (bench_instructions.sh) and libsimdjson-dev + g++ (its
#                      parse-limit baseline). Not for CI; the product never
#                      links simdjson.
set -eu

PKGS="build-essential meson ninja-build pkg-config
librdkafka-dev libgsl-dev libjansson-dev libcurl4-openssl-dev libmicrohttpd-dev
libyaml-dev libssl-dev libcmocka-dev
python3 python3-scipy python3-numpy python3-sklearn python3-confluent-kafka python3-prometheus-client
python3-yaml kcat chromium prometheus"

for opt in "$@"; do
    case "$opt" in
    --with-sanitizers) PKGS="$PKGS clang libclang-rt-14-dev" ;;
    --with-bench) PKGS="$PKGS time valgrind g++ libsimdjson-dev" ;;
    *) echo "unknown option $opt (--with-sanitizers, --with-bench)" >&2; exit 2 ;;
    esac
done
if [ "${DW_WITH_CLANG:-0}" = 1 ]; then
    PKGS="$PKGS clang libclang-rt-14-dev"
fi

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    echo "installing:$missing"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
else
    echo "all build and test dependencies are installed"
fi
