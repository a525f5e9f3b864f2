use super::*;
use crate::block::DiskImage;
use std::cell::Cell;
use std::rc::Rc;

/// An IRQ line that records its level.
#[derive(Clone, Default)]
struct TestIrq(Rc<Cell<bool>>);

impl IrqLine for TestIrq {
    fn set(&self, level: bool) {
        self.0.set(level);
    }
}

/// A disk of `sectors` sectors where each byte is its sector number plus its offset.
fn disk_bytes(sectors: usize) -> Vec<u8> {
    (0..sectors * 512).map(|i| (i / 512) as u8 ^ (i % 256) as u8).collect()
}

fn channel(sectors: usize) -> (AtaChannel<TestIrq>, TestIrq) {
    let irq = TestIrq::default();
    let d = Drive::disk(DiskImage::from_bytes(disk_bytes(sectors), false));
    (AtaChannel::new(Some(d), None, irq.clone()), irq)
}

fn read_sector(ch: &mut AtaChannel<TestIrq>) -> Vec<u8> {
    (0..256).flat_map(|_| (ch.read(REG_DATA, 2) as u16).to_le_bytes()).collect()
}

fn set_lba28(ch: &mut AtaChannel<TestIrq>, lba: u32, count: u8) {
    ch.write(REG_NSECTOR, 1, count as u32);
    ch.write(REG_LBA_LOW, 1, lba & 0xFF);
    ch.write(REG_LBA_MID, 1, (lba >> 8) & 0xFF);
    ch.write(REG_LBA_HIGH, 1, (lba >> 16) & 0xFF);
    ch.write(REG_DEVICE, 1, (DEV_LBA | (lba >> 24) as u8 & 0x0F) as u32);
}

#[test]
fn test_ata_reset_signature_and_status() {
    let (mut ch, _) = channel(16);
    assert_eq!(ch.read(REG_NSECTOR, 1), 1);
    assert_eq!(ch.read(REG_LBA_LOW, 1), 1);
    assert_eq!((ch.read(REG_LBA_MID, 1), ch.read(REG_LBA_HIGH, 1)), (0, 0));
    assert_eq!(ch.read(REG_STATUS, 1) as u8, ST_DRDY | ST_DSC);
    ch.write(REG_DEVICE, 1, DEV_SLAVE as u32);
    assert_eq!(ch.read(REG_STATUS, 1), 0, "no slave: status 0");
    let empty: AtaChannel<TestIrq> = AtaChannel::new(None, None, TestIrq::default());
    assert!(!empty.has_drives());
}

#[test]
fn test_ata_identify_by_pio_with_irq() {
    let (mut ch, irq) = channel(2048);
    ch.write(REG_STATUS, 1, cmd::IDENTIFY as u32);
    assert!(irq.0.get(), "IDENTIFY raises the interrupt");
    assert_eq!(ch.alt_status() & ST_DRQ, ST_DRQ);
    assert!(irq.0.get(), "alternate status leaves it");
    assert_eq!(ch.read(REG_STATUS, 1) as u8 & ST_DRQ, ST_DRQ);
    assert!(!irq.0.get(), "status read acknowledges it");
    let id = read_sector(&mut ch);
    assert_eq!(u16::from_le_bytes([id[120], id[121]]), 2048, "word 60: LBA28 sectors");
    assert_eq!(ch.read(REG_STATUS, 1) as u8, ST_DRDY | ST_DSC, "DRQ clears after 512 bytes");
}

#[test]
fn test_ata_pio_read_multiple_sectors() {
    let (mut ch, irq) = channel(64);
    set_lba28(&mut ch, 5, 2);
    ch.write(REG_STATUS, 1, cmd::READ_SECTORS as u32);
    let data = disk_bytes(64);
    assert!(irq.0.get());
    ch.read(REG_STATUS, 1);
    assert_eq!(read_sector(&mut ch), data[5 * 512..6 * 512]);
    assert!(irq.0.get(), "the second sector raises another interrupt");
    assert_eq!(ch.read(REG_STATUS, 1) as u8 & ST_DRQ, ST_DRQ);
    // 32-bit PIO reads work too.
    let second: Vec<u8> = (0..128).flat_map(|_| ch.read(REG_DATA, 4).to_le_bytes()).collect();
    assert_eq!(second, data[6 * 512..7 * 512]);
    assert_eq!(ch.read(REG_STATUS, 1) as u8 & (ST_DRQ | ST_ERR), 0);
}

#[test]
fn test_ata_pio_write_and_read_back() {
    let (mut ch, irq) = channel(64);
    set_lba28(&mut ch, 10, 1);
    ch.write(REG_STATUS, 1, cmd::WRITE_SECTORS as u32);
    assert!(!irq.0.get(), "the first write block is requested without an interrupt");
    assert_eq!(ch.read(REG_STATUS, 1) as u8 & ST_DRQ, ST_DRQ);
    for i in 0..256u32 {
        ch.write(REG_DATA, 2, i * 3);
    }
    assert!(irq.0.get(), "completion interrupt");
    assert_eq!(ch.read(REG_STATUS, 1) as u8, ST_DRDY | ST_DSC);
    set_lba28(&mut ch, 10, 1);
    ch.write(REG_STATUS, 1, cmd::READ_SECTORS as u32);
    let back = read_sector(&mut ch);
    assert_eq!(u16::from_le_bytes([back[2], back[3]]), 3);
    assert_eq!(u16::from_le_bytes([back[510], back[511]]), 255 * 3);
}

#[test]
fn test_ata_lba48_read_ext() {
    let (mut ch, _) = channel(300);
    // LBA 0x00_0000_0101 = 257, count 0x0001: high bytes first, then low bytes.
    for (reg, hi, lo) in [(REG_NSECTOR, 0, 1), (REG_LBA_LOW, 0, 1), (REG_LBA_MID, 0, 1), (REG_LBA_HIGH, 0, 0)] {
        ch.write(reg, 1, hi);
        ch.write(reg, 1, lo);
    }
    ch.write(REG_DEVICE, 1, DEV_LBA as u32);
    ch.write(REG_STATUS, 1, cmd::READ_SECTORS_EXT as u32);
    assert_eq!(read_sector(&mut ch), disk_bytes(300)[257 * 512..258 * 512]);
    ch.write_control(CTL_HOB);
    assert_eq!(ch.read(REG_LBA_MID, 1), 0, "HOB reads the previous value");
    ch.write_control(0);
    assert_eq!(ch.read(REG_LBA_MID, 1), 1);
}

#[test]
fn test_ata_chs_addressing_and_multiple() {
    let (mut ch, _) = channel(16 * 63 * 2);
    // Cylinder 1, head 0, sector 1 = LBA 16 * 63.
    ch.write(REG_NSECTOR, 1, 1);
    ch.write(REG_LBA_LOW, 1, 1);
    ch.write(REG_LBA_MID, 1, 1);
    ch.write(REG_LBA_HIGH, 1, 0);
    ch.write(REG_DEVICE, 1, 0);
    ch.write(REG_STATUS, 1, cmd::READ_SECTORS as u32);
    assert_eq!(read_sector(&mut ch), disk_bytes(16 * 63 * 2)[1008 * 512..1009 * 512]);
    set_lba28(&mut ch, 0, 4);
    ch.write(REG_STATUS, 1, cmd::READ_MULTIPLE as u32);
    assert_eq!(ch.read(REG_ERROR, 1) as u8, ERR_ABRT, "READ MULTIPLE needs SET MULTIPLE first");
    ch.write(REG_NSECTOR, 1, 4);
    ch.write(REG_STATUS, 1, cmd::SET_MULTIPLE as u32);
    set_lba28(&mut ch, 0, 4);
    ch.write(REG_STATUS, 1, cmd::READ_MULTIPLE as u32);
    assert_eq!(ch.chunk_end, 2048, "one DRQ block of four sectors");
}

#[test]
fn test_ata_errors_never_panic() {
    let (mut ch, irq) = channel(8);
    set_lba28(&mut ch, 7, 2);
    ch.write(REG_STATUS, 1, cmd::READ_SECTORS as u32);
    assert_eq!(ch.read(REG_STATUS, 1) as u8 & ST_ERR, ST_ERR);
    assert_eq!(ch.read(REG_ERROR, 1) as u8, ERR_IDNF, "past the end");
    ch.write(REG_STATUS, 1, 0xFF);
    assert_eq!(ch.read(REG_ERROR, 1) as u8, ERR_ABRT, "unknown command");
    ch.write(REG_STATUS, 1, cmd::PACKET as u32);
    assert_eq!(ch.read(REG_ERROR, 1) as u8, ERR_ABRT, "PACKET to a disk");
    ch.write(REG_FEATURE_FOR_TEST, 1, 0x77);
    ch.write(REG_STATUS, 1, cmd::SET_FEATURES as u32);
    assert_eq!(ch.read(REG_ERROR, 1) as u8, ERR_ABRT);
    // Data port accesses outside a data phase are ignored.
    assert_eq!(ch.read(REG_DATA, 2), 0);
    ch.write(REG_DATA, 2, 0x1234);
    // nIEN masks the line; SRST resets.
    ch.write(REG_STATUS, 1, cmd::IDENTIFY as u32);
    assert!(irq.0.get());
    ch.write_control(CTL_NIEN);
    assert!(!irq.0.get());
    ch.write_control(CTL_SRST | CTL_NIEN);
    assert_eq!(ch.alt_status(), ST_BSY);
    ch.write_control(0);
    assert_eq!(ch.alt_status(), ST_DRDY | ST_DSC);
    assert_eq!(ch.read(REG_DATA, 2), 0, "the reset dropped the transfer");
    ch.write(REG_STATUS, 1, cmd::FLUSH_CACHE as u32);
    assert_eq!(ch.read(REG_STATUS, 1) as u8, ST_DRDY | ST_DSC);
}

const REG_FEATURE_FOR_TEST: u8 = REG_ERROR;
