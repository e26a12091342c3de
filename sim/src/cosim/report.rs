//! The result of a run: [`CosimReport`], the first [`Mismatch`] and its [`History`] table.

use crate::verilator::BuildOutcome;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// One signal that differs in a cycle.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignalDiff {
    /// Port name.
    pub signal: String,
    /// Value in the RTL.
    pub rtl: u64,
    /// Value in the golden model.
    pub golden: u64,
}

/// One cycle of the history table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HistoryRow {
    /// The cycle.
    pub cycle: u64,
    /// Input values (same for both simulations), in [`History::inputs`] order.
    pub inputs: Vec<u64>,
    /// RTL output values, in [`History::outputs`] order.
    pub rtl: Vec<u64>,
    /// Golden output values, in [`History::outputs`] order.
    pub golden: Vec<u64>,
}

/// The last cycles of both simulations up to and including a mismatch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct History {
    /// Input port names.
    pub inputs: Vec<String>,
    /// Output port names.
    pub outputs: Vec<String>,
    /// Rows, oldest first; the last one is the failing cycle.
    pub rows: Vec<HistoryRow>,
}

/// The first cycle where the RTL and the golden model disagree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mismatch {
    /// The failing cycle (0-based; cycle 0 is the first set of inputs).
    pub cycle: u64,
    /// The first differing signal, in port-list order.
    pub signal: String,
    /// Its RTL value.
    pub rtl: u64,
    /// Its golden value.
    pub golden: u64,
    /// Every signal that differs in the failing cycle (the first one included).
    pub all: Vec<SignalDiff>,
    /// The last [`HISTORY`](super::HISTORY) cycles.
    pub history: History,
    /// The VCD written around the failing cycle, if any.
    pub vcd: Option<PathBuf>,
}

/// The result of a co-simulation run.
#[derive(Clone, Debug)]
pub struct CosimReport {
    /// Block name.
    pub block: String,
    /// Verilog top module.
    pub top: String,
    /// Cycles requested.
    pub requested: u64,
    /// Cycles simulated and compared (up to and including a failing cycle).
    pub cycles: u64,
    /// Cycles the golden model ran in the lockstep loop (it runs up to a batch ahead of the
    /// RTL, so after a mismatch this can exceed `cycles`).
    pub golden_cycles: u64,
    /// The first mismatch, if any.
    pub mismatch: Option<Mismatch>,
    /// Time spent in the golden model and the stimulus.
    pub golden_time: Duration,
    /// Time spent driving, evaluating, reading and comparing the RTL.
    pub rtl_time: Duration,
    /// Wall time of the lockstep loop (both halves and the bookkeeping).
    pub lockstep_time: Duration,
    /// Whether the Verilator model was built or came from the cache.
    pub build: BuildOutcome,
    /// The VCD of the whole run (`--vcd`), if any.
    pub vcd: Option<PathBuf>,
}

pub(crate) fn per_s(cycles: u64, d: Duration) -> f64 {
    let s = d.as_secs_f64();
    if s > 0.0 { cycles as f64 / s } else { 0.0 }
}

impl CosimReport {
    /// Whether every compared cycle matched.
    pub fn passed(&self) -> bool {
        self.mismatch.is_none()
    }

    /// Number of mismatches found (the run stops at the first: 0 or 1).
    pub fn mismatches(&self) -> u64 {
        u64::from(self.mismatch.is_some())
    }

    /// Golden model (with stimulus generation) speed, cycles per second.
    pub fn golden_cycles_per_s(&self) -> f64 {
        per_s(self.golden_cycles, self.golden_time)
    }

    /// Verilator speed (set inputs, eval, read outputs, compare, tick), cycles per second.
    pub fn rtl_cycles_per_s(&self) -> f64 {
        per_s(self.cycles, self.rtl_time)
    }

    /// Lockstep speed, cycles per second.
    pub fn lockstep_cycles_per_s(&self) -> f64 {
        per_s(self.cycles, self.lockstep_time)
    }
}

pub(crate) fn hex(v: u64) -> String {
    format!("{v:x}")
}

impl fmt::Display for History {
    /// Two lines per cycle (`rtl`, `gold`) with all inputs and outputs in hex; a `*` marks an
    /// output that differs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self
            .inputs
            .iter()
            .chain(&self.outputs)
            .map(String::as_str)
            .collect();
        let ni = self.inputs.len();
        let mut widths: Vec<usize> = names.iter().map(|n| n.len()).collect();
        for r in &self.rows {
            for (k, v) in r.inputs.iter().chain(&r.rtl).chain(&r.golden).enumerate() {
                let col = if k < ni {
                    k
                } else {
                    ni + (k - ni) % self.outputs.len().max(1)
                };
                widths[col] = widths[col].max(hex(*v).len() + 1);
            }
        }
        let cw = self
            .rows
            .last()
            .map_or(5, |r| r.cycle.to_string().len().max(5));
        use std::fmt::Write as _;
        let mut line = format!("{:>cw$} {:4} ", "cycle", "");
        for (k, n) in names.iter().enumerate() {
            if k == ni {
                line.push_str("| ");
            }
            let _ = write!(line, "{n:>w$} ", w = widths[k]);
        }
        writeln!(f, "{}", line.trim_end())?;
        for r in &self.rows {
            for (side, outs) in [("rtl", &r.rtl), ("gold", &r.golden)] {
                let c = if side == "rtl" {
                    r.cycle.to_string()
                } else {
                    String::new()
                };
                line = format!("{c:>cw$} {side:4} ");
                for (k, v) in r.inputs.iter().enumerate() {
                    let _ = write!(line, "{:>w$} ", hex(*v), w = widths[k]);
                }
                line.push_str("| ");
                for (k, v) in outs.iter().enumerate() {
                    let mark = if r.rtl[k] != r.golden[k] { "*" } else { "" };
                    let _ = write!(
                        line,
                        "{:>w$} ",
                        format!("{mark}{}", hex(*v)),
                        w = widths[ni + k]
                    );
                }
                writeln!(f, "{}", line.trim_end())?;
            }
        }
        Ok(())
    }
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "MISMATCH at cycle {}: signal `{}`: RTL {:#x} ({}), golden {:#x} ({})",
            self.cycle, self.signal, self.rtl, self.rtl, self.golden, self.golden
        )?;
        if self.all.len() > 1 {
            let rest: Vec<String> = self.all[1..]
                .iter()
                .map(|d| format!("{} (RTL {:#x}, golden {:#x})", d.signal, d.rtl, d.golden))
                .collect();
            writeln!(f, "also differing: {}", rest.join(", "))?;
        }
        writeln!(
            f,
            "last {} cycles (hex; inputs | outputs; * = differs):",
            self.history.rows.len()
        )?;
        write!(f, "{}", self.history)?;
        if let Some(v) = &self.vcd {
            writeln!(f, "waveform: {}", v.display())?;
        }
        Ok(())
    }
}

impl fmt::Display for CosimReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verdict = if self.passed() { "PASS" } else { "FAIL" };
        writeln!(
            f,
            "{verdict}: {} ({}) {} of {} cycles compared, {} mismatch(es); golden {:.0} cycles/s, \
             Verilator {:.0} cycles/s, lockstep {:.0} cycles/s",
            self.block,
            self.top,
            self.cycles,
            self.requested,
            self.mismatches(),
            self.golden_cycles_per_s(),
            self.rtl_cycles_per_s(),
            self.lockstep_cycles_per_s()
        )?;
        if let Some(v) = &self.vcd {
            writeln!(f, "waveform: {}", v.display())?;
        }
        if let Some(m) = &self.mismatch {
            write!(f, "{m}")?;
        }
        Ok(())
    }
}
