//! Tests of the bzImage header parsing, the zero page and the entry state.

use super::*;
use crate::boot::multiboot::BootModule;
use ferrite_cpu::{Flags, SegReg};

const RAM: u32 = 256 << 20;
const SETUP_SECTS: u8 = 3;

/// A small synthetic bzImage: boot sector + `SETUP_SECTS` setup sectors + 4 KiB of
/// "kernel", protocol 2.15, relocatable to 16 MiB with an 8 MiB init_size.
fn bzimage() -> Vec<u8> {
    let mut img = vec![0u8; (SETUP_SECTS as usize + 1) * SECTOR + 4096];
    img[off::SETUP_SECTS] = SETUP_SECTS;
    img[0x1FE..0x200].copy_from_slice(&0xAA55u16.to_le_bytes());
    img[0x200] = 0xEB;
    img[off::JUMP_LEN] = 0x6A; // header ends at 0x26C
    img[HDRS_OFFSET..HDRS_OFFSET + 4].copy_from_slice(HDRS);
    img[off::VERSION..off::VERSION + 2].copy_from_slice(&0x020Fu16.to_le_bytes());
    img[off::LOADFLAGS] = LOADED_HIGH;
    img[off::CODE32_START..off::CODE32_START + 4].copy_from_slice(&0x10_0000u32.to_le_bytes());
    img[off::INITRD_ADDR_MAX..off::INITRD_ADDR_MAX + 4].copy_from_slice(&0x7FFF_FFFFu32.to_le_bytes());
    img[off::CMDLINE_SIZE..off::CMDLINE_SIZE + 4].copy_from_slice(&0x7FFu32.to_le_bytes());
    img[off::PREF_ADDRESS..off::PREF_ADDRESS + 8].copy_from_slice(&0x100_0000u64.to_le_bytes());
    img[off::INIT_SIZE..off::INIT_SIZE + 4].copy_from_slice(&0x80_0000u32.to_le_bytes());
    let k = (SETUP_SECTS as usize + 1) * SECTOR;
    img[k] = 0xFA; // cli
    img
}

fn boot(image: Vec<u8>, cmdline: &str, initrd: Option<Vec<u8>>) -> KernelBoot {
    KernelBoot {
        image,
        cmdline: cmdline.into(),
        module: initrd.map(|data| BootModule { data, string: "initrd".into() }),
    }
}

#[test]
fn test_parse_header_reads_the_fields() {
    let h = parse_header(&bzimage()).unwrap();
    assert_eq!(h.version, 0x020F);
    assert_eq!(h.setup_sects, 3);
    assert_eq!(h.kernel_offset(), 4 * 512);
    assert_eq!(h.code32_start, 0x10_0000);
    assert_eq!(h.initrd_addr_max, 0x7FFF_FFFF);
    assert_eq!(h.cmdline_size, 0x7FF);
    assert_eq!(h.pref_address, 0x100_0000);
    assert_eq!(h.init_size, 0x80_0000);
    assert_eq!(h.header_end, 0x26C);
}

#[test]
fn test_setup_sects_zero_means_four() {
    let mut img = bzimage();
    img[off::SETUP_SECTS] = 0;
    img.resize(5 * 512 + 16, 0);
    assert_eq!(parse_header(&img).unwrap().setup_sects, 4);
}

#[test]
fn test_old_protocols_read_newer_fields_as_defaults() {
    let mut img = bzimage();
    img[off::VERSION..off::VERSION + 2].copy_from_slice(&0x0202u16.to_le_bytes());
    img[off::JUMP_LEN] = 0x2A; // header ends at 0x22C
    let h = parse_header(&img).unwrap();
    assert_eq!(h.initrd_addr_max, OLD_INITRD_MAX);
    assert_eq!(h.cmdline_size, 255);
    assert_eq!((h.pref_address, h.init_size), (0, 0));
}

#[test]
fn test_bad_images_give_clear_errors() {
    assert_eq!(parse_header(b"garbage").unwrap_err(), LinuxError::NotBzImage);
    assert_eq!(parse_header(&[]).unwrap_err(), LinuxError::NotBzImage);
    let mut img = bzimage();
    img[off::VERSION..off::VERSION + 2].copy_from_slice(&0x0201u16.to_le_bytes());
    let e = parse_header(&img).unwrap_err();
    assert_eq!(e, LinuxError::OldProtocol(0x0201));
    assert!(e.to_string().contains("2.01 is too old"), "{e}");
    let mut img = bzimage();
    img[off::LOADFLAGS] = 0;
    assert_eq!(parse_header(&img).unwrap_err(), LinuxError::NotLoadedHigh);
    // Cut inside the setup header, and inside the setup sectors.
    let e = parse_header(&bzimage()[..0x210]).unwrap_err();
    assert!(matches!(e, LinuxError::Truncated { what: "setup header", .. }), "{e}");
    let e = parse_header(&bzimage()[..0x300]).unwrap_err();
    assert!(e.to_string().contains("cut off"), "{e}");
}

#[test]
fn test_every_truncation_is_an_error_not_a_panic() {
    let img = bzimage();
    for len in 0..=(SETUP_SECTS as usize + 1) * SECTOR {
        assert!(parse_header(&img[..len]).is_err(), "length {len}");
        assert!(prepare(boot(img[..len].to_vec(), "", None), RAM, 0x1_0000).is_err());
    }
    // Any byte of the header garbled: an error or a plan, never a panic.
    for i in 0x1F1..0x270 {
        for v in [0x00, 0x7F, 0xFF] {
            let mut img = bzimage();
            img[i] = v;
            let _ = prepare(boot(img, "x", Some(vec![1; 100])), RAM, 0x1_0000);
        }
    }
}

#[test]
fn test_zero_page_layout() {
    let initrd = vec![0x5A; 10_000];
    let plan = prepare(boot(bzimage(), "console=ttyS0", Some(initrd)), RAM, 0x1_0000).unwrap();
    let zp = plan.zero_page();
    assert_eq!(zp.len(), 4096);
    // The header is copied, then completed.
    assert_eq!(&zp[HDRS_OFFSET..HDRS_OFFSET + 4], HDRS);
    assert_eq!(zp[off::SETUP_SECTS], SETUP_SECTS);
    assert_eq!(zp[off::TYPE_OF_LOADER], 0xFF);
    assert_eq!(zp[off::LOADFLAGS], LOADED_HIGH | CAN_USE_HEAP);
    assert_eq!(u16_at(zp, off::VID_MODE), 0xFFFF);
    assert_eq!(u16_at(zp, off::HEAP_END_PTR), 0xDE00);
    assert_eq!(u32_at(zp, off::CMD_LINE_PTR), CMDLINE_ADDR);
    // The initrd: page aligned, at the top of RAM.
    let start = u32_at(zp, off::RAMDISK_IMAGE);
    assert_eq!(start, (RAM - 10_000) & !0xFFF);
    assert_eq!(u32_at(zp, off::RAMDISK_SIZE), 10_000);
    assert_eq!(plan.initrd_range, Some((start, start + 10_000)));
    // screen_info: VGA 80x25 text; memory above 1 MiB in KiB.
    assert_eq!((zp[off::ORIG_VIDEO_MODE], zp[off::ORIG_VIDEO_COLS], zp[off::ORIG_VIDEO_LINES]), (3, 80, 25));
    assert_eq!(u32_at(zp, off::ALT_MEM_K), (RAM - 0x10_0000) / 1024);
    // e820.
    assert_eq!(zp[off::E820_ENTRIES], 5);
    let entry = |i: usize| {
        let o = off::E820_TABLE + i * E820_ENTRY_LEN;
        (u64_at(zp, o), u64_at(zp, o + 8), u32_at(zp, o + 16))
    };
    assert_eq!(entry(0), (0, 0x9_FC00, E820_RAM));
    assert_eq!(entry(1), (0x9_FC00, 0x400, E820_RESERVED));
    assert_eq!(entry(2), (0xF_0000, 0x1_0000, E820_RESERVED));
    assert_eq!(entry(3), (0x10_0000, RAM as u64 - 0x10_0000, E820_RAM));
    assert_eq!(entry(4), (0xFFFF_0000, 0x1_0000, E820_RESERVED));
    assert_eq!(entry(5), (0, 0, 0));
}

#[test]
fn test_e820_with_a_bios_below_4g() {
    let map = e820_map(64 << 20, 0x2_0000);
    assert_eq!(map[2], (0xE_0000, 0x2_0000, E820_RESERVED));
    assert_eq!(map[4], (0xFFFE_0000, 0x2_0000, E820_RESERVED));
}

#[test]
fn test_initrd_respects_initrd_addr_max() {
    let mut img = bzimage();
    img[off::INITRD_ADDR_MAX..off::INITRD_ADDR_MAX + 4].copy_from_slice(&0x03FF_FFFFu32.to_le_bytes());
    let plan = prepare(boot(img, "", Some(vec![0; 8192])), RAM, 0).unwrap();
    assert_eq!(plan.initrd_range, Some((0x400_0000 - 8192, 0x400_0000)));
}

#[test]
fn test_placement_errors() {
    // 16 MiB + 8 MiB init_size does not fit in 16 MiB of RAM.
    let e = prepare(boot(bzimage(), "", None), 16 << 20, 0).unwrap_err();
    assert!(e.to_string().contains("larger -m"), "{e}");
    // The initrd would overlap the decompressed kernel.
    let e = prepare(boot(bzimage(), "", Some(vec![0; 8 << 20])), 30 << 20, 0).unwrap_err();
    assert!(e.to_string().contains("initrd"), "{e}");
    // Command line longer than cmdline_size, or holding NUL.
    let e = prepare(boot(bzimage(), &"x".repeat(0x800), None), RAM, 0).unwrap_err();
    assert!(matches!(e, LinuxError::BadCmdline(_)), "{e}");
    let e = prepare(boot(bzimage(), "a\0b", None), RAM, 0).unwrap_err();
    assert!(matches!(e, LinuxError::BadCmdline(_)), "{e}");
    // Entry outside the kernel.
    let mut img = bzimage();
    img[off::CODE32_START..off::CODE32_START + 4].copy_from_slice(&0x20_0000u32.to_le_bytes());
    assert_eq!(prepare(boot(img, "", None), RAM, 0).unwrap_err(), LinuxError::EntryOutside(0x20_0000));
}

#[test]
fn test_apply_loads_memory_and_sets_the_entry_state() {
    let plan = prepare(boot(bzimage(), "console=ttyS0", Some(vec![0xA5; 5000])), RAM, 0x1_0000).unwrap();
    let mut mem = PhysMem::new(RAM as usize).unwrap();
    let mut cpu = Cpu::new();
    plan.apply(&mut cpu, &mut mem);
    let ram = mem.ram();
    assert_eq!(ram[KERNEL_ADDR as usize], 0xFA);
    assert_eq!(&ram[SETUP_ADDR as usize + HDRS_OFFSET..][..4], HDRS);
    assert_eq!(&ram[CMDLINE_ADDR as usize..][..14], b"console=ttyS0\0");
    assert_eq!(&ram[ZERO_PAGE_ADDR as usize..][..4096], plan.zero_page());
    let (start, _) = plan.initrd_range.unwrap();
    assert_eq!(ram[start as usize + 4999], 0xA5);
    assert_eq!(u64_at(ram, GDT_ADDR as usize + 0x10), GDT[2]);
    assert_eq!(cpu.eip, 0x10_0000);
    assert_eq!(cpu.gpr[Gpr::Esi as usize], ZERO_PAGE_ADDR);
    assert_eq!(cpu.gpr[Gpr::Ebx as usize] | cpu.gpr[Gpr::Ebp as usize] | cpu.gpr[Gpr::Edi as usize], 0);
    assert_eq!(cpu.seg[SegReg::Cs as usize].selector, BOOT_CS);
    assert_eq!(cpu.seg[SegReg::Ss as usize].selector, BOOT_DS);
    assert_eq!(cpu.eflags & Flags::IF, 0);
    assert_eq!(cpu.cr0 & 1, 1);
    assert_eq!(cpu.gdtr.base, GDT_ADDR);
}
