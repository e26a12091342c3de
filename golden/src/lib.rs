//! moca golden models: pure-Rust, cycle-accurate specifications of the MoCA hardware blocks.
//!
//! Every RTL block in the `hw` crate has a twin here with the same name; co-simulation compares
//! them cycle by cycle. The register map and block parameters live in [`spec`]. The multi-tenant
//! layer (runtime, schedulers, layer-level simulator, experiments) is the separate crate
//! `moca-multitenant` in `golden/multitenant/`, which depends on this one and never the reverse,
//! so a change there rebuilds neither `hw` nor `sim`.
#![warn(missing_docs)]

pub mod arbiter;
pub mod cfg;
pub mod compile;
pub mod observe;
pub mod regs;
pub mod soc;
pub mod spec;
pub mod stimulus;
pub mod throttle;
pub mod tile;
pub mod tile_bench;
