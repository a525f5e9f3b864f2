//! The host side of the display: `--screenshot FILE.png` (the final frame as a PNG) and
//! `--display window` (a `minifb` window showing the guest's screen, refreshed about 60
//! times a second between run slices, with the host keyboard and mouse forwarded to the
//! guest's 8042 as PS/2 set-2 scancodes and mouse packets; closing it stops the run as
//! `interrupted`).

use ferrite_devices::vga::Frame;
use ferrite_machine::{Machine, StopReason, SLICE_INSNS};
use minifb::{Key, KeyRepeat, MouseButton, MouseMode, Scale, ScaleMode, Window, WindowOptions};
use std::fs::File;
use std::io::BufWriter;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// How often the window is redrawn and polled for input.
const REFRESH: Duration = Duration::from_millis(16);
/// The window's size when it opens.
const WINDOW_SIZE: (usize, usize) = (640, 480);
/// Set-2 prefix of the extended keys.
const EXTENDED: u8 = 0xE0;
/// Set-2 prefix of a key release.
const BREAK: u8 = 0xF0;

/// Renders the machine's screen and writes it to `path` as an 8-bit RGB PNG.
pub fn write_screenshot(machine: &Machine, path: &Path) -> Result<(), String> {
    let mut frame = Frame::default();
    machine.render_display(&mut frame);
    write_png(&frame, path).map_err(|e| format!("cannot write screenshot {}: {e}", path.display()))
}

fn write_png(frame: &Frame, path: &Path) -> Result<(), String> {
    let file = File::create(path).map_err(|e| e.to_string())?;
    let mut encoder = png::Encoder::new(BufWriter::new(file), frame.width as u32, frame.height as u32);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let rgb: Vec<u8> = frame.pixels.iter().flat_map(|p| [(p >> 16) as u8, (p >> 8) as u8, *p as u8]).collect();
    let mut writer = encoder.write_header().map_err(|e| e.to_string())?;
    writer.write_image_data(&rgb).map_err(|e| e.to_string())?;
    writer.finish().map_err(|e| e.to_string())
}

/// A window showing the guest's screen.
pub struct WindowDisplay {
    window: Window,
    frame: Frame,
    mouse: Option<(f32, f32)>,
    buttons: u8,
}

impl WindowDisplay {
    /// Opens the window; fails with a one-line reason when there is no display.
    pub fn open() -> Result<WindowDisplay, String> {
        let options = WindowOptions {
            resize: true,
            scale: Scale::X1,
            scale_mode: ScaleMode::AspectRatioStretch,
            ..Default::default()
        };
        let mut window = Window::new("ferrite", WINDOW_SIZE.0, WINDOW_SIZE.1, options)
            .map_err(|e| format!("cannot open the display window (is a graphical display available?): {e}"))?;
        window.set_target_fps(0);
        Ok(WindowDisplay { window, frame: Frame::default(), mouse: None, buttons: 0 })
    }

    /// Runs the machine, refreshing the window between slices, until it stops or the
    /// window is closed (`interrupted`).
    pub fn run(&mut self, machine: &mut Machine) -> StopReason {
        let interrupt = machine.interrupt_handle();
        let mut last = Instant::now();
        loop {
            if interrupt.swap(false, Ordering::Relaxed) {
                return StopReason::Interrupted;
            }
            if let Some(reason) = machine.run_for(SLICE_INSNS) {
                self.refresh(machine);
                return reason;
            }
            if last.elapsed() >= REFRESH {
                last = Instant::now();
                if !self.refresh(machine) {
                    return StopReason::Interrupted;
                }
            }
        }
    }

    /// Draws the screen and forwards input; false once the window is closed.
    fn refresh(&mut self, machine: &mut Machine) -> bool {
        if !self.window.is_open() {
            return false;
        }
        machine.render_display(&mut self.frame);
        let (w, h) = (self.frame.width, self.frame.height);
        if self.window.update_with_buffer(&self.frame.pixels, w, h).is_err() {
            return false;
        }
        let mut codes = Vec::new();
        for key in self.window.get_keys_pressed(KeyRepeat::Yes) {
            push_scancode(&mut codes, key, false);
        }
        for key in self.window.get_keys_released() {
            push_scancode(&mut codes, key, true);
        }
        if !codes.is_empty() {
            machine.key_input(&codes);
        }
        self.forward_mouse(machine);
        self.window.is_open()
    }

    fn forward_mouse(&mut self, machine: &mut Machine) {
        let buttons = [MouseButton::Left, MouseButton::Right, MouseButton::Middle]
            .iter()
            .enumerate()
            .fold(0u8, |b, (i, &button)| b | (self.window.get_mouse_down(button) as u8) << i);
        let pos = self.window.get_mouse_pos(MouseMode::Pass);
        let wheel = self.window.get_scroll_wheel().map_or(0, |(_, dy)| dy.signum() as i32);
        let (dx, dy) = match (pos, self.mouse) {
            (Some((x, y)), Some((lx, ly))) => ((x - lx) as i32, (ly - y) as i32),
            _ => (0, 0),
        };
        if pos.is_some() {
            self.mouse = pos;
        }
        if dx != 0 || dy != 0 || wheel != 0 || buttons != self.buttons {
            self.buttons = buttons;
            machine.mouse_input(dx, dy, -wheel, buttons);
        }
    }
}

/// Appends the set-2 make (or break) bytes of `key`.
fn push_scancode(out: &mut Vec<u8>, key: Key, release: bool) {
    let Some((extended, code)) = set2_code(key) else { return };
    if extended {
        out.push(EXTENDED);
    }
    if release {
        out.push(BREAK);
    }
    out.push(code);
}

/// The set-2 scancode of a host key: (needs the 0xE0 prefix, code).
fn set2_code(key: Key) -> Option<(bool, u8)> {
    use Key::*;
    let plain = |c| Some((false, c));
    let ext = |c| Some((true, c));
    match key {
        A => plain(0x1C),
        B => plain(0x32),
        C => plain(0x21),
        D => plain(0x23),
        E => plain(0x24),
        F => plain(0x2B),
        G => plain(0x34),
        H => plain(0x33),
        I => plain(0x43),
        J => plain(0x3B),
        K => plain(0x42),
        L => plain(0x4B),
        M => plain(0x3A),
        N => plain(0x31),
        O => plain(0x44),
        P => plain(0x4D),
        Q => plain(0x15),
        R => plain(0x2D),
        S => plain(0x1B),
        T => plain(0x2C),
        U => plain(0x3C),
        V => plain(0x2A),
        W => plain(0x1D),
        X => plain(0x22),
        Y => plain(0x35),
        Z => plain(0x1A),
        Key0 => plain(0x45),
        Key1 => plain(0x16),
        Key2 => plain(0x1E),
        Key3 => plain(0x26),
        Key4 => plain(0x25),
        Key5 => plain(0x2E),
        Key6 => plain(0x36),
        Key7 => plain(0x3D),
        Key8 => plain(0x3E),
        Key9 => plain(0x46),
        Backquote => plain(0x0E),
        Minus => plain(0x4E),
        Equal => plain(0x55),
        Backspace => plain(0x66),
        Tab => plain(0x0D),
        LeftBracket => plain(0x54),
        RightBracket => plain(0x5B),
        Backslash => plain(0x5D),
        CapsLock => plain(0x58),
        Semicolon => plain(0x4C),
        Apostrophe => plain(0x52),
        Enter => plain(0x5A),
        LeftShift => plain(0x12),
        RightShift => plain(0x59),
        Comma => plain(0x41),
        Period => plain(0x49),
        Slash => plain(0x4A),
        LeftCtrl => plain(0x14),
        LeftAlt => plain(0x11),
        Space => plain(0x29),
        Escape => plain(0x76),
        F1 => plain(0x05),
        F2 => plain(0x06),
        F3 => plain(0x04),
        F4 => plain(0x0C),
        F5 => plain(0x03),
        F6 => plain(0x0B),
        F7 => plain(0x83),
        F8 => plain(0x0A),
        F9 => plain(0x01),
        F10 => plain(0x09),
        F11 => plain(0x78),
        F12 => plain(0x07),
        NumLock => plain(0x77),
        ScrollLock => plain(0x7E),
        RightAlt => ext(0x11),
        RightCtrl => ext(0x14),
        Insert => ext(0x70),
        Home => ext(0x6C),
        PageUp => ext(0x7D),
        Delete => ext(0x71),
        End => ext(0x69),
        PageDown => ext(0x7A),
        Up => ext(0x75),
        Left => ext(0x6B),
        Down => ext(0x72),
        Right => ext(0x74),
        LeftSuper => ext(0x1F),
        RightSuper => ext(0x27),
        Menu => ext(0x2F),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_scancodes_make_break_and_extended() {
        let mut v = Vec::new();
        push_scancode(&mut v, Key::A, false);
        push_scancode(&mut v, Key::A, true);
        push_scancode(&mut v, Key::Up, false);
        push_scancode(&mut v, Key::Up, true);
        assert_eq!(v, [0x1C, 0xF0, 0x1C, 0xE0, 0x75, 0xE0, 0xF0, 0x75]);
    }

    #[test]
    fn test_png_round_trip() {
        let frame = Frame { width: 2, height: 1, pixels: vec![0x123456, 0xABCDEF] };
        let path = std::env::temp_dir().join(format!("ferrite-png-{}.png", std::process::id()));
        write_png(&frame, &path).unwrap();
        let decoder = png::Decoder::new(std::io::BufReader::new(File::open(&path).unwrap()));
        let mut reader = decoder.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size()];
        reader.next_frame(&mut buf).unwrap();
        assert_eq!(&buf[..6], [0x12, 0x34, 0x56, 0xAB, 0xCD, 0xEF]);
        let _ = std::fs::remove_file(path);
    }
}
