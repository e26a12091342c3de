//! The `MocaSoc` adapter: the golden SoC running one compiled GEMM per tile, its memory loaded
//! into the RTL through the back door before the lockstep and read back after it.

use super::{BackDoor, CosimBlock, rtl_watch, write_values};
use crate::error::SimError;
use crate::interface::Declared;
use crate::verilator::CompiledModel;
use golden::cfg::ThrottleConfig;

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
        let rows = self.rows_used();
        let data = self
            .gold
            .mem_read(0, rows as usize)
            .expect("layout inside memory");
        preload(rtl, &data, self.p.tile.dim)
    }
    fn epilogue(&mut self, rtl: &mut dyn BackDoor) -> Result<(), SimError> {
        let d = self.p.tile.dim;
        let mut ok = true;
        for j in &self.jobs {
            let l = &j.program.layout;
            let rows = read_rows(rtl, u64::from(l.c_base), l.c_rows(), d)?;
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

/// Write memory rows `0..` (`dim` int8 values each) through the back door (`bd_*`, shared by
/// the SoC and the tile bench), one row per clock edge.
pub(super) fn preload(rtl: &mut dyn BackDoor, data: &[i8], dim: usize) -> Result<(), SimError> {
    for (r, row) in data.chunks(dim).enumerate() {
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

/// Read `rows` memory rows from `first` through the back door (combinational in simulation).
pub(super) fn read_rows(
    rtl: &mut dyn BackDoor,
    first: u64,
    rows: usize,
    dim: usize,
) -> Result<Vec<i8>, SimError> {
    let mut out = Vec::with_capacity(rows * dim);
    for r in 0..rows {
        rtl.set("bd_addr", first + r as u64)?;
        let v = u128::from(rtl.get("bd_rdata_lo")?) | (u128::from(rtl.get("bd_rdata_hi")?) << 64);
        out.extend((0..dim).map(|x| (v >> (8 * x)) as u8 as i8));
    }
    Ok(out)
}
