//! Machine tests: tiny BIOS images whose whole program sits in the 16 bytes at the reset
//! vector, so they need only the simplest instructions.

use super::*;
use ferrite_cpu::IoBus;
use ferrite_devices::debugcon::SharedBuffer;
use std::io::Write;

/// Size of the test BIOS images.
const ROM_SIZE: usize = 64 * 1024;
/// Where the reset vector sits in a 64 KiB image (F000:FFF0).
const RESET_OFFSET: usize = 0xFFF0;

/// A 64 KiB image of HLTs with `code` at the reset vector.
fn rom(code: &[u8]) -> Vec<u8> {
    assert!(code.len() <= ROM_SIZE - RESET_OFFSET);
    let mut image = vec![0xF4; ROM_SIZE];
    image[RESET_OFFSET..RESET_OFFSET + code.len()].copy_from_slice(code);
    image
}

fn machine(code: &[u8], tweak: impl FnOnce(&mut MachineConfig)) -> (Machine, SharedBuffer) {
    let out = SharedBuffer::new();
    let mut config = MachineConfig::new(rom(code));
    config.debugcon = Some(Box::new(out.clone()));
    config.max_insns = Some(100_000);
    tweak(&mut config);
    (Machine::new(config).expect("machine builds"), out)
}

/// mov al, 'K'; out 0xE9, al; mov al, 5; out 0xF4, al
const PRINT_AND_EXIT: [u8; 8] = [0xB0, b'K', 0xE6, 0xE9, 0xB0, 0x05, 0xE6, 0xF4];
/// `lidt cs:[0xFFF8]` (a zero-limit IVT stored at FFF8), then `ud2`: #UD cannot be
/// delivered, nor #GP, nor #DF — a triple fault.
const TRIPLE_FAULT: [u8; 14] = [0x2E, 0x0F, 0x01, 0x1E, 0xF8, 0xFF, 0x0F, 0x0B, 0, 0, 0, 0, 0, 0];
/// `jmp $` — never stops by itself (until the control-flow group lands it faults to a
/// zero-filled IVT and runs zeros forever, which never stops either).
const SPIN: [u8; 2] = [0xEB, 0xFE];

#[test]
fn test_exit_port_stops_run_with_value() {
    let (mut m, out) = machine(&PRINT_AND_EXIT, |_| {});
    let s = m.run();
    assert_eq!(s.reason, StopReason::ExitPort(5));
    assert_eq!(s.exit_status(), 11);
    assert_eq!(out.text(), "K");
    assert_eq!(s.insns, 4);
    assert_eq!(s.to_string(), "stopped: exit-port at F000:FFF8 insns=4 post=0x00");
}

#[test]
fn test_post_code_and_halt_with_interrupts_off() {
    // mov al, 0x42; out 0x80, al; cli; hlt
    let (mut m, _) = machine(&[0xB0, 0x42, 0xE6, 0x80, 0xFA, 0xF4], |_| {});
    let s = m.run();
    assert_eq!(s.reason, StopReason::Halted);
    assert_eq!(s.post, 0x42);
    assert_eq!(s.exit_status(), 0);
    assert_eq!((s.cs, s.eip), (0xF000, 0xFFF6));
}

#[test]
fn test_halt_with_interrupts_on_but_no_source_is_halted() {
    // sti; hlt
    let (mut m, _) = machine(&[0xFB, 0xF4], |_| {});
    assert_eq!(m.run().reason, StopReason::Halted);
}

#[test]
fn test_custom_post_port() {
    // mov al, 0x77; out 0x84, al; hlt
    let (mut m, _) = machine(&[0xB0, 0x77, 0xE6, 0x84, 0xF4], |c| c.post_port = 0x84);
    assert_eq!(m.run().post, 0x77);
}

#[test]
fn test_unclaimed_port_reads_all_ones() {
    // in al, 0x62; out 0xF4, al
    let (mut m, _) = machine(&[0xE4, 0x62, 0xE6, 0xF4], |c| c.trace = true);
    assert_eq!(m.run().reason, StopReason::ExitPort(0xFF));
}

#[test]
fn test_max_insns_stops_a_spinning_guest() {
    let (mut m, _) = machine(&SPIN, |c| c.max_insns = Some(25_000));
    let s = m.run();
    assert_eq!(s.reason, StopReason::MaxInsns);
    assert!(s.insns <= 25_000);
    assert_eq!(s.exit_status(), STATUS_MAX_INSNS);
}

#[test]
fn test_zero_budget_stops_before_the_first_instruction() {
    let (mut m, _) = machine(&PRINT_AND_EXIT, |c| c.max_insns = Some(0));
    let s = m.run();
    assert_eq!(s.reason, StopReason::MaxInsns);
    assert_eq!((s.cs, s.eip, s.insns), (0xF000, 0xFFF0, 0));
}

#[test]
fn test_triple_fault_with_no_reboot_stops() {
    let (mut m, _) = machine(&TRIPLE_FAULT, |c| c.no_reboot = true);
    let s = m.run();
    assert_eq!(s.reason, StopReason::TripleFault);
    assert_eq!(s.exit_status(), STATUS_TRIPLE_FAULT);
    assert_eq!(m.resets(), 0);
}

#[test]
fn test_triple_fault_resets_the_machine() {
    let (mut m, _) = machine(&TRIPLE_FAULT, |c| c.max_insns = Some(50));
    let s = m.run();
    assert_eq!(s.reason, StopReason::MaxInsns);
    assert!(m.resets() > 1, "resets = {}", m.resets());
}

#[test]
fn test_reset_reopens_a20_and_returns_to_reset_vector() {
    let (mut m, _) = machine(&PRINT_AND_EXIT, |_| {});
    assert_eq!(m.run().reason, StopReason::ExitPort(5));
    m.mem_mut().set_a20(false);
    m.reset();
    assert!(m.mem().a20());
    assert_eq!(m.cpu().eip, 0xFFF0);
    assert_eq!(m.run().reason, StopReason::ExitPort(5));
}

#[test]
fn test_interrupt_handle_stops_the_run() {
    let (mut m, _) = machine(&SPIN, |c| c.max_insns = None);
    m.interrupt_handle().store(true, Ordering::Relaxed);
    let s = m.run();
    assert_eq!(s.reason, StopReason::Interrupted);
    assert_eq!(s.exit_status(), STATUS_INTERRUPTED);
    // The flag is consumed: the next run goes on until something else stops it.
    m.interrupt_handle().store(false, Ordering::Relaxed);
}

#[test]
fn test_ram_size_is_validated() {
    for bad in [0, MAX_RAM_MIB + 1] {
        let mut config = MachineConfig::new(rom(&PRINT_AND_EXIT));
        config.ram_mib = bad;
        let err = Machine::new(config).unwrap_err();
        assert_eq!(err, MachineError::RamSize(bad));
        assert!(err.to_string().contains("1..=3584 MiB"), "{err}");
    }
}

#[test]
fn test_bios_of_wrong_size_is_refused() {
    let err = Machine::new(MachineConfig::new(vec![0; 1000])).unwrap_err();
    assert!(err.to_string().contains("1000 bytes"), "{err}");
}

#[test]
fn test_post_port_conflict_is_refused() {
    let mut config = MachineConfig::new(rom(&PRINT_AND_EXIT));
    config.post_port = 0xF4;
    let err = Machine::new(config).unwrap_err();
    assert!(matches!(err, MachineError::PortConflict { port: 0xF4, .. }), "{err}");
}

#[test]
fn test_larger_bios_images_boot() {
    for size in [128 * 1024, 256 * 1024] {
        let mut image = vec![0xF4; size];
        let at = size - ROM_SIZE + RESET_OFFSET;
        image[at..at + PRINT_AND_EXIT.len()].copy_from_slice(&PRINT_AND_EXIT);
        let mut m = Machine::new(MachineConfig::new(image)).unwrap();
        assert_eq!(m.run().reason, StopReason::ExitPort(5));
    }
}

#[test]
fn test_run_for_steps_and_stops_at_breakpoints() {
    let (mut m, out) = machine(&PRINT_AND_EXIT, |_| {});
    assert_eq!(m.run_for(1), None, "one instruction, nothing to report");
    assert_eq!((m.cpu().eip, m.cpu().insns), (0xFFF2, 1));
    m.cpu_mut().hooks.add_breakpoint(0xFFFF_FFF6);
    assert_eq!(m.run_for(SLICE_INSNS), Some(StopReason::Debug));
    assert_eq!(m.cpu().eip, 0xFFF6, "stopped before the breakpointed instruction");
    m.cpu_mut().hooks.resume = true;
    assert_eq!(m.run_for(SLICE_INSNS), Some(StopReason::ExitPort(5)));
    assert_eq!(m.finish(StopReason::ExitPort(5)).exit_status(), 11);
    assert_eq!(out.text(), "K");
    let names: Vec<&str> = m.devices().iter().map(|d| d.id.name()).collect();
    assert_eq!(
        names,
        [
            "debug console",
            "exit port",
            "POST-code latch",
            "COM1 (16550A)",
            "COM2 (16550A)",
            "fw_cfg",
            "ACPI PM block",
            "reset control",
            "chipset (8259A pair, 8254, RTC, 8042, port 0x92)",
            "PCI configuration ports",
            "VGA (Bochs VBE)",
            "DMA (8237A pair)",
            "floppy controller (82077AA)",
        ]
    );
}

/// mov dx, 0x3F8; mov al, 'S'; out dx, al; mov dx, 0x604; mov ax, 0x2000; out dx, ax
/// (COM1 THR, then ACPI PM1a_CNT with SLP_EN and the soft-off sleep type)
const SERIAL_AND_POWEROFF: [u8; 13] = [0xBA, 0xF8, 0x03, 0xB0, b'S', 0xEE, 0xBA, 0x04, 0x06, 0xB8, 0x00, 0x20, 0xEF];

#[test]
fn test_serial_output_and_acpi_poweroff() {
    let (mut m, _) = machine(&SERIAL_AND_POWEROFF, |_| {});
    let serial = SharedBuffer::new();
    m.set_serial(Some(Box::new(serial.clone())), None);
    let s = m.run();
    assert_eq!(s.reason, StopReason::PowerOff);
    assert_eq!(s.exit_status(), 0);
    assert_eq!(serial.text(), "S");
    assert_eq!(s.to_string(), "stopped: poweroff at F000:FFFD insns=6 post=0x00");
}

#[test]
fn test_reset_control_resets_the_machine() {
    // mov dx, 0xCF9; mov al, 6; out dx, al — resets forever until the budget runs out.
    let (mut m, _) = machine(&[0xBA, 0xF9, 0x0C, 0xB0, 0x06, 0xEE], |c| c.max_insns = Some(30));
    assert_eq!(m.run().reason, StopReason::MaxInsns);
    assert_eq!(m.resets(), 10);
}

#[test]
fn test_guest_reset_with_no_reboot_stops_cleanly() {
    // mov dx, 0xCF9; mov al, 6; out dx, al — with rebooting disabled the first reset ends the run.
    let (mut m, _) = machine(&[0xBA, 0xF9, 0x0C, 0xB0, 0x06, 0xEE], |c| c.no_reboot = true);
    let s = m.run();
    assert_eq!(s.reason, StopReason::Reboot);
    assert_eq!(s.exit_status(), 0);
    assert_eq!(m.resets(), 0);
}

#[test]
fn test_fw_cfg_dma_reads_into_guest_ram() {
    // mov dx, 0x518; mov eax, bswap(0x1000); out dx, eax; cli; hlt
    let code = [0xBA, 0x18, 0x05, 0x66, 0xB8, 0x00, 0x00, 0x10, 0x00, 0x66, 0xEF, 0xFA, 0xF4];
    let (mut m, _) = machine(&code, |c| c.ram_mib = 32);
    // The access structure at 0x1000: select RAM size, read 8 bytes to 0x2000.
    let control: u32 = (ferrite_devices::fw_cfg::FW_CFG_RAM_SIZE as u32) << 16 | 0x08 | 0x02;
    m.mem_mut().write_bytes(0x1000, &control.to_be_bytes());
    m.mem_mut().write_bytes(0x1004, &8u32.to_be_bytes());
    m.mem_mut().write_bytes(0x1008, &0x2000u64.to_be_bytes());
    assert_eq!(m.run().reason, StopReason::Halted);
    let mut control = [0xFF; 4];
    m.mem().read_bytes(0x1000, &mut control);
    assert_eq!(control, [0; 4], "the transfer completed");
    let mut size = [0; 8];
    m.mem().read_bytes(0x2000, &mut size);
    assert_eq!(u64::from_le_bytes(size), 32 << 20);
}

#[test]
fn test_halt_with_an_interrupt_raised_after_it_wakes_the_cpu() {
    // The CPU halted with IF = 1 (sti; hlt) and, as the run loop caught the clock up
    // after the slice, the local APIC's one-shot timer expired: its interrupt (vector
    // 0x40) is pending but no timer is armed any more. That must wake the CPU, not stop
    // the run as "halted" (Linux's idle loop hit this through SeaBIOS in real time, the
    // LAPIC timer being its clock event). The handler at F000:FFF8 leaves through the
    // exit port.
    let mut code = [0xF4u8; 12];
    code[..2].copy_from_slice(&[0xFB, 0xF4]);
    code[8..12].copy_from_slice(&[0xB0, 0x07, 0xE6, 0xF4]); // mov al, 7; out 0xF4, al
    let (mut m, _) = machine(&code, |_| {});
    m.mem.write_bytes(0x40 * 4, &[0xF8, 0xFF, 0x00, 0xF0]); // IVT[0x40] = F000:FFF8
    m.cpu.eflags |= Flags::IF;
    assert_eq!(m.idle(), Some(StopReason::Halted), "nothing pending, nothing armed");
    m.board.lapic.write(ferrite_devices::lapic::reg::SVR, 4, 0x1FF);
    assert!(m.board.lapic.accept(ferrite_devices::lapic::lvt::MODE_FIXED, 0x40, false));
    assert_eq!(m.idle(), None, "a pending interrupt must wake the halted CPU");
    assert_eq!(m.run().reason, StopReason::ExitPort(7));
}

/// A sink that holds what it is given until it is flushed (as standard output holds a
/// line): (held, flushed out).
#[derive(Clone, Default)]
struct HoldingSink(std::sync::Arc<std::sync::Mutex<(Vec<u8>, Vec<u8>)>>);

impl HoldingSink {
    fn shown(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap().1).into_owned()
    }
}

impl Write for HoldingSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().0.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        let mut s = self.0.lock().unwrap();
        let held = std::mem::take(&mut s.0);
        s.1.extend_from_slice(&held);
        Ok(())
    }
}

#[test]
fn test_serial_output_without_newline_is_flushed_after_the_slice() {
    // Issue #6: Linux's shell prompt ("/ # ", no newline) stayed in ferrite's
    // line-buffered standard output until more output came. A slice that sent bytes must
    // leave them flushed, while the run goes on.
    // mov dx, 0x3F8; mov al, 'P'; out dx, al; jmp $
    let code = [0xBA, 0xF8, 0x03, 0xB0, b'P', 0xEE, 0xEB, 0xFE];
    let (mut m, _) = machine(&code, |_| {});
    let serial = HoldingSink::default();
    m.set_serial(Some(Box::new(serial.clone())), None);
    assert_eq!(m.run_for(1_000), None, "the guest spins on");
    assert_eq!(serial.shown(), "P", "flushed at the end of the slice, not of the run");
}

#[test]
fn test_one_byte_below_the_fifo_trigger_wakes_a_halted_cpu() {
    // A key typed at an idle shell: one byte, FIFO trigger level 8, the CPU halted with
    // no timer armed. Only the character time-out can tell the guest, and it must come
    // although a halted CPU retires no instructions (the instruction-paced device tick
    // never came, so the byte waited for an unrelated wake-up). The IRQ 4 handler at
    // F000:FFF8 leaves through the exit port.
    let mut code = [0xF4u8; 12];
    code[8..12].copy_from_slice(&[0xB0, 0x04, 0xE6, 0xF4]); // mov al, 4; out 0xF4, al
    let (mut m, _) = machine(&code, |c| c.max_insns = Some(2_000));
    // 8259A master: ICW1-4 (vectors 0x08-0x0F, 8086 mode), then only IRQ 4 unmasked.
    for (port, value) in [(0x20, 0x11), (0x21, 0x08), (0x21, 0x04), (0x21, 0x01), (0x21, 0xEF)] {
        m.board.io_write(port, 1, value);
    }
    // IVT[0x0C] = F000:FFF8
    m.mem.write_bytes(0x0C * 4, &[0xF8, 0xFF, 0x00, 0xF0]);
    // COM1: FIFOs on with the receive trigger at 8 bytes, received-data interrupt on.
    m.board.io_write(0x3FA, 1, 0x81);
    m.board.io_write(0x3F9, 1, 0x01);
    let (tx, rx) = std::sync::mpsc::channel();
    m.set_serial(None, Some(rx));
    tx.send(b'e').unwrap();
    m.cpu.eflags |= Flags::IF;
    assert_eq!(m.run().reason, StopReason::ExitPort(4));
    assert_eq!(m.board.io_read(0x3F8, 1), b'e' as u32);
    drop(tx);
}
