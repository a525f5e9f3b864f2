; pm_v86.asm — ferrite's self-checking virtual-8086 mode test kernel (multiboot).
;
; A 16-bit program is copied to V86_LINEAR and entered with IRETD (VM=1, IOPL=3 in the
; popped EFLAGS). Checked against the SDM (vol. 3A, ch. 20 "8086 Emulation"):
;   * real-mode addressing: segment * 16 + offset, for DS and ES;
;   * with IOPL=3, CLI/STI/PUSHF/POPF run without faulting and INT n goes through the IDT
;     (a DPL-3 interrupt gate) to a ring-0 handler on the TSS's SS0:ESP0 stack; the frame
;     holds GS, FS, DS, ES, SS, ESP, EFLAGS (VM, IOPL 3), CS, EIP, and DS/ES/FS/GS are null
;     in the handler; IRETD returns to the V86 code;
;   * with IOPL=0 (cleared by the handler in the frame) CLI, STI, PUSHF, POPF, INT n and
;     HLT raise #GP(0) at the instruction;
;   * IN/OUT follow the TSS I/O permission bitmap whatever IOPL is: the debug console
;     port (bit clear) works, DENIED_PORT (bit set) raises #GP(0) for IN and OUT.
; The ring-0 side is the generic handler of include/pmtest.inc with a hook: it logs each
; #GP from V86 and resumes at the offset the V86 code left in BX; INT VEC_V86_INT records
; the frame; a fault with AX = CMD_EXIT leaves V86 mode for good.
; Run: ferrite run --kernel roms/bin/pm_v86.bin --no-reboot

%include "include/pmtest.inc"

V86_SEG         equ 0x2000              ; the V86 program's CS = DS = SS
V86_LINEAR      equ V86_SEG << 4        ; where it is copied (free low memory)
V86_SP          equ 0xF000              ; initial SP
V86_ES_SEG      equ 0x2100              ; ES for the addressing check
STORE_OFF       equ 0x0100              ; ES:STORE_OFF = linear 0x21100
STORE_VAL       equ 0xBEEF
V86_FS_PAT      equ 0x3000              ; FS and GS values that must show up in the frame
V86_GS_PAT      equ 0x4000
WORD_VAL        equ 0x1234              ; a data word the V86 code reads through DS
WORD_ADD        equ 0x1111
DENIED_PORT     equ 0x80                ; its bit is set in the I/O bitmap
VEC_V86_INT     equ 0x31                ; DPL-3 interrupt gate used from V86
CMD_FRAME       equ 0x0F01              ; AX at the INT: record the frame, drop IOPL to 0
CMD_EXIT        equ 0x0E17              ; AX at a fault: leave V86 mode
MAX_GP_LOG      equ 16
FRAME_DWORDS    equ 9                   ; EIP CS EFLAGS ESP SS ES DS FS GS
; Offsets in int_frame (a copy of the CPU's frame).
IF_EIP          equ 0
IF_CS           equ 4
IF_EFLAGS       equ 8
IF_ESP          equ 12
IF_SS           equ 16
IF_ES           equ 20
IF_DS           equ 24
IF_FS           equ 28
IF_GS           equ 32

; V86 offsets of the blob's labels.
%define V86OFF(label) ((label) - v86_code)

main:
        ; The program in low memory, the denied port in the bitmap, the hook and gate.
        mov esi, v86_code
        mov edi, V86_LINEAR
        mov ecx, v86_code_end - v86_code
        rep movsb
        mov eax, DENIED_PORT            ; (a register bit offset: an immediate one is mod 32)
        bts [tss0 + TSS_SIZE], eax
        mov eax, VEC_V86_INT
        mov bx, SEL_KCODE
        mov ecx, [isr_table + VEC_V86_INT * 4]
        mov dl, ACC_INT_GATE32 | ACC_DPL3
        call idt_set_gate
        mov dword [fault_hook], v86_hook
        call enter_v86
        mov dword [fault_hook], 0

        ; --- the INT n frame from V86 ---------------------------------------------------
        CHECK "INT n from V86 (IOPL 3) reached the handler once", dword [int_count], 1
        CHECK "frame EIP after INT", dword [int_frame + IF_EIP], V86OFF(v86_code.after_int)
        CHECK "frame CS", dword [int_frame + IF_CS], V86_SEG
        mov eax, [int_frame + IF_EFLAGS]
        and eax, EFL_VM | EFL_IOPL3
        CHECK "frame EFLAGS: VM and IOPL 3", eax, EFL_VM | EFL_IOPL3
        CHECK "frame ESP", dword [int_frame + IF_ESP], V86_SP
        CHECK "frame SS", dword [int_frame + IF_SS], V86_SEG
        CHECK "frame ES", dword [int_frame + IF_ES], V86_ES_SEG
        CHECK "frame DS", dword [int_frame + IF_DS], V86_SEG
        CHECK "frame FS", dword [int_frame + IF_FS], V86_FS_PAT
        CHECK "frame GS", dword [int_frame + IF_GS], V86_GS_PAT
        CHECK "frame on the TSS ring-0 stack", dword [int_frame_addr], istack_top - FRAME_DWORDS * 4
        CHECK "handler CS", dword [int_cs], SEL_KCODE
        CHECK "handler DS nulled", dword [int_seg_ds], 0
        CHECK "handler ES nulled", dword [int_seg_es], 0
        CHECK "handler FS nulled", dword [int_seg_fs], 0
        CHECK "handler GS nulled", dword [int_seg_gs], 0
        CHECK "V86 read through DS", dword [int_ecx], WORD_VAL + WORD_ADD
        movzx eax, word [V86_ES_SEG * 16 + STORE_OFF]
        CHECK "V86 write through ES = seg*16+off", eax, STORE_VAL
        CHECK "V86 IN from a permitted port (IOPL 3)", dword [int_edx], DEBUGCON
        CHECK "V86 IN from a permitted port (IOPL 0)", dword [v86_result_iopl0], DEBUGCON

        ; --- the #GP(0)s ----------------------------------------------------------------
        CHECK "#GP count", dword [gp_count], 10
        CHECK "#GP error codes all 0", dword [gp_errors], 0
        CHECK "IOPL 3: OUT to denied port #GP", dword [gp_ips + 0 * 4], V86OFF(v86_code.p1_out)
        CHECK "IOPL 3: IN from denied port #GP", dword [gp_ips + 1 * 4], V86OFF(v86_code.p1_in)
        CHECK "IOPL 0: CLI #GP", dword [gp_ips + 2 * 4], V86OFF(v86_code.p2_cli)
        CHECK "IOPL 0: STI #GP", dword [gp_ips + 3 * 4], V86OFF(v86_code.p2_sti)
        CHECK "IOPL 0: PUSHF #GP", dword [gp_ips + 4 * 4], V86OFF(v86_code.p2_pushf)
        CHECK "IOPL 0: POPF #GP", dword [gp_ips + 5 * 4], V86OFF(v86_code.p2_popf)
        CHECK "IOPL 0: INT n #GP", dword [gp_ips + 6 * 4], V86OFF(v86_code.p2_int)
        CHECK "IOPL 0: OUT to denied port #GP", dword [gp_ips + 7 * 4], V86OFF(v86_code.p2_out)
        CHECK "IOPL 0: IN from denied port (DX) #GP", dword [gp_ips + 8 * 4], V86OFF(v86_code.p2_in)
        CHECK "IOPL 0: HLT #GP", dword [gp_ips + 9 * 4], V86OFF(v86_code.p2_hlt)
        CHECK "the V86 stack is balanced", dword [v86_final_sp], V86_SP
        CHECK "left V86 through the hook", dword [v86_exit_vector], VEC_GP
        jmp finish

; enter_v86: IRETD into the V86 program at V86_SEG:0 with IOPL 3; returns when the hook
; sees a fault with AX = CMD_EXIT, with the general registers as at the call.
enter_v86:
        pushad
        mov [v86_saved_esp], esp
        push dword 0                    ; GS
        push dword 0                    ; FS
        push dword 0                    ; DS
        push dword 0                    ; ES
        push dword V86_SEG              ; SS
        push dword V86_SP               ; ESP
        push dword EFL_VM | EFL_IOPL3 | EFL_RESERVED1
        push dword V86_SEG              ; CS
        push dword 0                    ; EIP
        iretd

; The fault hook (EBP = the generic handler's frame).
v86_hook:
        test dword [ebp + FR_EFLAGS], EFL_VM
        jz isr_common.unexpected        ; nothing but V86 code should trap here
        cmp dword [ebp + FR_VECTOR], VEC_V86_INT
        je .int
        cmp dword [ebp + FR_VECTOR], VEC_GP
        jne isr_common.unexpected
        ; #GP from V86: log it, resume at the offset in BX.
        mov ecx, [gp_count]
        cmp ecx, MAX_GP_LOG
        jae isr_common.unexpected
        mov eax, [ebp + FR_EIP]
        mov [gp_ips + ecx * 4], eax
        mov eax, [ebp + FR_ERROR]
        or [gp_errors], eax
        inc dword [gp_count]
        cmp word [ebp + FR_EAX], CMD_EXIT
        je .exit
        movzx eax, word [ebp + FR_EBX]
        mov [ebp + FR_EIP], eax
        ret
.int:
        ; The handler's own segment registers (DS/ES as isr_common found them).
        mov eax, [ebp + FR_DS]
        and eax, 0xFFFF
        mov [int_seg_ds], eax
        mov eax, [ebp + FR_ES]
        and eax, 0xFFFF
        mov [int_seg_es], eax
        mov ax, fs
        movzx eax, ax
        mov [int_seg_fs], eax
        mov ax, gs
        movzx eax, ax
        mov [int_seg_gs], eax
        mov ax, cs
        movzx eax, ax
        mov [int_cs], eax
        lea esi, [ebp + FR_EIP]
        mov [int_frame_addr], esi
        mov edi, int_frame
        mov ecx, FRAME_DWORDS
        rep movsd
        movzx eax, word [ebp + FR_ECX]
        mov [int_ecx], eax
        movzx eax, byte [ebp + FR_EDX]
        mov [int_edx], eax
        inc dword [int_count]
        and dword [ebp + FR_EFLAGS], ~EFL_IOPL3     ; the rest runs at IOPL 0
        ret
.exit:
        mov eax, [ebp + FR_VECTOR]
        mov [v86_exit_vector], eax
        mov eax, [ebp + FR_ESP]
        mov [v86_final_sp], eax
        mov ax, SEL_KDATA
        mov fs, ax
        mov gs, ax
        mov esp, [v86_saved_esp]
        popad
        ret

; ---------------------------------------------------------------------------------------
; The V86 program (16-bit, position-independent; copied to V86_SEG:0)
; ---------------------------------------------------------------------------------------
; V86_TRY label, instruction — an instruction expected to raise #GP(0): BX tells the
; hook where to resume (just after it).
%macro V86_TRY 2+
        mov bx, V86OFF(%%next)
%1:
        %2
%%next:
%endmacro

bits 16
v86_code:
        mov ax, cs
        mov ds, ax                      ; DS = CS = V86_SEG
        mov ax, V86_ES_SEG
        mov es, ax
        mov word [es:STORE_OFF], STORE_VAL
        mov ax, [V86OFF(v86_word)]
        add ax, WORD_ADD
        mov cx, ax                      ; CX: the handler records it
        ; IOPL 3: the IF instructions and PUSHF/POPF just run.
        cli
        sti
        pushf
        pop ax
        push ax
        popf
        cli
        ; I/O: a permitted port works, the denied one faults even at IOPL 3.
        in al, DEBUGCON
        mov dl, al                      ; DL: the handler records it
        V86_TRY .p1_out, out DENIED_PORT, al
        V86_TRY .p1_in, in al, DENIED_PORT
        mov ax, V86_FS_PAT
        mov fs, ax
        mov ax, V86_GS_PAT
        mov gs, ax
        mov ax, CMD_FRAME
        int VEC_V86_INT                 ; to ring 0 and back; IOPL is 0 afterwards
.after_int:
        xor ax, ax
        V86_TRY .p2_cli, cli
        V86_TRY .p2_sti, sti
        V86_TRY .p2_pushf, pushf
        V86_TRY .p2_popf, popf
        V86_TRY .p2_int, int VEC_V86_INT
        in al, DEBUGCON                 ; the bitmap still allows it
        mov [V86OFF(v86_result_low)], al
        V86_TRY .p2_out, out DENIED_PORT, al
        mov dx, DENIED_PORT
        V86_TRY .p2_in, in al, dx
        mov ax, CMD_EXIT
.p2_hlt:
        hlt                             ; #GP(0): the hook sees CMD_EXIT and leaves V86
        jmp .p2_hlt
v86_word:       dw WORD_VAL
v86_result_low: dd 0                    ; the IN result at IOPL 0 (low byte)
v86_code_end:
bits 32

v86_result_iopl0 equ V86_LINEAR + V86OFF(v86_result_low)

section .bss
v86_saved_esp:  resd 1
int_count:      resd 1
int_frame:      resd FRAME_DWORDS
int_frame_addr: resd 1
int_cs:         resd 1
int_seg_ds:     resd 1
int_seg_es:     resd 1
int_seg_fs:     resd 1
int_seg_gs:     resd 1
int_ecx:        resd 1
int_edx:        resd 1
gp_count:       resd 1
gp_errors:      resd 1
gp_ips:         resd MAX_GP_LOG
v86_final_sp:   resd 1
v86_exit_vector: resd 1

PMTEST_END
