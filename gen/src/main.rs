//! `moca`: generate, lint, co-simulate and experiment with MoCA multi-tenant accelerator
//! hardware. See `moca --help`.

mod args;
mod cosim;
mod cosim_checked;
mod cosim_tile;
mod ecp5;
mod effect;
mod experiments;
mod fuzz;
mod hdl;
mod output;
mod prove;
mod rate;
mod regime;
mod replay;
mod synth;
mod tools;

use anyhow::Result;
use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Bad input from the user (flags, files, values): reported with exit code 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// The one place that decides "usage error" (exit code 2): `e`, or any error it wraps, is a
/// [`UsageError`], an [`args::OutOfRange`] or one of the libraries' typed input errors (a bad
/// workload file, register value, task count, workload set, QoS level or policy). Everything
/// else (a failed check, a tool or an I/O failure) is exit code 1.
pub fn is_usage_error(e: &anyhow::Error) -> bool {
    use multitenant::experiment::ExperimentError;
    e.chain().any(|c| {
        c.is::<UsageError>()
            || c.is::<args::OutOfRange>()
            || c.is::<multitenant::workload::WorkloadError>()
            || c.is::<multitenant::sched::UnknownPolicy>()
            || c.is::<golden::cfg::ConfigError>()
            || matches!(
                c.downcast_ref::<golden::tile::TileError>(),
                Some(golden::tile::TileError::OutOfRange { .. })
            )
            || c.downcast_ref::<ExperimentError>()
                .is_some_and(|x| !matches!(x, ExperimentError::Sim(_)))
    })
}

/// Build a [`UsageError`] from anything printable.
pub fn usage(msg: impl std::fmt::Display) -> anyhow::Error {
    UsageError(msg.to_string()).into()
}

#[derive(Parser)]
#[command(
    name = "moca",
    version,
    about = "MoCA multi-tenant DNN accelerator toolkit: RTL generation, lint, co-simulation, experiments",
    long_about = "moca builds the hardware of MoCA (Kim et al., HPCA 2023): a per-tile memory \
        throttle that caps each tenant's DRAM access rate at TARGET beats per WINDOW cycles, and \
        the shared-bus arbiter behind it. Every block has a cycle-accurate golden model in pure \
        Rust; the Verilog that `moca gen` writes is checked against it cycle by cycle.\n\n\
        Typical flow:\n  moca gen --block throttle -o rtl/      # Verilog for your FPGA flow\n  \
        moca lint                              # verilator -Wall + iverilog on it\n  \
        moca cosim --block throttle --cycles 1000000   # RTL vs golden in lockstep\n  \
        moca rate --setting 100:25             # what a register setting grants\n\n\
        Exit codes: 0 success, 1 a check failed (lint warning, co-simulation mismatch), \
        2 bad input."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Write Verilog for a block, one file per top module.
    Gen(hdl::GenArgs),
    /// Lint the emitted Verilog with `verilator --lint-only -Wall` and `iverilog -g2005`.
    Lint(hdl::LintArgs),
    /// Print the register map (from golden/src/spec.rs).
    Regs(hdl::RegsArgs),
    /// Granted rate of the throttle under saturating demand for WINDOW/TARGET settings.
    Rate(rate::RateArgs),
    /// Run the emitted RTL in Verilator in lockstep with the golden model.
    Cosim(cosim::CosimArgs),
    /// The MoCA effect in RTL: tile 1 alone, co-running, co-running with tile 0 throttled.
    Effect(effect::EffectArgs),
    /// Prove properties of the emitted RTL with yosys' SAT engine (temporal induction).
    Prove(prove::ProveArgs),
    /// Synthesise a block with yosys (and place and route it on iCE40 or ECP5).
    Synth(synth::SynthArgs),
    /// Co-simulate many random scenarios per block; failures print their reproducing command.
    Fuzz(fuzz::FuzzArgs),
    /// Run one multi-tenant experiment (250 tasks by default) under a scheduling policy.
    Run(experiments::RunArgs),
    /// Run every policy x workload set x QoS level over several seeds; write CSV, Markdown, SVG.
    Sweep(experiments::SweepArgs),
    /// Print the throttle registers the MoCA runtime writes for a layer and its co-runners.
    Runtime(experiments::RuntimeArgs),
    /// Compare the layer predictor and the simulator with the artifact's per-layer figures.
    Calibrate(experiments::CalibrateArgs),
    /// Where can throttling help? Each scheduler with and without MoCA's runtime, over load and QoS.
    Regime(regime::RegimeArgs),
    /// Replay a recorded FireSim run of the MoCA artifact through moca's models.
    Replay(replay::ReplayArgs),
}

fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Gen(a) => hdl::gen_cmd(&a),
        Command::Lint(a) => hdl::lint_cmd(&a),
        Command::Regs(a) => hdl::regs_cmd(&a),
        Command::Rate(a) => rate::rate_cmd(&a),
        Command::Cosim(a) => cosim::cosim_cmd(&a),
        Command::Effect(a) => effect::effect_cmd(&a),
        Command::Synth(a) => synth::synth_cmd(&a),
        Command::Prove(a) => prove::prove_cmd(&a),
        Command::Fuzz(a) => fuzz::fuzz_cmd(&a),
        Command::Run(a) => experiments::run(&a).map(|()| ExitCode::SUCCESS),
        Command::Sweep(a) => experiments::sweep(&a).map(|()| ExitCode::SUCCESS),
        Command::Runtime(a) => experiments::runtime(&a).map(|()| ExitCode::SUCCESS),
        Command::Calibrate(a) => experiments::calibrate(&a).map(|()| ExitCode::SUCCESS),
        Command::Regime(a) => regime::regime(&a).map(|()| ExitCode::SUCCESS),
        Command::Replay(a) => replay::replay_cmd(&a).map(|()| ExitCode::SUCCESS),
    }
}

/// The error and its causes, each printed once: a cause whose text the message already holds
/// (a library error that prints its own source) is not repeated.
fn message(e: &anyhow::Error) -> String {
    let mut msg = String::new();
    for c in e.chain() {
        let t = c.to_string();
        if msg.is_empty() {
            msg = t;
        } else if !msg.contains(&t) {
            msg = format!("{msg}: {t}");
        }
    }
    msg
}

fn main() -> ExitCode {
    // Like other Unix tools, stop quietly when the reader of our output goes away
    // (`moca calibrate | head`) instead of panicking in `println!`.
    #[cfg(unix)]
    // SAFETY: restoring the default disposition of SIGPIPE before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("moca: error: {}", message(&e));
            if is_usage_error(&e) {
                ExitCode::from(2)
            } else {
                ExitCode::from(1)
            }
        }
    }
}
