; multiboot_hello.asm — ferrite's multiboot v1 test kernel (not a BIOS image).
;
; A flat binary with an a.out-kludge multiboot header, so no linker is needed: the
; header's address fields tell the loader to put the whole file at LOAD_ADDR (1 MiB),
; zero the BSS after it and jump to `start`. Run it with
;   ferrite run --kernel roms/bin/multiboot_hello.bin [--append ARGS] [--initrd FILE]
;
; The kernel checks what the multiboot specification promises — EAX = 0x2BADB002, EBX
; pointing at the information structure with the memory, command-line, memory-map and
; loader-name fields valid, flat 32-bit segments, a zeroed BSS — then prints one line
; over the debug console (port 0xE9) and ends the run through isa-debug-exit (0xF4):
;   multiboot ok: loader=ferrite cmdline=PATH ARGS mem_lower=639KiB mem_upper=15360KiB mmap_ram=15999KiB mods=0
; (numbers for the default 16 MiB; with a module: `mods=1 (NAME, N bytes)`).
;   success: writes EXIT_OK (0x10)   -> ferrite exits with status (0x10 << 1) | 1 = 33
;   failure: prints "multiboot FAIL: REASON", writes EXIT_FAIL (0x7E) -> status 253
;
; Straight-line 32-bit code, near calls and port I/O only: it never reloads a segment
; register.
;
; Build: nasm -f bin -o bin/multiboot_hello.bin multiboot_hello.asm   (or ./build.sh)

bits 32
cpu 386

LOAD_ADDR       equ 0x100000
MB_MAGIC        equ 0x1BADB002
MB_MEMORY_INFO  equ 1 << 1
MB_AOUT_KLUDGE  equ 1 << 16
MB_FLAGS        equ MB_MEMORY_INFO | MB_AOUT_KLUDGE
BOOT_MAGIC      equ 0x2BADB002

; Information-structure flags and field offsets.
INFO_MEMORY     equ 1 << 0
INFO_CMDLINE    equ 1 << 2
INFO_MODS       equ 1 << 3
INFO_MMAP       equ 1 << 6
INFO_LOADER     equ 1 << 9
INFO_NEEDED     equ INFO_MEMORY | INFO_CMDLINE | INFO_MMAP | INFO_LOADER
MBI_FLAGS       equ 0
MBI_MEM_LOWER   equ 4
MBI_MEM_UPPER   equ 8
MBI_CMDLINE     equ 16
MBI_MODS_COUNT  equ 20
MBI_MODS_ADDR   equ 24
MBI_MMAP_LENGTH equ 44
MBI_MMAP_ADDR   equ 48
MBI_LOADER_NAME equ 64
; Memory-map entry, offsets from its start: size (of the rest), base (u64), length (u64), type.
MMAP_SIZE       equ 0
MMAP_LENGTH     equ 12
MMAP_TYPE       equ 20
MMAP_AVAILABLE  equ 1
; Module-list entry: start, end, string, reserved.
MOD_START       equ 0
MOD_END         equ 4
MOD_STRING      equ 8

CODE_SELECTOR   equ 0x08
DATA_SELECTOR   equ 0x10
DEBUGCON        equ 0xE9
EXIT_PORT       equ 0xF4
EXIT_OK         equ 0x10
EXIT_FAIL       equ 0x7E
STACK_SIZE      equ 4096
CANARY          equ 0x5AA5F00D

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
        mov esp, stack_top
        cmp eax, BOOT_MAGIC
        mov esi, why_magic
        jne fail
        mov esi, why_segments           ; flat selectors from ferrite's GDT
        mov ax, cs
        cmp ax, CODE_SELECTOR
        jne fail
        mov ax, ds
        cmp ax, DATA_SELECTOR
        jne fail
        mov esi, why_bss                ; the loader zeroed the BSS...
        cmp dword [bss_word], 0
        jne fail
        mov dword [bss_word], CANARY    ; ...and it is plain RAM
        cmp dword [bss_word], CANARY
        jne fail
        mov ebp, ebx                    ; EBP = the information structure
        mov eax, [ebp + MBI_FLAGS]
        and eax, INFO_NEEDED
        cmp eax, INFO_NEEDED
        mov esi, why_flags
        jne fail

        mov esi, msg_ok
        call puts
        mov esi, [ebp + MBI_LOADER_NAME]
        call puts
        mov esi, msg_cmdline
        call puts
        mov esi, [ebp + MBI_CMDLINE]
        call puts
        mov esi, msg_mem_lower
        call puts
        mov eax, [ebp + MBI_MEM_LOWER]
        call putdec
        mov esi, msg_mem_upper
        call puts
        mov eax, [ebp + MBI_MEM_UPPER]
        call putdec
        mov esi, msg_mmap
        call puts
        call mmap_ram_kib
        call putdec
        mov esi, msg_mods
        call puts
        xor eax, eax
        test dword [ebp + MBI_FLAGS], INFO_MODS
        jz .no_mods
        mov eax, [ebp + MBI_MODS_COUNT]
.no_mods:
        call putdec
        test eax, eax
        jz .done
        mov ebx, [ebp + MBI_MODS_ADDR]  ; the first module: " (NAME, N bytes)"
        mov esi, msg_mod_open
        call puts
        mov esi, [ebx + MOD_STRING]
        call puts
        mov esi, msg_mod_comma
        call puts
        mov eax, [ebx + MOD_END]
        sub eax, [ebx + MOD_START]
        call putdec
        mov esi, msg_mod_close
        call puts
.done:
        mov esi, msg_newline
        call puts
        mov al, EXIT_OK
        out EXIT_PORT, al
        hlt

; Prints "multiboot FAIL: " and the reason at ESI, then exits with EXIT_FAIL.
fail:
        push esi
        mov esi, msg_fail
        call puts
        pop esi
        call puts
        mov esi, msg_newline
        call puts
        mov al, EXIT_FAIL
        out EXIT_PORT, al
        hlt

; Returns in EAX the KiB of available RAM the memory map lists (entries below 4 GiB).
mmap_ram_kib:
        push esi
        push edi
        xor eax, eax
        mov esi, [ebp + MBI_MMAP_ADDR]
        mov edi, esi
        add edi, [ebp + MBI_MMAP_LENGTH]
.next:
        cmp esi, edi
        jae .end
        cmp dword [esi + MMAP_TYPE], MMAP_AVAILABLE
        jne .skip
        mov edx, [esi + MMAP_LENGTH]
        shr edx, 10
        add eax, edx
.skip:
        mov edx, [esi + MMAP_SIZE]
        lea esi, [esi + edx + 4]
        jmp .next
.end:
        pop edi
        pop esi
        ret

; Prints the NUL-terminated string at ESI.
puts:
        push eax
.loop:
        lodsb
        test al, al
        jz .end
        out DEBUGCON, al
        jmp .loop
.end:
        pop eax
        ret

; Prints EAX in decimal; keeps EAX.
putdec:
        push eax
        push ecx
        push edx
        mov ecx, 10
        push byte -1                    ; end marker below the digits
.divide:
        xor edx, edx
        div ecx
        push edx
        test eax, eax
        jnz .divide
.print:
        pop eax
        cmp eax, -1
        je .end
        add al, '0'
        out DEBUGCON, al
        jmp .print
.end:
        pop edx
        pop ecx
        pop eax
        ret

msg_ok          db "multiboot ok: loader=", 0
msg_cmdline     db " cmdline=", 0
msg_mem_lower   db " mem_lower=", 0
msg_mem_upper   db "KiB mem_upper=", 0
msg_mmap        db "KiB mmap_ram=", 0
msg_mods        db "KiB mods=", 0
msg_mod_open    db " (", 0
msg_mod_comma   db ", ", 0
msg_mod_close   db " bytes)", 0
msg_newline     db 10, 0
msg_fail        db "multiboot FAIL: ", 0
why_magic       db "EAX is not 0x2BADB002", 0
why_segments    db "CS/DS are not the flat selectors 0x08/0x10", 0
why_bss         db "the BSS is not zeroed RAM", 0
why_flags       db "the info structure lacks memory, cmdline, mmap or loader name", 0

align 4
load_end:

section .bss align=16
bss_word:       resd 1
stack:          resb STACK_SIZE
stack_top:
bss_end:
