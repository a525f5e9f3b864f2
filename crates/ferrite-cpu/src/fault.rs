//! Exceptions raised while executing an instruction.

/// Architectural exception vectors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Vector {
    /// #DE divide error.
    DivideError = 0,
    /// #DB debug.
    Debug = 1,
    /// NMI.
    Nmi = 2,
    /// #BP breakpoint (INT3).
    Breakpoint = 3,
    /// #OF overflow (INTO).
    Overflow = 4,
    /// #BR BOUND range exceeded.
    Bound = 5,
    /// #UD invalid opcode.
    InvalidOpcode = 6,
    /// #NM device not available.
    DeviceNotAvailable = 7,
    /// #DF double fault.
    DoubleFault = 8,
    /// #TS invalid TSS.
    InvalidTss = 10,
    /// #NP segment not present.
    SegmentNotPresent = 11,
    /// #SS stack-segment fault.
    StackFault = 12,
    /// #GP general protection.
    GeneralProtection = 13,
    /// #PF page fault.
    PageFault = 14,
    /// #MF x87 floating-point error.
    FpuError = 16,
    /// #AC alignment check.
    AlignmentCheck = 17,
    /// #XM SIMD floating-point exception.
    SimdError = 19,
}

/// An exception an instruction raised; nothing of the instruction has been committed
/// except what the architecture says survives (e.g. REP progress).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fault {
    /// The vector to deliver.
    pub vector: u8,
    /// The error code pushed with it, for the vectors that have one (protected mode).
    pub error_code: Option<u32>,
}

impl Fault {
    /// An exception without an error code.
    pub const fn new(vector: Vector) -> Self {
        Fault { vector: vector as u8, error_code: None }
    }
    /// An exception with an error code.
    pub const fn with_code(vector: Vector, code: u32) -> Self {
        Fault { vector: vector as u8, error_code: Some(code) }
    }
    /// #UD.
    pub const UD: Fault = Fault::new(Vector::InvalidOpcode);
    /// #DE.
    pub const DE: Fault = Fault::new(Vector::DivideError);
    /// #GP(0).
    pub const GP0: Fault = Fault::with_code(Vector::GeneralProtection, 0);
    /// #SS(0).
    pub const SS0: Fault = Fault::with_code(Vector::StackFault, 0);
    /// #MF, an unmasked x87 exception reported at the next waiting x87 instruction.
    pub const MF: Fault = Fault::new(Vector::FpuError);

    /// Whether this vector is a contributory exception for double-fault purposes.
    pub fn is_contributory(&self) -> bool {
        matches!(self.vector, 0 | 10 | 11 | 12 | 13)
    }
}
