//! `moca sweep`: every policy x workload set x QoS level over several seeds.

use super::*;

/// Arguments of `moca sweep`.
#[derive(clap::Args, Debug, Clone)]
#[command(
    about = "Run every policy x workload set x QoS level x seed and write CSV, Markdown, SVG and PNG",
    long_about = "Run the paper's experiment matrix: every policy x workload set x QoS level, \
for K seeds each, in parallel. Writes into DIR:\n  runs.csv        one row per run\n  summary.md      \
means with standard deviation, and averages normalised to static\n  sla, stp, fairness (.svg and .png)  \
bar charts per set/QoS normalised to static\n  bandwidth.svg, bandwidth.png, bandwidth.csv  per-tenant DRAM \
bandwidth over time of one MoCA run (set C, QoS M, first seed)\n\nEverything is computed \
first, then the files are written under temporary names and renamed into place together: a \
failure or a killed run never leaves a half-written file or a half-replaced directory. DIR must \
be empty or missing; --force replaces the results in a non-empty DIR.\n\nExample:\n  moca sweep --seeds 5 \
--out results/"
)]
pub struct SweepArgs {
    /// Seeds per (policy, set, QoS) cell (1..=10000; 36 cells each).
    #[arg(long, default_value_t = 5,
          value_parser = crate::args::ranged::<u64>("seeds", crate::args::SWEEP_SEEDS))]
    pub seeds: u64,
    /// First seed (seeds are first..first+K; first+K-1 must fit in 64 bits).
    #[arg(long, default_value_t = 1)]
    pub first_seed: u64,
    /// Tasks per run (default: the TOML's `scheduler.tasks`, 250).
    #[arg(long)]
    pub tasks: Option<usize>,
    /// Output directory (created if missing; must be empty unless --force).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Replace the results in a non-empty output directory.
    #[arg(long)]
    pub force: bool,
    /// Worker threads (1..=256; default: all cores).
    #[arg(long, value_parser = crate::args::ranged::<usize>("jobs", crate::args::JOBS))]
    pub jobs: Option<usize>,
    /// Hide the progress bar.
    #[arg(long)]
    pub quiet: bool,
    /// Where the experiment comes from.
    #[command(flatten)]
    pub source: ExperimentSource,
}

/// Summary of a sweep (returned for tests and printed).
#[derive(Debug, Clone)]
pub struct SweepSummary {
    /// Per policy: (mean SLA, mean STP / static, mean fairness / static) over sets and QoS.
    pub averages: Vec<(Policy, f64, f64, f64)>,
    /// Runs executed.
    pub runs: usize,
    /// Wall-clock seconds.
    pub seconds: f64,
}

/// Average over cells of each policy: (SLA, STP/static, fairness/static).
pub fn policy_averages(cells: &[Cell]) -> Vec<(Policy, f64, f64, f64)> {
    Policy::ALL
        .iter()
        .filter_map(|&p| {
            let cs: Vec<&Cell> = cells.iter().filter(|c| c.policy == p).collect();
            if cs.is_empty() {
                return None;
            }
            let n = cs.len() as f64;
            Some((
                p,
                cs.iter().map(|c| c.sla.0).sum::<f64>() / n,
                cs.iter().map(|c| c.stp_vs_static).sum::<f64>() / n,
                cs.iter().map(|c| c.fairness_vs_static).sum::<f64>() / n,
            ))
        })
        .collect()
}

/// Run the sweep and write every output; returns the summary.
pub fn sweep_to(args: &SweepArgs) -> Result<SweepSummary> {
    crate::args::check("seeds", args.seeds, &crate::args::SWEEP_SEEDS)?;
    crate::args::check(
        "first-seed",
        args.first_seed,
        &(0..=u64::MAX - (args.seeds - 1)),
    )?;
    let exp = args.source.load()?;
    // Validate the task count, set and QoS before any work or any file.
    if let Some(t) = args.tasks
        && !(1..=1_000_000).contains(&t)
    {
        return Err(experiment::ExperimentError::Tasks(t).into());
    }
    let mut out = crate::output::OutputDir::new(&args.out, args.force)?;
    let profiles = Profiles::new(&exp);
    let cfgs = experiment::sweep_configs(&exp, args.seeds, args.first_seed, args.tasks);
    let pb = if args.quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(cfgs.len() as u64)
    };
    pb.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} runs {elapsed_precise} (eta {eta})")
            .expect("valid template"),
    );
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(args.jobs.unwrap_or(0))
        .build()?;
    let t0 = Instant::now();
    let reports: Vec<RunReport> = pool.install(|| {
        cfgs.par_iter()
            .map(|c| {
                let r = experiment::run(&exp, &profiles, c, false);
                pb.inc(1);
                r
            })
            .collect::<Result<Vec<_>, _>>()
    })?;
    pb.finish_and_clear();
    let seconds = t0.elapsed().as_secs_f64();
    let cells = experiment::aggregate(&reports);
    let averages = policy_averages(&cells);
    out.add("runs.csv", runs_csv(&reports)?);
    out.add(
        "summary.md",
        summary_md(&cells, &averages, args, seconds, reports.len())?,
    );
    for (file, title, f) in [
        (
            "sla",
            "SLA satisfaction rate (normalised to static)",
            0usize,
        ),
        ("stp", "STP (normalised to static)", 1),
        ("fairness", "Fairness (normalised to static)", 2),
    ] {
        let chart = bar_chart(&cells, title, |c| match f {
            0 => c.sla_vs_static,
            1 => c.stp_vs_static,
            _ => c.fairness_vs_static,
        })?;
        out.add(&format!("{file}.svg"), chart.svg);
        out.add(&format!("{file}.png"), chart.png);
    }
    // Bandwidth over time of one MoCA run.
    let set = if exp.mix.contains_key("C") {
        "C".to_string()
    } else {
        exp.mix.keys().next().cloned().unwrap_or_default()
    };
    let qos = if exp.scheduler.target_scale.contains_key("M") {
        "M".to_string()
    } else {
        exp.scheduler
            .target_scale
            .keys()
            .next()
            .cloned()
            .unwrap_or_default()
    };
    let cfg = RunConfig {
        policy: Policy::Moca,
        set,
        qos,
        seed: args.first_seed,
        tasks: args.tasks,
    };
    let traced = experiment::run(&exp, &profiles, &cfg, true)?;
    out.add("bandwidth.csv", bandwidth_csv(&exp, &traced)?);
    let chart = bandwidth_chart(&exp, &traced)?;
    out.add("bandwidth.svg", chart.svg);
    out.add("bandwidth.png", chart.png);
    out.commit()?;
    Ok(SweepSummary {
        averages,
        runs: reports.len(),
        seconds,
    })
}

/// `moca sweep`.
pub fn sweep(args: &SweepArgs) -> Result<()> {
    let s = sweep_to(args)?;
    println!(
        "{} runs in {:.2} s -> {}",
        s.runs,
        s.seconds,
        args.out.display()
    );
    println!("policy     SLA      STP/static  fairness/static   (mean over sets x QoS)");
    for (p, sla, stp, fair) in &s.averages {
        println!(
            "{:<9} {:>6.1} %  {:>9.3}  {:>9.3}",
            p.name(),
            100.0 * sla,
            stp,
            fair
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sweep_writes_every_output() {
        let dir = std::env::temp_dir().join(format!("moca-sweep-test-{}", std::process::id()));
        let args = SweepArgs {
            seeds: 1,
            first_seed: 1,
            tasks: Some(12),
            out: dir.clone(),
            force: false,
            jobs: Some(2),
            quiet: true,
            source: ExperimentSource::default(),
        };
        let s = sweep_to(&args).unwrap();
        assert_eq!(s.runs, 4 * 3 * 3);
        for f in [
            "runs.csv",
            "summary.md",
            "sla.svg",
            "stp.svg",
            "fairness.svg",
            "bandwidth.svg",
            "bandwidth.csv",
        ] {
            let text = std::fs::read_to_string(dir.join(f)).unwrap();
            assert!(!text.is_empty(), "{f}");
        }
        // Every chart is also a PNG of the SVG's size, with its text rasterised: the strip left
        // of the y axis holds only the axis title and the tick values, so it has dark pixels
        // only if the compiled-in font drew them.
        for f in ["sla", "stp", "fairness", "bandwidth"] {
            let svg = std::fs::read_to_string(dir.join(format!("{f}.svg"))).unwrap();
            let dec = png::Decoder::new(std::fs::File::open(dir.join(format!("{f}.png"))).unwrap());
            let mut reader = dec.read_info().unwrap();
            let mut buf = vec![0; reader.output_buffer_size()];
            let info = reader.next_frame(&mut buf).unwrap();
            assert_eq!(info.color_type, png::ColorType::Rgb, "{f}.png");
            let size = format!("width=\"{}\" height=\"{}\"", info.width, info.height);
            assert!(
                svg.contains(&size),
                "{f}.png is not the SVG's size ({size})"
            );
            let dark = (0..info.height as usize)
                .flat_map(|y| (0..45).map(move |x| (x, y)))
                .filter(|&(x, y)| {
                    let i = 3 * (y * info.width as usize + x);
                    buf[i..i + 3].iter().all(|&c| c < 100)
                })
                .count();
            assert!(
                dark > 100,
                "{f}.png has no text left of its y axis ({dark} dark pixels)"
            );
        }
        // Every chart has labelled axes with tick values.
        for (f, axes) in [
            (
                "sla.svg",
                ["workload set / QoS level", "ratio to the static partition"],
            ),
            (
                "bandwidth.svg",
                ["time (million cycles)", "DRAM rows (16 B) per cycle"],
            ),
        ] {
            let t = std::fs::read_to_string(dir.join(f)).unwrap();
            for a in axes {
                assert!(t.contains(a), "{f} lacks the axis label {a}");
            }
            let texts: Vec<&str> = t
                .split("<text")
                .skip(1)
                .filter_map(|x| x.split_once('>'))
                .filter_map(|(_, x)| x.split_once("</text>"))
                .map(|(x, _)| x.trim())
                .collect();
            assert!(
                texts.contains(&"0.00") && texts.len() > 10,
                "{f} lacks tick values: {texts:?}"
            );
        }
        let csv = std::fs::read_to_string(dir.join("runs.csv")).unwrap();
        assert_eq!(csv.lines().count(), 1 + 36);
        // Static normalised to itself is 1.
        let st = s.averages.iter().find(|a| a.0 == Policy::Static).unwrap();
        assert!((st.2 - 1.0).abs() < 1e-9 && (st.3 - 1.0).abs() < 1e-9);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
