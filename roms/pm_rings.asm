; pm_rings.asm — ferrite's self-checking privilege-level test kernel (multiboot).
;
; Checks, against the SDM (vol. 3A, ch. 5 "Protection"; vol. 2 CALL/RET/SYSENTER/SYSEXIT):
;   * IRET to an outer level: CPL 3 with the ring-3 CS and SS from the frame;
;   * loading a DPL-0 data segment into DS or SS at CPL 3 raises #GP(selector);
;   * CALL through a DPL-3 call gate to ring-0 code: the stack switches to the TSS's
;     SS0:ESP0, the old SS:ESP and the three parameters (the gate's count) are copied,
;     then CS:EIP; RETF 12 returns to ring 3 and releases the parameters on both stacks;
;   * RETF to an outer level: DS, ES and GS holding DPL-0 data segments become null,
;     FS holding a DPL-3 one is kept;
;   * SYSENTER/SYSEXIT with the MSRs 0x174-0x176: ring-0 CS/SS from SYSENTER_CS (+8),
;     ESP and EIP from the MSRs; SYSEXIT back to ring 3 with CS = SYSENTER_CS+16 | 3,
;     SS = +24 | 3, EIP = EDX, ESP = ECX; SYSENTER with SYSENTER_CS = 0 and SYSEXIT at
;     CPL 3 raise #GP(0).
; Run: ferrite run --kernel roms/bin/pm_rings.bin --no-reboot

%include "include/pmtest.inc"

SEL_CALL_GATE   equ SEL_SPARE | 3       ; DPL-3 call gate to gate_target, 3 parameters
GATE_PARAMS     equ 3
PARAM1          equ 0x11111111          ; pushed first
PARAM2          equ 0x22222222
PARAM3          equ 0x33333333          ; pushed last
MSR_SYSENTER_CS  equ 0x174
MSR_SYSENTER_ESP equ 0x175
MSR_SYSENTER_EIP equ 0x176
RPL_MASK        equ 3
FRAME_GATE      equ 7 * 4               ; EIP CS P3 P2 P1 ESP SS on the ring-0 stack

main:
        ; The call gate: DPL 3, to ring-0 gate_target, copying three dwords.
        mov edi, SEL_CALL_GATE
        mov bx, SEL_KCODE
        mov ecx, gate_target
        mov dl, ACC_CALL_GATE32 | ACC_DPL3
        mov dh, GATE_PARAMS
        call gdt_set_gate
        ; SYSENTER MSRs.
        mov ecx, MSR_SYSENTER_CS
        xor edx, edx
        mov eax, SEL_KCODE
        wrmsr
        mov ecx, MSR_SYSENTER_ESP
        mov eax, sysenter_stack_top
        wrmsr
        mov ecx, MSR_SYSENTER_EIP
        mov eax, sysenter_target
        wrmsr
        mov ecx, MSR_SYSENTER_EIP
        rdmsr
        CHECK "RDMSR SYSENTER_EIP", eax, sysenter_target
        mov ecx, MSR_SYSENTER_ESP
        rdmsr
        CHECK "RDMSR SYSENTER_ESP", eax, sysenter_stack_top

        ; --- ring 3 through IRET -------------------------------------------------------
        mov eax, ring3_main
        call enter_user
        CHECK "back in ring 0 after the ring-3 part", dword [ring3_done], 1
        mov ecx, MSR_SYSENTER_CS
        xor eax, eax
        xor edx, edx
        wrmsr
        mov eax, ring3_sysenter_null
        call enter_user

        ; --- RETF to ring 3 with DPL-0 data segments loaded ----------------------------
        call retf_to_user
        CHECK "RETF to ring 3: CS", dword [retf_cs], SEL_UCODE
        CHECK "RETF to ring 3: SS", dword [retf_ss], SEL_UDATA
        CHECK "RETF to ring 3: ESP", dword [retf_esp], ustack_top
        CHECK "RETF to ring 3: DS (DPL 0) nulled", dword [retf_ds], 0
        CHECK "RETF to ring 3: ES (DPL 0) nulled", dword [retf_es], 0
        CHECK "RETF to ring 3: GS (DPL 0) nulled", dword [retf_gs], 0
        CHECK "RETF to ring 3: FS (DPL 3) kept", dword [retf_fs], SEL_UDATA
        jmp finish

; retf_to_user: RETF to ring3_after_retf with DS/ES/GS = the DPL-0 data segment and FS =
; the DPL-3 one; its `int VEC_KERNEL` returns from here (as from enter_user).
retf_to_user:
        pushad
        mov [user_saved_esp], esp
        mov ax, SEL_KDATA
        mov ds, ax
        mov es, ax
        mov gs, ax
        mov ax, SEL_UDATA
        mov fs, ax
        push dword SEL_UDATA            ; SS
        push dword ustack_top           ; ESP
        push dword SEL_UCODE            ; CS
        push dword ring3_after_retf     ; EIP
        retf

; The RETF lands here at CPL 3; DS may be null, so record through SS first.
ring3_after_retf:
        mov [ss:retf_esp], esp
        mov ax, ds
        movzx eax, ax
        mov [ss:retf_ds], eax
        mov ax, es
        movzx eax, ax
        mov [ss:retf_es], eax
        mov ax, fs
        movzx eax, ax
        mov [ss:retf_fs], eax
        mov ax, gs
        movzx eax, ax
        mov [ss:retf_gs], eax
        mov ax, cs
        movzx eax, ax
        mov [ss:retf_cs], eax
        mov ax, ss
        movzx eax, ax
        mov [ss:retf_ss], eax
        int VEC_KERNEL                  ; back to retf_to_user's caller

; ---------------------------------------------------------------------------------------
; Ring 3
; ---------------------------------------------------------------------------------------
ring3_main:
        mov ax, cs
        movzx eax, ax
        CHECK "IRET to ring 3: CS", eax, SEL_UCODE
        mov ax, cs
        and eax, RPL_MASK
        CHECK "IRET to ring 3: CPL 3", eax, 3
        mov ax, ss
        movzx eax, ax
        CHECK "IRET to ring 3: SS", eax, SEL_UDATA
        mov ecx, esp
        CHECK "IRET to ring 3: ESP", ecx, ustack_top

        ; DPL-0 data into DS and SS at CPL 3.
        EXPECT_FAULT .ds_done
        mov ax, SEL_KDATA
        mov ds, ax
        RESUME .ds_done
        CHECK "CPL 3 loads DPL-0 DS: #GP", dword [fault_vector], VEC_GP
        CHECK "CPL 3 loads DPL-0 DS: error = selector", dword [fault_error], SEL_KDATA
        mov ax, ds
        movzx eax, ax
        CHECK "DS unchanged after the #GP", eax, SEL_UDATA
        EXPECT_FAULT .ss_done
        mov ax, SEL_KDATA
        mov ss, ax
        RESUME .ss_done
        CHECK "CPL 3 loads DPL-0 SS: #GP", dword [fault_vector], VEC_GP
        CHECK "CPL 3 loads DPL-0 SS: error = selector", dword [fault_error], SEL_KDATA

        ; Call gate to ring 0 with three parameters.
        push dword PARAM1
        push dword PARAM2
        push dword PARAM3
        mov [caller_esp], esp
        call SEL_CALL_GATE:0
.after_gate:
        mov [after_gate_esp], esp
        CHECK "call gate: ring-0 CS", dword [g_cs], SEL_KCODE
        CHECK "call gate: ring-0 SS from TSS", dword [g_ss], SEL_KDATA
        CHECK "call gate: ring-0 ESP", dword [g_esp], istack_top - FRAME_GATE
        CHECK "call gate: return EIP", dword [g_frame + 0], .after_gate
        CHECK "call gate: return CS", dword [g_frame + 4], SEL_UCODE
        CHECK "call gate: param 3 copied", dword [g_frame + 8], PARAM3
        CHECK "call gate: param 2 copied", dword [g_frame + 12], PARAM2
        CHECK "call gate: param 1 copied", dword [g_frame + 16], PARAM1
        CHECK "call gate: caller ESP saved", dword [g_frame + 20], dword [caller_esp]
        CHECK "call gate: caller SS saved", dword [g_frame + 24], SEL_UDATA
        mov eax, [caller_esp]
        add eax, GATE_PARAMS * 4
        CHECK "RETF 12: parameters released", dword [after_gate_esp], eax
        mov ax, cs
        movzx eax, ax
        CHECK "RETF 12: back at CPL 3", eax, SEL_UCODE

        ; SYSENTER / SYSEXIT.
        mov [sys_user_esp], esp
        mov ecx, esp
        mov edx, .after_sysexit
        sysenter
.after_sysexit:
        mov [sys_back_esp], esp
        CHECK "SYSENTER: CS = SYSENTER_CS", dword [s_cs], SEL_KCODE
        CHECK "SYSENTER: SS = SYSENTER_CS + 8", dword [s_ss], SEL_KDATA
        CHECK "SYSENTER: ESP = SYSENTER_ESP", dword [s_esp], sysenter_stack_top
        mov ax, cs
        movzx eax, ax
        CHECK "SYSEXIT: CS = SYSENTER_CS + 16 | 3", eax, SEL_UCODE
        mov ax, ss
        movzx eax, ax
        CHECK "SYSEXIT: SS = SYSENTER_CS + 24 | 3", eax, SEL_UDATA
        CHECK "SYSEXIT: ESP = ECX", dword [sys_back_esp], dword [sys_user_esp]
        EXPECT_FAULT .sysexit_done
        sysexit
        RESUME .sysexit_done
        CHECK "SYSEXIT at CPL 3: #GP", dword [fault_vector], VEC_GP
        CHECK "SYSEXIT at CPL 3: error 0", dword [fault_error], 0
        mov dword [ring3_done], 1
        int VEC_KERNEL

; With SYSENTER_CS = 0, SYSENTER raises #GP(0).
ring3_sysenter_null:
        EXPECT_FAULT .done
        mov ecx, esp
        mov edx, .done
        sysenter
        RESUME .done
        CHECK "SYSENTER with SYSENTER_CS = 0: #GP", dword [fault_vector], VEC_GP
        CHECK "SYSENTER with SYSENTER_CS = 0: error 0", dword [fault_error], 0
        int VEC_KERNEL

; ---------------------------------------------------------------------------------------
; Ring-0 targets
; ---------------------------------------------------------------------------------------

; Through the call gate: record the stack, return with RETF 12.
gate_target:
        mov [g_esp], esp
        mov ax, cs
        movzx eax, ax
        mov [g_cs], eax
        mov ax, ss
        movzx eax, ax
        mov [g_ss], eax
        mov esi, esp
        mov edi, g_frame
        mov ecx, FRAME_GATE / 4
        rep movsd
        retf GATE_PARAMS * 4

; SYSENTER lands here: record, SYSEXIT.
sysenter_target:
        mov [s_esp], esp
        mov ax, cs
        movzx eax, ax
        mov [s_cs], eax
        mov ax, ss
        movzx eax, ax
        mov [s_ss], eax
        sysexit

section .bss
ring3_done:     resd 1
retf_cs:        resd 1
retf_ss:        resd 1
retf_esp:       resd 1
retf_ds:        resd 1
retf_es:        resd 1
retf_fs:        resd 1
retf_gs:        resd 1
caller_esp:     resd 1
after_gate_esp: resd 1
g_esp:          resd 1
g_cs:           resd 1
g_ss:           resd 1
g_frame:        resd FRAME_GATE / 4
sys_user_esp:   resd 1
sys_back_esp:   resd 1
s_esp:          resd 1
s_cs:           resd 1
s_ss:           resd 1
        BSS_ALIGN 16
sysenter_stack: resb 1024
sysenter_stack_top:

PMTEST_END
