//! End-to-end tests of `ferrite run --kernel`: the project's multiboot test kernel
//! (`roms/multiboot_hello.asm`, a.out kludge), ELF32 kernels built here byte by byte, the
//! command line, memory size and module reaching the kernel, the other run options
//! combined with `--kernel`, and files that cannot be booted (one error line, status 1).

mod common;

use common::{assert_error_line, assert_no_panic, ferrite, rom, stderr, stdout, summary};
use std::path::PathBuf;

/// The status the test kernel's success exit (0x10) gives.
const STATUS_KERNEL_OK: i32 = (0x10 << 1) | 1;
/// Where the test kernels load, and the ELF kernels' entry offset after their header.
const LOAD: u32 = 0x10_0000;
const HEADER_MAGIC: u32 = 0x1BAD_B002;

fn kernel() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../roms/bin/multiboot_hello.bin")
}

/// A scratch path for this test.
fn scratch(name: &str) -> PathBuf {
    common::scratch("mb", name)
}

/// 32-bit code printing `text` on the debug console, one `mov al, c; out 0xE9, al` per
/// byte, after checking EAX holds the multiboot magic (else it exits with 0x7E).
fn print_code(text: &str) -> Vec<u8> {
    // cmp eax, 0x2BADB002; je +4; mov al, 0x7E; out 0xF4, al
    let mut code = vec![0x3D, 0x02, 0xB0, 0xAD, 0x2B, 0x74, 0x04, 0xB0, 0x7E, 0xE6, 0xF4];
    for b in text.bytes() {
        code.extend_from_slice(&[0xB0, b, 0xE6, 0xE9]);
    }
    code
}

/// A minimal ELF32 i386 executable: one PT_LOAD segment holding a multiboot header
/// (flags 0: load from the ELF headers) and then `code`, loaded at physical `paddr`,
/// linked at `vaddr`, entered at the code.
fn elf_kernel(paddr: u32, vaddr: u32, code: &[u8]) -> Vec<u8> {
    const EHDR: usize = 52;
    const PHDR: usize = 32;
    let mut seg = Vec::new();
    for w in [HEADER_MAGIC, 0, 0u32.wrapping_sub(HEADER_MAGIC)] {
        seg.extend_from_slice(&w.to_le_bytes());
    }
    seg.extend_from_slice(code);
    let mut image = vec![0u8; EHDR + PHDR];
    image[..4].copy_from_slice(b"\x7FELF");
    image[4] = 1; // ELFCLASS32
    image[5] = 1; // little-endian
    image[6] = 1; // EV_CURRENT
    let put16 = |image: &mut Vec<u8>, off: usize, v: u16| image[off..off + 2].copy_from_slice(&v.to_le_bytes());
    let put32 = |image: &mut Vec<u8>, off: usize, v: u32| image[off..off + 4].copy_from_slice(&v.to_le_bytes());
    put16(&mut image, 16, 2); // ET_EXEC
    put16(&mut image, 18, 3); // EM_386
    put32(&mut image, 20, 1); // e_version
    put32(&mut image, 24, vaddr + 12); // e_entry: just after the multiboot header
    put32(&mut image, 28, EHDR as u32); // e_phoff
    put16(&mut image, 40, EHDR as u16); // e_ehsize
    put16(&mut image, 42, PHDR as u16); // e_phentsize
    put16(&mut image, 44, 1); // e_phnum
    let offset = image.len() as u32;
    let len = seg.len() as u32;
    for (i, v) in [1, offset, vaddr, paddr, len, len + 0x100, 7, 0x1000].into_iter().enumerate() {
        put32(&mut image, EHDR + 4 * i, v); // PT_LOAD, offset, vaddr, paddr, filesz, memsz, RWX, align
    }
    image.extend_from_slice(&seg);
    image
}

/// Writes `bytes` to a scratch file and returns its path.
fn scratch_file(name: &str, bytes: &[u8]) -> PathBuf {
    let path = scratch(name);
    std::fs::write(&path, bytes).expect("scratch file written");
    path
}

#[test]
fn test_multiboot_hello_prints_and_exits() {
    let k = kernel();
    let o = ferrite(&["run", "--kernel", k.to_str().unwrap()]);
    assert_no_panic(&o);
    assert_eq!(
        stdout(&o),
        format!(
            "multiboot ok: loader=ferrite cmdline={} mem_lower=639KiB mem_upper=15360KiB mmap_ram=15999KiB mods=0\n",
            k.display()
        )
    );
    let line = summary(&o);
    assert!(line.starts_with("ferrite: stopped: exit-port at 0008:00100"), "{line}");
    assert_eq!(o.status.code(), Some(STATUS_KERNEL_OK));
}

#[test]
fn test_append_and_memory_size_reach_the_kernel() {
    let k = kernel();
    let o = ferrite(&["run", "--kernel", k.to_str().unwrap(), "-m", "128", "--append", "console=e9 answer=42"]);
    assert_no_panic(&o);
    let out = stdout(&o);
    assert!(out.contains(&format!(" cmdline={} console=e9 answer=42 mem_lower=", k.display())), "{out}");
    assert!(out.contains(" mem_upper=130048KiB mmap_ram=130687KiB "), "{out}");
    assert_eq!(o.status.code(), Some(STATUS_KERNEL_OK));
}

#[test]
fn test_initrd_is_passed_as_a_module() {
    let initrd = scratch_file("initrd.img", &[0x5A; 1000]);
    let o = ferrite(&["run", "--kernel", kernel().to_str().unwrap(), "--initrd", initrd.to_str().unwrap()]);
    assert_no_panic(&o);
    let out = stdout(&o);
    assert!(out.ends_with(&format!(" mods=1 ({}, 1000 bytes)\n", initrd.display())), "{out}");
    assert_eq!(o.status.code(), Some(STATUS_KERNEL_OK));
    let _ = std::fs::remove_file(&initrd);
}

#[test]
fn test_elf_kernel_boots() {
    let mut code = print_code("elf ok\n");
    code.extend_from_slice(&[0xB0, 0x21, 0xE6, 0xF4]); // mov al, 0x21; out 0xF4, al
    let path = scratch_file("kernel.elf", &elf_kernel(LOAD, LOAD, &code));
    let o = ferrite(&["run", "--kernel", path.to_str().unwrap()]);
    assert_no_panic(&o);
    assert_eq!(stdout(&o), "elf ok\n");
    assert_eq!(o.status.code(), Some((0x21 << 1) | 1));

    // Linked in the higher half, loaded at 2 MiB: the entry is translated to physical.
    let path2 = scratch_file("higher-half.elf", &elf_kernel(2 * LOAD, 0xC000_0000 + 2 * LOAD, &code));
    let o = ferrite(&["run", "--kernel", path2.to_str().unwrap()]);
    assert_eq!(stdout(&o), "elf ok\n", "{}", stderr(&o));
    assert!(summary(&o).starts_with("ferrite: stopped: exit-port at 0008:00200"), "{}", summary(&o));
    let _ = std::fs::remove_file(&path);
    let _ = std::fs::remove_file(&path2);
}

#[test]
fn test_files_that_cannot_be_booted() {
    let o = ferrite(&["run", "--kernel", rom("smoke.bin").to_str().unwrap()]);
    assert_error_line(&o, 1, "smoke.bin: not a multiboot kernel (no multiboot header in its first 8192 bytes)");

    let mut bz = vec![0u8; 0x1000];
    bz[0x1FE..0x200].copy_from_slice(&[0x55, 0xAA]);
    bz[0x202..0x206].copy_from_slice(b"HdrS");
    let path = scratch_file("bzImage", &bz);
    let o = ferrite(&["run", "--kernel", path.to_str().unwrap()]);
    // A bzImage signature takes the Linux path, which refuses this header.
    assert_error_line(&o, 1, "Linux boot protocol 0.00 is too old");

    let o = ferrite(&["run", "--kernel", "/nonexistent/kernel.elf"]);
    assert_error_line(&o, 1, "cannot read kernel /nonexistent/kernel.elf: No such file or directory");

    let beyond = scratch_file("beyond.elf", &elf_kernel(64 << 20, 64 << 20, &print_code("x")));
    let o = ferrite(&["run", "--kernel", beyond.to_str().unwrap()]);
    assert_error_line(&o, 1, "does not fit in guest RAM");
    // With enough RAM the same kernel runs (what follows its code does not matter here).
    let o = ferrite(&["run", "--kernel", beyond.to_str().unwrap(), "-m", "128", "--max-insns", "20"]);
    assert_no_panic(&o);
    assert!(stdout(&o).starts_with('x'), "{}", stderr(&o));

    let mut elf64 = elf_kernel(LOAD, LOAD, &print_code("x"));
    elf64[4] = 2;
    let path64 = scratch_file("kernel64.elf", &elf64);
    let o = ferrite(&["run", "--kernel", path64.to_str().unwrap()]);
    assert_error_line(&o, 1, "64-bit ELF");

    let truncated = scratch_file("truncated.elf", &elf_kernel(LOAD, LOAD, &print_code("x"))[..100]);
    let o = ferrite(&["run", "--kernel", truncated.to_str().unwrap()]);
    assert_error_line(&o, 1, "truncated");

    let o = ferrite(&["run", "--kernel", kernel().to_str().unwrap(), "--initrd", "/nonexistent/initrd"]);
    assert_error_line(&o, 1, "cannot read initrd /nonexistent/initrd");

    for p in [path, beyond, path64, truncated] {
        let _ = std::fs::remove_file(p);
    }
}

#[test]
fn test_append_and_initrd_need_a_kernel() {
    let o = ferrite(&["run", "--append", "x"]);
    assert_error_line(&o, 2, "--kernel");
    let o = ferrite(&["run", "--initrd", "x"]);
    assert_error_line(&o, 2, "--kernel");
}

#[test]
fn test_kernel_combines_with_the_run_options() {
    let k = kernel();
    let k = k.to_str().unwrap();
    // The CPU starts at the kernel entry in 32-bit protected mode.
    let o = ferrite(&["run", "--kernel", k, "--max-insns", "0"]);
    assert_eq!(summary(&o), "ferrite: stopped: max-insns at 0008:00100020 insns=0 post=0x00");
    assert_eq!(o.status.code(), Some(124));

    let o = ferrite(&["run", "--kernel", k, "--max-insns", "1", "--dump-regs", "--debugcon", "none"]);
    let err = stderr(&o);
    assert!(err.contains("CS  =0008 base=00000000"), "{err}");
    assert!(err.contains("EAX=2BADB002") || err.contains("EBX=00009000"), "{err}");

    let log = scratch("debugcon.txt");
    let spec = format!("file:{}", log.display());
    let bios = rom("smoke.bin");
    let o = ferrite(&[
        "run",
        "--kernel",
        k,
        "--bios",
        bios.to_str().unwrap(),
        "--debugcon",
        &spec,
        "--no-reboot",
        "--trace-io",
        "--post-port",
        "0x84",
        "--serial",
        "none",
        "--display",
        "none",
        "--engine",
        "interp",
    ]);
    assert_no_panic(&o);
    assert_eq!(stdout(&o), "");
    assert!(std::fs::read_to_string(&log).unwrap().starts_with("multiboot ok: loader=ferrite"));
    assert_eq!(o.status.code(), Some(STATUS_KERNEL_OK));
    let _ = std::fs::remove_file(&log);
}

#[test]
fn test_triple_fault_in_a_kernel() {
    let mut code = print_code("T");
    code.extend_from_slice(&[0x0F, 0x0B]); // ud2: no IDT, so #UD, #GP, #DF: shutdown
    let path = scratch_file("triple.elf", &elf_kernel(LOAD, LOAD, &code));
    let o = ferrite(&["run", "--kernel", path.to_str().unwrap(), "--no-reboot"]);
    assert_no_panic(&o);
    assert_eq!(stdout(&o), "T");
    assert!(summary(&o).starts_with("ferrite: stopped: triple-fault at 0008:00100"), "{}", summary(&o));
    assert_eq!(o.status.code(), Some(4));
    // Without --no-reboot the reset loads the kernel again, which faults again.
    let o = ferrite(&["run", "--kernel", path.to_str().unwrap(), "--max-insns", "200"]);
    assert_no_panic(&o);
    assert!(stdout(&o).starts_with("TTT"), "{}", stdout(&o));
    assert_eq!(o.status.code(), Some(124));
    let _ = std::fs::remove_file(&path);
}
