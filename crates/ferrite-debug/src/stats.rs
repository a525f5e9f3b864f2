//! The `--stats` report: engine and shadow-MMU counters at the end of a run.

use ferrite_cpu::Cpu;
use std::fmt::Write;

/// Formats the run's counters, one `ferrite: stats: ...` line per subsystem.
pub fn format_stats(cpu: &Cpu) -> String {
    let mut out = String::new();
    let m = cpu.mmu_stats;
    let c = cpu.cache_stats();
    let _ = writeln!(out, "ferrite: stats: insns={} tsc={}", cpu.insns, cpu.tsc);
    let _ = writeln!(
        out,
        "ferrite: stats: mmu hypervisor-faults={} (soft-TLB fills) guest-faults={} (#PF delivered) tlb-flushes={}",
        m.tlb_fills, m.guest_page_faults, m.flushes
    );
    let _ = writeln!(
        out,
        "ferrite: stats: decode-cache blocks-decoded={} hits={} invalidated={}",
        c.blocks_decoded, c.hits, c.invalidated
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_stats_report_names_both_fault_kinds() {
        let mut cpu = Cpu::new();
        cpu.mmu_stats.tlb_fills = 7;
        cpu.mmu_stats.guest_page_faults = 2;
        let s = format_stats(&cpu);
        assert!(s.contains("hypervisor-faults=7"), "{s}");
        assert!(s.contains("guest-faults=2"), "{s}");
        assert_eq!(s.lines().count(), 3);
    }
}
