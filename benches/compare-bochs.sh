#!/usr/bin/env bash
# benches/compare-bochs.sh — times ferrite (interpreter and translator), QEMU TCG and Bochs
# on one bootable disk image, roms/bin/bench_disk.img: the CPU-bound 32-bit paged workload
# of roms/bin/multiboot_bench.bin behind a boot sector (roms/bench_disk.asm), because Bochs
# has no multiboot loader. Every emulator boots it through its BIOS (SeaBIOS for ferrite
# and QEMU, the Bochs BIOS for Bochs). The other emulators are measuring sticks only, never
# dependencies of ferrite:
#   apt-get install qemu-system-x86 bochs bochsbios hyperfine seabios
# (Debian's Bochs has no `nogui` display; the script uses its VNC display `rfb` with
# `timeout=0`, which needs no terminal and does not wait for a viewer, and continues its
# built-in debugger with `-rc`.)
#
# Usage: benches/compare-bochs.sh [RUNS]
#
# Every emulator must print the same checksum line as `ferrite run --kernel
# roms/bin/multiboot_bench.bin`; ferrite and QEMU must exit through isa-debug-exit (status
# 33) and Bochs through its "Shutdown" port. The script stops otherwise.
#
# BIOS start-up differs between emulators, so each is also timed on the same disk with an
# empty workload (bench_disk.asm built with -DEMPTY_WORKLOAD: same boot path, no kernel);
# "bench s" is the difference of the means (and of the minimums), the time of the
# workload alone; "CPU s" (user + system from hyperfine) is reported too, because wall
# time swings when other jobs share the host. MIPS use ferrite's count of the workload's instructions (the --kernel
# run's --stats; a REP slice of up to 4096 elements counts once) for every emulator.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
seabios=/usr/share/seabios/bios.bin
bochs_bios=/usr/share/bochs/BIOS-bochs-latest

for tool in nasm hyperfine python3; do
    command -v $tool >/dev/null 2>&1 || { echo "compare-bochs.sh: $tool is not installed" >&2; exit 1; }
done
[ -e $seabios ] || { echo "compare-bochs.sh: $seabios missing (apt-get install seabios)" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd roms && nasm -f bin -w+all -o bin/multiboot_bench.bin multiboot_bench.asm &&
    nasm -f bin -w+all -o bin/bench_disk.img bench_disk.asm &&
    nasm -f bin -w+all -DEMPTY_WORKLOAD -o "$tmp/empty.img" bench_disk.asm)
cp roms/bin/bench_disk.img "$tmp/bench.img" # Bochs writes a lock file next to its image
cargo build --release -q -p ferrite
ferrite=target/release/ferrite

want=$($ferrite run --kernel roms/bin/multiboot_bench.bin --engine jit 2>/dev/null | grep '^bench ' || true)
insns=$($ferrite run --kernel roms/bin/multiboot_bench.bin --engine jit --stats 2>&1 >/dev/null |
    sed -n 's/.*insns=\([0-9]*\).*/\1/p' | head -1 || true)
echo "reference (ferrite --kernel): $want"
echo "workload instructions (ferrite count): $insns"

# cmd NAME IMAGE: the command line of emulator NAME booting IMAGE.
order=("ferrite interp" "ferrite jit")
have_qemu=0
have_bochs=0
if command -v qemu-system-i386 >/dev/null 2>&1; then
    order+=("qemu tcg")
    have_qemu=1
else
    echo "compare-bochs.sh: qemu-system-i386 not installed; QEMU column skipped" >&2
fi
if command -v bochs-bin >/dev/null 2>&1 && [ -e $bochs_bios ]; then
    order+=("bochs")
    have_bochs=1
    bochs_rc=()
    bochs_help=$(bochs-bin --help 2>&1 || true)
    if printf '%s\n' "$bochs_help" | grep -q -- '^ *-rc '; then
        echo c >"$tmp/continue.rc" # a debugger-enabled build stops before the first instruction
        bochs_rc=(-rc "$tmp/continue.rc")
    fi
    for which in bench empty; do
        cat >"$tmp/$which.bochsrc" <<EOF
megs: 64
romimage: file=$bochs_bios
vgaromimage: file=/usr/share/bochs/VGABIOS-lgpl-latest
ata0-master: type=disk, path=$tmp/$which.img, mode=flat, cylinders=1, heads=16, spt=63
boot: disk
port_e9_hack: enabled=1
display_library: rfb, options="timeout=0"
speaker: enabled=0
log: /dev/null
clock: sync=none
EOF
    done
else
    echo "compare-bochs.sh: bochs-bin or $bochs_bios missing (apt-get install bochs bochsbios); Bochs column skipped" >&2
fi

cmd() {
    local name=$1 img=$2
    case $name in
    "ferrite interp") echo "$ferrite run --bios $seabios --hda $img --snapshot --engine interp" ;;
    "ferrite jit") echo "$ferrite run --bios $seabios --hda $img --snapshot --engine jit" ;;
    "qemu tcg") echo "qemu-system-i386 -accel tcg -hda $img -snapshot -display none -debugcon stdio \
-device isa-debug-exit,iobase=0xf4,iosize=1 -m 64" ;;
    bochs) echo "bochs-bin -q -f ${img%.img}.bochsrc ${bochs_rc[*]}" ;;
    esac
}

# Correctness first: the same output from everyone, on both images.
for name in "${order[@]}"; do
    for which in bench empty; do
        set +e
        out=$($(cmd "$name" "$tmp/$which.img") 2>"$tmp/stderr" </dev/null)
        status=$?
        set -e
        line=$(printf '%s\n' "$out" | grep '^bench ' || true)
        expect=$want
        [ $which = empty ] && expect="bench empty"
        if [ "$line" != "$expect" ]; then
            echo "compare-bochs.sh: $name on $which.img printed '$line', expected '$expect'" >&2
            exit 1
        fi
        if [ "$name" = bochs ]; then
            grep -q 'Shutdown port: shutdown requested' "$tmp/stderr" || {
                echo "compare-bochs.sh: bochs on $which.img did not end through the Shutdown port" >&2
                exit 1
            }
        elif [ "$status" != 33 ]; then
            echo "compare-bochs.sh: $name on $which.img exited with $status, not 33" >&2
            exit 1
        fi
    done
done
echo "all emulators print: $want"

args=()
for name in "${order[@]}"; do
    args+=(-n "$name" "$(cmd "$name" "$tmp/bench.img")")
    args+=(-n "$name (empty)" "$(cmd "$name" "$tmp/empty.img")")
done
# -i: ferrite and QEMU exit with 33 (isa-debug-exit) and Bochs with 1, failures to hyperfine.
hyperfine -N -i --runs "$runs" --warmup 1 --export-json "$tmp/times.json" "${args[@]}" >/dev/null 2>&1
python3 - "$tmp/times.json" "$insns" <<'PY'
import json, sys
data = {r["command"]: r for r in json.load(open(sys.argv[1]))["results"]}
insns = int(sys.argv[2])
names = [n for n in data if not n.endswith(" (empty)")]
cpu = lambda r: r["user"] + r["system"]
def bench(n):
    full, empty = data[n], data[n + " (empty)"]
    return full["mean"] - empty["mean"], full["min"] - empty["min"], cpu(full) - cpu(empty)
print("Wall time (hyperfine mean/min), and the workload alone: full disk minus empty disk.")
print("CPU s = user + system, mean per run: steadier than wall time when other jobs share the host.")
print()
print("| emulator | mean s | min s | empty disk mean s | bench s (mean) | bench s (min) | bench MIPS (mean) "
      "| CPU s | bench CPU s | vs Bochs (bench wall) | vs Bochs (bench CPU) |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for n in names:
    full, empty = data[n], data[n + " (empty)"]
    bench_mean, bench_min, bench_cpu = bench(n)
    rel_wall = rel_cpu = "-"
    if "bochs" in data:
        b_mean, _, b_cpu = bench("bochs")
        rel_wall = f"{bench_mean / b_mean:.2f}x"
        rel_cpu = f"{bench_cpu / b_cpu:.2f}x"
    mips = f"{insns / bench_mean / 1e6:.0f}" if bench_mean > 0 else "-"
    print(f"| {n} | {full['mean']:.3f} | {full['min']:.3f} | {empty['mean']:.3f} | {bench_mean:.3f} | "
          f"{bench_min:.3f} | {mips} | {cpu(full):.3f} | {bench_cpu:.3f} | {rel_wall} | {rel_cpu} |")
PY
