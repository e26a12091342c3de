//! Multi-tenant scheduling policies: MoCA and the three baselines of `data/baselines.md`.
//!
//! Every policy implements [`crate::system::Scheduler`] and runs the same task stream on the same
//! simulated SoC.

pub mod grouping;
pub mod moca;
pub mod planaria;
pub mod prema;
pub mod static_part;

use crate::system::Scheduler;
use crate::workload::Experiment;
use serde::Serialize;
use std::fmt;
use std::str::FromStr;
use thiserror::Error;

/// The policies moca compares.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Policy {
    /// MoCA (HPCA 2023): 2-tile groups, memory-aware scheduler, runtime-configured throttles.
    Moca,
    /// Static partition: 2-tile groups, priority scheduler, no memory regulation.
    Static,
    /// PREMA (HPCA 2020): temporal multiplexing of all tiles with token-based preemption.
    Prema,
    /// Planaria (MICRO 2020): dynamic spatial fission of the tiles.
    Planaria,
}

impl Policy {
    /// All policies, MoCA first.
    pub const ALL: [Policy; 4] = [
        Policy::Moca,
        Policy::Static,
        Policy::Prema,
        Policy::Planaria,
    ];

    /// Lower-case name.
    pub fn name(&self) -> &'static str {
        match self {
            Policy::Moca => "moca",
            Policy::Static => "static",
            Policy::Prema => "prema",
            Policy::Planaria => "planaria",
        }
    }

    /// A fresh scheduler for one run.
    pub fn scheduler(&self, exp: &Experiment) -> Box<dyn Scheduler> {
        match self {
            Policy::Moca => Box::new(moca::MocaScheduler::new(exp)),
            Policy::Static => Box::new(static_part::StaticScheduler::new(exp)),
            Policy::Prema => Box::new(prema::PremaScheduler::new(exp)),
            Policy::Planaria => Box::new(planaria::PlanariaScheduler::new(exp)),
        }
    }
}

impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An unknown policy name.
#[derive(Debug, Error, PartialEq, Eq)]
#[error("unknown policy `{0}`: expected one of moca, static, prema, planaria")]
pub struct UnknownPolicy(pub String);

impl FromStr for Policy {
    type Err = UnknownPolicy;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Policy::ALL
            .into_iter()
            .find(|p| p.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| UnknownPolicy(s.to_string()))
    }
}

/// The artifact's group scheduler score: `priority * 100000 + 100000 * waited / expected`.
pub(crate) fn group_score(priority: u32, waited: u64, expected: u64) -> f64 {
    f64::from(priority) * 100_000.0 + 100_000.0 * waited as f64 / expected.max(1) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The artifact's group scheduler ranks every released task (`workload_priority_mp`), so a
    /// high-priority task that arrives behind a backlog longer than `queue_depth` is still served
    /// first by the static partition and by MoCA.
    #[test]
    fn group_schedulers_rank_the_whole_backlog() {
        use crate::system::{Profiles, System, Task};
        let exp = Experiment::artifact();
        let prof = Profiles::new(&exp);
        let depth = exp.scheduler.queue_depth as usize;
        let n = 4 + depth + 4;
        let mut tasks: Vec<Task> = (0..n)
            .map(|id| Task {
                id,
                network: 3, // squeezenet
                priority: 0,
                dispatch: id as u64,
                target: u64::MAX / 4,
            })
            .collect();
        tasks[n - 1].priority = 11;
        for p in [Policy::Static, Policy::Moca] {
            let r = System::new(&exp, &prof)
                .run(&tasks, p.scheduler(&exp).as_mut())
                .unwrap();
            let high = r.finish[n - 1];
            // It starts on the first group that frees up, ahead of every older low-priority task
            // still waiting (ids 4..n-1), including those beyond the first `queue_depth`.
            let later = (4..n - 1).filter(|&i| r.finish[i] > high).count();
            assert!(
                later >= n - 1 - 4 - 3,
                "{p}: only {later} waiting tasks finished after it"
            );
            assert!(r.finish[n - 2] > high, "{p}");
        }
    }

    #[test]
    fn policy_names_round_trip() {
        for p in Policy::ALL {
            assert_eq!(p.name().parse::<Policy>().unwrap(), p);
        }
        assert_eq!("MoCA".parse::<Policy>().unwrap(), Policy::Moca);
        assert!("fifo".parse::<Policy>().is_err());
    }
}
