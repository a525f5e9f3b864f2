//! Instruction families by mnemonic, shared by the interpreter's dispatch and the
//! translator's planner so both engines agree on what a condition-code family is.

use iced_x86::Mnemonic;

/// The sixteen conditional near jumps (Jcc).
pub fn is_jcc(m: Mnemonic) -> bool {
    use Mnemonic as M;
    matches!(
        m,
        M::Jo
            | M::Jno
            | M::Jb
            | M::Jae
            | M::Je
            | M::Jne
            | M::Jbe
            | M::Ja
            | M::Js
            | M::Jns
            | M::Jp
            | M::Jnp
            | M::Jl
            | M::Jge
            | M::Jle
            | M::Jg
    )
}

/// The sixteen SETcc.
pub fn is_setcc(m: Mnemonic) -> bool {
    use Mnemonic as M;
    matches!(
        m,
        M::Seto
            | M::Setno
            | M::Setb
            | M::Setae
            | M::Sete
            | M::Setne
            | M::Setbe
            | M::Seta
            | M::Sets
            | M::Setns
            | M::Setp
            | M::Setnp
            | M::Setl
            | M::Setge
            | M::Setle
            | M::Setg
    )
}

/// The sixteen CMOVcc.
pub fn is_cmovcc(m: Mnemonic) -> bool {
    use Mnemonic as M;
    matches!(
        m,
        M::Cmovo
            | M::Cmovno
            | M::Cmovb
            | M::Cmovae
            | M::Cmove
            | M::Cmovne
            | M::Cmovbe
            | M::Cmova
            | M::Cmovs
            | M::Cmovns
            | M::Cmovp
            | M::Cmovnp
            | M::Cmovl
            | M::Cmovge
            | M::Cmovle
            | M::Cmovg
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use iced_x86::{Decoder, DecoderOptions};

    #[test]
    fn test_families_cover_all_sixteen_conditions() {
        // Jcc rel8 (70..7F), SETcc (0F 90..9F) and CMOVcc (0F 40..4F) for every condition.
        for cc in 0u8..16 {
            let decode = |bytes: &[u8]| Decoder::new(32, bytes, DecoderOptions::NONE).decode().mnemonic();
            assert!(is_jcc(decode(&[0x70 + cc, 0])), "Jcc {cc}");
            assert!(is_setcc(decode(&[0x0F, 0x90 + cc, 0xC0])), "SETcc {cc}");
            assert!(is_cmovcc(decode(&[0x0F, 0x40 + cc, 0xC0])), "CMOVcc {cc}");
        }
        assert!(!is_jcc(Mnemonic::Jmp) && !is_setcc(Mnemonic::Mov) && !is_cmovcc(Mnemonic::Mov));
    }
}
