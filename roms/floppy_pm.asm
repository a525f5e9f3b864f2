; floppy_pm.asm — ferrite's floppy boot test: a 1.44 MiB floppy image booted by a BIOS.
;
; The boot sector (loaded by the BIOS at 0000:7C00, DL = the boot drive) loads the next
; LOAD_SECTORS sectors (LBA 1..40) right behind itself at 0x7E00 through INT 13h: first the
; rest of cylinder 0, head 0 (17 sectors) in one multi-sector call, then one sector at a
; time across head 1 and into cylinder 1, converting LBA to CHS for 18 sectors per track
; and 2 heads (each call retried three times after a disk reset). It jumps to the second
; stage (LBA 1), which writes the pattern (i * 7 + 3) & 0xFF to the disk's last sector (C79
; H1 S18) with INT 13h AH=03, reads it back, reports on COM1 whether it matched
;   ferrite floppy: last sector written and read back
; then opens A20 through port 0x92, loads a flat GDT, enters 32-bit
; protected mode, computes a checksum of everything it loaded (0x7E00..0xCDFF, as 32-bit
; words: sum = sum * 31 + word), and writes to COM1
;   ferrite floppy: protected mode OK, checksum 0xXXXXXXXX
; then writes EXIT_OK to the isa-debug-exit port (ferrite exits with status 33).
; A failed INT 13h prints "ferrite floppy: INT 13h failed" and exits with EXIT_FAIL (3).
; LBA 2..40 hold a fixed pseudo-random pattern, so the checksum proves every sector
; arrived in its place; crates/ferrite/tests/bios_boot.rs recomputes it from the image.
;
; Build: nasm -f bin -o bin/floppy_pm.img floppy_pm.asm   (or ./build.sh)

bits 16
cpu 386
org 0x7C00

COM1         equ 0x3F8
LSR_THRE     equ 0x20
EXIT_PORT    equ 0xF4
EXIT_OK      equ 0x10               ; ferrite: status (0x10 << 1) | 1 = 33
EXIT_FAIL    equ 0x01               ; status 3
SECTORS      equ 18                 ; per track (1.44 MiB)
HEADS        equ 2
LOAD_SECTORS equ 40                 ; LBA 1..40
LOAD_ADDR    equ 0x7E00
FLOPPY_BYTES equ 1474560
WRITE_BUF    equ 0xD000             ; the sector written (after the checksummed area)
READ_BUF     equ 0xD200             ; and read back

boot:
    cli
    xor ax, ax
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov sp, 0x7C00
    sti
    cld
    mov [boot_drive], dl

    ; LBA 1..17: cylinder 0, head 0, sectors 2..18 in one call.
    mov bx, LOAD_ADDR
    mov ax, 0x0200 | (SECTORS - 1)  ; AH = 02 read, AL = 17 sectors
    mov cx, 0x0002                  ; CH = cylinder 0, CL = sector 2
    xor dh, dh                      ; head 0
    call read_retry

    ; LBA 18..40: one sector at a time.
    mov si, SECTORS
    mov bx, LOAD_ADDR + (SECTORS - 1) * 512
.next:
    mov ax, si
    xor dx, dx
    mov cx, SECTORS
    div cx                          ; AX = track index (cylinder * 2 + head), DX = sector - 1
    mov cl, dl
    inc cl                          ; CL = sector (1-based)
    mov dh, al
    and dh, HEADS - 1               ; DH = head
    shr ax, 1
    mov ch, al                      ; CH = cylinder
    mov ax, 0x0201
    call read_retry
    add bx, 512
    inc si
    cmp si, LOAD_SECTORS + 1
    jb .next
    jmp 0x0000:stage2

; INT 13h with AX, BX, CX, DH as given and DL = the boot drive; three tries with a disk
; reset between them.
read_retry:
    mov di, 3
.try:
    push ax
    mov dl, [boot_drive]
    int 0x13
    jnc .ok
    xor ax, ax
    mov dl, [boot_drive]
    int 0x13
    pop ax
    dec di
    jnz .try
    mov si, msg_fail
.print:
    lodsb
    test al, al
    jz .fail_exit
    mov dx, COM1
    out dx, al
    jmp .print
.fail_exit:
    mov al, EXIT_FAIL
    out EXIT_PORT, al
    cli
    hlt
.ok:
    pop ax
    ret

msg_fail   db "ferrite floppy: INT 13h failed", 13, 10, 0
boot_drive db 0

    times 510 - ($ - $$) db 0
    dw 0xAA55

; ---- stage 2 (LBA 1, at 0x7E00) -------------------------------------------------------
stage2:
    ; Writes a pattern to the disk's last sector (C79 H1 S18) and reads it back.
    sti
    mov di, WRITE_BUF
    xor cx, cx
.fill:
    mov al, cl
    mov ah, 7
    mul ah                          ; AL = (i * 7) & 0xFF
    add al, 3
    stosb
    inc cx
    cmp cx, 512
    jb .fill
    mov bx, WRITE_BUF
    mov ax, 0x0301                  ; AH = 03 write, AL = 1 sector
    mov cx, (79 << 8) | SECTORS     ; cylinder 79, sector 18
    mov dh, HEADS - 1               ; head 1
    call read_retry
    mov bx, READ_BUF
    mov ax, 0x0201
    mov cx, (79 << 8) | SECTORS
    mov dh, HEADS - 1
    call read_retry
    mov si, WRITE_BUF
    mov di, READ_BUF
    mov cx, 512
    repe cmpsb
    mov si, msg_write_ok
    je .report
    mov si, msg_write_bad
.report:
    lodsb
    test al, al
    jz .to_pm
    mov dx, COM1
    out dx, al
    jmp .report
.to_pm:
    cli
    in al, 0x92
    or al, 0x02                     ; A20 on
    and al, 0xFE                    ; never the reset bit
    out 0x92, al
    lgdt [gdt_desc]
    mov eax, cr0
    or eax, 1
    mov cr0, eax
    jmp 0x08:pm32

bits 32
pm32:
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov esp, 0x7000

    mov esi, LOAD_ADDR
    mov ecx, LOAD_SECTORS * 512 / 4
    xor edx, edx
.sum:
    imul edx, edx, 31
    add edx, [esi]
    add esi, 4
    dec ecx
    jnz .sum

    mov esi, msg_ok
    call puts
    mov eax, edx
    call puthex
    mov esi, msg_crlf
    call puts
    mov al, EXIT_OK
    out EXIT_PORT, al
    hlt

; Writes the NUL-terminated string at ESI to COM1, waiting for THRE before each byte.
puts:
    lodsb
    test al, al
    jz .done
    call putc
    jmp puts
.done:
    ret

putc:
    push edx
    push eax
    mov dx, COM1 + 5
.wait:
    in al, dx
    test al, LSR_THRE
    jz .wait
    pop eax
    mov dx, COM1
    out dx, al
    pop edx
    ret

; Writes EAX as eight hex digits.
puthex:
    mov ecx, 8
.digit:
    rol eax, 4
    push eax
    and al, 0x0F
    add al, '0'
    cmp al, '9'
    jbe .out
    add al, 'A' - '9' - 1
.out:
    call putc
    pop eax
    dec ecx
    jnz .digit
    ret

msg_write_ok  db "ferrite floppy: last sector written and read back", 13, 10, 0
msg_write_bad db "ferrite floppy: last sector read back wrong", 13, 10, 0
msg_ok   db "ferrite floppy: protected mode OK, checksum 0x", 0
msg_crlf db 13, 10, 0

align 8
gdt:
    dq 0
    dq 0x00CF9B000000FFFF           ; 0x08: flat 32-bit code (accessed already: the CPU would
                                    ; set the bit, changing what the checksum covers)
    dq 0x00CF93000000FFFF           ; 0x10: flat data (accessed)
gdt_desc:
    dw gdt_desc - gdt - 1
    dd gdt

    times 1024 - ($ - $$) db 0

; ---- LBA 2..40: a fixed pattern --------------------------------------------------------
%assign i 0
%rep (LOAD_SECTORS - 1) * 128
    dd ((i * 2654435761) ^ (i << 7)) & 0xFFFFFFFF
%assign i i + 1
%endrep

    times FLOPPY_BYTES - ($ - $$) db 0
