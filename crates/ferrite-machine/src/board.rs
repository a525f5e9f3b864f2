//! The board's devices and how the CPU reaches them: the port bus built from each device's
//! declared ports, and the [`IoBus`] implementation the CPU calls for `IN`/`OUT`.
//!
//! Ports nobody declared read all-ones and ignore writes, as on an ISA bus with nothing
//! driving it. In trace mode the first access to each such port is logged on stderr.
//!
//! The platform devices and their ports: COM1 (16550A, 0x3F8-0x3FF, IRQ 4), COM2
//! (0x2F8-0x2FF, IRQ 3), fw_cfg (0x510-0x511, DMA 0x514-0x51B), the ACPI PM block
//! (0x600-0x60F, SCI on IRQ 9), the reset control register (0xCF9), the 8237A DMA pair
//! (0x00-0x0F, 0xC0-0xDF, page registers 0x81-0x8F) and the floppy controller (0x3F0-0x3F5,
//! 0x3F7, IRQ 6, DMA channel 2). Requests that end or change the run (exit port, ACPI
//! soft-off, reset, a fw_cfg DMA or floppy transfer that needs guest memory) make the CPU
//! return to the run loop, which takes them with [`Board::take_stop`].

use crate::chipset::Chipset;
use crate::irq::{BoardIrq, IrqLines, IRQ_ACPI_SCI, IRQ_COM1, IRQ_COM2, IRQ_FLOPPY};
use crate::port_bus::{PortBus, PORT_COUNT};
use crate::MachineError;
use ferrite_cpu::IoBus;
use ferrite_devices::acpi_pm::{AcpiPm, ResetControl};
use ferrite_devices::debugcon::Debugcon;
use ferrite_devices::dma8237::Dma8237;
use ferrite_devices::exit_port::ExitPort;
use ferrite_devices::fdc::{Fdc, FDC_DMA_CHANNEL};
use ferrite_devices::fw_cfg::FwCfg;
use ferrite_devices::post_code::PostCode;
use ferrite_devices::uart16550::{Uart16550, COM1_BASE, COM2_BASE};
use ferrite_devices::vga::{Vga, LFB_ADDR, VGA_WINDOW_START};
use ferrite_devices::{all_ones, mask_to_size, PortDevice};
use std::sync::mpsc::{Receiver, TryRecvError};
use std::time::Instant;

/// Names the devices on the port bus.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceId {
    /// The debug console.
    Debugcon,
    /// The `isa-debug-exit` port.
    ExitPort,
    /// The POST-code latch.
    PostCode,
    /// The first serial port.
    Com1,
    /// The second serial port.
    Com2,
    /// QEMU's firmware configuration interface.
    FwCfg,
    /// The ACPI power-management block.
    AcpiPm,
    /// The reset control register.
    ResetControl,
    /// The PC chipset core: PIC pair, PIT and port 0x61, RTC/CMOS, 8042, port 0x92.
    Chipset,
    /// PCI configuration mechanism #1 (0xCF8, 0xCFC-0xCFF).
    Pci,
    /// The VGA adapter with the Bochs VBE interface.
    Vga,
    /// The two 8237A DMA controllers and their page registers.
    Dma,
    /// The floppy disk controller.
    Floppy,
}

impl DeviceId {
    /// A human name for messages.
    pub fn name(self) -> &'static str {
        match self {
            DeviceId::Debugcon => "debug console",
            DeviceId::ExitPort => "exit port",
            DeviceId::PostCode => "POST-code latch",
            DeviceId::Com1 => "COM1 (16550A)",
            DeviceId::Com2 => "COM2 (16550A)",
            DeviceId::FwCfg => "fw_cfg",
            DeviceId::AcpiPm => "ACPI PM block",
            DeviceId::ResetControl => "reset control",
            DeviceId::Chipset => "chipset (8259A pair, 8254, RTC, 8042, port 0x92)",
            DeviceId::Pci => "PCI configuration ports",
            DeviceId::Vga => "VGA (Bochs VBE)",
            DeviceId::Dma => "DMA (8237A pair)",
            DeviceId::Floppy => "floppy controller (82077AA)",
        }
    }
}

/// A device and the ports it answers (for a debugger's `info devices`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceInfo {
    /// Which device.
    pub id: DeviceId,
    /// The port ranges it declared.
    pub ports: Vec<std::ops::RangeInclusive<u16>>,
}

/// Every device on the board, in port-map order.
const ALL_DEVICES: [DeviceId; 13] = [
    DeviceId::Debugcon,
    DeviceId::ExitPort,
    DeviceId::PostCode,
    DeviceId::Com1,
    DeviceId::Com2,
    DeviceId::FwCfg,
    DeviceId::AcpiPm,
    DeviceId::ResetControl,
    DeviceId::Chipset,
    DeviceId::Pci,
    DeviceId::Vga,
    DeviceId::Dma,
    DeviceId::Floppy,
];

/// MMIO hole id of the VGA memory window (0xA0000–0xBFFFF).
pub(crate) const MMIO_VGA_WINDOW: ferrite_mem::MmioId = 1;
/// MMIO hole id of the VGA linear framebuffer (at [`ferrite_devices::vga::LFB_ADDR`]).
pub(crate) const MMIO_VGA_LFB: ferrite_mem::MmioId = 2;

/// A request from a device that the run loop must act on (see [`Board::take_stop`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BoardStop {
    /// The guest wrote this value to the exit port.
    Exit(u32),
    /// The guest switched the machine off through ACPI.
    PowerOff,
    /// The guest asked for a reset through the reset control register.
    Reset,
    /// fw_cfg has a DMA transfer waiting for guest memory.
    FwCfgDma,
    /// A PCI function needs the machine (PAM change, bus-master transfer).
    Pci,
    /// The 8042 or port 0x92 opened (`true`) or closed the A20 gate.
    A20(bool),
    /// The floppy controller has a transfer waiting and its DMA channel is ready.
    FloppyDma,
}

/// Bits in the "already logged" set of unclaimed ports.
const LOGGED_WORDS: usize = PORT_COUNT / 64;

/// The devices and the port bus that routes to them.
pub(crate) struct Board {
    bus: PortBus<DeviceId>,
    pub(crate) debugcon: Debugcon,
    pub(crate) exit: ExitPort,
    pub(crate) post: PostCode,
    pub(crate) com1: Uart16550<BoardIrq>,
    pub(crate) com2: Uart16550<BoardIrq>,
    pub(crate) fw_cfg: FwCfg,
    pub(crate) acpi: AcpiPm<BoardIrq>,
    pub(crate) reset: ResetControl,
    /// The ISA DMA controllers.
    pub(crate) dma: Dma8237,
    /// The floppy controller (DMA channel [`FDC_DMA_CHANNEL`]).
    pub(crate) fdc: Fdc<BoardIrq>,
    /// The levels of the ISA IRQ lines the devices drive (routed by the PIC).
    pub(crate) irqs: IrqLines,
    /// The chipset core; its PIC pair drives the CPU's INTR pin.
    pub(crate) chipset: Chipset,
    /// PCI bus 0 (i440FX, PIIX3, IDE); it also decodes the I/O ports nobody above claims.
    pub(crate) pci: ferrite_devices::pci::PciBus,
    /// The CPU's local APIC (MMIO at 0xFEE00000; see [`crate::apic`]).
    pub(crate) lapic: ferrite_devices::lapic::LocalApic,
    /// The display adapter (ports 0x3B0-0x3DF and 0x1CE/0x1CF; MMIO holes
    /// [`MMIO_VGA_WINDOW`] and [`MMIO_VGA_LFB`]). Not yet a PCI function: the stdvga's
    /// 1234:1111 function with BAR 0 = the framebuffer needs BAR-driven MMIO remapping.
    pub(crate) vga: Box<Vga>,
    /// Host input for COM1 (read only while COM1 has room, so nothing is lost).
    serial_input: Option<Receiver<u8>>,
    trace: bool,
    logged: Vec<u64>,
}

impl Board {
    /// Builds the board and its port map; refuses devices whose ports overlap.
    pub(crate) fn new(debugcon: Debugcon, exit: ExitPort, post: PostCode, trace: bool) -> Result<Self, MachineError> {
        let irqs = IrqLines::new();
        let pci = crate::pci::build(&irqs);
        let fdc_irq = irqs.line(IRQ_FLOPPY);
        // The PM timer runs on host time from power-on until the board has a virtual clock.
        let power_on = Instant::now();
        let clock = Box::new(move || power_on.elapsed().as_nanos() as u64);
        let mut board = Board {
            bus: PortBus::new(),
            debugcon,
            exit,
            post,
            com1: Uart16550::new(COM1_BASE, irqs.line(IRQ_COM1), None),
            com2: Uart16550::new(COM2_BASE, irqs.line(IRQ_COM2), None),
            fw_cfg: FwCfg::new(),
            acpi: AcpiPm::new(clock, irqs.line(IRQ_ACPI_SCI)),
            reset: ResetControl::new(),
            dma: Dma8237::new(),
            fdc: Fdc::new(fdc_irq),
            irqs,
            chipset: Chipset::new(ferrite_devices::rtc::FIXED_EPOCH, 0),
            serial_input: None,
            pci,
            vga: Box::new(Vga::new()),
            lapic: ferrite_devices::lapic::LocalApic::new(0),
            trace,
            logged: vec![0; LOGGED_WORDS],
        };
        for id in ALL_DEVICES {
            let ports = board.device(id).ports();
            board.bus.insert(id, &ports).map_err(|c| MachineError::PortConflict {
                port: c.port,
                existing: c.existing.name(),
                new: c.new.name(),
            })?;
        }
        Ok(board)
    }

    fn device(&mut self, id: DeviceId) -> &mut dyn PortDevice {
        match id {
            DeviceId::Debugcon => &mut self.debugcon,
            DeviceId::ExitPort => &mut self.exit,
            DeviceId::PostCode => &mut self.post,
            DeviceId::Com1 => &mut self.com1,
            DeviceId::Com2 => &mut self.com2,
            DeviceId::FwCfg => &mut self.fw_cfg,
            DeviceId::AcpiPm => &mut self.acpi,
            DeviceId::ResetControl => &mut self.reset,
            DeviceId::Chipset => &mut self.chipset,
            DeviceId::Pci => &mut self.pci,
            DeviceId::Vga => self.vga.as_mut(),
            DeviceId::Dma => &mut self.dma,
            DeviceId::Floppy => &mut self.fdc,
        }
    }

    /// The request that made the CPU return, highest priority first; `None` when there
    /// is none left.
    pub(crate) fn take_stop(&mut self) -> Option<BoardStop> {
        if let Some(v) = self.exit.take() {
            Some(BoardStop::Exit(v))
        } else if self.acpi.take_poweroff() {
            Some(BoardStop::PowerOff)
        } else if self.reset.take_reset() || self.chipset.take_reset() {
            Some(BoardStop::Reset)
        } else if self.pci.service_requested() {
            Some(BoardStop::Pci)
        } else if let Some(a20) = self.chipset.take_a20_change() {
            Some(BoardStop::A20(a20))
        } else if self.floppy_dma_ready() {
            Some(BoardStop::FloppyDma)
        } else {
            self.fw_cfg.dma_pending().map(|_| BoardStop::FwCfgDma)
        }
    }

    /// Whether the floppy controller asks for DMA (DREQ 2) and the channel would answer.
    fn floppy_dma_ready(&self) -> bool {
        self.fdc.dma_request() && self.dma.ready(FDC_DMA_CHANNEL)
    }

    /// Connects host input to COM1: bytes from `input` reach its receiver as it has room.
    pub(crate) fn set_serial_input(&mut self, input: Option<Receiver<u8>>) {
        self.serial_input = input;
    }

    /// Between run slices: feeds COM1 what the host typed (as much as its FIFO takes).
    pub(crate) fn pump_serial_input(&mut self) {
        while self.com1.rx_space() > 0 {
            let byte = match self.serial_input.as_ref().map(|rx| rx.try_recv()) {
                Some(Ok(b)) => b,
                Some(Err(TryRecvError::Disconnected)) => {
                    self.serial_input = None;
                    return;
                }
                Some(Err(TryRecvError::Empty)) | None => return,
            };
            self.com1.receive(byte);
        }
    }

    /// Periodic device work: the UARTs' character time-out and the PM timer's carry.
    pub(crate) fn tick(&mut self) {
        self.com1.timeout_tick();
        self.com2.timeout_tick();
        self.acpi.poll();
    }

    /// The CPU idled in HLT: time went by without instructions, so the instruction-paced
    /// [`Board::tick`] does not come; the UARTs' character time-out must still advance, or
    /// a byte below the receive FIFO's trigger level (one key typed at an idle shell)
    /// would wait for the guest to wake for some other reason.
    pub(crate) fn idle_tick(&mut self) {
        self.com1.timeout_tick();
        self.com2.timeout_tick();
    }

    /// Flushes the character outputs (debug console, serial ports) that were written to
    /// since their last flush. The machine calls it after every run slice: the host
    /// sinks buffer (standard output up to a newline), and a shell prompt or the echo of
    /// a key has none, so without it a prompt would sit in the buffer until more output
    /// came (issue #6).
    pub(crate) fn flush_output(&mut self) {
        self.debugcon.flush();
        self.com1.flush();
        self.com2.flush();
    }

    /// Flushes every output sink (end of a run).
    pub(crate) fn flush(&mut self) {
        self.flush_output();
        if let Err(e) = crate::pci::flush_drives(&mut self.pci) {
            eprintln!("ferrite: warning: {e}");
        }
        if let Err(e) = self.fdc.flush() {
            eprintln!("ferrite: warning: cannot flush a floppy image: {e}");
        }
    }

    /// The devices and their ports.
    pub(crate) fn devices(&mut self) -> Vec<DeviceInfo> {
        ALL_DEVICES.iter().map(|&id| DeviceInfo { id, ports: self.device(id).ports() }).collect()
    }

    /// Whether anything could still raise an interrupt to wake a halted CPU: a timer
    /// armed on an unmasked IRQ, or host input connected to COM1.
    pub(crate) fn has_interrupt_sources(&self) -> bool {
        self.next_deadline().is_some() || self.serial_input.is_some()
    }

    /// Notes an access to an unclaimed port (once per port, in trace mode).
    fn unclaimed(&mut self, port: u16, what: &str, size: u8) {
        if !self.trace {
            return;
        }
        let (word, bit) = (port as usize / 64, port as usize % 64);
        if self.logged[word] & (1 << bit) == 0 {
            self.logged[word] |= 1 << bit;
            eprintln!(
                "ferrite: trace: unclaimed I/O port {port:#06x} ({what}, {size} byte(s)); later accesses not logged"
            );
        }
    }
}

impl IoBus for Board {
    fn io_read(&mut self, port: u16, size: u8) -> u32 {
        match self.bus.lookup(port) {
            Some(id) => mask_to_size(self.device(id).read(port, size), size),
            None => match self.pci.io_read(port, size) {
                Some(v) => mask_to_size(v, size),
                None => {
                    self.unclaimed(port, "read", size);
                    all_ones(size)
                }
            },
        }
    }

    fn io_write(&mut self, port: u16, size: u8, value: u32) {
        match self.bus.lookup(port) {
            Some(id) => self.device(id).write(port, size, mask_to_size(value, size)),
            None => {
                if !self.pci.io_write(port, size, mask_to_size(value, size)) {
                    self.unclaimed(port, "write", size)
                }
            }
        }
    }

    fn mmio_read(&mut self, addr: u32, size: u8) -> u32 {
        if let Some(v) = self.apic_mmio_read(addr, size) {
            return v;
        }
        match addr {
            a if a.wrapping_sub(LFB_ADDR) < ferrite_devices::vga::VRAM_SIZE as u32 => {
                self.vga.lfb_read(a - LFB_ADDR, size)
            }
            a if a.wrapping_sub(VGA_WINDOW_START) < ferrite_devices::vga::VGA_WINDOW_LEN => {
                let mut v = 0;
                for i in 0..size.min(4) as u32 {
                    v |= (self.vga.mem_read(a - VGA_WINDOW_START + i) as u32) << (8 * i);
                }
                v
            }
            _ => all_ones(size),
        }
    }

    fn mmio_write(&mut self, addr: u32, size: u8, value: u32) {
        if self.apic_mmio_write(addr, size, value) {
            return;
        }
        match addr {
            a if a.wrapping_sub(LFB_ADDR) < ferrite_devices::vga::VRAM_SIZE as u32 => {
                self.vga.lfb_write(a - LFB_ADDR, size, value)
            }
            a if a.wrapping_sub(VGA_WINDOW_START) < ferrite_devices::vga::VGA_WINDOW_LEN => {
                for i in 0..size.min(4) as u32 {
                    self.vga.mem_write(a - VGA_WINDOW_START + i, (value >> (8 * i)) as u8);
                }
            }
            _ => {}
        }
    }

    fn intr_pending(&mut self) -> bool {
        self.interrupt_pending()
    }

    fn intr_ack(&mut self) -> u8 {
        self.interrupt_ack()
    }

    fn apic_base_written(&mut self, value: u64) {
        Board::apic_base_written(self, value);
    }

    fn nmi_pending(&mut self) -> bool {
        Board::nmi_pending(self)
    }

    fn nmi_ack(&mut self) {
        Board::nmi_ack(self);
    }

    fn stop_requested(&self) -> bool {
        self.chipset.wants_stop()
            || self.lapic.wants_resync()
            || self.exit.requested().is_some()
            || self.acpi.poweroff_requested()
            || self.acpi.timer_read()
            || self.reset.reset_requested()
            || self.fw_cfg.dma_pending().is_some()
            || self.pci.service_requested()
            || self.floppy_dma_ready()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrite_devices::debugcon::SharedBuffer;

    fn board(post_port: u16) -> Result<(Board, SharedBuffer), MachineError> {
        let out = SharedBuffer::new();
        let con = Debugcon::new(Some(Box::new(out.clone())));
        Board::new(con, ExitPort::new(), PostCode::new(post_port), true).map(|b| (b, out))
    }

    #[test]
    fn test_board_routes_builtin_ports() {
        let (mut b, out) = board(0x80).unwrap();
        b.io_write(0xE9, 1, b'A' as u32);
        b.io_write(0x80, 1, 0x5A);
        assert_eq!(out.text(), "A");
        assert_eq!(b.post.last(), 0x5A);
        assert_eq!(b.io_read(0xE9, 1), 0xE9);
        assert!(!b.stop_requested());
        b.io_write(0xF4, 1, 3);
        assert!(b.stop_requested());
        assert_eq!(b.exit.take(), Some(3));
    }

    #[test]
    fn test_board_unclaimed_ports_float_high() {
        let (mut b, _) = board(0x80).unwrap();
        assert_eq!(b.io_read(0x62, 1), 0xFF);
        assert_eq!(b.io_read(0x62, 2), 0xFFFF);
        assert_eq!(b.io_read(0xCFA, 2), 0xFFFF, "0xCFA is neither PCI nor reset control");
        b.io_write(0x62, 1, 0);
        assert_eq!(b.io_read(0x62, 1), 0xFF);
    }

    #[test]
    fn test_board_refuses_post_port_on_debugcon() {
        let err = board(0xE9).err().unwrap();
        assert_eq!(err.to_string(), "I/O port 0x00e9 is claimed by both the debug console and the POST-code latch");
    }

    #[test]
    fn test_board_platform_devices_and_stops() {
        let (mut b, _) = board(0x80).unwrap();
        let names: Vec<_> = b.devices().iter().map(|d| d.id.name()).collect();
        assert!(names.contains(&"COM1 (16550A)") && names.contains(&"fw_cfg"), "{names:?}");
        b.io_write(0x510, 2, 0);
        assert_eq!(b.io_read(0x511, 4).to_le_bytes(), *b"QEMU");
        assert_eq!(b.io_read(0x3FD, 1) & 0x60, 0x60, "COM1 LSR: THR and shifter empty");
        b.io_write(0x3F9, 1, 0x02); // COM1 IER: THR empty
        assert!(b.irqs.is_high(IRQ_COM1));
        assert!(!b.stop_requested());
        b.io_write(0x604, 2, 0x2000); // PM1a_CNT: SLP_EN, SLP_TYP 0
        b.io_write(0xCF9, 1, 0x06);
        assert!(b.stop_requested());
        assert_eq!(b.take_stop(), Some(BoardStop::PowerOff));
        assert_eq!(b.take_stop(), Some(BoardStop::Reset));
        assert_eq!(b.take_stop(), None);
    }

    #[test]
    fn test_board_pumps_serial_input_as_com1_has_room() {
        let (mut b, _) = board(0x80).unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        b.set_serial_input(Some(rx));
        for byte in b"ab" {
            tx.send(*byte).unwrap();
        }
        b.pump_serial_input();
        assert_eq!(b.io_read(0x3F8, 1), b'a' as u32, "one byte without the FIFO");
        b.pump_serial_input();
        assert_eq!(b.io_read(0x3F8, 1), b'b' as u32);
        assert_eq!(b.io_read(0x3FD, 1) & 0x03, 0, "no data, no overrun");
        drop(tx);
        b.pump_serial_input();
    }

    #[test]
    fn test_board_pci_config_and_ide_ports() {
        let (mut b, _) = board(0x80).unwrap();
        b.io_write(0xCF8, 4, 0x8000_0000);
        assert_eq!(b.io_read(0xCFC, 4), 0x1237_8086, "i440FX at 00:00.0");
        b.io_write(0xCF8, 4, 0x8000_0900);
        assert_eq!(b.io_read(0xCFC, 4), 0x7010_8086, "PIIX3 IDE at 00:01.1");
        assert_eq!(b.io_read(0x1F7, 1), 0, "no drives: status 0");
        b.io_write(0xCF9, 1, 0x06);
        assert_eq!(b.take_stop(), Some(BoardStop::Reset), "0xCF9 still resets");
        b.io_write(0xCF8, 4, 0x8000_0058);
        b.io_write(0xCFD, 1, 0x30); // PAM0: 0xF0000 to RAM
        assert!(b.stop_requested());
        assert_eq!(b.take_stop(), Some(BoardStop::Pci));
    }

    #[test]
    fn test_board_dma_pages_leave_post_port_and_floppy_answers() {
        let (mut b, _) = board(0x80).unwrap();
        b.io_write(0x80, 1, 0x42);
        b.io_write(0x81, 1, 0x07);
        assert_eq!(b.post.last(), 0x42, "0x80 stays the POST-code latch");
        assert_eq!(b.io_read(0x81, 1), 0x07, "0x81 is channel 2's page register");
        assert_eq!(b.io_read(0x84, 1), 0xFF, "unused page ports are unclaimed");
        assert_eq!(b.io_read(0x3F4, 1), 0x80, "FDC MSR: ready for a command");
        assert_eq!(b.io_read(0x3F7, 1), 0x00, "no disk: no disk change");
        // A READ DATA with no disk ends at once with an interrupt on IRQ 6, no DMA wanted.
        for byte in [0x46, 0x00, 0, 0, 1, 2, 18, 0x1B, 0xFF] {
            b.io_write(0x3F5, 1, byte);
        }
        assert!(b.irqs.is_high(crate::irq::IRQ_FLOPPY));
        assert!(!b.stop_requested());
        assert_eq!(b.io_read(0x3F5, 1), 0x48, "ST0: abnormal, not ready, drive 0");
    }

    #[test]
    fn test_board_reads_are_masked_to_size() {
        let (mut b, _) = board(0x84).unwrap();
        b.io_write(0x84, 1, 0x1234);
        assert_eq!(b.io_read(0x84, 1), 0x34);
    }
}
