//! One tile alone on a memory: the golden twin of `hw::tile_bench::TileBench`
//! (`moca_tile_bench_d<DIM>`), the top the tile is co-simulated in by itself.
//!
//! The RTL tile's data ports are 128-bit rows (`rd_data`, `st_wdata`), wider than a
//! co-simulation port, and the golden tile moves rows in bulk when a request fires (see
//! "fast and exact" in [`crate::tile`]), so the tile is compared inside a bench that gives it
//! the SoC's memory port and nothing else: no throttle, no arbiter, and a `dma_grant` input
//! with which the stimulus plays them (any pattern of back-pressure).
//!
//! # One cycle `t`
//! 1. The tile's outputs are those of the state at the start of `t` ([`Tile::outputs`]).
//! 2. `mem_ready` is high when the memory port has at most one beat of the previous request
//!    left (the port registers a fired request: one of `n` beats fired in `f` keeps the port
//!    busy in `f+1..f+n` and `mem_ready` low in `f+1..f+n-1`, as in the SoC).
//! 3. The request fires (`dma_fire`) when `dma_valid && dma_grant && mem_ready`; the tile sees
//!    `dma_ready = dma_grant && mem_ready`. Reads: beat `j` is read in `f+1+j` and reaches the
//!    scratchpad at the end of `f+1+j+L`; writes: beat `j` is written in `f+1+j`.
//! 4. The tile steps ([`Tile::step`]).
//!
//! The memory has a back door ([`RowMemory`]); the RTL's is the SoC's (`bd_*`, outside the
//! comparison: [`crate::soc::BACKDOOR_PORTS`]).

use crate::compile::RowMemory;
use crate::observe::{Port, Ports};
use crate::spec::{self, tile as ts};
use crate::tile::{Tile, TileError, TileIn, TileOut, TileParams, check_range};

/// The bench's inputs in one cycle.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BenchIn {
    /// `cmd_valid`: the host presents a word.
    pub cmd_valid: bool,
    /// `cmd_word`.
    pub cmd_word: u64,
    /// `dma_grant`: the environment (throttle and arbiter in the SoC) would accept a request.
    pub dma_grant: bool,
}

/// The bench's ports in one cycle (inputs and outputs, named as the RTL's).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BenchCycle {
    /// The inputs.
    pub input: BenchIn,
    /// The tile's outputs.
    pub out: TileOut,
    /// `mem_ready`: the memory port is free.
    pub mem_ready: bool,
    /// `dma_fire`: the request fired.
    pub dma_fire: bool,
}

impl Ports for BenchCycle {
    /// Inputs `cmd_valid`, `cmd_word`, `dma_grant`; outputs `cmd_ready`, `dma_valid`,
    /// `dma_beats`, `dma_addr`, `dma_fire`, `mem_ready`, `issue`, `q_count`, `ld_count`,
    /// `ex_busy`, `st_busy`, `idle`, `cmd_error`.
    #[inline(always)]
    fn visit(&self, f: &mut impl FnMut(Port, u64)) {
        let i = &self.input;
        f(Port::input("cmd_valid", 1), u64::from(i.cmd_valid));
        f(Port::input("cmd_word", ts::CMD_BITS), i.cmd_word);
        f(Port::input("dma_grant", 1), u64::from(i.dma_grant));
        let o = &self.out;
        let mut out = |name, width, v| f(Port::output(name, width), v);
        out("cmd_ready", 1, u64::from(o.cmd_ready));
        out("dma_valid", 1, u64::from(o.dma.is_some()));
        out(
            "dma_beats",
            spec::BEATS_BITS,
            o.dma.map_or(0, |r| u64::from(r.beats)),
        );
        out(
            "dma_addr",
            spec::ADDR_BITS,
            o.dma.map_or(0, |r| u64::from(r.addr)),
        );
        out("dma_fire", 1, u64::from(self.dma_fire));
        out("mem_ready", 1, u64::from(self.mem_ready));
        o.status.visit_ports(o.issue, &mut out);
    }
}

/// A memory-side error of the bench's back door.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub enum BenchError {
    /// A parameter out of range.
    #[error(transparent)]
    Tile(#[from] TileError),
    /// Rows outside the memory, or data that is not whole rows.
    #[error("{0}")]
    Memory(String),
    /// A GEMM that cannot be compiled for this bench.
    #[error(transparent)]
    Compile(#[from] crate::compile::CompileError),
    /// The bench was not idle after the cycle limit.
    #[error("not idle after {0} cycles (the limit)")]
    Timeout(u64),
}

/// A tile, its memory (`mem_rows` rows, read latency `latency`) and the memory port.
#[derive(Clone, Debug)]
pub struct TileBench {
    tile: Tile,
    mem: Vec<i8>,
    latency: u32,
    mem_free_at: u64,
}

impl TileBench {
    /// A bench after reset: memory zeroed, tile idle.
    pub fn new(p: TileParams, mem_rows: u32, latency: u32) -> Result<Self, BenchError> {
        check_range(
            "mem_rows",
            i64::from(mem_rows),
            1,
            i64::from(ts::MAX_MEM_ROWS),
        )?;
        check_range(
            "latency",
            i64::from(latency),
            i64::from(ts::MIN_MEM_LATENCY),
            i64::from(ts::MAX_MEM_LATENCY),
        )?;
        Ok(TileBench {
            tile: Tile::new(p, mem_rows)?,
            mem: vec![0; mem_rows as usize * p.dim],
            latency,
            mem_free_at: 0,
        })
    }

    /// The tile.
    pub fn tile(&self) -> &Tile {
        &self.tile
    }

    /// The memory read latency.
    pub fn latency(&self) -> u32 {
        self.latency
    }

    /// One cycle (see the module docs).
    pub fn step(&mut self, i: &BenchIn) -> BenchCycle {
        let t = self.tile.cycle();
        let mem_ready = t >= self.mem_free_at;
        let ready = i.dma_grant && mem_ready;
        let out = self.tile.step(
            &TileIn {
                cmd_valid: i.cmd_valid,
                cmd_word: i.cmd_word,
                dma_ready: ready,
            },
            &mut self.mem,
            self.latency,
        );
        let dma_fire = ready && out.dma.is_some();
        if let Some(r) = out.dma.filter(|_| dma_fire) {
            self.mem_free_at = t + u64::from(r.beats);
        }
        BenchCycle {
            input: *i,
            out,
            mem_ready,
            dma_fire,
        }
    }

    fn range(&self, addr: u32, rows: usize) -> Result<std::ops::Range<usize>, BenchError> {
        let d = self.tile.params().dim;
        let end = addr as usize + rows;
        if end * d > self.mem.len() {
            return Err(BenchError::Memory(format!(
                "memory rows {addr}..{end} are out of range: allowed 0..{}",
                self.mem.len() / d
            )));
        }
        Ok(addr as usize * d..end * d)
    }
}

impl RowMemory for TileBench {
    type Error = BenchError;

    fn mem_write(&mut self, addr: u32, data: &[i8]) -> Result<(), BenchError> {
        let d = self.tile.params().dim;
        if !data.len().is_multiple_of(d) {
            return Err(BenchError::Memory(format!(
                "{} values are not whole rows of {d}",
                data.len()
            )));
        }
        let r = self.range(addr, data.len() / d)?;
        self.mem[r].copy_from_slice(data);
        Ok(())
    }

    fn mem_read(&self, addr: u32, rows: usize) -> Result<Vec<i8>, BenchError> {
        Ok(self.mem[self.range(addr, rows)?].to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compile::{CompileOptions, GemmShape, compile, random_matrix};
    use rand::SeedableRng;

    #[test]
    fn a_compiled_gemm_runs_under_random_back_pressure() {
        let seed = 3;
        let p = TileParams::with_rows(4, 64, 16).unwrap();
        let mut b = TileBench::new(p, 512, 5).unwrap();
        let shape = GemmShape::new(9, 7, 10).unwrap();
        let prog = compile(shape, &p, 512, &CompileOptions::default()).unwrap();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let a = random_matrix(&mut rng, 9 * 10, 127);
        let bm = random_matrix(&mut rng, 10 * 7, 127);
        prog.write_inputs(&mut b, &a, &bm).unwrap();
        let mut words: std::collections::VecDeque<u64> =
            prog.commands.iter().map(|c| c.encode().unwrap()).collect();
        let (mut fires, mut stalls) = (0, 0);
        for t in 0..200_000u64 {
            let w = words.front().copied();
            let c = b.step(&BenchIn {
                cmd_valid: w.is_some(),
                cmd_word: w.unwrap_or(0),
                dma_grant: t % 3 != 0,
            });
            if c.input.cmd_valid && c.out.cmd_ready {
                words.pop_front();
            }
            fires += u64::from(c.dma_fire);
            stalls += u64::from(c.out.dma.is_some() && !c.dma_fire);
            if words.is_empty() && b.tile().is_idle() {
                break;
            }
        }
        assert!(words.is_empty() && b.tile().is_idle(), "seed {seed}");
        assert!(fires > 0 && stalls > 0, "seed {seed}: {fires} {stalls}");
        let job = crate::compile::GemmJob {
            tile: 0,
            program: prog,
            a,
            b: bm,
        };
        assert!(job.output_ok(&b).unwrap(), "seed {seed}");
    }

    #[test]
    fn bad_parameters_name_the_range() {
        let p = TileParams::new(4).unwrap();
        let e = TileBench::new(p, 64, 0).unwrap_err().to_string();
        assert_eq!(e, "latency=0 is out of range: allowed 1..=1024");
        let mut b = TileBench::new(p, 64, 1).unwrap();
        assert!(b.mem_write(63, &[0; 8]).is_err());
        assert!(b.mem_write(0, &[0; 3]).is_err());
    }
}
