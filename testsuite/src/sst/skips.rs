//! The one list of places where ferrite may differ from the suite: where a P6-class CPU
//! (what ferrite emulates) legitimately behaves differently from the 80286 the suite was
//! captured on. Every entry names its forms, optionally narrows them to some tests, and
//! says why; each was decided from the data (what the 286 recorded), not guessed.
//! Emulator bugs never belong here.

use super::format::{Reg, TestCase};

/// One allowed difference: matching tests are skipped (counted, not run).
#[derive(Debug, Clone, Copy)]
pub struct Skip {
    /// The form (file name without `.jsonl.gz`, e.g. `"F7.6"`), or `"*"` for every form.
    pub form: &'static str,
    /// Narrows the skip to the tests it returns true for; `None` skips the whole form.
    pub when: Option<fn(&TestCase) -> bool>,
    /// Why a P6 differs from a 286 here.
    pub reason: &'static str,
}

/// The allowed differences.
pub const SKIPS: &[Skip] = &[
    // The 286 accepts LOCK on any instruction; a P6 raises #UD unless the instruction is a
    // read-modify-write of memory (ADD/OR/ADC/SBB/AND/SUB/XOR/NOT/NEG/INC/DEC/XCHG).
    Skip {
        form: "*",
        when: Some(lock_is_ud_on_p6),
        reason: "LOCK on a non-lockable instruction: ignored by the 286, #UD on a P6",
    },
    // The 286 raises #GP(13) for an instruction longer than 10 bytes (here: runs of
    // redundant segment prefixes); a P6 allows 15.
    Skip {
        form: "*",
        when: Some(longer_than_286_limit),
        reason: "instruction longer than 10 bytes: #GP on the 286, valid on a P6",
    },
    // MOV to/from segment register 4 and 5 (FS, GS) is #UD on the 286 (which has only ES,
    // CS, SS, DS); a P6 has FS and GS.
    Skip { form: "8C", when: Some(sreg_is_fs_or_gs), reason: "MOV r/m,FS/GS: #UD on the 286, valid on a P6" },
    Skip { form: "8E", when: Some(sreg_is_fs_or_gs), reason: "MOV FS/GS,r/m: #UD on the 286, valid on a P6" },
    // A string instruction that faults on a word at offset 0xFFFF: the 286 has already
    // advanced SI/DI (and decremented CX under REP) when it raises #GP; a P6 faults
    // before changing them.
    Skip {
        form: "*",
        when: Some(string_op_faulted),
        reason: "string op #GP at offset 0xFFFF: the 286 has already advanced SI/DI/CX, a P6 has not",
    },
    // POP r/m whose destination faults: the 286 has already incremented SP.
    Skip {
        form: "8F",
        when: Some(pop_rm_faulted),
        reason: "POP r/m with a faulting destination: the 286 has already incremented SP, a P6 has not",
    },
    // AAM 0: the 286 sets SF/ZF/PF from AL before raising #DE; a P6 leaves FLAGS alone.
    Skip { form: "D4", when: Some(aam_zero), reason: "AAM 0: the 286 updates SF/ZF/PF before #DE, a P6 does not" },
    // IDIV whose quotient does not fit: the 286's microcode misses some of these cases and
    // returns a wrong quotient; a P6 raises #DE.
    Skip { form: "F6.7", when: Some(idiv_overflow_missed), reason: "IDIV overflow the 286 misses: a P6 raises #DE" },
    Skip { form: "F7.7", when: Some(idiv_overflow_missed), reason: "IDIV overflow the 286 misses: a P6 raises #DE" },
];

/// Exception vectors the 286 reports where a P6 reports another, as (286, P6). The runner
/// copies the 286 vector's IVT entry to the P6 vector's entry for tests where the 286
/// raised it, so the test still checks everything else (pushed frame, registers,
/// memory). Real-mode SS limit violations (a word at SS:0xFFFF) are #GP(13) on the 286
/// but #SS(12) on a P6.
pub const VECTOR_ALIASES: &[(u8, u8)] = &[(13, 12)];

/// Forms whose own FLAGS push (at the final SS:SP) gets the FLAGS mask, i.e. bits 12–15
/// ignored: in real mode the 286 always pushes them as zero, a P6 pushes IOPL and NT as
/// they are, and the capture randomised them in the initial state.
pub const FLAGS_PUSHED_AT_SP: &[&str] = &["9C"];

/// Why `test` of `form` is skipped, if it is.
pub fn skip_reason(form: &str, test: &TestCase) -> Option<&'static str> {
    SKIPS
        .iter()
        .find(|s| {
            (s.form == "*" || s.form.eq_ignore_ascii_case(form))
                && match s.when {
                    None => true,
                    Some(when) => when(test),
                }
        })
        .map(|s| s.reason)
}

/// Whether `form` pushes FLAGS itself (see [`FLAGS_PUSHED_AT_SP`]).
pub fn flags_pushed_at_sp(form: &str) -> bool {
    FLAGS_PUSHED_AT_SP.iter().any(|f| f.eq_ignore_ascii_case(form))
}

/// The 286's instruction length limit.
const MAX_286_INSN_LEN: usize = 10;
/// The LOCK prefix.
const LOCK: u8 = 0xF0;
/// Prefixes a real-mode 286 instruction can carry.
const PREFIXES: [u8; 7] = [0x26, 0x2E, 0x36, 0x3E, LOCK, 0xF2, 0xF3];
/// ModRM.mod for a register operand.
const MOD_REGISTER: u8 = 3;

/// The instruction's prefixes, opcode and ModRM byte (if there are bytes after the opcode).
fn split(test: &TestCase) -> Option<(&[u8], u8, Option<u8>)> {
    let n = test.bytes.iter().take_while(|b| PREFIXES.contains(b)).count();
    let opcode = *test.bytes.get(n)?;
    Some((&test.bytes[..n], opcode, test.bytes.get(n + 1).copied()))
}

fn modrm_reg(m: u8) -> u8 {
    (m >> 3) & 7
}

/// Whether a P6 rejects this instruction's LOCK prefix with #UD.
fn lock_is_ud_on_p6(test: &TestCase) -> bool {
    let Some((prefixes, opcode, modrm)) = split(test) else {
        return false;
    };
    if !prefixes.contains(&LOCK) {
        return false;
    }
    let Some(m) = modrm else { return true };
    if m >> 6 == MOD_REGISTER {
        return true;
    }
    let lockable = match opcode {
        // ALU r/m, reg (memory destination forms of ADD, OR, ADC, SBB, AND, SUB, XOR).
        0x00 | 0x01 | 0x08 | 0x09 | 0x10 | 0x11 | 0x18 | 0x19 | 0x20 | 0x21 | 0x28 | 0x29 | 0x30 | 0x31 => true,
        // Group 1 r/m, imm except CMP.
        0x80..=0x83 => modrm_reg(m) != 7,
        // XCHG r/m, reg.
        0x86 | 0x87 => true,
        // NOT, NEG.
        0xF6 | 0xF7 => matches!(modrm_reg(m), 2 | 3),
        // INC, DEC.
        0xFE | 0xFF => matches!(modrm_reg(m), 0 | 1),
        _ => false,
    };
    !lockable
}

/// Whether `opcode` takes a ModRM byte (one-byte 286 opcode map).
fn has_modrm(opcode: u8) -> bool {
    (opcode < 0x40 && opcode & 0x04 == 0)
        || matches!(opcode, 0x62 | 0x63 | 0x69 | 0x6B | 0x80..=0x8F | 0xC0 | 0xC1 | 0xC4..=0xC7 | 0xD0..=0xD3)
        || matches!(opcode, 0xD8..=0xDF | 0xF6 | 0xF7 | 0xFE | 0xFF)
}

/// Immediate bytes after the ModRM operand of a ModRM opcode.
fn modrm_imm_len(opcode: u8, reg: u8) -> usize {
    match opcode {
        0x6B | 0x80 | 0x82 | 0x83 | 0xC0 | 0xC1 | 0xC6 => 1,
        0x69 | 0x81 | 0xC7 => 2,
        0xF6 if reg < 2 => 1,
        0xF7 if reg < 2 => 2,
        _ => 0,
    }
}

/// The instruction's length: what the encoding implies for ModRM forms (the test's
/// bytes stop early for encodings the suite's disassembler calls "(bad)"), else the
/// test's bytes minus the HLT that follows.
fn insn_len(test: &TestCase) -> usize {
    let listed = test.bytes.len().saturating_sub(1);
    let Some((prefixes, opcode, Some(m))) = split(test) else {
        return listed;
    };
    if !has_modrm(opcode) {
        return listed;
    }
    let disp = match (m >> 6, m & 7) {
        (0, 6) | (2, _) => 2,
        (1, _) => 1,
        _ => 0,
    };
    listed.max(prefixes.len() + 2 + disp + modrm_imm_len(opcode, modrm_reg(m)))
}

/// Whether the instruction exceeds the 286's 10-byte limit.
fn longer_than_286_limit(test: &TestCase) -> bool {
    insn_len(test) > MAX_286_INSN_LEN
}

/// The #GP vector.
const GP: u8 = 13;

/// POP r/m (8F /0) where the 286 raised #GP.
fn pop_rm_faulted(test: &TestCase) -> bool {
    matches!(split(test), Some((_, 0x8F, Some(m))) if modrm_reg(m) == 0)
        && test.exception.is_some_and(|e| e.number == GP)
}

/// Whether a string instruction (MOVS/CMPS/STOS/LODS/SCAS/INS/OUTS) raised #GP.
fn string_op_faulted(test: &TestCase) -> bool {
    let string_op = matches!(split(test), Some((_, 0x6C..=0x6F | 0xA4..=0xA7 | 0xAA..=0xAF, _)));
    string_op && test.exception.is_some_and(|e| e.number == GP)
}

/// AAM with a zero immediate.
fn aam_zero(test: &TestCase) -> bool {
    matches!(split(test), Some((_, 0xD4, Some(0))))
}

/// Where a 16-bit ModRM operand lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Operand {
    /// Register number (ModRM.rm with mod = 3).
    Reg(u8),
    /// Memory at segment selector : offset.
    Mem(u16, u16),
}

/// Decodes the ModRM operand from the test's initial registers.
fn modrm_operand(test: &TestCase) -> Option<Operand> {
    let n = test.bytes.iter().take_while(|b| PREFIXES.contains(b)).count();
    let m = *test.bytes.get(n + 1)?;
    let (md, rm) = (m >> 6, m & 7);
    if md == MOD_REGISTER {
        return Some(Operand::Reg(rm));
    }
    let r = |reg: Reg| test.initial[reg as usize];
    let disp = |len: usize| -> Option<u16> {
        let b = test.bytes.get(n + 2..n + 2 + len)?;
        Some(match len {
            1 => b[0] as i8 as u16,
            _ => u16::from_le_bytes([b[0], b[1]]),
        })
    };
    let base = match rm {
        0 => r(Reg::Bx).wrapping_add(r(Reg::Si)),
        1 => r(Reg::Bx).wrapping_add(r(Reg::Di)),
        2 => r(Reg::Bp).wrapping_add(r(Reg::Si)),
        3 => r(Reg::Bp).wrapping_add(r(Reg::Di)),
        4 => r(Reg::Si),
        5 => r(Reg::Di),
        6 if md == 0 => 0,
        6 => r(Reg::Bp),
        _ => r(Reg::Bx),
    };
    let off = match (md, rm) {
        (0, 6) => disp(2)?,
        (0, _) => 0,
        (1, _) => disp(1)?,
        _ => disp(2)?,
    };
    let stack_based = matches!(rm, 2 | 3) || (rm == 6 && md != 0);
    let seg = match test.bytes[..n].iter().rev().find(|b| **b != LOCK && **b != 0xF2 && **b != 0xF3) {
        Some(0x26) => Reg::Es,
        Some(0x2E) => Reg::Cs,
        Some(0x36) => Reg::Ss,
        Some(0x3E) => Reg::Ds,
        _ if stack_based => Reg::Ss,
        _ => Reg::Ds,
    };
    Some(Operand::Mem(r(seg), base.wrapping_add(off)))
}

/// The initial byte at segment:offset (0 when the test does not list it).
fn initial_byte(test: &TestCase, seg: u16, off: u16) -> u8 {
    let addr = ((seg as u32) << 4) + off as u32;
    test.initial_ram.iter().find(|(a, _)| *a == addr).map_or(0, |(_, b)| *b)
}

/// IDIV (F6 /7, F7 /7) where the 286 raised nothing although the quotient does not fit.
fn idiv_overflow_missed(test: &TestCase) -> bool {
    let Some((_, opcode, _)) = split(test) else {
        return false;
    };
    let word = opcode == 0xF7;
    if test.exception.is_some() {
        return false;
    }
    let r = |reg: Reg| test.initial[reg as usize];
    let divisor: i32 = match modrm_operand(test) {
        Some(Operand::Reg(n)) if word => {
            let regs = [Reg::Ax, Reg::Cx, Reg::Dx, Reg::Bx, Reg::Sp, Reg::Bp, Reg::Si, Reg::Di];
            r(regs[n as usize]) as i16 as i32
        }
        Some(Operand::Reg(n)) => {
            let regs = [Reg::Ax, Reg::Cx, Reg::Dx, Reg::Bx];
            let v = r(regs[(n & 3) as usize]);
            (if n < 4 { v as u8 } else { (v >> 8) as u8 }) as i8 as i32
        }
        Some(Operand::Mem(seg, off)) if word => {
            u16::from_le_bytes([initial_byte(test, seg, off), initial_byte(test, seg, off.wrapping_add(1))]) as i16
                as i32
        }
        Some(Operand::Mem(seg, off)) => initial_byte(test, seg, off) as i8 as i32,
        None => return false,
    };
    if divisor == 0 {
        return false;
    }
    let (dividend, limit) = if word {
        (((r(Reg::Dx) as u32) << 16 | r(Reg::Ax) as u32) as i32 as i64, 1i64 << 15)
    } else {
        (r(Reg::Ax) as i16 as i64, 1i64 << 7)
    };
    let q = dividend / divisor as i64;
    !(-limit..limit).contains(&q)
}

/// Whether a MOV Sreg form names segment register 4 or 5.
fn sreg_is_fs_or_gs(test: &TestCase) -> bool {
    matches!(split(test), Some((_, _, Some(m))) if matches!(modrm_reg(m), 4 | 5))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_bytes(bytes: &[u8]) -> TestCase {
        TestCase { bytes: bytes.to_vec(), ..TestCase::default() }
    }

    #[test]
    fn lock_rules() {
        assert!(lock_is_ud_on_p6(&with_bytes(&[0xF0, 0x00, 0xE1, 0xF4]))); // add cl,ah
        assert!(!lock_is_ud_on_p6(&with_bytes(&[0xF0, 0x00, 0x5F, 0x0E, 0xF4]))); // add [bx+e],bl
        assert!(lock_is_ud_on_p6(&with_bytes(&[0x2E, 0xF0, 0x02, 0x07, 0xF4]))); // add al,[bx]
        assert!(lock_is_ud_on_p6(&with_bytes(&[0xF0, 0x80, 0x3F, 0x01, 0xF4]))); // cmp byte [bx],1
        assert!(!lock_is_ud_on_p6(&with_bytes(&[0x00, 0xE1, 0xF4])));
        assert!(lock_is_ud_on_p6(&with_bytes(&[0xF0, 0x06, 0xF4]))); // push es
    }

    #[test]
    fn skip_lookup() {
        let long = with_bytes(&[0x26, 0x36, 0x26, 0x3E, 0x3E, 0x81, 0x9B, 0xFB, 0xF4, 0x10, 0x56, 0xF4]);
        assert!(skip_reason("81.3", &long).is_some());
        assert!(skip_reason("8C", &with_bytes(&[0x8C, 0x23, 0xF4])).is_some());
        assert!(skip_reason("8C", &with_bytes(&[0x8C, 0x03, 0xF4])).is_none());
        assert!(skip_reason("00", &with_bytes(&[0x00, 0x03, 0xF4])).is_none());
        assert!(flags_pushed_at_sp("9c"));
    }

    #[test]
    fn lengths() {
        // Five prefixes, MOV r/m16,imm16 with disp16: 11 bytes although only 8 are listed.
        assert_eq!(insn_len(&with_bytes(&[0x2E, 0x3E, 0x26, 0x3E, 0x26, 0xC7, 0xB9, 0xF4])), 11);
        assert_eq!(insn_len(&with_bytes(&[0x00, 0x5F, 0x0E, 0xF4])), 3);
        assert_eq!(insn_len(&with_bytes(&[0x90, 0xF4])), 1);
        assert!(has_modrm(0x3B) && !has_modrm(0x3C) && !has_modrm(0x06) && has_modrm(0xFF));
    }

    #[test]
    fn idiv_overflow() {
        // idiv dh with AX = 0x8C60, DH = 0x67: quotient -287 does not fit in a byte.
        let mut t = with_bytes(&[0xF6, 0xFE, 0xF4]);
        t.initial[Reg::Ax as usize] = 0x8C60;
        t.initial[Reg::Dx as usize] = 0x67C9;
        assert!(idiv_overflow_missed(&t));
        t.initial[Reg::Ax as usize] = 0x0C60;
        assert!(!idiv_overflow_missed(&t));
    }

    #[test]
    fn modrm_addressing() {
        let mut t = with_bytes(&[0x26, 0xF7, 0x7A, 0xFE, 0xF4]); // idiv word [es:bp+si-2]
        t.initial[Reg::Bp as usize] = 0x1000;
        t.initial[Reg::Si as usize] = 0x0010;
        t.initial[Reg::Es as usize] = 0x2000;
        assert_eq!(modrm_operand(&t), Some(Operand::Mem(0x2000, 0x100E)));
        let mut t = with_bytes(&[0x8B, 0x46, 0x04, 0xF4]); // mov ax,[bp+4]
        t.initial[Reg::Ss as usize] = 0x3000;
        assert_eq!(modrm_operand(&t), Some(Operand::Mem(0x3000, 4)));
    }
}
