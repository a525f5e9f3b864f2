; bench_disk.asm — roms/bin/multiboot_bench.bin as a bootable hard-disk image, so that
; emulators without a multiboot loader (Bochs) run the very same workload bytes as
; ferrite's and QEMU's `-kernel`.
;
; Layout of roms/bin/bench_disk.img (one cylinder of 16 heads x 63 sectors, 516096 bytes,
; a geometry every BIOS accepts for a flat image):
;   LBA 0      this boot sector (loaded by the BIOS at 0000:7C00, DL = boot drive)
;   LBA 1..    roms/bin/multiboot_bench.bin, byte for byte (incbin), zero-padded
;
; The boot sector is a minimal multiboot v1 loader for an a.out-kludge kernel that starts
; with its header (as multiboot_bench.bin does): it reads the kernel's sectors to
; 0x10000 with INT 13h AH=42h (EDD packet; SeaBIOS and the Bochs BIOS both have it),
; opens A20 through port 0x92, enters 32-bit protected mode with flat 4 GiB code/data
; segments (selectors 0x08/0x10, as a multiboot loader leaves them), copies the kernel to
; the header's load_addr, zeroes its BSS up to bss_end_addr and jumps to entry_addr with
; EAX = 0x2BADB002 and EBX = a multiboot information structure whose flags are 0
; (nothing in it is valid; the bench reads none of it). Interrupts stay off.
;
; Built with -DEMPTY_WORKLOAD it boots the same way but, instead of starting the kernel,
; prints "bench empty" and ends at once: benches/compare-bochs.sh times that image to
; subtract each emulator's BIOS and start-up time from the bench's.
;
; A disk read error prints "bench_disk: read error" on port 0xE9 and halts.
;
; Build (from roms/, after multiboot_bench.bin): nasm -f bin -o bin/bench_disk.img bench_disk.asm

bits 16
cpu 686

%include "include/bench_exit.inc"

DEBUGCON        equ 0xE9
STAGE_SEG       equ 0x1000              ; the kernel file is read to 1000:0000 = 0x10000
STAGE_ADDR      equ STAGE_SEG * 16
MB_MAGIC        equ 0x1BADB002
MB_LOADER_MAGIC equ 0x2BADB002
MB_INFO_ADDR    equ 0x9000              ; the (empty) multiboot information structure
SECTOR          equ 512
DISK_HEADS      equ 16
DISK_SPT        equ 63
DISK_SECTORS    equ DISK_HEADS * DISK_SPT

; offsets in the multiboot header (a.out kludge)
MBH_MAGIC       equ 0
MBH_HEADER_ADDR equ 12
MBH_LOAD_ADDR   equ 16
MBH_LOAD_END    equ 20
MBH_BSS_END     equ 24
MBH_ENTRY       equ 28

org 0x7C00

boot:
        cli
        xor ax, ax
        mov ds, ax
        mov es, ax
        mov ss, ax
        mov sp, 0x7C00
        cld
        mov [boot_drive], dl
        mov ah, 0x42                    ; extended read: DS:SI = disk address packet
        mov si, dap
        int 0x13
        jc read_error
        in al, 0x92                     ; fast A20 on, no reset
        or al, 2
        and al, 0xFE
        out 0x92, al
        lgdt [gdt_desc]
        mov eax, cr0
        or al, 1
        mov cr0, eax
        jmp 0x08:pm_entry

read_error:
        mov si, msg_read_error
.next:  lodsb
        test al, al
        jz .stop
        out DEBUGCON, al
        jmp .next
.stop:  hlt
        jmp .stop

bits 32
pm_entry:
        mov ax, 0x10
        mov ds, ax
        mov es, ax
        mov ss, ax
        mov fs, ax
        mov gs, ax
        mov esp, 0x7C00
%ifdef EMPTY_WORKLOAD
        mov esi, msg_empty
.next:  mov al, [esi]
        test al, al
        jz .done
        out DEBUGCON, al
        inc esi
        jmp .next
.done:  BENCH_EXIT
%else
        mov ebx, STAGE_ADDR             ; EBX = the header (first thing in the file)
        cmp dword [ebx + MBH_MAGIC], MB_MAGIC
        jne .bad
        mov esi, ebx                    ; file offset of load_addr = header - (header_addr - load_addr)
        sub esi, [ebx + MBH_HEADER_ADDR]
        add esi, [ebx + MBH_LOAD_ADDR]
        mov edi, [ebx + MBH_LOAD_ADDR]
        mov ecx, [ebx + MBH_LOAD_END]
        sub ecx, edi
        rep movsb                       ; the loaded part
        mov ecx, [ebx + MBH_BSS_END]
        sub ecx, edi
        xor eax, eax
        rep stosb                       ; the BSS
        mov edx, [ebx + MBH_ENTRY]
        mov dword [MB_INFO_ADDR], 0     ; multiboot info: flags = 0
        mov ebx, MB_INFO_ADDR
        mov eax, MB_LOADER_MAGIC
        jmp edx
.bad:   mov esi, msg_bad_kernel
.next:  mov al, [esi]
        test al, al
        jz .stop
        out DEBUGCON, al
        inc esi
        jmp .next
.stop:  cli
        hlt
        jmp .stop
%endif

align 8
gdt:    dq 0
        dq 0x00CF9A000000FFFF           ; 0x08: code, base 0, limit 4 GiB, 32-bit, ring 0
        dq 0x00CF92000000FFFF           ; 0x10: data, base 0, limit 4 GiB, ring 0
gdt_desc:
        dw gdt_desc - gdt - 1
        dd gdt

dap:    db 16, 0                        ; EDD disk address packet: size, reserved
        dw KERNEL_SECTORS               ; sectors to read
        dw 0, STAGE_SEG                 ; buffer offset:segment
        dq 1                            ; first LBA

boot_drive:     db 0
msg_read_error: db "bench_disk: read error", 10, 0
%ifdef EMPTY_WORKLOAD
msg_empty:      db "bench empty", 10, 0
%else
msg_bad_kernel: db "bench_disk: no multiboot header", 10, 0
%endif

        times 510 - ($ - $$) db 0
        dw 0xAA55

kernel:
        incbin "bin/multiboot_bench.bin"
kernel_end:
KERNEL_SECTORS  equ (kernel_end - kernel + SECTOR - 1) / SECTOR

        times DISK_SECTORS * SECTOR - ($ - $$) db 0
