//! MoCA accelerator tile RTL: command queue with decode and bounds check, in-order issue with a
//! scoreboard, a load unit with four slots, a DIM x DIM int8 MAC array (output stationary) and a
//! store unit with shift and saturation, behind one DMA request port.
//!
//! The specification is the golden twin `golden::tile` (timing table in `docs/TILE.md`); the
//! SoC (`crate::soc`) wires tiles to their `MemThrottle`s, the `BusArbiter` and the shared
//! memory. `DIM` and the storage sizes are run-time parameters (Vec lengths and constants);
//! rows are carried as `Bits<128>` (`MAX_DIM` int8 lanes, lane `j` in bits `8j+7..8j`).
//!
//! # Storage
//! [`RowMem`] is a memory of run-time depth with two synchronous read ports (registered read
//! data, address presented one cycle early) and one write port (written at the clock edge),
//! emitted as a Verilog array that yosys can map to block RAM. The scratchpad is one
//! `RowMem<128>` (reads: the executing `COMPUTE`'s A and B rows, addressed one cycle ahead of
//! the rank-1 update from the next-state values of the execute unit's registers; write: the
//! arriving DMA beat); the accumulator is one `RowMem<32>` per lane (reads: the execute unit's
//! read-modify-write and the store unit's conversion, both addressed one cycle ahead in the
//! same way; write: the execute unit). The hazard rules of `docs/TILE.md` keep every row read
//! one cycle ahead stable across that edge, so the timing equals that of combinational reads.
//! [`DelayLine`] is a run-time depth delay (a circular buffer) used by the SoC for the memory
//! read latency.

use golden::spec::{self, tile as ts, tile::cmd};
use golden::tile::TileParams;
use rust_hdl::prelude::*;

/// A scratchpad / memory row: `MAX_DIM` int8 lanes.
pub type Row = Bits<{ ts::MAX_DIM * 8 }>;
/// Addresses inside the tile (rows of any storage, memory rows).
pub type Addr = Bits<32>;
/// Row address of a [`RowMem`].
pub type MemAddr = Bits<{ ts::MEM_ADDR_BITS }>;

fn signals<D: Direction, T: Synth>(n: usize) -> Vec<Signal<D, T>> {
    (0..n).map(|_| Signal::default()).collect()
}

fn dffs<T: Synth>(n: usize) -> Vec<DFF<T>> {
    (0..n).map(|_| DFF::default()).collect()
}

fn konst<const N: usize>(v: u64) -> Constant<Bits<N>> {
    Constant::new(Bits::from(v))
}

/// A memory of `rows` words of `W` bits with two **synchronous** read ports (`ra0`/`rd0`,
/// `ra1`/`rd1`: the address presented in cycle `t` is read at the rising edge ending `t`, the
/// word is on `rd` during `t+1`) and one write port (`we`, `wa`, `wd`) written at the same edge.
/// A read and a write of the same word at the same edge read the old word (read first). Contents
/// start at zero; out-of-range reads give 0 and out-of-range writes are ignored.
///
/// With [`RowMem::with_debug_read`], port 1 is instead a test back door: combinational in
/// simulation (Rust-HDL and Verilator), and synchronous under `SYNTHESIS` (yosys), so that
/// yosys can still infer block RAM for the memory.
#[derive(LogicBlock)]
pub struct RowMem<const W: usize> {
    /// Clock.
    pub clock: Signal<In, Clock>,
    /// Read port 0 address.
    pub ra0: Signal<In, MemAddr>,
    /// Read port 0 data (registered: the word at `ra0` of the previous cycle).
    pub rd0: Signal<Out, Bits<W>>,
    /// Read port 1 address.
    pub ra1: Signal<In, MemAddr>,
    /// Read port 1 data (registered, or combinational for a debug port).
    pub rd1: Signal<Out, Bits<W>>,
    /// Write enable.
    pub we: Signal<In, Bit>,
    /// Write address.
    pub wa: Signal<In, MemAddr>,
    /// Write data.
    pub wd: Signal<In, Bits<W>>,
    _rows: usize,
    _debug1: bool,
    _q0: Bits<W>,
    _q1: Bits<W>,
    _sim: Vec<Bits<W>>,
}

impl<const W: usize> RowMem<W> {
    /// A zeroed memory of `rows` words, both read ports synchronous.
    pub fn new(rows: usize) -> Self {
        Self {
            clock: Default::default(),
            ra0: Default::default(),
            rd0: Default::default(),
            ra1: Default::default(),
            rd1: Default::default(),
            we: Default::default(),
            wa: Default::default(),
            wd: Default::default(),
            _rows: rows,
            _debug1: false,
            _q0: Bits::default(),
            _q1: Bits::default(),
            _sim: vec![Bits::default(); rows],
        }
    }

    /// A zeroed memory of `rows` words whose read port 1 is a test back door (combinational in
    /// simulation, synchronous under `SYNTHESIS`).
    pub fn with_debug_read(rows: usize) -> Self {
        Self {
            _debug1: true,
            ..Self::new(rows)
        }
    }

    /// Number of words.
    pub fn rows(&self) -> usize {
        self._rows
    }

    /// Simulation back door: the word at `row` (0 outside the memory).
    pub fn peek(&self, row: usize) -> Bits<W> {
        self._sim.get(row).copied().unwrap_or_default()
    }

    fn read(&self, a: MemAddr) -> Bits<W> {
        self.peek(a.index())
    }

    /// The Verilog test "`addr` is a row of this memory". With a power-of-two row count it is
    /// "the address bits above the row index are zero" (a LUT tree); otherwise a comparison
    /// with the last row (a carry chain), which on the read ports of a block RAM is on the path
    /// from the read address to the RAM's output reset.
    fn in_range(&self, addr: &str) -> String {
        let rows = self._rows;
        if rows.is_power_of_two() {
            let n = rows.trailing_zeros() as usize;
            if n >= ts::MEM_ADDR_BITS {
                "1'b1".to_string()
            } else {
                format!(
                    "({addr}[{msb}:{n}] == {w}'d0)",
                    msb = ts::MEM_ADDR_BITS - 1,
                    w = ts::MEM_ADDR_BITS - n
                )
            }
        } else {
            format!("({addr} <= {last})", last = rows - 1)
        }
    }
}

impl<const W: usize> Logic for RowMem<W> {
    fn update(&mut self) {
        if self.clock.pos_edge() {
            // Read first: the registered words are those before this edge's write.
            self._q0 = self.read(self.ra0.val());
            self._q1 = self.read(self.ra1.val());
            if self.we.val() {
                let a = self.wa.val().index();
                if a < self._rows {
                    self._sim[a] = self.wd.val();
                }
            }
        }
        self.rd0.next = self._q0;
        self.rd1.next = if self._debug1 {
            self.read(self.ra1.val())
        } else {
            self._q1
        };
    }

    fn connect(&mut self) {
        self.rd0.connect();
        self.rd1.connect();
    }

    fn hdl(&self) -> Verilog {
        let port1 = if self._debug1 {
            format!(
                "\
`ifdef SYNTHESIS
always @(posedge clock) rd1 <= {in1} ? words[ra1] : {W}'d0;
`else
always @(*) rd1 = {in1} ? words[ra1] : {W}'d0;
`endif
",
                in1 = self.in_range("ra1"),
            )
        } else {
            format!(
                "always @(posedge clock) rd1 <= {in1} ? words[ra1] : {W}'d0;\n",
                in1 = self.in_range("ra1"),
            )
        };
        Verilog::Custom(format!(
            "\
reg [{w}:0] words [0:{last}];
integer i;
initial begin
   rd0 = {W}'d0;
   rd1 = {W}'d0;
   for (i = 0; i <= {last}; i = i + 1) words[i] = {W}'d0;
end
always @(posedge clock) begin
   if (we && {inw}) words[wa] <= wd;
end
always @(posedge clock) rd0 <= {in0} ? words[ra0] : {W}'d0;
{port1}",
            w = W - 1,
            last = self._rows - 1,
            inw = self.in_range("wa"),
            in0 = self.in_range("ra0"),
        ))
    }
}

/// A delay of `depth` clock cycles (0..=1024): `q` in cycle `t` is `d` of cycle `t - depth`
/// (0 before). Depth 0 is a wire, depth 1 a register; a longer delay is a circular buffer of
/// `depth` words with one pointer and a registered (synchronous) read of the word written
/// `depth - 1` edges ago, emitted as a Verilog array that yosys can map to block RAM.
#[derive(LogicBlock)]
pub struct DelayLine<const W: usize> {
    /// Clock.
    pub clock: Signal<In, Clock>,
    /// Input.
    pub d: Signal<In, Bits<W>>,
    /// Output (`d` delayed by `depth` cycles).
    pub q: Signal<Out, Bits<W>>,
    _depth: usize,
    _ptr: usize,
    _q: Bits<W>,
    _sim: Vec<Bits<W>>,
}

impl<const W: usize> DelayLine<W> {
    /// A delay line of `depth` cycles (0 is a wire).
    pub fn new(depth: usize) -> Self {
        Self {
            clock: Default::default(),
            d: Default::default(),
            q: Default::default(),
            _depth: depth,
            _ptr: 0,
            _q: Bits::default(),
            _sim: vec![Bits::default(); depth.max(1)],
        }
    }
}

impl<const W: usize> Logic for DelayLine<W> {
    fn update(&mut self) {
        if self._depth == 0 {
            self.q.next = self.d.val();
            return;
        }
        if self.clock.pos_edge() {
            if self._depth == 1 {
                self._q = self.d.val();
            } else {
                self._q = self._sim[(self._ptr + 1) % self._depth];
                self._sim[self._ptr] = self.d.val();
                self._ptr = (self._ptr + 1) % self._depth;
            }
        }
        self.q.next = self._q;
    }

    fn connect(&mut self) {
        self.q.connect();
    }

    fn hdl(&self) -> Verilog {
        Verilog::Custom(match self._depth {
            // The clock is unused at depth 0; Verilator exempts `*unused*` names from
            // UNUSEDSIGNAL, so this keeps `-Wall` clean without a waiver.
            0 => "wire unused_clock = clock;\nalways @(*) q = d;\n".to_string(),
            1 => format!(
                "\
initial q = {W}'d0;
always @(posedge clock) q <= d;
"
            ),
            n => format!(
                "\
reg [{w}:0] line [0:{last}];
reg [10:0] ptr;
reg [10:0] rptr;
integer i;
initial begin
   q = {W}'d0;
   ptr = 11'd0;
   for (i = 0; i <= {last}; i = i + 1) line[i] = {W}'d0;
end
always @(*) rptr = (ptr == 11'd{last}) ? 11'd0 : ptr + 11'd1;
always @(posedge clock) begin
   line[ptr] <= d;
   ptr <= rptr;
end
always @(posedge clock) q <= line[rptr];
",
                w = W - 1,
                last = n - 1,
            ),
        })
    }
}

/// One processing element: an int32 partial sum updated with the exact product of two int8
/// values (a signed 8 x 8 -> 16-bit multiply, sign-extended to 32 bits; sums wrap).
///
/// Two pipeline registers (`golden::spec::tile::MAC_STAGES`): an update presented in cycle `t`
/// (`en`, `a`, `b`, `first`) is registered at the end of `t` (the lanes `a`, `b` in fabric
/// flip-flops, which the placer can put beside the multiplier), multiplied in `t+1` with the
/// product registered, and the registered product is added to the partial sum at the end of
/// `t+2`. So the scratchpad's block-RAM read and its routes to the lane registers, the
/// multiplier and the 32-bit accumulate carry chain are each in a cycle of their own (`sum`
/// shows the update of `t` from `t+3` on; the cycle timing is
/// `golden::spec::tile::compute_cycles`).
///
/// The PE is emitted as hand-written Verilog (Rust-HDL 0.46 only has 16 x 16 multipliers): the
/// product is a signed 8 x 8 multiply (`sa * sb`), which yosys maps to one hard multiplier (ECP5
/// `MULT18X18D`, Xilinx `DSP48E1`, iCE40 `SB_MAC16`) or to LUTs. A device may have fewer hard
/// multipliers than the array has PEs (256 at DIM 16; an ECP5-85F has 156): when the Verilog
/// macro `MOCA_DSP_PES` is defined (by `moca synth`), the PEs with [`Pe::index`] at or above
/// it compute the product as an explicit sum of partial products instead, which yosys maps to
/// LUTs and carry chains. Both forms compute the same value; without the macro (simulation,
/// lint) every PE uses `*`.
#[derive(LogicBlock)]
pub struct Pe {
    /// Clock.
    pub clock: Signal<In, Clock>,
    /// `A[i][k]`.
    pub a: Signal<In, Bits<8>>,
    /// `B[k][j]`.
    pub b: Signal<In, Bits<8>>,
    /// Update this cycle.
    pub en: Signal<In, Bit>,
    /// Overwrite instead of adding (`k = 0`).
    pub first: Signal<In, Bit>,
    /// The partial sum.
    pub sum: Signal<Out, Bits<32>>,
    _index: usize,
    _acc: u32,
    _prod: u32,
    _en: bool,
    _first: bool,
    _a: Bits<8>,
    _b: Bits<8>,
    _en_l: bool,
    _first_l: bool,
}

impl Pe {
    /// The PE with position `index` (`j * DIM + i` for row `i` of column `j`) in its array.
    pub fn new(index: usize) -> Self {
        Self {
            clock: Default::default(),
            a: Default::default(),
            b: Default::default(),
            en: Default::default(),
            first: Default::default(),
            sum: Default::default(),
            _index: index,
            _acc: 0,
            _prod: 0,
            _en: false,
            _first: false,
            _a: Bits::default(),
            _b: Bits::default(),
            _en_l: false,
            _first_l: false,
        }
    }

    /// Position in the array (`j * DIM + i`).
    pub fn index(&self) -> usize {
        self._index
    }

    /// The exact product of two int8 lanes, as the 32-bit two's complement value added.
    pub fn product(a: Bits<8>, b: Bits<8>) -> u32 {
        let a = a.index() as u8 as i8;
        let b = b.index() as u8 as i8;
        (i32::from(a) * i32::from(b)) as u32
    }
}

impl Default for Pe {
    fn default() -> Self {
        Self::new(0)
    }
}

impl Logic for Pe {
    fn update(&mut self) {
        if self.clock.pos_edge() {
            // Oldest stage first: the registered product (update of `t-2`) is added, the
            // registered lanes (update of `t-1`) are multiplied, this cycle's lanes registered.
            if self._en {
                self._acc = if self._first {
                    self._prod
                } else {
                    self._acc.wrapping_add(self._prod)
                };
            }
            self._prod = Self::product(self._a, self._b);
            self._en = self._en_l;
            self._first = self._first_l;
            self._a = self.a.val();
            self._b = self.b.val();
            self._en_l = self.en.val();
            self._first_l = self.first.val();
        }
        self.sum.next = Bits::from(u64::from(self._acc));
    }

    fn connect(&mut self) {
        self.sum.connect();
    }

    fn hdl(&self) -> Verilog {
        Verilog::Custom(format!(
            "\
// The lanes are registered (in fabric flip-flops, placed near the multiplier): the scratchpad's
// block-RAM read and the multiply are in different cycles.
reg [7:0] a_q;
reg [7:0] b_q;
reg en_l;
reg first_l;
wire signed [7:0] sa = a_q;
wire signed [7:0] sb = b_q;
wire signed [15:0] prod;
`ifdef MOCA_DSP_PES
generate
   if ({index} >= `MOCA_DSP_PES) begin : lut_mul
      // Partial products of the sign-extended a; the last (b's sign bit) is subtracted.
      wire [15:0] ax = {{{{8{{a_q[7]}}}}, a_q}};
      assign prod = (b_q[0] ? ax : 16'd0) + (b_q[1] ? {{ax[14:0], 1'b0}} : 16'd0)
                  + (b_q[2] ? {{ax[13:0], 2'b0}} : 16'd0) + (b_q[3] ? {{ax[12:0], 3'b0}} : 16'd0)
                  + (b_q[4] ? {{ax[11:0], 4'b0}} : 16'd0) + (b_q[5] ? {{ax[10:0], 5'b0}} : 16'd0)
                  + (b_q[6] ? {{ax[9:0], 6'b0}} : 16'd0) - (b_q[7] ? {{ax[8:0], 7'b0}} : 16'd0);
   end else begin : dsp_mul
      assign prod = sa * sb;
   end
endgenerate
`else
assign prod = sa * sb;
`endif
// The product is registered; the accumulate adds it one cycle later.
reg [15:0] prod_q;
reg en_q;
reg first_q;
initial begin
   sum = 32'd0;
   a_q = 8'd0;
   b_q = 8'd0;
   en_l = 1'b0;
   first_l = 1'b0;
   prod_q = 16'd0;
   en_q = 1'b0;
   first_q = 1'b0;
end
always @(posedge clock) begin
   a_q <= a;
   b_q <= b;
   en_l <= en;
   first_l <= first;
   prod_q <= prod;
   en_q <= en_l;
   first_q <= first_l;
   if (en_q) sum <= (first_q ? 32'd0 : sum) + {{{{16{{prod_q[15]}}}}, prod_q}};
end
",
            index = self._index
        ))
    }
}

/// One column `j` of the MAC array: `DIM` PEs holding `C[i][j]`, `i < DIM`. In an update
/// cycle (`en`) PE `i` takes `a_row` lane `i` (`A[i][k]`) and `b_row` lane `j` (`B[k][j]`).
/// `out` is the partial sum of row `wb_row`.
#[derive(LogicBlock)]
pub struct PeColumn {
    /// Clock.
    pub clock: Signal<In, Clock>,
    /// Scratchpad row `a+k`: lane `i` is `A[i][k]`.
    pub a_row: Signal<In, Row>,
    /// Scratchpad row `b+k`: lane `j` is `B[k][j]`.
    pub b_row: Signal<In, Row>,
    /// Rank-1 update this cycle.
    pub en: Signal<In, Bit>,
    /// First update (`k = 0`): overwrite instead of adding.
    pub first: Signal<In, Bit>,
    /// Row selected on `out`.
    pub wb_row: Signal<In, Bits<8>>,
    /// Partial sum of row `wb_row`.
    pub out: Signal<Out, Bits<32>>,
    /// The PEs, one per row.
    pub pe: Vec<Pe>,
    b8: Signal<Local, Bits<8>>,
    b_shift: Constant<Bits<8>>,
    row_id: Vec<Constant<Bits<8>>>,
}

impl PeColumn {
    /// Column `j` of a `dim` x `dim` array.
    pub fn new(dim: usize, j: usize) -> Self {
        Self {
            clock: Default::default(),
            a_row: Default::default(),
            b_row: Default::default(),
            en: Default::default(),
            first: Default::default(),
            wb_row: Default::default(),
            out: Default::default(),
            pe: (0..dim).map(|i| Pe::new(j * dim + i)).collect(),
            b8: Default::default(),
            b_shift: konst((8 * j) as u64),
            row_id: (0..dim).map(|i| konst(i as u64)).collect(),
        }
    }
}

impl Logic for PeColumn {
    #[hdl_gen]
    fn update(&mut self) {
        self.b8.next = bit_cast::<8, 128>(self.b_row.val() >> self.b_shift.val());
        self.out.next = 0.into();
        for i in 0..self.pe.len() {
            self.pe[i].clock.next = self.clock.val();
            self.pe[i].a.next = self.a_row.val().get_bits::<8>(i * 8);
            self.pe[i].b.next = self.b8.val();
            self.pe[i].en.next = self.en.val();
            self.pe[i].first.next = self.first.val();
            if self.wb_row.val() == self.row_id[i].val() {
                self.out.next = self.pe[i].sum.val();
            }
        }
    }
}

/// The `STORE` conversion of one lane: arithmetic right shift by `shift`, saturation to int8,
/// placed in its lane of a row (`row` is zero outside the lane).
///
/// The saturation test needs no comparator: `x >> shift` exceeds 127 exactly when `x` is
/// non-negative and has a bit set at or above `shift + 7`, and is below -128 exactly when `x`
/// is negative and has a bit clear there. `m_sat` (ones at bits `shift+7..=31`) and `m_sx`
/// (the low byte of the arithmetic shift's sign bits, `!(0xFFFF_FFFF >> shift)`) depend on the
/// shift only, so the store unit keeps them in registers.
#[derive(LogicBlock)]
pub struct Requant {
    /// Accumulator value (int32).
    pub x: Signal<In, Bits<32>>,
    /// Shift (0..=31).
    pub shift: Signal<In, Bits<5>>,
    /// Ones at bits `shift + 7 ..= 31`.
    pub m_sat: Signal<In, Bits<32>>,
    /// The low byte of `!(0xFFFF_FFFF >> shift)`.
    pub m_sx: Signal<In, Bits<8>>,
    /// The int8 result in its lane.
    pub row: Signal<Out, Row>,
    y: Signal<Local, Bits<8>>,
    lane_shift: Constant<Bits<8>>,
}

impl Requant {
    /// The converter of lane `j`.
    pub fn new(j: usize) -> Self {
        Self {
            x: Default::default(),
            shift: Default::default(),
            m_sat: Default::default(),
            m_sx: Default::default(),
            row: Default::default(),
            y: Default::default(),
            lane_shift: konst((8 * j) as u64),
        }
    }
}

impl Logic for Requant {
    #[hdl_gen]
    fn update(&mut self) {
        self.y.next = bit_cast::<8, 32>(self.x.val() >> bit_cast::<32, 5>(self.shift.val()));
        if self.x.val().get_bit(31) {
            self.y.next = bit_cast::<8, 32>(self.x.val() >> bit_cast::<32, 5>(self.shift.val()))
                | self.m_sx.val();
            if (!self.x.val() & self.m_sat.val()) != 0 {
                self.y.next = 0x80.into();
            }
        } else if (self.x.val() & self.m_sat.val()) != 0 {
            self.y.next = 0x7F.into();
        }
        self.row.next = bit_cast::<128, 8>(self.y.val()) << self.lane_shift.val();
    }
}

/// Command-field widths for Rust-HDL's `Bits<N>`, taken from the encoding table
/// ([`golden::spec::tile::cmd`]).
const OP_W: usize = cmd::OP.width;
const SHIFT_W: usize = cmd::SHIFT.width;
const ROWS_W: usize = cmd::ROWS.width;
const LOCAL_W: usize = cmd::LOCAL.width;
const B_W: usize = cmd::B.width;
const C_W: usize = cmd::C.width;
const MEM_W: usize = cmd::MEM.width;
/// Width of a row-range end (`start + DIM` or `start + rows`): the largest is
/// `MAX_SP_ROWS - 1 + MAX_CMD_ROWS`.
pub const END_BITS: usize = 16;
/// Width of a command-queue index: the queue is a circular buffer of `QUEUE_DEPTH` (a power of
/// two, so the index wraps by itself).
pub const QID_BITS: usize = spec::bits_for(ts::QUEUE_DEPTH - 1);
/// Width of a load-slot index (`LOAD_SLOTS` a power of two).
pub const SID_BITS: usize = spec::bits_for(ts::LOAD_SLOTS - 1);
const _: () = assert!(ts::QUEUE_DEPTH.is_power_of_two() && ts::QUEUE_DEPTH == 1 << QID_BITS);
const _: () = assert!(ts::LOAD_SLOTS.is_power_of_two() && ts::LOAD_SLOTS == 1 << SID_BITS);
const _: () = assert!(ts::LOAD_SLOTS > 1 && ts::QUEUE_DEPTH > 1);
/// Width of the reserved bits a `COMPUTE` leaves 0 (58:42) and a `FENCE` (59:0).
const COMPUTE_RES_W: usize = 17;
const FENCE_RES_W: usize = ts::CMD_BITS - OP_W;

// `hdl_gen` needs literal bit offsets: `CmdDecode::update` slices the word at the offsets
// asserted here, so a change of the layout in `spec` fails to compile instead of silently
// decoding the wrong bits.
const _: () = assert!(
    cmd::OP.lsb == 60
        && cmd::ACC.lsb == 59
        && cmd::ACC.width == 1
        && cmd::SHIFT.lsb == 54
        && cmd::ROWS.lsb == 42
        && cmd::LOCAL.lsb == 28
        && cmd::B.lsb == 14
        && cmd::C.lsb == 0
        && cmd::MEM.lsb == 0
);
const _: () = assert!(cmd::DMA_RESERVED == (0xF << 24) | (1 << 59));
const _: () = assert!(cmd::LOAD_RESERVED == cmd::DMA_RESERVED | cmd::SHIFT.mask());
const _: () = assert!(cmd::STORE_RESERVED == cmd::DMA_RESERVED);
const _: () = assert!(cmd::COMPUTE_RESERVED == ((1 << COMPUTE_RES_W) - 1) << 42);
const _: () = assert!(cmd::FENCE_RESERVED == (1 << FENCE_RES_W) - 1);
const _: () = assert!(ts::MAX_SP_ROWS as usize - 1 + ts::MAX_CMD_ROWS as usize <= 1 << END_BITS);
const _: () = assert!(ts::MAX_SP_ROWS as usize - 1 + ts::MAX_DIM < 1 << END_BITS);

/// The command decoder (combinational): the fields of a 64-bit command word
/// ([`golden::spec::tile::cmd`]) zero-extended to the widths the tile computes with, and the
/// reserved-bit checks of `golden::tile::Command::decode`. The tile uses one for the host word,
/// one for the queue head and one for each of the two next-head candidates.
#[derive(LogicBlock, Default)]
pub struct CmdDecode {
    /// The command word.
    pub word: Signal<In, Bits<{ ts::CMD_BITS }>>,
    /// Opcode.
    pub op: Signal<Out, Bits<OP_W>>,
    /// `COMPUTE`'s accumulate bit.
    pub acc: Signal<Out, Bit>,
    /// `STORE`'s shift.
    pub shift: Signal<Out, Bits<SHIFT_W>>,
    /// Rows of `LOAD`/`STORE`.
    pub rows: Signal<Out, Addr>,
    /// The local address (sp row, A block, acc row).
    pub loc: Signal<Out, Addr>,
    /// `COMPUTE`'s B block.
    pub b: Signal<Out, Addr>,
    /// `COMPUTE`'s C block.
    pub c: Signal<Out, Addr>,
    /// Memory row of `LOAD`/`STORE`.
    pub mem: Signal<Out, Addr>,
    /// `loc` at the width of a row-range end.
    pub loc16: Signal<Out, Bits<END_BITS>>,
    /// `b` at the width of a row-range end.
    pub b16: Signal<Out, Bits<END_BITS>>,
    /// `c` at the width of a row-range end.
    pub c16: Signal<Out, Bits<END_BITS>>,
    /// `rows` at the width of a row-range end.
    pub rows16: Signal<Out, Bits<END_BITS>>,
    /// A reserved bit of both `LOAD` and `STORE` is set (27:24, 59).
    pub res_dma: Signal<Out, Bit>,
    /// The shift field is not 0 (reserved in a `LOAD`).
    pub res_shift: Signal<Out, Bit>,
    /// A bit a `COMPUTE` leaves 0 is set.
    pub res_compute: Signal<Out, Bit>,
    /// A bit a `FENCE` leaves 0 is set.
    pub res_fence: Signal<Out, Bit>,
}

impl Logic for CmdDecode {
    #[hdl_gen]
    fn update(&mut self) {
        self.op.next = self.word.val().get_bits::<OP_W>(60);
        self.acc.next = self.word.val().get_bit(59);
        self.shift.next = self.word.val().get_bits::<SHIFT_W>(54);
        self.rows.next = bit_cast::<32, ROWS_W>(self.word.val().get_bits::<ROWS_W>(42));
        self.loc.next = bit_cast::<32, LOCAL_W>(self.word.val().get_bits::<LOCAL_W>(28));
        self.b.next = bit_cast::<32, B_W>(self.word.val().get_bits::<B_W>(14));
        self.c.next = bit_cast::<32, C_W>(self.word.val().get_bits::<C_W>(0));
        self.mem.next = bit_cast::<32, MEM_W>(self.word.val().get_bits::<MEM_W>(0));
        self.loc16.next = bit_cast::<END_BITS, LOCAL_W>(self.word.val().get_bits::<LOCAL_W>(28));
        self.b16.next = bit_cast::<END_BITS, B_W>(self.word.val().get_bits::<B_W>(14));
        self.c16.next = bit_cast::<END_BITS, C_W>(self.word.val().get_bits::<C_W>(0));
        self.rows16.next = bit_cast::<END_BITS, ROWS_W>(self.word.val().get_bits::<ROWS_W>(42));
        self.res_dma.next = (self.word.val().get_bits::<4>(24) != 0) | self.word.val().get_bit(59);
        self.res_shift.next = self.word.val().get_bits::<SHIFT_W>(54) != 0;
        self.res_compute.next = self.word.val().get_bits::<COMPUTE_RES_W>(42) != 0;
        self.res_fence.next = self.word.val().get_bits::<FENCE_RES_W>(0) != 0;
    }
}

/// The DMA request selector (combinational): which unit presents the tile's memory request
/// (`golden::tile` `fire`/`hold`). A request stalled by `dma_ready` is held (`hold`: 0 none,
/// 1 load, 2 store) and presented again unchanged; otherwise the store unit's request goes
/// first, then the request of load slot `ld_req` (the oldest slot with rows not yet
/// requested). A request asks for at most `MAX_REQ_ROWS` beats; a store's address carries
/// `WRITE_FLAG`.
#[derive(LogicBlock)]
pub struct DmaSelect {
    /// The hold register (0 none, 1 load, 2 store).
    pub hold: Signal<In, Bits<2>>,
    /// Store unit busy.
    pub st_on: Signal<In, Bit>,
    /// Store unit: next memory row to request.
    pub st_addr: Signal<In, Addr>,
    /// Store unit: rows not yet requested.
    pub st_left: Signal<In, Addr>,
    /// The load slot whose rows are requested next.
    pub ld_req: Signal<In, Bits<SID_BITS>>,
    /// Load slot `i` in use.
    pub ld_valid: Vec<Signal<In, Bit>>,
    /// Load slot `i`: next memory row to request.
    pub ld_addr: Vec<Signal<In, Addr>>,
    /// Load slot `i`: rows not yet requested.
    pub ld_left: Vec<Signal<In, Addr>>,
    /// The environment accepts the request (`dma_ready`).
    pub dma_ready: Signal<In, Bit>,
    /// Request valid.
    pub valid: Signal<Out, Bit>,
    /// Request beats (0 when not valid).
    pub beats: Signal<Out, Bits<{ spec::BEATS_BITS }>>,
    /// Request address (0 when not valid).
    pub addr: Signal<Out, Bits<{ spec::ADDR_BITS }>>,
    /// The hold register's next value.
    pub hold_d: Signal<Out, Bits<2>>,
    /// The store unit's request fires.
    pub fire_st: Signal<Out, Bit>,
    /// Beats of the store unit's request.
    pub st_beats: Signal<Out, Addr>,
    /// Slot `ld_req`'s request fires.
    pub fire_ld: Signal<Out, Bit>,
    /// Beats of slot `ld_req`'s request.
    pub ld_beats: Signal<Out, Addr>,
    /// Slot `ld_req`'s request is its last (its rows left fit in one request).
    pub ld_last: Signal<Out, Bit>,
    st_v: Signal<Local, Bit>,
    lr_valid: Signal<Local, Bit>,
    lr_addr: Signal<Local, Addr>,
    lr_left: Signal<Local, Addr>,
    lr_v: Signal<Local, Bit>,
    use_st: Signal<Local, Bit>,
    use_ld: Signal<Local, Bit>,
    fire: Signal<Local, Bit>,
    c_four: Constant<Addr>,
    c_wflag: Constant<Addr>,
    sid: Vec<Constant<Bits<SID_BITS>>>,
}

impl Default for DmaSelect {
    fn default() -> Self {
        Self {
            hold: Default::default(),
            st_on: Default::default(),
            st_addr: Default::default(),
            st_left: Default::default(),
            ld_req: Default::default(),
            ld_valid: signals(ts::LOAD_SLOTS),
            ld_addr: signals(ts::LOAD_SLOTS),
            ld_left: signals(ts::LOAD_SLOTS),
            dma_ready: Default::default(),
            valid: Default::default(),
            beats: Default::default(),
            addr: Default::default(),
            hold_d: Default::default(),
            fire_st: Default::default(),
            st_beats: Default::default(),
            fire_ld: Default::default(),
            ld_beats: Default::default(),
            ld_last: Default::default(),
            st_v: Default::default(),
            lr_valid: Default::default(),
            lr_addr: Default::default(),
            lr_left: Default::default(),
            lr_v: Default::default(),
            use_st: Default::default(),
            use_ld: Default::default(),
            fire: Default::default(),
            c_four: konst(u64::from(ts::MAX_REQ_ROWS)),
            c_wflag: konst(u64::from(ts::WRITE_FLAG)),
            sid: (0..ts::LOAD_SLOTS).map(|i| konst(i as u64)).collect(),
        }
    }
}

impl Logic for DmaSelect {
    #[hdl_gen]
    fn update(&mut self) {
        self.st_beats.next = self.st_left.val();
        if self.st_left.val() > self.c_four.val() {
            self.st_beats.next = self.c_four.val();
        }
        self.st_v.next = self.st_on.val() & (self.st_left.val() != 0);
        self.lr_valid.next = false;
        self.lr_addr.next = 0.into();
        self.lr_left.next = 0.into();
        for i in 0..self.ld_valid.len() {
            if self.ld_req.val() == self.sid[i].val() {
                self.lr_valid.next = self.ld_valid[i].val();
                self.lr_addr.next = self.ld_addr[i].val();
                self.lr_left.next = self.ld_left[i].val();
            }
        }
        self.ld_beats.next = self.lr_left.val();
        if self.lr_left.val() > self.c_four.val() {
            self.ld_beats.next = self.c_four.val();
        }
        self.ld_last.next = self.lr_left.val() <= self.c_four.val();
        self.lr_v.next = self.lr_valid.val() & (self.lr_left.val() != 0);
        self.use_st.next = (self.hold.val() == 2) | ((self.hold.val() == 0) & self.st_v.val());
        self.use_ld.next =
            (self.hold.val() == 1) | ((self.hold.val() == 0) & !self.st_v.val() & self.lr_v.val());
        self.valid.next =
            (self.use_st.val() & self.st_v.val()) | (self.use_ld.val() & self.lr_v.val());
        self.beats.next = 0.into();
        self.addr.next = 0.into();
        if self.use_st.val() & self.st_v.val() {
            self.beats.next = bit_cast::<3, 32>(self.st_beats.val());
            self.addr.next = self.st_addr.val() | self.c_wflag.val();
        }
        if self.use_ld.val() & self.lr_v.val() {
            self.beats.next = bit_cast::<3, 32>(self.ld_beats.val());
            self.addr.next = self.lr_addr.val();
        }
        self.fire.next = self.valid.val() & self.dma_ready.val();
        self.fire_st.next = self.fire.val() & self.use_st.val();
        self.fire_ld.next = self.fire.val() & self.use_ld.val();
        self.hold_d.next = 0.into();
        if self.valid.val() & !self.dma_ready.val() {
            self.hold_d.next = 1.into();
            if self.use_st.val() {
                self.hold_d.next = 2.into();
            }
        }
    }
}

/// The issue check (combinational): may the queue head issue this cycle (`golden::tile`
/// `can_issue`)? Every input is a register: the head's decoded fields and row-range ends, the
/// load slots', the execute unit's and the store unit's. A `LOAD` needs a free slot and must not
/// overwrite the A or B rows of the executing `COMPUTE` (WAR); a `COMPUTE` needs the execute
/// unit free, no load slot still writing its A or B rows (RAW) and the active `STORE` not
/// reading its C rows (WAR); a `STORE` needs the store unit free and must not read the C rows
/// the executing `COMPUTE` writes (RAW); a `FENCE` waits until every unit is idle. Row ranges
/// overlap when each starts before the other ends.
#[derive(LogicBlock)]
pub struct Hazards {
    /// The head's opcode.
    pub op: Signal<In, Bits<OP_W>>,
    /// The head's local address (sp row, A block, acc row).
    pub loc16: Signal<In, Bits<END_BITS>>,
    /// The head's B block.
    pub b16: Signal<In, Bits<END_BITS>>,
    /// The head's C block.
    pub c16: Signal<In, Bits<END_BITS>>,
    /// The head's A rows' end (`loc + DIM`).
    pub h_a_end: Signal<In, Bits<END_BITS>>,
    /// The head's B rows' end (`b + DIM`).
    pub h_b_end: Signal<In, Bits<END_BITS>>,
    /// The head's C rows' end (`c + DIM`).
    pub h_c_end: Signal<In, Bits<END_BITS>>,
    /// The head's local rows' end (`loc + rows`).
    pub h_l_end: Signal<In, Bits<END_BITS>>,
    /// Commands queued.
    pub q_cnt: Signal<In, Bits<{ ts::QUEUE_COUNT_BITS }>>,
    /// Load slots in use.
    pub ld_cnt: Signal<In, Bits<{ ts::LOAD_COUNT_BITS }>>,
    /// Load slot `i` in use.
    pub ld_valid: Vec<Signal<In, Bit>>,
    /// Load slot `i`: first scratchpad row.
    pub ld_sp: Vec<Signal<In, Bits<END_BITS>>>,
    /// Load slot `i`: scratchpad rows' end.
    pub ld_end: Vec<Signal<In, Bits<END_BITS>>>,
    /// Execute unit busy.
    pub ex_on: Signal<In, Bit>,
    /// Executing `COMPUTE`: A block.
    pub ex_a: Signal<In, Addr>,
    /// Executing `COMPUTE`: B block.
    pub ex_b: Signal<In, Addr>,
    /// Executing `COMPUTE`: C block.
    pub ex_c: Signal<In, Addr>,
    /// Executing `COMPUTE`: A rows' end.
    pub ex_a_end: Signal<In, Bits<END_BITS>>,
    /// Executing `COMPUTE`: B rows' end.
    pub ex_b_end: Signal<In, Bits<END_BITS>>,
    /// Executing `COMPUTE`: C rows' end.
    pub ex_c_end: Signal<In, Bits<END_BITS>>,
    /// Store unit busy.
    pub st_on: Signal<In, Bit>,
    /// Active `STORE`: first acc row.
    pub st_acc: Signal<In, Addr>,
    /// Active `STORE`: acc rows' end.
    pub st_end: Signal<In, Bits<END_BITS>>,
    /// The head issues (it may, and the queue is not empty).
    pub issue: Signal<Out, Bit>,
    /// A `LOAD` issues.
    pub iss_ld: Signal<Out, Bit>,
    /// A `COMPUTE` issues.
    pub iss_ex: Signal<Out, Bit>,
    /// A `STORE` issues.
    pub iss_st: Signal<Out, Bit>,
    sc: Vec<Signal<Local, Bit>>,
    // `sc_any[i+1]`: one of slots `0..=i` conflicts.
    sc_any: Vec<Signal<Local, Bit>>,
    sc_hit: Signal<Local, Bit>,
    can: Signal<Local, Bit>,
    c_slots: Constant<Bits<{ ts::LOAD_COUNT_BITS }>>,
    op_load: Constant<Bits<OP_W>>,
    op_compute: Constant<Bits<OP_W>>,
    op_store: Constant<Bits<OP_W>>,
    op_fence: Constant<Bits<OP_W>>,
}

impl Default for Hazards {
    fn default() -> Self {
        Self {
            op: Default::default(),
            loc16: Default::default(),
            b16: Default::default(),
            c16: Default::default(),
            h_a_end: Default::default(),
            h_b_end: Default::default(),
            h_c_end: Default::default(),
            h_l_end: Default::default(),
            q_cnt: Default::default(),
            ld_cnt: Default::default(),
            ld_valid: signals(ts::LOAD_SLOTS),
            ld_sp: signals(ts::LOAD_SLOTS),
            ld_end: signals(ts::LOAD_SLOTS),
            ex_on: Default::default(),
            ex_a: Default::default(),
            ex_b: Default::default(),
            ex_c: Default::default(),
            ex_a_end: Default::default(),
            ex_b_end: Default::default(),
            ex_c_end: Default::default(),
            st_on: Default::default(),
            st_acc: Default::default(),
            st_end: Default::default(),
            issue: Default::default(),
            iss_ld: Default::default(),
            iss_ex: Default::default(),
            iss_st: Default::default(),
            sc: signals(ts::LOAD_SLOTS),
            sc_any: signals(ts::LOAD_SLOTS + 1),
            sc_hit: Default::default(),
            can: Default::default(),
            c_slots: konst(ts::LOAD_SLOTS as u64),
            op_load: konst(u64::from(ts::OP_LOAD)),
            op_compute: konst(u64::from(ts::OP_COMPUTE)),
            op_store: konst(u64::from(ts::OP_STORE)),
            op_fence: konst(u64::from(ts::OP_FENCE)),
        }
    }
}

impl Logic for Hazards {
    #[hdl_gen]
    fn update(&mut self) {
        // RAW of a COMPUTE's A or B rows against each load slot.
        self.sc_any[0].next = false;
        for i in 0..self.ld_valid.len() {
            self.sc[i].next = self.ld_valid[i].val()
                & (((self.loc16.val() < self.ld_end[i].val())
                    & (self.ld_sp[i].val() < self.h_a_end.val()))
                    | ((self.b16.val() < self.ld_end[i].val())
                        & (self.ld_sp[i].val() < self.h_b_end.val())));
            self.sc_any[i + 1].next = self.sc_any[i].val() | self.sc[i].val();
            self.sc_hit.next = self.sc_any[i + 1].val();
        }
        self.can.next = false;
        if self.op.val() == self.op_load.val() {
            self.can.next = (self.ld_cnt.val() != self.c_slots.val())
                & !(self.ex_on.val()
                    & (((self.loc16.val() < self.ex_a_end.val())
                        & (bit_cast::<16, 32>(self.ex_a.val()) < self.h_l_end.val()))
                        | ((self.loc16.val() < self.ex_b_end.val())
                            & (bit_cast::<16, 32>(self.ex_b.val()) < self.h_l_end.val()))));
        }
        if self.op.val() == self.op_compute.val() {
            self.can.next = !self.ex_on.val()
                & !self.sc_hit.val()
                & !(self.st_on.val()
                    & (self.c16.val() < self.st_end.val())
                    & (bit_cast::<16, 32>(self.st_acc.val()) < self.h_c_end.val()));
        }
        if self.op.val() == self.op_store.val() {
            self.can.next = !self.st_on.val()
                & !(self.ex_on.val()
                    & (self.loc16.val() < self.ex_c_end.val())
                    & (bit_cast::<16, 32>(self.ex_c.val()) < self.h_l_end.val()));
        }
        if self.op.val() == self.op_fence.val() {
            self.can.next = (self.ld_cnt.val() == 0) & !self.ex_on.val() & !self.st_on.val();
        }
        self.issue.next = self.can.val() & (self.q_cnt.val() != 0);
        self.iss_ld.next = self.issue.val() & (self.op.val() == self.op_load.val());
        self.iss_ex.next = self.issue.val() & (self.op.val() == self.op_compute.val());
        self.iss_st.next = self.issue.val() & (self.op.val() == self.op_store.val());
    }
}

/// Declares a block whose ports begin with the tile's: the clock, the host command port, the
/// DMA request, then the block's own `between` fields, then the status outputs, then its other
/// fields. The port list is written once, here, and used by [`Tile`] and by the tile's bench
/// (`crate::tile_bench::TileBench`, which passes them through):
///
/// ```ignore
/// tile_ports! { #[derive(LogicBlock)] pub struct Name { between fields } { other fields } }
/// tile_ports!(init Name { between values } { other values }) // the ports at their defaults
/// ```
///
/// `tile_ports! { with group; ... }` and `tile_ports!(init with group; ...)` hand the result
/// (the tile's ports and the `between` fields, then the other fields) on to another port
/// group's macro of the same form, such as `crate::soc::backdoor_ports!`: a block with
/// several groups declares each group's ports once.
macro_rules! tile_ports {
    (@list $then:ident $args:tt) => {
        tile_ports! { @$then $args [
            /// Clock.
            clock: In Clock,
        ] [
            /// Host: a command word is presented.
            cmd_valid: In Bit,
            /// Host: the command word.
            cmd_word: In Bits<{ ::golden::spec::tile::CMD_BITS }>,
            /// Host: the queue has room (fewer than `QUEUE_DEPTH` commands at the start of the
            /// cycle).
            cmd_ready: Out Bit,
            /// DMA request valid (towards the throttle's `up_valid`).
            dma_valid: Out Bit,
            /// DMA request beats (1..=`MAX_REQ_ROWS`).
            dma_beats: Out Bits<{ ::golden::spec::BEATS_BITS }>,
            /// DMA request address (memory row; bit 31 set for a write).
            dma_addr: Out Bits<{ ::golden::spec::ADDR_BITS }>,
        ] [
            /// The queue head issues this cycle.
            issue: Out Bit,
            /// Commands queued (cycle start).
            q_count: Out Bits<{ ::golden::spec::tile::QUEUE_COUNT_BITS }>,
            /// Load slots in use (cycle start).
            ld_count: Out Bits<{ ::golden::spec::tile::LOAD_COUNT_BITS }>,
            /// Execute unit busy.
            ex_busy: Out Bit,
            /// Store unit busy.
            st_busy: Out Bit,
            /// Nothing queued or in flight.
            idle: Out Bit,
            /// Sticky: a host word was dropped.
            cmd_error: Out Bit,
        ] }
    };
    (@decl [$wrap:ident $kind:tt $(#[$m:meta])* $name:ident [$($between:tt)*] [$($rest:tt)*]]
        [$($(#[$cd:meta])* $c:ident : $cdir:ident $cty:ty,)*]
        [$($(#[$hd:meta])* $h:ident : $hdir:ident $hty:ty,)*]
        [$($(#[$sd:meta])* $s:ident : $sdir:ident $sty:ty,)*]) => {
        $wrap! {
            $(#[$m])*
            pub struct $name {
                $($(#[$cd])* pub $c: Signal<$cdir, $cty>,)*
                $($(#[$hd])* pub $h: tile_ports!(@ty $kind Signal<$hdir, $hty>),)*
                $($between)*
                $($(#[$sd])* pub $s: tile_ports!(@ty $kind Signal<$sdir, $sty>),)*
            } {
                $($rest)*
            }
        }
    };
    (@init [$wrap:ident $each:tt $name:ident [$($between:tt)*] [$($rest:tt)*]]
        [$($(#[$cd:meta])* $c:ident : $cdir:ident $cty:ty,)*]
        [$($(#[$hd:meta])* $h:ident : $hdir:ident $hty:ty,)*]
        [$($(#[$sd:meta])* $s:ident : $sdir:ident $sty:ty,)*]) => {
        $wrap!(init $name {
            $($c: Default::default(),)*
            $($h: tile_ports!(@value $each),)*
            $($between)*
            $($s: tile_ports!(@value $each),)*
        } {
            $($rest)*
        })
    };
    (@value ()) => { Default::default() };
    (@value ($each:expr)) => { $each };
    (@ty () $t:ty) => { $t };
    (@ty (Vec) $t:ty) => { Vec<$t> };
    (init $name:ident { $($between:tt)* } { $($rest:tt)* }) => {
        tile_ports!(init with ports_struct; $name { $($between)* } { $($rest)* })
    };
    (init with $wrap:ident; $name:ident { $($between:tt)* } { $($rest:tt)* }) => {
        tile_ports!(@list init [$wrap () $name [$($between)*] [$($rest)*]])
    };
    (init vec($each:expr) with $wrap:ident; $name:ident { $($between:tt)* } { $($rest:tt)* }) => {
        tile_ports!(@list init [$wrap ($each) $name [$($between)*] [$($rest)*]])
    };
    ($(#[$m:meta])* pub struct $name:ident { $($between:tt)* } { $($rest:tt)* }) => {
        tile_ports! { with ports_struct; $(#[$m])* pub struct $name { $($between)* } { $($rest)* } }
    };
    (with $wrap:ident; $(#[$m:meta])* pub struct $name:ident { $($between:tt)* } { $($rest:tt)* }) => {
        tile_ports!(@list decl [$wrap () $(#[$m])* $name [$($between)*] [$($rest)*]]);
    };
    (vec with $wrap:ident; $(#[$m:meta])* pub struct $name:ident { $($between:tt)* } { $($rest:tt)* }) => {
        tile_ports!(@list decl [$wrap (Vec) $(#[$m])* $name [$($between)*] [$($rest)*]]);
    };
}
pub(crate) use tile_ports;

/// The end of a chain of port-group macros (`tile_ports!`, `crate::soc::backdoor_ports!`):
/// the struct (or its initialiser) with the fields collected so far.
macro_rules! ports_struct {
    ($(#[$m:meta])* pub struct $name:ident { $($a:tt)* } { $($b:tt)* }) => {
        $(#[$m])*
        pub struct $name { $($a)* $($b)* }
    };
    (init $name:ident { $($a:tt)* } { $($b:tt)* }) => {
        $name { $($a)* $($b)* }
    };
}

tile_ports! {
/// The tile. Ports first; `update()` implements `golden::tile::Tile` with the timing of
/// `docs/TILE.md`.
#[derive(LogicBlock)]
pub struct Tile {
    /// The throttle accepts the request (`up_ready`): it fires.
    pub dma_ready: Signal<In, Bit>,
    /// A read beat for this tile arrives (written to the scratchpad at the end of the cycle).
    pub rd_valid: Signal<In, Bit>,
    /// The arriving read beat.
    pub rd_data: Signal<In, Row>,
    /// The converted accumulator row of the store unit's current write beat.
    pub st_wdata: Signal<Out, Row>,
} {
    /// Scratchpad.
    pub sp: RowMem<128>,
    /// Accumulator, one memory per lane.
    pub acc: Vec<RowMem<32>>,
    /// The MAC array, one block per column.
    pub cols: Vec<PeColumn>,
    /// The store conversion, one block per lane.
    pub conv: Vec<Requant>,
    // Command queue.
    queue: Vec<DFF<Bits<{ ts::CMD_BITS }>>>,
    q_head: DFF<Bits<QID_BITS>>,
    q_tail: DFF<Bits<QID_BITS>>,
    q_cnt: DFF<Bits<{ ts::QUEUE_COUNT_BITS }>>,
    err: DFF<Bit>,
    // The queue head's word (`queue[q_head]`, kept in a register) and its row ranges' ends:
    // local + DIM, b + DIM, c + DIM, local + rows.
    hd: DFF<Bits<{ ts::CMD_BITS }>>,
    h_a_end: DFF<Bits<16>>,
    h_b_end: DFF<Bits<16>>,
    h_c_end: DFF<Bits<16>>,
    h_l_end: DFF<Bits<16>>,
    // Load slots (a circular FIFO): next memory row to request, rows not yet requested,
    // scratchpad rows `sp..end`, rows.
    ld_valid: Vec<DFF<Bit>>,
    ld_addr: Vec<DFF<Addr>>,
    ld_left: Vec<DFF<Addr>>,
    ld_sp: Vec<DFF<Bits<16>>>,
    ld_end: Vec<DFF<Bits<16>>>,
    ld_rows: Vec<DFF<Addr>>,
    ld_head: DFF<Bits<SID_BITS>>,
    ld_tail: DFF<Bits<SID_BITS>>,
    ld_req: DFF<Bits<SID_BITS>>,
    ld_cnt: DFF<Bits<{ ts::LOAD_COUNT_BITS }>>,
    ld_arr: DFF<Addr>,
    // Execute unit (A, B, C rows `x..x_end`).
    ex_on: DFF<Bit>,
    ex_a: DFF<Addr>,
    ex_b: DFF<Addr>,
    ex_c: DFF<Addr>,
    ex_a_end: DFF<Bits<16>>,
    ex_b_end: DFF<Bits<16>>,
    ex_c_end: DFF<Bits<16>>,
    ex_acc: DFF<Bit>,
    ex_cnt: DFF<Bits<8>>,
    // Store unit: acc rows `st_acc..st_end`, next memory row to request, rows not yet
    // requested, acc row of the next request (`st_acc` + rows requested).
    st_on: DFF<Bit>,
    st_acc: DFF<Addr>,
    st_end: DFF<Bits<16>>,
    st_addr: DFF<Addr>,
    st_left: DFF<Addr>,
    st_ptr: DFF<Addr>,
    st_shift: DFF<Bits<SHIFT_W>>,
    st_msat: DFF<Bits<32>>,
    st_msx: DFF<Bits<8>>,
    // The store unit's write beats in the memory port: beats left including this cycle's
    // (the port serves a fired request's beats from the next cycle on, one per cycle), and
    // the acc row of this cycle's beat (read, addressed one cycle ahead, into `st_wdata`).
    wr_rem: DFF<Bits<3>>,
    wr_row: DFF<Addr>,
    // DMA hold register: 0 none, 1 load, 2 store.
    hold: DFF<Bits<2>>,
    /// Decoder of the host word.
    pub dec_in: CmdDecode,
    /// Decoder of the queue head (`hd`).
    pub dec_hd: CmdDecode,
    /// Decoders of the two next-head candidates (`q_m0`, `q_m1`).
    pub dec_m: Vec<CmdDecode>,
    /// The DMA request selector.
    pub dma_sel: DmaSelect,
    /// The issue check of the queue head.
    pub hazards: Hazards,
    i_ok: Signal<Local, Bit>,
    push: Signal<Local, Bit>,
    // The next head word: `queue[q_head]` or `queue[q_head + 1]` after this cycle's push.
    q_next: Signal<Local, Bits<QID_BITS>>,
    q_m0: Signal<Local, Bits<{ ts::CMD_BITS }>>,
    q_m1: Signal<Local, Bits<{ ts::CMD_BITS }>>,
    cand0: Signal<Local, Bits<{ ts::CMD_BITS }>>,
    cand1: Signal<Local, Bits<{ ts::CMD_BITS }>>,
    // Row ends (local + DIM, b + DIM, c + DIM, local + rows) of the host word and of the two
    // queue entries; `sel0`/`sel1`: the candidate is the host word.
    e_in: Vec<Signal<Local, Bits<16>>>,
    e_m0: Vec<Signal<Local, Bits<16>>>,
    e_m1: Vec<Signal<Local, Bits<16>>>,
    sel0: Signal<Local, Bit>,
    sel1: Signal<Local, Bit>,
    // The head issues this cycle as a `LOAD`, `COMPUTE` or `STORE` (from `hazards`).
    iss_ld: Signal<Local, Bit>,
    iss_ex: Signal<Local, Bit>,
    iss_st: Signal<Local, Bit>,
    ld_done: Signal<Local, Bit>,
    // The store unit's request fired this cycle, and its beats (from `dma_sel`).
    st_beats: Signal<Local, Addr>,
    fire_st: Signal<Local, Bit>,
    // Head slot (arrivals).
    hd_sp: Signal<Local, Bits<16>>,
    hd_rows: Signal<Local, Addr>,
    // Execute and store data path.
    wb_i: Signal<Local, Addr>,
    k_nx: Signal<Local, Addr>,
    nx_a: Signal<Local, Addr>,
    nx_b: Signal<Local, Addr>,
    nx_c: Signal<Local, Addr>,
    nx_wb: Signal<Local, MemAddr>,
    nx_sa: Signal<Local, MemAddr>,
    wb_addr: Signal<Local, MemAddr>,
    pk: Vec<Signal<Local, Row>>,
    // Constants.
    c_dim: Constant<Addr>,
    c_dim16: Constant<Bits<16>>,
    c_ones: Constant<Bits<32>>,
    c_seven: Constant<Bits<32>>,
    c_last: Constant<Bits<8>>,
    c_dim8: Constant<Bits<8>>,
    c_wb8: Constant<Bits<8>>,
    c_wb: Constant<Addr>,
    c_sp_rows: Constant<Addr>,
    c_acc_rows: Constant<Addr>,
    c_mem_rows: Constant<Addr>,
    c_depth: Constant<Bits<{ ts::QUEUE_COUNT_BITS }>>,
    op_load: Constant<Bits<4>>,
    op_compute: Constant<Bits<4>>,
    op_store: Constant<Bits<4>>,
    op_fence: Constant<Bits<4>>,
    qid: Vec<Constant<Bits<QID_BITS>>>,
    sid: Vec<Constant<Bits<SID_BITS>>>,
}
}

impl Tile {
    /// A tile with parameters `p` attached to a memory of `mem_rows` rows.
    pub fn new(p: &TileParams, mem_rows: u32) -> Self {
        let d = p.dim;
        let a = |v: u64| konst::<32>(v);
        tile_ports!(init Self {
            dma_ready: Default::default(),
            rd_valid: Default::default(),
            rd_data: Default::default(),
            st_wdata: Default::default(),
        } {
            sp: RowMem::new(p.sp_rows as usize),
            acc: (0..d).map(|_| RowMem::new(p.acc_rows as usize)).collect(),
            cols: (0..d).map(|j| PeColumn::new(d, j)).collect(),
            conv: (0..d).map(Requant::new).collect(),
            queue: dffs(ts::QUEUE_DEPTH),
            q_head: Default::default(),
            q_tail: Default::default(),
            q_cnt: Default::default(),
            err: Default::default(),
            hd: Default::default(),
            h_a_end: Default::default(),
            h_b_end: Default::default(),
            h_c_end: Default::default(),
            h_l_end: Default::default(),
            ld_valid: dffs(ts::LOAD_SLOTS),
            ld_addr: dffs(ts::LOAD_SLOTS),
            ld_left: dffs(ts::LOAD_SLOTS),
            ld_sp: dffs(ts::LOAD_SLOTS),
            ld_end: dffs(ts::LOAD_SLOTS),
            ld_rows: dffs(ts::LOAD_SLOTS),
            ld_head: Default::default(),
            ld_tail: Default::default(),
            ld_req: Default::default(),
            ld_cnt: Default::default(),
            ld_arr: Default::default(),
            ex_on: Default::default(),
            ex_a: Default::default(),
            ex_b: Default::default(),
            ex_c: Default::default(),
            ex_a_end: Default::default(),
            ex_b_end: Default::default(),
            ex_c_end: Default::default(),
            ex_acc: Default::default(),
            ex_cnt: Default::default(),
            st_on: Default::default(),
            st_acc: Default::default(),
            st_end: Default::default(),
            st_addr: Default::default(),
            st_left: Default::default(),
            st_ptr: Default::default(),
            st_shift: Default::default(),
            st_msat: Default::default(),
            st_msx: Default::default(),
            wr_rem: Default::default(),
            wr_row: Default::default(),
            hold: Default::default(),
            dec_in: Default::default(),
            dec_hd: Default::default(),
            dec_m: (0..2).map(|_| CmdDecode::default()).collect(),
            dma_sel: DmaSelect::default(),
            hazards: Hazards::default(),
            i_ok: Default::default(),
            push: Default::default(),
            q_next: Default::default(),
            q_m0: Default::default(),
            q_m1: Default::default(),
            cand0: Default::default(),
            cand1: Default::default(),
            e_in: signals(4),
            e_m0: signals(4),
            e_m1: signals(4),
            sel0: Default::default(),
            sel1: Default::default(),
            iss_ld: Default::default(),
            iss_ex: Default::default(),
            iss_st: Default::default(),
            ld_done: Default::default(),
            st_beats: Default::default(),
            fire_st: Default::default(),
            hd_sp: Default::default(),
            hd_rows: Default::default(),
            wb_i: Default::default(),
            k_nx: Default::default(),
            nx_a: Default::default(),
            nx_b: Default::default(),
            nx_c: Default::default(),
            nx_wb: Default::default(),
            nx_sa: Default::default(),
            wb_addr: Default::default(),
            pk: signals(d + 1),
            c_dim: a(d as u64),
            c_dim16: konst(d as u64),
            c_ones: konst(0xFFFF_FFFF),
            c_seven: konst(7),
            c_last: konst(ts::compute_cycles(d) - 1),
            c_dim8: konst(d as u64),
            c_wb8: konst(ts::compute_writeback_start(d)),
            c_wb: a(ts::compute_writeback_start(d)),
            c_sp_rows: a(u64::from(p.sp_rows)),
            c_acc_rows: a(u64::from(p.acc_rows)),
            c_mem_rows: a(u64::from(mem_rows)),
            c_depth: konst(ts::QUEUE_DEPTH as u64),
            op_load: konst(u64::from(ts::OP_LOAD)),
            op_compute: konst(u64::from(ts::OP_COMPUTE)),
            op_store: konst(u64::from(ts::OP_STORE)),
            op_fence: konst(u64::from(ts::OP_FENCE)),
            qid: (0..ts::QUEUE_DEPTH).map(|i| konst(i as u64)).collect(),
            sid: (0..ts::LOAD_SLOTS).map(|i| konst(i as u64)).collect(),
        })
    }

    /// Array dimension.
    pub fn dim(&self) -> usize {
        self.cols.len()
    }
}

impl Logic for Tile {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self, clock, q_head, q_tail, q_cnt, err, hd, h_a_end, h_b_end, h_c_end, h_l_end,
            ld_head, ld_tail, ld_req, ld_cnt, ld_arr, ex_on, ex_a, ex_b, ex_c, ex_a_end, ex_b_end,
            ex_c_end, ex_acc, ex_cnt, st_on, st_acc, st_end, st_addr, st_left, st_ptr, st_shift,
            st_msat, st_msx, wr_rem, wr_row, hold
        );
        self.sp.clock.next = self.clock.val();
        for i in 0..self.queue.len() {
            self.queue[i].clock.next = self.clock.val();
            self.queue[i].d.next = self.queue[i].q.val();
        }
        for i in 0..self.ld_valid.len() {
            self.ld_valid[i].clock.next = self.clock.val();
            self.ld_valid[i].d.next = self.ld_valid[i].q.val();
            self.ld_addr[i].clock.next = self.clock.val();
            self.ld_addr[i].d.next = self.ld_addr[i].q.val();
            self.ld_left[i].clock.next = self.clock.val();
            self.ld_left[i].d.next = self.ld_left[i].q.val();
            self.ld_sp[i].clock.next = self.clock.val();
            self.ld_sp[i].d.next = self.ld_sp[i].q.val();
            self.ld_end[i].clock.next = self.clock.val();
            self.ld_end[i].d.next = self.ld_end[i].q.val();
            self.ld_rows[i].clock.next = self.clock.val();
            self.ld_rows[i].d.next = self.ld_rows[i].q.val();
        }

        // ---- Host word: decode and bounds check (golden `Command::decode`, `check_bounds`).
        self.dec_in.word.next = self.cmd_word.val();
        self.i_ok.next = false;
        if self.dec_in.op.val() == self.op_load.val() {
            self.i_ok.next = !self.dec_in.res_dma.val()
                & !self.dec_in.res_shift.val()
                & (self.dec_in.rows.val() != 0)
                & ((self.dec_in.loc.val() + self.dec_in.rows.val()) <= self.c_sp_rows.val())
                & ((self.dec_in.mem.val() + self.dec_in.rows.val()) <= self.c_mem_rows.val());
        }
        if self.dec_in.op.val() == self.op_compute.val() {
            self.i_ok.next = !self.dec_in.res_compute.val()
                & ((self.dec_in.loc.val() + self.c_dim.val()) <= self.c_sp_rows.val())
                & ((self.dec_in.b.val() + self.c_dim.val()) <= self.c_sp_rows.val())
                & ((self.dec_in.c.val() + self.c_dim.val()) <= self.c_acc_rows.val());
        }
        if self.dec_in.op.val() == self.op_store.val() {
            self.i_ok.next = !self.dec_in.res_dma.val()
                & (self.dec_in.rows.val() != 0)
                & ((self.dec_in.loc.val() + self.dec_in.rows.val()) <= self.c_acc_rows.val())
                & ((self.dec_in.mem.val() + self.dec_in.rows.val()) <= self.c_mem_rows.val());
        }
        if self.dec_in.op.val() == self.op_fence.val() {
            self.i_ok.next = !self.dec_in.res_fence.val();
        }
        self.cmd_ready.next = self.q_cnt.q.val() != self.c_depth.val();
        self.push.next = self.cmd_valid.val() & (self.q_cnt.q.val() != self.c_depth.val());
        if self.push.val() & !self.i_ok.val() {
            self.err.d.next = true;
        }
        for i in 0..self.queue.len() {
            if self.push.val() & self.i_ok.val() & (self.q_tail.q.val() == self.qid[i].val()) {
                self.queue[i].d.next = self.cmd_word.val();
            }
        }
        if self.push.val() & self.i_ok.val() {
            self.q_tail.d.next = self.q_tail.q.val() + 1;
        }

        // ---- Queue head (a register holding `queue[q_head]`) and issue rules. The row
        // ranges' ends are registers too (the head's, set with the head word; the units', set
        // at issue), so every hazard check compares registers.
        self.dec_hd.word.next = self.hd.q.val();
        // The issue check ([`Hazards`]) reads the head's fields and the units' registers.
        self.hazards.op.next = self.dec_hd.op.val();
        self.hazards.loc16.next = self.dec_hd.loc16.val();
        self.hazards.b16.next = self.dec_hd.b16.val();
        self.hazards.c16.next = self.dec_hd.c16.val();
        self.hazards.h_a_end.next = self.h_a_end.q.val();
        self.hazards.h_b_end.next = self.h_b_end.q.val();
        self.hazards.h_c_end.next = self.h_c_end.q.val();
        self.hazards.h_l_end.next = self.h_l_end.q.val();
        self.hazards.q_cnt.next = self.q_cnt.q.val();
        self.hazards.ld_cnt.next = self.ld_cnt.q.val();
        for i in 0..self.ld_valid.len() {
            self.hazards.ld_valid[i].next = self.ld_valid[i].q.val();
            self.hazards.ld_sp[i].next = self.ld_sp[i].q.val();
            self.hazards.ld_end[i].next = self.ld_end[i].q.val();
        }
        self.hazards.ex_on.next = self.ex_on.q.val();
        self.hazards.ex_a.next = self.ex_a.q.val();
        self.hazards.ex_b.next = self.ex_b.q.val();
        self.hazards.ex_c.next = self.ex_c.q.val();
        self.hazards.ex_a_end.next = self.ex_a_end.q.val();
        self.hazards.ex_b_end.next = self.ex_b_end.q.val();
        self.hazards.ex_c_end.next = self.ex_c_end.q.val();
        self.hazards.st_on.next = self.st_on.q.val();
        self.hazards.st_acc.next = self.st_acc.q.val();
        self.hazards.st_end.next = self.st_end.q.val();
        self.issue.next = self.hazards.issue.val();
        self.iss_ld.next = self.hazards.iss_ld.val();
        self.iss_ex.next = self.hazards.iss_ex.val();
        self.iss_st.next = self.hazards.iss_st.val();
        if self.issue.val() {
            self.q_head.d.next = self.q_head.q.val() + 1;
        }
        self.q_cnt.d.next = self.q_cnt.q.val();
        if self.issue.val() & !(self.push.val() & self.i_ok.val()) {
            self.q_cnt.d.next = self.q_cnt.q.val() - 1;
        }
        if !self.issue.val() & self.push.val() & self.i_ok.val() {
            self.q_cnt.d.next = self.q_cnt.q.val() + 1;
        }
        // The next head word, `queue[q_head.d]` after this cycle's push: both candidates and
        // their row ends are computed from registers and the host word; `issue` selects.
        self.q_next.next = self.q_head.q.val() + 1;
        self.q_m0.next = 0.into();
        self.q_m1.next = 0.into();
        for i in 0..self.queue.len() {
            if self.q_head.q.val() == self.qid[i].val() {
                self.q_m0.next = self.queue[i].q.val();
            }
            if self.q_next.val() == self.qid[i].val() {
                self.q_m1.next = self.queue[i].q.val();
            }
        }
        self.dec_m[0].word.next = self.q_m0.val();
        self.dec_m[1].word.next = self.q_m1.val();
        self.sel0.next =
            self.push.val() & self.i_ok.val() & (self.q_tail.q.val() == self.q_head.q.val());
        self.sel1.next =
            self.push.val() & self.i_ok.val() & (self.q_tail.q.val() == self.q_next.val());
        self.cand0.next = self.q_m0.val();
        if self.sel0.val() {
            self.cand0.next = self.cmd_word.val();
        }
        self.cand1.next = self.q_m1.val();
        if self.sel1.val() {
            self.cand1.next = self.cmd_word.val();
        }
        self.e_in[0].next = self.dec_in.loc16.val() + self.c_dim16.val();
        self.e_in[1].next = self.dec_in.b16.val() + self.c_dim16.val();
        self.e_in[2].next = self.dec_in.c16.val() + self.c_dim16.val();
        self.e_in[3].next = self.dec_in.loc16.val() + self.dec_in.rows16.val();
        self.e_m0[0].next = self.dec_m[0].loc16.val() + self.c_dim16.val();
        self.e_m0[1].next = self.dec_m[0].b16.val() + self.c_dim16.val();
        self.e_m0[2].next = self.dec_m[0].c16.val() + self.c_dim16.val();
        self.e_m0[3].next = self.dec_m[0].loc16.val() + self.dec_m[0].rows16.val();
        self.e_m1[0].next = self.dec_m[1].loc16.val() + self.c_dim16.val();
        self.e_m1[1].next = self.dec_m[1].b16.val() + self.c_dim16.val();
        self.e_m1[2].next = self.dec_m[1].c16.val() + self.c_dim16.val();
        self.e_m1[3].next = self.dec_m[1].loc16.val() + self.dec_m[1].rows16.val();
        self.hd.d.next = self.cand0.val();
        self.h_a_end.d.next = self.e_m0[0].val();
        self.h_b_end.d.next = self.e_m0[1].val();
        self.h_c_end.d.next = self.e_m0[2].val();
        self.h_l_end.d.next = self.e_m0[3].val();
        if self.sel0.val() {
            self.h_a_end.d.next = self.e_in[0].val();
            self.h_b_end.d.next = self.e_in[1].val();
            self.h_c_end.d.next = self.e_in[2].val();
            self.h_l_end.d.next = self.e_in[3].val();
        }
        if self.issue.val() {
            self.hd.d.next = self.cand1.val();
            self.h_a_end.d.next = self.e_m1[0].val();
            self.h_b_end.d.next = self.e_m1[1].val();
            self.h_c_end.d.next = self.e_m1[2].val();
            self.h_l_end.d.next = self.e_m1[3].val();
            if self.sel1.val() {
                self.h_a_end.d.next = self.e_in[0].val();
                self.h_b_end.d.next = self.e_in[1].val();
                self.h_c_end.d.next = self.e_in[2].val();
                self.h_l_end.d.next = self.e_in[3].val();
            }
        }

        // ---- DMA request ([`DmaSelect`]): the held one, else the store's, else the oldest
        // load's. Each unit keeps its next memory row and its rows not yet requested in
        // registers; the selector reads them and the hold register.
        self.dma_sel.hold.next = self.hold.q.val();
        self.dma_sel.st_on.next = self.st_on.q.val();
        self.dma_sel.st_addr.next = self.st_addr.q.val();
        self.dma_sel.st_left.next = self.st_left.q.val();
        self.dma_sel.ld_req.next = self.ld_req.q.val();
        self.hd_sp.next = 0.into();
        self.hd_rows.next = 0.into();
        for i in 0..self.ld_valid.len() {
            self.dma_sel.ld_valid[i].next = self.ld_valid[i].q.val();
            self.dma_sel.ld_addr[i].next = self.ld_addr[i].q.val();
            self.dma_sel.ld_left[i].next = self.ld_left[i].q.val();
            if self.ld_head.q.val() == self.sid[i].val() {
                self.hd_sp.next = self.ld_sp[i].q.val();
                self.hd_rows.next = self.ld_rows[i].q.val();
            }
        }
        self.dma_sel.dma_ready.next = self.dma_ready.val();
        self.dma_valid.next = self.dma_sel.valid.val();
        self.dma_beats.next = self.dma_sel.beats.val();
        self.dma_addr.next = self.dma_sel.addr.val();
        self.hold.d.next = self.dma_sel.hold_d.val();
        self.fire_st.next = self.dma_sel.fire_st.val();
        self.st_beats.next = self.dma_sel.st_beats.val();

        // ---- Load unit: request bookkeeping, arrivals, issue.
        for i in 0..self.ld_valid.len() {
            if self.dma_sel.fire_ld.val() & (self.ld_req.q.val() == self.sid[i].val()) {
                self.ld_addr[i].d.next = self.ld_addr[i].q.val() + self.dma_sel.ld_beats.val();
                self.ld_left[i].d.next = self.ld_left[i].q.val() - self.dma_sel.ld_beats.val();
            }
        }
        // The slot's last request (its rows left fit in one request).
        if self.dma_sel.fire_ld.val() & self.dma_sel.ld_last.val() {
            self.ld_req.d.next = self.ld_req.q.val() + 1;
        }
        self.sp.we.next = self.rd_valid.val();
        self.sp.wa.next =
            bit_cast::<24, 32>(bit_cast::<32, 16>(self.hd_sp.val()) + self.ld_arr.q.val());
        self.sp.wd.next = self.rd_data.val();
        self.ld_done.next = self.rd_valid.val() & ((self.ld_arr.q.val() + 1) == self.hd_rows.val());
        if self.rd_valid.val() {
            self.ld_arr.d.next = self.ld_arr.q.val() + 1;
        }
        if self.ld_done.val() {
            self.ld_arr.d.next = 0.into();
            self.ld_head.d.next = self.ld_head.q.val() + 1;
        }
        for i in 0..self.ld_valid.len() {
            if self.ld_done.val() & (self.ld_head.q.val() == self.sid[i].val()) {
                self.ld_valid[i].d.next = false;
            }
            if self.iss_ld.val() & (self.ld_tail.q.val() == self.sid[i].val()) {
                self.ld_valid[i].d.next = true;
                self.ld_addr[i].d.next = self.dec_hd.mem.val();
                self.ld_left[i].d.next = self.dec_hd.rows.val();
                self.ld_sp[i].d.next = self.dec_hd.loc16.val();
                self.ld_end[i].d.next = self.h_l_end.q.val();
                self.ld_rows[i].d.next = self.dec_hd.rows.val();
            }
        }
        if self.iss_ld.val() {
            self.ld_tail.d.next = self.ld_tail.q.val() + 1;
        }
        self.ld_cnt.d.next = self.ld_cnt.q.val();
        if self.iss_ld.val() & !self.ld_done.val() {
            self.ld_cnt.d.next = self.ld_cnt.q.val() + 1;
        }
        if !self.iss_ld.val() & self.ld_done.val() {
            self.ld_cnt.d.next = self.ld_cnt.q.val() - 1;
        }

        // ---- Execute unit: D rank-1 updates (ex_cnt 0..D-1; the PEs register the lanes,
        // multiply them one cycle later and add the registered products one cycle after
        // that), then D accumulator write-backs (ex_cnt D+2..=2D+1).
        self.wb_i.next = bit_cast::<32, 8>(self.ex_cnt.q.val() - self.c_wb8.val());
        if self.ex_on.q.val() {
            self.ex_cnt.d.next = self.ex_cnt.q.val() + 1;
            if self.ex_cnt.q.val() == self.c_last.val() {
                self.ex_on.d.next = false;
            }
        }
        self.wb_addr.next = bit_cast::<24, 32>(self.ex_c.q.val() + self.wb_i.val());
        self.pk[0].next = 0.into();
        for j in 0..self.cols.len() {
            self.cols[j].clock.next = self.clock.val();
            self.cols[j].a_row.next = self.sp.rd0.val();
            self.cols[j].b_row.next = self.sp.rd1.val();
            self.cols[j].en.next = self.ex_on.q.val() & (self.ex_cnt.q.val() < self.c_dim8.val());
            self.cols[j].first.next = self.ex_cnt.q.val() == 0;
            self.cols[j].wb_row.next = bit_cast::<8, 32>(self.wb_i.val());
            self.acc[j].clock.next = self.clock.val();
            self.acc[j].wa.next = self.wb_addr.val();
            self.acc[j].we.next = self.ex_on.q.val() & (self.ex_cnt.q.val() >= self.c_wb8.val());
            self.acc[j].wd.next = self.cols[j].out.val();
            if self.ex_acc.q.val() {
                self.acc[j].wd.next = self.acc[j].rd0.val() + self.cols[j].out.val();
            }
            self.conv[j].x.next = self.acc[j].rd1.val();
            self.conv[j].shift.next = self.st_shift.q.val();
            self.conv[j].m_sat.next = self.st_msat.q.val();
            self.conv[j].m_sx.next = self.st_msx.q.val();
            self.pk[j + 1].next = self.pk[j].val() | self.conv[j].row.val();
            self.st_wdata.next = self.pk[j + 1].val();
        }

        // ---- Store unit: requests, write beats, completion. The memory port registers a
        // fired request and serves its `n` beats in the `n` cycles after the fire; the unit
        // counts them itself (`wr_rem`) and is free in the cycle after its last beat.
        if self.fire_st.val() {
            self.st_addr.d.next = self.st_addr.q.val() + self.st_beats.val();
            self.st_left.d.next = self.st_left.q.val() - self.st_beats.val();
            self.st_ptr.d.next = self.st_ptr.q.val() + self.st_beats.val();
        }
        if self.wr_rem.q.val() != 0 {
            self.wr_rem.d.next = self.wr_rem.q.val() - 1;
            self.wr_row.d.next = self.wr_row.q.val() + 1;
            // This cycle's beat is the STORE's last.
            if (self.wr_rem.q.val() == 1) & (self.st_left.q.val() == 0) {
                self.st_on.d.next = false;
            }
        }
        // A request fires only with at most this cycle's beat left (`mem_ready`).
        if self.fire_st.val() {
            self.wr_rem.d.next = bit_cast::<3, 32>(self.st_beats.val());
            self.wr_row.d.next = self.st_ptr.q.val();
        }

        // ---- Issue of COMPUTE and STORE.
        if self.iss_ex.val() {
            self.ex_on.d.next = true;
            self.ex_a.d.next = self.dec_hd.loc.val();
            self.ex_b.d.next = self.dec_hd.b.val();
            self.ex_c.d.next = self.dec_hd.c.val();
            self.ex_a_end.d.next = self.h_a_end.q.val();
            self.ex_b_end.d.next = self.h_b_end.q.val();
            self.ex_c_end.d.next = self.h_c_end.q.val();
            self.ex_acc.d.next = self.dec_hd.acc.val();
            self.ex_cnt.d.next = 0.into();
        }
        if self.iss_st.val() {
            self.st_on.d.next = true;
            self.st_acc.d.next = self.dec_hd.loc.val();
            self.st_end.d.next = self.h_l_end.q.val();
            self.st_addr.d.next = self.dec_hd.mem.val();
            self.st_left.d.next = self.dec_hd.rows.val();
            self.st_ptr.d.next = self.dec_hd.loc.val();
            self.st_shift.d.next = self.dec_hd.shift.val();
            self.st_msat.d.next = self.c_ones.val()
                << (bit_cast::<32, 5>(self.dec_hd.shift.val()) + self.c_seven.val());
            self.st_msx.d.next = bit_cast::<8, 32>(
                !(self.c_ones.val() >> bit_cast::<32, 5>(self.dec_hd.shift.val())),
            );
        }

        // ---- Synchronous memory reads, addressed one cycle ahead with the next-state values
        // of the execute and store units' registers. The addresses without an issue are
        // computed from registers; `iss_ex` selects last, so no adder follows it (the store's
        // address needs no issue or fire case at all).
        self.k_nx.next = bit_cast::<32, 8>(self.ex_cnt.q.val());
        if self.ex_on.q.val() {
            self.k_nx.next = bit_cast::<32, 8>(self.ex_cnt.q.val() + 1);
        }
        self.nx_a.next = self.ex_a.q.val() + self.k_nx.val();
        self.nx_b.next = self.ex_b.q.val() + self.k_nx.val();
        self.nx_c.next = self.ex_c.q.val() + (self.k_nx.val() - self.c_wb.val());
        self.sp.ra0.next = bit_cast::<24, 32>(self.nx_a.val());
        self.sp.ra1.next = bit_cast::<24, 32>(self.nx_b.val());
        self.nx_wb.next = bit_cast::<24, 32>(self.nx_c.val());
        if self.iss_ex.val() {
            self.sp.ra0.next = bit_cast::<24, 32>(self.dec_hd.loc.val());
            self.sp.ra1.next = bit_cast::<24, 32>(self.dec_hd.b.val());
            self.nx_wb.next = bit_cast::<24, 32>(self.dec_hd.c.val() - self.c_wb.val());
        }
        // The store's acc read for the next cycle's write beat, from registers only: the next
        // row of the request in the port, else the first row of the next request (`st_ptr`:
        // a request fires at the earliest in the cycle after a `STORE` issues, its first beat
        // one cycle later).
        self.nx_sa.next = bit_cast::<24, 32>(self.st_ptr.q.val());
        if self.wr_rem.q.val() > 1 {
            self.nx_sa.next = bit_cast::<24, 32>(self.wr_row.q.val() + 1);
        }
        for j in 0..self.acc.len() {
            self.acc[j].ra0.next = self.nx_wb.val();
            self.acc[j].ra1.next = self.nx_sa.val();
        }

        // ---- Status.
        self.q_count.next = self.q_cnt.q.val();
        self.ld_count.next = self.ld_cnt.q.val();
        self.ex_busy.next = self.ex_on.q.val();
        self.st_busy.next = self.st_on.q.val();
        self.idle.next = (self.q_cnt.q.val() == 0)
            & (self.ld_cnt.q.val() == 0)
            & !self.ex_on.q.val()
            & !self.st_on.q.val();
        self.cmd_error.next = self.err.q.val();
    }
}
