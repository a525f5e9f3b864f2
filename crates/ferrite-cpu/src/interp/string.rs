//! String instructions with REP/REPE/REPNE: MOVS, CMPS, STOS, LODS, SCAS, INS, OUTS.
//!
//! Each element is one step that reads and writes through the ordinary segment-checked
//! memory path and then advances SI/DI. Under a repeat prefix the count register (CX or
//! ECX, chosen by the address size) is written back after every completed element, so an
//! exception in the middle leaves the registers describing exactly the work done and the
//! instruction restarts where it stopped. A long repeat runs in slices of
//! [`REP_ITERATION_CAP`] elements: when a slice ends with work left, EIP is rewound to the
//! instruction so the run loop can take interrupts before it resumes.

use super::Exec;
use crate::fault::Fault;
use crate::flags::{size_mask, sub_flags, Flags};
use crate::memory::Access;
use crate::state::{Gpr, SegReg};
use iced_x86::{Instruction, Mnemonic, OpKind};

/// Most elements one execution of a repeated string instruction processes before it
/// rewinds EIP to itself and lets the run loop service interrupts.
pub(crate) const REP_ITERATION_CAP: u32 = 4096;

/// The seven string operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StrOp {
    /// `[ES:DI] ← [seg:SI]`.
    Movs,
    /// Compare `[seg:SI]` with `[ES:DI]`.
    Cmps,
    /// `[ES:DI] ← accumulator`.
    Stos,
    /// `accumulator ← [seg:SI]`.
    Lods,
    /// Compare the accumulator with `[ES:DI]`.
    Scas,
    /// `[ES:DI] ← port DX`.
    Ins,
    /// `port DX ← [seg:SI]`.
    Outs,
}

impl StrOp {
    /// Whether the operation compares, so REPE/REPNE also stop on ZF.
    fn compares(self) -> bool {
        matches!(self, StrOp::Cmps | StrOp::Scas)
    }

    /// Whether the operation touches an I/O port.
    fn is_io(self) -> bool {
        matches!(self, StrOp::Ins | StrOp::Outs)
    }
}

/// How a prefix repeats the operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Repeat {
    /// No prefix: one element.
    Once,
    /// REP: until the count is exhausted.
    Count,
    /// REPE/REPZ on CMPS/SCAS: also stop when ZF is clear.
    WhileEqual,
    /// REPNE/REPNZ on CMPS/SCAS: also stop when ZF is set.
    WhileNotEqual,
}

/// Everything one element of a string instruction needs, worked out once per execution.
#[derive(Debug, Clone, Copy)]
struct StrParams {
    op: StrOp,
    /// Element size in bytes (1, 2 or 4).
    size: u8,
    /// 32-bit addressing: ESI/EDI/ECX instead of SI/DI/CX.
    addr32: bool,
    /// Segment of the source operand at SI (overridable); the destination is always ES.
    src_seg: SegReg,
}

/// Splits a string mnemonic into its operation and element size.
fn classify(m: Mnemonic) -> Option<(StrOp, u8)> {
    use Mnemonic as M;
    Some(match m {
        M::Movsb => (StrOp::Movs, 1),
        M::Movsw => (StrOp::Movs, 2),
        M::Movsd => (StrOp::Movs, 4),
        M::Cmpsb => (StrOp::Cmps, 1),
        M::Cmpsw => (StrOp::Cmps, 2),
        M::Cmpsd => (StrOp::Cmps, 4),
        M::Stosb => (StrOp::Stos, 1),
        M::Stosw => (StrOp::Stos, 2),
        M::Stosd => (StrOp::Stos, 4),
        M::Lodsb => (StrOp::Lods, 1),
        M::Lodsw => (StrOp::Lods, 2),
        M::Lodsd => (StrOp::Lods, 4),
        M::Scasb => (StrOp::Scas, 1),
        M::Scasw => (StrOp::Scas, 2),
        M::Scasd => (StrOp::Scas, 4),
        M::Insb => (StrOp::Ins, 1),
        M::Insw => (StrOp::Ins, 2),
        M::Insd => (StrOp::Ins, 4),
        M::Outsb => (StrOp::Outs, 1),
        M::Outsw => (StrOp::Outs, 2),
        M::Outsd => (StrOp::Outs, 4),
        _ => return None,
    })
}

/// The address size of a string instruction, from its implicit memory operands:
/// `Some(true)` for ESI/EDI, `Some(false)` for SI/DI.
fn string_addr32(ins: &Instruction) -> Option<bool> {
    (0..ins.op_count()).find_map(|i| match ins.op_kind(i) {
        OpKind::MemorySegSI | OpKind::MemorySegDI | OpKind::MemoryESDI => Some(false),
        OpKind::MemorySegESI | OpKind::MemorySegEDI | OpKind::MemoryESEDI => Some(true),
        _ => None,
    })
}

/// Which repeat a string instruction's prefixes ask for.
fn repeat_of(ins: &Instruction, op: StrOp) -> Repeat {
    match (ins.has_repe_prefix(), ins.has_repne_prefix(), op.compares()) {
        (false, false, _) => Repeat::Once,
        (_, _, false) => Repeat::Count,
        (true, _, true) => Repeat::WhileEqual,
        (false, true, true) => Repeat::WhileNotEqual,
    }
}

impl Exec<'_> {
    /// Executes a string instruction, with or without a repeat prefix.
    pub(super) fn exec_string(&mut self, ins: &Instruction) -> Result<(), Fault> {
        let (op, size) = classify(ins.mnemonic()).ok_or(Fault::UD)?;
        let addr32 = string_addr32(ins).ok_or(Fault::UD)?;
        let src_seg = if matches!(op, StrOp::Movs | StrOp::Cmps | StrOp::Lods | StrOp::Outs) {
            self.mem_seg(ins)
        } else {
            SegReg::Es
        };
        let p = StrParams { op, size, addr32, src_seg };
        if op.is_io() {
            // IOPL, or the TSS I/O permission bitmap, checked once per instruction.
            self.check_io(self.port(), size)?;
            // Port I/O may change what the board wants (IRQs, stop requests).
            self.end_block = true;
        }
        let repeat = repeat_of(ins, op);
        if repeat == Repeat::Once {
            return self.string_element(&p);
        }
        // Under single-step every element traps on its own, as on hardware.
        let cap = if self.cpu.eflags & Flags::TF != 0 { 1 } else { REP_ITERATION_CAP };
        let mut count = self.index(Gpr::Ecx, addr32);
        let mut done = 0;
        while count != 0 {
            // A data breakpoint hit traps between elements, as a single step does.
            if done == cap || self.cpu.dbg.pending != 0 {
                // Out of slice with work left: run this instruction again next time.
                self.cpu.eip = self.cpu.cur_eip;
                self.end_block = true;
                return Ok(());
            }
            self.string_element(&p)?;
            count = count.wrapping_sub(1) & addr_mask(addr32);
            self.set_index(Gpr::Ecx, addr32, count);
            done += 1;
            let zf = self.cpu.eflags & Flags::ZF != 0;
            let stop = match repeat {
                Repeat::WhileEqual => !zf,
                Repeat::WhileNotEqual => zf,
                Repeat::Once | Repeat::Count => false,
            };
            if stop {
                break;
            }
        }
        Ok(())
    }

    /// Performs one element: the access(es), the flags for compares, and the SI/DI
    /// advance. Registers change only after every access of the element succeeded.
    fn string_element(&mut self, p: &StrParams) -> Result<(), Fault> {
        let size = p.size;
        let si = self.index(Gpr::Esi, p.addr32);
        let di = self.index(Gpr::Edi, p.addr32);
        let (adv_si, adv_di) = match p.op {
            StrOp::Movs => {
                let v = self.read_mem(p.src_seg, si, size)?;
                self.write_mem(SegReg::Es, di, size, v)?;
                (true, true)
            }
            StrOp::Cmps => {
                let a = self.read_mem(p.src_seg, si, size)?;
                let b = self.read_mem(SegReg::Es, di, size)?;
                let (_, f) = sub_flags(a, b, 0, size);
                self.set_flags(Flags::ARITH, f);
                (true, true)
            }
            StrOp::Stos => {
                let v = self.cpu.gpr[Gpr::Eax as usize] & size_mask(size);
                self.write_mem(SegReg::Es, di, size, v)?;
                (false, true)
            }
            StrOp::Lods => {
                let v = self.read_mem(p.src_seg, si, size)?;
                self.set_accumulator(size, v);
                (true, false)
            }
            StrOp::Scas => {
                let a = self.cpu.gpr[Gpr::Eax as usize];
                let b = self.read_mem(SegReg::Es, di, size)?;
                let (_, f) = sub_flags(a, b, 0, size);
                self.set_flags(Flags::ARITH, f);
                (false, true)
            }
            StrOp::Ins => {
                // Fault on the destination before the port read has side effects.
                self.probe_write(SegReg::Es, di, size)?;
                let v = self.io.io_read(self.port(), size);
                self.write_mem(SegReg::Es, di, size, v)?;
                (false, true)
            }
            StrOp::Outs => {
                let v = self.read_mem(p.src_seg, si, size)?;
                self.io.io_write(self.port(), size, v);
                (true, false)
            }
        };
        let step = if self.cpu.eflags & Flags::DF != 0 { (size as u32).wrapping_neg() } else { size as u32 };
        if adv_si {
            self.set_index(Gpr::Esi, p.addr32, si.wrapping_add(step));
        }
        if adv_di {
            self.set_index(Gpr::Edi, p.addr32, di.wrapping_add(step));
        }
        Ok(())
    }

    /// The port in DX that INS/OUTS use.
    fn port(&self) -> u16 {
        self.cpu.reg16(Gpr::Edx)
    }

    /// Reads SI/DI/CX (`addr32` false) or ESI/EDI/ECX.
    fn index(&self, r: Gpr, addr32: bool) -> u32 {
        self.cpu.gpr[r as usize] & addr_mask(addr32)
    }

    /// Writes SI/DI/CX (keeping the upper half of the 32-bit register) or ESI/EDI/ECX.
    fn set_index(&mut self, r: Gpr, addr32: bool, v: u32) {
        if addr32 {
            self.cpu.gpr[r as usize] = v;
        } else {
            self.cpu.set_reg16(r, v as u16);
        }
    }

    /// Writes AL, AX or EAX (the narrower forms keep the other bits of EAX).
    fn set_accumulator(&mut self, size: u8, v: u32) {
        let mask = size_mask(size);
        let eax = &mut self.cpu.gpr[Gpr::Eax as usize];
        *eax = (*eax & !mask) | (v & mask);
    }

    /// Raises the fault a write of `size` bytes at `seg:offset` would raise, without
    /// writing anything.
    fn probe_write(&mut self, seg: SegReg, offset: u32, size: u8) -> Result<(), Fault> {
        let lin = self.linear(seg, offset, size, Access::Write)?;
        self.translate(lin, Access::Write)?;
        self.translate(lin.wrapping_add(size as u32 - 1), Access::Write)?;
        Ok(())
    }
}

/// The offset mask of an address size.
fn addr_mask(addr32: bool) -> u32 {
    if addr32 {
        u32::MAX
    } else {
        u16::MAX as u32
    }
}

#[cfg(test)]
mod tests {
    use super::REP_ITERATION_CAP;
    use crate::flags::Flags;
    use crate::state::{Gpr, SegReg};
    use crate::tests::{asm16, hlt_handler, read_u16, run_real_on, run_real_setup};
    use crate::{Cpu, IoBus};
    use iced_x86::code_asm::*;

    /// Where test data is read from and written to.
    const SRC: u32 = 0x1000;
    const DST: u32 = 0x2000;
    /// Where exception handlers (a HLT) are placed.
    const HANDLER: u16 = 0x600;
    /// Vector of #GP.
    const GP_VECTOR: u8 = 13;

    fn r16(cpu: &Cpu, r: Gpr) -> u32 {
        cpu.gpr[r as usize] & 0xFFFF
    }

    fn bytes_at(mem: &ferrite_mem::PhysMem, addr: u32, n: usize) -> Vec<u8> {
        (0..n as u32).map(|i| mem.read_u8(addr + i)).collect()
    }

    #[test]
    fn test_rep_movsb_copies_forward_and_advances_pointers() {
        let code = asm16(|a| {
            a.mov(si, SRC)?;
            a.mov(di, DST)?;
            a.mov(cx, 5u32)?;
            a.cld()?;
            a.rep().movsb()?;
            a.hlt()
        });
        let (cpu, mem) = run_real_setup(&code, |_, m| m.write_bytes(SRC, b"hello"));
        assert_eq!(bytes_at(&mem, DST, 5), b"hello");
        assert_eq!(r16(&cpu, Gpr::Esi), SRC + 5);
        assert_eq!(r16(&cpu, Gpr::Edi), DST + 5);
        assert_eq!(r16(&cpu, Gpr::Ecx), 0);
    }

    #[test]
    fn test_rep_movsb_copies_backwards_with_df() {
        let code = asm16(|a| {
            a.mov(si, SRC + 4)?;
            a.mov(di, DST + 4)?;
            a.mov(cx, 5u32)?;
            a.std()?;
            a.rep().movsb()?;
            a.hlt()
        });
        let (cpu, mem) = run_real_setup(&code, |_, m| m.write_bytes(SRC, b"world"));
        assert_eq!(bytes_at(&mem, DST, 5), b"world");
        assert_eq!(r16(&cpu, Gpr::Esi), SRC - 1);
        assert_eq!(r16(&cpu, Gpr::Edi), DST - 1);
        assert_eq!(r16(&cpu, Gpr::Ecx), 0);
    }

    #[test]
    fn test_rep_with_zero_count_touches_nothing() {
        // A word at 0xFFFF would raise #GP, but with CX = 0 nothing is accessed.
        let code = asm16(|a| {
            a.mov(si, 0xFFFFu32)?;
            a.mov(di, 0xFFFFu32)?;
            a.xor(cx, cx)?;
            a.rep().movsw()?;
            a.hlt()
        });
        let (cpu, _) = run_real_setup(&code, |_, m| hlt_handler(m, GP_VECTOR, HANDLER));
        assert_eq!(cpu.eip, 0x100 + code.len() as u32, "stopped at the program's HLT, not the #GP handler");
        assert_eq!(r16(&cpu, Gpr::Esi), 0xFFFF);
        assert_eq!(r16(&cpu, Gpr::Edi), 0xFFFF);
    }

    #[test]
    fn test_movsb_honours_source_segment_override_but_writes_es() {
        // ES = 0x100: ES:0000 is SRC and ES:1000 is DST; DS:0000 is the IVT.
        let code = asm16(|a| {
            a.mov(ax, 0x100u32)?;
            a.mov(es, ax)?;
            a.xor(si, si)?;
            a.mov(di, 0x1000u32)?;
            a.db(&[0x26, 0xA4])?; // es movsb
            a.hlt()
        });
        let (cpu, mem) = run_real_setup(&code, |_, m| m.write_u8(SRC, 0x5A));
        assert_eq!(mem.read_u8(DST), 0x5A);
        assert_eq!(r16(&cpu, Gpr::Esi), 1);
        assert_eq!(r16(&cpu, Gpr::Edi), 0x1001);
    }

    #[test]
    fn test_repe_cmpsb_stops_at_first_difference() {
        let code = asm16(|a| {
            a.mov(si, SRC)?;
            a.mov(di, DST)?;
            a.mov(cx, 4u32)?;
            a.repe().cmpsb()?;
            a.hlt()
        });
        let (cpu, _) = run_real_setup(&code, |_, m| {
            m.write_bytes(SRC, b"ABCD");
            m.write_bytes(DST, b"ABXD");
        });
        assert_eq!(r16(&cpu, Gpr::Ecx), 1, "three elements compared");
        assert_eq!(r16(&cpu, Gpr::Esi), SRC + 3);
        assert_eq!(r16(&cpu, Gpr::Edi), DST + 3);
        assert_eq!(cpu.eflags & Flags::ZF, 0);
        assert_ne!(cpu.eflags & Flags::CF, 0, "'C' - 'X' borrows");
    }

    #[test]
    fn test_repne_scasb_finds_the_accumulator_byte() {
        let code = asm16(|a| {
            a.mov(al, b'D' as u32)?;
            a.mov(di, DST)?;
            a.mov(cx, 10u32)?;
            a.repne().scasb()?;
            a.hlt()
        });
        let (cpu, _) = run_real_setup(&code, |_, m| m.write_bytes(DST, b"ABCDEFGHIJ"));
        assert_eq!(r16(&cpu, Gpr::Ecx), 6);
        assert_eq!(r16(&cpu, Gpr::Edi), DST + 4);
        assert_ne!(cpu.eflags & Flags::ZF, 0);
    }

    #[test]
    fn test_repe_scasw_runs_out_of_count_with_zf_set() {
        let code = asm16(|a| {
            a.mov(ax, 0x1234u32)?;
            a.mov(di, DST)?;
            a.mov(cx, 3u32)?;
            a.repe().scasw()?;
            a.hlt()
        });
        let (cpu, _) = run_real_setup(&code, |_, m| m.write_bytes(DST, &[0x34, 0x12, 0x34, 0x12, 0x34, 0x12]));
        assert_eq!(r16(&cpu, Gpr::Ecx), 0);
        assert_eq!(r16(&cpu, Gpr::Edi), DST + 6);
        assert_ne!(cpu.eflags & Flags::ZF, 0);
    }

    #[test]
    fn test_rep_stosw_then_lodsd_move_the_accumulator() {
        let code = asm16(|a| {
            a.mov(ax, 0xBEEFu32)?;
            a.mov(di, DST)?;
            a.mov(cx, 3u32)?;
            a.rep().stosw()?;
            a.mov(si, DST)?;
            a.lodsd()?;
            a.hlt()
        });
        let (cpu, mem) = run_real_setup(&code, |_, _| {});
        assert_eq!(bytes_at(&mem, DST, 7), [0xEF, 0xBE, 0xEF, 0xBE, 0xEF, 0xBE, 0x00]);
        assert_eq!(r16(&cpu, Gpr::Edi), DST + 6);
        assert_eq!(cpu.gpr[Gpr::Eax as usize], 0xBEEF_BEEF);
        assert_eq!(r16(&cpu, Gpr::Esi), DST + 4);
    }

    #[test]
    fn test_lodsb_keeps_the_upper_accumulator_bits() {
        let code = asm16(|a| {
            a.mov(eax, 0x1234_5678u32)?;
            a.mov(si, SRC)?;
            a.lodsb()?;
            a.hlt()
        });
        let (cpu, _) = run_real_setup(&code, |_, m| m.write_u8(SRC, 0xAA));
        assert_eq!(cpu.gpr[Gpr::Eax as usize], 0x1234_56AA);
    }

    #[test]
    fn test_16bit_addressing_wraps_si_and_keeps_upper_register_halves() {
        let code = asm16(|a| {
            a.mov(esi, 0x1234_FFFFu32)?;
            a.mov(edi, DST)?;
            a.mov(ecx, 0xABCD_0002u32)?;
            a.rep().movsb()?;
            a.hlt()
        });
        let (cpu, mem) = run_real_setup(&code, |_, m| {
            m.write_u8(0xFFFF, 0x11);
            m.write_u8(0x0000, 0x22);
        });
        assert_eq!(cpu.gpr[Gpr::Esi as usize], 0x1234_0001);
        assert_eq!(cpu.gpr[Gpr::Ecx as usize], 0xABCD_0000);
        assert_eq!(bytes_at(&mem, DST, 2), [0x11, 0x22]);
    }

    #[test]
    fn test_address_size_prefix_uses_esi_edi_and_ecx() {
        let code = asm16(|a| {
            a.mov(esi, 0xFFFEu32)?;
            a.mov(edi, DST)?;
            a.mov(ecx, 2u32)?;
            a.db(&[0x67, 0xF3, 0xA4])?; // a32 rep movsb
            a.hlt()
        });
        let (cpu, mem) = run_real_setup(&code, |_, m| m.write_bytes(0xFFFE, &[0x33, 0x44]));
        assert_eq!(cpu.gpr[Gpr::Esi as usize], 0x1_0000, "ESI does not wrap at 64 KiB");
        assert_eq!(cpu.gpr[Gpr::Edi as usize], DST + 2);
        assert_eq!(cpu.gpr[Gpr::Ecx as usize], 0);
        assert_eq!(bytes_at(&mem, DST, 2), [0x33, 0x44]);
    }

    #[test]
    fn test_rep_movsw_fault_midway_keeps_completed_iterations() {
        // Words at FFFB and FFFD copy; the word at FFFF crosses the limit: #GP.
        let prologue = asm16(|a| {
            a.mov(si, 0xFFFBu32)?;
            a.mov(di, DST)?;
            a.mov(cx, 5u32)
        });
        let mut code = prologue.clone();
        code.extend_from_slice(&[0xF3, 0xA5, 0xF4]); // rep movsw; hlt
        let (cpu, mem) = run_real_setup(&code, |_, m| hlt_handler(m, GP_VECTOR, HANDLER));
        assert_eq!(cpu.eip, HANDLER as u32 + 1, "halted in the #GP handler");
        assert_eq!(r16(&cpu, Gpr::Esi), 0xFFFF);
        assert_eq!(r16(&cpu, Gpr::Edi), DST + 4);
        assert_eq!(r16(&cpu, Gpr::Ecx), 3);
        let pushed_ip = read_u16(&mem, 0x8000 - 6);
        assert_eq!(pushed_ip as usize, 0x100 + prologue.len(), "returns to the REP prefix to restart");
    }

    #[test]
    fn test_rep_stosb_beyond_the_iteration_cap_resumes_and_completes() {
        let count = REP_ITERATION_CAP + 10;
        let code = asm16(|a| {
            a.mov(ax, DST >> 4)?;
            a.mov(es, ax)?;
            a.xor(di, di)?;
            a.mov(cx, count)?;
            a.mov(al, 0x5Au32)?;
            a.rep().stosb()?;
            a.hlt()
        });
        let (cpu, mem) = run_real_setup(&code, |_, _| {});
        assert_eq!(r16(&cpu, Gpr::Ecx), 0);
        assert_eq!(r16(&cpu, Gpr::Edi), count);
        assert_eq!(mem.read_u8(DST + count - 1), 0x5A);
        assert_eq!(mem.read_u8(DST + count), 0);
        // Seven instructions, the REP executed twice (one slice, then the rest).
        assert_eq!(cpu.insns, 8);
        assert_eq!(cpu.seg[SegReg::Es as usize].base, DST);
    }

    #[test]
    fn test_rep_under_single_step_traps_after_every_element() {
        // #DB handler: inc word [0x500]; iret.
        const COUNTER: u32 = 0x500;
        let code = asm16(|a| {
            a.mov(si, SRC)?;
            a.mov(di, DST)?;
            a.mov(cx, 3u32)?;
            a.pushf()?;
            a.pop(ax)?;
            a.or(ax, Flags::TF)?;
            a.push(ax)?;
            a.popf()?;
            a.rep().movsb()?;
            a.hlt()
        });
        let (cpu, mem) = run_real_setup(&code, |_, m| {
            m.write_bytes(0x4, &[HANDLER as u8, (HANDLER >> 8) as u8, 0, 0]);
            m.write_bytes(HANDLER as u32, &[0xFF, 0x06, COUNTER as u8, (COUNTER >> 8) as u8, 0xCF]);
            m.write_bytes(SRC, b"xyz");
        });
        assert_eq!(read_u16(&mem, COUNTER), 3, "one trap per element");
        assert_eq!(bytes_at(&mem, DST, 3), b"xyz");
        assert_eq!(r16(&cpu, Gpr::Ecx), 0);
    }

    #[test]
    fn test_rep_stosb_stops_after_the_element_that_hits_a_data_breakpoint() {
        // DR0 = DST + 2, enabled (L0) as a one-byte write breakpoint (R/W0 = 01).
        const DR7_L0_WRITE: u32 = 1 | (0b01 << 16);
        const DB_VECTOR: u8 = 1;
        let prologue = asm16(|a| {
            a.mov(di, DST)?;
            a.mov(cx, 8u32)?;
            a.mov(al, 0x77u32)
        });
        let mut code = prologue.clone();
        code.extend_from_slice(&[0xF3, 0xAA, 0xF4]); // rep stosb; hlt
        let (cpu, mem) = run_real_setup(&code, |c, m| {
            c.dr[0] = DST + 2;
            c.dr[7] = DR7_L0_WRITE;
            c.dbg = crate::interp::DebugState::from_dr7(DR7_L0_WRITE);
            hlt_handler(m, DB_VECTOR, HANDLER);
        });
        assert_eq!(cpu.eip, HANDLER as u32 + 1, "in the #DB handler");
        assert_eq!(r16(&cpu, Gpr::Edi), DST + 3, "three elements stored");
        assert_eq!(r16(&cpu, Gpr::Ecx), 5);
        assert_eq!(mem.read_u8(DST + 3), 0);
        assert_eq!(read_u16(&mem, 0x8000 - 6) as usize, 0x100 + prologue.len(), "resumes the REP");
    }

    /// A bus whose ports read back a fixed pattern and that records writes.
    #[derive(Default)]
    struct RecordingBus {
        writes: Vec<(u16, u8, u32)>,
        reads: Vec<(u16, u8)>,
    }

    impl IoBus for RecordingBus {
        fn io_read(&mut self, port: u16, size: u8) -> u32 {
            self.reads.push((port, size));
            0xA500 + self.reads.len() as u32
        }
        fn io_write(&mut self, port: u16, size: u8, value: u32) {
            self.writes.push((port, size, value));
        }
    }

    #[test]
    fn test_rep_insw_and_rep_outsb_use_port_dx() {
        let code = asm16(|a| {
            a.mov(dx, 0x1F0u32)?;
            a.mov(di, DST)?;
            a.mov(cx, 2u32)?;
            a.rep().insw()?;
            a.mov(si, SRC)?;
            a.mov(cx, 3u32)?;
            a.rep().outsb()?;
            a.hlt()
        });
        let mut bus = RecordingBus::default();
        let (cpu, mem) = run_real_on(&code, &mut bus, |_, m| m.write_bytes(SRC, &[7, 8, 9]));
        assert_eq!(bus.reads, [(0x1F0, 2), (0x1F0, 2)]);
        assert_eq!(read_u16(&mem, DST), 0xA501);
        assert_eq!(read_u16(&mem, DST + 2), 0xA502);
        assert_eq!(bus.writes, [(0x1F0, 1, 7), (0x1F0, 1, 8), (0x1F0, 1, 9)]);
        assert_eq!(r16(&cpu, Gpr::Edi), DST + 4);
        assert_eq!(r16(&cpu, Gpr::Esi), SRC + 3);
    }

    #[test]
    fn test_insw_with_faulting_destination_does_not_read_the_port() {
        // A word at ES:FFFF crosses the limit: #GP is raised before the port is read.
        let code = asm16(|a| {
            a.mov(dx, 0x60u32)?;
            a.mov(di, 0xFFFFu32)?;
            a.insw()?;
            a.hlt()
        });
        let mut bus = RecordingBus::default();
        let (cpu, _) = run_real_on(&code, &mut bus, |_, m| hlt_handler(m, GP_VECTOR, HANDLER));
        assert_eq!(cpu.eip, HANDLER as u32 + 1);
        assert!(bus.reads.is_empty(), "the port was not read");
        assert_eq!(r16(&cpu, Gpr::Edi), 0xFFFF);
    }
}
