; pm_apic.asm — ferrite's self-checking local APIC and I/O APIC test kernel (multiboot).
;
; Checks, against the SDM (vol. 3A, ch. 10 "Advanced Programmable Interrupt Controller")
; and the 82093AA datasheet:
;   * CPUID.1:EDX.APIC, IA32_APIC_BASE = 0xFEE00000 | enable | BSP, the version register
;     (0x14, max LVT 5), APIC ID 0, SVR 0xFF (software disabled) after reset;
;   * a fixed self IPI arrives once, sets ISR until the EOI; a TPR at its priority class
;     holds it in IRR, lowering the TPR lets it in;
;   * the LVT timer: one-shot (HLT wakes on it, the current count reads 0 after), periodic
;     (three interrupts), masked (none);
;   * the I/O APIC: version 0x11 with 24 entries; the PIT (ISA IRQ 0) on pin 2 as an
;     edge-triggered vector; the RTC (IRQ 8) on pin 8 as a level-triggered vector whose
;     remote IRR is set in the handler and cleared by the local APIC's EOI;
;   * virtual wire: with the I/O APIC pin masked and LINT0 in ExtINT mode the 8259's
;     interrupt reaches the CPU; with LINT0 masked it stays pending in the 8259.
; Run: ferrite run --kernel roms/bin/pm_apic.bin --no-reboot

%include "include/pmtest.inc"

LAPIC           equ 0xFEE00000
LAPIC_ID        equ LAPIC + 0x020
LAPIC_VER       equ LAPIC + 0x030
LAPIC_TPR       equ LAPIC + 0x080
LAPIC_PPR       equ LAPIC + 0x0A0
LAPIC_EOI       equ LAPIC + 0x0B0
LAPIC_SVR       equ LAPIC + 0x0F0
LAPIC_ISR       equ LAPIC + 0x100
LAPIC_IRR       equ LAPIC + 0x200
LAPIC_ICR_LO    equ LAPIC + 0x300
LAPIC_ICR_HI    equ LAPIC + 0x310
LAPIC_LVT_TIMER equ LAPIC + 0x320
LAPIC_LVT_LINT0 equ LAPIC + 0x350
LAPIC_TMICT     equ LAPIC + 0x380
LAPIC_TMCCT     equ LAPIC + 0x390
LAPIC_TDCR      equ LAPIC + 0x3E0
LVT_MASKED      equ 1 << 16
LVT_PERIODIC    equ 1 << 17
LVT_EXTINT      equ 7 << 8
ICR_SELF        equ 1 << 18

IOAPIC          equ 0xFEC00000
IOREGSEL        equ IOAPIC + 0x00
IOWIN           equ IOAPIC + 0x10
REDIR_LEVEL     equ 1 << 15
REDIR_REMOTE_IRR equ 1 << 14
REDIR_MASKED    equ 1 << 16

VEC_PIC_BASE    equ 0x20                ; the 8259 pair at 0x20..0x2F
VEC_SELF        equ 0x40
VEC_TPR         equ 0x45
VEC_ONESHOT     equ 0x50
VEC_PERIODIC    equ 0x51
VEC_PIT         equ 0x60
VEC_RTC         equ 0x61

main:
        mov dword [fault_hook], irq_hook
        ; --- identity -------------------------------------------------------------------
        mov eax, 1
        cpuid
        and edx, 1 << 9
        CHECK "cpuid apic bit", edx, 1 << 9
        mov ecx, 0x1B
        rdmsr
        CHECK "apic base msr", eax, 0xFEE00900
        CHECK "version", dword [LAPIC_VER], 0x00050014
        CHECK "apic id", dword [LAPIC_ID], 0
        CHECK "svr after reset", dword [LAPIC_SVR], 0xFF

        ; --- the 8259 pair at 0x20/0x28, all masked ---------------------------------------
        call pic_init
        mov dword [LAPIC_SVR], 0x1FF    ; software enable, spurious vector 0xFF

        ; --- self IPI, ISR and EOI --------------------------------------------------------
        mov dword [LAPIC_ICR_LO], ICR_SELF | VEC_SELF
        sti
        nop
        cli
        CHECK "self ipi arrives", dword [irq_count + VEC_SELF * 4], 1
        CHECK "isr set in handler", dword [isr_in_handler], 1 << (VEC_SELF & 31)
        mov eax, [LAPIC_ISR + 0x20]
        CHECK "isr clear after eoi", eax, 0

        ; --- TPR holds a same-class vector back -------------------------------------------
        mov dword [LAPIC_TPR], VEC_TPR & 0xF0
        mov dword [LAPIC_ICR_LO], ICR_SELF | VEC_TPR
        sti
        nop
        nop
        cli
        CHECK "tpr holds it", dword [irq_count + VEC_TPR * 4], 0
        mov eax, [LAPIC_IRR + 0x20]
        and eax, 1 << (VEC_TPR & 31)
        CHECK "held in irr", eax, 1 << (VEC_TPR & 31)
        CHECK "ppr is tpr", dword [LAPIC_PPR], VEC_TPR & 0xF0
        mov dword [LAPIC_TPR], 0
        sti
        nop
        cli
        CHECK "tpr lowered lets it in", dword [irq_count + VEC_TPR * 4], 1

        ; --- LVT timer, one-shot: HLT wakes on it ----------------------------------------
        mov dword [LAPIC_TDCR], 0xB     ; divide by 1
        mov dword [LAPIC_LVT_TIMER], VEC_ONESHOT
        mov dword [LAPIC_TMICT], 20000
        sti
.wait_oneshot:
        hlt
        cmp dword [irq_count + VEC_ONESHOT * 4], 0
        je .wait_oneshot
        cli
        CHECK "one-shot timer fires", dword [irq_count + VEC_ONESHOT * 4], 1
        CHECK "current count 0 after", dword [LAPIC_TMCCT], 0

        ; --- periodic: three interrupts, then masked ---------------------------------------
        mov dword [LAPIC_LVT_TIMER], LVT_PERIODIC | VEC_PERIODIC
        mov dword [LAPIC_TMICT], 5000
        sti
.wait_periodic:
        hlt
        cmp dword [irq_count + VEC_PERIODIC * 4], 3
        jb .wait_periodic
        cli
        mov eax, [LAPIC_TMCCT]
        mov edx, 0
        cmp eax, 5000
        ja .count_bad
        inc edx                         ; counting down within the period
.count_bad:
        CHECK "periodic count in range", edx, 1
        mov dword [LAPIC_LVT_TIMER], LVT_MASKED | LVT_PERIODIC | VEC_PERIODIC
        ; A period may have expired again between the third interrupt and the CLI (the
        ; host clock can jump when the host is busy); such an interrupt is already in the
        ; IRR and masking the LVT does not withdraw it, so let it in before taking the
        ; baseline. After that no further one may come.
        sti
        nop
        cli
        mov eax, [irq_count + VEC_PERIODIC * 4]
        mov [periodic_at_mask], eax
        mov edx, 0
        cmp eax, 3
        jb .too_few
        inc edx
.too_few:
        CHECK "periodic fired three times", edx, 1
        mov ecx, 20000                  ; ≥ 1 ms of virtual time: many periods
.masked_spin:
        sti
        nop
        cli
        mov eax, [LAPIC_TMCCT]          ; the count goes on while masked
        loop .masked_spin
        mov eax, [periodic_at_mask]
        CHECK "masked periodic stays quiet", dword [irq_count + VEC_PERIODIC * 4], eax
        mov dword [LAPIC_TMICT], 0

        ; --- I/O APIC: identity, the PIT on pin 2 ------------------------------------------
        mov dword [IOREGSEL], 1
        CHECK "ioapic version", dword [IOWIN], 0x00170011
        mov dword [IOREGSEL], 0x10 + 2 * 2
        CHECK "pin 2 masked at reset", dword [IOWIN], REDIR_MASKED
        mov dword [IOWIN], VEC_PIT      ; edge, active high, fixed, physical, unmasked
        mov dword [IOREGSEL], 0x11 + 2 * 2
        mov dword [IOWIN], 0            ; destination APIC ID 0
        mov al, 0x34                    ; counter 0, lo/hi, mode 2
        out 0x43, al
        mov al, 0xA9                    ; 1193 ticks: 1 ms
        out 0x40, al
        mov al, 0x04
        out 0x40, al
        sti
.wait_pit:
        hlt
        cmp dword [irq_count + VEC_PIT * 4], 3
        jb .wait_pit
        cli
        mov dword [IOREGSEL], 0x10 + 2 * 2
        mov dword [IOWIN], REDIR_MASKED | VEC_PIT
        mov eax, [irq_count + VEC_PIT * 4]
        mov edx, 0
        cmp eax, 3
        jb .pit_bad
        inc edx
.pit_bad:
        CHECK "pit through pin 2", edx, 1
        CHECK "no pit vector at the 8259", dword [irq_count + VEC_PIC_BASE * 4], 0

        ; --- I/O APIC: the RTC on pin 8, level-triggered -----------------------------------
        mov dword [IOREGSEL], 0x10 + 2 * 8
        mov dword [IOWIN], REDIR_LEVEL | VEC_RTC
        mov al, 0x0A
        out 0x70, al
        mov al, 0x26                    ; 32.768 kHz base, 1024 Hz periodic rate
        out 0x71, al
        mov al, 0x0B
        out 0x70, al
        in al, 0x71
        or al, 0x40                     ; periodic interrupt enable
        mov ah, al
        mov al, 0x0B
        out 0x70, al
        mov al, ah
        out 0x71, al
        sti
.wait_rtc:
        hlt
        cmp dword [irq_count + VEC_RTC * 4], 2
        jb .wait_rtc
        cli
        mov al, 0x0B                    ; periodic interrupt off
        out 0x70, al
        in al, 0x71
        and al, ~0x40
        mov ah, al
        mov al, 0x0B
        out 0x70, al
        mov al, ah
        out 0x71, al
        mov eax, [rtc_entry_in_handler]
        and eax, REDIR_REMOTE_IRR | REDIR_LEVEL | 0xFF
        CHECK "remote irr set in handler", eax, REDIR_REMOTE_IRR | REDIR_LEVEL | VEC_RTC
        mov dword [IOREGSEL], 0x10 + 2 * 8
        mov eax, [IOWIN]
        and eax, REDIR_REMOTE_IRR
        CHECK "remote irr cleared by eoi", eax, 0
        mov dword [IOWIN], REDIR_MASKED | REDIR_LEVEL | VEC_RTC

        ; --- virtual wire: the 8259 through LINT0 (ExtINT) ---------------------------------
        CHECK "lint0 extint after reset", dword [LAPIC_LVT_LINT0], LVT_EXTINT
        mov al, 0xFE                    ; unmask IRQ 0 at the master 8259
        out 0x21, al
        sti
.wait_wire:
        hlt
        cmp dword [irq_count + VEC_PIC_BASE * 4], 2
        jb .wait_wire
        cli
        mov eax, [irq_count + VEC_PIC_BASE * 4]
        mov edx, 0
        cmp eax, 2
        jb .wire_bad
        inc edx
.wire_bad:
        CHECK "8259 through lint0", edx, 1
        mov dword [LAPIC_LVT_LINT0], LVT_MASKED | LVT_EXTINT
        mov ebx, [irq_count + VEC_PIC_BASE * 4]
        sti
.wait_irr:
        mov al, 0x0A                    ; OCW3: read IRR
        out 0x20, al
        in al, 0x20
        test al, 1
        jz .wait_irr
        nop
        nop
        cli
        CHECK "masked lint0 holds the 8259", dword [irq_count + VEC_PIC_BASE * 4], ebx
        mov al, 0xFF
        out 0x21, al

        call finish

; pic_init: the 8259 pair at vectors 0x20/0x28, cascaded on IR2, every input masked.
pic_init:
        mov al, 0x11
        out 0x20, al
        out 0xA0, al
        mov al, VEC_PIC_BASE
        out 0x21, al
        mov al, VEC_PIC_BASE + 8
        out 0xA1, al
        mov al, 0x04
        out 0x21, al
        mov al, 0x02
        out 0xA1, al
        mov al, 0x01
        out 0x21, al
        out 0xA1, al
        mov al, 0xFF
        out 0x21, al
        out 0xA1, al
        ret

; irq_hook: every vector lands here (EBP = the frame). Exceptions fail the run; an
; interrupt is counted, the RTC's register C is read (dropping its line), the 8259's
; vectors get a non-specific EOI there, the APIC's at the local APIC.
irq_hook:
        mov eax, [ebp + FR_VECTOR]
        cmp eax, 0x20
        jb .exception
        inc dword [irq_count + eax * 4]
        cmp eax, VEC_SELF
        jne .not_self
        mov edx, [LAPIC_ISR + 0x20]
        mov [isr_in_handler], edx
.not_self:
        cmp eax, VEC_RTC
        jne .not_rtc
        mov dword [IOREGSEL], 0x10 + 2 * 8
        mov edx, [IOWIN]
        mov [rtc_entry_in_handler], edx
        mov al, 0x0C
        out 0x70, al
        in al, 0x71
        mov eax, VEC_RTC
.not_rtc:
        cmp eax, VEC_PIC_BASE + 16
        jae .apic_eoi
        mov al, 0x20
        out 0x20, al
        ret
.apic_eoi:
        mov dword [LAPIC_EOI], 0
        ret
.exception:
        PRINT "FAIL unexpected exception vector="
        call puthex32
        call newline
        mov al, EXIT_UNEXPECTED
        jmp pm_exit

section .bss
        BSS_ALIGN 4
irq_count:      resd 256
isr_in_handler: resd 1
rtc_entry_in_handler: resd 1
periodic_at_mask: resd 1
section .text

PMTEST_END
