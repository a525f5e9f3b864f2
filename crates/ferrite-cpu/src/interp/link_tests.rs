//! Block links (`decode_cache.rs`) against changes that only fast forms make: a link
//! must never name a block that CS:EIP no longer names. The guest calls a routine at
//! linear 0x5000 four times, recording what it returns; after the second call it
//! changes what that address holds using nothing but fast forms, so no generic
//! instruction ends the link epoch for it.

use crate::state::Segment;
use crate::{Cpu, NullBus, RunExit, SegReg};
use ferrite_mem::PhysMem;

/// `mov eax, 0x11; ret`, at physical 0x5000.
const ROUTINE_11: [u8; 6] = [0xB8, 0x11, 0x00, 0x00, 0x00, 0xC3];
/// `mov eax, 0x22; ret`, at physical 0x7000.
const ROUTINE_22: [u8; 6] = [0xB8, 0x22, 0x00, 0x00, 0x00, 0xC3];

/// At 0x6000:
/// ```text
///         xor edi, edi
/// top:    call 0x5000
///         mov [0x8000 + edi*4], eax
///         inc edi
///         cmp edi, 2
///         jne skip
///         mov dword [0x2000 + 5*4], 0x7003   ; PTE: linear 0x5000 -> physical 0x7000
///         mov eax, [0x105000]                ; fills soft-TLB slot 5, evicting 0x5000's entry
/// skip:   cmp edi, 4
///         jb top
///         hlt
/// ```
const REMAP: [u8; 41] = [
    0x31, 0xFF, 0xE8, 0xF9, 0xEF, 0xFF, 0xFF, 0x89, 0x04, 0xBD, 0x00, 0x80, 0x00, 0x00, 0x47, 0x83, 0xFF, 0x02, 0x75,
    0x0F, 0xC7, 0x05, 0x14, 0x20, 0x00, 0x00, 0x03, 0x70, 0x00, 0x00, 0xA1, 0x00, 0x50, 0x10, 0x00, 0x83, 0xFF, 0x04,
    0x72, 0xDA, 0xF4,
];

/// At 0x6000: as [`REMAP`], but after the second call `mov byte [0x5001], 0x33`
/// rewrites the routine's immediate.
const REWRITE: [u8; 33] = [
    0x31, 0xFF, 0xE8, 0xF9, 0xEF, 0xFF, 0xFF, 0x89, 0x04, 0xBD, 0x00, 0x80, 0x00, 0x00, 0x47, 0x83, 0xFF, 0x02, 0x75,
    0x07, 0xC6, 0x05, 0x01, 0x50, 0x00, 0x00, 0x33, 0x83, 0xFF, 0x04, 0x72, 0xE2, 0xF4,
];

/// Runs `main` at 0x6000 in flat 32-bit protected mode with paging on (0–4 MiB identity
/// mapped through one page table at 0x2000) and returns the four recorded values.
fn run(main: &[u8]) -> [u32; 4] {
    let mut mem = PhysMem::new(4 << 20).unwrap();
    mem.write_bytes(0x1000, &0x2003u32.to_le_bytes());
    for i in 0..1024u32 {
        mem.write_bytes(0x2000 + 4 * i, &(i << 12 | 3).to_le_bytes());
    }
    mem.write_bytes(0x5000, &ROUTINE_11);
    mem.write_bytes(0x7000, &ROUTINE_22);
    mem.write_bytes(0x6000, main);
    let mut cpu = Cpu::new();
    cpu.cr0 = 0x8000_0001;
    cpu.cr3 = 0x1000;
    for s in SegReg::ALL {
        cpu.seg[s as usize] = Segment { selector: 0x10, attrs: 0xC093, base: 0, limit: 0xFFFF_FFFF };
    }
    cpu.seg[SegReg::Cs as usize] = Segment { selector: 0x08, attrs: 0xC09B, base: 0, limit: 0xFFFF_FFFF };
    cpu.gpr[4] = 0x9000;
    cpu.eip = 0x6000;
    let exit = cpu.run(&mut mem, &mut NullBus, 10_000);
    assert_eq!(exit, RunExit::Halted, "{:?}", cpu.last_fault);
    let mut out = [0u32; 4];
    for (i, v) in out.iter_mut().enumerate() {
        let mut b = [0u8; 4];
        mem.read_bytes(0x8000 + 4 * i as u32, &mut b);
        *v = u32::from_le_bytes(b);
    }
    out
}

#[test]
fn test_a_soft_tlb_eviction_ends_the_links_to_a_remapped_page() {
    // Once 0x5000's TLB entry is gone, the fetch walks the tables and finds the new
    // physical page: calls three and four run the other routine.
    assert_eq!(run(&REMAP), [0x11, 0x11, 0x22, 0x22]);
}

#[test]
fn test_a_fast_store_into_linked_code_ends_the_links() {
    assert_eq!(run(&REWRITE), [0x11, 0x11, 0x33, 0x33]);
}
