//! moca golden models: pure-Rust, cycle-accurate specifications of the MoCA hardware blocks,
//! and the MoCA runtime and scheduler.
//!
//! Every RTL block in the `hw` crate has a twin here with the same name; co-simulation compares
//! them cycle by cycle. The register map and block parameters live in [`spec`].
#![warn(missing_docs)]

pub mod arbiter;
pub mod cfg;
pub mod compile;
pub mod experiment;
pub mod metrics;
pub mod observe;
pub mod runtime;
pub mod sched;
pub mod soc;
pub mod soc_calibration;
pub mod spec;
pub mod stimulus;
pub mod system;
pub mod throttle;
pub mod tile;
pub mod workload;
