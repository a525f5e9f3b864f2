//! Making the host agree with the interpreter on flags the SDM leaves undefined.
//!
//! After MUL/IMUL the SDM leaves SF, ZF, AF and PF undefined; after a shift AF (and OF
//! for counts above 1), after a rotate by more than 1 OF. The interpreter defines them
//! (see `ferrite_cpu`'s muldiv.rs and shift.rs); the host CPU may not agree. Where those
//! flags are dead the native instruction is exact as it is. Where they are live — at
//! the end of nearly every block, since everything is live out of one — the native
//! instruction is followed by a short fix-up that recomputes them from the result the
//! way the interpreter does, instead of handing the instruction to the interpreter:
//!
//! - a product: `add low, 0` sets SF, ZF and PF from the low part and clears AF (and CF
//!   and OF); `lahf`, CF from the saved OF, `add r8b, 0x7F` for OF, `sahf` put CF = OF =
//!   "the product did not fit" back;
//! - a shift or rotate: the result (register, or memory at `[R8]` right after the native
//!   access) goes to R9; `lahf`, then AF (SHL: bit 4 of the result; SHR/SAR: set;
//!   rotates: kept) and OF (SHL/ROL: MSB xor CF; SHR/ROR: xor of the two top bits; SAR:
//!   clear) are rebuilt, and `sahf` with the `add r8b, 0x7F` trick loads them.
//!
//! Guest EAX is parked in R10 around `lahf`/`sahf`; R8, R9 and R10 are scratch. Each
//! fix-up is idempotent (it recomputes from the result with the interpreter's formulas), so
//! it is also right after flags the interpreter produced.

// `dynasm!` converts dynamic register numbers with `.into()`, which clippy flags.
#![allow(clippy::useless_conversion)]

use crate::emit::{host_gpr, Asm};
use dynasmrt::{dynasm, DynasmApi};
use iced_x86::{Instruction, Mnemonic, OpKind};

/// The kind of shift or rotate a fix-up rebuilds AF and OF for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ShiftOp {
    /// SHL / SAL.
    Shl,
    /// SHR.
    Shr,
    /// SAR.
    Sar,
    /// ROL.
    Rol,
    /// ROR.
    Ror,
}

/// Where the result of a shift or rotate is after the native instruction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ResultAt {
    /// A host register (8-bit forms: AL, CL, DL or BL only).
    Reg(u8),
    /// Memory at `[R8]` (the probed host address).
    Mem,
}

/// One fix-up after a native instruction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FlagFix {
    /// MUL / IMUL: SF, ZF, PF from the low part of the product in host register `reg`
    /// (`bits` wide), AF clear, CF = OF kept.
    Product { reg: u8, bits: u32 },
    /// A shift or rotate of a `bits`-wide operand.
    Shift { op: ShiftOp, at: ResultAt, bits: u32 },
}

/// The fix-up that makes `ins` (planned native) exact whatever flags are live after it;
/// `None` when there is none and the interpreter must run it.
pub(crate) fn plan(ins: &Instruction) -> Option<FlagFix> {
    let bits = match ins.op_kind(0) {
        OpKind::Register => ins.op0_register().size() as u32 * 8,
        OpKind::Memory => ins.memory_size().size() as u32 * 8,
        _ => return None,
    };
    if !matches!(bits, 8 | 16 | 32) {
        return None;
    }
    let op = match ins.mnemonic() {
        Mnemonic::Mul | Mnemonic::Imul => {
            // One operand: the low half is AL/AX/EAX; otherwise the destination register.
            let reg = if ins.op_count() == 1 {
                0
            } else {
                let r = ins.op0_register();
                if !(r.is_gpr16() || r.is_gpr32()) {
                    return None;
                }
                host_gpr(r.number() as u8)
            };
            return Some(FlagFix::Product { reg, bits });
        }
        Mnemonic::Shl | Mnemonic::Sal => ShiftOp::Shl,
        Mnemonic::Shr => ShiftOp::Shr,
        Mnemonic::Sar => ShiftOp::Sar,
        Mnemonic::Rol => ShiftOp::Rol,
        Mnemonic::Ror => ShiftOp::Ror,
        _ => return None,
    };
    // Immediate counts (or the implicit 1) only: a count in CL may be 0 or past the width.
    if ins.op_count() > 1 && ins.op1_kind() != OpKind::Immediate8 {
        return None;
    }
    let at = match ins.op0_kind() {
        OpKind::Register => {
            let r = ins.op0_register();
            if r.is_gpr8() && r.number() >= 4 {
                return None; // AH..BH: not addressable next to a REX prefix
            }
            ResultAt::Reg(host_gpr(r.number() as u8))
        }
        _ => ResultAt::Mem,
    };
    Some(FlagFix::Shift { op, at, bits })
}

/// Emits the fix-up right after the native instruction (clobbers R8, R9, R10).
pub(crate) fn emit(ops: &mut Asm, fix: FlagFix) {
    match fix {
        FlagFix::Product { reg, bits } => {
            dynasm!(ops ; .arch x64 ; seto r9b);
            match bits {
                8 => dynasm!(ops ; .arch x64 ; add Rb(reg), 0),
                16 => dynasm!(ops ; .arch x64 ; add Rw(reg), 0),
                _ => dynasm!(ops ; .arch x64 ; add Rd(reg), 0),
            }
            dynasm!(ops
                ; .arch x64
                ; mov r10, rax
                ; lahf
                ; mov al, r9b // AH cannot sit next to a REX register
                ; or ah, al
                ; add r9b, 0x7F
                ; sahf
                ; mov rax, r10
            );
        }
        FlagFix::Shift { op, at, bits } => {
            match (at, bits) {
                (ResultAt::Reg(r), 32) => dynasm!(ops ; .arch x64 ; mov r9d, Rd(r)),
                (ResultAt::Reg(r), 16) => dynasm!(ops ; .arch x64 ; movzx r9d, Rw(r)),
                (ResultAt::Reg(r), _) => dynasm!(ops ; .arch x64 ; movzx r9d, Rb(r)),
                (ResultAt::Mem, 32) => dynasm!(ops ; .arch x64 ; mov r9d, DWORD [r8]),
                (ResultAt::Mem, 16) => dynasm!(ops ; .arch x64 ; movzx r9d, WORD [r8]),
                (ResultAt::Mem, _) => dynasm!(ops ; .arch x64 ; movzx r9d, BYTE [r8]),
            }
            dynasm!(ops ; .arch x64 ; mov r10, rax ; lahf);
            match op {
                ShiftOp::Shl => dynasm!(ops
                    ; .arch x64
                    ; and ah, -0x11i8 // clear AF (0x10)
                    ; mov al, r9b
                    ; and al, 0x10
                    ; or ah, al
                ),
                ShiftOp::Shr | ShiftOp::Sar => dynasm!(ops ; .arch x64 ; or ah, 0x10),
                ShiftOp::Rol | ShiftOp::Ror => {}
            }
            match op {
                ShiftOp::Shl | ShiftOp::Rol => dynasm!(ops
                    ; .arch x64
                    ; mov r8d, r9d
                    ; shr r8d, (bits - 1) as i8
                    ; mov al, ah
                    ; and al, 1
                    ; xor r8b, al
                ),
                ShiftOp::Shr | ShiftOp::Ror => dynasm!(ops
                    ; .arch x64
                    ; mov r8d, r9d
                    ; shr r8d, (bits - 2) as i8
                    ; mov al, r8b
                    ; shr al, 1
                    ; xor r8b, al
                    ; and r8b, 1
                ),
                ShiftOp::Sar => dynasm!(ops ; .arch x64 ; xor r8d, r8d),
            }
            dynasm!(ops
                ; .arch x64
                ; add r8b, 0x7F
                ; sahf
                ; mov rax, r10
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use iced_x86::{Decoder, DecoderOptions};

    fn decode(bytes: &[u8]) -> Instruction {
        Decoder::with_ip(32, bytes, 0, DecoderOptions::NONE).decode()
    }

    #[test]
    fn test_plan_products_name_the_low_half() {
        // imul eax, ecx
        assert_eq!(plan(&decode(&[0x0F, 0xAF, 0xC1])), Some(FlagFix::Product { reg: 0, bits: 32 }));
        // imul esp, [ebx], 3 → guest ESP lives in R12
        assert_eq!(plan(&decode(&[0x6B, 0x23, 0x03])), Some(FlagFix::Product { reg: 12, bits: 32 }));
        // mul bl: the low half is AL
        assert_eq!(plan(&decode(&[0xF6, 0xE3])), Some(FlagFix::Product { reg: 0, bits: 8 }));
        // mul word [ebx]
        assert_eq!(plan(&decode(&[0x66, 0xF7, 0x23])), Some(FlagFix::Product { reg: 0, bits: 16 }));
    }

    #[test]
    fn test_plan_shifts_by_immediate_only() {
        // shl edx, 3
        let shl = FlagFix::Shift { op: ShiftOp::Shl, at: ResultAt::Reg(2), bits: 32 };
        assert_eq!(plan(&decode(&[0xC1, 0xE2, 0x03])), Some(shl));
        // shr byte [eax], 1
        let shr = FlagFix::Shift { op: ShiftOp::Shr, at: ResultAt::Mem, bits: 8 };
        assert_eq!(plan(&decode(&[0xD0, 0x28])), Some(shr));
        // shl eax, cl: the count may be 0 or past the width
        assert_eq!(plan(&decode(&[0xD3, 0xE0])), None);
        // shr ah, 2: a high-byte register
        assert_eq!(plan(&decode(&[0xC0, 0xEC, 0x02])), None);
        // add eax, 1: nothing to fix
        assert_eq!(plan(&decode(&[0x83, 0xC0, 0x01])), None);
    }
}
