//! The tile adapter: one tile alone on a memory (`golden::tile_bench::TileBench` against
//! `moca_tile_bench_d<DIM>`), running one compiled GEMM under random back-pressure, with a few
//! invalid host words mixed into the command stream; the memory is loaded into the RTL through
//! the back door before the lockstep and the output read back after it.

use super::{BackDoor, CosimBlock, write_values};
use crate::error::SimError;
use crate::interface::Declared;
use golden::compile::{CompileOptions, GemmJob, GemmShape, RowMemory, compile, random_matrix};
use golden::spec::tile as ts;
use golden::tile::{Command, TileParams};
use golden::tile_bench::{BenchError, BenchIn, TileBench};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::VecDeque;

/// Results of a tile run (golden side, and the RTL's back-door read-out after the lockstep).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TileStats {
    /// Golden cycles until the tile was idle with every host word taken.
    pub golden_cycles: u64,
    /// Cycles the RTL ran in lockstep until idle (equal to `golden_cycles` when it passed).
    pub rtl_cycles: Option<u64>,
    /// Host words in the stream (the program's commands and the invalid words).
    pub words: usize,
    /// Invalid words mixed in (each dropped by the tile, setting `cmd_error`).
    pub bad_words: usize,
    /// Cycles a DMA request was presented and did not fire (golden, over the cycles run).
    pub dma_stalls: u64,
    /// The output matrix read from the RTL's memory, and the golden one, equal the reference
    /// matmul (`None`: not checked, the run failed).
    pub data_ok: Option<bool>,
}

/// The tile's scenario: parameters, the GEMM, and how hard the environment pushes back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TileScenario {
    /// Tile parameters.
    pub tile: TileParams,
    /// Memory rows.
    pub mem_rows: u32,
    /// Memory read latency.
    pub latency: u32,
    /// The GEMM.
    pub shape: GemmShape,
    /// `STORE` shift.
    pub shift: u8,
}

/// Invalid host words the stimulus mixes in: reserved bits set, an unknown opcode.
const BAD_WORDS: [u64; 2] = [(ts::OP_FENCE as u64) << 60 | 1, 0xF << 60];
/// Chance (in 16ths) that the host presents its next word in a cycle.
const CMD_VALID_16THS: u32 = 14;
/// Chance (in 16ths) that the environment grants a DMA request in a cycle.
const GRANT_16THS: u32 = 11;
/// Golden cycles after which a run that is not idle is an error.
const MAX_CYCLES: u64 = 50_000_000;

/// `TileBench`: golden model and seeded stimulus (see the module docs).
pub struct TileBlock {
    s: TileScenario,
    seed: u64,
    gold: TileBench,
    job: GemmJob,
    words: VecDeque<u64>,
    rng: ChaCha8Rng,
    idle_at: u64,
    stats: TileStats,
    declared: Declared,
}

impl TileBlock {
    /// The scenario `s` with data and stimulus from `seed`.
    pub fn new(s: TileScenario, seed: u64) -> Result<Self, BenchError> {
        let (gold, job, words, rng) = Self::build(&s, seed)?;
        let mut b = TileBlock {
            s,
            seed,
            stats: TileStats {
                words: words.len(),
                bad_words: BAD_WORDS.len(),
                ..Default::default()
            },
            gold,
            job,
            words,
            rng,
            idle_at: 0,
            declared: Declared::default(),
        };
        // Run a copy to idle: the run length, and a sample of the ports.
        let mut probe = TileBlock {
            gold: b.gold.clone(),
            words: b.words.clone(),
            rng: b.rng.clone(),
            job: b.job.clone(),
            stats: b.stats.clone(),
            declared: Declared::default(),
            ..b
        };
        let mut t = 0;
        while !probe.is_idle() {
            if t == MAX_CYCLES {
                return Err(BenchError::Timeout(MAX_CYCLES));
            }
            probe.step_typed();
            t += 1;
        }
        b.idle_at = t;
        b.stats.golden_cycles = t;
        b.declared = Declared::of(&probe.step_typed());
        Ok(b)
    }

    fn build(
        s: &TileScenario,
        seed: u64,
    ) -> Result<(TileBench, GemmJob, VecDeque<u64>, ChaCha8Rng), BenchError> {
        let mut gold = TileBench::new(s.tile, s.mem_rows, s.latency)?;
        let opts = CompileOptions {
            shift: s.shift,
            ..Default::default()
        };
        let program = compile(s.shape, &s.tile, s.mem_rows, &opts)?;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let a = random_matrix(&mut rng, s.shape.i * s.shape.k, 127);
        let b = random_matrix(&mut rng, s.shape.k * s.shape.j, 127);
        program.write_inputs(&mut gold, &a, &b)?;
        let mut words: Vec<u64> = program
            .commands
            .iter()
            .map(Command::encode)
            .collect::<Result<_, _>>()
            .map_err(|e| BenchError::Compile(e.into()))?;
        for w in BAD_WORDS {
            let at = rng.gen_range(0..=words.len());
            words.insert(at, w);
        }
        let job = GemmJob {
            tile: 0,
            program,
            a,
            b,
        };
        Ok((gold, job, words.into(), rng))
    }

    fn is_idle(&self) -> bool {
        self.words.is_empty() && self.gold.tile().is_idle()
    }

    /// One cycle with the golden types.
    pub fn step_typed(&mut self) -> golden::tile_bench::BenchCycle {
        let w = self.words.front().copied();
        let cmd_valid = w.is_some() && self.rng.gen_ratio(CMD_VALID_16THS, 16);
        let i = BenchIn {
            cmd_valid,
            cmd_word: if cmd_valid { w.unwrap_or(0) } else { 0 },
            dma_grant: self.rng.gen_ratio(GRANT_16THS, 16),
        };
        let c = self.gold.step(&i);
        if i.cmd_valid && c.out.cmd_ready {
            self.words.pop_front();
        }
        self.stats.dma_stalls += u64::from(c.out.dma.is_some() && !c.dma_fire);
        c
    }

    /// Cycles until the golden tile is idle, plus one (the run length to use).
    pub fn cycles(&self) -> u64 {
        self.idle_at + 1
    }

    /// Results so far (complete after a run without a mismatch).
    pub fn stats(&self) -> &TileStats {
        &self.stats
    }

    /// The scenario.
    pub fn scenario(&self) -> &TileScenario {
        &self.s
    }
}

impl CosimBlock for TileBlock {
    fn name(&self) -> &str {
        "tile"
    }
    fn declared(&self) -> &Declared {
        &self.declared
    }
    fn step(&mut self, inputs: &mut [u64], outputs: &mut [u64]) {
        let c = self.step_typed();
        write_values(&c, inputs, outputs);
    }
    fn reset(&mut self) {
        let (gold, job, words, rng) = Self::build(&self.s, self.seed).expect("checked by new");
        self.gold = gold;
        self.job = job;
        self.words = words;
        self.rng = rng;
        self.stats = TileStats {
            golden_cycles: self.idle_at,
            words: self.words.len(),
            bad_words: BAD_WORDS.len(),
            ..Default::default()
        };
    }
    fn backdoor_ports(&self) -> &[golden::observe::Port] {
        &golden::soc::BACKDOOR_PORTS
    }
    fn prologue(&mut self, rtl: &mut dyn BackDoor) -> Result<(), SimError> {
        let d = self.s.tile.dim;
        let rows = self.job.program.layout.end() as usize;
        let data = self.gold.mem_read(0, rows).expect("layout inside memory");
        super::soc::preload(rtl, &data, d)
    }
    fn epilogue(&mut self, rtl: &mut dyn BackDoor) -> Result<(), SimError> {
        let l = &self.job.program.layout;
        let rows = super::soc::read_rows(rtl, u64::from(l.c_base), l.c_rows(), self.s.tile.dim)?;
        let ok = l.unpack_c(&rows) == self.job.expected()
            && self.job.output_ok(&self.gold).unwrap_or(false);
        self.stats.data_ok = Some(ok);
        let idle = rtl.get("idle")? == 1;
        self.stats.rtl_cycles = idle.then_some(self.idle_at);
        Ok(())
    }
}
