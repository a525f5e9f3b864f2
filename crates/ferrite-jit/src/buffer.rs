//! The code buffer: one fixed-size area of generated code, addressed by offset from its
//! start. It never moves, so absolute jumps between blocks stay valid until the whole
//! buffer is reset, and no page of it is ever writable and executable at once.
//!
//! On Linux the buffer is one shared-memory object (`memfd_create`) mapped twice: a
//! read+execute view that generated code runs from, and a read+write view at another
//! address that the translator writes blocks and chaining patches into. Translating and
//! patching therefore never change page protections (no `mprotect`, no TLB shootdown),
//! which is what made self-modifying guests slower on the translator than on the
//! interpreter. Where that is not available the buffer falls back to one mapping whose
//! touched pages are flipped to read+write for each write and back to read+execute.

use dynasmrt::mmap::{ExecutableBuffer, MutableBuffer};
use std::io;

/// How the buffer's bytes are written.
#[derive(Debug)]
enum Views {
    /// Two views of one memory object: `exec` (read+execute), `write` (read+write).
    Dual { write: usize },
    /// One mapping, re-protected page by page around each write.
    Flip {
        /// The mapping, owned here so it lives as long as the buffer.
        _exec: ExecutableBuffer,
    },
}

/// A fixed-capacity buffer of generated code.
#[derive(Debug)]
pub(crate) struct CodeBuffer {
    views: Views,
    /// Bytes in use.
    len: usize,
    /// Bytes mapped.
    cap: usize,
    /// Host address of the executable view (it never moves).
    base: usize,
}

impl CodeBuffer {
    /// Maps `cap` bytes (rounded up to whole pages) of code buffer.
    pub(crate) fn new(cap: usize) -> io::Result<Self> {
        let cap = cap.div_ceil(page_size()) * page_size();
        if let Some((base, write)) = dual_map(cap) {
            return Ok(CodeBuffer { views: Views::Dual { write }, len: 0, cap, base });
        }
        let mut buf = MutableBuffer::new(cap)?;
        buf.set_len(cap);
        let base = buf.as_ptr() as usize;
        Ok(CodeBuffer { views: Views::Flip { _exec: buf.make_exec()? }, len: 0, cap, base })
    }

    /// Host address of offset 0 (in the executable view).
    pub(crate) fn base(&self) -> usize {
        self.base
    }

    /// Whether writes go through a separate writable view (no protection changes).
    pub(crate) fn dual_view(&self) -> bool {
        matches!(self.views, Views::Dual { .. })
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

    /// Overwrites bytes at `at` (a new block, or a jump patched for chaining or
    /// unchaining). Generated code is never running while the translator writes (it runs
    /// only inside `Jit::run`'s call into the trampoline), and the dispatcher returns to
    /// it through a call, so no stale instruction bytes are executed.
    pub(crate) fn write(&mut self, at: usize, bytes: &[u8]) -> io::Result<()> {
        assert!(at + bytes.len() <= self.cap, "code buffer write out of range");
        if bytes.is_empty() {
            return Ok(());
        }
        match self.views {
            Views::Dual { write } => {
                // SAFETY: `[write + at, write + at + len)` lies inside the read+write view
                // this buffer owns (`at + len <= cap`, asserted above); it aliases only the
                // executable view, which no Rust reference points into.
                unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), (write + at) as *mut u8, bytes.len()) };
                Ok(())
            }
            Views::Flip { .. } => self.write_flipping(at, bytes),
        }
    }

    /// A write into the single mapping: only the host pages the bytes touch are made
    /// writable (and not executable) for the copy.
    fn write_flipping(&mut self, at: usize, bytes: &[u8]) -> io::Result<()> {
        let page = page_size();
        let start = (self.base + at) & !(page - 1);
        let end = (self.base + at + bytes.len()).div_ceil(page) * page;
        let protect = |prot: libc::c_int| -> io::Result<()> {
            // SAFETY: `[start, end)` is whole pages inside the mapping this buffer owns
            // (`base..base + cap`, page-aligned, `cap` a multiple of the page size, and
            // `at + len <= cap`); changing their protection affects no Rust object.
            let r = unsafe { libc::mprotect(start as *mut libc::c_void, end - start, prot) };
            if r == 0 {
                Ok(())
            } else {
                Err(io::Error::last_os_error())
            }
        };
        protect(libc::PROT_READ | libc::PROT_WRITE)?;
        // SAFETY: the range is inside the mapping (asserted by the caller) and now writable.
        unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), (self.base + at) as *mut u8, bytes.len()) };
        protect(libc::PROT_READ | libc::PROT_EXEC)
    }
}

impl Drop for CodeBuffer {
    fn drop(&mut self) {
        if let Views::Dual { write } = self.views {
            // SAFETY: both views were mapped by `dual_map` with exactly `cap` bytes and
            // are unmapped once, here; generated code cannot run any more (the `Jit`
            // owning this buffer is being dropped).
            unsafe {
                libc::munmap(self.base as *mut libc::c_void, self.cap);
                libc::munmap(write as *mut libc::c_void, self.cap);
            }
        }
    }
}

/// Maps one anonymous shared-memory object of `cap` bytes twice: (read+execute view,
/// read+write view). `None` when the host does not allow it (then the caller falls back
/// to flipping protections).
#[cfg(target_os = "linux")]
fn dual_map(cap: usize) -> Option<(usize, usize)> {
    if std::env::var_os("FERRITE_JIT_SINGLE_VIEW").is_some() {
        return None;
    }
    // SAFETY: plain system calls on a file descriptor this function owns and closes; the
    // mappings it returns are owned by the `CodeBuffer` (unmapped in its `Drop`).
    unsafe {
        let fd = libc::memfd_create(c"ferrite-jit-code".as_ptr(), libc::MFD_CLOEXEC);
        if fd < 0 {
            return None;
        }
        let unmap = |p: *mut libc::c_void| {
            if p != libc::MAP_FAILED {
                libc::munmap(p, cap);
            }
        };
        let mut out = None;
        if libc::ftruncate(fd, cap as libc::off_t) == 0 {
            let null = std::ptr::null_mut();
            let exec = libc::mmap(null, cap, libc::PROT_READ | libc::PROT_EXEC, libc::MAP_SHARED, fd, 0);
            let write = libc::mmap(null, cap, libc::PROT_READ | libc::PROT_WRITE, libc::MAP_SHARED, fd, 0);
            if exec != libc::MAP_FAILED && write != libc::MAP_FAILED {
                out = Some((exec as usize, write as usize));
            } else {
                unmap(exec);
                unmap(write);
            }
        }
        libc::close(fd);
        out
    }
}

/// No shared-memory double mapping on this host.
#[cfg(not(target_os = "linux"))]
fn dual_map(_cap: usize) -> Option<(usize, usize)> {
    None
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_writes_are_visible_in_the_executable_view() {
        let mut b = CodeBuffer::new(64 << 10).unwrap();
        let at = b.append(&[0xC3, 0x90, 0x90]).unwrap();
        b.write(at + 1, &[0xCC]).unwrap();
        // SAFETY: the executable view is readable and `at + 3 <= len`.
        let seen = unsafe { std::slice::from_raw_parts((b.base() + at) as *const u8, 3) };
        assert_eq!(seen, &[0xC3, 0xCC, 0x90]);
        #[cfg(target_os = "linux")]
        assert!(b.dual_view(), "Linux maps the buffer twice");
    }
}
