//! EFLAGS bits and the arithmetic flag computations shared by all instructions.

/// EFLAGS bit constants.
#[derive(Debug)]
pub struct Flags;

impl Flags {
    /// Carry.
    pub const CF: u32 = 1 << 0;
    /// Always one.
    pub const FIXED1: u32 = 1 << 1;
    /// Parity (of the low byte).
    pub const PF: u32 = 1 << 2;
    /// Auxiliary (BCD) carry.
    pub const AF: u32 = 1 << 4;
    /// Zero.
    pub const ZF: u32 = 1 << 6;
    /// Sign.
    pub const SF: u32 = 1 << 7;
    /// Trap (single-step).
    pub const TF: u32 = 1 << 8;
    /// Interrupt enable.
    pub const IF: u32 = 1 << 9;
    /// Direction.
    pub const DF: u32 = 1 << 10;
    /// Overflow.
    pub const OF: u32 = 1 << 11;
    /// I/O privilege level (two bits).
    pub const IOPL: u32 = 3 << 12;
    /// Nested task.
    pub const NT: u32 = 1 << 14;
    /// Resume.
    pub const RF: u32 = 1 << 16;
    /// Virtual-8086 mode.
    pub const VM: u32 = 1 << 17;
    /// Alignment check.
    pub const AC: u32 = 1 << 18;
    /// Virtual interrupt flag.
    pub const VIF: u32 = 1 << 19;
    /// Virtual interrupt pending.
    pub const VIP: u32 = 1 << 20;
    /// CPUID available.
    pub const ID: u32 = 1 << 21;
    /// The six arithmetic status flags.
    pub const ARITH: u32 = Self::CF | Self::PF | Self::AF | Self::ZF | Self::SF | Self::OF;
    /// Every bit software can change on this CPU.
    pub const WRITABLE: u32 = Self::ARITH
        | Self::TF
        | Self::IF
        | Self::DF
        | Self::IOPL
        | Self::NT
        | Self::RF
        | Self::VM
        | Self::AC
        | Self::VIF
        | Self::VIP
        | Self::ID;
}

/// Operand sizes in bytes -> mask and sign bit.
#[inline]
pub(crate) fn size_mask(size: u8) -> u32 {
    match size {
        1 => 0xFF,
        2 => 0xFFFF,
        _ => 0xFFFF_FFFF,
    }
}

#[inline]
pub(crate) fn sign_bit(size: u8) -> u32 {
    1u32 << (size as u32 * 8 - 1)
}

/// Sign-extends the low `size` bytes of `v` to 32 bits.
#[inline]
pub(crate) fn sign_extend(v: u32, size: u8) -> u32 {
    match size {
        1 => v as u8 as i8 as i32 as u32,
        2 => v as u16 as i16 as i32 as u32,
        _ => v,
    }
}

/// PF for every low byte: set when the byte has an even number of one bits. Built at
/// compile time, so PF costs one load instead of a bit count (the baseline x86-64 target
/// has no POPCNT).
const PARITY: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        if (i as u8).count_ones().is_multiple_of(2) {
            t[i] = Flags::PF as u8;
        }
        i += 1;
    }
    t
};

/// PF, ZF, SF for a result of `size` bytes.
#[inline]
pub(crate) fn szp(result: u32, size: u8) -> u32 {
    let r = result & size_mask(size);
    let mut f = PARITY[(r & 0xFF) as usize] as u32;
    if r == 0 {
        f |= Flags::ZF;
    }
    if r & sign_bit(size) != 0 {
        f |= Flags::SF;
    }
    f
}

/// Flags of `a + b + carry_in`.
#[inline]
pub(crate) fn add_flags(a: u32, b: u32, carry_in: u32, size: u8) -> (u32, u32) {
    let mask = size_mask(size);
    let wide = (a & mask) as u64 + (b & mask) as u64 + carry_in as u64;
    let r = (wide as u32) & mask;
    let mut f = szp(r, size);
    if wide > mask as u64 {
        f |= Flags::CF;
    }
    if (a ^ b ^ r) & 0x10 != 0 {
        f |= Flags::AF;
    }
    if (!(a ^ b) & (a ^ r)) & sign_bit(size) != 0 {
        f |= Flags::OF;
    }
    (r, f)
}

/// Flags of `a - b - borrow_in`.
#[inline]
pub(crate) fn sub_flags(a: u32, b: u32, borrow_in: u32, size: u8) -> (u32, u32) {
    let mask = size_mask(size);
    let (a, b) = (a & mask, b & mask);
    let r = a.wrapping_sub(b).wrapping_sub(borrow_in) & mask;
    let mut f = szp(r, size);
    if (b as u64 + borrow_in as u64) > a as u64 {
        f |= Flags::CF;
    }
    if (a ^ b ^ r) & 0x10 != 0 {
        f |= Flags::AF;
    }
    if ((a ^ b) & (a ^ r)) & sign_bit(size) != 0 {
        f |= Flags::OF;
    }
    (r, f)
}

/// Flags of a logical result (AND/OR/XOR/TEST): CF = OF = 0, AF cleared.
#[inline]
pub(crate) fn logic_flags(r: u32, size: u8) -> u32 {
    szp(r, size)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_add_sets_carry_and_overflow() {
        let (r, f) = add_flags(0x7F, 1, 0, 1);
        assert_eq!(r, 0x80);
        assert_eq!(f & (Flags::OF | Flags::SF | Flags::AF | Flags::CF), Flags::OF | Flags::SF | Flags::AF);
        let (r, f) = add_flags(0xFFFF, 1, 0, 2);
        assert_eq!(r, 0);
        assert!(f & Flags::CF != 0 && f & Flags::ZF != 0);
    }

    #[test]
    fn test_sub_with_borrow_edge() {
        let (r, f) = sub_flags(0, 0xFFFF_FFFF, 1, 4);
        assert_eq!(r, 0);
        assert!(f & Flags::CF != 0);
    }

    #[test]
    fn test_parity_counts_low_byte_only() {
        assert!(szp(0x0300, 2) & Flags::PF != 0);
        assert!(szp(0x0001, 2) & Flags::PF == 0);
    }

    #[test]
    fn test_parity_table_matches_bit_counts_for_every_byte() {
        for b in 0u32..256 {
            let even = (0..8).filter(|i| b >> i & 1 == 1).count() % 2 == 0;
            assert_eq!(szp(b | 0x1200, 4) & Flags::PF != 0, even, "{b:#x}");
        }
    }
}
