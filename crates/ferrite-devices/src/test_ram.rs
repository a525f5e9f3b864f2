//! A flat guest memory for the devices' DMA unit tests: `Ram(bytes)` is guest-physical
//! addresses 0..len; an access outside it fails, as an unbacked address does.

use crate::fw_cfg::DmaMemory;

/// Guest memory of `self.0.len()` bytes from address 0.
pub(crate) struct Ram(pub(crate) Vec<u8>);

impl DmaMemory for Ram {
    fn dma_read(&mut self, addr: u64, buf: &mut [u8]) -> bool {
        let a = addr as usize;
        match self.0.get(a..a + buf.len()) {
            Some(src) => {
                buf.copy_from_slice(src);
                true
            }
            None => false,
        }
    }

    fn dma_write(&mut self, addr: u64, data: &[u8]) -> bool {
        let a = addr as usize;
        match self.0.get_mut(a..a + data.len()) {
            Some(dst) => {
                dst.copy_from_slice(data);
                true
            }
            None => false,
        }
    }
}
