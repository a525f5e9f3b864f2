//! The board's PCI side, as QEMU's `pc` machine lays it out: the i440FX host bridge at
//! 00:00.0, the PIIX3 ISA bridge at 00:01.0 and the PIIX3 IDE controller at 00:01.1 (its
//! channels on IRQ 14 and 15). Other devices plug in with `PciBus::add_function`.
//!
//! The devices cannot reach guest memory themselves: when one asks for service (a PAM
//! change in the host bridge, a started bus-master transfer) the CPU returns to the run
//! loop, which calls [`service`] with the memory.

use crate::irq::{BoardIrq, IrqLines, IRQ_IDE_PRIMARY, IRQ_IDE_SECONDARY};
use crate::GuestDma;
use ferrite_devices::ata::AtaChannel;
use ferrite_devices::ata_identify::Drive;
use ferrite_devices::pci::i440fx::I440fx;
use ferrite_devices::pci::piix3::Piix3;
use ferrite_devices::pci::piix_ide::PiixIde;
use ferrite_devices::pci::PciBus;
use ferrite_mem::PhysMem;

/// Device number of the host bridge.
pub const HOST_BRIDGE_DEV: u8 = 0;
/// Device number of the PIIX3 (ISA bridge function 0, IDE function 1).
pub const PIIX3_DEV: u8 = 1;
/// Function number of the PIIX3 ISA bridge.
pub const PIIX3_ISA_FUNC: u8 = 0;
/// Function number of the PIIX3 IDE controller.
pub const PIIX3_IDE_FUNC: u8 = 1;

/// The IDE controller as the board builds it.
pub type BoardIde = PiixIde<BoardIrq>;

/// Bus 0 with the chipset functions and an IDE controller without drives.
pub(crate) fn build(irqs: &IrqLines) -> PciBus {
    let mut bus = PciBus::new();
    let ide = BoardIde::new([None, None, None, None], [irqs.line(IRQ_IDE_PRIMARY), irqs.line(IRQ_IDE_SECONDARY)]);
    // The slots are distinct and in range, so these cannot fail.
    let _ = bus.add_function(HOST_BRIDGE_DEV, 0, Box::new(I440fx::new()));
    let _ = bus.add_function(PIIX3_DEV, PIIX3_ISA_FUNC, Box::new(Piix3::new()));
    let _ = bus.add_function(PIIX3_DEV, PIIX3_IDE_FUNC, Box::new(ide));
    bus
}

/// Puts drives on the IDE channels: primary master, primary slave, secondary master,
/// secondary slave.
pub(crate) fn attach_drives(bus: &mut PciBus, irqs: &IrqLines, drives: [Option<Drive>; 4]) {
    if let Some(ide) = bus.function_mut::<BoardIde>(PIIX3_DEV, PIIX3_IDE_FUNC) {
        let [d0, d1, d2, d3] = drives;
        ide.channels = [
            AtaChannel::new(d0, d1, irqs.line(IRQ_IDE_PRIMARY)),
            AtaChannel::new(d2, d3, irqs.line(IRQ_IDE_SECONDARY)),
        ];
    }
}

/// Carries out what the PCI functions asked for: applies the PAM registers to memory
/// and runs started bus-master transfers.
pub(crate) fn service(bus: &mut PciBus, mem: &mut PhysMem) {
    bus.take_service();
    if let Some(host) = bus.function_mut::<I440fx>(HOST_BRIDGE_DEV, 0) {
        if host.take_pam_change() {
            for (seg, (read, write)) in host.pam_modes().into_iter().enumerate() {
                mem.set_pam(seg, read, write);
            }
        }
    }
    if let Some(ide) = bus.function_mut::<BoardIde>(PIIX3_DEV, PIIX3_IDE_FUNC) {
        if ide.dma_ready() {
            ide.run_dma(&mut GuestDma(mem));
        }
    }
}

/// Makes the drives' written data durable (end of a run).
pub(crate) fn flush_drives(bus: &mut PciBus) -> Result<(), String> {
    let Some(ide) = bus.function_mut::<BoardIde>(PIIX3_DEV, PIIX3_IDE_FUNC) else { return Ok(()) };
    for ch in &mut ide.channels {
        for i in 0..2 {
            if let Some(d) = ch.drive_mut(i) {
                d.image.flush().map_err(|e| format!("cannot flush a disk image: {e}"))?;
            }
        }
    }
    Ok(())
}
