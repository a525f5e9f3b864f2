//! A small encoder for ACPI Machine Language (AML), the byte code of the DSDT: just the
//! terms ferrite's DSDT uses (names, scopes, devices, packages, integers, strings,
//! buffers) and the resource descriptors of a PCI root bridge's `_CRS`. Encodings from
//! the ACPI specification, chapter 20 ("ACPI Machine Language Specification") and
//! section 6.4 ("Resource Data Types for ACPI").
//!
//! Every function returns the bytes of one term, so a table reads like the ASL it
//! stands for:
//!
//! ```
//! use ferrite_machine::acpi::aml::*;
//! // Scope (\_SB) { Device (PCI0) { Name (_UID, Zero) } }
//! let term = scope("\\_SB", &[device("PCI0", &[name("_UID", &integer(0))])]);
//! assert_eq!(term[0], SCOPE_OP);
//! ```

/// `ZeroOp`: the integer 0.
pub const ZERO_OP: u8 = 0x00;
/// `OneOp`: the integer 1.
pub const ONE_OP: u8 = 0x01;
/// `NameOp`: `Name (NameString, DataRefObject)`.
pub const NAME_OP: u8 = 0x08;
/// `BytePrefix`: an 8-bit integer follows.
pub const BYTE_PREFIX: u8 = 0x0A;
/// `WordPrefix`: a 16-bit integer follows.
pub const WORD_PREFIX: u8 = 0x0B;
/// `DWordPrefix`: a 32-bit integer follows.
pub const DWORD_PREFIX: u8 = 0x0C;
/// `StringPrefix`: a NUL-terminated ASCII string follows.
pub const STRING_PREFIX: u8 = 0x0D;
/// `QWordPrefix`: a 64-bit integer follows.
pub const QWORD_PREFIX: u8 = 0x0E;
/// `ScopeOp`: `Scope (NameString) { TermList }`.
pub const SCOPE_OP: u8 = 0x10;
/// `BufferOp`: `Buffer (size) { bytes }`.
pub const BUFFER_OP: u8 = 0x11;
/// `PackageOp`: `Package (count) { elements }`.
pub const PACKAGE_OP: u8 = 0x12;
/// `ExtOpPrefix`: the first byte of two-byte opcodes.
pub const EXT_OP_PREFIX: u8 = 0x5B;
/// `DeviceOp` (after [`EXT_OP_PREFIX`]).
pub const DEVICE_OP: u8 = 0x82;
/// `RootChar` `\`: a name path from the namespace root.
pub const ROOT_CHAR: u8 = b'\\';
/// `ParentPrefixChar` `^`.
pub const PARENT_PREFIX: u8 = b'^';
/// `DualNamePrefix`: two name segments follow.
pub const DUAL_NAME_PREFIX: u8 = 0x2E;
/// `MultiNamePrefix`: a count and that many name segments follow.
pub const MULTI_NAME_PREFIX: u8 = 0x2F;
/// `NullName`: an empty name path.
pub const NULL_NAME: u8 = 0x00;

/// The `PkgLength` encoding of a package whose contents (after the `PkgLength` itself)
/// are `body_len` bytes. The encoded length counts its own bytes: one byte up to 63,
/// otherwise a lead byte (bits 7-6 = number of following bytes, bits 3-0 = the low
/// nibble) and one to three bytes holding the rest, least significant first.
pub fn pkg_length(body_len: usize) -> Vec<u8> {
    if body_len + 1 < 0x40 {
        return vec![(body_len + 1) as u8];
    }
    for extra in 1..=3usize {
        let total = body_len + 1 + extra;
        if total < 1 << (4 + 8 * extra) {
            let mut out = vec![(extra as u8) << 6 | (total & 0xF) as u8];
            for i in 0..extra {
                out.push((total >> (4 + 8 * i)) as u8);
            }
            return out;
        }
    }
    // 2^28 bytes of AML: far beyond any table ferrite builds.
    panic!("AML package of {body_len} bytes is too long for PkgLength")
}

/// One 4-character name segment: a leading letter or `_`, then letters, digits or `_`;
/// shorter names are padded with `_` as ASL does.
fn name_seg(seg: &str) -> [u8; 4] {
    let b = seg.as_bytes();
    assert!(!b.is_empty() && b.len() <= 4, "AML name segment {seg:?} must have 1 to 4 characters");
    assert!(
        b.iter().enumerate().all(|(i, &c)| c == b'_' || c.is_ascii_uppercase() || (i > 0 && c.is_ascii_digit())),
        "bad AML name segment {seg:?}"
    );
    let mut out = [b'_'; 4];
    out[..b.len()].copy_from_slice(b);
    out
}

/// A `NameString`: an optional `\` (root) or `^` prefixes, then dot-separated segments,
/// e.g. `"\\_SB.PCI0"`, `"_HID"`.
pub fn name_string(path: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let mut rest = path;
    if let Some(r) = rest.strip_prefix('\\') {
        out.push(ROOT_CHAR);
        rest = r;
    } else {
        while let Some(r) = rest.strip_prefix('^') {
            out.push(PARENT_PREFIX);
            rest = r;
        }
    }
    if rest.is_empty() {
        out.push(NULL_NAME);
        return out;
    }
    let segs: Vec<[u8; 4]> = rest.split('.').map(name_seg).collect();
    match segs.len() {
        1 => {}
        2 => out.push(DUAL_NAME_PREFIX),
        n => {
            out.push(MULTI_NAME_PREFIX);
            out.push(n as u8);
        }
    }
    for s in segs {
        out.extend_from_slice(&s);
    }
    out
}

/// An integer constant in its shortest encoding (`ZeroOp`, `OneOp`, or a byte, word,
/// dword or qword prefix).
pub fn integer(v: u64) -> Vec<u8> {
    match v {
        0 => vec![ZERO_OP],
        1 => vec![ONE_OP],
        v if v <= 0xFF => vec![BYTE_PREFIX, v as u8],
        v if v <= 0xFFFF => [&[WORD_PREFIX][..], &(v as u16).to_le_bytes()].concat(),
        v if v <= 0xFFFF_FFFF => [&[DWORD_PREFIX][..], &(v as u32).to_le_bytes()].concat(),
        v => [&[QWORD_PREFIX][..], &v.to_le_bytes()].concat(),
    }
}

/// A string constant (ASCII, no NUL inside).
pub fn string(s: &str) -> Vec<u8> {
    assert!(s.is_ascii() && !s.contains('\0'), "AML strings are ASCII without NUL");
    let mut out = vec![STRING_PREFIX];
    out.extend_from_slice(s.as_bytes());
    out.push(0);
    out
}

/// The compressed EISA ID of a 7-character PNP ID such as `"PNP0A03"`: three letters of
/// five bits each (`A` = 1) and four hex digits, stored big-endian; returned as the
/// integer whose little-endian bytes are that encoding (what ASL's `EisaId` produces).
pub fn eisa_id(id: &str) -> u32 {
    let b = id.as_bytes();
    assert!(
        b.len() == 7 && b[..3].iter().all(u8::is_ascii_uppercase) && b[3..].iter().all(u8::is_ascii_hexdigit),
        "bad EISA ID {id:?}"
    );
    let letters = b[..3].iter().fold(0u16, |acc, &c| acc << 5 | (c - b'@') as u16);
    let product = u16::from_str_radix(&id[3..], 16).unwrap_or(0);
    let [l0, l1] = letters.to_be_bytes();
    let [p0, p1] = product.to_be_bytes();
    u32::from_le_bytes([l0, l1, p0, p1])
}

/// `Name (path, object)`.
pub fn name(path: &str, object: &[u8]) -> Vec<u8> {
    [&[NAME_OP][..], &name_string(path), object].concat()
}

fn with_pkg_length(op: &[u8], body: &[u8]) -> Vec<u8> {
    [op, &pkg_length(body.len()), body].concat()
}

/// `Scope (path) { terms }`.
pub fn scope(path: &str, terms: &[Vec<u8>]) -> Vec<u8> {
    with_pkg_length(&[SCOPE_OP], &[name_string(path), terms.concat()].concat())
}

/// `Device (path) { terms }`.
pub fn device(path: &str, terms: &[Vec<u8>]) -> Vec<u8> {
    with_pkg_length(&[EXT_OP_PREFIX, DEVICE_OP], &[name_string(path), terms.concat()].concat())
}

/// `Package (n) { elements }` with n = the number of elements (at most 255).
pub fn package(elements: &[Vec<u8>]) -> Vec<u8> {
    assert!(elements.len() <= 0xFF, "a Package holds at most 255 elements");
    let body = [&[elements.len() as u8][..], &elements.concat()].concat();
    with_pkg_length(&[PACKAGE_OP], &body)
}

/// `Buffer () { bytes }`: the size is the number of bytes.
pub fn buffer(bytes: &[u8]) -> Vec<u8> {
    with_pkg_length(&[BUFFER_OP], &[integer(bytes.len() as u64), bytes.to_vec()].concat())
}

/// Resource descriptors for a `_CRS` buffer (ACPI 6.4 section 6.4).
pub mod resource {
    /// Address space resource type: memory range.
    pub const MEMORY_RANGE: u8 = 0;
    /// Address space resource type: I/O range.
    pub const IO_RANGE: u8 = 1;
    /// Address space resource type: bus number range.
    pub const BUS_NUMBER_RANGE: u8 = 2;
    /// General flags of a range the device produces (bridges), with fixed minimum and
    /// maximum and positive decoding: MinFixed (bit 2) | MaxFixed (bit 3).
    pub const PRODUCER_FIXED: u8 = 0x0C;
    /// I/O type-specific flags: the range covers ISA and non-ISA addresses (EntireRange).
    pub const IO_ENTIRE_RANGE: u8 = 0x03;
    /// Memory type-specific flags: read/write (bit 0), cacheable (bits 2-1 = 1).
    pub const MEM_CACHEABLE_RW: u8 = 0x03;
    /// Small item: I/O port descriptor.
    pub const IO_PORT_TAG: u8 = 0x47;
    /// Small item: end tag.
    pub const END_TAG: u8 = 0x79;
    /// Large item: DWord address space descriptor.
    pub const DWORD_ADDRESS_TAG: u8 = 0x87;
    /// Large item: Word address space descriptor.
    pub const WORD_ADDRESS_TAG: u8 = 0x88;

    /// `IO (Decode16, min, max, align, len)`.
    pub fn io_port(min: u16, max: u16, align: u8, len: u8) -> Vec<u8> {
        let mut out = vec![IO_PORT_TAG, 0x01];
        out.extend_from_slice(&min.to_le_bytes());
        out.extend_from_slice(&max.to_le_bytes());
        out.extend_from_slice(&[align, len]);
        out
    }

    /// A Word address space descriptor (`WordIO`, `WordBusNumber`) producing
    /// `min..=max`, untranslated, granularity 0.
    pub fn word_range(kind: u8, type_flags: u8, min: u16, max: u16) -> Vec<u8> {
        let mut out = vec![WORD_ADDRESS_TAG];
        out.extend_from_slice(&13u16.to_le_bytes());
        out.extend_from_slice(&[kind, PRODUCER_FIXED, type_flags]);
        let len = (max as u32 - min as u32 + 1) as u16;
        for v in [0, min, max, 0, len] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out
    }

    /// A DWord address space descriptor (`DWordMemory`) producing `min..=max`,
    /// untranslated, granularity 0.
    pub fn dword_range(kind: u8, type_flags: u8, min: u32, max: u32) -> Vec<u8> {
        let mut out = vec![DWORD_ADDRESS_TAG];
        out.extend_from_slice(&23u16.to_le_bytes());
        out.extend_from_slice(&[kind, PRODUCER_FIXED, type_flags]);
        let len = max.wrapping_sub(min).wrapping_add(1);
        for v in [0, min, max, 0, len] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out
    }

    /// The end tag (checksum byte 0: "treat as correct").
    pub fn end_tag() -> Vec<u8> {
        vec![END_TAG, 0]
    }
}
