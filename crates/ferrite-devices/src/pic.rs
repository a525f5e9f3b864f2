//! The 8259A programmable interrupt controller, as the PC/AT cascades two of them: the
//! master at ports 0x20/0x21 takes IRQ 0–7, the slave at 0xA0/0xA1 takes IRQ 8–15 and
//! drives the master's IR2. The edge/level control registers (ELCR) of PIIX-class chipsets
//! sit at 0x4D0 (master) and 0x4D1 (slave).
//!
//! Modelled from the 8259A data sheet: the initialisation sequence ICW1–ICW4, OCW1 (the
//! mask), OCW2 (non-specific, specific and rotating EOIs, set priority, rotate in auto-EOI
//! mode), OCW3 (read IRR/ISR, poll, special mask mode); edge- and level-triggered inputs;
//! auto-EOI; special fully nested mode; spurious IR7 when a request vanishes before the
//! acknowledge. Buffered mode and the 8080 call format are accepted and ignored.
//!
//! Devices never touch the PIC: the board drives its inputs with [`DualPic::set_irq`] from
//! the lines devices raise, and answers the CPU's INTR/INTA with [`DualPic::intr`] and
//! [`DualPic::ack`].

use crate::PortDevice;
use std::ops::RangeInclusive;

/// Master command port (ICW1, OCW2, OCW3; reads IRR/ISR/poll).
pub const MASTER_CMD: u16 = 0x20;
/// Master data port (ICW2–4, OCW1; reads IMR).
pub const MASTER_DATA: u16 = 0x21;
/// Slave command port.
pub const SLAVE_CMD: u16 = 0xA0;
/// Slave data port.
pub const SLAVE_DATA: u16 = 0xA1;
/// Edge/level control register for IRQ 0–7.
pub const ELCR_MASTER: u16 = 0x4D0;
/// Edge/level control register for IRQ 8–15.
pub const ELCR_SLAVE: u16 = 0x4D1;
/// The master input the slave is wired to.
pub const CASCADE_IRQ: u8 = 2;

/// ICW1: this write starts initialisation (bit 4 of a command-port write).
const ICW1_INIT: u8 = 0x10;
/// ICW1: ICW4 follows.
const ICW1_IC4: u8 = 0x01;
/// ICW1: single (no cascade, so no ICW3).
const ICW1_SNGL: u8 = 0x02;
/// ICW1: level-triggered mode for every input.
const ICW1_LTIM: u8 = 0x08;
/// ICW4: automatic end of interrupt.
const ICW4_AEOI: u8 = 0x02;
/// ICW4: special fully nested mode.
const ICW4_SFNM: u8 = 0x10;
/// A command-port write with bit 3 set (and bit 4 clear) is OCW3.
const OCW3_SELECT: u8 = 0x08;
/// OCW3: poll command.
const OCW3_POLL: u8 = 0x04;
/// OCW3: the read-register command is valid (RR).
const OCW3_RR: u8 = 0x02;
/// OCW3: read the ISR (RIS) rather than the IRR.
const OCW3_RIS: u8 = 0x01;
/// OCW3: the special-mask bit is valid (ESMM).
const OCW3_ESMM: u8 = 0x40;
/// OCW3: special mask mode on (SMM).
const OCW3_SMM: u8 = 0x20;
/// OCW2: the command field (R, SL, EOI).
const OCW2_CMD_MASK: u8 = 0xE0;
/// OCW2: the level field.
const OCW2_LEVEL_MASK: u8 = 0x07;
/// OCW2 commands.
const OCW2_NONSPECIFIC_EOI: u8 = 0x20;
const OCW2_SPECIFIC_EOI: u8 = 0x60;
const OCW2_ROTATE_NONSPECIFIC_EOI: u8 = 0xA0;
const OCW2_SET_ROTATE_AEOI: u8 = 0x80;
const OCW2_CLEAR_ROTATE_AEOI: u8 = 0x00;
const OCW2_ROTATE_SPECIFIC_EOI: u8 = 0xE0;
const OCW2_SET_PRIORITY: u8 = 0xC0;
/// A poll answer's "interrupt present" bit.
const POLL_INT: u8 = 0x80;
/// The IR level used for a spurious interrupt.
const SPURIOUS_IRQ: u8 = 7;
/// ELCR bits that may be set: IRQ 0, 1 and 2 are always edge-triggered.
pub const ELCR_MASTER_WRITABLE: u8 = 0xF8;
/// ELCR bits that may be set: IRQ 8 and 13 are always edge-triggered.
pub const ELCR_SLAVE_WRITABLE: u8 = 0xDE;

/// Where the initialisation sequence stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InitStep {
    /// Initialised: data-port writes are OCW1.
    #[default]
    Ready,
    /// The next data-port write is ICW2.
    Icw2,
    /// The next data-port write is ICW3.
    Icw3,
    /// The next data-port write is ICW4.
    Icw4,
}

/// One 8259A. The whole struct is its state (plain data, `Clone` to snapshot).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Pic8259 {
    /// Interrupt request register.
    pub irr: u8,
    /// In-service register.
    pub isr: u8,
    /// Interrupt mask register (OCW1).
    pub imr: u8,
    /// The input levels last seen (for edge detection).
    pub lines: u8,
    /// Per-input level-trigger bits (the ELCR).
    pub elcr: u8,
    /// Which ELCR bits the guest may set.
    pub elcr_writable: u8,
    /// ICW1 LTIM: every input level-triggered.
    pub ltim: bool,
    /// Vector of IR0 (ICW2, low 3 bits clear).
    pub vector_base: u8,
    /// ICW3 as written (slave mask on a master, ID on a slave).
    pub icw3: u8,
    /// Initialisation progress.
    pub init: InitStep,
    /// ICW1 said an ICW4 follows.
    pub icw4_expected: bool,
    /// ICW1 single mode.
    pub single: bool,
    /// ICW4 auto-EOI.
    pub auto_eoi: bool,
    /// Rotate priorities on auto-EOI (OCW2 R=1 SL=0 EOI=0).
    pub rotate_on_aeoi: bool,
    /// ICW4 special fully nested mode.
    pub sfnm: bool,
    /// OCW3 special mask mode.
    pub special_mask: bool,
    /// OCW3: command-port reads return the ISR (else the IRR).
    pub read_isr: bool,
    /// OCW3 poll: the next command-port read is a poll.
    pub poll: bool,
    /// The IR level with the highest priority (0 unless rotated).
    pub highest: u8,
    /// Is this the master (its IR2 carries the slave)?
    pub is_master: bool,
}

impl Pic8259 {
    /// A chip at power-on (vector base 0, everything unmasked until initialised).
    pub fn new(is_master: bool) -> Self {
        let elcr_writable = if is_master { ELCR_MASTER_WRITABLE } else { ELCR_SLAVE_WRITABLE };
        Pic8259 { is_master, elcr_writable, ..Default::default() }
    }

    /// Priority rank of `irq`: 0 is the highest.
    fn rank(&self, irq: u8) -> u8 {
        irq.wrapping_sub(self.highest) & 7
    }

    /// The highest-priority set bit of `bits`, if any.
    fn top(&self, bits: u8) -> Option<u8> {
        (0..8).map(|r| (self.highest + r) & 7).find(|&irq| bits & (1 << irq) != 0)
    }

    /// Whether `irq` is level-triggered.
    pub fn is_level(&self, irq: u8) -> bool {
        self.ltim || self.elcr & (1 << irq) != 0
    }

    /// Drives input `irq` (0–7) to `level`.
    pub fn set_irq(&mut self, irq: u8, level: bool) {
        let bit = 1u8 << (irq & 7);
        if self.is_level(irq & 7) {
            if level {
                self.irr |= bit;
            } else {
                self.irr &= !bit;
            }
        } else if level && self.lines & bit == 0 {
            self.irr |= bit;
        }
        if level {
            self.lines |= bit;
        } else {
            self.lines &= !bit;
        }
    }

    /// The request that would be delivered now: the highest-priority unmasked IRR bit that
    /// outranks everything in service (in special mask mode, masked in-service levels do
    /// not count; in special fully nested mode the cascade input may nest on itself).
    pub fn pending(&self) -> Option<u8> {
        let req = self.top(self.irr & !self.imr)?;
        let in_service = if self.special_mask { self.isr & !self.imr } else { self.isr };
        match self.top(in_service) {
            None => Some(req),
            Some(cur) if self.rank(req) < self.rank(cur) => Some(req),
            Some(cur) if self.sfnm && self.is_master && cur == CASCADE_IRQ && req == CASCADE_IRQ => Some(req),
            Some(_) => None,
        }
    }

    /// The INT output.
    pub fn int_output(&self) -> bool {
        self.pending().is_some()
    }

    /// The acknowledge of `irq` (which [`Pic8259::pending`] returned): IRR → ISR, or
    /// straight through with auto-EOI.
    fn accept(&mut self, irq: u8) {
        let bit = 1u8 << irq;
        if !self.is_level(irq) {
            self.irr &= !bit;
        }
        if self.auto_eoi {
            if self.rotate_on_aeoi {
                self.highest = (irq + 1) & 7;
            }
        } else {
            self.isr |= bit;
        }
    }

    /// A full INTA on a chip that is not cascading: the vector of the pending request, or
    /// the spurious IR7 vector when none is pending.
    pub fn ack(&mut self) -> u8 {
        match self.pending() {
            Some(irq) => {
                self.accept(irq);
                self.vector_base | irq
            }
            None => self.vector_base | SPURIOUS_IRQ,
        }
    }

    /// A poll: `0x80 | level` (acknowledging it) or 0.
    fn poll_read(&mut self) -> u8 {
        match self.pending() {
            Some(irq) => {
                self.accept(irq);
                POLL_INT | irq
            }
            None => 0,
        }
    }

    /// Clears the highest-priority in-service bit; returns which.
    fn eoi_nonspecific(&mut self) -> Option<u8> {
        let irq = self.top(self.isr)?;
        self.isr &= !(1 << irq);
        Some(irq)
    }

    /// A write to the command port (ICW1, OCW2 or OCW3).
    pub fn write_command(&mut self, value: u8) {
        if value & ICW1_INIT != 0 {
            // Initialisation resets the edge sense (a line already high must fall and rise
            // again), masks, in-service bits, special mask and rotation.
            self.irr &= self.lines & if self.ltim { 0xFF } else { self.elcr };
            self.isr = 0;
            self.imr = 0;
            self.ltim = value & ICW1_LTIM != 0;
            self.single = value & ICW1_SNGL != 0;
            self.icw4_expected = value & ICW1_IC4 != 0;
            self.auto_eoi = false;
            self.sfnm = false;
            self.special_mask = false;
            self.rotate_on_aeoi = false;
            self.read_isr = false;
            self.poll = false;
            self.highest = 0;
            self.init = InitStep::Icw2;
        } else if value & OCW3_SELECT != 0 {
            if value & OCW3_POLL != 0 {
                self.poll = true;
            }
            if value & OCW3_RR != 0 {
                self.read_isr = value & OCW3_RIS != 0;
            }
            if value & OCW3_ESMM != 0 {
                self.special_mask = value & OCW3_SMM != 0;
            }
        } else {
            let level = value & OCW2_LEVEL_MASK;
            match value & OCW2_CMD_MASK {
                OCW2_NONSPECIFIC_EOI => {
                    self.eoi_nonspecific();
                }
                OCW2_SPECIFIC_EOI => self.isr &= !(1 << level),
                OCW2_ROTATE_NONSPECIFIC_EOI => {
                    if let Some(irq) = self.eoi_nonspecific() {
                        self.highest = (irq + 1) & 7;
                    }
                }
                OCW2_ROTATE_SPECIFIC_EOI => {
                    self.isr &= !(1 << level);
                    self.highest = (level + 1) & 7;
                }
                OCW2_SET_PRIORITY => self.highest = (level + 1) & 7,
                OCW2_SET_ROTATE_AEOI => self.rotate_on_aeoi = true,
                OCW2_CLEAR_ROTATE_AEOI => self.rotate_on_aeoi = false,
                _ => {} // 0x40: no operation
            }
        }
    }

    /// A write to the data port (ICW2–4 during initialisation, else OCW1).
    pub fn write_data(&mut self, value: u8) {
        self.init = match self.init {
            InitStep::Ready => {
                self.imr = value;
                InitStep::Ready
            }
            InitStep::Icw2 => {
                self.vector_base = value & 0xF8;
                match (self.single, self.icw4_expected) {
                    (false, _) => InitStep::Icw3,
                    (true, true) => InitStep::Icw4,
                    (true, false) => InitStep::Ready,
                }
            }
            InitStep::Icw3 => {
                self.icw3 = value;
                if self.icw4_expected {
                    InitStep::Icw4
                } else {
                    InitStep::Ready
                }
            }
            InitStep::Icw4 => {
                self.auto_eoi = value & ICW4_AEOI != 0;
                self.sfnm = value & ICW4_SFNM != 0;
                InitStep::Ready
            }
        };
    }

    /// A read of the command port: a poll answer, or the IRR or ISR.
    pub fn read_command(&mut self) -> u8 {
        if std::mem::take(&mut self.poll) {
            return self.poll_read();
        }
        if self.read_isr {
            self.isr
        } else {
            self.irr
        }
    }

    /// A read of the data port: the IMR (a pending poll is answered here too).
    pub fn read_data(&mut self) -> u8 {
        if std::mem::take(&mut self.poll) {
            return self.poll_read();
        }
        self.imr
    }
}

/// The PC/AT pair: master and slave, the slave's INT wired to the master's IR2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DualPic {
    /// IRQ 0–7.
    pub master: Pic8259,
    /// IRQ 8–15.
    pub slave: Pic8259,
}

impl Default for DualPic {
    fn default() -> Self {
        Self::new()
    }
}

impl DualPic {
    /// Both chips at power-on.
    pub fn new() -> Self {
        DualPic { master: Pic8259::new(true), slave: Pic8259::new(false) }
    }

    /// A snapshot of both chips.
    pub fn state(&self) -> DualPic {
        self.clone()
    }

    /// Back to power-on, keeping the input levels and the ELCR (which ICW1 does not touch).
    pub fn reset(&mut self) {
        let (ml, sl, me, se) = (self.master.lines, self.slave.lines, self.master.elcr, self.slave.elcr);
        *self = DualPic::new();
        self.master.lines = ml;
        self.slave.lines = sl;
        self.master.elcr = me;
        self.slave.elcr = se;
        self.cascade();
    }

    /// Copies the slave's INT output onto the master's IR2. The master sees the cascade
    /// input as a level: a slave request that goes away (a level-triggered line dropped,
    /// a mask set) withdraws the master's request too.
    fn cascade(&mut self) {
        let bit = 1u8 << CASCADE_IRQ;
        if self.slave.int_output() {
            self.master.irr |= bit;
            self.master.lines |= bit;
        } else {
            self.master.irr &= !bit;
            self.master.lines &= !bit;
        }
    }

    /// Drives ISA IRQ `irq` (0–15) to `level`. IRQ 2 is the cascade and cannot be driven.
    pub fn set_irq(&mut self, irq: u8, level: bool) {
        match irq {
            0..=7 if irq != CASCADE_IRQ => self.master.set_irq(irq, level),
            8..=15 => {
                self.slave.set_irq(irq - 8, level);
                self.cascade();
            }
            _ => {}
        }
    }

    /// Whether the master's INT output (the CPU's INTR pin) is asserted.
    pub fn intr(&self) -> bool {
        self.master.int_output()
    }

    /// The INTA cycle: the vector of the highest-priority request, routed through the
    /// slave when the master picks its cascade input. With nothing pending (the request
    /// went away) the master's — or the slave's — spurious IR7 vector.
    pub fn ack(&mut self) -> u8 {
        let vector = match self.master.pending() {
            Some(CASCADE_IRQ) if !self.master.single => {
                self.master.accept(CASCADE_IRQ);
                self.slave.ack()
            }
            _ => self.master.ack(),
        };
        self.cascade();
        vector
    }
}

impl PortDevice for DualPic {
    fn ports(&self) -> Vec<RangeInclusive<u16>> {
        vec![MASTER_CMD..=MASTER_DATA, SLAVE_CMD..=SLAVE_DATA, ELCR_MASTER..=ELCR_SLAVE]
    }

    fn read(&mut self, port: u16, _size: u8) -> u32 {
        let v = match port {
            MASTER_CMD => self.master.read_command(),
            MASTER_DATA => self.master.read_data(),
            SLAVE_CMD => self.slave.read_command(),
            SLAVE_DATA => self.slave.read_data(),
            ELCR_MASTER => self.master.elcr,
            ELCR_SLAVE => self.slave.elcr,
            _ => 0xFF,
        };
        self.cascade();
        v as u32
    }

    fn write(&mut self, port: u16, _size: u8, value: u32) {
        let v = value as u8;
        match port {
            MASTER_CMD => self.master.write_command(v),
            MASTER_DATA => self.master.write_data(v),
            SLAVE_CMD => self.slave.write_command(v),
            SLAVE_DATA => self.slave.write_data(v),
            ELCR_MASTER => self.master.elcr = v & self.master.elcr_writable,
            ELCR_SLAVE => self.slave.elcr = v & self.slave.elcr_writable,
            _ => {}
        }
        self.cascade();
    }
}

#[cfg(test)]
#[path = "pic_tests.rs"]
mod tests;
