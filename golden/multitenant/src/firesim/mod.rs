//! Validation against the MoCA artifact's FireSim measurements (`data/firesim/`): the trace
//! files ([`data`]), the artifact's scheduling harness ([`harness`]), the replay of a recorded
//! run through moca's models ([`replay`]) and the calibration of the physics against the
//! measurements ([`calibrate`]).

pub mod calibrate;
pub mod data;
pub mod harness;
pub mod replay;
