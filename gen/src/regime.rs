//! `moca regime`: where can MoCA's throttling help? The same scheduler with and without its
//! runtime throttles, over load and QoS (`multitenant::regime`).

use crate::experiments::ExperimentSource;
use anyhow::Result;
use multitenant::regime::{self, Cell, Point, Variant};
use multitenant::system::Profiles;
use rayon::prelude::*;
use serde_json::json;

/// Largest number of seeds per point.
const MAX_SEEDS: u64 = 1000;

/// Arguments of `moca regime`.
#[derive(clap::Args, Debug, Clone)]
#[command(
    about = "Where can throttling help? Each scheduler with and without MoCA's runtime, over load and QoS",
    long_about = "Simulate each task stream four times — static partition and MoCA's scheduler, \
each with and without MoCA's runtime throttles — over a grid of loads (1 = the artifact's \
arrivals, 2 = twice as dense) and QoS levels, and report the SLA rate over all tasks and over \
the high-priority tasks (priority 9..=11), averaged over seeds. The column `thr gain high` is \
MoCA minus its own scheduler without throttles: what the regulation itself adds.\n\nExample:\n  \
moca regime --set B --qos H,M,L --load 0.5,1,1.5,2 --seeds 5"
)]
pub struct RegimeArgs {
    /// Workload sets (comma separated keys of the TOML's `[mix]`).
    #[arg(long, value_delimiter = ',', default_value = "A,B,C")]
    pub set: Vec<String>,
    /// QoS levels (comma separated).
    #[arg(long, value_delimiter = ',', default_value = "H,M,L")]
    pub qos: Vec<String>,
    /// Load factors (comma separated, 0.05..=20; 1 = the artifact's arrivals).
    #[arg(long, value_delimiter = ',', default_value = "0.5,0.75,1,1.5,2")]
    pub load: Vec<f64>,
    /// Seeds per point (1..=1000), starting at `--first-seed`.
    #[arg(long, default_value_t = 3)]
    pub seeds: u64,
    /// First seed.
    #[arg(long, default_value_t = 1)]
    pub first_seed: u64,
    /// Tasks per stream (default: the TOML's `scheduler.tasks`, 250).
    #[arg(long)]
    pub tasks: Option<usize>,
    /// Where the experiment comes from.
    #[command(flatten)]
    pub source: ExperimentSource,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
}

fn pct(x: Option<f64>) -> String {
    x.map_or("-".into(), |v| format!("{:5.1}", 100.0 * v))
}

/// `moca regime`.
pub fn regime(args: &RegimeArgs) -> Result<()> {
    if !(1..=MAX_SEEDS).contains(&args.seeds) {
        return Err(crate::usage(format!(
            "--seeds {} is out of range 1..={MAX_SEEDS}",
            args.seeds
        )));
    }
    let last = args.first_seed.checked_add(args.seeds - 1).ok_or_else(|| {
        crate::usage(format!(
            "--first-seed {} + --seeds {} overflows a 64-bit seed",
            args.first_seed, args.seeds
        ))
    })?;
    for &l in &args.load {
        regime::check_load(l).map_err(crate::usage)?;
    }
    let exp = args.source.load()?;
    for s in &args.set {
        if !exp.mix.contains_key(s) {
            let known: Vec<&String> = exp.mix.keys().collect();
            return Err(crate::usage(format!(
                "unknown workload set `{s}`: the experiment defines {known:?}"
            )));
        }
    }
    for q in &args.qos {
        if !exp.scheduler.target_scale.contains_key(q) {
            let known: Vec<&String> = exp.scheduler.target_scale.keys().collect();
            return Err(crate::usage(format!(
                "unknown QoS level `{q}`: the experiment defines {known:?}"
            )));
        }
    }
    let profiles = Profiles::new(&exp);
    let mut points = Vec::new();
    for set in &args.set {
        for qos in &args.qos {
            for &load in &args.load {
                for seed in args.first_seed..=last {
                    points.push(Point {
                        set: set.clone(),
                        qos: qos.clone(),
                        load,
                        seed,
                    });
                }
            }
        }
    }
    eprintln!(
        "moca regime: {} points x 4 variants, seeds {}..={last}",
        points.len(),
        args.first_seed
    );
    let runs = points
        .par_iter()
        .map(|p| regime::run_point(&exp, &profiles, p, args.tasks).map(|r| (p.clone(), r)))
        .collect::<Result<Vec<_>, _>>()?;
    let cells = regime::aggregate(&runs);
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "seeds": args.seeds,
                "first_seed": args.first_seed,
                "cells": cells,
            }))?
        );
        return Ok(());
    }
    print_table(&cells);
    Ok(())
}

fn print_table(cells: &[Cell]) {
    println!(
        "set qos  load | SLA %: static  +rt  moca-sched  moca | high-prio SLA %: static  +rt  \
         moca-sched  moca | thr gain high | moca binds"
    );
    for row in cells.chunks(Variant::ALL.len()) {
        let c = &row[0];
        let all: Vec<String> = row.iter().map(|c| pct(Some(c.sla))).collect();
        let high: Vec<String> = row.iter().map(|c| pct(c.sla_high)).collect();
        let gain = match (row[3].sla_high, row[2].sla_high) {
            (Some(a), Some(b)) => format!("{:+5.1}", 100.0 * (a - b)),
            _ => "-".into(),
        };
        println!(
            "{:>3} {:>3} {:5.2} | {} | {} | {:>13} | {:5.1} %",
            c.set,
            c.qos,
            c.load,
            all.join(" "),
            high.join(" "),
            gain,
            100.0 * row[3].binding_share
        );
    }
}
