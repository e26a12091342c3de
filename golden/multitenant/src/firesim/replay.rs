//! Replay a recorded FireSim run through moca's models: the same tasks on the same sub-groups in
//! the same order, round by round ([`super::harness::plan`]); the four sub-groups' slot
//! sequences are simulated together, layer by layer, sharing the L2 and DRAM through the
//! simulator's physics ([`System::corun_rates`]); MoCA's regulated layers get their throttle
//! registers from the runtime ([`runtime::decide`]) as in [`System::run`]; the harness'
//! accounting ([`super::harness::account`]) then turns the durations into latencies, SLA and
//! makespan exactly as the artifact printed them.

use super::data::{NetConsts, RunTrace, SUB_GROUPS};
use super::harness::{self, Accounting, Indexing, Plan, RoundTiming, Seg, Slot, TILES};
use crate::runtime::{self, CoRunner, TaskState, ThrottleRegs};
use crate::system::{CoRunLayer, LayerWork, Profiles, System};
use crate::workload::Experiment;
use serde::Serialize;
use std::collections::BTreeMap;
use thiserror::Error;

/// Why a replay failed.
#[derive(Debug, Error)]
pub enum ReplayError {
    /// The harness' control flow could not be replayed.
    #[error(transparent)]
    Harness(#[from] harness::HarnessError),
    /// The simulator could not time a layer (a throttle setting that never grants).
    #[error(transparent)]
    Sim(#[from] crate::system::SimError),
    /// The trace names a network moca does not model, or with another layer count.
    #[error("network `{name}`: {message}")]
    Network {
        /// Network.
        name: String,
        /// What is wrong.
        message: String,
    },
}

/// One layer job of a tile program.
#[derive(Clone, Copy, Debug)]
struct Job {
    task: usize,
    net: usize,
    layer: usize,
    throttled: bool,
    /// A memory-only pass of this many DRAM rows (the network's work beyond its layer table)
    /// instead of a layer, when > 0.
    aux_rows: f64,
}

/// A timed layer, for calibration and inspection.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct LayerSpan {
    /// Task.
    pub task: usize,
    /// Layer index.
    pub layer: usize,
    /// Tiles.
    pub tiles: u32,
    /// Start cycle (in the round).
    pub start: f64,
    /// End cycle.
    pub end: f64,
}

/// One tile program of a slot: `shared` on both tiles, then `t0` / `t1` on one tile each.
#[derive(Clone, Debug, Default)]
struct SlotJobs {
    shared: Vec<Job>,
    t0: Vec<Job>,
    t1: Vec<Job>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Part {
    Shared,
    T0,
    T1,
}

#[derive(Clone, Copy, Debug)]
struct Exec {
    lane: usize,
    part: Part,
    job: Job,
    left: f64,
    layer: CoRunLayer,
    rt_demand: u32,
    rt_score: u32,
    start: f64,
}

/// Per-task facts the engine needs (priority, target, dispatch) for MoCA's runtime.
#[derive(Clone, Copy, Debug)]
pub struct TaskInfo {
    /// Network index in the experiment.
    pub net: usize,
    /// Priority.
    pub priority: u32,
    /// Dispatch cycle.
    pub dispatch: u64,
    /// Target (cycles from dispatch).
    pub target: u64,
}

/// The layer-level engine: runs up to four sub-groups' slot sequences side by side.
pub struct Engine<'a> {
    sys: System<'a>,
    profiles: &'a Profiles,
    exp: &'a Experiment,
    /// MoCA's runtime configures the throttles of `throttled` segments.
    pub regulated: bool,
    /// Record every layer's span.
    pub record: bool,
    /// Recorded spans.
    pub spans: Vec<LayerSpan>,
}

impl<'a> Engine<'a> {
    /// An engine over an experiment's physics.
    /// An engine over an experiment's physics, with every network's measured non-layer work
    /// (whatever `SimParams::measured_non_layer_work` says: the replay always runs it).
    pub fn new(exp: &'a Experiment, profiles: &'a Profiles) -> Self {
        let mut sys = System::new(exp, profiles);
        sys.set_non_layer_cycles(&super::calibrate::aux_cycles(exp));
        Engine {
            sys,
            profiles,
            exp,
            regulated: false,
            record: false,
            spans: Vec::new(),
        }
    }

    /// Set each network's work beyond its layer table, in cycles on one tile alone
    /// ([`System::set_non_layer_cycles`]).
    pub fn set_aux_cycles(&mut self, cycles: &[u64]) {
        self.sys.set_non_layer_cycles(cycles);
    }

    /// A segment's layer jobs followed by its share of the network's extra work.
    fn jobs(&self, segs: &[Seg], tasks: &[TaskInfo]) -> Vec<Job> {
        let mut out = Vec::new();
        for s in segs {
            let net = tasks[s.task].net;
            for layer in s.layers.clone() {
                out.push(Job {
                    task: s.task,
                    net,
                    layer,
                    throttled: s.throttled,
                    aux_rows: 0.0,
                });
            }
            let rows = self.sys.non_layer_rows(net, s.layers.len());
            if rows > 0.0 {
                out.push(Job {
                    task: s.task,
                    net,
                    layer: s.layers.end.saturating_sub(1),
                    throttled: false,
                    aux_rows: rows,
                });
            }
        }
        out
    }

    fn start(
        &self,
        lane: usize,
        part: Part,
        job: Job,
        active: &[Exec],
        tasks: &[TaskInfo],
        clock: f64,
    ) -> Exec {
        let tiles = if part == Part::Shared { 2 } else { 1 };
        let mut running: Vec<usize> = active.iter().map(|e| e.job.task).collect();
        running.push(job.task);
        running.sort_unstable();
        running.dedup();
        let work = if job.aux_rows > 0.0 {
            LayerWork::memory_pass(job.aux_rows)
        } else {
            self.sys
                .layer_work(job.net, job.layer, tiles, running.len())
        };
        let mut e = Exec {
            lane,
            part,
            job,
            left: 1.0,
            layer: CoRunLayer {
                work,
                tiles,
                regs: ThrottleRegs::OFF,
            },
            rt_demand: 0,
            rt_score: 0,
            start: clock,
        };
        if self.regulated && job.throttled && job.aux_rows == 0.0 {
            let prof = &self.profiles.nets[job.net];
            let pred = prof.pred(tiles, job.layer);
            let others: Vec<CoRunner> = active
                .iter()
                .map(|o| CoRunner {
                    demand_percent: o.rt_demand,
                    score: o.rt_score,
                })
                .collect();
            let t = &tasks[job.task];
            let state = TaskState {
                priority: t.priority,
                remaining_cycles: prof.remaining(tiles, job.layer),
                target_cycles: t.target,
                elapsed_cycles: (clock as u64).saturating_sub(t.dispatch),
            };
            if let Ok(d) = runtime::decide(
                &self.exp.hardware,
                &self.exp.runtime,
                pred,
                prof.rgb_first[job.layer],
                &state,
                &others,
                self.sys.partition,
            ) {
                e.layer.regs = d.regs;
                e.rt_score = d.score;
                e.rt_demand = if prof.rgb_first[job.layer] {
                    0
                } else {
                    pred.demand_percent
                };
            }
        }
        e
    }

    /// Run one round: `lanes[s]` is sub-group s's slot list (`None` = skipped or released),
    /// starting at virtual cycle `t0` (for the runtime's slack). Returns the harness' timing.
    fn round(
        &mut self,
        lanes: &[Vec<Option<SlotJobs>>; SUB_GROUPS],
        tasks: &[TaskInfo],
        t0: u64,
    ) -> Result<RoundTiming, crate::system::SimError> {
        #[derive(Clone, Copy, Default)]
        struct Lane {
            k: usize,
            slot_start: f64,
            cursor: usize,
            c0: usize,
            c1: usize,
            end0: Option<f64>,
            end1: Option<f64>,
            e0: f64,
            e1: f64,
            done: bool,
        }
        let mut timing = RoundTiming::default();
        let mut st = [Lane::default(); SUB_GROUPS];
        let mut active: Vec<Exec> = Vec::new();
        let mut now = 0.0f64;
        // Begin the next runnable slot of lane `s` at `now` (skips and releases take no time
        // but meet at the barrier).
        let begin = |s: usize,
                     st: &mut [Lane; SUB_GROUPS],
                     timing: &mut RoundTiming,
                     now: f64|
         -> Option<Vec<(Part, Job)>> {
            let l = &mut st[s];
            while l.k < lanes[s].len() {
                let start = l.e0.max(l.e1).max(now);
                match &lanes[s][l.k] {
                    None => {
                        timing.slots[s].push((0, 0));
                        l.e0 = start;
                        l.e1 = start;
                        l.k += 1;
                    }
                    Some(sj) => {
                        l.slot_start = start;
                        l.cursor = 0;
                        l.c0 = 0;
                        l.c1 = 0;
                        l.end0 = None;
                        l.end1 = None;
                        if let Some(j) = sj.shared.first() {
                            return Some(vec![(Part::Shared, *j)]);
                        }
                        let mut v = Vec::new();
                        match sj.t0.first() {
                            Some(j) => v.push((Part::T0, *j)),
                            None => l.end0 = Some(start),
                        }
                        match sj.t1.first() {
                            Some(j) => v.push((Part::T1, *j)),
                            None => l.end1 = Some(start),
                        }
                        if v.is_empty() {
                            timing.slots[s].push((0, 0));
                            l.k += 1;
                            continue;
                        }
                        return Some(v);
                    }
                }
            }
            l.done = true;
            None
        };
        for s in 0..SUB_GROUPS {
            if let Some(v) = begin(s, &mut st, &mut timing, now) {
                for (p, j) in v {
                    let e = self.start(s, p, j, &active, tasks, t0 as f64 + now);
                    active.push(e);
                }
            }
        }
        while !active.is_empty() {
            let layers: Vec<CoRunLayer> = active.iter().map(|e| e.layer).collect();
            let rates = self.sys.corun_rates(&layers)?;
            let dt = active
                .iter()
                .zip(&rates)
                .map(|(e, r)| e.left / r)
                .fold(f64::INFINITY, f64::min);
            now += dt;
            for (e, r) in active.iter_mut().zip(&rates) {
                e.left -= (r * dt).min(e.left);
            }
            let (done, rest): (Vec<Exec>, Vec<Exec>) =
                active.into_iter().partition(|e| e.left <= 1e-9);
            active = rest;
            for e in done {
                if self.record {
                    self.spans.push(LayerSpan {
                        task: e.job.task,
                        layer: e.job.layer,
                        tiles: e.layer.tiles,
                        start: e.start,
                        end: now,
                    });
                }
                let s = e.lane;
                let sj = lanes[s][st[s].k]
                    .as_ref()
                    .expect("a running lane has a slot");
                let mut next: Vec<(Part, Job)> = Vec::new();
                match e.part {
                    Part::Shared => {
                        st[s].cursor += 1;
                        if let Some(j) = sj.shared.get(st[s].cursor) {
                            next.push((Part::Shared, *j));
                        } else {
                            match sj.t0.first() {
                                Some(j) => next.push((Part::T0, *j)),
                                None => st[s].end0 = Some(now),
                            }
                            match sj.t1.first() {
                                Some(j) => next.push((Part::T1, *j)),
                                None => st[s].end1 = Some(now),
                            }
                        }
                    }
                    Part::T0 => {
                        st[s].c0 += 1;
                        match sj.t0.get(st[s].c0) {
                            Some(j) => next.push((Part::T0, *j)),
                            None => st[s].end0 = Some(now),
                        }
                    }
                    Part::T1 => {
                        st[s].c1 += 1;
                        match sj.t1.get(st[s].c1) {
                            Some(j) => next.push((Part::T1, *j)),
                            None => st[s].end1 = Some(now),
                        }
                    }
                }
                if let (Some(a), Some(b)) = (st[s].end0, st[s].end1) {
                    let l = &mut st[s];
                    timing.slots[s].push((
                        (a - l.slot_start).round() as u64,
                        (b - l.slot_start).round() as u64,
                    ));
                    l.e0 = a;
                    l.e1 = b;
                    l.k += 1;
                    if let Some(v) = begin(s, &mut st, &mut timing, now) {
                        next.extend(v);
                    }
                }
                for (p, j) in next {
                    let x = self.start(s, p, j, &active, tasks, t0 as f64 + now);
                    active.push(x);
                }
            }
        }
        for s in 0..SUB_GROUPS {
            // Trailing skipped slots still meet at the barrier.
            let l = &st[s];
            let (mut e0, mut e1) = (l.e0, l.e1);
            if l.k > 0 && lanes[s].last().is_some_and(|x| x.is_none()) {
                let m = e0.max(e1);
                e0 = m;
                e1 = m;
            }
            timing.wall[2 * s] = e0.round() as u64;
            timing.wall[2 * s + 1] = e1.round() as u64;
        }
        Ok(timing)
    }
}

/// Simulate a planned run; returns the per-round timing and the harness' accounting.
pub fn simulate(
    engine: &mut Engine,
    plan: &Plan,
    tasks: &[TaskInfo],
    floor: &[u64],
) -> Result<(Vec<RoundTiming>, Accounting), crate::system::SimError> {
    let dispatch: Vec<u64> = tasks.iter().map(|t| t.dispatch).collect();
    let mut timing: Vec<RoundTiming> = Vec::with_capacity(plan.rounds.len());
    let mut clock = [0u64; TILES];
    for rp in &plan.rounds {
        let t0 = clock.iter().copied().max().unwrap_or(0);
        if rp.levels == 0 {
            timing.push(RoundTiming::default());
            for c in clock.iter_mut() {
                *c += harness::EMPTY_ROUND_CYCLES;
            }
            continue;
        }
        let lanes: [Vec<Option<SlotJobs>>; SUB_GROUPS] = std::array::from_fn(|s| {
            rp.sub_groups[s]
                .iter()
                .map(|slot| match slot {
                    Slot::Run(r) => Some(SlotJobs {
                        shared: engine.jobs(&r.shared, tasks),
                        t0: engine.jobs(&r.tile0, tasks),
                        t1: engine.jobs(&r.tile1, tasks),
                    }),
                    _ => None,
                })
                .collect()
        });
        let t = engine.round(&lanes, tasks, t0)?;
        for (c, w) in clock.iter_mut().zip(t.wall) {
            *c += w;
        }
        timing.push(t);
    }
    let acc = harness::account(plan, &timing, &dispatch, floor);
    Ok((timing, acc))
}

/// Per-network figures of a replay.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct NetReport {
    /// Executed tasks compared (executed in the log and in the replay).
    pub tasks: usize,
    /// Mean measured thread runtime (cycles).
    pub measured_mean: u64,
    /// Mean predicted thread runtime (cycles).
    pub predicted_mean: u64,
    /// moca's isolated whole-network time on one 2-tile sub-group (cycles).
    pub isolated_predicted: u64,
    /// `measured_mean / isolated_predicted` (tasks that ran whole).
    pub stretch_measured: Option<f64>,
    /// `predicted_mean / isolated_predicted` (tasks that ran whole).
    pub stretch_predicted: Option<f64>,
}

/// One task of a replay.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TaskReport {
    /// Task id.
    pub task: usize,
    /// Network.
    pub network: String,
    /// Measured thread runtime (0 = never executed).
    pub measured_thread: u64,
    /// Predicted thread runtime.
    pub predicted_thread: u64,
    /// Logged latency.
    pub measured_latency: u64,
    /// Predicted latency (harness accounting).
    pub predicted_latency: u64,
    /// Target.
    pub target: u64,
    /// Logged conv count.
    pub measured_conv: u32,
    /// Replayed conv count.
    pub predicted_conv: u32,
}

/// The report of one replay.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ReplayReport {
    /// Set.
    pub set: String,
    /// QoS.
    pub qos: String,
    /// Policy.
    pub policy: String,
    /// Whether the harness' off-by-one was replayed.
    pub as_logged: bool,
    /// Tasks.
    pub tasks: usize,
    /// Tasks executed in the replay.
    pub executed: usize,
    /// Tasks executed in the log.
    pub executed_measured: usize,
    /// Tasks whose replayed `conv` equals the logged one.
    pub conv_matches: usize,
    /// Mean `|predicted - measured| / measured` thread runtime over tasks executed in both.
    pub task_mean_abs_error: f64,
    /// 90th percentile of the same.
    pub task_p90_abs_error: f64,
    /// Mean signed error (bias) of the same.
    pub task_mean_error: f64,
    /// Logged SLA rate (`latency < target`, all tasks).
    pub sla_rate_measured: f64,
    /// The same from the replay's predicted times.
    pub sla_rate_predicted: f64,
    /// The SLA rate from the predicted durations with every round starting at its logged `T`
    /// (the durations' error without its accumulation over the rounds).
    pub sla_rate_predicted_at_logged_starts: f64,
    /// Logged makespan (max tile runtime).
    pub makespan_measured: u64,
    /// Predicted makespan.
    pub makespan_predicted: u64,
    /// Rounds.
    pub rounds: usize,
    /// Per round: logged and predicted start (`gemmini runtime`).
    pub round_starts: Vec<(u64, u64)>,
    /// Per network.
    pub networks: BTreeMap<String, NetReport>,
    /// Per task.
    pub per_task: Vec<TaskReport>,
}

/// Task facts and network indices of a trace for an experiment.
pub fn task_infos(
    exp: &Experiment,
    trace: &RunTrace,
    nets: &[NetConsts],
) -> Result<Vec<TaskInfo>, ReplayError> {
    trace
        .tasks
        .iter()
        .map(|t| {
            let net = exp
                .network_index(&t.network)
                .ok_or_else(|| ReplayError::Network {
                    name: t.network.clone(),
                    message: format!(
                        "not one of moca's networks ({})",
                        exp.network_names.join(", ")
                    ),
                })?;
            let layers = exp.networks[net].layers.len();
            if let Some(c) = nets
                .get(t.network_id as usize - 1)
                .filter(|c| c.layers as usize != layers)
            {
                return Err(ReplayError::Network {
                    name: t.network.clone(),
                    message: format!(
                        "networks.csv says {} layers, moca's layers.csv has {layers}",
                        c.layers
                    ),
                });
            }
            Ok(TaskInfo {
                net,
                priority: t.priority,
                dispatch: t.dispatched_cycle,
                target: t.target_cycles,
            })
        })
        .collect()
}

/// The recorded run's task stream as the event-driven simulator takes it ([`crate::system::Task`]:
/// network, priority, dispatch cycle and target of every task, in task-id order), for running
/// any policy on the artifact's arrivals (`moca run --arrivals`).
pub fn recorded_tasks(
    exp: &Experiment,
    trace: &RunTrace,
    nets: &[NetConsts],
) -> Result<Vec<crate::system::Task>, ReplayError> {
    Ok(task_infos(exp, trace, nets)?
        .into_iter()
        .enumerate()
        .map(|(id, t)| crate::system::Task {
            id,
            network: t.net,
            priority: t.priority,
            dispatch: t.dispatch,
            target: t.target,
        })
        .collect())
}

/// Run network `net` alone on `tiles` (1 or 2) tiles of one sub-group, with `aux_cycles` of
/// extra work (cycles on one tile alone; see [`Engine::set_aux_cycles`]) for this network.
/// Returns each layer's cycles in order, then the extra work's (if any).
pub fn run_alone(
    exp: &Experiment,
    profiles: &Profiles,
    net: usize,
    tiles: u32,
    aux_cycles: u64,
) -> Result<Vec<f64>, crate::system::SimError> {
    let mut e = Engine::new(exp, profiles);
    let mut aux = vec![0u64; exp.networks.len()];
    aux[net] = aux_cycles;
    e.set_aux_cycles(&aux);
    e.record = true;
    let layers = exp.networks[net].layers.len();
    let t = [TaskInfo {
        net,
        priority: 0,
        dispatch: 0,
        target: u64::MAX,
    }];
    let seg = [Seg {
        task: 0,
        layers: 0..layers,
        throttled: false,
    }];
    let jobs = e.jobs(&seg, &t);
    let slot = if tiles >= 2 {
        SlotJobs {
            shared: jobs,
            ..Default::default()
        }
    } else {
        SlotJobs {
            t0: jobs,
            ..Default::default()
        }
    };
    let lanes: [Vec<Option<SlotJobs>>; SUB_GROUPS] = std::array::from_fn(|s| {
        if s == 0 {
            vec![Some(slot.clone())]
        } else {
            vec![]
        }
    });
    e.round(&lanes, &t, 0)?;
    Ok(e.spans.iter().map(|s| s.end - s.start).collect())
}

/// moca's isolated time of each network, whole (with its measured extra work), on one 2-tile
/// sub-group.
pub fn isolated_two_tile(
    exp: &Experiment,
    profiles: &Profiles,
) -> Result<Vec<u64>, crate::system::SimError> {
    let aux = super::calibrate::aux_cycles(exp);
    (0..exp.networks.len())
        .map(|net| {
            Ok(run_alone(exp, profiles, net, 2, aux[net])?
                .iter()
                .sum::<f64>()
                .round() as u64)
        })
        .collect()
}

/// 90th percentile (nearest rank) of `xs`.
pub fn p90(xs: &[f64]) -> f64 {
    if xs.is_empty() {
        return f64::NAN;
    }
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    let rank = ((0.9 * v.len() as f64).ceil() as usize).clamp(1, v.len());
    v[rank - 1]
}

/// Replay one recorded run.
pub fn replay(
    exp: &Experiment,
    profiles: &Profiles,
    trace: &RunTrace,
    nets: &[NetConsts],
    indexing: Indexing,
) -> Result<ReplayReport, ReplayError> {
    let plan = harness::plan(trace, nets, indexing)?;
    let infos = task_infos(exp, trace, nets)?;
    let floor: Vec<u64> = trace
        .tasks
        .iter()
        .map(|t| {
            nets.get(t.network_id as usize - 1)
                .map_or(0, |c| c.tp_prediction)
        })
        .collect();
    let mut engine = Engine::new(exp, profiles);
    engine.regulated = trace.policy == "moca";
    let (timing, acc) = simulate(&mut engine, &plan, &infos, &floor)?;
    let logged_starts: Vec<u64> = trace.rounds.iter().map(|r| r.start).collect();
    let dispatch: Vec<u64> = infos.iter().map(|t| t.dispatch).collect();
    let at_logged = harness::account_from(&plan, &timing, &dispatch, &floor, Some(&logged_starts));
    let iso = isolated_two_tile(exp, profiles)?;
    let n = trace.tasks.len();
    let mut errs = Vec::new();
    let mut per_task = Vec::with_capacity(n);
    // Per network: measured, predicted, measured whole, predicted whole, network index.
    type NetAcc = (Vec<u64>, Vec<u64>, Vec<u64>, Vec<u64>, usize);
    let mut by_net: BTreeMap<String, NetAcc> = BTreeMap::new();
    for (i, t) in trace.tasks.iter().enumerate() {
        let (m, p) = (t.thread_runtime_cycles, acc.thread[i]);
        let e = by_net.entry(t.network.clone()).or_default();
        e.4 = infos[i].net;
        if m > 0 && p > 0 {
            errs.push((p as f64 - m as f64) / m as f64);
            e.0.push(m);
            e.1.push(p);
            if t.conv == t.network_layers && plan.conv[i] == t.network_layers {
                e.2.push(m);
                e.3.push(p);
            }
        }
        per_task.push(TaskReport {
            task: i,
            network: t.network.clone(),
            measured_thread: m,
            predicted_thread: p,
            measured_latency: t.latency_cycles,
            predicted_latency: acc.latency[i],
            target: t.target_cycles,
            measured_conv: t.conv,
            predicted_conv: plan.conv[i],
        });
    }
    let mean = |v: &[u64]| {
        if v.is_empty() {
            0
        } else {
            (v.iter().map(|&x| x as f64).sum::<f64>() / v.len() as f64).round() as u64
        }
    };
    let networks = by_net
        .into_iter()
        .map(|(name, (m, p, mw, pw, net))| {
            let isol = iso[net];
            let stretch =
                |v: &[u64]| (!v.is_empty() && isol > 0).then(|| mean(v) as f64 / isol as f64);
            (
                name,
                NetReport {
                    tasks: m.len(),
                    measured_mean: mean(&m),
                    predicted_mean: mean(&p),
                    isolated_predicted: isol,
                    stretch_measured: stretch(&mw),
                    stretch_predicted: stretch(&pw),
                },
            )
        })
        .collect();
    let abs: Vec<f64> = errs.iter().map(|e| e.abs()).collect();
    let targets: Vec<u64> = trace.tasks.iter().map(|t| t.target_cycles).collect();
    let met_measured = trace
        .tasks
        .iter()
        .filter(|t| t.latency_cycles < t.target_cycles)
        .count();
    Ok(ReplayReport {
        set: trace.set.clone(),
        qos: trace.qos.clone(),
        policy: trace.policy.clone(),
        as_logged: indexing == Indexing::AsLogged,
        tasks: n,
        executed: acc.thread.iter().filter(|&&t| t > 0).count(),
        executed_measured: trace.tasks.iter().filter(|t| t.executed).count(),
        conv_matches: trace
            .tasks
            .iter()
            .zip(&plan.conv)
            .filter(|(t, c)| t.conv == **c)
            .count(),
        task_mean_abs_error: abs.iter().sum::<f64>() / abs.len().max(1) as f64,
        task_p90_abs_error: p90(&abs),
        task_mean_error: errs.iter().sum::<f64>() / errs.len().max(1) as f64,
        sla_rate_measured: met_measured as f64 / n.max(1) as f64,
        sla_rate_predicted: acc.sla_met(&targets) as f64 / n.max(1) as f64,
        sla_rate_predicted_at_logged_starts: at_logged.sla_met(&targets) as f64 / n.max(1) as f64,
        makespan_measured: trace.summary.makespan_cycles,
        makespan_predicted: acc.makespan,
        rounds: trace.rounds.len(),
        round_starts: trace
            .rounds
            .iter()
            .map(|r| r.start)
            .zip(acc.round_start.iter().copied())
            .collect(),
        networks,
        per_task,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::firesim::data::{TraceFiles, embedded_networks};

    #[test]
    fn replay_of_a_small_run_is_consistent() {
        let exp = Experiment::artifact();
        let profiles = Profiles::new(&exp);
        let files = TraceFiles::embedded();
        let tr = files.load("A", "M", "static").unwrap();
        let r = replay(
            &exp,
            &profiles,
            &tr,
            &embedded_networks(),
            Indexing::AsLogged,
        )
        .unwrap();
        assert_eq!(r.tasks, 250);
        assert_eq!(r.executed, 250);
        assert_eq!(r.conv_matches, 250);
        assert!(r.task_mean_abs_error.is_finite() && r.task_mean_abs_error < 1.0);
        assert!(r.makespan_predicted > 100_000_000);
        // Every executed task's latency is at least its thread runtime or the floor.
        for t in &r.per_task {
            assert!(t.predicted_latency >= t.predicted_thread.min(1000) || t.predicted_latency > 0);
        }
    }
}
