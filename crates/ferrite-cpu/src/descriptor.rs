//! Segment descriptors as they sit in the GDT/LDT, decoded into named fields.

use crate::state::Segment;

/// Access-byte bits.
pub mod access {
    /// Segment present.
    pub const PRESENT: u8 = 0x80;
    /// Code/data (1) versus system (0) descriptor.
    pub const CODE_DATA: u8 = 0x10;
    /// Code segment (with CODE_DATA set).
    pub const CODE: u8 = 0x08;
    /// Code: conforming. Data: expand-down.
    pub const CONFORMING_OR_EXPAND_DOWN: u8 = 0x04;
    /// Code: readable. Data: writable.
    pub const READ_WRITE: u8 = 0x02;
    /// Accessed.
    pub const ACCESSED: u8 = 0x01;
    /// Shift of the DPL field.
    pub const DPL_SHIFT: u8 = 5;
}

/// One 8-byte descriptor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Descriptor {
    /// The raw low and high doublewords.
    pub raw: u64,
}

impl Descriptor {
    /// Wraps the raw 8 bytes.
    pub fn new(raw: u64) -> Self {
        Descriptor { raw }
    }
    /// Access byte (P, DPL, S, type).
    pub fn access(&self) -> u8 {
        (self.raw >> 40) as u8
    }
    /// Flags nibble (G, D/B, L, AVL) in bits 4–7.
    pub fn flags(&self) -> u8 {
        (self.raw >> 48) as u8 & 0xF0
    }
    /// Linear base address.
    pub fn base(&self) -> u32 {
        ((self.raw >> 16) as u32 & 0x00FF_FFFF) | ((self.raw >> 32) as u32 & 0xFF00_0000)
    }
    /// Limit in bytes, scaled by the granularity bit.
    pub fn limit(&self) -> u32 {
        let raw = (self.raw as u32 & 0xFFFF) | ((self.raw >> 32) as u32 & 0x000F_0000);
        if self.flags() & 0x80 != 0 {
            (raw << 12) | 0xFFF
        } else {
            raw
        }
    }
    /// Descriptor privilege level.
    pub fn dpl(&self) -> u8 {
        (self.access() >> access::DPL_SHIFT) & 3
    }
    /// Present bit.
    pub fn present(&self) -> bool {
        self.access() & access::PRESENT != 0
    }
    /// A code or data segment (not a system descriptor).
    pub fn is_code_data(&self) -> bool {
        self.access() & access::CODE_DATA != 0
    }
    /// A code segment.
    pub fn is_code(&self) -> bool {
        self.is_code_data() && self.access() & access::CODE != 0
    }
    /// A data segment.
    pub fn is_data(&self) -> bool {
        self.is_code_data() && self.access() & access::CODE == 0
    }
    /// Code: conforming.
    pub fn is_conforming(&self) -> bool {
        self.is_code() && self.access() & access::CONFORMING_OR_EXPAND_DOWN != 0
    }
    /// Code: readable. Data: writable.
    pub fn read_write(&self) -> bool {
        self.access() & access::READ_WRITE != 0
    }
    /// System descriptor type (bits 0–3 of the access byte).
    pub fn system_type(&self) -> u8 {
        self.access() & 0x0F
    }
    /// The descriptor cache contents for a segment register loaded with `selector`.
    pub fn to_segment(&self, selector: u16) -> Segment {
        Segment {
            selector,
            attrs: self.access() as u16 | ((self.flags() as u16) << 8),
            base: self.base(),
            limit: self.limit(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_flat_code_descriptor_decodes() {
        // base 0, limit 0xFFFFF pages, present ring-0 code, 32-bit, 4 KiB granular.
        let d = Descriptor::new(0x00CF_9A00_0000_FFFF);
        assert_eq!(d.base(), 0);
        assert_eq!(d.limit(), 0xFFFF_FFFF);
        assert!(d.is_code() && d.present() && d.read_write());
        assert_eq!(d.dpl(), 0);
        let s = d.to_segment(0x08);
        assert!(s.is_32());
    }

    #[test]
    fn test_byte_granular_data_descriptor() {
        let d = Descriptor::new(0x0040_F212_3456_7FFF);
        assert_eq!(d.base(), 0x0012_3456);
        assert_eq!(d.limit(), 0x7FFF);
        assert!(d.is_data() && d.read_write());
        assert_eq!(d.dpl(), 3);
    }
}
