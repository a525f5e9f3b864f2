//! The architectural state of one x86 processor.

use crate::decode_cache::DecodeCache;
use crate::flags::Flags;
use crate::fpu::FpuState;
use crate::hooks::DebugHooks;
use crate::interp::{DebugState, MsrState};
use crate::simd::SseState;
use crate::soft_tlb::{MmuStats, SoftTlb};

/// General-purpose register numbers, in x86 encoding order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(usize)]
pub enum Gpr {
    /// EAX.
    Eax = 0,
    /// ECX.
    Ecx = 1,
    /// EDX.
    Edx = 2,
    /// EBX.
    Ebx = 3,
    /// ESP.
    Esp = 4,
    /// EBP.
    Ebp = 5,
    /// ESI.
    Esi = 6,
    /// EDI.
    Edi = 7,
}

/// Segment register numbers, in x86 encoding order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(usize)]
pub enum SegReg {
    /// ES.
    Es = 0,
    /// CS.
    Cs = 1,
    /// SS.
    Ss = 2,
    /// DS.
    Ds = 3,
    /// FS.
    Fs = 4,
    /// GS.
    Gs = 5,
}

impl SegReg {
    /// All six, in encoding order.
    pub const ALL: [SegReg; 6] = [SegReg::Es, SegReg::Cs, SegReg::Ss, SegReg::Ds, SegReg::Fs, SegReg::Gs];
    /// The assembler name.
    pub fn name(self) -> &'static str {
        ["es", "cs", "ss", "ds", "fs", "gs"][self as usize]
    }
}

/// A segment register with its hidden descriptor cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[repr(C)]
pub struct Segment {
    /// The visible selector.
    pub selector: u16,
    /// Descriptor access byte (bits 0–7) and flags nibble G/D/L/AVL (bits 12–15).
    pub attrs: u16,
    /// Linear base address.
    pub base: u32,
    /// Limit in bytes (already scaled by the granularity bit).
    pub limit: u32,
}

impl Segment {
    /// Access byte: present.
    pub const ATTR_PRESENT: u16 = 0x80;
    /// Flags: default operation size 32 (the D/B bit).
    pub const ATTR_DB: u16 = 0x4000;
    /// Flags: 4 KiB granularity.
    pub const ATTR_G: u16 = 0x8000;
    /// A real-mode data segment for `selector` (base = selector × 16, 64 KiB limit).
    pub fn real_mode(selector: u16) -> Self {
        Segment { selector, attrs: 0x93, base: (selector as u32) << 4, limit: 0xFFFF }
    }
    /// Whether the segment defaults to 32-bit operands/addresses (CS) or a 32-bit stack (SS).
    #[inline]
    pub fn is_32(&self) -> bool {
        self.attrs & Self::ATTR_DB != 0
    }
}

/// GDTR / IDTR.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[repr(C)]
pub struct TableReg {
    /// Linear base address.
    pub base: u32,
    /// Limit in bytes.
    pub limit: u32,
}

/// Where and what the last exception raised by an instruction was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FaultRecord {
    /// The exception.
    pub fault: crate::Fault,
    /// CS selector of the faulting instruction.
    pub cs: u16,
    /// EIP of the faulting instruction.
    pub eip: u32,
    /// Whether the CPU was in protected mode.
    pub protected: bool,
}

/// The vendor string CPUID leaf 0 reports.
pub const CPUID_VENDOR: &[u8; 12] = b"GenuineIntel";

/// One x86 processor. The architectural fields come first and are `#[repr(C)]` so the
/// translator can address them from generated code; engine bookkeeping follows.
#[repr(C)]
pub struct Cpu {
    /// EAX, ECX, EDX, EBX, ESP, EBP, ESI, EDI.
    pub gpr: [u32; 8],
    /// Instruction pointer (offset in CS).
    pub eip: u32,
    /// EFLAGS, always with bit 1 set.
    pub eflags: u32,
    /// ES, CS, SS, DS, FS, GS with their descriptor caches.
    pub seg: [Segment; 6],
    /// LDTR with its descriptor cache.
    pub ldtr: Segment,
    /// TR with its descriptor cache.
    pub tr: Segment,
    /// GDTR.
    pub gdtr: TableReg,
    /// IDTR (the IVT in real mode: base 0, limit 0x3FF after reset).
    pub idtr: TableReg,
    /// CR0.
    pub cr0: u32,
    /// CR2 (page-fault linear address).
    pub cr2: u32,
    /// CR3.
    pub cr3: u32,
    /// CR4.
    pub cr4: u32,
    /// DR0–DR7 (DR4/DR5 alias DR6/DR7).
    pub dr: [u32; 8],
    /// EFER MSR.
    pub efer: u64,
    /// The other MSRs (SYSENTER, APIC base, PAT, MTRRs).
    pub msr: MsrState,
    /// Time-stamp counter.
    pub tsc: u64,
    /// Instructions retired since reset.
    pub insns: u64,
    /// The CPU executed HLT and waits for an interrupt.
    pub halted: bool,
    /// Interrupts are held off for one instruction (after STI, MOV SS, POP SS).
    pub int_shadow: bool,
    /// An NMI handler runs: further NMIs wait for the next IRET.
    pub nmi_blocked: bool,
    /// The shadow MMU's soft TLB (both engines probe it).
    pub tlb: SoftTlb,
    /// Shadow-MMU counters (hypervisor- vs guest-induced faults).
    pub mmu_stats: MmuStats,
    /// The x87 FPU.
    pub fpu: FpuState,
    /// The SSE registers (XMM0–7) and MXCSR.
    pub sse: SseState,
    /// Host debugger breakpoints and watchpoints (not visible to the guest).
    pub hooks: DebugHooks,
    /// Armed debug-register breakpoints, derived from DR7.
    pub dbg: DebugState,
    /// The most recent exception an instruction raised (for debuggers and test runners).
    pub last_fault: Option<FaultRecord>,
    pub(crate) cache: DecodeCache,
    pub(crate) cur_eip: u32,
    pub(crate) fault_depth: u8,
}

impl Default for Cpu {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Cpu {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cpu")
            .field("gpr", &self.gpr)
            .field("eip", &self.eip)
            .field("eflags", &self.eflags)
            .field("seg", &self.seg)
            .finish_non_exhaustive()
    }
}

impl Cpu {
    /// A processor in its power-on state (see [`Cpu::reset`]).
    pub fn new() -> Self {
        let mut cpu = Cpu {
            gpr: [0; 8],
            eip: 0,
            eflags: 0,
            seg: [Segment::default(); 6],
            ldtr: Segment::default(),
            tr: Segment::default(),
            gdtr: TableReg::default(),
            idtr: TableReg::default(),
            cr0: 0,
            cr2: 0,
            cr3: 0,
            cr4: 0,
            dr: [0; 8],
            efer: 0,
            msr: MsrState::default(),
            tsc: 0,
            insns: 0,
            halted: false,
            int_shadow: false,
            nmi_blocked: false,
            tlb: SoftTlb::default(),
            mmu_stats: MmuStats::default(),
            fpu: FpuState::new(),
            sse: SseState::new(),
            last_fault: None,
            dbg: DebugState::default(),
            hooks: DebugHooks::default(),
            cache: DecodeCache::default(),
            cur_eip: 0,
            fault_depth: 0,
        };
        cpu.reset();
        cpu
    }

    /// The RESET state: real mode, CS:IP = F000:FFF0 with CS base 0xFFFF0000, so the first
    /// fetch comes from the top of the 4 GiB space; EDX holds the CPU signature.
    pub fn reset(&mut self) {
        self.gpr = [0; 8];
        self.gpr[Gpr::Edx as usize] = crate::interp::CPUID_SIGNATURE;
        self.eip = 0xFFF0;
        self.eflags = Flags::FIXED1;
        for s in SegReg::ALL {
            self.seg[s as usize] = Segment::real_mode(0);
        }
        self.seg[SegReg::Cs as usize] = Segment { selector: 0xF000, attrs: 0x9B, base: 0xFFFF_0000, limit: 0xFFFF };
        self.ldtr = Segment { selector: 0, attrs: 0x82, base: 0, limit: 0xFFFF };
        self.tr = Segment { selector: 0, attrs: 0x8B, base: 0, limit: 0xFFFF };
        self.gdtr = TableReg { base: 0, limit: 0xFFFF };
        self.idtr = TableReg { base: 0, limit: 0x3FF };
        self.cr0 = 0x6000_0010;
        self.cr2 = 0;
        self.cr3 = 0;
        self.cr4 = 0;
        self.dr = [0, 0, 0, 0, 0xFFFF_0FF0, 0x400, 0xFFFF_0FF0, 0x400];
        self.efer = 0;
        self.msr = MsrState::default();
        self.halted = false;
        self.int_shadow = false;
        self.nmi_blocked = false;
        self.fault_depth = 0;
        self.last_fault = None;
        self.dbg = DebugState::default();
        // RESET leaves the FPU in its power-on state (P6: CW 0x0040, TW 0x5555, +0.0 in
        // every register), not the FNINIT state.
        self.fpu = FpuState::new();
        self.sse = SseState::new();
        self.tlb.flush(false);
        self.cache.clear();
    }

    /// Loads a segment register the real-mode way (base = selector × 16), keeping the
    /// cached limit and attributes as real hardware does.
    pub fn load_seg_real(&mut self, s: SegReg, selector: u16) {
        let seg = &mut self.seg[s as usize];
        seg.selector = selector;
        seg.base = (selector as u32) << 4;
    }

    /// Protected mode enable (CR0.PE).
    #[inline]
    pub fn protected_mode(&self) -> bool {
        self.cr0 & 1 != 0
    }

    /// Whether code runs with 32-bit default operand and address size.
    #[inline]
    pub fn code32(&self) -> bool {
        self.seg[SegReg::Cs as usize].is_32()
    }

    /// The current privilege level (0 in real mode).
    #[inline]
    pub fn cpl(&self) -> u8 {
        if self.eflags & Flags::VM != 0 {
            3
        } else if self.protected_mode() {
            (self.seg[SegReg::Cs as usize].selector & 3) as u8
        } else {
            0
        }
    }

    /// Reads a 16-bit general-purpose register.
    #[inline]
    pub fn reg16(&self, r: Gpr) -> u16 {
        self.gpr[r as usize] as u16
    }

    /// Writes a 16-bit general-purpose register, keeping the upper half.
    #[inline]
    pub fn set_reg16(&mut self, r: Gpr, v: u16) {
        let g = &mut self.gpr[r as usize];
        *g = (*g & 0xFFFF_0000) | v as u32;
    }

    /// The linear address of CS:EIP.
    pub fn pc_linear(&self) -> u32 {
        self.seg[SegReg::Cs as usize].base.wrapping_add(self.eip)
    }

    /// Decode-cache statistics.
    pub fn cache_stats(&self) -> CacheStats {
        self.cache.stats
    }

    /// Enables or disables the decoded-block cache (disabled, every instruction is decoded
    /// afresh; used to measure what the cache saves).
    pub fn set_decode_cache(&mut self, enabled: bool) {
        self.cache.set_enabled(enabled);
    }

    /// Switches the interpreter's pre-decoded fast forms of frequent instructions on (the
    /// default) or off (every instruction through the generic dispatch); drops the decoded
    /// blocks. Both settings compute the same results; the switch exists for tests and
    /// measurements.
    pub fn set_fast_forms(&mut self, enabled: bool) {
        self.cache.set_uops(enabled);
    }
}

use crate::decode_cache::CacheStats;
