; demo.asm — the demo ROM built into the ferrite binary (`ferrite` with no arguments).
;
; A 64 KiB BIOS image: prints a banner over the debug console (port 0xE9), computes the
; primes below 100 by trial division (CALL/RET, DIV, loops), prints them and their count
; and sum in decimal, then stops with interrupts disabled and HLT. Nothing can wake the
; CPU, so ferrite reports `stopped: halted` and exits with status 0. (The exit port
; cannot give status 0: it always yields an odd status.)
;
; Expected output:
;   ferrite demo ROM: x86 real mode, printing through debug port 0xE9
;   primes below 100: 2 3 5 7 11 13 17 19 23 29 31 37 41 43 47 53 59 61 67 71 73 79 83 89 97
;   count 25, sum 1060
;
; Build: nasm -f bin -o bin/demo.bin demo.asm   (or ./build.sh)

bits 16
cpu 386

DEBUGCON    equ 0xE9
POST_PORT   equ 0x80
LIMIT       equ 100             ; primes below this
STACK_TOP   equ 0x7000
ROM_SEG     equ 0xF000
ROM_SIZE    equ 0x10000
RESET_OFF   equ 0xFFF0
POST_START  equ 0xD0
POST_DONE   equ 0xDD

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

        mov si, banner
        call print
        mov si, primes_label
        call print

        xor di, di              ; DI = count
        xor bp, bp              ; BP = sum
        mov cx, 2               ; CX = candidate
.next:
        call is_prime
        jnc .skip
        inc di
        add bp, cx
        mov al, ' '
        out DEBUGCON, al
        mov ax, cx
        call print_dec
.skip:
        inc cx
        cmp cx, LIMIT
        jb .next

        mov si, count_label
        call print
        mov ax, di
        call print_dec
        mov si, sum_label
        call print
        mov ax, bp
        call print_dec
        mov al, 10
        out DEBUGCON, al

        mov al, POST_DONE
        out POST_PORT, al
halt:
        cli
        hlt
        jmp halt

; is_prime: CF set when CX (>= 2) is prime. Trial division by 2, 3, ... while d*d <= n.
; Preserves CX; clobbers AX, BX, DX.
is_prime:
        mov bx, 2
.try:
        mov ax, bx
        mul bx                  ; DX:AX = d*d
        cmp ax, cx
        ja .prime
        mov ax, cx
        xor dx, dx
        div bx                  ; DX = n mod d
        test dx, dx
        jz .composite
        inc bx
        jmp .try
.prime:
        stc
        ret
.composite:
        clc
        ret

; print_dec: prints AX as unsigned decimal. Preserves CX; clobbers AX, BX, DX.
print_dec:
        push cx
        mov bx, 10
        xor cx, cx
.divide:
        xor dx, dx
        div bx                  ; AX = quotient, DX = digit
        push dx
        inc cx
        test ax, ax
        jnz .divide
.emit:
        pop ax
        add al, '0'
        out DEBUGCON, al
        loop .emit
        pop cx
        ret

; print: writes the NUL-terminated string at DS:SI to the debug console.
print:
        lodsb
        test al, al
        jz .done
        out DEBUGCON, al
        jmp print
.done:
        ret

banner:       db "ferrite demo ROM: x86 real mode, printing through debug port 0xE9", 10, 0
primes_label: db "primes below 100:", 0
count_label:  db 10, "count ", 0
sum_label:    db ", sum ", 0

        times RESET_OFF - ($ - $$) db 0xFF
reset:
        jmp ROM_SEG:start
        times ROM_SIZE - ($ - $$) db 0xFF
