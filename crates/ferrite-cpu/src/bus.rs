//! The CPU's door to the rest of the machine: port I/O, MMIO and the interrupt line.

/// What the CPU needs from the board. The machine implements it; devices never see the CPU.
pub trait IoBus {
    /// `IN`: reads `size` (1, 2 or 4) bytes from `port`. Unclaimed ports read all-ones.
    fn io_read(&mut self, port: u16, size: u8) -> u32;
    /// `OUT`: writes `size` bytes of `value` to `port`.
    fn io_write(&mut self, port: u16, size: u8, value: u32);
    /// Reads `size` bytes from an MMIO hole (`addr` is the physical address).
    fn mmio_read(&mut self, _addr: u32, _size: u8) -> u32 {
        !0
    }
    /// Writes `size` bytes to an MMIO hole.
    fn mmio_write(&mut self, _addr: u32, _size: u8, _value: u32) {}
    /// Whether a maskable interrupt is being requested (the INTR pin).
    fn intr_pending(&mut self) -> bool {
        false
    }
    /// Acknowledges the pending interrupt and returns its vector (the INTA cycle).
    fn intr_ack(&mut self) -> u8 {
        0
    }
    /// Whether an NMI is being requested (the local APIC's NMI delivery, LINT1). Not
    /// masked by IF; the CPU holds it off while an NMI handler runs (until IRET).
    fn nmi_pending(&mut self) -> bool {
        false
    }
    /// The CPU takes the pending NMI.
    fn nmi_ack(&mut self) {}
    /// WRMSR changed IA32_APIC_BASE to `value` (base address, global enable bit 11): the
    /// board's local APIC follows it.
    fn apic_base_written(&mut self, _value: u64) {}
    /// Whether the board wants the CPU to stop and return to the run loop (e.g. after a
    /// write to the exit port). Checked after every I/O instruction.
    fn stop_requested(&self) -> bool {
        false
    }
}

/// A bus with nothing on it: ports read all-ones, writes vanish, no interrupts.
#[derive(Debug, Default, Clone, Copy)]
pub struct NullBus;

impl IoBus for NullBus {
    fn io_read(&mut self, _port: u16, size: u8) -> u32 {
        match size {
            1 => 0xFF,
            2 => 0xFFFF,
            _ => !0,
        }
    }
    fn io_write(&mut self, _port: u16, _size: u8, _value: u32) {}
}
