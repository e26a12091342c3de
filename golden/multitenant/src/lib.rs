//! moca's multi-tenant layer: the MoCA runtime (per-layer prediction, contention detection,
//! bandwidth split, register values), the schedulers (MoCA, static partition, PREMA, Planaria),
//! the event-driven layer-level simulator, the workloads, the metrics, the experiments and the
//! calibrations against the golden SoC and the artifact.
//!
//! It meets the hardware layer (the `golden` crate) only through the register map
//! ([`golden::spec`]) and the SoC calibration ([`soc_calibration`]), which runs the cycle-exact
//! golden SoC.
#![warn(missing_docs)]

pub mod experiment;
pub mod firesim;
pub mod metrics;
pub mod regime;
pub mod runtime;
pub mod sched;
pub mod soc_calibration;
pub mod system;
pub mod throttle_model;
pub mod workload;
