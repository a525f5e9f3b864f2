//! The interpreter: the run loop, block decoding, and the dispatch of each decoded
//! instruction to the procedure that gives it its semantics.
//!
//! Instruction procedures are methods on [`Exec`], which borrows the CPU, guest memory and
//! the bus for one run slice. They return `Err(Fault)` for an exception; the run loop
//! rewinds EIP to the faulting instruction and delivers it.

mod alu;
mod bcd;
mod bits;
mod control;
mod cpuid;
mod data;
mod debug;
mod far;
mod idt;
mod interrupt;
mod io_perm;
pub(crate) mod lazy_flags;
#[cfg(test)]
mod link_tests;
mod msr;
mod muldiv;
mod operand;
mod protect;
mod segment;
mod shift;
mod string;
mod system;
mod task;
pub(crate) mod uop;
mod uop_exec;
#[cfg(test)]
mod uop_tests;

use crate::bus::IoBus;
use crate::decode_cache::Block;
use crate::fault::{Fault, Vector};
use crate::flags::Flags;
use crate::memory::Access;
use crate::state::{Cpu, SegReg};
use ferrite_mem::{PhysMem, PAGE_SHIFT};
use iced_x86::{Code, Decoder, DecoderOptions, FlowControl, Instruction, Mnemonic};
use std::rc::Rc;

pub(crate) use cpuid::CPUID_SIGNATURE;
pub use debug::DebugState;
pub(crate) use interrupt::IntKind;
pub use msr::{MsrState, APIC_BASE_ADDR_MASK, APIC_BASE_BSP, APIC_BASE_ENABLE};

/// Why [`Cpu::run`] returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunExit {
    /// The instruction budget is used up.
    Budget,
    /// The CPU is halted (HLT) and no interrupt woke it.
    Halted,
    /// An exception could not be delivered even as a double fault: the CPU shut down.
    TripleFault,
    /// The bus asked the CPU to stop (e.g. the exit port was written).
    Stopped,
    /// The next instruction (at CS:EIP) is on a host debugger breakpoint; not executed.
    Breakpoint,
    /// The last instruction touched a host debugger watchpoint (see `Cpu::hooks.hit`).
    Watchpoint,
}

/// Most instructions in one decoded block.
const MAX_BLOCK_INSNS: usize = 32;
/// Longest x86 instruction.
const MAX_INSN_LEN: usize = 15;

/// One run slice's view of the machine: the CPU and what it is wired to.
pub(crate) struct Exec<'a> {
    pub(crate) cpu: &'a mut Cpu,
    pub(crate) mem: &'a mut PhysMem,
    pub(crate) io: &'a mut dyn IoBus,
    /// Set by an instruction that must end the current block (mode or flag change).
    pub(crate) end_block: bool,
    /// Set when a trap after an instruction could not be delivered: the CPU shut down.
    pub(crate) shutdown: bool,
    /// Status flags a fast form has not computed yet (see `lazy_flags.rs`).
    pub(crate) lazy: lazy_flags::LazyFlags,
}

impl<'a> Exec<'a> {
    /// A run slice's view of `cpu`, `mem` and `io`.
    pub(crate) fn new(cpu: &'a mut Cpu, mem: &'a mut PhysMem, io: &'a mut dyn IoBus) -> Self {
        Exec { cpu, mem, io, end_block: false, shutdown: false, lazy: lazy_flags::LazyFlags::NONE }
    }
}

/// The EIP after an instruction of `len` bytes at `eip`: 16-bit code wraps at 64 KiB.
#[inline(always)]
fn ip_after(eip: u32, len: u32, code32: bool) -> u32 {
    let next = eip.wrapping_add(len);
    if code32 {
        next
    } else {
        next & 0xFFFF
    }
}

impl Cpu {
    /// Runs up to `budget` instructions and returns why it stopped.
    pub fn run(&mut self, mem: &mut PhysMem, io: &mut dyn IoBus, budget: u64) -> RunExit {
        let mut ex = Exec::new(self, mem, io);
        let exit = ex.run(budget);
        ex.flush_flags();
        exit
    }

    /// Executes exactly one instruction (or delivers one pending interrupt/exception).
    pub fn step(&mut self, mem: &mut PhysMem, io: &mut dyn IoBus) -> RunExit {
        self.run(mem, io, 1)
    }
}

impl Exec<'_> {
    fn run(&mut self, budget: u64) -> RunExit {
        let mut left = budget;
        // Set when the interrupt inputs were last polled with IF clear, no interrupt shadow
        // and nothing taken, and every block since left by a branch or its end (no I/O,
        // MMIO, fault or other end_block): the devices have not run since, so with IF still
        // clear only an NMI could be due, and the NMI line has not moved either. The poll
        // (two bus calls) is then skipped.
        let mut quiet = false;
        // Whether NMIs were blocked at that poll (the NMI input was not looked at then).
        let mut nmi_was_blocked = false;
        // Whoever ran since the last slice (machine, debugger, translator) may have
        // changed anything: links from before are not trusted.
        self.cpu.cache.bump_epoch();
        // The block that ran last, whose links may name the next one.
        let mut prev: Option<Rc<Block>> = None;
        while left > 0 {
            if self.mem.code_written() {
                for page in self.mem.take_written_code_pages() {
                    self.cpu.cache.invalidate_page(page);
                }
            }
            let c = &*self.cpu;
            if !(quiet && c.eflags & Flags::IF == 0 && !c.int_shadow && (c.nmi_blocked || !nmi_was_blocked)) {
                let if_clear = c.eflags & Flags::IF == 0 && !c.int_shadow;
                nmi_was_blocked = c.nmi_blocked;
                if let Some(exit) = self.service_interrupts() {
                    return exit;
                }
                // With IF clear the only delivery is an NMI, which sets nmi_blocked.
                quiet = if_clear && self.cpu.nmi_blocked == nmi_was_blocked;
            }
            if self.cpu.halted {
                return RunExit::Halted;
            }
            let block = match self.cpu.cache.follow(prev.as_deref(), self.cpu.eip) {
                Some(b) => b,
                None => match self.block_at_pc() {
                    Ok(b) => {
                        self.cpu.cache.remember(prev.as_deref(), self.cpu.eip, &b);
                        b
                    }
                    Err(f) => {
                        // A fetch fault belongs to the instruction that could not be fetched.
                        self.cpu.cur_eip = self.cpu.eip;
                        quiet = false;
                        if self.raise(f) {
                            return RunExit::TripleFault;
                        }
                        continue;
                    }
                },
            };
            let end = if self.cpu.int_shadow { 1 } else { block.insns.len() };
            let code32 = block.code32;
            let mut fast = self.fast_ok();
            let mut i = 0;
            while i < end {
                if fast {
                    // A stretch of fast forms: what exec_one does, minus what fast_ok
                    // rules out (TF traps, debug and watch checks, the interrupt shadow,
                    // #AC, a set RF). cur_eip is only needed when one faults; the
                    // budget, instruction and TSC counts are settled after the stretch.
                    // A write that reaches decoded code or MMIO sets end_block (phys_write).
                    let first = i;
                    let stop = end.min(i.saturating_add(usize::try_from(left).unwrap_or(usize::MAX)));
                    let mut eip = self.cpu.eip;
                    let mut outcome = 0;
                    let mut branched = false;
                    self.end_block = false;
                    while i < stop {
                        let u = &block.uops[i];
                        let Some(run) = u.run else { break };
                        let next = ip_after(eip, u.len as u32, code32);
                        self.cpu.eip = next;
                        outcome = run(self, u);
                        if outcome != 0 {
                            break;
                        }
                        i += 1;
                        if self.end_block {
                            break;
                        }
                        eip = self.cpu.eip;
                        if eip != next {
                            branched = true;
                            break;
                        }
                    }
                    let n = (i - first) as u64;
                    left -= n;
                    self.retire(n);
                    if let Err(f) = uop::unpack(outcome) {
                        // The faulting instruction used up budget but did not retire.
                        left -= 1;
                        self.cpu.cur_eip = eip;
                        self.cpu.eip = eip;
                        quiet = false;
                        if self.raise(f) {
                            return RunExit::TripleFault;
                        }
                        break;
                    }
                    if branched {
                        // A taken branch: the bus has nothing new to say (no I/O ran).
                        break;
                    }
                    if self.end_block || left == 0 {
                        quiet = false;
                        if self.io.stop_requested() {
                            return RunExit::Stopped;
                        }
                        break;
                    }
                    if i == end {
                        break;
                    }
                }
                // An instruction without a fast form, or the fast forms are off.
                let ins = &block.insns[i];
                i += 1;
                if self.cpu.hooks.any_break && self.at_breakpoint() {
                    return RunExit::Breakpoint;
                }
                left -= 1;
                let next = ip_after(self.cpu.eip, ins.len() as u32, code32);
                match self.exec_one(ins) {
                    Ok(()) => {}
                    Err(f) => {
                        self.cpu.eip = self.cpu.cur_eip;
                        quiet = false;
                        if self.raise(f) {
                            return RunExit::TripleFault;
                        }
                        break;
                    }
                }
                if self.shutdown {
                    return RunExit::TripleFault;
                }
                if self.cpu.hooks.hit.is_some() {
                    return RunExit::Watchpoint;
                }
                if self.end_block || self.mem.code_written() || left == 0 {
                    // Devices only act on I/O and MMIO accesses, which end the block.
                    quiet = false;
                    if self.io.stop_requested() {
                        return RunExit::Stopped;
                    }
                    break;
                }
                if self.cpu.eip != next {
                    // A taken branch leaves the block's fall-through path.
                    break;
                }
                fast = self.fast_ok();
            }
            prev = Some(block);
        }
        RunExit::Budget
    }

    /// Counts `n` retired instructions (and TSC ticks, one per instruction).
    #[inline(always)]
    fn retire(&mut self, n: u64) {
        self.cpu.insns += n;
        self.cpu.tsc = self.cpu.tsc.wrapping_add(n);
    }

    /// Whether CS:EIP sits on a host breakpoint (consuming a pending `resume`).
    fn at_breakpoint(&mut self) -> bool {
        if std::mem::take(&mut self.cpu.hooks.resume) {
            return false;
        }
        let lin = self.cpu.pc_linear();
        let phys = self.translate(lin, Access::Execute).ok();
        self.cpu.hooks.is_break(lin, phys)
    }

    /// Executes one decoded instruction, retiring it (EIP, TSC, counters, TF trap).
    #[inline]
    fn exec_one(&mut self, ins: &Instruction) -> Result<(), Fault> {
        self.flush_flags();
        // Only generic instructions load CS, write control registers, flush the TLB or
        // reach the A20 gate: block links made before one are not trusted after it.
        self.cpu.cache.bump_epoch();
        let cpu = &mut *self.cpu;
        let start = cpu.eip;
        cpu.cur_eip = start;
        cpu.eip = ip_after(start, ins.len() as u32, cpu.code32());
        let trap = cpu.eflags & Flags::TF != 0;
        let shadow = std::mem::replace(&mut cpu.int_shadow, false);
        self.end_block = false;
        if self.cpu.dbg.exec_mask != 0 {
            let lin = self.cpu.seg[SegReg::Cs as usize].base.wrapping_add(start);
            self.check_exec_breakpoint(lin)?;
        }
        if let Err(f) = self.dispatch(ins) {
            self.cpu.int_shadow = shadow;
            self.cpu.dbg.pending = 0;
            return Err(f);
        }
        self.cpu.insns += 1;
        self.cpu.tsc = self.cpu.tsc.wrapping_add(1);
        self.cpu.eflags &= !Flags::RF;
        let data_hits = std::mem::take(&mut self.cpu.dbg.pending);
        if (trap || data_hits != 0) && !self.cpu.halted {
            // Debug trap after the instruction retires: single-step and/or data breakpoints.
            self.end_block = true;
            self.cpu.dr[6] |= data_hits as u32 | if trap { debug::dr6::BS } else { 0 };
            if let Err(f) = self.deliver(Vector::Debug as u8, IntKind::Trap, None) {
                self.shutdown |= self.raise(f);
            }
        }
        Ok(())
    }

    /// Finds (or decodes and caches) the block at CS:EIP.
    fn block_at_pc(&mut self) -> Result<Rc<Block>, Fault> {
        use crate::descriptor::access as a;
        let code32 = self.cpu.code32();
        let cs = &self.cpu.seg[SegReg::Cs as usize];
        // A present code segment (never expand-down) with EIP inside its limit is all
        // `linear` checks for a fetch; anything else goes through it.
        let lin = if cs.attrs as u8 & (a::PRESENT | a::CODE_DATA | a::CODE) == a::PRESENT | a::CODE_DATA | a::CODE
            && self.cpu.eip <= cs.limit
        {
            cs.base.wrapping_add(self.cpu.eip)
        } else {
            self.linear(SegReg::Cs, self.cpu.eip, 1, Access::Execute)?
        };
        // Key by the address the bus really decodes: with A20 closed, 1 MiB aliases 0.
        let phys = self.translate(lin, Access::Execute)? & self.mem.a20_mask();
        if let Some(b) = self.cpu.cache.get(phys, code32) {
            return Ok(b);
        }
        let block = Rc::new(self.decode_block(phys, code32)?);
        if self.cpu.cache.enabled() {
            self.mem.mark_code_page(block.first_page << PAGE_SHIFT);
            self.mem.mark_code_page(block.last_page << PAGE_SHIFT);
        }
        self.cpu.cache.insert(phys, code32, block.clone());
        Ok(block)
    }

    /// Decodes instructions from CS:EIP until a block boundary.
    fn decode_block(&mut self, phys: u32, code32: bool) -> Result<Block, Fault> {
        let bitness = if code32 { 32 } else { 16 };
        let mut insns = Vec::with_capacity(8);
        let mut eip = self.cpu.eip;
        let first_page = phys >> PAGE_SHIFT;
        let mut last_page = first_page;
        loop {
            let mut bytes = [0u8; MAX_INSN_LEN];
            let mut n = 0;
            let mut fetch_fault = None;
            for (i, b) in bytes.iter_mut().enumerate() {
                let off = if code32 { eip.wrapping_add(i as u32) } else { (eip + i as u32) & 0xFFFF };
                match self.fetch_u8(off) {
                    Ok(v) => {
                        *b = v;
                        n += 1;
                    }
                    Err(f) => {
                        fetch_fault = Some(f);
                        break;
                    }
                }
            }
            let mut dec = Decoder::with_ip(bitness, &bytes[..n], eip as u64, DecoderOptions::NO_INVALID_CHECK);
            let ins = dec.decode();
            if ins.is_invalid() {
                if let Some(f) = fetch_fault {
                    // The instruction runs past the segment limit or into a bad page.
                    if dec.last_error() == iced_x86::DecoderError::NoMoreBytes {
                        if insns.is_empty() {
                            return Err(f);
                        }
                        // Not #UD: the block ends before it, and the next block starts
                        // at it and raises the fetch fault (#GP, #PF) there.
                        break;
                    }
                }
            }
            let len = ins.len() as u32;
            let end_phys = phys.wrapping_add(eip.wrapping_sub(self.cpu.eip)).wrapping_add(len.max(1) - 1);
            last_page = last_page.max(end_phys >> PAGE_SHIFT);
            // A conditional branch does not end the block: its fall-through path is
            // decoded on, and the run loop leaves the block when the branch is taken.
            let ends = ins.is_invalid() || (ends_block(&ins) && ins.flow_control() != FlowControl::ConditionalBranch);
            insns.push(ins);
            eip = eip.wrapping_add(len);
            if !code32 {
                eip &= 0xFFFF;
            }
            let next_phys = phys.wrapping_add(eip.wrapping_sub(self.cpu.eip));
            if ends || insns.len() >= MAX_BLOCK_INSNS || next_phys >> PAGE_SHIFT != first_page {
                break;
            }
        }
        Ok(Block::new(insns, first_page, last_page, code32, self.cpu.cache.uops()))
    }

    /// Raises an exception at the current instruction. Returns true on a triple fault.
    pub(crate) fn raise(&mut self, f: Fault) -> bool {
        self.end_block = true;
        self.cpu.last_fault = Some(crate::state::FaultRecord {
            fault: f,
            cs: self.cpu.seg[SegReg::Cs as usize].selector,
            eip: self.cpu.eip,
            protected: self.cpu.protected_mode(),
        });
        let first = self.deliver(f.vector, IntKind::Exception, f.error_code);
        let Err(second) = first else { return false };
        // Delivering it faulted: the pairs of SDM table 6-5 (and a fault while delivering
        // #DF) escalate; the rest are delivered serially.
        let df = f.vector == Vector::DoubleFault as u8 || f.escalates_with(&second);
        if f.vector == Vector::DoubleFault as u8 {
            return true;
        }
        let (vec, code) = if df { (Vector::DoubleFault as u8, Some(0)) } else { (second.vector, second.error_code) };
        match self.deliver(vec, IntKind::Exception, code) {
            Ok(()) => false,
            Err(_) if vec == Vector::DoubleFault as u8 => true,
            Err(_) => match self.deliver(Vector::DoubleFault as u8, IntKind::Exception, Some(0)) {
                Ok(()) => false,
                Err(_) => true,
            },
        }
    }

    /// Delivers a pending NMI or external interrupt, or wakes from HLT. Returns an exit
    /// when the delivery shut the CPU down.
    #[inline]
    fn service_interrupts(&mut self) -> Option<RunExit> {
        if self.cpu.int_shadow {
            return None;
        }
        let vector = if !self.cpu.nmi_blocked && self.io.nmi_pending() {
            self.io.nmi_ack();
            self.cpu.nmi_blocked = true;
            Vector::Nmi as u8
        } else {
            if self.cpu.eflags & Flags::IF == 0 || !self.io.intr_pending() {
                return None;
            }
            self.io.intr_ack()
        };
        self.cpu.halted = false;
        self.cpu.cur_eip = self.cpu.eip;
        if let Err(f) = self.deliver(vector, IntKind::External, None) {
            if self.raise(f) {
                return Some(RunExit::TripleFault);
            }
        }
        None
    }

    /// Executes one instruction's semantics.
    fn dispatch(&mut self, ins: &Instruction) -> Result<(), Fault> {
        use Mnemonic as M;
        if ins.has_lock_prefix() && !lock_allowed(ins) {
            return Err(Fault::UD);
        }
        match ins.mnemonic() {
            M::Add
            | M::Or
            | M::Adc
            | M::Sbb
            | M::And
            | M::Sub
            | M::Xor
            | M::Cmp
            | M::Test
            | M::Inc
            | M::Dec
            | M::Neg
            | M::Not
            | M::Xadd
            | M::Cmpxchg
            | M::Cmpxchg8b => self.exec_alu(ins),
            M::Rol | M::Ror | M::Rcl | M::Rcr | M::Shl | M::Sal | M::Shr | M::Sar | M::Shld | M::Shrd => {
                self.exec_shift(ins)
            }
            M::Mul | M::Imul | M::Div | M::Idiv => self.exec_muldiv(ins),
            M::Daa | M::Das | M::Aaa | M::Aas | M::Aam | M::Aad => self.exec_bcd(ins),
            M::Bt | M::Bts | M::Btr | M::Btc | M::Bsf | M::Bsr | M::Tzcnt | M::Lzcnt | M::Bswap => self.exec_bits(ins),
            // SSE2 MOVSD/CMPSD share their mnemonics with the string instructions.
            M::Movsd | M::Cmpsd if crate::simd::is_simd(ins) => self.exec_simd(ins),
            M::Movsb
            | M::Movsw
            | M::Movsd
            | M::Cmpsb
            | M::Cmpsw
            | M::Cmpsd
            | M::Stosb
            | M::Stosw
            | M::Stosd
            | M::Lodsb
            | M::Lodsw
            | M::Lodsd
            | M::Scasb
            | M::Scasw
            | M::Scasd
            | M::Insb
            | M::Insw
            | M::Insd
            | M::Outsb
            | M::Outsw
            | M::Outsd => self.exec_string(ins),
            M::Jmp
            | M::Call
            | M::Ret
            | M::Retf
            | M::Loop
            | M::Loope
            | M::Loopne
            | M::Jcxz
            | M::Jecxz
            | M::Int
            | M::Int1
            | M::Int3
            | M::Into
            | M::Iret
            | M::Iretd
            | M::Enter
            | M::Leave
            | M::Bound => self.exec_control(ins),
            m if crate::classify::is_jcc(m) => self.exec_control(ins),
            _ => self.exec_data(ins),
        }
    }
}

/// Instructions after which the decoded block ends: control transfers and anything that
/// may change how the following bytes decode or whether interrupts are deliverable.
fn ends_block(ins: &Instruction) -> bool {
    use Mnemonic as M;
    if ins.flow_control() != FlowControl::Next {
        return true;
    }
    match ins.mnemonic() {
        M::Sti
        | M::Popf
        | M::Popfd
        | M::Hlt
        | M::In
        | M::Out
        | M::Insb
        | M::Insw
        | M::Insd
        | M::Outsb
        | M::Outsw
        | M::Outsd
        | M::Lmsw
        | M::Lgdt
        | M::Lidt
        | M::Lldt
        | M::Ltr
        | M::Clts
        | M::Lss
        | M::Wrmsr
        | M::Invlpg
        | M::Cpuid
        | M::Wbinvd
        | M::Invd
        | M::Rsm => true,
        M::Mov => {
            matches!(ins.code(), Code::Mov_cr_r32 | Code::Mov_dr_r32 | Code::Mov_Sreg_rm16 | Code::Mov_Sreg_r32m16)
        }
        M::Pop => ins.op0_register().is_segment_register(),
        _ => false,
    }
}

/// Whether LOCK is a legal prefix for this instruction (a read-modify-write of memory).
fn lock_allowed(ins: &Instruction) -> bool {
    use Mnemonic as M;
    ins.op_count() > 0
        && ins.op0_kind() == iced_x86::OpKind::Memory
        && matches!(
            ins.mnemonic(),
            M::Add
                | M::Adc
                | M::And
                | M::Btc
                | M::Btr
                | M::Bts
                | M::Cmpxchg
                | M::Cmpxchg8b
                | M::Dec
                | M::Inc
                | M::Neg
                | M::Not
                | M::Or
                | M::Sbb
                | M::Sub
                | M::Xor
                | M::Xadd
                | M::Xchg
        )
}
