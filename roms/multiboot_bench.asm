; multiboot_bench.asm — ferrite's CPU-bound 32-bit paged workload (a multiboot kernel).
;
; The same image runs on ferrite (both engines) and on other emulators, so their times
; can be compared on identical guest work:
;   ferrite run --kernel roms/bin/multiboot_bench.bin --engine jit|interp
;   qemu-system-i386 -accel tcg -kernel roms/bin/multiboot_bench.bin -display none \
;       -debugcon stdio -device isa-debug-exit,iobase=0xf4,iosize=1 -m 64
; (benches/compare.sh does both and prints a table).
;
; It builds page tables identity-mapping the first 8 MiB with 4 KiB pages, turns paging
; on, then runs a fixed amount of work in six kernels — table-driven CRC32, a sieve of
; Eratosthenes, recursive Fibonacci, memcpy (REP MOVSD and an explicit dword loop),
; integer matrix multiply (IMUL) and insertion sort of LCG-generated numbers — and
; prints one checksum per kernel over the debug console (port 0xE9):
;   bench crc32=XXXXXXXX sieve=XXXXXXXX fib=XXXXXXXX memcpy=XXXXXXXX matmul=XXXXXXXX sort=XXXXXXXX
; then ends the run through isa-debug-exit (port 0xF4) with 0x10 (exit status 33), and on
; Bochs, which has no such port, through its "Shutdown" port 0x8900 (include/bench_exit.inc).
; roms/bench_disk.asm wraps this very image in a bootable disk for emulators without a
; multiboot loader.
; The checksums are deterministic; a mismatch between emulators is a bug.
;
; Build (from roms/): nasm -f bin -o bin/multiboot_bench.bin multiboot_bench.asm   (or ./build.sh)

bits 32
cpu 686

LOAD_ADDR       equ 0x100000
MB_MAGIC        equ 0x1BADB002
MB_AOUT_KLUDGE  equ 1 << 16
MB_FLAGS        equ MB_AOUT_KLUDGE
DEBUGCON        equ 0xE9

MAPPED_MIB      equ 8               ; identity-mapped with 4 KiB pages
PTE_PRESENT_RW  equ 0x003
CR0_PG          equ 1 << 31

; Amount of work (kept the same across emulators; scale all at once with SCALE).
SCALE           equ 4
CRC_BYTES       equ 65536
CRC_ROUNDS      equ 40 * SCALE
SIEVE_SIZE      equ 131072
SIEVE_ROUNDS    equ 10 * SCALE
FIB_N           equ 24
FIB_ROUNDS      equ 10 * SCALE
COPY_DWORDS     equ 65536           ; 256 KiB
COPY_ROUNDS     equ 20 * SCALE
MAT_N           equ 48
MAT_ROUNDS      equ 20 * SCALE
SORT_N          equ 1024
SORT_ROUNDS     equ 10 * SCALE

%include "include/bench_exit.inc"

org LOAD_ADDR

header:
        dd MB_MAGIC
        dd MB_FLAGS
        dd -(MB_MAGIC + MB_FLAGS)
        dd header                       ; header_addr
        dd LOAD_ADDR                    ; load_addr
        dd load_end                     ; load_end_addr
        dd bss_end                      ; bss_end_addr
        dd start                        ; entry_addr

start:
        cli
        cld
        mov esp, stack_top
        call paging_on
        mov esi, msg_bench
        call puts

        mov esi, msg_crc
        call puts
        call crc32_bench
        call puthex32

        mov esi, msg_sieve
        call puts
        call sieve_bench
        call puthex32

        mov esi, msg_fib
        call puts
        call fib_bench
        call puthex32

        mov esi, msg_memcpy
        call puts
        call memcpy_bench
        call puthex32

        mov esi, msg_matmul
        call puts
        call matmul_bench
        call puthex32

        mov esi, msg_sort
        call puts
        call sort_bench
        call puthex32

        mov al, 10
        out DEBUGCON, al
        BENCH_EXIT

; Identity-maps the first MAPPED_MIB MiB with 4 KiB pages and sets CR0.PG.
paging_on:
        mov edi, page_tables
        mov eax, PTE_PRESENT_RW
        mov ecx, MAPPED_MIB * 256
.pte:   stosd
        add eax, 4096
        loop .pte
        mov edi, page_dir
        mov eax, page_tables + PTE_PRESENT_RW
        mov ecx, MAPPED_MIB / 4
.pde:   stosd
        add eax, 4096
        loop .pde
        mov eax, page_dir
        mov cr3, eax
        mov eax, cr0
        or eax, CR0_PG
        mov cr0, eax
        jmp .flush
.flush: ret

; --- CRC32 (reflected, polynomial 0xEDB88320), table-driven, over a pattern buffer ---
; Returns the CRC of the last round xor the round count.
crc32_bench:
        push ebx
        push esi
        push edi
        ; the table
        xor edx, edx
.tbl:   mov eax, edx
        mov ecx, 8
.bit:   shr eax, 1
        jnc .nopoly
        xor eax, 0xEDB88320
.nopoly:
        loop .bit
        mov [crc_table + edx * 4], eax
        inc edx
        cmp edx, 256
        jb .tbl
        ; the data: i * 7 + (i >> 8)
        xor ecx, ecx
.fill:  mov eax, ecx
        imul eax, eax, 7
        mov edx, ecx
        shr edx, 8
        add eax, edx
        mov [buf_a + ecx], al
        inc ecx
        cmp ecx, CRC_BYTES
        jb .fill
        mov edi, CRC_ROUNDS
        xor ebx, ebx                    ; running xor of all CRCs
.round: mov eax, 0xFFFFFFFF
        mov esi, buf_a
        mov ecx, CRC_BYTES
.byte:  movzx edx, byte [esi]
        xor dl, al
        shr eax, 8
        xor eax, [crc_table + edx * 4]
        inc esi
        dec ecx
        jnz .byte
        not eax
        xor ebx, eax
        add ebx, edi
        rol ebx, 5
        dec edi
        jnz .round
        mov eax, ebx
        pop edi
        pop esi
        pop ebx
        ret

; --- Sieve of Eratosthenes over SIEVE_SIZE bytes; returns the sum of prime counts ---
sieve_bench:
        push ebx
        push esi
        push edi
        push ebp
        xor ebp, ebp
        mov esi, SIEVE_ROUNDS
.round: mov edi, buf_a                  ; all candidates set
        mov eax, 0x01010101
        mov ecx, SIEVE_SIZE / 4
        rep stosd
        mov byte [buf_a], 0
        mov byte [buf_a + 1], 0
        mov ebx, 2
.outer: mov eax, ebx
        mul ebx
        cmp eax, SIEVE_SIZE
        jae .count
        cmp byte [buf_a + ebx], 0
        je .next
.mark:  mov byte [buf_a + eax], 0
        add eax, ebx
        cmp eax, SIEVE_SIZE
        jb .mark
.next:  inc ebx
        jmp .outer
.count: xor eax, eax
        xor ecx, ecx
.cnt:   movzx edx, byte [buf_a + ecx]
        add eax, edx
        inc ecx
        cmp ecx, SIEVE_SIZE
        jb .cnt
        add ebp, eax
        dec esi
        jnz .round
        mov eax, ebp
        pop ebp
        pop edi
        pop esi
        pop ebx
        ret

; --- Recursive Fibonacci: sum of fib(FIB_N) over FIB_ROUNDS calls ---
fib_bench:
        push ebx
        push esi
        xor esi, esi
        mov ecx, FIB_ROUNDS
.round: mov eax, FIB_N
        push ecx
        call fib
        pop ecx
        add esi, eax
        loop .round
        mov eax, esi
        pop esi
        pop ebx
        ret

; EAX = fib(EAX); keeps every other register but EDX.
fib:    cmp eax, 2
        jb .done
        push ebx
        mov ebx, eax
        lea eax, [ebx - 1]
        call fib
        xchg eax, ebx                   ; EBX = fib(n - 1), EAX = n
        sub eax, 2
        call fib
        add eax, ebx
        pop ebx
.done:  ret

; --- memcpy: REP MOVSD and an explicit dword loop between two 256 KiB buffers ---
; Returns a checksum of the destination.
memcpy_bench:
        push ebx
        push esi
        push edi
        push ebp
        xor ecx, ecx                    ; source pattern
.fill:  lea eax, [ecx * 4 + 0x1234]
        xor eax, ecx
        mov [buf_a + ecx * 4], eax
        inc ecx
        cmp ecx, COPY_DWORDS
        jb .fill
        mov ebp, COPY_ROUNDS
.round: mov esi, buf_a                  ; a -> b with the string instruction
        mov edi, buf_b
        mov ecx, COPY_DWORDS
        rep movsd
        mov esi, buf_b                  ; b -> a with a loop, rotating each dword
        mov edi, buf_a
        mov ecx, COPY_DWORDS
.copy:  mov eax, [esi]
        ror eax, 1
        mov [edi], eax
        add esi, 4
        add edi, 4
        dec ecx
        jnz .copy
        dec ebp
        jnz .round
        xor eax, eax                    ; checksum of a
        xor ecx, ecx
.sum:   add eax, [buf_a + ecx * 4]
        rol eax, 3
        inc ecx
        cmp ecx, COPY_DWORDS
        jb .sum
        pop ebp
        pop edi
        pop esi
        pop ebx
        ret

; --- Matrix multiply C = A * B (MAT_N x MAT_N dwords); returns the trace-weighted sum ---
matmul_bench:
        push ebx
        push esi
        push edi
        push ebp
        xor ecx, ecx                    ; A[i] = i * 3 + 1, B[i] = i ^ 0x55
.fill:  lea eax, [ecx * 2 + ecx + 1]
        mov [mat_a + ecx * 4], eax
        mov eax, ecx
        xor eax, 0x55
        mov [mat_b + ecx * 4], eax
        inc ecx
        cmp ecx, MAT_N * MAT_N
        jb .fill
        mov dword [mat_round], MAT_ROUNDS
.round: xor ebx, ebx                    ; EBX = row i
.row:   xor ebp, ebp                    ; EBP = column j
.col:   mov esi, ebx                    ; ESI = &A[i][0]
        imul esi, esi, MAT_N * 4
        add esi, mat_a
        lea edi, [mat_b + ebp * 4]      ; EDI = &B[0][j]
        xor edx, edx
        mov ecx, MAT_N
.dot:   mov eax, [esi]
        imul eax, [edi]
        add edx, eax
        add esi, 4
        add edi, MAT_N * 4
        dec ecx
        jnz .dot
        mov eax, ebx                    ; C[i][j] = sum
        imul eax, eax, MAT_N
        add eax, ebp
        mov [mat_c + eax * 4], edx
        inc ebp
        cmp ebp, MAT_N
        jb .col
        inc ebx
        cmp ebx, MAT_N
        jb .row
        dec dword [mat_round]
        jnz .round
        xor eax, eax                    ; checksum of C
        xor ecx, ecx
.sum:   mov edx, [mat_c + ecx * 4]
        imul edx, ecx
        add eax, edx
        inc ecx
        cmp ecx, MAT_N * MAT_N
        jb .sum
        pop ebp
        pop edi
        pop esi
        pop ebx
        ret

; --- Insertion sort of SORT_N LCG numbers, SORT_ROUNDS times; returns a checksum ---
sort_bench:
        push ebx
        push esi
        push edi
        push ebp
        mov dword [sort_seed], 12345
        xor ebp, ebp                    ; checksum
        mov dword [sort_round], SORT_ROUNDS
.round: xor ecx, ecx                    ; fill with seed = seed * 1103515245 + 12345
        mov eax, [sort_seed]
.fill:  imul eax, eax, 1103515245
        add eax, 12345
        mov edx, eax
        shr edx, 8
        mov [buf_a + ecx * 4], edx
        inc ecx
        cmp ecx, SORT_N
        jb .fill
        mov [sort_seed], eax
        mov esi, 1                      ; for i in 1..n
.outer: mov eax, [buf_a + esi * 4]      ; key
        lea edi, [esi - 1]              ; j = i - 1
.inner: cmp edi, 0
        jl .place
        mov edx, [buf_a + edi * 4]
        cmp edx, eax
        jbe .place
        mov [buf_a + edi * 4 + 4], edx
        dec edi
        jmp .inner
.place: mov [buf_a + edi * 4 + 4], eax
        inc esi
        cmp esi, SORT_N
        jb .outer
        xor ecx, ecx                    ; checksum the sorted array (and check order)
.sum:   mov eax, [buf_a + ecx * 4]
        add ebp, eax
        rol ebp, 1
        inc ecx
        cmp ecx, SORT_N
        jb .sum
        dec dword [sort_round]
        jnz .round
        mov eax, ebp
        pop ebp
        pop edi
        pop esi
        pop ebx
        ret

; Prints the NUL-terminated string at ESI.
puts:
        push eax
        push esi
.loop:  lodsb
        test al, al
        jz .end
        out DEBUGCON, al
        jmp .loop
.end:   pop esi
        pop eax
        ret

; Prints EAX as eight hex digits.
puthex32:
        push eax
        push ecx
        push edx
        mov edx, eax
        mov ecx, 8
.digit: rol edx, 4
        mov eax, edx
        and eax, 0xF
        mov al, [hex_digits + eax]
        out DEBUGCON, al
        loop .digit
        pop edx
        pop ecx
        pop eax
        ret

msg_bench       db "bench", 0
msg_crc         db " crc32=", 0
msg_sieve       db " sieve=", 0
msg_fib         db " fib=", 0
msg_memcpy      db " memcpy=", 0
msg_matmul      db " matmul=", 0
msg_sort        db " sort=", 0
hex_digits      db "0123456789abcdef"

align 4
load_end:

section .bss align=4096
page_dir:       resd 1024
page_tables:    resd MAPPED_MIB * 256
crc_table:      resd 256
mat_round:      resd 1
sort_round:     resd 1
sort_seed:      resd 1
                resb (4096 - ($ - $$) % 4096) % 4096   ; page-align
mat_a:          resd MAT_N * MAT_N
mat_b:          resd MAT_N * MAT_N
mat_c:          resd MAT_N * MAT_N
                resb (4096 - ($ - $$) % 4096) % 4096   ; page-align
buf_a:          resb COPY_DWORDS * 4
buf_b:          resb COPY_DWORDS * 4
stack:          resb 16384
stack_top:
bss_end:
