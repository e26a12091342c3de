//! The GEMM "compiler": turns an `I x J x K` int8 matrix multiply `C = A·B` (A is `I x K`,
//! B is `K x J`, both row-major int8; C is `I x J` int8 after `STORE`'s shift and saturation)
//! into a tile command stream, plus the memory layout of A, B and C, and a plain reference
//! matmul to check the result.
//!
//! # Memory layout (rows of `D = DIM` values; sizes padded up to multiples of `D` with zeros)
//! With `nI = ceil(I/D)`, `nJ = ceil(J/D)`, `nK = ceil(K/D)` blocks:
//! * **A** (`nI*nK*D` rows at `a_base`): block `(ib, kb)` is stored *transposed* at row
//!   `a_base + (ib*nK + kb)*D`; its row `k` holds `A[ib*D + i][kb*D + k]` for `i = 0..D`. All
//!   K blocks of one block-row are contiguous, so an A strip is one `LOAD`.
//! * **B** (`nJ*nK*D` rows at `b_base = a_base + nI*nK*D`): block `(jb, kb)` at
//!   `b_base + (jb*nK + kb)*D`; its row `k` holds `B[kb*D + k][jb*D + j]`.
//! * **C** (`nI*nJ*D` rows at `c_base = b_base + nJ*nK*D`): block `(ib, jb)` at
//!   `c_base + (ib*nJ + jb)*D`; its row `i` holds `C[ib*D + i][jb*D + j]`.
//!
//! # Tiling (as Gemmini's `tiled_matmul_auto`)
//! A *tile* is `tI x tJ x tK` blocks. The scratchpad is split in two halves (double buffering):
//! a half holds the A tile (`tI*tK*D` rows) and the B tile (`tK*tJ*D` rows); the accumulator is
//! split in two halves, each holding a C tile (`tI*tJ*D` rows). Sizes are chosen like
//! `tiled_matmul_auto`: start with square `tI = tJ = isqrt(acc_half/D)` blocks (capped by `nI`,
//! `nJ`) and `tK = (sp_half/D) / (tI + tJ)` (capped by `nK`), shrink the largest while the tile does not fit, then
//! grow `tJ`, `tI`, `tK` in turn while it still fits and does not exceed the matrix.
//!
//! # Command stream (software pipelined)
//! Steps run `for i-tile { for j-tile { for k-tile } }`; step `s` uses scratchpad half `s % 2`,
//! output tile `o` accumulator half `o % 2`. A step's *loads* are one `LOAD` per A strip and per
//! B strip (split at 4095 rows); its *computes* are `for i, j, k` blocks (`accumulate` except
//! for the first K block of the output tile); an output tile's *stores* are one `STORE` of `D`
//! rows per C block. Emission: loads of step 0, then for every step `s` the computes of `s`
//! interleaved one by one with the loads of step `s+1` and the stores of the previously finished
//! output tile; the last tile's stores at the end. The tile's in-order issue with its hazard
//! rules then overlaps loads of `s+1` and stores of `o-1` with the computes of `s`. A, B and C
//! are disjoint, so no `FENCE` is needed; the tile is idle when C is in memory.

use crate::spec::tile as ts;
use crate::tile::{Command, TileError, TileParams, check_range};
use thiserror::Error;

/// Largest matrix dimension the compiler accepts.
pub const MAX_GEMM_DIM: usize = 1 << 16;

/// A compilation that cannot be done.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum CompileError {
    /// A size or option out of range.
    #[error(transparent)]
    Range(#[from] TileError),
    /// An explicit tiling that does not fit the scratchpad or accumulator halves.
    #[error(
        "tiling {ti}x{tj}x{tk} blocks needs {sp} scratchpad and {acc} accumulator rows per half: \
         allowed {sp_half} and {acc_half}"
    )]
    TileTooBig {
        /// Tile I blocks.
        ti: usize,
        /// Tile J blocks.
        tj: usize,
        /// Tile K blocks.
        tk: usize,
        /// Scratchpad rows needed.
        sp: usize,
        /// Accumulator rows needed.
        acc: usize,
        /// Scratchpad half.
        sp_half: usize,
        /// Accumulator half.
        acc_half: usize,
    },
    /// The matrices do not fit the shared memory.
    #[error("the matrices need memory rows {start}..{end}: allowed 0..{limit}")]
    Memory {
        /// First row.
        start: u64,
        /// One past the last row.
        end: u64,
        /// Memory rows.
        limit: u64,
    },
}

/// Matrix sizes: `C[I][J] = A[I][K] · B[K][J]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GemmShape {
    /// Rows of A and C.
    pub i: usize,
    /// Columns of B and C.
    pub j: usize,
    /// Columns of A, rows of B.
    pub k: usize,
}

impl GemmShape {
    /// A checked shape (every size 1..=65536).
    pub fn new(i: usize, j: usize, k: usize) -> Result<Self, TileError> {
        for (n, v) in [("I", i), ("J", j), ("K", k)] {
            check_range(n, v as i64, 1, MAX_GEMM_DIM as i64)?;
        }
        Ok(GemmShape { i, j, k })
    }

    /// Multiply-accumulates of the (unpadded) product.
    pub fn macs(&self) -> u64 {
        (self.i * self.j * self.k) as u64
    }
}

impl std::str::FromStr for GemmShape {
    type Err = String;
    /// Parse `IxJxK`.
    fn from_str(s: &str) -> Result<Self, String> {
        let v: Vec<usize> = s
            .split('x')
            .map(|p| p.trim().parse::<usize>())
            .collect::<Result<_, _>>()
            .map_err(|e| format!("bad GEMM shape '{s}' (expected IxJxK): {e}"))?;
        match v[..] {
            [i, j, k] => GemmShape::new(i, j, k).map_err(|e| e.to_string()),
            _ => Err(format!("bad GEMM shape '{s}' (expected IxJxK)")),
        }
    }
}

/// Tile sizes in `DIM`-blocks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tiling {
    /// Blocks of I per tile.
    pub ti: usize,
    /// Blocks of J per tile.
    pub tj: usize,
    /// Blocks of K per tile.
    pub tk: usize,
}

/// Where A, B and C live in shared memory (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    /// Array dimension.
    pub dim: usize,
    /// The unpadded shape.
    pub shape: GemmShape,
    /// Blocks along I.
    pub ni: usize,
    /// Blocks along J.
    pub nj: usize,
    /// Blocks along K.
    pub nk: usize,
    /// First row of A.
    pub a_base: u32,
    /// First row of B.
    pub b_base: u32,
    /// First row of C.
    pub c_base: u32,
}

impl Layout {
    /// The layout of `shape` at memory row `base`.
    pub fn new(dim: usize, shape: GemmShape, base: u32) -> Layout {
        let (ni, nj, nk) = (
            shape.i.div_ceil(dim),
            shape.j.div_ceil(dim),
            shape.k.div_ceil(dim),
        );
        let a_base = base;
        let b_base = a_base + (ni * nk * dim) as u32;
        let c_base = b_base + (nj * nk * dim) as u32;
        Layout {
            dim,
            shape,
            ni,
            nj,
            nk,
            a_base,
            b_base,
            c_base,
        }
    }

    /// Rows of A, B, C together.
    pub fn total_rows(&self) -> u64 {
        ((self.ni * self.nk + self.nj * self.nk + self.ni * self.nj) * self.dim) as u64
    }

    /// One past the last row used.
    pub fn end(&self) -> u64 {
        u64::from(self.a_base) + self.total_rows()
    }

    /// Rows of C.
    pub fn c_rows(&self) -> usize {
        self.ni * self.nj * self.dim
    }

    /// A (row-major `I x K`) in its memory layout (`nI*nK*D` rows).
    pub fn pack_a(&self, a: &[i8]) -> Vec<i8> {
        let (d, s) = (self.dim, self.shape);
        assert_eq!(a.len(), s.i * s.k, "A must be I x K");
        let mut out = vec![0; self.ni * self.nk * d * d];
        for ib in 0..self.ni {
            for kb in 0..self.nk {
                let blk = (ib * self.nk + kb) * d * d;
                for k in 0..d {
                    for i in 0..d {
                        let (r, c) = (ib * d + i, kb * d + k);
                        if r < s.i && c < s.k {
                            out[blk + k * d + i] = a[r * s.k + c];
                        }
                    }
                }
            }
        }
        out
    }

    /// B (row-major `K x J`) in its memory layout (`nJ*nK*D` rows).
    pub fn pack_b(&self, b: &[i8]) -> Vec<i8> {
        let (d, s) = (self.dim, self.shape);
        assert_eq!(b.len(), s.k * s.j, "B must be K x J");
        let mut out = vec![0; self.nj * self.nk * d * d];
        for jb in 0..self.nj {
            for kb in 0..self.nk {
                let blk = (jb * self.nk + kb) * d * d;
                for k in 0..d {
                    for j in 0..d {
                        let (r, c) = (kb * d + k, jb * d + j);
                        if r < s.k && c < s.j {
                            out[blk + k * d + j] = b[r * s.j + c];
                        }
                    }
                }
            }
        }
        out
    }

    /// C (row-major `I x J`) from its memory layout (`nI*nJ*D` rows).
    pub fn unpack_c(&self, rows: &[i8]) -> Vec<i8> {
        let (d, s) = (self.dim, self.shape);
        assert_eq!(rows.len(), self.c_rows() * d, "C rows");
        let mut c = vec![0; s.i * s.j];
        for r in 0..s.i {
            for col in 0..s.j {
                let (ib, i, jb, j) = (r / d, r % d, col / d, col % d);
                c[r * s.j + col] = rows[((ib * self.nj + jb) * d + i) * d + j];
            }
        }
        c
    }
}

/// Compiler options.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CompileOptions {
    /// `STORE` right shift (0..=31).
    pub shift: u8,
    /// First memory row of the layout.
    pub base: u32,
    /// Explicit tile sizes (None: automatic, as `tiled_matmul_auto`).
    pub tiling: Option<Tiling>,
}

/// A compiled GEMM.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Program {
    /// Memory layout.
    pub layout: Layout,
    /// Tile sizes used.
    pub tiling: Tiling,
    /// `STORE` shift.
    pub shift: u8,
    /// The command stream for one tile.
    pub commands: Vec<Command>,
}

/// A shared memory of rows with a back door (the golden SoC's, a tile bench's): where a
/// [`Program`] puts its inputs and finds its output. Keeps this module independent of the
/// models that run the programs.
pub trait RowMemory {
    /// Why an access failed (rows outside the memory, ragged data).
    type Error;
    /// Write whole rows of int8 values starting at row `addr`.
    fn mem_write(&mut self, addr: u32, data: &[i8]) -> Result<(), Self::Error>;
    /// Read `rows` rows starting at row `addr`.
    fn mem_read(&self, addr: u32, rows: usize) -> Result<Vec<i8>, Self::Error>;
}

impl Program {
    /// Back door: write A and B (row-major) into `mem` in this program's layout and zero C's
    /// rows.
    pub fn write_inputs<M: RowMemory + ?Sized>(
        &self,
        mem: &mut M,
        a: &[i8],
        b: &[i8],
    ) -> Result<(), M::Error> {
        let l = &self.layout;
        mem.mem_write(l.a_base, &l.pack_a(a))?;
        mem.mem_write(l.b_base, &l.pack_b(b))?;
        mem.mem_write(l.c_base, &vec![0; l.c_rows() * l.dim])
    }

    /// Back door: read C (row-major `I x J`) from `mem`.
    pub fn read_output<M: RowMemory + ?Sized>(&self, mem: &M) -> Result<Vec<i8>, M::Error> {
        let l = &self.layout;
        Ok(l.unpack_c(&mem.mem_read(l.c_base, l.c_rows())?))
    }
}

/// Whether a tile of `t` blocks fits the halves; returns the rows it needs.
fn tile_rows(t: Tiling, d: usize) -> (usize, usize) {
    ((t.ti * t.tk + t.tk * t.tj) * d, t.ti * t.tj * d)
}

/// Choose tile sizes as `tiled_matmul_auto` does (see the module docs).
pub fn auto_tiling(p: &TileParams, ni: usize, nj: usize, nk: usize) -> Tiling {
    let d = p.dim;
    let sp_half = p.sp_rows as usize / 2;
    let acc_half = p.acc_rows as usize / 2;
    let fits = |t: Tiling| {
        let (sp, acc) = tile_rows(t, d);
        sp <= sp_half && acc <= acc_half
    };
    let sq = (acc_half / d).isqrt().max(1);
    let (ti, tj) = (sq.min(ni), sq.min(nj));
    let tk = (sp_half / d / (ti + tj)).clamp(1, nk);
    let mut t = Tiling { ti, tj, tk };
    while !fits(t) {
        // Shrink the largest dimension (ties: K, then J, then I).
        if t.tk >= t.ti && t.tk >= t.tj && t.tk > 1 {
            t.tk -= 1;
        } else if t.tj >= t.ti && t.tj > 1 {
            t.tj -= 1;
        } else {
            t.ti -= 1;
        }
    }
    loop {
        let mut grown = false;
        for which in 0..3 {
            let mut u = t;
            match which {
                0 if t.tj < nj => u.tj += 1,
                1 if t.ti < ni => u.ti += 1,
                2 if t.tk < nk => u.tk += 1,
                _ => continue,
            }
            if fits(u) {
                t = u;
                grown = true;
            }
        }
        if !grown {
            return t;
        }
    }
}

/// Compile `shape` for a tile with parameters `p` and a memory of `mem_rows` rows.
pub fn compile(
    shape: GemmShape,
    p: &TileParams,
    mem_rows: u32,
    opts: &CompileOptions,
) -> Result<Program, CompileError> {
    p.validate()?;
    let shape = GemmShape::new(shape.i, shape.j, shape.k)?;
    check_range("shift", i64::from(opts.shift), 0, i64::from(ts::MAX_SHIFT))?;
    let d = p.dim;
    let layout = Layout::new(d, shape, opts.base);
    if layout.end() > u64::from(mem_rows) {
        return Err(CompileError::Memory {
            start: u64::from(opts.base),
            end: layout.end(),
            limit: u64::from(mem_rows),
        });
    }
    let (ni, nj, nk) = (layout.ni, layout.nj, layout.nk);
    let sp_half = p.sp_rows as usize / 2;
    let acc_half = p.acc_rows as usize / 2;
    let tiling = match opts.tiling {
        Some(t) => {
            for (n, v, hi) in [("ti", t.ti, ni), ("tj", t.tj, nj), ("tk", t.tk, nk)] {
                check_range(n, v as i64, 1, hi as i64)?;
            }
            let (sp, acc) = tile_rows(t, d);
            if sp > sp_half || acc > acc_half {
                return Err(CompileError::TileTooBig {
                    ti: t.ti,
                    tj: t.tj,
                    tk: t.tk,
                    sp,
                    acc,
                    sp_half,
                    acc_half,
                });
            }
            t
        }
        None => auto_tiling(p, ni, nj, nk),
    };

    // Steps in order, with their block ranges.
    struct Step {
        ib: usize,
        jb: usize,
        kb: usize,
        ti: usize,
        tj: usize,
        tk: usize,
        out: usize,
        last_k: bool,
    }
    let mut steps = Vec::new();
    let mut out = 0;
    for ib in (0..ni).step_by(tiling.ti) {
        for jb in (0..nj).step_by(tiling.tj) {
            for kb in (0..nk).step_by(tiling.tk) {
                steps.push(Step {
                    ib,
                    jb,
                    kb,
                    ti: tiling.ti.min(ni - ib),
                    tj: tiling.tj.min(nj - jb),
                    tk: tiling.tk.min(nk - kb),
                    out,
                    last_k: kb + tiling.tk >= nk,
                });
            }
            out += 1;
        }
    }
    let dd = d as u32;
    let sp_base = |s: usize| ((s % 2) * sp_half) as u32;
    let acc_base = |o: usize| ((o % 2) * acc_half) as u32;
    let loads = |s: usize| {
        let st = &steps[s];
        let mut v = Vec::new();
        let mut strip = |mem: u32, sp: u32, rows: u32| {
            let mut done = 0;
            while done < rows {
                let n = (rows - done).min(ts::MAX_CMD_ROWS);
                v.push(Command::Load {
                    mem_addr: mem + done,
                    sp_addr: sp + done,
                    rows: n,
                });
                done += n;
            }
        };
        let rows = (st.tk * d) as u32;
        for ii in 0..st.ti {
            let mem = layout.a_base + (((st.ib + ii) * nk + st.kb) * d) as u32;
            strip(mem, sp_base(s) + ii as u32 * rows, rows);
        }
        let b_sp = sp_base(s) + (st.ti * st.tk * d) as u32;
        for jj in 0..st.tj {
            let mem = layout.b_base + (((st.jb + jj) * nk + st.kb) * d) as u32;
            strip(mem, b_sp + jj as u32 * rows, rows);
        }
        v
    };
    let computes = |s: usize| {
        let st = &steps[s];
        let a0 = sp_base(s);
        let b0 = a0 + (st.ti * st.tk * d) as u32;
        let mut v = Vec::new();
        for ii in 0..st.ti {
            for jj in 0..st.tj {
                for kk in 0..st.tk {
                    v.push(Command::Compute {
                        a: a0 + ((ii * st.tk + kk) as u32) * dd,
                        b: b0 + ((jj * st.tk + kk) as u32) * dd,
                        c: acc_base(st.out) + ((ii * st.tj + jj) as u32) * dd,
                        accumulate: st.kb + kk != 0,
                    });
                }
            }
        }
        v
    };
    let stores = |s: usize| {
        let st = &steps[s];
        let mut v = Vec::new();
        for ii in 0..st.ti {
            for jj in 0..st.tj {
                v.push(Command::Store {
                    acc_addr: acc_base(st.out) + ((ii * st.tj + jj) as u32) * dd,
                    mem_addr: layout.c_base + (((st.ib + ii) * nj + st.jb + jj) * d) as u32,
                    rows: dd,
                    shift: opts.shift,
                });
            }
        }
        v
    };

    let mut commands = loads(0);
    let mut pending_stores = Vec::new();
    for s in 0..steps.len() {
        let c = computes(s);
        let l = if s + 1 < steps.len() {
            loads(s + 1)
        } else {
            Vec::new()
        };
        let st = std::mem::take(&mut pending_stores);
        for idx in 0..c.len().max(l.len()).max(st.len()) {
            for list in [&c, &l, &st] {
                if let Some(cmd) = list.get(idx) {
                    commands.push(*cmd);
                }
            }
        }
        if steps[s].last_k {
            pending_stores = stores(s);
        }
    }
    commands.extend(pending_stores);
    Ok(Program {
        layout,
        tiling,
        shift: opts.shift,
        commands,
    })
}

/// Plain reference: `C = A·B` in int32 (A row-major `I x K`, B row-major `K x J`), wrapping.
pub fn reference_matmul(a: &[i8], b: &[i8], s: GemmShape) -> Vec<i32> {
    assert_eq!(a.len(), s.i * s.k, "A must be I x K");
    assert_eq!(b.len(), s.k * s.j, "B must be K x J");
    let mut c = vec![0i32; s.i * s.j];
    for i in 0..s.i {
        for k in 0..s.k {
            let aik = i32::from(a[i * s.k + k]);
            for j in 0..s.j {
                c[i * s.j + j] = c[i * s.j + j].wrapping_add(aik * i32::from(b[k * s.j + j]));
            }
        }
    }
    c
}

/// The reference output as `STORE` writes it: `sat_i8(C >> shift)`.
pub fn reference_output(a: &[i8], b: &[i8], s: GemmShape, shift: u8) -> Vec<i8> {
    reference_matmul(a, b, s)
        .into_iter()
        .map(|x| crate::tile::requantize(x, shift))
        .collect()
}

/// Random int8 values in `-range..=range` (`range = 127`: the full `-128..=127`) from a seeded
/// generator (test data).
pub fn random_matrix(rng: &mut impl rand::Rng, len: usize, range: i8) -> Vec<i8> {
    let lo = if range == i8::MAX { i8::MIN } else { -range };
    (0..len).map(|_| rng.gen_range(lo..=range)).collect()
}

/// One GEMM placed on one tile (by `soc::place_gemms`): its program and its inputs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GemmJob {
    /// The tile running it.
    pub tile: usize,
    /// The compiled program (layout, tiling, commands).
    pub program: Program,
    /// A, row-major `I x K`.
    pub a: Vec<i8>,
    /// B, row-major `K x J`.
    pub b: Vec<i8>,
}

impl GemmJob {
    /// The output the reference matmul gives (`sat_i8(A·B >> shift)`, row-major `I x J`).
    pub fn expected(&self) -> Vec<i8> {
        reference_output(
            &self.a,
            &self.b,
            self.program.layout.shape,
            self.program.shift,
        )
    }

    /// Whether C in `mem` equals [`GemmJob::expected`].
    pub fn output_ok<M: RowMemory + ?Sized>(&self, mem: &M) -> Result<bool, M::Error> {
        Ok(self.program.read_output(mem)? == self.expected())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn p4() -> TileParams {
        TileParams::new(4).unwrap()
    }

    #[test]
    fn layout_packs_and_unpacks() {
        let s = GemmShape::new(5, 6, 7).unwrap();
        let l = Layout::new(4, s, 10);
        assert_eq!((l.ni, l.nj, l.nk), (2, 2, 2));
        assert_eq!((l.a_base, l.b_base, l.c_base), (10, 26, 42));
        assert_eq!(l.end(), 58);
        let a: Vec<i8> = (0..35).map(|x| x as i8 + 1).collect();
        let pa = l.pack_a(&a);
        // Block (1, 1), row k = 2 holds column K = 6 for rows I = 4..8: A[4][6] = 35, then pad.
        assert_eq!(&pa[(3 * 4 + 2) * 4..(3 * 4 + 3) * 4], &[35, 0, 0, 0]);
        // Block (0, 0) row 0 = column 0 of A.
        assert_eq!(&pa[0..4], &[1, 8, 15, 22]);
        let b: Vec<i8> = (0..42).map(|x| x as i8).collect();
        let pb = l.pack_b(&b);
        // Block (jb=1, kb=0) row 1: B[1][4..6] then padding.
        assert_eq!(&pb[(2 * 4 + 1) * 4..(2 * 4 + 2) * 4], &[10, 11, 0, 0]);
        let rows: Vec<i8> = (0..l.c_rows() * 4).map(|x| x as i8).collect();
        let c = l.unpack_c(&rows);
        assert_eq!(c.len(), 30);
        // C[4][5] is block (1, 1) row 0 column 1: row (3*4 + 0), value index 1.
        assert_eq!(c[4 * 6 + 5], rows[3 * 16 + 1]);
    }

    #[test]
    fn auto_tiling_is_maximal_and_fits() {
        let p = p4();
        assert_eq!(
            auto_tiling(&p, 100, 100, 100),
            Tiling {
                ti: 2,
                tj: 2,
                tk: 8
            }
        );
        assert_eq!(
            auto_tiling(&p, 1, 1, 1),
            Tiling {
                ti: 1,
                tj: 1,
                tk: 1
            }
        );
        let g = TileParams::new(16).unwrap();
        assert_eq!(
            auto_tiling(&g, 64, 64, 64),
            Tiling {
                ti: 2,
                tj: 2,
                tk: 8
            }
        );
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        for _ in 0..500 {
            let dim = rng.gen_range(2..=16);
            let p = TileParams::with_rows(
                dim,
                rng.gen_range(4..=100) * dim as u32,
                rng.gen_range(2..=40) * dim as u32,
            )
            .unwrap();
            let (ni, nj, nk) = (
                rng.gen_range(1..30),
                rng.gen_range(1..30),
                rng.gen_range(1..30),
            );
            let t = auto_tiling(&p, ni, nj, nk);
            let (sp, acc) = tile_rows(t, dim);
            assert!(
                sp <= p.sp_rows as usize / 2 && acc <= p.acc_rows as usize / 2,
                "{p:?} {t:?}"
            );
            assert!(t.ti <= ni && t.tj <= nj && t.tk <= nk && t.ti * t.tj * t.tk >= 1);
            for g in [
                Tiling { ti: t.ti + 1, ..t },
                Tiling { tj: t.tj + 1, ..t },
                Tiling { tk: t.tk + 1, ..t },
            ] {
                let (sp, acc) = tile_rows(g, dim);
                let fits = sp <= p.sp_rows as usize / 2 && acc <= p.acc_rows as usize / 2;
                let inside = g.ti <= ni && g.tj <= nj && g.tk <= nk;
                assert!(
                    !(fits && inside),
                    "{p:?} {ni}x{nj}x{nk}: {t:?} could grow to {g:?}"
                );
            }
        }
    }

    #[test]
    fn commands_stay_in_bounds_and_cover_every_block() {
        let p = p4();
        for (i, j, k) in [(1, 1, 1), (5, 9, 13), (40, 3, 70), (17, 33, 4)] {
            let s = GemmShape::new(i, j, k).unwrap();
            let prog = compile(s, &p, 1 << 16, &CompileOptions::default()).unwrap();
            let l = prog.layout;
            let mut macs = 0;
            let mut stored = 0;
            for c in &prog.commands {
                c.check_bounds(&p, 1 << 16).unwrap();
                match *c {
                    Command::Compute { .. } => macs += 1,
                    Command::Store { rows, mem_addr, .. } => {
                        assert!(mem_addr >= l.c_base);
                        stored += rows as usize;
                    }
                    Command::Load { mem_addr, rows, .. } => {
                        assert!(u64::from(mem_addr + rows) <= u64::from(l.c_base));
                    }
                    Command::Fence => panic!("no FENCE needed"),
                }
            }
            assert_eq!(macs, l.ni * l.nj * l.nk, "one COMPUTE per block triple");
            assert_eq!(stored, l.c_rows(), "every C row stored once");
        }
    }

    #[test]
    fn bad_shapes_and_tilings_are_refused() {
        let p = p4();
        assert_eq!(
            GemmShape::new(0, 1, 1).unwrap_err().to_string(),
            "I=0 is out of range: allowed 1..=65536"
        );
        assert!("4x5".parse::<GemmShape>().is_err());
        assert!("4xax5".parse::<GemmShape>().is_err());
        assert_eq!(
            "4x5x6".parse::<GemmShape>().unwrap(),
            GemmShape::new(4, 5, 6).unwrap()
        );
        let s = GemmShape::new(64, 64, 64).unwrap();
        let too_big = CompileOptions {
            tiling: Some(Tiling {
                ti: 4,
                tj: 4,
                tk: 16,
            }),
            ..Default::default()
        };
        let e = compile(s, &p, 1 << 16, &too_big).unwrap_err();
        assert!(matches!(e, CompileError::TileTooBig { .. }), "{e}");
        assert!(e.to_string().contains("allowed 128 and 32"), "{e}");
        let e = compile(s, &p, 100, &CompileOptions::default()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "the matrices need memory rows 0..3072: allowed 0..100"
        );
        let e = compile(
            s,
            &p,
            1 << 16,
            &CompileOptions {
                shift: 32,
                ..Default::default()
            },
        )
        .unwrap_err();
        assert_eq!(e.to_string(), "shift=32 is out of range: allowed 0..=31");
        let zero_tile = CompileOptions {
            tiling: Some(Tiling {
                ti: 0,
                tj: 1,
                tk: 1,
            }),
            ..Default::default()
        };
        assert!(compile(s, &p, 1 << 16, &zero_tile).is_err());
    }

    #[test]
    fn reference_matmul_is_plain() {
        let s = GemmShape::new(2, 2, 3).unwrap();
        let a = [1, 2, 3, -4, 5, -6];
        let b = [1, 0, 0, 1, 127, -128];
        assert_eq!(reference_matmul(&a, &b, s), vec![382, -382, -766, 773]);
        assert_eq!(reference_output(&a, &b, s, 2), vec![95, -96, -128, 127]);
    }
}
