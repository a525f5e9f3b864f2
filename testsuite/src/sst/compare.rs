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
}

impl Default for Masks {
    fn default() -> Self {
        Masks {
            flags: 0xFFFF,
            regs: [0xFFFF; REG_COUNT],
        }
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
const FLAG_NAMES: [&str; 12] = [
    "CF", "-", "PF", "-", "AF", "-", "ZF", "SF", "TF", "IF", "DF", "OF",
];

/// The names of the flags set in `bits`, e.g. `"CF OF"`.
pub fn flag_names(bits: u32) -> String {
    let names: Vec<&str> = FLAG_NAMES
        .iter()
        .enumerate()
        .filter(|(i, n)| bits & (1 << i) != 0 && **n != "-")
        .map(|(_, n)| *n)
        .collect();
    names.join(" ")
}

impl fmt::Display for Diff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Diff::Reg {
                reg: Reg::Flags,
                expected,
                got,
                mask,
            } => {
                let bad = (expected ^ got) & mask;
                write!(
                    f,
                    "flags exp {expected:#06x} got {got:#06x} [{}]",
                    flag_names(bad)
                )
            }
            Diff::Reg {
                reg, expected, got, ..
            } => {
                write!(f, "{} exp {expected:#06x} got {got:#06x}", reg.name())
            }
            Diff::Ram {
                addr,
                expected,
                got,
                mask,
            } if mask != 0xFF => {
                write!(
                    f,
                    "ram[{addr:#x}] exp {expected:#04x} got {got:#04x} (mask {mask:#04x})"
                )
            }
            Diff::Ram {
                addr,
                expected,
                got,
                ..
            } => write!(f, "ram[{addr:#x}] exp {expected:#04x} got {got:#04x}"),
        }
    }
}

/// The mask for the expected byte at `addr`: all-ones, except for the two bytes of a FLAGS
/// word an exception pushed, which get the FLAGS mask.
fn ram_mask(test: &TestCase, masks: &Masks, addr: u32) -> u8 {
    let Some(exc) = test.exception else {
        return 0xFF;
    };
    let word = masks.flags_word();
    if addr == exc.flag_address {
        word as u8
    } else if addr == exc.flag_address.wrapping_add(1) {
        (word >> 8) as u8
    } else {
        0xFF
    }
}

/// Every masked difference between the hardware's final state and the emulator's:
/// each register (listed in `final.regs` or else unchanged from `initial.regs`) and each
/// byte in `final.ram`, read through `read`.
pub fn compare(
    test: &TestCase,
    masks: &Masks,
    observed: &Observed,
    read: impl Fn(u32) -> u8,
) -> Vec<Diff> {
    let mut diffs = Vec::new();
    for reg in Reg::ALL {
        let mask = masks.for_reg(reg);
        let expected = test.expected(reg) as u32;
        let got = observed[reg as usize];
        if (expected ^ got) & mask != 0 {
            diffs.push(Diff::Reg {
                reg,
                expected,
                got,
                mask,
            });
        }
    }
    for &(addr, expected) in &test.final_ram {
        let mask = ram_mask(test, masks, addr);
        let got = read(addr);
        if (expected ^ got) & mask != 0 {
            diffs.push(Diff::Ram {
                addr,
                expected,
                got,
                mask,
            });
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
        assert_eq!(
            d,
            vec![Diff::Reg {
                reg: Reg::Ax,
                expected: 0xBEEF,
                got: 0x0001,
                mask: 0xFFFF_FFFF
            }]
        );
    }

    #[test]
    fn flags_mask_and_bits_12_to_15_are_ignored() {
        let mut t = test_case();
        t.final_regs[Reg::Flags as usize] = Some(0x0013); // AF set on the hardware
        let mut o = observed_from(&t);
        o[Reg::Flags as usize] = 0x7003; // AF clear, IOPL/NT differ
        let masks = Masks {
            flags: 0xFFEF,
            ..Masks::default()
        };
        assert!(compare(&t, &masks, &o, |_| 0).is_empty());
        // Without the AF mask the difference shows, naming the flag.
        let d = compare(&t, &Masks::default(), &o, |_| 0);
        assert_eq!(d.len(), 1);
        assert!(d[0].to_string().contains("AF"), "{}", d[0]);
    }

    #[test]
    fn ram_bytes_and_pushed_flags_mask() {
        let mut t = test_case();
        t.final_ram = vec![(0x500, 0x13), (0x501, 0x00), (0x600, 0xAA)];
        let o = observed_from(&t);
        let masks = Masks {
            flags: 0xFFEF,
            ..Masks::default()
        };
        // Pushed FLAGS differ in AF and bits 12–15: fine only when an exception pushed them.
        let mem = |a: u32| match a {
            0x500 => 0x03,
            0x501 => 0xF0,
            0x600 => 0xAA,
            _ => 0,
        };
        assert_eq!(compare(&t, &masks, &o, mem).len(), 2);
        t.exception = Some(ExceptionInfo {
            number: 0,
            flag_address: 0x500,
        });
        assert!(compare(&t, &masks, &o, mem).is_empty());
        // Other bytes are still compared in full.
        let bad = |a: u32| if a == 0x600 { 0xAB } else { mem(a) };
        let d = compare(&t, &masks, &o, bad);
        assert_eq!(
            d,
            vec![Diff::Ram {
                addr: 0x600,
                expected: 0xAA,
                got: 0xAB,
                mask: 0xFF
            }]
        );
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
