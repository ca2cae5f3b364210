#!/usr/bin/env bash
# Boot a real two-node NUMA machine under qemu (TCG, 2 CPUs, one per node,
# 512 MiB per node) with Debian's kernel and an initramfs holding busybox
# and tide test binaries, run the tests there, and fail unless they pass.
#
#   tests/qemu/numa-guest.sh BUILD_DIR [TEST...]   (default: test_numa_place test_numa test_hist_numa)
#
# Needs qemu-system-x86, a kernel in /boot (linux-image-amd64) and
# busybox-static; exits 77 (ctest: skipped) when one is missing.
# SPDX-License-Identifier: Apache-2.0
set -euo pipefail
build=${1:?usage: numa-guest.sh BUILD_DIR [TEST...]}
shift
tests=("$@")
[ ${#tests[@]} -gt 0 ] || tests=(test_numa_place test_numa test_hist_numa)
qemu=$(command -v qemu-system-x86_64 || true)
kernel=$(ls -1 /boot/vmlinuz-* 2>/dev/null | sort -V | tail -1 || true)
busybox=$(command -v busybox || true)
if [ -z "$qemu" ] || [ -z "$kernel" ] || [ ! -r "$kernel" ] || [ -z "$busybox" ]; then
  echo "numa-guest: needs qemu-system-x86_64, a readable /boot/vmlinuz-* and busybox" \
       "(apt-get install qemu-system-x86 linux-image-amd64 busybox-static); skipped" >&2
  exit 77
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root=$work/root
mkdir -p "$root"/{bin,proc,sys,dev,tmp,t}
cp "$busybox" "$root/bin/busybox"
for a in sh mount poweroff echo cat; do ln -s busybox "$root/bin/$a"; done
copy_with_libs() {
  cp "$1" "$root/t/"
  ldd "$1" | awk '/=> \//{print $3} /^\t\/lib/{print $1}' | while read -r lib; do
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
  done
}
for t in "${tests[@]}"; do
  [ -x "$build/tests/$t" ] || { echo "numa-guest: $build/tests/$t not built" >&2; exit 1; }
  copy_with_libs "$build/tests/$t"
done
{
  echo '#!/bin/sh'
  echo 'mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev'
  echo 'cd /t; rc=0'
  for t in "${tests[@]}"; do echo "./$t || rc=1"; done
  echo 'echo "numa-guest: nodes $(ls -d /sys/devices/system/node/node* | wc -l), rc=$rc"'
  echo 'poweroff -f'
} > "$root/init"
chmod +x "$root/init"
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) > "$work/initrd"
out=$work/console.log
timeout 300 "$qemu" -accel tcg -cpu max -smp 2 -m 1024 \
  -object memory-backend-ram,id=m0,size=512M -object memory-backend-ram,id=m1,size=512M \
  -numa node,nodeid=0,cpus=0,memdev=m0 -numa node,nodeid=1,cpus=1,memdev=m1 \
  -kernel "$kernel" -initrd "$work/initrd" -append "console=ttyS0 quiet panic=-1 oops=panic" \
  -nographic -no-reboot -monitor none > "$out" 2>&1 || true
grep -E "numa|checks|FAIL|error" "$out" | grep -v "^\[" || true
if grep -q "numa-guest: nodes 2, rc=0" "$out"; then
  exit 0
fi
echo "numa-guest: guest run failed; console:" >&2
tail -40 "$out" >&2
exit 1
