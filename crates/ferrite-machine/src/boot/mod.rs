//! Boot paths that bypass the BIOS: the machine loads a kernel into RAM itself and starts
//! the CPU at its entry point.
//!
//! - [`multiboot`]: multiboot v1 kernels (ELF32 or a.out kludge), `ferrite run --kernel`.
//! - [`linux`]: Linux bzImages through the Linux/x86 32-bit boot protocol; `--kernel`
//!   picks it when the file carries the boot-protocol signature.

pub mod elf;
pub mod linux;
pub mod multiboot;

use ferrite_cpu::Cpu;
use ferrite_mem::PhysMem;

/// A checked boot, ready to write into the machine (and to write again after a reset).
#[derive(Debug, Clone)]
pub enum BootPlan {
    /// A multiboot kernel.
    Multiboot(multiboot::LoadPlan),
    /// A Linux bzImage.
    Linux(linux::LinuxPlan),
}

impl BootPlan {
    /// Prepares `kernel`: a bzImage (see [`linux::is_bzimage`]) boots the Linux way,
    /// anything else must be a multiboot kernel.
    pub fn prepare(
        kernel: multiboot::KernelBoot,
        ram_size: u32,
        bios_len: u32,
    ) -> Result<BootPlan, crate::MachineError> {
        if linux::is_bzimage(&kernel.image) {
            linux::prepare(kernel, ram_size, bios_len).map(BootPlan::Linux).map_err(crate::MachineError::Linux)
        } else {
            multiboot::prepare(kernel, ram_size, bios_len).map(BootPlan::Multiboot).map_err(crate::MachineError::Kernel)
        }
    }

    /// Writes the plan into RAM and sets the CPU's entry state.
    pub fn apply(&self, cpu: &mut Cpu, mem: &mut PhysMem) {
        match self {
            BootPlan::Multiboot(plan) => plan.apply(cpu, mem),
            BootPlan::Linux(plan) => plan.apply(cpu, mem),
        }
    }
}
