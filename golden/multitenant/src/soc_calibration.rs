//! Calibration (b): the layer-level simulator ([`crate::system`]) against the cycle-exact golden
//! SoC ([`golden::soc`]).
//!
//! The multi-tenant experiments run on `multitenant::system`, which times a layer from its work
//! (compute cycles, rows moved, scratchpad steps) and shares one memory channel among co-running
//! layers (in proportion to demand, throttled tenants capped at `TARGET/WINDOW`). This module
//! checks that model against the SoC it abstracts: scaled-down GEMM layers run on the golden SoC
//! (tiles, throttles, arbiter, one-beat-per-cycle shared memory with latency `L`), alone, side by
//! side and throttled, and the same layers run through [`System::corun`] with the SoC's
//! parameters.
//!
//! # What is compared
//! - **isolated**: a GEMM alone on one tile: SoC cycles vs simulator cycles;
//! - **co-running**: each tenant's completion cycle when 2 or 4 GEMMs start together, and its
//!   *slowdown* (co-run / alone), the quantity that decides how loaded the multi-tenant
//!   experiments are;
//! - **throttled**: the same with throttle registers, either fixed or chosen by the MoCA runtime
//!   ([`runtime::decide`]) from the layers' predicted demands and the tenants' priorities.
//!
//! # The simulator's inputs, taken from the compiled program (nothing fitted per scenario)
//! - `C` = `COMPUTE` commands x `(2 DIM + 3)` cycles (the tile's back-to-back `COMPUTE` rate:
//!   [`ts::compute_cycles`] plus the issue cycle);
//! - `L = D` = rows loaded + rows stored (the SoC has no cache: every beat crosses the shared
//!   memory port), and the throttle's units are the same beats (it counts writes too);
//! - `n` = the program's double-buffered steps (scratchpad tiles);
//! - [`soc_sim_params`]: a channel of one row per cycle, latency `L + 1` (the memory's `L` and
//!   the memory port's register stage, [`ts::MEM_PORT_DELAY`]), `LOAD_SLOTS` x the largest
//!   `LOAD` in flight per tile, no row-buffer interference (the SoC's memory has none), no
//!   per-layer overhead or auxiliary traffic (the SoC runs exactly the GEMM), max-min fair sharing
//!   (the SoC's arbiter is round-robin; [`Calibration::proportional`] shows the error with the
//!   experiments' proportional sharing instead). The two structural
//!   constants under test keep the values the experiments use: `overlap_serialization` and the
//!   queueing model (`queueing_factor`, `dram_service_cycles` = `MAX_BEATS`); [`fit`] reports the
//!   values that would fit the SoC best.

use crate::runtime::{
    self, CoRunner, LayerPrediction, Partition, RuntimeError, TaskState, ThrottleRegs,
};
use crate::system::{CoRunLayer, LayerWork, Profiles, SimError, System};
use crate::workload::{Arbitration, Experiment, SimParams};
use golden::cfg::ConfigError;
use golden::compile::{CompileOptions, GemmShape, Program, compile};
use golden::soc::{MocaSoc, SocError, SocParams, place_gemms};
use golden::spec::{self, tile as ts};
use golden::tile::Command;
use serde::Serialize;
use thiserror::Error;

/// Why a calibration run could not be made.
#[derive(Debug, Error)]
pub enum CalibrationError {
    /// The SoC refused a parameter, a program or a register write, or did not finish.
    #[error("SoC: {0}")]
    Soc(#[from] SocError),
    /// The simulator refused a layer.
    #[error("simulator: {0}")]
    Sim(#[from] SimError),
    /// Throttle registers out of range.
    #[error("throttle: {0}")]
    Config(#[from] ConfigError),
    /// The runtime could not convert a share into registers.
    #[error("runtime: {0}")]
    Runtime(#[from] RuntimeError),
    /// A GEMM produced a wrong matrix (the SoC model is broken).
    #[error("scenario `{scenario}`: tile {tile} computed a wrong result")]
    WrongResult {
        /// Scenario name.
        scenario: String,
        /// Tile.
        tile: usize,
    },
    /// A scenario asks for more tenants than the SoC has tiles, or for none.
    #[error("scenario `{scenario}`: {tenants} tenants, allowed 1..={tiles} (the SoC's tiles)")]
    Tenants {
        /// Scenario name.
        scenario: String,
        /// Tenants asked for.
        tenants: usize,
        /// Tiles of the SoC.
        tiles: usize,
    },
}

/// How a scenario's throttles are set.
#[derive(Clone, Debug, PartialEq)]
pub enum Throttling {
    /// Every throttle off.
    Off,
    /// Fixed registers per tenant (`None`: off).
    Fixed(Vec<Option<ThrottleRegs>>),
    /// Chosen by the MoCA runtime from the tenants' predicted demands and these user priorities
    /// (0..=11), each tenant's latency target twice its predicted isolated time.
    Runtime(Vec<u32>),
}

/// One calibration scenario: GEMMs that start together, tenant `k` on tile `k`.
#[derive(Clone, Debug, PartialEq)]
pub struct Scenario {
    /// Short name.
    pub name: String,
    /// One GEMM per tenant.
    pub gemms: Vec<GemmShape>,
    /// Throttle settings.
    pub throttling: Throttling,
}

/// One tenant of one scenario.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TenantResult {
    /// Scenario name.
    pub scenario: String,
    /// `isolated`, `corun` or `throttled`.
    pub kind: &'static str,
    /// Tile (= tenant index).
    pub tile: usize,
    /// GEMM `IxJxK`.
    pub gemm: String,
    /// The layer's work as the simulator sees it.
    pub work: LayerWork,
    /// Throttle registers applied (`window = 0`: off).
    pub regs: ThrottleRegs,
    /// SoC cycles from the common start to this tile's completion.
    pub soc_cycles: u64,
    /// Simulator cycles for the same.
    pub sim_cycles: f64,
    /// `sim / soc - 1`.
    pub error: f64,
    /// SoC cycles of the same GEMM alone on one tile, unthrottled.
    pub soc_alone: u64,
    /// Simulator cycles of the same GEMM alone.
    pub sim_alone: f64,
    /// `soc_cycles / soc_alone`.
    pub soc_slowdown: f64,
    /// `sim_cycles / sim_alone`.
    pub sim_slowdown: f64,
    /// SoC: rows this tile moved per cycle of its run.
    pub soc_rows_per_cycle: f64,
}

/// Summary of a calibration.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Summary {
    /// Mean absolute relative error of isolated cycles.
    pub isolated_mape: f64,
    /// Mean absolute relative error of co-running (unthrottled) tenants' cycles.
    pub corun_mape: f64,
    /// Mean absolute relative error of co-running tenants' slowdowns (`sim_slowdown /
    /// soc_slowdown - 1`).
    pub corun_slowdown_mape: f64,
    /// Mean signed slowdown error of co-running tenants (positive: the simulator slows
    /// co-runners more than the SoC does).
    pub corun_slowdown_bias: f64,
    /// Mean absolute relative error of throttled scenarios' cycles.
    pub throttled_mape: f64,
    /// Largest absolute relative error of any tenant's cycles.
    pub max_error: f64,
}

/// A whole calibration: the SoC, the simulator's parameters, every tenant and the summary.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Calibration {
    /// Array dimension of the SoC's tiles.
    pub dim: usize,
    /// Tiles of the SoC.
    pub tiles: usize,
    /// Memory latency `L`.
    pub latency: u32,
    /// The simulator's parameters used.
    pub sim: SimParams,
    /// Per tenant.
    pub tenants: Vec<TenantResult>,
    /// Errors.
    pub summary: Summary,
    /// Errors of the same comparison with proportional sharing (`Arbitration::Proportional`, the
    /// experiments' default for the paper's DRAM) instead of the SoC's round-robin.
    pub proportional: Summary,
}

/// The default scenarios for a SoC of at least 4 tiles with `dim`-wide tiles: four GEMMs from
/// memory-bound (a small batch against a large weight matrix, as a fully connected layer) to
/// compute-bound (a square convolution-like matmul), each alone, in pairs and fours, with fixed
/// throttles and with the MoCA runtime choosing the registers. Sizes are given for DIM 4 and
/// scaled by `dim / 4`, so every DIM sees the same block counts and tilings.
pub fn default_scenarios(dim: usize) -> Vec<Scenario> {
    let scale = |x: usize| (x * dim).div_ceil(4).max(1);
    let g = |i, j, k| GemmShape {
        i: scale(i),
        j: scale(j),
        k: scale(k),
    };
    let fc = g(4, 64, 256);
    let fc8 = g(8, 48, 192);
    let conv = g(32, 32, 64);
    let square = g(48, 48, 48);
    let mut v = Vec::new();
    let mut add = |name: &str, gemms: Vec<GemmShape>, throttling: Throttling| {
        v.push(Scenario {
            name: name.into(),
            gemms,
            throttling,
        })
    };
    let on = |window, target| {
        Some(ThrottleRegs {
            window,
            target,
            burst: target,
        })
    };
    add("fc+fc", vec![fc, fc], Throttling::Off);
    add("fc+conv", vec![fc, conv], Throttling::Off);
    add("fc8+square", vec![fc8, square], Throttling::Off);
    add("conv+square", vec![conv, square], Throttling::Off);
    add("conv+conv", vec![conv, conv], Throttling::Off);
    add("4 heavy", vec![fc, fc8, fc, fc8], Throttling::Off);
    add("mixed 4", vec![fc, fc8, conv, square], Throttling::Off);
    add("4 light", vec![conv, square, conv, square], Throttling::Off);
    add(
        "fc@25% + conv",
        vec![fc, conv],
        Throttling::Fixed(vec![on(128, 32), None]),
    );
    add(
        "fc@50% + fc",
        vec![fc, fc],
        Throttling::Fixed(vec![on(64, 32), None]),
    );
    add(
        "mixed 4, heavy @30%",
        vec![fc, fc8, conv, square],
        Throttling::Fixed(vec![on(160, 48), on(160, 48), None, None]),
    );
    // Three fc layers and a conv: the runtime's predicted demands (43 + 43 + 43 + 32 % at DIM
    // 4 with `COMPUTE` in 2D + 2 cycles) exceed its 150 % threshold, so it throttles; with an
    // fc8 in place of the second fc (31 %) they sum to 149 % and it would throttle nobody.
    add(
        "runtime: heavy low prio",
        vec![fc, fc, fc, conv],
        Throttling::Runtime(vec![0, 1, 11, 6]),
    );
    add(
        "runtime: heavy high prio",
        vec![fc, fc, fc, conv],
        Throttling::Runtime(vec![11, 9, 0, 2]),
    );
    v
}

/// The simulator parameters that describe `soc` running `programs` (see the module docs); the
/// structural constants (`overlap_serialization`, `queueing_factor`) come from `base`.
pub fn soc_sim_params(soc: &SocParams, programs: &[&Program], base: &SimParams) -> SimParams {
    let largest_load = programs
        .iter()
        .flat_map(|p| p.commands.iter())
        .filter_map(|c| match c {
            Command::Load { rows, .. } => Some(*rows),
            _ => None,
        })
        .max()
        .unwrap_or(spec::MAX_BEATS);
    SimParams {
        dram_peak_rows_per_cycle: 1.0,
        l2_rows_per_cycle_per_tile: 1.0,
        l2_total_rows_per_cycle: soc.tiles as f64,
        // A read's round trip: the port registers the request, then the memory's latency.
        dram_latency_cycles: f64::from(soc.latency) + ts::MEM_PORT_DELAY as f64,
        dma_inflight_rows_per_tile: (ts::LOAD_SLOTS as u32 * largest_load) as f64,
        interference_loss_per_stream: 0.0,
        max_interference_loss: 0.0,
        layer_overhead_cycles: 0.0,
        aux_traffic_per_output_row: 0.0,
        queueing_factor: base.queueing_factor,
        dram_service_cycles: f64::from(spec::MAX_BEATS),
        overlap_serialization: base.overlap_serialization,
        share_l2_capacity: false,
        // The SoC's BusArbiter is round-robin (its reset policy): max-min fair shares.
        arbitration: Arbitration::MaxMin,
        throttle_model: base.throttle_model,
        // The golden SoC's memory has a fixed latency (no banks, no rows).
        row_conflict_latency_cycles: 0.0,
        // The golden SoC runs exactly the layers it is given.
        measured_non_layer_work: false,
    }
}

/// The work of a compiled GEMM on one tile, as the simulator sees it.
pub fn program_work(p: &Program) -> LayerWork {
    let (mut computes, mut loads, mut stores) = (0u64, 0u64, 0u64);
    for c in &p.commands {
        match c {
            Command::Compute { .. } => computes += 1,
            Command::Load { rows, .. } => loads += u64::from(*rows),
            Command::Store { rows, .. } => stores += u64::from(*rows),
            _ => {}
        }
    }
    let l = p.layout;
    let t = p.tiling;
    let steps = l.ni.div_ceil(t.ti) * l.nj.div_ceil(t.tj) * l.nk.div_ceil(t.tk);
    let rows = (loads + stores) as f64;
    LayerWork {
        c: computes as f64 * (ts::compute_cycles(p.layout.dim) + 1) as f64,
        l: rows,
        d: rows,
        loads: rows,
        n: steps.max(1) as f64,
    }
}

/// The runtime's view of a layer from its work on one tile (memory at one row per cycle).
fn prediction(work: &LayerWork, overlap: f64) -> LayerPrediction {
    let mem = work.d;
    let ideal = (mem.max(work.c) + overlap * mem.min(work.c)).max(1.0);
    LayerPrediction {
        tiles: 1,
        compute_cycles: work.c,
        onchip_cycles: work.l,
        dram_cycles: work.d,
        mem_cycles: mem,
        ideal_cycles: ideal as u64,
        from_dram_rows: work.d as u64,
        load_rows: work.loads as u64,
        scratchpad_tiles_per_tile: work.n as u64,
        demand_percent: (100.0 * work.d / ideal) as u32,
    }
}

/// Registers the MoCA runtime chooses for tenants that start together with these priorities.
fn runtime_regs(
    exp: &Experiment,
    works: &[LayerWork],
    priorities: &[u32],
) -> Result<Vec<ThrottleRegs>, CalibrationError> {
    let mut hw = exp.hardware.clone();
    hw.dram_bw_rows_per_cycle = 1;
    let preds: Vec<LayerPrediction> = works
        .iter()
        .map(|w| prediction(w, exp.runtime.prediction_overlap))
        .collect();
    let state = |k: usize| TaskState {
        priority: priorities.get(k).copied().unwrap_or(0),
        remaining_cycles: preds[k].ideal_cycles,
        target_cycles: 2 * preds[k].ideal_cycles,
        elapsed_cycles: 0,
    };
    let scores: Vec<u32> = (0..works.len())
        .map(|k| {
            let s = state(k);
            runtime::score(
                &exp.runtime,
                s.priority,
                s.remaining_cycles,
                s.target_cycles,
                0,
            )
        })
        .collect();
    (0..works.len())
        .map(|k| {
            let others: Vec<CoRunner> = (0..works.len())
                .filter(|&o| o != k)
                .map(|o| CoRunner {
                    demand_percent: preds[o].demand_percent,
                    score: scores[o],
                })
                .collect();
            let d = runtime::decide(
                &hw,
                &exp.runtime,
                &preds[k],
                false,
                &state(k),
                &others,
                Partition::Paper,
            )?;
            Ok(d.regs)
        })
        .collect()
}

/// Run GEMMs side by side on the golden SoC (tenant `k` on tile `k`, throttles configured
/// first) and return each tile's cycles from the common start, checking every result matrix.
fn run_soc(
    soc_params: &SocParams,
    name: &str,
    gemms: &[GemmShape],
    regs: &[ThrottleRegs],
    seed: u64,
) -> Result<Vec<(u64, f64)>, CalibrationError> {
    let mut soc = MocaSoc::new(*soc_params)?;
    for (k, r) in regs.iter().enumerate() {
        if r.enabled() {
            golden::spec::validate(r)?;
            soc.configure_throttle(k, r)?;
        }
    }
    soc.run_until_idle(1_000)?;
    let start = soc.cycle();
    let jobs = place_gemms(&mut soc, gemms, 0, 127, seed)?;
    soc.run_until_idle(500_000_000)?;
    jobs.iter()
        .map(|j| {
            if !j.output_ok(&soc)? {
                return Err(CalibrationError::WrongResult {
                    scenario: name.into(),
                    tile: j.tile,
                });
            }
            let perf = soc.tile_perf(j.tile)?;
            let cycles = perf.finish_cycle.saturating_sub(start).max(1);
            let rows = (perf.load_rows + perf.store_rows) as f64 / cycles as f64;
            Ok((cycles, rows))
        })
        .collect()
}

fn mean_abs(xs: impl Iterator<Item = f64>) -> f64 {
    let v: Vec<f64> = xs.collect();
    if v.is_empty() {
        f64::NAN
    } else {
        v.iter().map(|x| x.abs()).sum::<f64>() / v.len() as f64
    }
}

/// One scenario as run on the SoC.
#[derive(Clone, Debug)]
struct ScenarioRun {
    /// `isolated`, `corun` or `throttled`.
    kind: &'static str,
    /// Registers applied per tenant.
    regs: Vec<ThrottleRegs>,
    /// Per tenant: cycles and rows moved per cycle.
    measured: Vec<(u64, f64)>,
}

/// A GEMM alone on one tile, unthrottled.
#[derive(Clone, Debug)]
struct AloneRun {
    shape: GemmShape,
    work: LayerWork,
    cycles: u64,
    rows_per_cycle: f64,
}

/// SoC-side measurements of a scenario set (independent of the simulator's parameters).
#[derive(Clone, Debug)]
pub struct SocRuns {
    soc: SocParams,
    /// Per scenario.
    runs: Vec<ScenarioRun>,
    /// Per scenario, per tenant: its program.
    programs: Vec<Vec<Program>>,
    /// Each distinct GEMM alone.
    alone: Vec<AloneRun>,
    scenarios: Vec<Scenario>,
}

/// Run every scenario (and each distinct GEMM alone) on the golden SoC. `exp` supplies the
/// runtime's constants for [`Throttling::Runtime`] scenarios; `seed` the matrices' values.
pub fn measure_soc(
    exp: &Experiment,
    soc: &SocParams,
    scenarios: &[Scenario],
    seed: u64,
) -> Result<SocRuns, CalibrationError> {
    soc.validate()?;
    let compile_one = |s: GemmShape| -> Result<Program, CalibrationError> {
        Ok(
            compile(s, &soc.tile, soc.mem_rows, &CompileOptions::default())
                .map_err(SocError::from)?,
        )
    };
    let mut alone: Vec<AloneRun> = Vec::new();
    let mut runs = Vec::new();
    let mut programs = Vec::new();
    for sc in scenarios {
        if sc.gemms.is_empty() || sc.gemms.len() > soc.tiles {
            return Err(CalibrationError::Tenants {
                scenario: sc.name.clone(),
                tenants: sc.gemms.len(),
                tiles: soc.tiles,
            });
        }
        let progs = sc
            .gemms
            .iter()
            .map(|&g| compile_one(g))
            .collect::<Result<Vec<_>, _>>()?;
        for (&g, p) in sc.gemms.iter().zip(&progs) {
            if !alone.iter().any(|a| a.shape == g) {
                let r = run_soc(soc, "alone", &[g], &[ThrottleRegs::OFF], seed)?;
                alone.push(AloneRun {
                    shape: g,
                    work: program_work(p),
                    cycles: r[0].0,
                    rows_per_cycle: r[0].1,
                });
            }
        }
        let works: Vec<LayerWork> = progs.iter().map(program_work).collect();
        let (kind, regs) = match &sc.throttling {
            Throttling::Off => (
                if sc.gemms.len() == 1 {
                    "isolated"
                } else {
                    "corun"
                },
                vec![ThrottleRegs::OFF; sc.gemms.len()],
            ),
            Throttling::Fixed(r) => (
                "throttled",
                (0..sc.gemms.len())
                    .map(|k| r.get(k).copied().flatten().unwrap_or(ThrottleRegs::OFF))
                    .collect(),
            ),
            Throttling::Runtime(p) => ("throttled", runtime_regs(exp, &works, p)?),
        };
        let r = run_soc(soc, &sc.name, &sc.gemms, &regs, seed)?;
        runs.push(ScenarioRun {
            kind,
            regs,
            measured: r,
        });
        programs.push(progs);
    }
    Ok(SocRuns {
        soc: *soc,
        runs,
        programs,
        alone,
        scenarios: scenarios.to_vec(),
    })
}

/// Compare SoC measurements with the simulator, its structural constants taken from `base`.
pub fn compare(runs: &SocRuns, base: &SimParams) -> Result<Calibration, CalibrationError> {
    let all: Vec<&Program> = runs.programs.iter().flatten().collect();
    let sim = soc_sim_params(&runs.soc, &all, base);
    let mut prop = sim.clone();
    prop.arbitration = Arbitration::Proportional;
    let proportional = summarize(&tenants_with(runs, &prop)?);
    let tenants = tenants_with(runs, &sim)?;
    let summary = summarize(&tenants);
    Ok(Calibration {
        dim: runs.soc.tile.dim,
        tiles: runs.soc.tiles,
        latency: runs.soc.latency,
        sim,
        tenants,
        summary,
        proportional,
    })
}

/// Every tenant of `runs` compared with the simulator at parameters `sim`.
fn tenants_with(runs: &SocRuns, sim: &SimParams) -> Result<Vec<TenantResult>, CalibrationError> {
    let mut exp = Experiment::artifact();
    exp.hardware.tiles = runs.soc.tiles as u32;
    exp.sim = sim.clone();
    let profiles = Profiles {
        nets: Vec::new(),
        throttle: Default::default(),
    };
    let system = System::new(&exp, &profiles);
    let sim_alone = |w: LayerWork| -> Result<f64, CalibrationError> {
        Ok(system.corun(&[CoRunLayer {
            work: w,
            tiles: 1,
            regs: ThrottleRegs::OFF,
        }])?[0])
    };
    let mut tenants = Vec::new();
    // The distinct GEMMs alone.
    for a in &runs.alone {
        let s = sim_alone(a.work)?;
        tenants.push(TenantResult {
            scenario: format!("{} alone", shape_name(&a.shape)),
            kind: "isolated",
            tile: 0,
            gemm: shape_name(&a.shape),
            work: a.work,
            regs: ThrottleRegs::OFF,
            soc_cycles: a.cycles,
            sim_cycles: s,
            error: s / a.cycles as f64 - 1.0,
            soc_alone: a.cycles,
            sim_alone: s,
            soc_slowdown: 1.0,
            sim_slowdown: 1.0,
            soc_rows_per_cycle: a.rows_per_cycle,
        });
    }
    for ((sc, run), progs) in runs.scenarios.iter().zip(&runs.runs).zip(&runs.programs) {
        let (kind, regs, soc_r) = (run.kind, &run.regs, &run.measured);
        let works: Vec<LayerWork> = progs.iter().map(program_work).collect();
        let layers: Vec<CoRunLayer> = works
            .iter()
            .zip(regs)
            .map(|(&work, &regs)| CoRunLayer {
                work,
                tiles: 1,
                regs,
            })
            .collect();
        let sim_r = system.corun(&layers)?;
        for (k, g) in sc.gemms.iter().enumerate() {
            let soc_alone = runs
                .alone
                .iter()
                .find(|a| a.shape == *g)
                .expect("measure_soc runs every scenario's GEMMs alone")
                .cycles;
            let s_alone = sim_alone(works[k])?;
            let (soc_c, rows) = soc_r[k];
            tenants.push(TenantResult {
                scenario: sc.name.clone(),
                kind,
                tile: k,
                gemm: shape_name(g),
                work: works[k],
                regs: regs[k],
                soc_cycles: soc_c,
                sim_cycles: sim_r[k],
                error: sim_r[k] / soc_c as f64 - 1.0,
                soc_alone,
                sim_alone: s_alone,
                soc_slowdown: soc_c as f64 / soc_alone as f64,
                sim_slowdown: sim_r[k] / s_alone,
                soc_rows_per_cycle: rows,
            });
        }
    }
    Ok(tenants)
}

fn summarize(tenants: &[TenantResult]) -> Summary {
    let of = |k: &'static str| tenants.iter().filter(move |t| t.kind == k);
    let slow = |t: &TenantResult| t.sim_slowdown / t.soc_slowdown - 1.0;
    let n_corun = of("corun").count().max(1) as f64;
    Summary {
        isolated_mape: mean_abs(of("isolated").map(|t| t.error)),
        corun_mape: mean_abs(of("corun").map(|t| t.error)),
        corun_slowdown_mape: mean_abs(of("corun").map(slow)),
        corun_slowdown_bias: of("corun").map(slow).sum::<f64>() / n_corun,
        throttled_mape: mean_abs(of("throttled").map(|t| t.error)),
        max_error: tenants.iter().map(|t| t.error.abs()).fold(0.0, f64::max),
    }
}

/// The structural constants that fit the SoC best, by grid search (`overlap_serialization`
/// 0..=0.5 by 0.05, `queueing_factor` in {0, 0.25, 0.5, 1, 2, 4}), minimising the mean of the
/// isolated, co-running and throttled errors. Returns the best calibration.
pub fn fit(runs: &SocRuns, base: &SimParams) -> Result<Calibration, CalibrationError> {
    let mut best: Option<(f64, Calibration)> = None;
    for o in 0..=10 {
        for q in [0.0, 0.25, 0.5, 1.0, 2.0, 4.0] {
            let mut p = base.clone();
            p.overlap_serialization = f64::from(o) * 0.05;
            p.queueing_factor = q;
            let c = compare(runs, &p)?;
            let s = &c.summary;
            let cost = [s.isolated_mape, s.corun_mape, s.throttled_mape]
                .iter()
                .filter(|x| x.is_finite())
                .sum::<f64>();
            if best.as_ref().is_none_or(|b| cost < b.0) {
                best = Some((cost, c));
            }
        }
    }
    Ok(best.expect("the grid is not empty").1)
}

/// `IxJxK`.
pub fn shape_name(g: &GemmShape) -> String {
    format!("{}x{}x{}", g.i, g.j, g.k)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn soc4() -> SocParams {
        SocParams::new(4, 4).unwrap()
    }

    #[test]
    fn program_work_counts_the_compiled_commands() {
        let p = compile(
            GemmShape { i: 8, j: 8, k: 8 },
            &soc4().tile,
            1 << 16,
            &CompileOptions::default(),
        )
        .unwrap();
        let w = program_work(&p);
        // 2x2 output blocks, 2 K blocks: 8 COMPUTEs issued every 2*4+3 cycles (compute_cycles
        // plus the issue cycle); A and B 16 rows each, loaded once (one step holds everything),
        // C 16 rows stored.
        assert_eq!(ts::compute_cycles(4) + 1, 11);
        assert_eq!(w.c, 8.0 * 11.0);
        assert_eq!(w.l, 16.0 + 16.0 + 16.0);
        assert_eq!(w.d, w.l);
        assert_eq!(w.n, 1.0);
    }

    /// The SoC's structural constants (what `fit` finds): its tile overlaps loads and compute
    /// completely and its memory has a fixed latency.
    fn soc_base() -> SimParams {
        SimParams {
            overlap_serialization: 0.0,
            queueing_factor: 0.0,
            ..SimParams::default()
        }
    }

    #[test]
    fn the_fitted_simulator_matches_the_soc_within_a_few_percent() {
        let exp = Experiment::artifact();
        let runs = measure_soc(&exp, &soc4(), &default_scenarios(4), 1).unwrap();
        let c = fit(&runs, &SimParams::default()).unwrap();
        let s = &c.summary;
        assert!(s.isolated_mape < 0.05, "{s:?}");
        assert!(s.corun_mape < 0.05, "{s:?}");
        assert!(s.throttled_mape < 0.05, "{s:?}");
        assert!(s.max_error < 0.10, "{s:?}");
        // Co-running really contends in the SoC (4 tenants on a one-beat port), and the
        // simulator's slowdowns follow.
        let worst = c
            .tenants
            .iter()
            .filter(|t| t.kind == "corun")
            .max_by(|a, b| a.soc_slowdown.total_cmp(&b.soc_slowdown))
            .unwrap();
        // (1.93x at DIM 4 with `COMPUTE` in 2D + 2 cycles: four fc/fc8 layers on one port.)
        assert!(worst.soc_slowdown > 1.8, "{worst:?}");
        assert!(
            (worst.sim_slowdown / worst.soc_slowdown - 1.0).abs() < 0.1,
            "{worst:?}"
        );
        // The round-robin arbiter shares max-min fairly: proportional sharing fits worse.
        assert!(
            c.proportional.throttled_mape > 2.0 * s.throttled_mape,
            "{c:?}"
        );
    }

    #[test]
    fn throttling_a_tenant_speeds_its_co_runner_in_both_models() {
        let exp = Experiment::artifact();
        let g = GemmShape {
            i: 4,
            j: 32,
            k: 128,
        };
        let regs = ThrottleRegs {
            window: 128,
            target: 32,
            burst: 32,
        };
        let sc = vec![
            Scenario {
                name: "free".into(),
                gemms: vec![g, g],
                throttling: Throttling::Off,
            },
            Scenario {
                name: "throttled".into(),
                gemms: vec![g, g],
                throttling: Throttling::Fixed(vec![Some(regs), None]),
            },
        ];
        let runs = measure_soc(&exp, &soc4(), &sc, 1).unwrap();
        let c = compare(&runs, &soc_base()).unwrap();
        let get = |s: &str, k: usize| {
            c.tenants
                .iter()
                .find(|t| t.scenario == s && t.tile == k)
                .unwrap()
                .clone()
        };
        let (free1, thr0, thr1) = (get("free", 1), get("throttled", 0), get("throttled", 1));
        // Two of these GEMMs contend (1.17x at DIM 4 with `COMPUTE` in 2D + 2 cycles).
        assert!(free1.soc_slowdown > 1.1, "{free1:?}");
        assert!(thr1.soc_cycles < free1.soc_cycles);
        assert!(thr1.sim_cycles < free1.sim_cycles);
        // The throttled tenant runs near TARGET/WINDOW = 0.25 rows/cycle in both.
        assert!((thr0.soc_rows_per_cycle - 0.25).abs() < 0.03, "{thr0:?}");
        assert!(thr0.error.abs() < 0.05, "{thr0:?}");
    }

    #[test]
    fn the_runtime_gives_the_high_priority_tenant_more_bandwidth() {
        // Tenants 0 and 2 run the same memory-bound GEMM; only their priorities differ.
        let exp = Experiment::artifact();
        let g = |i, j, k| {
            let p = compile(
                GemmShape { i, j, k },
                &soc4().tile,
                1 << 16,
                &CompileOptions::default(),
            )
            .unwrap();
            program_work(&p)
        };
        let works = vec![g(4, 64, 256), g(4, 64, 256), g(4, 64, 256), g(32, 32, 64)];
        let regs = runtime_regs(&exp, &works, &[11, 9, 0, 2]).unwrap();
        assert!(regs.iter().all(|r| r.enabled()), "{regs:?}");
        assert!(regs[0].rate() > regs[2].rate(), "{regs:?}");
    }

    #[test]
    fn too_many_tenants_is_a_clear_error() {
        let exp = Experiment::artifact();
        let g = GemmShape { i: 4, j: 4, k: 4 };
        let sc = vec![Scenario {
            name: "five".into(),
            gemms: vec![g; 5],
            throttling: Throttling::Off,
        }];
        let e = measure_soc(&exp, &soc4(), &sc, 1).unwrap_err();
        assert_eq!(
            e.to_string(),
            "scenario `five`: 5 tenants, allowed 1..=4 (the SoC's tiles)"
        );
    }
}
