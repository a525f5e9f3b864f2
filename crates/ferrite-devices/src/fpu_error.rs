//! The PC's coprocessor-error latch: the x87's FERR# output raises IRQ 13 through the
//! chipset, and a write to port 0xF0 (which drives IGNNE#) clears the request until the
//! next error. DOS-era software that runs with CR0.NE clear relies on it; with CR0.NE set
//! the CPU reports x87 errors as #MF instead and the OS leaves IRQ 13 masked.
//!
//! The device knows nothing of the CPU: the machine tells it the FERR# level.

use crate::{IrqLine, PortDevice};
use std::ops::RangeInclusive;

/// Writing any value here clears the IRQ 13 request ("clear busy latch").
pub const FPU_CLEAR_BUSY: u16 = 0xF0;
/// Writing any value here resets the coprocessor interface (treated as a clear as well).
pub const FPU_RESET: u16 = 0xF1;

/// The latch between FERR# and IRQ 13.
#[derive(Debug)]
pub struct FpuErrorLatch<I: IrqLine> {
    irq: I,
    ferr: bool,
    requesting: bool,
}

/// The latch's state, for snapshots.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FpuErrorState {
    /// The FERR# level last seen.
    pub ferr: bool,
    /// Whether IRQ 13 is being requested.
    pub requesting: bool,
}

impl<I: IrqLine> FpuErrorLatch<I> {
    /// A latch with FERR# inactive, driving `irq`.
    pub fn new(irq: I) -> Self {
        FpuErrorLatch { irq, ferr: false, requesting: false }
    }

    /// The FERR# level (the x87 has an unmasked exception pending). A rising level
    /// requests IRQ 13; a falling one withdraws it.
    pub fn set_ferr(&mut self, level: bool) {
        if level && !self.ferr {
            self.set_request(true);
        } else if !level && self.ferr {
            self.set_request(false);
        }
        self.ferr = level;
    }

    /// The state, for snapshots.
    pub fn state(&self) -> FpuErrorState {
        FpuErrorState { ferr: self.ferr, requesting: self.requesting }
    }

    fn set_request(&mut self, on: bool) {
        self.requesting = on;
        self.irq.set(on);
    }
}

impl<I: IrqLine> PortDevice for FpuErrorLatch<I> {
    fn ports(&self) -> Vec<RangeInclusive<u16>> {
        vec![FPU_CLEAR_BUSY..=FPU_RESET]
    }

    fn read(&mut self, _port: u16, _size: u8) -> u32 {
        0xFF
    }

    fn write(&mut self, _port: u16, _size: u8, _value: u32) {
        // The handler acknowledges the error: drop the request until FERR# rises again.
        self.set_request(false);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;
    use std::rc::Rc;

    #[derive(Debug, Clone, Default)]
    struct Line(Rc<Cell<bool>>);

    impl IrqLine for Line {
        fn set(&self, level: bool) {
            self.0.set(level);
        }
    }

    #[test]
    fn test_ferr_rising_requests_irq13_and_port_f0_clears_it() {
        let line = Line::default();
        let mut latch = FpuErrorLatch::new(line.clone());
        latch.set_ferr(true);
        assert!(line.0.get());
        latch.write(FPU_CLEAR_BUSY, 1, 0);
        assert!(!line.0.get(), "IGNNE write acknowledges");
        latch.set_ferr(true);
        assert!(!line.0.get(), "no new request while the same error stays pending");
        latch.set_ferr(false);
        latch.set_ferr(true);
        assert!(line.0.get(), "the next error requests again");
    }

    #[test]
    fn test_ferr_falling_withdraws_the_request() {
        let line = Line::default();
        let mut latch = FpuErrorLatch::new(line.clone());
        latch.set_ferr(true);
        latch.set_ferr(false);
        assert!(!line.0.get());
        assert_eq!(latch.state(), FpuErrorState { ferr: false, requesting: false });
    }
}
