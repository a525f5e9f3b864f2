//! The single-step test format: one gzipped JSON-lines file per instruction form (a header
//! line, then one test per line) plus a `metadata.json` with the undefined-flag masks.
//!
//! Everything here turns untrusted JSON into typed values and reports what is wrong with
//! it as a [`FormatError`]; nothing panics on a malformed file.

use serde_json::{Map, Value};
use std::collections::HashMap;
use std::fmt;

/// The registers a test lists, in a fixed order (the index into [`RegFile`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reg {
    /// AX.
    Ax,
    /// BX.
    Bx,
    /// CX.
    Cx,
    /// DX.
    Dx,
    /// CS selector.
    Cs,
    /// SS selector.
    Ss,
    /// DS selector.
    Ds,
    /// ES selector.
    Es,
    /// SP.
    Sp,
    /// BP.
    Bp,
    /// SI.
    Si,
    /// DI.
    Di,
    /// IP.
    Ip,
    /// FLAGS.
    Flags,
}

/// How many registers a test lists.
pub const REG_COUNT: usize = 14;

impl Reg {
    /// Every register, in index order.
    pub const ALL: [Reg; REG_COUNT] = [
        Reg::Ax,
        Reg::Bx,
        Reg::Cx,
        Reg::Dx,
        Reg::Cs,
        Reg::Ss,
        Reg::Ds,
        Reg::Es,
        Reg::Sp,
        Reg::Bp,
        Reg::Si,
        Reg::Di,
        Reg::Ip,
        Reg::Flags,
    ];

    /// The name the test files use.
    pub fn name(self) -> &'static str {
        ["ax", "bx", "cx", "dx", "cs", "ss", "ds", "es", "sp", "bp", "si", "di", "ip", "flags"][self as usize]
    }

    /// Parses a test-file register name.
    pub fn from_name(name: &str) -> Option<Reg> {
        Reg::ALL.into_iter().find(|r| r.name() == name)
    }
}

/// One 16-bit value per register, indexed by [`Reg`].
pub type RegFile = [u16; REG_COUNT];

/// The exception a test's instruction raised on the real CPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExceptionInfo {
    /// The interrupt vector.
    pub number: u8,
    /// Physical address of the FLAGS word the delivery pushed.
    pub flag_address: u32,
}

/// One single-step test.
#[derive(Debug, Clone, Default)]
pub struct TestCase {
    /// Position of the test in the original suite file.
    pub idx: u64,
    /// Disassembly of the instruction under test.
    pub name: String,
    /// The instruction's bytes (prefixes included).
    pub bytes: Vec<u8>,
    /// Registers before the instruction.
    pub initial: RegFile,
    /// `(physical address, byte)` pairs loaded before the instruction.
    pub initial_ram: Vec<(u32, u8)>,
    /// Registers the instruction changed; `None` means "must be unchanged".
    pub final_regs: [Option<u16>; REG_COUNT],
    /// `(physical address, byte)` pairs expected afterwards.
    pub final_ram: Vec<(u32, u8)>,
    /// Set when the instruction raised an exception.
    pub exception: Option<ExceptionInfo>,
}

impl TestCase {
    /// The value `reg` must hold after the test: its final value, or else its initial one.
    pub fn expected(&self, reg: Reg) -> u16 {
        self.final_regs[reg as usize].unwrap_or(self.initial[reg as usize])
    }
}

/// The header line of a test file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// The instruction's mnemonic as the suite names it.
    pub mnemonic: String,
    /// Per-register compare masks (`regs_mask`); all-ones where the header gives none.
    pub regs_mask: RegFile,
}

/// Something wrong with a test file or the metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormatError(pub String);

impl fmt::Display for FormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for FormatError {}

fn err<T>(msg: impl Into<String>) -> Result<T, FormatError> {
    Err(FormatError(msg.into()))
}

fn field<'a>(obj: &'a Map<String, Value>, key: &str, what: &str) -> Result<&'a Value, FormatError> {
    obj.get(key).ok_or_else(|| FormatError(format!("{what}: missing \"{key}\"")))
}

fn as_object<'a>(v: &'a Value, what: &str) -> Result<&'a Map<String, Value>, FormatError> {
    v.as_object().ok_or_else(|| FormatError(format!("{what}: expected an object")))
}

fn as_uint(v: &Value, max: u64, what: &str) -> Result<u64, FormatError> {
    match v.as_u64() {
        Some(n) if n <= max => Ok(n),
        _ => err(format!("{what}: expected an integer 0..={max}, found {v}")),
    }
}

/// Parses the header line of a test file.
pub fn parse_header(line: &str) -> Result<Header, FormatError> {
    let v: Value = serde_json::from_str(line).map_err(|e| FormatError(format!("header: {e}")))?;
    let top = as_object(&v, "header line")?;
    let h = as_object(field(top, "header", "header line")?, "header")?;
    let mnemonic = h.get("mnemonic").and_then(Value::as_str).unwrap_or("?").to_string();
    let mut regs_mask = [0xFFFF; REG_COUNT];
    if let Some(masks) = h.get("regs_mask") {
        for (name, m) in as_object(masks, "header.regs_mask")? {
            let reg = Reg::from_name(name)
                .ok_or_else(|| FormatError(format!("header.regs_mask: unknown register {name:?}")))?;
            regs_mask[reg as usize] = as_uint(m, 0xFFFF, "header.regs_mask")? as u16;
        }
    }
    Ok(Header { mnemonic, regs_mask })
}

fn parse_ram(v: &Value, what: &str) -> Result<Vec<(u32, u8)>, FormatError> {
    let arr = v.as_array().ok_or_else(|| FormatError(format!("{what}: expected an array")))?;
    arr.iter()
        .map(|pair| match pair.as_array().map(Vec::as_slice) {
            Some([a, b]) => Ok((as_uint(a, u32::MAX as u64, what)? as u32, as_uint(b, 0xFF, what)? as u8)),
            _ => err(format!("{what}: expected [address, byte], found {pair}")),
        })
        .collect()
}

fn parse_regs(v: &Value, what: &str) -> Result<[Option<u16>; REG_COUNT], FormatError> {
    let mut out = [None; REG_COUNT];
    for (name, val) in as_object(v, what)? {
        let reg = Reg::from_name(name).ok_or_else(|| FormatError(format!("{what}: unknown register {name:?}")))?;
        out[reg as usize] = Some(as_uint(val, 0xFFFF, what)? as u16);
    }
    Ok(out)
}

/// Parses one test line.
pub fn parse_test(line: &str) -> Result<TestCase, FormatError> {
    let v: Value = serde_json::from_str(line).map_err(|e| FormatError(format!("test: {e}")))?;
    let t = as_object(&v, "test")?;
    let idx = as_uint(field(t, "idx", "test")?, u64::MAX, "test.idx")?;
    let name = t.get("name").and_then(Value::as_str).unwrap_or("").to_string();
    let what = |s: &str| format!("test {idx}: {s}");
    let bytes = match t.get("bytes").and_then(Value::as_array) {
        Some(a) => a.iter().map(|b| as_uint(b, 0xFF, &what("bytes")).map(|b| b as u8)).collect::<Result<_, _>>()?,
        None => Vec::new(),
    };
    let init = as_object(field(t, "initial", &what("test"))?, &what("initial"))?;
    let init_regs = parse_regs(field(init, "regs", &what("initial"))?, &what("initial.regs"))?;
    let mut initial = [0u16; REG_COUNT];
    for reg in Reg::ALL {
        initial[reg as usize] =
            init_regs[reg as usize].ok_or_else(|| FormatError(what(&format!("initial.regs lacks {}", reg.name()))))?;
    }
    let initial_ram = parse_ram(field(init, "ram", &what("initial"))?, &what("initial.ram"))?;
    let fin = as_object(field(t, "final", &what("test"))?, &what("final"))?;
    let final_regs = match fin.get("regs") {
        Some(r) => parse_regs(r, &what("final.regs"))?,
        None => [None; REG_COUNT],
    };
    let final_ram = match fin.get("ram") {
        Some(r) => parse_ram(r, &what("final.ram"))?,
        None => Vec::new(),
    };
    let exception = match t.get("exception") {
        None | Some(Value::Null) => None,
        Some(e) => {
            let e = as_object(e, &what("exception"))?;
            Some(ExceptionInfo {
                number: as_uint(field(e, "number", &what("exception"))?, 0xFF, &what("exception.number"))? as u8,
                flag_address: as_uint(
                    field(e, "flag_address", &what("exception"))?,
                    u32::MAX as u64,
                    &what("exception.flag_address"),
                )? as u32,
            })
        }
    };
    Ok(TestCase { idx, name, bytes, initial, initial_ram, final_regs, final_ram, exception })
}

/// What `metadata.json` says about one form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormInfo {
    /// `normal`, `undefined`, `undocumented`, `alias`, `fpu`, … (`normal` when absent).
    pub status: String,
    /// ANDed with both FLAGS values before comparing (undefined flags cleared).
    pub flags_mask: u16,
}

impl Default for FormInfo {
    fn default() -> Self {
        FormInfo { status: "normal".into(), flags_mask: 0xFFFF }
    }
}

/// The parsed `metadata.json`: one [`FormInfo`] per form name (`"00"`, `"F7.6"`, …).
#[derive(Debug, Clone, Default)]
pub struct Metadata {
    forms: HashMap<String, FormInfo>,
}

fn form_info(entry: &Map<String, Value>, inherited: &FormInfo, what: &str) -> Result<FormInfo, FormatError> {
    let mut info = inherited.clone();
    if let Some(s) = entry.get("status").and_then(Value::as_str) {
        info.status = s.to_string();
    }
    if let Some(m) = entry.get("flags-mask") {
        info.flags_mask = as_uint(m, 0xFFFF, what)? as u16;
    }
    Ok(info)
}

impl Metadata {
    /// Parses the text of `metadata.json`.
    pub fn parse(text: &str) -> Result<Metadata, FormatError> {
        let v: Value = serde_json::from_str(text).map_err(|e| FormatError(format!("metadata.json: {e}")))?;
        let top = as_object(&v, "metadata.json")?;
        let ops = as_object(field(top, "opcodes", "metadata.json")?, "metadata.json: opcodes")?;
        let mut forms = HashMap::new();
        for (op, entry) in ops {
            let what = format!("metadata.json: opcode {op}");
            let entry = as_object(entry, &what)?;
            let base = form_info(entry, &FormInfo::default(), &what)?;
            if let Some(regs) = entry.get("reg") {
                for (r, sub) in as_object(regs, &what)? {
                    let what = format!("{what} reg {r}");
                    let info = form_info(as_object(sub, &what)?, &base, &what)?;
                    forms.insert(format!("{}.{r}", op.to_ascii_uppercase()), info);
                }
            }
            forms.insert(op.to_ascii_uppercase(), base);
        }
        Ok(Metadata { forms })
    }

    /// What the metadata says about `form` (the file name without `.jsonl.gz`), or the
    /// defaults (no masks) when it says nothing.
    pub fn form(&self, form: &str) -> FormInfo {
        self.forms.get(&form.to_ascii_uppercase()).cloned().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINE: &str = r#"{"idx":7,"name":"div sp","bytes":[247,244,244],
        "initial":{"regs":{"ax":1,"bx":2,"cx":3,"dx":4,"cs":5,"ss":6,"ds":7,"es":8,
        "sp":9,"bp":10,"si":11,"di":12,"ip":13,"flags":2},"ram":[[100,247],[101,244]]},
        "final":{"regs":{"ip":15},"ram":[[200,1]]},
        "exception":{"number":0,"flag_address":200},"hash":"x"}"#;

    #[test]
    fn parses_a_test() {
        let t = parse_test(&LINE.replace('\n', "")).unwrap();
        assert_eq!(t.idx, 7);
        assert_eq!(t.bytes, [247, 244, 244]);
        assert_eq!(t.initial[Reg::Di as usize], 12);
        assert_eq!(t.expected(Reg::Ip), 15);
        assert_eq!(t.expected(Reg::Ax), 1);
        assert_eq!(t.initial_ram, [(100, 247), (101, 244)]);
        assert_eq!(t.exception, Some(ExceptionInfo { number: 0, flag_address: 200 }));
    }

    #[test]
    fn rejects_bad_input_without_panicking() {
        assert!(parse_test("{").is_err());
        assert!(parse_test(r#"{"idx":1}"#).is_err());
        assert!(parse_test(&LINE.replace("\"ax\":1", "\"ax\":70000")).is_err());
        assert!(parse_test(&LINE.replace("\"ax\":1,", "")).is_err());
        assert!(parse_header("[]").is_err());
    }

    #[test]
    fn metadata_masks_per_reg() {
        let m = Metadata::parse(
            r#"{"opcodes":{"08":{"status":"normal","flags-mask":65519},
                "F6":{"reg":{"6":{"status":"normal","flags-mask":63274}}}}}"#,
        )
        .unwrap();
        assert_eq!(m.form("08").flags_mask, 0xFFEF);
        assert_eq!(m.form("F6.6").flags_mask, 63274);
        assert_eq!(m.form("F6.0").flags_mask, 0xFFFF);
        assert_eq!(m.form("99").status, "normal");
    }
}
