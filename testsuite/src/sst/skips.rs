//! The one list of places where ferrite may differ from the suite: where a P6-class CPU
//! (what ferrite emulates) legitimately behaves differently from the 80286 the suite was
//! captured on. Every entry names its forms, optionally narrows them to some tests, and
//! says why; each was decided from the data (what the 286 recorded), not guessed.
//! Emulator bugs never belong here.

use super::format::TestCase;

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
];

/// Forms whose own FLAGS push (at the final SS:SP) gets the FLAGS mask, i.e. bits 12–15
/// ignored: in real mode the 286 always pushes them as zero, a P6 pushes IOPL and NT as
/// they are, and the capture randomised them in the initial state.
pub const FLAGS_PUSHED_AT_SP: &[&str] = &["9C"];

/// Why `test` of `form` is skipped, if it is.
pub fn skip_reason(form: &str, test: &TestCase) -> Option<&'static str> {
    SKIPS
        .iter()
        .find(|s| (s.form == "*" || s.form.eq_ignore_ascii_case(form)) && s.when.map_or(true, |when| when(test)))
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
    let Some((prefixes, opcode, modrm)) = split(test) else { return false };
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

/// Whether the instruction (the test's bytes minus the HLT that follows) exceeds 10 bytes.
fn longer_than_286_limit(test: &TestCase) -> bool {
    test.bytes.len().saturating_sub(1) > MAX_286_INSN_LEN
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
}
