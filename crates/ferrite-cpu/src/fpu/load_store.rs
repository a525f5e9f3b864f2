//! Loads and stores: the memory formats (real32/64/80, int16/32/64, packed BCD) and
//! their conversions, the constant loads, and multi-byte memory access helpers that
//! check a whole store can land before any byte of it is written.

use super::float::{Class, Env, Ext, Prec, INDEFINITE, INT_BIT, QUIET_BIT};
use super::{exc, st_index, underflow, F80};
use crate::fault::Fault;
use crate::interp::Exec;
use crate::memory::Access;
use crate::state::SegReg;
use big_const::*;
use iced_x86::{Instruction, MemorySize, Mnemonic, OpKind};
use rustc_apfloat::ieee::{Double, Single};
use rustc_apfloat::{Float, FloatConvert, Round, Status, StatusAnd};

/// The 128-bit constants behind FLDPI & co. (normalized significand, exponent of its top
/// bit), rounded per RC to 64 bits when loaded.
pub(crate) mod big_const {
    /// π.
    pub const PI: (u128, i32) = (0xC90F_DAA2_2168_C234_C4C6_628B_80DC_1CD1, 1);
    /// ln 2.
    pub const LN2: (u128, i32) = (0xB172_17F7_D1CF_79AB_C9E3_B398_03F2_F6AF, -1);
    /// log2 10.
    pub const L2T: (u128, i32) = (0xD49A_784B_CD1B_8AFE_492B_F6FF_4DAF_DB4C, 1);
    /// log2 e.
    pub const L2E: (u128, i32) = (0xB8AA_3B29_5C17_F0BB_BE87_FED0_691D_3E88, 0);
    /// log10 2.
    pub const LG2: (u128, i32) = (0x9A20_9A84_FBCF_F798_8F89_59AC_0B7C_9178, -2);
}

/// Integer indefinite for 16/32/64-bit stores: the most negative value.
const fn int_indefinite(bytes: u32) -> u64 {
    1u64 << (bytes * 8 - 1)
}
/// Packed-BCD indefinite (bytes 7–9 = C0 FF FF).
const BCD_INDEFINITE: u128 = 0xFFFF_C000_0000_0000_0000;
/// Largest magnitude FBSTP can store: 18 nines.
const BCD_MAX: u64 = 999_999_999_999_999_999;
/// Real32 QNaN indefinite.
const F32_INDEFINITE: u32 = 0xFFC0_0000;
/// Real64 QNaN indefinite.
const F64_INDEFINITE: u64 = 0xFFF8_0000_0000_0000;

/// A real32 encoding as extended (exact); the flag says the source was denormal.
pub(crate) fn f32_to_f80(v: u32) -> (F80, bool) {
    let neg = v >> 31 != 0;
    let e = (v >> 23) & 0xFF;
    let f = (v & 0x7F_FFFF) as u64;
    match e {
        0 if f == 0 => (F80::zero(neg), false),
        0 => {
            let lz = f.leading_zeros() as u16; // ≥ 41
            (F80::new(neg, 16383 - 126 - (lz - 40), f << lz), true)
        }
        0xFF => (F80::new(neg, 0x7FFF, INT_BIT | (f << 40)), false),
        _ => (F80::new(neg, e as u16 + 16383 - 127, INT_BIT | (f << 40)), false),
    }
}

/// A real64 encoding as extended (exact); the flag says the source was denormal.
pub(crate) fn f64_to_f80(v: u64) -> (F80, bool) {
    let neg = v >> 63 != 0;
    let e = ((v >> 52) & 0x7FF) as u16;
    let f = v & 0x000F_FFFF_FFFF_FFFF;
    match e {
        0 if f == 0 => (F80::zero(neg), false),
        0 => {
            let lz = f.leading_zeros() as u16; // ≥ 12
            (F80::new(neg, 16383 - 1022 - (lz - 11), f << lz), true)
        }
        0x7FF => (F80::new(neg, 0x7FFF, INT_BIT | (f << 11)), false),
        _ => (F80::new(neg, e + 16383 - 1023, INT_BIT | (f << 11)), false),
    }
}

/// An integer as extended (exact).
pub(crate) fn int_to_f80(v: i64) -> F80 {
    F80::from_ext(Ext::from_i128(v as i128).value)
}

/// Checks a real32/real64 operand being loaded: SNaN → IE (quieted when masked),
/// denormal → DE. `None` when an unmasked exception stops the instruction.
pub(crate) fn check_loaded(env: &mut Env, v: F80, denormal: bool) -> Option<F80> {
    if v.class() == Class::SNaN {
        if env.raise(exc::IE) {
            return None;
        }
        return Some(v.quieted());
    }
    if denormal && env.raise(exc::DE) {
        return None;
    }
    Some(v)
}

/// Rounds an extended value to real32 (`bytes` = 4) or real64 (8) for a store. `None`:
/// unmasked exception, nothing is stored.
pub(crate) fn f80_to_real(env: &mut Env, v: F80, bytes: u32) -> Option<u64> {
    let single = bytes == 4;
    match v.class() {
        Class::Unsupported => {
            env.invalid()?;
            return Some(if single { F32_INDEFINITE as u64 } else { F64_INDEFINITE });
        }
        Class::SNaN | Class::QNaN => {
            if v.class() == Class::SNaN && env.raise(exc::IE) {
                return None;
            }
            let q = v.sig | QUIET_BIT;
            return Some(if single {
                ((v.neg() as u64) << 31) | 0x7F80_0000 | ((q >> 40) & 0x7F_FFFF)
            } else {
                ((v.neg() as u64) << 63) | 0x7FF0_0000_0000_0000 | ((q >> 11) & 0x000F_FFFF_FFFF_FFFF)
            });
        }
        Class::Denormal if env.raise(exc::DE) => return None,
        _ => {}
    }
    let rm = env.round_mode();
    let e = v.to_ext();
    let (bits, st, back) = if single {
        let r: StatusAnd<Single> = e.convert_r(rm, &mut false);
        let back: StatusAnd<Ext> = r.value.convert(&mut false);
        (r.value.to_bits() as u64, r.status, back.value)
    } else {
        let r: StatusAnd<Double> = e.convert_r(rm, &mut false);
        let back: StatusAnd<Ext> = r.value.convert(&mut false);
        (r.value.to_bits() as u64, r.status, back.value)
    };
    let inexact = st.intersects(Status::INEXACT);
    if st.intersects(Status::OVERFLOW) {
        if env.raise(exc::OE) {
            return None;
        }
    } else if v.class() != Class::Zero && is_tiny(e, single) {
        if !env.masked(exc::UE) {
            env.exc |= exc::UE;
            return None;
        }
        if inexact {
            env.exc |= exc::UE;
        }
    }
    if inexact {
        env.exc |= exc::PE;
        env.c1 = back.abs() > e.abs();
    }
    Some(bits)
}

/// Whether a finite value is below the destination format's smallest normal.
fn is_tiny(e: Ext, single: bool) -> bool {
    let min_exp = if single { -126 } else { -1022 };
    e.abs() < Ext::from_u128(1).value.scalbn(min_exp)
}

/// Rounds to an integer of `bytes` (2/4/8) per RC for FIST(P). `None`: unmasked IE.
pub(crate) fn f80_to_int(env: &mut Env, v: F80, bytes: u32) -> Option<i64> {
    let indefinite = (int_indefinite(bytes) as i64).wrapping_neg();
    match v.class() {
        Class::Unsupported | Class::SNaN | Class::QNaN | Class::Inf => {
            env.invalid()?;
            return Some(indefinite);
        }
        Class::Denormal if env.raise(exc::DE) => return None,
        _ => {}
    }
    let r = v.to_ext().round_to_integral(env.round_mode());
    let bits = bytes * 8;
    let mut exact = true;
    let i = r.value.to_i128_r(128, Round::TowardZero, &mut exact).value;
    let (lo, hi) = (-(1i128 << (bits - 1)), (1i128 << (bits - 1)) - 1);
    if i < lo || i > hi {
        env.invalid()?;
        return Some(indefinite);
    }
    if r.status.intersects(Status::INEXACT) {
        env.exc |= exc::PE;
        env.c1 = r.value.abs() > v.to_ext().abs();
    }
    Some(i as i64)
}

/// Rounds to an integer and packs it as 18-digit BCD for FBSTP. `None`: unmasked IE.
pub(crate) fn f80_to_bcd(env: &mut Env, v: F80) -> Option<u128> {
    match v.class() {
        Class::Unsupported | Class::SNaN | Class::QNaN | Class::Inf => {
            env.invalid()?;
            return Some(BCD_INDEFINITE);
        }
        Class::Denormal if env.raise(exc::DE) => return None,
        _ => {}
    }
    let r = v.to_ext().round_to_integral(env.round_mode());
    let mut exact = true;
    let i = r.value.to_i128_r(128, Round::TowardZero, &mut exact).value;
    if i.unsigned_abs() > BCD_MAX as u128 {
        env.invalid()?;
        return Some(BCD_INDEFINITE);
    }
    if r.status.intersects(Status::INEXACT) {
        env.exc |= exc::PE;
        env.c1 = r.value.abs() > v.to_ext().abs();
    }
    let mut mag = i.unsigned_abs() as u64;
    let mut out = 0u128;
    for d in 0..18 {
        out |= ((mag % 10) as u128) << (4 * d);
        mag /= 10;
    }
    if v.neg() {
        out |= 0x80 << 72;
    }
    Some(out)
}

/// Unpacks 18-digit BCD (digits above 9 are taken at face value, as the hardware's
/// result for them is undefined).
pub(crate) fn bcd_to_f80(b: u128) -> F80 {
    let mut mag: i64 = 0;
    for d in (0..18).rev() {
        let digit = ((b >> (4 * d)) & 0xF) as i64;
        mag = mag.wrapping_mul(10).wrapping_add(digit);
    }
    let neg = (b >> 79) & 1 != 0;
    let v = int_to_f80(mag);
    if neg {
        v.negate()
    } else {
        v
    }
}

/// A 128-bit constant rounded per the control word's RC (precision control does not
/// apply to constant loads).
pub(crate) fn load_constant(env: &Env, c: (u128, i32)) -> F80 {
    let mut e = *env;
    let w = super::float::wide_from(false, c.0 >> 17, c.1 - 110);
    let r = e.round(w, true, Prec::P64);
    // Constant loads set no exception flags.
    r
}

impl Exec<'_> {
    /// Reads `size` (≤ 16) little-endian bytes.
    pub(crate) fn fpu_read(&mut self, seg: SegReg, off: u32, size: u32) -> Result<u128, Fault> {
        let mut v = 0u128;
        let mut i = 0;
        while i < size {
            let n = match size - i {
                1 => 1,
                2 | 3 => 2,
                _ => 4,
            };
            let part = self.read_mem(seg, off.wrapping_add(i), n as u8)?;
            v |= (part as u128) << (8 * i);
            i += n;
        }
        Ok(v)
    }

    /// Checks that `size` bytes at `seg:off` can be written (limits, permissions, pages).
    pub(crate) fn fpu_probe_write(&mut self, seg: SegReg, off: u32, size: u32) -> Result<(), Fault> {
        let last_off = off.wrapping_add(size.saturating_sub(1));
        let first = self.linear(seg, off, 1, Access::Write)?;
        let last = self.linear(seg, last_off, 1, Access::Write)?;
        self.translate(first, Access::Write)?;
        let mut page = (first & !0xFFF).wrapping_add(0x1000);
        while page <= (last & !0xFFF) && page > first {
            self.translate(page, Access::Write)?;
            page = page.wrapping_add(0x1000);
        }
        Ok(())
    }

    /// Writes `size` (≤ 16) little-endian bytes, all or nothing.
    pub(crate) fn fpu_write(&mut self, seg: SegReg, off: u32, size: u32, v: u128) -> Result<(), Fault> {
        let bytes = v.to_le_bytes();
        self.fpu_write_bytes(seg, off, &bytes[..size.min(16) as usize])
    }

    /// Writes a byte block, all or nothing.
    pub(crate) fn fpu_write_bytes(&mut self, seg: SegReg, off: u32, b: &[u8]) -> Result<(), Fault> {
        self.fpu_probe_write(seg, off, b.len() as u32)?;
        let mut i = 0;
        while i < b.len() {
            let n = match b.len() - i {
                1 => 1,
                2 | 3 => 2,
                _ => 4,
            };
            let mut w = [0u8; 4];
            w[..n].copy_from_slice(&b[i..i + n]);
            self.write_mem(seg, off.wrapping_add(i as u32), n as u8, u32::from_le_bytes(w))?;
            i += n;
        }
        Ok(())
    }

    /// Reads a byte block.
    pub(crate) fn fpu_read_bytes(&mut self, seg: SegReg, off: u32, b: &mut [u8]) -> Result<(), Fault> {
        let mut i = 0;
        while i < b.len() {
            let n = match b.len() - i {
                1 => 1,
                2 | 3 => 2,
                _ => 4,
            };
            let v = self.read_mem(seg, off.wrapping_add(i as u32), n as u8)?;
            b[i..i + n].copy_from_slice(&v.to_le_bytes()[..n]);
            i += n;
        }
        Ok(())
    }

    /// Reads a memory floating-point or integer source operand as extended, checking it
    /// as the arithmetic and load instructions do. `Ok(None)`: unmasked exception.
    pub(crate) fn fpu_mem_operand(&mut self, ins: &Instruction, env: &mut Env) -> Result<Option<F80>, Fault> {
        let seg = self.mem_seg(ins);
        let off = self.ea(ins);
        Ok(match ins.memory_size() {
            MemorySize::Float32 => {
                let (v, d) = f32_to_f80(self.fpu_read(seg, off, 4)? as u32);
                check_loaded(env, v, d)
            }
            MemorySize::Float64 => {
                let (v, d) = f64_to_f80(self.fpu_read(seg, off, 8)? as u64);
                check_loaded(env, v, d)
            }
            MemorySize::Float80 => Some(F80::from_bits(self.fpu_read(seg, off, 10)?)),
            MemorySize::Int16 => Some(int_to_f80(self.fpu_read(seg, off, 2)? as u16 as i16 as i64)),
            MemorySize::Int32 => Some(int_to_f80(self.fpu_read(seg, off, 4)? as u32 as i32 as i64)),
            MemorySize::Int64 => Some(int_to_f80(self.fpu_read(seg, off, 8)? as u64 as i64)),
            MemorySize::Bcd => Some(bcd_to_f80(self.fpu_read(seg, off, 10)?)),
            _ => return Err(Fault::UD),
        })
    }

    /// FLD/FILD/FBLD and the constant loads.
    pub(super) fn fpu_load(&mut self, ins: &Instruction) -> Result<(), Fault> {
        use Mnemonic as M;
        let mut env = Env::new(self.cpu.fpu.cw);
        let v = match ins.mnemonic() {
            M::Fld1 => Some(super::float::ONE),
            M::Fldz => Some(F80::zero(false)),
            M::Fldpi => Some(load_constant(&env, PI)),
            M::Fldl2t => Some(load_constant(&env, L2T)),
            M::Fldl2e => Some(load_constant(&env, L2E)),
            M::Fldlg2 => Some(load_constant(&env, LG2)),
            M::Fldln2 => Some(load_constant(&env, LN2)),
            _ if ins.op0_kind() == OpKind::Memory => self.fpu_mem_operand(ins, &mut env)?,
            _ => match self.fpu_st(&mut env, st_index(ins.op0_register())) {
                Some(v) => Some(v),
                None => underflow(&mut env),
            },
        };
        if let Some(v) = v {
            self.fpu_push(&mut env, v);
        }
        self.cpu.fpu.commit(&env);
        Ok(())
    }

    /// FST/FSTP/FIST/FISTP/FBSTP to memory or a register.
    pub(super) fn fpu_store(&mut self, ins: &Instruction) -> Result<(), Fault> {
        use Mnemonic as M;
        let mut env = Env::new(self.cpu.fpu.cw);
        let pop = matches!(ins.mnemonic(), M::Fstp | M::Fstpnce | M::Fistp | M::Fbstp);
        let src = self.fpu_st(&mut env, 0);
        if ins.op0_kind() != OpKind::Memory {
            let dst = st_index(ins.op0_register());
            let v = match src {
                Some(v) => Some(v),
                None => underflow(&mut env),
            };
            if let Some(v) = v {
                self.cpu.fpu.set_st(dst, v);
                if pop {
                    self.cpu.fpu.pop();
                }
            }
            self.cpu.fpu.commit(&env);
            return Ok(());
        }
        let seg = self.mem_seg(ins);
        let off = self.ea(ins);
        // What to write: (bytes, value) or nothing after an unmasked exception.
        let out: Option<(u32, u128)> = match src {
            None => {
                // Stack underflow: the masked response stores the format's indefinite.
                env.exc |= exc::SF;
                if env.raise(exc::IE) {
                    None
                } else {
                    Some(match ins.memory_size() {
                        MemorySize::Float32 => (4, F32_INDEFINITE as u128),
                        MemorySize::Float64 => (8, F64_INDEFINITE as u128),
                        MemorySize::Float80 => (10, INDEFINITE.bits()),
                        MemorySize::Int16 => (2, int_indefinite(2) as u128),
                        MemorySize::Int32 => (4, int_indefinite(4) as u128),
                        MemorySize::Int64 => (8, int_indefinite(8) as u128),
                        _ => (10, BCD_INDEFINITE),
                    })
                }
            }
            Some(v) => match ins.memory_size() {
                MemorySize::Float32 => f80_to_real(&mut env, v, 4).map(|b| (4, b as u128)),
                MemorySize::Float64 => f80_to_real(&mut env, v, 8).map(|b| (8, b as u128)),
                MemorySize::Float80 => Some((10, v.bits())),
                MemorySize::Int16 => f80_to_int(&mut env, v, 2).map(|i| (2, i as u64 as u128)),
                MemorySize::Int32 => f80_to_int(&mut env, v, 4).map(|i| (4, i as u64 as u128)),
                MemorySize::Int64 => f80_to_int(&mut env, v, 8).map(|i| (8, i as u64 as u128)),
                MemorySize::Bcd => f80_to_bcd(&mut env, v).map(|b| (10, b)),
                _ => return Err(Fault::UD),
            },
        };
        if let Some((n, bits)) = out {
            self.fpu_write(seg, off, n, bits)?;
            if pop {
                self.cpu.fpu.pop();
            }
        }
        self.cpu.fpu.commit(&env);
        Ok(())
    }
}
