use super::*;
use crate::test_ram::Ram;

/// Programs channel 2 as a BIOS does for a floppy transfer: mask, flip-flop, address,
/// count, mode, page, unmask.
fn program_ch2(d: &mut Dma8237, addr: u32, count: u16, mode: u8) {
    d.write(0x0A, 1, 0x06);
    d.write(0x0C, 1, 0);
    d.write(0x04, 1, addr & 0xFF);
    d.write(0x04, 1, (addr >> 8) & 0xFF);
    d.write(0x0C, 1, 0);
    d.write(0x05, 1, (count & 0xFF) as u32);
    d.write(0x05, 1, (count >> 8) as u32);
    d.write(0x0B, 1, mode as u32);
    d.write(0x81, 1, addr >> 16);
    d.write(0x0A, 1, 0x02);
}

#[test]
fn test_dma_ports_leave_post_code_port_alone() {
    let d = Dma8237::new();
    let ports = d.ports();
    assert!(ports.iter().all(|r| !r.contains(&0x80)), "0x80 stays the POST-code latch");
    assert!(ports.iter().any(|r| r.contains(&0x81)) && ports.iter().any(|r| r.contains(&0x8F)));
    assert!(ports.iter().any(|r| r.contains(&0xDF)) && ports.iter().any(|r| r.contains(&0x0F)));
}

#[test]
fn test_dma_flip_flop_reads_back_address_and_count() {
    let mut d = Dma8237::new();
    program_ch2(&mut d, 0x0012_3456, 0x01FF, 0x46);
    d.write(0x0C, 1, 0);
    assert_eq!(d.read(0x04, 1), 0x56);
    assert_eq!(d.read(0x04, 1), 0x34);
    assert_eq!(d.read(0x05, 1), 0xFF, "the flip-flop is shared by address and count");
    assert_eq!(d.read(0x05, 1), 0x01);
    assert_eq!(d.read(0x81, 1), 0x12);
    assert_eq!(d.channel_regs(2).mode, 0x46);
    assert!(d.ready(2));
    assert!(!d.ready(1), "other channels stay masked");
    assert_eq!(d.read(0x0F, 1) & 0x0F, 0x0B, "read all mask bits");
}

#[test]
fn test_dma_write_transfer_stops_at_terminal_count_and_masks() {
    let mut d = Dma8237::new();
    let mut ram = Ram(vec![0; 0x2_0000]);
    // 0x200 bytes at 0x1_7C00 (count 0x1FF), single mode, write to memory.
    program_ch2(&mut d, 0x1_7C00, 0x01FF, 0x46);
    let data: Vec<u8> = (0..0x300u32).map(|i| i as u8).collect();
    let p = d.channel(2, &mut ram).write_memory(&data[..0x100]);
    assert_eq!(p, DmaProgress { bytes: 0x100, terminal_count: false });
    let p = d.channel(2, &mut ram).write_memory(&data[0x100..]);
    assert_eq!(p, DmaProgress { bytes: 0x100, terminal_count: true }, "only the programmed count moves");
    assert_eq!(&ram.0[0x1_7C00..0x1_7E00], &data[..0x200]);
    assert_eq!(ram.0[0x1_7E00], 0, "nothing beyond the count");
    assert!(!d.ready(2), "terminal count without auto-initialise masks the channel");
    assert!(d.terminal_count(2));
    assert_eq!(d.read(0x08, 1) & 0x0F, 0x04, "status: channel 2 reached TC");
    assert_eq!(d.read(0x08, 1) & 0x0F, 0, "reading the status clears the TC bits");
    assert_eq!(d.channel(2, &mut ram).write_memory(&data), DmaProgress::default(), "masked: nothing moves");
}

#[test]
fn test_dma_read_transfer_and_page_wrap() {
    let mut d = Dma8237::new();
    let mut ram = Ram(vec![0; 0x3_0000]);
    for (i, b) in ram.0[0x2_0000..0x2_0010].iter_mut().enumerate() {
        *b = 0xA0 + i as u8;
    }
    ram.0[0x2_FFFE] = 0x11;
    ram.0[0x2_FFFF] = 0x22;
    // Starts 2 bytes before the end of page 2: the address wraps to the page's start.
    program_ch2(&mut d, 0x2_FFFE, 5, 0x4A);
    let mut buf = [0u8; 8];
    let p = d.channel(2, &mut ram).read_memory(&mut buf);
    assert_eq!(p, DmaProgress { bytes: 6, terminal_count: true });
    assert_eq!(&buf[..6], &[0x11, 0x22, 0xA0, 0xA1, 0xA2, 0xA3]);
}

#[test]
fn test_dma_autoinit_reloads_and_decrement_counts_down() {
    let mut d = Dma8237::new();
    let mut ram = Ram(vec![0; 0x1_0000]);
    program_ch2(&mut d, 0x1003, 3, 0x46 | MODE_AUTOINIT | MODE_DECREMENT);
    let p = d.channel(2, &mut ram).write_memory(&[1, 2, 3, 4, 5, 6]);
    assert_eq!(p, DmaProgress { bytes: 4, terminal_count: true });
    assert_eq!(&ram.0[0x1000..0x1004], &[4, 3, 2, 1], "the address counts down");
    assert!(d.ready(2), "auto-initialise keeps the channel unmasked");
    let r = d.channel_regs(2);
    assert_eq!((r.address, r.count), (0x1003, 3), "base address and count reloaded");
}

#[test]
fn test_dma_verify_and_wrong_direction_leave_memory() {
    let mut d = Dma8237::new();
    let mut ram = Ram(vec![0; 0x1_0000]);
    program_ch2(&mut d, 0x100, 1, 0x42); // verify
    assert_eq!(d.channel(2, &mut ram).write_memory(&[9, 9]).bytes, 2);
    program_ch2(&mut d, 0x100, 1, 0x4A); // read from memory, but the device writes
    assert_eq!(d.channel(2, &mut ram).write_memory(&[9, 9]).bytes, 2);
    assert_eq!(&ram.0[0x100..0x102], &[0, 0]);
}

#[test]
fn test_dma_16bit_channel_counts_words() {
    let mut d = Dma8237::new();
    let mut ram = Ram(vec![0; 0x4_0000]);
    d.write(0xD4, 1, 0x01); // unmask channel 5
    d.write(0xD8, 1, 0); // flip-flop
    d.write(0xC4, 1, 0x00); // word address 0x8000 -> byte 0x1_0000 within the 128 KiB page
    d.write(0xC4, 1, 0x80);
    d.write(0xC6, 1, 1); // 2 words
    d.write(0xC6, 1, 0);
    d.write(0x8B, 1, 0x03); // page 3 & 0xFE = 2: 0x2_0000
    d.write(0xD6, 1, 0x45); // channel 5, write to memory
    let p = d.channel(5, &mut ram).write_memory(&[1, 2, 3, 4, 5, 6]);
    assert_eq!(p, DmaProgress { bytes: 4, terminal_count: true });
    assert_eq!(&ram.0[0x3_0000..0x3_0004], &[1, 2, 3, 4]);
}

#[test]
fn test_dma_master_clear_and_disable() {
    let mut d = Dma8237::new();
    program_ch2(&mut d, 0x500, 0, 0x46);
    d.write(0x08, 1, 0x04);
    assert!(!d.ready(2), "command bit 2 disables the controller");
    d.write(0x08, 1, 0);
    assert!(d.ready(2));
    d.write(0x0D, 1, 0);
    assert!(!d.ready(2), "master clear masks every channel");
    d.write(0x0E, 1, 0);
    assert!(d.ready(0) && d.ready(3), "clear mask register");
    d.write(0xDA, 1, 0);
    assert!(!d.ready(4), "controller 2's master clear");
}
