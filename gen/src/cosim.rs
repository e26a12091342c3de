//! `moca cosim`: the emitted Verilog, run in Verilator, in lockstep with the golden model.
//!
//! The engine is `sim::cosim`; this module turns flags into a [`Scenario`], runs it and prints
//! the result (a short summary, or one JSON object with `--json`). `moca fuzz` reuses
//! [`Scenario`] and [`run_scenario`].

use crate::usage;
use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use golden::arbiter::Policy;
use golden::cfg::{ThrottleConfig, check_ports};
use golden::compile::GemmShape;
use golden::soc::SocParams;
use golden::spec;
use golden::stimulus::Demand;
use golden::tile::TileParams;
use serde_json::{Value, json};
use sim::cosim::{
    self, ArbiterBlock, CosimOptions, CosimReport, SocBlock, SocStats, ThrottleBlock,
};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// A block that can be co-simulated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum CosimTarget {
    /// `MemThrottle`: the per-tile memory-access rate limiter.
    Throttle,
    /// `BusArbiter`: N requesters to one memory port.
    Arbiter,
    /// One tile alone on a memory (`moca_tile_bench_d<DIM>`) running one GEMM under random
    /// DMA back-pressure.
    Tile,
    /// `MocaSoc`: N tiles running one GEMM each, throttles, arbiter, shared memory.
    Soc,
}

/// Arbitration policy written at start-up.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum PolicyArg {
    /// Round-robin.
    Rr,
    /// Fixed priority (lowest index first).
    Fixed,
}

impl From<PolicyArg> for Policy {
    fn from(p: PolicyArg) -> Self {
        match p {
            PolicyArg::Rr => Policy::RoundRobin,
            PolicyArg::Fixed => Policy::Fixed,
        }
    }
}

/// Throttle demand pattern.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum DemandArg {
    /// A request every cycle, the bus always ready.
    Saturate,
    /// Random requests, beats, bursts, idle gaps, back-pressure and configuration writes.
    Random,
}

impl From<DemandArg> for Demand {
    fn from(d: DemandArg) -> Self {
        match d {
            DemandArg::Saturate => Demand::Saturate,
            DemandArg::Random => Demand::Random,
        }
    }
}

/// Default `--window`.
pub const DEFAULT_WINDOW: i64 = 100;
/// Default `--target`.
pub const DEFAULT_TARGET: i64 = 25;

/// Arguments of `moca cosim`.
#[derive(Args)]
#[command(
    allow_negative_numbers = true,
    long_about = "Build the emitted Verilog of a block with Verilator (cached under \
    target/moca-sim-cache; a rebuild prints one line) and run it in lockstep with the golden \
    model on one seeded stimulus stream. Every cycle, every output and every status register \
    is compared by name. The first mismatch stops the run with the cycle, the signal, both \
    values, the last 32 cycles of both as a table and a VCD around it (exit 1).\n\n\
    The seed is printed; rerun with --seed to reproduce.\n\n\
    --block soc runs one GEMM per tile (random int8 data from the seed; tiles without a GEMM \
    stay idle) until every tile is idle, then checks every output matrix read from the RTL's \
    memory (and the golden one) against a plain reference matmul (exit 1 if one differs).\n\n\
    --block tile runs one GEMM on one tile alone on a memory (moca_tile_bench_d<DIM>: the \
    SoC's memory port, no throttle or arbiter) with random DMA back-pressure and invalid \
    host words mixed in, until idle, and checks the output matrix the same way.\n\n\
    Examples:\n  moca cosim --block throttle --window 100 --target 25 --cycles 1000000\n  \
    moca cosim --block arbiter --ports 8 --policy fixed --seed 7 --json\n  \
    moca cosim --block soc --tiles 2 --dim 4 --gemm 16x24x8,9x5x30 --throttle 0:200:20\n  \
    moca cosim --block tile --dim 4 --gemm 24x20x28 --latency 8"
)]
pub struct CosimArgs {
    /// Block to co-simulate.
    #[arg(long, value_enum)]
    pub block: CosimTarget,
    /// Arbiter requesters (1..=16; default 4). Arbiter only.
    #[arg(long)]
    pub ports: Option<i64>,
    /// Arbitration policy written at start-up (default rr; the stimulus also rewrites POLICY,
    /// valid and invalid values, at random cycles). Arbiter only.
    #[arg(long, value_enum)]
    pub policy: Option<PolicyArg>,
    /// Throttle WINDOW in cycles (0 = off, or 2..=65535; default 100). Throttle only.
    #[arg(long)]
    pub window: Option<i64>,
    /// Throttle TARGET beats per window (1..=65535; default 25). Throttle only.
    #[arg(long)]
    pub target: Option<i64>,
    /// Throttle BURST credit bound (0..=65535; default TARGET). Throttle only.
    #[arg(long)]
    pub burst: Option<i64>,
    /// Throttle demand pattern (default random). Throttle only.
    #[arg(long, value_enum)]
    pub demand: Option<DemandArg>,
    /// SoC tiles (1..=16; default: one per GEMM). SoC only.
    #[arg(long)]
    pub tiles: Option<i64>,
    /// Systolic array dimension DIM (2..=16; default 4). SoC and tile.
    #[arg(long)]
    pub dim: Option<i64>,
    /// GEMMs `IxJxK` (comma-separated or repeated), one per tile from tile 0 (tile: exactly
    /// one). SoC and tile.
    #[arg(long, value_name = "IxJxK", value_delimiter = ',')]
    pub gemm: Vec<String>,
    /// Throttle a tile: `TILE:WINDOW:TARGET` (repeatable; configured before its first
    /// command). SoC only.
    #[arg(long, value_name = "TILE:W:T", num_args = 1..)]
    pub throttle: Vec<String>,
    /// Shared-memory read latency in cycles (1..=1024; default 16). SoC and tile.
    #[arg(long)]
    pub latency: Option<i64>,
    /// STORE right shift before int8 saturation (0..=31; default 7 + ceil(log2 Kmax)/2, which
    /// keeps typical outputs inside int8). SoC and tile.
    #[arg(long)]
    pub shift: Option<i64>,
    /// Cycles to simulate (at least 1; default 1000000). Throttle and arbiter only (the SoC
    /// runs until every tile is idle).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub cycles: Option<u64>,
    /// Stimulus seed (default: from the clock; always printed).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Print one JSON object instead of the summary.
    #[arg(long)]
    pub json: bool,
    /// Write a VCD waveform of the whole run to FILE (slower; GTKWave opens it). Without it, a
    /// mismatch writes a VCD around the failing cycle to the temporary directory.
    #[arg(long, value_name = "FILE")]
    pub vcd: Option<PathBuf>,
}

/// A fully validated co-simulation scenario (block and its parameters, not the seed).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scenario {
    /// The throttle with a configuration and a demand pattern.
    Throttle {
        /// Registers written at start-up.
        cfg: ThrottleConfig,
        /// Demand pattern.
        demand: DemandArg,
    },
    /// The arbiter with a port count and a start-up policy.
    Arbiter {
        /// Requesters (1..=16).
        ports: usize,
        /// Policy written at start-up.
        policy: PolicyArg,
    },
}

fn value_name<T: ValueEnum>(v: T) -> String {
    v.to_possible_value()
        .map(|p| p.get_name().to_string())
        .unwrap_or_default()
}

impl Scenario {
    /// Validate the flags of `moca cosim` (bad values and flags for the other block are usage
    /// errors naming the allowed range).
    pub fn from_args(a: &CosimArgs) -> Result<Self> {
        a.check_flags()?;
        match a.block {
            CosimTarget::Soc => Err(usage(
                "--block soc is a SoC scenario (see SocScenario::from_args)",
            )),
            CosimTarget::Tile => Err(usage(
                "--block tile is a tile scenario (see cosim_tile::scenario)",
            )),
            CosimTarget::Throttle => {
                let cfg = ThrottleConfig::new(
                    a.window.unwrap_or(DEFAULT_WINDOW),
                    a.target.unwrap_or(DEFAULT_TARGET),
                    a.burst,
                )
                .map_err(usage)?;
                Ok(Scenario::Throttle {
                    cfg,
                    demand: a.demand.unwrap_or(DemandArg::Random),
                })
            }
            CosimTarget::Arbiter => {
                let ports =
                    check_ports(a.ports.unwrap_or(spec::DEFAULT_PORTS as i64)).map_err(usage)?;
                Ok(Scenario::Arbiter {
                    ports,
                    policy: a.policy.unwrap_or(PolicyArg::Rr),
                })
            }
        }
    }

    /// Block name.
    pub fn block(&self) -> &'static str {
        match self {
            Scenario::Throttle { .. } => "throttle",
            Scenario::Arbiter { .. } => "arbiter",
        }
    }

    /// The `moca cosim` command line that reruns this scenario.
    pub fn command(&self, seed: u64, cycles: u64) -> String {
        let params = match *self {
            Scenario::Throttle { cfg, demand } => format!(
                "--window {} --target {} --burst {} --demand {}",
                cfg.window,
                cfg.target,
                cfg.burst,
                value_name(demand)
            ),
            Scenario::Arbiter { ports, policy } => {
                format!("--ports {ports} --policy {}", value_name(policy))
            }
        };
        format!(
            "moca cosim --block {} {params} --cycles {cycles} --seed {seed}",
            self.block()
        )
    }

    /// Parameters as JSON fields.
    fn json_params(&self) -> Value {
        match *self {
            Scenario::Throttle { cfg, demand } => json!({
                "window": cfg.window, "target": cfg.target, "burst": cfg.burst,
                "demand": value_name(demand),
            }),
            Scenario::Arbiter { ports, policy } => json!({
                "ports": ports, "policy": value_name(policy),
            }),
        }
    }
}

/// The Verilog of a scenario's block: `(top module, text)`.
pub fn verilog(s: &Scenario) -> Result<(String, String)> {
    let v = match *s {
        Scenario::Throttle { .. } => hw::emit::throttle(),
        Scenario::Arbiter { ports, .. } => hw::emit::arbiter(ports).map_err(usage)?,
    };
    Ok((v.top, v.text))
}

/// The result of one co-simulation: the engine's report and the block's statistics as JSON.
pub struct Outcome {
    /// The engine's report.
    pub report: CosimReport,
    /// Block statistics (`granted_beats`, `bubble_cycles` or `grants_per_port`, ...).
    pub stats: Value,
}

/// Run `s` with `seed` for `opts.cycles` cycles; `progress` gets the cycles done.
pub fn run_scenario(
    s: &Scenario,
    seed: u64,
    opts: &CosimOptions,
    progress: &mut dyn FnMut(u64),
) -> Result<Outcome> {
    let (top, text) = verilog(s)?;
    let ctx = || format!("co-simulating {}", s.block());
    Ok(match *s {
        Scenario::Throttle { cfg, demand } => {
            let mut b = ThrottleBlock::new(seed, demand.into(), cfg);
            let report = cosim::run(&text, &top, &mut b, opts, progress).with_context(ctx)?;
            let st = b.stats();
            Outcome {
                report,
                stats: json!({
                    "granted_beats": st.granted_beats,
                    "granted_requests": st.granted_requests,
                    "bubble_cycles": st.bubble_cycles,
                }),
            }
        }
        Scenario::Arbiter { ports, policy } => {
            let mut b = ArbiterBlock::new(seed, ports, policy.into()).map_err(usage)?;
            let report = cosim::run(&text, &top, &mut b, opts, progress).with_context(ctx)?;
            let st = b.stats();
            Outcome {
                report,
                stats: json!({
                    "grants_per_port": st.grants_per_port,
                    "stall_cycles": st.stall_cycles,
                }),
            }
        }
    })
}

/// A seed from the clock (when `--seed` is not given).
pub fn clock_seed() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    (nanos as u64) ^ ((nanos >> 64) as u64) ^ u64::from(std::process::id()).rotate_left(32)
}

/// The engine's report as the JSON fields every block shares.
pub(crate) fn report_json(block: &str, seed: u64, r: &CosimReport, reproduce: String) -> Value {
    json!({
        "block": block,
        "top": r.top,
        "cycles": r.cycles,
        "requested_cycles": r.requested,
        "seed": seed,
        "passed": r.passed(),
        "mismatches": r.mismatches(),
        "rtl_cycles_per_s": r.rtl_cycles_per_s().round(),
        "golden_cycles_per_s": r.golden_cycles_per_s().round(),
        "lockstep_cycles_per_s": r.lockstep_cycles_per_s().round(),
        "build": match r.build {
            sim::BuildOutcome::Built => "built",
            sim::BuildOutcome::CacheHit => "cached",
        },
        "vcd": r.vcd.as_ref().map(|p| p.display().to_string()),
        "first_mismatch": r.mismatch.as_ref().map(|m| json!({
            "cycle": m.cycle,
            "signal": m.signal,
            "rtl": m.rtl,
            "golden": m.golden,
            "differing": m.all.iter().map(|d| json!({
                "signal": d.signal, "rtl": d.rtl, "golden": d.golden,
            })).collect::<Vec<_>>(),
            "vcd": m.vcd.as_ref().map(|p| p.display().to_string()),
        })),
        "reproduce": reproduce,
    })
}

/// Add the fields of the objects in `extra` to the object `v`.
pub(crate) fn extend_json(v: &mut Value, extra: &[&Value]) {
    let obj = v.as_object_mut().expect("object");
    for src in extra {
        if let Some(m) = src.as_object() {
            obj.extend(m.clone());
        }
    }
}

/// The whole result as one JSON object (the `--json` interface).
pub fn to_json(s: &Scenario, seed: u64, o: &Outcome) -> Value {
    let r = &o.report;
    let mut v = report_json(s.block(), seed, r, s.command(seed, r.requested));
    extend_json(&mut v, &[&o.stats, &s.json_params()]);
    v
}

/// A progress bar on stderr when it is a terminal and the run is long, else nothing.
pub fn progress_bar(total: u64, label: &str) -> Option<indicatif::ProgressBar> {
    if total < 200_000 || !std::io::stderr().is_terminal() {
        return None;
    }
    let pb = indicatif::ProgressBar::new(total);
    pb.set_style(
        indicatif::ProgressStyle::with_template(
            "{msg} [{bar:40}] {human_pos}/{human_len} cycles ({per_sec}, {eta})",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    pb.set_message(label.to_string());
    Some(pb)
}

/// Default `--cycles` of the throttle and the arbiter.
pub const DEFAULT_CYCLES: u64 = 1_000_000;

impl CosimArgs {
    /// Reject a flag given for a block it does not apply to (see [`crate::args::check_applies`]).
    pub fn check_flags(&self) -> Result<()> {
        let block = match self.block {
            CosimTarget::Throttle => "throttle",
            CosimTarget::Arbiter => "arbiter",
            CosimTarget::Tile => "tile",
            CosimTarget::Soc => "soc",
        };
        crate::args::check_applies(
            block,
            &[
                ("ports", self.ports.is_some(), &["arbiter"]),
                ("policy", self.policy.is_some(), &["arbiter"]),
                ("window", self.window.is_some(), &["throttle"]),
                ("target", self.target.is_some(), &["throttle"]),
                ("burst", self.burst.is_some(), &["throttle"]),
                ("demand", self.demand.is_some(), &["throttle"]),
                ("tiles", self.tiles.is_some(), &["soc"]),
                ("dim", self.dim.is_some(), &["tile", "soc"]),
                ("gemm", !self.gemm.is_empty(), &["tile", "soc"]),
                ("throttle", !self.throttle.is_empty(), &["soc"]),
                ("latency", self.latency.is_some(), &["tile", "soc"]),
                ("shift", self.shift.is_some(), &["tile", "soc"]),
                ("cycles", self.cycles.is_some(), &["throttle", "arbiter"]),
            ],
        )
    }

    /// Cycles to simulate (`--cycles` or the default).
    pub fn cycles(&self) -> u64 {
        self.cycles.unwrap_or(DEFAULT_CYCLES)
    }
}

/// Check up front that `--vcd FILE` can be written (its directory exists and takes a new file;
/// an existing device or pipe opens for writing), so a bad path is a usage error before the
/// run, not after it. Space is checked as it is used: a full disk ends the run with an error
/// (never a hang, see `sim::shim`), and no partial file is left under the name.
pub(crate) fn check_vcd_path(p: &Path) -> Result<()> {
    let dir = p.parent().filter(|d| !d.as_os_str().is_empty());
    if let Some(d) = dir
        && !d.is_dir()
    {
        return Err(usage(format!(
            "--vcd {}: directory {} does not exist",
            p.display(),
            d.display()
        )));
    }
    if p.is_dir() {
        return Err(usage(format!(
            "--vcd {}: is a directory, expected a file",
            p.display()
        )));
    }
    if p.exists() && !p.is_file() {
        std::fs::OpenOptions::new()
            .write(true)
            .open(p)
            .map_err(|e| usage(format!("--vcd {}: cannot be written: {e}", p.display())))?;
        return Ok(());
    }
    let d = dir.unwrap_or(Path::new("."));
    tempfile::Builder::new()
        .prefix(".moca-tmp-probe-")
        .tempfile_in(d)
        .map_err(|e| {
            usage(format!(
                "--vcd {}: cannot create a file in {}: {e}",
                p.display(),
                d.display()
            ))
        })?;
    Ok(())
}

/// `moca cosim`.
pub fn cosim_cmd(a: &CosimArgs) -> Result<ExitCode> {
    if a.block == CosimTarget::Soc {
        return crate::cosim_checked::cmd(a, &SocScenario::from_args(a)?);
    }
    if a.block == CosimTarget::Tile {
        return crate::cosim_checked::cmd(a, &crate::cosim_tile::scenario(a)?);
    }
    let s = Scenario::from_args(a)?;
    if let Some(p) = &a.vcd {
        check_vcd_path(p)?;
    }
    let seed = a.seed.unwrap_or_else(clock_seed);
    let cycles = a.cycles();
    let opts = CosimOptions {
        cycles,
        vcd: a.vcd.clone(),
        mismatch_vcd: Some(
            std::env::temp_dir().join(format!("moca-cosim-{}-seed{seed}.vcd", s.block())),
        ),
        ..Default::default()
    };
    if a.json {
        if a.seed.is_none() {
            eprintln!("moca cosim: seed {seed}");
        }
    } else {
        println!(
            "moca cosim: seed {seed} (rerun: {})",
            s.command(seed, cycles)
        );
    }
    let pb = progress_bar(cycles, s.block());
    let mut progress = |done: u64| {
        if let Some(pb) = &pb {
            pb.set_position(done);
        }
    };
    let outcome = run_scenario(&s, seed, &opts, &mut progress);
    if let Some(pb) = &pb {
        pb.finish_and_clear();
    }
    let o = outcome?;
    let r = &o.report;
    if a.json {
        println!("{}", to_json(&s, seed, &o));
    } else {
        let stats = match s {
            Scenario::Throttle { .. } => format!(
                "granted {} beats in {} requests, {} bubble cycles",
                o.stats["granted_beats"], o.stats["granted_requests"], o.stats["bubble_cycles"]
            ),
            Scenario::Arbiter { .. } => {
                format!("grants per port {}", o.stats["grants_per_port"])
            }
        };
        println!("{stats}");
        print!("{r}");
        if !r.passed() {
            println!("reproduce: {}", s.command(seed, cycles));
        }
    }
    Ok(if r.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Memory rows of the SoC used for `--block soc`: at least this many (so that small runs share
/// one Verilator build), else the next power of two that holds every GEMM.
pub const SOC_MIN_MEM_ROWS: u32 = 8192;

/// `value` as a checked parameter: `name=value is out of range: allowed lo..=hi` otherwise
/// (the message format of `golden`'s range errors).
pub fn in_range(name: &str, value: i64, lo: i64, hi: i64) -> Result<i64> {
    Ok(crate::args::check(name, value, &(lo..=hi))?)
}

/// A validated `--block soc` scenario (everything but the seed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SocScenario {
    /// Tiles, DIM, memory rows, latency.
    pub params: SocParams,
    /// One GEMM per tile from tile 0 (fewer than the tiles: the rest stay idle).
    pub shapes: Vec<GemmShape>,
    /// Throttled tiles, configured before their first command.
    pub throttles: Vec<(usize, ThrottleConfig)>,
    /// `STORE` shift.
    pub shift: u8,
}

/// The default `STORE` shift for GEMMs whose largest K is `kmax`: `7 + ceil(log2 kmax)/2`
/// (a sum of K random int8 products is typically `~5500*sqrt(K)`; this maps it to ~20..50).
pub fn default_shift(kmax: usize) -> u8 {
    let log2 = kmax.max(1).next_power_of_two().trailing_zeros() as usize;
    (7 + log2.div_ceil(2)).min(spec::tile::MAX_SHIFT as usize) as u8
}

pub(crate) fn shape_str(g: &GemmShape) -> String {
    format!("{}x{}x{}", g.i, g.j, g.k)
}

impl SocScenario {
    /// Validate the SoC flags of `moca cosim` (usage errors name the allowed range).
    pub fn from_args(a: &CosimArgs) -> Result<Self> {
        a.check_flags()?;
        if a.gemm.is_empty() {
            return Err(usage("--block soc needs --gemm IxJxK[,IxJxK...]"));
        }
        let shapes = a
            .gemm
            .iter()
            .map(|g| g.parse::<GemmShape>().map_err(usage))
            .collect::<Result<Vec<_>>>()?;
        let tiles = crate::args::check_spec(
            "tiles",
            a.tiles.unwrap_or(shapes.len() as i64),
            &crate::args::TILES,
        )? as usize;
        if shapes.len() > tiles {
            return Err(usage(format!(
                "{} GEMMs for {tiles} tiles: one GEMM per tile at most (allowed 1..={tiles} \
                 GEMMs)",
                shapes.len()
            )));
        }
        let dim = crate::args::check_spec("dim", a.dim.unwrap_or(4), &crate::args::DIM)? as usize;
        let latency = crate::args::check_spec(
            "latency",
            a.latency
                .unwrap_or(i64::from(spec::tile::DEFAULT_MEM_LATENCY)),
            &crate::args::LATENCY,
        )? as u32;
        let shift = match a.shift {
            Some(v) => crate::args::check_spec("shift", v, &crate::args::SHIFT)? as u8,
            None => default_shift(shapes.iter().map(|g| g.k).max().unwrap_or(1)),
        };
        let mut throttles: Vec<(usize, ThrottleConfig)> = Vec::new();
        for t in &a.throttle {
            let bad = || {
                usage(format!(
                    "bad --throttle '{t}' (expected TILE:WINDOW:TARGET)"
                ))
            };
            let v: Vec<i64> = t
                .split(':')
                .map(|x| x.trim().parse::<i64>())
                .collect::<Result<_, _>>()
                .map_err(|_| bad())?;
            let [tile, w, tt] = v[..] else {
                return Err(bad());
            };
            let tile = in_range("throttle tile", tile, 0, tiles as i64 - 1)? as usize;
            if throttles.iter().any(|&(k, _)| k == tile) {
                return Err(usage(format!("tile {tile} is throttled twice")));
            }
            let cfg = ThrottleConfig::new(w, tt, None).map_err(usage)?;
            throttles.push((tile, cfg));
        }
        // Memory: the GEMMs one after another from row 0 (as `place_gemms` lays them out).
        let mut end = 0u64;
        for &g in &shapes {
            let max = u64::from(spec::tile::MAX_MEM_ROWS);
            let base = u32::try_from(end.min(max)).unwrap_or(u32::MAX);
            end = golden::compile::Layout::new(dim, g, base).end();
            if end > max {
                return Err(usage(format!(
                    "the GEMMs need {end} or more memory rows: allowed at most {max}"
                )));
            }
        }
        let mem_rows = (end.max(1).next_power_of_two() as u32).max(SOC_MIN_MEM_ROWS);
        let params = SocParams {
            tiles,
            tile: TileParams::new(dim).map_err(usage)?,
            mem_rows: mem_rows.min(spec::tile::MAX_MEM_ROWS),
            latency,
        };
        params.validate().map_err(usage)?;
        Ok(SocScenario {
            params,
            shapes,
            throttles,
            shift,
        })
    }

    /// The `moca cosim` command line that reruns this scenario.
    pub fn command(&self, seed: u64) -> String {
        let p = &self.params;
        let gemms: Vec<String> = self.shapes.iter().map(shape_str).collect();
        let mut c = format!(
            "moca cosim --block soc --tiles {} --dim {} --gemm {}",
            p.tiles,
            p.tile.dim,
            gemms.join(",")
        );
        for (k, t) in &self.throttles {
            c += &format!(" --throttle {k}:{}:{}", t.window, t.target);
        }
        c + &format!(
            " --latency {} --shift {} --seed {seed}",
            p.latency, self.shift
        )
    }

    /// Parameters as JSON fields.
    fn json_params(&self) -> Value {
        let p = &self.params;
        json!({
            "tiles": p.tiles,
            "dim": p.tile.dim,
            "latency": p.latency,
            "mem_rows": p.mem_rows,
            "shift": self.shift,
            "gemms": self.shapes.iter().map(shape_str).collect::<Vec<_>>(),
            "throttles": self.throttles.iter().map(|(k, t)| json!({
                "tile": k, "window": t.window, "target": t.target, "burst": t.burst,
            })).collect::<Vec<_>>(),
        })
    }

    /// A fresh co-simulation block for `seed` (bad GEMMs for this SoC are usage errors).
    pub fn block(&self, seed: u64) -> Result<SocBlock> {
        SocBlock::new(self.params, &self.shapes, &self.throttles, seed, self.shift).map_err(usage)
    }
}

impl crate::cosim_checked::Checked for SocScenario {
    type Block = SocBlock;
    type Stats = SocStats;
    const BLOCK: &'static str = "soc";

    fn verilog(&self) -> Result<hw::emit::VerilogTop> {
        hw::emit::soc(&self.params).map_err(usage)
    }

    fn block(&self, seed: u64) -> Result<SocBlock> {
        SocScenario::block(self, seed)
    }

    fn run_length(b: &SocBlock) -> u64 {
        b.cycles()
    }

    fn stats(b: &SocBlock) -> SocStats {
        b.stats().clone()
    }

    fn data_check(st: &SocStats) -> crate::cosim_checked::DataCheck {
        crate::cosim_checked::DataCheck {
            golden_cycles: st.golden_cycles,
            rtl_cycles: st.rtl_cycles,
            data_ok: st.data_ok,
        }
    }

    fn command(&self, seed: u64) -> String {
        SocScenario::command(self, seed)
    }

    fn json_fields(&self, st: &SocStats) -> Value {
        let mut v = json!({ "per_tile_cycles": st.per_tile_cycles });
        extend_json(&mut v, &[&self.json_params()]);
        v
    }

    fn print_header(&self, st: &SocStats) {
        let p = &self.params;
        println!(
            "soc: {} tiles, DIM {}, memory latency {}, {} memory rows, STORE shift {}",
            p.tiles, p.tile.dim, p.latency, p.mem_rows, self.shift
        );
        for k in 0..p.tiles {
            let thr = self
                .throttles
                .iter()
                .find(|(t, _)| *t == k)
                .map_or(String::new(), |(_, c)| {
                    format!(" (throttled W={} T={})", c.window, c.target)
                });
            match self.shapes.get(k) {
                Some(g) => println!(
                    "  tile {k}: GEMM {}{thr}: {} cycles",
                    shape_str(g),
                    st.per_tile_cycles
                        .get(k)
                        .map_or("?".to_string(), u64::to_string)
                ),
                None => println!("  tile {k}: idle{thr}"),
            }
        }
    }

    fn right(&self) -> String {
        format!(
            "all {} output matrices (RTL and golden memory) equal",
            self.shapes.len()
        )
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        a: CosimArgs,
    }

    /// `moca cosim ARGS` parsed (the tests of every `--block`).
    pub(crate) fn parse(args: &[&str]) -> CosimArgs {
        Cli::try_parse_from(std::iter::once("cosim").chain(args.iter().copied()))
            .unwrap_or_else(|e| panic!("{e}"))
            .a
    }

    /// The message of a scenario's error, which must be a usage error.
    pub(crate) fn usage_err<T: std::fmt::Debug>(r: Result<T>) -> String {
        let e = r.unwrap_err();
        assert!(crate::is_usage_error(&e), "{e}");
        e.to_string()
    }

    fn usage_msg(args: &[&str]) -> String {
        usage_err(Scenario::from_args(&parse(args)))
    }

    #[test]
    fn flags_are_validated_with_ranges() {
        assert_eq!(
            usage_msg(&["--block", "throttle", "--window", "1"]),
            "WINDOW=1 is out of range: allowed 0 (off) or 2..=65535"
        );
        assert!(usage_msg(&["--block", "throttle", "--target", "-2"]).contains("1..=65535"));
        assert!(usage_msg(&["--block", "arbiter", "--ports", "17"]).contains("allowed 1..=16"));
        assert!(usage_msg(&["--block", "arbiter", "--window", "5"]).contains("throttle only"));
        assert!(usage_msg(&["--block", "throttle", "--ports", "5"]).contains("arbiter only"));
        assert!(
            Cli::try_parse_from(["cosim", "--block", "throttle", "--cycles", "0"]).is_err(),
            "zero cycles"
        );
        assert!(Cli::try_parse_from(["cosim", "--block", "dma"]).is_err());
        let s = Scenario::from_args(&parse(&["--block", "arbiter"])).unwrap();
        assert_eq!(
            s,
            Scenario::Arbiter {
                ports: 4,
                policy: PolicyArg::Rr
            }
        );
        assert_eq!(
            s.command(7, 100),
            "moca cosim --block arbiter --ports 4 --policy rr --cycles 100 --seed 7"
        );
    }

    #[test]
    fn reproduce_command_round_trips() {
        let s = Scenario::from_args(&parse(&[
            "--block", "throttle", "--window", "64", "--target", "9", "--demand", "saturate",
        ]))
        .unwrap();
        let cmd = s.command(3, 500);
        let args: Vec<&str> = cmd.split(' ').skip(2).collect();
        let again = parse(&args);
        assert_eq!(Scenario::from_args(&again).unwrap(), s);
        assert_eq!((again.seed, again.cycles), (Some(3), Some(500)));
    }

    #[test]
    fn json_has_the_interface_fields() {
        for args in [
            &["--block", "throttle", "--cycles", "3000", "--seed", "1"][..],
            &[
                "--block", "arbiter", "--ports", "3", "--cycles", "3000", "--seed", "1",
            ][..],
        ] {
            let a = parse(args);
            let s = Scenario::from_args(&a).unwrap();
            let opts = CosimOptions {
                cycles: a.cycles(),
                ..Default::default()
            };
            let o = run_scenario(&s, 1, &opts, &mut |_| {}).unwrap();
            let v = to_json(&s, 1, &o);
            for k in [
                "block",
                "cycles",
                "seed",
                "mismatches",
                "rtl_cycles_per_s",
                "golden_cycles_per_s",
            ] {
                assert!(v.get(k).is_some(), "{k} missing in {v}");
            }
            assert_eq!(v["mismatches"], 0, "{v}");
            assert_eq!(v["cycles"], 3000);
            match s {
                Scenario::Throttle { .. } => {
                    assert!(v["granted_beats"].as_u64().unwrap() > 100, "{v}");
                    assert!(v["bubble_cycles"].as_u64().is_some());
                }
                Scenario::Arbiter { .. } => {
                    assert_eq!(v["grants_per_port"].as_array().unwrap().len(), 3, "{v}");
                }
            }
        }
    }

    fn soc_usage_msg(args: &[&str]) -> String {
        usage_err(SocScenario::from_args(&parse(
            &[&["--block", "soc"][..], args].concat(),
        )))
    }

    #[test]
    fn soc_flags_are_validated_with_ranges() {
        assert!(soc_usage_msg(&[]).contains("--gemm"));
        let g = ["--gemm", "4x4x4"];
        for (extra, want) in [
            (
                &["--tiles", "0"][..],
                "tiles=0 is out of range: allowed 1..=16",
            ),
            (&["--tiles", "17"][..], "allowed 1..=16"),
            (
                &["--dim", "17"][..],
                "dim=17 is out of range: allowed 2..=16",
            ),
            (&["--dim", "1"][..], "allowed 2..=16"),
            (
                &["--latency", "0"][..],
                "latency=0 is out of range: allowed 1..=1024",
            ),
            (&["--latency", "1025"][..], "allowed 1..=1024"),
            (&["--shift", "32"][..], "allowed 0..=31"),
            (
                &["--tiles", "2", "--throttle", "2:100:10"][..],
                "allowed 0..=1",
            ),
            (&["--throttle", "0:1:10"][..], "WINDOW=1 is out of range"),
            (&["--throttle", "0:100:0"][..], "TARGET=0"),
            (&["--throttle", "0:100"][..], "TILE:WINDOW:TARGET"),
            (&["--window", "100"][..], "does not apply to --block soc"),
        ] {
            let msg = soc_usage_msg(&[&g[..], extra].concat());
            assert!(msg.contains(want), "{extra:?}: {msg}");
        }
        let msg = soc_usage_msg(&["--tiles", "1", "--gemm", "4x4x4,2x2x2"]);
        assert!(msg.contains("allowed 1..=1 GEMMs"), "{msg}");
        assert!(soc_usage_msg(&["--gemm", "4x4"]).contains("IxJxK"));
        assert!(soc_usage_msg(&["--gemm", "0x4x4"]).contains("I=0"));
        assert!(
            parse(&["--block", "throttle", "--tiles", "2"])
                .tiles
                .is_some()
        );
        assert!(
            usage_msg(&["--block", "throttle", "--gemm", "4x4x4"])
                .contains("--block tile and --block soc only"),
            "soc flags on other blocks"
        );
    }

    #[test]
    fn soc_scenario_defaults_and_command_round_trip() {
        let a = parse(&[
            "--block",
            "soc",
            "--gemm",
            "8x8x8,3x5x7",
            "--tiles",
            "3",
            "--throttle",
            "0:200:20",
            "--throttle",
            "2:100:10",
        ]);
        let s = SocScenario::from_args(&a).unwrap();
        assert_eq!(s.params.tiles, 3);
        assert_eq!(s.params.tile.dim, 4);
        assert_eq!(s.params.latency, 16);
        assert_eq!(s.params.mem_rows, SOC_MIN_MEM_ROWS);
        assert_eq!(s.shift, default_shift(8));
        assert_eq!(s.throttles.len(), 2);
        let cmd = s.command(9);
        let again = parse(&cmd.split(' ').skip(2).collect::<Vec<_>>());
        assert_eq!(SocScenario::from_args(&again).unwrap(), s);
        assert_eq!(again.seed, Some(9));
        // One GEMM: the tile count defaults to 1.
        let one = SocScenario::from_args(&parse(&["--block", "soc", "--gemm", "2x3x4"])).unwrap();
        assert_eq!(one.params.tiles, 1);
        assert_eq!(
            (default_shift(1), default_shift(20), default_shift(64)),
            (7, 10, 10)
        );
    }
}
