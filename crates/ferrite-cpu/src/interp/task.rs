//! Hardware task switching: JMP/CALL to a TSS or task gate, interrupts through task
//! gates, and IRET with NT set. 16- and 32-bit TSS formats, busy bits, the back-link, NT,
//! CR0.TS, and the new task's state loaded with #TS on bad selectors.

use super::idt::gp_as_ts;
use super::protect::sys_type;
use super::Exec;
use crate::descriptor::Descriptor;
use crate::fault::{Fault, Vector};
use crate::flags::Flags;
use crate::paging::CR0_PG;
use crate::state::{SegReg, Segment};

/// What started the switch; it decides busy bits, NT and the back-link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SwitchKind {
    /// JMP to a TSS or task gate.
    Jmp,
    /// CALL to a TSS or task gate.
    Call,
    /// An interrupt or exception through a task gate.
    Int,
    /// IRET with NT set (return to the back-linked task).
    Iret,
}

/// Offsets of the fields in a 32-bit TSS.
mod tss32 {
    pub const CR3: u32 = 0x1C;
    pub const EIP: u32 = 0x20;
    pub const EFLAGS: u32 = 0x24;
    pub const GPRS: u32 = 0x28;
    pub const SEGS: u32 = 0x48;
    pub const LDT: u32 = 0x60;
    pub const MIN_LIMIT: u32 = 0x67;
}

/// Offsets of the fields in a 16-bit TSS.
mod tss16 {
    pub const IP: u32 = 0x0E;
    pub const FLAGS: u32 = 0x10;
    pub const GPRS: u32 = 0x12;
    pub const SEGS: u32 = 0x22;
    pub const LDT: u32 = 0x2A;
    pub const MIN_LIMIT: u32 = 0x2B;
}

/// Machine state as stored in a TSS.
struct TaskImage {
    cr3: Option<u32>,
    eip: u32,
    eflags: u32,
    gpr: [u32; 8],
    segs: [u16; 6],
    ldt: u16,
}

const CR0_TS: u32 = 1 << 3;

impl Exec<'_> {
    /// Switches to the task whose TSS descriptor (`desc` at linear `desc_addr`) `sel`
    /// names. `ret_eip` is the EIP saved in the outgoing task.
    pub(crate) fn task_switch(
        &mut self,
        sel: u16,
        desc: Descriptor,
        desc_addr: u32,
        kind: SwitchKind,
        ret_eip: u32,
        error_code: Option<u32>,
    ) -> Result<(), Fault> {
        let ts = |s: u16| Fault::with_code(Vector::InvalidTss, (s & !3) as u32);
        let ty = desc.system_type();
        let is32 = ty == sys_type::TSS32_AVAIL || ty == sys_type::TSS32_BUSY;
        let busy = ty & sys_type::BUSY_BIT != 0;
        if kind == SwitchKind::Iret {
            if !busy {
                return Err(ts(sel));
            }
        } else if busy {
            return Err(Fault::with_code(Vector::GeneralProtection, (sel & !3) as u32));
        }
        if !desc.present() {
            return Err(Fault::with_code(Vector::SegmentNotPresent, (sel & !3) as u32));
        }
        let min = if is32 { tss32::MIN_LIMIT } else { tss16::MIN_LIMIT };
        if desc.limit() < min {
            return Err(ts(sel));
        }
        let new_base = desc.base();
        // Read the incoming image first so a page fault leaves everything untouched.
        let image = self.read_task_image(new_base, is32)?;

        // Save the outgoing task.
        let old_tr = self.cpu.tr;
        let old_is32 = matches!(old_tr.attrs as u8 & 0xF, sys_type::TSS32_AVAIL | sys_type::TSS32_BUSY);
        let mut old_flags = self.cpu.eflags;
        if matches!(kind, SwitchKind::Jmp | SwitchKind::Iret) {
            old_flags &= !Flags::NT;
        }
        self.write_task_image(old_tr.base, old_is32, ret_eip, old_flags)?;
        if matches!(kind, SwitchKind::Jmp | SwitchKind::Iret) {
            self.set_tss_busy(old_tr.selector, false)?;
        }
        let mut new_flags = image.eflags | Flags::FIXED1;
        if matches!(kind, SwitchKind::Call | SwitchKind::Int) {
            self.sys_write(new_base, 2, old_tr.selector as u32)?;
            new_flags |= Flags::NT;
        }
        if kind != SwitchKind::Iret {
            self.sys_write(desc_addr.wrapping_add(5), 1, (desc.access() | sys_type::BUSY_BIT) as u32)?;
        }
        self.cpu.tr = Descriptor::new(desc.raw | (sys_type::BUSY_BIT as u64) << 40).to_segment(sel);
        self.cpu.cr0 |= CR0_TS;
        self.end_block = true;

        // Load the incoming task. Faults from here on belong to the new task.
        if let Some(cr3) = image.cr3 {
            if self.cpu.cr0 & CR0_PG != 0 && cr3 != self.cpu.cr3 {
                self.cpu.cr3 = cr3;
                self.cpu.tlb.flush(self.cpu.cr4 & crate::paging::CR4_PGE != 0);
                self.cpu.mmu_stats.flushes += 1;
            }
        }
        self.cpu.eip = image.eip;
        self.cpu.eflags = new_flags;
        if is32 {
            self.cpu.gpr = image.gpr;
        } else {
            for (g, v) in self.cpu.gpr.iter_mut().zip(image.gpr) {
                *g = (*g & 0xFFFF_0000) | (v & 0xFFFF);
            }
        }
        for (i, s) in image.segs.iter().enumerate() {
            self.cpu.seg[i].selector = *s;
        }
        self.cpu.ldtr.selector = image.ldt;
        self.load_ldtr(image.ldt).map_err(|_| ts(image.ldt))?;
        self.load_task_segments(&image)?;
        if let Some(code) = error_code {
            let size = if is32 { 4 } else { 2 };
            self.push(size, code)?;
        }
        if self.cpu.eip > self.cpu.seg[SegReg::Cs as usize].limit {
            return Err(Fault::GP0);
        }
        Ok(())
    }

    fn read_task_image(&mut self, base: u32, is32: bool) -> Result<TaskImage, Fault> {
        let mut img = TaskImage { cr3: None, eip: 0, eflags: 0, gpr: [0; 8], segs: [0; 6], ldt: 0 };
        if is32 {
            img.cr3 = Some(self.sys_read(base + tss32::CR3, 4)?);
            img.eip = self.sys_read(base + tss32::EIP, 4)?;
            img.eflags = self.sys_read(base + tss32::EFLAGS, 4)?;
            for i in 0..8 {
                img.gpr[i] = self.sys_read(base + tss32::GPRS + 4 * i as u32, 4)?;
            }
            for i in 0..6 {
                img.segs[i] = self.sys_read(base + tss32::SEGS + 4 * i as u32, 2)? as u16;
            }
            img.ldt = self.sys_read(base + tss32::LDT, 2)? as u16;
        } else {
            img.eip = self.sys_read(base + tss16::IP, 2)?;
            img.eflags = self.sys_read(base + tss16::FLAGS, 2)?;
            for i in 0..8 {
                img.gpr[i] = self.sys_read(base + tss16::GPRS + 2 * i as u32, 2)?;
            }
            // The 16-bit TSS holds ES, CS, SS, DS only.
            for i in 0..4 {
                img.segs[i] = self.sys_read(base + tss16::SEGS + 2 * i as u32, 2)? as u16;
            }
            img.ldt = self.sys_read(base + tss16::LDT, 2)? as u16;
        }
        Ok(img)
    }

    fn write_task_image(&mut self, base: u32, is32: bool, eip: u32, eflags: u32) -> Result<(), Fault> {
        if is32 {
            self.sys_write(base + tss32::EIP, 4, eip)?;
            self.sys_write(base + tss32::EFLAGS, 4, eflags)?;
            for i in 0..8 {
                self.sys_write(base + tss32::GPRS + 4 * i as u32, 4, self.cpu.gpr[i])?;
            }
            for i in 0..6 {
                self.sys_write(base + tss32::SEGS + 4 * i as u32, 2, self.cpu.seg[i].selector as u32)?;
            }
        } else {
            self.sys_write(base + tss16::IP, 2, eip)?;
            self.sys_write(base + tss16::FLAGS, 2, eflags)?;
            for i in 0..8 {
                self.sys_write(base + tss16::GPRS + 2 * i as u32, 2, self.cpu.gpr[i])?;
            }
            for i in 0..4 {
                self.sys_write(base + tss16::SEGS + 2 * i as u32, 2, self.cpu.seg[i].selector as u32)?;
            }
        }
        Ok(())
    }

    /// Sets or clears the busy bit of the TSS descriptor `sel` in the GDT.
    pub(crate) fn set_tss_busy(&mut self, sel: u16, busy: bool) -> Result<(), Fault> {
        let (d, addr) = self.fetch_descriptor(sel)?;
        let a = if busy { d.access() | sys_type::BUSY_BIT } else { d.access() & !sys_type::BUSY_BIT };
        self.sys_write(addr.wrapping_add(5), 1, a as u32)
    }

    /// Loads CS, SS and the data segments of the incoming task with #TS/#NP/#SS checks.
    fn load_task_segments(&mut self, img: &TaskImage) -> Result<(), Fault> {
        if self.cpu.eflags & Flags::VM != 0 {
            for (i, s) in img.segs.iter().enumerate() {
                self.cpu.seg[i] = Segment { selector: *s, attrs: 0xF3, base: (*s as u32) << 4, limit: 0xFFFF };
            }
            return Ok(());
        }
        let ts = |s: u16| Fault::with_code(Vector::InvalidTss, (s & !3) as u32);
        // CS decides the new CPL.
        let cs = img.segs[SegReg::Cs as usize];
        if cs & !3 == 0 {
            return Err(ts(cs));
        }
        let (cd, caddr) = self.fetch_descriptor(cs).map_err(|_| ts(cs))?;
        let rpl = (cs & 3) as u8;
        if !cd.is_code() || (cd.is_conforming() && cd.dpl() > rpl) || (!cd.is_conforming() && cd.dpl() != rpl) {
            return Err(ts(cs));
        }
        if !cd.present() {
            return Err(Fault::with_code(Vector::SegmentNotPresent, (cs & !3) as u32));
        }
        self.mark_accessed(&cd, caddr)?;
        self.cpu.seg[SegReg::Cs as usize] = Descriptor::new(cd.raw | 1 << 40).to_segment(cs);
        let ss = img.segs[SegReg::Ss as usize];
        self.load_segment(SegReg::Ss, ss).map_err(|f| gp_as_ts(f, ss, 0))?;
        for s in [SegReg::Es, SegReg::Ds, SegReg::Fs, SegReg::Gs] {
            let sel = img.segs[s as usize];
            self.load_segment(s, sel).map_err(|f| gp_as_ts(f, sel, 0))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::tests::{descriptor, run_real_with, write_pm_tables, ENTER_PM, HLT, PM_GDT};

    const TSS_A: u32 = 0x1000;
    const TSS_B: u32 = 0x1100;
    const TASK_B_EIP: u32 = 0x300;

    fn tables(mem: &mut ferrite_mem::PhysMem) {
        let gdt = [
            0,
            descriptor(0, 0xFFFF, 0x9A, 0),
            descriptor(0, 0xFFFF, 0x92, 0),
            descriptor(TSS_A, 0x67, 0x89, 0),
            descriptor(TSS_B, 0x67, 0x89, 0),
        ];
        let task_gate: u64 = (0x20u64 << 16) | (0x85u64 << 40);
        write_pm_tables(mem, &gdt, &[(0x40, task_gate)]);
        let put = |mem: &mut ferrite_mem::PhysMem, off: u32, v: u32| mem.write_bytes(TSS_B + off, &v.to_le_bytes());
        put(mem, 0x20, TASK_B_EIP);
        put(mem, 0x24, 0x2);
        put(mem, 0x38, 0x9000); // ESP
        put(mem, 0x48, 0x10); // ES
        put(mem, 0x4C, 0x08); // CS
        put(mem, 0x50, 0x10); // SS
        put(mem, 0x54, 0x10); // DS
        mem.write_bytes(TASK_B_EIP, &[HLT]);
    }

    #[test]
    fn test_int_through_task_gate_switches_tasks() {
        let mut code = ENTER_PM.to_vec();
        code.extend_from_slice(&[
            0xB8, 0x18, 0x00, // mov ax, 0x18
            0x0F, 0x00, 0xD8, // ltr ax
            0xCD, 0x40, // int 0x40  (at 0x118)
            HLT,
        ]);
        let (cpu, mem) = run_real_with(&code, tables);
        let dword =
            |a: u32| u32::from_le_bytes([mem.read_u8(a), mem.read_u8(a + 1), mem.read_u8(a + 2), mem.read_u8(a + 3)]);
        assert_eq!(cpu.tr.selector, 0x20);
        assert_eq!(cpu.eip, TASK_B_EIP + 1);
        assert_eq!(cpu.seg[1].selector, 0x08);
        assert_eq!(cpu.gpr[4], 0x9000);
        assert!(cpu.eflags & (1 << 14) != 0, "NT set in the nested task");
        assert!(cpu.cr0 & 8 != 0, "CR0.TS set");
        assert_eq!(dword(TSS_B) & 0xFFFF, 0x18, "back-link to task A");
        assert_eq!(dword(TSS_A + 0x20), 0x11A, "task A saved the EIP after INT");
        assert_eq!(mem.read_u8(PM_GDT + 0x18 + 5) & 0x0F, 0xB, "task A still busy (nested)");
        assert_eq!(mem.read_u8(PM_GDT + 0x20 + 5) & 0x0F, 0xB, "task B busy");
    }
}
