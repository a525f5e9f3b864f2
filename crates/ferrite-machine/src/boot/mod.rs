//! Boot paths that bypass the BIOS: the machine loads a kernel into RAM itself and starts
//! the CPU at its entry point.
//!
//! - [`multiboot`]: multiboot v1 kernels (ELF32 or a.out kludge), `ferrite run --kernel`.
//!
//! Direct Linux (bzImage) boot arrives with the platform work.

pub mod elf;
pub mod multiboot;
