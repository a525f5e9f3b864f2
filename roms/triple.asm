; triple.asm — a ROM that triple faults at once (a 64 KiB BIOS image).
;
; The whole program sits in the 16 bytes at the reset vector: it writes POST code 0x7F,
; loads an interrupt table with limit 0 and executes UD2. #UD cannot be delivered (its
; IVT entry is past the limit), nor the #GP that raises, nor the double fault: the CPU
; shuts down. With --no-reboot ferrite stops with `triple-fault`; without it, the
; machine resets and does the same again until --max-insns or Ctrl-C.
;
; Build: nasm -f bin -o bin/triple.bin triple.asm   (or ./build.sh)

bits 16
cpu 386

POST_PORT   equ 0x80
POST_TRIPLE equ 0x7F
ROM_SIZE    equ 0x10000
RESET_OFF   equ 0xFFF0

org 0

empty_ivt:
        dw 0                    ; limit 0: no vector fits
        dd 0                    ; base

        times RESET_OFF - ($ - $$) db 0xFF
reset:
        mov al, POST_TRIPLE
        out POST_PORT, al
        lidt [cs:empty_ivt]
        ud2
        times ROM_SIZE - ($ - $$) db 0xFF
