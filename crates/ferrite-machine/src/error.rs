//! Errors building a machine. Each message is one line that names the problem.

use crate::boot::linux::LinuxError;
use crate::boot::multiboot::MultibootError;
use ferrite_mem::MemError;
use std::fmt;

/// Why [`crate::Machine::new`] refused a configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MachineError {
    /// Guest RAM outside [`crate::MIN_RAM_MIB`]..=[`crate::MAX_RAM_MIB`].
    RamSize(u32),
    /// Guest memory could not be set up (mapping failed, BIOS image of the wrong size).
    Memory(MemError),
    /// Two devices declared the same I/O port.
    PortConflict {
        /// The contested port.
        port: u16,
        /// The device that holds it.
        existing: &'static str,
        /// The device that was refused.
        new: &'static str,
    },
    /// The multiboot kernel (or its module) cannot be booted.
    Kernel(MultibootError),
    /// The Linux bzImage (or its initrd or command line) cannot be booted.
    Linux(LinuxError),
    /// The chosen execution engine cannot run on this host.
    Engine(String),
    /// The ACPI tables could not be laid out (a ferrite bug).
    Acpi(String),
}

impl fmt::Display for MachineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MachineError::RamSize(mib) => write!(
                f,
                "guest RAM size {mib} MiB is out of range (must be {}..={} MiB)",
                crate::MIN_RAM_MIB,
                crate::MAX_RAM_MIB
            ),
            MachineError::Memory(e) => e.fmt(f),
            MachineError::PortConflict { port, existing, new } => {
                write!(f, "I/O port {port:#06x} is claimed by both the {existing} and the {new}")
            }
            MachineError::Kernel(e) => e.fmt(f),
            MachineError::Linux(e) => e.fmt(f),
            MachineError::Engine(e) => f.write_str(e),
            MachineError::Acpi(e) => write!(f, "ACPI tables: {e}"),
        }
    }
}

impl std::error::Error for MachineError {}

impl From<MemError> for MachineError {
    fn from(e: MemError) -> Self {
        MachineError::Memory(e)
    }
}
