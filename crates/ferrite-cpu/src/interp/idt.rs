//! Protected-mode interrupt and exception delivery through the IDT: interrupt and trap
//! gates (16- and 32-bit), privilege checks, the stack switch through the TSS, and
//! delivery out of virtual-8086 mode.

use super::{Exec, IntKind};
use crate::descriptor::Descriptor;
use crate::fault::{Fault, Vector};
use crate::flags::Flags;
use crate::state::{SegReg, Segment};

/// IDT gate types (system descriptor type field).
mod gate {
    pub const TASK: u8 = 0x5;
    pub const INT16: u8 = 0x6;
    pub const TRAP16: u8 = 0x7;
    pub const INT32: u8 = 0xE;
    pub const TRAP32: u8 = 0xF;
}

/// Error-code bits for faults raised while delivering.
const ERR_IDT: u32 = 1 << 1;
const ERR_EXT: u32 = 1 << 0;
/// TSS types (busy or available), 16- and 32-bit.
const TSS16_TYPES: [u8; 2] = [0x1, 0x3];

impl Exec<'_> {
    /// Delivers `vector` through the IDT. Err carries the fault delivery raised; nothing
    /// is committed in that case.
    pub(super) fn deliver_protected(
        &mut self,
        vector: u8,
        kind: IntKind,
        error_code: Option<u32>,
    ) -> Result<(), Fault> {
        let ext = if kind == IntKind::Software { 0 } else { ERR_EXT };
        let idt_err = (vector as u32) * 8 + ERR_IDT + ext;
        let gp_idt = Fault::with_code(Vector::GeneralProtection, idt_err);
        if vector as u32 * 8 + 7 > self.cpu.idtr.limit {
            return Err(gp_idt);
        }
        let addr = self.cpu.idtr.base.wrapping_add(vector as u32 * 8);
        let lo = self.sys_read(addr, 4)? as u64;
        let hi = self.sys_read(addr.wrapping_add(4), 4)? as u64;
        let g = Descriptor::new(lo | hi << 32);
        let ty = g.system_type();
        if g.is_code_data() || !matches!(ty, gate::INT16 | gate::TRAP16 | gate::INT32 | gate::TRAP32 | gate::TASK) {
            return Err(gp_idt);
        }
        if kind == IntKind::Software && g.dpl() < self.cpu.cpl() {
            return Err(gp_idt);
        }
        if !g.present() {
            return Err(Fault::with_code(Vector::SegmentNotPresent, idt_err));
        }
        let selector = (lo >> 16) as u16;
        if ty == gate::TASK {
            let ret_eip = if kind == IntKind::Exception { self.cpu.cur_eip } else { self.cpu.eip };
            let gp_sel = Fault::with_code(Vector::GeneralProtection, (selector & !3) as u32 + ext);
            if selector & 4 != 0 {
                return Err(gp_sel);
            }
            let (d, addr) = self.fetch_descriptor(selector).map_err(|f| with_ext(f, ext))?;
            if d.is_code_data() || !matches!(d.system_type(), 0x1 | 0x9) {
                return Err(gp_sel);
            }
            return self.task_switch(selector, d, addr, super::task::SwitchKind::Int, ret_eip, error_code);
        }
        let mut offset = (lo as u32 & 0xFFFF) | (hi as u32 & 0xFFFF_0000);
        let size: u8 = if matches!(ty, gate::INT32 | gate::TRAP32) { 4 } else { 2 };
        if size == 2 {
            offset &= 0xFFFF;
        }
        let sel_err = (selector & !3) as u32 + ext;
        if selector & !3 == 0 {
            return Err(Fault::with_code(Vector::GeneralProtection, ext));
        }
        let (cs_desc, cs_addr) = self.fetch_descriptor(selector).map_err(|f| with_ext(f, ext))?;
        let cpl = self.cpu.cpl();
        if !cs_desc.is_code() || cs_desc.dpl() > cpl {
            return Err(Fault::with_code(Vector::GeneralProtection, sel_err));
        }
        if !cs_desc.present() {
            return Err(Fault::with_code(Vector::SegmentNotPresent, sel_err));
        }
        let v86 = self.cpu.eflags & Flags::VM != 0;
        let inner = !cs_desc.is_conforming() && cs_desc.dpl() < cpl;
        if v86 && (!inner || cs_desc.dpl() != 0) {
            return Err(Fault::with_code(Vector::GeneralProtection, sel_err));
        }
        if offset > cs_desc.limit() {
            return Err(Fault::with_code(Vector::GeneralProtection, ext));
        }
        let ret_eip = if kind == IntKind::Exception { self.cpu.cur_eip } else { self.cpu.eip };
        let old_cs = self.cpu.seg[SegReg::Cs as usize];
        let old_ss = self.cpu.seg[SegReg::Ss as usize];
        let old_esp = self.cpu.gpr[4];
        let old_flags = self.cpu.eflags;
        let new_cpl = if inner { cs_desc.dpl() } else { cpl };

        // Build the frame on the target stack. Everything is computed before any state
        // changes, then written; a fault while writing restores what it touched.
        let mut frame: Vec<u32> = Vec::with_capacity(10);
        if v86 {
            for s in [SegReg::Gs, SegReg::Fs, SegReg::Ds, SegReg::Es] {
                frame.push(self.cpu.seg[s as usize].selector as u32);
            }
        }
        if inner {
            frame.push(old_ss.selector as u32);
            frame.push(old_esp);
        }
        frame.push(old_flags);
        frame.push(old_cs.selector as u32);
        frame.push(ret_eip);
        if let Some(code) = error_code {
            frame.push(code);
        }

        let (stack_seg, start_sp) = if inner {
            let (ss_sel, esp) = self.tss_stack(new_cpl, ext)?;
            let (ss_desc, ss_addr) = self.fetch_descriptor(ss_sel).map_err(|f| gp_as_ts(f, ss_sel, ext))?;
            let ts = Fault::with_code(Vector::InvalidTss, (ss_sel & !3) as u32 + ext);
            if ss_sel & !3 == 0
                || (ss_sel & 3) as u8 != new_cpl
                || ss_desc.dpl() != new_cpl
                || !ss_desc.is_data()
                || !ss_desc.read_write()
            {
                return Err(ts);
            }
            if !ss_desc.present() {
                return Err(Fault::with_code(Vector::StackFault, (ss_sel & !3) as u32 + ext));
            }
            self.mark_accessed(&ss_desc, ss_addr)?;
            (ss_desc.to_segment(ss_sel), esp)
        } else {
            (old_ss, old_esp)
        };
        let mask = if stack_seg.is_32() { 0xFFFF_FFFF } else { 0xFFFF };
        let total = frame.len() as u32 * size as u32;
        let sp = start_sp.wrapping_sub(total) & mask;
        // Probe the whole frame against the new stack's limit before writing.
        self.cpu.seg[SegReg::Ss as usize] = stack_seg;
        let saved_cpl_cs = self.cpu.seg[SegReg::Cs as usize];
        // Accesses to an inner stack are made at the new privilege level.
        self.cpu.seg[SegReg::Cs as usize].selector = (old_cs.selector & !3) | new_cpl as u16;
        let mut result = Ok(());
        for (i, v) in frame.iter().rev().enumerate() {
            let off = sp.wrapping_add(i as u32 * size as u32) & mask;
            if let Err(f) = self.write_mem(SegReg::Ss, off, size, *v) {
                result = Err(if f.vector == Vector::StackFault as u8 || f.vector == Vector::GeneralProtection as u8 {
                    Fault::with_code(
                        Vector::StackFault,
                        if inner { (stack_seg.selector & !3) as u32 + ext } else { ext },
                    )
                } else {
                    f
                });
                break;
            }
        }
        if let Err(f) = result {
            self.cpu.seg[SegReg::Ss as usize] = old_ss;
            self.cpu.seg[SegReg::Cs as usize] = saved_cpl_cs;
            return Err(f);
        }
        self.mark_accessed(&cs_desc, cs_addr)?;
        self.cpu.gpr[4] = (start_sp & !mask) | sp;
        self.cpu.seg[SegReg::Cs as usize] =
            Descriptor::new(cs_desc.raw | 1 << 40).to_segment((selector & !3) | new_cpl as u16);
        if v86 {
            for s in [SegReg::Gs, SegReg::Fs, SegReg::Ds, SegReg::Es] {
                self.cpu.seg[s as usize] = Segment { selector: 0, attrs: 0, base: 0, limit: 0 };
            }
        }
        self.cpu.eip = offset;
        self.cpu.eflags &= !(Flags::TF | Flags::NT | Flags::RF | Flags::VM);
        if matches!(ty, gate::INT16 | gate::INT32) {
            self.cpu.eflags &= !Flags::IF;
        }
        Ok(())
    }

    /// The inner stack (SS, ESP) for privilege level `dpl` from the current TSS; #TS when
    /// the TSS is too short. `ext` is the EXT bit for the error code.
    pub(super) fn tss_stack(&mut self, dpl: u8, ext: u32) -> Result<(u16, u32), Fault> {
        let tr = self.cpu.tr;
        let ts = Fault::with_code(Vector::InvalidTss, (tr.selector & !3) as u32 + ext);
        let tss16 = TSS16_TYPES.contains(&(tr.attrs as u8 & 0xF));
        let (sp_off, ss_off, sp_size) = if tss16 {
            (2 + 4 * dpl as u32, 4 + 4 * dpl as u32, 2)
        } else {
            (4 + 8 * dpl as u32, 8 + 8 * dpl as u32, 4)
        };
        if ss_off + 1 > tr.limit {
            return Err(ts);
        }
        let esp = self.sys_read(tr.base.wrapping_add(sp_off), sp_size)?;
        let ss = self.sys_read(tr.base.wrapping_add(ss_off), 2)? as u16;
        Ok((ss, esp))
    }
}

/// Adds the EXT bit to a fault's error code.
fn with_ext(f: Fault, ext: u32) -> Fault {
    match f.error_code {
        Some(c) => Fault { error_code: Some(c | ext), ..f },
        None => f,
    }
}

/// A #GP from loading a stack or task selector during delivery or a task switch is
/// reported as #TS(selector).
pub(super) fn gp_as_ts(f: Fault, sel: u16, ext: u32) -> Fault {
    if f.vector == Vector::GeneralProtection as u8 {
        Fault::with_code(Vector::InvalidTss, (sel & !3) as u32 + ext)
    } else {
        f
    }
}

#[cfg(test)]
mod tests {
    use crate::tests::{descriptor, run_real_with, write_pm_tables, ENTER_PM, HLT};

    const HANDLER: u32 = 0x200;
    const VECTOR: u8 = 0x30;

    /// A 16-bit ring-0 code segment at 0x08 and vector 0x30 as a 16-bit interrupt gate to
    /// 0008:0200, where a HLT waits.
    fn tables(mem: &mut ferrite_mem::PhysMem) {
        let gate: u64 = (HANDLER as u64) | (0x08 << 16) | (0x86u64 << 40);
        write_pm_tables(mem, &[0, descriptor(0, 0xFFFF, 0x9A, 0), 0], &[(VECTOR, gate)]);
        mem.write_bytes(HANDLER, &[HLT]);
    }

    #[test]
    fn test_int_in_protected_mode_goes_through_idt_gate() {
        let mut code = ENTER_PM.to_vec();
        code.extend_from_slice(&[
            0xFB, // sti
            0xCD, VECTOR, // int 0x30  (at 0x113)
            HLT,
        ]);
        let (cpu, mem) = run_real_with(&code, tables);
        assert_eq!(cpu.seg[1].selector, 0x08);
        assert_eq!(cpu.eip, HANDLER + 1);
        assert_eq!(cpu.gpr[4], 0x8000 - 6, "16-bit gate pushes three words");
        let word = |a: u32| u16::from_le_bytes([mem.read_u8(a), mem.read_u8(a + 1)]);
        assert_eq!(word(0x7FFA), 0x115, "return IP after INT");
        assert_eq!(word(0x7FFC), 0, "old CS");
        assert!(word(0x7FFE) & 0x200 != 0, "old FLAGS with IF");
        assert_eq!(cpu.eflags & 0x200, 0, "interrupt gate clears IF");
    }
}
