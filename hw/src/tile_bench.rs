//! One tile alone on a memory, `moca_tile_bench_d<DIM>`: the top in which the tile is
//! co-simulated by itself against `golden::tile_bench::TileBench` (the module docs there give
//! the cycle). The tile ([`crate::tile::Tile`], unchanged) gets the SoC's memory port, the same
//! block ([`crate::soc::MemPort`], the tile as requester 0): a request of `n` beats fired in `f`
//! is registered by the port and occupies it in `f+1..f+n`; a read beat's row is read
//! synchronously and reaches the
//! tile `L` cycles after its cycle; a write beat writes the tile's `st_wdata`. No throttle and
//! no arbiter: the `dma_grant` input plays them (the tile's `dma_ready` is `dma_grant &&
//! mem_ready`). The tile's host, DMA request and status ports are passed through under the same
//! names, declared once by the `tile_ports!` macro in `crate::tile`.
//!
//! The back door (`bd_*`) is the SoC's (`golden::soc::BACKDOOR_PORTS`).

use crate::soc::{MemPort, backdoor_ports};
use crate::tile::{Tile, tile_ports};
use golden::tile::TileParams;
use rust_hdl::prelude::*;

tile_ports! { with backdoor_ports;
/// The bench. Ports first: the tile's own host, DMA request and status ports (passed
/// through), the environment's grant, the memory port's state and the back door.
#[derive(LogicBlock)]
pub struct TileBench {
    /// The environment would accept a DMA request this cycle.
    pub dma_grant: Signal<In, Bit>,
    /// The DMA request fired.
    pub dma_fire: Signal<Out, Bit>,
    /// The memory port is free.
    pub mem_ready: Signal<Out, Bit>,
} {
    /// The tile.
    pub tile: Tile,
    /// The memory behind the SoC's memory port.
    pub mport: MemPort,
    c_tag: Constant<Bits<5>>,
}
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
        Ok(tile_ports!(init with backdoor_ports; Self {
            dma_grant: Default::default(),
            dma_fire: Default::default(),
            mem_ready: Default::default(),
        } {
            tile: Tile::new(p, mem_rows),
            mport: MemPort::new(mem_rows, latency),
            // A valid read tag for requester 0, the tile.
            c_tag: Constant::new(Bits::from(0x10)),
        }))
    }
}

impl Logic for TileBench {
    #[hdl_gen]
    fn update(&mut self) {
        self.tile.clock.next = self.clock.val();
        self.mport.clock.next = self.clock.val();
        // Memory port: the tile's request when the environment grants; requester 0.
        self.mem_ready.next = self.mport.free.val();
        self.tile.dma_ready.next = self.dma_grant.val() & self.mport.free.val();
        self.mport.req_valid.next = self.tile.dma_valid.val() & self.dma_grant.val();
        self.mport.req_beats.next = self.tile.dma_beats.val();
        self.mport.req_addr.next = self.tile.dma_addr.val();
        self.mport.req_id.next = 0.into();
        self.dma_fire.next =
            self.tile.dma_valid.val() & self.dma_grant.val() & self.mport.free.val();
        // Host and tile ports.
        self.tile.cmd_valid.next = self.cmd_valid.val();
        self.tile.cmd_word.next = self.cmd_word.val();
        self.cmd_ready.next = self.tile.cmd_ready.val();
        self.dma_valid.next = self.tile.dma_valid.val();
        self.dma_beats.next = self.tile.dma_beats.val();
        self.dma_addr.next = self.tile.dma_addr.val();
        self.issue.next = self.tile.issue.val();
        self.q_count.next = self.tile.q_count.val();
        self.ld_count.next = self.tile.ld_count.val();
        self.ex_busy.next = self.tile.ex_busy.val();
        self.st_busy.next = self.tile.st_busy.val();
        self.idle.next = self.tile.idle.val();
        self.cmd_error.next = self.tile.cmd_error.val();
        // Reads arrive L cycles after their beat; a write beat writes the tile's row.
        self.tile.rd_valid.next = self.mport.rd_tag.val() == self.c_tag.val();
        self.tile.rd_data.next = self.mport.rd_data.val();
        self.mport.wdata.next = self.tile.st_wdata.val();
        self.mport.bd_we.next = self.bd_we.val();
        self.mport.bd_addr.next = self.bd_addr.val();
        self.mport.bd_wdata_lo.next = self.bd_wdata_lo.val();
        self.mport.bd_wdata_hi.next = self.bd_wdata_hi.val();
        self.bd_rdata_lo.next = self.mport.bd_rdata_lo.val();
        self.bd_rdata_hi.next = self.mport.bd_rdata_hi.val();
    }
}
