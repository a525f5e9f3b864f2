#!/usr/bin/env bash
# benches/interp-probes.sh — per-instruction costs of one engine on tiny loop kernels.
#
# Builds five multiboot kernels (needs nasm), each a 50 M-iteration loop counted in ECX
# with paging off — `dec ecx; jnz` alone, then with three register ALU instructions, two
# loads, two stores or three NOPs in front — runs each once under ferrite and prints the
# user CPU seconds. The differences between the lines are what the added instructions
# cost; the first line is mostly the block-to-block transition.
#
# Usage: benches/interp-probes.sh [ENGINE] [FERRITE]   (ENGINE: interp (default) or jit;
#        FERRITE: the binary, default target/release/ferrite, built if missing)
set -euo pipefail
cd "$(dirname "$0")/.."
engine=${1:-interp}
ferrite=${2:-target/release/ferrite}
command -v nasm >/dev/null 2>&1 || { echo "interp-probes.sh: nasm is not installed" >&2; exit 1; }
[ -x "$ferrite" ] || cargo build --release -p ferrite
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

probe() {
    local name=$1 body=$2
    cat >"$tmp/$name.asm" <<ASM
bits 32
org 0x100000
header: dd 0x1BADB002, 0x10000, -(0x1BADB002 + 0x10000), header, 0x100000, load_end, load_end, start
start:  mov esp, 0x200000
        mov esi, 0x300000
        mov edi, 0x300100
        mov ebx, 3
        mov ecx, 50000000
.l:
$body
        dec ecx
        jnz .l
        mov al, 0x10
        out 0xf4, al
        hlt
load_end:
ASM
    nasm -f bin -o "$tmp/$name.bin" "$tmp/$name.asm"
    # The kernels end through isa-debug-exit: status 33.
    /usr/bin/time -o "$tmp/$name.time" -f "%U" "$ferrite" run -m 64 --kernel "$tmp/$name.bin" \
        --engine "$engine" --display none >/dev/null 2>&1 || true
    printf '%-10s %s s\n' "$name" "$(tail -1 "$tmp/$name.time")"
}

echo "engine: $engine ($ferrite), user CPU seconds for 50 M iterations"
probe dec-jnz ""
probe alu $'        add eax, ebx\n        add edx, eax\n        xor edx, ebx'
probe load $'        mov eax, [esi]\n        mov edx, [esi + 4]'
probe store $'        mov [edi], eax\n        mov [edi + 4], edx'
probe nop $'        nop\n        nop\n        nop'
