//! CPU tests that run small real-mode programs on a bare memory map.

use crate::{Cpu, NullBus, RunExit, SegReg};
use ferrite_mem::PhysMem;

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
    let (cpu, mem) = run_real(&[
        0xB8, 0xEF, 0xBE, 0x50, 0x5B, 0x89, 0x1E, 0x00, 0x02, 0x8B, 0x0E, 0x00, 0x02, 0xF4,
    ]);
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
