; pm_tasks.asm — ferrite's self-checking hardware task-switching test kernel (multiboot).
;
; Checks, against the SDM (vol. 3A, ch. 8 "Task Management"):
;   * LTR at start-up left TR = the main TSS and marked its descriptor busy; LTR of a busy
;     TSS and JMP to the (busy) current task raise #GP(selector);
;   * JMP to a TSS: the outgoing state (EIP after the JMP, general registers) is saved in
;     the old TSS, the new one is loaded, busy moves from the old descriptor to the new,
;     NT stays clear, no back-link is written, CR0.TS is set; JMP back restores the
;     registers;
;   * CALL through a task gate and CALL straight to a TSS: NT set in the new task, its
;     back-link = the caller's TSS, both descriptors busy; IRET returns through the
;     back-link, clears the callee's busy bit and the caller sees its own EFLAGS again;
;   * INT n through a task gate in the IDT, #DE through a task gate (the saved EIP is the
;     faulting DIV, which the handler task skips by editing the old TSS), and #GP through
;     a task gate with its error code pushed on the handler task's stack.
; Every new task is a loop that records what it sees in memory and returns (IRET / JMP),
; so it can be entered again; main checks the records.
; Run: ferrite run --kernel roms/bin/pm_tasks.bin --no-reboot

%include "include/pmtest.inc"

SEL_TSS_A       equ SEL_SPARE + 0x00    ; entered with JMP, leaves with JMP
SEL_TSS_B       equ SEL_SPARE + 0x08    ; entered with CALL / INT n, leaves with IRET
SEL_TSS_DE      equ SEL_SPARE + 0x10    ; the #DE handler task
SEL_TSS_GP      equ SEL_SPARE + 0x18    ; the #GP handler task
SEL_GATE_B      equ SEL_SPARE + 0x20    ; a task gate in the GDT to TSS B
SEL_BAD         equ 0x7F8               ; a selector beyond the GDT limit

VEC_TASK_B      equ 0x40                ; INT n through an IDT task gate to TSS B
TASK_STACK      equ 1024

; Register patterns for the saved/restored state.
PAT_EBX         equ 0x0B0B0B0B
PAT_ESI         equ 0x05105105
PAT_EDI         equ 0x0D10D10D
PAT_EBP         equ 0x0BE0BE0B
PAT_A_EBX       equ 0xA0A0EB00          ; EBX in task A's initial TSS image

main:
        ; --- LTR (done by pmtest.inc) and the TSS descriptors ---------------------------
        call build_tasks
        str ax
        movzx eax, ax
        CHECK "STR: the main TSS", eax, SEL_TSS0
        mov eax, SEL_TSS0
        call gdt_access_byte
        CHECK "LTR marked the main TSS busy", eax, ACC_TSS32_BUSY
        EXPECT_FAULT .ltr_busy_done
        mov ax, SEL_TSS0
        ltr ax
        RESUME .ltr_busy_done
        CHECK "LTR of a busy TSS: #GP", dword [fault_vector], VEC_GP
        CHECK "LTR of a busy TSS: error = selector", dword [fault_error], SEL_TSS0
        EXPECT_FAULT .jmp_busy_done
        jmp SEL_TSS0:0
        RESUME .jmp_busy_done
        CHECK "JMP to the busy current TSS: #GP", dword [fault_vector], VEC_GP
        CHECK "JMP to the busy current TSS: error = selector", dword [fault_error], SEL_TSS0

        ; --- JMP to task A and back -----------------------------------------------------
        mov ebx, PAT_EBX
        mov esi, PAT_ESI
        mov edi, PAT_EDI
        mov ebp, PAT_EBP
        jmp SEL_TSS_A:0
.after_jmp_a:
        cmp ebx, PAT_EBX                ; registers restored from the main TSS
        sete al
        cmp esi, PAT_ESI
        sete ah
        and al, ah
        cmp edi, PAT_EDI
        sete ah
        and al, ah
        cmp ebp, PAT_EBP
        sete ah
        and al, ah
        movzx eax, al
        CHECK "JMP back: EBX/ESI/EDI/EBP restored", eax, 1
        CHECK "task A ran once", dword [a_entries], 1
        CHECK "task A: TR", dword [a_tr], SEL_TSS_A
        CHECK "task A: EBX from its TSS", dword [a_ebx], PAT_A_EBX
        CHECK "task A: main TSS saved EIP after the JMP", dword [a_saved_eip], .after_jmp_a
        CHECK "task A: main TSS saved EBX", dword [a_saved_ebx], PAT_EBX
        CHECK "task A: main TSS saved ESI", dword [a_saved_esi], PAT_ESI
        CHECK "task A: old TSS no longer busy", dword [a_old_access], ACC_TSS32
        CHECK "task A: own TSS busy", dword [a_own_access], ACC_TSS32_BUSY
        mov eax, [a_eflags]
        and eax, EFL_NT
        CHECK "task A: NT clear after JMP", eax, 0
        CHECK "task A: no back-link written", dword [tss_a + TSS_LINK], 0
        mov eax, [a_cr0]
        and eax, CR0_TS
        CHECK "task A: CR0.TS set by the switch", eax, CR0_TS
        clts
        str ax
        movzx eax, ax
        CHECK "JMP back: TR is the main TSS", eax, SEL_TSS0
        mov eax, SEL_TSS0
        call gdt_access_byte
        CHECK "JMP back: main TSS busy again", eax, ACC_TSS32_BUSY
        mov eax, SEL_TSS_A
        call gdt_access_byte
        CHECK "JMP back: task A not busy", eax, ACC_TSS32
        CHECK "task A's TSS holds EIP after its JMP", dword [tss_a + TSS_EIP], task_a.after_jmp_back

        ; --- CALL through a task gate, IRET back ----------------------------------------
        call far [gate_b_ptr]
        pushfd
        pop eax
        and eax, EFL_NT
        CHECK "after IRET: caller's NT clear", eax, 0
        CHECK "task B ran once", dword [b_entries], 1
        CHECK "CALL gate: TR in task B", dword [b_tr], SEL_TSS_B
        mov eax, [b_eflags]
        and eax, EFL_NT
        CHECK "CALL gate: NT set in task B", eax, EFL_NT
        CHECK "CALL gate: back-link = caller", dword [b_link], SEL_TSS0
        CHECK "CALL gate: caller's TSS stays busy", dword [b_old_access], ACC_TSS32_BUSY
        CHECK "CALL gate: task B busy", dword [b_own_access], ACC_TSS32_BUSY
        mov eax, SEL_TSS_B
        call gdt_access_byte
        CHECK "IRET: task B no longer busy", eax, ACC_TSS32
        mov eax, SEL_TSS0
        call gdt_access_byte
        CHECK "IRET: main TSS busy", eax, ACC_TSS32_BUSY
        str ax
        movzx eax, ax
        CHECK "IRET: TR is the main TSS", eax, SEL_TSS0

        ; --- CALL straight to the TSS ---------------------------------------------------
        mov dword [tss_b + TSS_LINK], 0
        call SEL_TSS_B:0
        CHECK "CALL TSS: task B ran again", dword [b_entries], 2
        CHECK "CALL TSS: back-link = caller", dword [b_link], SEL_TSS0
        mov eax, [b_eflags]
        and eax, EFL_NT
        CHECK "CALL TSS: NT set in task B", eax, EFL_NT

        ; --- INT n through an IDT task gate ---------------------------------------------
        mov dword [tss_b + TSS_LINK], 0
        int VEC_TASK_B
        CHECK "INT n task gate: task B ran again", dword [b_entries], 3
        CHECK "INT n task gate: TR in task B", dword [b_tr], SEL_TSS_B
        CHECK "INT n task gate: back-link = caller", dword [b_link], SEL_TSS0
        mov eax, [b_eflags]
        and eax, EFL_NT
        CHECK "INT n task gate: NT set", eax, EFL_NT

        ; --- #DE through a task gate ----------------------------------------------------
        mov dword [de_resume], .after_div
        xor ecx, ecx
        mov eax, 1
        xor edx, edx
.div:
        div ecx
.after_div:
        CHECK "#DE task: ran once", dword [de_entries], 1
        CHECK "#DE task: TR", dword [de_tr], SEL_TSS_DE
        CHECK "#DE task: saved EIP = the DIV", dword [de_saved_eip], .div
        CHECK "#DE task: back-link = faulting task", dword [de_link], SEL_TSS0
        CHECK "#DE task: stack holds no error code", dword [de_esp_used], 0

        ; --- #GP with an error code through a task gate ---------------------------------
        mov eax, VEC_GP                 ; IDT #GP: task gate to the #GP task
        mov bx, SEL_TSS_GP
        xor ecx, ecx
        mov dl, ACC_TASK_GATE
        call idt_set_gate
        mov dword [gp_resume], .after_gp
        mov ax, SEL_BAD
.gp:
        mov ds, ax
.after_gp:
        mov ax, SEL_KDATA
        mov ds, ax
        CHECK "#GP task: ran once", dword [gp_entries], 1
        CHECK "#GP task: error code on its stack", dword [gp_error], SEL_BAD
        CHECK "#GP task: saved EIP = the MOV", dword [gp_saved_eip], .gp
        CHECK "#GP task: TR", dword [gp_tr], SEL_TSS_GP
        ; Back to the generic #GP handler for anything after this.
        mov eax, VEC_GP
        mov bx, SEL_KCODE
        mov ecx, [isr_table + VEC_GP * 4]
        mov dl, ACC_INT_GATE32
        call idt_set_gate
        jmp finish

; Task A: records what it sees, then JMPs back to the main task.
task_a:
        inc dword [a_entries]
        str ax
        movzx eax, ax
        mov [a_tr], eax
        mov [a_ebx], ebx
        pushfd
        pop dword [a_eflags]
        mov eax, cr0
        mov [a_cr0], eax
        mov eax, [tss0 + TSS_EIP]
        mov [a_saved_eip], eax
        mov eax, [tss0 + TSS_EBX]
        mov [a_saved_ebx], eax
        mov eax, [tss0 + TSS_ESI]
        mov [a_saved_esi], eax
        mov eax, SEL_TSS0
        call gdt_access_byte
        mov [a_old_access], eax
        mov eax, SEL_TSS_A
        call gdt_access_byte
        mov [a_own_access], eax
        jmp SEL_TSS0:0
.after_jmp_back:
        jmp task_a

; Task B: entered by CALL or INT n (nested), records, returns with IRET.
task_b:
        inc dword [b_entries]
        str ax
        movzx eax, ax
        mov [b_tr], eax
        pushfd
        pop dword [b_eflags]
        movzx eax, word [tss_b + TSS_LINK]
        mov [b_link], eax
        mov eax, SEL_TSS0
        call gdt_access_byte
        mov [b_old_access], eax
        mov eax, SEL_TSS_B
        call gdt_access_byte
        mov [b_own_access], eax
        iretd
        jmp task_b

; The #DE task: skips the faulting instruction by rewriting the old task's saved EIP.
task_de:
        inc dword [de_entries]
        str ax
        movzx eax, ax
        mov [de_tr], eax
        mov eax, [tss0 + TSS_EIP]
        mov [de_saved_eip], eax
        movzx eax, word [tss_de + TSS_LINK]
        mov [de_link], eax
        mov eax, stack_de_top
        sub eax, esp
        mov [de_esp_used], eax          ; nothing pushed: #DE has no error code
        mov eax, [de_resume]
        mov [tss0 + TSS_EIP], eax
        iretd
        jmp task_de

; The #GP task: the error code is on its stack.
task_gp:
        inc dword [gp_entries]
        pop dword [gp_error]
        str ax
        movzx eax, ax
        mov [gp_tr], eax
        mov eax, [tss0 + TSS_EIP]
        mov [gp_saved_eip], eax
        mov eax, [gp_resume]
        mov [tss0 + TSS_EIP], eax
        iretd
        jmp task_gp

; build_tasks: the TSSs, their descriptors and the gates.
build_tasks:
        mov edi, tss_a
        mov eax, task_a
        mov edx, stack_a_top
        call init_tss
        mov dword [tss_a + TSS_EBX], PAT_A_EBX
        mov edi, tss_b
        mov eax, task_b
        mov edx, stack_b_top
        call init_tss
        mov edi, tss_de
        mov eax, task_de
        mov edx, stack_de_top
        call init_tss
        mov edi, tss_gp
        mov eax, task_gp
        mov edx, stack_gp_top
        call init_tss
        mov ecx, TSS_SIZE - 1           ; no I/O bitmap
        mov dl, ACC_TSS32
        mov dh, FLG_NONE
        mov edi, SEL_TSS_A
        mov ebx, tss_a
        call gdt_set_desc
        mov edi, SEL_TSS_B
        mov ebx, tss_b
        call gdt_set_desc
        mov edi, SEL_TSS_DE
        mov ebx, tss_de
        call gdt_set_desc
        mov edi, SEL_TSS_GP
        mov ebx, tss_gp
        call gdt_set_desc
        ; Task gates: GDT SEL_GATE_B -> B; IDT #DE and VEC_TASK_B (the #GP one comes
        ; later: the first #GP checks go to the generic handler).
        mov edi, SEL_GATE_B
        mov bx, SEL_TSS_B
        xor ecx, ecx
        mov dl, ACC_TASK_GATE
        xor dh, dh
        call gdt_set_gate
        mov eax, VEC_TASK_B
        call idt_set_gate
        mov eax, VEC_DE
        mov bx, SEL_TSS_DE
        call idt_set_gate
        ret

; init_tss: a 32-bit TSS at EDI starting at EAX with stack EDX, flat ring-0 segments.
init_tss:
        mov [edi + TSS_EIP], eax
        mov [edi + TSS_ESP], edx
        mov dword [edi + TSS_EFLAGS], EFL_RESERVED1
        mov dword [edi + TSS_CS], SEL_KCODE
        mov dword [edi + TSS_SS], SEL_KDATA
        mov dword [edi + TSS_DS], SEL_KDATA
        mov dword [edi + TSS_ES], SEL_KDATA
        mov dword [edi + TSS_FS], SEL_KDATA
        mov dword [edi + TSS_GS], SEL_KDATA
        mov word [edi + TSS_IOMAP], TSS_SIZE
        mov eax, cr3
        mov [edi + TSS_CR3], eax
        ret

        align 4
gate_b_ptr:     dd 0                    ; offset (ignored for a task gate)
                dw SEL_GATE_B

section .bss
        BSS_ALIGN 16
tss_a:          resb TSS_SIZE
tss_b:          resb TSS_SIZE
tss_de:         resb TSS_SIZE
tss_gp:         resb TSS_SIZE
stack_a:        resb TASK_STACK
stack_a_top:
stack_b:        resb TASK_STACK
stack_b_top:
stack_de:       resb TASK_STACK
stack_de_top:
stack_gp:       resb TASK_STACK
stack_gp_top:
; What the tasks saw.
a_entries:      resd 1
a_tr:           resd 1
a_ebx:          resd 1
a_eflags:       resd 1
a_cr0:          resd 1
a_saved_eip:    resd 1
a_saved_ebx:    resd 1
a_saved_esi:    resd 1
a_old_access:   resd 1
a_own_access:   resd 1
b_entries:      resd 1
b_tr:           resd 1
b_eflags:       resd 1
b_link:         resd 1
b_old_access:   resd 1
b_own_access:   resd 1
de_entries:     resd 1
de_tr:          resd 1
de_saved_eip:   resd 1
de_link:        resd 1
de_esp_used:    resd 1
de_resume:      resd 1
gp_entries:     resd 1
gp_error:       resd 1
gp_tr:          resd 1
gp_saved_eip:   resd 1
gp_resume:      resd 1

PMTEST_END
