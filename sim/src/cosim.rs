//! Lockstep co-simulation: the emitted Verilog, run in Verilator, against a golden model.
//!
//! One seeded stimulus stream drives both. Every cycle, every output port of the RTL top (the
//! data outputs *and* the status/perf registers it exposes) is compared by name with the golden
//! model's value ([`golden::observe`] names are the Verilog port names). The first mismatch
//! stops the run with a [`Mismatch`]: cycle, signal, RTL and golden values, the last
//! [`HISTORY`] cycles of both as a table, and a VCD around the failing cycle.
//!
//! A block is anything implementing [`CosimBlock`]: the golden model, its stimulus and the
//! port names. [`ThrottleBlock`] and [`ArbiterBlock`] are provided; the engine ([`run`],
//! [`run_compiled`]) takes the Verilog text and the top module's name, so it does not depend
//! on how the Verilog was produced.
//!
//! # How a run proceeds
//! Cycles are processed in batches of [`BATCH`]: the golden model and the stimulus run a
//! batch in a second thread (timed separately, giving the golden model's speed), recording the
//! inputs and golden outputs, and stay at most a few batches ahead; the calling thread replays
//! each batch's inputs on the RTL following the crate's cycle convention (set inputs, eval,
//! read outputs, tick) and compares each cycle. On two free cores a lockstep run is about as
//! fast as the slower of the two sides. The stimulus only ever
//! reacts to the golden model's outputs, which equal the RTL's up to the first mismatch, so
//! the two halves see exactly the same stream.
//!
//! On a mismatch the run is replayed from cycle 0 with a traced model (unless the whole run was
//! already traced) to write the VCD from [`VCD_BEFORE`] cycles before the failure to a few
//! cycles after it, and the block is replayed once more to the failing cycle so that its
//! statistics cover exactly the cycles run.

use crate::error::SimError;
use crate::interface::{self, Declared};
use crate::ports::{Port, PortId};
use crate::verilator::{BuildOptions, BuildOutcome, CompiledModel, VerilatedModel};
use golden::arbiter::{ArbiterIn, ArbiterOut, BusArbiter, Policy};
use golden::cfg::{ConfigError, ThrottleConfig};
use golden::observe::{ArbiterOutPorts, Dir, Ports};
use golden::stimulus::{ArbiterStimulus, Demand, ThrottleStimulus};
use golden::throttle::{MemThrottle, State, ThrottleIn, ThrottleOut};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Cycles of both simulations shown before (and including) a mismatch.
pub const HISTORY: usize = 32;
/// Cycles per batch (golden batch, then RTL batch); also the progress granularity.
pub const BATCH: usize = 4096;
/// The mismatch VCD starts this many cycles before the failing cycle.
pub const VCD_BEFORE: u64 = 64;
/// Batches the golden side may run ahead of the RTL side.
const PIPELINE: usize = 3;
/// The mismatch VCD ends this many cycles after the failing cycle.
pub const VCD_AFTER: u64 = 4;

/// A block that can be co-simulated: a golden model, its seeded stimulus and the names of the
/// RTL ports it drives and checks.
pub trait CosimBlock {
    /// Short name (`throttle`, `arbiter`).
    fn name(&self) -> &str;
    /// Name of the clock input of the RTL top.
    fn clock(&self) -> &str {
        "clock"
    }
    /// The block's ports as the golden model declares them (names, directions, widths), in
    /// the order of [`step`](Self::step)'s `inputs` and `outputs`.
    fn declared(&self) -> &Declared;
    /// The RTL input ports the stimulus drives (every input but the clock), in the order of
    /// [`step`](Self::step)'s `inputs`.
    fn input_names(&self) -> &[String] {
        &self.declared().inputs
    }
    /// The RTL output ports compared every cycle (every output), in the order of
    /// [`step`](Self::step)'s `outputs`.
    fn output_names(&self) -> &[String] {
        &self.declared().outputs
    }
    /// One cycle: generate this cycle's inputs (reacting to the golden model's previous
    /// outputs), step the golden model, and write the raw port values of the inputs and of the
    /// golden outputs (`inputs.len() == input_names().len()`, same for outputs).
    fn step(&mut self, inputs: &mut [u64], outputs: &mut [u64]);
    /// Return to cycle 0: a fresh golden model and the stimulus re-seeded with the same seed.
    fn reset(&mut self);
    /// RTL ports outside the lockstep comparison (a test back door): inputs stay 0 during the
    /// lockstep, outputs are not compared. Only [`prologue`](Self::prologue) and
    /// [`epilogue`](Self::epilogue) use them.
    fn backdoor_ports(&self) -> &[golden::observe::Port] {
        &[]
    }
    /// Before lockstep cycle 0 (e.g. preload memory through the back door). Clock cycles run
    /// here are not compared and must leave the observable state unchanged.
    fn prologue(&mut self, _rtl: &mut dyn BackDoor) -> Result<(), SimError> {
        Ok(())
    }
    /// After a lockstep run without a mismatch (e.g. read results through the back door).
    fn epilogue(&mut self, _rtl: &mut dyn BackDoor) -> Result<(), SimError> {
        Ok(())
    }
}

/// Access to the RTL model by port name, outside the lockstep (see
/// [`CosimBlock::prologue`]).
pub trait BackDoor {
    /// Drive an input port.
    fn set(&mut self, port: &str, value: u64) -> Result<(), SimError>;
    /// Evaluate the combinational logic and read a port.
    fn get(&mut self, port: &str) -> Result<u64, SimError>;
    /// One rising clock edge.
    fn tick(&mut self);
}

struct ModelDoor<'a> {
    m: &'a mut VerilatedModel,
    clock: PortId,
}

impl BackDoor for ModelDoor<'_> {
    fn set(&mut self, port: &str, value: u64) -> Result<(), SimError> {
        let id = self.m.port_id(port)?;
        self.m.try_set(id, value)
    }
    fn get(&mut self, port: &str) -> Result<u64, SimError> {
        let id = self.m.port_id(port)?;
        self.m.eval();
        Ok(self.m.get(id))
    }
    fn tick(&mut self) {
        self.m.tick(self.clock);
    }
}

/// How to run a co-simulation.
#[derive(Clone, Debug)]
pub struct CosimOptions {
    /// Cycles to simulate.
    pub cycles: u64,
    /// How to build the Verilator model (`trace` is set as needed).
    pub build: BuildOptions,
    /// Trace the whole run into this VCD file.
    pub vcd: Option<PathBuf>,
    /// Without [`vcd`](Self::vcd): where to write the VCD around a mismatch (`None`: no VCD).
    pub mismatch_vcd: Option<PathBuf>,
}

impl Default for CosimOptions {
    fn default() -> Self {
        CosimOptions {
            cycles: 100_000,
            build: BuildOptions::default(),
            vcd: None,
            mismatch_vcd: None,
        }
    }
}

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
    /// The last [`HISTORY`] cycles.
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

fn per_s(cycles: u64, d: Duration) -> f64 {
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

fn hex(v: u64) -> String {
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

/// Port ids of the RTL in the block's order, checking that both sides have the same ports.
struct Binding {
    clock: PortId,
    inputs: Vec<PortId>,
    outputs: Vec<PortId>,
}

fn bind<B: CosimBlock + ?Sized>(ports: &[Port], top: &str, block: &B) -> Result<Binding, SimError> {
    let err = |message: String| SimError::Interface {
        block: block.name().to_string(),
        top: top.to_string(),
        message,
    };
    if let Some(p) = ports.iter().find(|p| p.width > 64) {
        // Every bound port is at most 64 bits wide (back-door ports included).
        return Err(SimError::PortTooWide {
            port: p.name.clone(),
            width: p.width,
            max: 64,
        });
    }
    let bound = interface::check(
        ports,
        block.clock(),
        &block.declared().ports,
        block.backdoor_ports(),
    )
    .map_err(err)?;
    let (mut inputs, mut outputs) = (Vec::new(), Vec::new());
    for (d, &at) in block.declared().ports.iter().zip(&bound.ports) {
        match d.dir {
            Dir::In => inputs.push(PortId(at)),
            Dir::Out => outputs.push(PortId(at)),
        }
    }
    let clock = PortId(bound.clock);
    Ok(Binding {
        clock,
        inputs,
        outputs,
    })
}

/// Build (or load from the cache) the Verilator model of `top` in `verilog` and run `block`
/// against it in lockstep. `progress` is called with the number of cycles done after each
/// batch.
pub fn run<B: CosimBlock + Send + ?Sized>(
    verilog: &str,
    top: &str,
    block: &mut B,
    opts: &CosimOptions,
    progress: &mut dyn FnMut(u64),
) -> Result<CosimReport, SimError> {
    let mut build = opts.build.clone();
    build.trace = opts.vcd.is_some();
    let model = CompiledModel::compile(verilog, top, &build)?;
    run_compiled(&model, verilog, block, opts, progress)
}

/// Like [`run`] with a model already compiled (reused across runs, e.g. by a fuzzer).
/// `verilog` is only needed to build a traced model for the VCD after a mismatch. The model
/// must have been built with `trace` if `opts.vcd` is set.
pub fn run_compiled<B: CosimBlock + Send + ?Sized>(
    model: &CompiledModel,
    verilog: &str,
    block: &mut B,
    opts: &CosimOptions,
    progress: &mut dyn FnMut(u64),
) -> Result<CosimReport, SimError> {
    let top = model.top().to_string();
    let bind = bind(model.ports(), &top, block)?;
    let mut m = model.instantiate()?;
    block.prologue(&mut ModelDoor {
        m: &mut m,
        clock: bind.clock,
    })?;
    if let Some(path) = &opts.vcd {
        m.open_vcd(path)?;
    }
    let ni = bind.inputs.len();
    let no = bind.outputs.len();
    let cycles = opts.cycles;
    let mut rtl_time = Duration::ZERO;
    let start = Instant::now();
    let mut done = 0u64;
    let mut failed: Option<u64> = None;
    // The golden side runs ahead in a second thread, a few batches at most; the RTL side
    // (the Verilated model is not `Send`) runs here. `prev` and `cur` end as the last two
    // batches, for the history table.
    let mut prev = Batch::new(ni, no);
    let mut cur = Batch::new(ni, no);
    let (golden_time, golden_cycles) = std::thread::scope(|scope| {
        let (full_tx, full_rx) = mpsc::sync_channel::<Batch>(PIPELINE);
        let (empty_tx, empty_rx) = mpsc::channel::<Batch>();
        for _ in 0..PIPELINE {
            let _ = empty_tx.send(Batch::new(ni, no));
        }
        let golden_side = &mut *block;
        let producer = scope.spawn(move || {
            let (mut time, mut stepped) = (Duration::ZERO, 0u64);
            while stepped < cycles {
                let Ok(mut b) = empty_rx.recv() else { break };
                let n = (cycles - stepped).min(BATCH as u64) as usize;
                (b.first, b.len) = (stepped, n);
                let t0 = Instant::now();
                for j in 0..n {
                    golden_side.step(
                        &mut b.inputs[j * ni..(j + 1) * ni],
                        &mut b.golden[j * no..(j + 1) * no],
                    );
                }
                time += t0.elapsed();
                stepped += n as u64;
                if full_tx.send(b).is_err() {
                    break;
                }
            }
            (time, stepped)
        });
        for mut b in full_rx.iter() {
            let t1 = Instant::now();
            for j in 0..b.len {
                let inp = &b.inputs[j * ni..(j + 1) * ni];
                for (&id, &v) in bind.inputs.iter().zip(inp) {
                    m.set(id, v);
                }
                m.eval();
                let r = &mut b.rtl[j * no..(j + 1) * no];
                for (slot, &id) in r.iter_mut().zip(&bind.outputs) {
                    *slot = m.get(id);
                }
                if *r != b.golden[j * no..(j + 1) * no] {
                    failed = Some(b.first + j as u64);
                    b.len = j + 1;
                    break;
                }
                m.tick(bind.clock);
            }
            rtl_time += t1.elapsed();
            done = b.first + b.len as u64;
            let old = std::mem::replace(&mut prev, std::mem::replace(&mut cur, b));
            if failed.is_some() {
                // Finish the failing cycle's edge in a whole-run VCD.
                m.tick(bind.clock);
                break;
            }
            let _ = empty_tx.send(old);
            progress(done);
            // A VCD that can no longer be written stops the run (reported by `close_vcd`).
            if opts.vcd.is_some() && m.vcd_error().is_some() {
                break;
            }
        }
        // Stop the golden side: it is blocked on one of these channels or about to be.
        drop(full_rx);
        drop(empty_tx);
        producer
            .join()
            .unwrap_or_else(|e| std::panic::resume_unwind(e))
    });
    let lockstep_time = start.elapsed();
    m.close_vcd()?;
    if failed.is_none() {
        block.epilogue(&mut ModelDoor {
            m: &mut m,
            clock: bind.clock,
        })?;
    }
    let mismatch = match failed {
        None => None,
        Some(c) => {
            let history = history(&*block, &prev, &cur, c);
            let last = history.rows.last().expect("history has the failing cycle");
            let all: Vec<SignalDiff> = block
                .output_names()
                .iter()
                .zip(last.rtl.iter().zip(&last.golden))
                .filter(|(_, (r, g))| r != g)
                .map(|(n, (&rtl, &golden))| SignalDiff {
                    signal: n.clone(),
                    rtl,
                    golden,
                })
                .collect();
            let vcd = match (&opts.vcd, &opts.mismatch_vcd) {
                (Some(v), _) => Some(v.clone()),
                (None, Some(path)) => {
                    // The mismatch is the result; a VCD that cannot be written (a full disk)
                    // is reported and left out rather than replacing it by an I/O error.
                    match trace_around(verilog, &top, block, &bind, &opts.build, path, c) {
                        Ok(()) => Some(path.clone()),
                        Err(e) => {
                            eprintln!("moca-sim: no VCD of the mismatch: {e}");
                            None
                        }
                    }
                }
                (None, None) => None,
            };
            // Leave the block's statistics covering exactly cycles 0..=c.
            block.reset();
            let (mut i, mut o) = (vec![0; ni], vec![0; no]);
            for _ in 0..=c {
                block.step(&mut i, &mut o);
            }
            let first = all[0].clone();
            Some(Mismatch {
                cycle: c,
                signal: first.signal,
                rtl: first.rtl,
                golden: first.golden,
                all,
                history,
                vcd,
            })
        }
    };
    Ok(CosimReport {
        block: block.name().to_string(),
        top,
        requested: opts.cycles,
        cycles: done,
        golden_cycles,
        mismatch,
        golden_time,
        rtl_time,
        lockstep_time,
        build: model.outcome(),
        vcd: opts.vcd.clone(),
    })
}

/// Inputs, golden and RTL outputs of up to [`BATCH`] consecutive cycles.
struct Batch {
    first: u64,
    len: usize,
    inputs: Vec<u64>,
    golden: Vec<u64>,
    rtl: Vec<u64>,
}

impl Batch {
    fn new(ni: usize, no: usize) -> Self {
        Batch {
            first: 0,
            len: 0,
            inputs: vec![0; BATCH * ni],
            golden: vec![0; BATCH * no],
            rtl: vec![0; BATCH * no],
        }
    }

    fn row(&self, cycle: u64, ni: usize, no: usize) -> Option<HistoryRow> {
        if cycle < self.first || cycle >= self.first + self.len as u64 {
            return None;
        }
        let j = (cycle - self.first) as usize;
        Some(HistoryRow {
            cycle,
            inputs: self.inputs[j * ni..(j + 1) * ni].to_vec(),
            rtl: self.rtl[j * no..(j + 1) * no].to_vec(),
            golden: self.golden[j * no..(j + 1) * no].to_vec(),
        })
    }
}

fn history<B: CosimBlock + ?Sized>(block: &B, prev: &Batch, cur: &Batch, c: u64) -> History {
    let (ni, no) = (block.input_names().len(), block.output_names().len());
    let from = c.saturating_sub(HISTORY as u64 - 1);
    let rows = (from..=c)
        .filter_map(|k| cur.row(k, ni, no).or_else(|| prev.row(k, ni, no)))
        .collect();
    History {
        inputs: block.input_names().to_vec(),
        outputs: block.output_names().to_vec(),
        rows,
    }
}

/// Replay cycles `0..=c + VCD_AFTER` on a traced model, dumping from `c - VCD_BEFORE`.
fn trace_around<B: CosimBlock + ?Sized>(
    verilog: &str,
    top: &str,
    block: &mut B,
    bind: &Binding,
    build: &BuildOptions,
    path: &Path,
    c: u64,
) -> Result<(), SimError> {
    let mut b = build.clone();
    b.trace = true;
    let mut m: VerilatedModel = VerilatedModel::build(verilog, top, &b)?;
    block.reset();
    block.prologue(&mut ModelDoor {
        m: &mut m,
        clock: bind.clock,
    })?;
    let (mut i, mut o) = (
        vec![0; block.input_names().len()],
        vec![0; block.output_names().len()],
    );
    let open_at = c.saturating_sub(VCD_BEFORE);
    for cycle in 0..=c + VCD_AFTER {
        if cycle == open_at {
            m.open_vcd(path)?;
        }
        block.step(&mut i, &mut o);
        for (&id, &v) in bind.inputs.iter().zip(&i) {
            m.set(id, v);
        }
        m.eval();
        m.tick(bind.clock);
    }
    m.close_vcd()
}

/// A recorded stimulus with the golden model's outputs, for replay in other simulators.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recording {
    /// Input port names (columns of `inputs`).
    pub input_names: Vec<String>,
    /// Output port names (columns of `golden`).
    pub output_names: Vec<String>,
    /// One row of input values per cycle.
    pub inputs: Vec<Vec<u64>>,
    /// One row of golden output values per cycle.
    pub golden: Vec<Vec<u64>>,
}

impl Recording {
    /// Run `block` from its current state for `cycles` cycles and record everything.
    pub fn record<B: CosimBlock + ?Sized>(block: &mut B, cycles: usize) -> Self {
        let (ni, no) = (block.input_names().len(), block.output_names().len());
        let mut r = Recording {
            input_names: block.input_names().to_vec(),
            output_names: block.output_names().to_vec(),
            inputs: Vec::with_capacity(cycles),
            golden: Vec::with_capacity(cycles),
        };
        for _ in 0..cycles {
            let (mut i, mut o) = (vec![0; ni], vec![0; no]);
            block.step(&mut i, &mut o);
            r.inputs.push(i);
            r.golden.push(o);
        }
        r
    }

    /// The stimulus as rows in the column order of [`crate::ReplayLayout`] for `ports` (every
    /// input but `clock`, in header order), as [`crate::iverilog::replay`] and
    /// [`VerilatedModel::replay`] take it.
    pub fn layout_rows(&self, ports: &[Port], clock: &str) -> Result<Vec<Vec<u128>>, SimError> {
        let layout = crate::ReplayLayout::new(ports, clock)?;
        let cols = layout
            .inputs
            .iter()
            .map(|id| self.column(&self.input_names, &ports[id.0].name))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(self
            .inputs
            .iter()
            .map(|row| cols.iter().map(|&k| u128::from(row[k])).collect())
            .collect())
    }

    /// The golden outputs as rows in the output order of [`crate::ReplayLayout`] for `ports`.
    pub fn golden_layout_rows(
        &self,
        ports: &[Port],
        clock: &str,
    ) -> Result<Vec<Vec<u128>>, SimError> {
        let layout = crate::ReplayLayout::new(ports, clock)?;
        let cols = layout
            .outputs
            .iter()
            .map(|id| self.column(&self.output_names, &ports[id.0].name))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(self
            .golden
            .iter()
            .map(|row| cols.iter().map(|&k| u128::from(row[k])).collect())
            .collect())
    }

    fn column(&self, names: &[String], name: &str) -> Result<usize, SimError> {
        names
            .iter()
            .position(|n| n == name)
            .ok_or_else(|| SimError::NoSuchPort(name.to_string()))
    }
}

/// The golden side's port values of one cycle, written into the block's `inputs`/`outputs`
/// buffers in the order of its [`input_names`](CosimBlock::input_names) and
/// [`output_names`](CosimBlock::output_names), which come from the same
/// [`Ports::visit`] walk ([`Ports::port_names`]).
fn write_values(p: &impl Ports, inputs: &mut [u64], outputs: &mut [u64]) {
    let written = p.write_values(inputs, outputs);
    debug_assert_eq!(written, (inputs.len(), outputs.len()));
}

/// Statistics of a throttle run (from the golden model, over the cycles run).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ThrottleStats {
    /// Requests that fired.
    pub granted_requests: u64,
    /// Beats of the requests that fired.
    pub granted_beats: u64,
    /// Cycles spent in a bubble.
    pub bubble_cycles: u64,
    /// Cycles run.
    pub cycles: u64,
}

/// `MemThrottle`: golden model and [`ThrottleStimulus`].
pub struct ThrottleBlock {
    seed: u64,
    demand: Demand,
    cfg: ThrottleConfig,
    stim: ThrottleStimulus,
    gold: MemThrottle,
    fired: bool,
    stats: ThrottleStats,
    declared: Declared,
}

impl ThrottleBlock {
    /// A throttle configured with `cfg` (written in the first cycles), driven by `demand`.
    pub fn new(seed: u64, demand: Demand, cfg: ThrottleConfig) -> Self {
        let sample = (ThrottleIn::default(), ThrottleOut::default());
        ThrottleBlock {
            seed,
            demand,
            cfg,
            stim: ThrottleStimulus::new(seed, demand, &cfg),
            gold: MemThrottle::new(),
            fired: false,
            stats: ThrottleStats::default(),
            declared: Declared::of(&sample),
        }
    }

    /// Statistics of the cycles run since the last reset.
    pub fn stats(&self) -> ThrottleStats {
        self.stats
    }

    /// One cycle with the golden types (used by [`CosimBlock::step`]).
    pub fn step_typed(&mut self) -> (ThrottleIn, ThrottleOut) {
        let i = self.stim.next(self.fired);
        let o = self.gold.step(&i);
        self.fired = o.fire;
        self.stats.cycles += 1;
        if o.fire {
            self.stats.granted_requests += 1;
            self.stats.granted_beats += u64::from(i.up_beats & 7);
        }
        self.stats.bubble_cycles += u64::from(o.status.state == State::Bubble);
        (i, o)
    }
}

impl CosimBlock for ThrottleBlock {
    fn name(&self) -> &str {
        "throttle"
    }
    fn declared(&self) -> &Declared {
        &self.declared
    }
    fn step(&mut self, inputs: &mut [u64], outputs: &mut [u64]) {
        let (i, o) = self.step_typed();
        write_values(&(&i, &o), inputs, outputs);
    }
    fn reset(&mut self) {
        *self = ThrottleBlock::new(self.seed, self.demand, self.cfg);
    }
}

/// Statistics of an arbiter run (from the golden model, over the cycles run).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ArbiterStats {
    /// Grants (fired requests) per requester.
    pub grants_per_port: Vec<u64>,
    /// Cycles a request was presented to memory and not accepted.
    pub stall_cycles: u64,
    /// Cycles run.
    pub cycles: u64,
}

/// `BusArbiter`: golden model and [`ArbiterStimulus`].
pub struct ArbiterBlock {
    seed: u64,
    ports: usize,
    policy: Policy,
    stim: ArbiterStimulus,
    gold: BusArbiter,
    ready: u16,
    stats: ArbiterStats,
    declared: Declared,
}

impl ArbiterBlock {
    /// An arbiter with `ports` requesters (1..=16) starting with `policy`.
    pub fn new(seed: u64, ports: usize, policy: Policy) -> Result<Self, ConfigError> {
        let gold = BusArbiter::new(ports)?;
        let sample_in = ArbiterIn {
            req: vec![Default::default(); ports],
            ..Default::default()
        };
        let sample_out = ArbiterOut::default();
        let sample = (
            &sample_in,
            ArbiterOutPorts {
                out: &sample_out,
                ports,
            },
        );
        Ok(ArbiterBlock {
            seed,
            ports,
            policy,
            stim: ArbiterStimulus::new(seed, ports, policy),
            gold,
            ready: 0,
            stats: ArbiterStats {
                grants_per_port: vec![0; ports],
                ..Default::default()
            },
            declared: Declared::of(&sample),
        })
    }

    /// Statistics of the cycles run since the last reset.
    pub fn stats(&self) -> &ArbiterStats {
        &self.stats
    }

    /// One cycle with the golden types (used by [`CosimBlock::step`]).
    pub fn step_typed(&mut self) -> (ArbiterIn, ArbiterOut) {
        let i = self.stim.next(self.ready);
        let o = self.gold.step(&i);
        self.ready = o.req_ready;
        self.stats.cycles += 1;
        for (k, g) in self.stats.grants_per_port.iter_mut().enumerate() {
            *g += u64::from(o.req_ready >> k & 1);
        }
        self.stats.stall_cycles += u64::from(o.mem_valid && o.req_ready == 0);
        (i, o)
    }
}

impl CosimBlock for ArbiterBlock {
    fn name(&self) -> &str {
        "arbiter"
    }
    fn declared(&self) -> &Declared {
        &self.declared
    }
    fn step(&mut self, inputs: &mut [u64], outputs: &mut [u64]) {
        let (i, o) = self.step_typed();
        let out = ArbiterOutPorts {
            out: &o,
            ports: self.ports,
        };
        write_values(&(&i, out), inputs, outputs);
    }
    fn reset(&mut self) {
        self.stim = ArbiterStimulus::new(self.seed, self.ports, self.policy);
        self.gold = BusArbiter::new(self.ports).expect("port count checked by new");
        self.ready = 0;
        self.stats = ArbiterStats {
            grants_per_port: vec![0; self.ports],
            ..Default::default()
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use golden::spec;

    fn run_values<B: CosimBlock>(b: &mut B, cycles: usize) -> Vec<(Vec<u64>, Vec<u64>)> {
        (0..cycles)
            .map(|_| {
                let mut i = vec![0; b.input_names().len()];
                let mut o = vec![0; b.output_names().len()];
                b.step(&mut i, &mut o);
                (i, o)
            })
            .collect()
    }

    /// The values `CosimBlock::step` wrote carry, under the block's port names, the values the
    /// string form (`Ports::port_list`) of the same cycle gives those names, and every port is
    /// either an input or an output.
    fn assert_lined_up<B: CosimBlock + ?Sized>(b: &B, typed: &impl Ports, i: &[u64], o: &[u64]) {
        let list = typed.port_list();
        assert_eq!(list.len(), i.len() + o.len());
        let names = b.input_names().iter().zip(i);
        for (n, v) in names.chain(b.output_names().iter().zip(o)) {
            let named = list.iter().find(|p| p.0 == *n).map(|p| p.1);
            assert_eq!(named, Some(*v), "{n}");
        }
    }

    #[test]
    fn fast_values_follow_observe_names() {
        let cfg = ThrottleConfig::new(40, 9, Some(20)).unwrap();
        let mut t = ThrottleBlock::new(5, Demand::Random, cfg);
        let mut check = ThrottleBlock::new(5, Demand::Random, cfg);
        for _ in 0..3000 {
            let mut i = vec![0; 7];
            let mut o = vec![0; 14];
            t.step(&mut i, &mut o);
            assert_lined_up(&t, &check.step_typed(), &i, &o);
        }
        assert_eq!(t.input_names()[0], "up_valid");
        assert_eq!(t.output_names()[7], "st_wc");
        let mut a = ArbiterBlock::new(2, 3, Policy::Fixed).unwrap();
        let mut check = ArbiterBlock::new(2, 3, Policy::Fixed).unwrap();
        for _ in 0..3000 {
            let mut i = vec![0; a.input_names().len()];
            let mut o = vec![0; a.output_names().len()];
            a.step(&mut i, &mut o);
            let (ci, co) = check.step_typed();
            assert_lined_up(&a, &(ci, ArbiterOutPorts { out: &co, ports: 3 }), &i, &o);
        }
        assert_eq!(a.input_names()[0], "req_valid$0");
        assert_eq!(a.output_names()[1], "req_ready$0");
        let p = golden::soc::SocParams::new(2, 4).unwrap();
        let shape = golden::compile::GemmShape::new(8, 16, 16).unwrap();
        let mut s = SocBlock::new(p, &[shape; 2], &[], 3, 8).unwrap();
        let mut check = s.golden().clone();
        let (mut i, mut o) = (vec![0; 2 * 5 + 3], vec![0; 2 * 14 + 6]);
        for _ in 0..s.cycles() {
            s.step(&mut i, &mut o);
            assert_lined_up(&s, check.step(), &i, &o);
        }
        assert!(check.is_idle());
        assert_eq!(s.input_names()[5], "cmd_valid$1");
        assert_eq!(s.output_names()[2 * 14], "mem_valid");
    }

    #[test]
    fn reset_replays_the_same_stream() {
        let cfg = ThrottleConfig::new(30, 7, None).unwrap();
        let mut t = ThrottleBlock::new(8, Demand::Random, cfg);
        let a = run_values(&mut t, 2000);
        let stats = t.stats();
        t.reset();
        assert_eq!(t.stats(), ThrottleStats::default());
        assert_eq!(run_values(&mut t, 2000), a);
        assert_eq!(t.stats(), stats);
        assert!(stats.granted_beats > 0 && stats.bubble_cycles > 0);
        let mut b = ArbiterBlock::new(4, 4, Policy::RoundRobin).unwrap();
        let x = run_values(&mut b, 1000);
        b.reset();
        assert_eq!(run_values(&mut b, 1000), x);
        assert_eq!(b.stats().grants_per_port.len(), 4);
        assert!(b.stats().grants_per_port.iter().all(|&g| g > 0));
    }

    #[test]
    fn random_stimulus_writes_mid_window_and_mid_bubble() {
        let cfg = ThrottleConfig::new(60, 20, None).unwrap();
        let mut t = ThrottleBlock::new(1, Demand::Random, cfg);
        let (mut mid_bubble, mut mid_window, mut invalid) = (0, 0, 0);
        let (mut prev_write, mut prev_error) = (false, false);
        for _ in 0..200_000 {
            let (i, o) = t.step_typed();
            if i.cfg.we && i.cfg.addr <= spec::throttle::BURST {
                match o.status.state {
                    State::Bubble => mid_bubble += 1,
                    State::Monitor if o.status.wc > 0 => mid_window += 1,
                    State::Monitor => {}
                }
            }
            // A refused write sets the sticky CFG_ERROR at its edge.
            if prev_write && !prev_error && o.status.cfg_error {
                invalid += 1;
            }
            (prev_write, prev_error) = (i.cfg.we, o.status.cfg_error);
        }
        assert!(
            mid_bubble > 20 && mid_window > 50,
            "{mid_bubble} {mid_window}"
        );
        assert!(invalid > 10, "{invalid}");
    }

    #[test]
    fn history_table_marks_differences() {
        let h = History {
            inputs: vec!["a".into()],
            outputs: vec!["q".into(), "long_name".into()],
            rows: vec![
                HistoryRow {
                    cycle: 9,
                    inputs: vec![1],
                    rtl: vec![2, 3],
                    golden: vec![2, 3],
                },
                HistoryRow {
                    cycle: 10,
                    inputs: vec![0],
                    rtl: vec![0x1f, 3],
                    golden: vec![2, 3],
                },
            ],
        };
        let t = h.to_string();
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 5, "{t}");
        assert!(lines[0].contains("cycle") && lines[0].contains("| "), "{t}");
        assert!(
            lines[3].trim_start().starts_with("10 rtl") && lines[3].contains("*1f"),
            "{t}"
        );
        assert!(lines[4].contains("gold") && lines[4].contains("*2"), "{t}");
        assert!(!lines[1].contains('*'), "{t}");
    }
}

/// Results of an SoC run (golden side, and the RTL's back-door read-out after the lockstep).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SocStats {
    /// Golden cycles until every tile was idle.
    pub golden_cycles: u64,
    /// Cycles the RTL ran in lockstep until idle (equal to `golden_cycles` when it passed).
    pub rtl_cycles: Option<u64>,
    /// Per tile: one past its last busy cycle (golden `TilePerf::finish_cycle`).
    pub per_tile_cycles: Vec<u64>,
    /// Every output matrix read from the RTL's memory equals the reference matmul, and the
    /// golden one too (`None`: not checked, the run failed).
    pub data_ok: Option<bool>,
}

/// `MocaSoc`: the golden SoC running one GEMM per tile (`golden::soc::place_gemms`), its memory
/// preloaded into the RTL through the back door before cycle 0 and the outputs read back
/// after the run. Use [`SocBlock::cycles`] as the number of cycles to run.
pub struct SocBlock {
    p: golden::soc::SocParams,
    shapes: Vec<golden::compile::GemmShape>,
    throttles: Vec<(usize, ThrottleConfig)>,
    seed: u64,
    shift: u8,
    gold: golden::soc::MocaSoc,
    jobs: Vec<golden::compile::GemmJob>,
    idle_at: u64,
    stats: SocStats,
    declared: Declared,
}

impl SocBlock {
    /// An SoC with `p`, GEMM `shapes[k]` on tile `k` (random int8 data from `seed`, `STORE`
    /// shift `shift`) and throttles `(tile, config)` configured before the first command.
    pub fn new(
        p: golden::soc::SocParams,
        shapes: &[golden::compile::GemmShape],
        throttles: &[(usize, ThrottleConfig)],
        seed: u64,
        shift: u8,
    ) -> Result<Self, golden::soc::SocError> {
        let (gold, jobs) = Self::build(p, shapes, throttles, seed, shift)?;
        let mut probe = gold.clone();
        let idle_at = probe.run_until_idle(u64::MAX / 2)?;
        let sample = probe.step();
        let declared = Declared::of(sample);
        Ok(SocBlock {
            p,
            shapes: shapes.to_vec(),
            throttles: throttles.to_vec(),
            seed,
            shift,
            gold,
            jobs,
            idle_at,
            stats: SocStats {
                golden_cycles: idle_at,
                ..Default::default()
            },
            declared,
        })
    }

    fn build(
        p: golden::soc::SocParams,
        shapes: &[golden::compile::GemmShape],
        throttles: &[(usize, ThrottleConfig)],
        seed: u64,
        shift: u8,
    ) -> Result<(golden::soc::MocaSoc, Vec<golden::compile::GemmJob>), golden::soc::SocError> {
        let mut gold = golden::soc::MocaSoc::new(p)?;
        let jobs = golden::soc::place_gemms(&mut gold, shapes, shift, 127, seed)?;
        for (k, cfg) in throttles {
            gold.configure_throttle(*k, cfg)?;
        }
        Ok((gold, jobs))
    }

    /// Cycles until the golden SoC is idle, plus one (the run length to use).
    pub fn cycles(&self) -> u64 {
        self.idle_at + 1
    }

    /// Results so far (complete after a run without a mismatch).
    pub fn stats(&self) -> &SocStats {
        &self.stats
    }

    fn rows_used(&self) -> u32 {
        self.jobs
            .last()
            .map_or(0, |j| j.program.layout.end() as u32)
    }
}

impl CosimBlock for SocBlock {
    fn name(&self) -> &str {
        "soc"
    }
    fn declared(&self) -> &Declared {
        &self.declared
    }
    fn step(&mut self, inputs: &mut [u64], outputs: &mut [u64]) {
        write_values(self.gold.step(), inputs, outputs);
        let n = self.p.tiles;
        if self.gold.is_idle() && self.stats.per_tile_cycles.is_empty() {
            self.stats.per_tile_cycles = (0..n)
                .map(|k| self.gold.tile_perf(k).map_or(0, |p| p.finish_cycle))
                .collect();
        }
    }
    fn reset(&mut self) {
        let (gold, jobs) =
            Self::build(self.p, &self.shapes, &self.throttles, self.seed, self.shift)
                .expect("parameters checked by new");
        self.gold = gold;
        self.jobs = jobs;
        self.stats = SocStats {
            golden_cycles: self.idle_at,
            ..Default::default()
        };
    }
    fn backdoor_ports(&self) -> &[golden::observe::Port] {
        &golden::soc::BACKDOOR_PORTS
    }
    fn prologue(&mut self, rtl: &mut dyn BackDoor) -> Result<(), SimError> {
        let d = self.p.tile.dim;
        let rows = self.rows_used();
        let data = self
            .gold
            .mem_read(0, rows as usize)
            .expect("layout inside memory");
        for (r, row) in data.chunks(d).enumerate() {
            let mut v = 0u128;
            for (j, &x) in row.iter().enumerate() {
                v |= u128::from(x as u8) << (8 * j);
            }
            rtl.set("bd_we", 1)?;
            rtl.set("bd_addr", r as u64)?;
            rtl.set("bd_wdata_lo", v as u64)?;
            rtl.set("bd_wdata_hi", (v >> 64) as u64)?;
            rtl.tick();
        }
        rtl.set("bd_we", 0)
    }
    fn epilogue(&mut self, rtl: &mut dyn BackDoor) -> Result<(), SimError> {
        let d = self.p.tile.dim;
        let mut ok = true;
        for j in &self.jobs {
            let l = &j.program.layout;
            let mut rows = Vec::with_capacity(l.c_rows() * d);
            for r in 0..l.c_rows() {
                rtl.set("bd_addr", u64::from(l.c_base) + r as u64)?;
                let v = u128::from(rtl.get("bd_rdata_lo")?)
                    | (u128::from(rtl.get("bd_rdata_hi")?) << 64);
                rows.extend((0..d).map(|x| (v >> (8 * x)) as u8 as i8));
            }
            let expected = j.expected();
            ok &= l.unpack_c(&rows) == expected;
            ok &= j.output_ok(&self.gold).unwrap_or(false);
        }
        self.stats.data_ok = Some(ok);
        // The RTL matched every port up to here; it is idle too.
        let mut idle = true;
        for k in 0..self.p.tiles {
            idle &= rtl.get(&format!("idle${k}"))? == 1;
        }
        self.stats.rtl_cycles = idle.then_some(self.idle_at);
        Ok(())
    }
}

/// Drive the RTL alone (no comparison) with `block`'s stimulus from cycle 0: reset the block,
/// instantiate `model`, run the block's [`prologue`](CosimBlock::prologue), then `cycles`
/// cycles (set inputs, eval, read, tick). Returns, per cycle, the RTL's values of the `watch`
/// ports (any RTL port, read after eval). Used to measure quantities on the RTL side itself
/// (e.g. when each SoC tile goes idle in Verilator) rather than trusting the golden model.
pub fn rtl_watch<B: CosimBlock + ?Sized>(
    model: &CompiledModel,
    block: &mut B,
    cycles: u64,
    watch: &[&str],
) -> Result<Vec<Vec<u64>>, SimError> {
    let bind = bind(model.ports(), model.top(), block)?;
    let watched = watch
        .iter()
        .map(|n| {
            model
                .ports()
                .iter()
                .position(|p| p.name == *n)
                .map(PortId)
                .ok_or_else(|| SimError::NoSuchPort(n.to_string()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut m = model.instantiate()?;
    block.reset();
    block.prologue(&mut ModelDoor {
        m: &mut m,
        clock: bind.clock,
    })?;
    let (mut i, mut o) = (
        vec![0; block.input_names().len()],
        vec![0; block.output_names().len()],
    );
    let mut rows = Vec::with_capacity(cycles as usize);
    for _ in 0..cycles {
        block.step(&mut i, &mut o);
        for (&id, &v) in bind.inputs.iter().zip(&i) {
            m.set(id, v);
        }
        m.eval();
        rows.push(watched.iter().map(|&id| m.get(id)).collect());
        m.tick(bind.clock);
    }
    Ok(rows)
}

impl SocBlock {
    /// The SoC parameters.
    pub fn params(&self) -> &golden::soc::SocParams {
        &self.p
    }

    /// The GEMMs placed (one per tile, from tile 0): programs and input matrices.
    pub fn jobs(&self) -> &[golden::compile::GemmJob] {
        &self.jobs
    }

    /// The golden SoC in its current state (after a run: idle, results in memory).
    pub fn golden(&self) -> &golden::soc::MocaSoc {
        &self.gold
    }

    /// Per tile, one past the last cycle in which the RTL's `idle$k` was 0 (the RTL's
    /// counterpart of [`SocStats::per_tile_cycles`]), measured by driving the RTL alone with
    /// this block's inputs for [`SocBlock::cycles`] cycles ([`rtl_watch`]). Resets the block.
    pub fn rtl_tile_cycles(&mut self, model: &CompiledModel) -> Result<Vec<u64>, SimError> {
        let names: Vec<String> = (0..self.p.tiles).map(|k| format!("idle${k}")).collect();
        let watch: Vec<&str> = names.iter().map(String::as_str).collect();
        let rows = rtl_watch(model, self, self.cycles(), &watch)?;
        let mut finish = vec![0; self.p.tiles];
        for (c, row) in rows.iter().enumerate() {
            for (f, &idle) in finish.iter_mut().zip(row) {
                if idle == 0 {
                    *f = c as u64 + 1;
                }
            }
        }
        Ok(finish)
    }
}
