//! The host side of `--serial`: where COM1's output goes and where its input comes from.
//!
//! - `none`: COM1 exists but is connected to nothing (output discarded, no input).
//! - `file:PATH`: COM1's output is logged to PATH (created or truncated); no input.
//! - `stdio`: an interactive console. Output goes to standard output; standard input is
//!   read on a background thread into a channel the machine drains between run slices.
//!   When standard input is a terminal it is put in raw mode (no line editing, no echo,
//!   Ctrl-C and Ctrl-Z reach the guest as bytes) and restored on every exit path: a
//!   [`RawModeGuard`] restores it when dropped, and [`restore_terminal`] does so from the
//!   Ctrl-C handler and the panic hook, which end the process without unwinding.
//!
//! Escape keys (as QEMU's): Ctrl-A then `x` quits ferrite (the run stops as
//! `interrupted`, status 130); Ctrl-A then `a` or Ctrl-A sends one Ctrl-A to the guest;
//! Ctrl-A then `h` prints this help on stderr.

use crate::cli::Sink;
use ferrite_machine::Machine;
use nix::sys::termios::{self, LocalFlags, OutputFlags, SetArg, Termios};
use std::fs::File;
use std::io::{BufWriter, IsTerminal, Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Mutex};

/// The escape key: Ctrl-A.
pub const ESCAPE: u8 = 0x01;
/// After the escape key: quit ferrite.
pub const ESCAPE_QUIT: u8 = b'x';
/// After the escape key: send a literal Ctrl-A.
pub const ESCAPE_LITERAL: u8 = b'a';
/// After the escape key: print the escape keys.
pub const ESCAPE_HELP: u8 = b'h';
/// The escape keys, for the help text and `h`.
pub const ESCAPE_HELP_TEXT: &str =
    "ferrite serial console: C-a x  quit ferrite | C-a a or C-a C-a  send C-a | C-a h  this help";

/// The terminal settings to put back, shared with the Ctrl-C handler and the panic hook.
static SAVED_TERMINAL: Mutex<Option<Termios>> = Mutex::new(None);

/// Puts standard input's terminal settings back if ferrite changed them. Safe to call
/// more than once and from any thread.
pub fn restore_terminal() {
    let saved = match SAVED_TERMINAL.lock() {
        Ok(mut guard) => guard.take(),
        Err(poisoned) => poisoned.into_inner().take(),
    };
    if let Some(saved) = saved {
        let _ = termios::tcsetattr(std::io::stdin(), SetArg::TCSANOW, &saved);
    }
}

/// Restores the terminal when dropped (the normal and error exits of `run`).
#[derive(Debug)]
pub struct RawModeGuard(());

impl Drop for RawModeGuard {
    fn drop(&mut self) {
        restore_terminal();
    }
}

/// Puts the terminal on standard input in raw mode, keeping output post-processing so
/// the guest's "\n" still starts a new line. `None` when stdin is not a terminal or the
/// mode cannot be changed.
fn enter_raw_mode() -> Option<RawModeGuard> {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return None;
    }
    let saved = termios::tcgetattr(&stdin).ok()?;
    let mut raw = saved.clone();
    termios::cfmakeraw(&mut raw);
    raw.output_flags |= OutputFlags::OPOST | OutputFlags::ONLCR;
    raw.local_flags.remove(LocalFlags::ISIG);
    match SAVED_TERMINAL.lock() {
        Ok(mut guard) => *guard = Some(saved),
        Err(poisoned) => *poisoned.into_inner() = Some(saved),
    }
    if termios::tcsetattr(&stdin, SetArg::TCSANOW, &raw).is_err() {
        restore_terminal();
        return None;
    }
    Some(RawModeGuard(()))
}

/// What the input filter decided about one host byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    /// Send this byte to the guest.
    Guest(u8),
    /// Nothing to send (the escape key, or an unknown escape).
    Nothing,
    /// Print the escape-key help.
    Help,
    /// Quit ferrite.
    Quit,
}

/// The escape-key state machine for host input.
#[derive(Debug, Default)]
pub struct EscapeFilter {
    escaped: bool,
}

impl EscapeFilter {
    /// Feeds one host byte.
    pub fn feed(&mut self, byte: u8) -> Key {
        if !self.escaped {
            if byte == ESCAPE {
                self.escaped = true;
                return Key::Nothing;
            }
            return Key::Guest(byte);
        }
        self.escaped = false;
        match byte {
            ESCAPE_QUIT | b'X' => Key::Quit,
            ESCAPE_LITERAL | ESCAPE => Key::Guest(ESCAPE),
            ESCAPE_HELP | b'H' | b'?' => Key::Help,
            _ => Key::Nothing,
        }
    }
}

/// Reads standard input until it ends, sending guest bytes on `tx`; Ctrl-A x sets `quit`.
fn read_stdin(tx: Sender<u8>, quit: Arc<AtomicBool>) {
    let mut filter = EscapeFilter::default();
    let mut buf = [0u8; 256];
    let mut stdin = std::io::stdin();
    loop {
        let n = match stdin.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        for &byte in &buf[..n] {
            match filter.feed(byte) {
                Key::Guest(b) => {
                    if tx.send(b).is_err() {
                        return;
                    }
                }
                Key::Nothing => {}
                Key::Help => eprint!("\r\n{ESCAPE_HELP_TEXT}\r\n"),
                Key::Quit => {
                    quit.store(true, Ordering::Relaxed);
                    return;
                }
            }
        }
    }
}

/// Connects COM1 of `machine` as `--serial` says. `stdout_sink` is the standard-output
/// sink the CLI uses for guest output; with `input` false, `stdio` is output only (the
/// debugger REPL owns standard input). The returned guard (stdio on a terminal) must live
/// until the run has ended.
pub fn connect(
    sink: &Sink,
    machine: &mut Machine,
    stdout_sink: Option<Box<dyn Write + Send>>,
    input: bool,
) -> Result<Option<RawModeGuard>, String> {
    match sink {
        Sink::None => Ok(None),
        Sink::File(path) => {
            let file = File::create(path)
                .map_err(|e| format!("cannot create serial file {}: {}", path.display(), crate::io_reason(&e)))?;
            machine.set_serial(Some(Box::new(BufWriter::new(file))), None);
            Ok(None)
        }
        Sink::Stdio if !input => {
            machine.set_serial(stdout_sink, None);
            Ok(None)
        }
        Sink::Stdio => {
            let (tx, rx) = mpsc::channel();
            let quit = machine.interrupt_handle();
            let guard = enter_raw_mode();
            std::thread::Builder::new()
                .name("serial-stdin".into())
                .spawn(move || read_stdin(tx, quit))
                .map_err(|e| format!("cannot start the serial input thread: {e}"))?;
            machine.set_serial(stdout_sink, Some(rx));
            if guard.is_some() {
                eprint!("{ESCAPE_HELP_TEXT}\r\n");
            }
            Ok(guard)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_escape_filter_passes_plain_bytes() {
        let mut f = EscapeFilter::default();
        assert_eq!(f.feed(b'a'), Key::Guest(b'a'));
        assert_eq!(f.feed(0x03), Key::Guest(0x03), "Ctrl-C goes to the guest");
    }

    #[test]
    fn test_escape_filter_keys() {
        let mut f = EscapeFilter::default();
        assert_eq!(f.feed(ESCAPE), Key::Nothing);
        assert_eq!(f.feed(b'x'), Key::Quit);
        assert_eq!(f.feed(ESCAPE), Key::Nothing);
        assert_eq!(f.feed(ESCAPE), Key::Guest(ESCAPE));
        assert_eq!(f.feed(ESCAPE), Key::Nothing);
        assert_eq!(f.feed(b'a'), Key::Guest(ESCAPE));
        assert_eq!(f.feed(ESCAPE), Key::Nothing);
        assert_eq!(f.feed(b'h'), Key::Help);
        assert_eq!(f.feed(ESCAPE), Key::Nothing);
        assert_eq!(f.feed(b'q'), Key::Nothing, "unknown escapes are dropped");
        assert_eq!(f.feed(b'q'), Key::Guest(b'q'));
    }

    #[test]
    fn test_restore_without_raw_mode_is_harmless() {
        restore_terminal();
        restore_terminal();
    }
}
