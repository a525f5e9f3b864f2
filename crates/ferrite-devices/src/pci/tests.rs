use super::i440fx::I440fx;
use super::piix3::Piix3;
use super::piix_ide::PiixIde;
use super::*;
use crate::NoIrq;

fn bus() -> PciBus {
    let mut b = PciBus::new();
    b.add_function(0, 0, Box::new(I440fx::new())).unwrap();
    b.add_function(1, 0, Box::new(Piix3::new())).unwrap();
    b.add_function(1, 1, Box::new(PiixIde::new([None, None, None, None], [NoIrq, NoIrq]))).unwrap();
    b
}

fn cfg_addr(dev: u8, func: u8, reg: u8) -> u32 {
    0x8000_0000 | (dev as u32) << 11 | (func as u32) << 8 | reg as u32
}

#[test]
fn test_pci_mechanism1_enumerates() {
    let mut b = bus();
    b.write(PCI_CONFIG_ADDRESS, 4, cfg_addr(0, 0, 0));
    assert_eq!(b.read(PCI_CONFIG_ADDRESS, 4), cfg_addr(0, 0, 0));
    assert_eq!(b.read(PCI_CONFIG_DATA, 4), 0x1237_8086);
    b.write(PCI_CONFIG_ADDRESS, 4, cfg_addr(1, 1, 0));
    assert_eq!(b.read(PCI_CONFIG_DATA + 2, 2), 0x7010, "byte offsets select within the dword");
    b.write(PCI_CONFIG_ADDRESS, 4, cfg_addr(2, 0, 0));
    assert_eq!(b.read(PCI_CONFIG_DATA, 4), 0xFFFF_FFFF, "empty slot");
    b.write(PCI_CONFIG_ADDRESS, 4, cfg_addr(0, 0, 0) & !0x8000_0000);
    assert_eq!(b.read(PCI_CONFIG_DATA, 4), 0xFFFF_FFFF, "enable bit clear");
    b.write(PCI_CONFIG_ADDRESS, 4, cfg_addr(0, 0, 0) | 1 << 16);
    assert_eq!(b.read(PCI_CONFIG_DATA, 2), 0xFFFF, "bus 1 is empty");
    b.write(PCI_CONFIG_ADDRESS, 1, 0);
    assert_eq!(b.read(PCI_CONFIG_ADDRESS, 4), cfg_addr(0, 0, 0) | 1 << 16, "byte writes do not reach CONFIG_ADDRESS");
    assert!(!b.ports().iter().any(|r| r.contains(&0xCF9)), "0xCF9 stays with reset control");
}

#[test]
fn test_pci_pam_write_requests_service_and_downcast() {
    let mut b = bus();
    assert!(b.function_mut::<I440fx>(0, 0).unwrap().take_pam_change());
    b.write(PCI_CONFIG_ADDRESS, 4, cfg_addr(0, 0, 0x58));
    b.write(PCI_CONFIG_DATA + 1, 1, 0x30);
    assert!(b.take_service());
    let host = b.function_mut::<I440fx>(0, 0).unwrap();
    assert!(host.take_pam_change());
    assert_eq!(host.pam_modes()[0], (true, true));
    assert!(b.function::<Piix3>(0, 0).is_none(), "wrong type");
    assert!(b.function::<Piix3>(1, 0).is_some());
}

#[test]
fn test_pci_add_function_errors() {
    let mut b = bus();
    let e = b.add_function(0, 0, Box::new(Piix3::new())).unwrap_err();
    assert_eq!(e.to_string(), "PCI address 00:00.0 is already taken");
    assert!(b.add_function(32, 0, Box::new(Piix3::new())).is_err());
    assert!(b.add_function(3, 8, Box::new(Piix3::new())).is_err());
    b.add_function(2, 0, Box::new(Piix3::new())).unwrap();
}

#[test]
fn test_pci_unclaimed_io_reaches_bars() {
    let mut b = bus();
    assert_eq!(b.io_read(0xC000, 1), None);
    b.write(PCI_CONFIG_ADDRESS, 4, cfg_addr(1, 1, 0x20));
    b.write(PCI_CONFIG_DATA, 4, 0xC000);
    b.write(PCI_CONFIG_ADDRESS, 4, cfg_addr(1, 1, 0x04));
    b.write(PCI_CONFIG_DATA, 2, 0x05);
    assert_eq!(b.io_read(0xC002, 1), Some(0), "bus-master status");
    assert!(b.io_write(0xC004, 4, 0x1000));
    assert_eq!(b.io_read(0xC004, 4), Some(0x1000));
    assert_eq!(b.io_read(0xC010, 1), None, "past the 16-byte BAR");
    assert_eq!(b.io_read(0x1F7, 1), Some(0), "legacy IDE ports, no drives");
    b.reset();
    assert_eq!(b.io_read(0xC004, 4), None, "reset unassigns the BAR");
}
