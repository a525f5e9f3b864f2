//! End-to-end tests of the single-step runner: synthetic suites written to a temporary
//! directory (always run), and a handful of forms of the real 80286 suite when the shared
//! test data is present next to the repository.

use ferrite_testsuite::sst::{exec::DEFAULT_BUDGET, report, run_suite, SuiteConfig};
use flate2::write::GzEncoder;
use flate2::Compression;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Where the shared 80286 suite lives, relative to the repository root.
const REAL_SUITE: &str = "../shared/testdata/sst-80286-real";

fn config(dir: &Path, filter: Option<&str>) -> SuiteConfig {
    SuiteConfig {
        dir: dir.to_path_buf(),
        filter: filter.map(str::to_string),
        verbose: true,
        jobs: 2,
        budget: DEFAULT_BUDGET,
    }
}

/// A fresh, empty scratch directory under the target directory.
fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create scratch dir");
    dir
}

fn write_gz(path: &Path, text: &str) {
    let mut enc = GzEncoder::new(Vec::new(), Compression::fast());
    enc.write_all(text.as_bytes()).expect("gzip");
    std::fs::write(path, enc.finish().expect("gzip")).expect("write test file");
}

const METADATA: &str = r#"{"opcodes":{"40":{"status":"normal"},"90":{"status":"normal"}}}"#;

/// `inc ax` at 0100:0010 followed by HLT; `final_ax` is what the "hardware" recorded.
fn inc_ax_test(idx: u32, final_ax: u16) -> String {
    format!(
        r#"{{"idx":{idx},"name":"inc ax","bytes":[64,244],"initial":{{"regs":{{"ax":4,"bx":0,"cx":0,"dx":0,"cs":256,"ss":0,"ds":0,"es":0,"sp":256,"bp":0,"si":0,"di":0,"ip":16,"flags":2}},"ram":[[4112,64],[4113,244]]}},"final":{{"regs":{{"ax":{final_ax},"ip":18,"flags":6}},"ram":[]}}}}"#
    )
}

#[test]
fn synthetic_suite_passes_and_fails_as_recorded() {
    let dir = scratch("sst-synthetic");
    std::fs::write(dir.join("metadata.json"), METADATA).unwrap();
    let header = r#"{"header":{"cpu":"C286","opcode":64,"mnemonic":"inc","cpu_mode":0}}"#;
    // Test 1 expects the right answer, test 2 a wrong one; both reuse the same memory.
    let body = [header.to_string(), inc_ax_test(1, 5), inc_ax_test(2, 6)].join("\n");
    write_gz(&dir.join("40.jsonl.gz"), &body);
    let r = run_suite(&config(&dir, None)).expect("suite runs");
    assert_eq!((r.passed(), r.failed(), r.skipped()), (1, 1, 0));
    let f = &r.forms[0];
    assert_eq!(f.failures[0].idx, 2);
    let line = report::failure_line(&f.failures[0]);
    assert!(line.contains("ax exp 0x0006 got 0x0005"), "{line}");
    assert!(report::text(&r).ends_with("sst: 1 passed, 1 failed, 0 skipped\n"));
}

#[test]
fn malformed_files_are_reported_not_fatal() {
    let dir = scratch("sst-malformed");
    std::fs::write(dir.join("metadata.json"), METADATA).unwrap();
    write_gz(&dir.join("40.jsonl.gz"), "{\"header\":{}}\n{not json");
    std::fs::write(dir.join("90.jsonl.gz"), b"not gzip at all").unwrap();
    let r = run_suite(&config(&dir, None)).expect("suite runs");
    let errors: Vec<_> = r.errors().collect();
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(errors[0].1.contains("line 2"), "{errors:?}");
    // A directory without metadata is an error for the whole suite.
    let empty = scratch("sst-empty");
    assert!(run_suite(&config(&empty, None)).is_err());
}

#[test]
fn real_80286_suite_sample() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(REAL_SUITE);
    if !dir.join("metadata.json").exists() {
        eprintln!("\n*** SKIPPING real_80286_suite_sample: {} not found ***\n", dir.display());
        return;
    }
    // Plain ALU, PUSHF (masked bits 12–15), INT n (exception frame), DIV (#DE), MOVSW.
    let r = run_suite(&config(&dir, Some("00,9C,CD,F7.6,A5"))).expect("suite runs");
    assert_eq!(r.forms.len(), 5);
    assert_eq!(r.errors().count(), 0);
    assert!(r.passed() + r.failed() > 4000, "{}", report::summary_line(&r));
    print!("{}", report::text(&r));
    // These forms are long implemented; a drop this far means the runner or CPU broke.
    assert!(r.pass_rate() > 90.0, "{}", report::summary_line(&r));
}
