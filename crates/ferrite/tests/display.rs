//! The screenshot test: `roms/vga_screen.asm` programs the VGA without a VGA BIOS (its
//! own font in plane 2, an 80x25 text screen) and, given more than 16 MiB of RAM, the
//! Bochs VBE at 640x480x32 with a pattern drawn through the linear framebuffer. ferrite
//! writes the final screen with `--screenshot`; the test decodes the PNG and compares
//! every pixel with the image the ROM's documented rules give.

use std::path::{Path, PathBuf};
use std::process::Command;

fn rom() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../roms/bin/vga_screen.bin")
}

/// Runs the display ROM with `ram_mib` of RAM and returns the screenshot as (width,
/// height, RGB bytes).
fn screenshot(ram_mib: u32) -> (usize, usize, Vec<u8>) {
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("screen-{ram_mib}-{}.png", std::process::id()));
    let o = Command::new(env!("CARGO_BIN_EXE_ferrite"))
        .args(["run", "--bios"])
        .arg(rom())
        .args(["-m", &ram_mib.to_string(), "--display", "none", "--screenshot"])
        .arg(&out)
        .output()
        .expect("ferrite runs");
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("stopped: poweroff"), "{stderr}");
    let image = decode(&out);
    let _ = std::fs::remove_file(&out);
    image
}

fn decode(path: &Path) -> (usize, usize, Vec<u8>) {
    let file = std::io::BufReader::new(std::fs::File::open(path).expect("screenshot written"));
    let mut reader = png::Decoder::new(file).read_info().expect("a PNG");
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).expect("one frame");
    assert_eq!((info.color_type, info.bit_depth), (png::ColorType::Rgb, png::BitDepth::Eight));
    buf.truncate(info.buffer_size());
    (info.width as usize, info.height as usize, buf)
}

/// A 6-bit DAC component as the screen shows it.
fn widen(c: u32) -> u8 {
    ((c << 2) | (c >> 4)) as u8
}

/// The text screen the ROM builds: 80x25 cells of 8x16, glyph row r of character c is
/// (7c + 13r) & 0xFF, cell i holds character i & 0xFF with attribute (5i + 3) & 0xFF, and
/// DAC entry k is (4k, 63 - 4k, 2k).
fn expected_text(x: usize, y: usize) -> [u8; 3] {
    let i = (y / 16) * 80 + x / 8;
    let ch = (i & 0xFF) as u32;
    let attr = ((5 * i + 3) & 0xFF) as u32;
    let glyph = (ch * 7 + (y % 16) as u32 * 13) & 0xFF;
    let k = if glyph & (0x80 >> (x % 8)) != 0 { attr & 0x0F } else { attr >> 4 };
    [widen(4 * k), widen(63 - 4 * k), widen(2 * k)]
}

#[test]
fn test_screenshot_of_vga_text_screen() {
    let (w, h, rgb) = screenshot(16);
    assert_eq!((w, h), (640, 400));
    let mut bad = 0;
    for y in 0..h {
        for x in 0..w {
            let at = (y * w + x) * 3;
            if rgb[at..at + 3] != expected_text(x, y) {
                bad += 1;
            }
        }
    }
    assert_eq!(bad, 0, "pixels differing from the expected text screen");
}

#[test]
fn test_screenshot_of_vbe_framebuffer() {
    let (w, h, rgb) = screenshot(32);
    assert_eq!((w, h), (640, 480));
    let mut bad = 0;
    for y in 0..h {
        for x in 0..w {
            let at = (y * w + x) * 3;
            if rgb[at..at + 3] != [(x & 0xFF) as u8, (y & 0xFF) as u8, ((x ^ y) & 0xFF) as u8] {
                bad += 1;
            }
        }
    }
    assert_eq!(bad, 0, "pixels differing from the expected framebuffer pattern");
}

#[test]
fn test_window_without_display_is_one_error_line() {
    let o = Command::new(env!("CARGO_BIN_EXE_ferrite"))
        .args(["run", "--display", "window"])
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .output()
        .expect("ferrite runs");
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("ferrite: error: cannot open the display window"), "{stderr}");
}
