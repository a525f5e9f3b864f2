//! A National Semiconductor 16550A UART, the serial port of every PC since the late 1980s
//! (COM1 at 0x3F8 on IRQ 4, COM2 at 0x2F8 on IRQ 3).
//!
//! The device has eight registers at `base + 0..=7`; with the divisor-latch access bit
//! (LCR.DLAB) set, offsets 0 and 1 are the baud-rate divisor instead of RBR/THR and IER:
//!
//! | offset | read | write |
//! |---|---|---|
//! | 0 | RBR (received byte) / DLL | THR (byte to send) / DLL |
//! | 1 | IER (interrupt enable) / DLM | IER / DLM |
//! | 2 | IIR (interrupt identification) | FCR (FIFO control) |
//! | 3 | LCR (line control) | LCR |
//! | 4 | MCR (modem control) | MCR |
//! | 5 | LSR (line status) | — |
//! | 6 | MSR (modem status) | — |
//! | 7 | SCR (scratch) | SCR |
//!
//! Transmission is instantaneous: a byte written to THR goes straight to the output sink
//! (or, in loopback mode, into the receive FIFO), so THR and the shifter are empty again
//! at once and LSR.THRE/TEMT always read 1. Received bytes come from the host through
//! [`Uart16550::receive`]; the machine feeds them only while [`Uart16550::rx_space`] says
//! there is room, so nothing the host typed is lost to an overrun.
//!
//! The sink may buffer (standard output is line-buffered, files go through a
//! `BufWriter`), and a guest's output often ends without a newline: a shell prompt, the
//! echo of a key. The machine therefore calls [`Uart16550::flush`] after every run slice;
//! it reaches the sink only when bytes went out since the previous flush, so it costs
//! nothing while the guest is quiet.
//!
//! Interrupts follow the 16550A's priorities, highest first: receiver line status (an
//! overrun or a break), received data (the FIFO reached its trigger level) or character
//! time-out, THR empty, modem status. The IRQ output is the "interrupt pending" state of
//! IIR, driven through an [`IrqLine`]; as in QEMU it is not gated by MCR.OUT2.
//!
//! The character time-out (data below the trigger level that nobody read for a while) is
//! approximated: the machine calls [`Uart16550::timeout_tick`] between run slices and on
//! every idle pass of a halted CPU, and a tick with data waiting and no FIFO activity
//! since the previous tick raises it.

use crate::{IrqLine, PortDevice};
use std::collections::VecDeque;
use std::io::Write;
use std::ops::RangeInclusive;

/// COM1's base port.
pub const COM1_BASE: u16 = 0x3F8;
/// COM2's base port.
pub const COM2_BASE: u16 = 0x2F8;
/// Registers (offsets from the base port).
pub const REG_COUNT: u16 = 8;
/// Depth of the transmit and receive FIFOs.
pub const FIFO_DEPTH: usize = 16;

/// Offset 0: RBR (read), THR (write), DLL with DLAB.
pub const RBR_THR: u16 = 0;
/// Offset 1: IER, DLM with DLAB.
pub const IER: u16 = 1;
/// Offset 2: IIR (read), FCR (write).
pub const IIR_FCR: u16 = 2;
/// Offset 3: LCR.
pub const LCR: u16 = 3;
/// Offset 4: MCR.
pub const MCR: u16 = 4;
/// Offset 5: LSR.
pub const LSR: u16 = 5;
/// Offset 6: MSR.
pub const MSR: u16 = 6;
/// Offset 7: SCR.
pub const SCR: u16 = 7;

/// IER: received data available (and character time-out).
pub const IER_RDA: u8 = 0x01;
/// IER: THR empty.
pub const IER_THRE: u8 = 0x02;
/// IER: receiver line status.
pub const IER_RLS: u8 = 0x04;
/// IER: modem status.
pub const IER_MS: u8 = 0x08;
const IER_MASK: u8 = 0x0F;

/// IIR: no interrupt pending.
pub const IIR_NO_INT: u8 = 0x01;
/// IIR identification: modem status.
pub const IIR_ID_MS: u8 = 0x00;
/// IIR identification: THR empty.
pub const IIR_ID_THRE: u8 = 0x02;
/// IIR identification: received data available.
pub const IIR_ID_RDA: u8 = 0x04;
/// IIR identification: receiver line status.
pub const IIR_ID_RLS: u8 = 0x06;
/// IIR identification: character time-out.
pub const IIR_ID_TIMEOUT: u8 = 0x0C;
/// IIR bits 6-7: FIFOs enabled.
pub const IIR_FIFO_ENABLED: u8 = 0xC0;

/// FCR: enable the FIFOs.
pub const FCR_ENABLE: u8 = 0x01;
/// FCR: clear the receive FIFO.
pub const FCR_CLEAR_RX: u8 = 0x02;
/// FCR: clear the transmit FIFO.
pub const FCR_CLEAR_TX: u8 = 0x04;
/// FCR bits 6-7: receive trigger level (1, 4, 8 or 14 bytes).
pub const FCR_TRIGGER_SHIFT: u8 = 6;
/// The receive trigger levels selected by FCR bits 6-7.
pub const TRIGGER_LEVELS: [usize; 4] = [1, 4, 8, 14];

/// LCR: divisor-latch access bit.
pub const LCR_DLAB: u8 = 0x80;
/// LCR: break control (the line is held low while set).
pub const LCR_BREAK: u8 = 0x40;

/// MCR: data terminal ready.
pub const MCR_DTR: u8 = 0x01;
/// MCR: request to send.
pub const MCR_RTS: u8 = 0x02;
/// MCR: OUT1.
pub const MCR_OUT1: u8 = 0x04;
/// MCR: OUT2 (on a PC, the IRQ output enable; not modelled).
pub const MCR_OUT2: u8 = 0x08;
/// MCR: loopback mode.
pub const MCR_LOOP: u8 = 0x10;
const MCR_MASK: u8 = 0x1F;

/// LSR: data ready.
pub const LSR_DR: u8 = 0x01;
/// LSR: overrun error.
pub const LSR_OE: u8 = 0x02;
/// LSR: parity error.
pub const LSR_PE: u8 = 0x04;
/// LSR: framing error.
pub const LSR_FE: u8 = 0x08;
/// LSR: break interrupt.
pub const LSR_BI: u8 = 0x10;
/// LSR: transmit holding register empty.
pub const LSR_THRE: u8 = 0x20;
/// LSR: transmitter empty (THR and shifter).
pub const LSR_TEMT: u8 = 0x40;
const LSR_ERRORS: u8 = LSR_OE | LSR_PE | LSR_FE | LSR_BI;

/// MSR: delta CTS.
pub const MSR_DCTS: u8 = 0x01;
/// MSR: delta DSR.
pub const MSR_DDSR: u8 = 0x02;
/// MSR: trailing edge of RI.
pub const MSR_TERI: u8 = 0x04;
/// MSR: delta DCD.
pub const MSR_DDCD: u8 = 0x08;
/// MSR: clear to send.
pub const MSR_CTS: u8 = 0x10;
/// MSR: data set ready.
pub const MSR_DSR: u8 = 0x20;
/// MSR: ring indicator.
pub const MSR_RI: u8 = 0x40;
/// MSR: data carrier detect.
pub const MSR_DCD: u8 = 0x80;
const MSR_DELTAS: u8 = MSR_DCTS | MSR_DDSR | MSR_TERI | MSR_DDCD;
/// The modem lines the host side reports outside loopback: a connected terminal.
const MSR_HOST_LINES: u8 = MSR_CTS | MSR_DSR | MSR_DCD;

/// The divisor after reset: 12, i.e. 9600 baud from the 1.8432 MHz clock.
pub const DEFAULT_DIVISOR: u16 = 12;

/// Everything the guest can see, as plain data (for snapshots and tests).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UartState {
    /// Divisor latch (DLM:DLL).
    pub divisor: u16,
    /// Interrupt enable register.
    pub ier: u8,
    /// Line control register.
    pub lcr: u8,
    /// Modem control register.
    pub mcr: u8,
    /// Line status error bits (OE/PE/FE/BI) not yet read.
    pub lsr_errors: u8,
    /// Modem status register (lines and deltas).
    pub msr: u8,
    /// Scratch register.
    pub scr: u8,
    /// Whether the FIFOs are enabled (FCR bit 0).
    pub fifo_enabled: bool,
    /// Receive trigger level in bytes.
    pub rx_trigger: usize,
    /// The receive FIFO (one byte deep with the FIFOs off).
    pub rx: VecDeque<u8>,
    /// A THR-empty interrupt is pending (cleared by reading IIR or writing THR).
    pub thre_pending: bool,
    /// A character time-out interrupt is pending (cleared by reading RBR).
    pub timeout_pending: bool,
    /// The receive FIFO was touched (byte in or out) since the last time-out tick.
    pub rx_activity: bool,
}

impl Default for UartState {
    fn default() -> Self {
        UartState {
            divisor: DEFAULT_DIVISOR,
            ier: 0,
            lcr: 0x03,
            mcr: 0,
            lsr_errors: 0,
            msr: MSR_HOST_LINES,
            scr: 0,
            fifo_enabled: false,
            rx_trigger: 1,
            rx: VecDeque::with_capacity(FIFO_DEPTH),
            thre_pending: false,
            timeout_pending: false,
            rx_activity: false,
        }
    }
}

/// A 16550A UART at `base..=base + 7` raising interrupts on `I`.
pub struct Uart16550<I: IrqLine> {
    base: u16,
    state: UartState,
    irq: I,
    irq_level: bool,
    sink: Option<Box<dyn Write + Send>>,
    /// Bytes went to the sink since it was last flushed.
    unflushed: bool,
}

impl<I: IrqLine> std::fmt::Debug for Uart16550<I> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Uart16550")
            .field("base", &self.base)
            .field("state", &self.state)
            .field("irq_level", &self.irq_level)
            .field("has_sink", &self.sink.is_some())
            .field("unflushed", &self.unflushed)
            .finish()
    }
}

impl<I: IrqLine> Uart16550<I> {
    /// A UART at `base` in its reset state, sending output to `sink` (`None` discards).
    pub fn new(base: u16, irq: I, sink: Option<Box<dyn Write + Send>>) -> Self {
        Uart16550 { base, state: UartState::default(), irq, irq_level: false, sink, unflushed: false }
    }

    /// Connects the output to another sink (`None` discards), e.g. once the host decided.
    pub fn set_sink(&mut self, sink: Option<Box<dyn Write + Send>>) {
        self.flush();
        self.sink = sink;
    }

    /// The base port.
    pub fn base(&self) -> u16 {
        self.base
    }

    /// The guest-visible state.
    pub fn state(&self) -> &UartState {
        &self.state
    }

    /// Replaces the guest-visible state (restoring a snapshot) and updates the IRQ line.
    pub fn set_state(&mut self, state: UartState) {
        self.state = state;
        self.update_irq();
    }

    /// Back to the power-on state (a hardware reset); the sink is kept.
    pub fn reset(&mut self) {
        self.state = UartState::default();
        self.update_irq();
    }

    /// The current level of the IRQ output.
    pub fn irq_level(&self) -> bool {
        self.irq_level
    }

    /// How many more bytes the receive FIFO takes before it overruns; 0 in loopback
    /// mode, where the receiver is disconnected from the outside.
    pub fn rx_space(&self) -> usize {
        if self.state.mcr & MCR_LOOP != 0 {
            return 0;
        }
        self.rx_capacity().saturating_sub(self.state.rx.len())
    }

    /// A byte arriving on the receive line. With the FIFO full it is lost and LSR.OE set.
    pub fn receive(&mut self, byte: u8) {
        self.push_rx(byte);
        self.update_irq();
    }

    /// Raises the character time-out when received data has sat below the trigger level
    /// with no FIFO activity since the previous tick. The machine calls it between slices
    /// and while the CPU idles in HLT.
    pub fn timeout_tick(&mut self) {
        let s = &mut self.state;
        if s.fifo_enabled && !s.rx.is_empty() && !s.rx_activity {
            s.timeout_pending = true;
        }
        s.rx_activity = false;
        self.update_irq();
    }

    /// A break condition from the host (the line held low): LSR.BI and a zero byte.
    pub fn receive_break(&mut self) {
        self.push_rx(0);
        self.state.lsr_errors |= LSR_BI;
        self.update_irq();
    }

    /// Flushes the output sink if bytes went to it since the previous flush, so what the
    /// guest sent is out on the host even when it ends without a newline.
    pub fn flush(&mut self) {
        if !std::mem::take(&mut self.unflushed) {
            return;
        }
        if let Some(sink) = self.sink.as_mut() {
            if sink.flush().is_err() {
                self.sink = None;
            }
        }
    }

    fn rx_capacity(&self) -> usize {
        if self.state.fifo_enabled {
            FIFO_DEPTH
        } else {
            1
        }
    }

    fn push_rx(&mut self, byte: u8) {
        if self.state.rx.len() >= self.rx_capacity() {
            self.state.lsr_errors |= LSR_OE;
            if !self.state.fifo_enabled {
                // Without a FIFO the new byte overwrites the holding register.
                self.state.rx.clear();
                self.state.rx.push_back(byte);
            }
        } else {
            self.state.rx.push_back(byte);
        }
        self.state.rx_activity = true;
    }

    fn transmit(&mut self, byte: u8) {
        if self.state.mcr & MCR_LOOP != 0 {
            self.push_rx(byte);
        } else if let Some(sink) = self.sink.as_mut() {
            if sink.write_all(&[byte]).is_err() {
                self.sink = None;
            } else {
                self.unflushed = true;
            }
        }
    }

    fn modem_lines(&self) -> u8 {
        let mcr = self.state.mcr;
        if mcr & MCR_LOOP == 0 {
            return MSR_HOST_LINES;
        }
        let mut lines = 0;
        if mcr & MCR_RTS != 0 {
            lines |= MSR_CTS;
        }
        if mcr & MCR_DTR != 0 {
            lines |= MSR_DSR;
        }
        if mcr & MCR_OUT1 != 0 {
            lines |= MSR_RI;
        }
        if mcr & MCR_OUT2 != 0 {
            lines |= MSR_DCD;
        }
        lines
    }

    /// Sets the MSR line bits and their delta bits after MCR changed.
    fn update_modem_lines(&mut self) {
        let old = self.state.msr;
        let new = self.modem_lines();
        let changed = old ^ new;
        let mut deltas = old & MSR_DELTAS;
        if changed & MSR_CTS != 0 {
            deltas |= MSR_DCTS;
        }
        if changed & MSR_DSR != 0 {
            deltas |= MSR_DDSR;
        }
        if changed & MSR_DCD != 0 {
            deltas |= MSR_DDCD;
        }
        if old & MSR_RI != 0 && new & MSR_RI == 0 {
            deltas |= MSR_TERI;
        }
        self.state.msr = new | deltas;
    }

    fn rx_data_ready(&self) -> bool {
        let s = &self.state;
        let level = if s.fifo_enabled { s.rx_trigger } else { 1 };
        s.rx.len() >= level
    }

    /// The pending interrupt of highest priority, as its IIR identification bits.
    fn pending_interrupt(&self) -> Option<u8> {
        let s = &self.state;
        if s.ier & IER_RLS != 0 && s.lsr_errors & LSR_ERRORS != 0 {
            Some(IIR_ID_RLS)
        } else if s.ier & IER_RDA != 0 && self.rx_data_ready() {
            Some(IIR_ID_RDA)
        } else if s.ier & IER_RDA != 0 && s.timeout_pending {
            Some(IIR_ID_TIMEOUT)
        } else if s.ier & IER_THRE != 0 && s.thre_pending {
            Some(IIR_ID_THRE)
        } else if s.ier & IER_MS != 0 && s.msr & MSR_DELTAS != 0 {
            Some(IIR_ID_MS)
        } else {
            None
        }
    }

    fn update_irq(&mut self) {
        let level = self.pending_interrupt().is_some();
        if level != self.irq_level {
            self.irq_level = level;
            self.irq.set(level);
        }
    }

    fn read_iir(&mut self) -> u8 {
        let fifo = if self.state.fifo_enabled { IIR_FIFO_ENABLED } else { 0 };
        match self.pending_interrupt() {
            Some(id) => {
                if id == IIR_ID_THRE {
                    // Reading IIR with THR-empty as the source acknowledges it.
                    self.state.thre_pending = false;
                    self.update_irq();
                }
                id | fifo
            }
            None => IIR_NO_INT | fifo,
        }
    }

    fn read_rbr(&mut self) -> u8 {
        let s = &mut self.state;
        let byte = s.rx.pop_front().unwrap_or(0);
        s.timeout_pending = false;
        s.rx_activity = true;
        self.update_irq();
        byte
    }

    fn read_lsr(&mut self) -> u8 {
        let s = &mut self.state;
        let mut lsr = LSR_THRE | LSR_TEMT | s.lsr_errors;
        if !s.rx.is_empty() {
            lsr |= LSR_DR;
        }
        s.lsr_errors = 0;
        self.update_irq();
        lsr
    }

    fn read_msr(&mut self) -> u8 {
        let msr = self.state.msr;
        self.state.msr &= !MSR_DELTAS;
        self.update_irq();
        msr
    }

    fn write_fcr(&mut self, value: u8) {
        let enable = value & FCR_ENABLE != 0;
        let s = &mut self.state;
        if enable != s.fifo_enabled {
            // Switching the FIFOs on or off empties them.
            s.rx.clear();
        }
        s.fifo_enabled = enable;
        if value & FCR_CLEAR_RX != 0 {
            s.rx.clear();
            s.timeout_pending = false;
        }
        s.rx_trigger = TRIGGER_LEVELS[(value >> FCR_TRIGGER_SHIFT) as usize & 3];
        // FCR_CLEAR_TX: the transmitter is always empty, nothing to clear.
        self.update_irq();
    }

    fn write_ier(&mut self, value: u8) {
        let old = self.state.ier;
        self.state.ier = value & IER_MASK;
        if old & IER_THRE == 0 && value & IER_THRE != 0 {
            // Enabling the THR-empty interrupt while THR is empty raises it at once.
            self.state.thre_pending = true;
        }
        self.update_irq();
    }

    fn write_thr(&mut self, byte: u8) {
        self.state.thre_pending = false;
        self.transmit(byte);
        // The byte left at once: THR is empty again.
        self.state.thre_pending = true;
        self.update_irq();
    }

    /// Reads register `offset` (0..=7).
    pub fn read_reg(&mut self, offset: u16) -> u8 {
        let dlab = self.state.lcr & LCR_DLAB != 0;
        match offset {
            RBR_THR if dlab => self.state.divisor as u8,
            RBR_THR => self.read_rbr(),
            IER if dlab => (self.state.divisor >> 8) as u8,
            IER => self.state.ier,
            IIR_FCR => self.read_iir(),
            LCR => self.state.lcr,
            MCR => self.state.mcr,
            LSR => self.read_lsr(),
            MSR => self.read_msr(),
            SCR => self.state.scr,
            _ => 0xFF,
        }
    }

    /// Writes `value` to register `offset` (0..=7).
    pub fn write_reg(&mut self, offset: u16, value: u8) {
        let dlab = self.state.lcr & LCR_DLAB != 0;
        match offset {
            RBR_THR if dlab => self.state.divisor = (self.state.divisor & 0xFF00) | value as u16,
            RBR_THR => self.write_thr(value),
            IER if dlab => self.state.divisor = (self.state.divisor & 0x00FF) | (value as u16) << 8,
            IER => self.write_ier(value),
            IIR_FCR => self.write_fcr(value),
            LCR => self.state.lcr = value,
            MCR => {
                self.state.mcr = value & MCR_MASK;
                self.update_modem_lines();
                self.update_irq();
            }
            SCR => self.state.scr = value,
            // LSR and MSR are read-only (writing them is "for factory testing").
            _ => {}
        }
    }
}

impl<I: IrqLine> PortDevice for Uart16550<I> {
    fn ports(&self) -> Vec<RangeInclusive<u16>> {
        vec![self.base..=self.base + (REG_COUNT - 1)]
    }

    /// Byte registers: a wider access reads consecutive registers, as the ISA bus splits it.
    fn read(&mut self, port: u16, size: u8) -> u32 {
        let mut value = 0u32;
        for i in 0..size.min(4) as u16 {
            let offset = port.wrapping_add(i).wrapping_sub(self.base);
            let byte = if offset < REG_COUNT { self.read_reg(offset) } else { 0xFF };
            value |= (byte as u32) << (8 * i);
        }
        value
    }

    fn write(&mut self, port: u16, size: u8, value: u32) {
        for i in 0..size.min(4) as u16 {
            let offset = port.wrapping_add(i).wrapping_sub(self.base);
            if offset < REG_COUNT {
                self.write_reg(offset, (value >> (8 * i)) as u8);
            }
        }
    }
}

#[cfg(test)]
#[path = "uart16550_tests.rs"]
mod tests;
