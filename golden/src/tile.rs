//! Golden model of one MoCA accelerator tile: a command queue, a DMA load unit, a DIM x DIM
//! int8 execute unit (output-stationary rank-1 updates) and a store unit, decoupled so that
//! loads of the next block proceed while the array computes the current one. This file is the
//! specification the RTL (`hw::tile`) is co-simulated against; [`crate::soc::MocaSoc`] wires
//! tiles to their `MemThrottle`s, the `BusArbiter` and the shared memory. `docs/TILE.md` has
//! the same content with examples.
//!
//! # Storage
//! * **Scratchpad**: `sp_rows` rows of `DIM` int8 (one row = one bus beat).
//! * **Accumulator**: `acc_rows` rows of `DIM` int32.
//!
//! # Commands (64-bit words, see [`Command::encode`])
//! | command | effect |
//! |---|---|
//! | `LOAD mem, sp, rows` | `sp[sp..sp+rows] = mem[mem..mem+rows]` (DMA read) |
//! | `COMPUTE a, b, c, acc` | `acc[c+i][j] = (acc ? acc[c+i][j] : 0) + Σₖ sp[a+k][i]·sp[b+k][j]` |
//! | `STORE acc, mem, rows, shift` | `mem[mem+r][j] = sat_i8(acc[acc+r][j] >> shift)` (DMA write) |
//! | `FENCE` | waits until every earlier command has completed |
//!
//! `COMPUTE` reads the A block *transposed*: scratchpad row `a+k` holds column `k` of A
//! (`A[i][k]` at position `i`), row `b+k` holds row `k` of B. Products are exact int8 x int8,
//! sums wrap at 32 bits. `STORE`'s shift is arithmetic (rounds toward minus infinity), then the
//! value saturates to -128..=127 — as Gemmini's `mvout` without rounding.
//!
//! # Cycle semantics (one tile, cycle `t`; every decision reads the state at the start of `t`)
//! [`Tile::step`] simulates one cycle from the tile's inputs ([`TileIn`]: the host word, the
//! DMA port's `ready`) and returns its outputs ([`TileOut`], available before the step from
//! [`Tile::outputs`]: the tile is a Moore machine); [`Tile::skip_to`] advances through a span
//! in which only counters change (the SoC's fast path).
//! 1. **Retire**: a load slot whose last beat was written at the end of cycle `t-1` or earlier,
//!    the execute unit whose last write-back was in `t-1`, the store unit whose last beat was
//!    written in `t-1` are free in `t`.
//! 2. **Issue** (at most one command per cycle, strictly in order): the queue head issues when
//!    its unit is free and no hazard with an in-flight command exists:
//!
//!    | head | issues when |
//!    |---|---|
//!    | `LOAD` | fewer than `LOAD_SLOTS` loads in flight; its sp rows overlap neither A nor B rows of the executing `COMPUTE` |
//!    | `COMPUTE` | execute unit free; no in-flight `LOAD` overlaps its A or B rows; the active `STORE`'s acc rows do not overlap its C rows |
//!    | `STORE` | store unit free; the executing `COMPUTE`'s C rows do not overlap its acc rows |
//!    | `FENCE` | no load in flight, execute and store units free (retires in its issue cycle) |
//!
//!    The command leaves the queue at the end of `t`; its unit starts in `t+1`.
//! 3. **DMA port** (one request port to the tile's `MemThrottle`): if no request is held, the
//!    store unit's next write request is chosen if it has one, else the load unit's next read
//!    request (the oldest load with rows not yet requested). A request carries
//!    `min(4, rows left)` beats at consecutive row addresses (bit 31 of the address set for a
//!    write) and is held, unchanged, until it fires (`valid && ready`).
//! 4. **Host port**: the next host word enters the queue at the end of `t` if the queue held
//!    fewer than `QUEUE_DEPTH` commands at the start of `t`; a word that does not decode or
//!    addresses rows outside the scratchpad, accumulator or memory is dropped and sets the
//!    sticky `cmd_error`.
//!
//! # Timing table (`L` = memory latency, `D` = DIM)
//! | event | cycle |
//! |---|---|
//! | command pushed (host word accepted) in `t` | may issue in `t+1` |
//! | `LOAD` issued in `t` | first read request presented in `t+1` |
//! | read request of `n` beats fires in `f` | the memory port registers it; memory reads beat `j` in `f+1+j` (port busy `f+1..f+n`, the next request may fire in `f+n`); beat `j` written to the scratchpad at the end of `f+1+j+L` |
//! | last request of a `LOAD` fires in `f` with `n` beats | load slot free (dependent `COMPUTE` may issue) in `f+n+L+1` ([`ts::load_free_at`]) |
//! | `COMPUTE` issued in `t` | rank-1 update `k` in `t+1+k` (`k < D`: scratchpad rows read, lanes registered), multiplied in `t+2+k` (products registered), its products added to the partial sums in `t+3+k`; accumulator row `i` written in `t+3+D+i`; execute unit free in `t+3+2D` (back-to-back `COMPUTE`s every `2D+3` cycles) |
//! | `STORE` issued in `t` | first write request presented in `t+1` |
//! | write request of `n` beats fires in `f` | the memory port registers it; beat `j` (acc row read, converted) writes memory in `f+1+j`; port busy `f+1..f+n` |
//! | last request of a `STORE` fires in `f` with `n` beats | store unit free in `f+n+1`, the cycle after its last beat ([`ts::store_free_at`]) |
//! | `FENCE` issued in `t` | next command may issue in `t+1` |
//!
//! # How the golden model stays fast and exact
//! The model moves data in bulk at the moment it becomes *committed*, and tracks only the cycle
//! at which each resource frees: a `COMPUTE`'s result is computed at issue, a read request's
//! rows are copied into the scratchpad when it fires, a write request's rows are converted and
//! written when it fires. This is observationally identical to the beat-by-beat RTL: the hazard
//! rules keep every row a unit reads or writes stable for as long as the RTL touches it (a
//! unit stays busy until the cycle after its last beat, [`ts::load_free_at`],
//! [`ts::store_free_at`]), and the memory port serves requests whole and in the order they
//! fire (one cycle after the fire, one beat per cycle), so no other beat reaches memory
//! between a request's fire and its beats. (Back-door reads of the scratchpad or accumulator
//! are only meaningful while the tile is idle.)

use crate::spec::tile as ts;
use std::collections::VecDeque;
use thiserror::Error;

/// A parameter, command field or address outside its allowed range.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum TileError {
    /// A parameter outside its allowed range.
    #[error("{param}={value} is out of range: allowed {allowed}")]
    OutOfRange {
        /// Parameter or field name.
        param: &'static str,
        /// The rejected value.
        value: i64,
        /// The allowed range.
        allowed: String,
    },
    /// A command word that does not decode.
    #[error("command word {word:#018x} is invalid: {reason}")]
    BadWord {
        /// The word.
        word: u64,
        /// Why it is invalid.
        reason: &'static str,
    },
    /// A command addressing rows outside a storage.
    #[error("{command}: {space} rows {start}..{end} are out of range: allowed 0..{limit}")]
    OutOfBounds {
        /// Command name.
        command: &'static str,
        /// `scratchpad`, `accumulator` or `memory`.
        space: &'static str,
        /// First row.
        start: u64,
        /// One past the last row.
        end: u64,
        /// Size of the storage in rows.
        limit: u64,
    },
}

fn range_err(param: &'static str, value: i64, lo: i64, hi: i64) -> TileError {
    TileError::OutOfRange {
        param,
        value,
        allowed: format!("{lo}..={hi}"),
    }
}

/// Check `value` against `lo..=hi`.
pub(crate) fn check_range(
    param: &'static str,
    value: i64,
    lo: i64,
    hi: i64,
) -> Result<(), TileError> {
    if (lo..=hi).contains(&value) {
        Ok(())
    } else {
        Err(range_err(param, value, lo, hi))
    }
}

/// Tile parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TileParams {
    /// Array dimension `DIM` (2..=16): a row holds `DIM` values, a block is `DIM` rows.
    pub dim: usize,
    /// Scratchpad rows (`4*DIM..=16384`).
    pub sp_rows: u32,
    /// Accumulator rows (`2*DIM..=16384`).
    pub acc_rows: u32,
}

impl TileParams {
    /// A tile of dimension `dim` with the default scratchpad and accumulator sizes.
    pub fn new(dim: usize) -> Result<Self, TileError> {
        check_range("dim", dim as i64, ts::MIN_DIM as i64, ts::MAX_DIM as i64)?;
        Self::with_rows(
            dim,
            ts::DEFAULT_SP_BLOCKS * dim as u32,
            ts::DEFAULT_ACC_BLOCKS * dim as u32,
        )
    }

    /// A tile with explicit sizes (validated).
    pub fn with_rows(dim: usize, sp_rows: u32, acc_rows: u32) -> Result<Self, TileError> {
        let p = TileParams {
            dim,
            sp_rows,
            acc_rows,
        };
        p.validate()?;
        Ok(p)
    }

    /// Check every field against its range (in `crate::spec::tile`).
    pub fn validate(&self) -> Result<(), TileError> {
        check_range(
            "dim",
            self.dim as i64,
            ts::MIN_DIM as i64,
            ts::MAX_DIM as i64,
        )?;
        let d = self.dim as i64;
        check_range(
            "sp_rows",
            i64::from(self.sp_rows),
            i64::from(ts::MIN_SP_BLOCKS) * d,
            i64::from(ts::MAX_SP_ROWS),
        )?;
        check_range(
            "acc_rows",
            i64::from(self.acc_rows),
            i64::from(ts::MIN_ACC_BLOCKS) * d,
            i64::from(ts::MAX_ACC_ROWS),
        )
    }

    /// Cycles a `COMPUTE` occupies the execute unit after its issue cycle (`2*DIM + 2`).
    pub fn compute_cycles(&self) -> u64 {
        ts::compute_cycles(self.dim)
    }
}

/// One tile command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    /// DMA read: `sp[sp_addr..sp_addr+rows] = mem[mem_addr..mem_addr+rows]`.
    Load {
        /// First shared-memory row.
        mem_addr: u32,
        /// First scratchpad row.
        sp_addr: u32,
        /// Rows (1..=4095).
        rows: u32,
    },
    /// `acc[c..c+DIM] (+)= Aᵀ-block at sp[a..a+DIM] times B-block at sp[b..b+DIM]`.
    Compute {
        /// First scratchpad row of the transposed A block.
        a: u32,
        /// First scratchpad row of the B block.
        b: u32,
        /// First accumulator row of the C block.
        c: u32,
        /// Add to the accumulator (true) or overwrite it (false).
        accumulate: bool,
    },
    /// DMA write: `mem[mem_addr+r] = sat_i8(acc[acc_addr+r] >> shift)`.
    Store {
        /// First accumulator row.
        acc_addr: u32,
        /// First shared-memory row.
        mem_addr: u32,
        /// Rows (1..=4095).
        rows: u32,
        /// Arithmetic right shift before saturation (0..=31).
        shift: u8,
    },
    /// Wait until every earlier command has completed.
    Fence,
}

use ts::{CmdField, cmd as f};

fn field(word: u64, f: CmdField) -> u32 {
    f.get(word) as u32
}

fn put(f: CmdField, v: impl Into<u64>) -> u64 {
    f.put(v.into())
}

impl Command {
    /// Short name (`LOAD`, `COMPUTE`, `STORE`, `FENCE`).
    pub fn name(&self) -> &'static str {
        match self {
            Command::Load { .. } => "LOAD",
            Command::Compute { .. } => "COMPUTE",
            Command::Store { .. } => "STORE",
            Command::Fence => "FENCE",
        }
    }

    /// Encode into a 64-bit word with the layout of [`crate::spec::tile::cmd`] (unused bits
    /// are 0). Fails when a field does not fit its width (rows must also be >= 1).
    pub fn encode(&self) -> Result<u64, TileError> {
        let fits = |param, v: u32, f: CmdField, lo: i64| {
            check_range(param, i64::from(v), lo, f.max() as i64)
        };
        Ok(match *self {
            Command::Load {
                mem_addr,
                sp_addr,
                rows,
            } => {
                fits("rows", rows, f::ROWS, 1)?;
                fits("sp_addr", sp_addr, f::LOCAL, 0)?;
                fits("mem_addr", mem_addr, f::MEM, 0)?;
                put(f::OP, ts::OP_LOAD)
                    | put(f::ROWS, rows)
                    | put(f::LOCAL, sp_addr)
                    | put(f::MEM, mem_addr)
            }
            Command::Compute {
                a,
                b,
                c,
                accumulate,
            } => {
                fits("a", a, f::LOCAL, 0)?;
                fits("b", b, f::B, 0)?;
                fits("c", c, f::C, 0)?;
                put(f::OP, ts::OP_COMPUTE)
                    | put(f::ACC, accumulate)
                    | put(f::LOCAL, a)
                    | put(f::B, b)
                    | put(f::C, c)
            }
            Command::Store {
                acc_addr,
                mem_addr,
                rows,
                shift,
            } => {
                fits("rows", rows, f::ROWS, 1)?;
                fits("acc_addr", acc_addr, f::LOCAL, 0)?;
                fits("mem_addr", mem_addr, f::MEM, 0)?;
                fits("shift", u32::from(shift), f::SHIFT, 0)?;
                put(f::OP, ts::OP_STORE)
                    | put(f::SHIFT, shift)
                    | put(f::ROWS, rows)
                    | put(f::LOCAL, acc_addr)
                    | put(f::MEM, mem_addr)
            }
            Command::Fence => put(f::OP, ts::OP_FENCE),
        })
    }

    /// Decode a 64-bit word (the inverse of [`Command::encode`]). Unknown opcodes, `rows = 0`
    /// and non-zero unused bits are refused.
    pub fn decode(word: u64) -> Result<Command, TileError> {
        let bad = |reason| TileError::BadWord { word, reason };
        let op = field(word, f::OP) as u8;
        let reserved = match op {
            ts::OP_LOAD => f::LOAD_RESERVED,
            ts::OP_COMPUTE => f::COMPUTE_RESERVED,
            ts::OP_STORE => f::STORE_RESERVED,
            ts::OP_FENCE => f::FENCE_RESERVED,
            _ => return Err(bad("unknown opcode (allowed 1..=4)")),
        };
        if word & reserved != 0 {
            return Err(bad("reserved bits are not zero"));
        }
        let rows = field(word, f::ROWS);
        let local = field(word, f::LOCAL);
        let mem_addr = field(word, f::MEM);
        match op {
            ts::OP_LOAD | ts::OP_STORE if rows == 0 => Err(bad("rows is 0")),
            ts::OP_LOAD => Ok(Command::Load {
                mem_addr,
                sp_addr: local,
                rows,
            }),
            ts::OP_STORE => Ok(Command::Store {
                acc_addr: local,
                mem_addr,
                rows,
                shift: field(word, f::SHIFT) as u8,
            }),
            ts::OP_COMPUTE => Ok(Command::Compute {
                a: local,
                b: field(word, f::B),
                c: field(word, f::C),
                accumulate: field(word, f::ACC) == 1,
            }),
            _ => Ok(Command::Fence),
        }
    }

    /// Check that every row the command touches lies inside the tile's storage and a memory
    /// of `mem_rows` rows.
    pub fn check_bounds(&self, p: &TileParams, mem_rows: u32) -> Result<(), TileError> {
        let name = self.name();
        let within = |space, start: u32, len: u64, limit: u32| {
            let end = u64::from(start) + len;
            if end <= u64::from(limit) {
                Ok(())
            } else {
                Err(TileError::OutOfBounds {
                    command: name,
                    space,
                    start: u64::from(start),
                    end,
                    limit: u64::from(limit),
                })
            }
        };
        let d = p.dim as u64;
        match *self {
            Command::Load {
                mem_addr,
                sp_addr,
                rows,
            } => {
                check_range("rows", i64::from(rows), 1, i64::from(ts::MAX_CMD_ROWS))?;
                within("scratchpad", sp_addr, u64::from(rows), p.sp_rows)?;
                within("memory", mem_addr, u64::from(rows), mem_rows)
            }
            Command::Compute { a, b, c, .. } => {
                within("scratchpad", a, d, p.sp_rows)?;
                within("scratchpad", b, d, p.sp_rows)?;
                within("accumulator", c, d, p.acc_rows)
            }
            Command::Store {
                acc_addr,
                mem_addr,
                rows,
                shift,
            } => {
                check_range("rows", i64::from(rows), 1, i64::from(ts::MAX_CMD_ROWS))?;
                check_range("shift", i64::from(shift), 0, i64::from(ts::MAX_SHIFT))?;
                within("accumulator", acc_addr, u64::from(rows), p.acc_rows)?;
                within("memory", mem_addr, u64::from(rows), mem_rows)
            }
            Command::Fence => Ok(()),
        }
    }
}

/// `sat_i8(x >> shift)`: the `STORE` conversion (arithmetic shift, then saturation).
pub fn requantize(x: i32, shift: u8) -> i8 {
    (x >> shift.min(31)).clamp(i32::from(i8::MIN), i32::from(i8::MAX)) as i8
}

/// Whether `[a, a+an)` and `[b, b+bn)` overlap.
fn overlap(a: u32, an: u32, b: u32, bn: u32) -> bool {
    a < b + bn && b < a + an
}

/// A load in flight (a load slot).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct LoadSlot {
    mem_addr: u32,
    sp_addr: u32,
    rows: u32,
    /// Rows already requested (fired).
    sent: u32,
    /// First cycle the slot is free (set when the last request fires).
    ready_at: Option<u64>,
}

/// The command in the execute unit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct ExecSlot {
    a: u32,
    b: u32,
    c: u32,
    free_at: u64,
}

/// The command in the store unit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct StoreSlot {
    acc_addr: u32,
    mem_addr: u32,
    rows: u32,
    shift: u8,
    sent: u32,
    ready_at: Option<u64>,
}

/// Which unit owns the request held on the DMA port.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DmaOwner {
    /// No request held.
    #[default]
    None,
    /// The load unit's read request.
    Load,
    /// The store unit's write request.
    Store,
}

/// A request on the tile's DMA port (towards its `MemThrottle`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DmaRequest {
    /// Beats (rows), 1..=4.
    pub beats: u8,
    /// Bus address: the memory row, with [`ts::WRITE_FLAG`] set for a write.
    pub addr: u32,
    /// Which unit the request belongs to.
    pub owner: DmaOwner,
}

/// Performance counters of a tile, kept by the golden model for the host and the experiments
/// (64-bit; they are not RTL ports, see `docs/TILE.md` for the compared ports).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TilePerf {
    /// Cycles the tile was not idle (work queued, pending on the host port, or in flight).
    pub busy_cycles: u64,
    /// One past the last cycle in which the tile was busy (its completion time).
    pub finish_cycle: u64,
    /// Commands issued.
    pub issued: u64,
    /// `COMPUTE`s issued.
    pub computes: u64,
    /// Rows read by the DMA (granted read beats).
    pub load_rows: u64,
    /// Rows written by the DMA (granted write beats).
    pub store_rows: u64,
    /// Cycles a DMA request was presented but did not fire (throttle bubble or bus busy).
    pub dma_wait: u64,
    /// Host words dropped because they did not decode or were out of bounds.
    pub cmd_errors: u64,
}

/// A tile's observable status (the RTL's status ports).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TileStatus {
    /// Commands in the queue.
    pub queue: usize,
    /// Host words waiting to enter the queue (host side, not a hardware port: filled in by
    /// the SoC's host, 0 for a tile alone).
    pub inbox: usize,
    /// Load slots in use.
    pub loads: usize,
    /// Execute unit busy.
    pub exec_busy: bool,
    /// Store unit busy.
    pub store_busy: bool,
    /// No command queued or in flight (the hardware's `idle`; host words not yet pushed do
    /// not count, see `inbox`).
    pub idle: bool,
    /// Sticky: a host word was dropped.
    pub cmd_error: bool,
}

impl TileStatus {
    /// Walk the tile's status outputs, named and ordered as the RTL's: `issue` (the queue
    /// head issues this cycle, given), `q_count`, `ld_count`, `ex_busy`, `st_busy`, `idle`,
    /// `cmd_error`, as `out(name, width, value)`. Declared once for the SoC's walk
    /// (`crate::soc::SocCycle`, per tile) and the tile bench's (`crate::tile_bench`).
    #[inline(always)]
    pub(crate) fn visit_ports(&self, issue: bool, out: &mut impl FnMut(&'static str, usize, u64)) {
        out("issue", 1, u64::from(issue));
        out("q_count", ts::QUEUE_COUNT_BITS, self.queue as u64);
        out("ld_count", ts::LOAD_COUNT_BITS, self.loads as u64);
        out("ex_busy", 1, u64::from(self.exec_busy));
        out("st_busy", 1, u64::from(self.store_busy));
        out("idle", 1, u64::from(self.idle));
        out("cmd_error", 1, u64::from(self.cmd_error));
    }
}

/// The inputs of one tile cycle (the RTL tile's input ports; the read data path is inside the
/// golden model, see "fast and exact").
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TileIn {
    /// `cmd_valid`: the host presents a word.
    pub cmd_valid: bool,
    /// `cmd_word`.
    pub cmd_word: u64,
    /// `dma_ready`: the request on the DMA port fires (if there is one).
    pub dma_ready: bool,
}

/// The outputs of one tile cycle (the RTL tile's output ports but the data rows).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TileOut {
    /// `cmd_ready`: the queue has room.
    pub cmd_ready: bool,
    /// The request on the DMA port (`dma_valid`, `dma_beats`, `dma_addr`).
    pub dma: Option<DmaRequest>,
    /// `issue`: the queue head issues.
    pub issue: bool,
    /// The status ports (`q_count`, `ld_count`, `ex_busy`, `st_busy`, `idle`, `cmd_error`).
    pub status: TileStatus,
}

/// One tile: queue, load/execute/store units, scratchpad, accumulator and counters.
#[derive(Clone, Debug)]
pub struct Tile {
    p: TileParams,
    mem_rows: u32,
    /// The current cycle (the next [`Tile::step`] simulates it).
    cycle: u64,
    queue: VecDeque<Command>,
    loads: VecDeque<LoadSlot>,
    exec: Option<ExecSlot>,
    store: Option<StoreSlot>,
    dma: DmaOwner,
    sp: Vec<i8>,
    acc: Vec<i32>,
    cmd_error: bool,
    perf: TilePerf,
}

impl Tile {
    /// A tile after reset, attached to a memory of `mem_rows` rows.
    pub fn new(p: TileParams, mem_rows: u32) -> Result<Self, TileError> {
        p.validate()?;
        Ok(Tile {
            p,
            mem_rows,
            cycle: 0,
            queue: VecDeque::with_capacity(ts::QUEUE_DEPTH),
            loads: VecDeque::with_capacity(ts::LOAD_SLOTS),
            exec: None,
            store: None,
            dma: DmaOwner::None,
            sp: vec![0; p.sp_rows as usize * p.dim],
            acc: vec![0; p.acc_rows as usize * p.dim],
            cmd_error: false,
            perf: TilePerf::default(),
        })
    }

    /// The tile's parameters.
    pub fn params(&self) -> &TileParams {
        &self.p
    }

    /// Performance counters.
    pub fn perf(&self) -> &TilePerf {
        &self.perf
    }

    /// Current status.
    pub fn status(&self) -> TileStatus {
        TileStatus {
            queue: self.queue.len(),
            inbox: 0,
            loads: self.loads.len(),
            exec_busy: self.exec.is_some(),
            store_busy: self.store.is_some(),
            idle: self.queue.is_empty()
                && self.loads.is_empty()
                && self.exec.is_none()
                && self.store.is_none(),
            cmd_error: self.cmd_error,
        }
    }

    /// The current cycle: the next [`Tile::step`] simulates it.
    pub fn cycle(&self) -> u64 {
        self.cycle
    }

    /// `cmd_ready`: the queue has room.
    pub fn cmd_ready(&self) -> bool {
        self.queue.len() < ts::QUEUE_DEPTH
    }

    /// Host back-door: a scratchpad row (meaningful while idle).
    pub fn sp_row(&self, row: u32) -> &[i8] {
        let d = self.p.dim;
        &self.sp[row as usize * d..(row as usize + 1) * d]
    }

    /// Host back-door: an accumulator row (meaningful while idle).
    pub fn acc_row(&self, row: u32) -> &[i32] {
        let d = self.p.dim;
        &self.acc[row as usize * d..(row as usize + 1) * d]
    }

    /// No command queued or in flight (the hardware's `idle`; a word the host presents on
    /// the command port is not counted).
    pub fn is_idle(&self) -> bool {
        self.queue.is_empty()
            && self.loads.is_empty()
            && self.exec.is_none()
            && self.store.is_none()
    }

    /// The outputs of the current cycle, a function of the state at its start (the tile is a
    /// Moore machine: no output depends on this cycle's inputs).
    pub fn outputs(&self) -> TileOut {
        TileOut {
            cmd_ready: self.cmd_ready(),
            dma: self.dma_request(),
            issue: self.can_issue(),
            status: self.status(),
        }
    }

    /// One cycle (see "Cycle semantics" in the module docs): the request on the DMA port
    /// fires if `i.dma_ready` (its rows move between `mem`, `DIM` values per row, and the
    /// scratchpad or accumulator; a read's last beat reaches the scratchpad `latency` cycles
    /// after it is read), the queue head issues if it may, the host word enters the queue if
    /// there is room; then the resources whose work completed free for the next cycle. Returns
    /// the cycle's outputs (those of [`Tile::outputs`] before the step).
    pub fn step(&mut self, i: &TileIn, mem: &mut [i8], latency: u32) -> TileOut {
        let t = self.cycle;
        let o = self.outputs();
        let busy = i.cmd_valid || !o.status.idle;
        let mut waiting = false;
        if let Some(r) = &o.dma {
            if i.dma_ready {
                self.dma_fired(t, r, mem, latency);
            } else {
                self.dma = r.owner;
                waiting = true;
            }
        }
        if o.issue {
            self.issue(t);
        }
        if i.cmd_valid && o.cmd_ready {
            self.accept(i.cmd_word);
        }
        self.account(t, 1, busy, waiting);
        self.cycle = t + 1;
        self.retire(t + 1);
        o
    }

    /// Advance through a quiet span up to (not including) cycle `end`: cycles in which, as the
    /// caller checked, no command can issue or enter the queue and the DMA request (if any)
    /// does not fire, so that only the counters change. `cmd_valid`: the host presents a word
    /// during the span (it cannot enter: the queue is full).
    pub fn skip_to(&mut self, end: u64, cmd_valid: bool) {
        let start = self.cycle;
        debug_assert!(end >= start && end <= self.next_event().unwrap_or(u64::MAX));
        let busy = cmd_valid || !self.is_idle();
        let req = self.dma_request();
        if let Some(r) = &req {
            self.dma = r.owner;
        }
        self.account(start, end - start, busy, req.is_some());
        self.cycle = end;
        self.retire(end);
    }

    /// Free the resources whose work completed before cycle `t`.
    fn retire(&mut self, t: u64) {
        while self
            .loads
            .front()
            .is_some_and(|l| l.ready_at.is_some_and(|r| r <= t))
        {
            self.loads.pop_front();
        }
        if self.exec.is_some_and(|e| e.free_at <= t) {
            self.exec = None;
        }
        if self
            .store
            .is_some_and(|s| s.ready_at.is_some_and(|r| r <= t))
        {
            self.store = None;
        }
    }

    /// The earliest future cycle at which a resource frees (None: nothing is timed).
    pub fn next_event(&self) -> Option<u64> {
        let l = self.loads.front().and_then(|l| l.ready_at);
        let e = self.exec.map(|e| e.free_at);
        let s = self.store.and_then(|s| s.ready_at);
        [l, e, s].into_iter().flatten().min()
    }

    /// Whether the queue head may issue this cycle (see the issue table in the module docs).
    pub fn can_issue(&self) -> bool {
        let d = self.p.dim as u32;
        let Some(head) = self.queue.front() else {
            return false;
        };
        match *head {
            Command::Load { sp_addr, rows, .. } => {
                self.loads.len() < ts::LOAD_SLOTS
                    && self.exec.is_none_or(|e| {
                        !overlap(sp_addr, rows, e.a, d) && !overlap(sp_addr, rows, e.b, d)
                    })
            }
            Command::Compute { a, b, c, .. } => {
                self.exec.is_none()
                    && self.loads.iter().all(|l| {
                        !overlap(a, d, l.sp_addr, l.rows) && !overlap(b, d, l.sp_addr, l.rows)
                    })
                    && self
                        .store
                        .is_none_or(|s| !overlap(c, d, s.acc_addr, s.rows))
            }
            Command::Store { acc_addr, rows, .. } => {
                self.store.is_none() && self.exec.is_none_or(|e| !overlap(acc_addr, rows, e.c, d))
            }
            Command::Fence => self.loads.is_empty() && self.exec.is_none() && self.store.is_none(),
        }
    }

    /// Issue the queue head in cycle `t` ([`Tile::can_issue`] held at the start of the
    /// cycle). A `COMPUTE`'s result is computed here (see "fast and exact").
    fn issue(&mut self, t: u64) {
        let cmd = self.queue.pop_front().expect("issue with an empty queue");
        self.perf.issued += 1;
        match cmd {
            Command::Load {
                mem_addr,
                sp_addr,
                rows,
            } => self.loads.push_back(LoadSlot {
                mem_addr,
                sp_addr,
                rows,
                sent: 0,
                ready_at: None,
            }),
            Command::Compute {
                a,
                b,
                c,
                accumulate,
            } => {
                self.matmul_block(a, b, c, accumulate);
                self.perf.computes += 1;
                self.exec = Some(ExecSlot {
                    a,
                    b,
                    c,
                    free_at: t + 1 + self.p.compute_cycles(),
                });
            }
            Command::Store {
                acc_addr,
                mem_addr,
                rows,
                shift,
            } => {
                self.store = Some(StoreSlot {
                    acc_addr,
                    mem_addr,
                    rows,
                    shift,
                    sent: 0,
                    ready_at: None,
                })
            }
            Command::Fence => {}
        }
    }

    /// The DIM x DIM x DIM block product of a `COMPUTE` (exact int8 products, wrapping sums).
    fn matmul_block(&mut self, a: u32, b: u32, c: u32, accumulate: bool) {
        let d = self.p.dim;
        let (a, b, c) = (a as usize * d, b as usize * d, c as usize * d);
        for i in 0..d {
            let mut row = [0i32; ts::MAX_DIM];
            for k in 0..d {
                let aik = i32::from(self.sp[a + k * d + i]);
                let brow = &self.sp[b + k * d..b + (k + 1) * d];
                for (r, &bkj) in row.iter_mut().zip(brow) {
                    *r = r.wrapping_add(aik * i32::from(bkj));
                }
            }
            let out = &mut self.acc[c + i * d..c + (i + 1) * d];
            for (o, r) in out.iter_mut().zip(row) {
                *o = if accumulate { o.wrapping_add(r) } else { r };
            }
        }
    }

    /// The host word enters the queue ([`Tile::cmd_ready`] held at the start of the cycle);
    /// a word that does not decode or is out of bounds is dropped and sets `cmd_error`.
    fn accept(&mut self, word: u64) {
        match Command::decode(word).and_then(|c| c.check_bounds(&self.p, self.mem_rows).map(|_| c))
        {
            Ok(c) => self.queue.push_back(c),
            Err(_) => {
                self.cmd_error = true;
                self.perf.cmd_errors += 1;
            }
        }
    }

    /// The request on the DMA port this cycle (the held one, or a newly chosen one).
    pub fn dma_request(&self) -> Option<DmaRequest> {
        let store_req = || {
            self.store.filter(|s| s.sent < s.rows).map(|s| DmaRequest {
                beats: (s.rows - s.sent).min(ts::MAX_REQ_ROWS) as u8,
                addr: (s.mem_addr + s.sent) | ts::WRITE_FLAG,
                owner: DmaOwner::Store,
            })
        };
        let load_req = || {
            self.loads
                .iter()
                .find(|l| l.sent < l.rows)
                .map(|l| DmaRequest {
                    beats: (l.rows - l.sent).min(ts::MAX_REQ_ROWS) as u8,
                    addr: l.mem_addr + l.sent,
                    owner: DmaOwner::Load,
                })
        };
        match self.dma {
            DmaOwner::Store => store_req(),
            DmaOwner::Load => load_req(),
            DmaOwner::None => store_req().or_else(load_req),
        }
    }

    /// The request fired in cycle `t`: move its rows (memory `mem`, `DIM` values per row) and
    /// time the owning unit's completion (`latency` = memory read latency).
    fn dma_fired(&mut self, t: u64, r: &DmaRequest, mem: &mut [i8], latency: u32) {
        let d = self.p.dim;
        let n = u32::from(r.beats);
        self.dma = DmaOwner::None;
        match r.owner {
            DmaOwner::Load => {
                let l = self
                    .loads
                    .iter_mut()
                    .find(|l| l.sent < l.rows)
                    .expect("load request without a load");
                let src = (l.mem_addr + l.sent) as usize * d;
                let dst = (l.sp_addr + l.sent) as usize * d;
                let len = n as usize * d;
                self.sp[dst..dst + len].copy_from_slice(&mem[src..src + len]);
                l.sent += n;
                if l.sent == l.rows {
                    l.ready_at = Some(ts::load_free_at(t, u64::from(n), u64::from(latency)));
                }
                self.perf.load_rows += u64::from(n);
            }
            DmaOwner::Store => {
                let s = self.store.as_mut().expect("store request without a store");
                let src = (s.acc_addr + s.sent) as usize * d;
                let dst = (s.mem_addr + s.sent) as usize * d;
                let len = n as usize * d;
                for (m, &a) in mem[dst..dst + len]
                    .iter_mut()
                    .zip(&self.acc[src..src + len])
                {
                    *m = requantize(a, s.shift);
                }
                s.sent += n;
                if s.sent == s.rows {
                    s.ready_at = Some(ts::store_free_at(t, u64::from(n)));
                }
                self.perf.store_rows += u64::from(n);
            }
            DmaOwner::None => unreachable!("a request always has an owner"),
        }
    }

    /// Account `n` cycles of the tile's counters starting at cycle `t` (busy, completion and,
    /// when `waiting`, DMA wait): one cycle, or a whole quiet span.
    fn account(&mut self, t: u64, n: u64, busy: bool, waiting: bool) {
        if busy {
            self.perf.busy_cycles += n;
            self.perf.finish_cycle = t + n;
        }
        if waiting {
            self.perf.dma_wait += n;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn encode_decode_round_trip() {
        let seed = 11;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        for _ in 0..10_000 {
            let c = match rng.gen_range(0..4) {
                0 => Command::Load {
                    mem_addr: rng.gen_range(0..ts::MAX_MEM_ROWS),
                    sp_addr: rng.gen_range(0..ts::MAX_SP_ROWS),
                    rows: rng.gen_range(1..=ts::MAX_CMD_ROWS),
                },
                1 => Command::Compute {
                    a: rng.gen_range(0..ts::MAX_SP_ROWS),
                    b: rng.gen_range(0..ts::MAX_SP_ROWS),
                    c: rng.gen_range(0..ts::MAX_ACC_ROWS),
                    accumulate: rng.r#gen(),
                },
                2 => Command::Store {
                    acc_addr: rng.gen_range(0..ts::MAX_ACC_ROWS),
                    mem_addr: rng.gen_range(0..ts::MAX_MEM_ROWS),
                    rows: rng.gen_range(1..=ts::MAX_CMD_ROWS),
                    shift: rng.gen_range(0..=ts::MAX_SHIFT),
                },
                _ => Command::Fence,
            };
            let w = c.encode().unwrap();
            assert_eq!(Command::decode(w).unwrap(), c, "seed {seed} word {w:#x}");
        }
    }

    #[test]
    fn encoding_layout_is_fixed() {
        let w = Command::Load {
            mem_addr: 0x12_3456,
            sp_addr: 0x2AB,
            rows: 5,
        }
        .encode()
        .unwrap();
        assert_eq!(w, (1 << 60) | (5 << 42) | (0x2AB << 28) | 0x12_3456);
        assert_eq!(w >> 60, 1);
        assert_eq!(w >> 42 & 0xFFF, 5);
        assert_eq!(w >> 28 & 0x3FFF, 0x2AB);
        assert_eq!(w & 0xFF_FFFF, 0x12_3456);
        let w = Command::Compute {
            a: 1,
            b: 2,
            c: 3,
            accumulate: true,
        }
        .encode()
        .unwrap();
        assert_eq!(w, (2 << 60) | (1 << 59) | (1 << 28) | (2 << 14) | 3);
        let w = Command::Store {
            acc_addr: 7,
            mem_addr: 9,
            rows: 4,
            shift: 31,
        }
        .encode()
        .unwrap();
        assert_eq!(w, (3 << 60) | (31 << 54) | (4 << 42) | (7 << 28) | 9);
        assert_eq!(Command::Fence.encode().unwrap(), 4 << 60);
    }

    #[test]
    fn bad_words_and_fields_are_refused_with_ranges() {
        for w in [
            0u64,
            5 << 60,
            0xF << 60,
            (4 << 60) | 1,
            1 << 60,
            (1 << 60) | (1 << 42) | (1 << 24),
        ] {
            assert!(
                matches!(Command::decode(w), Err(TileError::BadWord { .. })),
                "{w:#x}"
            );
        }
        // LOAD with shift bits set, COMPUTE with rows bits set.
        assert!(Command::decode((1 << 60) | (1 << 42) | (1 << 54)).is_err());
        assert!(Command::decode((2 << 60) | (1 << 42)).is_err());
        let e = Command::Load {
            mem_addr: 0,
            sp_addr: 0,
            rows: 4096,
        }
        .encode()
        .unwrap_err();
        assert_eq!(e.to_string(), "rows=4096 is out of range: allowed 1..=4095");
        let e = Command::Store {
            acc_addr: 0,
            mem_addr: 1 << 24,
            rows: 1,
            shift: 0,
        }
        .encode()
        .unwrap_err();
        assert!(e.to_string().contains("allowed 0..=16777215"), "{e}");
        let p = TileParams::new(4).unwrap();
        let e = Command::Compute {
            a: 254,
            b: 0,
            c: 0,
            accumulate: false,
        }
        .check_bounds(&p, 100)
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "COMPUTE: scratchpad rows 254..258 are out of range: allowed 0..256"
        );
        let e = Command::Load {
            mem_addr: 98,
            sp_addr: 0,
            rows: 3,
        }
        .check_bounds(&p, 100)
        .unwrap_err();
        assert!(e.to_string().contains("memory rows 98..101"), "{e}");
    }

    #[test]
    fn params_are_validated() {
        assert_eq!(
            TileParams::new(1).unwrap_err().to_string(),
            "dim=1 is out of range: allowed 2..=16"
        );
        assert_eq!(
            TileParams::new(17).unwrap_err().to_string(),
            "dim=17 is out of range: allowed 2..=16"
        );
        assert_eq!(
            TileParams::with_rows(4, 15, 8).unwrap_err().to_string(),
            "sp_rows=15 is out of range: allowed 16..=16384"
        );
        assert_eq!(
            TileParams::with_rows(4, 16, 7).unwrap_err().to_string(),
            "acc_rows=7 is out of range: allowed 8..=16384"
        );
        assert!(TileParams::with_rows(4, 16385, 8).is_err());
        let p = TileParams::new(16).unwrap();
        assert_eq!((p.sp_rows, p.acc_rows, p.compute_cycles()), (1024, 256, 34));
    }

    #[test]
    fn requantize_shifts_and_saturates() {
        assert_eq!(requantize(1000, 3), 125);
        assert_eq!(requantize(1000, 2), 127);
        assert_eq!(requantize(-1000, 2), -128);
        assert_eq!(requantize(-1, 4), -1, "arithmetic shift rounds toward -inf");
        assert_eq!(requantize(i32::MIN, 31), -1);
    }

    #[test]
    fn block_product_is_a_transposed_times_b() {
        let p = TileParams::new(3).unwrap();
        let mut t = Tile::new(p, 16).unwrap();
        // A = [[1,2,3],[4,5,6],[7,8,9]] stored transposed at rows 0..3; B = 3I - 1 (all ones).
        let a = [[1i8, 2, 3], [4, 5, 6], [7, 8, 9]];
        for (k, col) in (0..3).map(|k| a.map(|r| r[k])).enumerate() {
            t.sp[k * 3..k * 3 + 3].copy_from_slice(&col);
            let brow: Vec<i8> = (0..3).map(|j| if j == k { 2 } else { -1 }).collect();
            t.sp[(3 + k) * 3..(4 + k) * 3].copy_from_slice(&brow);
        }
        t.matmul_block(0, 3, 0, false);
        assert_eq!(t.acc_row(0), &[2 - 2 - 3, -1 + 4 - 3, -1 - 2 + 6]);
        t.matmul_block(0, 3, 0, true);
        assert_eq!(t.acc_row(2), &[-6, 0, 6]);
        // Extreme int8 values: exact products.
        t.sp.iter_mut().for_each(|v| *v = -128);
        t.matmul_block(0, 3, 3, false);
        assert_eq!(t.acc_row(3), &[3 * 16384; 3]);
    }
}
