; pm_paging.asm — ferrite's self-checking paging test kernel (multiboot, a.out kludge).
;
; Builds 32-bit page tables (4 KiB pages and a 4 MiB PSE page), then PAE tables (2 MiB
; pages and an NX page), and checks what the SDM (vol. 3A, ch. 4 "Paging") promises:
;   * a not-present access raises #PF with error 0 (read) or 2 (write) and CR2 = the address;
;   * a ring-0 write to a read-only page succeeds with CR0.WP=0 and faults (error 3) with WP=1;
;   * a ring-3 access to a supervisor page faults with error 5 (read) / 7 (write), and a
;     ring-3 write to a user read-only page with error 7;
;   * the walk sets the accessed bit in the PDE and PTE on a read and the dirty bit in the
;     PTE on the first write (also after a read cached the translation);
;   * INVLPG (and a CR3 reload) makes a changed PTE visible;
;   * a 4 MiB page (CR4.PSE, PDE.PS) maps its 4 MiB frame, with A and D in the PDE;
;   * PAE: a 2 MiB page maps its frame; with EFER.NXE an instruction fetch from an NX page
;     faults with error 0x11 (present | instruction fetch) while data reads of it work and
;     the same frame mapped without NX executes.
; One `ok NAME` line per check on port 0xE9; the run exits through port 0xF4 (see
; include/pmtest.inc). Run: ferrite run --kernel roms/bin/pm_paging.bin --no-reboot

%include "include/pmtest.inc"

PAGE_SIZE       equ 4096
; Paging-structure entry bits (32-bit and PAE).
PG_P            equ 1 << 0          ; present
PG_RW           equ 1 << 1          ; writable
PG_US           equ 1 << 2          ; user
PG_A            equ 1 << 5          ; accessed
PG_D            equ 1 << 6          ; dirty
PG_PS           equ 1 << 7          ; large page (PDE)
PG_NX_HIGH      equ 1 << 31         ; NX: bit 63, i.e. bit 31 of the entry's high dword
PG_USER_RW      equ PG_P | PG_RW | PG_US
PG_KERNEL_RW    equ PG_P | PG_RW
PG_KERNEL_RO    equ PG_P
PG_USER_RO      equ PG_P | PG_US
; #PF error-code bits.
PF_P            equ 1 << 0          ; protection violation (else not present)
PF_W            equ 1 << 1          ; write
PF_U            equ 1 << 2          ; user mode
PF_I            equ 1 << 4          ; instruction fetch

; 32-bit paging: PDE 0 maps 0..4 MiB identically (user, writable) through pt_low; PDE 1
; maps the test pages through pt_test; PDE 2 is a 4 MiB page onto physical 0.
PDE_TEST        equ 1
PDE_PSE         equ 2
VA_TEST         equ PDE_TEST << 22  ; 0x400000
VA_NOTPRESENT   equ VA_TEST + 0 * PAGE_SIZE     ; pt_test[0]: not present
VA_RO           equ VA_TEST + 1 * PAGE_SIZE     ; -> page_ro, supervisor, read-only
VA_SUP          equ VA_TEST + 2 * PAGE_SIZE     ; -> page_sup, supervisor, writable
VA_AD           equ VA_TEST + 3 * PAGE_SIZE     ; -> page_a, user, writable, A/D clear
VA_REMAP        equ VA_TEST + 4 * PAGE_SIZE     ; -> page_a, later page_b
VA_USER_RO      equ VA_TEST + 5 * PAGE_SIZE     ; -> page_ro, user, read-only
PTE_AD          equ 3
PTE_REMAP       equ 4
VA_PSE          equ PDE_PSE << 22   ; 0x800000: 4 MiB page onto physical 0
NP_OFFSET       equ 0x123           ; an unaligned offset, to see it in CR2

; PAE: PDPTE 0 -> pae_pd; PDEs 0 and 1 identity 2 MiB pages, PDE 2 a 2 MiB page onto
; physical 0 at 4 MiB, PDE 3 -> pae_pt with an NX and an executable view of nx_page.
PAE_PDE_ALIAS   equ 2
PAE_PDE_PT      equ 3
VA_PAE_ALIAS    equ PAE_PDE_ALIAS << 21         ; 0x400000
VA_NX           equ PAE_PDE_PT << 21            ; 0x600000: pae_pt[0], NX
VA_EXEC         equ VA_NX + PAGE_SIZE           ; pae_pt[1]: the same frame, executable
LARGE_2M        equ 1 << 21

MSR_EFER        equ 0xC0000080
EFER_NXE        equ 1 << 11
CPUID_EXT_FEAT  equ 0x80000001
CPUID_EXT_NX    equ 1 << 20
CPUID_PSE       equ 1 << 3
CPUID_PAE       equ 1 << 6

MARK_A          equ 0xAAAA0001
MARK_B          equ 0xBBBB0002
MARK_RO         equ 0x5EAD0003
MARK_SUP        equ 0x50B00004
MARK_NEW        equ 0x0E110005
MARK_RING3      equ 0x33330006
MARK_PSE        equ 0x45E00007
NX_MAGIC        equ 0xC0DE0008

main:
        ; --- CPUID: 4 MiB pages and PAE advertised --------------------------------------
        mov eax, 1
        cpuid
        and edx, CPUID_PSE | CPUID_PAE
        CHECK "cpuid pse+pae", edx, CPUID_PSE | CPUID_PAE

        call build_tables
        mov eax, pd
        mov cr3, eax
        mov eax, cr4
        or eax, CR4_PSE
        mov cr4, eax
        mov eax, cr0
        or eax, CR0_PG                  ; WP stays clear
        mov cr0, eax
        CHECK "paging on, mapped read", dword [VA_RO], MARK_RO

        ; --- not-present pages ----------------------------------------------------------
        EXPECT_FAULT .np_read_done
.np_read:
        mov eax, [VA_NOTPRESENT + NP_OFFSET]
        RESUME .np_read_done
        CHECK "not-present read: #PF", dword [fault_vector], VEC_PF
        CHECK "not-present read: error 0", dword [fault_error], 0
        CHECK "not-present read: CR2", dword [fault_cr2], VA_NOTPRESENT + NP_OFFSET
        CHECK "not-present read: EIP at the access", dword [fault_eip], .np_read

        EXPECT_FAULT .np_write_done
        mov dword [VA_NOTPRESENT + 4], MARK_NEW
        RESUME .np_write_done
        CHECK "not-present write: error 2", dword [fault_error], PF_W
        CHECK "not-present write: CR2", dword [fault_cr2], VA_NOTPRESENT + 4

        ; --- CR0.WP and a supervisor read-only page -------------------------------------
        EXPECT_FAULT .wp0_done
        mov dword [VA_RO], MARK_NEW
        RESUME .wp0_done
        CHECK "WP=0: ring-0 write to read-only page works", dword [fault_vector], NO_FAULT
        CHECK "WP=0: the write reached the frame", dword [page_ro], MARK_NEW
        mov dword [page_ro], MARK_RO
        mov eax, cr0
        or eax, CR0_WP
        mov cr0, eax
        EXPECT_FAULT .wp1_done
        mov dword [VA_RO], MARK_NEW
        RESUME .wp1_done
        CHECK "WP=1: ring-0 write to read-only page: #PF", dword [fault_vector], VEC_PF
        CHECK "WP=1: error 3", dword [fault_error], PF_P | PF_W
        CHECK "WP=1: CR2", dword [fault_cr2], VA_RO
        CHECK "WP=1: the frame is unchanged", dword [page_ro], MARK_RO

        ; --- ring 3 against supervisor and read-only pages ------------------------------
        mov eax, user_checks
        call enter_user
        CHECK "back in ring 0", dword [ring3_marker], MARK_RING3

        ; --- accessed and dirty bits ----------------------------------------------------
        CHECK "PTE A/D clear before use", dword [pt_test + PTE_AD * 4], page_a + PG_USER_RW
        mov eax, [VA_AD]
        mov eax, [pt_test + PTE_AD * 4]
        and eax, PG_A | PG_D
        CHECK "read sets PTE.A, not PTE.D", eax, PG_A
        mov eax, [pd + PDE_TEST * 4]
        and eax, PG_A
        CHECK "read sets PDE.A", eax, PG_A
        mov dword [VA_AD + 8], MARK_NEW
        mov eax, [pt_test + PTE_AD * 4]
        and eax, PG_A | PG_D
        CHECK "write sets PTE.D", eax, PG_A | PG_D
        CHECK "write reached the frame", dword [page_a + 8], MARK_NEW

        ; --- INVLPG and CR3 reload ------------------------------------------------------
        CHECK "remap: first frame", dword [VA_REMAP], MARK_A
        mov dword [pt_test + PTE_REMAP * 4], page_b + PG_USER_RW
        invlpg [VA_REMAP]
        CHECK "INVLPG: the new PTE is used", dword [VA_REMAP], MARK_B
        mov dword [pt_test + PTE_REMAP * 4], page_a + PG_USER_RW
        mov eax, cr3
        mov cr3, eax
        CHECK "CR3 reload: the new PTE is used", dword [VA_REMAP], MARK_A

        ; --- a 4 MiB page ---------------------------------------------------------------
        CHECK "4 MiB page: read through it", dword [VA_PSE + pse_word], MARK_PSE
        mov eax, [pd + PDE_PSE * 4]
        and eax, PG_A | PG_D
        CHECK "4 MiB page: read sets PDE.A", eax, PG_A
        mov dword [VA_PSE + pse_word], MARK_NEW
        CHECK "4 MiB page: write reaches the frame", dword [pse_word], MARK_NEW
        mov eax, [pd + PDE_PSE * 4]
        and eax, PG_A | PG_D
        CHECK "4 MiB page: write sets PDE.D", eax, PG_A | PG_D

        ; --- PAE: 2 MiB pages and NX ----------------------------------------------------
        mov eax, CPUID_EXT_FEAT
        cpuid
        and edx, CPUID_EXT_NX
        CHECK "cpuid 80000001 nx", edx, CPUID_EXT_NX
        mov eax, cr0
        and eax, ~CR0_PG
        mov cr0, eax                    ; paging off to switch to PAE
        call build_pae_tables
        mov ecx, MSR_EFER
        rdmsr
        or eax, EFER_NXE
        wrmsr
        rdmsr
        and eax, EFER_NXE
        CHECK "EFER.NXE set", eax, EFER_NXE
        mov eax, pdpt
        mov cr3, eax
        mov eax, cr4
        or eax, CR4_PAE
        mov cr4, eax
        mov eax, cr0
        or eax, CR0_PG
        mov cr0, eax
        CHECK "PAE on: 2 MiB identity page", dword [pse_word], MARK_NEW
        mov dword [pse_word], MARK_PSE
        CHECK "PAE 2 MiB page onto frame 0", dword [VA_PAE_ALIAS + pse_word], MARK_PSE
        mov eax, [pae_pd + PAE_PDE_ALIAS * 8]
        and eax, PG_A | PG_PS
        CHECK "PAE 2 MiB PDE: PS and A", eax, PG_A | PG_PS

        mov eax, VA_EXEC
        call eax                        ; the executable view: mov eax, NX_MAGIC; ret
        CHECK "PAE executable 4 KiB page runs", eax, NX_MAGIC
        CHECK "NX page is readable", dword [VA_NX], dword [nx_template]
        EXPECT_FAULT .nx_done
        mov eax, VA_NX
        jmp eax                         ; fetch from the NX view
        RESUME .nx_done
        CHECK "NX fetch: #PF", dword [fault_vector], VEC_PF
        CHECK "NX fetch: error 0x11", dword [fault_error], PF_P | PF_I
        CHECK "NX fetch: CR2", dword [fault_cr2], VA_NX
        ; The pushed EIP is the instruction whose fetch faulted, not the JMP to it.
        CHECK "NX fetch: EIP", dword [fault_eip], VA_NX

        mov eax, cr0
        and eax, ~CR0_PG
        mov cr0, eax
        jmp finish

; Ring-3 part (enter_user): every access below is user-mode.
user_checks:
        EXPECT_FAULT .sup_read_done
        mov eax, [VA_SUP]
        RESUME .sup_read_done
        CHECK "ring 3 read of supervisor page: #PF", dword [fault_vector], VEC_PF
        CHECK "ring 3 read of supervisor page: error 5", dword [fault_error], PF_P | PF_U
        CHECK "ring 3 read of supervisor page: CR2", dword [fault_cr2], VA_SUP
        EXPECT_FAULT .sup_write_done
        mov dword [VA_SUP], MARK_NEW
        RESUME .sup_write_done
        CHECK "ring 3 write of supervisor page: error 7", dword [fault_error], PF_P | PF_W | PF_U
        EXPECT_FAULT .uro_write_done
        mov dword [VA_USER_RO], MARK_NEW
        RESUME .uro_write_done
        CHECK "ring 3 write of user read-only page: error 7", dword [fault_error], PF_P | PF_W | PF_U
        CHECK "ring 3 read of user read-only page", dword [VA_USER_RO], MARK_RO
        CHECK "supervisor page unchanged", dword [page_sup], MARK_SUP
        mov dword [ring3_marker], MARK_RING3
        int VEC_KERNEL

; build_tables: the 32-bit page directory and tables, and the test frames' markers.
build_tables:
        ; pt_low: 0..4 MiB identity, user, writable.
        xor ecx, ecx
.low:
        mov eax, ecx
        shl eax, 12
        or eax, PG_USER_RW
        mov [pt_low + ecx * 4], eax
        inc ecx
        cmp ecx, 1024
        jb .low
        mov dword [pd], pt_low + PG_USER_RW
        mov dword [pd + PDE_TEST * 4], pt_test + PG_USER_RW
        mov dword [pd + PDE_PSE * 4], 0 + PG_KERNEL_RW + PG_PS
        mov dword [pt_test + 1 * 4], page_ro + PG_KERNEL_RO
        mov dword [pt_test + 2 * 4], page_sup + PG_KERNEL_RW
        mov dword [pt_test + PTE_AD * 4], page_a + PG_USER_RW
        mov dword [pt_test + PTE_REMAP * 4], page_a + PG_USER_RW
        mov dword [pt_test + 5 * 4], page_ro + PG_USER_RO
        mov dword [page_a], MARK_A
        mov dword [page_b], MARK_B
        mov dword [page_ro], MARK_RO
        mov dword [page_sup], MARK_SUP
        ret

; build_pae_tables: PDPT, one page directory and one page table (64-bit entries).
build_pae_tables:
        mov dword [pdpt], pae_pd + PG_P         ; PDPTEs take only P (and cache bits)
        mov dword [pae_pd + 0 * 8], 0 + PG_USER_RW + PG_PS
        mov dword [pae_pd + 1 * 8], LARGE_2M + PG_USER_RW + PG_PS
        mov dword [pae_pd + PAE_PDE_ALIAS * 8], 0 + PG_KERNEL_RW + PG_PS
        mov dword [pae_pd + PAE_PDE_PT * 8], pae_pt + PG_KERNEL_RW
        mov dword [pae_pt + 0 * 8], nx_page + PG_KERNEL_RW
        mov dword [pae_pt + 0 * 8 + 4], PG_NX_HIGH
        mov dword [pae_pt + 1 * 8], nx_page + PG_KERNEL_RW
        ; The frame holds a tiny function copied from nx_template.
        mov esi, nx_template
        mov edi, nx_page
        mov ecx, nx_template_end - nx_template
        rep movsb
        ret

nx_template:
        mov eax, NX_MAGIC
        ret
nx_template_end:

        align 4
pse_word:       dd MARK_PSE             ; read through the 4 MiB and 2 MiB aliases
ring3_marker:   dd 0

section .bss
        BSS_ALIGN 4096
pd:             resb PAGE_SIZE
pt_low:         resb PAGE_SIZE
pt_test:        resb PAGE_SIZE
page_a:         resb PAGE_SIZE
page_b:         resb PAGE_SIZE
page_ro:        resb PAGE_SIZE
page_sup:       resb PAGE_SIZE
pae_pd:         resb PAGE_SIZE
pae_pt:         resb PAGE_SIZE
nx_page:        resb PAGE_SIZE
pdpt:           resq 4                  ; 32-byte aligned (it is page-aligned here)

PMTEST_END
