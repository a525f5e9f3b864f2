//! A guest can never crash the emulator: random machine code run under random
//! architectural state (garbage descriptor tables, random control registers, page tables
//! pointing anywhere, CR3 at MMIO) must end in architectural exceptions, halts or shutdown,
//! never a host panic.

use ferrite_cpu::{Cpu, IoBus, RunExit, SegReg, Segment};
use ferrite_mem::PhysMem;

/// A small deterministic generator (xorshift64*), so failures reproduce by seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn u32(&mut self) -> u32 {
        (self.next() >> 32) as u32
    }
    fn chance(&mut self, one_in: u64) -> bool {
        self.next().is_multiple_of(one_in)
    }
}

/// A bus whose MMIO and ports return noise and which raises interrupts at random.
struct NoisyBus(Rng);

impl IoBus for NoisyBus {
    fn io_read(&mut self, _port: u16, _size: u8) -> u32 {
        self.0.u32()
    }
    fn io_write(&mut self, _port: u16, _size: u8, _value: u32) {}
    fn mmio_read(&mut self, _addr: u32, _size: u8) -> u32 {
        self.0.u32()
    }
    fn intr_pending(&mut self) -> bool {
        self.0.chance(500)
    }
    fn intr_ack(&mut self) -> u8 {
        self.0.next() as u8
    }
}

const RAM: usize = 2 << 20;
const SEEDS: u64 = 400;
const INSNS_PER_SEED: u64 = 20_000;

fn random_segment(rng: &mut Rng) -> Segment {
    Segment {
        selector: rng.u32() as u16,
        attrs: (rng.u32() as u16 & 0xF0FF) | 0x80,
        base: if rng.chance(2) { 0 } else { rng.u32() % RAM as u32 },
        limit: if rng.chance(2) { 0xFFFF_FFFF } else { rng.u32() },
    }
}

/// Runs one random guest; returns (retired instructions, shutdowns).
fn run_seed(seed: u64) -> (u64, u32) {
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let mut mem = PhysMem::new(RAM).expect("guest RAM");
    // A hole so CR3 and descriptor tables can point at MMIO.
    mem.add_mmio(0x10_0000, 0x1000, 1).expect("mmio hole");
    let mut bytes = vec![0u8; RAM];
    for chunk in bytes.chunks_mut(8) {
        let v = rng.next().to_le_bytes();
        chunk.copy_from_slice(&v[..chunk.len()]);
    }
    mem.write_bytes(0, &bytes);
    let mut cpu = Cpu::new();
    let protected = rng.chance(2);
    for s in SegReg::ALL {
        cpu.seg[s as usize] = if protected { random_segment(&mut rng) } else { Segment::real_mode(rng.u32() as u16) };
    }
    cpu.gpr = [0; 8].map(|_: u32| rng.u32());
    cpu.eip = rng.u32() & 0xFFFF;
    cpu.eflags = (rng.u32() & 0x0024_7FD7) | 2;
    cpu.gdtr.base = rng.u32() % (RAM as u32 + 0x2000);
    cpu.gdtr.limit = rng.u32() & 0xFFFF;
    cpu.idtr.base = rng.u32() % (RAM as u32 + 0x2000);
    cpu.idtr.limit = rng.u32() & 0xFFFF;
    if protected {
        cpu.cr0 = 0x11 | (rng.u32() & 0x8005_0000);
        cpu.cr3 = if rng.chance(4) { 0x10_0000 } else { rng.u32() % RAM as u32 };
        cpu.cr4 = rng.u32() & 0xB0;
        cpu.tr = random_segment(&mut rng);
        cpu.ldtr = random_segment(&mut rng);
        cpu.efer = if rng.chance(2) { 1 << 11 } else { 0 };
    }
    let mut bus = NoisyBus(Rng(seed | 1));
    let mut left = INSNS_PER_SEED;
    let mut retired = 0;
    let mut shutdowns = 0;
    while left > 0 {
        let before = cpu.insns;
        let exit = cpu.run(&mut mem, &mut bus, 1000);
        retired += cpu.insns - before;
        left = left.saturating_sub(1000);
        match exit {
            RunExit::TripleFault => {
                shutdowns += 1;
                cpu.reset();
            }
            RunExit::Halted => {
                cpu.halted = false;
                cpu.eip = cpu.eip.wrapping_add(1);
            }
            _ => {}
        }
    }
    (retired, shutdowns)
}

#[test]
fn test_random_guests_never_panic_the_emulator() {
    let (mut retired, mut shutdowns) = (0, 0);
    for seed in 0..SEEDS {
        let (r, s) = run_seed(seed);
        retired += r;
        shutdowns += s;
    }
    // The guests really ran (this is not a test of nothing) and many of them ended in
    // architectural shutdown rather than in the host.
    assert!(retired > SEEDS * 1000, "only {retired} instructions retired");
    assert!(shutdowns > 0, "no guest triple-faulted; the state is not random enough");
    eprintln!("robustness: {SEEDS} guests, {retired} instructions retired, {shutdowns} shutdowns");
}
