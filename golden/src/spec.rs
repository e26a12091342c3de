//! The single source of truth for every block parameter and the register map.
//!
//! The golden models (`golden::throttle`, `golden::arbiter`), the Rust-HDL RTL (`hw`), the
//! `moca` CLI and the generated `docs/REGISTERS.md` all read their addresses, widths, ranges and
//! reset values from here, so RTL, model and documentation cannot drift apart. The register
//! table (registers, fields, access, reset values, valid values and [`validate`]) lives in
//! [`crate::regs`] and is re-exported here.
//!
//! Addresses are word offsets inside a block's register file. A configuration port carries
//! `cfg_we`, a 4-bit `cfg_addr`, 16-bit `cfg_wdata`, and returns 32-bit `cfg_rdata`
//! combinationally for the addressed register.

/// Width of a request's `beats` field (a request carries 1..=4 beats; the field is 3 bits).
pub const BEATS_BITS: usize = 3;

/// Bits needed to hold every value `0..=max` (`$clog2(max + 1)`, at least 1).
pub const fn bits_for(max: usize) -> usize {
    let mut bits = 1;
    while bits < usize::BITS as usize && (max >> bits) != 0 {
        bits += 1;
    }
    bits
}
/// Largest number of beats a well-formed request carries.
pub const MAX_BEATS: u32 = 4;
/// Width of the request payload (the memory address) carried through throttle and arbiter.
pub const ADDR_BITS: usize = 32;
/// Width of a configuration address (`cfg_addr`).
pub const CFG_ADDR_BITS: usize = 4;
/// Width of configuration write data (`cfg_wdata`): every writable register is 16 bits.
pub const CFG_WDATA_BITS: usize = 16;
/// Width of configuration read data (`cfg_rdata`).
pub const CFG_RDATA_BITS: usize = 32;
/// Width of the throttle's signed `credit` (two's complement): it holds -6..=2*65535.
pub const CREDIT_BITS: usize = 18;
/// Width of the throttle's window/bubble counter and of `WINDOW`, `TARGET`, `BURST`.
pub const COUNTER_BITS: usize = 16;
/// Width of every performance counter (wrapping).
pub const PERF_BITS: usize = 32;
/// Smallest number of arbiter ports.
pub const MIN_PORTS: usize = 1;
/// Largest number of arbiter ports (and of tiles in an SoC).
pub const MAX_PORTS: usize = 16;
/// Width of the arbiter's requester id (enough for [`MAX_PORTS`]).
pub const PORT_ID_BITS: usize = bits_for(MAX_PORTS - 1);
/// Default number of arbiter ports used by `moca gen` and the snapshots.
pub const DEFAULT_PORTS: usize = 4;
/// Largest value of the 16-bit `WINDOW`, `TARGET` and `BURST` registers.
pub const REG_MAX: u32 = 65_535;
/// Smallest valid non-zero `WINDOW` (0 is off, 1 is invalid).
pub const WINDOW_MIN: u32 = 2;
/// Smallest `TARGET` the hardware accepts while `WINDOW != 0`.
pub const TARGET_MIN: u32 = 1;
/// Bytes per bus beat in the paper's SoC (one 16-byte row of DIM = 16 int8 values).
pub const BYTES_PER_BEAT: u32 = 16;

// The widths hold the largest values: port ids, beats, and the throttle's credit (at most
// BURST + TARGET, at least 1 - 7) in the signed counter.
const _: () = assert!(MAX_PORTS <= 1 << PORT_ID_BITS);
const _: () = assert!(MAX_BEATS < 1 << BEATS_BITS);
const _: () = assert!(2 * REG_MAX < 1 << (CREDIT_BITS - 1));

/// Tile, SoC and command-encoding parameters (`golden::tile`, `golden::soc`, `golden::compile`).
///
/// Every limit the tile's RTL and golden model check, and every default the tests and the CLI
/// use, lives here. Sizes are in *rows*: a scratchpad or memory row is `DIM` int8 values (one bus
/// beat), an accumulator row `DIM` int32 values. `docs/TILE.md` documents the pipeline.
pub mod tile {
    /// Smallest systolic-array dimension.
    pub const MIN_DIM: usize = 2;
    /// Largest systolic-array dimension (Gemmini's).
    pub const MAX_DIM: usize = 16;
    /// Array dimension used by the tests and the co-simulation by default.
    pub const DEFAULT_DIM: usize = 4;
    /// Gemmini's array dimension.
    pub const GEMMINI_DIM: usize = 16;

    /// Width of a scratchpad address field in a command word.
    pub const SP_ADDR_BITS: usize = 14;
    /// Width of an accumulator address field in a command word.
    pub const ACC_ADDR_BITS: usize = 14;
    /// Width of a shared-memory row address (in a command word and on the bus).
    pub const MEM_ADDR_BITS: usize = 24;
    /// Width of the `rows` field of `LOAD` and `STORE`.
    pub const ROWS_BITS: usize = 12;
    /// Width of the `shift` field of `STORE`.
    pub const SHIFT_BITS: usize = 5;
    /// Width of a command word.
    pub const CMD_BITS: usize = 64;

    /// Most scratchpad rows (the 14-bit address field).
    pub const MAX_SP_ROWS: u32 = 1 << SP_ADDR_BITS;
    /// Fewest scratchpad rows, in `DIM`-row blocks: two halves of an A and a B block each.
    pub const MIN_SP_BLOCKS: u32 = 4;
    /// Default scratchpad size in `DIM`-row blocks (256 rows at DIM 4, 1024 at DIM 16).
    pub const DEFAULT_SP_BLOCKS: u32 = 64;
    /// Most accumulator rows (the 14-bit address field).
    pub const MAX_ACC_ROWS: u32 = 1 << ACC_ADDR_BITS;
    /// Fewest accumulator rows, in `DIM`-row blocks: two halves of one C block each.
    pub const MIN_ACC_BLOCKS: u32 = 2;
    /// Default accumulator size in `DIM`-row blocks (64 rows at DIM 4, 256 at DIM 16).
    pub const DEFAULT_ACC_BLOCKS: u32 = 16;
    /// Most shared-memory rows (the 24-bit row address).
    pub const MAX_MEM_ROWS: u32 = 1 << MEM_ADDR_BITS;
    /// Default shared-memory size in rows.
    pub const DEFAULT_MEM_ROWS: u32 = 1 << 16;
    /// Most rows one `LOAD` or `STORE` moves (the 12-bit field; 0 is invalid).
    pub const MAX_CMD_ROWS: u32 = (1 << ROWS_BITS) - 1;
    /// Largest `STORE` right shift.
    pub const MAX_SHIFT: u8 = (1 << SHIFT_BITS) - 1;

    /// Depth of a tile's command queue (commands waiting to issue).
    pub const QUEUE_DEPTH: usize = 16;
    /// Bits of the queue-occupancy count (`q_count`): enough for `0..=QUEUE_DEPTH`.
    pub const QUEUE_COUNT_BITS: usize = super::bits_for(QUEUE_DEPTH);
    /// `LOAD` commands a tile tracks at once (issued, data not yet all in the scratchpad).
    pub const LOAD_SLOTS: usize = 4;
    /// Bits of the busy-load-slot count (`ld_count`): enough for `0..=LOAD_SLOTS`.
    pub const LOAD_COUNT_BITS: usize = super::bits_for(LOAD_SLOTS);
    /// Rows (beats) of the largest DMA request (the throttle's `MAX_BEATS`).
    pub const MAX_REQ_ROWS: u32 = super::MAX_BEATS;

    /// Smallest shared-memory read latency in cycles.
    pub const MIN_MEM_LATENCY: u32 = 1;
    /// Largest shared-memory read latency in cycles.
    pub const MAX_MEM_LATENCY: u32 = 1024;
    /// Default shared-memory read latency in cycles.
    pub const DEFAULT_MEM_LATENCY: u32 = 16;

    /// Cycles from a DMA request's fire (its grant) to its first beat in the shared memory
    /// port: the port registers the granted request, so a request of `n` beats that fires in
    /// `f` occupies the port in `f + MEM_PORT_DELAY .. f + MEM_PORT_DELAY + n - 1` and the
    /// next request may fire in `f + n` (`docs/TILE.md`, "Departure: a registered memory
    /// port").
    pub const MEM_PORT_DELAY: u64 = 1;

    /// The first cycle a load slot is free when its last read request, of `beats` beats,
    /// fired in `fire` with memory latency `latency`: its last beat is read in
    /// `fire + MEM_PORT_DELAY + beats - 1` and written into the scratchpad at the end of that
    /// cycle plus `latency`.
    pub const fn load_free_at(fire: u64, beats: u64, latency: u64) -> u64 {
        fire + MEM_PORT_DELAY + beats + latency
    }

    /// The first cycle the store unit is free when its last write request, of `beats` beats,
    /// fired in `fire`: the cycle after its last beat wrote memory
    /// (`fire + MEM_PORT_DELAY + beats - 1`), so that a unit that is free has no effect left in
    /// flight (an idle tile has written all its rows).
    pub const fn store_free_at(fire: u64, beats: u64) -> u64 {
        fire + MEM_PORT_DELAY + beats
    }

    /// Bus address bit that marks a write request (`STORE`); bits 23:0 are the row address.
    pub const WRITE_FLAG: u32 = 1 << 31;

    /// Opcode of `LOAD` (bits 63:60 of a command word).
    pub const OP_LOAD: u8 = 1;
    /// Opcode of `COMPUTE`.
    pub const OP_COMPUTE: u8 = 2;
    /// Opcode of `STORE`.
    pub const OP_STORE: u8 = 3;
    /// Opcode of `FENCE`.
    pub const OP_FENCE: u8 = 4;

    /// Width of the opcode field of a command word.
    pub const OP_BITS: usize = 4;

    /// One field of the 64-bit command word: bits `lsb + width - 1 ..= lsb`.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct CmdField {
        /// Name used in the documentation (`op`, `rows`, ...).
        pub name: &'static str,
        /// Least significant bit.
        pub lsb: u32,
        /// Width in bits (1..=64).
        pub width: usize,
    }

    impl CmdField {
        /// The field's bits in a word.
        pub const fn mask(self) -> u64 {
            (u64::MAX >> (64 - self.width)) << self.lsb
        }
        /// The field's value in `word`.
        pub const fn get(self, word: u64) -> u64 {
            (word & self.mask()) >> self.lsb
        }
        /// `value` placed in the field (the caller checked that it fits: bits above the
        /// width are dropped).
        pub const fn put(self, value: u64) -> u64 {
            (value << self.lsb) & self.mask()
        }
        /// Most significant bit.
        pub const fn msb(self) -> u32 {
            self.lsb + self.width as u32 - 1
        }
        /// Largest value the field holds.
        pub const fn max(self) -> u64 {
            u64::MAX >> (64 - self.width)
        }
    }

    /// The command encoding: every field of the 64-bit command word, and which fields each
    /// opcode uses (`golden::tile::Command::encode`/`decode` and the RTL tile's
    /// decoder read their bit positions from here). Bits a command does not use
    /// must be 0; a word with a non-zero unused bit is refused.
    ///
    /// | bits | `LOAD` | `COMPUTE` | `STORE` | `FENCE` |
    /// |---|---|---|---|---|
    /// | 63:60 | 1 | 2 | 3 | 4 |
    /// | 59 | 0 | accumulate | 0 | 0 |
    /// | 58:54 | 0 | 0 | shift | 0 |
    /// | 53:42 | rows | 0 | rows | 0 |
    /// | 41:28 | sp addr | a | acc addr | 0 |
    /// | 27:14 | 0 (27:24) / mem addr (23:14) | b | as `LOAD` | 0 |
    /// | 13:0 | mem addr (13:0) | c | as `LOAD` | 0 |
    pub mod cmd {
        use super::CmdField;

        /// Opcode (`OP_LOAD`..`OP_FENCE`).
        pub const OP: CmdField = CmdField {
            name: "op",
            lsb: (super::CMD_BITS - super::OP_BITS) as u32,
            width: super::OP_BITS,
        };
        /// `COMPUTE`: add to the accumulator instead of overwriting it.
        pub const ACC: CmdField = CmdField {
            name: "accumulate",
            lsb: 59,
            width: 1,
        };
        /// `STORE`: arithmetic right shift before saturation.
        pub const SHIFT: CmdField = CmdField {
            name: "shift",
            lsb: 54,
            width: super::SHIFT_BITS,
        };
        /// `LOAD`/`STORE`: rows moved (1..=`MAX_CMD_ROWS`).
        pub const ROWS: CmdField = CmdField {
            name: "rows",
            lsb: 42,
            width: super::ROWS_BITS,
        };
        /// The tile-local address: `LOAD` sp row, `COMPUTE` A block (sp row), `STORE` acc row.
        pub const LOCAL: CmdField = CmdField {
            name: "local",
            lsb: 28,
            width: super::SP_ADDR_BITS,
        };
        /// `COMPUTE`: first scratchpad row of the B block.
        pub const B: CmdField = CmdField {
            name: "b",
            lsb: 14,
            width: super::SP_ADDR_BITS,
        };
        /// `COMPUTE`: first accumulator row of the C block.
        pub const C: CmdField = CmdField {
            name: "c",
            lsb: 0,
            width: super::ACC_ADDR_BITS,
        };
        /// `LOAD`/`STORE`: first shared-memory row.
        pub const MEM: CmdField = CmdField {
            name: "mem",
            lsb: 0,
            width: super::MEM_ADDR_BITS,
        };

        /// Fields of `LOAD`.
        pub const LOAD: [CmdField; 4] = [OP, ROWS, LOCAL, MEM];
        /// Fields of `COMPUTE`.
        pub const COMPUTE: [CmdField; 5] = [OP, ACC, LOCAL, B, C];
        /// Fields of `STORE`.
        pub const STORE: [CmdField; 5] = [OP, SHIFT, ROWS, LOCAL, MEM];
        /// Fields of `FENCE`.
        pub const FENCE: [CmdField; 1] = [OP];

        /// The bits `fields` use; panics (at compile time in a const) if two overlap or one
        /// does not fit the word.
        pub const fn used(fields: &[CmdField]) -> u64 {
            let mut m = 0u64;
            let mut i = 0;
            while i < fields.len() {
                let f = fields[i];
                assert!(f.width >= 1 && f.lsb as usize + f.width <= super::CMD_BITS);
                assert!(m & f.mask() == 0, "command fields overlap");
                m |= f.mask();
                i += 1;
            }
            m
        }

        /// Bits a `LOAD` must leave 0.
        pub const LOAD_RESERVED: u64 = !used(&LOAD);
        /// Bits a `COMPUTE` must leave 0.
        pub const COMPUTE_RESERVED: u64 = !used(&COMPUTE);
        /// Bits a `STORE` must leave 0.
        pub const STORE_RESERVED: u64 = !used(&STORE);
        /// Bits a `FENCE` must leave 0.
        pub const FENCE_RESERVED: u64 = !used(&FENCE);

        /// The reserved bits of the `LOAD`/`STORE` word that hold neither the memory row nor
        /// another field of either: 27:24 and 59 (the RTL checks these for both).
        pub const DMA_RESERVED: u64 = LOAD_RESERVED & STORE_RESERVED;
    }

    // The fields of every command fit the word without overlapping (evaluated by `used`), the
    // local field holds both a scratchpad and an accumulator row, every opcode fits.
    const _: () = assert!(cmd::FENCE_RESERVED == !cmd::OP.mask());
    const _: () = assert!(SP_ADDR_BITS == ACC_ADDR_BITS);
    const _: () = assert!(cmd::OP.lsb as usize + cmd::OP.width == CMD_BITS);
    const _: () = assert!(OP_FENCE as u64 <= cmd::OP.max() && OP_LOAD != 0);
    const _: () = assert!(cmd::ROWS.max() == MAX_CMD_ROWS as u64);
    const _: () = assert!(cmd::SHIFT.max() == MAX_SHIFT as u64);
    const _: () = assert!(cmd::MEM.max() + 1 == MAX_MEM_ROWS as u64);

    /// Pipeline stages between a rank-1 update's scratchpad read and the cycle its products
    /// are added to the partial sums: the PE registers the two int8 lanes it reads from the
    /// scratchpad (so that the block-RAM read and the multiplier are in different cycles) and
    /// registers the product (so that the multiplier and the 32-bit accumulate are in different
    /// cycles). Update `k`'s rows are read in the execute unit's cycle `k`, multiplied in
    /// `k + 1` and added in `k + MAC_STAGES`.
    pub const MAC_STAGES: u64 = 2;

    /// The execute unit's cycle (0 = the cycle after issue) of a `COMPUTE`'s first accumulator
    /// write-back: `DIM` rank-1 update cycles (update `k`'s scratchpad rows read in cycle `k`),
    /// then [`MAC_STAGES`] cycles in which the last update's lanes are multiplied and its
    /// products added (the PE registers the lanes it reads and the product), then `DIM`
    /// write-back cycles (row `i` in cycle `DIM + MAC_STAGES + i`).
    pub const fn compute_writeback_start(dim: usize) -> u64 {
        dim as u64 + MAC_STAGES
    }

    /// Cycles a `COMPUTE` keeps the execute unit busy after its issue cycle: `DIM` rank-1
    /// update cycles, [`MAC_STAGES`] cycles for the last update to be multiplied and
    /// accumulated, then `DIM` accumulator write-back cycles (`2*DIM + 2`; see
    /// [`compute_writeback_start`]). Back-to-back `COMPUTE`s issue every
    /// `compute_cycles + 1` cycles (the next one issues in the cycle the unit is free).
    pub const fn compute_cycles(dim: usize) -> u64 {
        compute_writeback_start(dim) + dim as u64
    }

    const _: () = assert!(MAX_CMD_ROWS < 1 << ROWS_BITS);
    const _: () = assert!(MAX_MEM_ROWS as u64 <= 1 << (super::ADDR_BITS - 1));
    const _: () = assert!((MAX_SP_ROWS as usize) == 1 << SP_ADDR_BITS);
}

// The register map (registers, fields, access, reset values and the validity rule) lives in
// `crate::regs`; `spec` re-exports it so every address, width and range is found here.
pub use crate::regs::{
    ARBITER_REGISTERS, Access, Field, README_BEGIN, README_END, Register, RegisterBlock, Relation,
    THROTTLE_REGISTERS, Valid, arbiter, arbiter_write_ok, registers_markdown, registers_readme,
    throttle, throttle_write_ok, validate,
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_fields_are_where_the_layout_table_says() {
        use tile::cmd;
        let span = |f: tile::CmdField| (f.msb(), f.lsb);
        assert_eq!(span(cmd::OP), (63, 60));
        assert_eq!(span(cmd::ACC), (59, 59));
        assert_eq!(span(cmd::SHIFT), (58, 54));
        assert_eq!(span(cmd::ROWS), (53, 42));
        assert_eq!(span(cmd::LOCAL), (41, 28));
        assert_eq!(span(cmd::B), (27, 14));
        assert_eq!(span(cmd::C), (13, 0));
        assert_eq!(span(cmd::MEM), (23, 0));
        assert_eq!(cmd::DMA_RESERVED, (1 << 59) | (0xF << 24));
        assert_eq!(cmd::LOAD_RESERVED, cmd::DMA_RESERVED | cmd::SHIFT.mask());
        assert_eq!(cmd::COMPUTE_RESERVED, 0x1_FFFF << 42);
        assert_eq!(cmd::ROWS.put(5) | cmd::OP.put(1), (1 << 60) | (5 << 42));
        assert_eq!(cmd::ROWS.get((7 << 42) | 1), 7);
    }
}
