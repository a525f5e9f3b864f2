; pm_fpu.asm — ferrite's self-checking x87 FPU test kernel (multiboot).
;
; Exact results with known bit patterns (SDM vol. 1, ch. 8 "Programming with the x87
; FPU"; vol. 2 for each instruction):
;   * CPUID.1:EDX.FPU; FINIT's control word 0x037F, status 0 and all-empty tag word;
;   * 1/3 in 64-bit precision: 0x3FFD AAAAAAAAAAAAAAAB (rounded up: PE and C1 set);
;   * FSQRT(2) = 0x3FFF B504F333F9DE6484; FLDPI = 0x4000 C90FDAA22168C235;
;   * FILD/FISTP round trips of a 64-bit and a negative 32-bit integer;
;   * precision control 24 bits: 1/3 = 0x3FFD AAAAAB0000000000;
;   * masked zero-divide: +infinity (0x7FFF 8000000000000000) and ZE set;
;   * unmasked zero-divide with CR0.NE=1: the FDIV only sets ZE and ES, the next waiting
;     FP instruction raises #MF (vector 16) with EIP at that instruction;
;   * FSAVE stores the environment and registers (control, status with TOP, tag word,
;     ST(0)) and reinitialises the FPU; FRSTOR brings everything back.
; Run: ferrite run --kernel roms/bin/pm_fpu.bin --no-reboot

%include "include/pmtest.inc"

CPUID_FPU       equ 1 << 0
FCW_DEFAULT     equ 0x037F              ; all masked, 64-bit precision, round to nearest
FCW_PC_MASK     equ 3 << 8              ; precision control
FCW_PC24        equ 0 << 8              ; 24-bit (single) precision
FCW_ZM          equ 1 << 2              ; zero-divide mask
FCW_SAVED       equ 0x027F              ; 53-bit precision, for the FSAVE round trip
FSW_ZE          equ 1 << 2
FSW_PE          equ 1 << 5
FSW_ES          equ 1 << 7
FSW_C1          equ 1 << 9
FSW_TOP_SHIFT   equ 11
FTW_ALL_EMPTY   equ 0xFFFF
FTW_TWO_VALID   equ 0x0FFF              ; physical registers 7 and 6 valid
; FSAVE (32-bit protected-mode format) offsets.
FS_FCW          equ 0
FS_FSW          equ 4
FS_FTW          equ 8
FS_ST0          equ 28
FSAVE_SIZE      equ 108
FENV_FTW        equ 8                   ; FSTENV: tag word

; 80-bit results: significand low dword, high dword, sign+exponent word.
THIRD_LO        equ 0xAAAAAAAB
THIRD_HI        equ 0xAAAAAAAA
THIRD_EXP       equ 0x3FFD
THIRD24_LO      equ 0x00000000
THIRD24_HI      equ 0xAAAAAB00
SQRT2_LO        equ 0xF9DE6484
SQRT2_HI        equ 0xB504F333
SQRT2_EXP       equ 0x3FFF
PI_LO           equ 0x2168C235
PI_HI           equ 0xC90FDAA2
PI_EXP          equ 0x4000
INF_LO          equ 0
INF_HI          equ 0x80000000
INF_EXP         equ 0x7FFF
ONE_HI          equ 0x80000000
ONE_EXP         equ 0x3FFF
INT64_LO        equ 0x9ABCDEF0
INT64_HI        equ 0x12345678
INT32           equ -12345

; CHECK_T80 "name", lo, hi, exp — the 80-bit value in t80.
%macro CHECK_T80 4
%strcat %%lo %1, " (significand low)"
%strcat %%hi %1, " (significand high)"
%strcat %%ex %1, " (sign, exponent)"
        CHECK %%lo, dword [t80], %2
        CHECK %%hi, dword [t80 + 4], %3
        movzx eax, word [t80 + 8]
        CHECK %%ex, eax, %4
%endmacro

main:
        mov eax, 1
        cpuid
        and edx, CPUID_FPU
        CHECK "CPUID.1:EDX.FPU", edx, CPUID_FPU
        mov eax, cr0
        and eax, ~(CR0_EM | CR0_TS)
        or eax, CR0_MP | CR0_NE         ; native (#MF) error reporting
        mov cr0, eax

        ; --- FINIT state ----------------------------------------------------------------
        finit
        fstcw [cw]
        movzx eax, word [cw]
        CHECK "FINIT: control word", eax, FCW_DEFAULT
        fnstsw ax
        movzx eax, ax
        CHECK "FINIT: status word", eax, 0
        fstenv [env]
        movzx eax, word [env + FENV_FTW]
        CHECK "FINIT: tag word all empty", eax, FTW_ALL_EMPTY
        fldcw [cw]                      ; FSTENV masked everything; reload

        ; --- 1/3, sqrt(2), pi, integers -------------------------------------------------
        fld1
        fidiv dword [three]
        fnstsw ax
        and eax, FSW_PE | FSW_C1
        CHECK "1/3: PE and C1 (rounded up)", eax, FSW_PE | FSW_C1
        fstp tword [t80]
        CHECK_T80 "1/3 64-bit precision", THIRD_LO, THIRD_HI, THIRD_EXP
        fclex
        fild dword [two]
        fsqrt
        fstp tword [t80]
        CHECK_T80 "FSQRT(2)", SQRT2_LO, SQRT2_HI, SQRT2_EXP
        fldpi
        fstp tword [t80]
        CHECK_T80 "FLDPI", PI_LO, PI_HI, PI_EXP
        fild qword [int64]
        fistp qword [int_out]
        CHECK "FILD/FISTP 64-bit (low)", dword [int_out], INT64_LO
        CHECK "FILD/FISTP 64-bit (high)", dword [int_out + 4], INT64_HI
        fild dword [int32]
        fistp dword [int_out]
        CHECK "FILD/FISTP 32-bit negative", dword [int_out], INT32
        fnstsw ax
        shr eax, FSW_TOP_SHIFT
        and eax, 7
        CHECK "stack balanced (TOP 0)", eax, 0

        ; --- precision control 24 bits --------------------------------------------------
        fstcw [cw]
        and word [cw], ~FCW_PC_MASK
        or word [cw], FCW_PC24
        fldcw [cw]
        fld1
        fidiv dword [three]
        fstp tword [t80]
        CHECK_T80 "1/3 24-bit precision", THIRD24_LO, THIRD24_HI, THIRD_EXP
        fclex
        mov word [cw], FCW_DEFAULT
        fldcw [cw]

        ; --- masked zero-divide ---------------------------------------------------------
        fld1
        fldz
        fdivp st1, st0                  ; 1 / 0
        fnstsw ax
        and eax, FSW_ZE | FSW_ES
        CHECK "masked 1/0: ZE set, no ES", eax, FSW_ZE
        fstp tword [t80]
        CHECK_T80 "masked 1/0 = +infinity", INF_LO, INF_HI, INF_EXP
        fclex

        ; --- unmasked zero-divide: #MF at the next waiting instruction -------------------
        mov word [cw], FCW_DEFAULT & ~FCW_ZM
        fldcw [cw]
        EXPECT_FAULT .mf_done
        fld1
        fldz
        fdivp st1, st0                  ; sets ZE and ES; no exception yet
        fnstsw ax                       ; non-waiting: no #MF
        mov [sw_pending], eax
.mf_insn:
        fwait                           ; #MF here
        RESUME .mf_done
        movzx eax, word [sw_pending]
        and eax, FSW_ZE | FSW_ES
        CHECK "unmasked 1/0: ZE and ES pending", eax, FSW_ZE | FSW_ES
        CHECK "unmasked 1/0: #MF", dword [fault_vector], VEC_MF
        CHECK "unmasked 1/0: #MF at the next waiting instruction", dword [fault_eip], .mf_insn
        fnclex
        fninit

        ; --- FSAVE / FRSTOR -------------------------------------------------------------
        mov word [cw], FCW_SAVED
        fldcw [cw]
        fldpi
        fld1
        fsave [save_area]
        fnstcw [cw]
        movzx eax, word [cw]
        CHECK "FSAVE reinitialises: control word", eax, FCW_DEFAULT
        fnstsw ax
        movzx eax, ax
        CHECK "FSAVE reinitialises: status word", eax, 0
        movzx eax, word [save_area + FS_FCW]
        CHECK "FSAVE: control word stored", eax, FCW_SAVED
        movzx eax, word [save_area + FS_FSW]
        shr eax, FSW_TOP_SHIFT
        and eax, 7
        CHECK "FSAVE: TOP stored", eax, 6
        movzx eax, word [save_area + FS_FTW]
        CHECK "FSAVE: tag word stored", eax, FTW_TWO_VALID
        CHECK "FSAVE: ST(0) = 1.0 (significand)", dword [save_area + FS_ST0 + 4], ONE_HI
        movzx eax, word [save_area + FS_ST0 + 8]
        CHECK "FSAVE: ST(0) = 1.0 (exponent)", eax, ONE_EXP
        frstor [save_area]
        fnstcw [cw]
        movzx eax, word [cw]
        CHECK "FRSTOR: control word", eax, FCW_SAVED
        fstp tword [t80]
        CHECK_T80 "FRSTOR: ST(0) = 1.0", 0, ONE_HI, ONE_EXP
        ; (precision control does not apply to FLDPI: pi kept all 64 bits)
        fstp tword [t80]
        CHECK_T80 "FRSTOR: ST(1) = pi", PI_LO, PI_HI, PI_EXP
        jmp finish

        align 4
three:          dd 3
two:            dd 2
int64:          dd INT64_LO, INT64_HI
int32:          dd INT32

section .bss
        BSS_ALIGN 16
t80:            resb 16
cw:             resd 1
sw_pending:     resd 1
int_out:        resq 1
env:            resb 28
        BSS_ALIGN 16
save_area:      resb FSAVE_SIZE

PMTEST_END
