//! CPU tests that run small real-mode programs on a bare memory map.

use crate::{Cpu, NullBus, RunExit, SegReg};
use ferrite_mem::PhysMem;

/// Where the protected-mode tests put their descriptor tables and pseudo-descriptors.
pub(crate) const PM_GDT: u32 = 0x500;
pub(crate) const PM_IDT: u32 = 0x600;
pub(crate) const PM_PSEUDO: u32 = 0x580;

/// Code that loads the GDTR from `PM_PSEUDO`, the IDTR from `PM_PSEUDO + 8`, and sets
/// CR0.PE (CS keeps its real-mode cache, so execution continues at CPL 0).
pub(crate) const ENTER_PM: [u8; 18] = [
    0x0F, 0x01, 0x16, 0x80, 0x05, // lgdt [0x580]
    0x0F, 0x01, 0x1E, 0x88, 0x05, // lidt [0x588]
    0x0F, 0x20, 0xC0, // mov eax, cr0
    0x0C, 0x01, // or al, 1
    0x0F, 0x22, 0xC0, // mov cr0, eax
];

/// An 8-byte segment descriptor.
pub(crate) fn descriptor(base: u32, limit: u32, access: u8, flags: u8) -> u64 {
    (limit as u64 & 0xFFFF)
        | (base as u64 & 0xFF_FFFF) << 16
        | (access as u64) << 40
        | ((limit as u64 >> 16) & 0xF) << 48
        | (flags as u64 & 0xF0) << 48
        | ((base as u64 >> 24) & 0xFF) << 56
}

/// Writes a GDT, IDT gates (vector, gate) and both pseudo-descriptors (IDT limit 0x3FF).
pub(crate) fn write_pm_tables(mem: &mut PhysMem, gdt: &[u64], gates: &[(u8, u64)]) {
    for (i, d) in gdt.iter().enumerate() {
        mem.write_bytes(PM_GDT + 8 * i as u32, &d.to_le_bytes());
    }
    for (v, g) in gates {
        mem.write_bytes(PM_IDT + 8 * *v as u32, &g.to_le_bytes());
    }
    let gdt_limit = (gdt.len() * 8 - 1) as u16;
    mem.write_bytes(PM_PSEUDO, &gdt_limit.to_le_bytes());
    mem.write_bytes(PM_PSEUDO + 2, &PM_GDT.to_le_bytes());
    mem.write_bytes(PM_PSEUDO + 8, &[0xFF, 0x03]);
    mem.write_bytes(PM_PSEUDO + 10, &PM_IDT.to_le_bytes());
}

/// The HLT opcode that ends every test program.
pub(crate) const HLT: u8 = 0xF4;

/// AX of a finished test run.
pub(crate) fn ax(cpu: &Cpu) -> u32 {
    cpu.gpr[0] & 0xFFFF
}

/// Runs `code` at 0000:0100 with SS:SP = 0000:8000 until HLT.
pub(crate) fn run_real(code: &[u8]) -> (Cpu, PhysMem) {
    run_real_with(code, |_| {})
}

/// Like [`run_real`], with `setup` preparing memory before the run.
pub(crate) fn run_real_with(code: &[u8], setup: impl FnOnce(&mut PhysMem)) -> (Cpu, PhysMem) {
    let mut mem = PhysMem::new(1 << 20).unwrap();
    mem.write_bytes(0x100, code);
    setup(&mut mem);
    let mut cpu = Cpu::new();
    for s in SegReg::ALL {
        cpu.load_seg_real(s, 0);
    }
    cpu.eip = 0x100;
    cpu.gpr[4] = 0x8000;
    let exit = cpu.run(&mut mem, &mut NullBus, 10_000);
    assert_eq!(exit, RunExit::Halted);
    (cpu, mem)
}

/// Runs `code` at 0000:0100 (SS:SP = 0000:8000, all segments 0) on `bus`, after `setup`
/// has prepared the CPU and memory, until HLT.
pub(crate) fn run_real_on(
    code: &[u8],
    bus: &mut dyn crate::IoBus,
    setup: impl FnOnce(&mut Cpu, &mut PhysMem),
) -> (Cpu, PhysMem) {
    let mut mem = PhysMem::new(1 << 20).unwrap();
    mem.write_bytes(0x100, code);
    let mut cpu = Cpu::new();
    for s in SegReg::ALL {
        cpu.load_seg_real(s, 0);
    }
    cpu.eip = 0x100;
    cpu.gpr[4] = 0x8000;
    setup(&mut cpu, &mut mem);
    let exit = cpu.run(&mut mem, bus, 10_000);
    assert_eq!(exit, RunExit::Halted);
    (cpu, mem)
}

/// Like [`run_real_on`] with the [`NullBus`].
pub(crate) fn run_real_setup(code: &[u8], setup: impl FnOnce(&mut Cpu, &mut PhysMem)) -> (Cpu, PhysMem) {
    run_real_on(code, &mut NullBus, setup)
}

/// Assembles 16-bit code for address 0x100 with iced's code assembler.
pub(crate) fn asm16(
    build: impl FnOnce(&mut iced_x86::code_asm::CodeAssembler) -> Result<(), iced_x86::IcedError>,
) -> Vec<u8> {
    let mut a = iced_x86::code_asm::CodeAssembler::new(16).unwrap();
    build(&mut a).unwrap();
    a.assemble(0x100).unwrap()
}

/// Points real-mode interrupt vector `vector` at 0000:`handler` and puts a HLT there.
pub(crate) fn hlt_handler(mem: &mut PhysMem, vector: u8, handler: u16) {
    let entry = vector as u32 * 4;
    mem.write_bytes(entry, &[handler as u8, (handler >> 8) as u8, 0, 0]);
    mem.write_u8(handler as u32, 0xF4);
}

/// Reads a little-endian word of guest memory.
pub(crate) fn read_u16(mem: &PhysMem, addr: u32) -> u16 {
    mem.read_u8(addr) as u16 | (mem.read_u8(addr + 1) as u16) << 8
}

#[test]
fn test_mov_add_hlt() {
    // mov ax, 0x1234; add ax, 0x0101; hlt
    let (cpu, _) = run_real(&[0xB8, 0x34, 0x12, 0x05, 0x01, 0x01, 0xF4]);
    assert_eq!(cpu.gpr[0] & 0xFFFF, 0x1335);
}

#[test]
fn test_push_pop_and_memory() {
    // mov ax,0xBEEF; push ax; pop bx; mov [0x200],bx; mov cx,[0x200]; hlt
    let (cpu, mem) = run_real(&[0xB8, 0xEF, 0xBE, 0x50, 0x5B, 0x89, 0x1E, 0x00, 0x02, 0x8B, 0x0E, 0x00, 0x02, 0xF4]);
    assert_eq!(cpu.gpr[3] & 0xFFFF, 0xBEEF);
    assert_eq!(cpu.gpr[1] & 0xFFFF, 0xBEEF);
    assert_eq!(mem.read_u8(0x200), 0xEF);
    assert_eq!(cpu.gpr[4], 0x8000);
}

#[test]
fn test_self_modifying_code_is_seen() {
    // mov byte [0x10A], 0x42 ; (patches the imm of the next mov) ; nop ; nop ; mov al, 0x00 ; hlt
    // 0x100: C6 06 0A 01 42   0x105: 90 90 90 90 90  0x10A? — build precisely:
    let code = [0xC6, 0x06, 0x08, 0x01, 0x42, 0x90, 0xB0, 0x00, 0xF4];
    // 0x100 mov byte [0x108],0x42 ; 0x105 nop ; 0x106 mov al,imm(at 0x107)... patch 0x107 instead
    let mut c = code;
    c[2] = 0x07;
    let (cpu, _) = run_real(&c);
    assert_eq!(cpu.gpr[0] & 0xFF, 0x42);
}

#[test]
fn test_decode_cache_follows_the_a20_gate() {
    let mut mem = PhysMem::new(2 << 20).unwrap();
    mem.write_bytes(0x10_0000, &[0xB0, 0x01, HLT]); // mov al,1 ; hlt (above 1 MiB)
    mem.write_bytes(0x0, &[0xB0, 0x02, HLT]); // mov al,2 ; hlt (its A20-off alias)
    let mut cpu = Cpu::new();
    for s in SegReg::ALL {
        cpu.load_seg_real(s, 0);
    }
    cpu.load_seg_real(SegReg::Cs, 0xFFFF);
    cpu.gpr[4] = 0x8000;
    cpu.eip = 0x10;
    assert_eq!(cpu.run(&mut mem, &mut NullBus, 10), RunExit::Halted);
    assert_eq!(cpu.gpr[0] & 0xFF, 1);
    mem.set_a20(false);
    cpu.halted = false;
    cpu.eip = 0x10;
    assert_eq!(cpu.run(&mut mem, &mut NullBus, 10), RunExit::Halted);
    assert_eq!(cpu.gpr[0] & 0xFF, 2, "FFFF:0010 wraps to 0 with A20 closed");
}
