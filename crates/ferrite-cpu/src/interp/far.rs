//! Protected-mode far transfers: JMP/CALL to code segments, call gates (with the stack
//! switch and parameter copy of an inner-privilege call), task gates and TSSs; RETF and
//! IRET to the same or an outer privilege level, IRET to virtual-8086 mode, and IRET
//! through the back-link of a nested task.
//!
//! Real-mode and virtual-8086 far transfers stay in `control.rs`; these procedures are
//! called only when CR0.PE is set and EFLAGS.VM is clear (IRET also from V86 at IOPL 3
//! stays there).

use super::protect::sys_type;
use super::task::SwitchKind;
use super::Exec;
use crate::descriptor::Descriptor;
use crate::fault::{Fault, Vector};
use crate::flags::Flags;
use crate::state::{SegReg, Segment};

/// Selector field masks.
const RPL_MASK: u16 = 3;
const TI_LDT: u16 = 4;
/// Call-gate parameter count field (low five bits of byte 4).
const GATE_PARAM_MASK: u64 = 0x1F;

fn gp(sel: u16) -> Fault {
    Fault::with_code(Vector::GeneralProtection, (sel & !RPL_MASK) as u32)
}

fn np(sel: u16) -> Fault {
    Fault::with_code(Vector::SegmentNotPresent, (sel & !RPL_MASK) as u32)
}

/// Where a far JMP/CALL lands after following any gate.
struct Landing {
    desc: Descriptor,
    desc_addr: u32,
    selector: u16,
    offset: u32,
    /// Operand size of the frame (gate size for gates, instruction size otherwise).
    size: u8,
    /// Parameters to copy (inner call through a call gate).
    params: u32,
}

impl Exec<'_> {
    /// Far JMP in protected mode.
    pub(crate) fn pm_far_jmp(&mut self, sel: u16, offset: u32, size: u8) -> Result<(), Fault> {
        let Some(l) = self.resolve_far(sel, offset, size, SwitchKind::Jmp)? else { return Ok(()) };
        let cpl = self.cpu.cpl();
        if !l.desc.is_conforming() && l.desc.dpl() != cpl {
            return Err(gp(l.selector));
        }
        self.enter_code(&l, cpl)
    }

    /// Far CALL in protected mode.
    pub(crate) fn pm_far_call(&mut self, sel: u16, offset: u32, size: u8) -> Result<(), Fault> {
        let Some(l) = self.resolve_far(sel, offset, size, SwitchKind::Call)? else { return Ok(()) };
        let cpl = self.cpu.cpl();
        let ret_cs = self.cpu.seg[SegReg::Cs as usize].selector as u32;
        let ret_eip = self.cpu.eip;
        if !l.desc.is_conforming() && l.desc.dpl() < cpl {
            return self.call_inner(&l, ret_cs, ret_eip);
        }
        // Same privilege: check the frame fits before anything changes.
        let sp = self.sp();
        let mask = self.stack_mask();
        let first = sp.wrapping_sub(2 * l.size as u32) & mask;
        self.linear(SegReg::Ss, first, 2 * l.size, crate::memory::Access::Write)?;
        self.enter_code(&l, cpl)?;
        // Entering cannot fail past this point except on the pushes, which were checked.
        self.push(l.size, ret_cs)?;
        self.push(l.size, ret_eip)
    }

    /// Follows a far pointer to its code segment. Ok(None) when the transfer was a task
    /// switch (already complete).
    fn resolve_far(&mut self, sel: u16, offset: u32, size: u8, kind: SwitchKind) -> Result<Option<Landing>, Fault> {
        if sel & !RPL_MASK == 0 {
            return Err(Fault::GP0);
        }
        let (d, addr) = self.fetch_descriptor(sel)?;
        let cpl = self.cpu.cpl();
        let rpl = (sel & RPL_MASK) as u8;
        if d.is_code() {
            if d.is_conforming() {
                if d.dpl() > cpl {
                    return Err(gp(sel));
                }
            } else if rpl > cpl || d.dpl() != cpl {
                return Err(gp(sel));
            }
            if !d.present() {
                return Err(np(sel));
            }
            return Ok(Some(Landing { desc: d, desc_addr: addr, selector: sel, offset, size, params: 0 }));
        }
        if d.is_code_data() {
            return Err(gp(sel));
        }
        let ty = d.system_type();
        match ty {
            sys_type::TSS16_AVAIL | sys_type::TSS32_AVAIL => {
                if d.dpl() < cpl || d.dpl() < rpl {
                    return Err(gp(sel));
                }
                let ret = self.cpu.eip;
                self.task_switch(sel, d, addr, kind, ret, None)?;
                Ok(None)
            }
            sys_type::TASK => {
                if d.dpl() < cpl || d.dpl() < rpl {
                    return Err(gp(sel));
                }
                if !d.present() {
                    return Err(np(sel));
                }
                let tss_sel = (d.raw >> 16) as u16;
                if tss_sel & TI_LDT != 0 {
                    return Err(gp(tss_sel));
                }
                let (td, taddr) = self.fetch_descriptor(tss_sel)?;
                if td.is_code_data() || !matches!(td.system_type(), sys_type::TSS16_AVAIL | sys_type::TSS32_AVAIL) {
                    return Err(gp(tss_sel));
                }
                let ret = self.cpu.eip;
                self.task_switch(tss_sel, td, taddr, kind, ret, None)?;
                Ok(None)
            }
            sys_type::CALL16 | sys_type::CALL32 => {
                if d.dpl() < cpl || d.dpl() < rpl {
                    return Err(gp(sel));
                }
                if !d.present() {
                    return Err(np(sel));
                }
                let target = (d.raw >> 16) as u16;
                if target & !RPL_MASK == 0 {
                    return Err(Fault::GP0);
                }
                let (cd, caddr) = self.fetch_descriptor(target)?;
                if !cd.is_code() || cd.dpl() > cpl {
                    return Err(gp(target));
                }
                if !cd.present() {
                    return Err(np(target));
                }
                let gate32 = ty == sys_type::CALL32;
                let mut off = (d.raw as u32 & 0xFFFF) | if gate32 { (d.raw >> 32) as u32 & 0xFFFF_0000 } else { 0 };
                if !gate32 {
                    off &= 0xFFFF;
                }
                Ok(Some(Landing {
                    desc: cd,
                    desc_addr: caddr,
                    selector: target,
                    offset: off,
                    size: if gate32 { 4 } else { 2 },
                    params: ((d.raw >> 32) & GATE_PARAM_MASK) as u32,
                }))
            }
            _ => Err(gp(sel)),
        }
    }

    /// Loads CS from a landing at privilege `cpl` and jumps to its offset.
    fn enter_code(&mut self, l: &Landing, cpl: u8) -> Result<(), Fault> {
        let offset = if l.size == 2 { l.offset & 0xFFFF } else { l.offset };
        if offset > l.desc.limit() {
            return Err(Fault::GP0);
        }
        self.mark_accessed(&l.desc, l.desc_addr)?;
        self.cpu.seg[SegReg::Cs as usize] =
            Descriptor::new(l.desc.raw | 1 << 40).to_segment((l.selector & !RPL_MASK) | cpl as u16);
        self.cpu.eip = offset;
        self.end_block = true;
        Ok(())
    }

    /// CALL through a call gate to a more privileged non-conforming segment: new stack
    /// from the TSS, parameters copied, old SS:ESP and CS:EIP pushed there.
    fn call_inner(&mut self, l: &Landing, ret_cs: u32, ret_eip: u32) -> Result<(), Fault> {
        let new_cpl = l.desc.dpl();
        let (ss_sel, esp) = self.tss_stack(new_cpl, 0)?;
        let ts = Fault::with_code(Vector::InvalidTss, (ss_sel & !RPL_MASK) as u32);
        if ss_sel & !RPL_MASK == 0 {
            return Err(ts);
        }
        let (sd, saddr) = self.fetch_descriptor(ss_sel).map_err(|_| ts)?;
        if (ss_sel & RPL_MASK) as u8 != new_cpl || sd.dpl() != new_cpl || !sd.is_data() || !sd.read_write() {
            return Err(ts);
        }
        if !sd.present() {
            return Err(Fault::with_code(Vector::StackFault, (ss_sel & !RPL_MASK) as u32));
        }
        let offset = if l.size == 2 { l.offset & 0xFFFF } else { l.offset };
        if offset > l.desc.limit() {
            return Err(Fault::GP0);
        }
        // Gather the parameters from the old stack before switching.
        let mut params = Vec::with_capacity(l.params as usize);
        for i in 0..l.params {
            params.push(self.peek(i * l.size as u32, l.size)?);
        }
        let old_ss = self.cpu.seg[SegReg::Ss as usize];
        let old_cs = self.cpu.seg[SegReg::Cs as usize];
        let old_esp = self.cpu.gpr[4];
        let new_ss = Descriptor::new(sd.raw | 1 << 40).to_segment(ss_sel);
        self.cpu.seg[SegReg::Ss as usize] = new_ss;
        self.cpu.seg[SegReg::Cs as usize] =
            Descriptor::new(l.desc.raw | 1 << 40).to_segment((l.selector & !RPL_MASK) | new_cpl as u16);
        self.cpu.gpr[4] = esp;
        let mut frame = vec![old_ss.selector as u32, old_esp];
        frame.extend(params.iter().rev());
        frame.push(ret_cs);
        frame.push(ret_eip);
        for v in frame {
            if let Err(f) = self.push(l.size, v) {
                self.cpu.seg[SegReg::Ss as usize] = old_ss;
                self.cpu.seg[SegReg::Cs as usize] = old_cs;
                self.cpu.gpr[4] = old_esp;
                return Err(if f.vector == Vector::StackFault as u8 {
                    Fault::with_code(Vector::StackFault, (ss_sel & !RPL_MASK) as u32)
                } else {
                    f
                });
            }
        }
        self.mark_accessed(&sd, saddr)?;
        self.mark_accessed(&l.desc, l.desc_addr)?;
        self.cpu.eip = offset;
        self.end_block = true;
        Ok(())
    }

    /// RETF in protected mode, releasing `release` bytes of parameters.
    pub(crate) fn pm_far_ret(&mut self, size: u8, release: u32) -> Result<(), Fault> {
        let eip = self.peek(0, size)?;
        let cs = self.peek(size as u32, size)? as u16;
        self.return_to(cs, eip, size, 2 * size as u32, release, None)
    }

    /// IRET in protected mode (not from virtual-8086 mode).
    pub(crate) fn pm_iret(&mut self, size: u8) -> Result<(), Fault> {
        if self.cpu.eflags & Flags::NT != 0 {
            return self.iret_to_task();
        }
        let eip = self.peek(0, size)?;
        let cs = self.peek(size as u32, size)? as u16;
        let flags = self.peek(2 * size as u32, size)?;
        if size == 4 && flags & Flags::VM != 0 && self.cpu.cpl() == 0 {
            return self.iret_to_v86(eip, cs, flags);
        }
        self.return_to(cs, eip, size, 3 * size as u32, 0, Some(flags))
    }

    /// The common tail of RETF and IRET: checks the return CS and, for an outer level,
    /// the stack it pops; then commits CS:EIP, flags, SS:ESP.
    fn return_to(
        &mut self,
        cs: u16,
        eip: u32,
        size: u8,
        frame: u32,
        release: u32,
        flags: Option<u32>,
    ) -> Result<(), Fault> {
        let cpl = self.cpu.cpl();
        if cs & !RPL_MASK == 0 {
            return Err(Fault::GP0);
        }
        let rpl = (cs & RPL_MASK) as u8;
        if rpl < cpl {
            return Err(gp(cs));
        }
        let (cd, caddr) = self.fetch_descriptor(cs)?;
        if !cd.is_code() || (cd.is_conforming() && cd.dpl() > rpl) || (!cd.is_conforming() && cd.dpl() != rpl) {
            return Err(gp(cs));
        }
        if !cd.present() {
            return Err(np(cs));
        }
        let eip = if size == 2 { eip & 0xFFFF } else { eip };
        if eip > cd.limit() {
            return Err(Fault::GP0);
        }
        let outer = rpl > cpl;
        let mut new_stack = None;
        if outer {
            let sp_off = frame + release;
            let esp = self.peek(sp_off, size)?;
            let ss = self.peek(sp_off + size as u32, size)? as u16;
            if ss & !RPL_MASK == 0 {
                return Err(Fault::GP0);
            }
            let (sd, saddr) = self.fetch_descriptor(ss)?;
            if (ss & RPL_MASK) as u8 != rpl || sd.dpl() != rpl || !sd.is_data() || !sd.read_write() {
                return Err(gp(ss));
            }
            if !sd.present() {
                return Err(Fault::with_code(Vector::StackFault, (ss & !RPL_MASK) as u32));
            }
            new_stack = Some((Descriptor::new(sd.raw | 1 << 40).to_segment(ss), esp, sd, saddr));
        }
        // Commit.
        self.mark_accessed(&cd, caddr)?;
        if let Some(f) = flags {
            self.write_iret_flags(f, size);
        }
        self.cpu.seg[SegReg::Cs as usize] = Descriptor::new(cd.raw | 1 << 40).to_segment(cs);
        self.cpu.eip = eip;
        self.end_block = true;
        match new_stack {
            Some((ss, esp, sd, saddr)) => {
                self.mark_accessed(&sd, saddr)?;
                self.cpu.seg[SegReg::Ss as usize] = ss;
                let mask = if ss.is_32() { 0xFFFF_FFFF } else { 0xFFFF };
                let esp = if size == 2 { esp & 0xFFFF } else { esp };
                self.cpu.gpr[4] = (self.cpu.gpr[4] & !mask) | (esp.wrapping_add(release) & mask);
                self.null_outer_data_segments();
            }
            None => {
                let sp = self.sp().wrapping_add(frame + release);
                self.set_sp(sp);
            }
        }
        Ok(())
    }

    /// EFLAGS from an IRET frame, as privilege allows.
    fn write_iret_flags(&mut self, value: u32, size: u8) {
        let mut mask = if size == 2 { 0xFFFF } else { Flags::WRITABLE & !Flags::VM };
        let cpl = self.cpu.cpl() as u32;
        let iopl = (self.cpu.eflags & Flags::IOPL) >> 12;
        if cpl > 0 {
            mask &= !(Flags::IOPL | Flags::VIF | Flags::VIP);
        }
        if cpl > iopl {
            mask &= !Flags::IF;
        }
        mask &= Flags::WRITABLE;
        self.cpu.eflags = (self.cpu.eflags & !mask) | (value & mask) | Flags::FIXED1;
    }

    /// After a return to an outer level, data segment registers the new level may not use
    /// are loaded with null.
    fn null_outer_data_segments(&mut self) {
        let cpl = self.cpu.cpl();
        for s in [SegReg::Es, SegReg::Ds, SegReg::Fs, SegReg::Gs] {
            let seg = self.cpu.seg[s as usize];
            let access = seg.attrs as u8;
            let dpl = (access >> 5) & 3;
            let code = access & 0x08 != 0;
            let conforming = code && access & 0x04 != 0;
            if (!code || !conforming) && dpl < cpl {
                self.cpu.seg[s as usize] = Segment { selector: 0, attrs: 0, base: 0, limit: 0 };
            }
        }
    }

    /// IRET with NT set: back to the task named by the current TSS's back-link.
    fn iret_to_task(&mut self) -> Result<(), Fault> {
        let link = self.sys_read(self.cpu.tr.base, 2)? as u16;
        let ts = Fault::with_code(Vector::InvalidTss, (link & !RPL_MASK) as u32);
        if link & TI_LDT != 0 || link & !RPL_MASK == 0 {
            return Err(ts);
        }
        let (d, addr) = self.fetch_descriptor(link).map_err(|_| ts)?;
        if d.is_code_data() || !matches!(d.system_type(), sys_type::TSS16_BUSY | sys_type::TSS32_BUSY) {
            return Err(ts);
        }
        let ret = self.cpu.eip;
        self.task_switch(link, d, addr, SwitchKind::Iret, ret, None)
    }

    /// IRETD at CPL 0 to a frame with VM set: pop the whole virtual-8086 frame.
    fn iret_to_v86(&mut self, eip: u32, cs: u16, flags: u32) -> Result<(), Fault> {
        let mut v = [0u32; 6];
        for (i, slot) in v.iter_mut().enumerate() {
            *slot = self.peek(12 + 4 * i as u32, 4)?;
        }
        let [esp, ss, es, ds, fs, gs] = v;
        self.cpu.eflags = (flags & Flags::WRITABLE) | Flags::FIXED1;
        let real = |sel: u32| {
            let sel = sel as u16;
            Segment { selector: sel, attrs: 0xF3, base: (sel as u32) << 4, limit: 0xFFFF }
        };
        self.cpu.seg[SegReg::Cs as usize] = real(cs as u32);
        self.cpu.seg[SegReg::Ss as usize] = real(ss);
        self.cpu.seg[SegReg::Es as usize] = real(es);
        self.cpu.seg[SegReg::Ds as usize] = real(ds);
        self.cpu.seg[SegReg::Fs as usize] = real(fs);
        self.cpu.seg[SegReg::Gs as usize] = real(gs);
        self.cpu.gpr[4] = esp;
        self.cpu.eip = eip & 0xFFFF;
        self.end_block = true;
        Ok(())
    }
}
