#!/usr/bin/env bash
# benches/linux-compare.sh — wall times of a Linux session booted directly (-kernel /
# --kernel, no BIOS) with the images scripts/linux-image builds (target/linux/vmlinuz and
# initrd.gz): ferrite with the interpreter, ferrite with the translator, and QEMU TCG.
# QEMU is a measuring stick only, never a dependency of ferrite
# (apt-get install qemu-system-x86).
#
# Usage: benches/linux-compare.sh [RUNS]
#   RUNS  sessions per emulator (default 1); every run is printed
# Environment: ONLY="ferrite jit" (or "ferrite interp", "qemu tcg") times one column;
# FERRITE=PATH uses that ferrite binary instead of building target/release/ferrite;
# DETERMINISTIC=0 runs ferrite on host time (default 1: --deterministic, where a guest
# waiting in HLT skips ahead instead of sleeping, as the tests run it); TIMEOUT=seconds
# per run (default 1500).
#
# Each run boots with "console=ttyS0 ferrite.session=1": /init prints
# FERRITE-SESSION-BEGIN, uname and /proc/cpuinfo, MD5s 1 MiB in /tmp, then hashes 16 MiB
# (yes ferrite | head -c 16777216 | md5sum) between FERRITE-WORK-BEGIN and
# FERRITE-WORK-END, and powers the machine off through ACPI. The script stamps every
# serial line with the host clock as it arrives and reports
#   boot  power-on to FERRITE-SESSION-BEGIN (the point where the shell marker comes
#         in an interactive boot: the kernel is up and /init runs)
#   work  FERRITE-WORK-BEGIN to FERRITE-WORK-END (the 16 MiB md5sum pipeline)
#   total power-on until the emulator exits after the guest's poweroff
# and checks the 16 MiB digest against the host's.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-1}
timeout_s=${TIMEOUT:-1500}
kernel=target/linux/vmlinuz
initrd=target/linux/initrd.gz
append="console=ttyS0 ferrite.session=1"

[ -f "$kernel" ] && [ -f "$initrd" ] || {
    echo "linux-compare.sh: no $kernel / $initrd: run scripts/linux-image first" >&2
    exit 1
}
if [ -n "${FERRITE:-}" ]; then
    ferrite=$FERRITE
else
    cargo build --release -q -p ferrite
    ferrite=target/release/ferrite
fi
det=""
[ "${DETERMINISTIC:-1}" = 1 ] && det="--deterministic"

declare -A cmd flag
order=("ferrite interp" "ferrite jit")
common="run --kernel $kernel --initrd $initrd -m 256 --serial stdio --display none $det"
cmd["ferrite interp"]="$ferrite $common --engine interp"
cmd["ferrite jit"]="$ferrite $common --engine jit"
flag["ferrite interp"]=--append
flag["ferrite jit"]=--append
if command -v qemu-system-i386 >/dev/null 2>&1; then
    order+=("qemu tcg")
    cmd["qemu tcg"]="qemu-system-i386 -accel tcg -kernel $kernel -initrd $initrd -m 256 -nographic -no-reboot"
    flag["qemu tcg"]=-append
else
    echo "linux-compare.sh: qemu-system-i386 not installed; QEMU column skipped" >&2
fi
if [ -n "${ONLY:-}" ]; then
    order=("$ONLY")
fi

want=$(set +o pipefail; yes ferrite | head -c 16777216 | md5sum | cut -d' ' -f1)
log=$(mktemp)
trap 'rm -f "$log"' EXIT

# Runs one session; prints "boot work total" in seconds, or fails.
run_once() {
    local name=$1
    local start
    start=$(date +%s.%N)
    # The kernel command line goes in as one argument (it has a space).
    timeout "$timeout_s" ${cmd[$name]} "${flag[$name]}" "$append" </dev/null 2>/dev/null |
        perl -MTime::HiRes=time -ne 'BEGIN { $| = 1 } printf "%.3f %s", time, $_' >"$log" || true
    local end
    end=$(date +%s.%N)
    local boot work_b work_e digest
    boot=$(awk '/FERRITE-SESSION-BEGIN/ { print $1; exit }' "$log")
    work_b=$(awk '/FERRITE-WORK-BEGIN/ { print $1; exit }' "$log")
    work_e=$(awk '/FERRITE-WORK-END/ { print $1; exit }' "$log")
    digest=$(awk '/FERRITE-WORK-BEGIN/ { getline; print $2; exit }' "$log")
    if [ -z "$boot" ] || [ -z "$work_e" ] || [ "$digest" != "$want" ]; then
        echo "linux-compare.sh: $name did not finish the session (digest '$digest', want $want); last lines:" >&2
        tail -5 "$log" >&2
        return 1
    fi
    awk -v s="$start" -v b="$boot" -v wb="$work_b" -v we="$work_e" -v e="$end" \
        'BEGIN { printf "%.1f %.1f %.1f\n", b - s, we - wb, e - s }'
}

printf '%-16s %10s %10s %10s\n' emulator "boot s" "work s" "total s"
for name in "${order[@]}"; do
    for _ in $(seq "$runs"); do
        r=$(run_once "$name")
        read -r b w t <<<"$r"
        printf '%-16s %10s %10s %10s\n' "$name" "$b" "$w" "$t"
    done
done
