//! The 82093AA I/O APIC: 24 interrupt input pins, each with a redirection-table entry
//! that turns an asserted pin into an interrupt message for the local APICs.
//!
//! Registers are reached through a 32-byte MMIO window ([`IOAPIC_BASE`]): IOREGSEL at
//! offset 0x00 selects a register, IOWIN at 0x10 reads or writes it. Registers: ID (0x00,
//! bits 24–27), version (0x01, [`IOAPIC_VERSION`]: version 0x11, 24 entries), arbitration
//! ID (0x02), and the redirection table from 0x10, two registers per pin (low dword:
//! vector, delivery mode, destination mode, delivery status, polarity, remote IRR,
//! trigger mode, mask; high dword: destination in bits 24–31).
//!
//! Pins: [`IoApic::set_pin`] gives a pin's electrical level. A pin is asserted when its
//! level differs from its polarity bit (active low inverts). Edge-triggered pins send one
//! message per assertion (an edge while masked is lost, as on the chip); level-triggered
//! pins send while asserted and unmasked with the remote IRR clear, set the remote IRR,
//! and send again after the local APIC's EOI for their vector ([`IoApic::eoi`]) if they
//! are still asserted. The device never calls a CPU or a local APIC: the machine takes
//! the messages with [`IoApic::take_message`] and reports whether one was accepted.

/// The default physical address of the register window.
pub const IOAPIC_BASE: u32 = 0xFEC0_0000;
/// Size of the register window the chip decodes.
pub const IOAPIC_SIZE: u32 = 0x20;
/// Input pins.
pub const IOAPIC_PINS: usize = 24;
/// The version register: version 0x11, maximum redirection entry 23.
pub const IOAPIC_VERSION: u32 = 0x0017_0011;
/// Offset of IOREGSEL.
pub const IOREGSEL: u32 = 0x00;
/// Offset of IOWIN.
pub const IOWIN: u32 = 0x10;

/// Redirection entry fields (low dword).
pub mod redir {
    /// Vector.
    pub const VECTOR: u64 = 0xFF;
    /// Delivery mode (bits 8–10, as the local APIC's).
    pub const DELIVERY_MODE: u64 = 7 << 8;
    /// Destination mode: logical.
    pub const LOGICAL: u64 = 1 << 11;
    /// Delivery status (read only): a message is waiting to be accepted.
    pub const SEND_PENDING: u64 = 1 << 12;
    /// Polarity: active low.
    pub const ACTIVE_LOW: u64 = 1 << 13;
    /// Remote IRR (read only): a level interrupt accepted and not yet ended.
    pub const REMOTE_IRR: u64 = 1 << 14;
    /// Trigger mode: level.
    pub const LEVEL: u64 = 1 << 15;
    /// Mask.
    pub const MASKED: u64 = 1 << 16;
    /// The bits software writes in the low dword.
    pub const WRITABLE_LOW: u64 = VECTOR | DELIVERY_MODE | LOGICAL | ACTIVE_LOW | LEVEL | MASKED;
}

/// An interrupt message from a pin, for the local APICs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IoApicMessage {
    /// The pin that sent it.
    pub pin: u8,
    /// The vector.
    pub vector: u8,
    /// Delivery mode (`lapic::lvt::MODE_*`).
    pub mode: u32,
    /// Destination field.
    pub dest: u8,
    /// Logical destination mode.
    pub logical: bool,
    /// Level-triggered.
    pub level: bool,
}

/// The I/O APIC.
#[derive(Debug, Clone)]
pub struct IoApic {
    id: u8,
    select: u8,
    table: [u64; IOAPIC_PINS],
    /// Pin levels as wired (bit n = pin n high).
    levels: u32,
    /// Pins with a message to send (edge seen, or level asserted).
    pending: u32,
}

impl Default for IoApic {
    fn default() -> Self {
        Self::new()
    }
}

impl IoApic {
    /// The chip at power-on: ID 0, every entry masked.
    pub fn new() -> Self {
        IoApic { id: 0, select: 0, table: [redir::MASKED; IOAPIC_PINS], levels: 0, pending: 0 }
    }

    /// Back to the power-on state (pin levels are kept: they are wires).
    pub fn reset(&mut self) {
        let levels = self.levels;
        *self = IoApic::new();
        self.levels = levels;
    }

    fn asserted(&self, pin: usize) -> bool {
        let high = self.levels & (1 << pin) != 0;
        high != (self.table[pin] & redir::ACTIVE_LOW != 0)
    }

    /// Re-evaluates a level-triggered pin: pending while asserted, unmasked, remote IRR
    /// clear.
    fn update_level(&mut self, pin: usize) {
        let e = self.table[pin];
        if e & redir::LEVEL == 0 {
            return;
        }
        if self.asserted(pin) && e & (redir::MASKED | redir::REMOTE_IRR) == 0 {
            self.pending |= 1 << pin;
        } else {
            self.pending &= !(1 << pin);
        }
    }

    /// Sets the electrical level of `pin` (pins past 23 are ignored).
    pub fn set_pin(&mut self, pin: u8, high: bool) {
        let pin = pin as usize;
        if pin >= IOAPIC_PINS {
            return;
        }
        let was = self.asserted(pin);
        if high {
            self.levels |= 1 << pin;
        } else {
            self.levels &= !(1 << pin);
        }
        let now = self.asserted(pin);
        if self.table[pin] & redir::LEVEL != 0 {
            self.update_level(pin);
        } else if now && !was && self.table[pin] & redir::MASKED == 0 {
            self.pending |= 1 << pin;
        }
    }

    /// Whether a message waits to be taken.
    pub fn has_message(&self) -> bool {
        self.pending != 0
    }

    /// Whether `pin`'s entry is unmasked.
    pub fn pin_unmasked(&self, pin: u8) -> bool {
        self.table.get(pin as usize).is_some_and(|e| e & redir::MASKED == 0)
    }

    /// The next message to send (lowest pin first), left pending until
    /// [`IoApic::delivered`] reports it sent.
    pub fn take_message(&self) -> Option<IoApicMessage> {
        if self.pending == 0 {
            return None;
        }
        Some(self.message(self.pending.trailing_zeros() as usize))
    }

    fn message(&self, pin: usize) -> IoApicMessage {
        let e = self.table[pin];
        IoApicMessage {
            pin: pin as u8,
            vector: e as u8,
            mode: ((e & redir::DELIVERY_MODE) >> 8) as u32,
            dest: (e >> 56) as u8,
            logical: e & redir::LOGICAL != 0,
            level: e & redir::LEVEL != 0,
        }
    }

    /// The message from `pin` was sent: `accepted` when a local APIC took it (a
    /// level-triggered pin then waits for the EOI with its remote IRR set). A message no
    /// APIC accepted is dropped for an edge and tried again for a level.
    pub fn delivered(&mut self, pin: u8, accepted: bool) {
        let pin = pin as usize % IOAPIC_PINS;
        if self.table[pin] & redir::LEVEL != 0 {
            if accepted {
                self.table[pin] |= redir::REMOTE_IRR;
                self.pending &= !(1 << pin);
            }
        } else {
            self.pending &= !(1 << pin);
        }
    }

    /// Offers every pending message once, lowest pin first, to `send`, which returns
    /// whether a local APIC accepted it (see [`IoApic::delivered`]).
    pub fn deliver_pending(&mut self, mut send: impl FnMut(IoApicMessage) -> bool) {
        let mut left = self.pending;
        while left != 0 {
            let pin = left.trailing_zeros() as usize;
            left &= left - 1;
            let accepted = send(self.message(pin));
            self.delivered(pin as u8, accepted);
        }
    }

    /// A local APIC's EOI broadcast for `vector`: clears the remote IRR of the
    /// level-triggered entries with that vector; still-asserted pins send again.
    pub fn eoi(&mut self, vector: u8) {
        for pin in 0..IOAPIC_PINS {
            let e = self.table[pin];
            if e & redir::REMOTE_IRR != 0 && e as u8 == vector {
                self.table[pin] &= !redir::REMOTE_IRR;
                self.update_level(pin);
            }
        }
    }

    /// Reads the window at `offset` (IOREGSEL or IOWIN; `size` bytes of it).
    pub fn read(&mut self, offset: u32, size: u8) -> u32 {
        let v = match offset & !3 {
            IOREGSEL => self.select as u32,
            IOWIN => self.read_register(self.select),
            _ => 0,
        };
        let v = v >> (8 * (offset & 3));
        match size {
            1 => v & 0xFF,
            2 => v & 0xFFFF,
            _ => v,
        }
    }

    /// Writes the window at `offset` (a narrower write lands in its part of the dword).
    pub fn write(&mut self, offset: u32, _size: u8, value: u32) {
        let v = value << (8 * (offset & 3));
        match offset & !3 {
            IOREGSEL => self.select = v as u8,
            IOWIN => self.write_register(self.select, v),
            _ => {}
        }
    }

    fn read_register(&self, index: u8) -> u32 {
        match index {
            0x00 => (self.id as u32) << 24,
            0x01 => IOAPIC_VERSION,
            0x02 => (self.id as u32) << 24,
            i @ 0x10..=0x3F => {
                let pin = (i as usize - 0x10) / 2;
                let mut e = self.table[pin];
                if self.pending & (1 << pin) != 0 {
                    e |= redir::SEND_PENDING;
                }
                if i & 1 == 0 {
                    e as u32
                } else {
                    (e >> 32) as u32
                }
            }
            _ => 0,
        }
    }

    fn write_register(&mut self, index: u8, v: u32) {
        match index {
            0x00 => self.id = (v >> 24) as u8 & 0x0F,
            i @ 0x10..=0x3F => {
                let pin = (i as usize - 0x10) / 2;
                let e = &mut self.table[pin];
                if i & 1 == 0 {
                    let keep = *e & !redir::WRITABLE_LOW;
                    *e = keep | (v as u64 & redir::WRITABLE_LOW);
                    if *e & redir::LEVEL == 0 {
                        // An edge-triggered entry has no remote IRR.
                        *e &= !redir::REMOTE_IRR;
                        if *e & redir::MASKED != 0 {
                            self.pending &= !(1 << pin);
                        }
                    }
                    self.update_level(pin);
                } else {
                    *e = (*e & 0xFFFF_FFFF) | ((v as u64 & 0xFF00_0000) << 32);
                }
            }
            // Version and arbitration ID are read only.
            _ => {}
        }
    }
}

#[cfg(test)]
#[path = "ioapic_tests.rs"]
mod tests;
