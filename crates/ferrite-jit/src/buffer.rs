//! The code buffer: one fixed-size mapping that is executable (read + execute) except
//! for the pages the translator is writing (read + write for the moment of the copy), so
//! no page is ever writable and executable at once. Code is addressed by offset from the start; the mapping never
//! moves, so absolute jumps between blocks stay valid until the whole buffer is reset.

use dynasmrt::mmap::{ExecutableBuffer, MutableBuffer};
use std::io;

/// A fixed-capacity buffer of generated code.
#[derive(Debug)]
pub(crate) struct CodeBuffer {
    /// The mapping, owned here so it lives as long as the buffer; writes change the
    /// protection of single pages in place (`write`).
    _exec: ExecutableBuffer,
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
        Ok(CodeBuffer { _exec: buf.make_exec()?, len: 0, cap, base })
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

    /// Overwrites bytes at `at` (patching a jump for chaining or unchaining). Only the
    /// host pages the bytes touch are made writable (and not executable) for the copy:
    /// re-protecting the whole mapping costs time proportional to its populated size.
    pub(crate) fn write(&mut self, at: usize, bytes: &[u8]) -> io::Result<()> {
        assert!(at + bytes.len() <= self.cap, "code buffer write out of range");
        if bytes.is_empty() {
            return Ok(());
        }
        let page = page_size();
        let start = (self.base + at) & !(page - 1);
        let end = (self.base + at + bytes.len()).div_ceil(page) * page;
        let protect = |prot: libc::c_int| -> io::Result<()> {
            // SAFETY: `[start, end)` is whole pages inside the mapping this buffer owns
            // (`base..base + cap`, page-aligned, `cap` a multiple of the page size as
            // mmap rounds it, and `at + len <= cap`); changing their protection affects
            // no Rust object. Generated code is never running while the translator
            // writes (it runs only inside `Jit::run`'s call into the trampoline).
            let r = unsafe { libc::mprotect(start as *mut libc::c_void, end - start, prot) };
            if r == 0 {
                Ok(())
            } else {
                Err(io::Error::last_os_error())
            }
        };
        protect(libc::PROT_READ | libc::PROT_WRITE)?;
        // SAFETY: the range is inside the mapping (asserted above) and now writable.
        unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), (self.base + at) as *mut u8, bytes.len()) };
        protect(libc::PROT_READ | libc::PROT_EXEC)
    }
}

/// The host page size.
fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if n > 0 {
        n as usize
    } else {
        4096
    }
}
