//! The data-checked co-simulations, `moca cosim --block soc` and `--block tile`: a GEMM
//! workload run in Verilator lockstep with its golden twin until idle, then the output matrices
//! read back and checked against a reference matmul. What the two have in common — running,
//! the pass rule, the JSON result, the human report's frame and the exit status — is here,
//! once; each scenario ([`crate::cosim::SocScenario`], `sim::cosim::TileScenario`) says what
//! is its own through [`Checked`].

use crate::cosim::{CosimArgs, check_vcd_path, clock_seed, extend_json, progress_bar, report_json};
use anyhow::{Context, Result};
use serde_json::{Value, json};
use sim::cosim::{self, CosimBlock, CosimOptions, CosimReport};
use std::process::ExitCode;

/// What a data-checked run measured, beside the engine's report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DataCheck {
    /// Golden cycles until idle.
    pub golden_cycles: u64,
    /// Cycles the RTL ran in lockstep until idle (`None`: it was not idle when golden was).
    pub rtl_cycles: Option<u64>,
    /// The output matrices equal the reference (`None`: not checked, the run failed).
    pub data_ok: Option<bool>,
}

/// A data-checked scenario: the block it builds and what it reports of its own.
pub trait Checked {
    /// The lockstep block (RTL top and golden twin).
    type Block: CosimBlock + Send;
    /// The block's statistics after the run.
    type Stats: Clone;
    /// `--block` name, also the progress bar's label and the JSON `block` field.
    const BLOCK: &'static str;
    /// The top's Verilog (bad parameters are usage errors).
    fn verilog(&self) -> Result<hw::emit::VerilogTop>;
    /// A fresh block for `seed` (bad workloads are usage errors).
    fn block(&self, seed: u64) -> Result<Self::Block>;
    /// Cycles to run `b` (its golden idle cycle, plus one).
    fn run_length(b: &Self::Block) -> u64;
    /// `b`'s statistics.
    fn stats(b: &Self::Block) -> Self::Stats;
    /// What the statistics say of the pass rule.
    fn data_check(st: &Self::Stats) -> DataCheck;
    /// The `moca cosim` command line that reruns the scenario with `seed`.
    fn command(&self, seed: u64) -> String;
    /// The scenario's own JSON fields (parameters and statistics).
    fn json_fields(&self, st: &Self::Stats) -> Value;
    /// The human report's header: the scenario and its statistics.
    fn print_header(&self, st: &Self::Stats);
    /// The output matrices with their verb, for "data: ... the reference matmul".
    fn right(&self) -> String;
}

/// The result of a data-checked run.
pub struct Outcome<St> {
    /// The engine's report.
    pub report: CosimReport,
    /// The block's statistics.
    pub stats: St,
    /// What they say of the pass rule.
    pub check: DataCheck,
}

/// A data-checked run passed: every port matched every cycle, the RTL went idle in the same
/// cycle as the golden model, and the output matrices are right.
pub fn data_checked_ok(r: &CosimReport, c: DataCheck) -> bool {
    r.passed() && c.data_ok == Some(true) && c.rtl_cycles == Some(c.golden_cycles)
}

impl<St> Outcome<St> {
    /// See [`data_checked_ok`].
    pub fn ok(&self) -> bool {
        data_checked_ok(&self.report, self.check)
    }

    /// The whole result as one JSON object (the `--json` interface).
    pub fn to_json<S: Checked<Stats = St>>(&self, s: &S, seed: u64) -> Value {
        let c = self.check;
        let mut v = report_json(S::BLOCK, seed, &self.report, s.command(seed));
        let common = json!({
            "rtl_cycles": c.rtl_cycles,
            "golden_cycles": c.golden_cycles,
            "data_ok": c.data_ok,
            "passed": self.ok(),
        });
        extend_json(&mut v, &[&common, &s.json_fields(&self.stats)]);
        v
    }
}

/// Run `s` with `seed` in Verilator lockstep with its golden twin until idle (`opts.cycles` is
/// replaced by the run length). `progress` gets the cycles done and the run length.
pub fn run<S: Checked>(
    s: &S,
    seed: u64,
    opts: &CosimOptions,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<Outcome<S::Stats>> {
    let v = s.verilog()?;
    let mut b = s.block(seed)?;
    let total = S::run_length(&b);
    let opts = CosimOptions {
        cycles: total,
        ..opts.clone()
    };
    let report = cosim::run(&v.text, &v.top, &mut b, &opts, &mut |done| {
        progress(done, total)
    })
    .with_context(|| format!("co-simulating {}", v.top))?;
    let stats = S::stats(&b);
    Ok(Outcome {
        report,
        check: S::data_check(&stats),
        stats,
    })
}

/// The human report's end of a data-checked run: when RTL and golden went idle, and whether
/// the output matrices equal the reference (`right` names them with their verb, e.g. "the
/// output matrix (RTL and golden memory) equals").
pub fn print_idle_and_data(r: &CosimReport, c: DataCheck, right: &str) {
    match c.rtl_cycles {
        Some(n) => println!(
            "RTL idle after {n} cycles, golden after {}",
            c.golden_cycles
        ),
        None if r.passed() => {
            println!(
                "RTL NOT idle when golden was (after {} cycles)",
                c.golden_cycles
            )
        }
        None => {}
    }
    match c.data_ok {
        Some(true) => println!("data: {right} the reference matmul"),
        Some(false) => println!("data: WRONG output matrix (see the JSON or rerun)"),
        None => {}
    }
}

/// `moca cosim --block soc|tile` for the validated scenario `s`: print the seed, run with a
/// progress bar, report (JSON or text), exit 0 on a pass, 1 on a mismatch.
pub fn cmd<S: Checked>(a: &CosimArgs, s: &S) -> Result<ExitCode> {
    if let Some(p) = &a.vcd {
        check_vcd_path(p)?;
    }
    let seed = a.seed.unwrap_or_else(clock_seed);
    let vcd = format!("moca-cosim-{}-seed{seed}.vcd", S::BLOCK);
    let opts = CosimOptions {
        vcd: a.vcd.clone(),
        mismatch_vcd: Some(std::env::temp_dir().join(vcd)),
        ..Default::default()
    };
    if a.json {
        if a.seed.is_none() {
            eprintln!("moca cosim: seed {seed}");
        }
    } else {
        println!("moca cosim: seed {seed} (rerun: {})", s.command(seed));
    }
    let mut pb = None;
    let outcome = run(s, seed, &opts, &mut |done, total| {
        pb.get_or_insert_with(|| progress_bar(total, S::BLOCK))
            .as_ref()
            .inspect(|p| p.set_position(done));
    });
    if let Some(Some(p)) = &pb {
        p.finish_and_clear();
    }
    let o = outcome?;
    let ok = o.ok();
    if a.json {
        println!("{}", o.to_json(s, seed));
    } else {
        s.print_header(&o.stats);
        print!("{}", o.report);
        print_idle_and_data(&o.report, o.check, &s.right());
        if !ok {
            println!("reproduce: {}", s.command(seed));
        }
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
