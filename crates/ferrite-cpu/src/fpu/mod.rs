//! The x87 floating-point unit: eight 80-bit registers used as a stack, the control,
//! status and tag words, the last-instruction/operand pointers, and every x87
//! instruction of a P6 (387 semantics plus FCMOVcc/FCOMI and FXSAVE/FXRSTOR's x87 area).
//!
//! Arithmetic works on the true 80-bit extended format through `rustc_apfloat` (see
//! [`float`]); precision and rounding control, the six exception flags with masking and
//! their masked default results, stack faults, C1 round-up reporting and the tag word are
//! modelled. The transcendental instructions compute with a 128-bit significand
//! ([`big`]) and round once.
//!
//! Exception reporting: an unmasked exception sets ES and B in the status word. The next
//! *waiting* x87 instruction (or WAIT/FWAIT) then raises #MF when CR0.NE = 1; with
//! CR0.NE = 0 the PC reports it through FERR# → IRQ13 instead, which the machine wires by
//! polling [`Cpu::ferr_pending`](crate::Cpu::ferr_pending); the CPU itself then goes on.

mod arith;
mod big;
mod compare;
mod control;
mod float;
mod load_store;
mod transcendental;

#[cfg(test)]
mod tests;

use crate::fault::{Fault, Vector};
use crate::interp::Exec;
use crate::state::{Cpu, SegReg};
use float::{Env, INDEFINITE};
use iced_x86::{Instruction, Mnemonic, OpKind, Register};

/// Exception flag bits of the status word (the mask bits of the control word sit at the
/// same positions).
pub(crate) mod exc {
    /// Invalid operation.
    pub const IE: u16 = 1 << 0;
    /// Denormal operand.
    pub const DE: u16 = 1 << 1;
    /// Zero divide.
    pub const ZE: u16 = 1 << 2;
    /// Overflow.
    pub const OE: u16 = 1 << 3;
    /// Underflow.
    pub const UE: u16 = 1 << 4;
    /// Precision (inexact result).
    pub const PE: u16 = 1 << 5;
    /// Stack fault (with IE; C1 tells overflow from underflow).
    pub const SF: u16 = 1 << 6;
    /// The six maskable exceptions.
    pub const ALL: u16 = 0x3F;
}

/// Status word bits.
pub(crate) mod sw {
    /// Error summary: an unmasked exception is pending.
    pub const ES: u16 = 1 << 7;
    /// Condition code C0.
    pub const C0: u16 = 1 << 8;
    /// Condition code C1.
    pub const C1: u16 = 1 << 9;
    /// Condition code C2.
    pub const C2: u16 = 1 << 10;
    /// Stack top field shift.
    pub const TOP_SHIFT: u16 = 11;
    /// Stack top field mask (in place).
    pub const TOP: u16 = 7 << TOP_SHIFT;
    /// Condition code C3.
    pub const C3: u16 = 1 << 14;
    /// Busy (mirrors ES).
    pub const B: u16 = 1 << 15;
    /// All four condition codes.
    pub const CC: u16 = C0 | C1 | C2 | C3;
}

/// Control word after FNINIT: all exceptions masked, 64-bit precision, round to nearest.
pub const CW_FNINIT: u16 = 0x037F;
/// Control word at power-on/RESET on a P6 (SDM vol. 3 table 9-1): exceptions unmasked,
/// 24-bit precision. Firmware runs FNINIT before using the FPU.
pub const CW_RESET: u16 = 0x0040;
/// Tag word at power-on/RESET on a P6: every register tagged zero (and holding +0.0).
pub const TW_RESET: u16 = 0x5555;
/// Control-word bits that exist (bit 6 is reserved and reads as 1; bits 13–15 read 0).
const CW_WRITABLE: u16 = 0x1F3F;
/// The reserved control-word bit that always reads 1.
const CW_FIXED1: u16 = 0x0040;
/// Tag value of an empty register.
const TAG_EMPTY: u16 = 3;

/// One 80-bit register: 64-bit significand with explicit integer bit, sign and 15-bit
/// biased exponent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[repr(C)]
pub struct F80 {
    /// Significand (bit 63 is the explicit integer bit).
    pub sig: u64,
    /// Sign (bit 15) and biased exponent (bits 0–14).
    pub se: u16,
}

/// The x87 register file and its control/status state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(C)]
pub struct FpuState {
    /// R0–R7 by physical number (ST(i) is R((TOP + i) mod 8)).
    pub regs: [F80; 8],
    /// Control word.
    pub cw: u16,
    /// Status word, TOP included.
    pub sw: u16,
    /// Full tag word, two bits per physical register: 0 valid, 1 zero, 2 special, 3 empty.
    pub tw: u16,
    /// Last non-control instruction's opcode (11 bits: low 3 bits of the ESC byte, ModRM).
    pub fop: u16,
    /// Last instruction's CS selector.
    pub fcs: u16,
    /// Last memory operand's segment selector.
    pub fds: u16,
    /// Last instruction's offset.
    pub fip: u32,
    /// Last memory operand's offset.
    pub fdp: u32,
}

impl Default for FpuState {
    fn default() -> Self {
        Self::new()
    }
}

impl FpuState {
    /// The power-on state (see [`CW_RESET`]).
    pub fn new() -> Self {
        FpuState {
            regs: [F80::default(); 8],
            cw: CW_RESET,
            sw: 0,
            tw: TW_RESET,
            fop: 0,
            fcs: 0,
            fds: 0,
            fip: 0,
            fdp: 0,
        }
    }

    /// FNINIT: default control word, clear status, all registers empty, pointers zero.
    pub fn init(&mut self) {
        self.cw = CW_FNINIT;
        self.sw = 0;
        self.tw = 0xFFFF;
        self.fop = 0;
        self.fcs = 0;
        self.fds = 0;
        self.fip = 0;
        self.fdp = 0;
    }

    /// TOP, the physical number of ST(0).
    pub fn top(&self) -> usize {
        ((self.sw & sw::TOP) >> sw::TOP_SHIFT) as usize
    }

    fn set_top(&mut self, t: usize) {
        self.sw = (self.sw & !sw::TOP) | (((t & 7) as u16) << sw::TOP_SHIFT);
    }

    /// Physical register number of ST(i).
    pub fn phys(&self, i: usize) -> usize {
        (self.top() + i) & 7
    }

    /// Tag of physical register `p`.
    pub fn tag(&self, p: usize) -> u16 {
        (self.tw >> (2 * (p & 7))) & 3
    }

    fn set_tag(&mut self, p: usize, t: u16) {
        let s = 2 * (p & 7);
        self.tw = (self.tw & !(3 << s)) | ((t & 3) << s);
    }

    /// ST(i).
    pub fn st(&self, i: usize) -> F80 {
        self.regs[self.phys(i)]
    }

    /// Whether ST(i) is tagged empty.
    pub fn is_empty(&self, i: usize) -> bool {
        self.tag(self.phys(i)) == TAG_EMPTY
    }

    /// Writes ST(i) and tags it by its content.
    pub fn set_st(&mut self, i: usize, v: F80) {
        let p = self.phys(i);
        self.regs[p] = v;
        self.set_tag(p, v.tag());
    }

    /// Marks ST(0) empty and increments TOP.
    pub fn pop(&mut self) {
        let p = self.phys(0);
        self.set_tag(p, TAG_EMPTY);
        self.set_top(self.top() + 1);
    }

    /// Decrements TOP and writes the new ST(0).
    fn push_raw(&mut self, v: F80) {
        self.set_top(self.top().wrapping_sub(1));
        self.set_st(0, v);
    }

    /// Recomputes the tags of non-empty registers from their contents (after the tag
    /// word was loaded from memory).
    fn retag(&mut self) {
        for p in 0..8 {
            if self.tag(p) != TAG_EMPTY {
                self.set_tag(p, self.regs[p].tag());
            }
        }
    }

    /// Sets or clears ES and B from the pending flags and the masks.
    fn update_es(&mut self) {
        if self.sw & !self.cw & exc::ALL != 0 {
            self.sw |= sw::ES | sw::B;
        } else {
            self.sw &= !(sw::ES | sw::B);
        }
    }

    /// Records an instruction's exception flags, C1, and the error summary.
    fn commit(&mut self, env: &Env) {
        self.sw |= env.exc & (exc::ALL | exc::SF);
        self.sw = (self.sw & !sw::C1) | if env.c1 { sw::C1 } else { 0 };
        if env.exc & !self.cw & exc::ALL != 0 {
            self.sw |= sw::ES | sw::B;
        }
    }

    /// Sets the four condition codes from (C0, C1, C2, C3).
    fn set_cc(&mut self, c0: bool, c1: bool, c2: bool, c3: bool) {
        self.sw &= !sw::CC;
        self.sw |= if c0 { sw::C0 } else { 0 }
            | if c1 { sw::C1 } else { 0 }
            | if c2 { sw::C2 } else { 0 }
            | if c3 { sw::C3 } else { 0 };
    }
}

impl Cpu {
    /// Whether the FPU asserts FERR#: an unmasked x87 exception is pending (status word
    /// ES). A PC board with CR0.NE = 0 turns this into IRQ13 (and clears its latch on a
    /// write to port F0h); with CR0.NE = 1 the CPU raises #MF itself on the next waiting
    /// x87 instruction.
    pub fn ferr_pending(&self) -> bool {
        self.fpu.sw & sw::ES != 0
    }
}

/// CR0.NE: report x87 errors through #MF.
const CR0_NE: u32 = 1 << 5;
/// CR0.MP: WAIT honours TS.
const CR0_MP: u32 = 1 << 1;
/// CR0.TS.
const CR0_TS: u32 = 1 << 3;

/// What a stack read gives when the register is empty: raises IE+SF with C1 = 0 and
/// returns the masked response (the indefinite) or `None` when IE is unmasked.
fn underflow(env: &mut Env) -> Option<F80> {
    env.exc |= exc::SF;
    env.c1 = false;
    env.invalid()
}

/// Index of an `ST(i)` register operand.
fn st_index(r: Register) -> usize {
    (r as usize).wrapping_sub(Register::ST0 as usize) & 7
}

impl Exec<'_> {
    /// WAIT/FWAIT: #NM when CR0.MP and CR0.TS are both set, then pending unmasked x87
    /// exceptions are reported.
    pub(crate) fn exec_fwait(&mut self) -> Result<(), Fault> {
        if self.cpu.cr0 & (CR0_MP | CR0_TS) == CR0_MP | CR0_TS {
            return Err(Fault::new(Vector::DeviceNotAvailable));
        }
        self.fpu_pending()
    }

    /// #MF when an unmasked exception is pending and CR0.NE = 1 (with NE = 0 the board's
    /// FERR# → IRQ13 reports it and the instruction proceeds).
    fn fpu_pending(&mut self) -> Result<(), Fault> {
        if self.cpu.fpu.sw & sw::ES != 0 && self.cpu.cr0 & CR0_NE != 0 {
            return Err(Fault::MF);
        }
        Ok(())
    }

    /// Executes one x87 instruction (CR0.EM/TS were checked by the caller).
    pub(crate) fn exec_x87(&mut self, ins: &Instruction) -> Result<(), Fault> {
        use Mnemonic as M;
        let m = ins.mnemonic();
        let nowait = matches!(
            m,
            M::Fninit
                | M::Fnclex
                | M::Fnstcw
                | M::Fnstsw
                | M::Fnstenv
                | M::Fnsave
                | M::Fxsave
                | M::Fxrstor
                | M::Fneni
                | M::Fndisi
                | M::Fnsetpm
                | M::Fnstdw
                | M::Fnstsg
        );
        if !nowait {
            self.fpu_pending()?;
        }
        let control = nowait
            || matches!(
                m,
                M::Finit | M::Fclex | M::Fstcw | M::Fstsw | M::Fstenv | M::Fsave | M::Fldcw | M::Fldenv | M::Frstor
            );
        if !control {
            self.fpu_record(ins);
        }
        match m {
            M::Fninit
            | M::Finit
            | M::Fnclex
            | M::Fclex
            | M::Fnstcw
            | M::Fstcw
            | M::Fldcw
            | M::Fnstsw
            | M::Fstsw
            | M::Fnstenv
            | M::Fstenv
            | M::Fldenv
            | M::Fnsave
            | M::Fsave
            | M::Frstor
            | M::Fxsave
            | M::Fxrstor
            | M::Ffree
            | M::Ffreep
            | M::Fincstp
            | M::Fdecstp
            | M::Fxch => self.fpu_control(ins),
            M::Fnop | M::Feni | M::Fneni | M::Fdisi | M::Fndisi | M::Fsetpm | M::Fnsetpm => Ok(()),
            M::Fld
            | M::Fild
            | M::Fbld
            | M::Fld1
            | M::Fldz
            | M::Fldpi
            | M::Fldl2t
            | M::Fldl2e
            | M::Fldlg2
            | M::Fldln2 => self.fpu_load(ins),
            M::Fst | M::Fstp | M::Fstpnce | M::Fist | M::Fistp | M::Fbstp => self.fpu_store(ins),
            M::Fadd
            | M::Faddp
            | M::Fiadd
            | M::Fsub
            | M::Fsubp
            | M::Fisub
            | M::Fsubr
            | M::Fsubrp
            | M::Fisubr
            | M::Fmul
            | M::Fmulp
            | M::Fimul
            | M::Fdiv
            | M::Fdivp
            | M::Fidiv
            | M::Fdivr
            | M::Fdivrp
            | M::Fidivr
            | M::Fchs
            | M::Fabs => self.fpu_arith(ins),
            M::Fcom
            | M::Fcomp
            | M::Fcompp
            | M::Fucom
            | M::Fucomp
            | M::Fucompp
            | M::Ficom
            | M::Ficomp
            | M::Ftst
            | M::Fcomi
            | M::Fcomip
            | M::Fucomi
            | M::Fucomip
            | M::Fxam
            | M::Fcmovb
            | M::Fcmove
            | M::Fcmovbe
            | M::Fcmovu
            | M::Fcmovnb
            | M::Fcmovne
            | M::Fcmovnbe
            | M::Fcmovnu => self.fpu_compare(ins),
            M::Fsqrt
            | M::Fsin
            | M::Fcos
            | M::Fsincos
            | M::Fptan
            | M::Fpatan
            | M::F2xm1
            | M::Fyl2x
            | M::Fyl2xp1
            | M::Fscale
            | M::Fprem
            | M::Fprem1
            | M::Frndint
            | M::Fxtract => self.fpu_transcendental(ins),
            _ => Err(Fault::UD),
        }
    }

    /// Records FIP/FCS, FOP and (for memory operands) FDP/FDS for FSTENV/FSAVE.
    fn fpu_record(&mut self, ins: &Instruction) {
        let fpu_ip = self.cpu.cur_eip;
        let cs = self.cpu.seg[SegReg::Cs as usize].selector;
        // FOP: the ESC byte's low three bits and the ModRM byte, found past any prefixes.
        let mut fop = 0u16;
        for i in 0..ins.len() as u32 {
            let Ok(b) = self.fetch_u8(fpu_ip.wrapping_add(i)) else {
                break;
            };
            if (0xD8..=0xDF).contains(&b) {
                let modrm = self.fetch_u8(fpu_ip.wrapping_add(i + 1)).unwrap_or(0);
                fop = (((b & 7) as u16) << 8) | modrm as u16;
                break;
            }
        }
        let f = &mut self.cpu.fpu;
        f.fip = fpu_ip;
        f.fcs = cs;
        f.fop = fop;
        if has_mem(ins) {
            let seg = self.mem_seg(ins);
            let off = self.ea(ins);
            let sel = self.cpu.seg[seg as usize].selector;
            let f = &mut self.cpu.fpu;
            f.fdp = off;
            f.fds = sel;
        }
    }

    /// Pushes `v` (or the masked stack-overflow response) with IE/SF/C1 handling.
    fn fpu_push(&mut self, env: &mut Env, v: F80) {
        let f = &mut self.cpu.fpu;
        if f.tag(f.phys(7)) != TAG_EMPTY {
            env.exc |= exc::SF;
            env.c1 = true;
            if env.raise(exc::IE) {
                return;
            }
            f.push_raw(INDEFINITE);
            return;
        }
        f.push_raw(v);
    }

    /// Reads ST(i), or raises stack underflow (`None` after an empty register).
    fn fpu_st(&mut self, env: &mut Env, i: usize) -> Option<F80> {
        if self.cpu.fpu.is_empty(i) {
            env.exc |= exc::IE | exc::SF;
            env.c1 = false;
            return None;
        }
        Some(self.cpu.fpu.st(i))
    }
}

/// Whether the instruction has a memory operand.
fn has_mem(ins: &Instruction) -> bool {
    (0..ins.op_count()).any(|i| ins.op_kind(i) == OpKind::Memory)
}
