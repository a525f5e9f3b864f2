//! Tests: the tables are built, linked as firmware would link them, and parsed back.

use super::aml::{self, resource};
use super::tables::{self, fadt};
use super::*;

fn u16_at(b: &[u8], o: usize) -> u16 {
    u16::from_le_bytes([b[o], b[o + 1]])
}
fn u32_at(b: &[u8], o: usize) -> u32 {
    u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]])
}
fn sum(b: &[u8]) -> u8 {
    b.iter().fold(0u8, |s, &x| s.wrapping_add(x))
}

const TABLES_AT: u32 = 0x0FFF_0000;
const RSDP_AT: u32 = 0x000F_6A00;

/// The linked tables as guest memory would hold them: a lookup from physical address.
struct Linked {
    rsdp: Vec<u8>,
    tables: Vec<u8>,
}

impl Linked {
    fn new(config: &AcpiConfig) -> Linked {
        let (rsdp, tables) = AcpiTables::build(config).link(TABLES_AT, RSDP_AT).unwrap();
        Linked { rsdp, tables }
    }

    /// The table at physical `addr`, checked: its length inside the blob and its checksum.
    fn table(&self, addr: u32, sig: &[u8; 4]) -> &[u8] {
        let off = (addr - TABLES_AT) as usize;
        let t = &self.tables[off..];
        assert_eq!(&t[..4], sig);
        let len = u32_at(t, 4) as usize;
        assert!(len >= tables::HEADER_LEN && len <= t.len(), "{sig:?} length {len}");
        let t = &t[..len];
        assert_eq!(sum(t), 0, "{} checksum", String::from_utf8_lossy(sig));
        assert_eq!(&t[10..16], tables::OEM_ID);
        t
    }

    fn rsdt_entries(&self) -> Vec<u32> {
        assert_eq!(&self.rsdp[..8], b"RSD PTR ");
        assert_eq!(self.rsdp.len(), tables::RSDP_LEN);
        assert_eq!(sum(&self.rsdp), 0, "RSDP checksum");
        assert_eq!(self.rsdp[15], 0, "revision 0");
        let rsdt = self.table(u32_at(&self.rsdp, tables::RSDP_RSDT_ADDR), b"RSDT");
        (tables::HEADER_LEN..rsdt.len()).step_by(4).map(|o| u32_at(rsdt, o)).collect()
    }
}

#[test]
fn test_acpi_tables_link_and_parse_back_without_apic() {
    let config = AcpiConfig::for_machine(256 << 20, false);
    let l = Linked::new(&config);
    let entries = l.rsdt_entries();
    assert_eq!(entries.len(), 1, "only the FADT: no MADT without APICs");
    let f = l.table(entries[0], b"FACP");
    assert_eq!(f.len(), tables::FADT_LEN);
    assert_eq!(f[8], tables::FADT_REVISION);
    let facs_addr = u32_at(f, fadt::FIRMWARE_CTRL);
    assert_eq!(facs_addr % 64, 0, "FACS 64-byte aligned");
    let facs = &l.tables[(facs_addr - TABLES_AT) as usize..][..64];
    assert_eq!(&facs[..4], b"FACS");
    assert_eq!(u32_at(facs, 4), 64);
    let dsdt = l.table(u32_at(f, fadt::DSDT), b"DSDT");
    assert!(dsdt.windows(4).any(|w| w == b"_S5_"));
    assert_eq!(u16_at(f, fadt::SCI_INT), 9);
    assert_eq!(u32_at(f, fadt::SMI_CMD), 0, "ACPI always enabled");
    assert_eq!(u32_at(f, fadt::PM1A_EVT_BLK), 0x600);
    assert_eq!(u32_at(f, fadt::PM1A_CNT_BLK), 0x604);
    assert_eq!(u32_at(f, fadt::PM_TMR_BLK), 0x608);
    assert_eq!((f[fadt::PM1_EVT_LEN], f[fadt::PM1_CNT_LEN], f[fadt::PM_TMR_LEN]), (4, 2, 4));
    assert_eq!(f[fadt::CENTURY], 0x32);
    let flags = u32_at(f, fadt::FLAGS);
    assert_ne!(flags & tables::FADT_WBINVD, 0);
    assert_ne!(flags & tables::FADT_RESET_REG_SUP, 0);
    assert_eq!(flags & tables::FADT_TMR_VAL_EXT, 0, "24-bit PM timer");
    let reset = &f[fadt::RESET_REG..fadt::RESET_REG + 12];
    assert_eq!(&reset[..4], &[1, 8, 0, 1], "system I/O, 8 bits, byte access");
    assert_eq!(u32_at(reset, 4), 0xCF9);
    assert_eq!(f[fadt::RESET_VALUE], 6);
    assert_eq!(u32_at(f, fadt::X_PM1A_CNT_BLK + 4), 0x604);
    assert_eq!(f[fadt::X_PM_TMR_BLK + 1], 32);
    assert_eq!(u32_at(f, fadt::X_PM_TMR_BLK + 4), 0x608);
    assert_eq!(u16_at(f, fadt::IAPC_BOOT_ARCH) & tables::BOOT_ARCH_8042, tables::BOOT_ARCH_8042);
}

#[test]
fn test_acpi_madt_only_with_apic_and_its_entries() {
    let l = Linked::new(&AcpiConfig::for_machine(128 << 20, true));
    let entries = l.rsdt_entries();
    assert_eq!(entries.len(), 2);
    let m = l.table(entries[1], b"APIC");
    assert_eq!(u32_at(m, 36), 0xFEE0_0000);
    assert_eq!(u32_at(m, 40), 1, "PCAT_COMPAT");
    let mut seen = Vec::new();
    let mut o = 44;
    while o < m.len() {
        let (kind, len) = (m[o], m[o + 1] as usize);
        assert!(len >= 2 && o + len <= m.len(), "entry at {o} runs past the table");
        let e = &m[o..o + len];
        match kind {
            0 => assert_eq!((e[2], e[3], u32_at(e, 4)), (0, 0, 1), "CPU UID 0, APIC ID 0, enabled"),
            1 => assert_eq!((e[2], u32_at(e, 4), u32_at(e, 8)), (0, 0xFEC0_0000, 0)),
            2 => seen.push((e[3], u32_at(e, 4), u16_at(e, 8))),
            4 => assert_eq!((e[2], e[5]), (0xFF, 1), "LINT1 NMI"),
            k => panic!("unexpected MADT entry type {k}"),
        }
        o += len;
    }
    assert_eq!(o, m.len());
    assert_eq!(seen, vec![(0, 2, 0), (9, 9, 0x000D)], "IRQ0 -> GSI2; SCI level, active high");
}

#[test]
fn test_acpi_checksums_hold_wherever_firmware_puts_the_blobs() {
    let t = AcpiTables::build(&AcpiConfig::for_machine(64 << 20, true));
    for (tables_at, rsdp_at) in [(0x0010_0000, 0xE_0000), (0x3FF0_0040, 0xF_FFE0)] {
        let (rsdp, blob) = t.link(tables_at, rsdp_at).unwrap();
        assert_eq!(sum(&rsdp), 0);
        for e in &t.directory {
            if &e.signature != b"FACS" {
                assert_eq!(sum(&blob[e.offset as usize..][..e.len as usize]), 0, "{:?}", e.signature);
            }
        }
        assert_eq!(u32_at(&rsdp, 16), tables_at + t.directory.last().unwrap().offset);
    }
}

/// Reads the serialized `etc/table-loader` back, independently of `LoaderCommand`.
fn parse_loader(bytes: &[u8]) -> Vec<(u32, String, String, Vec<u32>)> {
    let name = |b: &[u8]| String::from_utf8(b.iter().take_while(|&&c| c != 0).copied().collect()).unwrap();
    bytes
        .chunks(LOADER_ENTRY_LEN)
        .map(|e| {
            assert_eq!(e.len(), 128);
            let cmd = u32_at(e, 0);
            match cmd {
                1 => (cmd, name(&e[4..60]), String::new(), vec![u32_at(e, 60), e[64] as u32]),
                2 => (cmd, name(&e[4..60]), name(&e[60..116]), vec![u32_at(e, 116), e[120] as u32]),
                3 => (cmd, name(&e[4..60]), String::new(), vec![u32_at(e, 60), u32_at(e, 64), u32_at(e, 68)]),
                _ => panic!("command {cmd}"),
            }
        })
        .collect()
}

#[test]
fn test_acpi_table_loader_format() {
    let t = AcpiTables::build(&AcpiConfig::for_machine(64 << 20, false));
    let bytes = t.loader_bytes();
    assert_eq!(bytes.len(), t.commands.len() * 128);
    let cmds = parse_loader(&bytes);
    assert_eq!(cmds[0], (1, "etc/acpi/tables".into(), String::new(), vec![64, 1]), "HIGH zone, FACS alignment");
    assert_eq!(cmds[1], (1, "etc/acpi/rsdp".into(), String::new(), vec![16, 2]), "RSDP in the F segment");
    let rsdp_ptr = cmds.iter().find(|c| c.0 == 2 && c.1 == "etc/acpi/rsdp").unwrap();
    assert_eq!((rsdp_ptr.2.as_str(), rsdp_ptr.3.clone()), ("etc/acpi/tables", vec![16, 4]));
    // Every pointer comes before the checksum of the table it sits in.
    for (i, c) in cmds.iter().enumerate().filter(|(_, c)| c.0 == 2) {
        let later_sum = cmds[i..].iter().any(|k| k.0 == 3 && k.1 == c.1 && (k.3[1]..k.3[1] + k.3[2]).contains(&c.3[0]));
        assert!(later_sum, "pointer {c:?} is covered by a later checksum");
    }
    let mut fw = FwCfg::new();
    t.install_fw_cfg(&mut fw).unwrap();
}

#[test]
fn test_acpi_tables_fit_the_ebda() {
    let low = AcpiTables::build(&AcpiConfig::for_machine(3584 << 20, true)).link_low().unwrap();
    let img = low.image();
    assert_eq!(img.len(), EBDA_LEN);
    assert_eq!(&img[..8], b"RSD PTR ");
    assert_eq!(u32_at(img, 16) - EBDA_ADDR < EBDA_LEN as u32, true, "RSDT inside the EBDA");
}

#[test]
fn test_aml_encodings() {
    assert_eq!(aml::pkg_length(0), [1]);
    assert_eq!(aml::pkg_length(62), [63]);
    assert_eq!(aml::pkg_length(63), [0x41, 0x04], "65 = 0x41: two bytes, low nibble 1, then 4");
    assert_eq!(aml::pkg_length(0x1000), [0x83, 0x00, 0x01], "0x1003: 0x1002 does not fit 12 bits");
    assert_eq!(aml::pkg_length(0x10_0000), [0xC4, 0x00, 0x00, 0x01], "0x100004: four bytes");
    assert_eq!(aml::eisa_id("PNP0A03"), 0x030A_D041);
    assert_eq!(aml::eisa_id("PNP0501"), 0x0105_D041);
    assert_eq!(aml::name_string("_SB"), b"_SB_");
    assert_eq!(aml::name_string("\\_SB.PCI0"), b"\\\x2E_SB_PCI0");
    assert_eq!(aml::name_string("\\A.B.C"), b"\\\x2F\x03A___B___C___");
    assert_eq!(aml::name_string("^PCI0"), b"^PCI0");
    assert_eq!(aml::integer(0), [0x00]);
    assert_eq!(aml::integer(1), [0x01]);
    assert_eq!(aml::integer(0x80), [0x0A, 0x80]);
    assert_eq!(aml::integer(0x1234), [0x0B, 0x34, 0x12]);
    assert_eq!(aml::integer(0x030A_D041), [0x0C, 0x41, 0xD0, 0x0A, 0x03]);
    assert_eq!(aml::integer(1 << 40), [0x0E, 0, 0, 0, 0, 0, 1, 0, 0]);
    assert_eq!(aml::string("ab"), [0x0D, b'a', b'b', 0]);
    // Name (\_S5, Package () { Zero, Zero, Zero, Zero }) as iasl emits it.
    let zero = aml::integer(0);
    let s5 = aml::name("\\_S5", &aml::package(&[zero.clone(), zero.clone(), zero.clone(), zero]));
    assert_eq!(s5, [0x08, 0x5C, b'_', b'S', b'5', b'_', 0x12, 0x06, 0x04, 0, 0, 0, 0]);
    // Device (PCI0) { Name (_UID, One) }
    let dev = aml::device("PCI0", &[aml::name("_UID", &aml::integer(1))]);
    assert_eq!(dev, [0x5B, 0x82, 0x0B, b'P', b'C', b'I', b'0', 0x08, b'_', b'U', b'I', b'D', 0x01]);
    assert_eq!(aml::buffer(&[0x79, 0]), [0x11, 0x05, 0x0A, 0x02, 0x79, 0x00]);
    assert_eq!(resource::io_port(0xCF8, 0xCF8, 1, 8), [0x47, 1, 0xF8, 0x0C, 0xF8, 0x0C, 1, 8]);
    let w = resource::word_range(resource::IO_RANGE, 3, 0x0D00, 0xFFFF);
    assert_eq!(w.len(), 16);
    assert_eq!(u16_at(&w, 1) as usize, w.len() - 3);
    assert_eq!(u16_at(&w, 14), 0xF300, "length of 0x0D00-0xFFFF");
    let d = resource::dword_range(resource::MEMORY_RANGE, 3, 0xA_0000, 0xB_FFFF);
    assert_eq!((d.len(), u16_at(&d, 1)), (26, 23));
    assert_eq!(u32_at(&d, 22), 0x2_0000);
}

/// Walks the DSDT's AML far enough to check its structure: `\_S5` first, then a Scope
/// whose PkgLength ends exactly at the end of the table, holding Device PCI0 with the
/// PNP0A03 `_HID` and a `_CRS` buffer that ends with an end tag.
#[test]
fn test_dsdt_structure() {
    let config = AcpiConfig::for_machine(256 << 20, false);
    let d = tables::dsdt(&config);
    assert_eq!(u32_at(&d, 4) as usize, d.len());
    let body = &d[tables::HEADER_LEN..];
    assert_eq!(&body[..6], [0x08, b'\\', b'_', b'S', b'5', b'_']);
    let scope = &body[13..];
    assert_eq!(scope[0], aml::SCOPE_OP);
    let (len, n) = match scope[1] >> 6 {
        0 => (scope[1] as usize, 1),
        k => {
            let k = k as usize;
            let mut v = (scope[1] & 0xF) as usize;
            for i in 0..k {
                v |= (scope[2 + i] as usize) << (4 + 8 * i);
            }
            (v, k + 1)
        }
    };
    assert_eq!(1 + len, scope.len(), "Scope's PkgLength covers the rest of the table");
    assert_eq!(&scope[1 + n..1 + n + 5], b"\\_SB_");
    let hid = [&[0x08][..], b"_HID", &aml::integer(0x030A_D041)].concat();
    assert!(scope.windows(hid.len()).any(|w| w == &hid[..]), "PNP0A03 _HID");
    let crs = scope.windows(5).position(|w| w == [0x08, b'_', b'C', b'R', b'S']).expect("_CRS");
    assert_eq!(scope[crs + 5], aml::BUFFER_OP);
    assert_eq!(&scope[scope.len() - 2..], [resource::END_TAG, 0], "the _CRS buffer is last and ends with an end tag");
    // The PCI hole starts above RAM.
    let hole = tables::dsdt_aml(&config);
    let mem_desc = hole.windows(3).rposition(|w| w == [0x87, 23, 0]).unwrap();
    assert_eq!(u32_at(&hole, mem_desc + 10), 256 << 20);
    assert_eq!(u32_at(&hole, mem_desc + 14), 0xFEBF_FFFF);
}
