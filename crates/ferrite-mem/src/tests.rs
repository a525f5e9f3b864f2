use super::*;

fn bios_image(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i / 1024) as u8 ^ (i as u8)).collect()
}

#[test]
fn test_ram_reads_back_writes() {
    let mut m = PhysMem::new(1 << 20).unwrap();
    m.write_u8(0x1234, 0xAB);
    assert_eq!(m.read_u8(0x1234), 0xAB);
    assert_eq!(m.read_u8(0x1235), 0);
}

#[test]
fn test_bad_ram_size_rejected() {
    assert_eq!(PhysMem::new(0).unwrap_err(), MemError::BadRamSize(0));
    assert!(PhysMem::new(4097).is_err());
}

#[test]
fn test_unmapped_reads_all_ones() {
    let mut m = PhysMem::new(1 << 20).unwrap();
    m.write_u8(0x20_0000, 1);
    assert_eq!(m.read_u8(0x20_0000), 0xFF);
}

#[test]
fn test_bios_mapped_twice_and_read_only() {
    for len in BIOS_SIZES {
        let mut m = PhysMem::new(2 << 20).unwrap();
        let img = bios_image(len);
        m.load_bios(&img).unwrap();
        assert_eq!(m.read_u8(0xFFFF_FFFF), img[len - 1]);
        assert_eq!(m.read_u8(0xFFFF_FFF0), img[len - 16]);
        assert_eq!(m.read_u8(0xFFFFF), img[len - 1]);
        assert_eq!(m.read_u8(0xF0000), img[len - 0x10000]);
        assert_eq!(m.read_u8(0u32.wrapping_sub(len as u32)), img[0]);
        m.write_u8(0xFFFF0, !img[len - 16]);
        assert_eq!(m.read_u8(0xFFFF0), img[len - 16], "ROM must ignore writes");
        let low_window = len.min(LOW_BIOS_WINDOW);
        let below = 0x10_0000 - low_window as u32 - 1;
        m.write_u8(below, 0x5A);
        assert_eq!(m.read_u8(below), 0x5A, "RAM below the BIOS window stays RAM");
    }
}

#[test]
fn test_bad_bios_size_rejected() {
    let mut m = PhysMem::new(1 << 20).unwrap();
    assert_eq!(m.load_bios(&[0; 1000]), Err(MemError::BadBiosSize(1000)));
}

#[test]
fn test_a20_gate_wraps_at_1mib() {
    let mut m = PhysMem::new(2 << 20).unwrap();
    m.write_u8(0x10_0010, 7);
    m.set_a20(false);
    assert!(!m.a20());
    assert_eq!(m.read_u8(0x10_0010), 0, "A20 off: 0x100010 aliases 0x10");
    m.write_u8(0x10_0010, 9);
    assert_eq!(m.read_u8(0x10), 9);
    m.set_a20(true);
    assert_eq!(m.read_u8(0x10_0010), 7);
}

#[test]
fn test_mmio_hole_resolves_and_rejects_overlap() {
    let mut m = PhysMem::new(1 << 20).unwrap();
    m.add_mmio(0xA0000, 0x20000, 3).unwrap();
    assert_eq!(m.resolve(0xA0010), Target::Mmio(3, 0x10));
    assert_eq!(m.resolve(0x9FFFF), Target::Ram(0x9FFFF));
    assert!(m.add_mmio(0xBFFFF, 2, 4).is_err());
    assert!(m.add_mmio(0xFFFF_FFFF, 2, 4).is_err());
}

#[test]
fn test_code_page_write_is_reported_once() {
    let mut m = PhysMem::new(1 << 20).unwrap();
    assert!(m.mark_code_page(0x7C00));
    m.write_u8(0x7C10, 1);
    m.write_u8(0x7C11, 1);
    assert_eq!(m.take_written_code_pages(), vec![7]);
    m.write_u8(0x7C12, 1);
    assert!(!m.code_written());
}

#[test]
fn test_code_write_log_keeps_pages_another_engine_drained() {
    let mut m = PhysMem::new(1 << 20).unwrap();
    m.mark_code_page(0x3000);
    m.write_u8(0x3001, 1);
    assert!(m.take_written_code_pages() == vec![3] && !m.code_write_logged(), "log off: nothing kept");
    m.set_code_write_log(true);
    m.mark_code_page(0x3000);
    m.mark_code_page(0x5000);
    m.write_u8(0x5001, 1);
    m.write_u8(0x3002, 1);
    assert_eq!(m.take_written_code_pages(), vec![5, 3]);
    assert!(m.code_write_logged());
    assert_eq!(m.take_code_write_log(), vec![5, 3]);
    assert!(m.take_code_write_log().is_empty());
    m.set_code_write_log(false);
    assert!(!m.code_write_logged());
}

#[test]
fn test_ram_slice_stays_inside_a_page() {
    let m = PhysMem::new(1 << 20).unwrap();
    assert!(m.ram_slice(0xFFE, 2).is_some());
    assert!(m.ram_slice(0xFFF, 2).is_none());
}

#[test]
fn test_page_access_table_tracks_ram_rom_mmio_and_code() {
    let mut m = PhysMem::new(2 << 20).unwrap();
    let t = |m: &PhysMem, a: u32| m.page_access_table()[(a >> PAGE_SHIFT) as usize];
    assert_eq!(m.page_access_table().len(), PHYS_PAGES);
    assert_eq!(t(&m, 0x1000), PAGE_FAST_READ | PAGE_FAST_WRITE);
    assert_eq!(t(&m, 0x20_0000), 0, "beyond RAM");
    m.load_bios(&bios_image(128 * 1024)).unwrap();
    assert_eq!(t(&m, 0xE_0000), 0, "low BIOS window");
    assert_eq!(t(&m, 0xD_F000), PAGE_FAST_READ | PAGE_FAST_WRITE);
    m.add_mmio(0x1_0800, 0x10, 7).unwrap();
    assert_eq!(t(&m, 0x1_0000), 0, "a hole inside the page");
    assert!(m.mark_code_page(0x5123));
    assert_eq!(t(&m, 0x5000), PAGE_FAST_READ);
    m.write_u8(0x5000, 1);
    assert_eq!(t(&m, 0x5000), PAGE_FAST_READ | PAGE_FAST_WRITE, "a written code page is plain again");
    m.mark_code_page(0x6000);
    m.forget_code();
    assert_eq!(t(&m, 0x6000), PAGE_FAST_READ | PAGE_FAST_WRITE);
}

#[test]
fn test_pam_default_keeps_rom_and_ram_decode() {
    let mut m = PhysMem::new(2 << 20).unwrap();
    let img = bios_image(128 * 1024);
    m.load_bios(&img).unwrap();
    assert_eq!(m.pam(0), PamMode::default());
    assert_eq!(m.resolve(0xF0000), Target::Rom(0x10000));
    assert_eq!(m.resolve_write(0xF0000), Target::Rom(0x10000));
    m.write_u8(0xC0000, 0x11);
    assert_eq!(m.read_u8(0xC0000), 0x11, "below the BIOS window the default decode is RAM");
}

#[test]
fn test_pam_shadows_bios_then_write_protects() {
    let mut m = PhysMem::new(2 << 20).unwrap();
    let img = bios_image(64 * 1024);
    m.load_bios(&img).unwrap();
    // Write-only: reads still see the ROM while the copy goes to RAM.
    m.set_pam(0, false, true);
    m.write_u8(0xF1234, 0x5A);
    assert_eq!(m.read_u8(0xF1234), img[0x1234]);
    assert!(m.page_access_table()[0xF1] & PAGE_FAST_READ == 0);
    // Read/write RAM: the copy shows, and the page is plain RAM for the fast paths.
    m.set_pam(0, true, true);
    assert_eq!(m.read_u8(0xF1234), 0x5A);
    assert_eq!(m.page_access_table()[0xF1], PAGE_FAST_READ | PAGE_FAST_WRITE);
    m.write_u8(0xF1234, 0x6B);
    assert_eq!(m.read_u8(0xF1234), 0x6B);
    // Read-only RAM: writes vanish.
    m.set_pam(0, true, false);
    m.write_u8(0xF1234, 0x7C);
    assert_eq!(m.read_u8(0xF1234), 0x6B);
    assert_eq!(m.page_access_table()[0xF1], PAGE_FAST_READ);
    assert!(m.ram_slice_mut(0xF1234, 1).is_none());
    // Back to the default: the ROM again; the high alias never changes.
    m.set_pam(0, false, false);
    assert_eq!(m.read_u8(0xF1234), img[0x1234]);
    assert_eq!(m.read_u8(0xFFFF_0000 + 0x1234), img[0x1234]);
}

#[test]
fn test_pam_change_reports_segment_pages_as_written() {
    let mut m = PhysMem::new(2 << 20).unwrap();
    m.take_written_code_pages();
    m.set_pam(1, true, true); // 0xC0000..0xC4000
    let pages = m.take_written_code_pages();
    assert_eq!(pages, (0xC0..0xC4).collect::<Vec<u32>>());
    m.set_pam(1, true, true);
    assert!(!m.code_written(), "an unchanged mode reports nothing");
    m.set_pam(99, true, true);
    assert_eq!(pam_segment_range(12), (0xEC000, 0xF0000));
}

#[test]
fn test_option_rom_read_only_and_shadowed_by_pam() {
    let mut m = PhysMem::new(2 << 20).unwrap();
    m.load_bios(&bios_image(128 * 1024)).unwrap();
    let rom: Vec<u8> = (0..0x8000u32).map(|i| (i * 7) as u8).collect();
    m.load_option_rom(0xC0000, &rom).unwrap();
    assert_eq!(m.read_u8(0xC0000), rom[0]);
    assert_eq!(m.read_u8(0xC7FFF), rom[0x7FFF]);
    m.write_u8(0xC0001, !rom[1]);
    assert_eq!(m.read_u8(0xC0001), rom[1], "option ROM ignores writes");
    m.write_u8(0xC8000, 0x5A);
    assert_eq!(m.read_u8(0xC8000), 0x5A, "RAM after the ROM");
    assert_eq!(m.read_u8(0xFFFF0), bios_image(128 * 1024)[0x1FFF0], "BIOS unchanged");
    assert_eq!(m.page_access_table()[0xC0], 0, "ROM pages are not fast RAM");
    // A PAM segment reading RAM shadows the ROM.
    m.set_pam(1, true, true);
    m.write_u8(0xC0001, 0x33);
    assert_eq!(m.read_u8(0xC0001), 0x33);
}

#[test]
fn test_option_rom_placement_checked() {
    let mut m = PhysMem::new(1 << 20).unwrap();
    assert!(m.load_option_rom(0xC0100, &[0; 512]).is_err(), "misaligned");
    assert!(m.load_option_rom(0xDF800, &[0; 4096]).is_err(), "past 0xE0000");
    assert!(m.load_option_rom(0xC0000, &[]).is_err(), "empty");
    assert!(m.load_option_rom(0xB8000, &[0; 512]).is_err(), "below 0xC0000");
    m.load_option_rom(0xC0000, &[0x55, 0xAA]).unwrap();
    assert_eq!(m.read_u8(0xC0001), 0xAA);
}
