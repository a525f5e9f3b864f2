//! Packed integer instructions on MMX (64-bit) and XMM (128-bit) registers, plus the
//! bitwise, shuffle and unpack instructions that SSE/SSE2 define on packed floats (they
//! are the same bit operations): PADD*/PSUB* (wrapping and saturating), PMUL*, PMADDWD,
//! PAND/PANDN/POR/PXOR, PCMPEQ*/PCMPGT*, PACK*, PUNPCK*, shifts, PSHUF*, PMOVMSKB,
//! PSADBW, PAVG*, PMIN*/PMAX*, PEXTRW/PINSRW, SHUFPS/SHUFPD and UNPCK*PS/PD.

use crate::fault::Fault;
use crate::interp::Exec;
use iced_x86::{Instruction, Mnemonic, OpKind};

/// Mask of the low `bits` bits (1–64).
fn mask(bits: u32) -> u64 {
    if bits >= 64 {
        u64::MAX
    } else {
        (1 << bits) - 1
    }
}

/// Sign-extends the low `bits` bits of `v`.
fn sx(v: u64, bits: u32) -> i64 {
    ((v << (64 - bits)) as i64) >> (64 - bits)
}

/// Mask of the low `n` bytes of a register.
fn width_mask(n: u32) -> u128 {
    if n >= 16 {
        u128::MAX
    } else {
        (1u128 << (8 * n)) - 1
    }
}

/// Element `i` (of `w` bytes) of `v`.
fn lane(v: u128, w: u32, i: u32) -> u64 {
    (v >> (8 * w * i)) as u64 & mask(8 * w)
}

/// Applies `f` to each `w`-byte lane of `a` and `b` over an `n`-byte register.
pub(crate) fn lanes(a: u128, b: u128, w: u32, n: u32, f: impl Fn(u64, u64) -> u64) -> u128 {
    let mut r = 0u128;
    for i in 0..n / w {
        r |= ((f(lane(a, w, i), lane(b, w, i)) & mask(8 * w)) as u128) << (8 * w * i);
    }
    r
}

/// Saturates a signed value to `bits`.
fn sat_s(v: i64, bits: u32) -> u64 {
    let max = (1i64 << (bits - 1)) - 1;
    v.clamp(-max - 1, max) as u64
}

/// Saturates a signed value to an unsigned `bits`-bit range.
fn sat_u(v: i64, bits: u32) -> u64 {
    v.clamp(0, mask(bits) as i64) as u64
}

/// PACKSS*/PACKUS*: narrows the `w`-byte elements of `a` (low half of the result) and
/// `b` (high half) with saturation.
fn pack(a: u128, b: u128, w: u32, n: u32, unsigned: bool) -> u128 {
    let per = n / w;
    let half = 4 * w;
    let mut r = 0u128;
    for i in 0..2 * per {
        let v = if i < per { lane(a, w, i) } else { lane(b, w, i - per) };
        let v = sx(v, 8 * w);
        let s = if unsigned { sat_u(v, half) } else { sat_s(v, half) } & mask(half);
        r |= (s as u128) << (half * i);
    }
    r
}

/// PUNPCKL*/PUNPCKH*: interleaves the `w`-byte elements of the low (or high) halves.
fn unpack(a: u128, b: u128, w: u32, n: u32, high: bool) -> u128 {
    let per = n / w / 2;
    let base = if high { per } else { 0 };
    let mut r = 0u128;
    for i in 0..per {
        r |= (lane(a, w, base + i) as u128) << (8 * w * (2 * i));
        r |= (lane(b, w, base + i) as u128) << (8 * w * (2 * i + 1));
    }
    r
}

/// The shift kinds.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Shift {
    Left,
    Logical,
    Arith,
}

/// Shifts every `w`-byte element by `count` bits.
fn shift(a: u128, w: u32, n: u32, count: u64, kind: Shift) -> u128 {
    let bits = 8 * w;
    lanes(a, 0, w, n, |x, _| match kind {
        Shift::Left if count < bits as u64 => x << count,
        Shift::Logical if count < bits as u64 => x >> count,
        Shift::Arith => (sx(x, bits) >> count.min(bits as u64 - 1)) as u64,
        _ => 0,
    })
}

/// Selects 16- or 32-bit elements of `src` by the 2-bit fields of `imm`.
fn shuffle4(src: u128, w: u32, imm: u8) -> u128 {
    let mut r = 0u128;
    for i in 0..4 {
        let sel = (imm >> (2 * i)) as u32 & 3;
        r |= (lane(src, w, sel) as u128) << (8 * w * i);
    }
    r
}

impl Exec<'_> {
    /// Executes a packed-integer or bitwise/shuffle instruction; `Ok(false)` otherwise.
    pub(super) fn exec_sse_int(&mut self, ins: &Instruction) -> Result<bool, Fault> {
        use Mnemonic as M;
        let m = ins.mnemonic();
        // Instructions whose destination is a general register, or that take an immediate
        // third operand, are handled first.
        match m {
            M::Pmovmskb => {
                let src = self.simd_read(ins, 1)?;
                let n = if ins.op1_register().is_mm() { 8 } else { 16 };
                let bits = (0..n).fold(0u128, |acc, i| acc | ((src >> (8 * i + 7)) & 1) << i);
                self.simd_write(ins, 0, bits)?;
                return Ok(true);
            }
            M::Pextrw => {
                let src = self.simd_read(ins, 1)?;
                let n = if ins.op1_register().is_mm() { 4 } else { 8 };
                let sel = ins.immediate8() as u32 % n;
                self.simd_write(ins, 0, lane(src, 2, sel) as u128)?;
                return Ok(true);
            }
            M::Pinsrw => {
                let dst = self.simd_read(ins, 0)?;
                let v = self.simd_read(ins, 1)? & 0xFFFF;
                let n = if ins.op0_register().is_mm() { 4 } else { 8 };
                let sh = 16 * (ins.immediate8() as u32 % n);
                self.simd_write(ins, 0, (dst & !(0xFFFF << sh)) | (v << sh))?;
                return Ok(true);
            }
            _ => {}
        }
        let n: u32 =
            if ins.op_count() > 0 && ins.op_kind(0) == OpKind::Register && ins.op0_register().is_mm() { 8 } else { 16 };
        let imm = if ins.op_count() == 3 { ins.immediate8() } else { 0 };
        let r = match m {
            M::Pshufw | M::Pshufd => {
                let src = self.simd_read(ins, 1)?;
                if m == M::Pshufw {
                    shuffle4(src, 2, imm)
                } else {
                    shuffle4(src, 4, imm)
                }
            }
            M::Pshuflw => {
                let src = self.simd_read(ins, 1)?;
                (src & !super::moves::LO64) | shuffle4(src & super::moves::LO64, 2, imm)
            }
            M::Pshufhw => {
                let src = self.simd_read(ins, 1)?;
                (src & super::moves::LO64) | (shuffle4(src >> 64, 2, imm) << 64)
            }
            M::Psllw | M::Pslld | M::Psllq | M::Psrlw | M::Psrld | M::Psrlq | M::Psraw | M::Psrad => {
                let dst = self.simd_read(ins, 0)?;
                let count = match ins.op_kind(1) {
                    OpKind::Immediate8 => ins.immediate8() as u64,
                    _ => self.simd_read(ins, 1)? as u64,
                };
                let (w, kind) = match m {
                    M::Psllw => (2, Shift::Left),
                    M::Pslld => (4, Shift::Left),
                    M::Psllq => (8, Shift::Left),
                    M::Psrlw => (2, Shift::Logical),
                    M::Psrld => (4, Shift::Logical),
                    M::Psrlq => (8, Shift::Logical),
                    M::Psraw => (2, Shift::Arith),
                    _ => (4, Shift::Arith),
                };
                shift(dst, w, n, count, kind)
            }
            M::Pslldq | M::Psrldq => {
                let dst = self.simd_read(ins, 0)?;
                let bytes = ins.immediate8() as u32;
                match (bytes, m) {
                    (16.., _) => 0,
                    (b, M::Pslldq) => dst << (8 * b),
                    (b, _) => dst >> (8 * b),
                }
            }
            _ => {
                let a = self.simd_read(ins, 0)?;
                let b = self.simd_read(ins, 1)?;
                match binary(m, a, b, n, imm) {
                    Some(r) => r,
                    None => return Ok(false),
                }
            }
        };
        self.simd_write(ins, 0, r & width_mask(n))?;
        Ok(true)
    }
}

/// The two-operand packed operations `dst = dst op src` over an `n`-byte register.
fn binary(m: Mnemonic, a: u128, b: u128, n: u32, imm: u8) -> Option<u128> {
    use Mnemonic as M;
    let wrap = |w: u32, f: fn(u64, u64) -> u64| lanes(a, b, w, n, f);
    let ones = |c: bool| if c { u64::MAX } else { 0 };
    Some(match m {
        M::Paddb => wrap(1, u64::wrapping_add),
        M::Paddw => wrap(2, u64::wrapping_add),
        M::Paddd => wrap(4, u64::wrapping_add),
        M::Paddq => wrap(8, u64::wrapping_add),
        M::Psubb => wrap(1, u64::wrapping_sub),
        M::Psubw => wrap(2, u64::wrapping_sub),
        M::Psubd => wrap(4, u64::wrapping_sub),
        M::Psubq => wrap(8, u64::wrapping_sub),
        M::Paddsb => lanes(a, b, 1, n, |x, y| sat_s(sx(x, 8) + sx(y, 8), 8)),
        M::Paddsw => lanes(a, b, 2, n, |x, y| sat_s(sx(x, 16) + sx(y, 16), 16)),
        M::Psubsb => lanes(a, b, 1, n, |x, y| sat_s(sx(x, 8) - sx(y, 8), 8)),
        M::Psubsw => lanes(a, b, 2, n, |x, y| sat_s(sx(x, 16) - sx(y, 16), 16)),
        M::Paddusb => lanes(a, b, 1, n, |x, y| sat_u(x as i64 + y as i64, 8)),
        M::Paddusw => lanes(a, b, 2, n, |x, y| sat_u(x as i64 + y as i64, 16)),
        M::Psubusb => lanes(a, b, 1, n, |x, y| sat_u(x as i64 - y as i64, 8)),
        M::Psubusw => lanes(a, b, 2, n, |x, y| sat_u(x as i64 - y as i64, 16)),
        M::Pmullw => lanes(a, b, 2, n, |x, y| x.wrapping_mul(y)),
        M::Pmulhw => lanes(a, b, 2, n, |x, y| ((sx(x, 16) * sx(y, 16)) >> 16) as u64),
        M::Pmulhuw => lanes(a, b, 2, n, |x, y| (x * y) >> 16),
        M::Pmuludq => lanes(a, b, 8, n, |x, y| (x & 0xFFFF_FFFF) * (y & 0xFFFF_FFFF)),
        M::Pmaddwd => lanes(a, b, 4, n, |x, y| {
            let lo = sx(x & 0xFFFF, 16) * sx(y & 0xFFFF, 16);
            let hi = sx(x >> 16, 16) * sx(y >> 16, 16);
            lo.wrapping_add(hi) as u64
        }),
        M::Pand | M::Andps | M::Andpd => a & b,
        M::Pandn | M::Andnps | M::Andnpd => !a & b,
        M::Por | M::Orps | M::Orpd => a | b,
        M::Pxor | M::Xorps | M::Xorpd => a ^ b,
        M::Pcmpeqb => lanes(a, b, 1, n, |x, y| ones(x == y)),
        M::Pcmpeqw => lanes(a, b, 2, n, |x, y| ones(x == y)),
        M::Pcmpeqd => lanes(a, b, 4, n, |x, y| ones(x == y)),
        M::Pcmpgtb => lanes(a, b, 1, n, |x, y| ones(sx(x, 8) > sx(y, 8))),
        M::Pcmpgtw => lanes(a, b, 2, n, |x, y| ones(sx(x, 16) > sx(y, 16))),
        M::Pcmpgtd => lanes(a, b, 4, n, |x, y| ones(sx(x, 32) > sx(y, 32))),
        M::Packsswb => pack(a, b, 2, n, false),
        M::Packssdw => pack(a, b, 4, n, false),
        M::Packuswb => pack(a, b, 2, n, true),
        M::Punpcklbw => unpack(a, b, 1, n, false),
        M::Punpcklwd => unpack(a, b, 2, n, false),
        M::Punpckldq | M::Unpcklps => unpack(a, b, 4, n, false),
        M::Punpcklqdq | M::Unpcklpd => unpack(a, b, 8, n, false),
        M::Punpckhbw => unpack(a, b, 1, n, true),
        M::Punpckhwd => unpack(a, b, 2, n, true),
        M::Punpckhdq | M::Unpckhps => unpack(a, b, 4, n, true),
        M::Punpckhqdq | M::Unpckhpd => unpack(a, b, 8, n, true),
        M::Pavgb => lanes(a, b, 1, n, |x, y| (x + y + 1) >> 1),
        M::Pavgw => lanes(a, b, 2, n, |x, y| (x + y + 1) >> 1),
        M::Pminub => lanes(a, b, 1, n, u64::min),
        M::Pmaxub => lanes(a, b, 1, n, u64::max),
        M::Pminsw => lanes(a, b, 2, n, |x, y| if sx(x, 16) < sx(y, 16) { x } else { y }),
        M::Pmaxsw => lanes(a, b, 2, n, |x, y| if sx(x, 16) > sx(y, 16) { x } else { y }),
        M::Psadbw => {
            lanes(a, b, 8, n, |x, y| (0..8).map(|i| lane(x as u128, 1, i).abs_diff(lane(y as u128, 1, i))).sum())
        }
        M::Shufps => {
            let pick = |v: u128, k: u8| lane(v, 4, (imm >> (2 * k)) as u32 & 3) as u128;
            pick(a, 0) | pick(a, 1) << 32 | pick(b, 2) << 64 | pick(b, 3) << 96
        }
        M::Shufpd => lane(a, 8, imm as u32 & 1) as u128 | (lane(b, 8, (imm as u32 >> 1) & 1) as u128) << 64,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_simd_int_helpers() {
        // PACKSSWB of 0x7FFF, 0x8000, 0x0042, 0xFF80 saturates to 7F 80 42 80.
        let a = 0xFF80_0042_8000_7FFFu128;
        assert_eq!(pack(a, 0, 2, 8, false), 0x0000_0000_8042_807F);
        assert_eq!(pack(a, 0, 2, 8, true), 0x0000_0000_0042_00FF);
        assert_eq!(unpack(0x0403_0201, 0x0D0C_0B0A, 1, 8, false), 0x0D04_0C03_0B02_0A01);
        assert_eq!(shift(0x8000_0001, 4, 8, 1, Shift::Arith), 0xC000_0000);
        assert_eq!(shift(0x8000_0001, 4, 8, 40, Shift::Arith), 0xFFFF_FFFF);
        assert_eq!(shift(0x8000_0001, 4, 8, 32, Shift::Left), 0);
        assert_eq!(shuffle4(0x4444_3333_2222_1111, 2, 0x1B), 0x1111_2222_3333_4444);
    }
}
