use ferrite_benches::{all, prepare, run};
use ferrite_cpu::{NullBus, RunExit};
use ferrite_jit::Jit;

#[test]
fn workloads_match() {
    for w in all() {
        let (mut cpu, mut mem) = prepare(&w, true);
        run(&mut cpu, &mut mem);
        let (mut jcpu, mut jmem) = prepare(&w, true);
        let mut jit = Jit::new().unwrap();
        let exit = jit.run(&mut jcpu, &mut jmem, &mut NullBus, 100_000_000);
        assert_eq!(exit, RunExit::Halted);
        eprintln!("{:?}", jit.stats());
        assert_eq!(cpu.gpr, jcpu.gpr, "{}", w.name);
        assert_eq!(cpu.eflags, jcpu.eflags, "{}", w.name);
        assert_eq!(cpu.insns, jcpu.insns, "{}", w.name);
        assert_eq!(cpu.eip, jcpu.eip, "{}", w.name);
    }
}
