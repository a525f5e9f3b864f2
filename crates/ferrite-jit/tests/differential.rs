//! Differential test: the same guest programs on the interpreter and on the translator
//! must end in identical CPU state, memory and output.
//!
//! - the bench workloads (`ferrite-benches`), translated at once and after warm-up;
//! - every ROM and multiboot kernel in `roms/bin`, run as whole machines;
//! - a few thousand seeded random straight-line sequences (with forward branches, calls
//!   and returns) in 32-bit flat protected mode and in 16-bit real mode.

mod common;

use common::{assert_same_cpu, assert_same_ram};
use ferrite_cpu::{Cpu, Flags, NullBus, RunExit, SegReg, Segment};
use ferrite_jit::Jit;
use ferrite_machine::{Engine, KernelBoot, Machine, MachineConfig};
use ferrite_mem::PhysMem;
use iced_x86::code_asm::*;
use std::io::Write;
use std::sync::{Arc, Mutex};

#[test]
fn test_bench_workloads_match_the_interpreter() {
    for w in ferrite_benches::all() {
        let (mut cpu, mut mem) = ferrite_benches::prepare(&w, true);
        ferrite_benches::run(&mut cpu, &mut mem);
        for threshold in [1, 2, 50] {
            let (mut jcpu, mut jmem) = ferrite_benches::prepare(&w, true);
            let mut jit = Jit::with_capacity(1 << 20).unwrap();
            jit.set_hot_threshold(threshold);
            let exit = jit.run(&mut jcpu, &mut jmem, &mut NullBus, 100_000_000);
            assert_eq!(exit, RunExit::Halted, "{}", w.name);
            let what = format!("{} (threshold {threshold})", w.name);
            assert_same_cpu(&cpu, &jcpu, &what);
            assert_same_ram(&mem, &jmem, &what);
            let s = jit.stats();
            assert!(s.blocks_translated > 0, "{what}: {s}");
            if w.name == "smc" {
                // Every iteration rewrites the running block: translations are dropped
                // until the page is left to the interpreter.
                assert!(s.blocks_invalidated >= ferrite_jit::SMC_PAGE_LIMIT as u64, "{what}: {s}");
            } else if w.name == "paging" {
                // Every access misses the soft TLB on purpose: each one is a slow path
                // (the interpreter walks the page tables and fills the entry).
                assert!(s.interp_steps < cpu.insns / 2, "{what}: {s}");
            } else {
                assert!(s.blocks_chained > 0, "{what}: {s}");
                assert!(s.interp_steps < cpu.insns / 10, "{what}: mostly translated: {s}");
            }
        }
    }
}

/// A `Write` the test can read back.
#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Runs a ROM (64/128/256 KiB image) or a multiboot kernel as a whole machine.
fn run_machine(name: &str, image: &[u8], engine: Engine) -> (Machine, String, Vec<u8>) {
    let out = Shared::default();
    let bios_sizes = ferrite_mem::BIOS_SIZES;
    let mut config = if bios_sizes.contains(&image.len()) {
        MachineConfig::new(image.to_vec())
    } else {
        let mut c = MachineConfig::new(include_bytes!("../../../roms/bin/demo.bin").to_vec());
        c.kernel = Some(KernelBoot { image: image.to_vec(), cmdline: name.to_string(), module: None });
        c
    };
    config.engine = engine;
    config.debugcon = Some(Box::new(out.clone()));
    config.max_insns = Some(20_000_000);
    config.no_reboot = true;
    // Timer interrupts (pm_apic) must land at the same instruction under both engines.
    config.deterministic = true;
    let mut m = Machine::new(config).unwrap();
    let summary = m.run();
    let text = out.0.lock().unwrap().clone();
    (m, summary.to_string(), text)
}

#[test]
fn test_every_rom_and_kernel_matches_the_interpreter() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../roms/bin");
    // `.bin` files are BIOS ROMs and multiboot kernels; disk images (`.img`) boot through
    // a BIOS from a drive and are covered by the machine's own tests.
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "bin"))
        .collect();
    names.sort();
    assert!(names.len() >= 5, "roms/bin has the project's images");
    for path in names {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let image = std::fs::read(&path).unwrap();
        let (a, sa, oa) = run_machine(&name, &image, Engine::Interp);
        let (b, sb, ob) = run_machine(&name, &image, Engine::Jit);
        assert_eq!(sa, sb, "{name}: stop");
        assert_eq!(oa, ob, "{name}: debug console");
        assert_same_cpu(a.cpu(), b.cpu(), &name);
        assert_same_ram(a.mem(), b.mem(), &name);
        if a.cpu().insns > 1000 {
            assert!(b.jit_stats().unwrap().blocks_translated > 0, "{name}: something was translated");
        }
    }
}

/// A small deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len())]
    }
}

/// Where random programs are loaded.
const CODE: u32 = 0x1000;
/// Data area the base registers (EBX/BX, ESI/SI) point into; it straddles a page
/// boundary so some accesses cross it.
const DATA: u32 = 0x8FF0;
/// Initial stack pointer.
const STACK: u32 = 0xF000;

/// Emits one random instruction (or a small construct) for 32-bit code.
fn random_insn32(a: &mut CodeAssembler, r: &mut Rng) -> Result<(), IcedError> {
    let dst32 = [eax, ecx, edx, edi, ebp];
    let src32 = [eax, ecx, edx, ebx, esi, edi, ebp];
    let dst16 = [ax, cx, dx, di, bp];
    let dst8 = [al, cl, dl, ah, ch, dh];
    let d = r.pick(&dst32);
    let s = r.pick(&src32);
    let disp = r.below(40) as i32 - 8;
    let m32 = dword_ptr(r.pick(&[ebx, esi]) + disp);
    let m16 = word_ptr(ebx + disp);
    let m8 = byte_ptr(esi + disp);
    let imm = r.next() as u32;
    match r.below(54) {
        52 => {
            // PUSH from memory (also relative to ESP), popped back into a register.
            match r.below(3) {
                0 => a.push(m32)?,
                1 => a.push(dword_ptr(esp + 4 * r.below(3) as i32))?,
                _ => {
                    a.push(word_ptr(ebx + disp))?;
                    a.pop(r.pick(&dst16))?;
                    return Ok(());
                }
            }
            a.pop(r.pick(&dst32))
        }
        53 => a.push(m32).and_then(|_| a.add(esp, 4)),
        50 | 51 => {
            // Single LODS/STOS/SCAS, forwards or backwards, some with a segment override.
            a.push(esi)?;
            a.push(edi)?;
            a.lea(esi, dword_ptr(ebx + r.below(16) as i32))?;
            a.lea(edi, dword_ptr(ebx + 8 + r.below(16) as i32))?;
            let df = r.below(3) == 0;
            if df {
                a.std()?;
            }
            for _ in 0..1 + r.below(3) {
                match r.below(9) {
                    0 => a.lodsb()?,
                    1 => a.lodsw()?,
                    2 => a.lodsd()?,
                    3 => a.stosb()?,
                    4 => a.stosw()?,
                    5 => a.stosd()?,
                    6 => a.scasb()?,
                    7 => a.scasd()?,
                    _ => a.db(&[0x26, 0xAC])?, // es lodsb
                }
            }
            if df {
                a.cld()?;
            }
            a.pop(edi)?;
            a.pop(esi)
        }
        47 => {
            // A stack frame torn down by LEAVE (32-bit, or 16-bit operand size).
            a.push(ebp)?;
            a.mov(ebp, esp)?;
            a.push(d)?;
            if r.below(3) == 0 {
                a.db(&[0x66, 0xC9])?; // o16 leave: BP from the low half of the saved EBP
                a.lea(esp, dword_ptr(esp + 2))
            } else {
                a.leave()
            }
        }
        48 => a.pause(),
        49 => a.lfence(),
        44 => a.std(),
        45 => a.cld(),
        46 => a.cli(),
        42 | 43 => {
            // REP MOVS/STOS, short, sometimes overlapping, sometimes backwards (DF set).
            let k = r.below(24) as i32 - 8;
            a.push(esi)?;
            a.push(edi)?;
            a.mov(esi, ebx)?;
            a.lea(edi, dword_ptr(ebx + 16 + k))?;
            a.mov(ecx, r.below(10) as u32)?;
            let df = r.below(4) == 0;
            if df {
                a.std()?;
            }
            match (r.below(3), r.below(2) == 0) {
                (0, true) => a.rep().movsb()?,
                (1, true) => a.rep().movsw()?,
                (_, true) => a.rep().movsd()?,
                (0, false) => a.rep().stosb()?,
                (1, false) => a.rep().stosw()?,
                (_, false) => a.rep().stosd()?,
            }
            if df {
                a.cld()?;
            }
            a.pop(edi)?;
            a.pop(esi)
        }
        34 => a.imul_2(d, s),
        35 => a.imul_3(d, m32, imm as i32 >> 20),
        36 => a.mul(m32),
        37 => a.mul(m8),
        38 => a.rol(d, 1 + r.below(31) as u32),
        39 => a.ror(m32, 1u32),
        40 => a.ror(r.pick(&dst8), 1 + r.below(7) as u32),
        41 => {
            let mut top = a.create_label();
            a.mov(ecx, 1 + r.below(4) as u32)?;
            a.set_label(&mut top)?;
            a.add(r.pick(&[eax, edx, edi, ebp]), imm)?;
            a.loop_(top)
        }
        0 => a.add(d, s),
        1 => a.adc(d, m32),
        2 => a.sub(m32, d),
        3 => a.sbb(d, imm),
        4 => a.and(d, s),
        5 => a.or(m32, imm & 0xFF),
        6 => a.xor(d, m32),
        7 => a.cmp(d, s),
        8 => a.test(m32, d),
        9 => a.inc(d),
        10 => a.dec(m32),
        11 => a.neg(d),
        12 => a.not(m32),
        13 => a.shl(d, 1 + r.below(31) as u32),
        14 => a.shr(d, 1u32),
        15 => a.sar(m32, 1 + r.below(4) as u32),
        16 => a.movzx(d, m8),
        17 => a.movsx(d, r.pick(&dst16)),
        18 => a.lea(d, dword_ptr(s + s * 4 + disp)),
        19 => a.mov(d, m32),
        20 => a.mov(m32, d),
        21 => a.mov(r.pick(&dst8), r.pick(&dst8)),
        22 => a.add(r.pick(&dst8), m8),
        23 => a.xchg(d, r.pick(&dst32)),
        24 => a.sete(m8),
        25 => a.setl(r.pick(&dst8)),
        26 => a.cmovb(d, m32),
        27 => a.cmovg(d, s),
        28 => {
            a.push(d)?;
            a.pop(r.pick(&dst32))
        }
        29 => a.add(r.pick(&dst16), m16),
        30 => {
            let mut skip = a.create_label();
            a.jne(skip)?;
            a.inc(d)?;
            a.set_label(&mut skip)?;
            a.nop()
        }
        31 => {
            let mut over = a.create_label();
            let mut func = a.create_label();
            a.call(func)?;
            a.jmp(over)?;
            a.set_label(&mut func)?;
            a.add(d, imm)?;
            a.ret()?;
            a.set_label(&mut over)?;
            a.nop()
        }
        32 => a.mov(d, imm),
        _ => a.stc(),
    }
}

/// Emits one random instruction (or a small construct) for 16-bit code.
fn random_insn16(a: &mut CodeAssembler, r: &mut Rng) -> Result<(), IcedError> {
    let dst16 = [ax, cx, dx, di, bp];
    let src16 = [ax, cx, dx, bx, si, di, bp];
    let dst8 = [al, cl, dl, ah, ch, dh];
    let d = r.pick(&dst16);
    let s = r.pick(&src16);
    let disp = r.below(40) as i32 - 8;
    let m16 = word_ptr(bx + disp);
    let m8 = byte_ptr(si + disp);
    let imm = r.next() as u32 & 0xFFFF;
    match r.below(23) {
        21 | 22 => {
            a.push(si)?;
            a.push(di)?;
            a.lea(di, word_ptr(bx + 4))?;
            let df = r.below(3) == 0;
            if df {
                a.std()?;
            }
            match r.below(5) {
                0 => a.lodsb()?,
                1 => a.lodsw()?,
                2 => a.stosw()?,
                3 => a.scasb()?,
                _ => a.scasw()?,
            }
            if df {
                a.cld()?;
            }
            a.pop(di)?;
            a.pop(si)
        }
        20 => {
            a.push(bp)?;
            a.mov(bp, sp)?;
            a.push(d)?;
            a.leave()
        }
        0 => a.add(d, s),
        1 => a.adc(d, m16),
        2 => a.sub(m16, d),
        3 => a.sbb(d, imm),
        4 => a.and(r.pick(&dst8), m8),
        5 => a.or(d, s),
        6 => a.xor(m16, d),
        7 => a.cmp(d, imm),
        8 => a.inc(d),
        9 => a.dec(m16),
        10 => a.neg(r.pick(&dst8)),
        11 => a.shl(d, 1u32),
        12 => a.shr(m16, 1 + r.below(3) as u32),
        13 => a.movzx(d, m8),
        14 => a.lea(d, word_ptr(bx + si + disp)),
        15 => a.mov(m16, d),
        16 => {
            a.push(d)?;
            a.pop(r.pick(&dst16))
        }
        17 => {
            let mut skip = a.create_label();
            a.jb(skip)?;
            a.dec(d)?;
            a.set_label(&mut skip)?;
            a.nop()
        }
        18 => a.setne(r.pick(&dst8)),
        _ => a.mov(d, m16),
    }
}

/// A CPU and memory holding a random program in the given mode.
fn random_machine(r: &mut Rng, code32: bool) -> (Cpu, PhysMem) {
    let mut a = CodeAssembler::new(if code32 { 32 } else { 16 }).unwrap();
    let n = 8 + r.below(24);
    for _ in 0..n {
        if code32 { random_insn32(&mut a, r) } else { random_insn16(&mut a, r) }.unwrap();
    }
    a.hlt().unwrap();
    let code = a.assemble(CODE as u64).unwrap();
    let mut mem = PhysMem::new(1 << 20).unwrap();
    mem.write_bytes(CODE, &code);
    let data: Vec<u8> = (0..64).map(|_| r.next() as u8).collect();
    mem.write_bytes(DATA, &data);
    let mut cpu = Cpu::new();
    for g in 0..8 {
        cpu.gpr[g] = r.next() as u32;
    }
    cpu.gpr[3] = DATA; // EBX
    cpu.gpr[6] = DATA + 8; // ESI
    cpu.gpr[4] = STACK;
    cpu.eflags = Flags::FIXED1 | (r.next() as u32 & Flags::ARITH);
    if code32 {
        cpu.cr0 |= 1;
        for s in SegReg::ALL {
            cpu.seg[s as usize] = Segment { selector: 0x10, attrs: 0xC093, base: 0, limit: 0xFFFF_FFFF };
        }
        cpu.seg[SegReg::Cs as usize] = Segment { selector: 0x08, attrs: 0xC09B, base: 0, limit: 0xFFFF_FFFF };
    } else {
        for s in SegReg::ALL {
            cpu.load_seg_real(s, 0);
        }
        cpu.seg[SegReg::Cs as usize].base = 0;
        cpu.gpr[3] &= 0xFFFF;
        cpu.gpr[6] &= 0xFFFF;
    }
    cpu.eip = CODE;
    (cpu, mem)
}

#[test]
fn test_random_sequences_match_the_interpreter() {
    const SEQUENCES: usize = 3000;
    let mut jit = Jit::with_capacity(4 << 20).unwrap();
    jit.set_hot_threshold(1);
    let mut translated = 0;
    for seq in 0..SEQUENCES {
        let code32 = seq % 3 != 2;
        let seed = 0x9E37_79B9_7F4A_7C15u64 ^ (seq as u64).wrapping_mul(0x1000_0001);
        let (mut cpu, mut mem) = random_machine(&mut Rng(seed), code32);
        let (mut jcpu, mut jmem) = random_machine(&mut Rng(seed), code32);
        let ea = cpu.run(&mut mem, &mut NullBus, 10_000);
        jit.flush();
        let before = jit.stats().guest_insns_translated;
        let eb = jit.run(&mut jcpu, &mut jmem, &mut NullBus, 10_000);
        translated += jit.stats().guest_insns_translated - before;
        let what = format!("sequence {seq} ({}-bit, seed {seed:#x})", if code32 { 32 } else { 16 });
        assert_eq!(ea, eb, "{what}: exit");
        assert_same_cpu(&cpu, &jcpu, &what);
        assert_same_ram(&mem, &jmem, &what);
    }
    assert!(translated > SEQUENCES as u64 * 5, "random code was mostly translated ({translated} insns)");
}

#[test]
fn test_self_modifying_loop_drops_stale_translations() {
    // A loop whose body rewrites the immediate of its own `add ax, imm16` each time round.
    let code = {
        let mut a = CodeAssembler::new(16).unwrap();
        let mut top = a.create_label();
        let mut patched = a.create_label();
        a.xor(ax, ax).unwrap();
        a.mov(cx, 200u32).unwrap();
        a.set_label(&mut top).unwrap();
        a.mov(word_ptr(0), cx).unwrap(); // placeholder, rewritten below with the real address
        a.set_label(&mut patched).unwrap();
        a.add(ax, 0x1234u32).unwrap();
        a.dec(cx).unwrap();
        a.jnz(top).unwrap();
        a.hlt().unwrap();
        a.assemble(CODE as u64).unwrap()
    };
    // `mov [disp16], cx` is 89 0E lo hi; point it at the add's immediate (05 lo hi).
    let mov_at = code.iter().position(|&b| b == 0x89).unwrap();
    let add_at = mov_at + 4;
    assert_eq!(code[add_at], 0x05, "add ax, imm16 follows");
    let mut code = code;
    let imm = CODE as u16 + add_at as u16 + 1;
    code[mov_at + 2..mov_at + 4].copy_from_slice(&imm.to_le_bytes());
    let setup = || {
        let mut mem = PhysMem::new(1 << 20).unwrap();
        mem.write_bytes(CODE, &code);
        let mut cpu = Cpu::new();
        for s in SegReg::ALL {
            cpu.load_seg_real(s, 0);
        }
        cpu.eip = CODE;
        cpu.gpr[4] = STACK;
        (cpu, mem)
    };
    let (mut cpu, mut mem) = setup();
    assert_eq!(cpu.run(&mut mem, &mut NullBus, 100_000), RunExit::Halted);
    let (mut jcpu, mut jmem) = setup();
    let mut jit = Jit::with_capacity(1 << 20).unwrap();
    jit.set_hot_threshold(1);
    assert_eq!(jit.run(&mut jcpu, &mut jmem, &mut NullBus, 100_000), RunExit::Halted);
    assert_same_cpu(&cpu, &jcpu, "self-modifying loop");
    assert_same_ram(&mem, &jmem, "self-modifying loop");
    assert!(jit.stats().blocks_invalidated > 0, "{}", jit.stats());
}

/// With budget overrun (a machine on host time), a run may finish the block it is in but
/// never goes further: each tiny slice retires at most one block past its budget, and the
/// program still ends exactly as on the interpreter.
#[test]
fn test_budget_overrun_finishes_the_block_and_no_more() {
    let w = ferrite_benches::all().into_iter().find(|w| w.name == "alu").expect("the alu workload");
    let (mut cpu, mut mem) = ferrite_benches::prepare(&w, true);
    ferrite_benches::run(&mut cpu, &mut mem);
    let (mut jcpu, mut jmem) = ferrite_benches::prepare(&w, true);
    let mut jit = Jit::with_capacity(1 << 20).unwrap();
    jit.set_budget_overrun(true);
    let mut overshot = false;
    loop {
        let before = jcpu.insns;
        let exit = jit.run(&mut jcpu, &mut jmem, &mut NullBus, 3);
        let retired = jcpu.insns - before;
        assert!(retired <= 3 + 32, "one block at most past the budget: {retired}");
        overshot |= retired > 3;
        if exit != RunExit::Budget {
            assert_eq!(exit, RunExit::Halted);
            break;
        }
    }
    assert!(overshot, "some slice finished its block: {}", jit.stats());
    assert_same_cpu(&cpu, &jcpu, "alu with budget overrun");
    assert_same_ram(&mem, &jmem, "alu with budget overrun");
}

/// An instruction that starts at the last byte of one page and ends in the next runs in
/// a loop, hot: once plain, and once with the loop rewriting its immediate (which lies in
/// the second page) every time round. Both engines must agree.
#[test]
fn test_instruction_across_a_page_boundary_matches_the_interpreter() {
    for rewrite in [false, true] {
        let code = {
            let mut a = CodeAssembler::new(16).unwrap();
            let mut top = a.create_label();
            a.xor(ax, ax).unwrap();
            a.mov(cx, 300u32).unwrap();
            a.set_label(&mut top).unwrap();
            a.cmp(cx, 150u32).unwrap(); // CF for the ADC: set for half the rounds
            a.mov(word_ptr(0), cx).unwrap(); // target rewritten below
            a.adc(ax, 0x1234u32).unwrap();
            a.dec(cx).unwrap();
            a.jnz(top).unwrap();
            a.hlt().unwrap();
            a.assemble(0).unwrap()
        };
        let mov_at = code.iter().position(|&b| b == 0x89).unwrap();
        let add_at = mov_at + 4;
        assert_eq!(code[add_at], 0x15, "adc ax, imm16 follows");
        // Place the code so that the ADC's opcode is the last byte of the page at 0x2000.
        let base = 0x2000 - 1 - add_at as u32;
        let target = if rewrite { base as u16 + add_at as u16 + 1 } else { 0x8000 };
        let mut code = code;
        code[mov_at + 2..mov_at + 4].copy_from_slice(&target.to_le_bytes());
        let setup = || {
            let mut mem = PhysMem::new(1 << 20).unwrap();
            mem.write_bytes(base, &code);
            let mut cpu = Cpu::new();
            for s in SegReg::ALL {
                cpu.load_seg_real(s, 0);
            }
            cpu.eip = base;
            cpu.gpr[4] = STACK;
            (cpu, mem)
        };
        let what = format!("page-crossing adc (rewritten: {rewrite})");
        let (mut cpu, mut mem) = setup();
        assert_eq!(cpu.run(&mut mem, &mut NullBus, 100_000), RunExit::Halted, "{what}");
        let (mut jcpu, mut jmem) = setup();
        let mut jit = Jit::with_capacity(1 << 20).unwrap();
        jit.set_hot_threshold(1);
        assert_eq!(jit.run(&mut jcpu, &mut jmem, &mut NullBus, 100_000), RunExit::Halted, "{what}");
        assert_same_cpu(&cpu, &jcpu, &what);
        assert_same_ram(&mem, &jmem, &what);
        let s = jit.stats();
        if !rewrite {
            // The loop runs translated, the crossing ADC as a step inside its block.
            assert!(s.block_runs < 100 && s.blocks_chained > 0, "{what}: {s}");
        }
    }
}

/// The CPU-bound 32-bit paged workload (`roms/multiboot_bench.asm`: CRC32, sieve,
/// recursion, memcpy, matrix multiply, insertion sort) to its end on both engines: the
/// same checksums, CPU state and RAM, and most of it translated.
#[test]
fn test_bench_kernel_runs_to_the_end_on_both_engines() {
    let image = include_bytes!("../../../roms/bin/multiboot_bench.bin");
    let run = |engine: Engine| {
        let out = Shared::default();
        let mut c = MachineConfig::new(include_bytes!("../../../roms/bin/demo.bin").to_vec());
        c.kernel = Some(KernelBoot { image: image.to_vec(), cmdline: String::new(), module: None });
        c.engine = engine;
        c.debugcon = Some(Box::new(out.clone()));
        c.max_insns = Some(2_000_000_000);
        c.no_reboot = true;
        let mut m = Machine::new(c).unwrap();
        let summary = m.run().to_string();
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        (m, summary, text)
    };
    let (a, sa, oa) = run(Engine::Interp);
    let (b, sb, ob) = run(Engine::Jit);
    assert!(sa.contains("exit-port"), "{sa}");
    assert!(oa.starts_with("bench crc32="), "{oa}");
    assert_eq!(sa, sb, "stop");
    assert_eq!(oa, ob, "checksums");
    assert_same_cpu(a.cpu(), b.cpu(), "bench kernel");
    assert_same_ram(a.mem(), b.mem(), "bench kernel");
    let stats = b.jit_stats().unwrap();
    assert!(stats.interp_steps * 10 < b.cpu().insns, "mostly translated: {stats}");
}
