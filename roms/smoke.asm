; smoke.asm — ferrite's real-mode smoke test ROM (a 64 KiB BIOS image).
;
; Boots from the reset vector, sets up a stack in RAM, prints over the debug console
; (port 0xE9), checks that RAM holds what was written, reports progress on the POST-code
; port (0x80) and ends the run through the isa-debug-exit port (0xF4):
;   success: writes EXIT_OK (0x10)   -> ferrite exits with status (0x10 << 1) | 1 = 33
;   failure: writes EXIT_FAIL (0x7E) -> status 253
; Expected debug-console output on success:
;   ferrite smoke: real mode up
;   ferrite smoke ok
;
; Build: nasm -f bin -o bin/smoke.bin smoke.asm   (or ./build.sh)

bits 16
cpu 386

DEBUGCON    equ 0xE9
EXIT_PORT   equ 0xF4
POST_PORT   equ 0x80
EXIT_OK     equ 0x10
EXIT_FAIL   equ 0x7E
STACK_TOP   equ 0x7000          ; SS = 0: the stack grows down from 0000:7000
TEST_SEG    equ 0x1000          ; RAM probe at 1000:0000 (physical 0x10000)
PATTERN     equ 0xA55A
ROM_SEG     equ 0xF000
ROM_SIZE    equ 0x10000
RESET_OFF   equ 0xFFF0

POST_START  equ 0x01
POST_STACK  equ 0x02
POST_RAM    equ 0x03
POST_DONE   equ 0x04

org 0

start:
        cli
        cld
        mov al, POST_START
        out POST_PORT, al
        xor ax, ax
        mov ss, ax
        mov sp, STACK_TOP
        mov ax, cs
        mov ds, ax
        mov al, POST_STACK
        out POST_PORT, al

        mov si, msg_up
        call print

        mov ax, TEST_SEG
        mov es, ax
        mov word [es:0], PATTERN
        cmp word [es:0], PATTERN
        jne fail
        mov al, POST_RAM
        out POST_PORT, al

        mov si, msg_ok
        call print
        mov al, POST_DONE
        out POST_PORT, al
        mov al, EXIT_OK
        out EXIT_PORT, al
        jmp halt

fail:
        mov si, msg_fail
        call print
        mov al, EXIT_FAIL
        out EXIT_PORT, al
halt:
        cli
        hlt
        jmp halt

; print: writes the NUL-terminated string at DS:SI to the debug console.
print:
        lodsb
        test al, al
        jz .done
        out DEBUGCON, al
        jmp print
.done:
        ret

msg_up:   db "ferrite smoke: real mode up", 10, 0
msg_ok:   db "ferrite smoke ok", 10, 0
msg_fail: db "ferrite smoke FAILED: RAM did not hold a written word", 10, 0

        times RESET_OFF - ($ - $$) db 0xFF
reset:
        jmp ROM_SEG:start
        times ROM_SIZE - ($ - $$) db 0xFF
