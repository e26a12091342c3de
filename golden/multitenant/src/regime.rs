//! Where can regulation help? The same scheduler with and without MoCA's runtime throttles,
//! over load and QoS.
//!
//! MoCA's gain over the static partition can come from its scheduler (memory-aware pairing,
//! priority- and slack-aware ordering) or from its runtime (per-layer throttling). This module
//! separates them: each run is simulated four times on the same task stream —
//!
//! | variant | scheduler | runtime throttles |
//! |---|---|---|
//! | `static` | static partition | off |
//! | `static+runtime` | static partition | on |
//! | `moca-sched` | MoCA | off |
//! | `moca` | MoCA | on |
//!
//! — and the *load* is an explicit axis: the artifact spaces a stream's dispatches by
//! `CAP_SCALE x` the network's single-tile time; load `x` divides that spacing by `x` (load 1 is
//! the artifact's own arrivals, 2 twice as dense). Nothing is tuned: the loads and QoS levels
//! are the user's grid, every point is reported.

use crate::experiment::{ExperimentError, generate_tasks, task_outcomes};
use crate::metrics::{self, Metrics};
use crate::sched::{moca::MocaScheduler, static_part::StaticScheduler};
use crate::system::SimError;
use crate::system::{Action, Profiles, Scheduler, SimResult, System, View};
use crate::workload::Experiment;
use serde::Serialize;
use thiserror::Error;

/// Smallest and largest load factor accepted.
pub const LOAD_RANGE: (f64, f64) = (0.05, 20.0);

/// A regime study could not run.
#[derive(Debug, Error)]
pub enum RegimeError {
    /// A load factor out of [`LOAD_RANGE`].
    #[error("load {0} is out of range {lo}..={hi} (1 = the artifact's arrivals)", lo = LOAD_RANGE.0, hi = LOAD_RANGE.1)]
    Load(f64),
    /// The task stream could not be generated (unknown set or QoS, task count).
    #[error(transparent)]
    Experiment(#[from] ExperimentError),
    /// The simulation failed.
    #[error(transparent)]
    Sim(#[from] SimError),
}

/// One of the four scheduler/runtime combinations.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum Variant {
    /// Static partition, no throttles.
    #[serde(rename = "static")]
    Static,
    /// Static partition with MoCA's runtime throttles.
    #[serde(rename = "static+runtime")]
    StaticRuntime,
    /// MoCA's scheduler, throttles off.
    #[serde(rename = "moca-sched")]
    MocaSched,
    /// MoCA: its scheduler and its runtime throttles.
    #[serde(rename = "moca")]
    Moca,
}

impl Variant {
    /// All four, in table order.
    pub const ALL: [Variant; 4] = [
        Variant::Static,
        Variant::StaticRuntime,
        Variant::MocaSched,
        Variant::Moca,
    ];

    /// The name used in reports.
    pub fn name(self) -> &'static str {
        match self {
            Variant::Static => "static",
            Variant::StaticRuntime => "static+runtime",
            Variant::MocaSched => "moca-sched",
            Variant::Moca => "moca",
        }
    }

    fn scheduler(self, exp: &Experiment) -> Box<dyn Scheduler> {
        match self {
            Variant::Static => Box::new(Runtime(StaticScheduler::new(exp), false)),
            Variant::StaticRuntime => Box::new(Runtime(StaticScheduler::new(exp), true)),
            Variant::MocaSched => Box::new(Runtime(MocaScheduler::new(exp), false)),
            Variant::Moca => Box::new(Runtime(MocaScheduler::new(exp), true)),
        }
    }
}

/// A scheduler with MoCA's runtime switched on or off.
struct Runtime<S: Scheduler>(S, bool);

impl<S: Scheduler> Scheduler for Runtime<S> {
    fn name(&self) -> &'static str {
        self.0.name()
    }
    fn regulated(&self) -> bool {
        self.1
    }
    fn throttles(&self, task: &crate::system::Task) -> bool {
        self.0.throttles(task)
    }
    fn decide(&mut self, v: &View) -> Vec<Action> {
        self.0.decide(v)
    }
}

/// One point of the grid: a workload set, QoS level, load and seed.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Point {
    /// Workload set.
    pub set: String,
    /// QoS level.
    pub qos: String,
    /// Load factor (1 = the artifact's arrivals).
    pub load: f64,
    /// Seed of the task stream.
    pub seed: u64,
}

/// One variant simulated at one point.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct VariantRun {
    /// The variant.
    pub variant: Variant,
    /// Its metrics.
    pub metrics: Metrics,
    /// Share of layer-cycles that ran with a throttle on (0 without the runtime).
    pub throttled_share: f64,
    /// Share of throttled layer-cycles in which the throttle bound (granted less than the
    /// layer would have taken unthrottled).
    pub binding_share: f64,
}

/// Check a load factor.
pub fn check_load(load: f64) -> Result<f64, RegimeError> {
    let (lo, hi) = LOAD_RANGE;
    if load.is_finite() && (lo..=hi).contains(&load) {
        Ok(load)
    } else {
        Err(RegimeError::Load(load))
    }
}

/// Simulate the four variants at `point` (tasks: the experiment's count if `None`).
pub fn run_point(
    exp: &Experiment,
    profiles: &Profiles,
    point: &Point,
    tasks: Option<usize>,
) -> Result<Vec<VariantRun>, RegimeError> {
    let load = check_load(point.load)?;
    let mut scaled = exp.clone();
    if let Some(c) = scaled.scheduler.cap_scale.get_mut(&point.set) {
        *c /= load;
    }
    let n = tasks.unwrap_or(exp.scheduler.tasks as usize);
    let stream = generate_tasks(&scaled, &point.set, &point.qos, n, point.seed)?;
    Variant::ALL
        .iter()
        .map(|&variant| {
            let mut sched = variant.scheduler(exp);
            let sim: SimResult = System::new(exp, profiles).run(&stream, sched.as_mut())?;
            let outcomes = task_outcomes(&stream, &sim);
            let busy: f64 = stream
                .iter()
                .zip(&sim.finish)
                .map(|(t, &f)| f.saturating_sub(t.dispatch) as f64)
                .sum();
            Ok(VariantRun {
                variant,
                metrics: metrics::compute(&outcomes, &exp.scheduler.single_run_cycles),
                throttled_share: if busy > 0.0 {
                    (sim.throttled_cycles / busy).min(1.0)
                } else {
                    0.0
                },
                binding_share: if sim.throttled_cycles > 0.0 {
                    sim.throttle_binding_cycles / sim.throttled_cycles
                } else {
                    0.0
                },
            })
        })
        .collect()
}

/// The mean over seeds of one variant at one (set, QoS, load).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Cell {
    /// Workload set.
    pub set: String,
    /// QoS level.
    pub qos: String,
    /// Load factor.
    pub load: f64,
    /// The variant.
    pub variant: Variant,
    /// Runs averaged.
    pub runs: usize,
    /// Mean SLA rate over all tasks.
    pub sla: f64,
    /// Mean SLA rate of the high-priority tasks (priority 9..=11), over the runs that had any.
    pub sla_high: Option<f64>,
    /// Mean SLA rate of the low-priority tasks (priority <= 2).
    pub sla_low: Option<f64>,
    /// Mean STP.
    pub stp: f64,
    /// Mean fairness.
    pub fairness: f64,
    /// Mean share of throttled layer-cycles that bound.
    pub binding_share: f64,
}

fn mean(xs: impl Iterator<Item = f64>) -> Option<f64> {
    let (mut n, mut s) = (0usize, 0.0);
    for x in xs {
        n += 1;
        s += x;
    }
    (n > 0).then(|| s / n as f64)
}

/// Average `runs` (each the four variants of one point) over seeds, per (set, QoS, load,
/// variant), in first-seen order.
pub fn aggregate(runs: &[(Point, Vec<VariantRun>)]) -> Vec<Cell> {
    let mut keys: Vec<(String, String, f64)> = Vec::new();
    for (p, _) in runs {
        let k = (p.set.clone(), p.qos.clone(), p.load);
        if !keys.contains(&k) {
            keys.push(k);
        }
    }
    let mut cells = Vec::new();
    for (set, qos, load) in keys {
        for variant in Variant::ALL {
            let vs: Vec<&VariantRun> = runs
                .iter()
                .filter(|(p, _)| p.set == set && p.qos == qos && p.load == load)
                .flat_map(|(_, v)| v.iter().filter(|r| r.variant == variant))
                .collect();
            let m = |f: &dyn Fn(&VariantRun) -> f64| mean(vs.iter().map(|r| f(r))).unwrap_or(0.0);
            cells.push(Cell {
                set: set.clone(),
                qos: qos.clone(),
                load,
                variant,
                runs: vs.len(),
                sla: m(&|r| r.metrics.sla_rate),
                sla_high: mean(
                    vs.iter()
                        .filter_map(|r| r.metrics.sla_rate_by_priority.high),
                ),
                sla_low: mean(vs.iter().filter_map(|r| r.metrics.sla_rate_by_priority.low)),
                stp: m(&|r| r.metrics.stp),
                fairness: m(&|r| r.metrics.fairness),
                binding_share: m(&|r| r.binding_share),
            });
        }
    }
    cells
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttles_off_means_no_throttled_time_and_load_changes_arrivals() {
        let exp = Experiment::artifact();
        let prof = Profiles::new(&exp);
        let p = |load| Point {
            set: "B".into(),
            qos: "H".into(),
            load,
            seed: 3,
        };
        let runs = run_point(&exp, &prof, &p(1.0), Some(24)).unwrap();
        assert_eq!(runs.len(), 4);
        for r in &runs {
            let off = matches!(r.variant, Variant::Static | Variant::MocaSched);
            assert!(!off || r.throttled_share == 0.0, "{:?}", r.variant);
            assert_eq!(r.metrics.tasks, 24);
        }
        // Twice the load: the same tasks arrive twice as densely, so nobody finishes earlier.
        let dense = run_point(&exp, &prof, &p(2.0), Some(24)).unwrap();
        assert!(dense[0].metrics.makespan_cycles < runs[0].metrics.makespan_cycles);
        assert!(dense[0].metrics.sla_rate <= runs[0].metrics.sla_rate);
        let cells = aggregate(&[(p(1.0), runs.clone()), (p(1.0), runs)]);
        assert_eq!(cells.len(), 4);
        assert_eq!(cells[3].runs, 2);
        assert!(check_load(0.0).is_err() && check_load(f64::NAN).is_err());
        assert!(run_point(&exp, &prof, &p(100.0), Some(4)).is_err());
    }
}
