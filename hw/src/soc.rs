//! MoCA SoC RTL: `N` tiles (`crate::tile`), one `MemThrottle` per tile on its DMA port, the
//! `BusArbiter`, and a shared memory with a fixed read latency `L` serving one beat per cycle.
//!
//! The specification is the golden twin `golden::soc` (`docs/TILE.md`). The observable ports
//! have exactly the names of `golden::soc::SocCycle` (`cmd_valid$k`, `mem_valid`, ...).
//!
//! # Memory port
//! The port registers the request granted in cycle `f` (`mem_valid && mem_ready`): its beats,
//! first row, requester and direction enter the port's registers at the end of `f`, and the
//! request occupies the port in `f+1..f+n` (`golden::spec::tile::MEM_PORT_DELAY`). `mem_ready`
//! (`free`) is high while at most one beat is left (`bl <= 1`, a register compare), so the next
//! request may be granted in the cycle of the last beat and the port serves one beat per cycle
//! back to back. Every memory address, the write data select and the read tag come from the
//! port's registers: nothing after the grant is combinational from the request path (the
//! request -> throttle -> arbiter -> grant path ends at the port's registers). A read beat's
//! address is presented in its cycle to the memory's synchronous read port (registered data,
//! the first of the `L` cycles); the row then passes a delay line of `L-1` stages (a wire for
//! `L = 1`) and reaches the requesting tile `L` cycles after the beat, with its tag (valid, tile
//! id) from an `L`-stage delay line. A write beat writes the requesting tile's converted
//! accumulator row (`st_wdata`, which the tile computes from its own registered beat state).
//!
//! # Back door (tests only)
//! `bd_we`, `bd_addr`, `bd_wdata_lo`/`bd_wdata_hi` (lanes 0..8 / 8..16, int8 lane `j` in bits `8j+7..8j` of the pair) write one memory row at the clock edge;
//! `bd_rdata_lo`/`bd_rdata_hi` read the row at `bd_addr` combinationally in simulation (Rust-HDL
//! and Verilator); under `SYNTHESIS` (yosys) that read is registered, so that the shared memory
//! has only synchronous read ports and can be mapped to block RAM. The DMA has priority on the write
//! port, so use the back door only while the SoC is idle (as `golden::soc::MocaSoc::mem_write`
//! / `mem_read`). The back door cannot reach a throttle or the arbiter.

use crate::arbiter::BusArbiter;
use crate::throttle::MemThrottle;
use crate::tile::{DelayLine, MemAddr, Row, RowMem, Tile, tile_ports};
use golden::soc::SocParams;
use golden::spec;
use rust_hdl::prelude::*;

fn signals<D: Direction, T: Synth>(n: usize) -> Vec<Signal<D, T>> {
    (0..n).map(|_| Signal::default()).collect()
}

/// Declares a block with the shared memory's back door (see the module docs, # Back door):
/// the block's `before` fields, then the `bd_*` ports, then its `after` fields. The back door's
/// ports are written once, here, and used by [`MocaSoc`], [`MemPort`] and the tile's bench
/// (`crate::tile_bench::TileBench`, through `tile_ports! { with backdoor_ports; ... }`); the
/// golden declaration they are checked against is `golden::soc::BACKDOOR_PORTS`.
///
/// ```ignore
/// backdoor_ports! { #[derive(LogicBlock)] pub struct Name { before fields } { after fields } }
/// backdoor_ports!(init Name { before values } { after values }) // the ports at their defaults
/// ```
macro_rules! backdoor_ports {
    (@list $then:ident $args:tt) => {
        backdoor_ports! { @$then $args [
            /// Back door: write a memory row.
            bd_we: In Bit,
            /// Back door: memory row.
            bd_addr: In $crate::tile::MemAddr,
            /// Back door: write data, lanes 0..8 (lane `j` in bits `8j+7..8j`).
            bd_wdata_lo: In Bits<{ ::golden::soc::BACKDOOR_HALF_BITS }>,
            /// Back door: write data, lanes 8..16.
            bd_wdata_hi: In Bits<{ ::golden::soc::BACKDOOR_HALF_BITS }>,
            /// Back door: the row at `bd_addr`, lanes 0..8.
            bd_rdata_lo: Out Bits<{ ::golden::soc::BACKDOOR_HALF_BITS }>,
            /// Back door: the row at `bd_addr`, lanes 8..16.
            bd_rdata_hi: Out Bits<{ ::golden::soc::BACKDOOR_HALF_BITS }>,
        ] }
    };
    (@decl [$(#[$m:meta])* $name:ident [$($before:tt)*] [$($after:tt)*]]
        [$($(#[$pd:meta])* $p:ident : $pdir:ident $pty:ty,)*]) => {
        $(#[$m])*
        pub struct $name {
            $($before)*
            $($(#[$pd])* pub $p: Signal<$pdir, $pty>,)*
            $($after)*
        }
    };
    (@init [$name:ident [$($before:tt)*] [$($after:tt)*]]
        [$($(#[$pd:meta])* $p:ident : $pdir:ident $pty:ty,)*]) => {
        $name {
            $($before)*
            $($p: Default::default(),)*
            $($after)*
        }
    };
    (init $name:ident { $($before:tt)* } { $($after:tt)* }) => {
        backdoor_ports!(@list init [$name [$($before)*] [$($after)*]])
    };
    ($(#[$m:meta])* pub struct $name:ident { $($before:tt)* } { $($after:tt)* }) => {
        backdoor_ports!(@list decl [$(#[$m])* $name [$($before)*] [$($after)*]]);
    };
}
pub(crate) use backdoor_ports;

tile_ports! { vec with backdoor_ports;
/// The SoC. Ports first: the clock and, per tile, the tile's host and DMA request ports
/// (`tile_ports!`, one `Vec` element per tile, emitted as `name$k`); per tile the throttle's
/// configuration port, the fired request and the bubble; the arbiter's configuration port and
/// the memory port; per tile the tile's status outputs; the back door (`backdoor_ports!`).
#[derive(LogicBlock)]
pub struct MocaSoc {
    /// Throttle k configuration write enable.
    pub cfg_we: Vec<Signal<In, Bit>>,
    /// Throttle k configuration address.
    pub cfg_addr: Vec<Signal<In, Bits<{ spec::CFG_ADDR_BITS }>>>,
    /// Throttle k configuration write data.
    pub cfg_wdata: Vec<Signal<In, Bits<{ spec::CFG_WDATA_BITS }>>>,
    /// Throttle k's register at `cfg_addr$k`.
    pub cfg_rdata: Vec<Signal<Out, Bits<{ spec::CFG_RDATA_BITS }>>>,
    /// Tile k's DMA request fired.
    pub dma_fire: Vec<Signal<Out, Bit>>,
    /// Throttle k is in BUBBLE.
    pub thr_bubble: Vec<Signal<Out, Bit>>,
    /// Arbiter configuration write enable.
    pub arb_cfg_we: Signal<In, Bit>,
    /// Arbiter configuration address.
    pub arb_cfg_addr: Signal<In, Bits<{ spec::CFG_ADDR_BITS }>>,
    /// Arbiter configuration write data.
    pub arb_cfg_wdata: Signal<In, Bits<{ spec::CFG_WDATA_BITS }>>,
    /// Arbiter register at `arb_cfg_addr`.
    pub arb_cfg_rdata: Signal<Out, Bits<{ spec::CFG_RDATA_BITS }>>,
    /// Arbiter memory port: valid.
    pub mem_valid: Signal<Out, Bit>,
    /// Memory port free.
    pub mem_ready: Signal<Out, Bit>,
    /// Arbiter memory port: requester.
    pub mem_id: Signal<Out, Bits<{ spec::PORT_ID_BITS }>>,
    /// Arbiter memory port: beats.
    pub mem_beats: Signal<Out, Bits<{ spec::BEATS_BITS }>>,
    /// Arbiter memory port: address.
    pub mem_addr: Signal<Out, Bits<{ spec::ADDR_BITS }>>,
} {
    /// The tiles.
    pub tiles: Vec<Tile>,
    /// One throttle per tile.
    pub throttles: Vec<MemThrottle>,
    /// The arbiter.
    pub arbiter: BusArbiter,
    /// The shared memory and its port.
    pub mport: MemPort,
    wsel: Signal<Local, Row>,
    tile_id: Vec<Constant<Bits<4>>>,
    tile_tag: Vec<Constant<Bits<5>>>,
}
}

impl MocaSoc {
    /// The SoC for `p` (validated).
    pub fn new(p: &SocParams) -> Result<Self, golden::soc::SocError> {
        p.validate()?;
        let n = p.tiles;
        Ok(tile_ports!(init vec(signals(n)) with backdoor_ports; Self {
            cfg_we: signals(n),
            cfg_addr: signals(n),
            cfg_wdata: signals(n),
            cfg_rdata: signals(n),
            dma_fire: signals(n),
            thr_bubble: signals(n),
            arb_cfg_we: Default::default(),
            arb_cfg_addr: Default::default(),
            arb_cfg_wdata: Default::default(),
            arb_cfg_rdata: Default::default(),
            mem_valid: Default::default(),
            mem_ready: Default::default(),
            mem_id: Default::default(),
            mem_beats: Default::default(),
            mem_addr: Default::default(),
        } {
            tiles: (0..n).map(|_| Tile::new(&p.tile, p.mem_rows)).collect(),
            throttles: (0..n).map(|_| MemThrottle::default()).collect(),
            arbiter: BusArbiter::new(n).map_err(golden::soc::SocError::Config)?,
            mport: MemPort::new(p.mem_rows, p.latency),
            wsel: Default::default(),
            tile_id: (0..n)
                .map(|k| Constant::new(Bits::from(k as u64)))
                .collect(),
            tile_tag: (0..n)
                .map(|k| Constant::new(Bits::from(0x10 | k as u64)))
                .collect(),
        }))
    }

    /// Number of tiles.
    pub fn tiles(&self) -> usize {
        self.tiles.len()
    }
}

impl Logic for MocaSoc {
    #[hdl_gen]
    fn update(&mut self) {
        self.arbiter.clock.next = self.clock.val();
        self.mport.clock.next = self.clock.val();
        // Memory port: the arbiter's request; the port reports when it is free.
        self.mport.req_valid.next = self.arbiter.mem_valid.val();
        self.mport.req_beats.next = self.arbiter.mem_beats.val();
        self.mport.req_addr.next = self.arbiter.mem_addr.val();
        self.mport.req_id.next = self.arbiter.mem_id.val();
        self.mem_ready.next = self.mport.free.val();
        self.arbiter.mem_ready.next = self.mport.free.val();
        // Host, tiles, throttles, arbiter requests.
        self.wsel.next = 0.into();
        for k in 0..self.tiles.len() {
            self.tiles[k].clock.next = self.clock.val();
            self.throttles[k].clock.next = self.clock.val();
            self.tiles[k].cmd_valid.next = self.cmd_valid[k].val();
            self.tiles[k].cmd_word.next = self.cmd_word[k].val();
            self.throttles[k].cfg_we.next = self.cfg_we[k].val();
            self.throttles[k].cfg_addr.next = self.cfg_addr[k].val();
            self.throttles[k].cfg_wdata.next = self.cfg_wdata[k].val();
            self.throttles[k].up_valid.next = self.tiles[k].dma_valid.val();
            self.throttles[k].up_beats.next = self.tiles[k].dma_beats.val();
            self.throttles[k].up_addr.next = self.tiles[k].dma_addr.val();
            self.tiles[k].dma_ready.next = self.throttles[k].up_ready.val();
            self.arbiter.req_valid[k].next = self.throttles[k].down_valid.val();
            self.arbiter.req_beats[k].next = self.throttles[k].down_beats.val();
            self.arbiter.req_addr[k].next = self.throttles[k].down_addr.val();
            self.throttles[k].down_ready.next = self.arbiter.req_ready[k].val();
            self.cmd_ready[k].next = self.tiles[k].cmd_ready.val();
            self.cfg_rdata[k].next = self.throttles[k].cfg_rdata.val();
            self.dma_valid[k].next = self.tiles[k].dma_valid.val();
            self.dma_beats[k].next = self.tiles[k].dma_beats.val();
            self.dma_addr[k].next = self.tiles[k].dma_addr.val();
            self.dma_fire[k].next =
                self.tiles[k].dma_valid.val() & self.throttles[k].up_ready.val();
            self.issue[k].next = self.tiles[k].issue.val();
            self.thr_bubble[k].next = self.throttles[k].st_bubble.val();
            self.q_count[k].next = self.tiles[k].q_count.val();
            self.ld_count[k].next = self.tiles[k].ld_count.val();
            self.ex_busy[k].next = self.tiles[k].ex_busy.val();
            self.st_busy[k].next = self.tiles[k].st_busy.val();
            self.idle[k].next = self.tiles[k].idle.val();
            self.cmd_error[k].next = self.tiles[k].cmd_error.val();
            if self.mport.id.val() == self.tile_id[k].val() {
                self.wsel.next = self.tiles[k].st_wdata.val();
            }
            // Read data: a beat for tile k arrives L cycles after its address was presented.
            self.tiles[k].rd_valid.next = self.mport.rd_tag.val() == self.tile_tag[k].val();
            self.tiles[k].rd_data.next = self.mport.rd_data.val();
        }
        self.arbiter.cfg_we.next = self.arb_cfg_we.val();
        self.arbiter.cfg_addr.next = self.arb_cfg_addr.val();
        self.arbiter.cfg_wdata.next = self.arb_cfg_wdata.val();
        self.arb_cfg_rdata.next = self.arbiter.cfg_rdata.val();
        self.mem_valid.next = self.arbiter.mem_valid.val();
        self.mem_id.next = self.arbiter.mem_id.val();
        self.mem_beats.next = self.arbiter.mem_beats.val();
        self.mem_addr.next = self.arbiter.mem_addr.val();

        self.mport.wdata.next = self.wsel.val();
        self.mport.bd_we.next = self.bd_we.val();
        self.mport.bd_addr.next = self.bd_addr.val();
        self.mport.bd_wdata_lo.next = self.bd_wdata_lo.val();
        self.mport.bd_wdata_hi.next = self.bd_wdata_hi.val();
        self.bd_rdata_lo.next = self.mport.bd_rdata_lo.val();
        self.bd_rdata_hi.next = self.mport.bd_rdata_hi.val();
    }
}

backdoor_ports! {
/// The shared memory behind its port, used by the SoC and by the tile's bench
/// (`crate::tile_bench`): see the module docs (# Memory port, # Back door). `req_*` is the
/// request presented to the port (registered when `grant`: `req_valid` while the port is
/// `free`; its beats are served from the next cycle on); `id` is the requester of the beat in
/// the port this cycle (a register: whose `wdata` a write beat writes); a read beat's row
/// leaves on `rd_data` `L` cycles after its beat with the tag `rd_tag` (bit 4 valid, bits 3..0
/// the requester).
#[derive(LogicBlock)]
pub struct MemPort {
    /// Clock.
    pub clock: Signal<In, Clock>,
    /// A request is presented.
    pub req_valid: Signal<In, Bit>,
    /// Its beats (1..=`MAX_BEATS`).
    pub req_beats: Signal<In, Bits<{ spec::BEATS_BITS }>>,
    /// Its address (memory row; bit 31 set for a write).
    pub req_addr: Signal<In, Bits<{ spec::ADDR_BITS }>>,
    /// Its requester.
    pub req_id: Signal<In, Bits<{ spec::PORT_ID_BITS }>>,
    /// The row a write beat of requester `id` writes.
    pub wdata: Signal<In, Row>,
    /// At most one beat of the registered request is left (it is served this cycle): a
    /// request presented now is granted and its first beat follows in the next cycle.
    pub free: Signal<Out, Bit>,
    /// The requester of this cycle's beat.
    pub id: Signal<Out, Bits<{ spec::PORT_ID_BITS }>>,
    /// Tag of the arriving read row: bit 4 valid, bits 3..0 its requester.
    pub rd_tag: Signal<Out, Bits<5>>,
    /// The arriving read row.
    pub rd_data: Signal<Out, Row>,
} {
    /// The memory.
    pub mem: RowMem<128>,
    /// Read data delay line (`L-1` stages after the registered read).
    pub dl_data: DelayLine<128>,
    /// Read tag delay line (`L` stages).
    pub dl_tag: DelayLine<5>,
    // The registered request: beats left including this cycle's (0: no beat), this cycle's
    // row, requester, write.
    mc_left: DFF<Bits<{ spec::BEATS_BITS }>>,
    mc_addr: DFF<MemAddr>,
    mc_id: DFF<Bits<{ spec::PORT_ID_BITS }>>,
    mc_wr: DFF<Bit>,
    grant: Signal<Local, Bit>,
    b_on: Signal<Local, Bit>,
    c_valid_tag: Constant<Bits<5>>,
}
}

impl MemPort {
    /// A zeroed memory of `mem_rows` rows with read latency `latency` (1..=1024).
    pub fn new(mem_rows: u32, latency: u32) -> Self {
        backdoor_ports!(init Self {
            clock: Default::default(),
            req_valid: Default::default(),
            req_beats: Default::default(),
            req_addr: Default::default(),
            req_id: Default::default(),
            wdata: Default::default(),
            free: Default::default(),
            id: Default::default(),
            rd_tag: Default::default(),
            rd_data: Default::default(),
        } {
            mem: RowMem::with_debug_read(mem_rows as usize),
            dl_data: DelayLine::new(latency as usize - 1),
            dl_tag: DelayLine::new(latency as usize),
            mc_left: Default::default(),
            mc_addr: Default::default(),
            mc_id: Default::default(),
            mc_wr: Default::default(),
            grant: Default::default(),
            b_on: Default::default(),
            c_valid_tag: Constant::new(Bits::from(0x10)),
        })
    }
}

impl Logic for MemPort {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(self, clock, mc_left, mc_addr, mc_id, mc_wr);
        self.mem.clock.next = self.clock.val();
        self.dl_data.clock.next = self.clock.val();
        self.dl_tag.clock.next = self.clock.val();
        // The beat of this cycle comes from the registers; a granted request is registered
        // (its first beat is in the next cycle). `free`: at most this cycle's beat is left.
        self.free.next = self.mc_left.q.val() <= 1;
        self.grant.next = self.req_valid.val() & (self.mc_left.q.val() <= 1);
        self.b_on.next = self.mc_left.q.val() != 0;
        self.id.next = self.mc_id.q.val();
        if self.b_on.val() {
            self.mc_left.d.next = self.mc_left.q.val() - 1;
        }
        self.mc_addr.d.next = self.mc_addr.q.val() + 1;
        if self.grant.val() {
            self.mc_left.d.next = self.req_beats.val();
            self.mc_addr.d.next = bit_cast::<24, 32>(self.req_addr.val());
            self.mc_id.d.next = self.req_id.val();
            self.mc_wr.d.next = self.req_addr.val().get_bit(31);
        }
        // Reads: a beat's row arrives L cycles after its address was presented.
        self.mem.ra0.next = self.mc_addr.q.val();
        self.dl_data.d.next = self.mem.rd0.val();
        self.dl_tag.d.next = 0.into();
        if self.b_on.val() & !self.mc_wr.q.val() {
            self.dl_tag.d.next = self.c_valid_tag.val() | bit_cast::<5, 4>(self.mc_id.q.val());
        }
        self.rd_tag.next = self.dl_tag.q.val();
        self.rd_data.next = self.dl_data.q.val();
        // Write port: a DMA write beat, else the back door.
        self.mem.wd.next = (bit_cast::<128, 64>(self.bd_wdata_hi.val()) << 64)
            | bit_cast::<128, 64>(self.bd_wdata_lo.val());
        self.bd_rdata_lo.next = self.mem.rd1.val().get_bits::<64>(0);
        self.bd_rdata_hi.next = self.mem.rd1.val().get_bits::<64>(64);
        self.mem.we.next = self.bd_we.val();
        self.mem.wa.next = self.bd_addr.val();
        if self.b_on.val() & self.mc_wr.q.val() {
            self.mem.we.next = true;
            self.mem.wa.next = self.mc_addr.q.val();
            self.mem.wd.next = self.wdata.val();
        }
        self.mem.ra1.next = self.bd_addr.val();
    }
}

#[cfg(test)]
mod tests {
    //! Rust-HDL's simulator against the golden SoC, every observable port every cycle.
    use crate::harness::SocRtl;
    use golden::cfg::ThrottleConfig;
    use golden::compile::{GemmJob, GemmShape};
    use golden::observe::{Ports, first_difference};
    use golden::soc::{MocaSoc as Golden, SocParams, place_gemms};
    use golden::tile::{Command, TileParams};
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn params(tiles: usize, dim: usize, latency: u32, mem_rows: u32) -> SocParams {
        SocParams {
            tiles,
            tile: TileParams::with_rows(dim, (16 * dim) as u32, (4 * dim) as u32).unwrap(),
            mem_rows,
            latency,
        }
    }

    /// Copy golden memory rows `0..rows` into the RTL, then step both until the golden SoC is
    /// idle (plus `extra` cycles), comparing every port. Returns the golden cycle count.
    fn lockstep(what: &str, gold: &mut Golden, rtl: &mut SocRtl, rows: u32, extra: u64) -> u64 {
        if rows > 0 {
            rtl.mem_write(0, &gold.mem_read(0, rows as usize).unwrap())
                .unwrap();
        }
        let mut tail = None;
        for cycle in 0..200_000u64 {
            let g = gold.step().clone();
            let r = rtl.step(&g).unwrap();
            if let Some((sig, rv, gv)) = first_difference(&r.port_list(), &g.port_list()) {
                panic!("{what}: cycle {cycle}: {sig}: rtl {rv:#x} golden {gv:#x}");
            }
            if tail.is_none() && gold.is_idle() {
                tail = Some(cycle + 1);
            }
            if tail.is_some_and(|t| cycle + 1 >= t + extra) {
                return tail.unwrap();
            }
        }
        panic!("{what}: not idle after 200000 cycles");
    }

    fn check_outputs(what: &str, gold: &Golden, rtl: &mut SocRtl, jobs: &[GemmJob]) {
        for j in jobs {
            assert!(j.output_ok(gold).unwrap(), "{what}: golden output wrong");
            let l = &j.program.layout;
            let c = l.unpack_c(&rtl.mem_read(l.c_base, l.c_rows()).unwrap());
            assert_eq!(
                c,
                j.expected(),
                "{what}: RTL output of tile {} wrong",
                j.tile
            );
        }
    }

    #[test]
    fn single_commands_follow_the_timing_table() {
        let d = 4;
        let load = |mem, sp, rows| Command::Load {
            mem_addr: mem,
            sp_addr: sp,
            rows,
        };
        let compute = |a, b, c, accumulate| Command::Compute {
            a,
            b,
            c,
            accumulate,
        };
        let store = |acc, mem, rows| Command::Store {
            acc_addr: acc,
            mem_addr: mem,
            rows,
            shift: 2,
        };
        // A COMPUTE issued in 1 frees the execute unit in 1 + 1 + compute_cycles (2D + 2) = 12;
        // the idle cycles are those of docs/TILE.md's worked examples.
        let free = 2 + golden::spec::tile::compute_cycles(d);
        assert_eq!(free, 12);
        let programs: Vec<(Vec<Command>, u64)> = vec![
            (vec![load(0, 0, 4)], 14),
            (vec![load(0, 0, 6)], 16),
            (vec![compute(0, 4, 0, false)], free),
            (
                vec![compute(0, 4, 0, false), compute(0, 4, 4, true)],
                free + free - 1,
            ),
            (vec![load(0, 0, 8), compute(0, 4, 0, false)], 18 + free - 1),
            (vec![load(0, 8, 8), compute(0, 4, 0, false)], 18),
            (
                vec![compute(0, 4, 0, false), load(0, 0, 4)],
                free + 1 + 4 + 7 + 1,
            ),
            (vec![store(0, 32, 5)], 8),
            (vec![compute(0, 4, 0, false), store(0, 32, 5)], free + 7),
            (vec![load(0, 0, 4), Command::Fence], 15),
        ];
        for (prog, idle_at) in programs {
            let p = params(1, d, 7, 64);
            let mut gold = Golden::new(p).unwrap();
            let data: Vec<i8> = (0..64 * d).map(|x| (x * 37 % 255) as i8).collect();
            gold.mem_write(0, &data).unwrap();
            gold.push_commands(0, &prog).unwrap();
            let mut rtl = SocRtl::new(&p).unwrap();
            let what = format!("{prog:?}");
            let cycles = lockstep(&what, &mut gold, &mut rtl, 64, 3);
            assert_eq!(cycles, idle_at, "{what}");
            assert_eq!(
                rtl.mem_read(0, 64).unwrap(),
                gold.mem_read(0, 64).unwrap(),
                "{what}: memory"
            );
        }
    }

    type Case = (
        usize,
        usize,
        &'static [(usize, usize, usize)],
        &'static [(usize, i64, i64)],
        u32,
    );

    #[test]
    fn gemms_match_golden_cycle_for_cycle_with_and_without_throttling() {
        // (dim, tiles, GEMM shapes, throttles (tile, W, T), latency)
        let cases: [Case; 4] = [
            (2, 1, &[(3, 5, 4)], &[], 3),
            (4, 2, &[(5, 6, 7), (4, 9, 3)], &[], 5),
            (3, 2, &[(6, 4, 5), (3, 3, 8)], &[(0, 40, 6)], 4),
            (
                2,
                3,
                &[(4, 4, 4), (2, 5, 3), (3, 2, 6)],
                &[(1, 30, 4), (2, 20, 3)],
                2,
            ),
        ];
        for (seed, (dim, tiles, shapes, throttles, latency)) in cases.into_iter().enumerate() {
            let p = params(tiles, dim, latency, 1024);
            let mut gold = Golden::new(p).unwrap();
            let mut rtl = SocRtl::new(&p).unwrap();
            let shapes: Vec<GemmShape> = shapes
                .iter()
                .map(|&(i, j, k)| GemmShape::new(i, j, k).unwrap())
                .collect();
            let jobs = place_gemms(&mut gold, &shapes, 3, 127, seed as u64).unwrap();
            // Throttles are configured first (the golden host port queues the writes).
            for &(k, w, t) in throttles {
                gold.configure_throttle(k, &ThrottleConfig::new(w, t, None).unwrap())
                    .unwrap();
            }
            let rows = jobs.last().unwrap().program.layout.end() as u32;
            let what = format!("seed {seed} dim {dim} tiles {tiles}");
            let cycles = lockstep(&what, &mut gold, &mut rtl, rows, 2);
            check_outputs(&what, &gold, &mut rtl, &jobs);
            eprintln!("{what}: {cycles} cycles identical");
        }
    }

    /// Random words (valid, out-of-bounds and malformed) on random tiles, with throttle and
    /// arbiter configuration writes in between.
    #[test]
    fn random_commands_match_golden() {
        for seed in 0..3u64 {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let (tiles, dim) = (2, 2 + seed as usize);
            let p = params(tiles, dim, 1 + seed as u32 * 3, 96);
            let mut gold = Golden::new(p).unwrap();
            let mut rtl = SocRtl::new(&p).unwrap();
            let data: Vec<i8> = (0..96 * dim).map(|_| rng.r#gen()).collect();
            gold.mem_write(0, &data).unwrap();
            let (sp, acc) = (p.tile.sp_rows, p.tile.acc_rows);
            for _ in 0..60 {
                let k = rng.gen_range(0..tiles);
                let rows = rng.gen_range(1..=6);
                let word = match rng.gen_range(0..10) {
                    0..=2 => Command::Load {
                        mem_addr: rng.gen_range(0..96 - rows),
                        sp_addr: rng.gen_range(0..sp - rows),
                        rows,
                    }
                    .encode()
                    .unwrap(),
                    3..=4 => Command::Compute {
                        a: rng.gen_range(0..=sp - dim as u32),
                        b: rng.gen_range(0..=sp - dim as u32),
                        c: rng.gen_range(0..=acc - dim as u32),
                        accumulate: rng.r#gen(),
                    }
                    .encode()
                    .unwrap(),
                    5..=6 => Command::Store {
                        acc_addr: rng.gen_range(0..acc - rows),
                        mem_addr: rng.gen_range(0..96 - rows),
                        rows,
                        shift: rng.gen_range(0..=31),
                    }
                    .encode()
                    .unwrap(),
                    7 => Command::Fence.encode().unwrap(),
                    // Out of bounds, or any random word (almost always malformed).
                    8 => Command::Load {
                        mem_addr: 96 - rows + 1,
                        sp_addr: 0,
                        rows,
                    }
                    .encode()
                    .unwrap(),
                    _ => rng.r#gen::<u64>() >> rng.gen_range(0..8),
                };
                gold.push_word(k, word).unwrap();
                if rng.gen_bool(0.1) {
                    gold.write_throttle(k, rng.gen_range(0..14), rng.gen_range(0..60))
                        .unwrap();
                }
                if rng.gen_bool(0.05) {
                    gold.write_arbiter(rng.gen_range(0..5), rng.gen_range(0..3));
                }
            }
            let what = format!("random seed {seed}");
            let cycles = lockstep(&what, &mut gold, &mut rtl, 96, 4);
            assert!(gold.tile_status(0).unwrap().cmd_error, "{what}: no error");
            assert_eq!(
                rtl.mem_read(0, 96).unwrap(),
                gold.mem_read(0, 96).unwrap(),
                "{what}: memory"
            );
            eprintln!("{what}: {cycles} cycles identical");
        }
    }

    #[test]
    fn emitted_verilog_names_the_observable_ports() {
        let p = params(2, 2, 3, 64);
        let v = crate::emit::soc(&p).unwrap();
        assert_eq!(v.top, "moca_soc_t2_d2");
        let mut gold = Golden::new(p).unwrap();
        let names: Vec<String> = gold
            .step()
            .port_list()
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        let header = v
            .text
            .lines()
            .find(|l| l.starts_with("module moca_soc_t2_d2("))
            .unwrap();
        for n in names {
            assert!(
                header.contains(&format!(",{n},")) || header.contains(&format!(",{n})")),
                "{n}"
            );
        }
    }
}
