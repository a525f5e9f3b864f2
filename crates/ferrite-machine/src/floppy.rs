//! The board's floppy side and the BIOS boot order: the floppy disks in the 82077AA
//! controller, the CMOS bytes that describe them, the transfers the run loop carries out
//! between the controller and guest memory through DMA channel 2, and the boot-order
//! bytes SeaBIOS reads.
//!
//! SeaBIOS built for QEMU (`CONFIG_QEMU`) takes the floppy drive types from CMOS 0x10
//! (drive A in bits 4–7, B in 0–3) and its default boot priorities from the CMOS bytes
//! QEMU's `-boot` writes: 0x3D holds the first device in bits 0–3 and the second in bits
//! 4–7, 0x38 the third in bits 4–7, with 1 = floppy, 2 = hard disk, 3 = CD-ROM, 4 =
//! network; bit 0 of 0x38 set skips the check for the 0xAA55 signature on a floppy's boot
//! sector (see `boot_init` in SeaBIOS's `src/boot.c`). Devices not named keep the lowest
//! priority. The fw_cfg `bootorder` file, which QEMU fills only from per-device
//! `bootindex` properties, stays empty, as QEMU leaves it with `-boot` alone. Without
//! [`Machine::set_boot_order`] the machine uses QEMU's default order, `cad`. CMOS 0x14
//! (the equipment byte) reports the x87, the PS/2 mouse port and the floppy drives.

use crate::board::Board;
use crate::{GuestDma, Machine};
use ferrite_devices::block::DiskImage;
use ferrite_devices::fdc::{FloppyGeometry, FloppySizeError, FDC_DMA_CHANNEL, FDC_DRIVES};
use ferrite_mem::PhysMem;

/// CMOS register of the floppy drive types.
pub const CMOS_FLOPPY_TYPES: u8 = 0x10;
/// CMOS register of the equipment byte.
pub const CMOS_EQUIPMENT: u8 = 0x14;
/// CMOS register with the third boot device (bits 4–7) and the floppy-signature flag (bit 0).
pub const CMOS_BOOT_FLAG1: u8 = 0x38;
/// CMOS register with the first (bits 0–3) and second (bits 4–7) boot devices.
pub const CMOS_BOOT_FLAG2: u8 = 0x3D;
/// Equipment byte bits: x87 present, PS/2 mouse port present.
const EQUIPMENT_FPU_MOUSE: u8 = 0x06;

/// A device the BIOS can boot from (the letters of QEMU's `-boot`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BootDevice {
    /// `a`: the first floppy drive.
    Floppy,
    /// `c`: the first hard disk.
    HardDisk,
    /// `d`: the CD-ROM.
    Cdrom,
}

impl BootDevice {
    /// The code SeaBIOS reads in the CMOS boot-order nibbles.
    fn cmos_code(self) -> u8 {
        match self {
            BootDevice::Floppy => 1,
            BootDevice::HardDisk => 2,
            BootDevice::Cdrom => 3,
        }
    }
}

/// QEMU's default boot order (`-boot cad`).
pub const DEFAULT_BOOT_ORDER: [BootDevice; 3] = [BootDevice::HardDisk, BootDevice::Floppy, BootDevice::Cdrom];

/// Parses a boot order as QEMU's `-boot order=`: one to three of the letters `a`
/// (floppy), `c` (hard disk) and `d` (CD-ROM), each at most once, first choice first.
pub fn parse_boot_order(s: &str) -> Result<Vec<BootDevice>, String> {
    let mut order = Vec::new();
    for ch in s.chars() {
        let dev = match ch {
            'a' => BootDevice::Floppy,
            'c' => BootDevice::HardDisk,
            'd' => BootDevice::Cdrom,
            _ => return Err(format!("unknown boot device '{ch}'; expected a (floppy), c (hard disk) or d (CD-ROM)")),
        };
        if order.contains(&dev) {
            return Err(format!("boot device '{ch}' given twice"));
        }
        order.push(dev);
    }
    if order.is_empty() {
        return Err("expected a (floppy), c (hard disk) or d (CD-ROM)".into());
    }
    Ok(order)
}

/// The CMOS bytes (0x3D, 0x38) SeaBIOS reads the boot order from; the floppy boot
/// sector's signature is checked, as QEMU does by default.
pub fn boot_order_cmos(order: &[BootDevice]) -> [(u8, u8); 2] {
    let code = |i: usize| order.get(i).map_or(0, |d| d.cmos_code());
    [(CMOS_BOOT_FLAG2, code(1) << 4 | code(0)), (CMOS_BOOT_FLAG1, code(2) << 4)]
}

/// The equipment byte for `floppies` drives.
fn equipment_byte(floppies: u8) -> u8 {
    match floppies {
        0 => EQUIPMENT_FPU_MOUSE,
        n => EQUIPMENT_FPU_MOUSE | 0x01 | (n - 1) << 6,
    }
}

/// Writes the CMOS bytes of a machine without floppies, booting in QEMU's default order.
pub(crate) fn init_cmos(board: &mut Board) {
    let rtc = &mut board.chipset.rtc;
    rtc.set_cmos(CMOS_FLOPPY_TYPES, 0);
    rtc.set_cmos(CMOS_EQUIPMENT, equipment_byte(0));
    for (index, value) in boot_order_cmos(&DEFAULT_BOOT_ORDER) {
        rtc.set_cmos(index, value);
    }
}

/// Runs the floppy controller's waiting transfer through DMA channel 2 into guest memory.
pub(crate) fn service(board: &mut Board, mem: &mut PhysMem) {
    let mut guest = GuestDma(mem);
    let mut channel = board.dma.channel(FDC_DMA_CHANNEL, &mut guest);
    board.fdc.run_dma(&mut channel);
}

/// A machine reset: both 8237As master-cleared, the controller as at power-on.
pub(crate) fn reset(board: &mut Board) {
    board.dma.reset();
    board.fdc.reset();
}

impl Machine {
    /// Puts floppy disks in drive A (`--fda`) and B (`--fdb`), and describes the drives in
    /// CMOS (0x10, 0x14). An image whose size is not a known format is refused, with the
    /// drive number.
    pub fn attach_floppies(&mut self, disks: [Option<DiskImage>; FDC_DRIVES]) -> Result<(), (usize, FloppySizeError)> {
        let mut count = 0;
        for (drive, disk) in disks.into_iter().enumerate() {
            if let Some(image) = disk {
                self.board.fdc.insert(drive, image).map_err(|e| (drive, e))?;
                count += 1;
            }
        }
        let types = self.board.fdc.cmos_drive_types();
        let rtc = &mut self.board.chipset.rtc;
        rtc.set_cmos(CMOS_FLOPPY_TYPES, types);
        rtc.set_cmos(CMOS_EQUIPMENT, equipment_byte(count));
        Ok(())
    }

    /// The format of the disk in floppy drive `drive` (0 = A), if any.
    pub fn floppy_geometry(&self, drive: usize) -> Option<FloppyGeometry> {
        self.board.fdc.geometry(drive)
    }

    /// Sets the order in which the BIOS tries the boot devices (the CLI's `--boot`).
    pub fn set_boot_order(&mut self, order: &[BootDevice]) {
        for (index, value) in boot_order_cmos(order) {
            self.board.chipset.rtc.set_cmos(index, value);
        }
    }

    /// A CMOS byte, as the guest would read it (tests, debuggers).
    pub fn cmos(&self, index: u8) -> u8 {
        self.board.chipset.rtc.cmos(index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_boot_order_parses_qemu_letters() {
        assert_eq!(parse_boot_order("a"), Ok(vec![BootDevice::Floppy]));
        assert_eq!(parse_boot_order("dc"), Ok(vec![BootDevice::Cdrom, BootDevice::HardDisk]));
        assert!(parse_boot_order("").is_err());
        assert!(parse_boot_order("aa").unwrap_err().contains("twice"));
        assert!(parse_boot_order("n").unwrap_err().contains("unknown boot device 'n'"));
    }

    #[test]
    fn test_boot_order_cmos_bytes_as_seabios_reads_them() {
        // SeaBIOS: order = CMOS[0x3D] | (CMOS[0x38] & 0xF0) << 4, one nibble per choice.
        assert_eq!(boot_order_cmos(&DEFAULT_BOOT_ORDER), [(0x3D, 0x12), (0x38, 0x30)]);
        assert_eq!(boot_order_cmos(&[BootDevice::Floppy]), [(0x3D, 0x01), (0x38, 0x00)]);
        assert_eq!(boot_order_cmos(&[BootDevice::Cdrom, BootDevice::Floppy]), [(0x3D, 0x13), (0x38, 0x00)]);
    }

    #[test]
    fn test_equipment_byte_counts_floppies() {
        assert_eq!(equipment_byte(0), 0x06);
        assert_eq!(equipment_byte(1), 0x07);
        assert_eq!(equipment_byte(2), 0x47);
    }
}
