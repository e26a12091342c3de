//! Event-driven multi-tenant simulator: tiles, tasks and one shared DRAM channel.
//!
//! Time advances from event to event (task arrival, layer completion); between events every
//! running layer progresses at a constant rate derived from the bandwidth it is granted.
//!
//! # Physical model of a running layer (independent of the runtime's predictor)
//! A layer on `g` tiles has compute `C` cycles (`MACs / DIM^2 / g`), on-chip traffic `L` rows
//! (loads + stores through the tiles' L2 ports, `g * l2_rows_per_cycle_per_tile` rows/cycle),
//! DRAM traffic `D` rows and `n` scratchpad tiles per tile. Gemmini double-buffers the scratchpad,
//! so the steady state is bounded by compute, the L2 port, the DMA's latency bound
//! (`g * inflight / latency`, Little's law) and, because Gemmini's DMA and execute units share one
//! command stream, a fraction `k` (`overlap_serialization`) of the shorter of compute and memory
//! does not overlap: unconstrained, `S = max(C, M0) + k * min(C, M0)` with
//! `M0 = max(L / port, D / latency bound)`. A DRAM share `b` and a throttle (`g * TARGET / WINDOW`
//! beats per cycle as an ideal cap; what the hardware really grants, see below) cap the layer's
//! *average* rate, so they bound the time from below: `S(b) = max(S, D / b, L / throttle)`; granting exactly the demand `D / S` costs nothing, and
//! less makes the layer memory-bound with its compute hidden under the longer memory phases (the
//! cycle-exact SoC behaves this way, `crate::soc_calibration`). The pipeline adds one
//! scratchpad tile of load and compute that cannot overlap (`(C + M0) / n`) and a fixed per-layer
//! overhead. The work `layers.csv` omits (pooling passes, residual adds) is modelled as extra
//! DRAM traffic of `aux_traffic_per_output_row` times the layer's output rows or, with
//! `SimParams::measured_non_layer_work` (the FireSim calibration), as each network's measured
//! non-layer cycles run as one memory-only pass after its last layer ([`System::non_layer_rows`];
//! the FireSim replay runs the same pass after each segment of a network, its share by layers).
//! The layer's DRAM
//! demand is the rate that sustains its unconstrained steady state,
//! `D / S(inf)`. The shared L2's capacity is split among the tasks holding tiles when a layer
//! starts (`cache_rows / k` for `k` tasks, `SimParams::share_l2_capacity`), so co-runners evict
//! each other's reused data and raise each other's DRAM traffic; the runtime's predictor keeps
//! assuming the whole L2, as the artifact's does.
//!
//! # Shared DRAM
//! The channel delivers `dram_peak_rows_per_cycle`, less an interference loss per additional
//! concurrent stream when it is oversubscribed (row-buffer conflicts); the paper's channel is
//! 16 B/cycle = 1 row/cycle for all 8 tiles. A request's latency grows with the channel's
//! utilisation as an M/D/1 queue in front of it (in request service times). When the summed demand fits,
//! everyone gets its demand; otherwise first-come arbitration shares the peak in proportion to
//! demand. A throttled tenant's demand is capped by its throttle, so what it gives up goes to the
//! others.
//!
//! # The throttle as built
//! A throttle is not an exact `TARGET/WINDOW` cap over a layer (the first window after a write
//! is unregulated and each write restarts the credit in today's design). The simulator grants a
//! throttled layer what the golden [`golden::throttle::MemThrottle`] grants it
//! ([`crate::throttle_model`], an exact accelerator of the golden model): at each layer start the
//! runtime's register writes are applied to the state the tiles' throttle is in (carried from the
//! previous layer on the same tiles, idle in between), the layer's per-tile beats are granted to
//! the requests its DMA presents (`MAX_BEATS`-beat requests at the layer's unconstrained memory
//! rate, its rows in flight as slack), and the layer's throttle rate is its beats over those
//! cycles; at the layer's end the throttle is left in the state the golden model
//! reaches after the grant and an idle tail. The state carries per 2-tile group (MoCA, static)
//! or per task (tasks on a tile pool); a task resumed elsewhere starts from a reset throttle.
//! It is selected by `[simulator] throttle_model = "golden"`; the default
//! ([`ThrottleTiming::ExactCap`]) keeps the ideal cap, because the golden throttle costs up to
//! seconds per run where a layer's throttle state does not become periodic quickly
//! (docs/CALIBRATION.md, "The throttle as built").

use crate::runtime::{
    self, CoRunner, LayerCost, LayerPrediction, Overlap, Partition, TaskState, ThrottleRegs,
};
use crate::throttle_model::{Demand, PACE_ONE, ThrottleModel, ThrottleTiming, write_registers};
use crate::workload::{Arbitration, Experiment, LayerShape};
use golden::cfg::ThrottleConfig;
use golden::spec::MAX_BEATS;
use golden::throttle::MemThrottle;
use serde::Serialize;
use std::collections::HashMap;
use thiserror::Error;

/// A task: one inference of a network.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Task {
    /// Index in the task stream.
    pub id: usize,
    /// Network index.
    pub network: usize,
    /// User priority (0..=11).
    pub priority: u32,
    /// Dispatch (arrival) cycle.
    pub dispatch: u64,
    /// Latency target in cycles (from dispatch).
    pub target: u64,
}

/// Per-network predictions at every tile count.
#[derive(Clone, Debug)]
pub struct NetProfile {
    /// Whole-layer costs (the whole shared L2 available, as the runtime's predictor assumes).
    pub costs: Vec<LayerCost>,
    /// `shared_costs[k - 1][layer]`: costs when `k` tasks share the L2's capacity
    /// (`cache_rows / k` each; the simulator's ground truth, see `SimParams::share_l2_capacity`).
    pub shared_costs: Vec<Vec<LayerCost>>,
    /// Whether each layer is an RGB first layer (never throttled, as in the artifact).
    pub rgb_first: Vec<bool>,
    /// `preds[t - 1][layer]`: prediction on `t` tiles.
    pub preds: Vec<Vec<LayerPrediction>>,
    /// `suffix[t - 1][layer]`: predicted cycles from `layer` to the end on `t` tiles.
    pub suffix: Vec<Vec<u64>>,
}

impl NetProfile {
    /// Number of layers.
    pub fn layers(&self) -> usize {
        self.costs.len()
    }
    /// Prediction of `layer` on `tiles` tiles.
    pub fn pred(&self, tiles: u32, layer: usize) -> &LayerPrediction {
        &self.preds[tiles as usize - 1][layer]
    }
    /// Predicted cycles from `layer` (inclusive) to the end on `tiles` tiles.
    pub fn remaining(&self, tiles: u32, layer: usize) -> u64 {
        self.suffix[tiles as usize - 1]
            .get(layer)
            .copied()
            .unwrap_or(0)
    }
}

/// Predictions of every network of an experiment.
#[derive(Clone, Debug)]
pub struct Profiles {
    /// One per network.
    pub nets: Vec<NetProfile>,
    /// Cache of golden-throttle traces shared by every run on these profiles.
    pub throttle: ThrottleModel,
}

impl Profiles {
    /// Build with the runtime's overlap constant.
    pub fn new(exp: &Experiment) -> Self {
        Self::with_overlap(exp, Overlap::Constant(exp.runtime.prediction_overlap))
    }

    /// Build with a given overlap model.
    pub fn with_overlap(exp: &Experiment, overlap: Overlap) -> Self {
        let hw = &exp.hardware;
        let nets = exp
            .networks
            .iter()
            .map(|net| {
                let costs = runtime::network_costs(hw, &net.layers);
                let shared_costs = (1..=u64::from(hw.tiles.max(1)))
                    .map(|k| {
                        let mut h = hw.clone();
                        h.cache_rows = (hw.cache_rows / k).max(1);
                        runtime::network_costs(&h, &net.layers)
                    })
                    .collect();
                let rgb_first = net
                    .layers
                    .iter()
                    .map(|l| matches!(l.shape, LayerShape::Conv { in_channels: 3, .. }))
                    .collect();
                let preds: Vec<Vec<LayerPrediction>> = (1..=hw.tiles)
                    .map(|t| {
                        costs
                            .iter()
                            .map(|c| runtime::predict_layer(hw, c, t, overlap))
                            .collect()
                    })
                    .collect();
                let suffix = preds
                    .iter()
                    .map(|p| {
                        let mut s = vec![0u64; p.len() + 1];
                        for i in (0..p.len()).rev() {
                            s[i] = s[i + 1] + p[i].ideal_cycles;
                        }
                        s
                    })
                    .collect();
                NetProfile {
                    costs,
                    shared_costs,
                    rgb_first,
                    preds,
                    suffix,
                }
            })
            .collect();
        Profiles {
            nets,
            throttle: ThrottleModel::new(),
        }
    }
}

/// A task as a scheduler sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TaskView {
    /// The task.
    pub task: Task,
    /// Next layer to run (or the current one while running).
    pub layer: usize,
    /// Layers of its network.
    pub layers: usize,
    /// Tiles held (0 when waiting).
    pub tiles: u32,
    /// Running and between two layers: may be preempted or resized now.
    pub at_boundary: bool,
    /// Has run at least one layer.
    pub started: bool,
    /// Tile group (static/MoCA) it runs on.
    pub group: Option<usize>,
}

/// The state handed to a scheduler at each decision point.
#[derive(Debug)]
pub struct View<'a> {
    /// Current cycle.
    pub now: u64,
    /// Tiles not held by any task.
    pub free_tiles: u32,
    /// Tiles of the SoC.
    pub total_tiles: u32,
    /// Groups not running a task (static/MoCA partition).
    pub free_groups: Vec<usize>,
    /// Arrived tasks that are not running, in dispatch order.
    pub waiting: Vec<TaskView>,
    /// Running tasks.
    pub running: Vec<TaskView>,
    /// Predictions.
    pub profiles: &'a Profiles,
    /// The experiment.
    pub exp: &'a Experiment,
}

/// What a scheduler asks the simulator to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Start (or resume) a waiting task on `tiles` tiles, optionally on a fixed group.
    Start {
        /// Task id.
        task: usize,
        /// Tiles to use.
        tiles: u32,
        /// Group (static/MoCA) or `None` for a tile pool.
        group: Option<usize>,
    },
    /// Preempt a running task at its current layer boundary (checkpoint its live data).
    Preempt {
        /// Task id.
        task: usize,
    },
    /// Stop a running task at its current layer boundary and free its tiles, without a
    /// checkpoint (every layer's output is already in memory); it waits to be started again.
    Yield {
        /// Task id.
        task: usize,
    },
    /// Change a running task's tile count at its current layer boundary.
    Resize {
        /// Task id.
        task: usize,
        /// New tile count.
        tiles: u32,
    },
}

/// A multi-tenant scheduling policy.
pub trait Scheduler {
    /// Short name (`moca`, `static`, `prema`, `planaria`).
    fn name(&self) -> &'static str;
    /// Whether MoCA's runtime configures the throttles.
    fn regulated(&self) -> bool;
    /// Whether the runtime throttles this task's next layer (when [`Scheduler::regulated`]);
    /// all tasks by default.
    fn throttles(&self, _task: &Task) -> bool {
        true
    }
    /// Decide at an event. Called after arrivals and layer completions are processed.
    fn decide(&mut self, view: &View) -> Vec<Action>;
}

/// A scheduler asked for something impossible (a bug in the policy).
#[derive(Debug, Error, PartialEq, Eq)]
pub enum SimError {
    /// An action could not be applied.
    #[error("policy `{policy}` at cycle {now}: {message}")]
    InvalidAction {
        /// Policy name.
        policy: &'static str,
        /// Cycle.
        now: u64,
        /// What was wrong.
        message: String,
    },
    /// A layer given to [`System::corun`] that cannot run.
    #[error("co-run layer {index}: {message}")]
    InvalidLayer {
        /// Position in the input.
        index: usize,
        /// What was wrong.
        message: String,
    },
    /// A throttle configuration under which the golden throttle never grants the layer's beats.
    #[error(
        "task {task}: the throttle never grants its layer's beats with WINDOW={window} TARGET={target}"
    )]
    ThrottleNeverGrants {
        /// Task (or co-run layer) index.
        task: usize,
        /// `WINDOW`.
        window: u16,
        /// `TARGET`.
        target: u16,
    },
    /// No progress is possible (tasks waiting, nothing running, no arrival ahead).
    #[error("policy `{policy}` stalled at cycle {now} with {waiting} tasks waiting")]
    Stalled {
        /// Policy name.
        policy: &'static str,
        /// Cycle.
        now: u64,
        /// Waiting tasks.
        waiting: usize,
    },
}

/// A layer's work as the simulator's physical model sees it (see the module docs), on the tiles
/// it runs on.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct LayerWork {
    /// Compute cycles on its tiles (`C`).
    pub c: f64,
    /// Rows moved through the tiles' memory ports, loads and stores (`L`).
    pub l: f64,
    /// Rows moved through the shared DRAM channel (`D`; at most `L`).
    pub d: f64,
    /// Rows the throttle counts (its budget `TARGET` is in these units).
    pub loads: f64,
    /// Scratchpad tiles (double-buffered steps) per accelerator tile (`n`, at least 1).
    pub n: f64,
}

/// One of the layers given to [`System::corun`].
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct CoRunLayer {
    /// The layer's work.
    pub work: LayerWork,
    /// Tiles it runs on.
    pub tiles: u32,
    /// Its throttle registers ([`ThrottleRegs::OFF`] when unregulated).
    pub regs: ThrottleRegs,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Restore,
    Layer,
    /// The network's measured non-layer work after its last layer (a memory-only pass timed
    /// like a layer, overhead included; see [`System::non_layer_rows`]).
    NonLayer,
    Checkpoint,
}

#[derive(Clone, Copy, Debug)]
struct Active {
    task: usize,
    tiles: u32,
    group: Option<usize>,
    phase: Phase,
    left: f64,
    phys: LayerWork,
    regs: ThrottleRegs,
    /// Per-tile beats per cycle the throttle grants this phase on average (infinite when off).
    thr_rate: f64,
    rt_demand: u32,
    rt_score: u32,
    /// Decided at a boundary: stop after this phase.
    stop_after: bool,
}

#[derive(Clone, Copy, Debug, Default)]
struct TaskRt {
    next_layer: usize,
    started: bool,
    finish: Option<f64>,
    /// Rows to restore before the next layer (after a preemption).
    restore_rows: f64,
    running: bool,
}

/// One interval of the bandwidth trace.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TraceSample {
    /// Interval start cycle.
    pub start: u64,
    /// Interval end cycle.
    pub end: u64,
    /// (task id, network, tiles, DRAM rows/cycle granted, throttled) per running layer.
    pub tenants: Vec<(usize, usize, u32, f64, bool)>,
}

/// Result of a simulation.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SimResult {
    /// Completion cycle per task (same order as the input tasks).
    pub finish: Vec<u64>,
    /// Layers started with the throttle on.
    pub throttled_layers: usize,
    /// Layers started.
    pub layers_run: usize,
    /// Preemptions.
    pub preemptions: usize,
    /// Runtime register errors (should be 0).
    pub register_errors: usize,
    /// Bandwidth trace (if requested).
    pub trace: Vec<TraceSample>,
    /// DRAM rows moved in total.
    pub dram_rows: f64,
    /// Layer-cycles run with the throttle on (summed over tenants).
    pub throttled_cycles: f64,
    /// Of those, layer-cycles in which the throttle bound: its cap was below the DRAM share the
    /// tenant would have got with every throttle off.
    pub throttle_binding_cycles: f64,
}

/// Max-min fair shares of `peak` ("water filling"): in increasing order of demand, each tenant
/// gets the smaller of its demand and an equal split of what is left.
fn max_min_shares(demands: &[f64], peak: f64) -> Vec<f64> {
    let mut order: Vec<usize> = (0..demands.len()).collect();
    order.sort_by(|&a, &b| demands[a].total_cmp(&demands[b]));
    let mut shares = vec![0.0; demands.len()];
    let mut left = peak;
    for (pos, &i) in order.iter().enumerate() {
        let fair = left / (order.len() - pos) as f64;
        shares[i] = demands[i].min(fair);
        left -= shares[i];
    }
    shares
}

/// The simulator.
pub struct System<'a> {
    exp: &'a Experiment,
    profiles: &'a Profiles,
    /// Record a bandwidth trace.
    pub trace: bool,
    /// Partition mode of the runtime (paper by default).
    pub partition: Partition,
    /// How throttled layers are timed (`[simulator] throttle_model`).
    pub throttle_timing: ThrottleTiming,
    /// Per network, DRAM rows of its measured work beyond the layer table (whole network);
    /// empty when not modelled.
    non_layer_rows: Vec<f64>,
}

/// DRAM rows that take `cycles` (less the per-layer overhead) on one tile alone: the tile's DMA
/// rate is the smaller of its L2 port and its latency bound (Little's law). How a network's
/// measured non-layer cycles become the memory-only pass the simulator runs.
pub fn non_layer_rows_of(sp: &crate::workload::SimParams, cycles: u64) -> f64 {
    let rate = if sp.dram_latency_cycles > 0.0 {
        (sp.dma_inflight_rows_per_tile / sp.dram_latency_cycles).min(sp.l2_rows_per_cycle_per_tile)
    } else {
        sp.l2_rows_per_cycle_per_tile
    };
    (cycles as f64 - sp.layer_overhead_cycles).max(0.0) * rate
}

impl LayerWork {
    /// A memory-only pass of `rows` DRAM rows (no compute; a checkpoint, a restore, or a
    /// network's non-layer work).
    pub fn memory_pass(rows: f64) -> Self {
        LayerWork {
            c: 0.0,
            l: rows,
            d: rows,
            loads: rows.max(1.0),
            n: 1.0,
        }
    }
}

impl<'a> System<'a> {
    /// A simulator for an experiment.
    pub fn new(exp: &'a Experiment, profiles: &'a Profiles) -> Self {
        System {
            exp,
            profiles,
            trace: false,
            partition: Partition::Paper,
            throttle_timing: exp.sim.throttle_model,
            non_layer_rows: if exp.sim.measured_non_layer_work {
                Self::rows_of(exp, &crate::firesim::calibrate::aux_cycles(exp))
            } else {
                Vec::new()
            },
        }
    }

    fn rows_of(exp: &Experiment, cycles: &[u64]) -> Vec<f64> {
        cycles
            .iter()
            .map(|&c| non_layer_rows_of(&exp.sim, c))
            .collect()
    }

    /// Set each network's work beyond its layer table, in cycles on one tile alone (experiment
    /// order; missing entries are 0). Overrides `SimParams::measured_non_layer_work`.
    pub fn set_non_layer_cycles(&mut self, cycles: &[u64]) {
        self.non_layer_rows = Self::rows_of(self.exp, cycles);
    }

    /// DRAM rows of network `net`'s non-layer work that belong to `layers` of its layers (its
    /// share by layer count; the whole network's for all of them), 0 when not modelled.
    pub fn non_layer_rows(&self, net: usize, layers: usize) -> f64 {
        let total = self.exp.networks[net].layers.len().max(1);
        self.non_layer_rows.get(net).copied().unwrap_or(0.0) * layers as f64 / total as f64
    }

    /// Physical costs of a layer on `tiles` tiles while `sharers` tasks (this one included) hold
    /// tiles and so share the L2's capacity.
    fn layer_phys(&self, net: usize, layer: usize, tiles: u32, sharers: usize) -> LayerWork {
        let prof = &self.profiles.nets[net];
        let c: &LayerCost = if self.exp.sim.share_l2_capacity && sharers > 1 {
            let k = sharers.min(prof.shared_costs.len());
            &prof.shared_costs[k - 1][layer]
        } else {
            &prof.costs[layer]
        };
        let g = f64::from(tiles);
        let aux = self.exp.sim.aux_traffic_per_output_row * c.store_rows as f64;
        LayerWork {
            c: c.compute_cycles as f64 / g,
            l: c.total_mem_rows.max(c.from_dram_rows) as f64 + aux,
            d: c.from_dram_rows as f64 + aux,
            loads: c.load_rows.max(1) as f64,
            n: ((c.scratchpad_tiles as f64) / g).max(1.0),
        }
    }

    /// The requests a layer's tile presents to its throttle: `MAX_BEATS`-beat requests at the
    /// rate the layer would progress at unthrottled and alone (its beats per tile over its
    /// unconstrained steady time: a double-buffered DMA runs at most one scratchpad tile ahead of
    /// compute), with the DMA's rows in flight as slack (Little's law: after a stall its free
    /// slots issue back to back), through the tile's memory port (one request of `b` beats per
    /// `b` cycles at one row per cycle). Co-runners are not taken into account: the DRAM share
    /// bounds the layer's time separately.
    fn layer_demand(&self, me: &Active) -> Demand {
        let sp = &self.exp.sim;
        let off = Active {
            regs: ThrottleRegs::OFF,
            thr_rate: f64::INFINITY,
            ..*me
        };
        // The demand the layer presents alone (no co-runner's row conflicts).
        let (steady, _) = self.times(&off, f64::INFINITY, 0.0);
        let p = &me.phys;
        let g = f64::from(me.tiles.max(1));
        let max = u64::from(MAX_BEATS) * PACE_ONE;
        let rate = if steady > 0.0 {
            ((p.loads / g / steady * PACE_ONE as f64).round() as u64).clamp(1, max)
        } else {
            max
        };
        let per_row = if p.l > 0.0 {
            (p.loads / p.l).min(1.0)
        } else {
            1.0
        };
        Demand::Paced {
            beats: MAX_BEATS as u8,
            rate,
            depth: ((sp.dma_inflight_rows_per_tile * per_row).round() as u64)
                .max(u64::from(MAX_BEATS)),
            peak: ((sp.l2_rows_per_cycle_per_tile * per_row * PACE_ONE as f64).round() as u64)
                .clamp(1, max),
        }
    }

    /// Apply the runtime's register writes for `me.regs` to the tiles' throttle `thr` and time the
    /// layer `me`: the per-tile beats per cycle its throttle grants on average
    /// over the layer (infinite when off) and the cycles until its last beat is granted
    /// ([`crate::throttle_model`]; 0 with [`ThrottleTiming::ExactCap`] or off).
    fn throttle_layer(
        &self,
        thr: &mut MemThrottle,
        me: &Active,
    ) -> Result<(f64, u64, Demand), SimError> {
        let (regs, phys, tiles) = (me.regs, &me.phys, me.tiles);
        let demand = self.layer_demand(me);
        if self.throttle_timing == ThrottleTiming::ExactCap {
            return Ok((regs.rate(), 0, demand));
        }
        write_registers(
            thr,
            &ThrottleConfig {
                window: regs.window,
                target: regs.target,
                burst: regs.burst,
            },
        );
        if !regs.enabled() {
            return Ok((f64::INFINITY, 0, demand));
        }
        let beats = (phys.loads / f64::from(tiles.max(1))).ceil().max(1.0) as u64;
        match self.profiles.throttle.grant(thr, demand, beats) {
            Some(g) => Ok((beats as f64 / g.cycles.max(1) as f64, g.cycles, demand)),
            None => Err(SimError::ThrottleNeverGrants {
                task: me.task,
                window: regs.window,
                target: regs.target,
            }),
        }
    }

    /// Steady-state time of a layer given its DRAM share (rows/cycle) and the extra DRAM
    /// latency row-buffer conflicts add (see [`System::conflict_latency`]), and its fill/overhead.
    fn times(&self, a: &Active, share: f64, extra_latency: f64) -> (f64, f64) {
        let sp = &self.exp.sim;
        let g = f64::from(a.tiles);
        let p = &a.phys;
        let port = g * sp.l2_rows_per_cycle_per_tile;
        let lat = if sp.dram_latency_cycles > 0.0 {
            g * sp.dma_inflight_rows_per_tile / (sp.dram_latency_cycles + extra_latency)
        } else {
            f64::INFINITY
        };
        let throttle = if a.regs.enabled() {
            g * a.thr_rate * (p.l / p.loads)
        } else {
            f64::INFINITY
        };
        let dram_t = |b: f64| if p.d > 0.0 { p.d / b.min(lat) } else { 0.0 };
        // Unconstrained: memory (port, latency bound) overlapped with compute.
        let m0 = (p.l / port).max(dram_t(f64::INFINITY));
        let free = p.c.max(m0) + sp.overlap_serialization * p.c.min(m0);
        // A granted DRAM share and a throttle cap the layer's *average* rate, so they bound
        // the time from below: the layer's demand is `D / free`, and granting it exactly gives
        // `free` (no slowdown); less stretches the layer to `D / share` (compute hides under
        // the longer memory phases, as double buffering does).
        let steady = free.max(dram_t(share)).max(p.l / throttle);
        let over = if matches!(a.phase, Phase::Layer | Phase::NonLayer) {
            sp.layer_overhead_cycles
        } else {
            0.0
        };
        (steady, p.c.min(m0) / p.n + over)
    }

    fn demand(&self, a: &Active, extra_latency: f64) -> f64 {
        if a.phys.d <= 0.0 {
            return 0.0;
        }
        let (s, _) = self.times(a, f64::INFINITY, extra_latency);
        a.phys.d / s
    }

    /// Extra DRAM latency from row-buffer conflicts when `streams` tasks' DMA streams interleave
    /// in the open-page DRAM controller: a request finds its bank's row opened by another
    /// stream with probability `1 - 1/streams` and then pays a precharge and an activate
    /// (`SimParams::row_conflict_latency_cycles`, the SoC's `tRP + tRCD` plus the controller's
    /// reordering loss). 0 for one stream.
    pub fn conflict_latency(&self, streams: f64) -> f64 {
        if streams <= 1.0 {
            return 0.0;
        }
        self.exp.sim.row_conflict_latency_cycles * (1.0 - 1.0 / streams)
    }

    /// The shared L2 and the system bus in front of it move at most
    /// `SimParams::l2_total_rows_per_cycle` rows per cycle for all tiles together (hits and
    /// misses alike): when the running phases' port traffic (`L` over their steady time) exceeds
    /// it, every phase's steady time stretches by the same factor (a saturated crossbar serves
    /// requesters in proportion to their requests). The default (one row per cycle per tile of
    /// the SoC, every tile's own port) never binds.
    fn share_l2_bandwidth(&self, active: &[Active], times: &mut [(f64, f64)]) {
        let total = self.exp.sim.l2_total_rows_per_cycle;
        let demand: f64 = active
            .iter()
            .zip(times.iter())
            .map(|(a, &(s, _))| if s > 0.0 { a.phys.l / s } else { 0.0 })
            .sum();
        if total > 0.0 && demand > total * (1.0 + 1e-9) {
            for (a, (s, _)) in active.iter().zip(times.iter_mut()) {
                if a.phys.l > 0.0 {
                    *s *= demand / total;
                }
            }
        }
    }

    /// Share the DRAM channel. Every tenant gets its demand when the sum fits the
    /// (interference-reduced) peak, else the peak is split as `SimParams::arbitration` says (in
    /// proportion to demand by default, or max-min fair). Queueing makes the DRAM latency grow with the channel's utilisation `rho`
    /// (`latency + q * service * rho / (1 - rho)`, `q` = `queueing_factor`, `service` =
    /// `dram_service_cycles`, `rho` capped at 0.95: an M/D/1 queue in front of the channel),
    /// and a tenant's DMA cannot exceed `tiles * inflight / latency`: a busy channel slows
    /// latency-bound tenants even when their own demand is small. Solved by fixed-point iteration.
    fn allocate(&self, demands: &[f64], tiles: &[u32]) -> Vec<f64> {
        let sp = &self.exp.sim;
        let total: f64 = demands.iter().sum();
        let streams = demands.iter().filter(|&&d| d > 0.0).count();
        let mut peak = sp.dram_peak_rows_per_cycle;
        if total > peak && streams > 1 {
            let loss = (sp.interference_loss_per_stream * (streams - 1) as f64)
                .min(sp.max_interference_loss);
            peak *= 1.0 - loss;
        }
        let prop: Vec<f64> = if total <= peak {
            demands.to_vec()
        } else {
            match sp.arbitration {
                Arbitration::Proportional => demands.iter().map(|d| d * peak / total).collect(),
                Arbitration::MaxMin => max_min_shares(demands, peak),
            }
        };
        if sp.queueing_factor <= 0.0 || sp.dram_latency_cycles <= 0.0 {
            return prop;
        }
        let mut share = prop.clone();
        for _ in 0..8 {
            let rho = (share.iter().sum::<f64>() / peak).min(0.95);
            let lat = sp.dram_latency_cycles
                + sp.queueing_factor * sp.dram_service_cycles * rho / (1.0 - rho);
            let next: Vec<f64> = prop
                .iter()
                .zip(tiles)
                .map(|(&p, &g)| p.min(f64::from(g) * sp.dma_inflight_rows_per_tile / lat))
                .collect();
            // Damped update: the fixed point is unique (latency grows with the total).
            for (s, n) in share.iter_mut().zip(&next) {
                *s = 0.5 * *s + 0.5 * n;
            }
        }
        share
    }

    /// DRAM shares (rows/cycle) and progress rates (fraction of the phase per cycle) of the
    /// running phases.
    fn rates(&self, active: &[Active]) -> (Vec<f64>, Vec<f64>) {
        // One stream per running layer: the tiles of one task walk the same tensors in
        // lockstep, so their requests share open rows; different tasks' do not.
        let streams = active.iter().filter(|a| a.phys.d > 0.0).count() as f64;
        let extra = self.conflict_latency(streams);
        let demands: Vec<f64> = active.iter().map(|a| self.demand(a, extra)).collect();
        let tiles: Vec<u32> = active.iter().map(|a| a.tiles).collect();
        let shares = self.allocate(&demands, &tiles);
        let mut times: Vec<(f64, f64)> = active
            .iter()
            .zip(&shares)
            .map(|(a, &b)| {
                let share = if a.phys.d > 0.0 { b } else { f64::INFINITY };
                self.times(a, share, extra)
            })
            .collect();
        self.share_l2_bandwidth(active, &mut times);
        let rates = times
            .iter()
            .map(|&(s, fill)| 1.0 / (s + fill).max(1e-9))
            .collect();
        (shares, rates)
    }

    /// The physical work of `layer` of network `net` on `tiles` tiles while `sharers` tasks
    /// (this one included) hold tiles and share the L2's capacity (see the module docs).
    pub fn layer_work(&self, net: usize, layer: usize, tiles: u32, sharers: usize) -> LayerWork {
        self.layer_phys(net, layer, tiles, sharers)
    }

    /// Progress rates (fraction of the layer per cycle, fill and per-layer overhead included)
    /// of `layers` running side by side right now, exactly as [`System::corun`] and
    /// [`System::run`] time them. A caller that advances time itself (the FireSim replay,
    /// `crate::firesim::replay`) recomputes them whenever the set of running layers changes.
    pub fn corun_rates(&self, layers: &[CoRunLayer]) -> Result<Vec<f64>, SimError> {
        Ok(self.rates(&self.started(layers)?).1)
    }

    /// `layers` as running phases at their start: each from a reset throttle with its
    /// registers written (as [`System::corun`] and [`System::corun_rates`] time them).
    fn started(&self, layers: &[CoRunLayer]) -> Result<Vec<Active>, SimError> {
        layers
            .iter()
            .enumerate()
            .map(|(i, l)| {
                let mut a = Self::corun_active(i, l);
                a.thr_rate = self.throttle_layer(&mut MemThrottle::new(), &a)?.0;
                Ok(a)
            })
            .collect()
    }

    fn corun_active(task: usize, l: &CoRunLayer) -> Active {
        Active {
            task,
            tiles: l.tiles,
            group: None,
            phase: Phase::Layer,
            left: 1.0,
            phys: l.work,
            regs: l.regs,
            thr_rate: f64::INFINITY,
            rt_demand: 0,
            rt_score: 0,
            stop_after: false,
        }
    }

    /// What the tiles' throttle grants `layer` from a reset throttle with its registers written,
    /// as [`System::corun`] times it: the per-tile beats per cycle on average over the layer's
    /// beats, and the cycles until its last beat is granted (`TARGET/WINDOW` and 0 with
    /// [`ThrottleTiming::ExactCap`]; infinite and 0 when the throttle is off).
    pub fn throttle_grant(&self, layer: &CoRunLayer) -> Result<(f64, u64), SimError> {
        let a = Self::corun_active(0, layer);
        let (rate, cycles, _) = self.throttle_layer(&mut MemThrottle::new(), &a)?;
        Ok((rate, cycles))
    }

    /// Run `layers` side by side from cycle 0, each on its own tiles, with no scheduler and no
    /// runtime (the given registers stay), and return each one's completion cycle. The layers
    /// share the DRAM channel and are timed exactly as in [`System::run`] (including
    /// `layer_overhead_cycles`); when one finishes the others' shares are recomputed. This is
    /// what the simulator is calibrated with against the cycle-exact SoC
    /// (`crate::soc_calibration`).
    pub fn corun(&self, layers: &[CoRunLayer]) -> Result<Vec<f64>, SimError> {
        let total = self.exp.hardware.tiles;
        let used: u32 = layers.iter().map(|l| l.tiles).sum();
        if let Some(i) = layers.iter().position(|l| l.tiles == 0) {
            return Err(SimError::InvalidLayer {
                index: i,
                message: "runs on 0 tiles (allowed: 1 or more)".into(),
            });
        }
        if used > total {
            return Err(SimError::InvalidLayer {
                index: layers.len() - 1,
                message: format!("the layers need {used} tiles, the SoC has {total}"),
            });
        }
        for (i, l) in layers.iter().enumerate() {
            let w = &l.work;
            let ok = [w.c, w.l, w.d, w.loads, w.n]
                .iter()
                .all(|v| v.is_finite() && *v >= 0.0)
                && w.n >= 1.0
                && w.d <= w.l;
            if !ok {
                return Err(SimError::InvalidLayer {
                    index: i,
                    message: format!(
                        "work {w:?} is not valid (all finite and >= 0, n >= 1, d <= l)"
                    ),
                });
            }
        }
        let mut active = self.started(layers)?;
        let mut finish = vec![0.0; layers.len()];
        let mut now = 0.0;
        while !active.is_empty() {
            let (_, rates) = self.rates(&active);
            let dt = active
                .iter()
                .zip(&rates)
                .map(|(a, r)| a.left / r)
                .fold(f64::INFINITY, f64::min);
            now += dt;
            for (a, r) in active.iter_mut().zip(&rates) {
                a.left -= (r * dt).min(a.left);
            }
            active.retain(|a| {
                let done = a.left <= 1e-9;
                if done {
                    finish[a.task] = now;
                }
                !done
            });
        }
        Ok(finish)
    }

    /// Run a task stream under a policy: at every event, the arrivals due ([`RunState::arrive`]),
    /// the policy's decision on the resulting view ([`RunState::apply`]), the next phase of every
    /// task at a layer boundary with the runtime's registers ([`RunState::start`]), and the
    /// progress of the running phases to the next event ([`RunState::advance`]).
    pub fn run(&self, tasks: &[Task], policy: &mut dyn Scheduler) -> Result<SimResult, SimError> {
        let mut st = RunState::new(self, tasks);
        let mut guard = 0u64;
        while st.done < tasks.len() {
            guard += 1;
            if guard > 50_000_000 {
                return Err(st.stalled(policy.name()));
            }
            st.arrive();
            let view = st.view();
            let free = view.free_tiles;
            let actions = policy.decide(&view);
            st.apply(policy.name(), actions, free)?;
            st.start(&*policy)?;
            st.advance(policy.name())?;
        }
        Ok(st.res)
    }
}

/// The tiles' throttle state is carried per group (static/MoCA) or per task on a tile pool.
type ThrottleOwner = (bool, usize);

fn throttle_owner(t: usize, group: Option<usize>) -> ThrottleOwner {
    group.map_or((false, t), |g| (true, g))
}

/// The state of one [`System::run`] between two events.
struct RunState<'s, 'a> {
    sys: &'s System<'a>,
    tasks: &'s [Task],
    /// Task ids in dispatch order, and the next one to arrive.
    order: Vec<usize>,
    next_arrival: usize,
    rt: Vec<TaskRt>,
    /// Running phases.
    active: Vec<Active>,
    /// Tasks at a layer boundary, holding their tiles: (task, tiles, group).
    boundary: Vec<(usize, u32, Option<usize>)>,
    /// Arrived, unfinished tasks (running or waiting), in arrival order.
    arrived: Vec<usize>,
    now: f64,
    done: usize,
    res: SimResult,
    /// The tiles' throttle state left by the last layer (and when), per owner.
    carried: HashMap<ThrottleOwner, (MemThrottle, f64)>,
    /// Per task, the current layer's throttle start state, grant cycles, demand and start cycle
    /// (golden throttle timing only).
    layer_thr: Vec<Option<(MemThrottle, u64, Demand, f64)>>,
}

impl<'s, 'a> RunState<'s, 'a> {
    fn new(sys: &'s System<'a>, tasks: &'s [Task]) -> Self {
        let mut order: Vec<usize> = (0..tasks.len()).collect();
        order.sort_by_key(|&i| (tasks[i].dispatch, i));
        RunState {
            sys,
            tasks,
            order,
            next_arrival: 0,
            rt: vec![TaskRt::default(); tasks.len()],
            active: Vec::new(),
            boundary: Vec::new(),
            arrived: Vec::new(),
            now: 0.0,
            done: 0,
            res: SimResult {
                finish: vec![0; tasks.len()],
                throttled_layers: 0,
                layers_run: 0,
                preemptions: 0,
                register_errors: 0,
                trace: Vec::new(),
                dram_rows: 0.0,
                throttled_cycles: 0.0,
                throttle_binding_cycles: 0.0,
            },
            carried: HashMap::new(),
            layer_thr: vec![None; tasks.len()],
        }
    }

    fn stalled(&self, policy: &'static str) -> SimError {
        SimError::Stalled {
            policy,
            now: self.now as u64,
            waiting: self.arrived.len(),
        }
    }

    /// Admit the tasks dispatched at or before now.
    fn arrive(&mut self) {
        while self.next_arrival < self.order.len()
            && self.tasks[self.order[self.next_arrival]].dispatch as f64 <= self.now
        {
            self.arrived.push(self.order[self.next_arrival]);
            self.next_arrival += 1;
        }
    }

    /// Groups running a task (in a phase or at a boundary).
    fn busy_groups(&self) -> Vec<usize> {
        self.active
            .iter()
            .filter_map(|a| a.group)
            .chain(self.boundary.iter().filter_map(|b| b.2))
            .collect()
    }

    fn task_view(
        &self,
        id: usize,
        tiles: u32,
        at_boundary: bool,
        group: Option<usize>,
    ) -> TaskView {
        TaskView {
            task: self.tasks[id],
            layer: self.rt[id].next_layer,
            layers: self.sys.profiles.nets[self.tasks[id].network].layers(),
            tiles,
            at_boundary,
            started: self.rt[id].started,
            group,
        }
    }

    /// What the policy sees now.
    fn view(&self) -> View<'a> {
        let exp = self.sys.exp;
        let total_tiles = exp.hardware.tiles;
        let groups = (exp.hardware.tiles / exp.hardware.tiles_per_task) as usize;
        let held: u32 = self.active.iter().map(|a| a.tiles).sum::<u32>()
            + self.boundary.iter().map(|b| b.1).sum::<u32>();
        let busy_groups = self.busy_groups();
        View {
            now: self.now as u64,
            free_tiles: total_tiles - held,
            total_tiles,
            free_groups: (0..groups).filter(|g| !busy_groups.contains(g)).collect(),
            waiting: self
                .arrived
                .iter()
                .filter(|&&i| !self.rt[i].running)
                .map(|&i| self.task_view(i, 0, false, None))
                .collect(),
            running: self
                .active
                .iter()
                .filter(|a| a.phase != Phase::Checkpoint)
                .map(|a| self.task_view(a.task, a.tiles, false, a.group))
                .chain(
                    self.boundary
                        .iter()
                        .map(|&(t, n, g)| self.task_view(t, n, true, g)),
                )
                .collect(),
            profiles: self.sys.profiles,
            exp,
        }
    }

    /// Apply the policy's actions (`free` tiles before them).
    fn apply(
        &mut self,
        policy: &'static str,
        actions: Vec<Action>,
        mut free: u32,
    ) -> Result<(), SimError> {
        let busy_groups = self.busy_groups();
        let now = self.now;
        let bad = |m: String| SimError::InvalidAction {
            policy,
            now: now as u64,
            message: m,
        };
        for act in actions {
            match act {
                Action::Preempt { task } => {
                    let Some(pos) = self.boundary.iter().position(|b| b.0 == task) else {
                        return Err(bad(format!("task {task} is not at a layer boundary")));
                    };
                    let (t, tiles, group) = self.boundary.swap_remove(pos);
                    // Checkpoint: write back the live data (the last layer's output).
                    let rows = self.sys.profiles.nets[self.tasks[t].network].costs
                        [self.rt[t].next_layer.saturating_sub(1)]
                    .store_rows as f64;
                    self.rt[t].restore_rows = rows;
                    self.res.preemptions += 1;
                    self.active.push(Active {
                        task: t,
                        tiles,
                        group,
                        phase: Phase::Checkpoint,
                        left: 1.0,
                        phys: LayerWork::memory_pass(rows),
                        regs: ThrottleRegs::OFF,
                        thr_rate: f64::INFINITY,
                        rt_demand: 0,
                        rt_score: 0,
                        stop_after: true,
                    });
                }
                Action::Yield { task } => {
                    let Some(pos) = self.boundary.iter().position(|b| b.0 == task) else {
                        return Err(bad(format!("task {task} is not at a layer boundary")));
                    };
                    let (t, tiles, _) = self.boundary.swap_remove(pos);
                    self.rt[t].running = false;
                    free += tiles;
                }
                Action::Resize { task, tiles } => {
                    let Some(b) = self.boundary.iter_mut().find(|b| b.0 == task) else {
                        return Err(bad(format!("task {task} is not at a layer boundary")));
                    };
                    if tiles == 0 || tiles > b.1 + free {
                        return Err(bad(format!(
                            "resize of task {task} to {tiles} tiles ({} held, {free} free)",
                            b.1
                        )));
                    }
                    free = free + b.1 - tiles;
                    b.1 = tiles;
                }
                Action::Start { task, tiles, group } => {
                    if !self.arrived.contains(&task) || self.rt[task].running {
                        return Err(bad(format!("task {task} is not waiting")));
                    }
                    if tiles == 0 || tiles > free {
                        return Err(bad(format!(
                            "start of task {task} on {tiles} tiles, {free} free"
                        )));
                    }
                    if let Some(g) = group
                        && (busy_groups.contains(&g)
                            || self.boundary.iter().any(|b| b.2 == Some(g)))
                    {
                        return Err(bad(format!("group {g} is busy")));
                    }
                    free -= tiles;
                    self.rt[task].running = true;
                    self.boundary.push((task, tiles, group));
                }
            }
        }
        Ok(())
    }

    /// Start the next phase of every task at a boundary: a restore after a preemption, else its
    /// next layer, with the runtime's registers when the policy regulates it.
    fn start(&mut self, policy: &dyn Scheduler) -> Result<(), SimError> {
        let sys = self.sys;
        let exp = sys.exp;
        // Tasks holding tiles share the L2's capacity (one Active per running task).
        let sharers = self.active.len() + self.boundary.len();
        let golden_throttle = sys.throttle_timing == ThrottleTiming::Golden;
        let now = self.now;
        for (t, tiles, group) in std::mem::take(&mut self.boundary) {
            let task = self.tasks[t];
            let prof = &sys.profiles.nets[task.network];
            if self.rt[t].restore_rows > 0.0 {
                let rows = self.rt[t].restore_rows;
                self.rt[t].restore_rows = 0.0;
                self.active.push(Active {
                    task: t,
                    tiles,
                    group,
                    phase: Phase::Restore,
                    left: 1.0,
                    phys: LayerWork::memory_pass(rows),
                    regs: ThrottleRegs::OFF,
                    thr_rate: f64::INFINITY,
                    rt_demand: 0,
                    rt_score: 0,
                    stop_after: false,
                });
                continue;
            }
            let layer = self.rt[t].next_layer;
            self.rt[t].started = true;
            let mut a = Active {
                task: t,
                tiles,
                group,
                phase: Phase::Layer,
                left: 1.0,
                phys: sys.layer_phys(task.network, layer, tiles, sharers),
                regs: ThrottleRegs::OFF,
                thr_rate: f64::INFINITY,
                rt_demand: 0,
                rt_score: 0,
                stop_after: false,
            };
            if policy.regulated() && policy.throttles(&task) {
                let pred = prof.pred(tiles, layer);
                let others: Vec<CoRunner> = self
                    .active
                    .iter()
                    .filter(|o| o.phase == Phase::Layer)
                    .map(|o| CoRunner {
                        demand_percent: o.rt_demand,
                        score: o.rt_score,
                    })
                    .collect();
                let state = TaskState {
                    priority: task.priority,
                    remaining_cycles: prof.remaining(tiles, layer),
                    target_cycles: task.target,
                    elapsed_cycles: (now as u64).saturating_sub(task.dispatch),
                };
                match runtime::decide(
                    &exp.hardware,
                    &exp.runtime,
                    pred,
                    prof.rgb_first[layer],
                    &state,
                    &others,
                    sys.partition,
                ) {
                    Ok(d) => {
                        a.regs = d.regs;
                        a.rt_score = d.score;
                        a.rt_demand = if prof.rgb_first[layer] {
                            0
                        } else {
                            pred.demand_percent
                        };
                    }
                    Err(_) => self.res.register_errors += 1,
                }
                if golden_throttle {
                    let mut thr = match self.carried.remove(&throttle_owner(t, group)) {
                        Some((s, at)) => sys.profiles.throttle.state_after(
                            &s,
                            Demand::Idle,
                            (now - at).max(0.0).round() as u64,
                        ),
                        None => MemThrottle::new(),
                    };
                    let (rate, grant, demand) = sys.throttle_layer(&mut thr, &a)?;
                    a.thr_rate = rate;
                    self.layer_thr[t] = Some((thr, grant, demand, now));
                } else {
                    a.thr_rate = a.regs.rate();
                }
                if a.regs.enabled() {
                    self.res.throttled_layers += 1;
                }
            }
            self.res.layers_run += 1;
            self.active.push(a);
        }
        Ok(())
    }

    /// Progress every running phase to the next event (a phase's end or an arrival), recording
    /// the trace and the throttle statistics, and retire the phases that end.
    fn advance(&mut self, policy: &'static str) -> Result<(), SimError> {
        let sys = self.sys;
        let (shares, rates) = sys.rates(&self.active);
        let mut dt = f64::INFINITY;
        for (a, r) in self.active.iter().zip(&rates) {
            dt = dt.min(a.left / r);
        }
        if self.next_arrival < self.order.len() {
            dt = dt.min(
                (self.tasks[self.order[self.next_arrival]].dispatch as f64 - self.now).max(0.0),
            );
        }
        if !dt.is_finite() {
            return Err(self.stalled(policy));
        }
        if sys.trace && dt > 0.0 {
            self.res.trace.push(TraceSample {
                start: self.now as u64,
                end: (self.now + dt) as u64,
                tenants: self
                    .active
                    .iter()
                    .zip(&shares)
                    .map(|(a, &b)| {
                        let net = self.tasks[a.task].network;
                        (a.task, net, a.tiles, b, a.regs.enabled())
                    })
                    .collect(),
            });
        }
        self.throttle_statistics(dt);
        self.now += dt;
        for (a, r) in self.active.iter_mut().zip(&rates) {
            let frac = (r * dt).min(a.left);
            self.res.dram_rows += a.phys.d * frac;
            a.left -= frac;
        }
        self.complete();
        Ok(())
    }

    /// Throttle statistics over the next `dt` cycles: does a throttle cap the tenant below the
    /// share it would get with every throttle off?
    fn throttle_statistics(&mut self, dt: f64) {
        let sys = self.sys;
        if !self.active.iter().any(|a| a.regs.enabled()) {
            return;
        }
        let free: Vec<Active> = self
            .active
            .iter()
            .map(|a| Active {
                regs: ThrottleRegs::OFF,
                thr_rate: f64::INFINITY,
                ..*a
            })
            .collect();
        let streams = free.iter().filter(|a| a.phys.d > 0.0).count() as f64;
        let extra = sys.conflict_latency(streams);
        let demands: Vec<f64> = free.iter().map(|a| sys.demand(a, extra)).collect();
        let tiles: Vec<u32> = free.iter().map(|a| a.tiles).collect();
        let unthrottled = sys.allocate(&demands, &tiles);
        for ((a, &u), &d) in self.active.iter().zip(&unthrottled).zip(&demands) {
            if a.regs.enabled() {
                self.res.throttled_cycles += dt;
                if sys.demand(a, extra) < u.min(d) * (1.0 - 1e-9) {
                    self.res.throttle_binding_cycles += dt;
                }
            }
        }
    }

    /// Retire the phases that ended: a checkpoint frees its tiles, a restore or a layer returns
    /// its task to a boundary, the last layer runs the network's non-layer work, and that (or the
    /// last layer) finishes the task.
    fn complete(&mut self) {
        let now = self.now;
        let mut k = 0;
        while k < self.active.len() {
            if self.active[k].left > 1e-9 {
                k += 1;
                continue;
            }
            let a = self.active.swap_remove(k);
            let t = a.task;
            match a.phase {
                Phase::Checkpoint => {
                    self.rt[t].running = false;
                }
                Phase::Restore => self.boundary.push((t, a.tiles, a.group)),
                Phase::NonLayer => {
                    self.rt[t].next_layer += 1;
                    self.finish(t);
                }
                Phase::Layer => {
                    if let Some((start, grant, demand, t0)) = self.layer_thr[t].take() {
                        let end = self.sys.profiles.throttle.after_layer(
                            &start,
                            demand,
                            grant,
                            (now - t0).max(0.0).round() as u64,
                        );
                        self.carried.insert(throttle_owner(t, a.group), (end, now));
                    }
                    let net = self.tasks[t].network;
                    let layers = self.sys.profiles.nets[net].layers();
                    let rows = self.sys.non_layer_rows(net, layers);
                    if self.rt[t].next_layer + 1 >= layers && rows > 0.0 {
                        // The network's non-layer work, on its tiles, before it finishes.
                        self.active.push(Active {
                            phase: Phase::NonLayer,
                            left: 1.0,
                            phys: LayerWork::memory_pass(rows),
                            regs: ThrottleRegs::OFF,
                            thr_rate: f64::INFINITY,
                            rt_demand: 0,
                            rt_score: 0,
                            stop_after: false,
                            ..a
                        });
                        continue;
                    }
                    self.rt[t].next_layer += 1;
                    if self.rt[t].next_layer >= layers {
                        self.finish(t);
                    } else if a.stop_after {
                        self.rt[t].running = false;
                    } else {
                        self.boundary.push((t, a.tiles, a.group));
                    }
                }
            }
        }
    }

    /// Task `t` completes now.
    fn finish(&mut self, t: usize) {
        self.rt[t].finish = Some(self.now);
        self.rt[t].running = false;
        self.res.finish[t] = self.now.ceil() as u64;
        self.arrived.retain(|&x| x != t);
        self.done += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs every task alone on a fixed number of tiles, first come first served.
    struct Fcfs(u32);
    impl Scheduler for Fcfs {
        fn name(&self) -> &'static str {
            "fcfs"
        }
        fn regulated(&self) -> bool {
            false
        }
        fn decide(&mut self, v: &View) -> Vec<Action> {
            let mut free = v.free_tiles;
            let mut out = Vec::new();
            for w in &v.waiting {
                if free >= self.0 {
                    free -= self.0;
                    out.push(Action::Start {
                        task: w.task.id,
                        tiles: self.0,
                        group: None,
                    });
                }
            }
            out
        }
    }

    fn task(id: usize, network: usize, dispatch: u64) -> Task {
        Task {
            id,
            network,
            priority: 0,
            dispatch,
            target: u64::MAX,
        }
    }

    #[test]
    fn dram_is_shared_by_demand_above_the_peak() {
        let exp = Experiment::artifact();
        let prof = Profiles::new(&exp);
        // Under the peak: everyone gets its demand.
        let mut e = exp.clone();
        e.sim.queueing_factor = 0.0;
        let sys = System::new(&e, &prof);
        assert_eq!(sys.allocate(&[0.5, 0.4], &[2, 2]), vec![0.5, 0.4]);
        // Over: the reduced peak (3 streams: 2 x 5 % interference) is split by demand.
        let s = sys.allocate(&[0.1, 2.0, 1.0], &[2, 2, 2]);
        let peak = e.sim.dram_peak_rows_per_cycle * (1.0 - 0.1);
        assert!((s.iter().sum::<f64>() - peak).abs() < 1e-9);
        assert!((s[1] / s[2] - 2.0).abs() < 1e-9);
        assert!((s[0] - 0.1 * peak / 3.1).abs() < 1e-12);
    }

    #[test]
    fn a_busy_channel_slows_a_light_tenant() {
        let exp = Experiment::artifact();
        let prof = Profiles::new(&exp);
        // A light tenant (0.4 rows/cycle) next to a hog (1.0) on the 1-row/cycle channel: the
        // sum exceeds the peak, so the light tenant gets less than its demand.
        let sys = System::new(&exp, &prof);
        let light = 0.4;
        let alone = sys.allocate(&[light], &[2])[0];
        let busy = sys.allocate(&[light, 1.0], &[2, 2])[0];
        assert!((alone - light).abs() < 1e-9);
        assert!(busy < 0.95 * alone, "{busy} vs {alone}");
    }

    #[test]
    fn queueing_delay_is_in_service_times_so_a_closed_loop_fills_the_channel() {
        // Four 2-tile groups each wanting 0.5 rows/cycle (2x the 1-row/cycle peak): with
        // 4 x 128 rows in flight the queue in front of the channel only adds service times
        // (M/D/1), so the tenants together get the whole interference-reduced peak, not the
        // ~70 % a round-trip-scaled latency would leave.
        let exp = Experiment::artifact();
        let prof = Profiles::new(&exp);
        let sys = System::new(&exp, &prof);
        let s = sys.allocate(&[0.5; 4], &[2; 4]);
        let peak = exp.sim.dram_peak_rows_per_cycle * (1.0 - exp.sim.max_interference_loss);
        let total: f64 = s.iter().sum();
        assert!((total - peak).abs() < 1e-3 * peak, "{total} vs {peak}");
        // A lone 1-tile task is still bounded by its own DMA's rows in flight (Little's law).
        let one = sys.allocate(&[5.0], &[1])[0];
        let bound = exp.sim.dma_inflight_rows_per_tile / exp.sim.dram_latency_cycles;
        assert!(one <= bound + 1e-9 && one > 0.9 * bound, "{one} vs {bound}");
    }

    #[test]
    fn eight_tiles_on_a_dram_bound_layer_are_no_faster_than_the_channel() {
        // AlexNet's first FC layer streams ~37.7 M weights: DRAM-bound on any tile count.
        let exp = Experiment::artifact();
        let prof = Profiles::new(&exp);
        let sys = System::new(&exp, &prof);
        let net = exp.network_index("alexnet").unwrap();
        let costs = &prof.nets[net].costs;
        let layer = (0..costs.len())
            .max_by_key(|&l| costs[l].from_dram_rows)
            .unwrap();
        let time = |tiles: u32| {
            let a = Active {
                task: 0,
                tiles,
                group: None,
                phase: Phase::Layer,
                left: 1.0,
                phys: sys.layer_phys(net, layer, tiles, 1),
                regs: ThrottleRegs::OFF,
                thr_rate: f64::INFINITY,
                rt_demand: 0,
                rt_score: 0,
                stop_after: false,
            };
            let share = sys.allocate(&[sys.demand(&a, 0.0)], &[tiles])[0];
            let (steady, _) = sys.times(&a, share, 0.0);
            (steady, a.phys.d)
        };
        let (t2, d) = time(2);
        let (t8, _) = time(8);
        let floor = d / exp.sim.dram_peak_rows_per_cycle;
        // Never faster than the channel allows, and 4x the tiles buys little: 8 tiles are
        // channel-bound, 2 tiles run at their latency bound (just above the channel's rate) plus
        // the part of their 4x larger per-tile compute that does not overlap.
        assert!(t8 >= floor - 1e-6, "{t8} < {floor}");
        assert!(t8 > 0.8 * t2, "8 tiles {t8} vs 2 tiles {t2}");
    }

    #[test]
    fn the_shared_l2_bandwidth_binds_only_below_the_tiles_ports() {
        // Two 4-tile layers streaming from the L2 (no DRAM traffic, no compute): each moves 4
        // rows/cycle through its ports, 8 together.
        let work = LayerWork {
            c: 0.0,
            l: 400_000.0,
            d: 0.0,
            loads: 400_000.0,
            n: 1.0,
        };
        let layer = CoRunLayer {
            work,
            tiles: 4,
            regs: ThrottleRegs::OFF,
        };
        let mut exp = Experiment::artifact();
        exp.sim.layer_overhead_cycles = 0.0;
        let prof = Profiles::new(&exp);
        let free = System::new(&exp, &prof)
            .corun_rates(&[layer, layer])
            .unwrap();
        // The default (8 rows/cycle) does not bind: each layer runs at its ports' rate.
        assert!((free[0] * 100_000.0 - 1.0).abs() < 1e-6, "{free:?}");
        exp.sim.l2_total_rows_per_cycle = 2.0;
        let shared = System::new(&exp, &prof)
            .corun_rates(&[layer, layer])
            .unwrap();
        // 2 rows/cycle for both: each gets 1, a quarter of its ports' rate.
        assert!((shared[0] / free[0] - 0.25).abs() < 1e-6, "{shared:?}");
        assert!((shared[1] / free[1] - 0.25).abs() < 1e-6, "{shared:?}");
    }

    #[test]
    fn co_runners_sharing_the_l2_raise_a_layers_dram_traffic() {
        let exp = Experiment::artifact();
        let prof = Profiles::new(&exp);
        let sys = System::new(&exp, &prof);
        let net = exp.network_index("resnet50").unwrap();
        let total = |k: usize| -> f64 {
            (0..prof.nets[net].layers())
                .map(|l| sys.layer_phys(net, l, 2, k).d)
                .sum()
        };
        // Alone: the runtime's full-cache costs; four tenants: a quarter of the L2 each.
        assert!(total(4) > 1.2 * total(1), "{} vs {}", total(4), total(1));
        assert!(total(8) >= total(4));
        let mut e = exp.clone();
        e.sim.share_l2_capacity = false;
        let off = System::new(&e, &prof);
        let total_off: f64 = (0..prof.nets[net].layers())
            .map(|l| off.layer_phys(net, l, 2, 4).d)
            .sum();
        assert!((total_off - total(1)).abs() < 1e-6);
    }

    #[test]
    fn contention_slows_a_memory_bound_network() {
        let exp = Experiment::artifact();
        let prof = Profiles::new(&exp);
        let sys = System::new(&exp, &prof);
        let alone = sys.run(&[task(0, 0, 0)], &mut Fcfs(2)).unwrap().finish[0];
        // Four ResNets at once on four groups share the channel.
        let four: Vec<Task> = (0..4).map(|i| task(i, 0, 0)).collect();
        let r = sys.run(&four, &mut Fcfs(2)).unwrap();
        assert!(
            r.finish.iter().all(|&f| f > alone),
            "{alone} vs {:?}",
            r.finish
        );
        // More tiles are faster alone.
        let eight = sys.run(&[task(0, 0, 0)], &mut Fcfs(8)).unwrap().finish[0];
        assert!(eight < alone);
    }

    #[test]
    fn a_throttled_layer_gets_what_the_golden_throttle_grants() {
        // A throttle-bound layer alone (2 tiles, 20000 beats per tile, the runtime's
        // squeezenet[2] registers): its time is the golden throttle's grant time from a freshly
        // written throttle, not beats / (TARGET / WINDOW).
        use golden::throttle::ThrottleIn;
        let exp = Experiment::artifact();
        let prof = Profiles::new(&exp);
        let regs = ThrottleRegs {
            window: 4257,
            target: 316,
            burst: 316,
        };
        let layer = CoRunLayer {
            work: LayerWork {
                c: 1000.0,
                l: 40_000.0,
                d: 100.0,
                loads: 40_000.0,
                n: 10.0,
            },
            tiles: 2,
            regs,
        };
        let mut golden = System::new(&exp, &prof);
        golden.throttle_timing = ThrottleTiming::Golden;
        let golden_t = golden.corun(&[layer]).unwrap()[0];
        let mut exact = System::new(&exp, &prof);
        exact.throttle_timing = ThrottleTiming::ExactCap;
        let cap_t = exact.corun(&[layer]).unwrap()[0];
        // Plain stepping of the golden throttle under the layer's requests: 4-beat requests at
        // its unconstrained rate (40000 rows over a 2-row/cycle port, compute 1000 cycles half
        // overlapped by `overlap_serialization`; the tiny DRAM traffic fits) with the DMA's 64 rows in flight as
        // slack.
        let mut t = MemThrottle::new();
        write_registers(
            &mut t,
            &ThrottleConfig {
                window: 4257,
                target: 316,
                burst: 316,
            },
        );
        assert_eq!(exp.sim.l2_rows_per_cycle_per_tile, 1.0);
        assert_eq!(exp.sim.dma_inflight_rows_per_tile, 64.0);
        let steady = 20_000.0 + exp.sim.overlap_serialization * 1000.0;
        let rate = (20_000.0 / steady * 1024.0f64).round() / 1024.0;
        let (mut granted, mut cycles, mut bucket, mut port) = (0u64, 0u64, 64.0f64, 4.0f64);
        while granted < 20_000 {
            bucket = (bucket + rate).min(64.0);
            port = (port + 1.0).min(4.0);
            let req = ThrottleIn {
                up_valid: bucket >= 4.0 && port >= 4.0,
                up_beats: MAX_BEATS as u8,
                down_ready: true,
                ..ThrottleIn::default()
            };
            if t.step(&req).fire {
                granted += u64::from(MAX_BEATS);
                bucket -= 4.0;
                port -= 4.0;
            }
            cycles += 1;
        }
        let cap_cycles = 20_000.0 * 4257.0 / 316.0;
        // Same fill and overhead in both: the difference is the throttle's.
        let diff = (golden_t - cap_t) - (cycles as f64 - cap_cycles);
        assert!(
            diff.abs() < 1e-6 * cap_t,
            "{golden_t} {cap_t} {cycles} {cap_cycles}"
        );
        assert!(
            golden_t < cap_t,
            "the hardware grants more than the ideal cap"
        );
    }

    #[test]
    fn the_measured_non_layer_work_runs_after_the_last_layer_as_in_the_replay() {
        // Under the FireSim calibration every network ends with its measured non-layer work
        // (a memory-only pass), timed by the same code as in the FireSim replay: a network alone
        // on a 2-tile group takes what the replay's isolated run gives it, and more than its
        // layers alone.
        let exp = crate::firesim::calibrate::firesim_experiment(&Experiment::artifact());
        assert!(exp.sim.measured_non_layer_work);
        let prof = Profiles::new(&exp);
        let replayed = crate::firesim::replay::isolated_two_tile(&exp, &prof).unwrap();
        let mut bare = exp.clone();
        bare.sim.measured_non_layer_work = false;
        let aux = crate::firesim::calibrate::aux_cycles(&exp);
        for net in 0..exp.networks.len() {
            let t = [task(0, net, 0)];
            let with = System::new(&exp, &prof).run(&t, &mut Fcfs(2)).unwrap();
            let without = System::new(&bare, &prof).run(&t, &mut Fcfs(2)).unwrap();
            let name = &exp.network_names[net];
            let diff = with.finish[0] as f64 - replayed[net] as f64;
            assert!(
                diff.abs() <= 2.0,
                "{name}: {} vs {}",
                with.finish[0],
                replayed[net]
            );
            assert_eq!(with.layers_run, without.layers_run);
            if aux[net] > exp.sim.layer_overhead_cycles as u64 {
                assert!(with.finish[0] > without.finish[0], "{name}");
                assert!(with.dram_rows > without.dram_rows, "{name}");
            } else {
                assert_eq!(with.finish[0], without.finish[0], "{name}");
            }
        }
    }

    #[test]
    fn throttling_a_tenant_frees_bandwidth_for_the_other() {
        let exp = Experiment::artifact();
        let prof = Profiles::new(&exp);
        let sys = System::new(&exp, &prof);
        let mk = |regs: ThrottleRegs| Active {
            task: 0,
            tiles: 2,
            group: None,
            phase: Phase::Layer,
            left: 1.0,
            phys: LayerWork {
                c: 1000.0,
                l: 4000.0,
                d: 3000.0,
                loads: 3000.0,
                n: 10.0,
            },
            regs,
            thr_rate: regs.rate(),
            rt_demand: 0,
            rt_score: 0,
            stop_after: false,
        };
        let free = mk(ThrottleRegs::OFF);
        let capped = mk(ThrottleRegs {
            window: 1000,
            target: 100,
            burst: 100,
        });
        assert!(sys.demand(&capped, 0.0) < 0.5 * sys.demand(&free, 0.0));
    }
}
