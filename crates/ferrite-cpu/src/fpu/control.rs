//! Control instructions: FINIT, FCLEX, FSTCW/FLDCW, FSTSW, FSTENV/FLDENV, FSAVE/FRSTOR,
//! FXSAVE/FXRSTOR (the x87 image plus MXCSR and XMM0–7), FFREE(P), FINCSTP/FDECSTP and FXCH.

use super::float::Env;
use super::{exc, st_index, sw, FpuState, CW_FIXED1, CW_WRITABLE, F80, TAG_EMPTY};
use crate::fault::Fault;
use crate::interp::Exec;
use crate::state::SegReg;
use iced_x86::{Instruction, MemorySize, Mnemonic, OpKind};

/// Status-word bits FNCLEX clears: the exception flags, SF, ES and B.
const SW_CLEX: u16 = 0x80FF;
/// FXSAVE/FXRSTOR need a 16-byte aligned operand.
const FXSAVE_ALIGN: u32 = 16;
/// Size of the FXSAVE image.
const FXSAVE_SIZE: usize = 512;
/// Offset of ST0 in the FXSAVE image.
const FXSAVE_REGS: usize = 32;
/// Offset of XMM0 in the FXSAVE image.
const FXSAVE_XMM: usize = 160;

/// The four FSTENV/FLDENV layouts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct EnvLayout {
    /// 28-byte (32-bit operand size) rather than 14-byte form.
    wide: bool,
    /// Protected-mode (selector:offset) rather than real-mode (linear) pointers.
    protected: bool,
}

impl FpuState {
    /// Encodes the environment image in the given layout (14 or 28 bytes).
    fn env_image(&self, l: EnvLayout) -> Vec<u8> {
        let mut b = Vec::with_capacity(28);
        let mut put = |v: u32, n: usize| b.extend_from_slice(&v.to_le_bytes()[..n]);
        let n = if l.wide { 4 } else { 2 };
        put(self.cw as u32 | if l.wide { 0xFFFF_0000 } else { 0 }, n);
        put(self.sw as u32 | if l.wide { 0xFFFF_0000 } else { 0 }, n);
        put(self.tw as u32 | if l.wide { 0xFFFF_0000 } else { 0 }, n);
        let fop = (self.fop & 0x7FF) as u32;
        if l.protected {
            put(self.fip, n);
            put(self.fcs as u32 | if l.wide { fop << 16 } else { 0 }, n);
            put(self.fdp, n);
            put(self.fds as u32 | if l.wide { 0xFFFF_0000 } else { 0 }, n);
        } else {
            // Real-mode form: 20/32-bit linear pointers split in two fields.
            let ip = ((self.fcs as u32) << 4).wrapping_add(self.fip);
            let dp = ((self.fds as u32) << 4).wrapping_add(self.fdp);
            if l.wide {
                put(ip & 0xFFFF | 0xFFFF_0000, 4);
                put(((ip >> 16) << 12) | fop, 4);
                put(dp & 0xFFFF | 0xFFFF_0000, 4);
                put((dp >> 16) << 12, 4);
            } else {
                put(ip & 0xFFFF, 2);
                put(((ip >> 16) << 12) | fop, 2);
                put(dp & 0xFFFF, 2);
                put((dp >> 16) << 12, 2);
            }
        }
        b
    }

    /// Loads an environment image in the given layout.
    fn load_env_image(&mut self, b: &[u8], l: EnvLayout) {
        let n = if l.wide { 4 } else { 2 };
        let get = |i: usize| -> u32 {
            let mut w = [0u8; 4];
            w[..n].copy_from_slice(&b[i * n..i * n + n]);
            u32::from_le_bytes(w)
        };
        self.cw = (get(0) as u16 & CW_WRITABLE) | CW_FIXED1;
        self.sw = get(1) as u16;
        self.tw = get(2) as u16;
        if l.protected {
            self.fip = get(3);
            self.fcs = get(4) as u16;
            self.fop = if l.wide { ((get(4) >> 16) & 0x7FF) as u16 } else { 0 };
            self.fdp = get(5);
            self.fds = get(6) as u16;
        } else {
            let (ip_lo, ip_hi, dp_lo, dp_hi) = (get(3) & 0xFFFF, get(4), get(5) & 0xFFFF, get(6));
            self.fip = ip_lo | ((ip_hi >> 12) << 16);
            self.fop = (ip_hi & 0x7FF) as u16;
            self.fdp = dp_lo | ((dp_hi >> 12) << 16);
            self.fcs = 0;
            self.fds = 0;
        }
        self.retag();
        self.update_es();
    }

    /// The x87 part (bytes 0–159) of an FXSAVE image.
    fn fxsave_image(&self, img: &mut [u8; FXSAVE_SIZE]) {
        img[0..2].copy_from_slice(&self.cw.to_le_bytes());
        img[2..4].copy_from_slice(&self.sw.to_le_bytes());
        let mut abridged = 0u8;
        for p in 0..8 {
            if self.tag(p) != TAG_EMPTY {
                abridged |= 1 << p;
            }
        }
        img[4] = abridged;
        img[5] = 0;
        img[6..8].copy_from_slice(&(self.fop & 0x7FF).to_le_bytes());
        img[8..12].copy_from_slice(&self.fip.to_le_bytes());
        img[12..14].copy_from_slice(&self.fcs.to_le_bytes());
        img[14..16].fill(0);
        img[16..20].copy_from_slice(&self.fdp.to_le_bytes());
        img[20..22].copy_from_slice(&self.fds.to_le_bytes());
        img[22..24].fill(0);
        for i in 0..8 {
            let at = FXSAVE_REGS + 16 * i;
            let mut slot = [0u8; 16];
            slot[..10].copy_from_slice(&self.st(i).bits().to_le_bytes()[..10]);
            img[at..at + 16].copy_from_slice(&slot);
        }
    }

    /// Loads the x87 part of an FXSAVE image.
    fn fxrstor_image(&mut self, img: &[u8; FXSAVE_SIZE]) {
        let u16_at = |i: usize| u16::from_le_bytes([img[i], img[i + 1]]);
        let u32_at = |i: usize| u32::from_le_bytes([img[i], img[i + 1], img[i + 2], img[i + 3]]);
        self.cw = (u16_at(0) & CW_WRITABLE) | CW_FIXED1;
        self.sw = u16_at(2);
        self.fop = u16_at(6) & 0x7FF;
        self.fip = u32_at(8);
        self.fcs = u16_at(12);
        self.fdp = u32_at(16);
        self.fds = u16_at(20);
        let abridged = img[4];
        for i in 0..8 {
            let at = FXSAVE_REGS + 16 * i;
            let mut v = [0u8; 16];
            v[..10].copy_from_slice(&img[at..at + 10]);
            let p = self.phys(i);
            self.regs[p] = F80::from_bits(u128::from_le_bytes(v));
        }
        self.tw = 0;
        for p in 0..8 {
            let t = if abridged & (1 << p) != 0 { self.regs[p].tag() } else { TAG_EMPTY };
            self.set_tag(p, t);
        }
        self.update_es();
    }
}

impl Exec<'_> {
    /// The FSTENV/FLDENV layout for this instruction and mode.
    fn env_layout(&self, ins: &Instruction) -> EnvLayout {
        let wide = matches!(ins.memory_size(), MemorySize::FpuEnv28 | MemorySize::FpuState108);
        let protected = self.cpu.protected_mode() && self.cpu.eflags & crate::flags::Flags::VM == 0;
        EnvLayout { wide, protected }
    }

    /// Executes a control instruction.
    pub(super) fn fpu_control(&mut self, ins: &Instruction) -> Result<(), Fault> {
        use Mnemonic as M;
        let m = ins.mnemonic();
        match m {
            M::Fninit | M::Finit => self.cpu.fpu.init(),
            M::Fnclex | M::Fclex => self.cpu.fpu.sw &= !SW_CLEX,
            M::Fnstcw | M::Fstcw => {
                let (seg, off) = (self.mem_seg(ins), self.ea(ins));
                self.fpu_write(seg, off, 2, self.cpu.fpu.cw as u128)?;
            }
            M::Fldcw => {
                let (seg, off) = (self.mem_seg(ins), self.ea(ins));
                let v = self.fpu_read(seg, off, 2)? as u16;
                self.cpu.fpu.cw = (v & CW_WRITABLE) | CW_FIXED1;
                self.cpu.fpu.update_es();
            }
            M::Fnstsw | M::Fstsw => {
                let v = self.cpu.fpu.sw;
                if ins.op0_kind() == OpKind::Memory {
                    let (seg, off) = (self.mem_seg(ins), self.ea(ins));
                    self.fpu_write(seg, off, 2, v as u128)?;
                } else {
                    self.set_reg(ins.op0_register(), v as u32);
                }
            }
            M::Fnstenv | M::Fstenv | M::Fnsave | M::Fsave => {
                let l = self.env_layout(ins);
                let mut img = self.cpu.fpu.env_image(l);
                let save = matches!(m, M::Fnsave | M::Fsave);
                if save {
                    for i in 0..8 {
                        img.extend_from_slice(&self.cpu.fpu.st(i).bits().to_le_bytes()[..10]);
                    }
                }
                let (seg, off) = (self.mem_seg(ins), self.ea(ins));
                self.fpu_write_bytes(seg, off, &img)?;
                if save {
                    self.cpu.fpu.init();
                } else {
                    self.cpu.fpu.cw |= exc::ALL;
                    self.cpu.fpu.update_es();
                }
            }
            M::Fldenv | M::Frstor => {
                let l = self.env_layout(ins);
                let env_len = if l.wide { 28 } else { 14 };
                let total = if m == M::Frstor { env_len + 80 } else { env_len };
                let mut img = vec![0u8; total];
                let (seg, off) = (self.mem_seg(ins), self.ea(ins));
                self.fpu_read_bytes(seg, off, &mut img)?;
                let f = &mut self.cpu.fpu;
                if m == M::Frstor {
                    // Registers first (in ST order, which needs the saved TOP), then the
                    // environment retags them.
                    let top = ((img[if l.wide { 4 } else { 2 } + 1] as u16) >> 3) & 7;
                    for i in 0..8 {
                        let at = env_len + 10 * i;
                        let mut v = [0u8; 16];
                        v[..10].copy_from_slice(&img[at..at + 10]);
                        f.regs[(top as usize + i) & 7] = F80::from_bits(u128::from_le_bytes(v));
                    }
                }
                f.load_env_image(&img[..env_len], l);
            }
            M::Fxsave | M::Fxrstor => {
                let (seg, off) = (self.mem_seg(ins), self.ea(ins));
                let lin = self.cpu.seg[seg as usize].base.wrapping_add(off);
                if lin % FXSAVE_ALIGN != 0 {
                    return Err(Fault::GP0);
                }
                if m == M::Fxsave {
                    self.fxsave(seg, off)?;
                } else {
                    let mut img = [0u8; FXSAVE_SIZE];
                    self.fpu_read_bytes(seg, off, &mut img)?;
                    let mxcsr = u32::from_le_bytes([img[24], img[25], img[26], img[27]]);
                    if mxcsr & !crate::simd::MXCSR_MASK != 0 {
                        return Err(Fault::GP0);
                    }
                    self.cpu.fpu.fxrstor_image(&img);
                    self.cpu.sse.mxcsr = mxcsr;
                    for (i, x) in self.cpu.sse.xmm.iter_mut().enumerate() {
                        let at = FXSAVE_XMM + 16 * i;
                        let mut v = [0u8; 16];
                        v.copy_from_slice(&img[at..at + 16]);
                        *x = u128::from_le_bytes(v);
                    }
                }
            }
            M::Ffree | M::Ffreep => {
                let f = &mut self.cpu.fpu;
                let p = f.phys(st_index(ins.op0_register()));
                f.set_tag(p, TAG_EMPTY);
                if m == M::Ffreep {
                    f.set_top(f.top() + 1);
                }
            }
            M::Fincstp | M::Fdecstp => {
                let f = &mut self.cpu.fpu;
                let t = if m == M::Fincstp { f.top() + 1 } else { f.top() + 7 };
                f.set_top(t);
                f.sw &= !sw::C1;
            }
            M::Fxch => {
                let i = if ins.op_count() >= 2 { st_index(ins.op1_register()) } else { 1 };
                let mut env = Env::new(self.cpu.fpu.cw);
                let a = self.fpu_st(&mut env, 0);
                let b = self.fpu_st(&mut env, i);
                match (a, b) {
                    (Some(a), Some(b)) => {
                        self.cpu.fpu.set_st(0, b);
                        self.cpu.fpu.set_st(i, a);
                    }
                    _ => {
                        // Masked underflow: empty registers become the indefinite first.
                        if let Some(ind) = super::underflow(&mut env) {
                            let (a, b) = (a.unwrap_or(ind), b.unwrap_or(ind));
                            self.cpu.fpu.set_st(0, b);
                            self.cpu.fpu.set_st(i, a);
                        }
                    }
                }
                self.cpu.fpu.commit(&env);
            }
            _ => return Err(Fault::UD),
        }
        Ok(())
    }

    /// FXSAVE: writes the x87 area, MXCSR and MXCSR_MASK and XMM0–7 (bytes 0–287); the
    /// reserved and software-available bytes 288–511 are left untouched.
    fn fxsave(&mut self, seg: SegReg, off: u32) -> Result<(), Fault> {
        let mut img = [0u8; FXSAVE_SIZE];
        self.cpu.fpu.fxsave_image(&mut img);
        img[24..28].copy_from_slice(&self.cpu.sse.mxcsr.to_le_bytes());
        img[28..32].copy_from_slice(&crate::simd::MXCSR_MASK.to_le_bytes());
        for (i, x) in self.cpu.sse.xmm.iter().enumerate() {
            let at = FXSAVE_XMM + 16 * i;
            img[at..at + 16].copy_from_slice(&x.to_le_bytes());
        }
        self.fpu_write_bytes(seg, off, &img[..FXSAVE_XMM + 128])
    }
}
