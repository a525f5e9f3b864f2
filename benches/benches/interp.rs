//! Interpreter throughput on guest workloads, with the decoded-block cache on and off.
//!
//! `cargo bench -p ferrite-benches --bench interp`

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ferrite_benches::{all, prepare, run};

fn decode_cache(c: &mut Criterion) {
    for w in all() {
        let (mut cpu, mut mem) = prepare(&w, true);
        let (_, insns) = run(&mut cpu, &mut mem);
        let mut g = c.benchmark_group(format!("interp/{}", w.name));
        g.throughput(Throughput::Elements(insns));
        g.sample_size(20);
        for (label, cache) in [("decode-cache", true), ("decode-every-insn", false)] {
            g.bench_function(label, |b| {
                b.iter_batched(
                    || prepare(&w, cache),
                    |(mut cpu, mut mem)| run(&mut cpu, &mut mem),
                    criterion::BatchSize::LargeInput,
                )
            });
        }
        g.finish();
    }
}

criterion_group!(benches, decode_cache);
criterion_main!(benches);
