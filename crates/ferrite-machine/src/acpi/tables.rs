//! The bytes of each ACPI table ferrite provides: the RSDP, RSDT, FADT, FACS, DSDT and
//! (on a machine with APICs) the MADT. Layouts from the ACPI specification (6.4,
//! chapter 5.2). Pointers between tables are written as offsets into the tables blob and
//! made absolute by the linker/loader commands ([`super::LoaderCommand`]); checksums are
//! left 0 and filled in the same way.

use super::aml::{self, resource};
use super::AcpiConfig;
use ferrite_devices::acpi_pm::{PM1_CNT, PM_BASE, PM_TMR, RESET_CONTROL_PORT, SLP_TYP_SOFT_OFF};

/// Bytes of the PM1 event block (PM1a_STS and PM1a_EN, two bytes each).
pub const PM1_EVT_LEN_BYTES: u8 = 4;

/// Length of the common table header.
pub const HEADER_LEN: usize = 36;
/// Offset of the checksum byte in the common header.
pub const HEADER_CHECKSUM: usize = 9;
/// Offset of the length field in the common header.
pub const HEADER_LENGTH: usize = 4;
/// The OEM ID in every header.
pub const OEM_ID: &[u8; 6] = b"FERRIT";
/// The OEM table ID in every header.
pub const OEM_TABLE_ID: &[u8; 8] = b"FERRITE ";
/// The creator ID in every header.
pub const CREATOR_ID: &[u8; 4] = b"FRRT";

/// Length of an ACPI 1.0 RSDP (revision 0).
pub const RSDP_LEN: usize = 20;
/// Offset of the RSDP's checksum byte.
pub const RSDP_CHECKSUM: usize = 8;
/// Offset of the RSDP's RSDT address.
pub const RSDP_RSDT_ADDR: usize = 16;

/// Length of the FADT (revision 3, the ACPI 2.0 layout with the 64-bit X_ blocks).
pub const FADT_LEN: usize = 244;
/// FADT revision.
pub const FADT_REVISION: u8 = 3;
/// FADT field offsets.
pub mod fadt {
    /// FIRMWARE_CTRL: the FACS (32-bit).
    pub const FIRMWARE_CTRL: usize = 36;
    /// DSDT (32-bit).
    pub const DSDT: usize = 40;
    /// SCI_INT (u16).
    pub const SCI_INT: usize = 46;
    /// SMI_CMD (u32; 0: ACPI is always enabled, no SMM handshake).
    pub const SMI_CMD: usize = 48;
    /// PM1a_EVT_BLK (u32).
    pub const PM1A_EVT_BLK: usize = 56;
    /// PM1a_CNT_BLK (u32).
    pub const PM1A_CNT_BLK: usize = 64;
    /// PM_TMR_BLK (u32).
    pub const PM_TMR_BLK: usize = 76;
    /// PM1_EVT_LEN (u8).
    pub const PM1_EVT_LEN: usize = 88;
    /// PM1_CNT_LEN (u8).
    pub const PM1_CNT_LEN: usize = 89;
    /// PM_TMR_LEN (u8).
    pub const PM_TMR_LEN: usize = 91;
    /// P_LVL2_LAT (u16; > 100: no C2).
    pub const P_LVL2_LAT: usize = 96;
    /// P_LVL3_LAT (u16; > 1000: no C3).
    pub const P_LVL3_LAT: usize = 98;
    /// CENTURY: the RTC CMOS index of the century (u8; 0: none).
    pub const CENTURY: usize = 108;
    /// IAPC_BOOT_ARCH (u16).
    pub const IAPC_BOOT_ARCH: usize = 109;
    /// Flags (u32).
    pub const FLAGS: usize = 112;
    /// RESET_REG (generic address structure).
    pub const RESET_REG: usize = 116;
    /// RESET_VALUE (u8).
    pub const RESET_VALUE: usize = 128;
    /// X_PM1a_EVT_BLK (generic address structure).
    pub const X_PM1A_EVT_BLK: usize = 148;
    /// X_PM1a_CNT_BLK.
    pub const X_PM1A_CNT_BLK: usize = 172;
    /// X_PM_TMR_BLK.
    pub const X_PM_TMR_BLK: usize = 208;
}

/// FADT flag: WBINVD works.
pub const FADT_WBINVD: u32 = 1 << 0;
/// FADT flag: C1 (HLT) is supported.
pub const FADT_PROC_C1: u32 = 1 << 2;
/// FADT flag: no fixed-feature sleep button.
pub const FADT_SLP_BUTTON: u32 = 1 << 5;
/// FADT flag: the RTC wake status is not in the fixed register space.
pub const FADT_FIX_RTC: u32 = 1 << 6;
/// FADT flag: the PM timer is 32 bits wide (clear: 24 bits).
pub const FADT_TMR_VAL_EXT: u32 = 1 << 8;
/// FADT flag: RESET_REG is supported.
pub const FADT_RESET_REG_SUP: u32 = 1 << 10;
/// The flags ferrite's FADT carries: WBINVD, C1, no sleep button, RTC wake status not
/// fixed, RESET_REG; TMR_VAL_EXT clear (the PM timer is 24 bits).
pub const FADT_FLAGS: u32 = FADT_WBINVD | FADT_PROC_C1 | FADT_SLP_BUTTON | FADT_FIX_RTC | FADT_RESET_REG_SUP;
/// IAPC_BOOT_ARCH: legacy (ISA/LPC) devices present.
pub const BOOT_ARCH_LEGACY_DEVICES: u16 = 1 << 0;
/// IAPC_BOOT_ARCH: an 8042 keyboard controller is present.
pub const BOOT_ARCH_8042: u16 = 1 << 1;
/// What RESET_REG's write of RESET_VALUE does at 0xCF9: RST_CPU | SYS_RST.
pub const RESET_VALUE: u8 = 0x06;
/// Generic address structure: the system I/O space.
pub const GAS_SYSTEM_IO: u8 = 1;
/// Generic address structure access sizes.
pub const GAS_ACCESS_BYTE: u8 = 1;
/// Word access.
pub const GAS_ACCESS_WORD: u8 = 2;
/// Dword access.
pub const GAS_ACCESS_DWORD: u8 = 3;

/// Length of the FACS.
pub const FACS_LEN: usize = 64;
/// The FACS must be 64-byte aligned.
pub const FACS_ALIGN: usize = 64;

/// The local APICs' physical address.
pub const LAPIC_ADDR: u32 = 0xFEE0_0000;
/// The I/O APIC's physical address.
pub const IOAPIC_ADDR: u32 = 0xFEC0_0000;
/// MADT flag: the machine also has the dual 8259 PICs (PCAT_COMPAT).
pub const MADT_PCAT_COMPAT: u32 = 1;
/// MADT entry type: processor local APIC.
pub const MADT_LAPIC: u8 = 0;
/// MADT entry type: I/O APIC.
pub const MADT_IOAPIC: u8 = 1;
/// MADT entry type: interrupt source override.
pub const MADT_ISO: u8 = 2;
/// MADT entry type: local APIC NMI.
pub const MADT_LAPIC_NMI: u8 = 4;
/// MPS INTI flags: active high.
pub const INTI_ACTIVE_HIGH: u16 = 0x1;
/// MPS INTI flags: level triggered.
pub const INTI_LEVEL: u16 = 0x3 << 2;
/// MPS INTI flags: edge triggered.
pub const INTI_EDGE: u16 = 0x1 << 2;

/// The CMOS index of the RTC's century byte.
pub const CENTURY_CMOS_INDEX: u8 = ferrite_devices::rtc::REG_CENTURY;
/// Where the PCI hole ends: the I/O APIC and the BIOS sit above it.
const PCI_HOLE_END: u32 = IOAPIC_ADDR - 1;

/// A common table header for `signature` of `len` bytes (checksum 0, filled later).
pub fn header(signature: &[u8; 4], len: usize, revision: u8) -> Vec<u8> {
    let mut h = Vec::with_capacity(len);
    h.extend_from_slice(signature);
    h.extend_from_slice(&(len as u32).to_le_bytes());
    h.push(revision);
    h.push(0);
    h.extend_from_slice(OEM_ID);
    h.extend_from_slice(OEM_TABLE_ID);
    h.extend_from_slice(&1u32.to_le_bytes());
    h.extend_from_slice(CREATOR_ID);
    h.extend_from_slice(&1u32.to_le_bytes());
    h
}

/// A table: `signature`, `revision` and the body after the header.
pub fn table(signature: &[u8; 4], revision: u8, body: &[u8]) -> Vec<u8> {
    let mut t = header(signature, HEADER_LEN + body.len(), revision);
    t.extend_from_slice(body);
    t
}

/// The RSDP (revision 0) with the RSDT at `rsdt` (an offset until linked).
pub fn rsdp(rsdt: u32) -> Vec<u8> {
    let mut r = Vec::with_capacity(RSDP_LEN);
    r.extend_from_slice(b"RSD PTR ");
    r.push(0);
    r.extend_from_slice(OEM_ID);
    r.push(0);
    r.extend_from_slice(&rsdt.to_le_bytes());
    r
}

/// The RSDT listing `entries` (offsets until linked).
pub fn rsdt(entries: &[u32]) -> Vec<u8> {
    let body: Vec<u8> = entries.iter().flat_map(|e| e.to_le_bytes()).collect();
    table(b"RSDT", 1, &body)
}

fn gas(access_size: u8, bit_width: u8, port: u16) -> [u8; 12] {
    let mut g = [0u8; 12];
    g[0] = GAS_SYSTEM_IO;
    g[1] = bit_width;
    g[3] = access_size;
    g[4..12].copy_from_slice(&(port as u64).to_le_bytes());
    g
}

/// The FADT with the FACS at `facs` and the DSDT at `dsdt` (offsets until linked).
pub fn fadt(config: &AcpiConfig, facs: u32, dsdt: u32) -> Vec<u8> {
    let mut t = header(b"FACP", FADT_LEN, FADT_REVISION);
    t.resize(FADT_LEN, 0);
    let mut put = |off: usize, bytes: &[u8]| t[off..off + bytes.len()].copy_from_slice(bytes);
    put(fadt::FIRMWARE_CTRL, &facs.to_le_bytes());
    put(fadt::DSDT, &dsdt.to_le_bytes());
    put(fadt::SCI_INT, &(crate::irq::IRQ_ACPI_SCI as u16).to_le_bytes());
    put(fadt::SMI_CMD, &0u32.to_le_bytes());
    put(fadt::PM1A_EVT_BLK, &(PM_BASE as u32).to_le_bytes());
    put(fadt::PM1A_CNT_BLK, &((PM_BASE + PM1_CNT) as u32).to_le_bytes());
    put(fadt::PM_TMR_BLK, &((PM_BASE + PM_TMR) as u32).to_le_bytes());
    put(fadt::PM1_EVT_LEN, &[PM1_EVT_LEN_BYTES]);
    put(fadt::PM1_CNT_LEN, &[2]);
    put(fadt::PM_TMR_LEN, &[4]);
    put(fadt::P_LVL2_LAT, &0x0FFFu16.to_le_bytes());
    put(fadt::P_LVL3_LAT, &0xFFFFu16.to_le_bytes());
    put(fadt::CENTURY, &[config.century.unwrap_or(0)]);
    put(fadt::IAPC_BOOT_ARCH, &(BOOT_ARCH_LEGACY_DEVICES | BOOT_ARCH_8042).to_le_bytes());
    put(fadt::FLAGS, &FADT_FLAGS.to_le_bytes());
    put(fadt::RESET_REG, &gas(GAS_ACCESS_BYTE, 8, RESET_CONTROL_PORT));
    put(fadt::RESET_VALUE, &[RESET_VALUE]);
    put(fadt::X_PM1A_EVT_BLK, &gas(GAS_ACCESS_WORD, PM1_EVT_LEN_BYTES * 8, PM_BASE));
    put(fadt::X_PM1A_CNT_BLK, &gas(GAS_ACCESS_WORD, 16, PM_BASE + PM1_CNT));
    put(fadt::X_PM_TMR_BLK, &gas(GAS_ACCESS_DWORD, 32, PM_BASE + PM_TMR));
    t
}

/// The FACS: signature, length, hardware signature 0, no waking vector, version 1.
pub fn facs() -> Vec<u8> {
    let mut f = vec![0u8; FACS_LEN];
    f[0..4].copy_from_slice(b"FACS");
    f[4..8].copy_from_slice(&(FACS_LEN as u32).to_le_bytes());
    f[32] = 1;
    f
}

/// The DSDT's AML: `\_S5` (soft off with SLP_TYP [`SLP_TYP_SOFT_OFF`], the value the PM
/// block powers off on) and the PCI root bridge `\_SB.PCI0` with its resources:
///
/// ```text
/// Name (\_S5, Package () { SOFT_OFF, SOFT_OFF, Zero, Zero })
/// Scope (\_SB) {
///     Device (PCI0) {
///         Name (_HID, EisaId ("PNP0A03"))   Name (_UID, Zero)   Name (_ADR, Zero)
///         Name (_CRS, ResourceTemplate () {
///             WordBusNumber (0x00-0xFF)   IO (0xCF8, 8)
///             WordIO (0x0000-0x0CF7)   WordIO (0x0D00-0xFFFF)
///             DWordMemory (0xA0000-0xBFFFF)   DWordMemory (PCI hole: end of RAM-0xFEBFFFFF)
///         })
///     }
/// }
/// ```
pub fn dsdt_aml(config: &AcpiConfig) -> Vec<u8> {
    let soft_off = SLP_TYP_SOFT_OFF as u64;
    let s5 = aml::name(
        "\\_S5",
        &aml::package(&[aml::integer(soft_off), aml::integer(soft_off), aml::integer(0), aml::integer(0)]),
    );
    // The PCI memory window: from the end of RAM (at least 256 MiB up, 1 MiB aligned) to
    // below the I/O APIC.
    let hole_start = ((config.ram_size as u64 + 0xF_FFFF) & !0xF_FFFF).min(PCI_HOLE_END as u64) as u32;
    let crs = [
        resource::word_range(resource::BUS_NUMBER_RANGE, 0, 0x00, 0xFF),
        resource::io_port(0x0CF8, 0x0CF8, 1, 8),
        resource::word_range(resource::IO_RANGE, resource::IO_ENTIRE_RANGE, 0x0000, 0x0CF7),
        resource::word_range(resource::IO_RANGE, resource::IO_ENTIRE_RANGE, 0x0D00, 0xFFFF),
        resource::dword_range(resource::MEMORY_RANGE, resource::MEM_CACHEABLE_RW, 0x000A_0000, 0x000B_FFFF),
        resource::dword_range(resource::MEMORY_RANGE, resource::MEM_CACHEABLE_RW, hole_start, PCI_HOLE_END),
        resource::end_tag(),
    ]
    .concat();
    let pci0 = aml::device(
        "PCI0",
        &[
            aml::name("_HID", &aml::integer(aml::eisa_id("PNP0A03") as u64)),
            aml::name("_UID", &aml::integer(0)),
            aml::name("_ADR", &aml::integer(0)),
            aml::name("_CRS", &aml::buffer(&crs)),
        ],
    );
    [s5, aml::scope("\\_SB", &[pci0])].concat()
}

/// The DSDT (revision 1: 32-bit AML integers).
pub fn dsdt(config: &AcpiConfig) -> Vec<u8> {
    table(b"DSDT", 1, &dsdt_aml(config))
}

/// The MADT: one processor (local APIC ID 0), the I/O APIC (ID 0, GSI base 0), ISA IRQ 0
/// on GSI 2 and the SCI (IRQ 9) level-triggered active-high, and LINT1 as NMI.
pub fn madt() -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&LAPIC_ADDR.to_le_bytes());
    body.extend_from_slice(&MADT_PCAT_COMPAT.to_le_bytes());
    // Processor local APIC: ACPI processor UID 0, APIC ID 0, enabled.
    body.extend_from_slice(&[MADT_LAPIC, 8, 0, 0]);
    body.extend_from_slice(&1u32.to_le_bytes());
    // I/O APIC: ID 0, its address, GSI base 0.
    body.extend_from_slice(&[MADT_IOAPIC, 12, 0, 0]);
    body.extend_from_slice(&IOAPIC_ADDR.to_le_bytes());
    body.extend_from_slice(&0u32.to_le_bytes());
    let sci = crate::irq::IRQ_ACPI_SCI;
    for (irq, gsi, flags) in [(0u8, 2u32, 0u16), (sci, sci as u32, INTI_ACTIVE_HIGH | INTI_LEVEL)] {
        body.extend_from_slice(&[MADT_ISO, 10, 0, irq]);
        body.extend_from_slice(&gsi.to_le_bytes());
        body.extend_from_slice(&flags.to_le_bytes());
    }
    // Local APIC NMI: all processors (0xFF), conforming polarity/trigger, LINT1.
    body.extend_from_slice(&[MADT_LAPIC_NMI, 6, 0xFF, 0, 0, 1]);
    table(b"APIC", 1, &body)
}
