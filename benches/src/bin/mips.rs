//! Prints guest MIPS of the interpreter and the translator on one workload image.
//!
//! `cargo run --release -p ferrite-benches --bin mips [-- IMAGE [ENGINE...]]` runs the multiboot
//! kernel IMAGE (default: `roms/bin/multiboot_bench.bin`, the CPU-bound 32-bit paged
//! workload) to its end on each engine as a whole machine, checks both printed the same
//! debug-console output, and prints one line per engine: wall time, guest instructions
//! and guest MIPS. ENGINE is `interp` or `jit` (default: both, interpreter first).

use ferrite_machine::{Engine, KernelBoot, Machine, MachineConfig};
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Instant;

#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("output lock").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

const BIOS: &[u8] = include_bytes!("../../../roms/bin/demo.bin");
const DEFAULT_IMAGE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../roms/bin/multiboot_bench.bin");

fn run(image: &[u8], engine: Engine) -> Result<(f64, u64, String, String), String> {
    let out = Shared::default();
    let mut config = MachineConfig::new(BIOS.to_vec());
    config.kernel = Some(KernelBoot { image: image.to_vec(), cmdline: String::new(), module: None });
    config.engine = engine;
    config.debugcon = Some(Box::new(out.clone()));
    config.no_reboot = true;
    let mut m = Machine::new(config).map_err(|e| e.to_string())?;
    let t = Instant::now();
    let summary = m.run();
    let secs = t.elapsed().as_secs_f64();
    let text = String::from_utf8_lossy(&out.0.lock().expect("output lock")).to_string();
    let stop = match m.jit_stats() {
        Some(s) => format!("{summary}\n       {s}"),
        None => summary.to_string(),
    };
    Ok((secs, m.cpu().insns, stop, text))
}

fn main() {
    let path = std::env::args().nth(1).unwrap_or_else(|| DEFAULT_IMAGE.to_string());
    let image = match std::fs::read(&path) {
        Ok(i) => i,
        Err(e) => {
            eprintln!("mips: cannot read {path}: {e}");
            std::process::exit(2);
        }
    };
    println!("workload: {path}");
    let mut outputs = Vec::new();
    let mut interp_mips = None;
    let mut engines: Vec<Engine> = std::env::args()
        .skip(2)
        .filter_map(|a| match a.as_str() {
            "interp" => Some(Engine::Interp),
            "jit" => Some(Engine::Jit),
            _ => None,
        })
        .collect();
    if engines.is_empty() {
        engines = vec![Engine::Interp, Engine::Jit];
    }
    for engine in engines {
        match run(&image, engine) {
            Ok((secs, insns, stop, text)) => {
                let mips = insns as f64 / secs / 1e6;
                let ratio = match interp_mips {
                    None => {
                        interp_mips = Some(mips);
                        String::new()
                    }
                    Some(base) => format!("  ({:.1}x the interpreter)", mips / base),
                };
                println!("{:<6} {:>8.3} s  {:>12} insns  {:>8.1} guest MIPS{ratio}", engine.name(), secs, insns, mips);
                eprintln!("{:<6} {stop}", engine.name());
                outputs.push(text);
            }
            Err(e) => {
                eprintln!("mips: {}: {e}", engine.name());
                std::process::exit(1);
            }
        }
    }
    if outputs.windows(2).any(|w| w[0] != w[1]) {
        eprintln!("mips: the engines printed different output:\n{outputs:?}");
        std::process::exit(1);
    }
    print!("output: {}", outputs[0]);
}
