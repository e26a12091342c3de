//! Lockstep co-simulation: the emitted Verilog, run in Verilator, against a golden model.
//!
//! One seeded stimulus stream drives both. Every cycle, every output port of the RTL top (the
//! data outputs *and* the status/perf registers it exposes) is compared by name with the golden
//! model's value ([`golden::observe`] names are the Verilog port names). The first mismatch
//! stops the run with a [`Mismatch`]: cycle, signal, RTL and golden values, the last
//! [`HISTORY`] cycles of both as a table, and a VCD around the failing cycle.
//!
//! A block is anything implementing [`CosimBlock`]: the golden model, its stimulus and the
//! port names. [`ThrottleBlock`], [`ArbiterBlock`], [`TileBlock`] and [`SocBlock`] are provided; the engine ([`run`],
//! [`run_compiled`]) takes the Verilog text and the top module's name, so it does not depend
//! on how the Verilog was produced.
//!
//! # How a run proceeds
//! Cycles are processed in batches of [`BATCH`]: the golden model and the stimulus run a
//! batch in a second thread (timed separately, giving the golden model's speed), recording the
//! inputs and golden outputs, and stay at most a few batches ahead; the calling thread replays
//! each batch's inputs on the RTL following the crate's cycle convention (set inputs, eval,
//! read outputs, tick) and compares each cycle. On two free cores a lockstep run is about as
//! fast as the slower of the two sides. The stimulus only ever
//! reacts to the golden model's outputs, which equal the RTL's up to the first mismatch, so
//! the two halves see exactly the same stream.
//!
//! On a mismatch the run is replayed from cycle 0 with a traced model (unless the whole run was
//! already traced) to write the VCD from [`VCD_BEFORE`] cycles before the failure to a few
//! cycles after it, and the block is replayed once more to the failing cycle so that its
//! statistics cover exactly the cycles run.
//!
//! # Files
//! - `mod.rs`: the [`CosimBlock`] and [`BackDoor`] interfaces;
//! - `engine.rs`: binding a model's ports, the lockstep loop ([`run`], [`run_compiled`]), the
//!   VCD replay around a mismatch, and [`rtl_watch`];
//! - `report.rs`: [`CosimReport`], [`Mismatch`] and the history table;
//! - `record.rs`: [`Recording`] (a stimulus with golden outputs, for other simulators);
//! - one file per block adapter: `throttle.rs`, `arbiter.rs`, `tile.rs`, `soc.rs`.

mod arbiter;
mod engine;
mod record;
mod report;
mod soc;
#[cfg(test)]
mod tests;
mod throttle;
mod tile;

pub use arbiter::{ArbiterBlock, ArbiterStats};
pub use engine::{CosimOptions, rtl_watch, run, run_compiled};
pub use record::Recording;
pub use report::{CosimReport, History, HistoryRow, Mismatch, SignalDiff};
pub use soc::{SocBlock, SocStats};
pub use throttle::{ThrottleBlock, ThrottleStats};
pub use tile::{TileBlock, TileScenario, TileStats};

use crate::error::SimError;
use crate::interface::Declared;
use crate::ports::PortId;
use crate::verilator::VerilatedModel;
use golden::observe::Ports;

/// Cycles of both simulations shown before (and including) a mismatch.
pub const HISTORY: usize = 32;
/// Cycles per batch (golden batch, then RTL batch); also the progress granularity.
pub const BATCH: usize = 4096;
/// The mismatch VCD starts this many cycles before the failing cycle.
pub const VCD_BEFORE: u64 = 64;
/// Batches the golden side may run ahead of the RTL side.
pub(crate) const PIPELINE: usize = 3;
/// The mismatch VCD ends this many cycles after the failing cycle.
pub const VCD_AFTER: u64 = 4;

/// A block that can be co-simulated: a golden model, its seeded stimulus and the names of the
/// RTL ports it drives and checks.
pub trait CosimBlock {
    /// Short name (`throttle`, `arbiter`).
    fn name(&self) -> &str;
    /// Name of the clock input of the RTL top.
    fn clock(&self) -> &str {
        "clock"
    }
    /// The block's ports as the golden model declares them (names, directions, widths), in
    /// the order of [`step`](Self::step)'s `inputs` and `outputs`.
    fn declared(&self) -> &Declared;
    /// The RTL input ports the stimulus drives (every input but the clock), in the order of
    /// [`step`](Self::step)'s `inputs`.
    fn input_names(&self) -> &[String] {
        &self.declared().inputs
    }
    /// The RTL output ports compared every cycle (every output), in the order of
    /// [`step`](Self::step)'s `outputs`.
    fn output_names(&self) -> &[String] {
        &self.declared().outputs
    }
    /// One cycle: generate this cycle's inputs (reacting to the golden model's previous
    /// outputs), step the golden model, and write the raw port values of the inputs and of the
    /// golden outputs (`inputs.len() == input_names().len()`, same for outputs).
    fn step(&mut self, inputs: &mut [u64], outputs: &mut [u64]);
    /// Return to cycle 0: a fresh golden model and the stimulus re-seeded with the same seed.
    fn reset(&mut self);
    /// RTL ports outside the lockstep comparison (a test back door): inputs stay 0 during the
    /// lockstep, outputs are not compared. Only [`prologue`](Self::prologue) and
    /// [`epilogue`](Self::epilogue) use them.
    fn backdoor_ports(&self) -> &[golden::observe::Port] {
        &[]
    }
    /// Before lockstep cycle 0 (e.g. preload memory through the back door). Clock cycles run
    /// here are not compared and must leave the observable state unchanged.
    fn prologue(&mut self, _rtl: &mut dyn BackDoor) -> Result<(), SimError> {
        Ok(())
    }
    /// After a lockstep run without a mismatch (e.g. read results through the back door).
    fn epilogue(&mut self, _rtl: &mut dyn BackDoor) -> Result<(), SimError> {
        Ok(())
    }
}

/// Access to the RTL model by port name, outside the lockstep (see
/// [`CosimBlock::prologue`]).
pub trait BackDoor {
    /// Drive an input port.
    fn set(&mut self, port: &str, value: u64) -> Result<(), SimError>;
    /// Evaluate the combinational logic and read a port.
    fn get(&mut self, port: &str) -> Result<u64, SimError>;
    /// One rising clock edge.
    fn tick(&mut self);
}

pub(crate) struct ModelDoor<'a> {
    pub(crate) m: &'a mut VerilatedModel,
    pub(crate) clock: PortId,
}

impl BackDoor for ModelDoor<'_> {
    fn set(&mut self, port: &str, value: u64) -> Result<(), SimError> {
        let id = self.m.port_id(port)?;
        self.m.try_set(id, value)
    }
    fn get(&mut self, port: &str) -> Result<u64, SimError> {
        let id = self.m.port_id(port)?;
        self.m.eval();
        Ok(self.m.get(id))
    }
    fn tick(&mut self) {
        self.m.tick(self.clock);
    }
}

/// The golden side's port values of one cycle, written into the block's `inputs`/`outputs`
/// buffers in the order of its [`input_names`](CosimBlock::input_names) and
/// [`output_names`](CosimBlock::output_names), which come from the same
/// [`Ports::visit`] walk ([`Ports::port_names`]).
pub(crate) fn write_values(p: &impl Ports, inputs: &mut [u64], outputs: &mut [u64]) {
    let written = p.write_values(inputs, outputs);
    debug_assert_eq!(written, (inputs.len(), outputs.len()));
}
