//! Segment register loads: real mode and virtual-8086 mode (base = selector × 16) and
//! protected mode (descriptor fetch from the GDT/LDT with the privilege and type checks
//! of the SDM, accessed bit written back).

use super::Exec;
use crate::descriptor::{access, Descriptor};
use crate::fault::{Fault, Vector};
use crate::flags::Flags;
use crate::state::{SegReg, Segment};

/// Selector bits.
const SEL_TI_LDT: u16 = 1 << 2;
const SEL_RPL: u16 = 3;
/// Attributes of a virtual-8086 segment: present, DPL 3, writable data, accessed.
const V86_ATTRS: u16 = 0xF3;

impl Exec<'_> {
    /// Loads a segment register the way the current mode does.
    pub(crate) fn load_segment(&mut self, s: SegReg, selector: u16) -> Result<(), Fault> {
        if !self.cpu.protected_mode() {
            self.cpu.load_seg_real(s, selector);
            return Ok(());
        }
        if self.cpu.eflags & Flags::VM != 0 {
            self.cpu.seg[s as usize] =
                Segment { selector, attrs: V86_ATTRS, base: (selector as u32) << 4, limit: 0xFFFF };
            return Ok(());
        }
        match s {
            SegReg::Ss => self.load_ss(selector),
            // CS changes only through far transfers, which check gates and privilege.
            SegReg::Cs => Err(Fault::with_code(Vector::GeneralProtection, (selector & !SEL_RPL) as u32)),
            _ => self.load_data_seg(s, selector),
        }
    }

    /// Reads the descriptor `selector` names. #GP(selector) when it lies outside its table.
    pub(crate) fn fetch_descriptor(&mut self, selector: u16) -> Result<(Descriptor, u32), Fault> {
        let gp = Fault::with_code(Vector::GeneralProtection, (selector & !SEL_RPL) as u32);
        let (base, limit) = if selector & SEL_TI_LDT != 0 {
            if self.cpu.ldtr.attrs & Segment::ATTR_PRESENT == 0 {
                return Err(gp);
            }
            (self.cpu.ldtr.base, self.cpu.ldtr.limit)
        } else {
            (self.cpu.gdtr.base, self.cpu.gdtr.limit)
        };
        let offset = (selector & !7) as u32;
        if offset + 7 > limit {
            return Err(gp);
        }
        let addr = base.wrapping_add(offset);
        let lo = self.sys_read(addr, 4)? as u64;
        let hi = self.sys_read(addr.wrapping_add(4), 4)? as u64;
        Ok((Descriptor::new(lo | (hi << 32)), addr))
    }

    /// Sets the accessed bit of a code/data descriptor in memory if it is clear.
    pub(crate) fn mark_accessed(&mut self, d: &Descriptor, addr: u32) -> Result<(), Fault> {
        if d.access() & access::ACCESSED == 0 {
            self.sys_write(addr.wrapping_add(5), 1, (d.access() | access::ACCESSED) as u32)?;
        }
        Ok(())
    }

    fn load_ss(&mut self, selector: u16) -> Result<(), Fault> {
        let cpl = self.cpu.cpl();
        let gp = Fault::with_code(Vector::GeneralProtection, (selector & !SEL_RPL) as u32);
        if selector & !SEL_RPL == 0 {
            return Err(Fault::GP0);
        }
        let (d, addr) = self.fetch_descriptor(selector)?;
        if (selector & SEL_RPL) as u8 != cpl || !d.is_data() || !d.read_write() || d.dpl() != cpl {
            return Err(gp);
        }
        if !d.present() {
            return Err(Fault::with_code(Vector::StackFault, (selector & !SEL_RPL) as u32));
        }
        self.mark_accessed(&d, addr)?;
        self.cpu.seg[SegReg::Ss as usize] = Descriptor::new(d.raw | (1 << 40)).to_segment(selector);
        Ok(())
    }

    fn load_data_seg(&mut self, s: SegReg, selector: u16) -> Result<(), Fault> {
        if selector & !SEL_RPL == 0 {
            // A null selector loads an unusable segment; using it faults later.
            self.cpu.seg[s as usize] = Segment { selector, attrs: 0, base: 0, limit: 0 };
            return Ok(());
        }
        let gp = Fault::with_code(Vector::GeneralProtection, (selector & !SEL_RPL) as u32);
        let (d, addr) = self.fetch_descriptor(selector)?;
        if !(d.is_data() || (d.is_code() && d.read_write())) {
            return Err(gp);
        }
        if d.is_data() || !d.is_conforming() {
            let rpl = (selector & SEL_RPL) as u8;
            if rpl.max(self.cpu.cpl()) > d.dpl() {
                return Err(gp);
            }
        }
        if !d.present() {
            return Err(Fault::with_code(Vector::SegmentNotPresent, (selector & !SEL_RPL) as u32));
        }
        self.mark_accessed(&d, addr)?;
        self.cpu.seg[s as usize] = Descriptor::new(d.raw | (1 << 40)).to_segment(selector);
        Ok(())
    }
}
