//! `moca synth`: what a block costs on an FPGA (yosys, and nextpnr-ice40 for timing).
//!
//! Resource counts come from synthesising the block itself (`synth -top` + `abc -lut 4` for the
//! generic target, `synth_ice40` for iCE40). A block alone has far more I/O than an iCE40
//! package, so the maximum clock frequency is measured by placing and routing the block inside
//! a generated *timing wrapper*: every input is fed from a shift register loaded through one
//! pin and every output is captured into a shift register read out through one pin. All paths
//! of the block then start and end at flip-flops, and no logic can be optimised away. The
//! wrapper's flip-flops appear in the timing run only, never in the reported resources.

use crate::hdl::{Block, check_flags, emit};
use crate::tools::{self, Tool, WorkDir};
use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use serde::Serialize;
use sim::ports::{Direction, Port, parse_ports};
use std::path::Path;
use std::process::ExitCode;

/// yosys.
pub const YOSYS: Tool = Tool::apt("yosys", "yosys");
/// nextpnr for iCE40.
pub const NEXTPNR: Tool = Tool::apt("nextpnr-ice40", "nextpnr-ice40");

/// Synthesis target.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Target {
    /// Technology-independent: 4-input LUTs and generic flip-flops.
    Generic,
    /// Lattice iCE40 (UP5K or HX8K, whichever fits), placed and routed with nextpnr.
    Ice40,
}

/// Arguments of `moca synth`.
#[derive(Args)]
#[command(
    long_about = "Synthesise a block with yosys and report cells, LUTs, flip-flops and \
    RAM blocks. For --target ice40 the block is also placed and routed with nextpnr-ice40 on the \
    smallest device it fits (UP5K, else HX8K) inside a generated timing wrapper, and the maximum \
    clock frequency is reported. The design must pass `check -assert` (no latches, no \
    multi-driven nets, no combinational loops). A flag that does not apply to the block is an \
    error.\n\n\
    Example: moca synth --block throttle --target ice40 --json\n\
    Example: moca synth --block tile --dim 16 --sp-rows 64 --acc-rows 32 --target generic"
)]
pub struct SynthArgs {
    /// Block to synthesise.
    #[arg(long, value_enum)]
    pub block: Block,
    /// Arbiter: number of requesters (1..=16; default 4).
    #[arg(long, value_parser = crate::args::ranged::<u16>("ports", crate::args::PORTS))]
    pub ports: Option<u16>,
    /// Tile and SoC shape.
    #[command(flatten)]
    pub soc: crate::hdl::SocShape,
    /// Target technology.
    #[arg(long, value_enum, default_value_t = Target::Generic)]
    pub target: Target,
    /// Keep the scripts, netlists and logs in this directory.
    #[arg(short, long = "out", value_name = "DIR")]
    pub out: Option<std::path::PathBuf>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// The figures `moca synth` reports.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct SynthReport {
    /// Top module.
    pub top: String,
    /// Target technology.
    pub target: Target,
    /// Device placed on (iCE40 only).
    pub device: Option<String>,
    /// All cells after synthesis.
    pub cells: u64,
    /// 4-input LUTs.
    pub luts: u64,
    /// Flip-flops.
    pub ffs: u64,
    /// RAM blocks.
    pub brams: u64,
    /// Carry cells (iCE40 `SB_CARRY`).
    pub carries: u64,
    /// Maximum clock frequency after place and route (iCE40 only).
    pub fmax_mhz: Option<f64>,
}

/// Cell counts from `stat -json` for the top module.
fn cell_counts(stat_json: &str, top: &str) -> Result<serde_json::Map<String, serde_json::Value>> {
    let start = stat_json
        .find('{')
        .context("yosys `stat -json` printed no JSON")?;
    let v: serde_json::Value =
        serde_json::from_str(&stat_json[start..]).context("parsing yosys `stat -json` output")?;
    let m = &v["modules"];
    let module = m
        .get(top)
        .or_else(|| m.get(format!("\\{top}")))
        .with_context(|| format!("yosys statistics have no module {top}"))?;
    Ok(module["num_cells_by_type"]
        .as_object()
        .cloned()
        .unwrap_or_default())
}

fn count(cells: &serde_json::Map<String, serde_json::Value>, pred: impl Fn(&str) -> bool) -> u64 {
    cells
        .iter()
        .filter(|(k, _)| pred(k))
        .map(|(_, v)| v.as_u64().unwrap_or(0))
        .sum()
}

fn run_yosys(dir: &Path, script: &str, log: &str) -> Result<String> {
    let path = dir.join(format!("{log}.ys"));
    tools::write_file(&path, script)?;
    let logfile = dir.join(format!("{log}.log"));
    let out = YOSYS.run(&[
        "-q".as_ref(),
        "-l".as_ref(),
        logfile.as_os_str(),
        "-s".as_ref(),
        path.as_os_str(),
    ])?;
    let text = std::fs::read_to_string(&logfile).unwrap_or_default();
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let err: Vec<&str> = text
            .lines()
            .chain(stderr.lines())
            .filter(|l| l.contains("ERROR") || l.contains("Warning"))
            .collect();
        bail!("yosys failed ({}):\n{}", logfile.display(), err.join("\n"));
    }
    Ok(text)
}

/// Verilog of the timing wrapper around `top` (see the module documentation).
pub fn timing_wrapper(top: &str, ports: &[Port], clock: &str) -> String {
    let ins: Vec<&Port> = ports
        .iter()
        .filter(|p| p.direction == Direction::Input && p.name != clock)
        .collect();
    let outs: Vec<&Port> = ports
        .iter()
        .filter(|p| p.direction == Direction::Output)
        .collect();
    let ni: u32 = ins.iter().map(|p| p.width).sum::<u32>().max(1);
    let no: u32 = outs.iter().map(|p| p.width).sum::<u32>().max(1);
    let mut v = String::new();
    v.push_str(&format!(
        "// Timing wrapper generated by moca synth: {ni} input bits shifted in, {no} output \
         bits captured and shifted out.\nmodule moca_timing_wrapper(input wire clk, input wire \
         si, input wire ld, output wire so);\n"
    ));
    v.push_str(&format!("    reg [{}:0] in_sr = 0;\n", ni - 1));
    v.push_str(&format!("    reg [{}:0] out_sr = 0;\n", no - 1));
    v.push_str(&format!("    wire [{}:0] outs;\n", no - 1));
    if ni > 1 {
        v.push_str(&format!(
            "    always @(posedge clk) in_sr <= {{in_sr[{}:0], si}};\n",
            ni - 2
        ));
    } else {
        v.push_str("    always @(posedge clk) in_sr <= si;\n");
    }
    v.push_str(&format!(
        "    always @(posedge clk) out_sr <= ld ? outs : {{1'b0, out_sr[{}:1]}};\n",
        no.max(2) - 1
    ));
    v.push_str("    assign so = out_sr[0];\n");
    v.push_str(&format!("    {top} dut(\n        .{clock}(clk)"));
    let mut bit = 0;
    for p in &ins {
        v.push_str(&format!(
            ",\n        .{}(in_sr[{}:{}])",
            p.name,
            bit + p.width - 1,
            bit
        ));
        bit += p.width;
    }
    bit = 0;
    for p in &outs {
        v.push_str(&format!(
            ",\n        .{}(outs[{}:{}])",
            p.name,
            bit + p.width - 1,
            bit
        ));
        bit += p.width;
    }
    v.push_str("\n    );\nendmodule\n");
    v
}

/// iCE40 devices tried in order, with their LUT capacity and a package.
const ICE40_DEVICES: [(&str, &str, u64); 2] = [("up5k", "sg48", 5280), ("hx8k", "ct256", 7680)];

/// Synthesise `verilog` (top `top`, clock port `clock`) for `target`, working in `dir`.
pub fn synthesize(
    verilog: &str,
    top: &str,
    clock: &str,
    target: Target,
    dir: &Path,
) -> Result<SynthReport> {
    let src = dir.join(format!("{top}.v"));
    tools::write_file(&src, verilog)?;
    let src_s = src.display();
    // Structural checks on the elaborated design.
    run_yosys(
        dir,
        &format!(
            "read_verilog {src_s}\nhierarchy -check -top {top}\nproc\nflatten\nopt_clean\n\
             check -assert\nselect -assert-none t:$dlatch t:$adlatch t:$dlatchsr\n"
        ),
        "check",
    )
    .context("structural check (`check -assert`, no latches)")?;
    let synth = match target {
        Target::Generic => format!("synth -flatten -top {top}\nabc -lut 4\nopt_clean\n"),
        Target::Ice40 => format!("synth_ice40 -top {top}\n"),
    };
    run_yosys(
        dir,
        &format!(
            "read_verilog {src_s}\n{synth}tee -o {}/stat.json stat -json\n",
            dir.display()
        ),
        "synth",
    )?;
    let stat = std::fs::read_to_string(dir.join("stat.json")).context("reading stat.json")?;
    let cells = cell_counts(&stat, top)?;
    let total = count(&cells, |_| true);
    let mut r = match target {
        Target::Generic => SynthReport {
            top: top.into(),
            target,
            device: None,
            cells: total,
            luts: count(&cells, |k| k == "$lut"),
            ffs: count(&cells, |k| k.contains("DFF") || k.contains("dff")),
            brams: count(&cells, |k| k.contains("mem")),
            carries: 0,
            fmax_mhz: None,
        },
        Target::Ice40 => SynthReport {
            top: top.into(),
            target,
            device: None,
            cells: total,
            luts: count(&cells, |k| k == "SB_LUT4"),
            ffs: count(&cells, |k| k.starts_with("SB_DFF")),
            brams: count(&cells, |k| k.starts_with("SB_RAM40")),
            carries: count(&cells, |k| k == "SB_CARRY"),
            fmax_mhz: None,
        },
    };
    if target == Target::Ice40 {
        // Checked before the timing wrapper is synthesised (as long again as the block).
        let (device, package, _) = ICE40_DEVICES
            .iter()
            .find(|(_, _, luts)| r.luts * 10 <= luts * 8)
            .with_context(|| {
                format!(
                    "{top} needs {} LUTs: more than 80 % of the largest supported iCE40 (HX8K, \
                     7680), so it is not placed and routed (synthesis: {} cells, {} LUT4, {} FF, \
                     {} RAM, {} carry)",
                    r.luts, r.cells, r.luts, r.ffs, r.brams, r.carries
                )
            })?;
        let ports = parse_ports(verilog, top).context("reading the top's ports")?;
        let wrap = dir.join("moca_timing_wrapper.v");
        tools::write_file(&wrap, &timing_wrapper(top, &ports, clock))?;
        let json = dir.join("wrapper.json");
        run_yosys(
            dir,
            &format!(
                "read_verilog {src_s}\nread_verilog {}\nsynth_ice40 -top moca_timing_wrapper -json {}\n",
                wrap.display(),
                json.display()
            ),
            "wrapper",
        )?;
        let out = NEXTPNR.run(&[
            format!("--{device}").as_str(),
            "--package",
            package,
            "--json",
            &json.display().to_string(),
            "--pcf-allow-unconstrained",
            "--freq",
            "12",
            "--seed",
            "1",
        ])?;
        let log = String::from_utf8_lossy(&out.stderr).into_owned();
        tools::write_file(&dir.join("nextpnr.log"), &log)?;
        if !out.status.success() {
            // The logic-cell utilisation explains the usual failure: the LUT check above
            // passed, but LUTs, flip-flops and carries packed into logic cells do not fit.
            bail!(
                "nextpnr-ice40 failed on {device} (synthesis: {} cells, {} LUT4, {} FF, {} RAM, \
                 {} carry; -o DIR keeps nextpnr.log):\n{}",
                r.cells,
                r.luts,
                r.ffs,
                r.brams,
                r.carries,
                log.lines()
                    .filter(|l| l.contains("ERROR") || l.contains("ICESTORM_LC:"))
                    .map(|l| l.trim_start_matches("Info:").trim())
                    .collect::<Vec<_>>()
                    .join("\n")
            );
        }
        r.device = Some(format!("iCE40{}-{package}", device.to_uppercase()));
        r.fmax_mhz = log
            .lines()
            .rev()
            .filter(|l| l.contains("Max frequency for clock"))
            .find_map(|l| {
                let after = l.split("': ").nth(1)?;
                after.split_whitespace().next()?.parse().ok()
            });
        if r.fmax_mhz.is_none() {
            bail!("nextpnr-ice40 reported no maximum frequency (see nextpnr.log)");
        }
    }
    Ok(r)
}

/// `moca synth`.
pub fn synth_cmd(a: &SynthArgs) -> Result<ExitCode> {
    check_flags(a.block, a.ports, &a.soc)?;
    let top = emit(a.block, a.ports, &a.soc)?;
    let work = WorkDir::new(a.out.as_deref())?;
    let r = synthesize(&top.text, &top.top, "clock", a.target, work.path())?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&r)?);
    } else {
        println!(
            "{}: {} cells, {} LUT4, {} FF, {} RAM{}{}",
            r.top,
            r.cells,
            r.luts,
            r.ffs,
            r.brams,
            if r.carries > 0 {
                format!(", {} carry", r.carries)
            } else {
                String::new()
            },
            match (&r.device, r.fmax_mhz) {
                (Some(d), Some(f)) => format!("; {d}: fmax {f:.1} MHz"),
                _ => String::new(),
            }
        );
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_latch_fails_the_structural_check() {
        let v = "module latchy(input wire clock, input wire en, input wire d, output reg q);\n\
                 always @(*) if (en) q = d;\nendmodule\n";
        let dir = tempfile::tempdir().unwrap();
        let e = synthesize(v, "latchy", "clock", Target::Generic, dir.path()).unwrap_err();
        assert!(format!("{e:#}").contains("no latches"), "{e:#}");
    }

    #[test]
    fn generic_counts_a_small_design() {
        let v = "module cnt(input wire clock, input wire en, output reg [7:0] q);\n\
                 initial q = 0;\nalways @(posedge clock) if (en) q <= q + 8'd1;\nendmodule\n";
        let dir = tempfile::tempdir().unwrap();
        let r = synthesize(v, "cnt", "clock", Target::Generic, dir.path()).unwrap();
        assert_eq!(r.ffs, 8, "{r:?}");
        assert!(r.luts >= 4 && r.luts <= 30, "{r:?}");
        assert_eq!(r.fmax_mhz, None);
    }

    #[test]
    fn timing_wrapper_connects_every_port() {
        let ports = vec![
            Port {
                name: "clock".into(),
                width: 1,
                direction: Direction::Input,
                signed: false,
            },
            Port {
                name: "a$0".into(),
                width: 3,
                direction: Direction::Input,
                signed: false,
            },
            Port {
                name: "y".into(),
                width: 5,
                direction: Direction::Output,
                signed: false,
            },
        ];
        let w = timing_wrapper("blk", &ports, "clock");
        assert!(w.contains(".clock(clk)"));
        assert!(w.contains(".a$0(in_sr[2:0])"));
        assert!(w.contains(".y(outs[4:0])"));
    }
}
