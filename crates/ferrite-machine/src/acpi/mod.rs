//! ferrite's own ACPI tables, which tell an operating system how to switch the machine
//! off (`\_S5` and the PM block), reset it (RESET_REG 0xCF9), find the PM timer, the SCI,
//! the century byte of the RTC, the PCI root bridge and — on a machine with APICs — the
//! local APIC and the I/O APIC.
//!
//! [`AcpiTables::build`] lays out two blobs as QEMU hands them to firmware: the RSDP
//! (file [`RSDP_FILE`]) and every other table (file [`TABLES_FILE`]: FACS, DSDT, FADT,
//! MADT, RSDT). Pointers between tables are stored as offsets into the tables blob and
//! checksums as 0; the linker/loader commands ([`LoaderCommand`], serialized as fw_cfg
//! file [`LOADER_FILE`]) tell the firmware to allocate each blob, add the blobs'
//! addresses to those pointers and fill in the checksums. SeaBIOS runs these commands
//! itself ([`AcpiTables::install_fw_cfg`]); for the boot paths that bypass the BIOS,
//! [`AcpiTables::link`] runs the same commands in ferrite and the result is written into
//! the EBDA ([`EBDA_ADDR`], reserved in the e820 map), where an OS's RSDP scan looks
//! first ([`LowAcpi`]).
//!
//! The MADT is only built when [`AcpiConfig::apic`] says the machine has a local APIC and
//! an I/O APIC: announcing APICs that do not exist would break the guest.
//!
//! The command format (128-byte entries: a u32 command, then 124 bytes of arguments with
//! 56-byte file names) is QEMU's `etc/table-loader` interface as SeaBIOS's
//! `romfile_loader` reads it.

pub mod aml;
pub mod tables;
#[cfg(test)]
mod tests;

use ferrite_devices::fw_cfg::{FwCfg, FW_CFG_MAX_FILE_PATH};
use ferrite_mem::PhysMem;

/// Whether the machine has a local APIC and an I/O APIC, so the tables include a MADT.
/// The board wires both (`crate::apic`: local APIC at 0xFEE00000, I/O APIC ID 0 at
/// 0xFEC00000 with ISA IRQ 0 on pin 2), matching the MADT's entries.
pub const MACHINE_HAS_APICS: bool = true;

/// fw_cfg file holding the RSDP.
pub const RSDP_FILE: &str = "etc/acpi/rsdp";
/// fw_cfg file holding the other tables.
pub const TABLES_FILE: &str = "etc/acpi/tables";
/// fw_cfg file holding the linker/loader commands.
pub const LOADER_FILE: &str = "etc/table-loader";

/// Bytes of one linker/loader command.
pub const LOADER_ENTRY_LEN: usize = 128;
/// Command: allocate a file's blob in a zone and load it there.
pub const LOADER_ALLOCATE: u32 = 1;
/// Command: add a file's load address to a pointer in another file.
pub const LOADER_ADD_POINTER: u32 = 2;
/// Command: fix up a checksum byte so a range sums to 0.
pub const LOADER_ADD_CHECKSUM: u32 = 3;

/// Physical address of the EBDA, where direct boots place the tables (the last KiB of
/// conventional memory, reserved in ferrite's e820 maps).
pub const EBDA_ADDR: u32 = 0x9_FC00;
/// Bytes of the EBDA.
pub const EBDA_LEN: usize = 0x400;
/// The BIOS data area word holding the EBDA's segment (where an OS looks for it).
pub const BDA_EBDA_SEGMENT: u32 = 0x40E;
/// Where the tables blob starts in the EBDA (after the RSDP, 64-byte aligned for the FACS).
pub const EBDA_TABLES_OFFSET: u32 = 0x40;

/// What the tables describe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AcpiConfig {
    /// Guest RAM in bytes (the PCI memory window starts above it).
    pub ram_size: u32,
    /// The machine has a local APIC at 0xFEE00000 and an I/O APIC at 0xFEC00000: build
    /// the MADT.
    pub apic: bool,
    /// The RTC's CMOS index of the century byte, if it keeps one.
    pub century: Option<u8>,
}

impl AcpiConfig {
    /// ferrite's PC with `ram_size` bytes of RAM, with or without APICs.
    pub fn for_machine(ram_size: u32, apic: bool) -> Self {
        AcpiConfig { ram_size, apic, century: Some(tables::CENTURY_CMOS_INDEX) }
    }
}

/// Where firmware may put an allocated blob.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Zone {
    /// Anywhere in high memory (SeaBIOS reserves it in its e820 map).
    High = 1,
    /// The F segment (0xF0000-0xFFFFF), where an OS scans for the RSDP.
    FSeg = 2,
}

/// One linker/loader command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoaderCommand {
    /// Allocate `file`'s blob at an `align`-aligned address in `zone` and copy it there.
    Allocate {
        /// The fw_cfg file.
        file: &'static str,
        /// Alignment (a power of two).
        align: u32,
        /// Where.
        zone: Zone,
    },
    /// Add the address of `src`'s blob to the `size`-byte little-endian value at
    /// `offset` in `dest`'s blob.
    AddPointer {
        /// The blob holding the pointer.
        dest: &'static str,
        /// The blob pointed to.
        src: &'static str,
        /// Where the pointer is in `dest`.
        offset: u32,
        /// 1, 2, 4 or 8 bytes.
        size: u8,
    },
    /// Subtract the byte sum of `start..start + len` in `file` from the byte at `offset`
    /// (inside that range), so the range sums to 0.
    AddChecksum {
        /// The blob.
        file: &'static str,
        /// The checksum byte.
        offset: u32,
        /// First byte summed.
        start: u32,
        /// Bytes summed.
        len: u32,
    },
}

impl LoaderCommand {
    /// The 128-byte little-endian entry SeaBIOS reads.
    pub fn to_bytes(&self) -> [u8; LOADER_ENTRY_LEN] {
        fn file_name(out: &mut [u8], at: usize, name: &str) {
            let b = name.as_bytes();
            out[at..at + b.len().min(FW_CFG_MAX_FILE_PATH - 1)]
                .copy_from_slice(&b[..b.len().min(FW_CFG_MAX_FILE_PATH - 1)]);
        }
        let mut e = [0u8; LOADER_ENTRY_LEN];
        let args = 4;
        let names = args + FW_CFG_MAX_FILE_PATH;
        match *self {
            LoaderCommand::Allocate { file, align, zone } => {
                e[0..4].copy_from_slice(&LOADER_ALLOCATE.to_le_bytes());
                file_name(&mut e, args, file);
                e[names..names + 4].copy_from_slice(&align.to_le_bytes());
                e[names + 4] = zone as u8;
            }
            LoaderCommand::AddPointer { dest, src, offset, size } => {
                e[0..4].copy_from_slice(&LOADER_ADD_POINTER.to_le_bytes());
                file_name(&mut e, args, dest);
                file_name(&mut e, names, src);
                let at = names + FW_CFG_MAX_FILE_PATH;
                e[at..at + 4].copy_from_slice(&offset.to_le_bytes());
                e[at + 4] = size;
            }
            LoaderCommand::AddChecksum { file, offset, start, len } => {
                e[0..4].copy_from_slice(&LOADER_ADD_CHECKSUM.to_le_bytes());
                file_name(&mut e, args, file);
                for (i, v) in [offset, start, len].into_iter().enumerate() {
                    e[names + 4 * i..names + 4 * i + 4].copy_from_slice(&v.to_le_bytes());
                }
            }
        }
        e
    }
}

/// Where one table sits in the tables blob.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableEntry {
    /// Its signature.
    pub signature: [u8; 4],
    /// Offset in the tables blob.
    pub offset: u32,
    /// Length in bytes.
    pub len: u32,
}

/// The unlinked tables and the commands that link them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcpiTables {
    /// The RSDP blob.
    pub rsdp: Vec<u8>,
    /// The tables blob.
    pub tables: Vec<u8>,
    /// The linker/loader commands, in the order firmware must run them.
    pub commands: Vec<LoaderCommand>,
    /// The tables in the blob.
    pub directory: Vec<TableEntry>,
}

/// Why linking failed (a ferrite bug: the commands reference what `build` made).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkError(pub String);

impl std::fmt::Display for LinkError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ACPI table linking failed: {}", self.0)
    }
}

impl AcpiTables {
    /// Lays out the tables for `config` and the commands that link them.
    pub fn build(config: &AcpiConfig) -> AcpiTables {
        let mut blob = Vec::new();
        let mut directory = Vec::new();
        let mut commands = vec![
            LoaderCommand::Allocate { file: TABLES_FILE, align: tables::FACS_ALIGN as u32, zone: Zone::High },
            LoaderCommand::Allocate { file: RSDP_FILE, align: 16, zone: Zone::FSeg },
        ];
        let mut checksums = Vec::new();
        let mut add = |blob: &mut Vec<u8>, bytes: Vec<u8>, align: usize, checksummed: bool| -> u32 {
            blob.resize(blob.len().next_multiple_of(align), 0);
            let offset = blob.len() as u32;
            let sig = [bytes[0], bytes[1], bytes[2], bytes[3]];
            directory.push(TableEntry { signature: sig, offset, len: bytes.len() as u32 });
            if checksummed {
                checksums.push(LoaderCommand::AddChecksum {
                    file: TABLES_FILE,
                    offset: offset + tables::HEADER_CHECKSUM as u32,
                    start: offset,
                    len: bytes.len() as u32,
                });
            }
            blob.extend_from_slice(&bytes);
            offset
        };
        let pointer =
            |dest: &'static str, offset: u32| LoaderCommand::AddPointer { dest, src: TABLES_FILE, offset, size: 4 };

        let facs = add(&mut blob, tables::facs(), tables::FACS_ALIGN, false);
        let dsdt = add(&mut blob, tables::dsdt(config), 8, true);
        let fadt = add(&mut blob, tables::fadt(config, facs, dsdt), 8, true);
        commands.push(pointer(TABLES_FILE, fadt + tables::fadt::FIRMWARE_CTRL as u32));
        commands.push(pointer(TABLES_FILE, fadt + tables::fadt::DSDT as u32));
        let mut rsdt_entries = vec![fadt];
        if config.apic {
            rsdt_entries.push(add(&mut blob, tables::madt(), 8, true));
        }
        let rsdt = add(&mut blob, tables::rsdt(&rsdt_entries), 8, true);
        for i in 0..rsdt_entries.len() {
            commands.push(pointer(TABLES_FILE, rsdt + (tables::HEADER_LEN + 4 * i) as u32));
        }
        commands.extend(checksums);
        commands.push(pointer(RSDP_FILE, tables::RSDP_RSDT_ADDR as u32));
        commands.push(LoaderCommand::AddChecksum {
            file: RSDP_FILE,
            offset: tables::RSDP_CHECKSUM as u32,
            start: 0,
            len: tables::RSDP_LEN as u32,
        });
        AcpiTables { rsdp: tables::rsdp(rsdt), tables: blob, commands, directory }
    }

    /// The `etc/table-loader` file: every command as a 128-byte entry.
    pub fn loader_bytes(&self) -> Vec<u8> {
        self.commands.iter().flat_map(|c| c.to_bytes()).collect()
    }

    /// Offers the blobs and the commands to firmware as fw_cfg files.
    pub fn install_fw_cfg(&self, fw_cfg: &mut FwCfg) -> Result<(), ferrite_devices::fw_cfg::FwCfgError> {
        fw_cfg.add_file(TABLES_FILE, self.tables.clone())?;
        fw_cfg.add_file(RSDP_FILE, self.rsdp.clone())?;
        fw_cfg.add_file(LOADER_FILE, self.loader_bytes()).map(|_| ())
    }

    /// Runs the commands as firmware does, with the tables blob loaded at `tables_addr`
    /// and the RSDP at `rsdp_addr`: returns the linked (RSDP, tables).
    pub fn link(&self, tables_addr: u32, rsdp_addr: u32) -> Result<(Vec<u8>, Vec<u8>), LinkError> {
        let mut rsdp = self.rsdp.clone();
        let mut tables = self.tables.clone();
        let addr = |file: &str| match file {
            TABLES_FILE => Ok(tables_addr as u64),
            RSDP_FILE => Ok(rsdp_addr as u64),
            other => Err(LinkError(format!("unknown file {other}"))),
        };
        for cmd in &self.commands {
            match *cmd {
                LoaderCommand::Allocate { .. } => {}
                LoaderCommand::AddPointer { dest, src, offset, size } => {
                    let base = addr(src)?;
                    let blob = if dest == RSDP_FILE { &mut rsdp } else { &mut tables };
                    let (o, n) = (offset as usize, size as usize);
                    let field = blob
                        .get_mut(o..o + n)
                        .filter(|_| matches!(n, 1 | 2 | 4 | 8))
                        .ok_or_else(|| LinkError(format!("pointer at {o:#x} ({n} bytes) outside {dest}")))?;
                    let mut v = [0u8; 8];
                    v[..n].copy_from_slice(field);
                    let sum = u64::from_le_bytes(v).wrapping_add(base);
                    field.copy_from_slice(&sum.to_le_bytes()[..n]);
                }
                LoaderCommand::AddChecksum { file, offset, start, len } => {
                    let blob = if file == RSDP_FILE { &mut rsdp } else { &mut tables };
                    let range = blob
                        .get(start as usize..(start + len) as usize)
                        .filter(|_| (start..start + len).contains(&offset))
                        .ok_or_else(|| LinkError(format!("checksum range {start:#x}+{len:#x} outside {file}")))?;
                    let sum = range.iter().fold(0u8, |s, &b| s.wrapping_add(b));
                    blob[offset as usize] = blob[offset as usize].wrapping_sub(sum);
                }
            }
        }
        Ok((rsdp, tables))
    }

    /// The tables linked for the EBDA: the RSDP at [`EBDA_ADDR`], the rest after it.
    pub fn link_low(&self) -> Result<LowAcpi, LinkError> {
        let tables_addr = EBDA_ADDR + EBDA_TABLES_OFFSET;
        if self.rsdp.len() > EBDA_TABLES_OFFSET as usize || EBDA_TABLES_OFFSET as usize + self.tables.len() > EBDA_LEN {
            return Err(LinkError(format!("{} bytes of tables do not fit in the EBDA", self.tables.len())));
        }
        let (rsdp, tables) = self.link(tables_addr, EBDA_ADDR)?;
        let mut image = vec![0u8; EBDA_LEN];
        image[..rsdp.len()].copy_from_slice(&rsdp);
        image[EBDA_TABLES_OFFSET as usize..EBDA_TABLES_OFFSET as usize + tables.len()].copy_from_slice(&tables);
        Ok(LowAcpi { image })
    }
}

/// The tables linked into an image of the EBDA, for boots that bypass the BIOS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LowAcpi {
    image: Vec<u8>,
}

impl LowAcpi {
    /// Where the RSDP is (for Linux's `boot_params.acpi_rsdp_addr`).
    pub const RSDP_ADDR: u32 = EBDA_ADDR;

    /// The EBDA's bytes.
    pub fn image(&self) -> &[u8] {
        &self.image
    }

    /// Writes the EBDA and points the BIOS data area's EBDA segment at it, so the OS's
    /// RSDP scan finds the tables.
    pub fn apply(&self, mem: &mut PhysMem) {
        crate::boot::copy_to_ram(mem, EBDA_ADDR, &self.image);
        crate::boot::copy_to_ram(mem, BDA_EBDA_SEGMENT, &((EBDA_ADDR >> 4) as u16).to_le_bytes());
    }
}
