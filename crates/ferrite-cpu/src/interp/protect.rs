//! Protected-mode-only system instructions: LLDT/LTR/SLDT/STR and the descriptor probes
//! LAR/LSL/VERR/VERW/ARPL. In real and virtual-8086 mode they are #UD, as on hardware.

use super::Exec;
use crate::descriptor::Descriptor;
use crate::fault::{Fault, Vector};
use crate::flags::Flags;
use crate::state::Segment;
use iced_x86::{Instruction, Mnemonic, OpKind};

/// System descriptor types.
pub(crate) mod sys_type {
    /// 16-bit TSS, available.
    pub const TSS16_AVAIL: u8 = 0x1;
    /// LDT.
    pub const LDT: u8 = 0x2;
    /// 16-bit TSS, busy.
    pub const TSS16_BUSY: u8 = 0x3;
    /// 16-bit call gate.
    pub const CALL16: u8 = 0x4;
    /// Task gate.
    pub const TASK: u8 = 0x5;
    /// 32-bit TSS, available.
    pub const TSS32_AVAIL: u8 = 0x9;
    /// 32-bit TSS, busy.
    pub const TSS32_BUSY: u8 = 0xB;
    /// 32-bit call gate.
    pub const CALL32: u8 = 0xC;
    /// The busy bit within a TSS type.
    pub const BUSY_BIT: u8 = 0x2;
}

impl Exec<'_> {
    pub(super) fn exec_protect(&mut self, ins: &Instruction) -> Result<(), Fault> {
        use Mnemonic as M;
        if !self.cpu.protected_mode() || self.cpu.eflags & Flags::VM != 0 {
            return Err(Fault::UD);
        }
        match ins.mnemonic() {
            M::Sldt | M::Str => {
                let v = if ins.mnemonic() == M::Sldt { self.cpu.ldtr.selector } else { self.cpu.tr.selector };
                if ins.op0_kind() == OpKind::Memory {
                    let seg = self.mem_seg(ins);
                    let off = self.ea(ins);
                    self.write_mem(seg, off, 2, v as u32)
                } else {
                    self.write_op(ins, 0, v as u32)
                }
            }
            M::Lldt => {
                self.require_cpl0()?;
                let sel = self.read_op(ins, 0)? as u16;
                self.load_ldtr(sel)
            }
            M::Ltr => {
                self.require_cpl0()?;
                let sel = self.read_op(ins, 0)? as u16;
                self.load_tr(sel)
            }
            M::Lar | M::Lsl => {
                let sel = self.read_op(ins, 1)? as u16;
                match self.probe_descriptor(sel, ins.mnemonic() == M::Lar) {
                    Some(d) => {
                        let v = if ins.mnemonic() == M::Lar { (d.raw >> 32) as u32 & 0x00F0_FF00 } else { d.limit() };
                        self.write_op(ins, 0, v)?;
                        self.cpu.eflags |= Flags::ZF;
                    }
                    None => self.cpu.eflags &= !Flags::ZF,
                }
                Ok(())
            }
            M::Verr | M::Verw => {
                let sel = self.read_op(ins, 0)? as u16;
                let ok = self.verify(sel, ins.mnemonic() == M::Verw);
                if ok {
                    self.cpu.eflags |= Flags::ZF;
                } else {
                    self.cpu.eflags &= !Flags::ZF;
                }
                Ok(())
            }
            M::Arpl => {
                let dest = self.read_op(ins, 0)?;
                let src = self.read_op(ins, 1)?;
                if dest & 3 < src & 3 {
                    self.write_op(ins, 0, (dest & !3) | (src & 3))?;
                    self.cpu.eflags |= Flags::ZF;
                } else {
                    self.cpu.eflags &= !Flags::ZF;
                }
                Ok(())
            }
            _ => Err(Fault::UD),
        }
    }

    fn require_cpl0(&self) -> Result<(), Fault> {
        if self.cpu.cpl() != 0 {
            return Err(Fault::GP0);
        }
        Ok(())
    }

    /// LLDT: a null selector leaves LDTR unusable; otherwise an LDT descriptor in the GDT.
    pub(crate) fn load_ldtr(&mut self, sel: u16) -> Result<(), Fault> {
        if sel & !3 == 0 {
            self.cpu.ldtr = Segment { selector: sel, attrs: 0, base: 0, limit: 0 };
            return Ok(());
        }
        let gp = Fault::with_code(Vector::GeneralProtection, (sel & !3) as u32);
        if sel & 4 != 0 {
            return Err(gp);
        }
        let (d, _) = self.fetch_descriptor(sel)?;
        if d.is_code_data() || d.system_type() != sys_type::LDT {
            return Err(gp);
        }
        if !d.present() {
            return Err(Fault::with_code(Vector::SegmentNotPresent, (sel & !3) as u32));
        }
        self.cpu.ldtr = d.to_segment(sel);
        Ok(())
    }

    /// LTR: an available TSS in the GDT, which becomes busy.
    fn load_tr(&mut self, sel: u16) -> Result<(), Fault> {
        let gp = Fault::with_code(Vector::GeneralProtection, (sel & !3) as u32);
        if sel & !3 == 0 {
            return Err(Fault::GP0);
        }
        if sel & 4 != 0 {
            return Err(gp);
        }
        let (d, addr) = self.fetch_descriptor(sel)?;
        let ty = d.system_type();
        if d.is_code_data() || !(ty == sys_type::TSS16_AVAIL || ty == sys_type::TSS32_AVAIL) {
            return Err(gp);
        }
        if !d.present() {
            return Err(Fault::with_code(Vector::SegmentNotPresent, (sel & !3) as u32));
        }
        let busy = d.access() | sys_type::BUSY_BIT;
        self.sys_write(addr.wrapping_add(5), 1, busy as u32)?;
        self.cpu.tr = Descriptor::new(d.raw | ((sys_type::BUSY_BIT as u64) << 40)).to_segment(sel);
        Ok(())
    }

    /// The descriptor LAR (`lar`) or LSL may report, or None when ZF must be cleared.
    fn probe_descriptor(&mut self, sel: u16, lar: bool) -> Option<Descriptor> {
        if sel & !3 == 0 {
            return None;
        }
        let (d, _) = self.fetch_descriptor(sel).ok()?;
        if !d.is_code_data() {
            use sys_type::*;
            let ty = d.system_type();
            let ok = match ty {
                TSS16_AVAIL | LDT | TSS16_BUSY | TSS32_AVAIL | TSS32_BUSY => true,
                CALL16 | TASK | CALL32 => lar,
                _ => false,
            };
            if !ok {
                return None;
            }
        }
        if !d.is_conforming() {
            let rpl = (sel & 3) as u8;
            if d.dpl() < rpl.max(self.cpu.cpl()) {
                return None;
            }
        }
        Some(d)
    }

    /// VERR/VERW: whether the segment is readable (writable) at the current privilege.
    fn verify(&mut self, sel: u16, write: bool) -> bool {
        if sel & !3 == 0 {
            return false;
        }
        let Ok((d, _)) = self.fetch_descriptor(sel) else {
            return false;
        };
        if !d.is_code_data() {
            return false;
        }
        if !d.is_conforming() {
            let rpl = (sel & 3) as u8;
            if d.dpl() < rpl.max(self.cpu.cpl()) {
                return false;
            }
        }
        if write {
            d.is_data() && d.read_write()
        } else {
            d.is_data() || d.read_write()
        }
    }
}
