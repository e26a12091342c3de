//! moca-sim: a thin, generic Verilator binding and an Icarus Verilog replay path, used to run
//! the Verilog that moca emits in lockstep with the pure-Rust golden models.
//!
//! - [`verilator`]: [`VerilatedModel::build`] turns Verilog text into a cached shared library
//!   (Verilator 5 `--cc` + a generated C ABI shim, see [`shim`]) and drives it from Rust.
//!   Parameters picked at run time are just different Verilog text: nothing in moca is
//!   recompiled.
//! - [`iverilog`]: [`iverilog::replay`] replays a recorded stimulus in Icarus Verilog with a
//!   generated test bench, as an independent second simulator.
//! - [`cosim`]: lockstep co-simulation of the Verilog against a golden model, with a precise
//!   first-mismatch report ([`cosim::run`]).
//! - [`ports`]: the port parser shared by both (rust-hdl's non-ANSI style and ANSI headers).
//!
//! # Cycle convention
//!
//! Both simulators, and the golden models they are compared with, see a cycle the same way:
//!
//! 1. **set inputs** for cycle `n` (the clock is low);
//! 2. **eval**: combinational logic settles;
//! 3. **read outputs**: these are the values compared with the golden model's outputs for
//!    cycle `n`, which see the registers' *current* values (before this cycle's edge);
//! 4. **rising clock edge**, then **eval**: registers take their next values; cycle `n + 1`
//!    starts.
//!
//! With Verilator: `set(..)`, [`eval`](VerilatedModel::eval), `get(..)`, then
//! [`tick(clock)`](VerilatedModel::tick). In a VCD, inputs change at `10n` and the clock rises
//! at `10n + 5`. The Icarus bench applies inputs at `10n`, samples at `10n + 1` and raises the
//! clock at `10n + 5`, so both produce the same values cycle by cycle.
//!
//! Initial state: `initial` blocks run before cycle 0 in both simulators; Verilator is built
//! with `--x-assign 0 --x-initial 0`, so a variable without an `initial` value starts at 0
//! (Icarus reads it as X, see [`iverilog`]).
//!
//! # Example
//! ```no_run
//! use sim::{BuildOptions, VerilatedModel};
//! let verilog = "module top(clock, d, q); input wire clock; input wire [7:0] d;
//!     output reg [7:0] q; initial q = 8'h0; always @(posedge clock) q <= d; endmodule";
//! let mut m = VerilatedModel::build(verilog, "top", &BuildOptions::default())?;
//! let (clock, d, q) = (m.port_id("clock")?, m.port_id("d")?, m.port_id("q")?);
//! m.set(d, 42);
//! m.eval();
//! assert_eq!(m.get(q), 0); // registers still hold their current value
//! m.tick(clock);
//! m.eval();
//! assert_eq!(m.get(q), 42);
//! # Ok::<(), sim::SimError>(())
//! ```

pub mod cosim;
pub mod error;
pub mod interface;
pub mod iverilog;
pub mod ports;
pub mod shim;
pub mod stimulus;
mod util;
pub mod verilator;

pub use error::{IVERILOG_INSTALL_HINT, ParseError, SimError, VERILATOR_INSTALL_HINT};
pub use iverilog::IverilogOptions;
pub use ports::{Direction, Port, PortId, parse_ports};
pub use stimulus::ReplayLayout;
pub use verilator::{BuildOptions, BuildOutcome, CYCLE_TIME, CompiledModel, VerilatedModel};
