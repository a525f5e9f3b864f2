//! Unit tests of the 16550A, one behaviour each.

use super::*;
use crate::debugcon::SharedBuffer;
use std::cell::Cell;
use std::rc::Rc;

/// An IRQ line that remembers its level and how often it changed.
#[derive(Clone, Default)]
struct TestIrq(Rc<Cell<bool>>, Rc<Cell<u32>>);

impl IrqLine for TestIrq {
    fn set(&self, level: bool) {
        self.0.set(level);
        self.1.set(self.1.get() + 1);
    }
}

fn uart() -> (Uart16550<TestIrq>, SharedBuffer, TestIrq) {
    let out = SharedBuffer::new();
    let irq = TestIrq::default();
    (Uart16550::new(COM1_BASE, irq.clone(), Some(Box::new(out.clone()))), out, irq)
}

fn rd(u: &mut Uart16550<TestIrq>, reg: u16) -> u8 {
    u.read(COM1_BASE + reg, 1) as u8
}

fn wr(u: &mut Uart16550<TestIrq>, reg: u16, v: u8) {
    u.write(COM1_BASE + reg, 1, v as u32);
}

#[test]
fn test_uart_declares_eight_ports() {
    let (u, _, _) = uart();
    assert_eq!(u.ports(), vec![0x3F8..=0x3FF]);
}

#[test]
fn test_uart_reset_values() {
    let (mut u, _, irq) = uart();
    assert_eq!(rd(&mut u, IER), 0);
    assert_eq!(rd(&mut u, IIR_FCR), IIR_NO_INT);
    assert_eq!(rd(&mut u, LCR), 0x03);
    assert_eq!(rd(&mut u, MCR), 0);
    assert_eq!(rd(&mut u, LSR), LSR_THRE | LSR_TEMT);
    assert_eq!(rd(&mut u, MSR), MSR_CTS | MSR_DSR | MSR_DCD);
    assert!(!irq.0.get());
}

#[test]
fn test_uart_thr_writes_reach_the_sink() {
    let (mut u, out, _) = uart();
    for b in b"hello" {
        assert_ne!(rd(&mut u, LSR) & LSR_THRE, 0);
        wr(&mut u, RBR_THR, *b);
    }
    assert_eq!(out.text(), "hello");
}

#[test]
fn test_uart_dlab_selects_the_divisor_latch() {
    let (mut u, out, _) = uart();
    wr(&mut u, LCR, LCR_DLAB | 0x03);
    wr(&mut u, RBR_THR, 0x01);
    wr(&mut u, IER, 0x02);
    assert_eq!(rd(&mut u, RBR_THR), 0x01);
    assert_eq!(rd(&mut u, IER), 0x02);
    assert_eq!(u.state().divisor, 0x0201);
    wr(&mut u, LCR, 0x03);
    assert_eq!(rd(&mut u, IER), 0, "IER untouched by divisor writes");
    assert_eq!(out.text(), "", "divisor writes are not transmitted");
}

#[test]
fn test_uart_scratch_register() {
    let (mut u, _, _) = uart();
    wr(&mut u, SCR, 0x5A);
    assert_eq!(rd(&mut u, SCR), 0x5A);
}

#[test]
fn test_uart_receive_without_fifo_sets_data_ready_and_overruns() {
    let (mut u, _, _) = uart();
    assert_eq!(u.rx_space(), 1);
    u.receive(b'a');
    assert_eq!(u.rx_space(), 0);
    u.receive(b'b');
    let lsr = rd(&mut u, LSR);
    assert_eq!(lsr & (LSR_DR | LSR_OE), LSR_DR | LSR_OE);
    assert_eq!(rd(&mut u, LSR) & LSR_OE, 0, "reading LSR clears OE");
    assert_eq!(rd(&mut u, RBR_THR), b'b', "the newer byte overwrote the holding register");
    assert_eq!(rd(&mut u, LSR) & LSR_DR, 0);
}

#[test]
fn test_uart_fifo_holds_sixteen_bytes() {
    let (mut u, _, _) = uart();
    wr(&mut u, IIR_FCR, FCR_ENABLE);
    assert_eq!(rd(&mut u, IIR_FCR) & IIR_FIFO_ENABLED, IIR_FIFO_ENABLED);
    assert_eq!(u.rx_space(), FIFO_DEPTH);
    for i in 0..17u8 {
        u.receive(i);
    }
    assert_ne!(rd(&mut u, LSR) & LSR_OE, 0, "the 17th byte overran");
    for i in 0..16u8 {
        assert_eq!(rd(&mut u, RBR_THR), i);
    }
    assert_eq!(rd(&mut u, LSR) & LSR_DR, 0);
}

#[test]
fn test_uart_fcr_clears_the_receive_fifo() {
    let (mut u, _, _) = uart();
    wr(&mut u, IIR_FCR, FCR_ENABLE);
    u.receive(1);
    u.receive(2);
    wr(&mut u, IIR_FCR, FCR_ENABLE | FCR_CLEAR_RX | FCR_CLEAR_TX);
    assert_eq!(rd(&mut u, LSR) & LSR_DR, 0);
}

#[test]
fn test_uart_rx_interrupt_at_trigger_level() {
    let (mut u, _, irq) = uart();
    wr(&mut u, IIR_FCR, FCR_ENABLE | (1 << FCR_TRIGGER_SHIFT)); // 4 bytes
    wr(&mut u, IER, IER_RDA);
    for i in 0..3 {
        u.receive(i);
        assert!(!irq.0.get(), "below the trigger level");
    }
    u.receive(3);
    assert!(irq.0.get());
    assert_eq!(rd(&mut u, IIR_FCR), IIR_FIFO_ENABLED | IIR_ID_RDA);
    rd(&mut u, RBR_THR);
    assert!(!irq.0.get(), "back below the trigger level");
}

#[test]
fn test_uart_character_timeout() {
    let (mut u, _, irq) = uart();
    wr(&mut u, IIR_FCR, FCR_ENABLE | (3 << FCR_TRIGGER_SHIFT)); // 14 bytes
    wr(&mut u, IER, IER_RDA);
    u.receive(b'x');
    u.timeout_tick(); // activity since the last tick: no time-out yet
    assert!(!irq.0.get());
    u.timeout_tick();
    assert!(irq.0.get());
    assert_eq!(rd(&mut u, IIR_FCR), IIR_FIFO_ENABLED | IIR_ID_TIMEOUT);
    assert_eq!(rd(&mut u, RBR_THR), b'x');
    assert!(!irq.0.get(), "reading RBR clears the time-out");
}

#[test]
fn test_uart_thre_interrupt_raised_on_enable_and_cleared_by_iir_read() {
    let (mut u, _, irq) = uart();
    wr(&mut u, IER, IER_THRE);
    assert!(irq.0.get(), "THR is empty when the interrupt is enabled");
    assert_eq!(rd(&mut u, IIR_FCR), IIR_ID_THRE);
    assert!(!irq.0.get(), "reading IIR acknowledged it");
    assert_eq!(rd(&mut u, IIR_FCR), IIR_NO_INT);
}

#[test]
fn test_uart_thre_interrupt_after_each_transmitted_byte() {
    let (mut u, out, irq) = uart();
    wr(&mut u, IER, IER_THRE);
    rd(&mut u, IIR_FCR);
    assert!(!irq.0.get());
    wr(&mut u, RBR_THR, b'z');
    assert!(irq.0.get(), "THR emptied again after the write");
    assert_eq!(out.text(), "z");
    wr(&mut u, IER, 0);
    assert!(!irq.0.get(), "disabled in IER");
}

#[test]
fn test_uart_line_status_interrupt_has_top_priority() {
    let (mut u, _, irq) = uart();
    wr(&mut u, IER, IER_RDA | IER_THRE | IER_RLS | IER_MS);
    u.receive(1);
    u.receive(2); // overrun
    assert!(irq.0.get());
    assert_eq!(rd(&mut u, IIR_FCR), IIR_ID_RLS);
    rd(&mut u, LSR);
    assert_eq!(rd(&mut u, IIR_FCR), IIR_ID_RDA);
    rd(&mut u, RBR_THR);
    assert_eq!(rd(&mut u, IIR_FCR), IIR_ID_THRE);
    assert_eq!(rd(&mut u, IIR_FCR), IIR_NO_INT);
    assert!(!irq.0.get());
}

#[test]
fn test_uart_break_sets_bi() {
    let (mut u, _, _) = uart();
    u.receive_break();
    assert_eq!(rd(&mut u, LSR) & (LSR_BI | LSR_DR), LSR_BI | LSR_DR);
    assert_eq!(rd(&mut u, RBR_THR), 0);
}

#[test]
fn test_uart_loopback_echoes_and_maps_modem_lines() {
    let (mut u, out, irq) = uart();
    wr(&mut u, MCR, MCR_LOOP);
    rd(&mut u, MSR); // clear the deltas of entering loopback
    assert_eq!(u.rx_space(), 0, "the host cannot feed a looped-back receiver");
    wr(&mut u, RBR_THR, 0xAE);
    assert_eq!(out.text(), "", "nothing leaves in loopback");
    assert_ne!(rd(&mut u, LSR) & LSR_DR, 0);
    assert_eq!(rd(&mut u, RBR_THR), 0xAE);
    wr(&mut u, IER, IER_MS);
    wr(&mut u, MCR, MCR_LOOP | MCR_RTS | MCR_DTR | MCR_OUT1 | MCR_OUT2);
    assert!(irq.0.get(), "modem status changed");
    assert_eq!(rd(&mut u, IIR_FCR), IIR_ID_MS);
    let msr = rd(&mut u, MSR);
    assert_eq!(msr & 0xF0, MSR_CTS | MSR_DSR | MSR_RI | MSR_DCD);
    assert_eq!(msr & (MSR_DCTS | MSR_DDSR | MSR_DDCD), MSR_DCTS | MSR_DDSR | MSR_DDCD);
    assert!(!irq.0.get(), "reading MSR cleared the deltas");
    wr(&mut u, MCR, MCR_LOOP | MCR_RTS | MCR_DTR | MCR_OUT2);
    assert_ne!(rd(&mut u, MSR) & MSR_TERI, 0, "RI fell");
}

#[test]
fn test_uart_irq_line_only_toggles_on_change() {
    let (mut u, _, irq) = uart();
    wr(&mut u, IER, IER_RDA);
    u.receive(1);
    let changes = irq.1.get();
    wr(&mut u, SCR, 1);
    rd(&mut u, LCR);
    assert_eq!(irq.1.get(), changes);
}

#[test]
fn test_uart_wide_access_touches_consecutive_registers() {
    let (mut u, _, _) = uart();
    wr(&mut u, LCR, LCR_DLAB);
    u.write(COM1_BASE, 2, 0x0180);
    assert_eq!(u.state().divisor, 0x0180);
    assert_eq!(u.read(COM1_BASE, 2), 0x0180);
}

#[test]
fn test_uart_state_round_trips() {
    let (mut u, _, _) = uart();
    wr(&mut u, SCR, 9);
    u.receive(b'q');
    let saved = u.state().clone();
    let (mut v, _, _) = uart();
    v.set_state(saved);
    assert_eq!(rd(&mut v, SCR), 9);
    assert_eq!(rd(&mut v, RBR_THR), b'q');
    v.reset();
    assert_eq!(rd(&mut v, SCR), 0);
}

/// What a [`HoldingSink`] was given: held until a flush, shown after one, and how many.
#[derive(Default)]
struct Held {
    held: Vec<u8>,
    shown: Vec<u8>,
    flushes: u32,
}

/// A sink that holds what it is given until it is flushed, as standard output holds a
/// line, and counts the flushes.
#[derive(Clone, Default)]
struct HoldingSink(std::sync::Arc<std::sync::Mutex<Held>>);

impl HoldingSink {
    fn shown(&self) -> (String, u32) {
        let s = self.0.lock().unwrap();
        (String::from_utf8_lossy(&s.shown).into_owned(), s.flushes)
    }
}

impl Write for HoldingSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().held.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        let mut s = self.0.lock().unwrap();
        let held = std::mem::take(&mut s.held);
        s.shown.extend_from_slice(&held);
        s.flushes += 1;
        Ok(())
    }
}

#[test]
fn test_uart_flush_pushes_out_a_prompt_without_newline_once() {
    // Issue #6: a shell prompt ("/ # ", no newline) sat in the host's line buffer until
    // more output came. The machine flushes after every slice; the flush must reach the
    // sink when bytes went out, and cost nothing when none did.
    let sink = HoldingSink::default();
    let mut u = Uart16550::new(COM1_BASE, TestIrq::default(), Some(Box::new(sink.clone())));
    u.flush();
    assert_eq!(sink.shown(), (String::new(), 0), "nothing sent: the sink is not flushed");
    for b in b"/ # " {
        wr(&mut u, RBR_THR, *b);
    }
    assert_eq!(sink.shown(), (String::new(), 0), "held by the sink until a flush");
    u.flush();
    assert_eq!(sink.shown(), ("/ # ".to_string(), 1));
    u.flush();
    assert_eq!(sink.shown().1, 1, "no new output: no flush");
    wr(&mut u, MCR, MCR_LOOP);
    wr(&mut u, RBR_THR, b'L');
    u.flush();
    assert_eq!(sink.shown(), ("/ # ".to_string(), 1), "a looped-back byte never reaches the sink");
}

#[test]
fn test_uart_thre_reasserted_for_linux_bug_thre_probe() {
    // Linux's serial8250_do_startup: IER = THRI, read IIR; IER = 0, IER = THRI, read IIR.
    // A UART that does not raise THRE again on the second enable is flagged UART_BUG_THRE
    // (and polled by a timer); a 16550A raises it on every 0 -> 1 enable while THR is empty.
    let (mut u, _, irq) = uart();
    wr(&mut u, IIR_FCR, FCR_ENABLE | FCR_CLEAR_RX | FCR_CLEAR_TX | (2 << FCR_TRIGGER_SHIFT));
    wr(&mut u, IER, IER_THRE);
    let iir1 = rd(&mut u, IIR_FCR);
    wr(&mut u, IER, 0);
    wr(&mut u, IER, IER_THRE);
    let iir2 = rd(&mut u, IIR_FCR);
    assert_eq!(iir1, IIR_FIFO_ENABLED | IIR_ID_THRE);
    assert_eq!(iir2, IIR_FIFO_ENABLED | IIR_ID_THRE, "THRE raised again on the second enable");
    assert!(!irq.0.get(), "each IIR read acknowledged it");
    wr(&mut u, IER, IER_THRE);
    assert!(!irq.0.get(), "IER rewritten with THRI already set: no new interrupt");
}

#[test]
fn test_uart_thre_waits_behind_received_data() {
    // Linux's transmit kick (IER |= THRI) while a byte is waiting: the interrupt names
    // the received data first and THR-empty once RBR was read; it is not lost.
    let (mut u, out, irq) = uart();
    wr(&mut u, IER, IER_RDA);
    u.receive(b'k');
    wr(&mut u, IER, IER_RDA | IER_THRE);
    assert_eq!(rd(&mut u, IIR_FCR), IIR_ID_RDA);
    assert_eq!(rd(&mut u, RBR_THR), b'k');
    assert!(irq.0.get(), "THR-empty still pending");
    assert_eq!(rd(&mut u, IIR_FCR), IIR_ID_THRE);
    assert!(!irq.0.get());
    wr(&mut u, RBR_THR, b'p');
    assert!(irq.0.get(), "writing THR (sent at once) raises THR-empty again");
    assert_eq!(out.text(), "p");
}
