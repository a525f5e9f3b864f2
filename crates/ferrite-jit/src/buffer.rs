//! The code buffer: one fixed-size mapping that is executable (read + execute) except
//! while the translator writes into it (read + write), so it is never writable and
//! executable at once. Code is addressed by offset from the start; the mapping never
//! moves, so absolute jumps between blocks stay valid until the whole buffer is reset.

use dynasmrt::mmap::{ExecutableBuffer, MutableBuffer};
use std::io;

/// A fixed-capacity buffer of generated code.
#[derive(Debug)]
pub(crate) struct CodeBuffer {
    /// The mapping; `None` only for the moment of a write.
    exec: Option<ExecutableBuffer>,
    /// Bytes in use.
    len: usize,
    /// Bytes mapped.
    cap: usize,
    /// Host address of the mapping (it never moves: protection changes are in place).
    base: usize,
}

impl CodeBuffer {
    /// Maps `cap` bytes of executable memory.
    pub(crate) fn new(cap: usize) -> io::Result<Self> {
        let mut buf = MutableBuffer::new(cap)?;
        buf.set_len(cap);
        let base = buf.as_ptr() as usize;
        Ok(CodeBuffer { exec: Some(buf.make_exec()?), len: 0, cap, base })
    }

    /// Host address of offset 0.
    pub(crate) fn base(&self) -> usize {
        self.base
    }

    /// Bytes in use.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Whether `n` more bytes fit.
    pub(crate) fn fits(&self, n: usize) -> bool {
        self.len + n <= self.cap
    }

    /// Forgets everything after the first `len` bytes (a whole-cache flush keeps the
    /// fixed stubs at the start).
    pub(crate) fn truncate(&mut self, len: usize) {
        self.len = self.len.min(len);
    }

    /// Appends `bytes` and returns their offset. The caller checked [`CodeBuffer::fits`].
    pub(crate) fn append(&mut self, bytes: &[u8]) -> io::Result<usize> {
        let at = self.len;
        self.write(at, bytes)?;
        self.len += bytes.len();
        Ok(at)
    }

    /// Overwrites bytes at `at` (patching a jump for chaining or unchaining).
    pub(crate) fn write(&mut self, at: usize, bytes: &[u8]) -> io::Result<()> {
        assert!(at + bytes.len() <= self.cap, "code buffer write out of range");
        let exec = self.exec.take().expect("code buffer present");
        let mut buf = exec.make_mut()?;
        buf.set_len(self.cap);
        buf[at..at + bytes.len()].copy_from_slice(bytes);
        self.exec = Some(buf.make_exec()?);
        Ok(())
    }
}
