//! Interpreter vs translator throughput on the same guest workloads.
//!
//! `cargo bench -p ferrite-benches --bench engines`

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ferrite_benches::{all, prepare, run};
use ferrite_cpu::{NullBus, RunExit};
use ferrite_jit::Jit;

fn engines(c: &mut Criterion) {
    for w in all() {
        let (mut cpu, mut mem) = prepare(&w, true);
        let (_, insns) = run(&mut cpu, &mut mem);
        let mut g = c.benchmark_group(format!("engines/{}", w.name));
        g.throughput(Throughput::Elements(insns));
        g.sample_size(20);
        g.bench_function("interp", |b| {
            b.iter_batched(
                || prepare(&w, true),
                |(mut cpu, mut mem)| run(&mut cpu, &mut mem),
                criterion::BatchSize::LargeInput,
            )
        });
        // One translator for all iterations, flushed before each run, so every iteration
        // pays for its own translation (as a fresh run would) but not for mapping the
        // code buffer.
        let mut jit = Jit::with_capacity(4 << 20).expect("x86-64 host");
        g.bench_function("jit", |b| {
            b.iter_batched(
                || prepare(&w, true),
                |(mut cpu, mut mem)| {
                    jit.flush();
                    let exit = jit.run(&mut cpu, &mut mem, &mut NullBus, 100_000_000);
                    assert_eq!(exit, RunExit::Halted);
                    cpu.gpr[0]
                },
                criterion::BatchSize::LargeInput,
            )
        });
        g.finish();
    }
}

criterion_group!(benches, engines);
criterion_main!(benches);
