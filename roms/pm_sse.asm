; pm_sse.asm — ferrite's self-checking MMX/SSE/SSE2 test kernel (multiboot).
;
; Checks (SDM vol. 1 ch. 9-11, vol. 3A 13.1 "Initialization of the SSE extensions"):
;   * CPUID.1:EDX MMX (23), FXSR (24), SSE (25), SSE2 (26);
;   * an SSE instruction with CR4.OSFXSR = 0 raises #UD; then CR4.OSFXSR/OSXMMEXCPT on;
;   * ADDPS and MULPD exact results; CVTTSD2SI truncates toward zero;
;   * PADDB wraps per byte, PMULLW keeps the low 16 bits, PSHUFD 0x1B reverses dwords;
;   * MOVAPS from a misaligned address raises #GP(0);
;   * an unmasked SSE divide-by-zero raises #XM (vector 19) at the DIVPS, with MXCSR.ZE;
;   * an MMX instruction makes every x87 tag valid, EMMS makes them all empty;
;   * FXSAVE stores MXCSR and XMM0; FXRSTOR brings XMM0 back.
; Run: ferrite run --kernel roms/bin/pm_sse.bin --no-reboot

%include "include/pmtest.inc"

CPUID_MMX       equ 1 << 23
CPUID_FXSR      equ 1 << 24
CPUID_SSE       equ 1 << 25
CPUID_SSE2      equ 1 << 26
CPUID_SIMD_ALL  equ CPUID_MMX | CPUID_FXSR | CPUID_SSE | CPUID_SSE2
MXCSR_DEFAULT   equ 0x1F80              ; all exceptions masked, round to nearest
MXCSR_ZE        equ 1 << 2              ; divide-by-zero flag
MXCSR_ZM        equ 1 << 9              ; divide-by-zero mask
FENV_FTW        equ 8                   ; FSTENV: tag word
FTW_ALL_VALID   equ 0x0000
FTW_ALL_EMPTY   equ 0xFFFF
FX_MXCSR        equ 24                  ; FXSAVE offsets
FX_XMM0         equ 160
FXSAVE_SIZE     equ 512
PSHUFD_REVERSE  equ 0x1B                ; dwords 3,2,1,0

; Single-precision bit patterns.
F_0_125         equ 0x3E000000
F_0_25          equ 0x3E800000
F_0_5           equ 0x3F000000
F_1             equ 0x3F800000
F_1_5           equ 0x3FC00000
F_2             equ 0x40000000
F_2_25          equ 0x40100000
F_3             equ 0x40400000
F_3_125         equ 0x40480000
F_4             equ 0x40800000
F_5             equ 0x40A00000
; Double-precision bit patterns (high dwords; the low dwords are 0).
D_1_5_HI        equ 0x3FF80000
D_4_HI          equ 0x40100000
D_0_25_HI       equ 0x3FD00000
D_6_HI          equ 0x40180000
D_MINUS_2_HI    equ 0xC0000000
D_MINUS_0_5_HI  equ 0xBFE00000
D_MINUS_2_75_HI equ 0xC0060000

main:
        mov eax, 1
        cpuid
        and edx, CPUID_SIMD_ALL
        CHECK "CPUID.1:EDX MMX FXSR SSE SSE2", edx, CPUID_SIMD_ALL

        ; --- SSE needs CR4.OSFXSR -------------------------------------------------------
        mov eax, cr0
        and eax, ~(CR0_EM | CR0_TS)
        or eax, CR0_MP | CR0_NE
        mov cr0, eax
        EXPECT_FAULT .ud_done
        xorps xmm0, xmm0
        RESUME .ud_done
        CHECK "SSE with CR4.OSFXSR=0: #UD", dword [fault_vector], VEC_UD
        mov eax, cr4
        or eax, CR4_OSFXSR | CR4_OSXMMEXCPT
        mov cr4, eax
        fninit
        stmxcsr [mxcsr]
        CHECK "MXCSR default", dword [mxcsr], MXCSR_DEFAULT

        ; --- packed and scalar floating point -------------------------------------------
        movaps xmm0, [ps_a]
        addps xmm0, [ps_b]
        movups [out], xmm0
        CHECK "ADDPS lane 0 (1 + 0.5)", dword [out], F_1_5
        CHECK "ADDPS lane 1 (2 + 0.25)", dword [out + 4], F_2_25
        CHECK "ADDPS lane 2 (3 + 0.125)", dword [out + 8], F_3_125
        CHECK "ADDPS lane 3 (4 + 1)", dword [out + 12], F_5
        movapd xmm1, [pd_a]
        mulpd xmm1, [pd_b]
        movupd [out], xmm1
        CHECK "MULPD lane 0 (1.5 * 4) low", dword [out], 0
        CHECK "MULPD lane 0 (1.5 * 4) high", dword [out + 4], D_6_HI
        CHECK "MULPD lane 1 (-2 * 0.25) low", dword [out + 8], 0
        CHECK "MULPD lane 1 (-2 * 0.25) high", dword [out + 12], D_MINUS_0_5_HI
        cvttsd2si eax, [sd_minus_2_75]
        CHECK "CVTTSD2SI(-2.75) = -2", eax, -2

        ; --- packed integers ------------------------------------------------------------
        movdqa xmm2, [pi_a]
        paddb xmm2, [pi_ones]
        movdqu [out], xmm2
        CHECK "PADDB wraps per byte", dword [out], 0x02008081
        movdqa xmm3, [pw_a]
        pmullw xmm3, [pw_b]
        movdqu [out], xmm3
        CHECK "PMULLW low 16 bits", dword [out], 0x2340000F
        pshufd xmm4, [pd_seq], PSHUFD_REVERSE
        movdqu [out], xmm4
        CHECK "PSHUFD 0x1B dword 0", dword [out], 3
        CHECK "PSHUFD 0x1B dword 3", dword [out + 12], 0

        ; --- alignment ------------------------------------------------------------------
        EXPECT_FAULT .align_done
        movaps xmm5, [ps_a + 4]
        RESUME .align_done
        CHECK "MOVAPS misaligned: #GP", dword [fault_vector], VEC_GP
        CHECK "MOVAPS misaligned: error 0", dword [fault_error], 0

        ; --- unmasked divide-by-zero: #XM -----------------------------------------------
        mov dword [mxcsr], MXCSR_DEFAULT & ~MXCSR_ZM
        ldmxcsr [mxcsr]
        movaps xmm6, [ps_a]
        xorps xmm7, xmm7
        EXPECT_FAULT .xm_done
.divps:
        divps xmm6, xmm7
        RESUME .xm_done
        CHECK "unmasked SSE 1/0: #XM", dword [fault_vector], VEC_XM
        CHECK "unmasked SSE 1/0: EIP at DIVPS", dword [fault_eip], .divps
        stmxcsr [mxcsr]
        mov eax, [mxcsr]
        and eax, MXCSR_ZE
        CHECK "unmasked SSE 1/0: MXCSR.ZE", eax, MXCSR_ZE
        mov dword [mxcsr], MXCSR_DEFAULT
        ldmxcsr [mxcsr]

        ; --- MMX and EMMS ---------------------------------------------------------------
        movq mm0, [pi_a]
        paddb mm0, [pi_ones]
        movq [out], mm0
        CHECK "MMX PADDB", dword [out], 0x02008081
        fnstenv [env]
        movzx eax, word [env + FENV_FTW]
        CHECK "MMX: all tags valid", eax, FTW_ALL_VALID
        fldenv [env]
        emms
        fnstenv [env]
        movzx eax, word [env + FENV_FTW]
        CHECK "EMMS: all tags empty", eax, FTW_ALL_EMPTY
        fldenv [env]

        ; --- FXSAVE / FXRSTOR -----------------------------------------------------------
        movdqa xmm0, [pattern]
        fxsave [fx_area]
        CHECK "FXSAVE: MXCSR", dword [fx_area + FX_MXCSR], MXCSR_DEFAULT
        CHECK "FXSAVE: XMM0 dword 0", dword [fx_area + FX_XMM0], dword [pattern]
        CHECK "FXSAVE: XMM0 dword 3", dword [fx_area + FX_XMM0 + 12], dword [pattern + 12]
        xorps xmm0, xmm0
        fxrstor [fx_area]
        movdqu [out], xmm0
        CHECK "FXRSTOR: XMM0 dword 0", dword [out], dword [pattern]
        CHECK "FXRSTOR: XMM0 dword 1", dword [out + 4], dword [pattern + 4]
        CHECK "FXRSTOR: XMM0 dword 2", dword [out + 8], dword [pattern + 8]
        CHECK "FXRSTOR: XMM0 dword 3", dword [out + 12], dword [pattern + 12]
        jmp finish

        align 16
ps_a:           dd F_1, F_2, F_3, F_4
ps_b:           dd F_0_5, F_0_25, F_0_125, F_1
pd_a:           dd 0, D_1_5_HI, 0, D_MINUS_2_HI
pd_b:           dd 0, D_4_HI, 0, D_0_25_HI
sd_minus_2_75:  dd 0, D_MINUS_2_75_HI, 0, 0
pi_a:           dd 0x01FF7F80, 0, 0, 0          ; bytes 80 7F FF 01
pi_ones:        dd 0x01010101, 0, 0, 0
pw_a:           dw 3, 0x1234, 0, 0, 0, 0, 0, 0
pw_b:           dw 5, 0x0010, 0, 0, 0, 0, 0, 0
pd_seq:         dd 0, 1, 2, 3
pattern:        dd 0x01234567, 0x89ABCDEF, 0xFEDCBA98, 0x76543210

section .bss
        BSS_ALIGN 16
fx_area:        resb FXSAVE_SIZE
out:            resb 16
mxcsr:          resd 1
env:            resb 28

PMTEST_END
