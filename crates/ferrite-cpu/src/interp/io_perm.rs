//! Who may use IN/OUT/INS/OUTS: in protected mode, code at CPL ≤ IOPL may; otherwise (and
//! always in virtual-8086 mode) the I/O permission bitmap in the current 32-bit TSS
//! decides, bit by bit for every port the access touches.

use super::protect::sys_type;
use super::Exec;
use crate::fault::Fault;
use crate::flags::Flags;

/// Offset of the I/O map base field in a 32-bit TSS.
const TSS_IOMAP_BASE: u32 = 0x66;
/// The smallest limit a 32-bit TSS can have.
const TSS32_MIN_LIMIT: u32 = 0x67;

impl Exec<'_> {
    /// #GP(0) unless an access of `size` bytes to `port` is permitted.
    pub(crate) fn check_io(&mut self, port: u16, size: u8) -> Result<(), Fault> {
        if !self.cpu.protected_mode() {
            return Ok(());
        }
        let v86 = self.cpu.eflags & Flags::VM != 0;
        let iopl = (self.cpu.eflags & Flags::IOPL) >> 12;
        if !v86 && self.cpu.cpl() as u32 <= iopl {
            return Ok(());
        }
        let tr = self.cpu.tr;
        let ty = tr.attrs as u8 & 0xF;
        if !(ty == sys_type::TSS32_AVAIL || ty == sys_type::TSS32_BUSY) || tr.limit < TSS32_MIN_LIMIT {
            return Err(Fault::GP0);
        }
        let map_base = self.sys_read(tr.base.wrapping_add(TSS_IOMAP_BASE), 2)?;
        let first = map_base + port as u32 / 8;
        if first + 1 > tr.limit {
            return Err(Fault::GP0);
        }
        let bits = self.sys_read(tr.base.wrapping_add(first), 2)?;
        let mask = ((1u32 << size) - 1) << (port & 7);
        if bits & mask != 0 {
            return Err(Fault::GP0);
        }
        Ok(())
    }
}
