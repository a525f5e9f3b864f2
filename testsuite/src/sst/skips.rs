//! The one list of tests ferrite is allowed not to match: places where a P6-class CPU
//! (what ferrite emulates) legitimately behaves differently from the 80286 the suite was
//! captured on. Every entry names the form, optionally narrows it to some tests, and says
//! why. Emulator bugs never belong here.

use super::format::TestCase;

/// One allowed difference.
#[derive(Debug, Clone, Copy)]
pub struct Skip {
    /// The form (file name without `.jsonl.gz`, e.g. `"F7.6"`).
    pub form: &'static str,
    /// Narrows the skip to the tests it returns true for; `None` skips the whole form.
    pub when: Option<fn(&TestCase) -> bool>,
    /// Why a P6 differs from a 286 here.
    pub reason: &'static str,
}

/// The allowed differences.
pub const SKIPS: &[Skip] = &[];

/// Why `test` of `form` is skipped, if it is.
pub fn skip_reason(form: &str, test: &TestCase) -> Option<&'static str> {
    SKIPS
        .iter()
        .find(|s| s.form.eq_ignore_ascii_case(form) && s.when.map_or(true, |when| when(test)))
        .map(|s| s.reason)
}
