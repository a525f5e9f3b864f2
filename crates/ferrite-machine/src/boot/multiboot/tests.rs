//! Multiboot loader tests: header search, the a.out kludge, ELF, placement checks, the
//! information structure, the entry state, and whole machines booting tiny kernels.

use super::*;
use crate::boot::elf::build_test_elf;
use crate::{Machine, MachineConfig, StopReason};
use ferrite_cpu::SegReg;
use ferrite_devices::debugcon::SharedBuffer;

const MIB: u32 = 1024 * 1024;
/// 16 MiB of RAM, as the machine's default.
const RAM: u32 = 16 * MIB;
/// A 64 KiB BIOS image.
const BIOS: u32 = 64 * 1024;
/// Where the test kernels load.
const LOAD: u32 = 0x10_0000;
/// Size of an a.out-kludge header.
const HDR: u32 = HEADER_AOUT_LEN as u32;

/// `cmp eax, 0x2BADB002; jne fail; mov al, 'K'; out 0xE9, al; mov al, 7; out 0xF4, al;
/// fail: mov al, 0x7E; out 0xF4, al`.
const CHECK_MAGIC: [u8; 19] =
    [0x3D, 0x02, 0xB0, 0xAD, 0x2B, 0x75, 0x08, 0xB0, b'K', 0xE6, 0xE9, 0xB0, 0x07, 0xE6, 0xF4, 0xB0, 0x7E, 0xE6, 0xF4];

/// The header words for `flags`, with a checksum that adds up.
fn header_words(flags: u32) -> [u32; 3] {
    [HEADER_MAGIC, flags, 0u32.wrapping_sub(HEADER_MAGIC.wrapping_add(flags))]
}

fn push_words(image: &mut Vec<u8>, words: &[u32]) {
    for w in words {
        image.extend_from_slice(&w.to_le_bytes());
    }
}

/// An a.out-kludge kernel: the header at offset 0, then `code`, loaded at `load`, with
/// `bss` zero bytes after it and the entry at the first code byte.
fn aout_kernel(load: u32, code: &[u8], bss: u32) -> Vec<u8> {
    let mut image = Vec::new();
    let end = load + HDR + code.len() as u32;
    push_words(&mut image, &header_words(HF_MEMORY_INFO | HF_AOUT_KLUDGE));
    push_words(&mut image, &[load, load, end, if bss == 0 { 0 } else { end + bss }, load + HDR]);
    image.extend_from_slice(code);
    image
}

/// An a.out-kludge kernel with explicit address fields.
fn kludge(fields: [u32; 5], body: &[u8]) -> Vec<u8> {
    let mut image = Vec::new();
    push_words(&mut image, &header_words(HF_AOUT_KLUDGE));
    push_words(&mut image, &fields);
    image.extend_from_slice(body);
    image
}

/// An ELF kernel whose one segment holds a multiboot header (flags: memory info) and
/// `code`, loaded at `paddr`, with `bss` extra zero bytes; entry at the code.
fn elf_kernel(paddr: u32, vaddr: u32, code: &[u8], bss: u32) -> Vec<u8> {
    let mut seg = Vec::new();
    push_words(&mut seg, &header_words(HF_MEMORY_INFO));
    seg.extend_from_slice(code);
    let memsz = seg.len() as u32 + bss;
    build_test_elf(vaddr + 12, &[(paddr, vaddr, &seg, memsz)])
}

fn boot(image: Vec<u8>) -> KernelBoot {
    KernelBoot { image, cmdline: "/k/kernel.bin".into(), module: None }
}

fn plan(image: Vec<u8>) -> Result<LoadPlan, MultibootError> {
    prepare(boot(image), RAM, BIOS)
}

/// Applies `plan` to a fresh CPU and 16 MiB of memory.
fn applied(plan: &LoadPlan) -> (Cpu, PhysMem) {
    let mut cpu = Cpu::new();
    let mut mem = PhysMem::new(RAM as usize).unwrap();
    mem.load_bios(&vec![0xF4; BIOS as usize]).unwrap();
    plan.apply(&mut cpu, &mut mem);
    (cpu, mem)
}

fn read_u32(mem: &PhysMem, addr: u32) -> u32 {
    let mut b = [0; 4];
    mem.read_bytes(addr, &mut b);
    u32::from_le_bytes(b)
}

fn read_u64(mem: &PhysMem, addr: u32) -> u64 {
    read_u32(mem, addr) as u64 | (read_u32(mem, addr + 4) as u64) << 32
}

fn read_c_string(mem: &PhysMem, addr: u32) -> String {
    let mut s = Vec::new();
    for i in 0..MAX_STRING as u32 {
        match mem.read_u8(addr + i) {
            0 => break,
            b => s.push(b),
        }
    }
    String::from_utf8(s).unwrap()
}

fn placement(result: Result<LoadPlan, MultibootError>) -> String {
    match result {
        Err(MultibootError::Placement(why)) => why,
        other => panic!("expected a placement error, got {other:?}"),
    }
}

// ---- header search ----

#[test]
fn test_header_found_at_an_aligned_offset() {
    let mut image = vec![0u8; 64];
    push_words(&mut image, &header_words(0));
    let h = find_header(&image).unwrap();
    assert_eq!((h.offset, h.flags, h.aout), (64, 0, None));
}

#[test]
fn test_header_must_be_aligned_and_in_the_first_8k() {
    let mut unaligned = vec![0u8; 2];
    push_words(&mut unaligned, &header_words(0));
    assert_eq!(find_header(&unaligned), Err(MultibootError::NoHeader));
    let mut late = vec![0u8; HEADER_SEARCH_LEN];
    push_words(&mut late, &header_words(0));
    assert_eq!(find_header(&late), Err(MultibootError::NoHeader));
    let mut last_slot = vec![0u8; HEADER_SEARCH_LEN - 4];
    push_words(&mut last_slot, &header_words(0));
    assert_eq!(find_header(&last_slot).map(|h| h.offset), Ok(HEADER_SEARCH_LEN - 4));
}

#[test]
fn test_bad_checksum_is_reported() {
    let mut image = Vec::new();
    push_words(&mut image, &[HEADER_MAGIC, 0, 0]);
    assert_eq!(find_header(&image), Err(MultibootError::BadChecksum { offset: 0 }));
    assert!(MultibootError::BadChecksum { offset: 0 }.to_string().contains("bad checksum"));
    // A later valid header wins over an earlier broken one.
    push_words(&mut image, &header_words(0));
    assert_eq!(find_header(&image).map(|h| h.offset), Ok(12));
}

#[test]
fn test_truncated_headers_are_errors() {
    let full = aout_kernel(LOAD, &CHECK_MAGIC, 0);
    assert_eq!(find_header(&full[..4]), Err(MultibootError::TruncatedHeader { offset: 0 }));
    assert_eq!(find_header(&full[..8]), Err(MultibootError::TruncatedHeader { offset: 0 }));
    for len in 12..HEADER_AOUT_LEN {
        assert_eq!(find_header(&full[..len]), Err(MultibootError::TruncatedHeader { offset: 0 }), "{len}");
    }
    assert!(find_header(&full[..HEADER_AOUT_LEN]).is_ok());
    // Every prefix of a kernel file is refused cleanly, never a panic.
    for len in 0..full.len() {
        assert!(plan(full[..len].to_vec()).is_err(), "{len}");
    }
    assert_eq!(find_header(&[]), Err(MultibootError::NoHeader));
}

#[test]
fn test_linux_kernel_is_recognised() {
    let mut bz = vec![0u8; 0x400];
    bz[0x1FE..0x200].copy_from_slice(&[0x55, 0xAA]);
    bz[0x202..0x206].copy_from_slice(b"HdrS");
    let err = plan(bz).unwrap_err();
    assert_eq!(err, MultibootError::LinuxKernel);
    assert!(err.to_string().contains("boot it through boot::linux"), "{err}");
    assert_eq!(plan(b"just some text".to_vec()).unwrap_err().to_string(), MultibootError::NoHeader.to_string());
}

#[test]
fn test_unknown_requirement_flags_are_refused() {
    let mut image = Vec::new();
    push_words(&mut image, &header_words(HF_MEMORY_INFO | 1 << 3));
    assert_eq!(plan(image).unwrap_err(), MultibootError::UnsupportedFlags(1 << 3));
    // Optional bits (16..=31) other than the kludge are ignored; the video request too.
    let mut seg = Vec::new();
    push_words(&mut seg, &header_words(HF_VIDEO_MODE | HF_PAGE_ALIGN | 1 << 20));
    seg.extend_from_slice(&CHECK_MAGIC);
    let image = build_test_elf(LOAD + 12, &[(LOAD, LOAD, &seg, seg.len() as u32)]);
    assert!(plan(image).is_ok());
}

// ---- the a.out kludge ----

#[test]
fn test_aout_kernel_loads_and_zeroes_bss() {
    let p = plan(aout_kernel(LOAD, &CHECK_MAGIC, 0x2000)).unwrap();
    assert_eq!(p.entry, LOAD + HDR);
    let end = LOAD + HDR + CHECK_MAGIC.len() as u32;
    assert_eq!(p.kernel_range, (LOAD, end + 0x2000));
    let mut cpu = Cpu::new();
    let mut mem = PhysMem::new(RAM as usize).unwrap();
    mem.ram_mut()[end as usize..end as usize + 0x2000].fill(0xAA);
    p.apply(&mut cpu, &mut mem);
    let mut code = [0; CHECK_MAGIC.len()];
    mem.read_bytes(LOAD + HDR, &mut code);
    assert_eq!(code, CHECK_MAGIC);
    assert!(mem.ram()[end as usize..end as usize + 0x2000].iter().all(|&b| b == 0));
    assert_eq!(mem.read_u8(end + 0x2000), 0);
}

#[test]
fn test_aout_header_not_at_file_start() {
    // 16 bytes of code before the header: header_addr - load_addr = 16.
    let mut image = vec![0x90; 16];
    push_words(&mut image, &header_words(HF_AOUT_KLUDGE));
    push_words(&mut image, &[LOAD + 16, LOAD, 0, 0, LOAD]);
    let p = plan(image).unwrap();
    assert_eq!(p.kernel_range, (LOAD, LOAD + 48));
    let (_, mem) = applied(&p);
    assert_eq!(mem.read_u8(LOAD), 0x90);
    assert_eq!(read_u32(&mem, LOAD + 16), HEADER_MAGIC);
}

#[test]
fn test_aout_inconsistent_addresses_are_errors() {
    let bad = |fields, body: &[u8]| match plan(kludge(fields, body)) {
        Err(MultibootError::BadKludge(why)) => why,
        other => panic!("expected BadKludge for {fields:x?}, got {other:?}"),
    };
    assert!(bad([LOAD, LOAD + 4, 0, 0, LOAD + 4], &[0; 8]).contains("above header_addr"));
    assert!(bad([LOAD + 64, LOAD, 0, 0, LOAD + 64], &[0; 8]).contains("before the start of the file"));
    assert!(bad([LOAD, LOAD, LOAD + 0x1000, 0, LOAD], &[0; 8]).contains("needs"));
    assert!(bad([LOAD, LOAD, LOAD - 4, 0, LOAD], &[0; 8]).contains("below load_addr"));
    assert!(bad([LOAD, LOAD, LOAD + 40, LOAD + 36, LOAD], &[0; 8]).contains("bss_end_addr"));
    // A huge load range wraps nothing: it is refused as too big for the file.
    assert!(bad([LOAD, LOAD, u32::MAX, 0, LOAD], &[0; 8]).contains("needs"));
    assert_eq!(
        plan(kludge([LOAD, LOAD, 0, 0, LOAD + 0x100], &[0; 8])).unwrap_err(),
        MultibootError::EntryOutside(LOAD + 0x100)
    );
}

// ---- placement ----

#[test]
fn test_kernel_must_land_in_free_ram() {
    let below = placement(plan(aout_kernel(0x9000, &CHECK_MAGIC, 0)));
    assert!(below.contains("multiboot area"), "{below}");
    let hole = placement(plan(aout_kernel(0x9_F000, &CHECK_MAGIC, 0x1000)));
    assert!(hole.contains("reserved area 0x9fc00..0x100000"), "{hole}");
    let rom = placement(plan(aout_kernel(0xF_0000, &CHECK_MAGIC, 0)));
    assert!(rom.contains("reserved area"), "{rom}");
    let beyond = placement(plan(aout_kernel(RAM - 16, &CHECK_MAGIC, 0)));
    assert!(beyond.contains("does not fit in guest RAM (0..0x1000000"), "{beyond}");
    let top = placement(plan(kludge([0xFFFF_FF00, 0xFFFF_FF00, 0, u32::MAX, 0xFFFF_FF00], &[0x90; 8])));
    assert!(top.contains("at 0xffffff00..0xffffffff does not fit"), "{top}");
    // Low memory above the boot area is fine.
    assert!(plan(aout_kernel(BOOT_AREA_END, &CHECK_MAGIC, 0)).is_ok());
    assert!(plan(aout_kernel(LOW_RAM_END - 64, &CHECK_MAGIC, 0)).is_ok());
    // The last byte of RAM is fine too.
    assert!(plan(aout_kernel(RAM - HDR - CHECK_MAGIC.len() as u32, &CHECK_MAGIC, 0)).is_ok());
}

// ---- ELF ----

#[test]
fn test_elf_kernel_loads_at_physical_addresses() {
    let p = plan(elf_kernel(LOAD, LOAD, &CHECK_MAGIC, 0x100)).unwrap();
    assert_eq!(p.entry, LOAD + 12);
    let (cpu, mem) = applied(&p);
    assert_eq!(cpu.eip, LOAD + 12);
    assert_eq!(read_u32(&mem, LOAD), HEADER_MAGIC);
    assert_eq!(mem.read_u8(LOAD + 12), CHECK_MAGIC[0]);
    // Higher half: linked at 0xC0100000, loaded at 1 MiB; the entry is translated.
    let p = plan(elf_kernel(LOAD, 0xC000_0000 + LOAD, &CHECK_MAGIC, 0)).unwrap();
    assert_eq!(p.entry, LOAD + 12);
}

#[test]
fn test_elf_errors() {
    let mut e64 = elf_kernel(LOAD, LOAD, &CHECK_MAGIC, 0);
    e64[4] = elf::ELFCLASS64;
    let err = plan(e64).unwrap_err();
    assert_eq!(err, MultibootError::Elf(ElfError::Class64));
    assert!(err.to_string().contains("64-bit ELF"), "{err}");
    let mut raw = Vec::new();
    push_words(&mut raw, &header_words(0));
    raw.extend_from_slice(&CHECK_MAGIC);
    assert_eq!(plan(raw).unwrap_err(), MultibootError::NotElfNoKludge);
    let beyond = placement(plan(elf_kernel(RAM - 8, RAM - 8, &CHECK_MAGIC, 0)));
    assert!(beyond.contains("does not fit"), "{beyond}");
    let mut hdr = Vec::new();
    push_words(&mut hdr, &header_words(0));
    hdr.extend_from_slice(&[0x90; 4]);
    let two = build_test_elf(LOAD + 12, &[(LOAD, LOAD, &hdr, 16), (0x1000, 0x1000, &[0x90; 4], 4)]);
    let why = placement(plan(two));
    assert!(why.contains("kernel segment 1 at 0x1000..0x1004"), "{why}");
    // Every prefix of a good ELF kernel is refused cleanly.
    let good = elf_kernel(LOAD, LOAD, &CHECK_MAGIC, 0);
    for len in 0..good.len() {
        assert!(plan(good[..len].to_vec()).is_err(), "{len}");
    }
    assert!(plan(good).is_ok());
}

// ---- the information structure and the entry state ----

#[test]
fn test_info_structure_contents() {
    let mut k = boot(aout_kernel(LOAD, &CHECK_MAGIC, 0));
    k.cmdline = "/k/kernel.bin console=e9 answer=42".into();
    let p = prepare(k, RAM, BIOS).unwrap();
    let (_, mem) = applied(&p);
    let info = INFO_ADDR;
    let flags = read_u32(&mem, info);
    assert_eq!(flags, INFO_MEMORY | INFO_CMDLINE | INFO_MODS | INFO_MEM_MAP | INFO_LOADER_NAME);
    assert_eq!(read_u32(&mem, info + INFO_MEM_LOWER as u32), 639);
    assert_eq!(read_u32(&mem, info + INFO_MEM_UPPER as u32), 15 * 1024);
    assert_eq!(
        read_c_string(&mem, read_u32(&mem, info + INFO_CMDLINE_ADDR as u32)),
        "/k/kernel.bin console=e9 answer=42"
    );
    assert_eq!(read_u32(&mem, info + INFO_MODS_COUNT as u32), 0);
    assert_eq!(read_c_string(&mem, read_u32(&mem, info + INFO_LOADER_NAME_ADDR as u32)), "ferrite");
    let mmap_len = read_u32(&mem, info + INFO_MMAP_LENGTH as u32);
    let mmap = read_u32(&mem, info + INFO_MMAP_ADDR as u32);
    let mut entries = Vec::new();
    let mut at = mmap;
    while at < mmap + mmap_len {
        let size = read_u32(&mem, at);
        entries.push((read_u64(&mem, at + 4), read_u64(&mem, at + 12), read_u32(&mem, at + 20)));
        at += size + 4;
    }
    assert_eq!(
        entries,
        [
            (0, 0x9_FC00, MMAP_AVAILABLE),
            (0x9_FC00, 0x400, MMAP_RESERVED),
            (0xF_0000, 0x1_0000, MMAP_RESERVED),
            (0x10_0000, (RAM - MIB) as u64, MMAP_AVAILABLE),
            (0xFFFF_0000, 0x1_0000, MMAP_RESERVED),
        ]
    );
    // The GDT holds the flat descriptors the segment registers were loaded from.
    for (i, d) in GDT.iter().enumerate() {
        assert_eq!(read_u64(&mem, GDT_ADDR + 8 * i as u32), *d);
    }
}

#[test]
fn test_memory_map_follows_ram_and_bios_size() {
    let p = prepare(boot(aout_kernel(0x2_0000, &CHECK_MAGIC, 0)), MIB, 128 * 1024).unwrap();
    let (_, mem) = applied(&p);
    assert_eq!(read_u32(&mem, INFO_ADDR + INFO_MEM_UPPER as u32), 0);
    let len = read_u32(&mem, INFO_ADDR + INFO_MMAP_LENGTH as u32);
    assert_eq!(len, 4 * MMAP_ENTRY_LEN as u32);
    assert_eq!(read_u64(&mem, MMAP_ADDR + 2 * MMAP_ENTRY_LEN as u32 + 4), 0xE_0000);
}

#[test]
fn test_entry_state() {
    let p = plan(aout_kernel(LOAD, &CHECK_MAGIC, 0)).unwrap();
    let (cpu, mem) = applied(&p);
    assert_eq!(cpu.gpr[Gpr::Eax as usize], BOOTLOADER_MAGIC);
    assert_eq!(cpu.gpr[Gpr::Ebx as usize], INFO_ADDR);
    assert_eq!(cpu.gpr[Gpr::Esp as usize], BOOT_STACK_TOP);
    assert_eq!(cpu.eip, LOAD + HDR);
    assert_eq!(cpu.eflags, 0x2);
    assert_eq!(cpu.cr0 & 0x8000_0001, 1);
    assert!(cpu.protected_mode() && cpu.code32());
    let cs = cpu.seg[SegReg::Cs as usize];
    assert_eq!((cs.selector, cs.attrs, cs.base, cs.limit), (0x08, 0xC09B, 0, 0xFFFF_FFFF));
    for s in [SegReg::Ds, SegReg::Es, SegReg::Fs, SegReg::Gs, SegReg::Ss] {
        let seg = cpu.seg[s as usize];
        assert_eq!((seg.selector, seg.attrs, seg.base, seg.limit), (0x10, 0xC093, 0, 0xFFFF_FFFF), "{}", s.name());
    }
    assert_eq!((cpu.gdtr.base, cpu.gdtr.limit), (GDT_ADDR, 23));
    assert!(mem.a20());
    // The cached descriptors match what the GDT would load.
    let code = ferrite_cpu::descriptor::Descriptor::new(GDT[1]).to_segment(CODE_SELECTOR);
    let data = ferrite_cpu::descriptor::Descriptor::new(GDT[2]).to_segment(DATA_SELECTOR);
    assert_eq!(code, cs);
    assert_eq!(data, cpu.seg[SegReg::Ds as usize]);
}

#[test]
fn test_module_goes_after_the_kernel() {
    let mut k = boot(aout_kernel(LOAD, &CHECK_MAGIC, 0x1800));
    k.module = Some(BootModule { data: b"initrd bytes".to_vec(), string: "/k/initrd.img".into() });
    let p = prepare(k, RAM, BIOS).unwrap();
    assert_eq!(p.module_range, Some((LOAD + 0x2000, LOAD + 0x2000 + 12)));
    let (_, mem) = applied(&p);
    assert_eq!(read_u32(&mem, INFO_ADDR + INFO_MODS_COUNT as u32), 1);
    let mods = read_u32(&mem, INFO_ADDR + INFO_MODS_ADDR as u32);
    let (start, end) = (read_u32(&mem, mods), read_u32(&mem, mods + 4));
    assert_eq!((start, end), (LOAD + 0x2000, LOAD + 0x2000 + 12));
    let mut data = [0; 12];
    mem.read_bytes(start, &mut data);
    assert_eq!(&data, b"initrd bytes");
    assert_eq!(read_c_string(&mem, read_u32(&mem, mods + 8)), "/k/initrd.img");

    let mut k = boot(aout_kernel(LOAD, &CHECK_MAGIC, 0));
    k.module = Some(BootModule { data: vec![0; RAM as usize], string: "big".into() });
    let err = placement(prepare(k, RAM, BIOS));
    assert!(err.contains("initrd") && err.contains("does not fit"), "{err}");
}

#[test]
fn test_strings_are_checked() {
    let mut k = boot(aout_kernel(LOAD, &CHECK_MAGIC, 0));
    k.cmdline = "x".repeat(MAX_STRING);
    assert_eq!(prepare(k, RAM, BIOS).unwrap_err(), MultibootError::BadString("kernel command line"));
    let mut k = boot(aout_kernel(LOAD, &CHECK_MAGIC, 0));
    k.cmdline = "a\0b".into();
    assert!(prepare(k, RAM, BIOS).is_err());
    let mut k = boot(aout_kernel(LOAD, &CHECK_MAGIC, 0));
    k.cmdline = "x".repeat(MAX_STRING - 1);
    assert!(prepare(k, RAM, BIOS).is_ok());
}

// ---- whole machines ----

fn kernel_machine(image: Vec<u8>, tweak: impl FnOnce(&mut MachineConfig)) -> (Machine, SharedBuffer) {
    let out = SharedBuffer::new();
    let mut config = MachineConfig::new(vec![0xF4; BIOS as usize]);
    config.debugcon = Some(Box::new(out.clone()));
    config.max_insns = Some(100_000);
    config.kernel = Some(boot(image));
    tweak(&mut config);
    (Machine::new(config).expect("machine builds"), out)
}

#[test]
fn test_machine_runs_aout_kernel() {
    let (mut m, out) = kernel_machine(aout_kernel(LOAD, &CHECK_MAGIC, 0), |_| {});
    let s = m.run();
    assert_eq!(s.reason, StopReason::ExitPort(7), "{s}");
    assert_eq!(out.text(), "K");
    assert_eq!(s.cs, CODE_SELECTOR);
    assert!(s.code32);
}

#[test]
fn test_machine_runs_elf_kernel() {
    let (mut m, out) = kernel_machine(elf_kernel(LOAD, LOAD, &CHECK_MAGIC, 0), |_| {});
    assert_eq!(m.run().reason, StopReason::ExitPort(7));
    assert_eq!(out.text(), "K");
}

#[test]
fn test_machine_refuses_bad_kernel() {
    let mut config = MachineConfig::new(vec![0xF4; BIOS as usize]);
    config.kernel = Some(boot(b"no header here".to_vec()));
    let err = Machine::new(config).unwrap_err();
    assert_eq!(err, crate::MachineError::Kernel(MultibootError::NoHeader));
    assert!(err.to_string().starts_with("not a multiboot kernel"));
}

/// Each boot: `inc byte [D]` (D in the kernel image), print '0' + [D]; on the first boot
/// (byte 0x1000 still 0, outside the image) set 0x1000 and triple-fault with `ud2`; on
/// the second, exit with 3. Prints "11" only if the reset reloaded the image.
const RELOAD_CHECK: [u8; 38] = [
    0xFE, 0x05, 0x45, 0x00, 0x10, 0x00, // inc byte [0x100045]
    0xA0, 0x45, 0x00, 0x10, 0x00, // mov al, [0x100045]
    0x04, b'0', // add al, '0'
    0xE6, 0xE9, // out 0xE9, al
    0x80, 0x3D, 0x00, 0x10, 0x00, 0x00, 0x00, // cmp byte [0x1000], 0
    0x75, 0x09, // jne second
    0xC6, 0x05, 0x00, 0x10, 0x00, 0x00, 0x01, // mov byte [0x1000], 1
    0x0F, 0x0B, // ud2
    0xB0, 0x03, 0xE6, 0xF4, // second: mov al, 3; out 0xF4, al
    0x00, // D
];

#[test]
fn test_reset_reloads_the_kernel() {
    assert_eq!(LOAD + HDR + RELOAD_CHECK.len() as u32 - 1, 0x10_0045);
    let (mut m, out) = kernel_machine(aout_kernel(LOAD, &RELOAD_CHECK, 0), |_| {});
    let s = m.run();
    assert_eq!(s.reason, StopReason::ExitPort(3), "{s} output {:?}", out.text());
    assert_eq!(out.text(), "11");
    assert_eq!(m.resets(), 1);

    let (mut m, _) = kernel_machine(aout_kernel(LOAD, &RELOAD_CHECK, 0), |c| c.no_reboot = true);
    let s = m.run();
    assert_eq!(s.reason, StopReason::TripleFault);
}

#[test]
fn test_mutated_kernels_never_panic() {
    // A deterministic xorshift drives byte flips in the headers of valid kernels; every
    // result must be a clean error or a plan that applies.
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let bases = [aout_kernel(LOAD, &CHECK_MAGIC, 0x100), elf_kernel(LOAD, LOAD, &CHECK_MAGIC, 0x100)];
    for base in &bases {
        for _ in 0..2000 {
            let mut image = base.clone();
            for _ in 0..1 + next() % 4 {
                let at = (next() % 96) as usize % image.len();
                image[at] = next() as u8;
            }
            if next() % 4 == 0 {
                image.truncate((next() as usize) % (image.len() + 1));
            }
            if let Ok(p) = prepare(boot(image), 2 * MIB, BIOS) {
                let mut cpu = Cpu::new();
                let mut mem = PhysMem::new(2 * MIB as usize).unwrap();
                p.apply(&mut cpu, &mut mem);
            }
        }
    }
}
