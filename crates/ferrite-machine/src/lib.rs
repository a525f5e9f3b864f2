//! `ferrite-machine` is the PC board: it owns the CPU, guest memory and the devices, wires
//! the devices to a port bus built from the ports each declares, and runs the guest.
//!
//! [`Machine::run`] runs the CPU in slices of [`SLICE_INSNS`] instructions and, between
//! slices, checks why the CPU came back and whether the host asked it to stop:
//!
//! | CPU came back because | the run |
//! |---|---|
//! | the guest wrote V to the exit port | stops: [`StopReason::ExitPort`]\(V) |
//! | the guest set SLP_EN with the soft-off sleep type in the ACPI PM block | stops: [`StopReason::PowerOff`] |
//! | the guest wrote RST_CPU to the reset control register (0xCF9) | resets the machine, as for a triple fault, and goes on; with `no_reboot` stops: [`StopReason::Reboot`] |
//! | HLT with IF = 1 and a timer armed on an unmasked IRQ (or host serial input connected) | idles until the next deadline (the virtual clock jumps there in deterministic mode; the host sleeps in real time) and goes on |
//! | HLT, and nothing can wake it (IF = 0, or no timer armed and no input) | stops: [`StopReason::Halted`] |
//! | the guest resets through the 8042 (0xFE, output port bit 0) or port 0x92 bit 0 | resets the machine and goes on; with `no_reboot` stops: [`StopReason::Reboot`] |
//! | the guest changes A20 through the 8042 or port 0x92 | the gate is applied to memory and the run goes on |
//! | triple fault | resets the machine (CPU reset, A20 opened as at power-on, RAM kept; a multiboot kernel is loaded again and entered afresh) and goes on; with `no_reboot` stops: [`StopReason::TripleFault`] |
//! | the `max_insns` budget is used up | stops: [`StopReason::MaxInsns`] |
//! | the interrupt flag ([`Machine::interrupt_handle`], set by the CLI's Ctrl-C handler) is set | stops: [`StopReason::Interrupted`] |
//!
//! The budget counts instruction attempts (a faulting instruction uses budget without
//! retiring), so every guest stops. Between slices the machine feeds COM1 the host's
//! serial input ([`Machine::set_serial`]) and ticks the devices that keep time (the UARTs'
//! character time-out, the ACPI PM timer's carry) and flushes what the guest printed on
//! COM1, COM2 and the debug console to their host sinks; a fw_cfg DMA request is carried out
//! against guest memory as soon as the CPU returns for it.
//!
//! With [`MachineConfig::kernel`] set, the machine boots a multiboot kernel
//! ([`boot::multiboot`]) or a Linux bzImage ([`boot::linux`]) instead of running the BIOS:
//! the BIOS image stays mapped, but the CPU starts at the kernel's entry point in 32-bit
//! protected mode.
#![deny(missing_docs)]

pub mod acpi;
mod apic;
mod board;
pub mod boot;
mod chipset;
pub mod clock;
pub mod display;
mod engine;
mod error;
pub mod floppy;
pub mod irq;
pub mod pci;
pub mod port_bus;
mod summary;

pub use board::{DeviceId, DeviceInfo};
pub use boot::multiboot::{BootModule, KernelBoot};
pub use engine::Engine;
pub use error::MachineError;
pub use ferrite_jit::JitStats;
pub use floppy::{parse_boot_order, BootDevice};
pub use summary::{
    RunSummary, StopReason, STATUS_DEBUG_STOP, STATUS_HALTED, STATUS_INTERRUPTED, STATUS_MAX_INSNS, STATUS_POWEROFF,
    STATUS_TRIPLE_FAULT,
};

use board::{Board, BoardStop};
use chipset::Chipset;
use clock::VirtualClock;
use ferrite_cpu::{Cpu, Flags, RunExit, SegReg};
use ferrite_devices::debugcon::Debugcon;
use ferrite_devices::exit_port::ExitPort;
use ferrite_devices::fw_cfg::{e820_bytes, DmaMemory, E820Entry, E820_RAM};
use ferrite_devices::post_code::{PostCode, POST_PORT};
use ferrite_mem::{PhysMem, Target};
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Receiver;
use std::sync::Arc;

/// Default guest RAM.
pub const DEFAULT_RAM_MIB: u32 = 16;
/// Smallest guest RAM accepted.
pub const MIN_RAM_MIB: u32 = 1;
/// Largest guest RAM accepted (the 32-bit space below the PCI/ROM hole).
pub const MAX_RAM_MIB: u32 = 3584;
/// How long a halted CPU waits for host input when no timer is armed.
const IDLE_POLL: std::time::Duration = std::time::Duration::from_millis(1);
/// Instructions per run slice: how often the run loop looks at stop requests.
pub const SLICE_INSNS: u64 = 10_000;
const MIB: usize = 1024 * 1024;

/// What to build. `bios` is required; everything else has a default.
pub struct MachineConfig {
    /// Guest RAM in MiB ([`MIN_RAM_MIB`]..=[`MAX_RAM_MIB`]).
    pub ram_mib: u32,
    /// The BIOS image: 64, 128 or 256 KiB.
    pub bios: Vec<u8>,
    /// Where debug-console output goes (`None` discards it).
    pub debugcon: Option<Box<dyn Write + Send>>,
    /// The debug console's port (0xE9 by default).
    pub debugcon_port: u16,
    /// The POST-code port.
    pub post_port: u16,
    /// Stop after this many instructions.
    pub max_insns: Option<u64>,
    /// Stop on a triple fault instead of resetting.
    pub no_reboot: bool,
    /// Log the first access to each unclaimed I/O port on stderr (the CLI's `--trace-io`).
    pub trace: bool,
    /// A multiboot kernel or Linux bzImage to load and start instead of running the BIOS.
    pub kernel: Option<KernelBoot>,
    /// The execution engine.
    pub engine: Engine,
    /// With the translator: where to write the guest and host code of each block it
    /// translates (`--jit-dump`).
    pub jit_dump: Option<Box<dyn Write + Send>>,
    /// Drive the virtual clock by the instruction count and start the RTC at a fixed time
    /// (`--deterministic`): two runs of the same image do the same thing. Otherwise time
    /// is the host's (see [`clock`]).
    pub deterministic: bool,
    /// A VGA BIOS option ROM (e.g. SeaBIOS' `vgabios-stdvga.bin`), mapped read-only at
    /// 0xC0000 and offered to SeaBIOS through fw_cfg (see [`display`]).
    pub vga_bios: Option<Vec<u8>>,
}

impl MachineConfig {
    /// A configuration with `bios` and every default: 16 MiB, debug console discarded,
    /// POST port 0x80, no instruction limit, reboot on triple fault, no tracing, no kernel.
    pub fn new(bios: Vec<u8>) -> Self {
        MachineConfig {
            ram_mib: DEFAULT_RAM_MIB,
            bios,
            debugcon: None,
            debugcon_port: ferrite_devices::debugcon::DEBUGCON_PORT,
            post_port: POST_PORT,
            max_insns: None,
            no_reboot: false,
            trace: false,
            kernel: None,
            engine: Engine::DEFAULT,
            jit_dump: None,
            deterministic: false,
            vga_bios: None,
        }
    }
}

/// One PC: CPU, memory and devices.
pub struct Machine {
    cpu: Cpu,
    mem: PhysMem,
    board: Board,
    max_insns: Option<u64>,
    no_reboot: bool,
    budget_used: u64,
    resets: u64,
    interrupt: Arc<AtomicBool>,
    boot: Option<boot::BootPlan>,
    /// `cpu.insns` at the last device tick.
    last_tick: u64,
    /// The interpreter or the translator.
    runner: engine::Runner,
    /// Virtual time for the timed devices.
    clock: VirtualClock,
}

impl std::fmt::Debug for Machine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Machine")
            .field("cpu", &self.cpu)
            .field("mem", &self.mem)
            .field("budget_used", &self.budget_used)
            .field("resets", &self.resets)
            .finish_non_exhaustive()
    }
}

impl Machine {
    /// Builds a powered-on machine: RAM, the BIOS mapped below 1 MiB and below 4 GiB, the
    /// built-in devices, and the CPU at its reset vector — or, with a kernel, the kernel
    /// loaded and the CPU at its entry point.
    pub fn new(config: MachineConfig) -> Result<Machine, MachineError> {
        if !(MIN_RAM_MIB..=MAX_RAM_MIB).contains(&config.ram_mib) {
            return Err(MachineError::RamSize(config.ram_mib));
        }
        let runner = engine::Runner::new(config.engine, config.jit_dump).map_err(MachineError::Engine)?;
        let mut mem = PhysMem::new(config.ram_mib as usize * MIB)?;
        mem.load_bios(&config.bios)?;
        let mut cpu = Cpu::new();
        let boot = match config.kernel {
            Some(kernel) => {
                let plan = boot::BootPlan::prepare(kernel, mem.ram_size(), config.bios.len() as u32)?;
                plan.apply(&mut cpu, &mut mem);
                Some(plan)
            }
            None => None,
        };
        let mut board = Board::new(
            Debugcon::with_port(config.debugcon_port, config.debugcon),
            ExitPort::new(),
            PostCode::new(config.post_port),
            config.trace,
        )?;
        fill_fw_cfg(&mut board.fw_cfg, mem.ram_size());
        display::install(&mut mem, &mut board, config.vga_bios.as_deref())?;
        apic::install(&mut mem)?;
        board.chipset = Chipset::new(rtc_start(config.deterministic), mem.ram_size() as u64);
        floppy::init_cmos(&mut board);
        pci::service(&mut board.pci, &mut mem);
        Ok(Machine {
            cpu,
            mem,
            board,
            max_insns: config.max_insns,
            no_reboot: config.no_reboot,
            budget_used: 0,
            resets: 0,
            interrupt: Arc::new(AtomicBool::new(false)),
            boot,
            last_tick: 0,
            runner,
            clock: VirtualClock::new(config.deterministic),
        })
    }

    /// Connects COM1 to the host: its output goes to `output` (`None` discards it) and the
    /// bytes arriving on `input` reach its receiver between run slices, as fast as its
    /// FIFO takes them. Without a call COM1 exists but is connected to nothing.
    pub fn set_serial(&mut self, output: Option<Box<dyn Write + Send>>, input: Option<Receiver<u8>>) {
        self.board.com1.set_sink(output);
        self.board.set_serial_input(input);
    }

    /// Puts drives on the IDE controller: primary master (`--hda`), primary slave
    /// (`--hdb`), secondary master (`--cdrom`), secondary slave.
    pub fn attach_drives(&mut self, drives: [Option<ferrite_devices::ata_identify::Drive>; 4]) {
        pci::attach_drives(&mut self.board.pci, &self.board.irqs, drives);
    }

    /// The PCI bus (to inspect or add functions).
    pub fn pci_mut(&mut self) -> &mut ferrite_devices::pci::PciBus {
        &mut self.board.pci
    }

    /// The levels of the ISA IRQ lines the devices drive (bit n = IRQ n).
    pub fn irq_levels(&self) -> u16 {
        self.board.irqs.levels()
    }

    /// A flag that, once set (from any thread or a signal handler), makes [`Machine::run`]
    /// stop with [`StopReason::Interrupted`] at the next slice boundary.
    pub fn interrupt_handle(&self) -> Arc<AtomicBool> {
        self.interrupt.clone()
    }

    /// The CPU.
    pub fn cpu(&self) -> &Cpu {
        &self.cpu
    }

    /// The CPU, mutable: debuggers set breakpoints (`hooks`) and registers through it.
    pub fn cpu_mut(&mut self) -> &mut Cpu {
        &mut self.cpu
    }

    /// The CPU and guest memory together, mutable (a debugger writing guest memory while
    /// it walks the CPU's page tables).
    pub fn cpu_and_mem_mut(&mut self) -> (&mut Cpu, &mut PhysMem) {
        (&mut self.cpu, &mut self.mem)
    }

    /// Guest physical memory.
    pub fn mem(&self) -> &PhysMem {
        &self.mem
    }

    /// Guest physical memory, mutable (loaders, tests).
    pub fn mem_mut(&mut self) -> &mut PhysMem {
        &mut self.mem
    }

    /// The last POST code.
    pub fn post_code(&self) -> u8 {
        self.board.post.last()
    }

    /// The translator's counters when it is the engine (`--stats`).
    pub fn jit_stats(&self) -> Option<JitStats> {
        self.runner.jit_stats()
    }

    /// How many times the machine reset itself after a triple fault.
    pub fn resets(&self) -> u64 {
        self.resets
    }

    /// A hardware reset: the CPU back at its reset vector and the A20 gate open, as at
    /// power-on. RAM and device state are kept (a warm reset). A machine booted from a
    /// multiboot kernel loads it again (kernel, module, boot area) and enters it afresh,
    /// as QEMU re-runs its multiboot loader on reset.
    pub fn reset(&mut self) {
        self.cpu.reset();
        self.runner.reset();
        self.mem.set_a20(true);
        self.board.chipset.reset();
        self.board.reset_apics();
        self.board.pci.reset();
        pci::service(&mut self.board.pci, &mut self.mem);
        floppy::reset(&mut self.board);
        if let Some(plan) = &self.boot {
            plan.apply(&mut self.cpu, &mut self.mem);
        }
    }

    /// Runs the guest until one of the stop reasons in the crate docs, then flushes the
    /// debug console and reports where it stopped.
    pub fn run(&mut self) -> RunSummary {
        let reason = self.run_until_stop();
        self.board.flush();
        self.summary(reason)
    }

    fn run_until_stop(&mut self) -> StopReason {
        loop {
            if self.interrupt.swap(false, Ordering::Relaxed) {
                return StopReason::Interrupted;
            }
            if let Some(reason) = self.run_for(SLICE_INSNS) {
                return reason;
            }
        }
    }

    /// Runs at most `budget` instructions (capped by what is left of `max_insns`) with the
    /// CPU's debugger hooks armed, and handles what the CPU came back for as [`Machine::run`]
    /// does: `None` when the slice simply ended (or the machine reset after a triple fault),
    /// `Some(reason)` when the run must stop — [`StopReason::Debug`] for a host breakpoint
    /// (before the instruction at CS:EIP) or watchpoint (after the access; see
    /// `cpu().hooks.hit`). It does not look at the interrupt flag: a debugger calls it in
    /// its own loop (`run_for(1)` is a single step) and decides what Ctrl-C means.
    pub fn run_for(&mut self, budget: u64) -> Option<StopReason> {
        let slice = match self.max_insns {
            Some(max) => match max.saturating_sub(self.budget_used) {
                0 => return Some(StopReason::MaxInsns),
                left => left.min(budget.max(1)),
            },
            None => budget.max(1),
        };
        self.board.pump_serial_input();
        if self.cpu.insns.wrapping_sub(self.last_tick) >= SLICE_INSNS {
            self.last_tick = self.cpu.insns;
            self.board.tick();
        }
        let now = self.clock.now(self.cpu.insns);
        self.board.set_now(now);
        self.board.acpi.set_now(now);
        // Deterministic time: end the slice at the next timer deadline, so the interrupt
        // arrives at the same instruction on every run.
        let slice = match self.board.next_deadline().and_then(|d| self.clock.insns_until(d, now)) {
            Some(until) => slice.min(until),
            None => slice,
        };
        let before = self.cpu.insns;
        // On host time a slice only paces the device checks, so the translator may finish
        // the block it is in; the count stays exact for deterministic time, an
        // instruction limit and a debugger's short steps.
        let exact = self.clock.deterministic() || self.max_insns.is_some() || budget < SLICE_INSNS;
        let exit = self.runner.run(&mut self.cpu, &mut self.mem, &mut self.board, slice, exact);
        let retired = self.cpu.insns.wrapping_sub(before);
        // What the guest printed is on the host before the machine idles or runs on.
        self.board.flush_output();
        let now = self.clock.now(self.cpu.insns);
        self.board.set_now(now);
        self.board.acpi.set_now(now);
        self.board.chipset.fpu_error.set_ferr(self.cpu.ferr_pending());
        // Every slice uses at least one unit of budget so a guest that makes no
        // progress (e.g. resets in a loop) still reaches the limit.
        self.budget_used += match exit {
            RunExit::Budget => slice,
            _ => retired.clamp(1, slice),
        };
        match exit {
            RunExit::Budget => None,
            RunExit::Stopped => self.board_stop(),
            RunExit::Halted => self.idle(),
            RunExit::Breakpoint | RunExit::Watchpoint => Some(StopReason::Debug),
            RunExit::TripleFault => {
                if self.no_reboot {
                    return Some(StopReason::TripleFault);
                }
                self.resets += 1;
                self.reset();
                None
            }
        }
    }

    /// Acts on the device requests that made the CPU return: the first that ends the run
    /// is its stop reason; a reset or a fw_cfg DMA is carried out and the run goes on.
    fn board_stop(&mut self) -> Option<StopReason> {
        while let Some(stop) = self.board.take_stop() {
            match stop {
                BoardStop::Exit(v) => return Some(StopReason::ExitPort(v)),
                BoardStop::PowerOff => return Some(StopReason::PowerOff),
                BoardStop::Reset if self.no_reboot => return Some(StopReason::Reboot),
                BoardStop::Reset => {
                    self.resets += 1;
                    self.reset();
                }
                BoardStop::FwCfgDma => self.board.fw_cfg.run_dma(&mut GuestDma(&mut self.mem)),
                BoardStop::A20(open) => self.mem.set_a20(open),
                BoardStop::Pci => pci::service(&mut self.board.pci, &mut self.mem),
                BoardStop::FloppyDma => floppy::service(&mut self.board, &mut self.mem),
            }
        }
        None
    }

    /// The CPU is halted. With IF = 0, or nothing left that could interrupt it, the run
    /// stops ([`StopReason::Halted`]). Otherwise the machine idles until the next timer
    /// deadline — the clock jumps there in deterministic mode, the host sleeps in real
    /// time — and the next slice delivers the interrupt.
    fn idle(&mut self) -> Option<StopReason> {
        // An interrupt raised as the slice ended (a timer that expired when the clock
        // caught up after the HLT, so no deadline is armed any more) wakes the CPU at
        // once: the next slice delivers it.
        if self.cpu.eflags & Flags::IF != 0 && self.board.interrupt_pending() {
            return None;
        }
        if self.cpu.eflags & Flags::IF == 0 || !self.board.has_interrupt_sources() {
            return Some(StopReason::Halted);
        }
        match self.board.next_deadline() {
            Some(deadline) => {
                let before = self.clock.now(self.cpu.insns);
                self.clock.idle_until(deadline, self.cpu.insns);
                // Deterministic time: the TSC (one tick per instruction, NS_PER_INSN each)
                // keeps counting through the skipped time, as a real TSC does in HLT, so
                // it stays in step with the PIT, the PM timer and the APIC timer.
                if self.clock.deterministic() {
                    let skipped = self.clock.now(self.cpu.insns).saturating_sub(before);
                    self.cpu.tsc = self.cpu.tsc.wrapping_add(skipped / clock::NS_PER_INSN);
                }
            }
            // Only host input can wake it: wait for that on the host, whatever the clock.
            None => std::thread::sleep(IDLE_POLL),
        }
        self.board.idle_tick();
        let now = self.clock.now(self.cpu.insns);
        self.board.set_now(now);
        self.board.acpi.set_now(now);
        None
    }

    /// Ends a run driven through [`Machine::run_for`]: flushes the debug console and
    /// the serial ports and builds the summary for `reason`.
    pub fn finish(&mut self, reason: StopReason) -> RunSummary {
        self.board.flush();
        self.summary(reason)
    }

    /// The devices on the board, for a debugger's `info devices`.
    pub fn devices(&mut self) -> Vec<DeviceInfo> {
        self.board.devices()
    }

    fn summary(&self, reason: StopReason) -> RunSummary {
        RunSummary {
            reason,
            cs: self.cpu.seg[SegReg::Cs as usize].selector,
            eip: self.cpu.eip,
            code32: self.cpu.code32(),
            insns: self.cpu.insns,
            post: self.board.post.last(),
        }
    }
}

/// The items a PC firmware reads from fw_cfg: RAM size, one CPU, the e820 map (all RAM
/// usable; the firmware reserves its own areas) and an empty boot order.
fn fill_fw_cfg(fw_cfg: &mut ferrite_devices::fw_cfg::FwCfg, ram_bytes: u32) {
    fw_cfg.set_machine(ram_bytes as u64, 1);
    let ram = E820Entry { address: 0, length: ram_bytes as u64, kind: E820_RAM };
    // Neither name can clash or be too long, so these cannot fail.
    let _ = fw_cfg.add_file("etc/e820", e820_bytes(&[ram]));
    let _ = fw_cfg.add_file("bootorder", Vec::new());
    // ferrite's ACPI tables with the linker/loader commands SeaBIOS runs (see `acpi`).
    let tables = acpi::AcpiTables::build(&acpi::AcpiConfig::for_machine(ram_bytes, acpi::MACHINE_HAS_APICS));
    if let Err(e) = tables.install_fw_cfg(fw_cfg) {
        eprintln!("ferrite: warning: ACPI tables not offered to the firmware: {e}");
    }
}

/// Guest RAM as fw_cfg's DMA sees it: transfers must lie wholly in RAM.
pub(crate) struct GuestDma<'a>(pub(crate) &'a mut PhysMem);

impl GuestDma<'_> {
    fn in_ram(&self, addr: u64, len: usize) -> bool {
        let Some(end) = addr.checked_add(len as u64) else { return false };
        if end > u32::MAX as u64 + 1 {
            return false;
        }
        len == 0
            || matches!(self.0.resolve(addr as u32), Target::Ram(_))
                && matches!(self.0.resolve((end - 1) as u32), Target::Ram(_))
                && end <= self.0.ram_size() as u64
    }
}

impl DmaMemory for GuestDma<'_> {
    fn dma_read(&mut self, addr: u64, buf: &mut [u8]) -> bool {
        let ok = self.in_ram(addr, buf.len());
        if ok {
            self.0.read_bytes(addr as u32, buf);
        }
        ok
    }

    fn dma_write(&mut self, addr: u64, data: &[u8]) -> bool {
        let ok = self.in_ram(addr, data.len());
        if ok {
            self.0.write_bytes(addr as u32, data);
        }
        ok
    }
}

#[cfg(test)]
mod tests;

/// The RTC's time at power-on: a fixed epoch in deterministic mode, else the host's clock.
fn rtc_start(deterministic: bool) -> i64 {
    if deterministic {
        return ferrite_devices::rtc::FIXED_EPOCH;
    }
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(ferrite_devices::rtc::FIXED_EPOCH, |d| d.as_secs() as i64)
}
