//! Golden model of the MoCA SoC: `N` tiles ([`crate::tile`]), one [`MemThrottle`] per tile
//! between the tile's DMA port and the shared bus, the [`BusArbiter`], and a shared memory with a
//! fixed read latency that serves one beat (row) per cycle. This file is the specification the
//! RTL (`hw::soc`) is co-simulated against.
//!
//! # Data path of one cycle `t`
//! ```text
//!  host port --cmd/cfg--> tile k --DMA req--> MemThrottle k --down--> BusArbiter --> memory
//!                          ^                    (cfg only from the host)           |
//!                          +------------- read data, L cycles later ---------------+
//! ```
//! 1. Every tile retires the work that completed before `t` and decides whether its queue head
//!    issues ([`crate::tile`] has the issue rules).
//! 2. Every tile presents its DMA request (held until it fires) to its throttle (`up_*`); the
//!    throttle passes it on (`down_valid`) unless it is in a bubble.
//! 3. The arbiter selects among the passed requests; `mem_ready` is high when the memory port
//!    has at most one beat of the previous request left (from the port's registers). The grant
//!    fires the request through the arbiter and the throttle in the same cycle
//!    (`req_ready -> down_ready`); the memory port registers the granted request at the end of
//!    the cycle ([`ts::MEM_PORT_DELAY`]): a request of `n` beats granted in `f` keeps the port
//!    busy in `f+1..f+n`, so `mem_ready` is low in `f+1..f+n-1` and the next request may fire
//!    in `f+n` (its first beat in `f+n+1`: one beat per cycle, back to back). No address or
//!    data path of the memory starts at the grant.
//! 4. Reads: beat `j` is read in `f+1+j` and written into the tile's scratchpad at the end of
//!    `f+1+j+L`. Writes (`STORE`s, bit 31 of the bus address set, counted by the throttle like
//!    reads): beat `j` reads the tile's accumulator row and writes memory in `f+1+j`. Reads
//!    and writes share the one port, one beat per cycle: that is the contended bandwidth.
//! 5. Issues and host pushes take effect at the end of the cycle.
//!
//! # Host port
//! Per tile: a command port (`cmd_valid`, `cmd_word`, `cmd_ready`; one word per cycle, queued by
//! [`MocaSoc::push_command`] / [`MocaSoc::push_word`]) and the throttle's configuration port
//! (`cfg_we`, `cfg_addr`, `cfg_wdata`; one write per cycle, queued by
//! [`MocaSoc::write_throttle`]); the arbiter's configuration port. Status and performance
//! counters are read combinationally; memory has a back door for tests. A tile's commands reach
//! only its queue, scratchpad, accumulator and the shared memory: no command, address or data
//! path leads to a configuration port, so a tenant cannot change its own (or anyone's) budget.
//!
//! # Fast path
//! [`MocaSoc::step`] simulates one cycle and records the named ports ([`SocCycle`]).
//! [`MocaSoc::run_until_idle`] runs the same cycle function, but skips *quiet* spans: when no
//! command can issue or enter a queue, no configuration write is pending, the arbiter holds no
//! lock and every DMA request (if any) is held by a throttle bubble, nothing but the enabled
//! throttles' counters can change until the next timed event (a unit or load slot freeing), so
//! it steps only those throttles (with exactly the inputs the full cycle would give them) and
//! stops early when one leaves its bubble. Both paths give identical state and cycle counts.

use crate::arbiter::{ArbiterIn, ArbiterOut, BusArbiter, Request};
use crate::cfg::{CfgPort, ConfigError, ThrottleConfig};
use crate::compile::RowMemory;
use crate::observe::{self, Port, Ports};
use crate::spec::{self, tile as ts};
use crate::throttle::{MemThrottle, State, ThrottleIn};
use crate::tile::{
    Command, DmaRequest, Tile, TileError, TileIn, TileParams, TilePerf, TileStatus, check_range,
};
use std::collections::VecDeque;
use thiserror::Error;

/// An SoC parameter, host request or back-door access that is not allowed.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum SocError {
    /// A tile parameter, command or range error.
    #[error(transparent)]
    Tile(#[from] TileError),
    /// A throttle configuration error.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A back-door access outside the memory.
    #[error("memory rows {start}..{end} are out of range: allowed 0..{limit}")]
    Memory {
        /// First row.
        start: u64,
        /// One past the last row.
        end: u64,
        /// Memory size in rows.
        limit: u64,
    },
    /// Back-door data that is not whole rows.
    #[error("{len} values are not whole rows of {dim}")]
    Ragged {
        /// Number of values given.
        len: usize,
        /// Values per row.
        dim: usize,
    },
    /// A GEMM that cannot be compiled for this SoC.
    #[error(transparent)]
    Compile(#[from] crate::compile::CompileError),
    /// [`MocaSoc::run_until_idle`] reached its cycle limit.
    #[error("not idle after {0} cycles (the limit)")]
    Timeout(u64),
}

/// SoC parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SocParams {
    /// Number of tiles (1..=16), each with its own throttle and arbiter port.
    pub tiles: usize,
    /// Parameters shared by every tile.
    pub tile: TileParams,
    /// Shared-memory rows (1..=2^24).
    pub mem_rows: u32,
    /// Memory read latency `L` in cycles (1..=1024).
    pub latency: u32,
}

impl SocParams {
    /// `tiles` tiles of dimension `dim` with the default sizes and latency.
    pub fn new(tiles: usize, dim: usize) -> Result<Self, SocError> {
        let p = SocParams {
            tiles,
            tile: TileParams::new(dim)?,
            mem_rows: ts::DEFAULT_MEM_ROWS,
            latency: ts::DEFAULT_MEM_LATENCY,
        };
        p.validate()?;
        Ok(p)
    }

    /// Check every field.
    pub fn validate(&self) -> Result<(), SocError> {
        check_range(
            "tiles",
            self.tiles as i64,
            spec::MIN_PORTS as i64,
            spec::MAX_PORTS as i64,
        )?;
        self.tile.validate()?;
        check_range(
            "mem_rows",
            i64::from(self.mem_rows),
            1,
            i64::from(ts::MAX_MEM_ROWS),
        )?;
        check_range(
            "latency",
            i64::from(self.latency),
            i64::from(ts::MIN_MEM_LATENCY),
            i64::from(ts::MAX_MEM_LATENCY),
        )?;
        Ok(())
    }
}

/// One tile's ports in one cycle (inputs as driven, outputs before the clock edge).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TileCycle {
    /// Input `cmd_valid`: the host presents a word.
    pub cmd_valid: bool,
    /// Input `cmd_word`.
    pub cmd_word: u64,
    /// Input: the throttle's configuration port.
    pub cfg: CfgPort,
    /// Output `cmd_ready`: the queue has room.
    pub cmd_ready: bool,
    /// Output `cfg_rdata` of the throttle.
    pub cfg_rdata: u32,
    /// Output `dma_valid`: the tile presents a request to its throttle.
    pub dma_valid: bool,
    /// Output `dma_beats`.
    pub dma_beats: u8,
    /// Output `dma_addr` (bit 31: write).
    pub dma_addr: u32,
    /// Output `dma_fire`: the request fired.
    pub dma_fire: bool,
    /// Output `issue`: the queue head issued.
    pub issue: bool,
    /// Output `thr_bubble`: the throttle is in BUBBLE.
    pub bubble: bool,
    /// Status at the start of the cycle.
    pub status: TileStatus,
}

/// Width of each half of a back-door memory row: the lanes `0..MAX_DIM/2` (`_lo`) or
/// `MAX_DIM/2..MAX_DIM` (`_hi`) of a row, 8 bits each.
pub const BACKDOOR_HALF_BITS: usize = 8 * ts::MAX_DIM / 2;

/// The RTL SoC's back-door ports (memory preload and read-back for tests), outside the
/// lockstep comparison: the golden model reaches its memory directly.
pub const BACKDOOR_PORTS: [Port; 6] = [
    Port::input("bd_we", 1),
    Port::input("bd_addr", ts::MEM_ADDR_BITS),
    Port::input("bd_wdata_lo", BACKDOOR_HALF_BITS),
    Port::input("bd_wdata_hi", BACKDOOR_HALF_BITS),
    Port::output("bd_rdata_lo", BACKDOOR_HALF_BITS),
    Port::output("bd_rdata_hi", BACKDOOR_HALF_BITS),
];

/// The SoC's ports in one cycle (see [`Ports`] for the names).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SocCycle {
    /// Cycle number.
    pub cycle: u64,
    /// Per tile.
    pub tiles: Vec<TileCycle>,
    /// Input: the arbiter's configuration port.
    pub arb_cfg: CfgPort,
    /// The arbiter's outputs.
    pub arbiter: ArbiterOut,
    /// `mem_ready`: the memory port accepts a request.
    pub mem_ready: bool,
}

impl Ports for SocCycle {
    /// Names: per tile `k`: inputs `cmd_valid$k`, `cmd_word$k`, `cfg_we$k`, `cfg_addr$k`,
    /// `cfg_wdata$k`; outputs `cmd_ready$k`, `cfg_rdata$k`, `dma_valid$k`, `dma_beats$k`,
    /// `dma_addr$k`, `dma_fire$k`, `thr_bubble$k`, `issue$k`, `q_count$k`, `ld_count$k`,
    /// `ex_busy$k`, `st_busy$k`, `idle$k`, `cmd_error$k`. Shared: inputs `arb_cfg_we`,
    /// `arb_cfg_addr`, `arb_cfg_wdata`; outputs `mem_valid`, `mem_ready`, `mem_id`,
    /// `mem_beats`, `mem_addr`, `arb_cfg_rdata`.
    #[inline(always)]
    fn visit(&self, f: &mut impl FnMut(Port, u64)) {
        for (k, t) in self.tiles.iter().enumerate() {
            f(Port::input("cmd_valid", 1).at(k), u64::from(t.cmd_valid));
            f(Port::input("cmd_word", ts::CMD_BITS).at(k), t.cmd_word);
            observe::cfg_ports(f, observe::CFG, Some(k), &t.cfg);
            let mut o = |name, width, v| f(Port::output(name, width).at(k), v);
            o("cmd_ready", 1, u64::from(t.cmd_ready));
            o("cfg_rdata", spec::CFG_RDATA_BITS, u64::from(t.cfg_rdata));
            o("dma_valid", 1, u64::from(t.dma_valid));
            o("dma_beats", spec::BEATS_BITS, u64::from(t.dma_beats));
            o("dma_addr", spec::ADDR_BITS, u64::from(t.dma_addr));
            o("dma_fire", 1, u64::from(t.dma_fire));
            o("thr_bubble", 1, u64::from(t.bubble));
            t.status.visit_ports(t.issue, &mut o);
        }
        let arb_cfg = ["arb_cfg_we", "arb_cfg_addr", "arb_cfg_wdata"];
        observe::cfg_ports(f, arb_cfg, None, &self.arb_cfg);
        let a = &self.arbiter;
        let mut o = |name, width, v| f(Port::output(name, width), v);
        o("mem_valid", 1, u64::from(a.mem_valid));
        o("mem_ready", 1, u64::from(self.mem_ready));
        o("mem_id", spec::PORT_ID_BITS, u64::from(a.mem_id));
        o("mem_beats", spec::BEATS_BITS, u64::from(a.mem_beats));
        o("mem_addr", spec::ADDR_BITS, u64::from(a.mem_addr));
        o(
            "arb_cfg_rdata",
            spec::CFG_RDATA_BITS,
            u64::from(a.cfg_rdata),
        );
    }
}

/// The golden MoCA SoC.
#[derive(Clone, Debug)]
pub struct MocaSoc {
    p: SocParams,
    cycle: u64,
    tiles: Vec<Tile>,
    throttles: Vec<MemThrottle>,
    arbiter: BusArbiter,
    mem: Vec<i8>,
    /// First cycle the memory port is free.
    mem_free_at: u64,
    /// Cycles `run_until_idle` advanced through quiet spans.
    skipped: u64,
    /// Per tile: host words waiting for the command port (the front one is presented).
    host: Vec<VecDeque<u64>>,
    cfg_pending: Vec<VecDeque<CfgPort>>,
    arb_cfg_pending: VecDeque<CfgPort>,
    // Per-cycle scratch, allocated once.
    arb_in: ArbiterIn,
    reqs: Vec<Option<DmaRequest>>,
    thr_in: Vec<ThrottleIn>,
    fire: Vec<bool>,
    obs: SocCycle,
}

impl MocaSoc {
    /// An SoC after reset: throttles off, round-robin arbitration, memory zeroed.
    pub fn new(p: SocParams) -> Result<Self, SocError> {
        p.validate()?;
        let n = p.tiles;
        let tiles = (0..n)
            .map(|_| Tile::new(p.tile, p.mem_rows))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(MocaSoc {
            p,
            cycle: 0,
            tiles,
            throttles: vec![MemThrottle::new(); n],
            arbiter: BusArbiter::new(n)?,
            mem: vec![0; p.mem_rows as usize * p.tile.dim],
            mem_free_at: 0,
            skipped: 0,
            host: vec![VecDeque::new(); n],
            cfg_pending: vec![VecDeque::new(); n],
            arb_cfg_pending: VecDeque::new(),
            arb_in: ArbiterIn {
                req: vec![Request::default(); n],
                mem_ready: true,
                cfg: CfgPort::default(),
            },
            reqs: vec![None; n],
            thr_in: vec![ThrottleIn::default(); n],
            fire: vec![false; n],
            obs: SocCycle {
                cycle: 0,
                tiles: vec![TileCycle::default(); n],
                ..Default::default()
            },
        })
    }

    /// The parameters.
    pub fn params(&self) -> &SocParams {
        &self.p
    }

    /// Cycles simulated so far.
    pub fn cycle(&self) -> u64 {
        self.cycle
    }

    /// Cycles [`MocaSoc::run_until_idle`] advanced through quiet spans (without a full cycle).
    pub fn skipped_cycles(&self) -> u64 {
        self.skipped
    }

    fn check_tile(&self, tile: usize) -> Result<(), SocError> {
        check_range("tile", tile as i64, 0, self.p.tiles as i64 - 1)?;
        Ok(())
    }

    /// Host: queue a write to tile `tile`'s throttle configuration port (one write per tile per
    /// cycle, in order; the throttle refuses invalid writes with its sticky `CFG_ERROR`).
    pub fn write_throttle(&mut self, tile: usize, addr: u8, wdata: u16) -> Result<(), SocError> {
        self.check_tile(tile)?;
        self.cfg_pending[tile].push_back(CfgPort::write(addr, wdata));
        Ok(())
    }

    /// Host: queue the four writes that apply `cfg` to tile `tile`'s throttle.
    pub fn configure_throttle(
        &mut self,
        tile: usize,
        cfg: &ThrottleConfig,
    ) -> Result<(), SocError> {
        self.check_tile(tile)?;
        self.cfg_pending[tile].extend(cfg.writes());
        Ok(())
    }

    /// Host: queue a write to the arbiter's configuration port.
    pub fn write_arbiter(&mut self, addr: u8, wdata: u16) {
        self.arb_cfg_pending.push_back(CfgPort::write(addr, wdata));
    }

    /// Host: read a throttle register (combinational read port).
    pub fn read_throttle(&self, tile: usize, addr: u8) -> Result<u32, SocError> {
        self.check_tile(tile)?;
        Ok(self.throttles[tile].read(addr))
    }

    /// Tile `tile`'s throttle (status, registers).
    pub fn throttle(&self, tile: usize) -> &MemThrottle {
        &self.throttles[tile]
    }

    /// The arbiter (status, counters).
    pub fn arbiter(&self) -> &BusArbiter {
        &self.arbiter
    }

    /// Host: push a command to tile `tile`'s host port after checking its encoding and bounds.
    pub fn push_command(&mut self, tile: usize, cmd: &Command) -> Result<(), SocError> {
        self.check_tile(tile)?;
        let word = cmd.encode()?;
        cmd.check_bounds(&self.p.tile, self.p.mem_rows)?;
        self.host[tile].push_back(word);
        Ok(())
    }

    /// Host: push a sequence of commands (all checked first; nothing is pushed on an error).
    pub fn push_commands(&mut self, tile: usize, cmds: &[Command]) -> Result<(), SocError> {
        self.check_tile(tile)?;
        for c in cmds {
            c.encode()?;
            c.check_bounds(&self.p.tile, self.p.mem_rows)?;
        }
        for c in cmds {
            self.push_command(tile, c)?;
        }
        Ok(())
    }

    /// Host: push a raw word as the hardware sees it: an invalid word is dropped when it
    /// reaches the queue and sets the tile's sticky `cmd_error`.
    pub fn push_word(&mut self, tile: usize, word: u64) -> Result<(), SocError> {
        self.check_tile(tile)?;
        self.host[tile].push_back(word);
        Ok(())
    }

    /// Tile `tile`.
    pub fn tile(&self, tile: usize) -> &Tile {
        &self.tiles[tile]
    }

    /// Tile `tile`'s status.
    pub fn tile_status(&self, tile: usize) -> Result<TileStatus, SocError> {
        self.check_tile(tile)?;
        Ok(TileStatus {
            inbox: self.host[tile].len(),
            ..self.tiles[tile].status()
        })
    }

    /// Tile `tile`'s performance counters.
    pub fn tile_perf(&self, tile: usize) -> Result<TilePerf, SocError> {
        self.check_tile(tile)?;
        Ok(*self.tiles[tile].perf())
    }

    fn mem_range(&self, addr: u32, rows: usize) -> Result<std::ops::Range<usize>, SocError> {
        let end = u64::from(addr) + rows as u64;
        if end > u64::from(self.p.mem_rows) {
            return Err(SocError::Memory {
                start: u64::from(addr),
                end,
                limit: u64::from(self.p.mem_rows),
            });
        }
        let d = self.p.tile.dim;
        Ok(addr as usize * d..end as usize * d)
    }

    /// Back door: write whole rows of int8 values starting at row `addr`.
    pub fn mem_write(&mut self, addr: u32, data: &[i8]) -> Result<(), SocError> {
        let d = self.p.tile.dim;
        if !data.len().is_multiple_of(d) {
            return Err(SocError::Ragged {
                len: data.len(),
                dim: d,
            });
        }
        let r = self.mem_range(addr, data.len() / d)?;
        self.mem[r].copy_from_slice(data);
        Ok(())
    }

    /// Back door: read `rows` rows starting at row `addr`.
    pub fn mem_read(&self, addr: u32, rows: usize) -> Result<Vec<i8>, SocError> {
        let r = self.mem_range(addr, rows)?;
        Ok(self.mem[r].to_vec())
    }

    /// Whether every tile is idle with no host word waiting, and no configuration write is
    /// pending.
    pub fn is_idle(&self) -> bool {
        self.tiles.iter().all(Tile::is_idle)
            && self.host.iter().all(VecDeque::is_empty)
            && self.cfg_pending.iter().all(VecDeque::is_empty)
            && self.arb_cfg_pending.is_empty()
    }

    /// Simulate one cycle and return its named ports.
    pub fn step(&mut self) -> &SocCycle {
        self.cycle_fn(true);
        &self.obs
    }

    /// Run until idle (fast path; identical to stepping). Returns the cycle count; fails after
    /// `max_cycles` more cycles.
    pub fn run_until_idle(&mut self, max_cycles: u64) -> Result<u64, SocError> {
        let limit = self.cycle.saturating_add(max_cycles);
        loop {
            let t = self.cycle;
            if self.is_idle() {
                return Ok(t);
            }
            if t >= limit {
                return Err(SocError::Timeout(max_cycles));
            }
            match self.quiet_until() {
                Some(end) if end > t => self.skip(end.min(limit)),
                _ => self.cycle_fn(false),
            }
        }
    }

    /// If the current cycle is quiet, the first cycle at which something timed happens
    /// (`u64::MAX` if nothing is timed).
    fn quiet_until(&self) -> Option<u64> {
        if self.arbiter.status().locked || !self.arb_cfg_pending.is_empty() {
            return None;
        }
        let mut end = u64::MAX;
        for (k, tile) in self.tiles.iter().enumerate() {
            if !self.cfg_pending[k].is_empty()
                || (!self.host[k].is_empty() && tile.cmd_ready())
                || tile.can_issue()
            {
                return None;
            }
            if tile.dma_request().is_some() && !in_bubble(&self.throttles[k]) {
                return None;
            }
            if let Some(e) = tile.next_event() {
                end = end.min(e);
            }
        }
        Some(end)
    }

    /// Advance through a quiet span up to (not including) cycle `end`, or until a throttle
    /// holding a request leaves its bubble.
    fn skip(&mut self, end: u64) {
        let start = self.cycle;
        let n = self.p.tiles;
        let mut any_enabled = false;
        for k in 0..n {
            let r = self.tiles[k].dma_request();
            self.thr_in[k] = throttle_input(r, false, CfgPort::default());
            any_enabled |= self.throttles[k].registers().0 != 0;
        }
        let mut t = start;
        if any_enabled {
            while t < end {
                t += 1;
                let mut wake = false;
                for k in 0..n {
                    if self.throttles[k].registers().0 != 0 {
                        self.throttles[k].step(&self.thr_in[k]);
                        wake |= self.thr_in[k].up_valid && !in_bubble(&self.throttles[k]);
                    }
                }
                if wake {
                    break;
                }
            }
        } else {
            t = end;
        }
        // A span with no timed event and no enabled throttle cannot end: nothing can change.
        assert!(t != u64::MAX, "deadlock: no event can ever occur");
        let span = t - start;
        self.skipped += span;
        for (tile, host) in self.tiles.iter_mut().zip(&self.host) {
            tile.skip_to(t, !host.is_empty());
        }
        self.cycle = t;
    }

    /// One full cycle (see the module docs); records ports when `record`.
    fn cycle_fn(&mut self, record: bool) {
        let t = self.cycle;
        let n = self.p.tiles;
        // 1. The tiles' outputs (state at the start of the cycle).
        for k in 0..n {
            let o = self.tiles[k].outputs();
            self.reqs[k] = o.dma;
            if record {
                let w = self.host[k].front().copied();
                let c = &mut self.obs.tiles[k];
                c.cmd_valid = w.is_some();
                c.cmd_word = w.unwrap_or(0);
                c.cmd_ready = o.cmd_ready;
                c.status = TileStatus {
                    inbox: self.host[k].len(),
                    ..o.status
                };
                c.issue = o.issue;
            }
        }
        // 2-3. Throttles and arbiter.
        let mem_ready = t >= self.mem_free_at;
        for k in 0..n {
            let cfg = self.cfg_pending[k].pop_front().unwrap_or_default();
            let ti = throttle_input(self.reqs[k], false, cfg);
            self.arb_in.req[k] = Request {
                valid: ti.up_valid && !in_bubble(&self.throttles[k]),
                beats: ti.up_beats,
                addr: ti.up_addr,
            };
            self.thr_in[k] = ti;
        }
        self.arb_in.mem_ready = mem_ready;
        self.arb_in.cfg = self.arb_cfg_pending.pop_front().unwrap_or_default();
        // An arbiter with no request, no lock and no write, or a throttle that is off with no
        // request and no write, provably does not change: skip it unless ports are recorded.
        let arb_needed = record
            || self.arb_in.cfg.we
            || self.arbiter.status().locked
            || self.arb_in.req.iter().any(|r| r.valid);
        let aout = if arb_needed {
            self.arbiter.step(&self.arb_in)
        } else {
            ArbiterOut::default()
        };
        // 4. Fire: move data, time the units.
        for k in 0..n {
            self.thr_in[k].down_ready = aout.req_ready >> k & 1 == 1;
            let ti = &self.thr_in[k];
            let fire = if record || ti.up_valid || ti.cfg.we || self.throttles[k].registers().0 != 0
            {
                let tout = self.throttles[k].step(ti);
                if record {
                    let o = &mut self.obs.tiles[k];
                    o.cfg = ti.cfg;
                    o.cfg_rdata = tout.cfg_rdata;
                    o.dma_valid = ti.up_valid;
                    o.dma_beats = ti.up_beats;
                    o.dma_addr = ti.up_addr;
                    o.dma_fire = tout.fire;
                    o.bubble = tout.status.state == State::Bubble;
                }
                tout.fire
            } else {
                false
            };
            debug_assert_eq!(fire, self.thr_in[k].down_ready);
            self.fire[k] = fire;
            // The port is busy in t+1..t+beats; the next request may fire in its last beat.
            if let Some(r) = self.reqs[k].filter(|_| fire) {
                self.mem_free_at = t + u64::from(r.beats);
            }
        }
        // 4-5. The tiles' cycles: the fired request moves its rows, the head issues, the host
        // word enters the queue.
        for k in 0..n {
            let w = self.host[k].front().copied();
            let i = TileIn {
                cmd_valid: w.is_some(),
                cmd_word: w.unwrap_or(0),
                dma_ready: self.fire[k],
            };
            let o = self.tiles[k].step(&i, &mut self.mem, self.p.latency);
            if i.cmd_valid && o.cmd_ready {
                self.host[k].pop_front();
            }
        }
        if record {
            self.obs.cycle = t;
            self.obs.arb_cfg = self.arb_in.cfg;
            self.obs.arbiter = aout;
            self.obs.mem_ready = mem_ready;
        }
        self.cycle = t + 1;
    }
}

/// The SoC's back door to the shared memory (tests, the co-simulation, [`Program`]).
///
/// [`Program`]: crate::compile::Program
impl RowMemory for MocaSoc {
    type Error = SocError;

    fn mem_write(&mut self, addr: u32, data: &[i8]) -> Result<(), SocError> {
        MocaSoc::mem_write(self, addr, data)
    }

    fn mem_read(&self, addr: u32, rows: usize) -> Result<Vec<i8>, SocError> {
        MocaSoc::mem_read(self, addr, rows)
    }
}

/// Place one GEMM per tile (tile `k` runs `shapes[k]`): compile each for the SoC's tiles with
/// `shift`, lay them out one after another from memory row 0, fill A and B with random int8
/// values in `-range..=range` from `seed` (ChaCha8; `range = 127` is the full int8 range), zero
/// C, and push the command streams. Used by the tests, the co-simulation and the CLI; check the
/// results with [`crate::compile::GemmJob::output_ok`] once the SoC is idle. On an error, the
/// GEMMs before the failing one are already placed.
pub fn place_gemms(
    soc: &mut MocaSoc,
    shapes: &[crate::compile::GemmShape],
    shift: u8,
    range: i8,
    seed: u64,
) -> Result<Vec<crate::compile::GemmJob>, SocError> {
    use crate::compile::{CompileOptions, GemmJob, compile, random_matrix};
    use rand::SeedableRng;
    check_range("GEMMs", shapes.len() as i64, 1, soc.params().tiles as i64)?;
    let p = *soc.params();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut base = 0u32;
    let mut jobs = Vec::with_capacity(shapes.len());
    for (tile, &shape) in shapes.iter().enumerate() {
        let opts = CompileOptions {
            shift,
            base,
            tiling: None,
        };
        let program = compile(shape, &p.tile, p.mem_rows, &opts)?;
        base = program.layout.end() as u32;
        let a = random_matrix(&mut rng, shape.i * shape.k, range);
        let b = random_matrix(&mut rng, shape.k * shape.j, range);
        program.write_inputs(soc, &a, &b)?;
        soc.push_commands(tile, &program.commands)?;
        jobs.push(GemmJob {
            tile,
            program,
            a,
            b,
        });
    }
    Ok(jobs)
}

/// Whether a throttle blocks requests this cycle (enabled and in BUBBLE).
fn in_bubble(t: &MemThrottle) -> bool {
    t.registers().0 != 0 && t.status().state == State::Bubble
}

/// The throttle's input for a tile's DMA request.
fn throttle_input(r: Option<DmaRequest>, down_ready: bool, cfg: CfgPort) -> ThrottleIn {
    ThrottleIn {
        up_valid: r.is_some(),
        up_beats: r.map_or(0, |r| r.beats),
        up_addr: r.map_or(0, |r| r.addr),
        down_ready,
        cfg,
    }
}

/// Whether a DMA request is a write (`STORE`).
pub fn is_write(addr: u32) -> bool {
    addr & ts::WRITE_FLAG != 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compile::{GemmJob, GemmShape, random_matrix, reference_matmul};
    use crate::observe::{Dir, Named};
    use crate::spec::throttle as treg;
    use crate::tile::TileParams;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// One GEMM per tile, data from `seed`, optional throttles `(tile, W, T)`.
    struct Scenario {
        dim: usize,
        shapes: Vec<GemmShape>,
        throttles: Vec<(usize, i64, i64)>,
        latency: u32,
        mem_rows: u32,
        seed: u64,
        shift: u8,
        range: i8,
    }

    struct Outcome {
        soc: MocaSoc,
        jobs: Vec<GemmJob>,
        cycles: u64,
    }

    impl Scenario {
        fn new(dim: usize, shapes: Vec<GemmShape>, seed: u64) -> Self {
            Scenario {
                dim,
                shapes,
                throttles: Vec::new(),
                latency: ts::DEFAULT_MEM_LATENCY,
                mem_rows: ts::DEFAULT_MEM_ROWS,
                seed,
                shift: 0,
                range: 127,
            }
        }

        fn build(&self) -> (MocaSoc, Vec<GemmJob>) {
            let mut p = SocParams::new(self.shapes.len(), self.dim).unwrap();
            p.latency = self.latency;
            p.mem_rows = self.mem_rows;
            let mut soc = MocaSoc::new(p).unwrap();
            let jobs = place_gemms(&mut soc, &self.shapes, self.shift, self.range, self.seed)
                .unwrap_or_else(|e| panic!("seed {}: {e}", self.seed));
            for &(k, w, t) in &self.throttles {
                soc.configure_throttle(k, &ThrottleConfig::new(w, t, None).unwrap())
                    .unwrap();
            }
            (soc, jobs)
        }

        fn run(&self, fast: bool) -> Outcome {
            let (mut soc, jobs) = self.build();
            let cycles = if fast {
                soc.run_until_idle(50_000_000).unwrap()
            } else {
                let mut n = 0;
                while !soc.is_idle() {
                    soc.step();
                    n += 1;
                    assert!(n < 50_000_000, "seed {}: no progress", self.seed);
                }
                soc.cycle()
            };
            Outcome { soc, jobs, cycles }
        }
    }

    impl Outcome {
        fn check(&self, what: &str, seed: u64) {
            for job in &self.jobs {
                assert!(
                    job.output_ok(&self.soc).unwrap(),
                    "{what} seed {seed}: tile {} shape {:?} tiling {:?}: wrong C",
                    job.tile,
                    job.program.layout.shape,
                    job.program.tiling
                );
            }
        }

        fn tile_cycles(&self, k: usize) -> u64 {
            self.soc.tile_perf(k).unwrap().finish_cycle
        }
    }

    fn shape(i: usize, j: usize, k: usize) -> GemmShape {
        GemmShape::new(i, j, k).unwrap()
    }

    #[test]
    fn small_gemm_is_exact_in_int32_and_int8() {
        // Small values, shift 0: no saturation, so the int8 result is the exact product; the
        // accumulator also holds the exact int32 product of the last tile.
        let s = shape(4, 4, 8);
        let mut sc = Scenario::new(4, vec![s], 1);
        sc.range = 3;
        let o = sc.run(true);
        o.check("small", 1);
        let exact = reference_matmul(&o.jobs[0].a, &o.jobs[0].b, s);
        assert!(exact.iter().all(|x| (-128..=127).contains(x)));
        let acc: Vec<i32> = (0..4)
            .flat_map(|r| o.soc.tile(0).acc_row(r).to_vec())
            .collect();
        assert_eq!(acc, exact);
        assert!(exact.iter().any(|&x| x != 0));
    }

    #[test]
    fn random_gemms_on_1_to_8_tiles_match_the_reference() {
        for seed in 0..24u64 {
            let mut rng = ChaCha8Rng::seed_from_u64(1000 + seed);
            let tiles = 1 + (seed as usize % 8);
            let dim = [2, 3, 4, 4, 5, 8][rng.gen_range(0..6)];
            let shapes = (0..tiles)
                .map(|_| {
                    shape(
                        rng.gen_range(1..=40),
                        rng.gen_range(1..=40),
                        rng.gen_range(1..=60),
                    )
                })
                .collect();
            let mut sc = Scenario::new(dim, shapes, seed);
            sc.shift = rng.gen_range(0..=10);
            sc.latency = rng.gen_range(1..=40);
            if seed % 2 == 1 {
                for k in 0..tiles {
                    if rng.gen_bool(0.6) {
                        let w = rng.gen_range(20..300);
                        sc.throttles.push((k, w, rng.gen_range(1..w / 2)));
                    }
                }
            }
            let o = sc.run(true);
            o.check("random", seed);
        }
    }

    #[test]
    fn gemmini_dim_16_gemm_matches_the_reference() {
        let mut sc = Scenario::new(16, vec![shape(50, 37, 70), shape(16, 64, 33)], 77);
        sc.shift = 8;
        sc.throttles.push((1, 64, 8));
        sc.run(true).check("dim16", 77);
    }

    #[test]
    fn fast_path_equals_step_path_and_runs_are_deterministic() {
        let mut skipped = 0;
        for seed in 0..16u64 {
            let mut rng = ChaCha8Rng::seed_from_u64(500 + seed);
            let tiles = 1 + seed as usize % 8;
            let shapes = (0..tiles)
                .map(|_| {
                    shape(
                        rng.gen_range(1..=24),
                        rng.gen_range(1..=24),
                        rng.gen_range(1..=32),
                    )
                })
                .collect();
            let mut sc = Scenario::new(4, shapes, seed);
            sc.latency = rng.gen_range(1..=30);
            for k in 0..tiles {
                if rng.gen_bool(0.5) {
                    sc.throttles
                        .push((k, rng.gen_range(10..100), rng.gen_range(1..8)));
                }
            }
            let fast = sc.run(true);
            let slow = sc.run(false);
            let again = sc.run(true);
            assert_eq!(fast.cycles, slow.cycles, "seed {seed}: fast vs step");
            assert_eq!(fast.cycles, again.cycles, "seed {seed}: not deterministic");
            assert_eq!(fast.soc.mem, slow.soc.mem, "seed {seed}: memory");
            for k in 0..tiles {
                assert_eq!(
                    fast.soc.tile_perf(k).unwrap(),
                    slow.soc.tile_perf(k).unwrap(),
                    "seed {seed}: tile {k} counters"
                );
                assert_eq!(
                    fast.soc.throttle(k).status(),
                    slow.soc.throttle(k).status(),
                    "seed {seed}: throttle {k}"
                );
            }
            assert_eq!(fast.soc.arbiter().status(), slow.soc.arbiter().status());
            fast.check("fast", seed);
            skipped += fast.soc.skipped_cycles();
        }
        println!("skipped {skipped} cycles");
        assert!(
            skipped > 1000,
            "the quiet-span skip was exercised ({skipped} cycles)"
        );
    }

    #[test]
    fn single_command_timing_follows_the_table() {
        let d = 4;
        let lat = 7u64;
        let run = |cmds: &[Command]| {
            let mut p = SocParams::new(1, d).unwrap();
            p.latency = lat as u32;
            let mut soc = MocaSoc::new(p).unwrap();
            soc.push_commands(0, cmds).unwrap();
            let mut fires = Vec::new();
            let mut issues = Vec::new();
            while !soc.is_idle() {
                let o = soc.step();
                if o.tiles[0].dma_fire {
                    fires.push((o.cycle, o.tiles[0].dma_beats, o.tiles[0].dma_addr));
                }
                if o.tiles[0].issue {
                    issues.push(o.cycle);
                }
            }
            let mut fast = MocaSoc::new(p).unwrap();
            fast.push_commands(0, cmds).unwrap();
            assert_eq!(fast.run_until_idle(10_000).unwrap(), soc.cycle());
            (soc.cycle(), issues, fires)
        };
        let load = |rows| Command::Load {
            mem_addr: 100,
            sp_addr: 0,
            rows,
        };
        // Pushed in 0, issued in 1, request fires in 2; the port registers it and reads beats
        // in 3..=6; the last is written at the end of 6+L, the slot is free in 2+4+L+1.
        assert_eq!(
            run(&[load(4)]),
            (2 + 4 + lat + 1, vec![1], vec![(2, 4, 100)])
        );
        // 6 rows: requests of 4 and 2 beats; the second waits for the port (busy 3..=6) and
        // fires in 6, the cycle of the first's last beat (its beats in 7..=8).
        assert_eq!(
            run(&[load(6)]),
            (6 + 2 + lat + 1, vec![1], vec![(2, 4, 100), (6, 2, 104)])
        );
        let comp = Command::Compute {
            a: 0,
            b: 4,
            c: 0,
            accumulate: false,
        };
        // The execute unit is busy `compute_cycles` (2D + 2) cycles after the issue cycle: a
        // COMPUTE issued in 1 frees it in 2 + 2D + 2 = 12 (updates read in 2..=5, multiplied in
        // 3..=6, added in 4..=7, write-backs in 8..=11); the next one issues then.
        let cc = ts::compute_cycles(d);
        let free = 1 + 1 + cc;
        assert_eq!(
            (cc, free),
            (2 * d as u64 + 2, 12),
            "docs/TILE.md timing table"
        );
        assert_eq!(run(&[comp]), (free, vec![1], vec![]));
        // Back to back: the second COMPUTE issues when the first frees the unit.
        assert_eq!(
            run(&[comp, comp]).1,
            vec![1, free],
            "COMPUTE issue period is compute_cycles + 1 = 2*DIM+3"
        );
        // LOAD then a dependent COMPUTE: the COMPUTE issues when the slot frees.
        let (end, issues, _) = run(&[load(8), comp]);
        assert_eq!(issues, vec![1, 6 + 4 + lat + 1]);
        assert_eq!(end, 6 + 4 + lat + 1 + 1 + cc);
        assert_eq!(end, 29);
        // An independent COMPUTE overlaps the load.
        let far = Command::Compute {
            a: 16,
            b: 20,
            c: 0,
            accumulate: false,
        };
        assert_eq!(run(&[load(8), far]).1, vec![1, 2]);
        // A LOAD over the rows the executing COMPUTE reads waits for it (WAR); elsewhere not.
        assert_eq!(
            run(&[comp, load(4)]),
            (
                free + 1 + 4 + lat + 1,
                vec![1, free],
                vec![(free + 1, 4, 100)]
            )
        );
        assert_eq!(free + 1 + 4 + lat + 1, 25);
        assert_eq!(run(&[far, load(4)]).1, vec![1, 2]);
        assert_eq!(run(&[load(8), far]).0, 6 + 4 + lat + 1);
        assert_eq!(run(&[comp, comp]).0, free + 1 + cc);
        assert_eq!(free + 1 + cc, 23);
        let store = Command::Store {
            acc_addr: 0,
            mem_addr: 50,
            rows: 5,
            shift: 0,
        };
        // Beats in 3..=6 and 7; the store unit is free the cycle after its last beat.
        assert_eq!(
            run(&[store]),
            (
                6 + 1 + 1,
                vec![1],
                vec![(2, 4, 50 | ts::WRITE_FLAG), (6, 1, 54 | ts::WRITE_FLAG)]
            )
        );
        // STORE after COMPUTE on the same rows waits for the write-back: it issues when the
        // execute unit frees (12), its requests fire in 13 (4 beats) and 17 (1 beat).
        assert_eq!(
            run(&[comp, store]),
            (
                free + 5 + 1 + 1,
                vec![1, free],
                vec![
                    (free + 1, 4, 50 | ts::WRITE_FLAG),
                    (free + 5, 1, 54 | ts::WRITE_FLAG)
                ]
            )
        );
        assert_eq!(run(&[Command::Fence]), (2, vec![1], vec![]));
        // FENCE waits for the load's data.
        assert_eq!(
            run(&[load(4), Command::Fence]),
            (8 + lat, vec![1, 7 + lat], vec![(2, 4, 100)])
        );
    }

    #[test]
    fn a_throttled_dma_is_slower_but_correct() {
        let s = shape(8, 64, 64);
        let free = Scenario::new(4, vec![s], 5).run(true);
        let mut sc = Scenario::new(4, vec![s], 5);
        sc.throttles.push((0, 100, 10));
        let slow = sc.run(true);
        free.check("unthrottled", 5);
        slow.check("throttled", 5);
        let beats = slow.soc.tile_perf(0).unwrap().load_rows;
        println!(
            "unthrottled {} cycles, W=100 T=10: {} cycles",
            free.cycles, slow.cycles
        );
        assert!(
            slow.cycles > 3 * free.cycles,
            "{} vs {}",
            slow.cycles,
            free.cycles
        );
        // The throttle held the rate near T/W.
        let rate = beats as f64 / slow.cycles as f64;
        assert!(rate < 0.12, "rate {rate}");
        assert!(slow.soc.throttle(0).status().perf_wait > 0);
    }

    /// Tile 1's GEMM alone, with tile 0 co-running unthrottled, and with tile 0 throttled.
    pub(crate) fn moca_effect(dim: usize) -> (u64, u64, u64) {
        // Memory-heavy (a fully-connected-like layer): one block row of A, a short K, so every
        // COMPUTE needs a fresh B block and writes a C block back: ~2*DIM rows per 2*DIM+3 cycles.
        let heavy = shape(dim, 128 * dim, dim);
        // "Alone": tile 0 runs a 1x1x1 GEMM (a few beats) so the data and layout stay the same.
        let alone = Scenario::new(dim, vec![shape(1, 1, 1), heavy], 9).run(true);
        let both = Scenario::new(dim, vec![heavy, heavy], 9).run(true);
        let mut sc = Scenario::new(dim, vec![heavy, heavy], 9);
        sc.throttles.push((0, 200, 20));
        let throttled = sc.run(true);
        for (o, w) in [
            (&alone, "alone"),
            (&both, "both"),
            (&throttled, "throttled"),
        ] {
            o.check(w, 9);
        }
        (
            alone.tile_cycles(1),
            both.tile_cycles(1),
            throttled.tile_cycles(1),
        )
    }

    #[test]
    fn moca_effect_throttling_tile_0_speeds_up_tile_1() {
        for dim in [4, 16] {
            let (alone, both, throttled) = moca_effect(dim);
            println!(
                "DIM {dim}: tile 1 alone {alone} cycles, with tile 0 unthrottled {both}, \
                 with tile 0 throttled (W=200 T=20) {throttled}"
            );
            // Each tile asks for 2*DIM rows (a B block in, a C block out) per COMPUTE period
            // of 2*DIM+3 cycles; two of them ask the one-row-per-cycle port for
            // 2 * 2D / (2D + 3) rows per cycle: 1.45 at DIM 4, 1.83 at DIM 16.
            assert!(
                both as f64 > 1.4 * alone as f64,
                "contention must slow tile 1"
            );
            assert!(
                (throttled as f64) < 0.75 * both as f64,
                "throttling tile 0 must speed tile 1 up"
            );
            assert!(throttled >= alone);
        }
    }

    #[test]
    fn a_tenant_cannot_change_any_throttle_register() {
        let seed = 4242;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut p = SocParams::new(2, 4).unwrap();
        p.mem_rows = 4096;
        let mut soc = MocaSoc::new(p).unwrap();
        let cfg = ThrottleConfig::new(100, 10, None).unwrap();
        soc.configure_throttle(0, &cfg).unwrap();
        soc.run_until_idle(100).unwrap();
        let before: Vec<u32> = (0..2)
            .flat_map(|k| {
                [treg::WINDOW, treg::TARGET, treg::BURST].map(|a| soc.read_throttle(k, a).unwrap())
            })
            .collect();
        // Tenant 0 tries everything: STOREs over the whole memory (the throttle's and the
        // arbiter's register numbers, too), loads, and random words (most invalid).
        for _ in 0..400 {
            let w = match rng.gen_range(0..4) {
                0 => Command::Store {
                    acc_addr: rng.gen_range(0..60),
                    mem_addr: rng.gen_range(0..4092),
                    rows: 4,
                    shift: rng.gen_range(0..32),
                }
                .encode()
                .unwrap(),
                1 => Command::Load {
                    mem_addr: rng.gen_range(0..4090),
                    sp_addr: rng.gen_range(0..250),
                    rows: rng.gen_range(1..=6),
                }
                .encode()
                .unwrap(),
                2 => Command::Store {
                    acc_addr: 0,
                    mem_addr: u32::from(rng.gen_range(0..16u8)),
                    rows: 1,
                    shift: 0,
                }
                .encode()
                .unwrap(),
                _ => rng.r#gen(),
            };
            soc.push_word(0, w).unwrap();
        }
        let cycles = soc.run_until_idle(10_000_000).unwrap();
        let after: Vec<u32> = (0..2)
            .flat_map(|k| {
                [treg::WINDOW, treg::TARGET, treg::BURST].map(|a| soc.read_throttle(k, a).unwrap())
            })
            .collect();
        assert_eq!(
            before, after,
            "seed {seed}: a command stream changed a throttle register"
        );
        assert_eq!(before, vec![100, 10, 10, 0, 0, 0]);
        let arb = soc.arbiter().status();
        assert!(arb.policy == crate::arbiter::Policy::RoundRobin && !arb.cfg_error);
        let t = soc.throttle(0).status();
        assert!(!t.cfg_error);
        // The budget held: beats granted <= TARGET per window plus the bank and one window.
        let beats = u64::from(t.perf_beats);
        // At most TARGET per window, plus one unthrottled first window and the BURST bank.
        assert!(
            beats <= 10 * (cycles / 100 + 1) + 100 + 10,
            "seed {seed}: {beats} beats in {cycles}"
        );
        let perf = soc.tile_perf(0).unwrap();
        assert!(perf.load_rows + perf.store_rows == beats && beats > 500);
        assert!(soc.tile_status(0).unwrap().cmd_error && perf.cmd_errors > 0);
    }

    /// Golden SoC speed (run with `--release --ignored --nocapture`): simulated cycles per
    /// second of `run_until_idle` and of `step` (best of 5 runs), every tile running a
    /// memory-heavy GEMM, unthrottled and with every tile throttled to W=200, T=40.
    #[test]
    #[ignore = "benchmark"]
    fn soc_cycles_per_second() {
        let best = |sc: &Scenario, fast: bool| {
            let mut rate = 0f64;
            let mut cycles = 0;
            for _ in 0..5 {
                let (mut soc, _) = sc.build();
                let t0 = std::time::Instant::now();
                cycles = if fast {
                    soc.run_until_idle(u64::MAX).unwrap()
                } else {
                    while !soc.is_idle() {
                        soc.step();
                    }
                    soc.cycle()
                };
                rate = rate.max(cycles as f64 / t0.elapsed().as_secs_f64());
            }
            (cycles, rate / 1e6)
        };
        println!(
            "| DIM | tiles | cycles | run_until_idle | step | throttled cycles | run_until_idle |"
        );
        for dim in [4, 16] {
            for tiles in [1, 2, 4, 8] {
                let heavy = shape(2 * dim, 32 * dim, 32 * dim);
                let mut sc = Scenario::new(dim, vec![heavy; tiles], 3);
                sc.mem_rows = 1 << 20;
                let (cycles, fast) = best(&sc, true);
                let (_, step) = best(&sc, false);
                sc.throttles = (0..tiles).map(|k| (k, 200, 40)).collect();
                let (tc, tfast) = best(&sc, true);
                println!(
                    "| {dim} | {tiles} | {cycles} | {fast:.1} M | {step:.1} M | {tc} | {tfast:.1} M |"
                );
            }
        }
    }

    /// Execute commands one at a time, in order (the semantics the pipeline must preserve).
    fn sequential(p: &TileParams, cmds: &[Command], mem: &mut [i8]) -> Vec<i32> {
        let mut t = Tile::new(*p, (mem.len() / p.dim) as u32).unwrap();
        for c in cmds {
            let mut i = TileIn {
                cmd_valid: true,
                cmd_word: c.encode().unwrap(),
                dma_ready: true,
            };
            t.step(&i, mem, 1);
            i.cmd_valid = false;
            while !t.is_idle() {
                t.step(&i, mem, 1);
            }
        }
        (0..p.acc_rows)
            .flat_map(|r| t.acc_row(r).to_vec())
            .collect()
    }

    #[test]
    fn random_command_streams_equal_sequential_execution() {
        // Overlapping scratchpad and accumulator ranges on purpose, so every hazard rule is
        // exercised; LOADs read rows 0..512, STOREs write rows 512.. (memory order is the
        // program's job), random throttles and latencies.
        for seed in 0..12u64 {
            let mut rng = ChaCha8Rng::seed_from_u64(7000 + seed);
            let tiles = rng.gen_range(1..=4);
            let dim = rng.gen_range(2..=6);
            let tp = TileParams::with_rows(dim, 8 * dim as u32, 4 * dim as u32).unwrap();
            let mut p = SocParams::new(tiles, dim).unwrap();
            p.tile = tp;
            p.mem_rows = 512 + 256 * tiles as u32;
            p.latency = rng.gen_range(1..=24);
            let mut soc = MocaSoc::new(p).unwrap();
            let init = random_matrix(&mut rng, 512 * dim, 127);
            soc.mem_write(0, &init).unwrap();
            let mut streams = Vec::new();
            for k in 0..tiles {
                let out = 512 + 256 * k as u32;
                let cmds: Vec<Command> = (0..rng.gen_range(20..80))
                    .map(|_| match rng.gen_range(0..7) {
                        0..=2 => {
                            let rows = rng.gen_range(1..=2 * dim as u32);
                            Command::Load {
                                mem_addr: rng.gen_range(0..512 - rows),
                                sp_addr: rng.gen_range(0..=tp.sp_rows - rows),
                                rows,
                            }
                        }
                        3..=4 => Command::Compute {
                            a: rng.gen_range(0..=tp.sp_rows - dim as u32),
                            b: rng.gen_range(0..=tp.sp_rows - dim as u32),
                            c: rng.gen_range(0..=tp.acc_rows - dim as u32),
                            accumulate: rng.r#gen(),
                        },
                        5 => {
                            let rows = rng.gen_range(1..=dim as u32 + 2);
                            Command::Store {
                                acc_addr: rng.gen_range(0..=tp.acc_rows - rows),
                                mem_addr: out + rng.gen_range(0..256 - rows),
                                rows,
                                shift: rng.gen_range(0..12),
                            }
                        }
                        _ => Command::Fence,
                    })
                    .collect();
                soc.push_commands(k, &cmds).unwrap();
                if rng.gen_bool(0.5) {
                    let w = rng.gen_range(8..64);
                    soc.configure_throttle(
                        k,
                        &ThrottleConfig::new(w, rng.gen_range(1..w / 2), None).unwrap(),
                    )
                    .unwrap();
                }
                streams.push(cmds);
            }
            let mut slow = soc.clone();
            let cycles = soc.run_until_idle(10_000_000).unwrap();
            while !slow.is_idle() {
                slow.step();
            }
            assert_eq!(cycles, slow.cycle(), "seed {seed}: fast vs step");
            let mut want = soc.mem[..512 * dim].to_vec();
            want.resize(p.mem_rows as usize * dim, 0);
            for (k, cmds) in streams.iter().enumerate() {
                let acc = sequential(&tp, cmds, &mut want);
                let got: Vec<i32> = (0..tp.acc_rows)
                    .flat_map(|r| soc.tile(k).acc_row(r).to_vec())
                    .collect();
                assert_eq!(got, acc, "seed {seed}: tile {k} accumulator");
            }
            assert!(
                soc.mem == want,
                "seed {seed}: memory differs from sequential execution"
            );
            assert_eq!(slow.mem, soc.mem, "seed {seed}");
        }
    }

    #[test]
    fn invalid_words_are_dropped_and_flagged() {
        let mut soc = MocaSoc::new(SocParams::new(1, 4).unwrap()).unwrap();
        soc.push_word(0, 0).unwrap();
        soc.push_word(0, Command::Fence.encode().unwrap()).unwrap();
        // In range for the encoding, out of range for this tile (sp rows 256).
        soc.push_word(
            0,
            Command::Load {
                mem_addr: 0,
                sp_addr: 255,
                rows: 2,
            }
            .encode()
            .unwrap(),
        )
        .unwrap();
        soc.run_until_idle(100).unwrap();
        let perf = soc.tile_perf(0).unwrap();
        assert_eq!((perf.cmd_errors, perf.issued), (2, 1));
        assert!(soc.tile_status(0).unwrap().cmd_error);
    }

    #[test]
    fn bad_parameters_give_typed_errors_with_ranges() {
        let msg = |e: SocError| e.to_string();
        assert_eq!(
            msg(SocParams::new(0, 4).unwrap_err()),
            "tiles=0 is out of range: allowed 1..=16"
        );
        assert_eq!(
            msg(SocParams::new(17, 4).unwrap_err()),
            "tiles=17 is out of range: allowed 1..=16"
        );
        assert_eq!(
            msg(SocParams::new(2, 1).unwrap_err()),
            "dim=1 is out of range: allowed 2..=16"
        );
        assert_eq!(
            msg(SocParams::new(2, 17).unwrap_err()),
            "dim=17 is out of range: allowed 2..=16"
        );
        let mut p = SocParams::new(2, 4).unwrap();
        p.latency = 0;
        assert_eq!(
            msg(MocaSoc::new(p).unwrap_err()),
            "latency=0 is out of range: allowed 1..=1024"
        );
        p.latency = 3;
        p.mem_rows = 0;
        assert!(msg(MocaSoc::new(p).unwrap_err()).contains("allowed 1..=16777216"));
        p.mem_rows = 64;
        p.tile.acc_rows = 4;
        assert!(matches!(
            MocaSoc::new(p).unwrap_err(),
            SocError::Tile(TileError::OutOfRange {
                param: "acc_rows",
                ..
            })
        ));
        p.tile.acc_rows = 64;
        let mut soc = MocaSoc::new(p).unwrap();
        assert_eq!(
            msg(soc.mem_write(62, &[0; 12]).unwrap_err()),
            "memory rows 62..65 are out of range: allowed 0..64"
        );
        assert!(matches!(
            soc.mem_write(0, &[0; 3]),
            Err(SocError::Ragged { .. })
        ));
        assert!(soc.mem_read(64, 1).is_err());
        assert_eq!(
            msg(soc.push_command(2, &Command::Fence).unwrap_err()),
            "tile=2 is out of range: allowed 0..=1"
        );
        let e = soc
            .push_command(
                0,
                &Command::Store {
                    acc_addr: 0,
                    mem_addr: 60,
                    rows: 8,
                    shift: 0,
                },
            )
            .unwrap_err();
        assert_eq!(
            msg(e),
            "STORE: memory rows 60..68 are out of range: allowed 0..64"
        );
        assert!(soc.write_throttle(5, treg::WINDOW, 3).is_err());
        assert!(soc.read_throttle(2, treg::WINDOW).is_err());
        assert!(soc.tile_perf(9).is_err());
        let g = shape(4, 4, 4);
        assert_eq!(
            msg(place_gemms(&mut soc, &[g, g, g], 0, 127, 1).unwrap_err()),
            "GEMMs=3 is out of range: allowed 1..=2"
        );
        assert!(matches!(
            place_gemms(&mut soc, &[shape(64, 64, 64)], 0, 127, 1).unwrap_err(),
            SocError::Compile(_)
        ));
        // Nothing was queued by the failed calls.
        assert_eq!(soc.run_until_idle(10).unwrap(), 0);
        // A command stream that never finishes within the limit.
        soc.push_command(0, &Command::Fence).unwrap();
        assert_eq!(soc.run_until_idle(1).unwrap_err(), SocError::Timeout(1));
    }

    #[test]
    fn step_reports_named_ports() {
        let mut soc = MocaSoc::new(SocParams::new(2, 4).unwrap()).unwrap();
        soc.push_command(
            1,
            &Command::Load {
                mem_addr: 8,
                sp_addr: 0,
                rows: 4,
            },
        )
        .unwrap();
        soc.write_throttle(0, treg::TARGET, 5).unwrap();
        let first = soc.step().port_list();
        assert_eq!(first.len(), 2 * 19 + 9);
        let get = |v: &[Named], n: &str| v.iter().find(|p| p.0 == n).unwrap().1;
        assert_eq!(get(&first, "cmd_valid$1"), 1);
        assert_eq!(get(&first, "cmd_ready$1"), 1);
        assert_eq!(get(&first, "cfg_we$0"), 1);
        assert_eq!(get(&first, "cfg_wdata$0"), 5);
        soc.step();
        let third = soc.step().port_list();
        assert_eq!(get(&third, "dma_valid$1"), 1);
        assert_eq!(get(&third, "dma_fire$1"), 1);
        assert_eq!(get(&third, "mem_valid"), 1);
        assert_eq!(get(&third, "mem_id"), 1);
        assert_eq!(get(&third, "mem_addr"), 8);
        assert_eq!(get(&third, "mem_beats"), 4);
        assert_eq!(get(&third, "ld_count$1"), 1);
        // The allocation-free values follow the names, split by direction.
        let c = soc.step();
        let (ins, outs) = (c.port_names(Dir::In), c.port_names(Dir::Out));
        assert_eq!(ins.len(), 2 * 5 + 3);
        assert_eq!(outs.len(), 2 * 14 + 6);
        assert_eq!(ins[5], "cmd_valid$1");
        assert_eq!(outs[..2], ["cmd_ready$0", "cfg_rdata$0"]);
        let (mut iv, mut ov) = (vec![0; ins.len()], vec![0; outs.len()]);
        assert_eq!(c.write_values(&mut iv, &mut ov), (ins.len(), outs.len()));
        let list = c.port_list();
        for (n, v) in ins.iter().zip(&iv).chain(outs.iter().zip(&ov)) {
            assert_eq!(get(&list, n), *v, "{n}");
        }
        assert_eq!(soc.read_throttle(0, treg::TARGET).unwrap(), 5);
    }
}
