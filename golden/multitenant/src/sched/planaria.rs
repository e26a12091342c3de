//! Planaria (Ghodrati et al., MICRO 2020): dynamic spatial fission of the accelerator.
//!
//! Models (see `data/baselines.md`): the tiles (Planaria's pods) are re-planned among the running
//! and waiting tasks at every arrival and completion:
//! - each task's minimum allocation is the fewest tiles in {1, 2, 4, 8} whose predicted remaining
//!   time (runtime predictor at that tile count) still meets its latency target from now; a task
//!   that cannot meet it even with all tiles gets 1 tile (enough to make progress);
//! - tasks are served by priority, then least slack, each getting its minimum while tiles last;
//! - leftover tiles go, one doubling at a time, to the task whose remaining time drops most per
//!   extra tile;
//! - running tasks adopt a new allocation (or are preempted when they get none) at their next
//!   layer boundary; no memory regulation.
//!
//! Not modelled: Planaria's per-pod dataflow reconfiguration (tiles are identical here).

use crate::system::{Action, Scheduler, TaskView, View};
use crate::workload::Experiment;
use std::collections::HashMap;

/// The Planaria scheduler.
#[derive(Debug)]
pub struct PlanariaScheduler {
    tiles: u32,
    plan: HashMap<usize, u32>,
    members: Vec<usize>,
}

const SIZES: [u32; 4] = [1, 2, 4, 8];

impl PlanariaScheduler {
    /// For an experiment.
    pub fn new(exp: &Experiment) -> Self {
        PlanariaScheduler {
            tiles: exp.hardware.tiles,
            plan: HashMap::new(),
            members: Vec::new(),
        }
    }

    fn sizes(&self) -> impl Iterator<Item = u32> + '_ {
        SIZES.into_iter().filter(|&s| s <= self.tiles)
    }

    fn replan(&mut self, v: &View) {
        let pool: Vec<&TaskView> = v.running.iter().chain(v.waiting.iter()).collect();
        let rem = |t: &TaskView, n: u32| v.profiles.nets[t.task.network].remaining(n, t.layer);
        let elapsed = |t: &TaskView| v.now.saturating_sub(t.task.dispatch);
        let mut order: Vec<(&TaskView, u32, i128)> = pool
            .iter()
            .map(|t| {
                let min = self
                    .sizes()
                    .find(|&n| elapsed(t) + rem(t, n) <= t.task.target)
                    .unwrap_or(1);
                let slack = t.task.target as i128 - elapsed(t) as i128 - rem(t, self.tiles) as i128;
                (*t, min, slack)
            })
            .collect();
        order.sort_by(|a, b| {
            b.0.task
                .priority
                .cmp(&a.0.task.priority)
                .then(a.2.cmp(&b.2))
                .then(a.0.task.dispatch.cmp(&b.0.task.dispatch))
        });
        let mut left = self.tiles;
        let mut alloc: Vec<(&TaskView, u32)> = Vec::new();
        for (t, min, _) in &order {
            if left == 0 {
                alloc.push((t, 0));
                continue;
            }
            let give = self
                .sizes()
                .filter(|&s| s <= left && s <= *min)
                .max()
                .unwrap_or(0);
            left -= give;
            alloc.push((t, give));
        }
        // Leftover tiles: doubling steps with the best gain per extra tile.
        loop {
            let mut best: Option<(usize, u32, f64)> = None;
            for (i, (t, a)) in alloc.iter().enumerate() {
                if *a == 0 {
                    continue;
                }
                let next = a * 2;
                let extra = next - a;
                if next > self.tiles || extra > left {
                    continue;
                }
                let gain = (rem(t, *a) as f64 - rem(t, next) as f64) / f64::from(extra);
                if gain > 0.0 && best.is_none_or(|b| gain > b.2) {
                    best = Some((i, next, gain));
                }
            }
            let Some((i, next, _)) = best else { break };
            left -= next - alloc[i].1;
            alloc[i].1 = next;
        }
        self.plan = alloc.into_iter().map(|(t, a)| (t.task.id, a)).collect();
    }
}

impl Scheduler for PlanariaScheduler {
    fn name(&self) -> &'static str {
        "planaria"
    }
    fn regulated(&self) -> bool {
        false
    }
    fn decide(&mut self, v: &View) -> Vec<Action> {
        let mut members: Vec<usize> = v
            .running
            .iter()
            .chain(v.waiting.iter())
            .map(|t| t.task.id)
            .collect();
        members.sort_unstable();
        if members != self.members {
            self.members = members;
            self.replan(v);
        }
        let mut out = Vec::new();
        let mut free = v.free_tiles;
        // Shrink or preempt first, so that growth and starts find free tiles.
        for r in v.running.iter().filter(|r| r.at_boundary) {
            let want = self.plan.get(&r.task.id).copied().unwrap_or(0);
            if want == 0 {
                out.push(Action::Preempt { task: r.task.id });
            } else if want < r.tiles {
                free += r.tiles - want;
                out.push(Action::Resize {
                    task: r.task.id,
                    tiles: want,
                });
            }
        }
        for r in v.running.iter().filter(|r| r.at_boundary) {
            let want = self.plan.get(&r.task.id).copied().unwrap_or(0);
            if want > r.tiles && want - r.tiles <= free {
                free -= want - r.tiles;
                out.push(Action::Resize {
                    task: r.task.id,
                    tiles: want,
                });
            }
        }
        let mut waiting: Vec<&TaskView> = v.waiting.iter().collect();
        waiting.sort_by(|a, b| {
            b.task
                .priority
                .cmp(&a.task.priority)
                .then(a.task.dispatch.cmp(&b.task.dispatch))
        });
        for w in waiting {
            let want = self.plan.get(&w.task.id).copied().unwrap_or(0);
            if want == 0 || free == 0 {
                continue;
            }
            // Start with what is free now (a power of two up to the plan); grows at boundaries.
            let give = SIZES
                .into_iter()
                .filter(|&s| s <= want && s <= free)
                .max()
                .unwrap_or(0);
            if give > 0 {
                free -= give;
                out.push(Action::Start {
                    task: w.task.id,
                    tiles: give,
                    group: None,
                });
            }
        }
        out
    }
}
