//! `moca run`, `moca sweep`, `moca runtime` and `moca calibrate`: the multi-tenant experiments.
//!
//! The heavy lifting lives in `multitenant` (`multitenant::experiment`, `multitenant::system`, `multitenant::sched`,
//! `multitenant::runtime`); this module parses flags, runs in parallel and writes reports.

use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use multitenant::experiment::{self, Cell, RunConfig, RunReport};
use multitenant::runtime::{self, CoRunner, Partition, TaskState};
use multitenant::sched::Policy;
use multitenant::system::Profiles;
use multitenant::workload::{Experiment, WorkloadError};
use rayon::prelude::*;
use serde_json::json;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Instant;

mod calibrate;
mod charts;
mod report;
mod run;
mod runtime_cmd;
mod sweep;

pub use calibrate::*;
use charts::*;
use report::*;
pub use run::*;
pub use runtime_cmd::*;
pub use sweep::*;

/// Where the experiment comes from (shared by every command).
#[derive(clap::Args, Debug, Clone, Default)]
pub struct ExperimentSource {
    /// Experiment/SoC TOML in the format of `data/moca-artifact.toml` (default: the embedded
    /// artifact constants). An optional `[simulator]` table overrides the simulator's SoC
    /// parameters; an optional top-level `layers = "file.csv"` adds networks.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Extra layer CSV (same columns as `data/layers.csv`) replacing networks of the same name.
    /// New networks must also be listed in the TOML's `networks` with their constants.
    #[arg(long, value_name = "FILE")]
    pub layers: Option<PathBuf>,
}

impl ExperimentSource {
    /// Load the experiment.
    pub fn load(&self) -> Result<Experiment> {
        let mut exp = match &self.config {
            Some(p) => Experiment::from_file(p)?,
            None => Experiment::artifact(),
        };
        if let Some(p) = &self.layers {
            let text = std::fs::read_to_string(p).map_err(|source| WorkloadError::Io {
                file: p.display().to_string(),
                source,
            })?;
            exp = exp.with_layers(&p.display().to_string(), &text)?;
        }
        Ok(exp)
    }
}
