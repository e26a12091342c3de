//! The MoCA scheduler (HPCA 2023).
//!
//! Models: the same 2-tile groups as the static partition, plus
//! - ordering by priority and waiting time relative to the task's *expected* run time
//!   (`estimate_scale` x the runtime's whole-network prediction on a group), over every dispatched
//!   waiting task (the artifact ranks all released tasks; its `QUEUE_DEPTH` is a per-group batch
//!   size of its round-based emulation, not a window, see [`super::static_part`]);
//! - memory-aware co-location: each network has a memory intensity (its predicted DRAM demand over
//!   the whole network, percent of `DRAM_BW`); a candidate whose intensity would push the running
//!   tasks' summed intensity above the contention limit (`dram_max_util_percent`) loses up to one
//!   priority level in proportion to the overflow, so memory-heavy networks (ResNet, YOLO,
//!   AlexNet) tend to be paired with light ones (SqueezeNet, KWS, YOLO-lite) and their demands do
//!   not peak together;
//! - the runtime ([`crate::runtime`]) configures every tile's throttle at each layer start
//!   (enabled by [`Scheduler::regulated`]).

use super::group_score;
use crate::system::{Action, Profiles, Scheduler, View};
use crate::workload::Experiment;

/// The MoCA scheduler.
#[derive(Debug)]
pub struct MocaScheduler {
    tiles_per_task: u32,
    estimate_scale: f64,
    limit: f64,
    intensity: Option<Vec<f64>>,
}

impl MocaScheduler {
    /// For an experiment.
    pub fn new(exp: &Experiment) -> Self {
        MocaScheduler {
            tiles_per_task: exp.hardware.tiles_per_task,
            estimate_scale: exp.scheduler.estimate_scale,
            limit: f64::from(exp.hardware.dram_max_util_percent),
            intensity: None,
        }
    }

    /// Whole-network DRAM demand in percent of `DRAM_BW` on a group of `tiles`.
    pub fn intensities(exp: &Experiment, profiles: &Profiles, tiles: u32) -> Vec<f64> {
        profiles
            .nets
            .iter()
            .map(|n| {
                let d: u64 = n.costs.iter().map(|c| c.from_dram_rows).sum();
                let t = n.remaining(tiles, 0).max(1);
                100.0 * d as f64 / t as f64 / f64::from(exp.hardware.dram_bw_rows_per_cycle)
            })
            .collect()
    }
}

impl Scheduler for MocaScheduler {
    fn name(&self) -> &'static str {
        "moca"
    }
    fn regulated(&self) -> bool {
        true
    }
    fn decide(&mut self, v: &View) -> Vec<Action> {
        let tiles = self.tiles_per_task;
        let intensity = self
            .intensity
            .get_or_insert_with(|| Self::intensities(v.exp, v.profiles, tiles))
            .clone();
        let mut running: f64 = v.running.iter().map(|r| intensity[r.task.network]).sum();
        let mut cands: Vec<_> = v.waiting.iter().collect();
        let mut out = Vec::new();
        for &g in &v.free_groups {
            let score = |t: &crate::system::TaskView| {
                let expected = (self.estimate_scale
                    * v.profiles.nets[t.task.network].remaining(tiles, 0) as f64)
                    as u64;
                let base = group_score(
                    t.task.priority,
                    v.now.saturating_sub(t.task.dispatch),
                    expected,
                );
                let overflow = (running + intensity[t.task.network] - self.limit).max(0.0);
                base - 100_000.0 * (overflow / self.limit).min(1.0)
            };
            let best = cands
                .iter()
                .enumerate()
                .max_by(|a, b| score(a.1).total_cmp(&score(b.1)).then(b.0.cmp(&a.0)))
                .map(|(i, _)| i);
            let Some(i) = best else { break };
            let t = cands.remove(i);
            running += intensity[t.task.network];
            out.push(Action::Start {
                task: t.task.id,
                tiles,
                group: Some(g),
            });
        }
        out
    }
}
