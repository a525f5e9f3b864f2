//! `ferrite-cpu` is ferrite's x86 processor: the architectural state ([`Cpu`], laid out
//! `#[repr(C)]` so the translator can address its fields), instruction decoding through
//! `iced-x86` with a per-basic-block decode cache, and the interpreter that gives every
//! instruction its reference semantics, including exception and interrupt delivery.
//!
//! The CPU reaches memory only through `ferrite-mem` and reaches devices only through the
//! [`IoBus`] trait that the machine implements; it knows nothing about the board.
#![deny(missing_docs)]

mod bus;
pub mod classify;
pub mod debug_walk;
mod decode_cache;
pub mod descriptor;
mod fault;
mod flags;
mod fpu;
pub mod hooks;
mod interp;
mod jit_api;
mod memory;
mod paging;
mod simd;
pub mod soft_tlb;
mod state;

pub use bus::{IoBus, NullBus};
pub use debug_walk::{DebugWalk, WalkLevel};
pub use decode_cache::CacheStats;
pub use fault::{Fault, Vector};
pub use flags::Flags;
pub use fpu::{FpuState, F80};
pub use hooks::{DebugHooks, WatchHit, Watchpoint};
pub use interp::{MsrState, RunExit, APIC_BASE_ADDR_MASK, APIC_BASE_BSP, APIC_BASE_ENABLE};
pub use simd::SseState;
pub use soft_tlb::MmuStats;
pub use state::{Cpu, FaultRecord, Gpr, SegReg, Segment, TableReg, CPUID_VENDOR};

#[cfg(test)]
mod tests;
