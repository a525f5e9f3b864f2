//! Guest memory as the CPU sees it: segment limit checks, linear addresses, and the
//! physical access that routes RAM/ROM to `ferrite-mem` and MMIO to the bus.
//!
//! Paging and the soft TLB that caches it live in `paging.rs` (`Exec::translate`).

use crate::fault::{Fault, Vector};
use crate::flags::Flags;

/// CR0.AM: alignment checking enabled (with EFLAGS.AC at CPL 3).
const CR0_AM: u32 = 1 << 18;
use crate::interp::Exec;
use crate::state::SegReg;
use ferrite_mem::{Target, PAGE_SIZE};

/// What an access intends, for limit, permission and paging checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    Read,
    Write,
    Execute,
}

impl Exec<'_> {
    /// Linear address of `seg:offset` after the segment's limit check.
    #[inline]
    pub(crate) fn linear(&self, seg: SegReg, offset: u32, size: u8, access: Access) -> Result<u32, Fault> {
        let s = &self.cpu.seg[seg as usize];
        let last = offset as u64 + size as u64 - 1;
        let pm = self.cpu.protected_mode();
        if pm && !type_allows(s.attrs, access) {
            return Err(if seg == SegReg::Ss { Fault::SS0 } else { Fault::GP0 });
        }
        let expand_down = pm && s.attrs & 0x1C == 0x14;
        let ok = if expand_down {
            let upper = if s.is_32() { 0xFFFF_FFFFu64 } else { 0xFFFF };
            offset as u64 > s.limit as u64 && last <= upper
        } else {
            last <= s.limit as u64
        };
        if !ok {
            return Err(if seg == SegReg::Ss { Fault::SS0 } else { Fault::GP0 });
        }
        Ok(s.base.wrapping_add(offset))
    }

    /// Reads `size` bytes (1, 2 or 4) at a physical address.
    #[inline]
    pub(crate) fn phys_read(&mut self, addr: u32, size: u8) -> u32 {
        if let Some(b) = self.mem.ram_slice(addr, size as usize) {
            return match size {
                1 => b[0] as u32,
                2 => u16::from_le_bytes([b[0], b[1]]) as u32,
                _ => u32::from_le_bytes([b[0], b[1], b[2], b[3]]),
            };
        }
        if size > 1 && self.whole_mmio(addr, size) {
            self.end_block = true;
            return self.io.mmio_read(addr & self.mem.a20_mask(), size);
        }
        let mut v = 0u32;
        for i in 0..size as u32 {
            let a = addr.wrapping_add(i);
            let byte = match self.mem.resolve(a) {
                Target::Mmio(..) => {
                    self.end_block = true;
                    self.io.mmio_read(a & self.mem.a20_mask(), 1) & 0xFF
                }
                _ => self.mem.read_u8(a) as u32,
            };
            v |= byte << (8 * i);
        }
        v
    }

    /// Writes `size` bytes (1, 2 or 4) at a physical address.
    #[inline]
    pub(crate) fn phys_write(&mut self, addr: u32, size: u8, value: u32) {
        if let Some(b) = self.mem.ram_slice_mut(addr, size as usize) {
            b.copy_from_slice(&value.to_le_bytes()[..size as usize]);
            // A write to a page holding decoded code ends the block, like an MMIO access:
            // the run loop drops the stale decodes before the next one.
            self.end_block |= self.mem.code_written();
            return;
        }
        if size > 1 && self.whole_mmio(addr, size) {
            self.end_block = true;
            self.io.mmio_write(addr & self.mem.a20_mask(), size, value);
            return;
        }
        for i in 0..size as u32 {
            let a = addr.wrapping_add(i);
            let byte = (value >> (8 * i)) as u8;
            match self.mem.resolve(a) {
                Target::Mmio(..) => {
                    self.end_block = true;
                    self.io.mmio_write(a & self.mem.a20_mask(), 1, byte as u32)
                }
                _ => self.mem.write_u8(a, byte),
            }
        }
        self.end_block |= self.mem.code_written();
    }

    /// Whether all `size` bytes at `addr` fall in one MMIO hole: the bus then sees one
    /// access of the instruction's width, as device registers (the APICs') need.
    fn whole_mmio(&self, addr: u32, size: u8) -> bool {
        let last = addr.wrapping_add(size as u32 - 1);
        match (self.mem.resolve(addr), self.mem.resolve(last)) {
            (Target::Mmio(a, off_a), Target::Mmio(b, off_b)) => a == b && off_b.wrapping_sub(off_a) == size as u32 - 1,
            _ => false,
        }
    }

    /// Reads at a linear address; an access crossing a page is split so each page is
    /// translated (and faults) on its own.
    pub(crate) fn lin_read(&mut self, lin: u32, size: u8, access: Access) -> Result<u32, Fault> {
        if access == Access::Read {
            if self.cpu.dbg.rw_mask != 0 {
                self.note_data_access(lin, size, false);
            }
            if self.cpu.hooks.any_watch {
                self.cpu.hooks.note_access(lin, size, false);
            }
        }
        if (lin & (PAGE_SIZE - 1)) + size as u32 <= PAGE_SIZE {
            let p = self.translate(lin, access)?;
            return Ok(self.phys_read(p, size));
        }
        let mut v = 0;
        for i in 0..size as u32 {
            let p = self.translate(lin.wrapping_add(i), access)?;
            v |= self.phys_read(p, 1) << (8 * i);
        }
        Ok(v)
    }

    /// Writes at a linear address, translating every page before any byte lands.
    pub(crate) fn lin_write(&mut self, lin: u32, size: u8, value: u32) -> Result<(), Fault> {
        if self.cpu.dbg.data_armed() {
            self.note_data_access(lin, size, true);
        }
        if self.cpu.hooks.any_watch {
            self.cpu.hooks.note_access(lin, size, true);
        }
        if (lin & (PAGE_SIZE - 1)) + size as u32 <= PAGE_SIZE {
            let p = self.translate(lin, Access::Write)?;
            self.phys_write(p, size, value);
            return Ok(());
        }
        // Translate every byte's page before any byte lands, so a fault commits nothing.
        let mut phys = [0u32; 4];
        for (i, p) in phys.iter_mut().enumerate().take(size as usize) {
            *p = self.translate(lin.wrapping_add(i as u32), Access::Write)?;
        }
        for (i, p) in phys.iter().enumerate().take(size as usize) {
            self.phys_write(*p, 1, value >> (8 * i));
        }
        Ok(())
    }

    /// Reads `size` bytes at `seg:offset`.
    #[inline]
    pub(crate) fn read_mem(&mut self, seg: SegReg, offset: u32, size: u8) -> Result<u32, Fault> {
        let lin = self.linear(seg, offset, size, Access::Read)?;
        self.check_alignment(lin, size)?;
        self.lin_read(lin, size, Access::Read)
    }

    /// Writes `size` bytes at `seg:offset`.
    #[inline]
    pub(crate) fn write_mem(&mut self, seg: SegReg, offset: u32, size: u8, value: u32) -> Result<(), Fault> {
        let lin = self.linear(seg, offset, size, Access::Write)?;
        self.check_alignment(lin, size)?;
        self.lin_write(lin, size, value)
    }

    /// #AC(0) for a misaligned data access at CPL 3 when CR0.AM and EFLAGS.AC are set.
    #[inline]
    fn check_alignment(&self, lin: u32, size: u8) -> Result<(), Fault> {
        if self.cpu.eflags & Flags::AC == 0 || lin & (size as u32 - 1) == 0 {
            return Ok(());
        }
        if self.cpu.cr0 & CR0_AM != 0 && self.cpu.cpl() == 3 {
            return Err(Fault::with_code(Vector::AlignmentCheck, 0));
        }
        Ok(())
    }

    /// Reads a code byte at CS:`offset` (instruction fetch).
    pub(crate) fn fetch_u8(&mut self, offset: u32) -> Result<u8, Fault> {
        let lin = self.linear(SegReg::Cs, offset, 1, Access::Execute)?;
        Ok(self.lin_read(lin, 1, Access::Execute)? as u8)
    }

    /// Reads a descriptor table, the IVT or a TSS by linear address: a supervisor
    /// access whatever the CPL.
    pub(crate) fn sys_read(&mut self, lin: u32, size: u8) -> Result<u32, Fault> {
        let mut v = 0;
        for i in 0..size as u32 {
            let p = self.translate_as(lin.wrapping_add(i), Access::Read, false)?;
            v |= self.phys_read(p, 1) << (8 * i);
        }
        Ok(v)
    }

    /// Writes a descriptor table or TSS by linear address (supervisor access).
    pub(crate) fn sys_write(&mut self, lin: u32, size: u8, value: u32) -> Result<(), Fault> {
        let mut phys = [0u32; 4];
        for (i, p) in phys.iter_mut().enumerate().take(size as usize) {
            *p = self.translate_as(lin.wrapping_add(i as u32), Access::Write, false)?;
        }
        for (i, p) in phys.iter().enumerate().take(size as usize) {
            self.phys_write(*p, 1, value >> (8 * i));
        }
        Ok(())
    }
}

/// Whether a protected-mode segment with these attributes permits `access`: it must be
/// usable (present), writes need writable data, reads of code need a readable segment.
#[inline]
fn type_allows(attrs: u16, access: Access) -> bool {
    use crate::descriptor::access as a;
    let acc = attrs as u8;
    if acc & a::PRESENT == 0 {
        return false;
    }
    let code = acc & a::CODE != 0;
    match access {
        Access::Write => !code && acc & a::READ_WRITE != 0,
        Access::Read => !code || acc & a::READ_WRITE != 0,
        Access::Execute => true,
    }
}

#[cfg(test)]
mod tests {
    use crate::{Cpu, NullBus, SegReg};

    /// Runs `code` at CPL 3 (protected mode, real-mode-style cached segments) with CR0.AM
    /// and EFLAGS.AC as given, and returns the CPU.
    fn run_cpl3(code: &[u8], am: bool, ac: bool) -> Cpu {
        let mut mem = ferrite_mem::PhysMem::new(1 << 20).unwrap();
        mem.write_bytes(0x100, code);
        let mut cpu = Cpu::new();
        for s in SegReg::ALL {
            cpu.load_seg_real(s, 0);
        }
        cpu.seg[SegReg::Cs as usize].selector = 3;
        cpu.cr0 = 0x11 | if am { super::CR0_AM } else { 0 };
        if ac {
            cpu.eflags |= crate::Flags::AC;
        }
        cpu.eip = 0x100;
        cpu.gpr[4] = 0x8000;
        cpu.run(&mut mem, &mut NullBus, 10);
        cpu
    }

    const ALIGNED_THEN_MISALIGNED: [u8; 6] = [0xA1, 0x00, 0x02, 0xA1, 0x01, 0x02]; // mov ax,[0x200]; mov ax,[0x201]

    #[test]
    fn test_misaligned_access_at_cpl3_with_am_and_ac_is_ac_fault() {
        let cpu = run_cpl3(&ALIGNED_THEN_MISALIGNED, true, true);
        let f = cpu.last_fault.expect("a fault");
        assert_eq!(f.fault.vector, 17);
        assert_eq!(f.eip, 0x103, "the misaligned load faulted, the aligned one did not");
    }

    #[test]
    fn test_alignment_check_needs_both_am_and_ac() {
        for (am, ac) in [(true, false), (false, true)] {
            let cpu = run_cpl3(&ALIGNED_THEN_MISALIGNED, am, ac);
            assert!(cpu.last_fault.is_none_or(|f| f.fault.vector != 17), "am={am} ac={ac}");
        }
    }

    /// Records the MMIO accesses the CPU makes: (address, size, value, is-write).
    #[derive(Default)]
    struct MmioLog(Vec<(u32, u8, u32, bool)>);

    impl crate::IoBus for MmioLog {
        fn io_read(&mut self, _port: u16, _size: u8) -> u32 {
            !0
        }
        fn io_write(&mut self, _port: u16, _size: u8, _value: u32) {}
        fn mmio_read(&mut self, addr: u32, size: u8) -> u32 {
            self.0.push((addr, size, 0, false));
            0x1122_3344
        }
        fn mmio_write(&mut self, addr: u32, size: u8, value: u32) {
            self.0.push((addr, size, value, true));
        }
    }

    #[test]
    fn test_mmio_access_keeps_its_width_inside_one_hole() {
        let code = [
            0x66, 0xC7, 0x06, 0x10, 0x00, 0x78, 0x56, 0x34, 0x12, // mov dword [0x10], 0x12345678
            0x66, 0xA1, 0x20, 0x00, // mov eax, [0x20]
            0x8B, 0x1E, 0xFF, 0x0F, // mov bx, [0xFFF]: last byte of the hole, then RAM
            0xF4,
        ];
        let mut bus = MmioLog::default();
        let (cpu, _) = crate::tests::run_real_on(&code, &mut bus, |cpu, mem| {
            mem.add_mmio(0xA0000, 0x1000, 7).unwrap();
            mem.write_u8(0xA1000, 0x55);
            cpu.load_seg_real(SegReg::Ds, 0xA000);
        });
        assert_eq!(bus.0[0], (0xA0010, 4, 0x1234_5678, true), "one dword write");
        assert_eq!(bus.0[1], (0xA0020, 4, 0, false), "one dword read");
        assert_eq!(cpu.gpr[0], 0x1122_3344);
        assert_eq!(bus.0[2], (0xA0FFF, 1, 0, false), "an access leaving the hole goes byte by byte");
        assert_eq!(bus.0.len(), 3);
        assert_eq!(cpu.gpr[3] & 0xFFFF, 0x5544);
    }
}
