//! The local APIC of the one CPU (xAPIC, as on P6-family and later parts): the interrupt
//! controller inside the processor that accepts interrupt messages (from the I/O APIC,
//! its own timer, its local pins and self-IPIs), orders them by priority and hands the
//! CPU one vector at a time.
//!
//! Registers sit in a 4 KiB MMIO page ([`LAPIC_BASE`] unless IA32_APIC_BASE moves it),
//! each a dword at a 16-byte aligned offset. Modelled: ID, version ([`LAPIC_VERSION`]:
//! integrated APIC, six LVT entries), TPR/APR/PPR, EOI, LDR/DFR, the spurious-interrupt
//! vector register (software enable), ISR/TMR/IRR (256 bits each), ESR (illegal vectors),
//! ICR (fixed and NMI IPIs to self; INIT/SIPI and IPIs to other destinations find no CPU
//! and are dropped), the LVT (timer, thermal, performance, LINT0, LINT1, error), and the
//! timer: one-shot and periodic, divide configuration, initial and current count, on a
//! bus clock of [`BUS_NS_PER_TICK`] ns per tick. TSC-deadline mode is not offered.
//!
//! The device never calls the CPU. The machine:
//! - gives it the time ([`Timed::tick`]) and asks for [`Timed::next_deadline`];
//! - delivers I/O APIC messages with [`LocalApic::accept`];
//! - asks [`LocalApic::pending_vector`] at every interrupt window and, when the CPU takes
//!   it, [`LocalApic::ack`] (the vector moves from IRR to ISR);
//! - asks [`LocalApic::passes_extint`] whether the 8259's INTR reaches the CPU through
//!   LINT0 (virtual-wire mode), and [`LocalApic::take_nmi`] for NMIs;
//! - takes [`LocalApic::take_eoi`]: the vectors of level-triggered interrupts the guest
//!   ended, which it broadcasts to the I/O APIC to clear their remote IRR.
//!
//! A read of the current count or a write of the initial count asks the CPU to return to
//! the run loop ([`LocalApic::wants_resync`]): the machine then brings the time up to
//! date, and an initial count written while the time was stale starts counting at that
//! up-to-date time, so a count starts at the instruction that wrote it.

use crate::Timed;

/// The default physical address of the register page.
pub const LAPIC_BASE: u32 = 0xFEE0_0000;
/// Size of the register page.
pub const LAPIC_SIZE: u32 = 0x1000;
/// The version register: integrated APIC (0x14), max LVT entry 5 (six entries).
pub const LAPIC_VERSION: u32 = 0x0005_0014;
/// Nanoseconds per APIC bus clock tick (a 100 MHz bus), the timer's time base.
pub const BUS_NS_PER_TICK: u64 = 10;

/// Register offsets in the page.
pub mod reg {
    /// Local APIC ID (bits 24–31).
    pub const ID: u32 = 0x020;
    /// Version.
    pub const VERSION: u32 = 0x030;
    /// Task priority.
    pub const TPR: u32 = 0x080;
    /// Arbitration priority.
    pub const APR: u32 = 0x090;
    /// Processor priority.
    pub const PPR: u32 = 0x0A0;
    /// End of interrupt.
    pub const EOI: u32 = 0x0B0;
    /// Remote read.
    pub const RRD: u32 = 0x0C0;
    /// Logical destination.
    pub const LDR: u32 = 0x0D0;
    /// Destination format.
    pub const DFR: u32 = 0x0E0;
    /// Spurious-interrupt vector.
    pub const SVR: u32 = 0x0F0;
    /// In-service register, eight dwords 0x100–0x170.
    pub const ISR: u32 = 0x100;
    /// Trigger-mode register, 0x180–0x1F0.
    pub const TMR: u32 = 0x180;
    /// Interrupt request register, 0x200–0x270.
    pub const IRR: u32 = 0x200;
    /// Error status.
    pub const ESR: u32 = 0x280;
    /// Interrupt command, low dword (writing it sends).
    pub const ICR_LO: u32 = 0x300;
    /// Interrupt command, high dword (destination).
    pub const ICR_HI: u32 = 0x310;
    /// LVT timer.
    pub const LVT_TIMER: u32 = 0x320;
    /// LVT thermal sensor.
    pub const LVT_THERMAL: u32 = 0x330;
    /// LVT performance counter.
    pub const LVT_PERF: u32 = 0x340;
    /// LVT LINT0.
    pub const LVT_LINT0: u32 = 0x350;
    /// LVT LINT1.
    pub const LVT_LINT1: u32 = 0x360;
    /// LVT error.
    pub const LVT_ERROR: u32 = 0x370;
    /// Timer initial count.
    pub const TIMER_INITIAL: u32 = 0x380;
    /// Timer current count.
    pub const TIMER_CURRENT: u32 = 0x390;
    /// Timer divide configuration.
    pub const TIMER_DIVIDE: u32 = 0x3E0;
}

/// LVT and ICR fields.
pub mod lvt {
    /// Vector field.
    pub const VECTOR: u32 = 0xFF;
    /// Delivery mode field (bits 8–10).
    pub const DELIVERY_MODE: u32 = 7 << 8;
    /// Delivery status (send pending).
    pub const SEND_PENDING: u32 = 1 << 12;
    /// Input pin polarity (LINT0/1).
    pub const POLARITY: u32 = 1 << 13;
    /// Remote IRR (LINT0/1).
    pub const REMOTE_IRR: u32 = 1 << 14;
    /// Trigger mode: level (LINT0/1, ICR).
    pub const LEVEL: u32 = 1 << 15;
    /// Mask.
    pub const MASKED: u32 = 1 << 16;
    /// Timer mode: periodic.
    pub const PERIODIC: u32 = 1 << 17;
    /// Delivery mode: fixed.
    pub const MODE_FIXED: u32 = 0;
    /// Delivery mode: lowest priority (ICR, I/O APIC).
    pub const MODE_LOWEST: u32 = 1;
    /// Delivery mode: SMI.
    pub const MODE_SMI: u32 = 2;
    /// Delivery mode: NMI.
    pub const MODE_NMI: u32 = 4;
    /// Delivery mode: INIT.
    pub const MODE_INIT: u32 = 5;
    /// Delivery mode: start-up (ICR only).
    pub const MODE_STARTUP: u32 = 6;
    /// Delivery mode: ExtINT (the 8259 supplies the vector).
    pub const MODE_EXTINT: u32 = 7;
}

/// The SVR's APIC software enable bit.
pub const SVR_ENABLE: u32 = 1 << 8;
/// ESR: a received illegal vector (0–15).
pub const ESR_RECEIVE_ILLEGAL_VECTOR: u32 = 1 << 6;
/// ESR: a send with an illegal vector.
pub const ESR_SEND_ILLEGAL_VECTOR: u32 = 1 << 5;
/// ESR: an access to an unimplemented register.
pub const ESR_ILLEGAL_REGISTER: u32 = 1 << 7;

/// LVT slots, in register order.
const LVT_COUNT: usize = 6;
const LVT_TIMER: usize = 0;
const LVT_LINT0: usize = 3;
const LVT_LINT1: usize = 4;
const LVT_ERROR: usize = 5;
/// The writable bits of each LVT entry.
const LVT_WRITABLE: [u32; LVT_COUNT] = [
    lvt::VECTOR | lvt::MASKED | lvt::PERIODIC,
    lvt::VECTOR | lvt::DELIVERY_MODE | lvt::MASKED,
    lvt::VECTOR | lvt::DELIVERY_MODE | lvt::MASKED,
    lvt::VECTOR | lvt::DELIVERY_MODE | lvt::POLARITY | lvt::LEVEL | lvt::MASKED,
    lvt::VECTOR | lvt::DELIVERY_MODE | lvt::POLARITY | lvt::LEVEL | lvt::MASKED,
    lvt::VECTOR | lvt::MASKED,
];
/// LINT0 after reset on the bootstrap processor: ExtINT, unmasked, so the 8259 reaches
/// the CPU once the APIC is enabled (what firmware programs; QEMU's reset value too).
const LINT0_RESET: u32 = lvt::MODE_EXTINT << 8;

/// A 256-bit vector register (ISR, TMR, IRR).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Bits256([u32; 8]);

impl Bits256 {
    fn get(&self, v: u8) -> bool {
        self.0[v as usize >> 5] & (1 << (v & 31)) != 0
    }
    fn set(&mut self, v: u8, on: bool) {
        let bit = 1 << (v & 31);
        if on {
            self.0[v as usize >> 5] |= bit;
        } else {
            self.0[v as usize >> 5] &= !bit;
        }
    }
    /// The highest set vector.
    fn highest(&self) -> Option<u8> {
        (0..8).rev().find(|&i| self.0[i] != 0).map(|i| (i as u32 * 32 + 31 - self.0[i].leading_zeros()) as u8)
    }
}

/// The APIC timer's running count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TimerState {
    /// Not counting (initial count 0, or a one-shot count that reached 0).
    Idle,
    /// An initial count was written while the time was stale: starts at the next tick.
    Arming,
    /// Counting since `start` (ns); the next expiry is at `next`.
    Running { start: u64, next: u64 },
}

/// The local APIC.
#[derive(Debug, Clone)]
pub struct LocalApic {
    id: u8,
    /// IA32_APIC_BASE bit 11 (the machine mirrors the MSR here).
    global_enable: bool,
    tpr: u8,
    ldr: u32,
    dfr: u32,
    svr: u32,
    isr: Bits256,
    tmr: Bits256,
    irr: Bits256,
    /// ESR as the guest reads it (latched by a write to ESR).
    esr: u32,
    /// Errors since the last ESR write.
    esr_pending: u32,
    icr_lo: u32,
    icr_hi: u32,
    lvt: [u32; LVT_COUNT],
    divide_config: u32,
    initial_count: u32,
    timer: TimerState,
    now_ns: u64,
    nmi_pending: bool,
    /// Vectors of level-triggered interrupts ended by EOI, for the I/O APIC.
    eoi_level: Vec<u8>,
    resync: bool,
}

impl Default for LocalApic {
    fn default() -> Self {
        Self::new(0)
    }
}

impl LocalApic {
    /// The local APIC of the CPU with APIC ID `id`, at power-on.
    pub fn new(id: u8) -> Self {
        let mut lapic = LocalApic {
            id,
            global_enable: true,
            tpr: 0,
            ldr: 0,
            dfr: 0,
            svr: 0,
            isr: Bits256::default(),
            tmr: Bits256::default(),
            irr: Bits256::default(),
            esr: 0,
            esr_pending: 0,
            icr_lo: 0,
            icr_hi: 0,
            lvt: [0; LVT_COUNT],
            divide_config: 0,
            initial_count: 0,
            timer: TimerState::Idle,
            now_ns: 0,
            nmi_pending: false,
            eoi_level: Vec::new(),
            resync: false,
        };
        lapic.reset();
        lapic
    }

    /// The power-on/INIT state: everything cleared, LVT masked (LINT0 ExtINT on this
    /// bootstrap processor), SVR 0xFF (software disabled), flat logical destinations.
    pub fn reset(&mut self) {
        let (id, now, global) = (self.id, self.now_ns, self.global_enable);
        *self = LocalApic {
            id,
            global_enable: global,
            tpr: 0,
            ldr: 0,
            dfr: 0xFFFF_FFFF,
            svr: 0xFF,
            isr: Bits256::default(),
            tmr: Bits256::default(),
            irr: Bits256::default(),
            esr: 0,
            esr_pending: 0,
            icr_lo: 0,
            icr_hi: 0,
            lvt: [lvt::MASKED; LVT_COUNT],
            divide_config: 0,
            initial_count: 0,
            timer: TimerState::Idle,
            now_ns: now,
            nmi_pending: false,
            eoi_level: Vec::new(),
            resync: false,
        };
        self.lvt[LVT_LINT0] = LINT0_RESET;
    }

    /// The APIC ID.
    pub fn id(&self) -> u8 {
        self.id
    }

    /// Sets the global enable (IA32_APIC_BASE bit 11). Clearing it resets the APIC's
    /// state, as on hardware; the CPU then sees the 8259 directly.
    pub fn set_global_enable(&mut self, on: bool) {
        if self.global_enable && !on {
            self.reset();
        }
        self.global_enable = on;
    }

    /// Whether the APIC is globally enabled.
    pub fn global_enabled(&self) -> bool {
        self.global_enable
    }

    /// Whether the APIC is enabled both globally and by software (SVR bit 8): only then
    /// does it deliver interrupts.
    pub fn enabled(&self) -> bool {
        self.global_enable && self.svr & SVR_ENABLE != 0
    }

    /// Whether the 8259's INTR reaches the CPU: with the APIC disabled (globally or by
    /// software) directly, else through LINT0 when it is unmasked in ExtINT mode.
    pub fn passes_extint(&self) -> bool {
        !self.enabled()
            || self.lvt[LVT_LINT0] & lvt::MASKED == 0
                && (self.lvt[LVT_LINT0] & lvt::DELIVERY_MODE) >> 8 == lvt::MODE_EXTINT
    }

    /// Whether a destination (an ICR or I/O APIC destination field, 8 bits) names this
    /// APIC: physical mode by ID (0xFF = all), logical mode by LDR in the flat (DFR
    /// 0xF...) or cluster model.
    pub fn matches_destination(&self, dest: u8, logical: bool) -> bool {
        if !logical {
            return dest == 0xFF || dest == self.id;
        }
        let ldr = (self.ldr >> 24) as u8;
        if self.dfr >> 28 == 0xF {
            dest & ldr != 0
        } else {
            // Cluster: high nibble the cluster (15 = all), low nibble a member mask.
            (dest >> 4 == ldr >> 4 || dest >> 4 == 0xF) && dest & ldr & 0x0F != 0
        }
    }

    /// An interrupt message for this APIC: `mode` is an [`lvt`] delivery mode. Fixed and
    /// lowest-priority messages set the vector's IRR bit (and TMR for level-triggered
    /// ones); NMI latches an NMI; ExtINT is the 8259's INTR and needs no latching (see
    /// [`LocalApic::passes_extint`]). Returns whether it was accepted (a disabled APIC
    /// accepts only NMIs).
    pub fn accept(&mut self, mode: u32, vector: u8, level: bool) -> bool {
        match mode {
            lvt::MODE_FIXED | lvt::MODE_LOWEST => {
                if !self.enabled() {
                    return false;
                }
                if vector < 16 {
                    self.error(ESR_RECEIVE_ILLEGAL_VECTOR);
                    return false;
                }
                self.irr.set(vector, true);
                self.tmr.set(vector, level);
                true
            }
            lvt::MODE_NMI => {
                self.nmi_pending = true;
                true
            }
            // SMI, INIT, start-up, ExtINT: nothing to latch on a single CPU without SMM.
            _ => false,
        }
    }

    /// The processor priority: the higher of the TPR and the in-service class.
    pub fn ppr(&self) -> u8 {
        let isrv = self.isr.highest().unwrap_or(0);
        if self.tpr >> 4 >= isrv >> 4 {
            self.tpr
        } else {
            isrv & 0xF0
        }
    }

    /// The vector the APIC would hand the CPU now: the highest requested one whose
    /// priority class is above the processor priority's.
    pub fn pending_vector(&self) -> Option<u8> {
        if !self.enabled() {
            return None;
        }
        let v = self.irr.highest()?;
        (v >> 4 > self.ppr() >> 4).then_some(v)
    }

    /// The INTA cycle for an APIC interrupt: the vector moves from IRR to ISR. Returns
    /// the spurious vector if nothing is deliverable any more.
    pub fn ack(&mut self) -> u8 {
        match self.pending_vector() {
            Some(v) => {
                self.irr.set(v, false);
                self.isr.set(v, true);
                v
            }
            None => self.svr as u8,
        }
    }

    /// Whether an NMI waits for the CPU.
    pub fn nmi_pending(&self) -> bool {
        self.nmi_pending
    }

    /// Takes a pending NMI.
    pub fn take_nmi(&mut self) -> bool {
        std::mem::take(&mut self.nmi_pending)
    }

    /// Takes the vector of a level-triggered interrupt the guest ended (for the I/O
    /// APIC's remote IRR), oldest first.
    pub fn take_eoi(&mut self) -> Option<u8> {
        if self.eoi_level.is_empty() {
            None
        } else {
            Some(self.eoi_level.remove(0))
        }
    }

    /// Whether the CPU should return to the run loop so the time is brought up to date
    /// (cleared by [`Timed::tick`]).
    pub fn wants_resync(&self) -> bool {
        self.resync
    }

    fn error(&mut self, bits: u32) {
        let first = self.esr_pending & bits != bits;
        self.esr_pending |= bits;
        let entry = self.lvt[LVT_ERROR];
        if first && entry & lvt::MASKED == 0 {
            self.accept(lvt::MODE_FIXED, entry as u8, false);
        }
    }

    fn eoi(&mut self) {
        if let Some(v) = self.isr.highest() {
            self.isr.set(v, false);
            if self.tmr.get(v) {
                self.tmr.set(v, false);
                self.eoi_level.push(v);
            }
        }
    }

    /// The timer's divisor from the divide configuration register (bits 0, 1, 3).
    fn divisor(&self) -> u64 {
        let code = (self.divide_config & 3) | (self.divide_config >> 1 & 4);
        if code == 7 {
            1
        } else {
            2 << code
        }
    }

    fn ns_per_count(&self) -> u64 {
        self.divisor() * BUS_NS_PER_TICK
    }

    /// The timer's current count at `self.now_ns`.
    fn current_count(&self) -> u32 {
        match self.timer {
            TimerState::Idle => 0,
            TimerState::Arming => self.initial_count,
            TimerState::Running { start, .. } => {
                let elapsed = self.now_ns.saturating_sub(start) / self.ns_per_count();
                let initial = self.initial_count as u64;
                let left = if self.lvt[LVT_TIMER] & lvt::PERIODIC != 0 {
                    initial - elapsed % initial
                } else {
                    initial.saturating_sub(elapsed)
                };
                left as u32
            }
        }
    }

    /// Starts (or restarts) the count at `now`.
    fn start_timer(&mut self, now: u64) {
        let period = self.initial_count as u64 * self.ns_per_count();
        self.timer = TimerState::Running { start: now, next: now.saturating_add(period) };
    }

    /// Reads the register at `offset` in the page (`size` bytes; registers are dwords,
    /// narrower reads see their part of one).
    pub fn read(&mut self, offset: u32, size: u8) -> u32 {
        let shift = 8 * (offset & 3);
        let v = match offset & 0xFF0 {
            _ if offset & 0xF >= 4 => 0,
            reg::ID => (self.id as u32) << 24,
            reg::VERSION => LAPIC_VERSION,
            reg::TPR => self.tpr as u32,
            reg::APR => 0,
            reg::PPR => self.ppr() as u32,
            reg::LDR => self.ldr,
            reg::DFR => self.dfr,
            reg::SVR => self.svr,
            r @ reg::ISR..=0x170 => self.isr.0[((r - reg::ISR) >> 4) as usize],
            r @ reg::TMR..=0x1F0 => self.tmr.0[((r - reg::TMR) >> 4) as usize],
            r @ reg::IRR..=0x270 => self.irr.0[((r - reg::IRR) >> 4) as usize],
            reg::ESR => self.esr,
            reg::ICR_LO => self.icr_lo,
            reg::ICR_HI => self.icr_hi,
            r @ reg::LVT_TIMER..=reg::LVT_ERROR => self.lvt[((r - reg::LVT_TIMER) >> 4) as usize],
            reg::TIMER_INITIAL => self.initial_count,
            reg::TIMER_CURRENT => {
                self.resync = true;
                self.current_count()
            }
            reg::TIMER_DIVIDE => self.divide_config,
            // EOI and RRD read 0; reserved registers too.
            _ => 0,
        };
        let v = v >> shift;
        match size {
            1 => v & 0xFF,
            2 => v & 0xFFFF,
            _ => v,
        }
    }

    /// Writes the register at `offset` (`size` bytes: a narrower write lands in its part
    /// of the dword, the rest taken as 0).
    pub fn write(&mut self, offset: u32, _size: u8, value: u32) {
        if offset & 0xF >= 4 {
            return;
        }
        let v = value << (8 * (offset & 3));
        match offset & 0xFF0 {
            reg::ID => self.id = (v >> 24) as u8,
            reg::TPR => self.tpr = v as u8,
            reg::EOI => self.eoi(),
            reg::LDR => self.ldr = v & 0xFF00_0000,
            reg::DFR => self.dfr = v | 0x0FFF_FFFF,
            reg::SVR => {
                self.svr = v & 0x3FF;
                if v & SVR_ENABLE == 0 {
                    for e in &mut self.lvt {
                        *e |= lvt::MASKED;
                    }
                }
            }
            reg::ESR => {
                self.esr = std::mem::take(&mut self.esr_pending);
            }
            reg::ICR_LO => {
                self.icr_lo = v & !lvt::SEND_PENDING & 0x000C_CFFF;
                self.send_ipi();
            }
            reg::ICR_HI => self.icr_hi = v & 0xFF00_0000,
            r @ reg::LVT_TIMER..=reg::LVT_ERROR => {
                let slot = ((r - reg::LVT_TIMER) >> 4) as usize;
                let mut entry = (self.lvt[slot] & !LVT_WRITABLE[slot]) | (v & LVT_WRITABLE[slot]);
                if self.svr & SVR_ENABLE == 0 {
                    entry |= lvt::MASKED;
                }
                let was_periodic = self.lvt[slot] & lvt::PERIODIC != 0;
                self.lvt[slot] = entry;
                if slot == LVT_TIMER && was_periodic != (entry & lvt::PERIODIC != 0) {
                    // A mode change keeps counting from where the count is.
                    self.resync = true;
                }
            }
            reg::TIMER_INITIAL => {
                self.initial_count = v;
                self.timer = if v == 0 { TimerState::Idle } else { TimerState::Arming };
                self.resync = true;
            }
            reg::TIMER_DIVIDE => self.divide_config = v & 0xB,
            _ => {}
        }
    }

    /// Sends the IPI the ICR describes. With one CPU, only messages to itself arrive:
    /// the self shorthand, all-including-self, or a destination that names it.
    fn send_ipi(&mut self) {
        let icr = self.icr_lo;
        let mode = (icr & lvt::DELIVERY_MODE) >> 8;
        let vector = icr as u8;
        let level = icr & lvt::LEVEL != 0;
        let to_self = match icr >> 18 & 3 {
            0 => self.matches_destination((self.icr_hi >> 24) as u8, icr & (1 << 11) != 0),
            1 | 2 => true,
            _ => false,
        };
        if matches!(mode, lvt::MODE_FIXED | lvt::MODE_LOWEST) && vector < 16 {
            self.error(ESR_SEND_ILLEGAL_VECTOR);
            return;
        }
        // INIT level de-assert, INIT and start-up to an absent CPU, SMI: nothing.
        if to_self && matches!(mode, lvt::MODE_FIXED | lvt::MODE_LOWEST | lvt::MODE_NMI) {
            self.accept(mode, vector, level && mode != lvt::MODE_NMI);
        }
    }

    /// Fires the timer: the LVT timer's vector, unless masked.
    fn timer_fire(&mut self) {
        let entry = self.lvt[LVT_TIMER];
        if entry & lvt::MASKED == 0 {
            self.accept(lvt::MODE_FIXED, entry as u8, false);
        }
    }

    /// The LINT1 pin (the NMI input on PC boards) was asserted.
    pub fn lint1(&mut self) {
        let entry = self.lvt[LVT_LINT1];
        if entry & lvt::MASKED == 0 {
            self.accept((entry & lvt::DELIVERY_MODE) >> 8, entry as u8, false);
        }
    }
}

impl Timed for LocalApic {
    fn tick(&mut self, now_ns: u64) {
        self.now_ns = self.now_ns.max(now_ns);
        self.resync = false;
        let now = self.now_ns;
        match self.timer {
            TimerState::Idle => {}
            TimerState::Arming => self.start_timer(now),
            TimerState::Running { start, next } if next <= now => {
                self.timer_fire();
                if self.lvt[LVT_TIMER] & lvt::PERIODIC != 0 {
                    // Missed periods are one interrupt (the IRR bit is one bit).
                    let period = (self.initial_count as u64 * self.ns_per_count()).max(1);
                    let done = (now - start) / period + 1;
                    self.timer = TimerState::Running { start, next: start + done * period };
                } else {
                    self.timer = TimerState::Idle;
                }
            }
            TimerState::Running { .. } => {}
        }
    }

    /// Only an expiry that raises an interrupt counts (timer unmasked, APIC enabled);
    /// an initial count waiting to start asks for a tick at once.
    fn next_deadline(&self) -> Option<u64> {
        match self.timer {
            TimerState::Running { next, .. } => {
                (self.enabled() && self.lvt[LVT_TIMER] & lvt::MASKED == 0).then_some(next)
            }
            TimerState::Arming => Some(self.now_ns),
            TimerState::Idle => None,
        }
    }
}

#[cfg(test)]
#[path = "lapic_tests.rs"]
mod tests;
