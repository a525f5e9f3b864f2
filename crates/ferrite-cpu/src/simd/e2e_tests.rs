//! End-to-end MMX/SSE/SSE2 tests: real-mode programs assembled with iced's code
//! assembler check each instruction group's bit patterns, #XM/#UD/#GP/#NM behaviour, the
//! MMX view of the x87 registers, FXSAVE/FXRSTOR and CPUID.

use super::mxcsr::{DAZ, IE, MASK_SHIFT, MXCSR_RESET, PE, RC_SHIFT, ZE};
use super::tests::mx;
use crate::fault::Vector;
use crate::tests::run_real_with;
use crate::Cpu;
use ferrite_mem::PhysMem;
use iced_x86::code_asm::*;

/// Data the programs read lives here (16-byte aligned).
const DATA: u32 = 0x200;
/// Results are stored here.
const OUT: u32 = 0x400;
/// Exception handlers: vector v → HLT at HANDLERS + v.
const HANDLERS: u32 = 0x600;

/// Assembles 16-bit code that enables SSE (CR4.OSFXSR, plus OSXMMEXCPT when `xm`), runs
/// `build`, and halts; `data` is placed at DATA. Every exception vector up to 19 goes to
/// its own HLT so `last_fault` tells what happened.
fn run_cfg(xm: bool, build: impl FnOnce(&mut CodeAssembler) -> Result<(), IcedError>, data: &[u8]) -> (Cpu, PhysMem) {
    let mut a = CodeAssembler::new(16).unwrap();
    a.mov(eax, cr4).unwrap();
    a.or(eax, if xm { 0x600 } else { 0x200 }).unwrap();
    a.mov(cr4, eax).unwrap();
    build(&mut a).unwrap();
    a.hlt().unwrap();
    let code = a.assemble(0x100).unwrap();
    let data = data.to_vec();
    run_real_with(&code, |m| {
        m.write_bytes(DATA, &data);
        for v in 0..20u32 {
            m.write_bytes(4 * v, &[(HANDLERS + v) as u8, ((HANDLERS + v) >> 8) as u8, 0, 0]);
            m.write_u8(HANDLERS + v, 0xF4);
        }
    })
}

fn run(build: impl FnOnce(&mut CodeAssembler) -> Result<(), IcedError>, data: &[u8]) -> (Cpu, PhysMem) {
    run_cfg(true, build, data)
}

fn fault_vector(cpu: &Cpu) -> Option<u8> {
    cpu.last_fault.map(|f| f.fault.vector)
}

fn read128(m: &PhysMem, at: u32) -> u128 {
    let mut b = [0u8; 16];
    m.read_bytes(at, &mut b);
    u128::from_le_bytes(b)
}

fn bytes128(v: &[u128]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn ps(v: [f32; 4]) -> u128 {
    v.iter().enumerate().fold(0, |acc, (i, f)| acc | (f.to_bits() as u128) << (32 * i))
}

fn pd(v: [f64; 2]) -> u128 {
    v[0].to_bits() as u128 | (v[1].to_bits() as u128) << 64
}

#[test]
fn test_e2e_sse_disabled_is_ud_and_ts_is_nm() {
    // Without CR4.OSFXSR, ADDPS is #UD.
    let mut a = CodeAssembler::new(16).unwrap();
    a.addps(xmm0, xmm1).unwrap();
    a.hlt().unwrap();
    let code = a.assemble(0x100).unwrap();
    let (cpu, _) = run_real_with(&code, |m| {
        m.write_bytes(6 * 4, &[0x00, 0x03, 0, 0]);
        m.write_u8(0x300, 0xF4);
    });
    assert_eq!(fault_vector(&cpu), Some(Vector::InvalidOpcode as u8));
    // With CR0.TS, #NM; MMX without OSFXSR works.
    let (cpu, _) = run(
        |a| {
            a.mov(eax, cr0)?;
            a.or(eax, 8)?;
            a.mov(cr0, eax)?;
            a.movaps(xmm0, xmm1)
        },
        &[],
    );
    assert_eq!(fault_vector(&cpu), Some(Vector::DeviceNotAvailable as u8));
    let (cpu, _) = run_cfg(false, |a| a.paddb(mm0, mm1), &[]);
    assert_eq!(cpu.last_fault, None);
}

#[test]
fn test_e2e_integer_ops_sse2() {
    let x = 0x8000_7FFF_0102_0304_F0E0_D0C0_0080_FF01u128;
    let y = 0x0001_0001_0101_0101_1020_3040_0080_0101u128;
    let (cpu, mem) = run(
        |a| {
            a.movdqa(xmm0, xmmword_ptr(DATA))?;
            a.movdqa(xmm1, xmmword_ptr(DATA + 16))?;
            a.movdqa(xmm2, xmm0)?;
            a.paddb(xmm2, xmm1)?;
            a.movdqa(xmmword_ptr(OUT), xmm2)?;
            a.movdqa(xmm2, xmm0)?;
            a.paddsw(xmm2, xmm1)?;
            a.movdqa(xmmword_ptr(OUT + 16), xmm2)?;
            a.movdqa(xmm2, xmm0)?;
            a.psubusb(xmm2, xmm1)?;
            a.movdqa(xmmword_ptr(OUT + 32), xmm2)?;
            a.movdqa(xmm2, xmm0)?;
            a.pmaddwd(xmm2, xmm1)?;
            a.movdqa(xmmword_ptr(OUT + 48), xmm2)?;
            a.movdqa(xmm2, xmm0)?;
            a.pcmpeqb(xmm2, xmm1)?;
            a.pmovmskb(ecx, xmm2)?;
            a.pshufd(xmm3, xmm0, 0x1B)?;
            a.movdqu(xmmword_ptr(OUT + 64), xmm3)?;
            a.movdqa(xmm2, xmm0)?;
            a.psadbw(xmm2, xmm1)?;
            a.movdqa(xmmword_ptr(OUT + 80), xmm2)?;
            a.movdqa(xmm2, xmm0)?;
            a.psrad(xmm2, 4)?;
            a.pslldq(xmm2, 3)?;
            a.movdqa(xmmword_ptr(OUT + 96), xmm2)?;
            a.pextrw(edx, xmm0, 6)?;
            a.pinsrw(xmm0, edx, 0)?;
            a.movdqa(xmmword_ptr(OUT + 112), xmm0)?;
            a.movdqa(xmm2, xmm1)?;
            a.punpckhbw(xmm2, xmm0)?;
            a.movdqa(xmmword_ptr(OUT + 128), xmm2)?;
            a.movdqa(xmm2, xmm0)?;
            a.packuswb(xmm2, xmm1)?;
            a.movdqa(xmmword_ptr(OUT + 144), xmm2)
        },
        &bytes128(&[x, y]),
    );
    assert_eq!(cpu.last_fault, None);
    assert_eq!(read128(&mem, OUT), 0x8001_7F00_0203_0405_0000_0000_0000_0002);
    assert_eq!(read128(&mem, OUT + 16), 0x8001_7FFF_0203_0405_0100_0100_0100_0002);
    assert_eq!(read128(&mem, OUT + 32), 0x8000_7FFE_0001_0203_E0C0_A080_0000_FE00);
    assert_eq!(read128(&mem, OUT + 48), 0xFFFF_FFFF_0004_0A06_F624_4C00_FFFF_4001);
    assert_eq!(cpu.gpr[1], 0b1000_0000_1101);
    assert_eq!(read128(&mem, OUT + 64), 0x0080_FF01_F0E0_D0C0_0102_0304_8000_7FFF);
    assert_eq!(read128(&mem, OUT + 80), 0x204 << 64 | 0x3BE);
    assert_eq!(read128(&mem, OUT + 96), 0xFF00_1020_30FF_0E0D_0C00_080F_F000_0000);
    assert_eq!(cpu.gpr[2], 0x7FFF);
    assert_eq!(read128(&mem, OUT + 112), 0x8000_7FFF_0102_0304_F0E0_D0C0_0080_7FFF);
    assert_eq!(read128(&mem, OUT + 128), 0x8000_0001_7F00_FF01_0101_0201_0301_0401);
    assert_eq!(read128(&mem, OUT + 144), 0x0101_FFFF_FFFF_80FF_00FF_FFFF_0000_80FF);
}

#[test]
fn test_e2e_mmx_aliases_x87_registers() {
    let (cpu, mem) = run_cfg(
        false,
        |a| {
            a.fninit()?;
            a.fld1()?; // R7 = 1.0, TOP = 7
            a.movq(mm0, qword_ptr(DATA))?;
            a.paddw(mm0, qword_ptr(DATA + 8))?;
            a.movq(qword_ptr(OUT), mm0)?;
            a.movq(mm3, mm0)?;
            a.psllq(mm3, 4)?;
            a.pshufw(mm4, mm0, 0x1B)?;
            a.pavgb(mm4, mm3)?;
            a.movd(ecx, mm0)?;
            a.movq2dq(xmm1, mm3)
        },
        &[0x01, 0x00, 0xFF, 0x7F, 0x00, 0x80, 0x34, 0x12, 0x01, 0x00, 0x01, 0x00, 0xFF, 0xFF, 0x11, 0x11],
    );
    assert_eq!(cpu.last_fault, None);
    let r = 0x2345_7FFF_8000_0002u64;
    assert_eq!(mem.read_u8(OUT), 0x02);
    assert_eq!(cpu.fpu.regs[0].sig, r);
    assert_eq!(cpu.fpu.regs[0].se, 0xFFFF);
    assert_eq!(cpu.fpu.regs[3].sig, r << 4);
    assert_eq!(cpu.fpu.regs[4].sig, {
        let sh = 0x0002_8000_7FFF_2345u64;
        let mut v = 0u64;
        for i in 0..8 {
            let (p, q) = ((sh >> (8 * i)) & 0xFF, ((r << 4) >> (8 * i)) & 0xFF);
            v |= ((p + q + 1) >> 1) << (8 * i);
        }
        v
    });
    assert_eq!(cpu.gpr[1], 0x8000_0002);
    assert_eq!(cpu.sse.xmm[1], (r << 4) as u128);
    // TOP = 0, every tag valid; R7 still holds 1.0.
    assert_eq!(cpu.fpu.top(), 0);
    assert_eq!(cpu.fpu.tw, 0);
    assert_eq!((cpu.fpu.regs[7].se, cpu.fpu.regs[7].sig), (0x3FFF, 1 << 63));

    let (cpu, _) = run_cfg(false, |a| a.movq(mm1, mm2)?.pipe(|_| a.emms()), &[]);
    assert_eq!(cpu.fpu.tw, 0xFFFF);
}

/// Lets the MMX test chain two calls in one closure.
trait Pipe: Sized {
    fn pipe<R>(self, f: impl FnOnce(Self) -> R) -> R {
        f(self)
    }
}
impl<T> Pipe for T {}

#[test]
fn test_e2e_packed_fp_and_unmasked_exceptions() {
    let data = [
        bytes128(&[ps([1.0, 2.0, 3.0, 4.0]), ps([3.0, 0.0, -1.0, 0.5])]),
        (MXCSR_RESET & !(ZE << MASK_SHIFT)).to_le_bytes().to_vec(),
    ]
    .concat();
    let prog = |a: &mut CodeAssembler| {
        a.movaps(xmm0, xmmword_ptr(DATA))?;
        a.movaps(xmm1, xmmword_ptr(DATA + 16))?;
        a.movaps(xmm2, xmm0)?;
        a.divps(xmm2, xmm1)?;
        a.movaps(xmmword_ptr(OUT), xmm2)?;
        a.stmxcsr(dword_ptr(OUT + 16))?;
        a.ldmxcsr(dword_ptr(DATA + 32))?;
        a.movaps(xmm3, xmm0)?;
        a.mov(cx, 0x1111)?;
        a.divps(xmm3, xmm1)?;
        a.mov(cx, 0x2222)
    };
    let (cpu, mem) = run(prog, &data);
    let third = (1.0f32 / 3.0).to_bits() as u128;
    assert_eq!(read128(&mem, OUT), ps([0.0, f32::INFINITY, -3.0, 8.0]) | third);
    assert_eq!(mem.read_u8(OUT + 16) as u32 & 0x3F, ZE | PE);
    assert_eq!(fault_vector(&cpu), Some(Vector::SimdError as u8));
    assert_eq!(cpu.gpr[1] & 0xFFFF, 0x1111);
    assert_eq!(cpu.sse.xmm[3], cpu.sse.xmm[0], "destination untouched");
    assert_eq!(cpu.sse.mxcsr & ZE, ZE);
    // Without CR4.OSXMMEXCPT the same exception is #UD.
    let (cpu, _) = run_cfg(false, prog, &data);
    assert_eq!(fault_vector(&cpu), Some(Vector::InvalidOpcode as u8));
}

#[test]
fn test_e2e_alignment() {
    let (cpu, _) = run(|a| a.movaps(xmm0, xmmword_ptr(DATA + 8)), &[]);
    assert_eq!(fault_vector(&cpu), Some(Vector::GeneralProtection as u8));
    let (cpu, _) = run(|a| a.addpd(xmm0, xmmword_ptr(DATA + 4)), &[]);
    assert_eq!(fault_vector(&cpu), Some(Vector::GeneralProtection as u8));
    let (cpu, _) = run(
        |a| {
            a.movups(xmm0, xmmword_ptr(DATA + 8))?;
            a.movdqu(xmmword_ptr(OUT + 3), xmm0)?;
            a.addss(xmm0, dword_ptr(DATA + 4))?;
            a.movq(xmm1, qword_ptr(DATA + 4))
        },
        &[],
    );
    assert_eq!(cpu.last_fault, None);
    let (cpu, _) = run(|a| a.ldmxcsr(dword_ptr(DATA)), &0x1_0000u32.to_le_bytes());
    assert_eq!(fault_vector(&cpu), Some(Vector::GeneralProtection as u8));
}

#[test]
fn test_e2e_scalar_moves_compares_and_string_movsd() {
    let x = pd([1.5, -2.25]);
    let y = pd([4.0, f64::NAN]);
    let (cpu, mem) = run(
        |a| {
            a.movapd(xmm0, xmmword_ptr(DATA))?;
            a.movsd_2(xmm1, qword_ptr(DATA + 16))?; // 4.0, upper zeroed
            a.movapd(xmm2, xmm0)?;
            a.movsd_2(xmm2, xmm1)?; // 4.0, -2.25
            a.movapd(xmmword_ptr(OUT), xmm2)?;
            a.movhps(xmm3, qword_ptr(DATA))?;
            a.movlps(xmm3, qword_ptr(DATA + 24))?;
            a.movapd(xmmword_ptr(OUT + 16), xmm3)?;
            a.movhlps(xmm4, xmm0)?;
            a.movmskpd(ecx, xmm0)?;
            a.movmskps(edx, xmm0)?;
            a.movapd(xmm5, xmm0)?;
            a.cmpsd_3(xmm5, xmm1, 1u32)?; // 1.5 < 4.0
            a.movapd(xmm6, xmmword_ptr(DATA + 16))?;
            a.cmppd(xmm6, xmm0, 3u32)?; // unordered
            a.comisd(xmm0, xmm1)?;
            a.pushf()?;
            a.pop(bx)?;
            a.ucomisd(xmm1, xmm0)?;
            a.pushf()?;
            a.pop(bp)?;
            // The string MOVSD still works.
            a.mov(si, DATA)?;
            a.mov(di, OUT + 32)?;
            a.cld()?;
            a.movsd()
        },
        &bytes128(&[x, y]),
    );
    assert_eq!(cpu.last_fault, None);
    assert_eq!(read128(&mem, OUT), pd([4.0, -2.25]));
    assert_eq!(read128(&mem, OUT + 16), (f64::NAN.to_bits() as u128) | (1.5f64.to_bits() as u128) << 64);
    assert_eq!(cpu.sse.xmm[4] as u64, (-2.25f64).to_bits());
    assert_eq!(cpu.gpr[1], 0b10);
    assert_eq!(cpu.gpr[2], 0b1000);
    assert_eq!(cpu.sse.xmm[5], (u64::MAX as u128) | (x & !(u64::MAX as u128)));
    assert_eq!(cpu.sse.xmm[6], (u128::MAX << 64));
    assert_eq!(cpu.gpr[3] & 0x8C5, 0x01, "comisd 1.5 < 4.0: CF");
    assert_eq!(cpu.gpr[5] & 0x8C5, 0x00, "ucomisd 4.0 > 1.5");
    assert_eq!(mem.read_u8(OUT + 32), x as u8);
    assert_eq!(cpu.sse.mxcsr & 0x3F, 0, "quiet compares of numbers raise nothing");
}

#[test]
fn test_e2e_conversions_and_rounding_control() {
    let data = [
        bytes128(&[ps([1.5, 2.5, -1.5, 1e10]), pd([0.1, -7.9])]),
        [mx(1), mx(0)].iter().flat_map(|v| v.to_le_bytes()).collect(),
    ]
    .concat();
    let (cpu, mem) = run(
        |a| {
            a.movaps(xmm0, xmmword_ptr(DATA))?;
            a.cvtps2dq(xmm1, xmm0)?; // nearest: 2, 2, -2, indefinite
            a.movdqa(xmmword_ptr(OUT), xmm1)?;
            a.ldmxcsr(dword_ptr(DATA + 32))?;
            a.cvtps2dq(xmm2, xmm0)?; // down: 1, 2, -2, indefinite
            a.movdqa(xmmword_ptr(OUT + 16), xmm2)?;
            a.ldmxcsr(dword_ptr(DATA + 36))?;
            a.cvttsd2si(ecx, qword_ptr(DATA + 24))?; // -7
            a.mov(eax, -5i32 as u32)?;
            a.cvtsi2sd(xmm3, eax)?;
            a.cvtpd2ps(xmm4, xmmword_ptr(DATA + 16))?;
            a.cvtps2pd(xmm5, xmm0)?;
            a.cvtdq2ps(xmm6, xmm1)?;
            a.cvttps2pi(mm0, xmm0)?;
            a.movq2dq(xmm7, mm0)
        },
        &data,
    );
    assert_eq!(cpu.last_fault, None);
    let ints = |v: [i32; 4]| v.iter().enumerate().fold(0u128, |acc, (i, &x)| acc | (x as u32 as u128) << (32 * i));
    assert_eq!(read128(&mem, OUT), ints([2, 2, -2, i32::MIN]));
    assert_eq!(read128(&mem, OUT + 16), ints([1, 2, -2, i32::MIN]));
    assert_eq!(cpu.gpr[1] as i32, -7);
    assert_eq!(cpu.sse.xmm[3] as u64, (-5.0f64).to_bits());
    assert_eq!(cpu.sse.xmm[4], ps([0.1, -7.9, 0.0, 0.0]));
    assert_eq!(cpu.sse.xmm[5], pd([1.5, 2.5]));
    assert_eq!(cpu.sse.xmm[6], ps([2.0, 2.0, -2.0, -2147483648.0]));
    assert_eq!(cpu.sse.xmm[7], ints([1, 2, 0, 0]));
    // LDMXCSR cleared the IE of the out-of-range conversions; the truncation was inexact.
    assert_eq!(cpu.sse.mxcsr & (IE | PE), PE);
}

#[test]
fn test_e2e_fxsave_fxrstor_roundtrip() {
    let regs: Vec<u128> = (0..8u128).map(|i| 0x0123_4567_89AB_CDEF_F0E1_D2C3_B4A5_9687 * (i + 1)).collect();
    let mut data = bytes128(&regs);
    let custom = MXCSR_RESET | DAZ | 2 << RC_SHIFT;
    data.extend_from_slice(&custom.to_le_bytes());
    let fx = 0x800u32;
    let (cpu, mem) = run(
        |a| {
            for (i, r) in [xmm0, xmm1, xmm2, xmm3, xmm4, xmm5, xmm6, xmm7].into_iter().enumerate() {
                a.movdqa(r, xmmword_ptr(DATA + 16 * i as u32))?;
            }
            a.ldmxcsr(dword_ptr(DATA + 128))?;
            a.fxsave(ptr(fx))?;
            for r in [xmm0, xmm1, xmm2, xmm3, xmm4, xmm5, xmm6, xmm7] {
                a.pxor(r, r)?;
            }
            a.ldmxcsr(dword_ptr(DATA + 132))?; // zero: everything unmasked
            a.fxrstor(ptr(fx))?;
            // A reserved MXCSR bit makes FXRSTOR #GP.
            a.mov(byte_ptr(fx + 26), 1)?;
            a.fxrstor(ptr(fx))
        },
        &data,
    );
    assert_eq!(fault_vector(&cpu), Some(Vector::GeneralProtection as u8));
    assert_eq!(cpu.sse.xmm.to_vec(), regs);
    assert_eq!(cpu.sse.mxcsr, custom);
    let u32_at = |a: u32| {
        let mut b = [0u8; 4];
        mem.read_bytes(a, &mut b);
        u32::from_le_bytes(b)
    };
    assert_eq!(u32_at(fx + 24), custom | 1 << 16, "as saved, plus the reserved bit the test set");
    assert_eq!(u32_at(fx + 28), 0xFFFF);
    assert_eq!(read128(&mem, fx + 160 + 16 * 5), regs[5]);
}

#[test]
fn test_e2e_maskmov_and_shuffles() {
    let (cpu, mem) = run(
        |a| {
            a.movdqa(xmm0, xmmword_ptr(DATA))?;
            a.movdqa(xmm1, xmmword_ptr(DATA + 16))?;
            a.mov(edi, OUT)?;
            a.maskmovdqu(xmm0, xmm1)?;
            a.movaps(xmm2, xmm0)?;
            a.shufps(xmm2, xmm1, 0b01_00_11_10)?;
            a.movaps(xmm3, xmm0)?;
            a.unpcklps(xmm3, xmm1)?;
            a.movdqa(xmm4, xmm0)?;
            a.pshufhw(xmm4, xmm0, 0x1B)?;
            a.movapd(xmm5, xmm0)?;
            a.shufpd(xmm5, xmm1, 1)
        },
        &bytes128(&[0x0F0E_0D0C_0B0A_0908_0706_0504_0302_0100, 0x8000_0080_0000_8080_0080_8000_0000_0080]),
    );
    assert_eq!(cpu.last_fault, None);
    let mut out = [0u8; 16];
    mem.read_bytes(OUT, &mut out);
    assert_eq!(out, [0, 0, 0, 0, 0, 5, 6, 0, 8, 9, 0, 0, 12, 0, 0, 15]);
    let x = 0x0F0E_0D0C_0B0A_0908_0706_0504_0302_0100u128;
    let y = 0x8000_0080_0000_8080_0080_8000_0000_0080u128;
    let d = |v: u128, i: u32| (v >> (32 * i)) as u32 as u128;
    assert_eq!(cpu.sse.xmm[2], d(x, 2) | d(x, 3) << 32 | d(y, 0) << 64 | d(y, 1) << 96);
    assert_eq!(cpu.sse.xmm[3], d(x, 0) | d(y, 0) << 32 | d(x, 1) << 64 | d(y, 1) << 96);
    assert_eq!(cpu.sse.xmm[4], 0x0908_0B0A_0D0C_0F0E_0706_0504_0302_0100);
    assert_eq!(cpu.sse.xmm[5], (x >> 64) | (y & (u64::MAX as u128)) << 64);
}

#[test]
fn test_cpuid_reports_mmx_sse_sse2() {
    let (cpu, _) = run_real_with(&[0x66, 0xB8, 1, 0, 0, 0, 0x0F, 0xA2, 0xF4], |_| {});
    for bit in [19, 23, 24, 25, 26] {
        assert!(cpu.gpr[2] & 1 << bit != 0, "CPUID.1:EDX bit {bit}");
    }
    assert_eq!((cpu.gpr[3] >> 8) & 0xFF, 8, "CLFLUSH line size 64");
}

/// Emits one instruction.
type Emit = fn(&mut CodeAssembler) -> Result<(), IcedError>;

#[test]
fn test_e2e_mmx_integer_ops() {
    let a = 0x8000_7FFF_FF80_0102u64;
    let b = 0x0003_FFFE_0080_8001u64;
    let data = [a.to_le_bytes(), b.to_le_bytes(), 0x1122_3344u64.to_le_bytes(), 3u64.to_le_bytes()].concat();
    let (cpu, mem) = run_cfg(
        false,
        |a| {
            a.movq(mm0, qword_ptr(DATA))?;
            a.movq(mm1, qword_ptr(DATA + 8))?;
            let ops: [Emit; 8] = [
                |a| a.packssdw(mm2, mm1),
                |a| a.punpcklbw(mm2, dword_ptr(DATA + 16)),
                |a| a.psraw(mm2, qword_ptr(DATA + 24)),
                |a| a.pmulhw(mm2, mm1),
                |a| a.pcmpgtb(mm2, mm1),
                |a| a.pandn(mm2, mm1),
                |a| a.psubsw(mm2, mm1),
                |a| a.psllq(mm2, 64),
            ];
            for (i, op) in ops.iter().enumerate() {
                a.movq(mm2, mm0)?;
                op(a)?;
                a.movq(qword_ptr(OUT + 8 * i as u32), mm2)?;
            }
            Ok(())
        },
        &data,
    );
    assert_eq!(cpu.last_fault, None);
    let want = [
        0x7FFF_7FFF_8000_8000u64,
        0x11FF_2280_3301_4402,
        0xF000_0FFF_FFF0_0020,
        0xFFFE_FFFF_FFFF_FF7F,
        0x0000_FFFF_0000_FFFF,
        0x0003_8000_0000_8001,
        0x8000_7FFF_FF00_7FFF,
        0,
    ];
    for (i, w) in want.iter().enumerate() {
        let mut b = [0u8; 8];
        mem.read_bytes(OUT + 8 * i as u32, &mut b);
        assert_eq!(u64::from_le_bytes(b), *w, "op {i}");
    }
}

#[test]
fn test_e2e_mmx_reports_pending_x87_error_and_em_ts() {
    // An unmasked x87 ZE is pending (CR0.NE = 1): the next MMX instruction raises #MF.
    let (cpu, _) = run_cfg(
        false,
        |a| {
            a.mov(eax, cr0)?;
            a.or(eax, 0x20)?;
            a.mov(cr0, eax)?;
            a.fninit()?;
            a.fldcw(word_ptr(DATA))?;
            a.fld1()?;
            a.fldz()?;
            a.fdivp(st1, st0)?;
            a.paddb(mm0, mm1)
        },
        &0x037Bu16.to_le_bytes(),
    );
    assert_eq!(fault_vector(&cpu), Some(Vector::FpuError as u8));
    // CR0.EM: MMX and SSE are #UD; CR0.TS: MMX is #NM.
    let em = |a: &mut CodeAssembler| -> Result<(), IcedError> {
        a.mov(eax, cr0)?;
        a.or(eax, 4)?;
        a.mov(cr0, eax)
    };
    let (cpu, _) = run(|a| em(a).and_then(|_| a.pxor(mm0, mm0)), &[]);
    assert_eq!(fault_vector(&cpu), Some(Vector::InvalidOpcode as u8));
    let (cpu, _) = run(|a| em(a).and_then(|_| a.xorps(xmm0, xmm0)), &[]);
    assert_eq!(fault_vector(&cpu), Some(Vector::InvalidOpcode as u8));
    let (cpu, _) = run(
        |a| {
            a.mov(eax, cr0)?;
            a.or(eax, 8)?;
            a.mov(cr0, eax)?;
            a.emms()
        },
        &[],
    );
    assert_eq!(fault_vector(&cpu), Some(Vector::DeviceNotAvailable as u8));
}

#[test]
fn test_random_simd_encodings_never_panic() {
    use crate::{NullBus, SegReg};
    let mut seed = 0x2545_F491_4F6C_DD1Du64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut mem = PhysMem::new(1 << 20).unwrap();
    for _ in 0..4000 {
        let mut code = Vec::new();
        for _ in 0..8 {
            let r = next();
            match r % 4 {
                0 => code.push(0x66),
                1 => code.push(0xF3),
                2 => code.push(0xF2),
                _ => {}
            }
            code.push(0x0F);
            code.extend_from_slice(&next().to_le_bytes()[..6]);
        }
        code.push(0xF4);
        mem.write_bytes(0x100, &code);
        let mut cpu = Cpu::new();
        for s in SegReg::ALL {
            cpu.load_seg_real(s, 0);
        }
        cpu.eip = 0x100;
        cpu.gpr = [next() as u32, 0, 0, 0, 0x8000, 0, next() as u32 & 0xFFFF, next() as u32 & 0xFFFF];
        cpu.cr4 = 0x600;
        cpu.sse.mxcsr = next() as u32 & 0xFFFF;
        cpu.run(&mut mem, &mut NullBus, 64);
    }
}
