//! `--jit-dump`: the guest instructions of each translated block and the host code
//! generated for them, both disassembled with iced in Intel syntax.

use crate::cache::Key;
use iced_x86::{Decoder, DecoderOptions, Formatter, Instruction, IntelFormatter};
use std::io::Write;

/// Writes one block: a header with its key, the guest code, then the host code.
pub(crate) fn write_block(out: &mut dyn Write, key: &Key, guest: &[Instruction], host_addr: usize, host: &[u8]) {
    let mut f = IntelFormatter::new();
    let mut text = String::new();
    let _ = writeln!(
        out,
        "jit: block phys={:#010x} eip={:#010x} cs_base={:#x} mode={:#x}: {} guest insns, {} host bytes",
        key.phys,
        key.eip,
        key.cs_base,
        key.mode,
        guest.len(),
        host.len()
    );
    for ins in guest {
        text.clear();
        f.format(ins, &mut text);
        let _ = writeln!(out, "  guest {:08x}  {text}", ins.ip());
    }
    let mut dec = Decoder::with_ip(64, host, host_addr as u64, DecoderOptions::NONE);
    let mut ins = Instruction::default();
    while dec.can_decode() {
        dec.decode_out(&mut ins);
        text.clear();
        f.format(&ins, &mut text);
        let _ = writeln!(out, "  host  {:012x}  {text}", ins.ip());
    }
    let _ = out.flush();
}
