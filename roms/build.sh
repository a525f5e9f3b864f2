#!/usr/bin/env bash
# Reassembles every source in roms/ into roms/bin/NAME.bin: 64 KiB BIOS images, and the
# multiboot test kernels (multiboot_*.asm and the self-checking protected-mode kernels
# pm_*.asm, flat a.out-kludge binaries for --kernel; the pm_* kernels share
# include/pmtest.inc, found relative to this directory), then bin/bench_disk.img:
# bin/multiboot_bench.bin wrapped in a bootable hard-disk image (bench_disk.asm incbins it,
# so it is built last). floppy_*.asm are whole floppy images, written to bin/NAME.img.
# The binaries are committed; a test checks they match their sources.
set -euo pipefail
cd "$(dirname "$0")"
if ! command -v nasm >/dev/null 2>&1; then
    echo "roms/build.sh: nasm is not installed; run ./scripts/setup (or: apt-get install nasm)" >&2
    exit 1
fi
mkdir -p bin
for src in *.asm; do
    [ "$src" = bench_disk.asm ] && continue
    case "$src" in
        floppy_*) out="bin/${src%.asm}.img" ;;
        *) out="bin/${src%.asm}.bin" ;;
    esac
    nasm -f bin -w+all -o "$out" "$src"
    echo "built $out ($(stat -c %s "$out") bytes)"
done
nasm -f bin -w+all -o bin/bench_disk.img bench_disk.asm
echo "built bin/bench_disk.img ($(stat -c %s bin/bench_disk.img) bytes)"
