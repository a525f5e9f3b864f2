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

    /// Whether `second`, raised while delivering `self`, turns into a double fault (SDM
    /// vol. 3A, table 6-5): contributory then contributory, or #PF then contributory or
    /// #PF. Everything else — a benign first exception, or a contributory one followed by
    /// #PF — is delivered serially (the second is delivered and the first is retried when
    /// the handler returns).
    pub fn escalates_with(&self, second: &Fault) -> bool {
        let pf = Vector::PageFault as u8;
        (self.is_contributory() && second.is_contributory())
            || (self.vector == pf && (second.is_contributory() || second.vector == pf))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_double_fault_classes_follow_sdm_table_6_5() {
        let np = Fault::with_code(Vector::SegmentNotPresent, 0x18);
        let pf = Fault::with_code(Vector::PageFault, 2);
        let (gp, de, ud) = (Fault::GP0, Fault::DE, Fault::UD);
        assert!(gp.escalates_with(&np), "contributory + contributory");
        assert!(de.escalates_with(&gp));
        assert!(pf.escalates_with(&pf), "#PF + #PF");
        assert!(pf.escalates_with(&gp), "#PF + contributory");
        assert!(!np.escalates_with(&pf), "contributory + #PF is serial");
        assert!(!gp.escalates_with(&pf));
        assert!(!ud.escalates_with(&gp), "benign first");
        assert!(!pf.escalates_with(&ud), "benign second");
    }
}
