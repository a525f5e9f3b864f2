//! What the differential tests share: the checks that the interpreter and the
//! translator ended in the same architectural state and the same RAM.
#![allow(dead_code)]

use ferrite_cpu::Cpu;
use ferrite_mem::PhysMem;

/// Asserts two CPUs hold the same architectural state.
pub fn assert_same_cpu(a: &Cpu, b: &Cpu, what: &str) {
    if std::env::var("DIFF_DEBUG").is_ok() {
        eprintln!("{what}\n interp: eip={:#x} cr2={:#x} insns={} fault={:?} gpr={:x?}\n jit:    eip={:#x} cr2={:#x} insns={} fault={:?} gpr={:x?}", a.eip, a.cr2, a.insns, a.last_fault, a.gpr, b.eip, b.cr2, b.insns, b.last_fault, b.gpr);
    }
    assert_eq!(a.gpr, b.gpr, "{what}: registers");
    assert_eq!(a.eip, b.eip, "{what}: eip");
    assert_eq!(a.eflags, b.eflags, "{what}: eflags");
    assert_eq!(a.seg, b.seg, "{what}: segments");
    assert_eq!((a.cr0, a.cr2, a.cr3, a.cr4), (b.cr0, b.cr2, b.cr3, b.cr4), "{what}: control registers");
    assert_eq!(a.insns, b.insns, "{what}: instructions retired");
    assert_eq!(a.tsc, b.tsc, "{what}: tsc");
    assert_eq!(a.halted, b.halted, "{what}: halted");
    assert_eq!(a.int_shadow, b.int_shadow, "{what}: interrupt shadow");
    assert_eq!(a.last_fault, b.last_fault, "{what}: last fault");
}

/// Asserts two memories hold the same RAM.
pub fn assert_same_ram(a: &PhysMem, b: &PhysMem, what: &str) {
    if a.ram() != b.ram() {
        let at = a.ram().iter().zip(b.ram()).position(|(x, y)| x != y).unwrap_or(0);
        panic!("{what}: RAM differs first at {at:#x}: {:#04x} vs {:#04x}", a.ram()[at], b.ram()[at]);
    }
}
