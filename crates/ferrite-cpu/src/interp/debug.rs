//! The debug registers at work: DR0–DR3 instruction breakpoints (faults before the
//! instruction, suppressed for one instruction by EFLAGS.RF), data breakpoints (traps after
//! the access), and the DR6 status bits they and single-stepping set.

use super::Exec;
use crate::fault::{Fault, Vector};
use crate::flags::Flags;

/// DR6 bits.
pub(crate) mod dr6 {
    /// Breakpoint n matched (bits 0–3).
    pub const B_MASK: u32 = 0xF;
    /// Single-step trap.
    pub const BS: u32 = 1 << 14;
}

/// DR7 R/W field values.
mod rw {
    pub const EXECUTE: u32 = 0b00;
    pub const WRITE: u32 = 0b01;
    pub const READ_WRITE: u32 = 0b11;
}

/// Breakpoint state derived from DR7 whenever it is written, so the hot path tests one
/// byte.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
#[repr(C)]
pub struct DebugState {
    /// Bit n: DRn is an enabled instruction breakpoint.
    pub exec_mask: u8,
    /// Bit n: DRn is an enabled data write breakpoint.
    pub write_mask: u8,
    /// Bit n: DRn is an enabled data read/write breakpoint.
    pub rw_mask: u8,
    /// DR6 B bits hit by data accesses of the current instruction.
    pub pending: u8,
}

impl DebugState {
    /// Recomputes the masks from DR7.
    pub fn from_dr7(dr7: u32) -> Self {
        let mut s = DebugState::default();
        for n in 0..4 {
            if dr7 & (0b11 << (2 * n)) == 0 {
                continue;
            }
            match (dr7 >> (16 + 4 * n)) & 0b11 {
                rw::EXECUTE => s.exec_mask |= 1 << n,
                rw::WRITE => s.write_mask |= 1 << n,
                rw::READ_WRITE => s.rw_mask |= 1 << n,
                _ => {} // I/O breakpoints need CR4.DE; not modelled.
            }
        }
        s
    }

    /// Whether any data breakpoint is armed.
    #[inline]
    pub fn data_armed(&self) -> bool {
        self.write_mask | self.rw_mask != 0
    }
}

/// Bytes covered by a breakpoint with DR7 LEN field `len`.
fn bp_len(len: u32) -> u32 {
    match len {
        0b00 => 1,
        0b01 => 2,
        0b10 => 8,
        _ => 4,
    }
}

impl Exec<'_> {
    /// #DB (fault) if an instruction breakpoint matches linear address `lin`.
    #[inline]
    pub(crate) fn check_exec_breakpoint(&mut self, lin: u32) -> Result<(), Fault> {
        if self.cpu.dbg.exec_mask == 0 || self.cpu.eflags & Flags::RF != 0 {
            return Ok(());
        }
        let mut hit = 0;
        for n in 0..4 {
            if self.cpu.dbg.exec_mask & (1 << n) != 0 && self.cpu.dr[n] == lin {
                hit |= 1 << n;
            }
        }
        if hit == 0 {
            return Ok(());
        }
        self.cpu.dr[6] = (self.cpu.dr[6] & !dr6::B_MASK) | hit;
        // The pushed EFLAGS carries RF so IRET resumes without hitting it again.
        self.cpu.eflags |= Flags::RF;
        Err(Fault::new(Vector::Debug))
    }

    /// Records data breakpoints matched by an access of `size` bytes at `lin`.
    pub(crate) fn note_data_access(&mut self, lin: u32, size: u8, write: bool) {
        let d = self.cpu.dbg;
        let armed = if write { d.write_mask | d.rw_mask } else { d.rw_mask };
        for n in 0..4 {
            if armed & (1 << n) == 0 {
                continue;
            }
            let len = bp_len((self.cpu.dr[7] >> (18 + 4 * n)) & 0b11);
            let start = self.cpu.dr[n] & !(len - 1);
            let overlaps = lin < start.wrapping_add(len) && start < lin.wrapping_add(size as u32);
            if overlaps {
                self.cpu.dbg.pending |= 1 << n;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_dr7_masks() {
        // DR0 execute (L0, R/W 00), DR1 write len 4 (G1), DR2 read/write len 2 (L2), DR3 disabled.
        let dr7 = 0b01 | 0b10 << 2 | 0b01 << 4 | (0b1101 << 20) | (0b0111 << 24);
        let s = DebugState::from_dr7(dr7);
        assert_eq!(s.exec_mask, 0b0001);
        assert_eq!(s.write_mask, 0b0010);
        assert_eq!(s.rw_mask, 0b0100);
    }

    #[test]
    fn test_instruction_breakpoint_faults_before_the_instruction() {
        use crate::{Cpu, NullBus, SegReg};
        let mut mem = ferrite_mem::PhysMem::new(1 << 20).unwrap();
        // #DB handler at 0000:0300: inc si; xor eax,eax; mov dr7,eax; iret (a 16-bit
        // frame cannot carry RF, so a real-mode handler disarms the breakpoint).
        mem.write_bytes(4, &[0x00, 0x03, 0x00, 0x00]);
        mem.write_bytes(0x300, &[0x46, 0x66, 0x31, 0xC0, 0x0F, 0x23, 0xF8, 0xCF]);
        // 0x100: nop; 0x101: inc di; 0x102: hlt
        mem.write_bytes(0x100, &[0x90, 0x47, 0xF4]);
        let mut cpu = Cpu::new();
        for s in SegReg::ALL {
            cpu.load_seg_real(s, 0);
        }
        cpu.eip = 0x100;
        cpu.gpr[4] = 0x8000;
        cpu.dr[0] = 0x101;
        cpu.dr[7] = 0b01;
        cpu.dbg = DebugState::from_dr7(cpu.dr[7]);
        cpu.run(&mut mem, &mut NullBus, 100);
        assert_eq!(cpu.gpr[6], 1, "handler ran once");
        assert_eq!(cpu.gpr[7], 1, "breakpointed instruction ran once after IRET");
        assert_eq!(cpu.dr[6] & dr6::B_MASK, 1);
    }
}
