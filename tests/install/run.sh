#!/usr/bin/env bash
# Install tide from a build tree into a scratch prefix, then build an
# embedding application against it twice: with CMake's find_package(tide)
# and with pkg-config. Usage: run.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1
src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
cmake -S "$src/tests/install" -B "$tmp/cm" -DCMAKE_PREFIX_PATH="$tmp/prefix" >/dev/null
cmake --build "$tmp/cm" >/dev/null
LD_LIBRARY_PATH="$tmp/prefix/lib:$tmp/prefix/lib64:${LD_LIBRARY_PATH:-}" "$tmp/cm/consumer"
pc=$(ls -d "$tmp"/prefix/lib*/pkgconfig | head -1)
cc $(PKG_CONFIG_PATH="$pc" pkg-config --cflags tide) "$src/tests/install/consumer.c" \
  -o "$tmp/pc-consumer" $(PKG_CONFIG_PATH="$pc" pkg-config --libs tide)
LD_LIBRARY_PATH="$tmp/prefix/lib:$tmp/prefix/lib64:${LD_LIBRARY_PATH:-}" "$tmp/pc-consumer"
echo "install test: find_package and pkg-config consumers OK"
