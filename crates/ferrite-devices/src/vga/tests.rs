use super::memory::*;
use super::vbe::*;
use super::*;

fn out(v: &mut Vga, port: u16, value: u8) {
    v.write(port, 1, value as u32);
}

fn seq(v: &mut Vga, index: u8, value: u8) {
    out(v, PORT_SEQ_INDEX, index);
    out(v, PORT_SEQ_DATA, value);
}

fn gr(v: &mut Vga, index: u8, value: u8) {
    out(v, PORT_GR_INDEX, index);
    out(v, PORT_GR_DATA, value);
}

fn crtc(v: &mut Vga, index: u8, value: u8) {
    out(v, PORT_CRTC_INDEX_COLOR, index);
    out(v, 0x3D5, value);
}

fn ar(v: &mut Vga, index: u8, value: u8) {
    v.read(PORT_STATUS1_COLOR, 1);
    out(v, PORT_AR_INDEX, index);
    out(v, PORT_AR_INDEX, value);
}

fn dac(v: &mut Vga, index: u8, rgb: [u8; 3]) {
    out(v, PORT_DAC_WRITE_INDEX, index);
    for c in rgb {
        out(v, PORT_DAC_DATA, c);
    }
}

/// The CRTC of the standard 400-line modes, 80 character clocks per line.
fn crtc_400(v: &mut Vga, max_scan: u8, offset: u8, mode17: u8, mode14: u8) {
    for (i, val) in [(1, 0x4F), (7, 0x1F), (9, max_scan), (0x12, 0x8F), (0x13, offset), (0x14, mode14), (0x17, mode17)]
    {
        crtc(v, i, val);
    }
    crtc(v, 0x18, 0xFF);
}

/// Mode 3-like: 80x25, 9-dot cells of 16 lines, text at 0xB8000, identity palette.
fn text_mode(v: &mut Vga) {
    seq(v, 1, 0x00);
    seq(v, 2, 0x03);
    seq(v, 3, 0x00);
    seq(v, 4, 0x02);
    gr(v, 5, 0x10);
    gr(v, 6, 0x0E);
    crtc_400(v, 0x4F, 0x28, 0xA3, 0x1F);
    crtc(v, 0x0A, 0x20); // cursor off
    for i in 0..16 {
        ar(v, i, i);
    }
    ar(v, 0x10, 0x0C);
    ar(v, 0x12, 0x0F);
    out(v, PORT_AR_INDEX, AR_INDEX_PAS);
}

fn planar_mode(v: &mut Vga) {
    seq(v, 4, 0x06);
    gr(v, 5, 0x00);
    gr(v, 6, 0x05);
}

#[test]
fn test_vga_registers_read_back_and_mono_decode() {
    let mut v = Vga::new();
    seq(&mut v, 2, 0x0F);
    out(&mut v, PORT_SEQ_INDEX, 2);
    assert_eq!(v.read(PORT_SEQ_DATA, 1), 0x0F);
    crtc(&mut v, 0x0E, 0x12);
    out(&mut v, PORT_CRTC_INDEX_COLOR, 0x0E);
    assert_eq!(v.read(0x3D5, 1), 0x12);
    assert_eq!(v.read(0x3B5, 1), 0xFF, "mono CRTC not decoded in colour mode");
    out(&mut v, PORT_MISC_WRITE, 0x00);
    assert_eq!(v.read(PORT_MISC_READ, 1), 0);
    out(&mut v, 0x3B4, 0x0E);
    assert_eq!(v.read(0x3B5, 1), 0x12, "same CRTC at 0x3B4/5 in mono mode");
    // 16-bit OUT to an index port writes index then data.
    out(&mut v, PORT_MISC_WRITE, MISC_COLOR_IO);
    v.write(PORT_GR_INDEX, 2, 0xFF08);
    assert_eq!(v.regs.gr[GR_BIT_MASK], 0xFF);
}

#[test]
fn test_vga_crtc_protect_and_attribute_flip_flop() {
    let mut v = Vga::new();
    crtc(&mut v, 1, 0x4F);
    crtc(&mut v, 0x11, 0x80);
    crtc(&mut v, 1, 0x27);
    assert_eq!(v.regs.crtc[1], 0x4F, "protected");
    crtc(&mut v, 7, 0xFF);
    assert_eq!(v.regs.crtc[7], 0x10, "only line compare bit 8 gets through");
    ar(&mut v, 3, 0x3F);
    assert_eq!(v.regs.ar[3], 0x3F);
    out(&mut v, PORT_AR_INDEX, 0x23);
    assert_eq!(v.read(PORT_AR_INDEX, 1), 0x23);
    assert_eq!(v.read(PORT_AR_DATA_READ, 1), 0x3F);
}

#[test]
fn test_vga_dac_write_read_and_status() {
    let mut v = Vga::new();
    dac(&mut v, 5, [0x3F, 0x20, 0x7F]);
    out(&mut v, PORT_DAC_READ_INDEX, 5);
    assert_eq!(v.read(PORT_DAC_READ_INDEX, 1), 3);
    let got: Vec<u32> = (0..3).map(|_| v.read(PORT_DAC_DATA, 1)).collect();
    assert_eq!(got, [0x3F, 0x20, 0x3F], "6-bit components");
    assert_eq!(v.read(PORT_DAC_WRITE_INDEX, 1), 6);
    let a = v.read(PORT_STATUS1_COLOR, 1);
    let b = v.read(PORT_STATUS1_COLOR, 1);
    assert_ne!(a & 8, b & 8, "retrace toggles");
}

#[test]
fn test_vga_planar_write_mode0_set_reset_and_bit_mask() {
    let mut v = Vga::new();
    planar_mode(&mut v);
    seq(&mut v, 2, 0x0F);
    gr(&mut v, GR_BIT_MASK as u8, 0xFF);
    v.mem_write(0x10, 0xA5);
    assert_eq!((0..4).map(|p| v.plane_byte(p, 0x10)).collect::<Vec<_>>(), [0xA5; 4]);
    // Set/reset on planes 0 and 2 with colour 0b0101, others take the data.
    gr(&mut v, 0, 0x05);
    gr(&mut v, 1, 0x05);
    v.mem_write(0x11, 0x3C);
    assert_eq!([0, 1, 2, 3].map(|p| v.plane_byte(p, 0x11)), [0xFF, 0x3C, 0xFF, 0x3C]);
    // Bit mask keeps the latched bits: load latches from 0x10 then write 0x00 masked.
    gr(&mut v, 1, 0);
    gr(&mut v, GR_BIT_MASK as u8, 0x0F);
    v.mem_read(0x10);
    v.mem_write(0x10, 0x00);
    assert_eq!(v.plane_byte(0, 0x10), 0xA0);
    // Map mask: only plane 3.
    seq(&mut v, 2, 0x08);
    gr(&mut v, GR_BIT_MASK as u8, 0xFF);
    v.mem_write(0x12, 0x77);
    assert_eq!([0, 1, 2, 3].map(|p| v.plane_byte(p, 0x12)), [0, 0, 0, 0x77]);
}

#[test]
fn test_vga_rotate_and_logical_functions() {
    let mut v = Vga::new();
    planar_mode(&mut v);
    seq(&mut v, 2, 0x01);
    gr(&mut v, GR_BIT_MASK as u8, 0xFF);
    v.set_plane_byte(0, 0, 0xF0);
    for (func, want) in [(1u8, 0xF0 & 0x3C), (2, 0xF0 | 0x3C), (3, 0xF0 ^ 0x3C)] {
        v.set_plane_byte(0, 0, 0xF0);
        gr(&mut v, 3, func << 3);
        v.mem_read(0);
        v.mem_write(0, 0x3C);
        assert_eq!(v.plane_byte(0, 0), want, "function {func}");
    }
    gr(&mut v, 3, 0x01); // rotate right by one, no function
    v.mem_write(1, 0x03);
    assert_eq!(v.plane_byte(0, 1), 0x81);
}

#[test]
fn test_vga_write_modes_1_2_3() {
    let mut v = Vga::new();
    planar_mode(&mut v);
    seq(&mut v, 2, 0x0F);
    for p in 0..4 {
        v.set_plane_byte(p, 0, 0x11 * (p as u8 + 1));
    }
    gr(&mut v, 5, 0x01); // write mode 1: copy latches
    v.mem_read(0);
    v.mem_write(7, 0xEE);
    assert_eq!([0, 1, 2, 3].map(|p| v.plane_byte(p, 7)), [0x11, 0x22, 0x33, 0x44]);
    gr(&mut v, 5, 0x02); // write mode 2: colour 0b1010 on the masked bits
    gr(&mut v, GR_BIT_MASK as u8, 0xF0);
    v.mem_read(8);
    v.mem_write(8, 0x0A);
    assert_eq!([0, 1, 2, 3].map(|p| v.plane_byte(p, 8)), [0x00, 0xF0, 0x00, 0xF0]);
    gr(&mut v, 5, 0x03); // write mode 3: set/reset colour, data ANDs the bit mask
    gr(&mut v, 0, 0x0C);
    gr(&mut v, GR_BIT_MASK as u8, 0xFF);
    v.mem_read(9);
    v.mem_write(9, 0x0F);
    assert_eq!([0, 1, 2, 3].map(|p| v.plane_byte(p, 9)), [0x00, 0x00, 0x0F, 0x0F]);
}

#[test]
fn test_vga_read_modes() {
    let mut v = Vga::new();
    planar_mode(&mut v);
    // Pixel colours along the byte: bits 7..0 = colours 1,2,3,4,5,6,7,8 (planes are bits).
    let colors = [1u8, 2, 3, 4, 5, 6, 7, 8];
    for p in 0..4 {
        let byte = colors.iter().enumerate().fold(0u8, |b, (i, c)| b | (((c >> p) & 1) << (7 - i)));
        v.set_plane_byte(p, 0x20, byte);
    }
    gr(&mut v, 4, 2);
    assert_eq!(v.mem_read(0x20), v.plane_byte(2, 0x20), "read mode 0 returns the read map");
    gr(&mut v, 5, GR5_READ_MODE1);
    gr(&mut v, 2, 5); // colour compare 5
    gr(&mut v, 7, 0x0F);
    assert_eq!(v.mem_read(0x20), 0b0000_1000);
    gr(&mut v, 7, 0x03); // compare planes 0,1 only: colours 1 and 5 match 0b01
    assert_eq!(v.mem_read(0x20), 0b1000_1000);
}

#[test]
fn test_vga_chain4_odd_even_and_memory_map() {
    let mut v = Vga::new();
    seq(&mut v, 2, 0x0F);
    seq(&mut v, 4, 0x0E);
    gr(&mut v, 6, 0x05); // A0000, 64 KiB
    v.mem_write(0x105, 0x42);
    assert_eq!(v.plane_byte(1, 0x41), 0x42);
    assert_eq!(v.mem_read(0x105), 0x42);
    assert_eq!(v.vram()[0x105], 0x42, "chain-4 is byte-linear in video memory");
    assert_eq!(v.mem_read(0x1_0000), 0xFF, "outside the 64 KiB map");
    // Text mapping at 0xB8000: even bytes plane 0, odd plane 1.
    seq(&mut v, 4, 0x02);
    gr(&mut v, 5, 0x10);
    gr(&mut v, 6, 0x0E);
    v.mem_write(0x1_8000 + 2, b'A');
    v.mem_write(0x1_8000 + 3, 0x1F);
    assert_eq!((v.plane_byte(0, 2), v.plane_byte(1, 2)), (b'A', 0x1F));
    assert_eq!(v.mem_read(0x1_8003), 0x1F);
    assert_eq!(v.mem_read(0x0), 0xFF, "0xA0000 is not decoded in the B8000 map");
}

/// A test glyph: row r of every character is the character code XOR r.
fn load_test_font(v: &mut Vga) {
    for ch in 0..256u32 {
        for line in 0..16u32 {
            v.set_plane_byte(2, ch * 32 + line, (ch ^ line) as u8);
        }
    }
}

#[test]
fn test_vga_text_render_char_attribute_and_cursor() {
    let mut v = Vga::new();
    text_mode(&mut v);
    load_test_font(&mut v);
    dac(&mut v, 0x01, [0, 0, 0x2A]);
    dac(&mut v, 0x0E, [0x3F, 0x3F, 0x15]);
    // Row 1, column 2: 0xC3 (a line-graphics code), yellow on blue.
    let at = (80 + 2) * 2;
    v.mem_write(0x1_8000 + at, 0xC3);
    v.mem_write(0x1_8000 + at + 1, 0x1E);
    let mut f = Frame::default();
    v.render(&mut f);
    assert_eq!((f.width, f.height), (720, 400));
    let (yellow, blue) = (0xFFFF55, 0x0000AA);
    let (x0, y0) = (2 * 9, 16);
    for line in 0..16 {
        let bits = 0xC3u32 ^ line as u32;
        for x in 0..8 {
            let want = if bits & (0x80 >> x) != 0 { yellow } else { blue };
            assert_eq!(f.pixel(x0 + x, y0 + line), want, "x {x} line {line}");
        }
        let ninth = if bits & 1 != 0 { yellow } else { blue };
        assert_eq!(f.pixel(x0 + 8, y0 + line), ninth, "9th column repeats for 0xC3");
    }
    // Cursor on that cell over lines 14-15.
    crtc(&mut v, 0x0A, 14);
    crtc(&mut v, 0x0B, 15);
    crtc(&mut v, 0x0E, 0);
    crtc(&mut v, 0x0F, 82);
    v.render(&mut f);
    assert!((0..9).all(|x| f.pixel(x0 + x, y0 + 15) == yellow));
    // 8-dot cells and 40 columns.
    seq(&mut v, 1, 0x01);
    crtc(&mut v, 1, 39);
    v.render(&mut f);
    assert_eq!((f.width, f.height), (320, 400));
    // Palette address source clear: blank.
    out(&mut v, PORT_AR_INDEX, 0);
    v.read(PORT_STATUS1_COLOR, 1);
    out(&mut v, PORT_AR_INDEX, 0);
    v.render(&mut f);
    assert!(f.pixels.iter().all(|&p| p == 0));
}

#[test]
fn test_vga_mode13h_palette_and_pel_mask() {
    let mut v = Vga::new();
    seq(&mut v, 1, 0x01);
    seq(&mut v, 2, 0x0F);
    seq(&mut v, 4, 0x0E);
    gr(&mut v, 5, 0x40);
    gr(&mut v, 6, 0x05);
    crtc_400(&mut v, 0x41, 0x28, 0xA3, 0x40);
    out(&mut v, PORT_AR_INDEX, AR_INDEX_PAS);
    dac(&mut v, 0x80, [0x3F, 0, 0]);
    dac(&mut v, 0x00, [0, 0x3F, 0]);
    dac(&mut v, 0x81, [0, 0, 0x3F]);
    v.mem_write(5 * 320 + 7, 0x80);
    v.mem_write(5 * 320 + 8, 0x81);
    let mut f = Frame::default();
    v.render(&mut f);
    assert_eq!((f.width, f.height), (320, 200));
    assert_eq!(f.pixel(7, 5), 0xFF0000);
    assert_eq!(f.pixel(8, 5), 0x0000FF);
    assert_eq!(f.pixel(0, 0), 0x00FF00);
    out(&mut v, PORT_PEL_MASK, 0x7F);
    v.render(&mut f);
    assert_eq!(f.pixel(7, 5), 0x00FF00, "PEL mask drops bit 7");
}

#[test]
fn test_vga_planar16_render_and_line_compare() {
    let mut v = Vga::new();
    planar_mode(&mut v);
    crtc_400(&mut v, 0x40, 0x28, 0xE3, 0x00);
    // 480 lines: vertical display end 0x1DF.
    crtc(&mut v, 0x12, 0xDF);
    crtc(&mut v, 7, 0x3E);
    for i in 0..16 {
        ar(&mut v, i, i);
    }
    ar(&mut v, 0x12, 0x0F);
    out(&mut v, PORT_AR_INDEX, AR_INDEX_PAS);
    dac(&mut v, 9, [0x3F, 0x3F, 0x3F]);
    // Pixel (3, 2) colour 9: planes 0 and 3.
    let offset = 2 * 80;
    v.set_plane_byte(0, offset, 0x10);
    v.set_plane_byte(3, offset, 0x10);
    let mut f = Frame::default();
    v.render(&mut f);
    assert_eq!((f.width, f.height), (640, 480));
    assert_eq!(f.pixel(3, 2), 0xFFFFFF);
    assert_eq!(f.pixel(4, 2), 0);
    // Start at line 2, split after line 9: line 0 shows line 2, line 10 shows line 0.
    crtc(&mut v, 0x0C, 0);
    crtc(&mut v, 0x0D, 160);
    crtc(&mut v, 0x18, 9);
    crtc(&mut v, 7, 0x2E);
    crtc(&mut v, 9, 0x00);
    v.set_plane_byte(0, 0, 0x80);
    v.set_plane_byte(3, 0, 0x80);
    v.render(&mut f);
    assert_eq!(f.pixel(3, 0), 0xFFFFFF);
    assert_eq!(f.pixel(0, 10), 0xFFFFFF);
}

fn vbe(v: &mut Vga, index: u16, value: u16) {
    v.write(PORT_INDEX, 2, index as u32);
    v.write(PORT_DATA, 2, value as u32);
}

fn vbe_read(v: &mut Vga, index: u16) -> u16 {
    v.write(PORT_INDEX, 2, index as u32);
    v.read(PORT_DATA, 2) as u16
}

#[test]
fn test_vbe_id_caps_and_memory_size() {
    let mut v = Vga::new();
    assert_eq!(vbe_read(&mut v, INDEX_ID), ID0);
    vbe(&mut v, INDEX_ID, ID5);
    assert_eq!(vbe_read(&mut v, INDEX_ID), ID5);
    vbe(&mut v, INDEX_ID, 0x1234);
    assert_eq!(vbe_read(&mut v, INDEX_ID), ID5, "unknown versions refused");
    assert_eq!(vbe_read(&mut v, INDEX_VIDEO_MEMORY_64K), 256);
    vbe(&mut v, INDEX_ENABLE, ENABLE_GETCAPS);
    assert_eq!(vbe_read(&mut v, INDEX_XRES), MAX_XRES);
    assert_eq!(vbe_read(&mut v, INDEX_BPP), MAX_BPP);
    vbe(&mut v, INDEX_ENABLE, 0);
    assert_eq!(vbe_read(&mut v, INDEX_XRES), 640);
}

#[test]
fn test_vbe_lfb_32bpp_frame_and_offsets() {
    let mut v = Vga::new();
    v.lfb_write(0, 4, 0xDEAD_BEEF);
    vbe(&mut v, INDEX_XRES, 640);
    vbe(&mut v, INDEX_YRES, 480);
    vbe(&mut v, INDEX_BPP, 32);
    vbe(&mut v, INDEX_ENABLE, ENABLE_ENABLED | ENABLE_LFB);
    assert_eq!(v.lfb_read(0, 4), 0, "enabling clears memory");
    assert_eq!(vbe_read(&mut v, INDEX_VIRT_WIDTH), 640);
    assert_eq!(vbe_read(&mut v, INDEX_VIRT_HEIGHT) as usize, VRAM_SIZE / 2560);
    v.lfb_write((10 * 640 + 20) * 4, 4, 0x0012_3456);
    let mut f = Frame::default();
    v.render(&mut f);
    assert_eq!((f.width, f.height), (640, 480));
    assert_eq!(f.pixel(20, 10), 0x123456);
    vbe(&mut v, INDEX_Y_OFFSET, 10);
    v.render(&mut f);
    assert_eq!(f.pixel(20, 0), 0x123456, "panned down ten lines");
    assert_eq!(v.lfb_read(VRAM_SIZE as u32, 1), 0xFF);
}

#[test]
fn test_vbe_16_15_8_bpp_banked_and_noclear() {
    let mut v = Vga::new();
    v.lfb_write(0, 1, 0x77);
    vbe(&mut v, INDEX_XRES, 320);
    vbe(&mut v, INDEX_YRES, 200);
    vbe(&mut v, INDEX_BPP, 16);
    vbe(&mut v, INDEX_ENABLE, ENABLE_ENABLED | ENABLE_NOCLEARMEM);
    assert_eq!(v.lfb_read(0, 1), 0x77, "NOCLEARMEM keeps memory");
    v.lfb_write(2, 2, 0xF800);
    let mut f = Frame::default();
    v.render(&mut f);
    assert_eq!(f.pixel(1, 0), 0xFF0000);
    vbe(&mut v, INDEX_ENABLE, 0);
    vbe(&mut v, INDEX_BPP, 15);
    vbe(&mut v, INDEX_ENABLE, ENABLE_ENABLED | ENABLE_NOCLEARMEM);
    v.render(&mut f);
    assert_eq!(f.pixel(1, 0), 0xF70000, "bits 14-10 are red in 5-5-5");
    // 8 bpp through the DAC (8-bit components with the 8-bit-DAC bit), written banked.
    vbe(&mut v, INDEX_ENABLE, 0);
    vbe(&mut v, INDEX_BPP, 8);
    vbe(&mut v, INDEX_XRES, 640);
    vbe(&mut v, INDEX_YRES, 480);
    vbe(&mut v, INDEX_ENABLE, ENABLE_ENABLED | ENABLE_8BIT_DAC);
    dac(&mut v, 3, [0x80, 0x40, 0xFF]);
    vbe(&mut v, INDEX_BANK, 1);
    v.mem_write(5, 3);
    assert_eq!(v.mem_read(5), 3);
    assert_eq!(v.lfb_read(0x1_0005, 1), 3, "bank 1 is the second 64 KiB");
    v.render(&mut f);
    let at = 0x1_0005;
    assert_eq!(f.pixel(at % 640, at / 640), 0x8040FF);
}

#[test]
fn test_vga_text_screen_reads_characters() {
    let mut v = Vga::new();
    text_mode(&mut v);
    for (i, &b) in b"Memtest86+".iter().enumerate() {
        v.mem_write(0x1_8000 + (80 + 3 + i as u32) * 2, b);
        v.mem_write(0x1_8000 + (80 + 3 + i as u32) * 2 + 1, 0x07);
    }
    v.mem_write(0x1_8000, 0xC3);
    let screen = v.text_screen().expect("a text mode");
    assert_eq!(screen.len(), 25);
    assert_eq!(screen[1].len(), 80);
    assert_eq!(&screen[1][3..13], "Memtest86+");
    assert!(screen[0].starts_with(' '), "non-ASCII shows as a space");
    gr(&mut v, 6, 0x05); // graphics mode
    assert_eq!(v.text_screen(), None);
}
