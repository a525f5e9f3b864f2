//! The 8042 keyboard controller (data port 0x60, status/command port 0x64) with a PS/2
//! keyboard on its first port and a PS/2 mouse on its auxiliary port.
//!
//! The controller: status register, command byte (controller RAM byte 0), self-test
//! (0xAA → 0x55), interface tests, enabling and disabling either port, the output port
//! (bit 0 resets the CPU when driven low, bit 1 gates A20; 0xD0/0xD1, the 0xF0–0xFF pulse
//! commands), writes into either output buffer (0xD2/0xD3), forwarding to the mouse
//! (0xD4), and scan-code translation from set 2 to set 1 (command byte bit 6, on by
//! default). IRQ 1 and IRQ 12 follow "output buffer full" for the port that filled it,
//! when the command byte enables them.
//!
//! The keyboard answers reset (0xFA 0xAA), identify (0xAB 0x83), LEDs, typematic, scan
//! enable/disable, scan-code set, echo and resend. The mouse answers reset (0xFA 0xAA
//! 0x00), stream/remote mode, sample rate (and the IntelliMouse rate sequence that turns
//! its ID into 3), resolution, scaling, status and identify.
//!
//! A reset request or an A20 change is a flag the machine polls ([`I8042::take_reset`],
//! [`I8042::a20`]): the controller never touches the CPU or memory.

use crate::{IrqLine, PortDevice};
use std::collections::VecDeque;
use std::ops::RangeInclusive;

/// Data port.
pub const KBC_DATA: u16 = 0x60;
/// Status (read) and command (write) port.
pub const KBC_CMD: u16 = 0x64;

/// Status: output buffer full.
pub const STATUS_OBF: u8 = 0x01;
/// Status: system flag (set by a passed self-test).
pub const STATUS_SYS: u8 = 0x04;
/// Status: the last write was to the command port.
pub const STATUS_CMD: u8 = 0x08;
/// Status: keyboard not inhibited.
pub const STATUS_UNLOCKED: u8 = 0x10;
/// Status: the output buffer holds mouse data.
pub const STATUS_AUX: u8 = 0x20;

/// Command byte: IRQ 1 on keyboard data.
pub const CB_KBD_INT: u8 = 0x01;
/// Command byte: IRQ 12 on mouse data.
pub const CB_AUX_INT: u8 = 0x02;
/// Command byte: system flag.
pub const CB_SYS: u8 = 0x04;
/// Command byte: keyboard port disabled.
pub const CB_KBD_DISABLE: u8 = 0x10;
/// Command byte: mouse port disabled.
pub const CB_AUX_DISABLE: u8 = 0x20;
/// Command byte: translate set 2 to set 1.
pub const CB_XLAT: u8 = 0x40;
/// The command byte at power-on: translation, both interrupts enabled.
pub const CB_DEFAULT: u8 = CB_XLAT | CB_KBD_INT | CB_AUX_INT;

/// Output port: CPU reset line (low = reset).
pub const OUT_RESET: u8 = 0x01;
/// Output port: A20 gate.
pub const OUT_A20: u8 = 0x02;
/// Output port: IRQ 1 (keyboard output buffer full).
const OUT_KBD_OBF: u8 = 0x10;
/// Output port: IRQ 12 (mouse output buffer full).
const OUT_AUX_OBF: u8 = 0x20;
/// Output port at power-on: not in reset, A20 open, clock and data lines high.
pub const OUT_DEFAULT: u8 = 0xC0 | OUT_A20 | OUT_RESET;

/// Controller commands.
const CMD_READ_RAM: u8 = 0x20;
const CMD_WRITE_RAM: u8 = 0x60;
const CMD_RAM_MASK: u8 = 0x1F;
const CMD_AUX_DISABLE: u8 = 0xA7;
const CMD_AUX_ENABLE: u8 = 0xA8;
const CMD_AUX_TEST: u8 = 0xA9;
const CMD_SELF_TEST: u8 = 0xAA;
const CMD_KBD_TEST: u8 = 0xAB;
const CMD_KBD_DISABLE: u8 = 0xAD;
const CMD_KBD_ENABLE: u8 = 0xAE;
const CMD_READ_INPUT: u8 = 0xC0;
const CMD_READ_OUTPUT: u8 = 0xD0;
const CMD_WRITE_OUTPUT: u8 = 0xD1;
const CMD_WRITE_KBD_BUF: u8 = 0xD2;
const CMD_WRITE_AUX_BUF: u8 = 0xD3;
const CMD_WRITE_AUX: u8 = 0xD4;
const CMD_A20_OFF: u8 = 0xDD;
const CMD_A20_ON: u8 = 0xDF;
const CMD_READ_TEST: u8 = 0xE0;
const CMD_PULSE: u8 = 0xF0;
/// Self-test passed.
pub const SELF_TEST_OK: u8 = 0x55;
/// Interface test passed.
const INTERFACE_OK: u8 = 0x00;
/// Input port: keyboard not inhibited, 512 KiB on the board.
const INPUT_PORT: u8 = 0xB0;

/// Device replies.
pub const ACK: u8 = 0xFA;
/// Self-test (BAT) passed.
pub const BAT_OK: u8 = 0xAA;
/// Resend / unknown command.
pub const RESEND: u8 = 0xFE;
/// Echo reply.
const ECHO: u8 = 0xEE;
/// A set-2 break prefix.
const BREAK_PREFIX: u8 = 0xF0;
/// MF2 keyboard identification (after the ACK).
const KBD_ID: [u8; 2] = [0xAB, 0x83];
/// Sample rates that, set in this order, turn a PS/2 mouse into an IntelliMouse.
const INTELLIMOUSE_KNOCK: [u8; 3] = [200, 100, 80];
/// The IntelliMouse device ID (4-byte packets with a wheel).
const INTELLIMOUSE_ID: u8 = 3;
/// Largest number of bytes a device queues before it drops input.
const QUEUE_LIMIT: usize = 64;

/// Set-2 make codes and their set-1 equivalents: what the controller's translation does.
/// Codes not listed pass through unchanged.
#[rustfmt::skip]
const SET2_TO_SET1: [(u8, u8); 85] = [
    (0x76, 0x01), (0x16, 0x02), (0x1E, 0x03), (0x26, 0x04), (0x25, 0x05), (0x2E, 0x06), (0x36, 0x07),
    (0x3D, 0x08), (0x3E, 0x09), (0x46, 0x0A), (0x45, 0x0B), (0x4E, 0x0C), (0x55, 0x0D), (0x66, 0x0E),
    (0x0D, 0x0F), (0x15, 0x10), (0x1D, 0x11), (0x24, 0x12), (0x2D, 0x13), (0x2C, 0x14), (0x35, 0x15),
    (0x3C, 0x16), (0x43, 0x17), (0x44, 0x18), (0x4D, 0x19), (0x54, 0x1A), (0x5B, 0x1B), (0x5A, 0x1C),
    (0x14, 0x1D), (0x1C, 0x1E), (0x1B, 0x1F), (0x23, 0x20), (0x2B, 0x21), (0x34, 0x22), (0x33, 0x23),
    (0x3B, 0x24), (0x42, 0x25), (0x4B, 0x26), (0x4C, 0x27), (0x52, 0x28), (0x0E, 0x29), (0x12, 0x2A),
    (0x5D, 0x2B), (0x1A, 0x2C), (0x22, 0x2D), (0x21, 0x2E), (0x2A, 0x2F), (0x32, 0x30), (0x31, 0x31),
    (0x3A, 0x32), (0x41, 0x33), (0x49, 0x34), (0x4A, 0x35), (0x59, 0x36), (0x7C, 0x37), (0x11, 0x38),
    (0x29, 0x39), (0x58, 0x3A), (0x05, 0x3B), (0x06, 0x3C), (0x04, 0x3D), (0x0C, 0x3E), (0x03, 0x3F),
    (0x0B, 0x40), (0x83, 0x41), (0x0A, 0x42), (0x01, 0x43), (0x09, 0x44), (0x77, 0x45), (0x7E, 0x46),
    (0x6C, 0x47), (0x75, 0x48), (0x7D, 0x49), (0x7B, 0x4A), (0x6B, 0x4B), (0x73, 0x4C), (0x74, 0x4D),
    (0x79, 0x4E), (0x69, 0x4F), (0x72, 0x50), (0x7A, 0x51), (0x70, 0x52), (0x71, 0x53), (0x84, 0x54),
    (0x78, 0x57),
];

/// F12 (set 2 0x07 → set 1 0x58) completes the function-key row.
const F12: (u8, u8) = (0x07, 0x58);

/// The set-1 code for a set-2 code, or the byte unchanged.
pub fn translate(code: u8) -> u8 {
    if code == F12.0 {
        return F12.1;
    }
    SET2_TO_SET1.iter().find(|(s2, _)| *s2 == code).map_or(code, |&(_, s1)| s1)
}

/// Who filled the output buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Source {
    /// The controller or the keyboard (IRQ 1).
    #[default]
    Keyboard,
    /// The mouse (IRQ 12).
    Aux,
}

/// A data-port write the controller is waiting for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Pending {
    /// None: data goes to the keyboard.
    #[default]
    None,
    /// Controller RAM byte n.
    WriteRam(u8),
    /// The output port.
    WriteOutput,
    /// The keyboard output buffer.
    WriteKbdBuf,
    /// The mouse output buffer.
    WriteAuxBuf,
    /// The mouse.
    WriteAux,
}

/// The PS/2 keyboard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyboardState {
    /// Bytes waiting to go to the controller (set 2).
    pub queue: VecDeque<u8>,
    /// Scanning enabled.
    pub scanning: bool,
    /// The command waiting for its argument byte.
    pub awaiting: Option<u8>,
    /// LED bits (scroll, num, caps).
    pub leds: u8,
    /// Typematic rate/delay byte.
    pub typematic: u8,
    /// Scan code set (1–3).
    pub scan_set: u8,
    /// The last byte sent (for resend).
    pub last: u8,
}

/// The PS/2 mouse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MouseState {
    /// Bytes waiting to go to the controller.
    pub queue: VecDeque<u8>,
    /// Data reporting enabled (stream mode).
    pub reporting: bool,
    /// Remote (polled) mode rather than stream mode.
    pub remote: bool,
    /// The command waiting for its argument byte.
    pub awaiting: Option<u8>,
    /// Samples per second.
    pub rate: u8,
    /// Resolution (0–3).
    pub resolution: u8,
    /// 2:1 scaling.
    pub scaling21: bool,
    /// Device ID: 0, or 3 after the IntelliMouse knock.
    pub id: u8,
    /// The last three sample rates set (for the IntelliMouse knock).
    pub rate_history: [u8; 3],
    /// Buttons held (bit 0 left, 1 right, 2 middle).
    pub buttons: u8,
}

impl Default for KeyboardState {
    fn default() -> Self {
        KeyboardState {
            queue: VecDeque::new(),
            scanning: true,
            awaiting: None,
            leds: 0,
            typematic: 0x2B,
            scan_set: 2,
            last: 0,
        }
    }
}

impl Default for MouseState {
    fn default() -> Self {
        MouseState {
            queue: VecDeque::new(),
            reporting: false,
            remote: false,
            awaiting: None,
            rate: 100,
            resolution: 2,
            scaling21: false,
            id: 0,
            rate_history: [0; 3],
            buttons: 0,
        }
    }
}

/// The controller's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct I8042State {
    /// Controller RAM; byte 0 is the command byte.
    pub ram: [u8; 32],
    /// The status register's stored bits (SYS, CMD).
    pub status: u8,
    /// The output buffer and who filled it.
    pub out: Option<(u8, Source)>,
    /// The last byte the guest read (returned again when the buffer is empty).
    pub last_read: u8,
    /// Controller replies waiting for the output buffer.
    pub replies: VecDeque<u8>,
    /// What the next data-port write is for.
    pub pending: Pending,
    /// The output port.
    pub output_port: u8,
    /// A set-2 break prefix seen while translating.
    pub xlat_break: bool,
    /// A CPU reset was requested and not yet taken.
    pub reset_request: bool,
    /// The keyboard.
    pub kbd: KeyboardState,
    /// The mouse.
    pub mouse: MouseState,
}

/// The keyboard controller; `irq1` and `irq12` are its two interrupt lines.
pub struct I8042<I: IrqLine> {
    state: I8042State,
    irq1: I,
    irq12: I,
}

impl<I: IrqLine> std::fmt::Debug for I8042<I> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("I8042").field("state", &self.state).finish_non_exhaustive()
    }
}

fn push_limited(q: &mut VecDeque<u8>, bytes: &[u8]) {
    if q.len() + bytes.len() <= QUEUE_LIMIT {
        q.extend(bytes);
    }
}

impl<I: IrqLine> I8042<I> {
    /// A controller at power-on.
    pub fn new(irq1: I, irq12: I) -> Self {
        let mut ram = [0u8; 32];
        ram[0] = CB_DEFAULT;
        let state = I8042State {
            ram,
            status: 0,
            out: None,
            last_read: 0,
            replies: VecDeque::new(),
            pending: Pending::None,
            output_port: OUT_DEFAULT,
            xlat_break: false,
            reset_request: false,
            kbd: KeyboardState::default(),
            mouse: MouseState::default(),
        };
        I8042 { state, irq1, irq12 }
    }

    /// The state, for snapshots and debuggers.
    pub fn state(&self) -> &I8042State {
        &self.state
    }

    /// Whether the output port opens the A20 gate.
    pub fn a20(&self) -> bool {
        self.state.output_port & OUT_A20 != 0
    }

    /// Takes a pending CPU reset request.
    pub fn take_reset(&mut self) -> bool {
        std::mem::take(&mut self.state.reset_request)
    }

    /// The machine reset: the output port back to its power-on value (A20 open).
    pub fn reset_output_port(&mut self) {
        self.state.output_port = OUT_DEFAULT;
    }

    /// The command byte (controller RAM byte 0).
    pub fn command_byte(&self) -> u8 {
        self.state.ram[0]
    }

    /// The host presses or releases keys: `codes` are set-2 bytes (make codes, or 0xF0
    /// and the make code for a release, with 0xE0 prefixes as the key needs).
    pub fn key_input(&mut self, codes: &[u8]) {
        if self.state.kbd.scanning {
            push_limited(&mut self.state.kbd.queue, codes);
            self.refill();
        }
    }

    /// The host moves the mouse by (dx, dy) (dy positive = up) with `buttons` held.
    pub fn mouse_input(&mut self, dx: i32, dy: i32, dz: i32, buttons: u8) {
        let m = &mut self.state.mouse;
        m.buttons = buttons & 7;
        if !m.reporting || m.remote {
            return;
        }
        let dx = dx.clamp(-255, 255);
        let dy = dy.clamp(-255, 255);
        let mut head = 0x08 | m.buttons;
        if dx < 0 {
            head |= 0x10;
        }
        if dy < 0 {
            head |= 0x20;
        }
        let mut packet = vec![head, dx as u8, dy as u8];
        if m.id == INTELLIMOUSE_ID {
            packet.push(dz.clamp(-8, 7) as u8);
        }
        push_limited(&mut m.queue, &packet);
        self.refill();
    }

    /// Puts the next waiting byte in the output buffer if it is empty, and drives the
    /// interrupt lines.
    fn refill(&mut self) {
        let s = &mut self.state;
        if s.out.is_none() {
            if let Some(b) = s.replies.pop_front() {
                s.out = Some((b, Source::Keyboard));
            } else if s.ram[0] & CB_KBD_DISABLE == 0 && !s.kbd.queue.is_empty() {
                while let Some(code) = s.kbd.queue.pop_front() {
                    if s.ram[0] & CB_XLAT == 0 {
                        s.out = Some((code, Source::Keyboard));
                        break;
                    }
                    if code == BREAK_PREFIX {
                        s.xlat_break = true;
                        continue;
                    }
                    let mut b = translate(code);
                    if std::mem::take(&mut s.xlat_break) {
                        b |= 0x80;
                    }
                    s.out = Some((b, Source::Keyboard));
                    break;
                }
            } else if s.ram[0] & CB_AUX_DISABLE == 0 {
                if let Some(b) = s.mouse.queue.pop_front() {
                    s.out = Some((b, Source::Aux));
                }
            }
        }
        let cb = s.ram[0];
        let (k, a) = match s.out {
            Some((_, Source::Keyboard)) => (cb & CB_KBD_INT != 0, false),
            Some((_, Source::Aux)) => (false, cb & CB_AUX_INT != 0),
            None => (false, false),
        };
        self.irq1.set(k);
        self.irq12.set(a);
    }

    fn reply(&mut self, b: u8) {
        self.state.replies.push_back(b);
        self.refill();
    }

    fn set_output_port(&mut self, v: u8) {
        if v & OUT_RESET == 0 {
            self.state.reset_request = true;
        }
        self.state.output_port = v | OUT_RESET;
    }

    fn status(&self) -> u8 {
        let s = &self.state;
        let mut v = s.status | STATUS_UNLOCKED;
        match s.out {
            Some((_, Source::Aux)) => v |= STATUS_OBF | STATUS_AUX,
            Some(_) => v |= STATUS_OBF,
            None => {}
        }
        v
    }

    fn command(&mut self, cmd: u8) {
        self.state.status |= STATUS_CMD;
        self.state.pending = Pending::None;
        match cmd {
            c if c & !CMD_RAM_MASK == CMD_READ_RAM => self.reply(self.state.ram[(c & CMD_RAM_MASK) as usize]),
            c if c & !CMD_RAM_MASK == CMD_WRITE_RAM => self.state.pending = Pending::WriteRam(c & CMD_RAM_MASK),
            CMD_AUX_DISABLE => self.state.ram[0] |= CB_AUX_DISABLE,
            CMD_AUX_ENABLE => {
                self.state.ram[0] &= !CB_AUX_DISABLE;
                self.refill();
            }
            CMD_AUX_TEST | CMD_KBD_TEST => self.reply(INTERFACE_OK),
            CMD_SELF_TEST => {
                self.state.status |= STATUS_SYS;
                self.reply(SELF_TEST_OK);
            }
            CMD_KBD_DISABLE => self.state.ram[0] |= CB_KBD_DISABLE,
            CMD_KBD_ENABLE => {
                self.state.ram[0] &= !CB_KBD_DISABLE;
                self.refill();
            }
            CMD_READ_INPUT => self.reply(INPUT_PORT),
            CMD_READ_OUTPUT => {
                let obf = match self.state.out {
                    Some((_, Source::Keyboard)) => OUT_KBD_OBF,
                    Some((_, Source::Aux)) => OUT_AUX_OBF,
                    None => 0,
                };
                self.reply(self.state.output_port & !(OUT_KBD_OBF | OUT_AUX_OBF) | obf);
            }
            CMD_WRITE_OUTPUT => self.state.pending = Pending::WriteOutput,
            CMD_WRITE_KBD_BUF => self.state.pending = Pending::WriteKbdBuf,
            CMD_WRITE_AUX_BUF => self.state.pending = Pending::WriteAuxBuf,
            CMD_WRITE_AUX => self.state.pending = Pending::WriteAux,
            CMD_A20_OFF => self.state.output_port &= !OUT_A20,
            CMD_A20_ON => self.state.output_port |= OUT_A20,
            CMD_READ_TEST => self.reply(0),
            // Pulse the output-port bits whose mask bit is 0; bit 0 is the reset line.
            c if c & 0xF0 == CMD_PULSE && c & OUT_RESET == 0 => self.state.reset_request = true,
            _ => {}
        }
    }

    fn data(&mut self, v: u8) {
        self.state.status &= !STATUS_CMD;
        match std::mem::take(&mut self.state.pending) {
            Pending::WriteRam(0) => {
                self.state.ram[0] = v;
                self.state.status = self.state.status & !STATUS_SYS | (v & CB_SYS);
                self.refill();
            }
            Pending::WriteRam(n) => self.state.ram[n as usize] = v,
            Pending::WriteOutput => self.set_output_port(v),
            Pending::WriteKbdBuf => {
                self.state.kbd.queue.push_front(v);
                let saved = self.state.ram[0];
                self.state.ram[0] &= !CB_XLAT;
                self.refill();
                self.state.ram[0] = saved;
            }
            Pending::WriteAuxBuf => {
                self.state.mouse.queue.push_front(v);
                self.refill();
            }
            Pending::WriteAux => {
                self.mouse_command(v);
                self.refill();
            }
            Pending::None => {
                self.keyboard_command(v);
                self.refill();
            }
        }
    }

    fn kbd_send(&mut self, bytes: &[u8]) {
        if let Some(&b) = bytes.last() {
            self.state.kbd.last = b;
        }
        push_limited(&mut self.state.kbd.queue, bytes);
    }

    fn keyboard_command(&mut self, v: u8) {
        if let Some(cmd) = self.state.kbd.awaiting.take() {
            let k = &mut self.state.kbd;
            match cmd {
                0xED => k.leds = v & 7,
                0xF3 => k.typematic = v & 0x7F,
                _ => {
                    // 0xF0: scan-code set; 0 asks which.
                    if v == 0 {
                        let set = k.scan_set;
                        self.kbd_send(&[ACK, set]);
                        return;
                    }
                    if (1..=3).contains(&v) {
                        k.scan_set = v;
                    }
                }
            }
            self.kbd_send(&[ACK]);
            return;
        }
        match v {
            0xFF => {
                self.state.kbd = KeyboardState::default();
                self.kbd_send(&[ACK, BAT_OK]);
            }
            0xFE => {
                let last = self.state.kbd.last;
                self.kbd_send(&[last]);
            }
            0xF6 | 0xF5 => {
                let scanning = v == 0xF6;
                self.state.kbd = KeyboardState { scanning, ..KeyboardState::default() };
                self.kbd_send(&[ACK]);
            }
            0xF4 => {
                self.state.kbd.scanning = true;
                self.kbd_send(&[ACK]);
            }
            0xF2 => self.kbd_send(&[ACK, KBD_ID[0], KBD_ID[1]]),
            0xED | 0xF3 | 0xF0 => {
                self.state.kbd.awaiting = Some(v);
                self.kbd_send(&[ACK]);
            }
            0xEE => self.kbd_send(&[ECHO]),
            0xF7..=0xFD => self.kbd_send(&[ACK]),
            _ => self.kbd_send(&[RESEND]),
        }
    }

    fn mouse_send(&mut self, bytes: &[u8]) {
        push_limited(&mut self.state.mouse.queue, bytes);
    }

    fn mouse_command(&mut self, v: u8) {
        if let Some(cmd) = self.state.mouse.awaiting.take() {
            let m = &mut self.state.mouse;
            if cmd == 0xF3 {
                m.rate = v;
                m.rate_history = [m.rate_history[1], m.rate_history[2], v];
                if m.rate_history == INTELLIMOUSE_KNOCK {
                    m.id = INTELLIMOUSE_ID;
                }
            } else {
                m.resolution = v & 3;
            }
            self.mouse_send(&[ACK]);
            return;
        }
        let m = &mut self.state.mouse;
        match v {
            0xFF => {
                *m = MouseState::default();
                self.mouse_send(&[ACK, BAT_OK, 0x00]);
            }
            0xF6 => {
                let id = m.id;
                *m = MouseState { id, ..MouseState::default() };
                self.mouse_send(&[ACK]);
            }
            0xF5 | 0xF4 => {
                m.reporting = v == 0xF4;
                self.mouse_send(&[ACK]);
            }
            0xF3 | 0xE8 => {
                m.awaiting = Some(v);
                self.mouse_send(&[ACK]);
            }
            0xF2 => {
                let id = m.id;
                self.mouse_send(&[ACK, id]);
            }
            0xF0 | 0xEA => {
                m.remote = v == 0xF0;
                self.mouse_send(&[ACK]);
            }
            0xEB => {
                let packet = [0x08 | m.buttons, 0, 0];
                self.mouse_send(&[ACK]);
                self.mouse_send(&packet);
            }
            0xE9 => {
                let status = (m.remote as u8) << 6
                    | (m.reporting as u8) << 5
                    | (m.scaling21 as u8) << 4
                    | (m.buttons & 1) << 2
                    | (m.buttons >> 2 & 1) << 1
                    | (m.buttons >> 1 & 1);
                let (res, rate) = (m.resolution, m.rate);
                self.mouse_send(&[ACK, status, res, rate]);
            }
            0xE6 | 0xE7 => {
                m.scaling21 = v == 0xE7;
                self.mouse_send(&[ACK]);
            }
            0xEC | 0xEE => self.mouse_send(&[ACK]),
            _ => self.mouse_send(&[RESEND]),
        }
    }
}

impl<I: IrqLine> PortDevice for I8042<I> {
    fn ports(&self) -> Vec<RangeInclusive<u16>> {
        vec![KBC_DATA..=KBC_DATA, KBC_CMD..=KBC_CMD]
    }

    fn read(&mut self, port: u16, _size: u8) -> u32 {
        if port == KBC_CMD {
            return self.status() as u32;
        }
        if let Some((b, _)) = self.state.out.take() {
            self.state.last_read = b;
            // The output buffer empties and OBF, which drives the interrupt lines, drops
            // before the next byte arrives from the device: each byte of a multi-byte
            // reply (GET ID's ACK, 0xAB, 0x83) is a fresh edge at the interrupt
            // controller. Linux's atkbd takes one byte per interrupt and gave up on the
            // keyboard when the line simply stayed high.
            self.irq1.set(false);
            self.irq12.set(false);
        }
        self.refill();
        self.state.last_read as u32
    }

    fn write(&mut self, port: u16, _size: u8, value: u32) {
        if port == KBC_CMD {
            self.command(value as u8);
        } else {
            self.data(value as u8);
        }
    }
}

#[cfg(test)]
#[path = "i8042_tests.rs"]
mod tests;
