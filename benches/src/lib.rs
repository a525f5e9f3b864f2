//! Guest workloads for measuring ferrite's execution engines.
//!
//! Each workload is a small real-mode program assembled here with iced's code assembler,
//! loaded at 0000:1000 on a bare memory map, and run until its final HLT. The criterion
//! benches in `benches/` time them; tests check each workload computes what it should,
//! so a bench can never silently measure a broken program.
#![deny(missing_docs)]

use ferrite_cpu::{Cpu, NullBus, RunExit, SegReg};
use ferrite_mem::PhysMem;
use iced_x86::code_asm::*;

/// Where workloads are loaded and start (0000:1000).
pub const LOAD_ADDR: u32 = 0x1000;
/// Data buffer used by the memory workloads.
pub const DATA_ADDR: u16 = 0x4000;
/// Guest RAM for a workload run.
pub const RAM_BYTES: usize = 1 << 20;

/// A named guest program.
#[derive(Debug, Clone)]
pub struct Workload {
    /// Short name used in bench ids.
    pub name: &'static str,
    /// Machine code, loaded at [`LOAD_ADDR`].
    pub code: Vec<u8>,
    /// Value AX must hold at the final HLT.
    pub expect_ax: u16,
}

fn assemble(build: impl FnOnce(&mut CodeAssembler) -> Result<(), IcedError>) -> Vec<u8> {
    let mut a = CodeAssembler::new(16).expect("16-bit assembler");
    build(&mut a).expect("workload assembles");
    a.assemble(LOAD_ADDR as u64).expect("workload encodes")
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
    Workload { name: "alu", code, expect_ax }
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
    Workload { name: "memory", code, expect_ax }
}

/// Every workload, in bench order.
pub fn all() -> Vec<Workload> {
    vec![alu(), memory()]
}

/// A CPU and memory ready to run `w` from its first instruction.
pub fn prepare(w: &Workload, decode_cache: bool) -> (Cpu, PhysMem) {
    let mut mem = PhysMem::new(RAM_BYTES).expect("guest RAM");
    mem.write_bytes(LOAD_ADDR, &w.code);
    let mut cpu = Cpu::new();
    cpu.set_decode_cache(decode_cache);
    for s in SegReg::ALL {
        cpu.load_seg_real(s, 0);
    }
    cpu.eip = LOAD_ADDR;
    cpu.gpr[4] = 0xFFFE;
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
                assert!(insns > 10_000, "{} ran only {insns} instructions", w.name);
            }
        }
    }
}
