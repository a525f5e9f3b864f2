//! MMX, SSE and SSE2: the XMM register file and MXCSR, the MMX view of the x87 register
//! file, and every MMX/SSE/SSE2 instruction of a Pentium 4-class processor in 32-bit code.
//!
//! * The MMX registers MM0–MM7 are the significands (low 64 bits) of the x87 physical
//!   registers R0–R7. An MMX instruction sets TOP to 0, tags every register valid, and
//!   writes 0xFFFF into the sign/exponent of the register it writes; EMMS tags all empty.
//! * SSE/SSE2 floating point works on IEEE single and double precision through
//!   `rustc_apfloat` ([`softfp`]), so every rounding mode, flag and masked response is
//!   exact; an unmasked exception leaves the destination alone and raises #XM (CR4.
//!   OSXMMEXCPT = 1) or #UD.
//! * Enablement: SSE instructions are #UD unless CR4.OSFXSR = 1 and CR0.EM = 0, MMX ones
//!   are #UD when CR0.EM = 1; both raise #NM when CR0.TS = 1.

mod moves;
mod mxcsr;
mod softfp;
mod sse_fp;
mod sse_int;

#[cfg(test)]
mod e2e_tests;
#[cfg(all(test, target_arch = "x86_64"))]
mod host_oracle;
#[cfg(test)]
mod tests;

use crate::fault::{Fault, Vector};
use crate::fpu::{sw, FpuState};
use crate::interp::Exec;
use crate::memory::Access;
use crate::state::SegReg;
use iced_x86::{CpuidFeature, Instruction, Mnemonic, OpKind, Register};

pub(crate) use mxcsr::{MXCSR_MASK, MXCSR_RESET};

/// CR0.EM: no FPU/MMX/SSE instructions.
const CR0_EM: u32 = 1 << 2;
/// CR0.TS: task switched, the FPU/SSE state belongs to another task.
const CR0_TS: u32 = 1 << 3;
/// CR0.NE: report x87 errors through #MF.
const CR0_NE: u32 = 1 << 5;
/// CR4.OSFXSR: the OS saves SSE state with FXSAVE, SSE instructions are enabled.
pub(crate) const CR4_OSFXSR: u32 = 1 << 9;
/// CR4.OSXMMEXCPT: the OS handles #XM; without it unmasked SSE exceptions are #UD.
pub(crate) const CR4_OSXMMEXCPT: u32 = 1 << 10;
/// Alignment of the 16-byte operands of aligned SSE forms.
const XMM_ALIGN: u32 = 16;
/// Sign/exponent an MMX write leaves in the x87 register.
const MMX_SE: u16 = 0xFFFF;

/// The SSE register file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(C)]
pub struct SseState {
    /// XMM0–XMM7, little-endian (bit 0 of the register is bit 0 of the value).
    pub xmm: [u128; 8],
    /// MXCSR: exception flags (0–5), DAZ (6), masks (7–12), rounding control (13–14), FZ (15).
    pub mxcsr: u32,
}

impl Default for SseState {
    fn default() -> Self {
        Self::new()
    }
}

impl SseState {
    /// The RESET/INIT state: all XMM registers zero, MXCSR 0x1F80 (all masked, nearest).
    pub fn new() -> Self {
        SseState { xmm: [0; 8], mxcsr: MXCSR_RESET }
    }
}

impl FpuState {
    /// MMn: the significand of physical x87 register n.
    pub(crate) fn mmx(&self, n: usize) -> u64 {
        self.regs[n & 7].sig
    }

    /// Writes MMn (sign/exponent become all ones, as on hardware).
    pub(crate) fn set_mmx(&mut self, n: usize, v: u64) {
        let r = &mut self.regs[n & 7];
        r.sig = v;
        r.se = MMX_SE;
    }

    /// The x87 → MMX transition every MMX instruction makes: TOP = 0, all tags valid.
    pub(crate) fn enter_mmx(&mut self) {
        self.sw &= !sw::TOP;
        self.tw = 0;
    }

    /// EMMS: every register tagged empty.
    pub(crate) fn emms(&mut self) {
        self.tw = 0xFFFF;
    }
}

/// Whether iced says this instruction belongs to MMX, SSE or SSE2 (or CLFLUSH).
pub(crate) fn is_simd(ins: &Instruction) -> bool {
    use CpuidFeature as F;
    ins.cpuid_features().iter().any(|f| matches!(f, F::MMX | F::SSE | F::SSE2 | F::CLFSH))
}

/// Whether the operand is a register of the given class.
fn has_reg(ins: &Instruction, pred: fn(Register) -> bool) -> bool {
    (0..ins.op_count()).any(|i| ins.op_kind(i) == OpKind::Register && pred(ins.op_register(i)))
}

impl Exec<'_> {
    /// Executes an MMX, SSE or SSE2 instruction after the CR0/CR4 enablement checks.
    pub(crate) fn exec_simd(&mut self, ins: &Instruction) -> Result<(), Fault> {
        use Mnemonic as M;
        let m = ins.mnemonic();
        let mm = has_reg(ins, Register::is_mm);
        let xmm = has_reg(ins, Register::is_xmm) || matches!(m, M::Ldmxcsr | M::Stmxcsr);
        let cr0 = self.cpu.cr0;
        if xmm {
            if cr0 & CR0_EM != 0 || self.cpu.cr4 & CR4_OSFXSR == 0 {
                return Err(Fault::UD);
            }
            if cr0 & CR0_TS != 0 {
                return Err(Fault::new(Vector::DeviceNotAvailable));
            }
        } else if mm || m == M::Emms {
            if cr0 & CR0_EM != 0 {
                return Err(Fault::UD);
            }
            if cr0 & CR0_TS != 0 {
                return Err(Fault::new(Vector::DeviceNotAvailable));
            }
        }
        if (mm || m == M::Emms) && self.cpu.fpu.sw & sw::ES != 0 && cr0 & CR0_NE != 0 {
            return Err(Fault::MF);
        }
        match m {
            M::Emms => {
                self.cpu.fpu.emms();
                return Ok(());
            }
            M::Ldmxcsr | M::Stmxcsr => return self.exec_mxcsr(ins),
            _ => {}
        }
        // Each group reads its operands only once it knows the instruction is its own.
        if !self.exec_move(ins)? && !self.exec_sse_fp(ins)? && !self.exec_sse_int(ins)? {
            return Err(Fault::UD);
        }
        if mm {
            self.cpu.fpu.enter_mmx();
        }
        Ok(())
    }

    /// XMMn.
    #[inline]
    pub(crate) fn xmm(&self, n: usize) -> u128 {
        self.cpu.sse.xmm[n & 7]
    }

    /// Writes XMMn.
    #[inline]
    pub(crate) fn set_xmm(&mut self, n: usize, v: u128) {
        self.cpu.sse.xmm[n & 7] = v;
    }

    /// Reads a register operand: XMM, MM or a general-purpose register (zero-extended).
    fn simd_reg(&self, r: Register) -> u128 {
        if r.is_xmm() {
            self.xmm(r.number())
        } else if r.is_mm() {
            self.cpu.fpu.mmx(r.number()) as u128
        } else {
            self.get_reg(r) as u128
        }
    }

    /// Writes a register operand: XMM (all 128 bits), MM (64 bits) or a general register.
    fn set_simd_reg(&mut self, r: Register, v: u128) {
        if r.is_xmm() {
            self.set_xmm(r.number(), v);
        } else if r.is_mm() {
            self.cpu.fpu.set_mmx(r.number(), v as u64);
        } else {
            self.set_reg(r, v as u32);
        }
    }

    /// The segment and offset of the memory operand, after the 16-byte alignment check
    /// when the instruction needs one (#GP(0) otherwise).
    fn simd_addr(&self, ins: &Instruction) -> Result<(SegReg, u32), Fault> {
        let seg = self.mem_seg(ins);
        let off = self.ea(ins);
        if needs_alignment(ins) {
            let lin = self.cpu.seg[seg as usize].base.wrapping_add(off);
            if !lin.is_multiple_of(XMM_ALIGN) {
                return Err(Fault::GP0);
            }
        }
        Ok((seg, off))
    }

    /// Reads operand `i`: a register, the memory operand (its full size, up to 16 bytes,
    /// zero-extended) or an 8-bit immediate.
    pub(crate) fn simd_read(&mut self, ins: &Instruction, i: u32) -> Result<u128, Fault> {
        match ins.op_kind(i) {
            OpKind::Register => Ok(self.simd_reg(ins.op_register(i))),
            OpKind::Memory => {
                let (seg, off) = self.simd_addr(ins)?;
                let size = ins.memory_size().size() as u32;
                self.fpu_read(seg, off, size)
            }
            OpKind::Immediate8 => Ok(ins.immediate8() as u128),
            _ => Err(Fault::UD),
        }
    }

    /// Writes operand `i`: a whole register or the memory operand's bytes (all or none).
    pub(crate) fn simd_write(&mut self, ins: &Instruction, i: u32, v: u128) -> Result<(), Fault> {
        match ins.op_kind(i) {
            OpKind::Register => {
                self.set_simd_reg(ins.op_register(i), v);
                Ok(())
            }
            OpKind::Memory => {
                let (seg, off) = self.simd_addr(ins)?;
                let size = ins.memory_size().size() as u32;
                self.fpu_write(seg, off, size, v)
            }
            _ => Err(Fault::UD),
        }
    }

    /// Checks that the memory operand can be read (limits, permissions, pages) without
    /// reading it: CLFLUSH and the prefetches' address check.
    pub(crate) fn simd_probe(&mut self, ins: &Instruction) -> Result<(), Fault> {
        let seg = self.mem_seg(ins);
        let off = self.ea(ins);
        let lin = self.linear(seg, off, 1, Access::Read)?;
        self.translate(lin, Access::Read).map(|_| ())
    }
}

/// Whether operand `i` is memory.
pub(crate) fn is_mem(ins: &Instruction, i: u32) -> bool {
    ins.op_kind(i) == OpKind::Memory
}

/// Whether the memory operand must be 16-byte aligned: every 128-bit operand of a legacy
/// SSE instruction except the explicitly unaligned moves.
fn needs_alignment(ins: &Instruction) -> bool {
    use Mnemonic as M;
    ins.memory_size().size() == 16 && !matches!(ins.mnemonic(), M::Movups | M::Movupd | M::Movdqu | M::Maskmovdqu)
}
