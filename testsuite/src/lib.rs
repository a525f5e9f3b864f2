//! `ferrite-testsuite` is ferrite's conformance runner. It checks the CPU against suites
//! captured from real hardware: today the SingleStepTests single-instruction suites (one
//! gzipped JSON-lines file per instruction form, see [`sst`]), each test run from a fresh
//! real-mode state and compared register by register and byte by byte with what the
//! hardware did. The `ferrite-testsuite` binary prints per-form pass counts, can enforce a
//! minimum pass rate for CI and regenerates `docs/conformance-sst.md`.
#![deny(missing_docs)]

pub mod sst;
