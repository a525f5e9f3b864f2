//! The `ferrite-testsuite` command line: `ferrite-testsuite sst DIR [options]`.

use clap::{Parser, Subcommand};
use ferrite_testsuite::sst::{self, exec::DEFAULT_BUDGET, report, SuiteConfig};
use std::path::PathBuf;
use std::process::ExitCode;

/// Exit status when the pass rate is below `--min-pass-rate`.
const EXIT_BELOW_THRESHOLD: u8 = 1;
/// Exit status when the suite could not be read (missing files, malformed JSON).
const EXIT_BAD_INPUT: u8 = 2;

/// ferrite's conformance runner.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a single-step suite: every *.jsonl.gz in DIR (with DIR/metadata.json).
    Sst(SstArgs),
}

#[derive(clap::Args)]
struct SstArgs {
    /// The suite directory, e.g. ../shared/testdata/sst-80286-real.
    dir: PathBuf,
    /// Only forms matching: comma-separated prefixes (`F7,A4`) or globs (`*.6`).
    #[arg(long)]
    filter: Option<String>,
    /// Print every failing test, not just the first few per form.
    #[arg(long, short)]
    verbose: bool,
    /// Exit with status 1 when the pass rate (percent of run tests) is below this.
    #[arg(long, default_value_t = 0.0)]
    min_pass_rate: f64,
    /// Also write the conformance document (markdown) to this file.
    #[arg(long)]
    markdown: Option<PathBuf>,
    /// Worker threads (default: available cores).
    #[arg(long, short)]
    jobs: Option<usize>,
    /// Instructions a test may run before it counts as "no HLT".
    #[arg(long, default_value_t = DEFAULT_BUDGET)]
    budget: u64,
}

fn run_sst(args: SstArgs) -> ExitCode {
    let jobs = args.jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
    let cfg = SuiteConfig {
        dir: args.dir.clone(),
        filter: args.filter.clone(),
        verbose: args.verbose,
        jobs,
        budget: args.budget,
    };
    let result = match sst::run_suite(&cfg) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(EXIT_BAD_INPUT);
        }
    };
    print!("{}", report::text(&result));
    if let Some(path) = &args.markdown {
        let mut command = format!("cargo run --release -p ferrite-testsuite -- sst {}", args.dir.display());
        if let Some(f) = &args.filter {
            command.push_str(&format!(" --filter '{f}'"));
        }
        command.push_str(&format!(" --markdown {}", path.display()));
        if let Err(e) = std::fs::write(path, report::markdown(&result, &command)) {
            eprintln!("error: cannot write {}: {e}", path.display());
            return ExitCode::from(EXIT_BAD_INPUT);
        }
    }
    let errors: Vec<_> = result.errors().collect();
    if !errors.is_empty() {
        for (form, e) in &errors {
            eprintln!("error: {form}: {e}");
        }
        return ExitCode::from(EXIT_BAD_INPUT);
    }
    if result.pass_rate() < args.min_pass_rate {
        eprintln!("pass rate {:.3}% is below the required {}%", result.pass_rate(), args.min_pass_rate);
        return ExitCode::from(EXIT_BELOW_THRESHOLD);
    }
    ExitCode::SUCCESS
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Sst(args) => run_sst(args),
    }
}
