#!/usr/bin/env bash
# Shared by scripts/demo and scripts/test: make sure the Debian packages tide
# needs are installed. As root, installs what is missing with apt-get;
# otherwise prints the exact command to run and exits non-zero.
# SPDX-License-Identifier: Apache-2.0

tide_required_packages() {
  echo build-essential cmake pkg-config libroaring-dev libhwloc-dev libnuma-dev liblz4-dev \
    libzstd-dev gawk
}

tide_ensure_deps() {
  local missing=() pkg
  for pkg in $(tide_required_packages) "$@"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
      missing+=("$pkg")
    fi
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" = 0 ]; then
    echo "tide: installing missing Debian packages: ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null || { echo "tide: apt-get update failed" >&2; return 1; }
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
      { echo "tide: apt-get install ${missing[*]} failed" >&2; return 1; }
  else
    echo "tide: missing Debian packages. Run:" >&2
    echo "  sudo apt-get install -y ${missing[*]}" >&2
    return 1
  fi
}

# Configure and build a tree: tide_build DIR [cmake args...] (only the
# target TIDE_BUILD_TARGET when set). The build log
# goes to DIR/build.log; on failure its errors are printed and this fails.
tide_build() {
  local dir=$1
  shift
  local jobs
  jobs=$(nproc 2>/dev/null || echo 2)
  mkdir -p "$dir"
  if ! cmake -S "$TIDE_ROOT" -B "$dir" "$@" >"$dir/configure.log" 2>&1; then
    cat "$dir/configure.log" >&2
    echo "tide: cmake configure failed ($dir/configure.log)" >&2
    return 1
  fi
  if ! cmake --build "$dir" -j"$jobs" ${TIDE_BUILD_TARGET:+--target "$TIDE_BUILD_TARGET"} \
    >"$dir/build.log" 2>&1; then
    grep -E "error|Error" "$dir/build.log" | head -40 >&2
    echo "tide: build failed ($dir/build.log)" >&2
    return 1
  fi
  grep -E "warning:" "$dir/build.log" | head -20 >&2 || true
}
