//! `moca rate`: what a WINDOW/TARGET setting grants under saturating demand.

use crate::usage;
use anyhow::Result;
use clap::Args;
use golden::cfg::ThrottleConfig;
use golden::throttle::saturated_rate;
use hw::harness::ThrottleRtl;
use std::process::ExitCode;

/// Arguments of `moca rate`.
#[derive(Args)]
#[command(
    long_about = "Drive the throttle with saturating demand (a request every cycle, the \
    bus always ready) and print the granted rate beside TARGET/WINDOW. Each --setting is \
    WINDOW:TARGET[:BURST]. With --rtl the Rust-HDL model runs too, over the same number of \
    windows (slower), and its granted beats are compared with golden's: any difference is \
    printed and the command exits 1.\n\n\
    Example: moca rate --setting 100:25 --setting 200:20 --windows 1000"
)]
pub struct RateArgs {
    /// WINDOW:TARGET[:BURST] (repeatable). Default: a few representative settings.
    #[arg(long = "setting", value_name = "W:T[:B]")]
    pub settings: Vec<String>,
    /// Beats of every request (1..=4).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=4))]
    pub beats: u8,
    /// Windows to measure.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub windows: u64,
    /// Also run the Rust-HDL RTL model and check it agrees.
    #[arg(long)]
    pub rtl: bool,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

fn parse_setting(s: &str) -> Result<ThrottleConfig> {
    let parts: Vec<&str> = s.split(':').collect();
    if !(2..=3).contains(&parts.len()) {
        return Err(usage(format!(
            "--setting '{s}': expected WINDOW:TARGET or WINDOW:TARGET:BURST"
        )));
    }
    let num = |name: &str, v: &str| {
        v.parse::<i64>()
            .map_err(|_| usage(format!("--setting '{s}': {name} '{v}' is not an integer")))
    };
    let w = num("WINDOW", parts[0])?;
    let t = num("TARGET", parts[1])?;
    let b = parts.get(2).map(|v| num("BURST", v)).transpose()?;
    ThrottleConfig::new(w, t, b).map_err(|e| usage(format!("--setting '{s}': {e}")))
}

/// Granted beats per cycle of the Rust-HDL throttle under the same saturating demand.
fn rtl_rate(cfg: &ThrottleConfig, beats: u8, windows: u64) -> Result<f64> {
    let mut rtl = ThrottleRtl::new();
    for w in cfg.writes() {
        rtl.step(&golden::throttle::ThrottleIn {
            cfg: w,
            ..Default::default()
        })?;
    }
    let cycles = windows * u64::from(cfg.window.max(1));
    let req = golden::throttle::ThrottleIn {
        up_valid: true,
        up_beats: beats,
        down_ready: true,
        ..Default::default()
    };
    let mut granted = 0u64;
    for _ in 0..cycles {
        granted += u64::from(rtl.step(&req)?.fire) * u64::from(beats);
    }
    Ok(granted as f64 / cycles as f64)
}

/// `moca rate`.
pub fn rate_cmd(a: &RateArgs) -> Result<ExitCode> {
    let settings: Vec<ThrottleConfig> = if a.settings.is_empty() {
        ["100:25", "200:20", "64:16", "1000:100", "32:20", "8:2"]
            .iter()
            .map(|s| parse_setting(s))
            .collect::<Result<_>>()?
    } else {
        a.settings
            .iter()
            .map(|s| parse_setting(s))
            .collect::<Result<_>>()?
    };
    let mut rows = Vec::new();
    for cfg in &settings {
        if cfg.window == 0 {
            return Err(usage(
                "--setting: WINDOW 0 switches the throttle off; nothing to measure",
            ));
        }
        let g = saturated_rate(cfg, a.beats, a.windows);
        let rtl = if a.rtl {
            Some(rtl_rate(cfg, a.beats, a.windows)?)
        } else {
            None
        };
        rows.push((cfg, g, rtl));
    }
    // The RTL must grant exactly what golden grants over the same cycles.
    let differ: Vec<String> = rows
        .iter()
        .filter_map(|(c, g, r)| {
            r.filter(|&x| x != g.rate).map(|x| {
                format!(
                    "{}:{}:{}: rust-hdl granted {x:.6} beats/cycle, golden {:.6}",
                    c.window, c.target, c.burst, g.rate
                )
            })
        })
        .collect();
    for d in &differ {
        eprintln!("moca rate: RTL differs from golden: {d}");
    }
    let code = if differ.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    };
    if a.json {
        let v: Vec<_> = rows
            .iter()
            .map(|(c, g, r)| {
                serde_json::json!({
                    "window": c.window, "target": c.target, "burst": c.burst,
                    "beats": a.beats, "windows": a.windows,
                    "ideal": g.ideal, "rate": g.rate, "error": g.relative_error(),
                    "bubble_cycles": g.bubble_cycles, "rtl_rate": r,
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(code);
    }
    println!(
        "{:>6} {:>6} {:>6}  {:>9} {:>9} {:>8}{}",
        "WINDOW",
        "TARGET",
        "BURST",
        "T/W",
        "granted",
        "error",
        if a.rtl { "  rust-hdl" } else { "" }
    );
    for (c, g, r) in &rows {
        println!(
            "{:>6} {:>6} {:>6}  {:>9.4} {:>9.4} {:>+7.2}%{}",
            c.window,
            c.target,
            c.burst,
            g.ideal,
            g.rate,
            100.0 * g.relative_error(),
            r.map(|x| format!("  {x:.4}")).unwrap_or_default()
        );
    }
    Ok(code)
}
