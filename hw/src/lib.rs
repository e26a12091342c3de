//! moca RTL: the MoCA hardware blocks written in Rust-HDL.
//!
//! Every block here has a golden twin of the same name in the `golden` crate, which is its
//! specification; tests and the `sim` crate co-simulate the two cycle by cycle. Register
//! addresses, widths and parameters come from `golden::spec`.
#![warn(missing_docs)]

pub mod arbiter;
pub mod emit;
pub mod formal;
pub mod harness;
pub mod keep;
pub mod regfile;
pub mod soc;
pub mod throttle;
pub mod tile;
pub mod tile_bench;

pub use rust_hdl;
