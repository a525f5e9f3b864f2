//! Boot paths that bypass the BIOS: the machine loads a kernel into RAM itself and starts
//! the CPU at its entry point.
//!
//! - [`multiboot`]: multiboot v1 kernels (ELF32 or a.out kludge), `ferrite run --kernel`.
//! - [`linux`]: Linux bzImages through the Linux/x86 32-bit boot protocol; `--kernel`
//!   picks it when the file carries the boot-protocol signature.

pub mod elf;
pub mod linux;
pub mod multiboot;

use ferrite_cpu::{Cpu, Flags, Gpr, SegReg, Segment, TableReg};
use ferrite_mem::PhysMem;

/// The flat 32-bit protected-mode state both boot protocols enter with: CS `code_sel` and
/// every data segment `data_sel` over all 4 GiB, CR0.PE only, interrupts off, ESP
/// `stack_top`, the GDT of `gdt_entries` descriptors at `gdt_addr`, no IDT, a clean TLB.
/// General registers other than ESP are left to the caller.
pub(crate) fn enter_flat_protected_mode(cpu: &mut Cpu, flat: FlatEntry) {
    cpu.gpr[Gpr::Esp as usize] = flat.stack_top;
    cpu.eip = flat.entry;
    cpu.eflags = Flags::FIXED1;
    cpu.cr0 = multiboot::ENTRY_CR0;
    for s in SegReg::ALL {
        cpu.seg[s as usize] =
            Segment { selector: flat.data_sel, attrs: multiboot::DATA_ATTRS, base: 0, limit: u32::MAX };
    }
    cpu.seg[SegReg::Cs as usize] =
        Segment { selector: flat.code_sel, attrs: multiboot::CODE_ATTRS, base: 0, limit: u32::MAX };
    cpu.gdtr = TableReg { base: flat.gdt_addr, limit: flat.gdt_entries * 8 - 1 };
    cpu.idtr = TableReg { base: 0, limit: 0 };
    cpu.halted = false;
    cpu.int_shadow = false;
    cpu.tlb.flush(false);
}

/// Where and how a boot protocol enters flat protected mode.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FlatEntry {
    pub(crate) entry: u32,
    pub(crate) stack_top: u32,
    pub(crate) code_sel: u16,
    pub(crate) data_sel: u16,
    pub(crate) gdt_addr: u32,
    pub(crate) gdt_entries: u32,
}

/// Copies `data` into RAM at `addr` (the boot paths check their ranges beforehand; a range
/// outside RAM is ignored rather than panicking).
pub(crate) fn copy_to_ram(mem: &mut PhysMem, addr: u32, data: &[u8]) {
    let start = addr as usize;
    if let Some(dst) = start.checked_add(data.len()).and_then(|end| mem.ram_mut().get_mut(start..end)) {
        dst.copy_from_slice(data);
    }
}

/// A checked boot, ready to write into the machine (and to write again after a reset).
#[derive(Debug, Clone)]
pub struct BootPlan {
    kernel: BootKernel,
    /// ferrite's ACPI tables, linked into the EBDA (see [`crate::acpi`]).
    acpi: Option<crate::acpi::LowAcpi>,
}

/// The kernel a [`BootPlan`] loads.
#[derive(Debug, Clone)]
pub enum BootKernel {
    /// A multiboot kernel.
    Multiboot(multiboot::LoadPlan),
    /// A Linux bzImage.
    Linux(linux::LinuxPlan),
}

impl BootPlan {
    /// Prepares `kernel`: a bzImage (see [`linux::is_bzimage`]) boots the Linux way,
    /// anything else must be a multiboot kernel. Either way the machine's ACPI tables go
    /// into the EBDA, where the kernel's RSDP scan finds them; a Linux kernel of boot
    /// protocol 2.14 or newer is also handed the RSDP's address in its zero page.
    pub fn prepare(
        kernel: multiboot::KernelBoot,
        ram_size: u32,
        bios_len: u32,
    ) -> Result<BootPlan, crate::MachineError> {
        let config = crate::acpi::AcpiConfig::for_machine(ram_size, crate::acpi::MACHINE_HAS_APICS);
        let acpi = crate::acpi::AcpiTables::build(&config).link_low().map_err(|e| crate::MachineError::Acpi(e.0))?;
        let kernel = if linux::is_bzimage(&kernel.image) {
            let mut plan = linux::prepare(kernel, ram_size, bios_len).map_err(crate::MachineError::Linux)?;
            plan.set_acpi_rsdp(crate::acpi::LowAcpi::RSDP_ADDR);
            BootKernel::Linux(plan)
        } else {
            BootKernel::Multiboot(multiboot::prepare(kernel, ram_size, bios_len).map_err(crate::MachineError::Kernel)?)
        };
        Ok(BootPlan { kernel, acpi: Some(acpi) })
    }

    /// The kernel's plan.
    pub fn kernel(&self) -> &BootKernel {
        &self.kernel
    }

    /// Writes the plan into RAM and sets the CPU's entry state.
    pub fn apply(&self, cpu: &mut Cpu, mem: &mut PhysMem) {
        match &self.kernel {
            BootKernel::Multiboot(plan) => plan.apply(cpu, mem),
            BootKernel::Linux(plan) => plan.apply(cpu, mem),
        }
        if let Some(acpi) = &self.acpi {
            acpi.apply(mem);
        }
    }
}
