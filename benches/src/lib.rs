//! Guest workloads for measuring ferrite's execution engines.
//!
//! Each workload is a small real-mode program assembled here with iced's code assembler,
//! loaded at 0000:1000 on a bare memory map, and run until its final HLT. The criterion
//! benches in `benches/` time them; tests check each workload computes what it should,
//! so a bench can never silently measure a broken program.
#![deny(missing_docs)]

use ferrite_cpu::{Cpu, NullBus, RunExit, SegReg, Segment};
use ferrite_mem::PhysMem;
use iced_x86::code_asm::*;

/// Where workloads are loaded and start (0000:1000).
pub const LOAD_ADDR: u32 = 0x1000;
/// Data buffer used by the memory workloads.
pub const DATA_ADDR: u16 = 0x4000;
/// Guest RAM for a workload run.
pub const RAM_BYTES: usize = 1 << 20;

/// The CPU mode a workload starts in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Real mode, all segments 0, SP = 0xFFFE.
    Real16,
    /// 32-bit protected mode with flat segments, ESP = [`STACK32`]; with `paging`, the
    /// page tables of [`PAGE_DIR`] are built and CR0.PG is on.
    Flat32 {
        /// Paging on.
        paging: bool,
    },
}

/// A named guest program.
#[derive(Debug, Clone)]
pub struct Workload {
    /// Short name used in bench ids.
    pub name: &'static str,
    /// Machine code, loaded at [`LOAD_ADDR`].
    pub code: Vec<u8>,
    /// Value AX must hold at the final HLT.
    pub expect_ax: u16,
    /// The mode it starts in.
    pub mode: Mode,
}

/// Initial ESP of the 32-bit workloads.
pub const STACK32: u32 = 0x8_0000;
/// Page directory of the paged workloads: the first MiB identity-mapped, and linear
/// 4 MiB..8 MiB ([`ALIAS_BASE`]) mapped onto the 64 physical pages from [`ALIAS_PHYS`]
/// over and over (1024 linear pages, more than the soft TLB holds).
pub const PAGE_DIR: u32 = 0x4_0000;
/// Linear base of the aliased window.
pub const ALIAS_BASE: u32 = 0x40_0000;
/// Physical base of the 64 pages the window aliases.
pub const ALIAS_PHYS: u32 = 0x9_0000;

fn assemble(build: impl FnOnce(&mut CodeAssembler) -> Result<(), IcedError>) -> Vec<u8> {
    assemble_bits(16, build)
}

fn assemble_bits(bits: u32, build: impl FnOnce(&mut CodeAssembler) -> Result<(), IcedError>) -> Vec<u8> {
    let mut a = CodeAssembler::new(bits).expect("assembler");
    build(&mut a).expect("workload assembles");
    a.assemble(LOAD_ADDR as u64).expect("workload encodes")
}

/// Calls and returns (32-bit): recursive Fibonacci, fib(15) twenty times.
pub fn calls() -> Workload {
    const ROUNDS: u32 = 20;
    let code = assemble_bits(32, |a| {
        let mut top = a.create_label();
        let mut fib = a.create_label();
        let mut done = a.create_label();
        a.xor(ebx, ebx)?;
        a.mov(ecx, ROUNDS)?;
        a.set_label(&mut top)?;
        a.mov(eax, 15u32)?;
        a.call(fib)?;
        a.add(ebx, eax)?;
        a.loop_(top)?;
        a.mov(eax, ebx)?;
        a.hlt()?;
        // eax = fib(eax); keeps every register but edx
        a.set_label(&mut fib)?;
        a.cmp(eax, 2)?;
        a.jb(done)?;
        a.push(ebx)?;
        a.mov(ebx, eax)?;
        a.lea(eax, dword_ptr(ebx - 1))?;
        a.call(fib)?;
        a.xchg(eax, ebx)?;
        a.sub(eax, 2)?;
        a.call(fib)?;
        a.add(eax, ebx)?;
        a.pop(ebx)?;
        a.set_label(&mut done)?;
        a.ret()?;
        Ok(())
    });
    Workload { name: "calls", code, expect_ax: (ROUNDS * 610) as u16, mode: Mode::Flat32 { paging: false } }
}

/// String instructions (32-bit): REP STOSD a 16 KiB buffer, then REP MOVSD it to another
/// buffer and REP MOVSB a short tail, 1000 times.
pub fn strings() -> Workload {
    const ROUNDS: u32 = 1000;
    const SRC: u32 = 0x1_0000;
    const DST: u32 = 0x2_0000;
    let code = assemble_bits(32, |a| {
        let mut round = a.create_label();
        a.mov(eax, 0x0102_0304u32)?;
        a.mov(edi, SRC)?;
        a.mov(ecx, 4096u32)?;
        a.rep().stosd()?;
        a.mov(edx, ROUNDS)?;
        a.set_label(&mut round)?;
        a.mov(esi, SRC)?;
        a.mov(edi, DST)?;
        a.mov(ecx, 4096u32)?;
        a.rep().movsd()?;
        a.mov(esi, SRC + 1)?;
        a.mov(edi, DST + 0x4000)?;
        a.mov(ecx, 100u32)?;
        a.rep().movsb()?;
        a.dec(edx)?;
        a.jnz(round)?;
        a.mov(eax, dword_ptr(DST + 0x4000))?;
        a.hlt()?;
        Ok(())
    });
    Workload { name: "strings", code, expect_ax: 0x0203, mode: Mode::Flat32 { paging: false } }
}

/// Paging-heavy (32-bit, paged): increments one dword in each of 1024 linear pages that
/// alias 64 physical pages, so every access misses the soft TLB; sixteen rounds.
pub fn paging() -> Workload {
    const ROUNDS: u32 = 16;
    let code = assemble_bits(32, |a| {
        let mut round = a.create_label();
        let mut touch = a.create_label();
        a.mov(edx, ROUNDS)?;
        a.set_label(&mut round)?;
        a.mov(esi, ALIAS_BASE)?;
        a.mov(ecx, 1024u32)?;
        a.set_label(&mut touch)?;
        a.inc(dword_ptr(esi))?;
        a.add(esi, 4096)?;
        a.loop_(touch)?;
        a.dec(edx)?;
        a.jnz(round)?;
        a.mov(eax, dword_ptr(ALIAS_BASE))?;
        a.hlt()?;
        Ok(())
    });
    // 1024 / 64 = 16 increments of each physical page per round.
    Workload { name: "paging", code, expect_ax: (ROUNDS * 16) as u16, mode: Mode::Flat32 { paging: true } }
}

/// Self-modifying code (32-bit): a loop that increments the immediate of its own first
/// instruction every iteration, 1000 times.
pub fn smc() -> Workload {
    const ITER: u32 = 1000;
    let code = assemble_bits(32, |a| {
        let mut top = a.create_label();
        a.mov(ecx, ITER)?; // 5 bytes: `top` is LOAD_ADDR + 5
        a.xor(ebx, ebx)?;
        a.set_label(&mut top)?;
        a.mov(eax, 0u32)?; // B8 imm32: the immediate is at top + 1
        a.add(ebx, eax)?;
        a.inc(dword_ptr(LOAD_ADDR + 5 + 2 + 1))?;
        a.loop_(top)?;
        a.mov(eax, ebx)?;
        a.hlt()?;
        Ok(())
    });
    let expect_ax = (0..ITER).fold(0u16, |s, i| s.wrapping_add(i as u16));
    Workload { name: "smc", code, expect_ax, mode: Mode::Flat32 { paging: false } }
}

/// Integer ALU loop: 20 000 iterations of add/xor/inc with a counted loop.
pub fn alu() -> Workload {
    const ITER: u16 = 20_000;
    let code = assemble(|a| {
        let mut top = a.create_label();
        a.xor(ax, ax)?;
        a.mov(bx, 1u32)?;
        a.mov(cx, ITER as u32)?;
        a.set_label(&mut top)?;
        a.add(ax, bx)?;
        a.xor(dx, ax)?;
        a.inc(bx)?;
        a.sub(dx, 3u32)?;
        a.dec(cx)?;
        a.jnz(top)?;
        a.hlt()?;
        Ok(())
    });
    // ax = sum of 1..=ITER mod 2^16
    let expect_ax = (1..=ITER as u32).fold(0u16, |s, i| s.wrapping_add(i as u16));
    Workload { name: "alu", code, expect_ax, mode: Mode::Real16 }
}

/// Memory loop: fills a 4 KiB buffer, then sums it back, ten times.
pub fn memory() -> Workload {
    const WORDS: u16 = 2048;
    const ROUNDS: u16 = 10;
    let code = assemble(|a| {
        let mut round = a.create_label();
        let mut fill = a.create_label();
        let mut sum = a.create_label();
        a.xor(ax, ax)?;
        a.mov(bp, ROUNDS as u32)?;
        a.set_label(&mut round)?;
        a.mov(si, DATA_ADDR as u32)?;
        a.mov(cx, WORDS as u32)?;
        a.set_label(&mut fill)?;
        a.mov(word_ptr(si), cx)?;
        a.add(si, 2u32)?;
        a.dec(cx)?;
        a.jnz(fill)?;
        a.mov(si, DATA_ADDR as u32)?;
        a.mov(cx, WORDS as u32)?;
        a.set_label(&mut sum)?;
        a.add(ax, word_ptr(si))?;
        a.add(si, 2u32)?;
        a.dec(cx)?;
        a.jnz(sum)?;
        a.dec(bp)?;
        a.jnz(round)?;
        a.hlt()?;
        Ok(())
    });
    let one_round = (1..=WORDS as u32).fold(0u16, |s, i| s.wrapping_add(i as u16));
    let expect_ax = (0..ROUNDS).fold(0u16, |s, _| s.wrapping_add(one_round));
    Workload { name: "memory", code, expect_ax, mode: Mode::Real16 }
}

/// Every workload, in bench order.
pub fn all() -> Vec<Workload> {
    vec![alu(), memory(), calls(), strings(), paging(), smc()]
}

/// CR0.PE.
const CR0_PE: u32 = 1;
/// CR0.PG.
const CR0_PG: u32 = 1 << 31;

/// Writes the page tables described at [`PAGE_DIR`].
fn build_page_tables(mem: &mut PhysMem) {
    let low = PAGE_DIR + 0x1000;
    let alias = PAGE_DIR + 0x2000;
    mem.write_bytes(PAGE_DIR, &(low | 3).to_le_bytes());
    mem.write_bytes(PAGE_DIR + 4 * (ALIAS_BASE >> 22), &(alias | 3).to_le_bytes());
    for i in 0..256u32 {
        mem.write_bytes(low + 4 * i, &((i << 12) | 3).to_le_bytes());
    }
    for i in 0..1024u32 {
        mem.write_bytes(alias + 4 * i, &((ALIAS_PHYS + ((i % 64) << 12)) | 3).to_le_bytes());
    }
}

/// A CPU and memory ready to run `w` from its first instruction.
pub fn prepare(w: &Workload, decode_cache: bool) -> (Cpu, PhysMem) {
    let mut mem = PhysMem::new(RAM_BYTES).expect("guest RAM");
    mem.write_bytes(LOAD_ADDR, &w.code);
    let mut cpu = Cpu::new();
    cpu.set_decode_cache(decode_cache);
    cpu.eip = LOAD_ADDR;
    match w.mode {
        Mode::Real16 => {
            for s in SegReg::ALL {
                cpu.load_seg_real(s, 0);
            }
            cpu.gpr[4] = 0xFFFE;
        }
        Mode::Flat32 { paging } => {
            cpu.cr0 |= CR0_PE;
            for s in SegReg::ALL {
                cpu.seg[s as usize] = Segment { selector: 0x10, attrs: 0xC093, base: 0, limit: u32::MAX };
            }
            cpu.seg[SegReg::Cs as usize] = Segment { selector: 0x08, attrs: 0xC09B, base: 0, limit: u32::MAX };
            cpu.gpr[4] = STACK32;
            if paging {
                build_page_tables(&mut mem);
                cpu.cr3 = PAGE_DIR;
                cpu.cr0 |= CR0_PG;
            }
        }
    }
    (cpu, mem)
}

/// Runs `w` to its HLT and returns (AX, instructions executed).
pub fn run(cpu: &mut Cpu, mem: &mut PhysMem) -> (u16, u64) {
    let start = cpu.insns;
    let exit = cpu.run(mem, &mut NullBus, 100_000_000);
    assert_eq!(exit, RunExit::Halted, "workload must end at its HLT");
    (cpu.gpr[0] as u16, cpu.insns - start)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_workloads_compute_their_results_with_and_without_cache() {
        for w in all() {
            for cache in [true, false] {
                let (mut cpu, mut mem) = prepare(&w, cache);
                let (got_ax, insns) = run(&mut cpu, &mut mem);
                assert_eq!(got_ax, w.expect_ax, "{} (cache {cache})", w.name);
                assert!(insns > 1_000, "{} ran only {insns} instructions", w.name);
            }
        }
    }
}
