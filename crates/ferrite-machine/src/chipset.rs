//! The PC chipset core on the board: the 8259A pair, the 8254 and port 0x61, the RTC, the
//! 8042 and port 0x92, as one entry on the port bus, plus the glue that the devices
//! themselves must not contain:
//!
//! - **IRQ routing.** The chipset devices raise their lines through their own
//!   [`IrqLines`], which records levels *and* rising edges (a timer's output can rise and
//!   fall again between two looks, and the PIC's edge detection must still see it); the
//!   other board devices drive the board's. [`Chipset::sync_irqs`] feeds both into the PIC pair, whose
//!   INT output is the CPU's INTR pin. PIT counter 0 → IRQ 0, 8042 → IRQ 1 and 12, RTC →
//!   IRQ 8, the x87's FERR# (which the machine reads off the CPU between slices) → the
//!   coprocessor-error latch → IRQ 13, cleared by a write to port 0xF0. The same levels
//!   and edges reach the I/O APIC ([`Chipset::ioapic`], pins as `crate::apic` maps them).
//! - **Time.** The machine hands the virtual time to [`Chipset::set_now`] between slices
//!   and asks [`Chipset::next_deadline`] how long the next slice may run. A read of a
//!   time-dependent port (PIT, 0x61, RTC) asks the CPU to return to the run loop after the
//!   instruction, so the next read sees the time brought up to date.
//! - **A20 and reset.** The 8042's output port and port 0x92 are ORed into the A20 gate;
//!   either one's reset request becomes a machine reset. Both are flags the run loop takes.

use crate::irq::{BoardIrq, IrqLines, IRQ_FPU, IRQ_KEYBOARD, IRQ_MOUSE, IRQ_PIT, IRQ_RTC, ISA_IRQ_COUNT};
use ferrite_devices::fpu_error::{FpuErrorLatch, FPU_CLEAR_BUSY, FPU_RESET};
use ferrite_devices::i8042::{I8042, KBC_CMD, KBC_DATA};
use ferrite_devices::ioapic::IoApic;
use ferrite_devices::pic::{DualPic, ELCR_MASTER, ELCR_SLAVE, MASTER_CMD, MASTER_DATA, SLAVE_CMD, SLAVE_DATA};
use ferrite_devices::pit::{Pit, PIT_CONTROL, PIT_COUNTER0, PORT_B};
use ferrite_devices::port92::{Port92, PORT92};
use ferrite_devices::rtc::{cmos_memory_fields, Rtc, RTC_DATA, RTC_INDEX};
use ferrite_devices::{PortDevice, Timed};
use std::ops::RangeInclusive;

/// The chipset devices and their glue.
pub struct Chipset {
    /// The interrupt controllers.
    pub pic: DualPic,
    /// The interval timer and port 0x61.
    pub pit: Pit<BoardIrq>,
    /// The RTC and CMOS.
    pub rtc: Rtc<BoardIrq>,
    /// The keyboard controller.
    pub kbc: I8042<BoardIrq>,
    /// Port 0x92.
    pub port92: Port92,
    /// FERR# → IRQ 13, acknowledged through port 0xF0.
    pub fpu_error: FpuErrorLatch<BoardIrq>,
    /// The I/O APIC, fed the same ISA lines as the PIC pair.
    pub ioapic: IoApic,
    /// The chipset devices' IRQ lines.
    lines: IrqLines,
    /// The line levels last given to the PIC.
    synced: u16,
    now_ns: u64,
    /// A time-dependent port was read: return to the run loop to bring time up to date.
    resync: bool,
    /// The A20 state last applied to memory.
    a20_applied: bool,
}

impl std::fmt::Debug for Chipset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Chipset").field("pic", &self.pic).field("now_ns", &self.now_ns).finish_non_exhaustive()
    }
}

impl Chipset {
    /// The chipset at power-on: the RTC reads `rtc_start_unix` at time 0 and its CMOS
    /// describes `ram_bytes` of RAM.
    pub fn new(rtc_start_unix: i64, ram_bytes: u64) -> Self {
        let lines = IrqLines::new();
        let line = |irq: u8| lines.line(irq);
        let mut rtc = Rtc::new(rtc_start_unix, line(IRQ_RTC));
        for (index, value) in cmos_memory_fields(ram_bytes, 0) {
            rtc.set_cmos(index, value);
        }
        let mut chipset = Chipset {
            pic: DualPic::new(),
            pit: Pit::new(line(IRQ_PIT)),
            rtc,
            kbc: I8042::new(line(IRQ_KEYBOARD), line(IRQ_MOUSE)),
            port92: Port92::new(),
            fpu_error: FpuErrorLatch::new(line(IRQ_FPU)),
            ioapic: IoApic::new(),
            lines,
            synced: 0,
            now_ns: 0,
            resync: false,
            a20_applied: true,
        };
        // The lines' power-on levels are where they start, not edges.
        chipset.sync_irqs(&IrqLines::new());
        chipset.pic.master.irr = 0;
        chipset.pic.slave.irr = 0;
        chipset
    }

    /// Brings the timed devices up to `now_ns` (virtual time never goes backwards).
    pub fn set_now(&mut self, now_ns: u64) {
        self.now_ns = self.now_ns.max(now_ns);
        self.pit.tick(self.now_ns);
        self.rtc.tick(self.now_ns);
        self.resync = false;
    }

    /// The earliest time a timed device will raise an interrupt that the PIC or the I/O
    /// APIC would pass on (its input is not masked there), if any.
    pub fn next_deadline(&self) -> Option<u64> {
        let unmasked = |irq: u8| {
            let (chip, cascade) =
                if irq < 8 { (&self.pic.master, true) } else { (&self.pic.slave, self.pic.master.imr & 0x04 == 0) };
            cascade && chip.imr & (1 << (irq & 7)) == 0 || self.ioapic.pin_unmasked(crate::apic::ioapic_pin(irq))
        };
        let pit = self.pit.next_deadline().filter(|_| unmasked(IRQ_PIT));
        let rtc = self.rtc.next_deadline().filter(|_| unmasked(IRQ_RTC));
        match (pit, rtc) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Feeds the line levels and latched rising edges (the chipset's own and `board`'s,
    /// the rest of the board's devices) into the PIC pair and the I/O APIC.
    pub fn sync_irqs(&mut self, board: &IrqLines) {
        let (own_levels, own_rises) = self.lines.take();
        let (board_levels, board_rises) = board.take();
        let (levels, rises) = (own_levels | board_levels, own_rises | board_rises);
        if rises == 0 && levels == self.synced {
            return;
        }
        for irq in 0..ISA_IRQ_COUNT {
            let bit = 1u16 << irq;
            let pin = crate::apic::ioapic_pin(irq);
            if rises & bit != 0 {
                self.pic.set_irq(irq, false);
                self.pic.set_irq(irq, true);
                self.ioapic.set_pin(pin, false);
                self.ioapic.set_pin(pin, true);
            }
            if (levels ^ self.synced) & bit != 0 || rises & bit != 0 {
                self.pic.set_irq(irq, levels & bit != 0);
                self.ioapic.set_pin(pin, levels & bit != 0);
            }
        }
        self.synced = levels;
    }

    /// The CPU's INTR pin as the PIC pair alone drives it (the board adds the APICs).
    #[cfg(test)]
    pub fn intr_pending(&mut self, board: &IrqLines) -> bool {
        self.sync_irqs(board);
        self.pic.intr()
    }

    /// The INTA cycle.
    pub fn intr_ack(&mut self, board: &IrqLines) -> u8 {
        self.sync_irqs(board);
        self.pic.ack()
    }

    /// The A20 gate the chipset asks for: the 8042's output port or port 0x92.
    pub fn a20(&self) -> bool {
        self.kbc.a20() || self.port92.a20()
    }

    /// The A20 gate changed since [`Chipset::take_a20_change`] last ran: the new state.
    pub fn take_a20_change(&mut self) -> Option<bool> {
        let a20 = self.a20();
        (a20 != self.a20_applied).then(|| {
            self.a20_applied = a20;
            a20
        })
    }

    /// Takes a reset request from the 8042 or port 0x92.
    pub fn take_reset(&mut self) -> bool {
        let kbc = self.kbc.take_reset();
        let p92 = self.port92.take_reset();
        kbc || p92
    }

    /// Whether the CPU should return to the run loop (time to resync, A20 or reset).
    pub fn wants_stop(&self) -> bool {
        self.resync || self.a20() != self.a20_applied || self.kbc.state().reset_request || self.port92.reset_request
    }

    /// The machine reset: the A20 sources back to their power-on state (A20 open).
    pub fn reset(&mut self) {
        self.kbc.reset_output_port();
        self.port92.reset();
        self.a20_applied = self.a20();
    }

    fn device(&mut self, port: u16) -> Option<&mut dyn PortDevice> {
        Some(match port {
            MASTER_CMD | MASTER_DATA | SLAVE_CMD | SLAVE_DATA | ELCR_MASTER | ELCR_SLAVE => &mut self.pic,
            PIT_COUNTER0..=PIT_CONTROL | PORT_B => &mut self.pit,
            RTC_INDEX | RTC_DATA => &mut self.rtc,
            KBC_DATA | KBC_CMD => &mut self.kbc,
            PORT92 => &mut self.port92,
            FPU_CLEAR_BUSY | FPU_RESET => &mut self.fpu_error,
            _ => return None,
        })
    }

    fn timed_port(port: u16) -> bool {
        matches!(port, PIT_COUNTER0..=PIT_CONTROL | PORT_B | RTC_DATA)
    }
}

impl PortDevice for Chipset {
    fn ports(&self) -> Vec<RangeInclusive<u16>> {
        vec![
            MASTER_CMD..=MASTER_DATA,
            PIT_COUNTER0..=PIT_CONTROL,
            KBC_DATA..=KBC_DATA,
            PORT_B..=PORT_B,
            KBC_CMD..=KBC_CMD,
            RTC_INDEX..=RTC_DATA,
            PORT92..=PORT92,
            SLAVE_CMD..=SLAVE_DATA,
            ELCR_MASTER..=ELCR_SLAVE,
            FPU_CLEAR_BUSY..=FPU_RESET,
        ]
    }

    fn read(&mut self, port: u16, size: u8) -> u32 {
        if Self::timed_port(port) {
            self.resync = true;
        }
        let v = self.device(port).map_or(0xFF, |d| d.read(port, size));
        v & 0xFF
    }

    fn write(&mut self, port: u16, size: u8, value: u32) {
        if let Some(d) = self.device(port) {
            d.write(port, size, value & 0xFF);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_chipset_pit_edge_reaches_pic_even_if_line_fell_again() {
        let mut c = Chipset::new(0, 16 << 20);
        for (port, v) in [(0x20, 0x11), (0x21, 0x08), (0x21, 0x04), (0x21, 0x01), (0x43, 0x30), (0x40, 10), (0x40, 0)] {
            c.write(port, 1, v);
        }
        assert!(!c.intr_pending(&IrqLines::new()));
        // Mode 0 terminal count, then a new control word drops OUT again before the sync.
        c.set_now(ferrite_devices::pit::ticks_to_ns(10));
        c.write(0x43, 1, 0x30);
        assert!(c.intr_pending(&IrqLines::new()));
        assert_eq!(c.intr_ack(&IrqLines::new()), 0x08);
    }

    #[test]
    fn test_chipset_a20_is_kbc_or_port92() {
        let mut c = Chipset::new(0, 16 << 20);
        assert!(c.a20());
        c.write(0x64, 1, 0xD1);
        c.write(0x60, 1, 0x01);
        assert!(c.wants_stop());
        assert_eq!(c.take_a20_change(), Some(false));
        c.write(0x92, 1, 0x02);
        assert_eq!(c.take_a20_change(), Some(true));
        assert!(!c.wants_stop());
        c.write(0x92, 1, 0x03);
        assert!(c.take_reset());
    }

    #[test]
    fn test_chipset_deadline_only_for_unmasked_timer() {
        let mut c = Chipset::new(0, 16 << 20);
        c.write(0x43, 1, 0x34);
        c.write(0x40, 1, 100);
        c.write(0x40, 1, 0);
        assert!(c.next_deadline().is_some());
        c.write(0x21, 1, 0x01);
        assert_eq!(c.next_deadline(), None);
    }
}
