//! `moca runtime`: the throttle registers the MoCA runtime writes for a layer.

use super::*;

/// Arguments of `moca runtime`.
#[derive(clap::Args, Debug, Clone)]
#[command(
    about = "Print the exact WINDOW/TARGET/BURST values the MoCA runtime sets for a layer",
    long_about = "Run the MoCA runtime for one layer and its co-runners: predict each layer \
(compute, on-chip and DRAM traffic, ideal cycles, DRAM demand in % of DRAM_BW), compute each \
task's dynamic score (1 + priority)/4 + round(10 * remaining / slack), detect contention (summed \
demand above 150 %), split the excess by score (floor 25 %) and print the throttle registers of \
every tile.\n\nA co-runner is NETWORK:LAYER[:PRIORITY[:ELAPSED_CYCLES]].\n\nExample:\n  moca runtime \
--network resnet50 --layer 44 --priority 2 --co-runner alexnet:5:11 --co-runner yolov2:13:6"
)]
pub struct RuntimeArgs {
    /// Network of the layer.
    #[arg(long)]
    pub network: String,
    /// Layer index (0-based, as in the layer CSV).
    #[arg(long)]
    pub layer: usize,
    /// User priority of the task (0..=11).
    #[arg(long, default_value_t = 0)]
    pub priority: u32,
    /// Cycles since the task's dispatch.
    #[arg(long, default_value_t = 0)]
    pub elapsed: u64,
    /// QoS level whose target scale sets the latency target.
    #[arg(long, default_value = "M")]
    pub qos: String,
    /// Tiles the task runs on (default: the TOML's `tiles_per_task`).
    #[arg(long)]
    pub tiles: Option<u32>,
    /// Co-running layers: NETWORK:LAYER[:PRIORITY[:ELAPSED]] (repeatable).
    #[arg(long = "co-runner", value_name = "SPEC")]
    pub co_runners: Vec<String>,
    /// Partition the excess as the paper describes (`paper`) or as the published artifact code
    /// does (`artifact`: every co-runner weighted by the caller's score).
    #[arg(long, default_value = "paper", value_parser = ["paper", "artifact"])]
    pub partition: String,
    /// Where the experiment comes from.
    #[command(flatten)]
    pub source: ExperimentSource,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

struct Tenant {
    network: String,
    layer: usize,
    priority: u32,
    elapsed: u64,
}

fn parse_corunner(spec: &str) -> Result<Tenant> {
    let parts: Vec<&str> = spec.split(':').collect();
    if parts.len() < 2 || parts.len() > 4 {
        return Err(crate::usage(format!(
            "co-runner `{spec}`: expected NETWORK:LAYER[:PRIORITY[:ELAPSED]]"
        )));
    }
    let num = |i: usize, what: &str| -> Result<u64> {
        parts
            .get(i)
            .map(|s| {
                s.parse::<u64>().map_err(|_| {
                    crate::usage(format!(
                        "co-runner `{spec}`: {what} `{s}` is not a number (a non-negative integer)"
                    ))
                })
            })
            .transpose()
            .map(|v| v.unwrap_or(0))
    };
    Ok(Tenant {
        network: parts[0].to_string(),
        layer: usize::try_from(num(1, "layer")?).unwrap_or(usize::MAX),
        priority: u32::try_from(num(2, "priority")?).unwrap_or(u32::MAX),
        elapsed: num(3, "elapsed")?,
    })
}

/// Compute the runtime's decision for every tenant; returns a JSON array (one object per tenant,
/// the first is the requested layer).
pub fn runtime_decisions(args: &RuntimeArgs) -> Result<serde_json::Value> {
    let exp = args.source.load()?;
    let hw = &exp.hardware;
    let tiles = args.tiles.unwrap_or(hw.tiles_per_task);
    crate::args::check("tiles", tiles, &(1..=hw.tiles))?;
    let tscale = *exp.scheduler.target_scale.get(&args.qos).ok_or_else(|| {
        experiment::ExperimentError::UnknownQos(
            args.qos.clone(),
            exp.scheduler
                .target_scale
                .keys()
                .cloned()
                .collect::<Vec<_>>()
                .join(", "),
        )
    })?;
    let partition = if args.partition == "artifact" {
        Partition::ArtifactCode
    } else {
        Partition::Paper
    };
    let profiles = Profiles::new(&exp);
    let mut tenants = vec![Tenant {
        network: args.network.clone(),
        layer: args.layer,
        priority: args.priority,
        elapsed: args.elapsed,
    }];
    for c in &args.co_runners {
        tenants.push(parse_corunner(c)?);
    }
    struct Ready {
        net: usize,
        pred: multitenant::runtime::LayerPrediction,
        rgb: bool,
        state: TaskState,
    }
    let mut ready = Vec::new();
    for t in &tenants {
        let net = exp.network_index(&t.network).ok_or_else(|| {
            crate::usage(format!(
                "unknown network `{}`: expected one of {}",
                t.network,
                exp.network_names.join(", ")
            ))
        })?;
        let prof = &profiles.nets[net];
        if t.layer >= prof.layers() {
            return Err(crate::args::OutOfRange::new(
                "layer",
                t.layer,
                format!(
                    "0..={} ({} has {} layers)",
                    prof.layers() - 1,
                    t.network,
                    prof.layers()
                ),
            )
            .into());
        }
        crate::args::check("priority", t.priority, &(0..=11))?;
        let target = (exp.scheduler.target_cycles[net] as f64 * tscale) as u64;
        ready.push(Ready {
            net,
            pred: *prof.pred(tiles, t.layer),
            rgb: prof.rgb_first[t.layer],
            state: TaskState {
                priority: t.priority,
                remaining_cycles: prof.remaining(tiles, t.layer),
                target_cycles: target,
                elapsed_cycles: t.elapsed,
            },
        });
    }
    let scores: Vec<u32> = ready
        .iter()
        .map(|r| {
            runtime::score(
                &exp.runtime,
                r.state.priority,
                r.state.remaining_cycles,
                r.state.target_cycles,
                r.state.elapsed_cycles,
            )
        })
        .collect();
    let mut out = Vec::new();
    for (i, r) in ready.iter().enumerate() {
        let others: Vec<CoRunner> = ready
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != i)
            .map(|(j, o)| CoRunner {
                demand_percent: if o.rgb { 0 } else { o.pred.demand_percent },
                score: scores[j],
            })
            .collect();
        let d = runtime::decide(
            hw,
            &exp.runtime,
            &r.pred,
            r.rgb,
            &r.state,
            &others,
            partition,
        )
        .with_context(|| format!("{} layer {}", tenants[i].network, tenants[i].layer))?;
        out.push(json!({
            "network": exp.network_names[r.net],
            "layer": tenants[i].layer,
            "tiles": tiles,
            "priority": r.state.priority,
            "elapsed_cycles": r.state.elapsed_cycles,
            "target_cycles": r.state.target_cycles,
            "remaining_cycles": r.state.remaining_cycles,
            "compute_cycles": r.pred.compute_cycles.round() as u64,
            "dram_rows": r.pred.from_dram_rows,
            "load_rows": r.pred.load_rows,
            "ideal_cycles": r.pred.ideal_cycles,
            "demand_percent": r.pred.demand_percent,
            "first_rgb_layer": r.rgb,
            "score": d.score,
            "granted_percent": d.granted_percent,
            "registers": {"WINDOW": d.regs.window, "TARGET": d.regs.target, "BURST": d.regs.burst},
        }));
    }
    Ok(serde_json::Value::Array(out))
}

/// `moca runtime`.
pub fn runtime(args: &RuntimeArgs) -> Result<()> {
    let v = runtime_decisions(args)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    let rows = v.as_array().expect("array");
    let total: u64 = rows
        .iter()
        .map(|r| r["demand_percent"].as_u64().unwrap_or(0))
        .sum();
    println!(
        "summed demand {total} % of DRAM_BW (contention above 150 %), partition: {}",
        args.partition
    );
    println!(
        "{:<22} {:>4} {:>11} {:>9} {:>7} {:>6} {:>8} {:>7} {:>7} {:>6}",
        "layer",
        "prio",
        "ideal cyc",
        "DRAM rows",
        "demand",
        "score",
        "granted",
        "WINDOW",
        "TARGET",
        "BURST"
    );
    for r in rows {
        let granted = r["granted_percent"]
            .as_u64()
            .map_or("-".to_string(), |g| format!("{g} %"));
        let t = |v: &serde_json::Value| v.to_string();
        println!(
            "{:<22} {:>4} {:>11} {:>9} {:>6}% {:>6} {:>8} {:>7} {:>7} {:>6}",
            format!("{}[{}]", r["network"].as_str().unwrap_or(""), r["layer"]),
            t(&r["priority"]),
            t(&r["ideal_cycles"]),
            t(&r["dram_rows"]),
            t(&r["demand_percent"]),
            t(&r["score"]),
            granted,
            t(&r["registers"]["WINDOW"]),
            t(&r["registers"]["TARGET"]),
            t(&r["registers"]["BURST"])
        );
    }
    println!(
        "WINDOW = 0: throttle off (uncontended, share not below demand, short layer, or first RGB layer)"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runtime_prints_registers_and_rejects_bad_input() {
        let args = RuntimeArgs {
            network: "resnet50".into(),
            layer: 44,
            priority: 0,
            elapsed: 0,
            qos: "M".into(),
            tiles: None,
            co_runners: vec!["alexnet:5:11".into(), "yolov2:13:6".into()],
            partition: "paper".into(),
            source: ExperimentSource::default(),
            json: true,
        };
        let v = runtime_decisions(&args).unwrap();
        let rows = v.as_array().unwrap();
        assert_eq!(rows.len(), 3);
        for r in rows {
            let w = r["registers"]["WINDOW"].as_u64().unwrap();
            let t = r["registers"]["TARGET"].as_u64().unwrap();
            assert!(w == 0 || (2..=65535).contains(&w), "{r}");
            assert!(w == 0 || (1..=65535).contains(&t), "{r}");
        }
        let mut bad = args.clone();
        bad.layer = 999;
        assert!(
            runtime_decisions(&bad)
                .unwrap_err()
                .to_string()
                .contains("out of range")
        );
        let mut bad = args.clone();
        bad.co_runners = vec!["nosuch:1".into()];
        assert!(
            runtime_decisions(&bad)
                .unwrap_err()
                .to_string()
                .contains("unknown network")
        );
        let mut bad = args;
        bad.co_runners = vec!["alexnet".into()];
        assert!(runtime_decisions(&bad).is_err());
    }
}
