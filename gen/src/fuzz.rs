//! `moca fuzz`: many random co-simulation scenarios per block, each reproducible from its seed.
//!
//! Run `r` of master seed `S` draws its scenario (throttle WINDOW/TARGET/BURST and demand, or
//! arbiter ports and policy) and its stimulus seed from [`run_seed`]`(S, r)` =
//! `splitmix64(splitmix64(S) ^ splitmix64(r ^ K))`, a hash of the pair (not of `S + r`, which
//! made master seeds 1 and 3 share 18 of 20 scenarios), so a failure
//! prints a `moca cosim ...` command that reruns exactly that scenario, and `moca fuzz` with
//! the same master seed reruns the whole campaign.

use crate::cosim::{self, DemandArg, PolicyArg, Scenario};
use anyhow::Result;
use clap::{Args, ValueEnum};
use golden::cfg::ThrottleConfig;
use serde_json::json;
use sim::cosim::CosimOptions;
use std::process::ExitCode;
use std::time::Instant;

/// Blocks to fuzz.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum FuzzTarget {
    /// `MemThrottle` only.
    Throttle,
    /// `BusArbiter` only.
    Arbiter,
    /// Both, alternating.
    All,
}

/// Arguments of `moca fuzz`.
#[derive(Args)]
#[command(
    long_about = "Co-simulate many random scenarios (the emitted RTL in Verilator \
    against the golden model): random throttle WINDOW/TARGET/BURST and demand, random arbiter \
    port counts (1..=16) and policies, each with its own stimulus seed. Every failure prints \
    the `moca cosim` command that reproduces it; the run exits 1 if any scenario failed.\n\n\
    Example: moca fuzz --block all --runs 100 --cycles 200000"
)]
pub struct FuzzArgs {
    /// Block(s) to fuzz.
    #[arg(long, value_enum, default_value = "all")]
    pub block: FuzzTarget,
    /// Scenarios to run (1..=1000000).
    #[arg(long, default_value_t = 20,
          value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub runs: u64,
    /// Cycles per scenario (at least 1).
    #[arg(long, default_value_t = 100_000,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub cycles: u64,
    /// Master seed (default: from the clock; always printed).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Print one JSON object per scenario (JSON lines) instead of a line per scenario.
    #[arg(long)]
    pub json: bool,
}

/// SplitMix64: a well-mixed 64-bit value from a counter.
pub fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The stimulus seed of run `run` of master seed `master`: a hash of the pair, so that nearby
/// master seeds give unrelated campaigns.
pub fn run_seed(master: u64, run: u64) -> u64 {
    splitmix64(splitmix64(master) ^ splitmix64(run ^ 0x6d6f_6361_6675_7a7a))
}

/// A small deterministic generator for drawing scenario parameters.
struct Draw(u64);

impl Draw {
    fn next(&mut self) -> u64 {
        self.0 = splitmix64(self.0);
        self.0
    }
    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

/// The scenario and stimulus seed of run `run` of master seed `master`.
pub fn scenario(target: FuzzTarget, master: u64, run: u64) -> (Scenario, u64) {
    let seed = run_seed(master, run);
    let mut d = Draw(seed ^ 0x5eed_5eed_5eed_5eed);
    let throttle = match target {
        FuzzTarget::Throttle => true,
        FuzzTarget::Arbiter => false,
        FuzzTarget::All => run.is_multiple_of(2),
    };
    let s = if throttle {
        // Windows from tiny to large (log-uniform-ish), occasionally off.
        let window = if d.chance(5) {
            0
        } else {
            let bits = d.range(1, 12);
            d.range(2, (1u64 << bits).max(2))
        };
        let target = d.range(1, (window * 2).clamp(1, 4000));
        let burst = d.chance(50).then(|| d.range(0, target * 3) as i64);
        let cfg = ThrottleConfig::new(window as i64, target as i64, burst)
            .expect("drawn values are in range");
        let demand = if d.chance(20) {
            DemandArg::Saturate
        } else {
            DemandArg::Random
        };
        Scenario::Throttle { cfg, demand }
    } else {
        Scenario::Arbiter {
            ports: d.range(1, 16) as usize,
            policy: if d.chance(50) {
                PolicyArg::Rr
            } else {
                PolicyArg::Fixed
            },
        }
    };
    (s, seed)
}

/// `moca fuzz`.
pub fn fuzz_cmd(a: &FuzzArgs) -> Result<ExitCode> {
    let master = a.seed.unwrap_or_else(cosim::clock_seed);
    eprintln!(
        "moca fuzz: master seed {master} (rerun: moca fuzz --block {} --runs {} --cycles {} --seed {master})",
        match a.block {
            FuzzTarget::Throttle => "throttle",
            FuzzTarget::Arbiter => "arbiter",
            FuzzTarget::All => "all",
        },
        a.runs,
        a.cycles
    );
    let pb = cosim::progress_bar(a.runs.saturating_mul(a.cycles), "fuzz");
    let start = Instant::now();
    let mut failures = Vec::new();
    let mut total = 0u64;
    for run in 0..a.runs {
        let (s, seed) = scenario(a.block, master, run);
        let opts = CosimOptions {
            cycles: a.cycles,
            ..Default::default()
        };
        let base = total;
        let mut progress = |done: u64| {
            if let Some(pb) = &pb {
                pb.set_position(base + done);
            }
        };
        let o = cosim::run_scenario(&s, seed, &opts, &mut progress)?;
        total += o.report.cycles;
        let cmd = s.command(seed, a.cycles);
        let line = if a.json {
            let mut v = cosim::to_json(&s, seed, &o);
            v["run"] = json!(run);
            v.to_string()
        } else if let Some(m) = &o.report.mismatch {
            format!(
                "run {run}: FAIL at cycle {}: `{}` RTL {:#x} golden {:#x}\n  reproduce: {cmd}",
                m.cycle, m.signal, m.rtl, m.golden
            )
        } else {
            format!("run {run}: ok  {cmd}")
        };
        match &pb {
            Some(pb) => pb.println(line),
            None => println!("{line}"),
        }
        if !o.report.passed() {
            failures.push(cmd);
        }
    }
    if let Some(pb) = &pb {
        pb.finish_and_clear();
    }
    let secs = start.elapsed().as_secs_f64();
    eprintln!(
        "moca fuzz: {} runs, {total} cycles in {secs:.1} s, {} failure(s)",
        a.runs,
        failures.len()
    );
    for f in &failures {
        eprintln!("  reproduce: {f}");
    }
    Ok(if failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scenarios_are_deterministic_and_varied() {
        let a: Vec<_> = (0..200).map(|r| scenario(FuzzTarget::All, 42, r)).collect();
        let b: Vec<_> = (0..200).map(|r| scenario(FuzzTarget::All, 42, r)).collect();
        assert_eq!(a, b);
        let ports: std::collections::BTreeSet<usize> = a
            .iter()
            .filter_map(|(s, _)| match s {
                Scenario::Arbiter { ports, .. } => Some(*ports),
                _ => None,
            })
            .collect();
        assert!(ports.len() >= 12, "{ports:?}");
        assert!(a.iter().any(|(s, _)| matches!(
            s,
            Scenario::Throttle {
                demand: DemandArg::Saturate,
                ..
            }
        )));
        assert!(a.iter().any(|(s, _)| matches!(
            s,
            Scenario::Throttle { cfg, .. } if cfg.window == 0
        )));
        assert!(scenario(FuzzTarget::Throttle, 1, 0).1 != scenario(FuzzTarget::Throttle, 1, 1).1);
    }

    /// Nearby master seeds give unrelated campaigns (with `splitmix64(S + r)` master seeds 1
    /// and 3 shared 18 of their 20 scenarios).
    #[test]
    fn nearby_master_seeds_share_no_run() {
        let seeds = |m: u64| -> std::collections::BTreeSet<u64> {
            (0..20).map(|r| scenario(FuzzTarget::All, m, r).1).collect()
        };
        for m in 0..16u64 {
            for d in 1..=4 {
                let common = seeds(m).intersection(&seeds(m + d)).count();
                assert_eq!(
                    common,
                    0,
                    "master seeds {m} and {} share {common} runs",
                    m + d
                );
            }
        }
    }
}
