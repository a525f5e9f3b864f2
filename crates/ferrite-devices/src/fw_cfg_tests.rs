//! Unit tests of fw_cfg: the traditional interface, the file directory and DMA.

use super::*;
use crate::test_ram::Ram;

fn read_item(dev: &mut FwCfg, key: u16, len: usize) -> Vec<u8> {
    dev.write(FW_CFG_PORT_SEL, 2, key as u32);
    (0..len).map(|_| dev.read(FW_CFG_PORT_DATA, 1) as u8).collect()
}

fn pc() -> FwCfg {
    let mut dev = FwCfg::new();
    dev.set_machine(128 << 20, 1);
    dev.add_file("etc/e820", e820_bytes(&[E820Entry { address: 0, length: 128 << 20, kind: E820_RAM }])).unwrap();
    dev.add_file("bootorder", b"/rom@genroms/linuxboot.bin\n".to_vec()).unwrap();
    dev
}

#[test]
fn test_fw_cfg_signature_and_id() {
    let mut dev = FwCfg::new();
    assert_eq!(read_item(&mut dev, FW_CFG_SIGNATURE, 4), b"QEMU");
    assert_eq!(read_item(&mut dev, FW_CFG_ID, 4), [3, 0, 0, 0]);
}

#[test]
fn test_fw_cfg_selector_rewinds_and_reads_past_end_are_zero() {
    let mut dev = FwCfg::new();
    assert_eq!(read_item(&mut dev, FW_CFG_SIGNATURE, 6), [b'Q', b'E', b'M', b'U', 0, 0]);
    assert_eq!(read_item(&mut dev, FW_CFG_SIGNATURE, 2), b"QE");
    assert_eq!(read_item(&mut dev, 0x1234, 2), [0, 0], "unknown keys read zero");
}

#[test]
fn test_fw_cfg_ram_size_and_cpus() {
    let mut dev = pc();
    assert_eq!(read_item(&mut dev, FW_CFG_RAM_SIZE, 8), (128u64 << 20).to_le_bytes());
    assert_eq!(read_item(&mut dev, FW_CFG_NB_CPUS, 2), [1, 0]);
    assert_eq!(read_item(&mut dev, FW_CFG_MAX_CPUS, 2), [1, 0]);
}

#[test]
fn test_fw_cfg_wide_data_reads_take_consecutive_bytes() {
    let mut dev = FwCfg::new();
    dev.write(FW_CFG_PORT_SEL, 2, FW_CFG_SIGNATURE as u32);
    assert_eq!(dev.read(FW_CFG_PORT_DATA, 4).to_le_bytes(), *b"QEMU");
}

#[test]
fn test_fw_cfg_file_directory_lists_files_big_endian() {
    let mut dev = pc();
    let dir = read_item(&mut dev, FW_CFG_FILE_DIR, 4 + 2 * 64);
    assert_eq!(&dir[..4], &2u32.to_be_bytes());
    let e0 = &dir[4..68];
    assert_eq!(&e0[..4], &20u32.to_be_bytes(), "one e820 entry is 20 bytes");
    assert_eq!(&e0[4..6], &FW_CFG_FILE_FIRST.to_be_bytes());
    assert_eq!(&e0[8..16], b"etc/e820");
    assert!(e0[16..].iter().all(|&b| b == 0));
    let e1 = &dir[68..132];
    assert_eq!(&e1[4..6], &(FW_CFG_FILE_FIRST + 1).to_be_bytes());
    assert_eq!(&e1[8..17], b"bootorder");
    let e820 = read_item(&mut dev, FW_CFG_FILE_FIRST, 20);
    assert_eq!(&e820[8..16], &(128u64 << 20).to_le_bytes());
    assert_eq!(&e820[16..20], &E820_RAM.to_le_bytes());
}

#[test]
fn test_fw_cfg_refuses_bad_files() {
    let mut dev = FwCfg::new();
    dev.add_file("a", vec![]).unwrap();
    assert_eq!(dev.add_file("a", vec![]), Err(FwCfgError::DuplicateName("a".into())));
    let long = "x".repeat(56);
    assert!(matches!(dev.add_file(&long, vec![]), Err(FwCfgError::NameTooLong(_))));
}

#[test]
fn test_fw_cfg_data_writes_are_ignored() {
    let mut dev = FwCfg::new();
    dev.write(FW_CFG_PORT_SEL, 2, (FW_CFG_SIGNATURE | FW_CFG_WRITE_CHANNEL) as u32);
    dev.write(FW_CFG_PORT_DATA, 1, b'X' as u32);
    assert_eq!(read_item(&mut dev, FW_CFG_SIGNATURE, 4), b"QEMU");
}

#[test]
fn test_fw_cfg_dma_port_reads_signature() {
    let mut dev = FwCfg::new();
    let hi = dev.read(FW_CFG_PORT_DMA, 4).to_le_bytes();
    let lo = dev.read(FW_CFG_PORT_DMA + 4, 4).to_le_bytes();
    assert_eq!([hi, lo].concat(), b"QEMU CFG");
}

/// Writes an access structure at 0x100 and kicks the DMA like firmware does.
fn dma(dev: &mut FwCfg, ram: &mut Ram, control: u32, length: u32, target: u64) -> u32 {
    ram.0[0x100..0x104].copy_from_slice(&control.to_be_bytes());
    ram.0[0x104..0x108].copy_from_slice(&length.to_be_bytes());
    ram.0[0x108..0x110].copy_from_slice(&target.to_be_bytes());
    dev.write(FW_CFG_PORT_DMA, 4, 0u32.swap_bytes());
    dev.write(FW_CFG_PORT_DMA + 4, 4, 0x100u32.swap_bytes());
    assert_eq!(dev.dma_pending(), Some(0x100));
    dev.run_dma(ram);
    assert_eq!(dev.dma_pending(), None);
    u32::from_be_bytes(ram.0[0x100..0x104].try_into().unwrap())
}

#[test]
fn test_fw_cfg_dma_select_read_and_skip() {
    let mut dev = pc();
    let mut ram = Ram(vec![0xEE; 0x1000]);
    let ctl = (FW_CFG_SIGNATURE as u32) << 16 | DMA_CTL_SELECT | DMA_CTL_READ;
    assert_eq!(dma(&mut dev, &mut ram, ctl, 4, 0x200), 0, "control cleared when done");
    assert_eq!(&ram.0[0x200..0x204], b"QEMU");
    let ctl = (FW_CFG_RAM_SIZE as u32) << 16 | DMA_CTL_SELECT | DMA_CTL_SKIP;
    assert_eq!(dma(&mut dev, &mut ram, ctl, 2, 0), 0);
    assert_eq!(dma(&mut dev, &mut ram, DMA_CTL_READ, 8, 0x300), 0);
    let mut expect = (128u64 << 20).to_le_bytes()[2..].to_vec();
    expect.extend_from_slice(&[0, 0]);
    assert_eq!(&ram.0[0x300..0x308], &expect[..], "skip advanced, past-end bytes are zero");
}

#[test]
fn test_fw_cfg_dma_errors() {
    let mut dev = pc();
    let mut ram = Ram(vec![0; 0x1000]);
    let ctl = (FW_CFG_SIGNATURE as u32) << 16 | DMA_CTL_SELECT | DMA_CTL_READ;
    assert_eq!(dma(&mut dev, &mut ram, ctl, 4, 0x10_0000), DMA_CTL_ERROR, "target outside RAM");
    assert_eq!(dma(&mut dev, &mut ram, DMA_CTL_WRITE, 4, 0x200), DMA_CTL_ERROR, "items are read-only");
}
