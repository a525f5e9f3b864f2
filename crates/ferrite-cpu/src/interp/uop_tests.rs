//! The interpreter's fast forms (`uop.rs`) against its generic dispatch: random 32-bit
//! programs built from the instruction families that have fast forms (MOV, MOVZX/MOVSX,
//! LEA, ALU, INC/DEC, NOT/NEG, shifts, IMUL, XCHG, SETcc, CMOVcc, Jcc, LOOPcc/JECXZ,
//! CALL/RET, PUSH/POP, in 8-, 16- and 32-bit operand sizes, register and memory operands)
//! run once with the fast forms and once without; registers, flags, EIP, counters, the
//! last fault and RAM must be identical. Generic instructions that read or write the
//! status flags (SALC, LAHF, SAHF, CMC, CLC, STC, PUSHFD) are mixed in, so the fast
//! forms' deferred flags (`lazy_flags.rs`) must be complete wherever the generic path
//! takes over. One variant gives DS a small limit, so memory operands fault part way
//! through and the fault path (rewind, exception delivery, shutdown) is compared too.

use crate::state::Segment;
use crate::{Cpu, NullBus, RunExit, SegReg};
use ferrite_mem::PhysMem;

const CODE: u32 = 0x1000;
const DATA: u32 = 0x10000;
const STACK_TOP: u32 = 0x30000;

/// A small deterministic generator (64-bit LCG, high bits out).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u32 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (self.0 >> 33) as u32
    }
    fn below(&mut self, n: u32) -> u32 {
        self.next() % n
    }
}

/// Registers a generated instruction may write: EAX, ECX, EDX (EBX, ESI, EDI, EBP stay
/// pointers into the data area; ESP moves only with PUSH/POP/CALL/RET).
const DST32: [u8; 3] = [0, 1, 2];
/// Byte registers that alias EAX/ECX/EDX only: AL, CL, DL, AH, CH, DH.
const DST8: [u8; 6] = [0, 1, 2, 4, 5, 6];

/// A ModRM (+SIB, displacement) for register `reg` and an r/m operand that is either a
/// writable register (`rm_reg`) or memory relative to EBX/ESI/EDI/EBP.
fn modrm(rng: &mut Lcg, reg: u8, rm_reg: Option<u8>) -> Vec<u8> {
    if let Some(r) = rm_reg {
        return vec![0xC0 | reg << 3 | r];
    }
    match rng.below(3) {
        0 => {
            let base = [3u8, 5, 6, 7][rng.below(4) as usize];
            vec![0x40 | reg << 3 | base, rng.below(0x80) as u8]
        }
        1 => {
            // [ebx + esi * scale + disp8]
            let scale = rng.below(4) as u8;
            vec![0x44 | reg << 3, scale << 6 | 6 << 3 | 3, rng.below(0x80) as u8]
        }
        _ => {
            let mut v = vec![0x05 | reg << 3];
            v.extend_from_slice(&(DATA + 0x800 + rng.below(0x100)).to_le_bytes());
            v
        }
    }
}

/// One random instruction with a fast form; PUSH/POP only with `stack`.
fn instruction(rng: &mut Lcg, stack: bool) -> Vec<u8> {
    let mut out = Vec::new();
    let size = [1u8, 2, 4, 4, 4][rng.below(5) as usize];
    if size == 2 {
        out.push(0x66);
    }
    let dst = |rng: &mut Lcg| {
        if size == 1 {
            DST8[rng.below(6) as usize]
        } else {
            DST32[rng.below(3) as usize]
        }
    };
    let any_reg = |rng: &mut Lcg| rng.below(8) as u8;
    let w = (size != 1) as u8;
    let imm = |rng: &mut Lcg, out: &mut Vec<u8>| {
        let v = rng.next();
        out.extend_from_slice(&v.to_le_bytes()[..size as usize]);
    };
    let mut family = rng.below(18);
    if family == 9 && !stack {
        family = 10;
    }
    match family {
        0 | 1 => {
            // ALU r/m, reg (r/m written) or reg, r/m (reg written); op 0..7 = ADD..CMP
            let op = rng.below(8) as u8;
            if rng.below(2) == 0 {
                out.push(op << 3 | w);
                let rm = if rng.below(2) == 0 { Some(dst(rng)) } else { None };
                let src = any_reg(rng);
                out.extend(modrm(rng, src, rm));
            } else {
                out.push(op << 3 | 2 | w);
                let d = dst(rng);
                let rm = if rng.below(2) == 0 { Some(any_reg(rng)) } else { None };
                out.extend(modrm(rng, d, rm));
            }
        }
        2 => {
            // ALU r/m, imm (0x80/0x81/0x83) or TEST r/m, imm
            let op = rng.below(9) as u8;
            let rm = if rng.below(2) == 0 { Some(dst(rng)) } else { None };
            if op == 8 {
                out.push(0xF6 | w);
                out.extend(modrm(rng, 0, rm));
                imm(rng, &mut out);
            } else if size != 1 && rng.below(2) == 0 {
                out.push(0x83);
                out.extend(modrm(rng, op, rm));
                out.push(rng.next() as u8);
            } else {
                out.push(0x80 | w);
                out.extend(modrm(rng, op, rm));
                imm(rng, &mut out);
            }
        }
        3 => {
            // MOV in all directions
            match rng.below(4) {
                0 => {
                    out.push(0x88 | w);
                    let rm = if rng.below(2) == 0 { Some(dst(rng)) } else { None };
                    let src = any_reg(rng);
                    out.extend(modrm(rng, src, rm));
                }
                1 => {
                    out.push(0x8A | w);
                    let d = dst(rng);
                    out.extend(modrm(rng, d, None));
                }
                2 => {
                    out.push(if size == 1 { 0xB0 } else { 0xB8 } + dst(rng));
                    imm(rng, &mut out);
                }
                _ => {
                    out.push(0xC6 | w);
                    out.extend(modrm(rng, 0, None));
                    imm(rng, &mut out);
                }
            }
        }
        4 => {
            // MOVZX / MOVSX from a byte or word
            out.retain(|&b| b != 0x66);
            if rng.below(3) == 0 {
                out.push(0x66);
            }
            out.push(0x0F);
            out.push([0xB6, 0xB7, 0xBE, 0xBF][rng.below(4) as usize]);
            let d = DST32[rng.below(3) as usize];
            let rm = if rng.below(2) == 0 { Some(rng.below(8) as u8) } else { None };
            out.extend(modrm(rng, d, rm));
        }
        5 => {
            // LEA
            out.push(0x8D);
            let d = DST32[rng.below(3) as usize];
            out.extend(modrm(rng, d, None));
        }
        6 => {
            // INC/DEC r/m
            out.push(0xFE | w);
            let rm = if rng.below(2) == 0 { Some(dst(rng)) } else { None };
            let op = rng.below(2) as u8;
            out.extend(modrm(rng, op, rm));
        }
        7 | 8 => {
            // ROL..SAR by imm8, by 1, by CL
            let op = rng.below(8) as u8;
            let rm = if rng.below(2) == 0 { Some(dst(rng)) } else { None };
            match rng.below(3) {
                0 => {
                    out.push(0xC0 | w);
                    out.extend(modrm(rng, op, rm));
                    out.push(rng.below(40) as u8);
                }
                1 => {
                    out.push(0xD0 | w);
                    out.extend(modrm(rng, op, rm));
                }
                _ => {
                    out.push(0xD2 | w);
                    out.extend(modrm(rng, op, rm));
                }
            }
        }
        9 => {
            // PUSH reg / imm / mem, POP into EAX/ECX/EDX
            out.retain(|&b| b != 0x66);
            match rng.below(4) {
                0 => out.push(0x50 + rng.below(8) as u8),
                1 => out.push(0x58 + DST32[rng.below(3) as usize]),
                2 => {
                    out.push(0x6A);
                    out.push(rng.next() as u8);
                }
                _ => {
                    out.push(0xFF);
                    out.extend(modrm(rng, 6, None));
                }
            }
        }
        12 => {
            // IMUL r, r/m (0F AF) or IMUL r, r/m, imm (69 / 6B), 16- or 32-bit
            if size == 1 {
                out.push(0x66);
            }
            let d = DST32[rng.below(3) as usize];
            let rm = if rng.below(2) == 0 { Some(rng.below(8) as u8) } else { None };
            match rng.below(3) {
                0 => {
                    out.extend_from_slice(&[0x0F, 0xAF]);
                    out.extend(modrm(rng, d, rm));
                }
                1 => {
                    out.push(0x6B);
                    out.extend(modrm(rng, d, rm));
                    out.push(rng.next() as u8);
                }
                _ => {
                    out.push(0x69);
                    out.extend(modrm(rng, d, rm));
                    let width = if out[0] == 0x66 { 2 } else { 4 };
                    out.extend_from_slice(&rng.next().to_le_bytes()[..width]);
                }
            }
        }
        13 => {
            // XCHG of two writable registers
            let (a, b) = if size == 1 {
                (DST8[rng.below(6) as usize], DST8[rng.below(6) as usize])
            } else {
                (DST32[rng.below(3) as usize], DST32[rng.below(3) as usize])
            };
            out.push(0x86 | w);
            out.push(0xC0 | a << 3 | b);
        }
        10 => {
            // NOP, one-byte and multi-byte (whose memory operand is never accessed)
            out.retain(|&b| b != 0x66);
            match rng.below(3) {
                0 => out.push(0x90),
                1 => out.extend_from_slice(&[0x0F, 0x1F, 0x00]),
                _ => out.extend_from_slice(&[0x66, 0x0F, 0x1F, 0x44, 0x00, 0x00]),
            }
        }
        11 => {
            // A generic (slow-path) instruction that reads or writes the status flags the
            // fast forms leave pending: SALC, LAHF, SAHF, CMC, CLC, STC, PUSHFD + POP.
            out.retain(|&b| b != 0x66);
            match rng.below(if stack { 7 } else { 6 }) {
                0 => out.push(0xD6),
                1 => out.push(0x9F),
                2 => out.push(0x9E),
                3 => out.push(0xF5),
                4 => out.push(0xF8),
                5 => out.push(0xF9),
                _ => out.extend_from_slice(&[0x9C, 0x58 + DST32[rng.below(3) as usize]]),
            }
        }
        14 => {
            // SETcc r/m8 (a 0x66 prefix changes nothing)
            out.extend_from_slice(&[0x0F, 0x90 + rng.below(16) as u8]);
            let rm = if rng.below(2) == 0 { Some(DST8[rng.below(6) as usize]) } else { None };
            out.extend(modrm(rng, 0, rm));
        }
        15 => {
            // CMOVcc r, r/m, 16- or 32-bit
            if size == 1 {
                out.push(0x66);
            }
            out.extend_from_slice(&[0x0F, 0x40 + rng.below(16) as u8]);
            let d = DST32[rng.below(3) as usize];
            let rm = if rng.below(2) == 0 { Some(rng.below(8) as u8) } else { None };
            out.extend(modrm(rng, d, rm));
        }
        16 => {
            // NOT/NEG r/m
            out.push(0xF6 | w);
            let rm = if rng.below(2) == 0 { Some(dst(rng)) } else { None };
            let op = 2 + rng.below(2) as u8;
            out.extend(modrm(rng, op, rm));
        }
        _ => {
            // a 32-bit ALU reg, reg to keep the flags moving
            out.retain(|&b| b != 0x66);
            out.push((rng.below(8) as u8) << 3 | 1);
            out.push(0xC0 | (rng.below(8) as u8) << 3 | DST32[rng.below(3) as usize]);
        }
    }
    out
}

/// A program: random instructions, some behind a Jcc that skips the next one, some
/// calls to a subroutine at the end (random instructions and RET); ends with HLT.
fn program(seed: u64, count: usize) -> Vec<u8> {
    let mut rng = Lcg(seed);
    let mut code = Vec::new();
    let mut calls = Vec::new();
    for _ in 0..count {
        match rng.below(11) {
            10 => {
                // LOOP/LOOPE/LOOPNE/JECXZ (with a 0x67 prefix: CX) over the next instruction
                let next = instruction(&mut rng, true);
                if rng.below(4) == 0 {
                    code.push(0x67);
                }
                code.push(0xE0 + rng.below(4) as u8);
                code.push(next.len() as u8);
                code.extend(next);
            }
            0 => {
                let next = instruction(&mut rng, true);
                code.push(0x70 + rng.below(16) as u8);
                code.push(next.len() as u8);
                code.extend(next);
            }
            1 => {
                code.push(0xE8);
                calls.push(code.len());
                code.extend_from_slice(&[0; 4]);
            }
            _ => code.extend(instruction(&mut rng, true)),
        }
    }
    code.push(0xF4);
    let sub = code.len();
    for _ in 0..4 {
        code.extend(instruction(&mut rng, false));
    }
    code.push(0xC3);
    for at in calls {
        let rel = sub as i32 - (at as i32 + 4);
        code[at..at + 4].copy_from_slice(&rel.to_le_bytes());
    }
    code
}

/// Runs `code` at CODE in flat 32-bit protected mode (DS limit `ds_limit`), with the
/// fast forms on or off.
fn run(code: &[u8], seed: u64, ds_limit: u32, fast: bool) -> (Cpu, PhysMem, RunExit) {
    run_ds(code, seed, 0xC093, ds_limit, fast, false)
}

/// `run` with DS of type `ds_attrs` (read-only, expand-down, code...), and with
/// exceptions delivered to a HLT (`with_idt`) rather than shutting down.
fn run_ds(code: &[u8], seed: u64, ds_attrs: u16, ds_limit: u32, fast: bool, with_idt: bool) -> (Cpu, PhysMem, RunExit) {
    let mut mem = PhysMem::new(1 << 20).unwrap();
    mem.write_bytes(CODE, code);
    let mut rng = Lcg(seed ^ 0x5EED);
    let fill: Vec<u8> = (0..0x2000).map(|_| rng.next() as u8).collect();
    mem.write_bytes(DATA, &fill);
    let mut cpu = Cpu::new();
    cpu.set_fast_forms(fast);
    cpu.cr0 = 1;
    let flat = |attrs: u16, limit: u32| Segment { selector: 0x10, attrs, base: 0, limit };
    for s in SegReg::ALL {
        cpu.seg[s as usize] = flat(0xC093, 0xFFFF_FFFF);
    }
    cpu.seg[SegReg::Cs as usize] = Segment { selector: 0x08, ..flat(0xC09B, 0xFFFF_FFFF) };
    cpu.seg[SegReg::Ds as usize] = flat(ds_attrs, ds_limit);
    cpu.gpr = [rng.next(), rng.next(), rng.next(), DATA, STACK_TOP, DATA + 0x100, DATA + 0x200, DATA + 0x300];
    cpu.eflags = 0x2 | (rng.next() & 0x8D5);
    cpu.eip = CODE;
    if with_idt {
        install_idt(&mut cpu, &mut mem);
    }
    let exit = cpu.run(&mut mem, &mut NullBus, 100_000);
    (cpu, mem, exit)
}

/// A GDT (flat code 0x08, flat data 0x10) and an IDT whose 32 exception gates lead to a
/// HLT: a fault is delivered, so the EFLAGS image it pushes lands in RAM and is compared.
fn install_idt(cpu: &mut Cpu, mem: &mut PhysMem) {
    const GDT: u32 = 0x8800;
    const IDT: u32 = 0x8000;
    const HANDLER: u32 = 0x9000;
    mem.write_bytes(GDT, &[0; 8]);
    mem.write_bytes(GDT + 8, &0x00CF_9B00_0000_FFFFu64.to_le_bytes());
    mem.write_bytes(GDT + 16, &0x00CF_9300_0000_FFFFu64.to_le_bytes());
    cpu.gdtr = crate::state::TableReg { base: GDT, limit: 23 };
    for v in 0..32u32 {
        let gate = (HANDLER & 0xFFFF) as u64 | 0x08 << 16 | 0x8E00u64 << 32 | ((HANDLER >> 16) as u64) << 48;
        mem.write_bytes(IDT + v * 8, &gate.to_le_bytes());
    }
    cpu.idtr = crate::state::TableReg { base: IDT, limit: 32 * 8 - 1 };
    mem.write_bytes(HANDLER, &[0xF4]);
}

fn assert_same(seed: u64, ds_limit: u32) {
    assert_same_ds(seed, 0xC093, ds_limit, false);
}

/// Runs program `seed` with the fast forms on and off, asserts the machines end alike,
/// and returns the fast run.
fn assert_same_ds(seed: u64, ds_attrs: u16, ds_limit: u32, with_idt: bool) -> (Cpu, PhysMem, RunExit) {
    let code = program(seed, 300);
    let (a, ma, ea) = run_ds(&code, seed, ds_attrs, ds_limit, true, with_idt);
    let (b, mb, eb) = run_ds(&code, seed, ds_attrs, ds_limit, false, with_idt);
    let what = format!("seed {seed} ds_attrs {ds_attrs:#x} ds_limit {ds_limit:#x} idt {with_idt}");
    assert_eq!(ea, eb, "{what}: exit");
    assert_eq!(a.gpr, b.gpr, "{what}: registers");
    assert_eq!((a.eip, a.eflags), (b.eip, b.eflags), "{what}: eip, eflags");
    assert_eq!((a.insns, a.tsc, a.halted), (b.insns, b.tsc, b.halted), "{what}: counters");
    assert_eq!(a.seg, b.seg, "{what}: segments");
    assert_eq!(a.last_fault.map(|f| (f.fault.vector, f.eip)), b.last_fault.map(|f| (f.fault.vector, f.eip)), "{what}");
    if let Some(i) = (0..ma.ram().len()).find(|&i| ma.ram()[i] != mb.ram()[i]) {
        panic!("{what}: RAM differs at {i:#x}: {:#x} vs {:#x}", ma.ram()[i], mb.ram()[i]);
    }
    (a, ma, ea)
}

#[test]
fn test_fast_forms_match_the_generic_dispatch_on_random_programs() {
    let mut ran = 0;
    for seed in 1..=60u64 {
        assert_same(seed, 0xFFFF_FFFF);
        ran += 1;
    }
    // The programs really run to their HLT (the comparison is not of two early stops).
    let (cpu, _, exit) = run(&program(7, 300), 7, 0xFFFF_FFFF, true);
    assert_eq!(exit, RunExit::Halted, "{:?}", cpu.last_fault);
    assert!(cpu.insns > 300, "{}", cpu.insns);
    assert_eq!(ran, 60);
}

#[test]
fn test_fast_forms_fault_like_the_generic_dispatch() {
    for seed in 100..=130u64 {
        // DATA + 0x180: accesses through ESI/EDI/EBP and most absolute ones fault (#GP).
        assert_same(seed, DATA + 0x180);
    }
    let (cpu, _, _) = run(&program(101, 300), 101, DATA + 0x180, true);
    assert!(cpu.last_fault.is_some(), "the limit made something fault");
}

#[test]
fn test_fast_forms_deliver_faults_with_complete_flags() {
    // The #GP is delivered through the IDT: its EFLAGS image on the stack must hold the
    // status flags the fast forms had only recorded.
    let mut delivered = 0;
    for seed in 400..=440u64 {
        let (cpu, mem, exit) = assert_same_ds(seed, 0xC093, DATA + 0x180, true);
        if exit == RunExit::Halted && cpu.eip == 0x9001 {
            let mut img = [0u8; 4];
            mem.read_bytes(cpu.gpr[4] + 12, &mut img);
            assert_eq!(u32::from_le_bytes(img) & 0x8D5, cpu.eflags & 0x8D5, "seed {seed}: pushed status flags");
            delivered += 1;
        }
    }
    assert!(delivered > 20, "{delivered} programs reached the handler");
}

#[test]
fn test_fast_forms_check_segment_types_like_the_generic_dispatch() {
    // Read-only data (writes #GP), expand-down data (offsets up to the limit #GP),
    // readable code in DS (writes #GP), a not-present DS (#NP is not raised by the
    // access itself: #GP), a 16-bit (B clear) expand-down segment, and the ordinary
    // type with the accessed bit set.
    let cases = [
        (0xC091, 0xFFFF_FFFF),
        (0xC097, DATA + 0x180),
        (0x0097, 0x0FFF),
        (0xC09B, 0xFFFF_FFFF),
        (0xC013, 0xFFFF_FFFF),
        (0xC093, DATA + 0x180),
    ];
    for (i, &(attrs, limit)) in cases.iter().enumerate() {
        for seed in 200..=215u64 {
            assert_same_ds(seed + 100 * i as u64, attrs, limit, false);
        }
    }
    // The cases really fault (read-only DS refuses the programs' stores through DS).
    let (cpu, _, _) = run_ds(&program(201, 300), 201, 0xC091, 0xFFFF_FFFF, true, false);
    assert!(cpu.last_fault.is_some(), "a store through a read-only DS faulted");
    let (cpu, _, _) = run_ds(&program(301, 300), 301, 0xC097, DATA + 0x180, true, false);
    assert!(cpu.last_fault.is_some(), "an access at or below an expand-down limit faulted");
}

#[test]
fn test_frequent_forms_are_lowered() {
    use super::uop::{lower, Kind};
    use iced_x86::{ConditionCode, Decoder, DecoderOptions};
    let lowered = |bytes: &[u8]| lower(&Decoder::new(32, bytes, DecoderOptions::NONE).decode()).kind;
    assert_eq!(lowered(&[0x8B, 0x43, 0x04]), Kind::Mov); // mov eax, [ebx+4]
    assert!(matches!(lowered(&[0x33, 0x04, 0x95, 0, 0, 1, 0]), Kind::Alu(_))); // xor eax, [edx*4+0x10000]
    assert!(matches!(lowered(&[0x75, 0x00]), Kind::Jcc(_))); // jnz
    assert_eq!(lowered(&[0xC3]), Kind::Ret);
    assert_eq!(lowered(&[0x0F, 0xAF, 0x07]), Kind::Imul { three: false }); // imul eax, [edi]
    assert_eq!(lowered(&[0xE2, 0xFE]), Kind::Loop { op: 0, ecx: true });
    assert_eq!(lowered(&[0x90]), Kind::Nop);
    assert_eq!(lowered(&[0x0F, 0x1F, 0x44, 0x00, 0x00]), Kind::Nop); // nopl [eax+eax*1+0]
    assert_eq!(lowered(&[0x0F, 0x94, 0xC0]), Kind::Setcc(ConditionCode::e)); // sete al
    assert_eq!(lowered(&[0x0F, 0x9F, 0x03]), Kind::Setcc(ConditionCode::g)); // setg [ebx]
    assert_eq!(lowered(&[0x0F, 0x92, 0xC4]), Kind::Setcc(ConditionCode::b)); // setb ah
    assert_eq!(lowered(&[0x0F, 0x44, 0xC1]), Kind::Cmovcc(ConditionCode::e)); // cmove eax, ecx
    assert_eq!(lowered(&[0x66, 0x0F, 0x4C, 0x07]), Kind::Cmovcc(ConditionCode::l)); // cmovl ax, [edi]
    assert_eq!(lowered(&[0x0F, 0x43, 0x46, 0x08]), Kind::Cmovcc(ConditionCode::ae)); // cmovae eax, [esi+8]
    assert_eq!(lowered(&[0xF7, 0xD0]), Kind::Not); // not eax
    assert_eq!(lowered(&[0xF6, 0x13]), Kind::Not); // not byte [ebx]
    assert_eq!(lowered(&[0x66, 0xF7, 0xD2]), Kind::Not); // not dx
    assert_eq!(lowered(&[0xF7, 0xD8]), Kind::Neg); // neg eax
    assert_eq!(lowered(&[0xF6, 0xDC]), Kind::Neg); // neg ah
    assert_eq!(lowered(&[0x66, 0xF7, 0x1F]), Kind::Neg); // neg word [edi]
    assert_eq!(lowered(&[0xF7, 0x1B]), Kind::Neg); // neg dword [ebx]
    assert_eq!(lowered(&[0xF0, 0xF7, 0x1B]), Kind::Generic, "LOCK neg stays generic");
    assert_eq!(lowered(&[0xF0, 0xF6, 0x13]), Kind::Generic, "LOCK not stays generic");
    assert_eq!(lowered(&[0xF3, 0x90]), Kind::Generic, "PAUSE stays generic");
    assert_eq!(lowered(&[0xF0, 0x01, 0x03]), Kind::Generic, "LOCK add stays generic");
    assert_eq!(lowered(&[0x8E, 0xD8]), Kind::Generic, "mov ds, ax stays generic");
    assert_eq!(lowered(&[0xC2, 0x04, 0x00]), Kind::Generic, "ret imm16 stays generic");
}

/// Runs NOPs at CODE in 32-bit protected mode with CS of type `cs_attrs` and limit
/// `cs_limit` (no IDT: a fault ends in shutdown, and `last_fault` names the first one).
fn run_cs(cs_attrs: u16, cs_limit: u32) -> (Cpu, RunExit) {
    let mut mem = PhysMem::new(1 << 20).unwrap();
    mem.write_bytes(CODE, &[0x90; 128]);
    let mut cpu = Cpu::new();
    cpu.cr0 = 1;
    for s in SegReg::ALL {
        cpu.seg[s as usize] = Segment { selector: 0x10, attrs: 0xC093, base: 0, limit: 0xFFFF_FFFF };
    }
    cpu.seg[SegReg::Cs as usize] = Segment { selector: 0x08, attrs: cs_attrs, base: 0, limit: cs_limit };
    cpu.eip = CODE;
    let exit = cpu.run(&mut mem, &mut NullBus, 100);
    (cpu, exit)
}

#[test]
fn test_block_fetch_checks_the_code_segment() {
    // Falling through to CS's limit: the fetch one byte past it is #GP at that EIP.
    let (cpu, _) = run_cs(0xC09B, CODE + 9);
    let f = cpu.last_fault.expect("a fetch fault");
    assert_eq!((f.fault.vector, f.eip), (13, CODE + 10));
    // Execute-only, conforming and accessed code types fetch like readable code.
    for attrs in [0xC098, 0xC09F, 0xC099] {
        let (cpu, _) = run_cs(attrs, CODE + 3);
        let f = cpu.last_fault.expect("a fetch fault");
        assert_eq!((f.fault.vector, f.eip), (13, CODE + 4), "attrs {attrs:#x}");
    }
    // A CS not marked present refuses the very first fetch.
    let (cpu, _) = run_cs(0xC01B, 0xFFFF_FFFF);
    let f = cpu.last_fault.expect("a fetch fault");
    assert_eq!((f.fault.vector, f.eip), (13, CODE));
    // Inside the limit nothing faults: the budget runs out.
    let (cpu, exit) = run_cs(0xC09B, 0xFFFF_FFFF);
    assert_eq!((exit, cpu.last_fault.is_none(), cpu.eip), (RunExit::Budget, true, CODE + 100));
}
