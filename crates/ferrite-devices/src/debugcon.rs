//! The debug console: a write-only character port (0xE9 on Bochs and QEMU) that guest code
//! uses to print without any video or serial hardware. Every byte written goes to a sink.
//!
//! Reading the port returns [`READBACK`] (0xE9), the value Bochs and QEMU return so a guest
//! can detect that the console is present.

use crate::PortDevice;
use std::io::Write;
use std::ops::RangeInclusive;
use std::sync::{Arc, Mutex};

/// The conventional debug-console port.
pub const DEBUGCON_PORT: u16 = 0xE9;
/// What a read of the port returns: the port number, the presence signature.
pub const READBACK: u8 = 0xE9;

/// The debug console. Writes of any width send their low byte to the sink; a sink that
/// fails (a closed pipe, a full disk) is dropped so the guest keeps running.
pub struct Debugcon {
    port: u16,
    sink: Option<Box<dyn Write + Send>>,
    bytes_written: u64,
    /// `bytes_written` at the last flush.
    flushed_at: u64,
}

impl std::fmt::Debug for Debugcon {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Debugcon")
            .field("port", &self.port)
            .field("has_sink", &self.sink.is_some())
            .field("bytes_written", &self.bytes_written)
            .finish()
    }
}

impl Debugcon {
    /// A console on [`DEBUGCON_PORT`] writing to `sink` (`None` discards the output).
    pub fn new(sink: Option<Box<dyn Write + Send>>) -> Self {
        Self::with_port(DEBUGCON_PORT, sink)
    }

    /// A console on another port.
    pub fn with_port(port: u16, sink: Option<Box<dyn Write + Send>>) -> Self {
        Debugcon { port, sink, bytes_written: 0, flushed_at: 0 }
    }

    /// Bytes the guest has written so far (including any the sink refused).
    pub fn bytes_written(&self) -> u64 {
        self.bytes_written
    }

    /// Sends one byte to the sink.
    pub fn put(&mut self, byte: u8) {
        self.bytes_written += 1;
        if let Some(sink) = self.sink.as_mut() {
            if sink.write_all(&[byte]).is_err() {
                self.sink = None;
            }
        }
    }

    /// Flushes the sink if bytes were written since the previous flush (the machine calls
    /// it after every run slice, so output without a newline is not held back).
    pub fn flush(&mut self) {
        if self.bytes_written == self.flushed_at {
            return;
        }
        self.flushed_at = self.bytes_written;
        if let Some(sink) = self.sink.as_mut() {
            if sink.flush().is_err() {
                self.sink = None;
            }
        }
    }
}

impl PortDevice for Debugcon {
    fn ports(&self) -> Vec<RangeInclusive<u16>> {
        vec![self.port..=self.port]
    }

    fn read(&mut self, _port: u16, _size: u8) -> u32 {
        READBACK as u32
    }

    fn write(&mut self, _port: u16, _size: u8, value: u32) {
        self.put(value as u8);
    }
}

/// A cloneable in-memory sink: every clone appends to the same buffer. Lets tests and
/// embedders capture what a guest printed.
#[derive(Debug, Clone, Default)]
pub struct SharedBuffer(Arc<Mutex<Vec<u8>>>);

impl SharedBuffer {
    /// An empty buffer.
    pub fn new() -> Self {
        Self::default()
    }

    /// A copy of everything written so far.
    pub fn contents(&self) -> Vec<u8> {
        match self.0.lock() {
            Ok(v) => v.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Everything written so far as text (invalid UTF-8 is replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.contents()).into_owned()
    }
}

impl Write for SharedBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self.0.lock() {
            Ok(mut v) => v.extend_from_slice(buf),
            Err(poisoned) => poisoned.into_inner().extend_from_slice(buf),
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A sink that always fails, like a closed pipe.
    struct Broken;
    impl Write for Broken {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::Error::from(std::io::ErrorKind::BrokenPipe))
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Err(std::io::Error::from(std::io::ErrorKind::BrokenPipe))
        }
    }

    #[test]
    fn test_debugcon_writes_low_byte_to_sink() {
        let buf = SharedBuffer::new();
        let mut con = Debugcon::new(Some(Box::new(buf.clone())));
        con.write(DEBUGCON_PORT, 1, b'h' as u32);
        con.write(DEBUGCON_PORT, 2, 0x4100 | b'i' as u32);
        con.flush();
        assert_eq!(buf.text(), "hi");
        assert_eq!(con.bytes_written(), 2);
    }

    /// A sink that counts its flushes.
    #[derive(Clone, Default)]
    struct Flushes(Arc<Mutex<u32>>);
    impl Write for Flushes {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            *self.0.lock().unwrap() += 1;
            Ok(())
        }
    }

    #[test]
    fn test_debugcon_flushes_only_after_output() {
        // The machine flushes after every slice: a quiet console must not touch its sink.
        let flushes = Flushes::default();
        let mut con = Debugcon::new(Some(Box::new(flushes.clone())));
        con.flush();
        assert_eq!(*flushes.0.lock().unwrap(), 0);
        con.put(b'>');
        con.flush();
        con.flush();
        assert_eq!(*flushes.0.lock().unwrap(), 1);
    }

    #[test]
    fn test_debugcon_reads_presence_signature() {
        let mut con = Debugcon::new(None);
        assert_eq!(con.read(DEBUGCON_PORT, 1), 0xE9);
    }

    #[test]
    fn test_debugcon_declares_its_port() {
        let con = Debugcon::with_port(0x402, None);
        assert_eq!(con.ports(), vec![0x402..=0x402]);
    }

    #[test]
    fn test_debugcon_survives_a_broken_sink() {
        let mut con = Debugcon::new(Some(Box::new(Broken)));
        con.put(b'x');
        con.put(b'y');
        con.flush();
        assert_eq!(con.bytes_written(), 2);
    }

    #[test]
    fn test_debugcon_without_sink_discards() {
        let mut con = Debugcon::new(None);
        con.put(b'x');
        assert_eq!(con.bytes_written(), 1);
    }
}
