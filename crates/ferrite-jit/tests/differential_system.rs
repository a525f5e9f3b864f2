//! Differential tests for system-level guest code: the same 32-bit protected-mode program
//! on the interpreter and on the translator must end in identical CPU state, memory and
//! device traffic. These cover what the translator does besides plain arithmetic: soft-TLB
//! misses filled from the probe (with real #PF faults and their handler in the mix),
//! indirect JMP/CALL through the jump cache, CLI/STI/PUSHF/POPF, IN/OUT, CR3 reloads.

mod common;

use common::{assert_same_cpu, assert_same_ram};
use ferrite_cpu::{Cpu, IoBus, RunExit, SegReg, Segment, TableReg};
use ferrite_jit::Jit;
use ferrite_mem::PhysMem;
use iced_x86::code_asm::*;
use iced_x86::BlockEncoderOptions;

/// Guest RAM size.
const RAM: usize = 4 << 20;
/// GDT: null, flat code 0x08, flat data 0x10.
const GDT: u32 = 0x500;
/// IDT (32 gates used).
const IDT: u32 = 0x600;
/// The main program.
const CODE: u32 = 0x1000;
/// Exception and interrupt handlers.
const HANDLERS: u32 = 0x4000;
/// Page directory and the page table covering linear 0..4 MiB.
const PAGE_DIR: u32 = 0x8000;
const PAGE_TABLE: u32 = 0x9000;
/// A second page directory (CR3 reloads switch between them) and its page table, which
/// maps linear page 0x200 to frame 0x201 (the first maps it to itself).
const PAGE_DIR2: u32 = 0xA000;
const PAGE_TABLE2: u32 = 0xB000;
/// Counters the handlers bump.
const COUNTERS: u32 = 0xC000;
/// Initial stack pointer.
const STACK: u32 = 0x7F00;

/// A bus that records every port access and answers reads from a counter, and raises
/// its interrupt line (vector 0x20) after every `irq_after_writes`-th port write.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct RecordingBus {
    /// (port, size, value, write) in order.
    pub log: Vec<(u16, u8, u32, bool)>,
    next: u32,
    /// Raise the line each time this many more writes happened (0: never).
    pub irq_after_writes: usize,
    writes: usize,
    raised: bool,
}

impl IoBus for RecordingBus {
    fn io_read(&mut self, port: u16, size: u8) -> u32 {
        self.next = self.next.wrapping_mul(0x0101_0101).wrapping_add(0x3B);
        let v = self.next & if size == 4 { u32::MAX } else { (1 << (8 * size)) - 1 };
        self.log.push((port, size, v, false));
        v
    }
    fn io_write(&mut self, port: u16, size: u8, value: u32) {
        self.log.push((port, size, value, true));
        self.writes += 1;
        if self.irq_after_writes != 0 && self.writes.is_multiple_of(self.irq_after_writes) {
            self.raised = true;
        }
    }
    fn intr_pending(&mut self) -> bool {
        self.raised
    }
    fn intr_ack(&mut self) -> u8 {
        self.raised = false;
        0x20
    }
}

/// A 32-bit ring-0 machine: flat GDT, an IDT whose gates 0..32 go to `handlers` entries
/// (`handler_at[v]`, or a default that halts), identity paging of 0..4 MiB built by
/// `tables` (when `paging`), and `main` at CODE.
struct Setup {
    main: Vec<u8>,
    handlers: Vec<u8>,
    /// Per vector: offset of its handler in `handlers`, if any.
    handler_at: Vec<(u8, u32)>,
    paging: bool,
    /// PTE flags per 4 KiB page of the first 4 MiB (present/RW/user bits).
    pte_flags: Box<dyn Fn(u32) -> u32>,
}

impl Setup {
    fn build(&self) -> (Cpu, PhysMem) {
        let mut mem = PhysMem::new(RAM).unwrap();
        let desc = |base: u32, limit: u32, access: u8| -> u64 {
            let mut d = (limit & 0xFFFF) as u64 | ((base & 0xFF_FFFF) as u64) << 16;
            d |= (access as u64) << 40 | (((limit >> 16) & 0xF) as u64) << 48 | 0xC0u64 << 48;
            d | ((base >> 24) as u64) << 56
        };
        let gdt = [0u64, desc(0, 0xFFFFF, 0x9B), desc(0, 0xFFFFF, 0x93)];
        for (i, d) in gdt.iter().enumerate() {
            mem.write_bytes(GDT + 8 * i as u32, &d.to_le_bytes());
        }
        for v in 0..48u32 {
            let target = match self.handler_at.iter().find(|(x, _)| *x as u32 == v) {
                Some(&(_, off)) => HANDLERS + off,
                None => HANDLERS, // offset 0 of the handlers: the default (hlt)
            };
            let gate = (target & 0xFFFF) as u64 | 0x08u64 << 16 | 0x8E00u64 << 32 | ((target >> 16) as u64) << 48;
            mem.write_bytes(IDT + 8 * v, &gate.to_le_bytes());
        }
        mem.write_bytes(CODE, &self.main);
        mem.write_bytes(HANDLERS, &self.handlers);
        mem.write_bytes(PAGE_DIR, &(PAGE_TABLE | 3).to_le_bytes());
        mem.write_bytes(PAGE_DIR2, &(PAGE_TABLE2 | 3).to_le_bytes());
        for page in 0..1024u32 {
            let e = (page << 12) | (self.pte_flags)(page);
            mem.write_bytes(PAGE_TABLE + 4 * page, &e.to_le_bytes());
            let e2 = if page == 0x200 { 0x201 << 12 | 3 } else { e };
            mem.write_bytes(PAGE_TABLE2 + 4 * page, &e2.to_le_bytes());
        }
        let mut cpu = Cpu::new();
        cpu.cr0 |= 1;
        if self.paging {
            cpu.cr3 = PAGE_DIR;
            cpu.cr0 |= 1 << 31 | 1 << 16; // PG, WP
        }
        cpu.gdtr = TableReg { base: GDT, limit: 23 };
        cpu.idtr = TableReg { base: IDT, limit: 48 * 8 - 1 };
        for s in SegReg::ALL {
            cpu.seg[s as usize] = Segment { selector: 0x10, attrs: 0xC093, base: 0, limit: 0xFFFF_FFFF };
        }
        cpu.seg[SegReg::Cs as usize] = Segment { selector: 0x08, attrs: 0xC09B, base: 0, limit: 0xFFFF_FFFF };
        cpu.gpr[4] = STACK;
        cpu.eip = CODE;
        (cpu, mem)
    }
}

/// Runs `setup` on both engines (the translator at hot threshold `threshold`) and
/// compares everything; returns the translator's stats and the interpreter's CPU.
fn compare(setup: &Setup, threshold: u32, budget: u64, irq_after: usize, what: &str) -> (ferrite_jit::JitStats, Cpu) {
    compare_with(setup, threshold, budget, irq_after, what, &|_| {})
}

/// As [`compare`], with `patch` applied to memory after the setup on both engines.
fn compare_with(
    setup: &Setup,
    threshold: u32,
    budget: u64,
    irq_after: usize,
    what: &str,
    patch: &dyn Fn(&mut PhysMem),
) -> (ferrite_jit::JitStats, Cpu) {
    // Both engines run the same slices (like the machine's run loop); a budget counts
    // the same on both, faulting instructions included.
    let slices = |run: &mut dyn FnMut(u64) -> RunExit| {
        let mut left = budget;
        loop {
            let slice = left.min(7_919);
            let exit = run(slice);
            left -= slice;
            if exit != RunExit::Budget || left == 0 {
                return exit;
            }
        }
    };
    let (mut cpu, mut mem) = setup.build();
    patch(&mut mem);
    let mut bus = RecordingBus { irq_after_writes: irq_after, ..Default::default() };
    let ea = slices(&mut |n| cpu.run(&mut mem, &mut bus, n));
    let (mut jcpu, mut jmem) = setup.build();
    patch(&mut jmem);
    let mut jbus = RecordingBus { irq_after_writes: irq_after, ..Default::default() };
    let mut jit = Jit::with_capacity(1 << 20).unwrap();
    jit.set_hot_threshold(threshold);
    if std::env::var("DIFF_DUMP").is_ok() {
        jit.set_dump(Some(Box::new(std::io::stderr())));
    }
    let eb = slices(&mut |n| jit.run(&mut jcpu, &mut jmem, &mut jbus, n));
    let what = format!("{what} (threshold {threshold})");
    assert_eq!(ea, eb, "{what}: exit");
    assert_same_cpu(&cpu, &jcpu, &what);
    assert_same_ram(&mem, &jmem, &what);
    assert_eq!(bus, jbus, "{what}: port traffic");
    (jit.stats(), cpu)
}

/// Emits the #PF handler: makes the faulting page present and writable, INVLPG, counts.
fn page_fault_handler(a: &mut CodeAssembler) -> Result<(), IcedError> {
    a.push(eax)?;
    a.push(edx)?;
    a.mov(eax, cr2)?;
    a.mov(edx, eax)?;
    a.shr(edx, 12)?;
    a.or(dword_ptr(edx * 4 + PAGE_TABLE), 3)?;
    a.invlpg(byte_ptr(eax))?;
    a.inc(dword_ptr(COUNTERS))?;
    a.mov(eax, dword_ptr(esp + 8))?; // the error code
    a.add(dword_ptr(COUNTERS + 4), eax)?;
    a.pop(edx)?;
    a.pop(eax)?;
    a.add(esp, 4)?;
    a.iretd()
}

/// Assembles `f` at `base`.
fn assemble(base: u32, f: impl FnOnce(&mut CodeAssembler) -> Result<(), IcedError>) -> Vec<u8> {
    let mut a = CodeAssembler::new(32).unwrap();
    f(&mut a).unwrap();
    a.assemble(base as u64).unwrap()
}

/// Handlers: offset 0 halts (an unexpected vector), then the #PF handler.
fn handlers_with_page_fault() -> (Vec<u8>, Vec<(u8, u32)>) {
    let code = assemble(HANDLERS, |a| {
        a.hlt()?;
        a.jmp(HANDLERS as u64)?;
        for _ in 0..13 {
            a.nop()?;
        }
        page_fault_handler(a)
    });
    (code, vec![(14, 16)])
}

#[test]
fn test_paging_misses_and_faults_match_the_interpreter() {
    // Pseudo-random reads, writes and read-modify-writes over 2 MiB of linear space
    // (512 pages, twice the soft TLB, from 1 MiB), some pages not present and some read-only at
    // first (the #PF handler makes them present and writable), byte offsets anywhere so
    // some accesses cross pages, pushes and pops in between.
    let main = assemble(CODE, |a| {
        let mut top = a.create_label();
        a.mov(esi, 12345u32)?;
        a.mov(ecx, 3000u32)?;
        a.xor(ebx, ebx)?;
        a.set_label(&mut top)?;
        a.imul_3(esi, esi, 1_103_515_245)?;
        a.add(esi, 12345u32)?;
        a.mov(edi, esi)?;
        a.shr(edi, 7)?;
        a.and(edi, 0x1F_FFFFu32)?;
        a.add(edi, 0x10_0000u32)?;
        a.add(dword_ptr(edi), ecx)?;
        a.mov(eax, dword_ptr(edi + 0x1000))?;
        a.xor(ebx, eax)?;
        a.mov(word_ptr(edi + 0x2003), bx)?;
        a.inc(byte_ptr(edi + 0x5000))?;
        a.push(ebx)?;
        a.movzx(edx, byte_ptr(edi + 0x8001))?;
        a.pop(eax)?;
        a.add(ebx, edx)?;
        a.dec(ecx)?;
        a.jnz(top)?;
        a.hlt()
    });
    let (handlers, handler_at) = handlers_with_page_fault();
    // Pages from 1 MiB on: every 5th not present, every 7th read-only; the rest plain.
    let flags = |page: u32| -> u32 {
        if page >= 0x100 && page.is_multiple_of(5) {
            0x2
        } else if page >= 0x100 && page.is_multiple_of(7) {
            0x1
        } else {
            0x3
        }
    };
    let setup = Setup { main, handlers, handler_at, paging: true, pte_flags: Box::new(flags) };
    for threshold in [1, 2] {
        let (stats, cpu) = compare(&setup, threshold, 1_000_000, 0, "paging misses");
        assert!(cpu.halted, "ran to the end");
        assert!(cpu.mmu_stats.guest_page_faults > 20, "some #PF were taken: {:?}", cpu.mmu_stats);
        assert!(stats.tlb_fills > 1000, "misses were filled from the probe: {stats}");
        assert!(stats.interp_steps < cpu.insns / 10, "mostly translated: {stats}");
    }
}

/// Handlers: offset 0 halts (every vector of the program below is unexpected).
fn halting_handlers() -> (Vec<u8>, Vec<(u8, u32)>) {
    (assemble(HANDLERS, |a| a.hlt()), vec![])
}

/// Where the indirect-branch program keeps its tables.
const TABLE: u32 = 0xD000;

/// The indirect-branch program, with the table entries (8 functions, 4 legs, one 16-bit
/// function) stored as immediates `addrs`; returns the assembler and those labels.
fn indirect_program(addrs: &[u32; 13]) -> Result<(CodeAssembler, Vec<CodeLabel>), IcedError> {
    let mut a = CodeAssembler::new(32)?;
    let mut labels: Vec<CodeLabel> = (0..13).map(|_| a.create_label()).collect();
    let mut top = a.create_label();
    let mut back = a.create_label();
    let mut after = a.create_label();
    for (k, &addr) in addrs.iter().enumerate() {
        a.mov(dword_ptr(TABLE + 4 * k as u32), addr)?;
    }
    a.mov(ecx, 3000u32)?;
    a.xor(ebx, ebx)?;
    a.xor(edi, edi)?;
    a.mov(esi, 0u32)?;
    a.set_label(&mut top)?;
    a.mov(eax, ecx)?;
    a.and(eax, 7)?;
    a.call(dword_ptr(eax * 4 + TABLE))?;
    a.mov(edx, ecx)?;
    a.shr(edx, 1)?;
    a.and(edx, 7)?;
    a.mov(edx, dword_ptr(edx * 4 + TABLE))?;
    a.push(ecx)?;
    a.call(edx)?;
    a.pop(ecx)?;
    a.mov(esi, dword_ptr(TABLE + 13 * 4))?; // `after`, stored below
    a.jmp(esi)?;
    a.int3()?; // never reached
    a.set_label(&mut after)?;
    a.mov(eax, ecx)?;
    a.and(eax, 3)?;
    a.jmp(dword_ptr(eax * 4 + TABLE + 8 * 4))?;
    a.set_label(&mut back)?;
    a.call(word_ptr(TABLE + 12 * 4))?; // 16-bit operand size: pushes IP, target < 64 KiB
    a.dec(ecx)?;
    a.jnz(top)?;
    a.hlt()?;
    for (k, f) in labels[..8].iter_mut().enumerate() {
        a.set_label(f)?;
        a.add(ebx, (k as u32 + 1) * 0x1111)?;
        a.rol(ebx, 1)?;
        if k % 3 == 0 {
            a.stc()?;
        }
        if k == 5 {
            a.ret_1(0u32)?; // RET imm16
        } else {
            a.ret()?;
        }
    }
    for (k, l) in labels[8..12].iter_mut().enumerate() {
        a.set_label(l)?;
        a.xor(edi, ebx)?;
        a.add(edi, k as u32)?;
        a.jmp(back)?;
    }
    a.set_label(&mut labels[12])?;
    a.adc(edi, 1)?;
    a.db(&[0x66, 0xC3])?; // o16 ret: pops IP
    labels.push(after);
    Ok((a, labels))
}

#[test]
fn test_indirect_jmp_and_call_match_the_interpreter() {
    // A dispatch loop: CALL through a memory table and through a register, JMP through a
    // register and through a memory table, a 16-bit operand-size CALL, and the targets
    // RET (with and without an immediate, 32- and 16-bit) or JMP back. Assembled twice:
    // the first pass finds the labels, the second stores their addresses in the table
    // (the stores' immediates do not change the layout).
    let (mut a, labels) = indirect_program(&[0; 13]).unwrap();
    let r = a.assemble_options(CODE as u64, BlockEncoderOptions::RETURN_NEW_INSTRUCTION_OFFSETS).unwrap();
    let ips: Vec<u32> = labels.iter().map(|l| r.label_ip(l).unwrap() as u32).collect();
    let mut addrs = [0u32; 13];
    addrs.copy_from_slice(&ips[..13]);
    let (mut a, _) = indirect_program(&addrs).unwrap();
    let main = a.assemble(CODE as u64).unwrap();
    // `after` (for the JMP through a register) goes into the table's 14th slot.
    let (handlers, handler_at) = halting_handlers();
    for paging in [false, true] {
        let after = ips[13];
        let setup = Setup {
            main: main.clone(),
            handlers: handlers.clone(),
            handler_at: handler_at.clone(),
            paging,
            pte_flags: Box::new(|_| 3),
        };
        for threshold in [1, 2] {
            let what = format!("indirect branches (paging {paging})");
            let (stats, cpu) = compare_with(&setup, threshold, 1_000_000, 0, &what, &|mem: &mut PhysMem| {
                mem.write_bytes(TABLE + 13 * 4, &after.to_le_bytes())
            });
            assert!(cpu.halted, "ran to the end");
            assert!(cpu.insns > 50_000, "ran the loop: {}", cpu.insns);
            assert!(stats.interp_steps < cpu.insns / 20, "mostly translated: {stats}");
            assert!(stats.block_runs < cpu.insns / 20, "indirect targets found through the jump cache: {stats}");
        }
    }
}

#[test]
fn test_self_modifying_page_left_to_the_interpreter_still_drops_other_pages() {
    // The loop on the CODE page rewrites its own immediate every time round (so the page
    // is soon left to the interpreter, which then runs stretches of it and drains the
    // written code pages itself) and also rewrites the immediate of a function on
    // another page that stays translated: every rewrite must still drop that function's
    // translation before it runs again.
    const FUNC: u32 = HANDLERS + 16;
    let handlers = assemble(HANDLERS, |a| {
        a.hlt()?;
        a.jmp(HANDLERS as u64)?;
        for _ in 0..13 {
            a.nop()?;
        }
        a.add(ebx, 0x1234_5678u32)?; // 81 C3 imm32: the immediate is at FUNC + 2
        a.rol(ebx, 1)?;
        a.xor(edi, ebx)?;
        a.ret()
    });
    assert_eq!(&handlers[16..18], &[0x81, 0xC3], "add ebx, imm32 at FUNC");
    let main = {
        let build = |own_imm: u32| {
            assemble(CODE, |a| {
                let mut top = a.create_label();
                a.mov(ecx, 700u32)?;
                a.xor(ebx, ebx)?;
                a.set_label(&mut top)?;
                a.mov(dword_ptr(own_imm), ecx)?;
                a.add(esi, 0x0BAD_F00Du32)?; // its immediate is rewritten by the store above
                a.mov(eax, ecx)?;
                a.imul_3(eax, eax, 0x9E37)?;
                a.mov(dword_ptr(FUNC + 2), eax)?;
                a.call(FUNC as u64)?;
                a.dec(ecx)?;
                a.jnz(top)?;
                a.hlt()
            })
        };
        // Find where the `add esi, imm32` immediate lands, then point the store at it.
        let first = build(0);
        let at = first.windows(2).position(|w| w == [0x81, 0xC6]).unwrap() as u32;
        build(CODE + at + 2)
    };
    let setup = Setup { main, handlers, handler_at: vec![], paging: false, pte_flags: Box::new(|_| 3) };
    for threshold in [1, 2] {
        let (stats, cpu) = compare(&setup, threshold, 1_000_000, 0, "self-modifying code on two pages");
        assert!(cpu.halted, "ran to the end");
        assert!(stats.blocks_invalidated >= ferrite_jit::SMC_PAGE_LIMIT as u64, "{stats}");
    }
}

#[test]
fn test_sensitive_instructions_and_interrupts_match_the_interpreter() {
    // CLI/STI (with the interrupt shadow), PUSHFD/POPFD changing IF, IN/OUT of all sizes
    // with a device that raises its line every few writes (handler: count, EOI, IRET),
    // MOV to CR3 switching between two address spaces that map one page differently,
    // MOV from CR0/CR3, INVLPG, CPUID and RDTSC, inside a loop that is translated.
    let main = assemble(CODE, |a| {
        let mut top = a.create_label();
        a.mov(ecx, 400u32)?;
        a.xor(ebx, ebx)?;
        a.mov(dword_ptr(0x20_0000u32), 0x1111_1111u32)?;
        a.mov(dword_ptr(0x20_1000u32), 0x2222_2222u32)?;
        a.set_label(&mut top)?;
        a.mov(eax, cr3)?;
        a.xor(eax, PAGE_DIR ^ PAGE_DIR2)?;
        a.mov(cr3, eax)?;
        a.add(ebx, dword_ptr(0x20_0000u32))?;
        a.add(dword_ptr(0x20_0004u32), ecx)?;
        a.mov(al, cl)?;
        a.out(0x80, al)?;
        a.mov(dx, 0x3F8u32)?;
        a.out(dx, ax)?;
        a.in_(al, 0x60)?;
        a.add(bl, al)?;
        a.in_(eax, dx)?;
        a.xor(ebx, eax)?;
        a.sti()?;
        a.nop()?; // the interrupt shadow ends after this one
        a.out(0xE9, al)?;
        a.cli()?;
        a.out(dx, eax)?;
        a.pushfd()?;
        a.or(dword_ptr(esp), 0x200)?;
        a.popfd()?; // IF set again, no shadow
        a.inc(edi)?;
        a.pushfd()?;
        a.and(dword_ptr(esp), !0x200u32 as i32)?;
        a.popfd()?;
        a.mov(esi, cr0)?;
        a.invlpg(byte_ptr(0x20_0000u32))?;
        if true {
            a.push(ecx)?;
            a.push(ebx)?;
            a.mov(eax, 1u32)?;
            a.cpuid()?;
            a.pop(ebx)?;
            a.pop(ecx)?;
            a.rdtsc()?;
            a.mov(ebp, eax)?;
        }
        a.dec(ecx)?;
        a.jnz(top)?;
        a.hlt()
    });
    let handlers = assemble(HANDLERS, |a| {
        a.hlt()?;
        a.jmp(HANDLERS as u64)?;
        for _ in 0..13 {
            a.nop()?;
        }
        a.inc(dword_ptr(COUNTERS + 8))?;
        a.push(eax)?;
        a.mov(al, 0x20)?;
        a.out(0x20, al)?;
        a.pop(eax)?;
        a.iretd()
    });
    let setup = Setup { main, handlers, handler_at: vec![(0x20, 16)], paging: true, pte_flags: Box::new(|_| 3) };
    for threshold in [1, 2] {
        for irq_every in [3, 7] {
            let what = format!("sensitive instructions (irq every {irq_every} writes)");
            let (stats, cpu) = compare(&setup, threshold, 2_000_000, irq_every, &what);
            assert!(cpu.halted, "{what}: ran to the end");
            assert!(stats.helper_calls > 400 * 10, "{what}: sensitive instructions are in-block calls: {stats}");
            assert!(stats.blocks_translated > 0, "{what}: {stats}");
        }
    }
}
