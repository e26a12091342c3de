//! Static partition (the MoCA artifact's baseline).
//!
//! Models: four fixed groups of two tiles; a priority scheduler looks at every dispatched waiting
//! task (as the artifact's `workload_priority_mp` does: it ranks all released, unassigned tasks;
//! its `QUEUE_DEPTH` is how many tasks a group receives per scheduling round of its batch
//! emulation, not a window over the oldest tasks), orders them by `priority * 100000 + 100000 * waiting_time / isolated_time`
//! (isolated time = the artifact's `sp_cycles`) and gives each free group (the one that frees up
//! first, as groups are filled at the moment they free up) the best task. No memory regulation:
//! co-running layers take what the DRAM arbitration gives them.

use super::group_score;
use crate::system::{Action, Scheduler, View};
use crate::workload::Experiment;

/// The static-partition scheduler.
#[derive(Debug)]
pub struct StaticScheduler {
    tiles_per_task: u32,
    isolated: Vec<u64>,
}

impl StaticScheduler {
    /// For an experiment.
    pub fn new(exp: &Experiment) -> Self {
        StaticScheduler {
            tiles_per_task: exp.hardware.tiles_per_task,
            isolated: exp.scheduler.sp_cycles.clone(),
        }
    }
}

impl Scheduler for StaticScheduler {
    fn name(&self) -> &'static str {
        "static"
    }
    fn regulated(&self) -> bool {
        false
    }
    fn decide(&mut self, v: &View) -> Vec<Action> {
        let mut cands: Vec<_> = v.waiting.iter().collect();
        let mut out = Vec::new();
        for &g in &v.free_groups {
            let best = cands
                .iter()
                .enumerate()
                .max_by(|a, b| {
                    let sa = group_score(
                        a.1.task.priority,
                        v.now.saturating_sub(a.1.task.dispatch),
                        self.isolated[a.1.task.network],
                    );
                    let sb = group_score(
                        b.1.task.priority,
                        v.now.saturating_sub(b.1.task.dispatch),
                        self.isolated[b.1.task.network],
                    );
                    sa.total_cmp(&sb).then(b.0.cmp(&a.0))
                })
                .map(|(i, _)| i);
            let Some(i) = best else { break };
            let t = cands.remove(i);
            out.push(Action::Start {
                task: t.task.id,
                tiles: self.tiles_per_task,
                group: Some(g),
            });
        }
        out
    }
}
