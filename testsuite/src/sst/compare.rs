//! Comparing the emulator's state after a test with what the hardware produced.
//!
//! This is pure logic over plain values so it can be tested without a CPU: the caller
//! hands in the observed registers and a way to read guest memory.

use super::format::{Reg, RegFile, TestCase, REG_COUNT};
use std::fmt;

/// FLAGS bits 12–15 (IOPL, NT, bit 15): the capture randomised them in the initial state
/// and a 286 in real mode does not keep them, so they are never compared.
pub const REAL_MODE_IGNORED_FLAGS: u16 = 0xF000;

/// What one comparison ignores.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Masks {
    /// The form's `flags-mask` from the metadata (undefined flags cleared).
    pub flags: u16,
    /// Per-register masks from the file header (`regs_mask`), all-ones by default.
    pub regs: RegFile,
    /// The instruction itself pushes FLAGS at the final SS:SP (PUSHF); that word gets
    /// the FLAGS mask too (see `skips::flags_pushed_at_sp`).
    pub flags_pushed_at_sp: bool,
}

impl Default for Masks {
    fn default() -> Self {
        Masks { flags: 0xFFFF, regs: [0xFFFF; REG_COUNT], flags_pushed_at_sp: false }
    }
}

impl Masks {
    /// The mask applied to FLAGS, both as a register and as the word an exception pushed.
    pub fn flags_word(&self) -> u16 {
        self.flags & self.regs[Reg::Flags as usize] & !REAL_MODE_IGNORED_FLAGS
    }

    /// The 32-bit mask for `reg`. General registers and IP are compared in full (the upper
    /// halves start at zero and a 16-bit instruction must leave them so); selectors are
    /// 16 bits and FLAGS is compared as the 16-bit FLAGS word.
    pub fn for_reg(&self, reg: Reg) -> u32 {
        match reg {
            Reg::Flags => self.flags_word() as u32,
            Reg::Cs | Reg::Ss | Reg::Ds | Reg::Es => self.regs[reg as usize] as u32,
            _ => 0xFFFF_0000 | self.regs[reg as usize] as u32,
        }
    }
}

/// Register values read back from the emulator, indexed by [`Reg`]: full 32-bit GPRs,
/// EIP and EFLAGS; selectors zero-extended.
pub type Observed = [u32; REG_COUNT];

/// One difference between expectation and emulation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Diff {
    /// A register differs (after masking).
    Reg {
        /// Which register.
        reg: Reg,
        /// The hardware value.
        expected: u32,
        /// The emulator's value.
        got: u32,
        /// The bits that were compared.
        mask: u32,
    },
    /// A memory byte differs (after masking).
    Ram {
        /// Physical address.
        addr: u32,
        /// The hardware value.
        expected: u8,
        /// The emulator's value.
        got: u8,
        /// The bits that were compared.
        mask: u8,
    },
}

/// Names of FLAGS bits 0–11 for diagnostics (`-` for reserved bits).
const FLAG_NAMES: [&str; 12] = ["CF", "-", "PF", "-", "AF", "-", "ZF", "SF", "TF", "IF", "DF", "OF"];

/// The names of the flags set in `bits`, e.g. `"CF OF"`.
pub fn flag_names(bits: u32) -> String {
    let names: Vec<&str> =
        FLAG_NAMES.iter().enumerate().filter(|(i, n)| bits & (1 << i) != 0 && **n != "-").map(|(_, n)| *n).collect();
    names.join(" ")
}

impl fmt::Display for Diff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Diff::Reg { reg: Reg::Flags, expected, got, mask } => {
                let bad = (expected ^ got) & mask;
                write!(f, "flags exp {expected:#06x} got {got:#06x} [{}]", flag_names(bad))
            }
            Diff::Reg { reg, expected, got, .. } => {
                write!(f, "{} exp {expected:#06x} got {got:#06x}", reg.name())
            }
            Diff::Ram { addr, expected, got, mask } if mask != 0xFF => {
                write!(f, "ram[{addr:#x}] exp {expected:#04x} got {got:#04x} (mask {mask:#04x})")
            }
            Diff::Ram { addr, expected, got, .. } => write!(f, "ram[{addr:#x}] exp {expected:#04x} got {got:#04x}"),
        }
    }
}

/// Offset from the final SP of the FLAGS word an exception or interrupt pushes in real
/// mode (above the pushed IP and CS).
const EXCEPTION_FLAGS_SP_OFFSET: u16 = 4;

/// The physical addresses of the low and high byte of a pushed FLAGS word whose mask must
/// be applied: the one an exception pushed (at SS:SP+4 after delivery), or the one PUSHF
/// pushed (at SS:SP). Derived from the final SS:SP rather than the test's `flag_address`,
/// which is the word-aligned bus address and so one byte low when SP is odd.
pub fn pushed_flags_bytes(test: &TestCase, masks: &Masks) -> Option<(u32, u32)> {
    let offset = if test.exception.is_some() {
        EXCEPTION_FLAGS_SP_OFFSET
    } else if masks.flags_pushed_at_sp {
        0
    } else {
        return None;
    };
    let ss_base = (test.expected(Reg::Ss) as u32) << 4;
    let sp = test.expected(Reg::Sp).wrapping_add(offset);
    Some((ss_base + sp as u32, ss_base + sp.wrapping_add(1) as u32))
}

/// The mask for the expected byte at `addr`: all-ones, except for the two bytes of a
/// pushed FLAGS word (see [`pushed_flags_bytes`]), which get the FLAGS mask.
fn ram_mask(flags_bytes: Option<(u32, u32)>, masks: &Masks, addr: u32) -> u8 {
    let word = masks.flags_word();
    match flags_bytes {
        Some((lo, _)) if addr == lo => word as u8,
        Some((_, hi)) if addr == hi => (word >> 8) as u8,
        _ => 0xFF,
    }
}

/// Every masked difference between the hardware's final state and the emulator's:
/// each register (listed in `final.regs` or else unchanged from `initial.regs`) and each
/// byte in `final.ram`, read through `read`.
pub fn compare(test: &TestCase, masks: &Masks, observed: &Observed, read: impl Fn(u32) -> u8) -> Vec<Diff> {
    let mut diffs = Vec::new();
    for reg in Reg::ALL {
        let mask = masks.for_reg(reg);
        let expected = test.expected(reg) as u32;
        let got = observed[reg as usize];
        if (expected ^ got) & mask != 0 {
            diffs.push(Diff::Reg { reg, expected, got, mask });
        }
    }
    let flags_bytes = pushed_flags_bytes(test, masks);
    for &(addr, expected) in &test.final_ram {
        let mask = ram_mask(flags_bytes, masks, addr);
        let got = read(addr);
        if (expected ^ got) & mask != 0 {
            diffs.push(Diff::Ram { addr, expected, got, mask });
        }
    }
    diffs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sst::format::ExceptionInfo;

    fn test_case() -> TestCase {
        let mut t = TestCase::default();
        for (i, r) in t.initial.iter_mut().enumerate() {
            *r = 0x100 * i as u16 + 1;
        }
        t.initial[Reg::Flags as usize] = 0xF002;
        t
    }

    fn observed_from(t: &TestCase) -> Observed {
        let mut o = [0u32; REG_COUNT];
        for r in Reg::ALL {
            o[r as usize] = t.expected(r) as u32;
        }
        o
    }

    #[test]
    fn unchanged_registers_must_stay() {
        let t = test_case();
        let mut o = observed_from(&t);
        assert!(compare(&t, &Masks::default(), &o, |_| 0).is_empty());
        o[Reg::Bp as usize] ^= 1;
        let d = compare(&t, &Masks::default(), &o, |_| 0);
        assert_eq!(d.len(), 1);
        assert!(matches!(d[0], Diff::Reg { reg: Reg::Bp, .. }));
    }

    #[test]
    fn upper_halves_of_gprs_are_compared() {
        let t = test_case();
        let mut o = observed_from(&t);
        o[Reg::Ax as usize] |= 0x1_0000;
        assert_eq!(compare(&t, &Masks::default(), &o, |_| 0).len(), 1);
    }

    #[test]
    fn listed_final_values_win() {
        let mut t = test_case();
        t.final_regs[Reg::Ax as usize] = Some(0xBEEF);
        let mut o = observed_from(&t);
        assert!(compare(&t, &Masks::default(), &o, |_| 0).is_empty());
        o[Reg::Ax as usize] = t.initial[Reg::Ax as usize] as u32;
        let d = compare(&t, &Masks::default(), &o, |_| 0);
        assert_eq!(d, vec![Diff::Reg { reg: Reg::Ax, expected: 0xBEEF, got: 0x0001, mask: 0xFFFF_FFFF }]);
    }

    #[test]
    fn flags_mask_and_bits_12_to_15_are_ignored() {
        let mut t = test_case();
        t.final_regs[Reg::Flags as usize] = Some(0x0013); // AF set on the hardware
        let mut o = observed_from(&t);
        o[Reg::Flags as usize] = 0x7003; // AF clear, IOPL/NT differ
        let masks = Masks { flags: 0xFFEF, ..Masks::default() };
        assert!(compare(&t, &masks, &o, |_| 0).is_empty());
        // Without the AF mask the difference shows, naming the flag.
        let d = compare(&t, &Masks::default(), &o, |_| 0);
        assert_eq!(d.len(), 1);
        assert!(d[0].to_string().contains("AF"), "{}", d[0]);
    }

    #[test]
    fn ram_bytes_and_pushed_flags_mask() {
        let mut t = test_case();
        // Final SS:SP = 0x0040:0x00FC, so an exception's FLAGS word is at 0x500.
        t.final_regs[Reg::Ss as usize] = Some(0x0040);
        t.final_regs[Reg::Sp as usize] = Some(0x00FC);
        t.final_ram = vec![(0x500, 0x13), (0x501, 0x00), (0x600, 0xAA)];
        let o = observed_from(&t);
        let masks = Masks { flags: 0xFFEF, ..Masks::default() };
        // Pushed FLAGS differ in AF and bits 12–15: fine only when an exception pushed them.
        let mem = |a: u32| match a {
            0x500 => 0x03,
            0x501 => 0xF0,
            0x600 => 0xAA,
            _ => 0,
        };
        assert_eq!(compare(&t, &masks, &o, mem).len(), 2);
        t.exception = Some(ExceptionInfo { number: 0, flag_address: 0x500 });
        assert!(compare(&t, &masks, &o, mem).is_empty());
        // PUSHF: the same word at SS:SP itself.
        t.exception = None;
        t.final_regs[Reg::Sp as usize] = Some(0x0100);
        let o = observed_from(&t);
        let pushf = Masks { flags_pushed_at_sp: true, ..masks };
        assert!(compare(&t, &pushf, &o, mem).is_empty());
        t.exception = Some(ExceptionInfo { number: 0, flag_address: 0x500 });
        t.final_regs[Reg::Sp as usize] = Some(0x00FC);
        let o = observed_from(&t);
        // Other bytes are still compared in full.
        let bad = |a: u32| if a == 0x600 { 0xAB } else { mem(a) };
        let d = compare(&t, &masks, &o, bad);
        assert_eq!(d, vec![Diff::Ram { addr: 0x600, expected: 0xAA, got: 0xAB, mask: 0xFF }]);
    }

    #[test]
    fn pushed_flags_follow_the_stack_not_the_bus_address() {
        let mut t = test_case();
        // SP odd: the FLAGS word straddles an aligned word; flag_address is one byte low.
        t.final_regs[Reg::Ss as usize] = Some(0x1000);
        t.final_regs[Reg::Sp as usize] = Some(0x0011);
        t.exception = Some(ExceptionInfo { number: 13, flag_address: 0x10014 });
        assert_eq!(pushed_flags_bytes(&t, &Masks::default()), Some((0x10015, 0x10016)));
        // And the offset wraps inside the stack segment.
        t.final_regs[Reg::Sp as usize] = Some(0xFFFB);
        assert_eq!(pushed_flags_bytes(&t, &Masks::default()), Some((0x1FFFF, 0x10000)));
    }

    #[test]
    fn header_reg_masks_apply() {
        let mut t = test_case();
        t.final_regs[Reg::Sp as usize] = Some(0x1234);
        let mut o = observed_from(&t);
        o[Reg::Sp as usize] = 0x12FF;
        let mut masks = Masks::default();
        assert_eq!(compare(&t, &masks, &o, |_| 0).len(), 1);
        masks.regs[Reg::Sp as usize] = 0xFF00;
        assert!(compare(&t, &masks, &o, |_| 0).is_empty());
    }
}
