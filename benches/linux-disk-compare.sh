#!/usr/bin/env bash
# benches/linux-disk-compare.sh — wall time from power-on to the busybox shell marker
# (FERRITE-SHELL-READY on COM1) when Linux boots through SeaBIOS and SYSLINUX from the
# hard-disk image scripts/linux-image builds (target/linux/disk.img): ferrite with the
# translator, ferrite with the interpreter, and QEMU TCG on the same image. QEMU is a
# measuring stick only, never a dependency of ferrite (apt-get install qemu-system-x86).
#
# Usage: benches/linux-disk-compare.sh [RUNS] [MEDIA]
#   RUNS   boots per emulator (default 1); every time is printed, then the median
#   MEDIA  hda (target/linux/disk.img, default) or cdrom (target/linux/linux.iso)
# Environment: ONLY="ferrite jit" (or "ferrite interp", "qemu tcg") times one column;
# FERRITE=PATH uses that ferrite binary instead of building target/release/ferrite;
# DETERMINISTIC=1 adds --deterministic to ferrite (the clock follows the instruction
# count and an idle HLT jumps to the next timer: what the end-to-end tests use).
#
# Each boot runs with --snapshot / -snapshot (the image is never written), serial on a
# pipe; the script watches that pipe, takes the time when the marker line arrives and
# kills the emulator. A boot that does not reach the marker within TIMEOUT seconds
# (default 900) is reported as failed, not timed.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-1}
media=${2:-hda}
timeout_s=${TIMEOUT:-900}
bios=/usr/share/seabios/bios.bin
marker=FERRITE-SHELL-READY

case "$media" in
hda) image=target/linux/disk.img ;;
cdrom) image=target/linux/linux.iso ;;
*)
    echo "linux-disk-compare.sh: MEDIA is hda or cdrom, not $media" >&2
    exit 2
    ;;
esac
[ -f "$image" ] || { echo "linux-disk-compare.sh: no $image (run scripts/linux-image)" >&2; exit 1; }
[ -f "$bios" ] || { echo "linux-disk-compare.sh: no $bios (apt-get install seabios)" >&2; exit 1; }

if [ -n "${FERRITE:-}" ]; then
    ferrite=$FERRITE # a binary built beforehand; no cargo build
else
    cargo build --release -q -p ferrite
    ferrite=target/release/ferrite
fi

declare -A cmd
order=("ferrite jit" "ferrite interp")
common="--bios $bios --$media $image --snapshot -m 256 --serial stdio --display none"
if [ "${DETERMINISTIC:-0}" = 1 ]; then common="$common --deterministic"; fi
cmd["ferrite jit"]="$ferrite run $common --engine jit"
cmd["ferrite interp"]="$ferrite run $common --engine interp"
if command -v qemu-system-i386 >/dev/null 2>&1; then
    order+=("qemu tcg")
    cmd["qemu tcg"]="qemu-system-i386 -accel tcg -bios $bios -$media $image -m 256 -serial stdio -display none -snapshot"
else
    echo "linux-disk-compare.sh: qemu-system-i386 not installed; QEMU column skipped" >&2
fi
if [ -n "${ONLY:-}" ]; then order=("$ONLY"); fi

# boot_once NAME: prints the seconds to the marker, or "failed".
boot_once() {
    local name=$1 fifo pid start line t
    fifo=$(mktemp -u)
    mkfifo "$fifo"
    start=$(date +%s.%N)
    ${cmd[$name]} </dev/null >"$fifo" 2>/dev/null &
    pid=$!
    t=failed
    while IFS= read -r -t "$timeout_s" line; do
        if [[ $line == *"$marker"* ]]; then
            t=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}')
            break
        fi
    done <"$fifo"
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    rm -f "$fifo"
    printf '%s' "$t"
}

echo "boot to $marker through SeaBIOS from $image ($runs run(s) each; $(nproc) host cores)"
printf '%-16s %-40s %s\n' emulator "times (s)" "median (s)"
for name in "${order[@]}"; do
    times=()
    for _ in $(seq "$runs"); do times+=("$(boot_once "$name")"); done
    median=$(printf '%s\n' "${times[@]}" | grep -v failed | sort -n | awk '{a[NR]=$1} END {if (NR) printf "%.1f", a[int((NR+1)/2)]; else print "failed"}')
    printf '%-16s %-40s %s\n' "$name" "${times[*]}" "$median"
done
