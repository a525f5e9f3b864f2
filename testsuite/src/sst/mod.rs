//! Hardware-captured single-step suites (SingleStepTests format): every `*.jsonl.gz` in a
//! directory is one instruction form; each line is one test of one instruction.
//!
//! [`run_suite`] spreads the files over worker threads, runs every test on a fresh
//! real-mode CPU state and returns per-form results in file order; [`report`] prints
//! them and writes the conformance document.

pub mod compare;
pub mod exec;
pub mod format;
pub mod report;
pub mod skips;

use compare::Masks;
use exec::{Failure, Worker};
use flate2::read::GzDecoder;
use format::{parse_header, parse_test, Metadata};
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The extension of a test file.
pub const TEST_FILE_SUFFIX: &str = ".jsonl.gz";
/// The masks file every suite directory holds.
pub const METADATA_FILE: &str = "metadata.json";
/// Failing tests kept per form unless `verbose`.
pub const DEFAULT_SHOWN_FAILURES: usize = 3;

/// How to run a suite.
#[derive(Debug, Clone)]
pub struct SuiteConfig {
    /// The directory of `*.jsonl.gz` files plus `metadata.json`.
    pub dir: PathBuf,
    /// Only forms matching this (see [`form_matches`]).
    pub filter: Option<String>,
    /// Keep every failure, not just the first few per form.
    pub verbose: bool,
    /// Worker threads.
    pub jobs: usize,
    /// Instruction budget per test.
    pub budget: u64,
}

/// One failing test, for the report.
#[derive(Debug, Clone)]
pub struct FailedTest {
    /// Index in the original suite.
    pub idx: u64,
    /// Disassembly.
    pub name: String,
    /// The instruction bytes.
    pub bytes: Vec<u8>,
    /// What went wrong.
    pub failure: Failure,
}

/// The results for one form (one file).
#[derive(Debug, Clone, Default)]
pub struct FormResult {
    /// The file name without `.jsonl.gz`.
    pub form: String,
    /// The mnemonic from the file header.
    pub mnemonic: String,
    /// Tests that matched the hardware.
    pub passed: u64,
    /// Tests that did not.
    pub failed: u64,
    /// Tests on the skip list.
    pub skipped: u64,
    /// How many tests each skip reason covered, in first-seen order.
    pub skip_reasons: Vec<(&'static str, u64)>,
    /// The first few failures (all of them when verbose).
    pub failures: Vec<FailedTest>,
    /// A problem reading the file; its tests after the problem were not run.
    pub error: Option<String>,
}

impl FormResult {
    /// Tests run (passed + failed).
    pub fn total(&self) -> u64 {
        self.passed + self.failed
    }
}

/// The results for a whole suite.
#[derive(Debug, Clone, Default)]
pub struct SuiteResult {
    /// The suite's name (its directory's name).
    pub name: String,
    /// Per form, in file-name order.
    pub forms: Vec<FormResult>,
    /// Wall time.
    pub elapsed: Duration,
}

impl SuiteResult {
    /// Sum of passed tests.
    pub fn passed(&self) -> u64 {
        self.forms.iter().map(|f| f.passed).sum()
    }
    /// Sum of failed tests.
    pub fn failed(&self) -> u64 {
        self.forms.iter().map(|f| f.failed).sum()
    }
    /// Sum of skipped tests.
    pub fn skipped(&self) -> u64 {
        self.forms.iter().map(|f| f.skipped).sum()
    }
    /// Passed as a percentage of run tests (100 when nothing ran).
    pub fn pass_rate(&self) -> f64 {
        let run = self.passed() + self.failed();
        if run == 0 {
            100.0
        } else {
            100.0 * self.passed() as f64 / run as f64
        }
    }
    /// Forms whose file could not be read completely.
    pub fn errors(&self) -> impl Iterator<Item = (&str, &str)> {
        self.forms.iter().filter_map(|f| f.error.as_deref().map(|e| (f.form.as_str(), e)))
    }
}

/// Whether `form` is selected by `filter`: comma-separated patterns; a pattern with `*`
/// or `?` must match the whole name (glob), any other pattern matches as a prefix, so
/// `F7` selects `F7.0` … `F7.7`. Case-insensitive.
pub fn form_matches(filter: &str, form: &str) -> bool {
    let form = form.to_ascii_uppercase();
    filter.split(',').map(|p| p.trim().to_ascii_uppercase()).filter(|p| !p.is_empty()).any(|p| {
        if p.contains(['*', '?']) {
            glob(p.as_bytes(), form.as_bytes())
        } else {
            form.starts_with(&p)
        }
    })
}

fn glob(pat: &[u8], s: &[u8]) -> bool {
    match pat.split_first() {
        None => s.is_empty(),
        Some((b'*', rest)) => (0..=s.len()).any(|i| glob(rest, &s[i..])),
        Some((b'?', rest)) => !s.is_empty() && glob(rest, &s[1..]),
        Some((c, rest)) => s.first() == Some(c) && glob(rest, &s[1..]),
    }
}

/// The test files of `dir` selected by `filter`, sorted by name, as (form, path).
pub fn list_forms(dir: &Path, filter: Option<&str>) -> Result<Vec<(String, PathBuf)>, String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    let mut forms = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
        let name = entry.file_name();
        let Some(form) = name.to_str().and_then(|n| n.strip_suffix(TEST_FILE_SUFFIX)) else {
            continue;
        };
        let selected = match filter {
            None => true,
            Some(f) => form_matches(f, form),
        };
        if selected {
            forms.push((form.to_string(), entry.path()));
        }
    }
    forms.sort();
    Ok(forms)
}

/// Runs every selected form of a suite. Errors are about the suite as a whole (missing
/// directory or metadata, no matching files); a bad file is reported in its
/// [`FormResult::error`].
pub fn run_suite(cfg: &SuiteConfig) -> Result<SuiteResult, String> {
    let start = Instant::now();
    let meta_path = cfg.dir.join(METADATA_FILE);
    let meta_text =
        std::fs::read_to_string(&meta_path).map_err(|e| format!("cannot read {}: {e}", meta_path.display()))?;
    let meta = Metadata::parse(&meta_text).map_err(|e| e.to_string())?;
    let forms = list_forms(&cfg.dir, cfg.filter.as_deref())?;
    if forms.is_empty() {
        return Err(format!("no *{TEST_FILE_SUFFIX} files in {} match the filter", cfg.dir.display()));
    }
    let next = AtomicUsize::new(0);
    let slots: Vec<Mutex<Option<FormResult>>> = forms.iter().map(|_| Mutex::new(None)).collect();
    let jobs = cfg.jobs.clamp(1, forms.len());
    let worker_errors: Vec<String> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..jobs)
            .map(|_| {
                scope.spawn(|| -> Result<(), String> {
                    let mut worker = Worker::new(cfg.budget)?;
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some((form, path)) = forms.get(i) else {
                            return Ok(());
                        };
                        let result = run_form(&mut worker, &meta, form, path, cfg.verbose);
                        if let Ok(mut slot) = slots[i].lock() {
                            *slot = Some(result);
                        }
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .filter_map(|h| match h.join() {
                Ok(Ok(())) => None,
                Ok(Err(e)) => Some(e),
                Err(_) => Some("a worker thread panicked outside a test".into()),
            })
            .collect()
    });
    if let Some(e) = worker_errors.into_iter().next() {
        return Err(e);
    }
    let forms = slots
        .into_iter()
        .zip(&forms)
        .map(|(slot, (form, _))| {
            slot.into_inner().ok().flatten().unwrap_or_else(|| FormResult {
                form: form.clone(),
                error: Some("not run".into()),
                ..FormResult::default()
            })
        })
        .collect();
    let name = cfg.dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "sst".into());
    Ok(SuiteResult { name, forms, elapsed: start.elapsed() })
}

/// Runs every test of one file.
fn run_form(worker: &mut Worker, meta: &Metadata, form: &str, path: &Path, verbose: bool) -> FormResult {
    let mut result = FormResult { form: form.to_string(), ..FormResult::default() };
    if let Err(e) = run_form_inner(worker, meta, path, verbose, &mut result) {
        result.error = Some(e);
    }
    result
}

fn run_form_inner(
    worker: &mut Worker,
    meta: &Metadata,
    path: &Path,
    verbose: bool,
    result: &mut FormResult,
) -> Result<(), String> {
    let file = File::open(path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    let mut lines = BufReader::new(GzDecoder::new(file)).lines();
    let read_err = |e: std::io::Error| format!("{}: {e}", path.display());
    let header = match lines.next() {
        Some(line) => parse_header(&line.map_err(read_err)?).map_err(|e| format!("{}: {e}", path.display()))?,
        None => return Err(format!("{}: empty file", path.display())),
    };
    result.mnemonic = header.mnemonic.clone();
    let masks = Masks {
        flags: meta.form(&result.form).flags_mask,
        regs: header.regs_mask,
        flags_pushed_at_sp: skips::flags_pushed_at_sp(&result.form),
    };
    for (n, line) in lines.enumerate() {
        let line = line.map_err(read_err)?;
        if line.trim().is_empty() {
            continue;
        }
        let test = parse_test(&line).map_err(|e| format!("{} line {}: {e}", path.display(), n + 2))?;
        if let Some(reason) = skips::skip_reason(&result.form, &test) {
            result.skipped += 1;
            match result.skip_reasons.iter_mut().find(|(r, _)| *r == reason) {
                Some((_, n)) => *n += 1,
                None => result.skip_reasons.push((reason, 1)),
            }
            continue;
        }
        match worker.run(&test, &masks) {
            Ok(()) => result.passed += 1,
            Err(failure) => {
                result.failed += 1;
                if verbose || result.failures.len() < DEFAULT_SHOWN_FAILURES {
                    result.failures.push(FailedTest { idx: test.idx, name: test.name, bytes: test.bytes, failure });
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters() {
        assert!(form_matches("F7", "F7.6"));
        assert!(form_matches("f7.6", "F7.6"));
        assert!(!form_matches("F7", "F6.0"));
        assert!(form_matches("A4,F7", "F7.0"));
        assert!(form_matches("*.6", "D3.6"));
        assert!(!form_matches("*.6", "D3.7"));
        assert!(form_matches("8?", "8F"));
        assert!(!form_matches("8?", "80.1"));
    }
}
