#!/usr/bin/env bash
# benches/compare.sh — times ferrite (interpreter and translator) and QEMU TCG on the
# same CPU-bound 32-bit paged guest image (roms/bin/multiboot_bench.bin by default) and
# prints a table. QEMU is a measuring stick only, never a dependency of ferrite:
#   apt-get install qemu-system-x86 hyperfine
# Usage: benches/compare.sh [IMAGE] [RUNS]
# Every emulator must print the same checksum line and exit through isa-debug-exit with
# status 33; the script stops otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
image=${1:-roms/bin/multiboot_bench.bin}
runs=${2:-5}

(cd roms && nasm -f bin -w+all -o bin/multiboot_bench.bin multiboot_bench.asm)
cargo build --release -q -p ferrite
ferrite=target/release/ferrite

declare -A cmd
order=("ferrite interp" "ferrite jit")
cmd["ferrite interp"]="$ferrite run --kernel $image --engine interp --debugcon stdio"
cmd["ferrite jit"]="$ferrite run --kernel $image --engine jit --debugcon stdio"
if command -v qemu-system-i386 >/dev/null 2>&1; then
    order+=("qemu tcg")
    cmd["qemu tcg"]="qemu-system-i386 -accel tcg -kernel $image -display none -debugcon stdio \
-device isa-debug-exit,iobase=0xf4,iosize=1 -m 64"
else
    echo "compare.sh: qemu-system-i386 not installed; QEMU column skipped" >&2
fi

# Correctness first: the same output and exit status from everyone.
want=""
for name in "${order[@]}"; do
    set +e
    out=$(${cmd[$name]} 2>/dev/null)
    status=$?
    set -e
    if [ "$status" != 33 ]; then
        echo "compare.sh: $name exited with $status, not 33" >&2
        exit 1
    fi
    line=$(printf '%s\n' "$out" | grep '^bench ' || true)
    if [ -z "$want" ]; then want=$line; fi
    if [ "$line" != "$want" ]; then
        echo "compare.sh: $name printed '$line', expected '$want'" >&2
        exit 1
    fi
done
echo "all engines print: $want"

insns=$($ferrite run --kernel "$image" --engine interp --stats 2>&1 >/dev/null |
    sed -n 's/.*stats: insns=\([0-9]*\).*/\1/p' | head -1 || true)
echo "guest instructions (ferrite count): $insns"

json=$(mktemp)
trap 'rm -f "$json"' EXIT
if command -v hyperfine >/dev/null 2>&1; then
    args=()
    for name in "${order[@]}"; do args+=(-n "$name" "${cmd[$name]}"); done
    # -i: every run exits with status 33 (isa-debug-exit), which hyperfine calls a failure.
    hyperfine -N -i --runs "$runs" --warmup 1 --export-json "$json" "${args[@]}" >/dev/null 2>&1
    python3 - "$json" "$insns" <<'PY'
import json, sys
data = json.load(open(sys.argv[1]))["results"]
insns = int(sys.argv[2])
base = {r["command"]: r["mean"] for r in data}
qemu = base.get("qemu tcg")
print(f"| emulator | mean s | min s | guest MIPS | vs QEMU TCG |")
print(f"|---|---:|---:|---:|---:|")
for r in data:
    rel = f"{r['mean'] / qemu:.2f}x" if qemu else "-"
    print(f"| {r['command']} | {r['mean']:.3f} | {r['min']:.3f} | {insns / r['mean'] / 1e6:.0f} | {rel} |")
PY
else
    echo "| emulator | seconds |"
    echo "|---|---:|"
    for name in "${order[@]}"; do
        t=$( { /usr/bin/time -f %e ${cmd[$name]} >/dev/null 2>/dev/null; } 2>&1 | tail -1)
        echo "| $name | $t |"
    done
fi
