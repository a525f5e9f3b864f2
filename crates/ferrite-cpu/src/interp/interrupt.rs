//! Interrupt and exception delivery: the real-mode IVT here, the protected-mode IDT in
//! `idt.rs`.

use super::Exec;
use crate::fault::{Fault, Vector};
use crate::flags::Flags;
use crate::state::SegReg;

/// How an interrupt arose, which decides the return address pushed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IntKind {
    /// A fault: returns to the faulting instruction (`cur_eip`).
    Exception,
    /// A trap after the instruction retired (single-step): returns to EIP.
    Trap,
    /// INT n / INT3 / INTO: returns to the next instruction (EIP).
    Software,
    /// A hardware interrupt between instructions: returns to EIP.
    External,
}

impl Exec<'_> {
    /// Delivers interrupt `vector`. On failure returns the fault that delivery raised,
    /// with the CPU state unchanged.
    pub(crate) fn deliver(&mut self, vector: u8, kind: IntKind, error_code: Option<u32>) -> Result<(), Fault> {
        // The EFLAGS image pushed (or saved in a TSS) must be complete.
        self.flush_flags();
        // Delivery changes CS and may switch tasks (CR3, LDT): no block link survives it.
        self.cpu.cache.bump_epoch();
        self.end_block = true;
        self.cpu.halted = false;
        if self.cpu.protected_mode() {
            return self.deliver_protected(vector, kind, error_code);
        }
        self.deliver_real(vector, kind)
    }

    fn deliver_real(&mut self, vector: u8, kind: IntKind) -> Result<(), Fault> {
        let off = vector as u32 * 4;
        if off + 3 > self.cpu.idtr.limit {
            return Err(Fault::with_code(Vector::GeneralProtection, vector as u32 * 8 + 2));
        }
        let ivt = self.cpu.idtr.base.wrapping_add(off);
        let new_ip = self.sys_read(ivt, 2)?;
        let new_cs = self.sys_read(ivt.wrapping_add(2), 2)? as u16;
        let ret_ip = match kind {
            IntKind::Exception => self.cpu.cur_eip,
            _ => self.cpu.eip,
        };
        let saved_sp = self.cpu.gpr[4];
        let cs = self.cpu.seg[SegReg::Cs as usize].selector as u32;
        let pushed = self.push(2, self.cpu.eflags).and_then(|_| self.push(2, cs)).and_then(|_| self.push(2, ret_ip));
        if let Err(f) = pushed {
            self.cpu.gpr[4] = saved_sp;
            return Err(f);
        }
        self.cpu.eflags &= !(Flags::IF | Flags::TF | Flags::AC | Flags::RF);
        self.cpu.load_seg_real(SegReg::Cs, new_cs);
        self.cpu.eip = new_ip;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::tests::run_real_on;

    /// A bus that requests `left` NMIs, one after another, and counts acknowledgements.
    struct NmiSource {
        left: u32,
        acks: u32,
    }

    impl crate::IoBus for NmiSource {
        fn io_read(&mut self, _port: u16, _size: u8) -> u32 {
            !0
        }
        fn io_write(&mut self, _port: u16, _size: u8, _value: u32) {}
        fn nmi_pending(&mut self) -> bool {
            self.left > 0
        }
        fn nmi_ack(&mut self) {
            self.left -= 1;
            self.acks += 1;
        }
    }

    #[test]
    fn test_nmi_ignores_if_and_waits_for_iret_to_nest() {
        // main: cli; mov cx, 3; spin: loop spin; hlt   (NMIs arrive with IF = 0)
        let code = [0xFA, 0xB9, 0x03, 0x00, 0xE2, 0xFE, 0xF4];
        let mut bus = NmiSource { left: 2, acks: 0 };
        let (cpu, mem) = run_real_on(&code, &mut bus, |_, mem| {
            // NMI handler at 0000:0400: tracks its nesting depth in [0x604] and the deepest
            // in [0x605], counts itself in [0x600], keeps its FLAGS in BX, IRETs.
            mem.write_bytes(2 * 4, &[0x00, 0x04, 0x00, 0x00]);
            mem.write_bytes(
                0x400,
                &[
                    0xFE, 0x06, 0x04, 0x06, // inc byte [0x604]
                    0xA0, 0x04, 0x06, // mov al, [0x604]
                    0x3A, 0x06, 0x05, 0x06, // cmp al, [0x605]
                    0x76, 0x03, // jbe +3
                    0xA2, 0x05, 0x06, // mov [0x605], al
                    0xFF, 0x06, 0x00, 0x06, // inc word [0x600]
                    0x9C, 0x5B, // pushf; pop bx
                    0xFE, 0x0E, 0x04, 0x06, // dec byte [0x604]
                    0xCF, // iret
                ],
            );
        });
        assert_eq!(bus.acks, 2, "both NMIs taken");
        assert_eq!(mem.read_u8(0x600), 2);
        assert_eq!(mem.read_u8(0x605), 1, "the second waited for the first's IRET");
        assert_eq!(cpu.gpr[3] & 0x200, 0, "IF clear in the handler");
        assert!(!cpu.nmi_blocked, "IRET ended the blocking");
    }
}
