//! `moca prove`: formal proofs of the emitted RTL with yosys' SAT engine.
//!
//! The properties (and the property block inserted into the top module) come from
//! `hw::formal`. Properties that need the same environment assumptions are proved together by
//! temporal induction (`sat -tempinduct -prove-asserts -set-assumes -set-init-zero`): when the
//! joint induction closes, every property of the group is proven for all reachable states. When
//! the base case finds a counterexample, each property of the group is checked alone so the
//! report names the ones that fail. When induction does not close within `--depth` steps, the
//! group holds for every trace of that many cycles from reset (reported as bounded).

use crate::hdl::Block;
use crate::synth::YOSYS;
use crate::tools::{self, WorkDir};
use crate::usage;
use anyhow::Result;
use clap::Args;
use golden::spec;
use hw::formal::FormalProblem;
use serde::Serialize;
use std::path::Path;
use std::process::ExitCode;

/// Arguments of `moca prove`.
#[derive(Args)]
#[command(
    long_about = "Prove properties of a block's emitted Verilog with yosys' SAT-based \
    temporal induction (no SymbiYosys needed). One line per property: `proven` (induction \
    closed: holds in every reachable state), `bounded to depth K` (no counterexample within K \
    cycles of reset; induction did not close), or `FAILED` with the step of the counterexample. \
    Exit code 1 if any property fails, and with --require-proof also if any is only bounded \
    (CI uses it for the throttle). The properties and the bound are documented in \
    docs/FORMAL.md.\n\n\
    Examples: moca prove --block throttle --require-proof\n          \
    moca prove --block arbiter --ports 8\n          moca prove --block tile --dim 2"
)]
pub struct ProveArgs {
    /// Block to prove.
    #[arg(long, value_enum)]
    pub block: Block,
    /// Arbiter: number of requesters (1..=16; default 4).
    #[arg(long, value_parser = crate::args::ranged::<u16>("ports", crate::args::PORTS))]
    pub ports: Option<u16>,
    /// Tile: array dimension DIM (2..=16; default 2). The tile is proven at its smallest
    /// storage (`4*DIM` scratchpad, `2*DIM` accumulator rows, 64 memory rows).
    #[arg(long, value_parser = crate::args::ranged::<u16>("dim", crate::args::DIM))]
    pub dim: Option<u16>,
    /// Largest induction length tried (and bounded-check depth when induction does not close).
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub depth: u32,
    /// Exit with status 1 unless every selected property is proven: a property only checked
    /// to the bounded depth counts as a failure.
    #[arg(long)]
    pub require_proof: bool,
    /// Prove only this property (repeatable; default: all). Selected properties are proved
    /// without the block's other properties as lemmas, so one that needs them reports
    /// `bounded`.
    #[arg(long = "property", value_name = "NAME")]
    pub properties: Vec<String>,
    /// Keep the generated Verilog and yosys logs in this directory.
    #[arg(short, long = "out", value_name = "DIR")]
    pub out: Option<std::path::PathBuf>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// The outcome for one property.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Outcome {
    /// Induction closed at this length.
    Proven {
        /// Induction length.
        length: u32,
    },
    /// No counterexample up to `depth` cycles; induction did not close.
    Bounded {
        /// Depth checked.
        depth: u32,
    },
    /// A counterexample from reset.
    Failed {
        /// Length of the counterexample trace.
        step: u32,
    },
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Outcome::Proven { length } => write!(f, "proven (induction length {length})"),
            Outcome::Bounded { depth } => write!(f, "bounded to depth {depth}"),
            Outcome::Failed { step } => write!(f, "FAILED (counterexample at step {step})"),
        }
    }
}

/// A property and its outcome.
#[derive(Clone, Debug, Serialize)]
pub struct Verdict {
    /// Property name.
    pub property: String,
    /// What it states.
    pub doc: String,
    /// Assumptions it was proved under.
    pub assumptions: Vec<String>,
    /// The outcome.
    pub outcome: Outcome,
}

/// A property's environment assumptions: (Verilog expression, note).
type Assumptions = Vec<(String, String)>;

/// Run yosys' temporal induction on `selected` properties.
fn sat(problem: &FormalProblem, selected: &[usize], depth: u32, dir: &Path) -> Result<Outcome> {
    let tag = selected
        .iter()
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join("_");
    let src = dir.join(format!("{}_p{tag}.v", problem.top));
    tools::write_file(&src, &problem.verilog_with(selected))?;
    let top = &problem.top;
    let script = format!(
        "read_verilog -formal {}\nprep -flatten -top {top}\nmemory_map\n\
         sat -tempinduct -prove-asserts -set-assumes -set-init-zero -maxsteps {depth} {top}\n",
        src.display()
    );
    let ys = dir.join(format!("{top}_p{tag}.ys"));
    tools::write_file(&ys, &script)?;
    let out = YOSYS.run(&["-s".as_ref(), ys.as_os_str()])?;
    let log = String::from_utf8_lossy(&out.stdout).into_owned();
    tools::write_file(&dir.join(format!("{top}_p{tag}.log")), &log)?;
    if !out.status.success() {
        let err: Vec<&str> = log.lines().filter(|l| l.contains("ERROR")).collect();
        anyhow::bail!("yosys failed on {}: {}", src.display(), err.join("\n"));
    }
    let mut length = 0;
    for line in log.lines() {
        if let Some(rest) = line.strip_prefix("** Trying induction with length ") {
            length = rest
                .trim_end_matches(" **")
                .trim()
                .parse()
                .unwrap_or(length);
        }
        if line.contains("Induction step proven: SUCCESS!") {
            return Ok(Outcome::Proven { length });
        }
        if line.contains("model found for base case: FAIL!") {
            return Ok(Outcome::Failed { step: length });
        }
        if line.contains("Reached maximum number of time steps") {
            return Ok(Outcome::Bounded { depth });
        }
    }
    anyhow::bail!(
        "unrecognised yosys output (see the log in {})",
        dir.display()
    )
}

/// Prove every property of `problem`: the properties that share assumptions together, then
/// each `separate` property with those as lemmas.
pub fn prove(problem: &FormalProblem, depth: u32, dir: &Path) -> Result<Vec<Verdict>> {
    let mut groups: Vec<(&Assumptions, Vec<usize>)> = Vec::new();
    for (i, p) in problem.properties.iter().enumerate() {
        if p.separate {
            continue;
        }
        match groups.iter_mut().find(|(a, _)| **a == p.assumptions) {
            Some((_, members)) => members.push(i),
            None => groups.push((&p.assumptions, vec![i])),
        }
    }
    let mut verdicts = vec![None; problem.properties.len()];
    for (_, members) in &groups {
        let joint = sat(problem, members, depth, dir)?;
        match joint {
            Outcome::Failed { .. } if members.len() > 1 => {
                for &i in members {
                    verdicts[i] = Some(sat(problem, &[i], depth, dir)?);
                }
            }
            o => {
                for &i in members {
                    verdicts[i] = Some(o.clone());
                }
            }
        }
    }
    for (i, p) in problem.properties.iter().enumerate() {
        if !p.separate {
            continue;
        }
        // Lemmas: the non-separate properties with the same assumptions that did not fail.
        let mut run: Vec<usize> = groups
            .iter()
            .filter(|(a, _)| **a == p.assumptions)
            .flat_map(|(_, m)| m.iter().copied())
            .filter(|&j| !matches!(verdicts[j], Some(Outcome::Failed { .. })))
            .collect();
        run.push(i);
        verdicts[i] = Some(sat(problem, &run, depth, dir)?);
    }
    Ok(problem
        .properties
        .iter()
        .zip(verdicts)
        .map(|(p, o)| Verdict {
            property: p.name.clone(),
            doc: p.doc.clone(),
            assumptions: p.assumptions.iter().map(|(a, _)| a.clone()).collect(),
            outcome: o.expect("every property is proved in some run"),
        })
        .collect())
}

/// `moca prove`.
pub fn prove_cmd(a: &ProveArgs) -> Result<ExitCode> {
    crate::args::check_applies(
        a.block.name(),
        &[
            ("ports", a.ports.is_some(), &["arbiter"]),
            ("dim", a.dim.is_some(), &["tile"]),
        ],
    )?;
    let problem = match a.block {
        Block::Throttle => hw::formal::throttle(),
        Block::Arbiter => {
            let ports = a.ports.unwrap_or(spec::DEFAULT_PORTS as u16);
            hw::formal::arbiter(usize::from(ports)).map_err(usage)?
        }
        Block::Tile => {
            let (p, mem_rows) =
                hw::formal::tile_params(usize::from(a.dim.unwrap_or(2))).map_err(usage)?;
            hw::formal::tile(&p, mem_rows).map_err(usage)?
        }
        Block::Soc => {
            return Err(usage(
                "moca prove covers --block throttle, arbiter and tile (the SoC is those blocks \
                 connected: its throttles and arbiter are unchanged); the SoC has no \
                 properties of its own yet",
            ));
        }
    };
    let mut problem = problem;
    if !a.properties.is_empty() {
        let names: Vec<String> = problem.properties.iter().map(|p| p.name.clone()).collect();
        if let Some(bad) = a.properties.iter().find(|n| !names.contains(n)) {
            return Err(usage(format!(
                "--property {bad}: {} has no such property; allowed: {}",
                problem.top,
                names.join(", ")
            )));
        }
        problem
            .properties
            .retain(|p| a.properties.contains(&p.name));
    }
    let work = WorkDir::new(a.out.as_deref())?;
    let dir = work.path();
    let verdicts = prove(&problem, a.depth, dir)?;
    let failed = verdicts
        .iter()
        .any(|v| matches!(v.outcome, Outcome::Failed { .. }));
    let bounded: Vec<&str> = verdicts
        .iter()
        .filter(|v| matches!(v.outcome, Outcome::Bounded { .. }))
        .map(|v| v.property.as_str())
        .collect();
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "top": problem.top, "depth": a.depth, "properties": verdicts,
            }))?
        );
    } else {
        for v in &verdicts {
            let under = if v.assumptions.is_empty() {
                String::new()
            } else {
                format!("  [assuming {}]", v.assumptions.join(", "))
            };
            println!("{}: {}: {}{under}", problem.top, v.property, v.outcome);
        }
    }
    if a.require_proof && !bounded.is_empty() {
        eprintln!(
            "moca: --require-proof: {} only bounded to depth {}, not proven: {}",
            if bounded.len() == 1 {
                "1 property is".to_string()
            } else {
                format!("{} properties are", bounded.len())
            },
            a.depth,
            bounded.join(", ")
        );
    }
    Ok(if failed || (a.require_proof && !bounded.is_empty()) {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome<'a>(v: &'a [Verdict], property: &str) -> &'a Outcome {
        &v.iter()
            .find(|x| x.property == property)
            .unwrap_or_else(|| panic!("no verdict for {property}"))
            .outcome
    }

    fn only(problem: FormalProblem, names: &[&str]) -> FormalProblem {
        let mut p = problem;
        p.properties.retain(|x| names.contains(&x.name.as_str()));
        p
    }

    #[test]
    fn throttle_contract_is_proven_unbounded() {
        // Every property without assumptions, the arrival-curve contract included, closes by
        // induction: no depth bound. (`make prove-ci` runs all of them, the well-formed group
        // too, as `moca prove --block throttle --require-proof`.)
        let dir = tempfile::tempdir().unwrap();
        let mut p = hw::formal::throttle();
        p.properties.retain(|x| x.assumptions.is_empty());
        let v = prove(&p, 2, dir.path()).unwrap();
        assert!(v.iter().any(|x| x.property == "contract"));
        for x in &v {
            assert!(
                matches!(x.outcome, Outcome::Proven { .. }),
                "{}: {}",
                x.property,
                x.outcome
            );
        }
    }

    #[test]
    fn arbiter_properties_are_proven() {
        let dir = tempfile::tempdir().unwrap();
        let v = prove(&hw::formal::arbiter(3).unwrap(), 6, dir.path()).unwrap();
        for x in &v {
            assert!(
                matches!(x.outcome, Outcome::Proven { .. }),
                "{}: {}",
                x.property,
                x.outcome
            );
        }
        assert!(v.iter().any(|x| x.property == "rr_grant_within_n"));
    }

    #[test]
    fn a_broken_throttle_fails_to_prove() {
        // Drop the bubble gating of up_ready: requests can fire in BUBBLE.
        let p = hw::formal::throttle();
        let broken = p.verilog.replace(
            "up_ready = down_ready & ~in_bubble;",
            "up_ready = down_ready;",
        );
        assert_ne!(broken, p.verilog, "the mutation must apply");
        let p = only(
            p.with_verilog(broken),
            &["no_fire_in_bubble", "bubble_only_when_enabled"],
        );
        let dir = tempfile::tempdir().unwrap();
        let v = prove(&p, 8, dir.path()).unwrap();
        let nf = outcome(&v, "no_fire_in_bubble");
        assert!(matches!(nf, Outcome::Failed { .. }), "{nf}");
        // Selected alone, without the strengthening invariants of the full set (which prove it
        // by induction, `throttle_contract_is_proven_unbounded`), this property is only bounded;
        // the mutation must not make it fail.
        let be = outcome(&v, "bubble_only_when_enabled");
        assert!(!matches!(be, Outcome::Failed { .. }), "{be}");
    }

    #[test]
    fn a_throttle_that_admits_a_request_at_zero_credit_breaks_the_contract() {
        // Off by one: the bubble starts at CREDIT < 0 instead of CREDIT <= 0. The debt can
        // reach R beats, one more than the contract allows: the credit floor fails from
        // reset, and the contract is no longer proven.
        let p = hw::formal::throttle();
        let broken = p.verilog.replace(
            "in_bubble = (avail$q & sign_mask) != 32'h0;",
            "in_bubble = ((avail$q + 18'h1) & sign_mask) != 32'h0;",
        );
        assert_ne!(broken, p.verilog, "the mutation must apply");
        let p = only(
            p.with_verilog(broken),
            &["credit_at_least_one_minus_r", "contract"],
        );
        let dir = tempfile::tempdir().unwrap();
        let v = prove(&p, 6, dir.path()).unwrap();
        let fl = outcome(&v, "credit_at_least_one_minus_r");
        assert!(matches!(fl, Outcome::Failed { .. }), "{fl}");
        let c = outcome(&v, "contract");
        assert!(!matches!(c, Outcome::Proven { .. }), "{c}");
    }

    #[test]
    fn tile_properties_are_proven_or_bounded_and_a_broken_tile_fails() {
        let (tp, mem_rows) = hw::formal::tile_params(2).unwrap();
        let p = hw::formal::tile(&tp, mem_rows).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let fast = only(
            p.clone(),
            &[
                "dma_beats_1_to_max",
                "queue_within_depth",
                "dma_within_memory",
            ],
        );
        let v = prove(&fast, 2, dir.path()).unwrap();
        for name in ["dma_beats_1_to_max", "queue_within_depth"] {
            let o = outcome(&v, name);
            assert!(matches!(o, Outcome::Proven { .. }), "{name}: {o}");
        }
        let o = outcome(&v, "dma_within_memory");
        assert_eq!(*o, Outcome::Bounded { depth: 2 });
        // Let a DMA request carry 5 beats: the beats property must fail.
        let broken = p.verilog.replace("c_four = 32'h4;", "c_four = 32'h5;");
        assert_ne!(broken, p.verilog, "the mutation must apply");
        let b = only(p.with_verilog(broken), &["dma_beats_1_to_max"]);
        let v = prove(&b, 6, dir.path()).unwrap();
        assert!(
            matches!(v[0].outcome, Outcome::Failed { .. }),
            "{}",
            v[0].outcome
        );
    }

    #[test]
    fn a_broken_arbiter_fails_round_robin_liveness() {
        // The pointer never moves: a port behind a busy lower port starves.
        let p = hw::formal::arbiter(3).unwrap();
        let broken = p
            .verilog
            .replace("fire_rr = fire & ~policy$q;", "fire_rr = 1'b0;");
        assert_ne!(broken, p.verilog, "the mutation must apply");
        let p = only(p.with_verilog(broken), &["rr_grant_within_n"]);
        let dir = tempfile::tempdir().unwrap();
        let v = prove(&p, 8, dir.path()).unwrap();
        assert!(
            matches!(v[0].outcome, Outcome::Failed { .. }),
            "{}",
            v[0].outcome
        );
    }
}
