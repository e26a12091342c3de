//! One tile alone on a memory, `moca_tile_bench_d<DIM>`: the top in which the tile is
//! co-simulated by itself against `golden::tile_bench::TileBench` (the module docs there give
//! the cycle). The tile ([`crate::tile::Tile`], unchanged) gets the SoC's memory port: a
//! request of `n` beats fired in `f` occupies the port in `f..f+n-1`; a read beat's row is read
//! synchronously and reaches the tile `L` cycles after its cycle through the same delay lines as
//! in the SoC; a write beat writes the tile's `st_wdata`. No throttle and no arbiter: the
//! `dma_grant` input plays them (the tile's `dma_ready` is `dma_grant && mem_ready`).
//!
//! The back door (`bd_*`) is the SoC's (`golden::soc::BACKDOOR_PORTS`).

use crate::tile::{DelayLine, MemAddr, RowMem, Tile};
use golden::spec::{self, tile as ts};
use golden::tile::TileParams;
use rust_hdl::prelude::*;

/// The bench. Ports first.
#[derive(LogicBlock)]
pub struct TileBench {
    /// Clock.
    pub clock: Signal<In, Clock>,
    /// Host: a command word is presented.
    pub cmd_valid: Signal<In, Bit>,
    /// Host: the command word.
    pub cmd_word: Signal<In, Bits<{ ts::CMD_BITS }>>,
    /// The environment would accept a DMA request this cycle.
    pub dma_grant: Signal<In, Bit>,
    /// The tile's queue has room.
    pub cmd_ready: Signal<Out, Bit>,
    /// DMA request valid.
    pub dma_valid: Signal<Out, Bit>,
    /// DMA request beats.
    pub dma_beats: Signal<Out, Bits<{ spec::BEATS_BITS }>>,
    /// DMA request address.
    pub dma_addr: Signal<Out, Bits<{ spec::ADDR_BITS }>>,
    /// The DMA request fired.
    pub dma_fire: Signal<Out, Bit>,
    /// The memory port is free.
    pub mem_ready: Signal<Out, Bit>,
    /// The queue head issues.
    pub issue: Signal<Out, Bit>,
    /// Commands queued.
    pub q_count: Signal<Out, Bits<{ ts::QUEUE_COUNT_BITS }>>,
    /// Load slots in use.
    pub ld_count: Signal<Out, Bits<{ ts::LOAD_COUNT_BITS }>>,
    /// Execute unit busy.
    pub ex_busy: Signal<Out, Bit>,
    /// Store unit busy.
    pub st_busy: Signal<Out, Bit>,
    /// Nothing queued or in flight.
    pub idle: Signal<Out, Bit>,
    /// Sticky command error.
    pub cmd_error: Signal<Out, Bit>,
    /// Back door: write a memory row.
    pub bd_we: Signal<In, Bit>,
    /// Back door: memory row.
    pub bd_addr: Signal<In, MemAddr>,
    /// Back door: write data, lanes 0..8.
    pub bd_wdata_lo: Signal<In, Bits<{ golden::soc::BACKDOOR_HALF_BITS }>>,
    /// Back door: write data, lanes 8..16.
    pub bd_wdata_hi: Signal<In, Bits<{ golden::soc::BACKDOOR_HALF_BITS }>>,
    /// Back door: the row at `bd_addr`, lanes 0..8.
    pub bd_rdata_lo: Signal<Out, Bits<{ golden::soc::BACKDOOR_HALF_BITS }>>,
    /// Back door: the row at `bd_addr`, lanes 8..16.
    pub bd_rdata_hi: Signal<Out, Bits<{ golden::soc::BACKDOOR_HALF_BITS }>>,
    /// The tile.
    pub tile: Tile,
    /// The memory.
    pub mem: RowMem<128>,
    /// Read data delay line (`L-1` stages after the registered read).
    pub dl_data: DelayLine<128>,
    /// Read valid delay line (`L` stages).
    pub dl_valid: DelayLine<1>,
    // Memory port: beats left after the current one, next row, write.
    mc_left: DFF<Bits<{ spec::BEATS_BITS }>>,
    mc_addr: DFF<Bits<32>>,
    mc_wr: DFF<Bit>,
    ready: Signal<Local, Bit>,
    grant: Signal<Local, Bit>,
    b_on: Signal<Local, Bit>,
    b_addr: Signal<Local, Bits<32>>,
    b_wr: Signal<Local, Bit>,
}

impl TileBench {
    /// The bench for a tile `p` on a memory of `mem_rows` rows with read latency `latency`
    /// (validated as in `golden::tile_bench::TileBench::new`).
    pub fn new(
        p: &TileParams,
        mem_rows: u32,
        latency: u32,
    ) -> Result<Self, golden::tile_bench::BenchError> {
        golden::tile_bench::TileBench::new(*p, mem_rows, latency)?;
        Ok(Self {
            clock: Default::default(),
            cmd_valid: Default::default(),
            cmd_word: Default::default(),
            dma_grant: Default::default(),
            cmd_ready: Default::default(),
            dma_valid: Default::default(),
            dma_beats: Default::default(),
            dma_addr: Default::default(),
            dma_fire: Default::default(),
            mem_ready: Default::default(),
            issue: Default::default(),
            q_count: Default::default(),
            ld_count: Default::default(),
            ex_busy: Default::default(),
            st_busy: Default::default(),
            idle: Default::default(),
            cmd_error: Default::default(),
            bd_we: Default::default(),
            bd_addr: Default::default(),
            bd_wdata_lo: Default::default(),
            bd_wdata_hi: Default::default(),
            bd_rdata_lo: Default::default(),
            bd_rdata_hi: Default::default(),
            tile: Tile::new(p, mem_rows),
            mem: RowMem::with_debug_read(mem_rows as usize),
            dl_data: DelayLine::new(latency as usize - 1),
            dl_valid: DelayLine::new(latency as usize),
            mc_left: Default::default(),
            mc_addr: Default::default(),
            mc_wr: Default::default(),
            ready: Default::default(),
            grant: Default::default(),
            b_on: Default::default(),
            b_addr: Default::default(),
            b_wr: Default::default(),
        })
    }
}

impl Logic for TileBench {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(self, clock, mc_left, mc_addr, mc_wr);
        self.tile.clock.next = self.clock.val();
        self.mem.clock.next = self.clock.val();
        self.dl_data.clock.next = self.clock.val();
        self.dl_valid.clock.next = self.clock.val();
        // Memory port: the fired request's first beat, or the next beat of the current one.
        self.mem_ready.next = self.mc_left.q.val() == 0;
        self.ready.next = self.dma_grant.val() & (self.mc_left.q.val() == 0);
        self.grant.next = self.tile.dma_valid.val() & self.ready.val();
        self.b_on.next = self.grant.val() | (self.mc_left.q.val() != 0);
        self.b_addr.next = self.mc_addr.q.val();
        self.b_wr.next = self.mc_wr.q.val();
        if self.grant.val() {
            self.b_addr.next = bit_cast::<32, 24>(bit_cast::<24, 32>(self.tile.dma_addr.val()));
            self.b_wr.next = self.tile.dma_addr.val().get_bit(31);
            self.mc_left.d.next = self.tile.dma_beats.val() - 1;
        } else if self.mc_left.q.val() != 0 {
            self.mc_left.d.next = self.mc_left.q.val() - 1;
        }
        // The next row: computed for both cases, `grant` selects last.
        self.mc_addr.d.next = self.mc_addr.q.val() + 1;
        if self.grant.val() {
            self.mc_addr.d.next =
                bit_cast::<32, 24>(bit_cast::<24, 32>(self.tile.dma_addr.val())) + 1;
        }
        self.mc_wr.d.next = self.b_wr.val();
        // Host and tile ports.
        self.tile.cmd_valid.next = self.cmd_valid.val();
        self.tile.cmd_word.next = self.cmd_word.val();
        self.tile.dma_ready.next = self.ready.val();
        self.cmd_ready.next = self.tile.cmd_ready.val();
        self.dma_valid.next = self.tile.dma_valid.val();
        self.dma_beats.next = self.tile.dma_beats.val();
        self.dma_addr.next = self.tile.dma_addr.val();
        self.dma_fire.next = self.grant.val();
        self.issue.next = self.tile.issue.val();
        self.q_count.next = self.tile.q_count.val();
        self.ld_count.next = self.tile.ld_count.val();
        self.ex_busy.next = self.tile.ex_busy.val();
        self.st_busy.next = self.tile.st_busy.val();
        self.idle.next = self.tile.idle.val();
        self.cmd_error.next = self.tile.cmd_error.val();
        // Reads: a beat reaches the tile L cycles after its address was presented.
        self.mem.ra0.next = bit_cast::<24, 32>(self.b_addr.val());
        self.dl_data.d.next = self.mem.rd0.val();
        self.dl_valid.d.next = 0.into();
        if self.b_on.val() & !self.b_wr.val() {
            self.dl_valid.d.next = 1.into();
        }
        self.tile.rd_valid.next = self.dl_valid.q.val() != 0;
        self.tile.rd_data.next = self.dl_data.q.val();
        // Write port: a DMA write beat, else the back door.
        self.mem.wd.next = (bit_cast::<128, 64>(self.bd_wdata_hi.val()) << 64)
            | bit_cast::<128, 64>(self.bd_wdata_lo.val());
        self.bd_rdata_lo.next = self.mem.rd1.val().get_bits::<64>(0);
        self.bd_rdata_hi.next = self.mem.rd1.val().get_bits::<64>(64);
        self.mem.we.next = self.bd_we.val();
        self.mem.wa.next = self.bd_addr.val();
        if self.b_on.val() & self.b_wr.val() {
            self.mem.we.next = true;
            self.mem.wa.next = bit_cast::<24, 32>(self.b_addr.val());
            self.mem.wd.next = self.tile.st_wdata.val();
        }
        self.mem.ra1.next = self.bd_addr.val();
    }
}
