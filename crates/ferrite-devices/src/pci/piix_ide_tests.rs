use super::*;
use crate::ata::{cmd, DEV_LBA, REG_DEVICE, REG_LBA_HIGH, REG_LBA_LOW, REG_LBA_MID, REG_NSECTOR, ST_ERR};
use crate::block::DiskImage;
use crate::pci::config::{PCI_BAR0, PCI_COMMAND};
use crate::test_ram::Ram;
use crate::NoIrq;

const BM: u16 = 0xC000;

fn ide_with(disk: Vec<u8>, cd: Option<Vec<u8>>) -> PiixIde<NoIrq> {
    let d = Drive::disk(DiskImage::from_bytes(disk, false));
    let c = cd.map(|b| Drive::cdrom(DiskImage::from_bytes(b, true)));
    let mut ide = PiixIde::new([Some(d), None, c, None], [NoIrq, NoIrq]);
    ide.config_write(PCI_BAR0 + 16, 4, BM as u32);
    ide.config_write(PCI_COMMAND, 2, 0x05);
    ide
}

fn put_prd(ram: &mut Ram, at: usize, entries: &[(u32, u16, bool)]) {
    for (i, (addr, count, eot)) in entries.iter().enumerate() {
        let o = at + 8 * i;
        ram.0[o..o + 4].copy_from_slice(&addr.to_le_bytes());
        ram.0[o + 4..o + 6].copy_from_slice(&count.to_le_bytes());
        ram.0[o + 6..o + 8].copy_from_slice(&(if *eot { 0x8000u16 } else { 0 }).to_le_bytes());
    }
}

fn ata_cmd(ide: &mut PiixIde<NoIrq>, lba: u8, count: u8, op: u8) {
    for (reg, v) in
        [(REG_NSECTOR, count), (REG_LBA_LOW, lba), (REG_LBA_MID, 0), (REG_LBA_HIGH, 0), (REG_DEVICE, DEV_LBA)]
    {
        ide.io_write(0x1F0 + reg as u16, 1, v as u32);
    }
    ide.io_write(0x1F7, 1, op as u32);
}

#[test]
fn test_ide_identity_and_bar4() {
    let mut ide = ide_with(vec![0; 4096], None);
    assert_eq!(ide.config_read(0, 4), 0x7010_8086);
    assert_eq!(ide.config_read(0x08, 4) >> 8, 0x01_0180);
    ide.config_write(PCI_BAR0 + 16, 4, 0xFFFF_FFFF);
    assert_eq!(ide.config_read(PCI_BAR0 + 16, 4), 0xFFFF_FFF1);
}

#[test]
fn test_ide_read_dma_through_prd_table() {
    let disk: Vec<u8> = (0..8 * 512).map(|i| (i / 512) as u8 + 1).collect();
    let mut ide = ide_with(disk, None);
    let mut ram = Ram(vec![0; 0x10000]);
    // Two regions: 512 bytes at 0x2000 and 512 bytes at 0x3000.
    put_prd(&mut ram, 0x1000, &[(0x2000, 512, false), (0x3000, 512, true)]);
    ide.io_write(BM + 4, 4, 0x1000);
    ata_cmd(&mut ide, 2, 2, cmd::READ_DMA);
    assert!(!ide.dma_ready(), "waits for the start bit");
    ide.io_write(BM, 1, (BM_CMD_START | BM_CMD_WRITE_MEM) as u32);
    assert!(ide.needs_service());
    ide.run_dma(&mut ram);
    assert_eq!(&ram.0[0x2000..0x2200], &[3u8; 512][..]);
    assert_eq!(&ram.0[0x3000..0x3200], &[4u8; 512][..]);
    let st = ide.io_read(BM + 2, 1).unwrap() as u8;
    assert_eq!(st & (BM_ST_ACTIVE | BM_ST_INTERRUPT | BM_ST_ERROR), BM_ST_INTERRUPT);
    assert_eq!(ide.io_read(0x1F7, 1), Some(0x50));
    ide.io_write(BM + 2, 1, BM_ST_INTERRUPT as u32);
    assert_eq!(ide.io_read(BM + 2, 1), Some(0));
}

#[test]
fn test_ide_write_dma_ext_and_short_table() {
    let mut ide = ide_with(vec![0; 8 * 512], None);
    let mut ram = Ram(vec![0; 0x10000]);
    ram.0[0x4000..0x4200].fill(0xAB);
    put_prd(&mut ram, 0x100, &[(0x4000, 512, true)]);
    ide.io_write(BM + 4, 4, 0x100);
    for (reg, v) in [(REG_NSECTOR, 0), (REG_NSECTOR, 1), (REG_LBA_LOW, 0), (REG_LBA_LOW, 5)] {
        ide.io_write(0x1F0 + reg as u16, 1, v);
    }
    for reg in [REG_LBA_MID, REG_LBA_HIGH] {
        ide.io_write(0x1F0 + reg as u16, 1, 0);
        ide.io_write(0x1F0 + reg as u16, 1, 0);
    }
    ide.io_write(0x1F6, 1, DEV_LBA as u32);
    ide.io_write(0x1F7, 1, cmd::WRITE_DMA_EXT as u32);
    ide.io_write(BM, 1, BM_CMD_START as u32);
    ide.run_dma(&mut ram);
    let mut sector = [0u8; 512];
    ide.channels[0].drive_mut(0).unwrap().image.read_at(5 * 512, &mut sector).unwrap();
    assert_eq!(sector, [0xAB; 512]);
    // Two sectors with a one-sector table: the command fails, nothing panics.
    ide.io_write(BM, 1, 0);
    ata_cmd(&mut ide, 0, 2, cmd::READ_DMA);
    ide.io_write(BM, 1, (BM_CMD_START | BM_CMD_WRITE_MEM) as u32);
    ide.run_dma(&mut ram);
    assert_eq!(ide.io_read(0x1F7, 1).unwrap() as u8 & ST_ERR, ST_ERR);
    // A table outside memory sets the bus-master error bit.
    ide.io_write(BM, 1, 0);
    ide.io_write(BM + 4, 4, 0xFFFF_FFF0);
    ata_cmd(&mut ide, 0, 1, cmd::READ_DMA);
    ide.io_write(BM, 1, (BM_CMD_START | BM_CMD_WRITE_MEM) as u32);
    ide.run_dma(&mut ram);
    assert_eq!(ide.io_read(BM + 2, 1).unwrap() as u8 & BM_ST_ERROR, BM_ST_ERROR);
}

#[test]
fn test_ide_atapi_read_by_dma_on_secondary() {
    let iso: Vec<u8> = (0..4 * 2048).map(|i| (i / 2048) as u8).collect();
    let mut ide = ide_with(vec![0; 512], Some(iso));
    let mut ram = Ram(vec![0; 0x10000]);
    put_prd(&mut ram, 0x100, &[(0x8000, 2048, true)]);
    ide.io_write(BM + 8 + 4, 4, 0x100);
    ide.io_write(0x171, 1, 1); // features: DMA
    ide.io_write(0x177, 1, cmd::PACKET as u32);
    for w in [0x28u16, 0, 0x0200, 0, 0x0001, 0] {
        ide.io_write(0x170, 2, w as u32); // READ(10) LBA 2, one sector
    }
    ide.io_write(BM + 8, 1, (BM_CMD_START | BM_CMD_WRITE_MEM) as u32);
    ide.run_dma(&mut ram);
    assert_eq!(&ram.0[0x8000..0x8800], &[2u8; 2048][..]);
    assert_eq!(ide.io_read(0x172, 1), Some(3), "command complete");
}
