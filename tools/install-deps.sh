#!/bin/sh
# Installs the Debian 12 packages that nmtd needs to build, test and run, if
# any are missing (as root, or through sudo); numpy and sentencepiece let the
# tests write random-weight models (tools/make_random_model.py).  Training and
# the PyTorch reference need more: see README.md, "The demo model and the tools".
#   --fuzz   also clang and libFuzzer (libclang-rt-14-dev, which clang only
#            recommends), for ./configure --enable-fuzzer (tests/fuzz)
set -eu
pkgs="build-essential autoconf automake pkg-config libmicrohttpd-dev libcjson-dev libopenblas-dev check
libsentencepiece-dev libicu-dev libcld2-dev curl jq python3 python3-numpy python3-sentencepiece"
[ "${1:-}" = --fuzz ] && pkgs="$pkgs clang libclang-rt-14-dev"
missing=""
for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "install-deps: installing$missing" >&2
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO=sudo
$SUDO apt-get update -q
# shellcheck disable=SC2086
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing
