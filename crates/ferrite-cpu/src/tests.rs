//! CPU tests that run small real-mode programs on a bare memory map.

use crate::{Cpu, NullBus, RunExit, SegReg};
use ferrite_mem::PhysMem;

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
