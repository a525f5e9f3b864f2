//! End-to-end tests of PCI and IDE: `roms/ide_hello.asm` enumerates PCI bus 0, reads
//! sector 0 of `--hda` by PIO and prints its checksum and signature, writes sector 1 and
//! exits with 0x10 (status 33). With `--snapshot` the image file must stay unchanged;
//! without it the write must reach the file. Bad images are refused with one line.

mod common;

use common::ferrite;
use std::path::PathBuf;

const MARKER: &[u8] = b"FERRITE WROTE THIS";

fn rom() -> String {
    common::rom("ide_hello.bin").display().to_string()
}

fn scratch(name: &str, bytes: &[u8]) -> PathBuf {
    let path = common::scratch("ide", name);
    std::fs::write(&path, bytes).expect("scratch image written");
    path
}

/// A 1 MiB disk whose sector 0 holds a pattern and the 0x55AA signature.
fn disk() -> Vec<u8> {
    let mut d = vec![0u8; 1 << 20];
    for (i, b) in d[..510].iter_mut().enumerate() {
        *b = (i * 7) as u8;
    }
    d[510..512].copy_from_slice(&[0x55, 0xAA]);
    d
}

fn expected_output(d: &[u8]) -> String {
    let sum = d[..512].chunks(2).fold(0u16, |s, w| s.wrapping_add(u16::from_le_bytes([w[0], w[1]])));
    format!(
        "pci 00.0 8086:1237\npci 01.0 8086:7000\npci 01.1 8086:7010\nhda sector 0 sum {sum:04X} sig AA55\nhda wrote sector 1\n"
    )
}

#[test]
fn test_ide_snapshot_keeps_the_image() {
    let d = disk();
    let path = scratch("snap.img", &d);
    let o =
        ferrite(&["run", "--bios", &rom(), "--hda", path.to_str().unwrap(), "--snapshot", "--max-insns", "2000000"]);
    assert_eq!(String::from_utf8_lossy(&o.stdout), expected_output(&d));
    assert_eq!(o.status.code(), Some(33), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(std::fs::read(&path).unwrap() == d, "--snapshot must leave the image untouched");
    std::fs::remove_file(path).unwrap();
}

#[test]
fn test_ide_write_reaches_the_image() {
    let d = disk();
    let path = scratch("rw.img", &d);
    for engine in ["interp", "jit"] {
        let args = ["run", "--bios", &rom(), "--hda", path.to_str().unwrap(), "--engine", engine];
        let o = ferrite(&args);
        assert_eq!(String::from_utf8_lossy(&o.stdout), expected_output(&d), "{engine}");
        assert_eq!(o.status.code(), Some(33), "{engine}: {}", String::from_utf8_lossy(&o.stderr));
    }
    let after = std::fs::read(&path).unwrap();
    assert_eq!(after.len(), d.len(), "the image keeps its size");
    assert_eq!(&after[512..512 + MARKER.len()], MARKER);
    assert!(after[512 + MARKER.len()..1024].iter().all(|&b| b == 0));
    assert!(after[..512] == d[..512] && after[1024..] == d[1024..], "nothing else changed");
    std::fs::remove_file(path).unwrap();
}

#[test]
fn test_ide_bad_images_are_refused() {
    let odd = scratch("odd.img", &[0u8; 1000]);
    let o = ferrite(&["run", "--bios", &rom(), "--hda", odd.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("not a multiple of 512-byte sectors") && err.lines().count() == 1, "{err}");
    assert_eq!(std::fs::metadata(&odd).unwrap().len(), 1000, "never padded or truncated");
    let o = ferrite(&["run", "--bios", &rom(), "--hda", "/nonexistent/disk.img"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).starts_with("ferrite: error: cannot open disk image"));
    let empty = scratch("empty.iso", &[]);
    let o = ferrite(&["run", "--bios", &rom(), "--cdrom", empty.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("is empty"));
    std::fs::remove_file(odd).unwrap();
    std::fs::remove_file(empty).unwrap();
}
