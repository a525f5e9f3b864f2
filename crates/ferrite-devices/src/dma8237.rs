//! The PC's ISA DMA: two cascaded Intel 8237A controllers and their page registers.
//!
//! Controller 1 serves the 8-bit channels 0–3 (ports 0x00–0x0F); controller 2 serves the
//! 16-bit channels 4–7 (ports 0xC0–0xDF, one register every second port), and its channel
//! 4 is the cascade input of controller 1. Each channel has a 16-bit base and current
//! address, a 16-bit base and current count (N means N + 1 transfers), a mode (transfer
//! type, auto-initialise, address decrement, single/demand/block/cascade) and a mask bit;
//! each controller has a command register (bit 2 disables it), a status register (bits
//! 0–3: terminal count reached, cleared by reading; bits 4–7: software requests), a
//! request register and the byte-pointer flip-flop that splits 16-bit registers into two
//! byte accesses. The page registers give address bits 16–23: channel 2 at 0x81, 3 at
//! 0x82, 1 at 0x83, 0 at 0x87, 6 at 0x89, 7 at 0x8A, 5 at 0x8B, 4 at 0x8F. Port 0x80 is
//! not a channel's page register and stays with the board's POST-code latch, and the
//! unused 0x84–0x86, 0x88, 0x8C–0x8E are left unclaimed.
//!
//! A device never reaches guest memory itself: the board hands it a [`DmaChannel`] — one
//! channel of this controller joined to guest memory through [`DmaMemory`] — and the
//! device pushes or pulls its bytes through that, as an ISA card raises DREQ and the 8237
//! runs the bus cycles. On an 8-bit channel an address is `page << 16 | address` and
//! wraps within its 64 KiB page; on a 16-bit channel the address and count are in words,
//! the address is `(page & 0xFE) << 16 | address << 1` and wraps within 128 KiB. When the
//! count runs out the channel reaches terminal count: its status bit is set, and it
//! reloads its base address and count when auto-initialise is on, else masks itself.

use crate::fw_cfg::DmaMemory;
use crate::PortDevice;
use std::ops::RangeInclusive;

/// The page register port of each channel 0–7.
pub const PAGE_PORTS: [u16; 8] = [0x87, 0x83, 0x81, 0x82, 0x8F, 0x8B, 0x89, 0x8A];
/// Controller 1's base port.
pub const DMA1_BASE: u16 = 0x00;
/// Controller 2's base port (its registers are two ports apart).
pub const DMA2_BASE: u16 = 0xC0;

/// Mode register bits 2–3: the transfer type.
const MODE_TYPE_MASK: u8 = 0x0C;
/// Transfer type "write": the device writes memory.
pub const MODE_WRITE_MEMORY: u8 = 0x04;
/// Transfer type "read": the device reads memory.
pub const MODE_READ_MEMORY: u8 = 0x08;
/// Mode bit 4: reload base address and count at terminal count.
pub const MODE_AUTOINIT: u8 = 0x10;
/// Mode bit 5: the address counts down.
pub const MODE_DECREMENT: u8 = 0x20;
/// Command register bit 2: the controller is disabled.
const CMD_DISABLE: u8 = 0x04;

/// How far a transfer got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DmaProgress {
    /// Bytes moved (or, on a channel programmed to verify, counted without touching memory).
    pub bytes: usize,
    /// The channel's count ran out (EOP): the device must end its transfer.
    pub terminal_count: bool,
}

/// One DMA channel as a device sees it: the device offers bytes to memory, or asks for
/// bytes from memory, and the channel moves as many as its count allows.
pub trait DmaChannel {
    /// Device → memory (an 8237 "write" transfer): moves a prefix of `data`.
    fn write_memory(&mut self, data: &[u8]) -> DmaProgress;
    /// Memory → device (an 8237 "read" transfer): fills a prefix of `buf`.
    fn read_memory(&mut self, buf: &mut [u8]) -> DmaProgress;
}

/// One channel's registers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChannelRegs {
    /// Base address (reloaded into `address` by auto-initialise).
    pub base_address: u16,
    /// Base count.
    pub base_count: u16,
    /// Current address.
    pub address: u16,
    /// Current count: transfers left minus one.
    pub count: u16,
    /// The mode register (bits 0–1 are the channel number as written).
    pub mode: u8,
    /// Address bits 16–23.
    pub page: u8,
}

/// One 8237A.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Controller {
    command: u8,
    /// Bits 0–3: terminal count reached per channel.
    status: u8,
    request: u8,
    /// Bit n: channel n masked.
    mask: u8,
    /// The byte-pointer flip-flop: false = low byte next.
    high_byte: bool,
}

impl Controller {
    fn reset() -> Self {
        Controller { command: 0, status: 0, request: 0, mask: 0x0F, high_byte: false }
    }
}

/// The two cascaded 8237As with their page registers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dma8237 {
    channels: [ChannelRegs; 8],
    controllers: [Controller; 2],
}

impl Default for Dma8237 {
    fn default() -> Self {
        Self::new()
    }
}

impl Dma8237 {
    /// Both controllers after a master clear: every channel masked.
    pub fn new() -> Self {
        Dma8237 { channels: [ChannelRegs::default(); 8], controllers: [Controller::reset(); 2] }
    }

    /// A channel's registers (for tests and debuggers).
    pub fn channel_regs(&self, ch: usize) -> ChannelRegs {
        self.channels[ch & 7]
    }

    /// Whether channel `ch` would move data now: unmasked, on an enabled controller.
    pub fn ready(&self, ch: usize) -> bool {
        let c = &self.controllers[(ch >> 2) & 1];
        c.mask & (1 << (ch & 3)) == 0 && c.command & CMD_DISABLE == 0
    }

    /// Whether channel `ch` has reached terminal count since the status was last read.
    pub fn terminal_count(&self, ch: usize) -> bool {
        self.controllers[(ch >> 2) & 1].status & (1 << (ch & 3)) != 0
    }

    /// Channel `ch` joined to guest memory, for a device to transfer through.
    pub fn channel<'a>(&'a mut self, ch: usize, mem: &'a mut dyn DmaMemory) -> ChannelPort<'a> {
        ChannelPort { dma: self, ch: ch & 7, mem }
    }

    /// A reset of the machine: a master clear of both controllers.
    pub fn reset(&mut self) {
        *self = Dma8237::new();
    }

    /// The physical address of the channel's current transfer unit.
    fn phys(&self, ch: usize) -> u32 {
        let r = &self.channels[ch];
        if ch < 4 {
            (r.page as u32) << 16 | r.address as u32
        } else {
            ((r.page & 0xFE) as u32) << 16 | (r.address as u32) << 1
        }
    }

    /// How many units (bytes or words) can be moved as one contiguous ascending block from
    /// the current address: up to the page wrap and up to terminal count.
    fn run_units(&self, ch: usize) -> usize {
        let r = &self.channels[ch];
        let left = r.count as usize + 1;
        if r.mode & MODE_DECREMENT != 0 {
            1
        } else {
            left.min(0x1_0000 - r.address as usize)
        }
    }

    /// Advances the channel by `units` transfers; returns whether it reached terminal count.
    fn advance(&mut self, ch: usize, units: usize) -> bool {
        let r = &mut self.channels[ch];
        let step = units as u16;
        r.address =
            if r.mode & MODE_DECREMENT != 0 { r.address.wrapping_sub(step) } else { r.address.wrapping_add(step) };
        if units <= r.count as usize {
            r.count -= step;
            return false;
        }
        let c = &mut self.controllers[ch >> 2];
        c.status |= 1 << (ch & 3);
        c.request &= !(1 << (ch & 3));
        if r.mode & MODE_AUTOINIT != 0 {
            r.address = r.base_address;
            r.count = r.base_count;
        } else {
            r.count = 0xFFFF;
            c.mask |= 1 << (ch & 3);
        }
        true
    }

    /// Runs a transfer of up to `len` bytes on channel `ch`; `each` moves one contiguous
    /// block (`offset` into the device's buffer, guest address, length, or `None` for the
    /// address when the channel only verifies).
    fn transfer(
        &mut self,
        ch: usize,
        len: usize,
        want: u8,
        mut each: impl FnMut(usize, Option<u32>, usize),
    ) -> DmaProgress {
        let mut progress = DmaProgress::default();
        if !self.ready(ch) {
            return progress;
        }
        let unit = if ch < 4 { 1 } else { 2 };
        let moves = self.channels[ch].mode & MODE_TYPE_MASK == want;
        while progress.bytes + unit <= len {
            let units = self.run_units(ch).min((len - progress.bytes) / unit);
            let addr = self.phys(ch);
            let bytes = units * unit;
            each(progress.bytes, moves.then_some(addr), bytes);
            progress.bytes += bytes;
            if self.advance(ch, units) {
                progress.terminal_count = true;
                break;
            }
        }
        progress
    }

    fn reg_read(&mut self, ctl: usize, reg: u16) -> u8 {
        match reg {
            0..=7 => {
                let ch = ctl * 4 + (reg as usize >> 1);
                let value = if reg & 1 == 0 { self.channels[ch].address } else { self.channels[ch].count };
                let c = &mut self.controllers[ctl];
                let byte = if c.high_byte { (value >> 8) as u8 } else { value as u8 };
                c.high_byte = !c.high_byte;
                byte
            }
            8 => {
                let c = &mut self.controllers[ctl];
                let status = c.status | (c.request & 0x0F) << 4;
                c.status &= 0xF0;
                status
            }
            // The temporary register (memory-to-memory transfers are not supported): 0.
            0xD => 0,
            0xF => self.controllers[ctl].mask | 0xF0,
            _ => 0xFF,
        }
    }

    fn reg_write(&mut self, ctl: usize, reg: u16, v: u8) {
        match reg {
            0..=7 => {
                let ch = ctl * 4 + (reg as usize >> 1);
                let high = self.controllers[ctl].high_byte;
                self.controllers[ctl].high_byte = !high;
                let r = &mut self.channels[ch];
                let set = |old: u16| if high { old & 0x00FF | (v as u16) << 8 } else { old & 0xFF00 | v as u16 };
                if reg & 1 == 0 {
                    r.base_address = set(r.base_address);
                    r.address = r.base_address;
                } else {
                    r.base_count = set(r.base_count);
                    r.count = r.base_count;
                }
            }
            8 => self.controllers[ctl].command = v,
            9 => {
                let bit = 1 << (v & 3);
                let c = &mut self.controllers[ctl];
                c.request = if v & 4 != 0 { c.request | bit } else { c.request & !bit };
            }
            0xA => {
                let bit = 1 << (v & 3);
                let c = &mut self.controllers[ctl];
                c.mask = if v & 4 != 0 { c.mask | bit } else { c.mask & !bit };
            }
            0xB => self.channels[ctl * 4 + (v as usize & 3)].mode = v,
            0xC => self.controllers[ctl].high_byte = false,
            0xD => self.controllers[ctl] = Controller::reset(),
            0xE => self.controllers[ctl].mask = 0,
            0xF => self.controllers[ctl].mask = v & 0x0F,
            _ => {}
        }
    }
}

impl PortDevice for Dma8237 {
    fn ports(&self) -> Vec<RangeInclusive<u16>> {
        let mut ports = vec![DMA1_BASE..=DMA1_BASE + 0x0F, DMA2_BASE..=DMA2_BASE + 0x1F];
        ports.extend(PAGE_PORTS.iter().map(|&p| p..=p));
        ports
    }

    fn read(&mut self, port: u16, _size: u8) -> u32 {
        (match port {
            0x00..=0x0F => self.reg_read(0, port),
            0xC0..=0xDF => self.reg_read(1, (port - DMA2_BASE) >> 1),
            _ => match PAGE_PORTS.iter().position(|&p| p == port) {
                Some(ch) => self.channels[ch].page,
                None => 0xFF,
            },
        }) as u32
    }

    fn write(&mut self, port: u16, _size: u8, value: u32) {
        let v = value as u8;
        match port {
            0x00..=0x0F => self.reg_write(0, port, v),
            0xC0..=0xDF => self.reg_write(1, (port - DMA2_BASE) >> 1, v),
            _ => {
                if let Some(ch) = PAGE_PORTS.iter().position(|&p| p == port) {
                    self.channels[ch].page = v;
                }
            }
        }
    }
}

/// One channel of the controller joined to guest memory (see [`Dma8237::channel`]).
pub struct ChannelPort<'a> {
    dma: &'a mut Dma8237,
    ch: usize,
    mem: &'a mut dyn DmaMemory,
}

impl DmaChannel for ChannelPort<'_> {
    fn write_memory(&mut self, data: &[u8]) -> DmaProgress {
        let mem = &mut *self.mem;
        self.dma.transfer(self.ch, data.len(), MODE_WRITE_MEMORY, |off, addr, len| {
            // Memory that is not RAM takes nothing: the bytes are lost, as on the bus.
            if let Some(addr) = addr {
                let _ = mem.dma_write(addr as u64, &data[off..off + len]);
            }
        })
    }

    fn read_memory(&mut self, buf: &mut [u8]) -> DmaProgress {
        let mem = &mut *self.mem;
        let len = buf.len();
        self.dma.transfer(self.ch, len, MODE_READ_MEMORY, |off, addr, n| match addr {
            Some(addr) => {
                if !mem.dma_read(addr as u64, &mut buf[off..off + n]) {
                    buf[off..off + n].fill(0xFF);
                }
            }
            None => buf[off..off + n].fill(0),
        })
    }
}

#[cfg(test)]
#[path = "dma8237_tests.rs"]
mod tests;
