#!/usr/bin/env bash
# benches/linux-disk-compare.sh — wall time from power-on to the busybox shell marker
# (FERRITE-SHELL-READY on COM1), and of a short workload typed at that shell, when Linux
# boots through SeaBIOS and SYSLINUX from the
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
# Each boot runs with --snapshot / -snapshot (the image is never written), serial on
# pipes; the script watches the output, takes the time when the marker line arrives,
# then types a short workload at the shell (an MD5 of 16 MiB, as benches/linux-compare.sh
# runs it) and takes the time again when its last line is back, checks the digest against
# the host's, and kills the emulator. A boot or workload that does not finish within
# TIMEOUT seconds (default 900) is reported as failed, not timed.
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

# boot_once NAME: prints "BOOT WORK" — the seconds from power-on to the shell marker, and
# from typing the workload at that shell to its last line — or "failed".
boot_once() {
    local name=$1 out in pid start line keep boot=failed work=failed sent="" digest=""
    out=$(mktemp -u)
    in=$(mktemp -u)
    mkfifo "$out" "$in"
    start=$(date +%s.%N)
    ${cmd[$name]} <"$in" >"$out" 2>/dev/null &
    pid=$!
    exec {keep}>"$in" # the emulator's stdin stays open until we are done
    while IFS= read -r -t "$timeout_s" line; do
        line=${line%$'\r'}
        if [[ $boot == failed && $line == *"$marker"* ]]; then
            boot=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}')
            sent=$(date +%s.%N)
            # The shell echoes the command line; $((1+1)) keeps the echo from matching.
            printf '%s\n' "$workload; echo FERRITE-WORK-\$((1+1))-DONE" >&"$keep"
        elif [[ -n $sent && $line =~ ^([0-9a-f]{32})\ \ - ]]; then
            digest=${BASH_REMATCH[1]}
        elif [[ -n $sent && $line == *FERRITE-WORK-2-DONE* ]]; then
            work=$(awk -v a="$sent" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}')
            [[ $digest == "$want" ]] || work=failed
            break
        fi
    done <"$out"
    exec {keep}>&-
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    rm -f "$out" "$in"
    printf '%s %s' "$boot" "$work"
}

# The short workload typed at the shell once it is up, and its digest computed here. It
# runs under `sh -c`, as in the scripted session: typed straight at the interactive ash,
# the same pipeline takes about 20 times longer on every emulator (QEMU too), the
# interactive shell's job control and not the CPU.
workload="sh -c 'yes ferrite | head -c 16777216 | md5sum'"
want=$(set +o pipefail; yes ferrite | head -c 16777216 | md5sum | cut -c1-32)

median() { grep -v failed | sort -n | awk '{a[NR]=$1} END {if (NR) printf "%.1f", a[int((NR+1)/2)]; else print "failed"}'; }

echo "boot to $marker through SeaBIOS from $image, then \"$workload\" at the shell"
echo "($runs run(s) each; $(nproc) host cores; medians; work = typing the command to its last line)"
printf '%-16s %-28s %-28s %-8s %-8s %s\n' emulator "boot times (s)" "work times (s)" boot work "boot+work"
for name in "${order[@]}"; do
    boots=()
    works=()
    for _ in $(seq "$runs"); do
        read -r b w <<<"$(boot_once "$name")"
        boots+=("$b")
        works+=("$w")
    done
    mb=$(printf '%s\n' "${boots[@]}" | median)
    mw=$(printf '%s\n' "${works[@]}" | median)
    total=$(awk -v a="$mb" -v b="$mw" 'BEGIN {if (a == "failed" || b == "failed") print "failed"; else printf "%.1f", a + b}')
    printf '%-16s %-28s %-28s %-8s %-8s %s\n' "$name" "${boots[*]}" "${works[*]}" "$mb" "$mw" "$total"
done
