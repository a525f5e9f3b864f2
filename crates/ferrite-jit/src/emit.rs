//! Host code pieces: the fixed entry/exit stubs, effective addresses, the inline
//! soft-TLB probe with its out-of-line slow path, and block exits.
//!
//! Host register roles while guest code runs:
//!
//! | host | holds |
//! |---|---|
//! | EAX, ECX, EDX, EBX, EBP, ESI, EDI | the guest register of the same name |
//! | R12D | guest ESP (host RSP stays the host stack) |
//! | R13 | `*mut JitCtx` |
//! | R14 | host address of guest physical 0 (RAM base) |
//! | R15 | `*mut Cpu` |
//! | R11 | the page-access table |
//! | R8, R9, R10 | scratch |
//!
//! Guest registers are 32-bit values in 64-bit host registers whose upper halves are
//! zero (they are loaded with 32-bit moves and written by 8/16/32-bit operations).

// `dynasm!` converts dynamic register numbers with `.into()`, which clippy flags.
#![allow(clippy::useless_conversion)]

use crate::ctx::{off, ExitReason, NO_SITE};
use dynasmrt::x64::X64Relocation;
use dynasmrt::{dynasm, DynamicLabel, DynasmApi, DynasmLabelApi, VecAssembler};
use ferrite_cpu::Flags;
use ferrite_mem::{PAGE_FAST_READ, PAGE_FAST_WRITE};
use iced_x86::{Code, Encoder, Instruction, MemoryOperand, Register};

/// The assembler every piece writes into.
pub(crate) type Asm = VecAssembler<X64Relocation>;

/// Host register number holding guest register `g` (0..8, x86 encoding order).
pub(crate) fn host_gpr(g: u8) -> u8 {
    if g == 4 {
        12
    } else {
        g
    }
}

/// The guest's arithmetic flags, the part of EFLAGS that lives in host EFLAGS.
pub(crate) const ARITH: u32 = Flags::ARITH;

/// Where the guest's arithmetic flags are at a point in generated code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FlagsAt {
    /// In host EFLAGS (the normal state inside a block).
    Host,
    /// Saved in `JitCtx::flags_save` around a probe ([`save_flags`]).
    Saved,
    /// Already written back to `cpu.eflags` (block terminators capture first).
    Captured,
}

/// One memory access to probe.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Access {
    /// Segment register number.
    pub(crate) seg: usize,
    /// Bytes accessed (1, 2 or 4).
    pub(crate) size: u32,
    /// Write or read-modify-write (needs the write tag and a writable page).
    pub(crate) write: bool,
}

/// Mode facts a probe is specialised on (they are part of the block key).
#[derive(Debug, Clone, Copy)]
pub(crate) struct ProbeMode {
    /// CR0.PG: go through the soft TLB.
    pub(crate) paging: bool,
    /// CPL 3: probe the user half of the soft TLB.
    pub(crate) user: bool,
    /// ES, SS and DS are flat (base 0, limit 4 GiB, readable and writable): accesses
    /// through them need no segment check or base. An access that wraps past 4 GiB still
    /// fails the page check of its last byte.
    pub(crate) flat: bool,
    /// The A20 gate is open: no address mask.
    pub(crate) a20_open: bool,
}

/// Encodes `ins` for the host (64-bit mode) and appends it.
pub(crate) fn encode(ops: &mut Asm, ins: &Instruction) -> Result<(), iced_x86::IcedError> {
    let bytes = encode_bytes(ins)?;
    ops.extend(bytes.iter());
    Ok(())
}

/// Encodes `ins` for the host without emitting it (to know whether it is encodable).
pub(crate) fn encode_bytes(ins: &Instruction) -> Result<Vec<u8>, iced_x86::IcedError> {
    let mut enc = Encoder::new(64);
    enc.encode(ins, 0)?;
    Ok(enc.take_buffer())
}

/// Writes the guest arithmetic flags in host EFLAGS back into `cpu.eflags`.
pub(crate) fn capture_flags(ops: &mut Asm) {
    dynasm!(ops
        ; .arch x64
        ; pushfq
        ; pop r8
        ; and r8d, ARITH as i32
        ; mov r9d, DWORD [r15 + off::EFLAGS]
        ; and r9d, !ARITH as i32
        ; or r9d, r8d
        ; mov DWORD [r15 + off::EFLAGS], r9d
    );
}

/// Loads the guest arithmetic flags from `cpu.eflags` into host EFLAGS (clobbers R9
/// only). No `popfq` (microcoded and slow): the low EFLAGS byte is exactly `sahf`'s
/// format (SF ZF - AF - PF - CF), and OF (bit 3 of the second byte) becomes a 0/1 byte
/// that `add al, 0x7F` turns into OF. Host DF, AC and TF are never set inside generated
/// code, so they stay clear.
pub(crate) fn load_flags(ops: &mut Asm) {
    dynasm!(ops
        ; .arch x64
        ; mov r9d, eax
        ; mov eax, DWORD [r15 + off::EFLAGS]
        ; shr ah, 3
        ; and ah, 1
        ; xchg al, ah
        ; add al, 0x7F
        ; sahf
        ; mov eax, r9d
    );
}

/// Saves the guest arithmetic flags in host EFLAGS to `JitCtx::flags_save` (clobbers
/// R9, not the flags): `lahf` gives SF ZF AF PF CF in AH, `seto` OF in AL, with guest
/// EAX parked in R9 meanwhile. Far cheaper than `pushfq`/`popfq` around every probe.
pub(crate) fn save_flags(ops: &mut Asm) {
    dynasm!(ops
        ; .arch x64
        ; mov r9d, eax
        ; lahf
        ; seto al
        ; xchg r9d, eax
        ; mov DWORD [r13 + off::FLAGS_SAVE], r9d
    );
}

/// Puts the flags [`save_flags`] saved back into host EFLAGS (clobbers R9).
pub(crate) fn restore_flags(ops: &mut Asm) {
    dynasm!(ops
        ; .arch x64
        ; mov r9d, DWORD [r13 + off::FLAGS_SAVE]
        ; xchg r9d, eax
        ; add al, 0x7F
        ; sahf
        ; mov eax, r9d
    );
}

/// Gives `n` instructions back to the budget: a block charges all of its instructions on
/// entry, and the dispatcher counts what the budget lost as retired (`cpu.insns`,
/// `cpu.tsc`), so an early exit returns what it did not run (clobbers host flags).
pub(crate) fn unretire(ops: &mut Asm, n: u32) {
    if n > 0 {
        dynasm!(ops ; .arch x64 ; add QWORD [r13 + off::BUDGET], n as i32);
    }
}

/// Block prologue: charge `n` instructions to the budget without touching host flags
/// (which carry the guest's across chained blocks), leaving through `exhausted` when the
/// budget goes negative. The budget is kept below 2^55 by the dispatcher, so its top byte
/// is 0 when it is non-negative and 0xFF after going at most `n` below zero; `bswap` +
/// `movzx` bring that byte down for `jrcxz`, the one flag-free conditional jump. Guest
/// ECX is parked in R8 meanwhile; `exhausted` must restore it (`mov rcx, r8`).
pub(crate) fn charge_budget(ops: &mut Asm, n: u32, exhausted: DynamicLabel) {
    dynasm!(ops
        ; .arch x64
        ; mov r8, rcx
        ; mov rcx, QWORD [r13 + off::BUDGET]
        ; lea rcx, [rcx - n as i32]
        ; mov QWORD [r13 + off::BUDGET], rcx
        ; bswap rcx
        ; movzx ecx, cl
        ; jrcxz >ok
        ; mov rcx, r8
        ; jmp =>exhausted
        ; ok:
        ; mov rcx, r8
    );
}

/// Leaves generated code: `cpu.eip = eip`, the reason, no chaining site.
pub(crate) fn exit_to(ops: &mut Asm, eip: u32, reason: ExitReason, exit_stub: usize) {
    dynasm!(ops
        ; .arch x64
        ; mov DWORD [r15 + off::EIP], eip as i32
        ; mov DWORD [r13 + off::EXIT_REASON], reason as i32
        ; mov DWORD [r13 + off::EXIT_SITE], NO_SITE as i32
        ; jmp extern exit_stub
    );
}

/// Computes a guest effective address (offset within the segment) into R8D.
pub(crate) fn effective_address(ops: &mut Asm, ins: &Instruction) -> Result<(), iced_x86::IcedError> {
    let addr16 = ins.memory_base().size() == 2 || ins.memory_index().size() == 2;
    let base = host_reg64(ins.memory_base());
    let index = host_reg64(ins.memory_index());
    let disp =
        if addr16 { ins.memory_displacement32() as u16 as i64 } else { ins.memory_displacement32() as i32 as i64 };
    if base == Register::None && index == Register::None {
        let value = if addr16 { disp as u16 as u32 } else { disp as u32 };
        dynasm!(ops ; .arch x64 ; mov r8d, value as i32);
        return Ok(());
    }
    let scale = if index == Register::None { 1 } else { ins.memory_index_scale() };
    let mem = MemoryOperand::new(base, index, scale, disp, if disp == 0 { 0 } else { 8 }, false, Register::None);
    encode(ops, &Instruction::with2(Code::Lea_r32_m, Register::R8D, mem)?)?;
    if addr16 {
        dynasm!(ops ; .arch x64 ; movzx r8d, r8w);
    }
    Ok(())
}

/// The 64-bit host register holding the guest address register `r` (None stays None).
fn host_reg64(r: Register) -> Register {
    if r == Register::None {
        return r;
    }
    const HOST64: [Register; 16] = [
        Register::RAX,
        Register::RCX,
        Register::RDX,
        Register::RBX,
        Register::RSP,
        Register::RBP,
        Register::RSI,
        Register::RDI,
        Register::R8,
        Register::R9,
        Register::R10,
        Register::R11,
        Register::R12,
        Register::R13,
        Register::R14,
        Register::R15,
    ];
    HOST64[host_gpr(r.number() as u8) as usize]
}

/// The inline probe: R8D holds the segment offset; on the fast path R8 ends holding the
/// host address of the access. A soft-TLB tag mismatch goes to `miss` with the linear
/// address of the first byte in R8D (the MMU fill, then the probe again); anything else
/// goes to `slow`. Host flags survive when `flags_live` ([`save_flags`] before,
/// [`restore_flags`] after; the miss and slow paths find them saved).
///
/// Safety argument for the host address (why a guest can never make generated code
/// touch host memory outside the RAM mapping): the fast path is taken only when the
/// access lies within one 4 KiB page (checked by the TLB tag compare, which uses the
/// page of the last byte, or by an explicit compare without paging) and that page's
/// byte in the page-access table has the fast bit. `ferrite-mem` sets that bit only for
/// pages that lie wholly below the RAM size, so `[R14 + phys, R14 + phys + size)` is
/// inside the RAM mapping. The table index is `phys >> 12 < 2^20`, its length.
pub(crate) fn probe(
    ops: &mut Asm,
    acc: Access,
    mode: ProbeMode,
    flags_live: bool,
    slow: DynamicLabel,
    miss: DynamicLabel,
) {
    let last = acc.size as i32 - 1;
    if flags_live {
        save_flags(ops);
    }
    // ES = 0, SS = 2, DS = 3. Without a segment check an access that wraps past 4 GiB
    // still takes the slow path: its last byte is on another page than its first, which
    // the tag compare (paging) or the page-crossing test (no paging) rejects.
    let flat = mode.flat && matches!(acc.seg, 0 | 2 | 3);
    if !flat {
        dynasm!(ops
            ; .arch x64
            ; lea r9, [r8 + last]
            ; cmp r9, QWORD [r13 + off::bound(acc.seg, acc.write)]
            ; jae =>slow
            ; add r8d, DWORD [r13 + off::seg_base(acc.seg)]
        );
    }
    if mode.paging {
        let class = off::tlb_class(mode.user);
        let tag = class + if acc.write { off::TLB_WRITE_TAG } else { off::TLB_READ_TAG };
        let addend = class + off::TLB_ADDEND;
        const _: () = assert!(off::TLB_ENTRY_SIZE == 20, "the probe scales the slot by 5 * 4");
        dynasm!(ops
            ; .arch x64
            ; mov r9d, r8d
            ; shr r9d, 12
            ; and r9d, (ferrite_cpu::soft_tlb::TLB_ENTRIES - 1) as i32
            ; lea r9d, [r9 + r9 * 4]
            ; lea r10d, [r8 + last]
            ; and r10d, !0xFFFu32 as i32
            ; cmp r10d, DWORD [r15 + r9 * 4 + tag]
            ; jne =>miss
            ; add r8d, DWORD [r15 + r9 * 4 + addend]
        );
    } else if acc.size > 1 {
        dynasm!(ops
            ; .arch x64
            ; lea r10d, [r8 + last]
            ; xor r10d, r8d
            ; shr r10d, 12
            ; jnz =>slow
        );
    }
    let bit = if acc.write { PAGE_FAST_WRITE } else { PAGE_FAST_READ };
    if !mode.a20_open {
        dynasm!(ops ; .arch x64 ; and r8d, DWORD [r13 + off::A20_MASK]);
    }
    dynasm!(ops
        ; .arch x64
        ; mov r9d, r8d
        ; shr r9d, 12
        ; test BYTE [r11 + r9], bit as i8
        ; jz =>slow
        ; add r8, r14
    );
    if flags_live {
        restore_flags(ops);
    }
}

/// A slow path: leave generated code so the interpreter runs the instruction at
/// `eip` (nothing of it has happened), giving `unretired` instructions (it and the rest
/// of the block) back to the budget.
pub(crate) fn slow_path(ops: &mut Asm, flags: FlagsAt, unretired: u32, eip: u32, exit_stub: usize) {
    match flags {
        FlagsAt::Saved => {
            restore_flags(ops);
            capture_flags(ops);
        }
        FlagsAt::Host => capture_flags(ops),
        FlagsAt::Captured => {}
    }
    unretire(ops, unretired);
    exit_to(ops, eip, ExitReason::Interpret, exit_stub);
}

/// Stores the guest registers held in host registers into `cpu.gpr` (no flags touched).
pub(crate) fn spill_gprs(ops: &mut Asm) {
    dynasm!(ops
        ; .arch x64
        ; mov DWORD [r15 + off::gpr(0)], eax
        ; mov DWORD [r15 + off::gpr(1)], ecx
        ; mov DWORD [r15 + off::gpr(2)], edx
        ; mov DWORD [r15 + off::gpr(3)], ebx
        ; mov DWORD [r15 + off::gpr(4)], r12d
        ; mov DWORD [r15 + off::gpr(5)], ebp
        ; mov DWORD [r15 + off::gpr(6)], esi
        ; mov DWORD [r15 + off::gpr(7)], edi
    );
}

/// Loads the guest registers from `cpu.gpr` into their host registers (no flags touched).
pub(crate) fn reload_gprs(ops: &mut Asm) {
    dynasm!(ops
        ; .arch x64
        ; mov eax, DWORD [r15 + off::gpr(0)]
        ; mov ecx, DWORD [r15 + off::gpr(1)]
        ; mov edx, DWORD [r15 + off::gpr(2)]
        ; mov ebx, DWORD [r15 + off::gpr(3)]
        ; mov r12d, DWORD [r15 + off::gpr(4)]
        ; mov ebp, DWORD [r15 + off::gpr(5)]
        ; mov esi, DWORD [r15 + off::gpr(6)]
        ; mov edi, DWORD [r15 + off::gpr(7)]
    );
}

/// Host addresses (or, in `Jit`, code-buffer offsets) of the shared helper stubs that
/// blocks `call` instead of carrying the same spill/call/reload code at every site
/// ([`helper_stubs`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct HelperStubs {
    /// Soft-TLB fill: in R8D the linear address, R9D `helpers::tlb_fill`'s descriptor;
    /// out R8D 1 (retry the probe) or 0. Guest registers kept, host flags clobbered.
    pub(crate) fill: usize,
    /// In-block interpreter step: `cpu.eip` stored, R10D the charged-but-unrun count, R11D
    /// the next EIP; guest flags in host EFLAGS. Out R8D 1 (go on: registers reloaded,
    /// call `load_flags` next) or 0 (leave: flags and EIP are in the vCPU).
    pub(crate) step: usize,
    /// [`load_flags`] as a subroutine (clobbers R9).
    pub(crate) load_flags: usize,
}

impl HelperStubs {
    /// The stubs of a buffer whose offset 0 is at host address `base`.
    pub(crate) fn at(self, base: usize) -> HelperStubs {
        HelperStubs { fill: base + self.fill, step: base + self.step, load_flags: base + self.load_flags }
    }
}

/// Assembles the shared helper stubs (entered with `call` from a block, so the host
/// stack is 8 below a 16-byte boundary on entry) and returns their offsets.
pub(crate) fn helper_stubs(ops: &mut Asm) -> HelperStubs {
    let fill = ops.offset().0;
    stub_call(ops, crate::helpers::tlb_fill as *const () as usize as i64, 8, 9);
    let step = ops.offset().0;
    capture_flags(ops);
    stub_call(ops, crate::helpers::step_one as *const () as usize as i64, 10, 11);
    let load = ops.offset().0;
    load_flags(ops);
    dynasm!(ops ; .arch x64 ; ret);
    HelperStubs { fill, step, load_flags: load }
}

/// A stub's body: guest registers spilled, `helper(cpu, ctx, arg2, arg3)` called with
/// the host registers numbered `arg2`/`arg3` as its third and fourth arguments, R11
/// reloaded with the page-access table, the result in R8D, guest registers reloaded,
/// `ret`.
fn stub_call(ops: &mut Asm, helper: i64, arg2: u8, arg3: u8) {
    spill_gprs(ops);
    dynasm!(ops
        ; .arch x64
        ; mov rdi, r15
        ; mov rsi, r13
        ; mov edx, Rd(arg2)
        ; mov ecx, Rd(arg3)
        ; mov rax, QWORD helper
        ; sub rsp, 8
        ; call rax
        ; add rsp, 8
        ; mov r11, QWORD [r13 + off::PAGE_ACCESS]
        ; mov r8d, eax
    );
    reload_gprs(ops);
    dynasm!(ops ; .arch x64 ; ret);
}

/// The fixed stubs at the start of the code buffer: the entry trampoline
/// `extern "sysv64" fn(cpu, ctx, code)`, which loads the guest registers and arithmetic
/// flags (blocks expect the guest's flags in host EFLAGS on entry, as chained
/// predecessors leave them), and the common exit it returns through.
/// Returns (entry offset, exit offset) within the assembled bytes.
pub(crate) fn stubs(ops: &mut Asm) -> (usize, usize) {
    let entry = ops.offset().0;
    dynasm!(ops
        ; .arch x64
        ; push rbx
        ; push rbp
        ; push r12
        ; push r13
        ; push r14
        ; push r15
        ; sub rsp, 8
        ; mov r15, rdi
        ; mov r13, rsi
        ; mov r14, QWORD [r13 + off::RAM_BASE]
        ; mov r11, QWORD [r13 + off::PAGE_ACCESS]
        ; mov r10, rdx
        ; mov eax, DWORD [r15 + off::gpr(0)]
        ; mov ecx, DWORD [r15 + off::gpr(1)]
        ; mov edx, DWORD [r15 + off::gpr(2)]
        ; mov ebx, DWORD [r15 + off::gpr(3)]
        ; mov r12d, DWORD [r15 + off::gpr(4)]
        ; mov ebp, DWORD [r15 + off::gpr(5)]
        ; mov esi, DWORD [r15 + off::gpr(6)]
        ; mov edi, DWORD [r15 + off::gpr(7)]
    );
    load_flags(ops);
    dynasm!(ops
        ; .arch x64
        ; jmp r10
    );
    let exit = ops.offset().0;
    dynasm!(ops
        ; .arch x64
        ; mov DWORD [r15 + off::gpr(0)], eax
        ; mov DWORD [r15 + off::gpr(1)], ecx
        ; mov DWORD [r15 + off::gpr(2)], edx
        ; mov DWORD [r15 + off::gpr(3)], ebx
        ; mov DWORD [r15 + off::gpr(4)], r12d
        ; mov DWORD [r15 + off::gpr(5)], ebp
        ; mov DWORD [r15 + off::gpr(6)], esi
        ; mov DWORD [r15 + off::gpr(7)], edi
        ; add rsp, 8
        ; pop r15
        ; pop r14
        ; pop r13
        ; pop r12
        ; pop rbp
        ; pop rbx
        ; ret
    );
    (entry, exit)
}
