//! PREMA (Choi & Rhu, HPCA 2020): temporal multiplexing of the whole accelerator with
//! token-based, preemptive priority scheduling.
//!
//! Models (see `data/baselines.md`):
//! - one task at a time on all tiles;
//! - every waiting task gains tokens at each scheduling point in proportion to its priority class
//!   weight (1 / 3 / 9 for moca priorities <= 2 / <= 8 / <= 11) times its normalised waiting time
//!   (waited cycles / its isolated run time on all tiles, from the runtime's predictor);
//! - candidates are the tasks whose tokens reach the threshold (the largest class weight among
//!   waiting tasks); among them the shortest predicted remaining time wins, ties to the earlier
//!   arrival; with no candidate the running task keeps running (an idle accelerator takes the
//!   task with most tokens);
//! - when the choice differs from the running task, the running task is preempted at its next
//!   layer boundary: the simulator charges the checkpoint (writing back the live output through
//!   the shared DRAM) and a restore when the task resumes.
//!
//! Not modelled: PREMA's dynamic choice between checkpoint, kill and drain (always checkpoint).

use crate::metrics::{Bucket, bucket};
use crate::system::{Action, Scheduler, TaskView, View};
use crate::workload::Experiment;
use std::collections::HashMap;

/// PREMA's priority class weight for a moca priority.
pub fn class_weight(priority: u32) -> f64 {
    match bucket(priority) {
        Bucket::Low => 1.0,
        Bucket::Mid => 3.0,
        Bucket::High => 9.0,
    }
}

/// The PREMA scheduler.
#[derive(Debug)]
pub struct PremaScheduler {
    tiles: u32,
    tokens: HashMap<usize, f64>,
    last: u64,
}

impl PremaScheduler {
    /// For an experiment.
    pub fn new(exp: &Experiment) -> Self {
        PremaScheduler {
            tiles: exp.hardware.tiles,
            tokens: HashMap::new(),
            last: 0,
        }
    }

    fn remaining(&self, v: &View, t: &TaskView) -> u64 {
        v.profiles.nets[t.task.network].remaining(self.tiles, t.layer)
    }
}

impl Scheduler for PremaScheduler {
    fn name(&self) -> &'static str {
        "prema"
    }
    fn regulated(&self) -> bool {
        false
    }
    fn decide(&mut self, v: &View) -> Vec<Action> {
        let dt = v.now.saturating_sub(self.last);
        self.last = v.now;
        for w in &v.waiting {
            let iso = v.profiles.nets[w.task.network]
                .remaining(self.tiles, 0)
                .max(1);
            // Waiting time counts from dispatch for a task that arrived within this interval.
            let waited = dt.min(v.now.saturating_sub(w.task.dispatch));
            *self.tokens.entry(w.task.id).or_insert(0.0) +=
                class_weight(w.task.priority) * waited as f64 / iso as f64;
        }
        let running = v.running.first();
        if let Some(r) = running {
            if !r.at_boundary {
                return Vec::new();
            }
        } else if v.free_tiles < self.tiles {
            // A checkpoint is still draining.
            return Vec::new();
        }
        if v.waiting.is_empty() {
            return Vec::new();
        }
        let threshold = v
            .waiting
            .iter()
            .map(|w| class_weight(w.task.priority))
            .fold(0.0, f64::max);
        let tok = |t: &TaskView| self.tokens.get(&t.task.id).copied().unwrap_or(0.0);
        let pool: Vec<&TaskView> = v.waiting.iter().chain(running).collect();
        let cands: Vec<&&TaskView> = pool.iter().filter(|t| tok(t) >= threshold).collect();
        let pick = if cands.is_empty() {
            match running {
                Some(_) => return Vec::new(),
                None => pool
                    .iter()
                    .max_by(|a, b| {
                        tok(a)
                            .total_cmp(&tok(b))
                            .then(b.task.dispatch.cmp(&a.task.dispatch))
                    })
                    .copied(),
            }
        } else {
            cands
                .iter()
                .min_by_key(|t| (self.remaining(v, t), t.task.dispatch, t.task.id))
                .map(|t| **t)
        };
        let Some(pick) = pick else { return Vec::new() };
        match running {
            Some(r) if r.task.id == pick.task.id => Vec::new(),
            Some(r) => vec![Action::Preempt { task: r.task.id }],
            None => vec![Action::Start {
                task: pick.task.id,
                tiles: self.tiles,
                group: None,
            }],
        }
    }
}
