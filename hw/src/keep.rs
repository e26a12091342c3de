//! [`KeepBit`]: a wire that synthesis keeps as a net of its own.
//!
//! `q` follows `d` in the same cycle (no register). The Verilog marks the net `(* keep *)`,
//! which yosys honours in technology mapping: the logic driving `d` and the logic reading `q`
//! are mapped as two cones, so ABC can neither merge the driving cone into every reader (and
//! duplicate it, as its delay-oriented mapping does with a wide fan-out) nor restructure
//! across it. The arbiter puts its picker decisions on such nets (`hw::arbiter`): a measured
//! gain in ECP5 Fmax (docs/HARDWARE.md "Arbiter timing"). Behaviour is unchanged; simulators
//! and equivalence checkers see a plain wire.

use rust_hdl::prelude::*;

/// A kept wire: `q = d`.
#[derive(LogicBlock, Default)]
pub struct KeepBit {
    /// Input.
    pub d: Signal<In, Bit>,
    /// Output, equal to `d`.
    pub q: Signal<Out, Bit>,
}

impl Logic for KeepBit {
    fn update(&mut self) {
        self.q.next = self.d.val();
    }

    fn connect(&mut self) {
        self.q.connect();
    }

    fn hdl(&self) -> Verilog {
        Verilog::Custom("(* keep *) wire k;\nassign k = d;\nalways @(*) q = k;\n".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The Verilog keeps the net and passes `d` through (the Rust model, `q = d`, is checked
    /// against golden in the arbiter's tests, whose picker reads every decision through it).
    #[test]
    fn the_net_is_kept_and_follows_d() {
        let mut k = KeepBit::default();
        k.connect_all();
        let v = generate_verilog(&k);
        assert!(v.contains("(* keep *) wire k;"), "{v}");
        assert!(v.contains("assign k = d;") && v.contains("q = k;"), "{v}");
    }
}
