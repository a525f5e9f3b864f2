; serial_hello.asm — ferrite's serial, fw_cfg and ACPI power-off test ROM (a 64 KiB BIOS image).
;
; Boots from the reset vector, programs COM1 (16550A at 0x3F8: 115200 baud, 8N1, FIFOs on),
; prints a greeting through it by polling LSR.THRE, reads QEMU's fw_cfg (selector 0x510,
; data 0x511): the signature and the RAM size, prints them, then switches the machine off
; through the ACPI PM block (PM1a_CNT at 0x604: SLP_TYP 0 = soft-off, SLP_EN). ferrite
; stops with `poweroff` and status 0. Expected serial output with -m 16:
;   hello from COM1
;   fw_cfg signature QEMU, RAM 0x01000000
; If the power-off write does nothing, the ROM writes 0x7E to the exit port (status 253).
;
; Build: nasm -f bin -o bin/serial_hello.bin serial_hello.asm   (or ./build.sh)

bits 16
cpu 386

COM1        equ 0x3F8
UART_THR    equ 0               ; transmit holding register (DLL with DLAB)
UART_IER    equ 1               ; interrupt enable (DLM with DLAB)
UART_FCR    equ 2               ; FIFO control
UART_LCR    equ 3               ; line control
UART_MCR    equ 4               ; modem control
UART_LSR    equ 5               ; line status
LCR_DLAB    equ 0x80
LCR_8N1     equ 0x03
FCR_FIFO_ON equ 0x07            ; enable, clear RX and TX
MCR_DTR_RTS equ 0x03
LSR_THRE    equ 0x20
DIVISOR     equ 1               ; 115200 baud

FW_CFG_SEL  equ 0x510
FW_CFG_DATA equ 0x511
FW_CFG_SIGNATURE equ 0x00
FW_CFG_RAM_SIZE  equ 0x03

PM1A_CNT    equ 0x604           ; ACPI PM block at 0x600
SLP_EN      equ 0x2000
SLP_TYP_OFF equ 0x0000          ; sleep type 0: soft-off (S5)

POST_PORT   equ 0x80
EXIT_PORT   equ 0xF4
EXIT_FAIL   equ 0x7E
STACK_TOP   equ 0x7000
ROM_SEG     equ 0xF000
ROM_SIZE    equ 0x10000
RESET_OFF   equ 0xFFF0

org 0

start:
        cli
        cld
        xor ax, ax
        mov ss, ax
        mov sp, STACK_TOP
        mov ax, cs
        mov ds, ax
        mov al, 0x01
        out POST_PORT, al

        ; COM1: divisor, 8N1, FIFOs, DTR/RTS, no interrupts.
        mov dx, COM1 + UART_LCR
        mov al, LCR_DLAB
        out dx, al
        mov dx, COM1 + UART_THR
        mov al, DIVISOR
        out dx, al
        mov dx, COM1 + UART_IER
        xor al, al
        out dx, al
        mov dx, COM1 + UART_LCR
        mov al, LCR_8N1
        out dx, al
        mov dx, COM1 + UART_FCR
        mov al, FCR_FIFO_ON
        out dx, al
        mov dx, COM1 + UART_MCR
        mov al, MCR_DTR_RTS
        out dx, al
        mov dx, COM1 + UART_IER
        xor al, al
        out dx, al

        mov si, msg_hello
        call print

        ; fw_cfg: the 4-byte signature, then the low 32 bits of the RAM size.
        mov si, msg_sig
        call print
        mov dx, FW_CFG_SEL
        mov ax, FW_CFG_SIGNATURE
        out dx, ax
        mov cx, 4
        mov dx, FW_CFG_DATA
.sig:   in al, dx
        call putc
        loop .sig
        mov si, msg_ram
        call print
        mov dx, FW_CFG_SEL
        mov ax, FW_CFG_RAM_SIZE
        out dx, ax
        mov dx, FW_CFG_DATA
        xor ebx, ebx
        mov cx, 4
.ram:   in al, dx                   ; little-endian: least significant byte first
        ror ebx, 8
        mov bl, al
        loop .ram
        ror ebx, 8                  ; four RORs and byte loads leave the value in place
        call print_hex32
        mov al, 10
        call putc

        mov al, 0x02
        out POST_PORT, al
        mov dx, PM1A_CNT
        mov ax, SLP_TYP_OFF | SLP_EN
        out dx, ax

        ; Still running: the power-off did not happen.
        mov al, EXIT_FAIL
        out EXIT_PORT, al
halt:
        cli
        hlt
        jmp halt

; putc: sends AL through COM1 once THR is empty.
putc:
        push dx
        push ax
        mov dx, COM1 + UART_LSR
.wait:  in al, dx
        test al, LSR_THRE
        jz .wait
        pop ax
        mov dx, COM1 + UART_THR
        out dx, al
        pop dx
        ret

; print: sends the NUL-terminated string at DS:SI.
print:
        lodsb
        test al, al
        jz .done
        call putc
        jmp print
.done:
        ret

; print_hex32: prints EBX as 0x and eight hex digits.
print_hex32:
        mov al, '0'
        call putc
        mov al, 'x'
        call putc
        mov cx, 8
.digit: rol ebx, 4
        mov al, bl
        and al, 0x0F
        add al, '0'
        cmp al, '9'
        jbe .out
        add al, 'A' - '9' - 1
.out:   call putc
        loop .digit
        ret

msg_hello: db "hello from COM1", 10, 0
msg_sig:   db "fw_cfg signature ", 0
msg_ram:   db ", RAM ", 0

        times RESET_OFF - ($ - $$) db 0xFF
reset:
        jmp ROM_SEG:start
        times ROM_SIZE - ($ - $$) db 0xFF
