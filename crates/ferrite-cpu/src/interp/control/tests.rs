//! Tests of the control-transfer instructions, run as small real-mode programs.

use crate::fault::Fault;
use crate::flags::Flags;
use crate::interp::Exec;
use crate::state::{Gpr, SegReg};
use crate::tests::{asm16, hlt_handler, read_u16, run_real_setup};
use crate::{Cpu, NullBus};
use ferrite_mem::PhysMem;
use iced_x86::code_asm::*;
use iced_x86::{Decoder, DecoderOptions};

/// Where exception handlers and called routines live.
const HANDLER: u16 = 0x600;
const ROUTINE: u32 = 0x500;
/// Where test data lives.
const DATA: u32 = 0x1000;
/// The initial stack pointer of `run_real`.
const SP0: u32 = 0x8000;
/// Bytes an interrupt pushes in real mode (FLAGS, CS, IP).
const INT_FRAME: u32 = 6;

fn r16(cpu: &Cpu, r: Gpr) -> u32 {
    cpu.gpr[r as usize] & 0xFFFF
}

fn read_u32(mem: &PhysMem, addr: u32) -> u32 {
    read_u16(mem, addr) as u32 | (read_u16(mem, addr + 2) as u32) << 16
}

/// The IP an interrupt or exception pushed, when the handler ran at SP0.
fn pushed_ip(mem: &PhysMem) -> u32 {
    read_u16(mem, SP0 - INT_FRAME) as u32
}

/// Decodes the 16-bit instruction at the start of `code` as if at CS:EIP and runs its
/// control procedure directly, returning the raw result.
fn exec_direct(cpu: &mut Cpu, mem: &mut PhysMem, code: &[u8]) -> Result<(), Fault> {
    let ins = Decoder::with_ip(16, code, cpu.eip as u64, DecoderOptions::NONE).decode();
    let mut bus = NullBus;
    let mut ex = Exec::new(cpu, mem, &mut bus);
    ex.cpu.cur_eip = ex.cpu.eip;
    ex.cpu.eip = (ex.cpu.eip + ins.len() as u32) & 0xFFFF;
    ex.exec_control(&ins)
}

#[test]
fn test_jmp_short_skips_code() {
    let code = asm16(|a| {
        let mut over = a.create_label();
        a.jmp(over)?;
        a.mov(ax, 1u32)?;
        a.set_label(&mut over)?;
        a.mov(bx, 2u32)?;
        a.hlt()
    });
    let (cpu, _) = run_real_setup(&code, |_, _| {});
    assert_eq!(r16(&cpu, Gpr::Eax), 0);
    assert_eq!(r16(&cpu, Gpr::Ebx), 2);
}

#[test]
fn test_relative_branch_follows_runtime_ip_when_block_is_reused() {
    // The routine at physical 0x500 runs as 0000:0500 and again, from the decoded-block
    // cache, as 0010:0400: its JMP must land relative to the IP it runs at.
    let routine = [0xEB, 0x01, 0xF4, 0x40, 0xCB]; // jmp $+3; hlt; inc ax; retf
    let code = asm16(|a| {
        a.xor(ax, ax)?;
        a.call_far(0x0000, ROUTINE)?;
        a.call_far(0x0010, ROUTINE - 0x100)?;
        a.hlt()
    });
    let (cpu, _) = run_real_setup(&code, |_, m| m.write_bytes(ROUTINE, &routine));
    assert_eq!(r16(&cpu, Gpr::Eax), 2);
    assert_eq!(cpu.seg[SegReg::Cs as usize].selector, 0);
    assert_eq!(cpu.eip, 0x100 + code.len() as u32);
}

#[test]
fn test_16bit_near_jump_wraps_within_64k() {
    // jmp near +0xFF00 from IP 0x103 lands at 0x0003, not 0x10003.
    let (cpu, _) = run_real_setup(&[0xE9, 0x00, 0xFF], |_, m| m.write_u8(0x0003, 0xF4));
    assert_eq!(cpu.eip, 0x0004);
}

#[test]
fn test_jmp_beyond_cs_limit_raises_gp_at_the_jump() {
    // o32 jmp near to 0x10000: past the 64 KiB limit.
    let code = [0x66, 0xE9, 0xFA, 0xFE, 0x00, 0x00, 0xF4];
    let (cpu, mem) = run_real_setup(&code, |_, m| hlt_handler(m, 13, HANDLER));
    assert_eq!(cpu.eip, HANDLER as u32 + 1, "in the #GP handler");
    assert_eq!(pushed_ip(&mem), 0x100);
}

#[test]
fn test_call_near_pushes_return_address_and_ret_pops_it() {
    let code = asm16(|a| {
        let mut sub = a.create_label();
        a.call(sub)?;
        a.hlt()?;
        a.set_label(&mut sub)?;
        a.mov(bx, 7u32)?;
        a.mov(cx, sp)?;
        a.ret()
    });
    let (cpu, mem) = run_real_setup(&code, |_, _| {});
    assert_eq!(r16(&cpu, Gpr::Ebx), 7);
    assert_eq!(r16(&cpu, Gpr::Ecx), SP0 - 2, "the call pushed one word");
    assert_eq!(read_u16(&mem, SP0 - 2), 0x103, "return address after the 3-byte call");
    assert_eq!(r16(&cpu, Gpr::Esp), SP0);
    assert_eq!(cpu.eip, 0x104);
}

#[test]
fn test_ret_imm16_releases_parameters() {
    let code = asm16(|a| {
        let mut sub = a.create_label();
        a.push(ax)?;
        a.push(ax)?;
        a.call(sub)?;
        a.hlt()?;
        a.set_label(&mut sub)?;
        a.ret_1(4u32)
    });
    let (cpu, _) = run_real_setup(&code, |_, _| {});
    assert_eq!(r16(&cpu, Gpr::Esp), SP0);
}

#[test]
fn test_call_far_pushes_cs_ip_and_retf_imm16_returns() {
    // Routine: mov bx, cs; mov cx, sp; retf 2.
    let routine = [0x8C, 0xCB, 0x89, 0xE1, 0xCA, 0x02, 0x00];
    let code = asm16(|a| {
        a.mov(ax, 0xAAAAu32)?;
        a.push(ax)?;
        a.call_far(0x0050, 0x0000)?;
        a.hlt()
    });
    let (cpu, mem) = run_real_setup(&code, |_, m| m.write_bytes(ROUTINE, &routine));
    assert_eq!(r16(&cpu, Gpr::Ebx), 0x50);
    assert_eq!(r16(&cpu, Gpr::Ecx), SP0 - 6);
    assert_eq!(read_u16(&mem, SP0 - 4), 0, "pushed CS");
    assert_eq!(read_u16(&mem, SP0 - 6) as usize, 0x100 + code.len() - 1, "pushed IP");
    assert_eq!(cpu.seg[SegReg::Cs as usize].selector, 0);
    assert_eq!(r16(&cpu, Gpr::Esp), SP0);
}

#[test]
fn test_retf_with_32bit_operand_pops_dwords() {
    // push dword 0 (CS); push dword 0x500 (EIP); o32 retf.
    let code = [0x66, 0x6A, 0x00, 0x66, 0x68, 0x00, 0x05, 0x00, 0x00, 0x66, 0xCB];
    let (cpu, _) = run_real_setup(&code, |_, m| m.write_u8(ROUTINE, 0xF4));
    assert_eq!(cpu.eip, ROUTINE + 1);
    assert_eq!(r16(&cpu, Gpr::Esp), SP0);
}

#[test]
fn test_jmp_far_through_memory_pointer() {
    let code = [0xFF, 0x2E, DATA as u8, (DATA >> 8) as u8]; // jmp far [DATA]
    let (cpu, _) = run_real_setup(&code, |_, m| {
        m.write_bytes(DATA, &[0x00, 0x00, 0x50, 0x00]);
        m.write_bytes(ROUTINE, &[0xBB, 0x34, 0x12, 0xF4]); // mov bx, 0x1234; hlt
    });
    assert_eq!(cpu.seg[SegReg::Cs as usize].selector, 0x50);
    assert_eq!(cpu.seg[SegReg::Cs as usize].base, ROUTINE);
    assert_eq!(r16(&cpu, Gpr::Ebx), 0x1234);
}

#[test]
fn test_call_near_indirect_through_register_and_memory() {
    let code = asm16(|a| {
        a.mov(si, ROUTINE)?;
        a.call(si)?;
        a.mov(word_ptr(DATA), ROUTINE + 0x10)?;
        a.call(word_ptr(DATA))?;
        a.hlt()
    });
    let (cpu, _) = run_real_setup(&code, |_, m| {
        m.write_bytes(ROUTINE, &[0x40, 0xC3]); // inc ax; ret
        m.write_bytes(ROUTINE + 0x10, &[0x05, 0x10, 0x00, 0xC3]); // add ax, 0x10; ret
    });
    assert_eq!(r16(&cpu, Gpr::Eax), 0x11);
    assert_eq!(r16(&cpu, Gpr::Esp), SP0);
}

#[test]
fn test_jcc_follows_flags() {
    let code = asm16(|a| {
        let mut less = a.create_label();
        let mut bad = a.create_label();
        let mut good = a.create_label();
        a.mov(ax, 5u32)?;
        a.cmp(ax, 6u32)?; // CF=1 SF=1 OF=0 ZF=0
        a.jl(less)?;
        a.set_label(&mut bad)?;
        a.mov(cx, 1u32)?;
        a.hlt()?;
        a.set_label(&mut less)?;
        a.jae(bad)?;
        a.je(bad)?;
        a.jb(good)?;
        a.hlt()?;
        a.set_label(&mut good)?;
        a.mov(cx, 2u32)?;
        a.hlt()
    });
    let (cpu, _) = run_real_setup(&code, |_, _| {});
    assert_eq!(r16(&cpu, Gpr::Ecx), 2);
    assert_eq!(cpu.eip as usize, 0x100 + code.len());
}

#[test]
fn test_loop_runs_cx_times() {
    let code = asm16(|a| {
        let mut top = a.create_label();
        a.mov(cx, 5u32)?;
        a.xor(ax, ax)?;
        a.set_label(&mut top)?;
        a.inc(ax)?;
        a.loop_(top)?;
        a.hlt()
    });
    let (cpu, _) = run_real_setup(&code, |_, _| {});
    assert_eq!(r16(&cpu, Gpr::Eax), 5);
    assert_eq!(r16(&cpu, Gpr::Ecx), 0);
}

#[test]
fn test_loopne_stops_on_equal_and_loope_runs_while_equal() {
    let code = asm16(|a| {
        let mut ne = a.create_label();
        let mut eq = a.create_label();
        a.mov(cx, 10u32)?;
        a.xor(bx, bx)?;
        a.set_label(&mut ne)?;
        a.inc(bx)?;
        a.cmp(bx, 3u32)?;
        a.loopne(ne)?;
        a.mov(dx, cx)?;
        a.mov(cx, 4u32)?;
        a.xor(si, si)?;
        a.set_label(&mut eq)?;
        a.inc(si)?;
        a.cmp(ax, ax)?;
        a.loope(eq)?;
        a.hlt()
    });
    let (cpu, _) = run_real_setup(&code, |_, _| {});
    assert_eq!(r16(&cpu, Gpr::Ebx), 3);
    assert_eq!(r16(&cpu, Gpr::Edx), 7, "LOOPNE stopped when BX reached 3");
    assert_eq!(r16(&cpu, Gpr::Esi), 4, "LOOPE ran until CX ran out");
    assert_eq!(r16(&cpu, Gpr::Ecx), 0);
}

#[test]
fn test_jcxz_tests_cx_and_jecxz_tests_ecx() {
    // ECX = 0x10000: CX is zero, ECX is not.
    let code = [
        0x66, 0xB9, 0x00, 0x00, 0x01, 0x00, // mov ecx, 0x10000
        0x67, 0xE3, 0x02, // jecxz +2 (not taken)
        0xE3, 0x03, // jcxz +3 (taken)
        0xB0, 0x01, 0xF4, // mov al, 1; hlt
        0xB0, 0x02, 0xF4, // mov al, 2; hlt
    ];
    let (cpu, _) = run_real_setup(&code, |_, _| {});
    assert_eq!(cpu.gpr[Gpr::Eax as usize] & 0xFF, 2);
    assert_eq!(cpu.gpr[Gpr::Ecx as usize], 0x1_0000, "JCXZ does not change the count");
}

#[test]
fn test_loop_address_size_prefix_decrements_ecx() {
    // ECX = 0x10001. LOOP (CX) reaches zero and falls through; a32 LOOP (ECX) does not.
    let body = |prefix: &[u8]| {
        let mut c = vec![0x66, 0xB9, 0x01, 0x00, 0x01, 0x00];
        c.extend_from_slice(prefix);
        c.extend_from_slice(&[0xE2, 0x03, 0xB0, 0x01, 0xF4, 0xB0, 0x02, 0xF4]);
        c
    };
    let (cpu16, _) = run_real_setup(&body(&[]), |_, _| {});
    assert_eq!(cpu16.gpr[Gpr::Eax as usize] & 0xFF, 1);
    assert_eq!(cpu16.gpr[Gpr::Ecx as usize], 0x1_0000);
    let (cpu32, _) = run_real_setup(&body(&[0x67]), |_, _| {});
    assert_eq!(cpu32.gpr[Gpr::Eax as usize] & 0xFF, 2);
    assert_eq!(cpu32.gpr[Gpr::Ecx as usize], 0x1_0000);
}

#[test]
fn test_int_n_pushes_flags_cs_ip_and_iret_restores_them() {
    const VECTOR: u8 = 0x20;
    // Handler: pushf; pop cx; mov bx, 0x77; iret.
    let handler = [0x9C, 0x59, 0xBB, 0x77, 0x00, 0xCF];
    let code = asm16(|a| {
        a.sti()?;
        a.int(VECTOR as u32)?;
        a.hlt()
    });
    let (cpu, mem) = run_real_setup(&code, |_, m| {
        m.write_bytes(VECTOR as u32 * 4, &[HANDLER as u8, (HANDLER >> 8) as u8, 0, 0]);
        m.write_bytes(HANDLER as u32, &handler);
    });
    assert_eq!(r16(&cpu, Gpr::Ebx), 0x77);
    assert_eq!(r16(&cpu, Gpr::Ecx) & Flags::IF, 0, "IF is clear in the handler");
    assert_ne!(cpu.eflags & Flags::IF, 0, "IRET restored IF");
    assert_eq!(pushed_ip(&mem), 0x103, "return address is the next instruction");
    assert_eq!(read_u16(&mem, SP0 - 4), 0, "pushed CS");
    assert_ne!(read_u16(&mem, SP0 - 2) as u32 & Flags::IF, 0, "pushed FLAGS");
    assert_eq!(r16(&cpu, Gpr::Esp), SP0);
    assert_eq!(cpu.eip, 0x104);
}

#[test]
fn test_into_traps_only_when_of_is_set() {
    let code = asm16(|a| {
        a.xor(ax, ax)?;
        a.into()?;
        a.mov(al, 0x7Fu32)?;
        a.add(al, 1u32)?;
        a.into()?;
        a.hlt()
    });
    let (cpu, mem) = run_real_setup(&code, |_, m| hlt_handler(m, 4, HANDLER));
    assert_eq!(cpu.eip, HANDLER as u32 + 1, "the second INTO trapped");
    assert_eq!(pushed_ip(&mem) as usize, 0x100 + code.len() - 1, "returns past INTO");
}

#[test]
fn test_int3_and_int1_return_past_themselves() {
    let (cpu, mem) = run_real_setup(&[0xCC, 0xF4], |_, m| hlt_handler(m, 3, HANDLER));
    assert_eq!(cpu.eip, HANDLER as u32 + 1);
    assert_eq!(pushed_ip(&mem), 0x101);
    let (cpu, mem) = run_real_setup(&[0xF1, 0xF4], |_, m| hlt_handler(m, 1, HANDLER));
    assert_eq!(cpu.eip, HANDLER as u32 + 1);
    assert_eq!(pushed_ip(&mem), 0x101);
}

#[test]
fn test_iretd_pops_a_32bit_frame() {
    let code = [
        0x66, 0x68, 0x43, 0x00, 0x00, 0x00, // push dword 0x43 (CF, ZF, bit 1)
        0x66, 0x6A, 0x00, // push dword 0 (CS)
        0x66, 0x68, 0x00, 0x05, 0x00, 0x00, // push dword 0x500 (EIP)
        0x66, 0xCF, // iretd
    ];
    let (cpu, _) = run_real_setup(&code, |_, m| m.write_u8(ROUTINE, 0xF4));
    assert_eq!(cpu.eip, ROUTINE + 1);
    assert_eq!(cpu.eflags & (Flags::CF | Flags::ZF), Flags::CF | Flags::ZF);
    assert_eq!(r16(&cpu, Gpr::Esp), SP0);
}

#[test]
fn test_enter_level_zero_builds_frame_and_leave_tears_it_down() {
    let code = asm16(|a| {
        a.mov(bp, 0x1234u32)?;
        a.enter(8u32, 0u32)?;
        a.mov(si, sp)?;
        a.mov(di, bp)?;
        a.leave()?;
        a.hlt()
    });
    let (cpu, mem) = run_real_setup(&code, |_, _| {});
    assert_eq!(r16(&cpu, Gpr::Esi), SP0 - 2 - 8);
    assert_eq!(r16(&cpu, Gpr::Edi), SP0 - 2);
    assert_eq!(read_u16(&mem, SP0 - 2), 0x1234);
    assert_eq!(r16(&cpu, Gpr::Esp), SP0);
    assert_eq!(r16(&cpu, Gpr::Ebp), 0x1234);
}

#[test]
fn test_enter_nested_copies_the_display_of_frame_pointers() {
    const OUTER_BP: u32 = 0x7000;
    let code = asm16(|a| {
        a.mov(bp, OUTER_BP)?;
        a.enter(4u32, 3u32)?;
        a.hlt()
    });
    let (cpu, mem) = run_real_setup(&code, |_, m| {
        m.write_bytes(OUTER_BP - 2, &[0xAA, 0xAA]);
        m.write_bytes(OUTER_BP - 4, &[0xBB, 0xBB]);
    });
    let frame = SP0 - 2;
    assert_eq!(read_u16(&mem, frame) as u32, OUTER_BP, "old BP");
    assert_eq!(read_u16(&mem, frame - 2), 0xAAAA, "copied display entry 1");
    assert_eq!(read_u16(&mem, frame - 4), 0xBBBB, "copied display entry 2");
    assert_eq!(read_u16(&mem, frame - 6) as u32, frame, "new frame pointer");
    assert_eq!(r16(&cpu, Gpr::Ebp), frame);
    assert_eq!(r16(&cpu, Gpr::Esp), frame - 6 - 4);
}

#[test]
fn test_enter_with_32bit_operand_pushes_dwords() {
    let code = [
        0x66, 0xBD, 0x78, 0x56, 0x34, 0x12, // mov ebp, 0x12345678
        0x66, 0xC8, 0x04, 0x00, 0x01, // o32 enter 4, 1
        0xF4,
    ];
    let (cpu, mem) = run_real_setup(&code, |_, _| {});
    assert_eq!(read_u32(&mem, SP0 - 4), 0x1234_5678);
    assert_eq!(read_u32(&mem, SP0 - 8), SP0 - 4);
    assert_eq!(cpu.gpr[Gpr::Ebp as usize], SP0 - 4);
    assert_eq!(r16(&cpu, Gpr::Esp), SP0 - 8 - 4);
}

#[test]
fn test_bound_out_of_range_raises_br_at_the_instruction() {
    // Bounds [-5, 10] at DATA; -5 and 10 pass, 11 faults.
    let bound = [0x62, 0x06, DATA as u8, (DATA >> 8) as u8];
    let mut code = Vec::new();
    for v in [0xFFFBu16, 10, 11] {
        code.extend_from_slice(&[0xB8, v as u8, (v >> 8) as u8]);
        code.extend_from_slice(&bound);
    }
    code.push(0xF4);
    let (cpu, mem) = run_real_setup(&code, |_, m| {
        m.write_bytes(DATA, &[0xFB, 0xFF, 0x0A, 0x00]);
        hlt_handler(m, 5, HANDLER);
    });
    assert_eq!(cpu.eip, HANDLER as u32 + 1, "in the #BR handler");
    assert_eq!(pushed_ip(&mem), 0x100 + 7 + 7 + 3, "returns to the third BOUND");
    let (cpu, _) = run_real_setup(&code[..14].iter().copied().chain([0xF4]).collect::<Vec<_>>(), |_, m| {
        m.write_bytes(DATA, &[0xFB, 0xFF, 0x0A, 0x00]);
        hlt_handler(m, 5, HANDLER);
    });
    assert_eq!(cpu.eip, 0x100 + 15, "in-range indexes pass");
}

#[test]
fn test_bound_register_operand_is_invalid_opcode() {
    let (cpu, mem) = run_real_setup(&[0x62, 0xC0, 0xF4], |_, m| hlt_handler(m, 6, HANDLER));
    assert_eq!(cpu.eip, HANDLER as u32 + 1);
    assert_eq!(pushed_ip(&mem), 0x100);
}

#[test]
fn test_ret_beyond_cs_limit_faults_without_popping() {
    // push dword 0x10000; o32 ret: the target is past the limit.
    let code = [0x66, 0x68, 0x00, 0x00, 0x01, 0x00, 0x66, 0xC3, 0xF4];
    let (cpu, mem) = run_real_setup(&code, |_, m| hlt_handler(m, 13, HANDLER));
    assert_eq!(cpu.eip, HANDLER as u32 + 1);
    assert_eq!(r16(&cpu, Gpr::Esp), SP0 - 4 - INT_FRAME, "the return address was not popped");
    assert_eq!(read_u16(&mem, SP0 - 4 - INT_FRAME), 0x106);
}

#[test]
fn test_call_far_fault_on_second_push_restores_sp() {
    let mut mem = PhysMem::new(1 << 20).unwrap();
    let mut cpu = Cpu::new();
    for s in SegReg::ALL {
        cpu.load_seg_real(s, 0);
    }
    // SP = 2: CS goes to 0000, the IP push wraps to FFFE, beyond a 0x7FFF limit.
    cpu.seg[SegReg::Ss as usize].limit = 0x7FFF;
    cpu.gpr[Gpr::Esp as usize] = 2;
    cpu.eip = 0x100;
    let call_far = [0x9A, 0x00, 0x00, 0x50, 0x00]; // call 0050:0000
    let r = exec_direct(&mut cpu, &mut mem, &call_far);
    assert_eq!(r, Err(Fault::SS0));
    assert_eq!(cpu.gpr[Gpr::Esp as usize], 2, "SP restored");
    assert_eq!(cpu.seg[SegReg::Cs as usize].selector, 0, "CS unchanged");
}

#[test]
fn test_far_jmp_in_protected_mode_checks_the_descriptor() {
    // GDT at 0 (reset state) over zeroed memory: selector 8 is no code segment.
    let mut mem = PhysMem::new(1 << 20).unwrap();
    let mut cpu = Cpu::new();
    cpu.eip = 0x100;
    cpu.cr0 |= 1;
    let saved_sp = cpu.gpr[Gpr::Esp as usize];
    let old_cs = cpu.seg[SegReg::Cs as usize];
    let r = exec_direct(&mut cpu, &mut mem, &[0xEA, 0x00, 0x00, 0x08, 0x00]); // jmp 0008:0000
    assert_eq!(r, Err(Fault::with_code(crate::Vector::GeneralProtection, 8)));
    assert_eq!(cpu.gpr[Gpr::Esp as usize], saved_sp);
    assert_eq!(cpu.seg[SegReg::Cs as usize], old_cs);
}
