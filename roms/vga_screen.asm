; vga_screen.asm — ferrite's display test ROM (a 64 KiB BIOS image), for the screenshot test.
;
; Without any VGA BIOS it programs the VGA itself:
;  1. a font: glyph row r of character c is (c * 7 + r * 13) & 0xFF, written into plane 2
;     through the planar window at 0xA0000 (map mask 4, odd/even off);
;  2. an 80x25 text mode with 8-dot, 16-line cells (640x400): DAC entry i (0..15) =
;     (4i, 63 - 4i, 2i), the attribute palette the identity, no blinking, no cursor;
;  3. 2000 cells at 0xB8000: cell i holds character i & 0xFF with attribute (5i + 3) & 0xFF.
; Then it reads CMOS 0x18 (extended memory in KiB, high byte): with -m 16 (0x3C) it stops
; there; with more RAM it also switches the Bochs VBE to 640x480x32 with the linear
; framebuffer at 0xE0000000 and draws pixel (x, y) = RGB(x & 0xFF, y & 0xFF, (x ^ y) & 0xFF)
; through it, from unreal mode (a flat 4 GiB ES).
; It ends by switching the machine off through the ACPI PM block (status 0).
;
; Build: nasm -f bin -o bin/vga_screen.bin vga_screen.asm   (or ./build.sh)

bits 16
cpu 386

ROM_SEG     equ 0xF000
ROM_SIZE    equ 0x10000
RESET_OFF   equ 0xFFF0

SEQ         equ 0x3C4
GRC         equ 0x3CE
CRTC        equ 0x3D4
ATTR        equ 0x3C0
STATUS1     equ 0x3DA
MISC_OUT    equ 0x3C2
DAC_WRITE   equ 0x3C8
DAC_DATA    equ 0x3C9
AR_PAS      equ 0x20

VBE_INDEX   equ 0x1CE
VBE_DATA    equ 0x1CF
VBE_XRES    equ 1
VBE_YRES    equ 2
VBE_BPP     equ 3
VBE_ENABLE  equ 4
VBE_ENABLED equ 0x01
VBE_LFB     equ 0x40
LFB         equ 0xE0000000
WIDTH       equ 640
HEIGHT      equ 480

CMOS_INDEX  equ 0x70
CMOS_DATA   equ 0x71
CMOS_EXT_HI equ 0x18
EXT_16M     equ 0x3C            ; 15360 KiB above 1 MiB: -m 16

PM1A_CNT    equ 0x604
SLP_EN      equ 0x2000
EXIT_PORT   equ 0xF4

; Writes register %2 = %3 through the index/data pair at %1 (one 16-bit OUT).
%macro REG 3
        mov dx, %1
        mov ax, ((%3) << 8) | (%2)
        out dx, ax
%endmacro

start:
        cli
        xor ax, ax
        mov ss, ax
        mov sp, 0x7000
        mov dx, MISC_OUT
        mov al, 0x63            ; colour I/O addresses
        out dx, al

; --- 1. the font, through the planar window ---
        REG SEQ, 2, 0x04        ; map mask: plane 2
        REG SEQ, 4, 0x06        ; extended memory, odd/even off, no chain-4
        REG GRC, 1, 0x00        ; no set/reset
        REG GRC, 3, 0x00        ; no rotate, no function
        REG GRC, 5, 0x00        ; write mode 0, read mode 0
        REG GRC, 6, 0x04        ; 0xA0000, 64 KiB, text
        REG GRC, 8, 0xFF        ; bit mask: all bits
        mov ax, 0xA000
        mov es, ax
        xor di, di              ; di = c * 32
        xor bx, bx              ; bl = c
.glyph: xor cx, cx              ; cl = r
.row:   mov al, bl
        mov ah, 7
        mul ah                  ; al = c * 7
        mov dl, al
        mov al, cl
        mov ah, 13
        mul ah                  ; al = r * 13
        add al, dl
        mov [es:di], al
        inc di
        inc cl
        cmp cl, 32
        jb .row
        inc bx
        cmp bx, 256
        jb .glyph

; --- 2. the text mode ---
        REG SEQ, 1, 0x01        ; 8-dot characters
        REG SEQ, 2, 0x03        ; planes 0 and 1
        REG SEQ, 3, 0x00        ; font map 0
        REG SEQ, 4, 0x02        ; odd/even
        REG GRC, 4, 0x00
        REG GRC, 5, 0x10        ; host odd/even
        REG GRC, 6, 0x0E        ; 0xB8000, 32 KiB, text
        REG CRTC, 0x11, 0x00    ; unprotect
        REG CRTC, 0x01, 0x4F    ; 80 characters
        REG CRTC, 0x07, 0x1F    ; overflow: vertical display end bit 8, line compare bit 8
        REG CRTC, 0x09, 0x4F    ; 16 scan lines per row, line compare bit 9
        REG CRTC, 0x0A, 0x20    ; cursor off
        REG CRTC, 0x0C, 0x00
        REG CRTC, 0x0D, 0x00
        REG CRTC, 0x12, 0x8F    ; vertical display end 399
        REG CRTC, 0x13, 0x28    ; offset: 80 characters per row
        REG CRTC, 0x14, 0x1F
        REG CRTC, 0x17, 0xA3    ; word mode
        REG CRTC, 0x18, 0xFF    ; line compare off
        mov dx, STATUS1
        in al, dx               ; attribute flip-flop to index
        mov dx, ATTR
        xor al, al
.pal:   out dx, al              ; index
        out dx, al              ; palette i = i
        inc al
        cmp al, 16
        jb .pal
        mov al, 0x10
        out dx, al
        xor al, al
        out dx, al              ; mode control: no blink, no line graphics
        mov al, 0x12
        out dx, al
        mov al, 0x0F
        out dx, al              ; all colour planes
        mov al, 0x14
        out dx, al
        xor al, al
        out dx, al              ; colour select 0
        mov al, AR_PAS
        out dx, al              ; palette address source: display on
        mov dx, DAC_WRITE
        xor al, al
        out dx, al
        mov dx, DAC_DATA
        xor bl, bl              ; bl = i
.dac:   mov al, bl
        shl al, 2
        out dx, al              ; red 4i
        mov al, 63
        sub al, bl
        sub al, bl
        sub al, bl
        sub al, bl
        out dx, al              ; green 63 - 4i
        mov al, bl
        shl al, 1
        out dx, al              ; blue 2i
        inc bl
        cmp bl, 16
        jb .dac

; --- 3. the text ---
        mov ax, 0xB800
        mov es, ax
        xor di, di
        xor bx, bx              ; bx = i
.cell:  mov al, bl
        mov cl, 5
        mul cl                  ; al = 5i
        add al, 3
        mov ah, al              ; attribute (5i + 3) & 0xFF
        mov al, bl              ; character i & 0xFF
        mov [es:di], ax
        add di, 2
        inc bx
        cmp bx, 2000
        jb .cell

        mov al, CMOS_EXT_HI
        out CMOS_INDEX, al
        in al, CMOS_DATA
        cmp al, EXT_16M
        je poweroff

; --- 4. the VBE framebuffer, from unreal mode ---
        o32 lgdt [cs:gdt_desc]
        mov eax, cr0
        or al, 1
        mov cr0, eax
        mov ax, 8
        mov es, ax              ; flat 4 GiB data segment
        mov eax, cr0
        and al, 0xFE
        mov cr0, eax
        xor ax, ax
        mov es, ax              ; base 0, the 4 GiB limit stays

        mov dx, VBE_INDEX
        mov ax, VBE_ENABLE
        out dx, ax
        inc dx
        xor ax, ax
        out dx, ax
        dec dx
        mov ax, VBE_XRES
        out dx, ax
        inc dx
        mov ax, WIDTH
        out dx, ax
        dec dx
        mov ax, VBE_YRES
        out dx, ax
        inc dx
        mov ax, HEIGHT
        out dx, ax
        dec dx
        mov ax, VBE_BPP
        out dx, ax
        inc dx
        mov ax, 32
        out dx, ax
        dec dx
        mov ax, VBE_ENABLE
        out dx, ax
        inc dx
        mov ax, VBE_ENABLED | VBE_LFB
        out dx, ax

        mov edi, LFB
        xor esi, esi            ; y
.line:  xor ecx, ecx            ; x
.pixel: mov eax, ecx
        and eax, 0xFF
        shl eax, 16             ; red x
        mov ebx, esi
        mov bh, bl
        xor bl, bl              ; green y (bits 15..8)
        or eax, ebx
        mov ebx, ecx
        xor ebx, esi
        and ebx, 0xFF
        or eax, ebx             ; blue x ^ y
        mov [es:edi], eax
        add edi, 4
        inc ecx
        cmp ecx, WIDTH
        jb .pixel
        inc esi
        cmp esi, HEIGHT
        jb .line

poweroff:
        mov dx, PM1A_CNT
        mov ax, SLP_EN
        out dx, ax
        mov al, 0x7E            ; the power-off did nothing
        out EXIT_PORT, al
        hlt

        align 8
gdt:    dq 0
        dq 0x00CF92000000FFFF   ; 0x08: data, base 0, limit 4 GiB, writable
gdt_end:
gdt_desc:
        dw gdt_end - gdt - 1
        dd 0xF0000 + gdt

        times RESET_OFF - ($ - $$) db 0xFF
reset:
        jmp ROM_SEG:start
        times ROM_SIZE - ($ - $$) db 0xFF
