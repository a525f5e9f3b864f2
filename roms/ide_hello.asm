; ide_hello.asm — ferrite's PCI and IDE test ROM (a 64 KiB BIOS image).
;
; Boots from the reset vector and, printing through the debug console (port 0xE9):
;  1. enumerates PCI bus 0 with configuration mechanism #1 (0xCF8/0xCFC) and prints one
;     line "pci DD.F VVVV:DDDD" per function found (ferrite: 8086:1237, 8086:7000, 8086:7010);
;  2. reads sector 0 of the primary master by PIO (READ SECTORS, LBA 0) and prints
;     "hda sector 0 sum SSSS sig GGGG": the 16-bit sum of its 256 words and its last word;
;  3. writes sector 1 by PIO (WRITE SECTORS): "FERRITE WROTE THIS" then zeros, flushes
;     the cache and prints "hda wrote sector 1";
;  4. exits through the exit port with 0x10 (status 33); on a drive error it prints
;     "hda error SS EE" (status, error register) and exits with 0x7E (status 253).
;
; Build: nasm -f bin -o bin/ide_hello.bin ide_hello.asm   (or ./build.sh)

bits 16
cpu 386

DEBUGCON    equ 0xE9
POST_PORT   equ 0x80
EXIT_PORT   equ 0xF4
EXIT_OK     equ 0x10
EXIT_FAIL   equ 0x7E

PCI_ADDR    equ 0xCF8
PCI_DATA    equ 0xCFC
PCI_ENABLE  equ 0x80000000

ATA_DATA    equ 0x1F0
ATA_ERROR   equ 0x1F1
ATA_NSECTOR equ 0x1F2
ATA_LBA_LOW equ 0x1F3
ATA_LBA_MID equ 0x1F4
ATA_LBA_HI  equ 0x1F5
ATA_DEVICE  equ 0x1F6
ATA_STATUS  equ 0x1F7           ; status (read) / command (write)
ATA_CTL     equ 0x3F6
DEV_MASTER_LBA equ 0xE0
ST_BSY      equ 0x80
ST_DRQ      equ 0x08
ST_ERR      equ 0x01
CMD_READ    equ 0x20
CMD_WRITE   equ 0x30
CMD_FLUSH   equ 0xE7
CTL_NIEN    equ 0x02

BUF         equ 0x8000          ; sector buffer at 0000:8000
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
        mov es, ax
        mov sp, STACK_TOP
        mov ax, cs
        mov ds, ax
        mov al, 0x01
        out POST_PORT, al

        ; 1. PCI enumeration: EBX walks device/function (bits 15..8) over bus 0.
        xor ebx, ebx
.scan:  mov eax, ebx
        shl eax, 8
        or eax, PCI_ENABLE
        mov dx, PCI_ADDR
        out dx, eax
        mov dx, PCI_DATA
        in eax, dx
        cmp ax, 0xFFFF
        je .next
        mov ecx, eax                ; ECX = device:vendor
        mov si, msg_pci
        call print
        mov al, bl
        shr al, 3
        call print_hex8             ; device
        mov al, '.'
        call putc
        mov al, bl
        and al, 7
        add al, '0'
        call putc                   ; function
        mov al, ' '
        call putc
        mov ax, cx
        call print_hex16            ; vendor
        mov al, ':'
        call putc
        shr ecx, 16
        mov ax, cx
        call print_hex16            ; device
        mov al, 10
        call putc
.next:  inc bx
        cmp bx, 256
        jb .scan

        ; 2. Read sector 0 by PIO, interrupts off at the drive.
        mov al, 0x02
        out POST_PORT, al
        mov dx, ATA_CTL
        mov al, CTL_NIEN
        out dx, al
        xor eax, eax                ; LBA 0
        mov bl, CMD_READ
        call ata_command
        call wait_drq
        mov di, BUF
        mov cx, 256
        mov dx, ATA_DATA
        rep insw
        xor bx, bx
        mov si, BUF
        mov cx, 256
.sum:   es lodsw
        add bx, ax
        loop .sum
        mov si, msg_sum
        call print
        mov ax, bx
        call print_hex16
        mov si, msg_sig
        call print
        mov ax, [es:BUF + 510]
        call print_hex16
        mov al, 10
        call putc

        ; 3. Write sector 1 by PIO: the marker, then zeros.
        mov al, 0x03
        out POST_PORT, al
        mov di, BUF
        mov cx, 256
        xor ax, ax
        rep stosw
        mov si, msg_marker
        mov di, BUF
.copy:  lodsb
        test al, al
        jz .copied
        stosb
        jmp .copy
.copied:
        mov eax, 1                  ; LBA 1
        mov bl, CMD_WRITE
        call ata_command
        call wait_drq
        mov si, BUF
        mov cx, 256
        mov dx, ATA_DATA
        es rep outsw
        call wait_ready
        xor eax, eax
        mov bl, CMD_FLUSH
        call ata_command
        call wait_ready
        mov si, msg_wrote
        call print

        mov al, EXIT_OK
        out EXIT_PORT, al
halt:
        cli
        hlt
        jmp halt

; ata_command: one sector at LBA EAX (28 bits), command BL, on the primary master.
ata_command:
        push eax
        call wait_ready
        pop eax
        mov ecx, eax
        mov dx, ATA_DEVICE
        shr eax, 24
        and al, 0x0F
        or al, DEV_MASTER_LBA
        out dx, al
        mov dx, ATA_NSECTOR
        mov al, 1
        out dx, al
        mov eax, ecx
        mov dx, ATA_LBA_LOW
        out dx, al
        shr eax, 8
        mov dx, ATA_LBA_MID
        out dx, al
        shr eax, 8
        mov dx, ATA_LBA_HI
        out dx, al
        mov dx, ATA_STATUS
        mov al, bl
        out dx, al
        ret

; wait_ready: waits for BSY to clear; fails on ERR.
wait_ready:
        mov dx, ATA_STATUS
.poll:  in al, dx
        test al, ST_BSY
        jnz .poll
        test al, ST_ERR
        jnz ata_error
        ret

; wait_drq: waits for BSY clear and DRQ set; fails on ERR.
wait_drq:
        mov dx, ATA_STATUS
.poll:  in al, dx
        test al, ST_BSY
        jnz .poll
        test al, ST_ERR
        jnz ata_error
        test al, ST_DRQ
        jz .poll
        ret

; ata_error: prints the status (AL) and error registers and exits with EXIT_FAIL.
ata_error:
        mov bl, al
        mov si, msg_error
        call print
        mov al, bl
        call print_hex8
        mov al, ' '
        call putc
        mov dx, ATA_ERROR
        in al, dx
        call print_hex8
        mov al, 10
        call putc
        mov al, EXIT_FAIL
        out EXIT_PORT, al
        jmp halt

; putc: writes AL to the debug console.
putc:
        out DEBUGCON, al
        ret

; print: writes the NUL-terminated string at DS:SI.
print:
        lodsb
        test al, al
        jz .done
        call putc
        jmp print
.done:
        ret

; print_hex16: AX as four hex digits.
print_hex16:
        push ax
        mov al, ah
        call print_hex8
        pop ax
        ; fall through
; print_hex8: AL as two hex digits.
print_hex8:
        push ax
        shr al, 4
        call .nibble
        pop ax
        and al, 0x0F
.nibble:
        and al, 0x0F
        add al, '0'
        cmp al, '9'
        jbe .out
        add al, 'A' - '9' - 1
.out:   jmp putc

msg_pci:    db "pci ", 0
msg_sum:    db "hda sector 0 sum ", 0
msg_sig:    db " sig ", 0
msg_wrote:  db "hda wrote sector 1", 10, 0
msg_error:  db "hda error ", 0
msg_marker: db "FERRITE WROTE THIS", 0

        times RESET_OFF - ($ - $$) db 0xFF
reset:
        jmp ROM_SEG:start
        times ROM_SIZE - ($ - $$) db 0xFF
