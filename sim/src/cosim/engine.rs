//! The lockstep engine: bind the RTL's ports to a block's declaration, run both sides in
//! batches (golden in a second thread), stop at the first mismatch, replay with a trace for the
//! VCD around it; and [`rtl_watch`], which drives the RTL alone.

use super::report::{CosimReport, History, HistoryRow, Mismatch, SignalDiff};
use super::{BATCH, CosimBlock, HISTORY, ModelDoor, PIPELINE, VCD_AFTER, VCD_BEFORE};
use crate::error::SimError;
use crate::interface;
use crate::ports::{Port, PortId};
use crate::verilator::{BuildOptions, CompiledModel, VerilatedModel};
use golden::observe::Dir;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

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

/// Port ids of the RTL in the block's order, checking that both sides have the same ports.
pub(crate) struct Binding {
    clock: PortId,
    inputs: Vec<PortId>,
    outputs: Vec<PortId>,
}

pub(crate) fn bind<B: CosimBlock + ?Sized>(
    ports: &[Port],
    top: &str,
    block: &B,
) -> Result<Binding, SimError> {
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
