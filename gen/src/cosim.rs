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
use golden::spec;
use golden::stimulus::Demand;
use serde_json::{Value, json};
use sim::cosim::{self, ArbiterBlock, CosimOptions, CosimReport, ThrottleBlock};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// A block that can be co-simulated. (`soc` will join when the SoC top is emitted.)
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum CosimTarget {
    /// `MemThrottle`: the per-tile memory-access rate limiter.
    Throttle,
    /// `BusArbiter`: N requesters to one memory port.
    Arbiter,
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
    Examples:\n  moca cosim --block throttle --window 100 --target 25 --cycles 1000000\n  \
    moca cosim --block arbiter --ports 8 --policy fixed --seed 7 --json"
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
    /// Cycles to simulate (at least 1).
    #[arg(long, default_value_t = 1_000_000,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub cycles: u64,
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
        let only = |flag: &str, set: bool, block: &str| {
            if set {
                Err(usage(format!("--{flag} applies to --block {block} only")))
            } else {
                Ok(())
            }
        };
        match a.block {
            CosimTarget::Throttle => {
                only("ports", a.ports.is_some(), "arbiter")?;
                only("policy", a.policy.is_some(), "arbiter")?;
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
                for (flag, set) in [
                    ("window", a.window.is_some()),
                    ("target", a.target.is_some()),
                    ("burst", a.burst.is_some()),
                    ("demand", a.demand.is_some()),
                ] {
                    only(flag, set, "throttle")?;
                }
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

/// The whole result as one JSON object (the `--json` interface).
pub fn to_json(s: &Scenario, seed: u64, o: &Outcome) -> Value {
    let r = &o.report;
    let mut v = json!({
        "block": s.block(),
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
        "reproduce": s.command(seed, r.requested),
    });
    let obj = v.as_object_mut().expect("object");
    for src in [&o.stats, &s.json_params()] {
        if let Some(m) = src.as_object() {
            obj.extend(m.clone());
        }
    }
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

fn check_vcd_path(p: &Path) -> Result<()> {
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
    Ok(())
}

/// `moca cosim`.
pub fn cosim_cmd(a: &CosimArgs) -> Result<ExitCode> {
    let s = Scenario::from_args(a)?;
    if let Some(p) = &a.vcd {
        check_vcd_path(p)?;
    }
    let seed = a.seed.unwrap_or_else(clock_seed);
    let opts = CosimOptions {
        cycles: a.cycles,
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
            s.command(seed, a.cycles)
        );
    }
    let pb = progress_bar(a.cycles, s.block());
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
            println!("reproduce: {}", s.command(seed, a.cycles));
        }
    }
    Ok(if r.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        a: CosimArgs,
    }

    fn parse(args: &[&str]) -> CosimArgs {
        Cli::try_parse_from(std::iter::once("cosim").chain(args.iter().copied()))
            .unwrap_or_else(|e| panic!("{e}"))
            .a
    }

    fn usage_msg(args: &[&str]) -> String {
        let e = Scenario::from_args(&parse(args)).unwrap_err();
        assert!(e.downcast_ref::<crate::UsageError>().is_some(), "{e}");
        e.to_string()
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
        assert!(Cli::try_parse_from(["cosim", "--block", "soc"]).is_err());
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
        assert_eq!((again.seed, again.cycles), (Some(3), 500));
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
                cycles: a.cycles,
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
}
