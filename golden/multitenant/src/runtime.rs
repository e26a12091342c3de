//! The MoCA runtime: per-layer prediction, dynamic priority score, contention detection,
//! bandwidth partitioning and conversion to the throttle's `WINDOW`/`TARGET` registers.
//!
//! # Prediction
//! [`layer_cost`] ports the artifact's Gemmini tiling (`tiling_factor_calculate` for convolutions,
//! the double-buffered `tiled_matmul` tiling for matmuls) and counts, for the whole layer on one
//! tile, the compute cycles (`MACs / DIM^2`, with the artifact's penalty for fewer than `DIM` input
//! channels), the on-chip loads issued (input, weight and bias rows, plus the output rows stored),
//! the number of scratchpad tiles, and the DRAM traffic that misses the shared L2 cache. The cache
//! model is the artifact's pre-compiler's: weights, outputs and biases always come from DRAM; a
//! layer's input does when it is not the previous layer's output or when it does not fit in the
//! cache, and re-streamed inner tiles come from DRAM when the working set exceeds `cache / 1.2`.
//! [`predict_layer`] then splits the work over the task's tiles and forms
//! `ideal = max(mem, compute) + overlap * min(mem, compute)`, `mem = max(DRAM cycles, on-chip
//! cycles)`, and the layer's ideal DRAM bandwidth demand in percent of `DRAM_BW`.
//!
//! # Score, contention, registers
//! [`score`] is the artifact's dynamic priority score; [`grant_share`] detects contention (summed
//! demand above `dram_max_util_percent`) and partitions the excess weighting each co-runner by its
//! own score; [`to_registers`] converts the granted share into `WINDOW`/`TARGET`/`BURST` values that
//! are valid for the hardware or returns a [`RuntimeError`].

use crate::workload::{Hardware, Layer, LayerShape, RuntimeConsts};
use golden::cfg::ConfigError;
use thiserror::Error;

/// Register constants the runtime relies on, from the single register-map definition.
pub mod regs {
    pub use golden::spec::{BYTES_PER_BEAT, REG_MAX, TARGET_MIN, WINDOW_MIN};
    /// `WINDOW = 0` turns the throttle off.
    pub const WINDOW_OFF: u16 = 0;
    /// Name of the `WINDOW` register (as `ConfigError`s name it).
    pub const WINDOW_NAME: &str =
        golden::spec::THROTTLE_REGISTERS[golden::spec::throttle::WINDOW as usize].name;
}

/// Why the runtime could not produce register values.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum RuntimeError {
    /// The computed window is shorter than the hardware accepts.
    #[error("WINDOW {window} is invalid: must be 0 (off) or {min}..={max}", min = regs::WINDOW_MIN, max = regs::REG_MAX)]
    WindowOutOfRange {
        /// The computed value.
        window: u64,
    },
    /// The computed target is out of range for the given window.
    #[error("TARGET {target} is invalid for WINDOW {window}: must be {min}..={max}", min = regs::TARGET_MIN, max = regs::REG_MAX)]
    TargetOutOfRange {
        /// The computed value.
        target: u64,
        /// The window it goes with.
        window: u64,
    },
    /// A granted share outside 1..=100 percent... of peak times the contention limit.
    #[error("granted share {0} % is invalid: must be >= 1")]
    InvalidShare(u32),
    /// The layer has no tiles to run on.
    #[error("a layer must run on 1..=16 tiles, got {0}")]
    InvalidTiles(u32),
}

/// Whole-layer figures on one tile, as the artifact's pre-compiler derives them.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LayerCost {
    /// Compute cycles on one tile (`MACs / DIM^2`, FC layers: load-bound loop count).
    pub compute_cycles: u64,
    /// Rows loaded into the scratchpad/accumulator (inputs, weights, biases), all tiles together.
    pub load_rows: u64,
    /// Rows of output stored (the layer's output size).
    pub store_rows: u64,
    /// On-chip memory transactions counted by the predictor (`loads + stores`).
    pub total_mem_rows: u64,
    /// Rows that miss the shared cache and come from DRAM.
    pub from_dram_rows: u64,
    /// Scratchpad tiles the layer is split into (on one tile).
    pub scratchpad_tiles: u64,
    /// Input (A) rows of the layer.
    pub input_rows: u64,
    /// Weight (B) rows of the layer.
    pub weight_rows: u64,
    /// How many times the input is re-loaded (`A loads / A size`).
    pub a_reuse: f64,
    /// How many times the weights are re-loaded (`B loads / B size`).
    pub b_reuse: f64,
}

/// How the predictor overlaps memory and compute.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Overlap {
    /// `ideal = max + f * min` with a constant `f` (the runtime's `prediction_overlap`, 0.5).
    Constant(f64),
    /// The artifact pre-compiler's reuse-dependent factor (0.7 / 0.5 / 1.0 / 0.3), used to
    /// reproduce `artifact-layer-predictions.csv`.
    ArtifactReuse,
}

/// A layer's prediction on a group of tiles.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LayerPrediction {
    /// Tiles the layer runs on.
    pub tiles: u32,
    /// Compute cycles on those tiles.
    pub compute_cycles: f64,
    /// Cycles to move the on-chip traffic through the tiles' L2 ports.
    pub onchip_cycles: f64,
    /// Cycles to move the DRAM traffic at `DRAM_BW`.
    pub dram_cycles: f64,
    /// `max(dram, onchip)`.
    pub mem_cycles: f64,
    /// `max(mem, compute) + overlap * min(mem, compute)`.
    pub ideal_cycles: u64,
    /// DRAM rows.
    pub from_dram_rows: u64,
    /// Rows loaded (all tiles of the group together): what the throttle counts.
    pub load_rows: u64,
    /// Scratchpad tiles per accelerator tile.
    pub scratchpad_tiles_per_tile: u64,
    /// Ideal DRAM demand in percent of `DRAM_BW` (integer, as the artifact computes it).
    pub demand_percent: u32,
}

fn ceil_div(a: i64, b: i64) -> i64 {
    (a + b - 1) / b
}

#[cfg(test)]
fn round_div(a: i64, b: i64) -> i64 {
    (a + b / 2) / b
}

struct Geometry {
    dim: i64,
    max_block_len: i64,
    max_spad_rows: i64,
    max_acc_rows: i64,
}

impl Geometry {
    fn new(hw: &Hardware) -> Self {
        let dim = i64::from(hw.dim);
        Geometry {
            dim,
            max_block_len: (i64::from(hw.dma_max_bytes) / dim).max(1),
            // Halved for double buffering, as in Gemmini.
            max_spad_rows: i64::from(hw.scratchpad_banks) * i64::from(hw.scratchpad_bank_rows) / 2,
            max_acc_rows: i64::from(hw.accumulator_rows) / 2,
        }
    }

    /// `tiled_conv_total_spad_rows_A_stride` (no dilation, no transposition): (spad, acc) rows.
    #[allow(clippy::too_many_arguments)]
    fn conv_rows(&self, stride: i64, a: &[i64; 7], pool_size: i64, pool_stride: i64) -> (i64, i64) {
        let [batches, porows, pocols, ochs, krows, kcols, kchs] = *a;
        let orows = porows * pool_stride + pool_size - 1;
        let ocols = pocols * pool_stride + pool_size - 1;
        let irows = orows * stride + krows - 1;
        let icols = ocols * stride + kcols - 1;
        let in_per_bank = ceil_div(kchs, self.dim);
        let out_per_bank = ceil_div(ochs, self.dim);
        let a_rows = in_per_bank * batches * irows * icols;
        let b_rows = out_per_bank * kcols * krows * kchs;
        let c_rows = out_per_bank * batches * orows * ocols;
        (a_rows + b_rows, c_rows)
    }

    /// Port of the artifact's `tiling_factor_calculate`: shrink the tile until it fits the
    /// double-buffered scratchpad and accumulator, then grow it greedily.
    #[allow(clippy::too_many_arguments)]
    fn conv_tiling(
        &self,
        mut args: [i64; 7],
        stride: i64,
        pool_size: i64,
        pool_stride: i64,
        padding: i64,
    ) -> [i64; 7] {
        const OROWS: usize = 1;
        const OCOLS: usize = 2;
        const OCHS: usize = 3;
        const ICHS: usize = 6;
        let dim = self.dim;
        let mbl = self.max_block_len;
        let max_args = args;
        let (kernel_dim, in_channels, out_channels) = (args[4], args[6], args[3]);
        let fits = |a: &[i64; 7]| {
            let (s, c) = self.conv_rows(stride, a, pool_size, pool_stride);
            s <= self.max_spad_rows && c <= self.max_acc_rows
        };
        let mut guard = 0;
        while !fits(&args) && guard < 10_000 {
            guard += 1;
            let mut max_val = -1i64;
            let mut max_idx: Option<usize> = None;
            for j in 0..7usize {
                let i = match j {
                    0 => 0,
                    1 => OCOLS,
                    2 => 4,
                    3 => 5,
                    4 => OROWS,
                    5 => OCHS,
                    _ => ICHS,
                };
                if i == 0 && args[0] > 1 {
                    max_val = args[0];
                    max_idx = Some(0);
                    break;
                } else if ((pool_stride > 1 && args[ICHS] >= dim) || args[ICHS] == mbl * dim)
                    && args[OCHS] <= mbl * dim
                {
                    if i == OROWS
                        && args[OROWS] > 1
                        && (args[OCOLS] <= dim
                            || (args[ICHS] <= dim * mbl && args[OCHS] == mbl * dim))
                    {
                        max_val = args[OROWS];
                        max_idx = Some(OROWS);
                        break;
                    } else if i == OCOLS && args[i] > dim {
                        max_val = args[OCOLS];
                        max_idx = Some(OCOLS);
                        break;
                    } else if (i == 4 || i == 5) && args[i] > 1 {
                        max_val = args[i];
                        max_idx = Some(i);
                        break;
                    } else if args[i] > dim && pool_stride > 1 && (i == ICHS || i == OCHS) {
                        max_val = args[i];
                        max_idx = Some(i);
                    }
                } else if !(i == OCOLS && args[i] <= dim && args[OROWS] > 1)
                    && args[i] > max_val
                    && !((i == OCHS || i == ICHS) && args[i] <= dim)
                {
                    max_val = args[i];
                    max_idx = Some(i);
                }
            }
            match max_idx {
                Some(m) if m == OCHS || m == ICHS => {
                    if max_val > mbl * dim || pool_stride > 1 {
                        if args[m] > mbl * dim && args[m] % (mbl * dim) != 0 {
                            args[m] = (args[m] / (mbl * dim)) * (mbl * dim);
                        } else if args[m] % (2 * dim) == 0 {
                            args[m] /= 2;
                        } else {
                            args[m] = ((args[m] - 1) / dim) * dim;
                        }
                        args[m] = args[m].max(1);
                    } else if args[4] > 1 || args[5] > 1 {
                        if args[4] > 1 {
                            args[4] = 1;
                        } else {
                            args[5] -= 1;
                        }
                    } else if args[ICHS] < dim {
                        args[m] /= 2;
                    } else if args[OROWS] > 4 {
                        args[OROWS] /= 2;
                    } else if args[OCOLS] > dim {
                        args[OCOLS] = dim;
                    }
                }
                Some(m) => {
                    if m == OCOLS {
                        if args[m] % dim != 0 {
                            args[m] = (args[m] / dim) * dim;
                        } else {
                            args[m] -= dim / pool_stride;
                        }
                    } else if m == 4 || m == 5 {
                        args[m] = 1;
                    } else {
                        args[m] -= 1;
                    }
                }
                None => {
                    // Nothing left to shrink (the artifact would loop forever): fall back to the
                    // smallest tile that keeps the array busy.
                    args = [
                        1,
                        1,
                        dim.min(args[OCOLS]),
                        dim.min(args[OCHS]),
                        1,
                        1,
                        dim.min(args[ICHS]),
                    ];
                    break;
                }
            }
            for v in args.iter_mut() {
                *v = (*v).max(1);
            }
            if in_channels == 3 && padding == 0 && kernel_dim == 3 {
                let prop = ceil_div(out_channels, args[OCHS]);
                args[OCHS] = out_channels;
                args[OCOLS] = (args[OCOLS] / prop).max(1);
            }
        }
        let mut nothing_increased = false;
        let mut kdim_increase = true;
        while !nothing_increased {
            nothing_increased = true;
            for j in 0..7usize {
                let i = match j {
                    0 => 5,
                    1 => ICHS,
                    2 => 4,
                    3 => OCHS,
                    4 => OCOLS,
                    5 => OROWS,
                    _ => 0,
                };
                let mut cand = args;
                if i == OCHS || i == ICHS {
                    cand[i] *= 2;
                } else if i == OCOLS && args[i] % dim == 0 {
                    cand[i] += dim;
                } else {
                    cand[i] += if kdim_increase && (i == 4 || i == 5) {
                        2
                    } else {
                        1
                    };
                }
                if cand[i] > max_args[i] {
                    continue;
                }
                if fits(&cand) {
                    args[i] = cand[i];
                    nothing_increased = false;
                    kdim_increase = false;
                }
            }
        }
        args
    }
}

/// What the artifact's pre-compiler reads from one layer's tiling (before the cache model).
#[derive(Debug, PartialEq, Eq)]
struct RawCounts {
    a_load: i64,
    b_load: i64,
    d_load: i64,
    raw_d: i64,
    a_size: i64,
    b_size: i64,
    c_size: i64,
    inner_a: i64,
    inner_b: i64,
    outer_a: i64,
    outer_b: i64,
    num_tiles: i64,
    ideal: i64,
}

/// Sum of `f(len)` over the tiles of `for start in (0..total).step_by(step)`, where a tile's
/// length is `min(step, total - start)`: `total / step` whole tiles and one remainder tile. The
/// artifact's per-tile loops are sums of this kind, so their cost is a constant, not the layer's
/// tile count.
fn tile_sum(total: i128, step: i128, f: impl Fn(i128) -> i128) -> Option<i128> {
    if total <= 0 || step <= 0 {
        return Some(0);
    }
    let (full, rem) = (total / step, total % step);
    let whole = full.checked_mul(f(step))?;
    whole.checked_add(if rem > 0 { f(rem) } else { 0 })
}

/// Number of tiles of `for start in (0..total).step_by(step)`.
fn tile_count(total: i128, step: i128) -> i128 {
    if total <= 0 || step <= 0 {
        0
    } else {
        (total + step - 1) / step
    }
}

/// Sum of the tiles' start positions `0 + step + 2 step + ...` over `n` tiles.
fn starts_sum(n: i128, step: i128) -> Option<i128> {
    step.checked_mul(n.checked_mul(n - 1)? / 2)
}

fn ceil_div128(a: i128, b: i128) -> i128 {
    (a + b - 1) / b
}

/// Products of several factors, `None` on overflow.
fn prod(xs: &[i128]) -> Option<i128> {
    xs.iter().try_fold(1i128, |acc, &x| acc.checked_mul(x))
}

/// Largest row, cycle or MAC count the predictor accepts for one layer (2^48): far below the
/// point where the cache model's sums and `100 * rows` could overflow 64 bits.
pub const MAX_LAYER_COUNT: i64 = 1 << 48;

/// A layer whose counts exceed [`MAX_LAYER_COUNT`] (or 128-bit arithmetic) on this hardware.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
#[error(
    "the layer needs more than 2^48 {what} on a tile of DIM {dim}: allowed at most 2^48 \
     (split the layer)"
)]
pub struct LayerTooLarge {
    /// What overflowed (`MACs`, `loaded rows`, ...).
    pub what: &'static str,
    /// The hardware's array dimension.
    pub dim: u32,
}

fn fits(what: &'static str, dim: i64, v: Option<i128>) -> Result<i64, LayerTooLarge> {
    v.filter(|&x| x <= i128::from(MAX_LAYER_COUNT))
        .and_then(|x| i64::try_from(x).ok())
        .ok_or(LayerTooLarge {
            what,
            dim: dim as u32,
        })
}

/// The counts of a convolution in closed form (the same numbers as the artifact's loop over
/// every tile, [`conv_counts_loop`] in the tests, at a cost independent of the layer's size).
fn conv_counts(g: &Geometry, shape: &LayerShape) -> Result<RawCounts, LayerTooLarge> {
    let LayerShape::Conv {
        in_dim,
        in_channels,
        out_channels,
        out_dim,
        kernel,
        stride,
        padding,
        pool_size,
        pool_stride,
        pool_padding,
        pool_out_dim,
    } = *shape
    else {
        unreachable!("conv_counts takes a conv")
    };
    let dim = g.dim;
    let d = i128::from(dim);
    let w = |x: u32| i128::from(x);
    let (in_dim, ich, och, out_dim, k, stride, padding) = (
        w(in_dim),
        w(in_channels),
        w(out_channels),
        w(out_dim),
        w(kernel),
        w(stride),
        w(padding),
    );
    let (pool_size, pool_stride, pool_padding, pod) = (
        w(pool_size),
        w(pool_stride),
        w(pool_padding),
        w(pool_out_dim),
    );
    let t = g.conv_tiling(
        [
            1, pod as i64, pod as i64, och as i64, k as i64, k as i64, ich as i64,
        ],
        stride as i64,
        pool_size as i64,
        pool_stride as i64,
        padding as i64,
    );
    let [batches, porows, pocols, pochs, krows, kcols, kchs] = t.map(i128::from);
    let porows = porows.min(pod);
    let cd = ceil_div128;
    let big = |what| fits(what, dim, None).unwrap_err();
    let weight_size = prod(&[cd(och, d), ich, k, k]);
    let input_size = prod(&[cd(ich, d), in_dim, in_dim]);
    let output_size = prod(&[cd(och, d), pod, pod]);
    let macs = prod(&[och, out_dim, out_dim, k, k, ich]).ok_or_else(|| big("MACs"))?;
    let mut ideal = macs / (d * d);
    if ich < d {
        ideal = ideal.checked_mul(d).ok_or_else(|| big("MACs"))? / ich;
    }
    let raw_d = prod(&[
        cd(och, d),
        4,
        cd(1, batches),
        cd(pod, porows),
        cd(pod, pocols),
    ]);
    let inner_a = prod(&[in_dim, in_dim, cd(ich, d)]);
    let inner_b = prod(&[k, k, ich, cd(pochs, d)]);
    let outer_a = cd(och, pochs);
    let rd = |a: i128, b: i128| (a + b / 2) / b;
    let num_tiles = prod(&[
        rd(och, pochs),
        1 / batches,
        rd(pod, porows),
        rd(pod, pocols),
        rd(k, krows),
        rd(k, kcols),
        rd(ich, kchs),
    ])
    .map(|n| n.max(1));
    // Loop counts and per-dimension sums of the artifact's six nested tile loops
    // (poch, porow, pocol, krow, kcol, kch).
    let (n_porow, n_pocol) = (tile_count(pod, porows), tile_count(pod, pocols));
    let (n_krow, n_kcol, n_poch) = (
        tile_count(k, krows),
        tile_count(k, kcols),
        tile_count(och, pochs),
    );
    // orow and ocol of a tile depend only on its length.
    let orow_of = |len: i128| len * pool_stride + pool_size - 1;
    let sum_orow = tile_sum(pod, porows, orow_of);
    let sum_ocol_units = tile_sum(pod, pocols, |len| {
        let ocol = orow_of(len);
        cd(ocol, ocol.min(d))
    });
    let sum_poch_units = tile_sum(och, pochs, |len| cd(len * 4, len.min(d)));
    let sum_kch_units = tile_sum(ich, kchs, |len| cd(len, len.min(d)));
    // Sum over the column tiles of `ocol - plpad - prpad`. On whole tile t (start
    // `t * pocols`), `plpad = max(0, pp - a t)` and `prpad = max(0, a t + b)` with
    // `a = pocols * pool_stride`: both are arithmetic series over the tiles where they are
    // positive; the remainder tile is evaluated directly.
    let sum_ocol_inner = (|| {
        let mut total = tile_sum(pod, pocols, orow_of)?;
        let full = pod / pocols;
        let a = pocols * pool_stride;
        let pp = pool_padding;
        // Whole tiles with plpad > 0: t < pp / a.
        let m = full.min(cd(pp, a));
        if m > 0 {
            total -= m.checked_mul(pp)? - a.checked_mul(m.checked_mul(m - 1)? / 2)?;
        }
        let b = orow_of(pocols) - pp - out_dim;
        // Whole tiles with prpad > 0: t >= t0.
        let t0 = if b > 0 { 0 } else { (-b) / a + 1 };
        if t0 < full {
            let n = full - t0;
            let t_sum = (t0 + full - 1).checked_mul(n)? / 2;
            total -= a.checked_mul(t_sum)?.checked_add(b.checked_mul(n)?)?;
        }
        let rem = pod % pocols;
        if rem > 0 {
            let pos = full * pocols * pool_stride - pp;
            let ocol = orow_of(rem);
            total -= (-pos).max(0) + (pos + ocol - out_dim).max(0);
        }
        Some(total)
    })();
    // irow = orow * stride + krow_start - padding, summed over (porow, krow) tiles.
    let sum_irow = (|| {
        let a = prod(&[n_krow, stride, sum_orow?])?;
        let b = n_porow.checked_mul(starts_sum(n_krow, krows)? - n_krow * padding)?;
        a.checked_add(b)
    })();
    // icol = (ocol - plpad - prpad) * stride + kcol_len - 1, summed over (pocol, kcol) tiles.
    let sum_icol = (|| {
        let a = prod(&[n_kcol, stride, sum_ocol_inner?])?;
        let b = n_pocol.checked_mul(tile_sum(k, kcols, |len| len - 1)?)?;
        a.checked_add(b)
    })();
    let a_load = (|| prod(&[n_poch, sum_kch_units?, sum_irow?, sum_icol?]))();
    let b_load = (|| prod(&[n_porow, n_pocol, sum_kch_units?, och, k, k]))();
    let d_load = (|| prod(&[sum_orow?, sum_ocol_units?, sum_poch_units?]))();
    let outer_a = fits("output-channel tiles", dim, Some(outer_a))?;
    let inner_a = fits("input rows", dim, inner_a)?;
    fits(
        "input rows",
        dim,
        i128::from(outer_a).checked_mul(i128::from(inner_a)),
    )?;
    Ok(RawCounts {
        a_load: fits("loaded input rows", dim, a_load)?,
        b_load: fits("loaded weight rows", dim, b_load)?,
        d_load: fits("loaded bias rows", dim, d_load)?,
        raw_d: fits("bias rows", dim, raw_d)?,
        a_size: fits("input rows", dim, input_size)?,
        b_size: fits("weight rows", dim, weight_size)?,
        c_size: fits("output rows", dim, output_size)?,
        inner_a,
        inner_b: fits("weight rows", dim, inner_b)?,
        outer_a,
        outer_b: 1,
        num_tiles: fits("scratchpad tiles", dim, num_tiles)?,
        ideal: fits("compute cycles", dim, Some(ideal))?,
    })
}

/// The tiling of a matmul (the double-buffered `tiled_matmul` tile in DIM blocks).
fn matmul_tiling(g: &Geometry, di: i64, dj: i64, dk: i64) -> (i64, i64, i64, i64) {
    let dim = g.dim;
    let db_mats_in_acc = g.max_acc_rows / dim;
    let db_max_tile_ij = (db_mats_in_acc as f64).sqrt() as i64;
    let db_max_tile_k = (g.max_spad_rows / dim) / db_max_tile_ij.max(1);
    let pad = |x: i64| ceil_div(x, dim) * dim;
    let (ip, jp, kp) = (pad(di), pad(dj), pad(dk));
    let mut ti = (ip / dim).min(db_max_tile_ij).max(1);
    let mut tj = (jp / dim).min(db_max_tile_ij).max(1);
    let mut tk = (kp / dim).min(db_max_tile_k).max(1);
    let tile_i_in = ti;
    let spad = |a: i64, b: i64, c: i64| (a * c + c * b) * dim;
    let acc = |a: i64, b: i64| a * b * dim;
    loop {
        let mut inc = false;
        if spad(ti, tj + 1, tk) <= g.max_spad_rows
            && acc(ti, tj + 1) <= g.max_acc_rows
            && (tj + 1) * dim <= jp
        {
            tj += 1;
            inc = true;
        }
        if spad(ti + 1, tj, tk) <= g.max_spad_rows
            && acc(ti + 1, tj) <= g.max_acc_rows
            && (ti + 1) * dim <= ip
        {
            ti += 1;
            inc = true;
        }
        if spad(ti, tj, tk + 1) <= g.max_spad_rows && (tk + 1) * dim <= kp {
            tk += 1;
            inc = true;
        }
        if !inc {
            break;
        }
    }
    (ti, tj, tk, tile_i_in)
}

/// The counts of a matmul in closed form (the same numbers as the artifact's loop over every
/// tile, [`matmul_counts_loop`] in the tests, at a cost independent of the layer's size).
fn matmul_counts(g: &Geometry, shape: &LayerShape) -> Result<RawCounts, LayerTooLarge> {
    let LayerShape::Matmul { i, j, k } = *shape else {
        unreachable!("matmul_counts takes a matmul")
    };
    let dim = g.dim;
    let (di, dj, dk) = (i64::from(i), i64::from(j), i64::from(k));
    let (ti, tj, tk, tile_i_in) = matmul_tiling(g, di, dj, dk);
    let d = i128::from(dim);
    let (di, dj, dk) = (i128::from(di), i128::from(dj), i128::from(dk));
    let (ti, tj, tk, tile_i_in) = (
        i128::from(ti),
        i128::from(tj),
        i128::from(tk),
        i128::from(tile_i_in),
    );
    let cd = ceil_div128;
    let pad = |x: i128| cd(x, d) * d;
    let (ip, jp, kp) = (pad(di), pad(dj), pad(dk));
    let i0 = cd(ip, ti * d);
    let j0 = cd(jp, tj * d);
    let k0 = cd(kp, tk * d);
    let a_size = di * cd(dk, d);
    let b_size = dk * cd(dj, d);
    let c_size = di * cd(dj, d);
    let fc = di <= d || dj <= d;
    let (nx, ny) = (tile_count(di, ti * d), tile_count(dj, tj * d));
    let units = |len: i128| cd(len, len.min(d));
    let (a_load, b_load, d_load, ideal) = if fc {
        (
            Some(a_size),
            Some(b_size),
            Some(c_size * 4),
            Some(a_size + b_size + c_size * 4),
        )
    } else {
        (
            (|| prod(&[ny, tile_sum(dk, tk * d, units)?, di]))(),
            (|| prod(&[nx, tile_sum(dj, tj * d, units)?, dk]))(),
            (|| {
                prod(&[
                    tile_sum(dj, tj * d, |jj| cd(jj * 4, jj.min(d)))?,
                    tile_sum(di, ti * d, units)?,
                ])
            })(),
            prod(&[di, dj, dk]).map(|m| m / (d * d)),
        )
    };
    Ok(RawCounts {
        a_load: fits("loaded input rows", dim, a_load)?,
        b_load: fits("loaded weight rows", dim, b_load)?,
        d_load: fits("loaded bias rows", dim, d_load)?,
        raw_d: fits(
            "bias rows",
            dim,
            Some(cd(dj, d) * 4 * cd(di, tile_i_in * d)),
        )?,
        a_size: fits("input rows", dim, Some(a_size))?,
        b_size: fits("weight rows", dim, Some(b_size))?,
        c_size: fits("output rows", dim, Some(c_size))?,
        inner_a: fits("input rows", dim, Some(tile_i_in * d * cd(dk, d)))?,
        inner_b: fits("weight rows", dim, Some(cd(dj, d) * dk))?,
        outer_a: 1,
        outer_b: fits("row tiles", dim, Some(cd(di, tile_i_in * d)))?,
        num_tiles: fits("scratchpad tiles", dim, Some((i0 * j0 * k0).max(1)))?,
        ideal: fits("compute cycles", dim, ideal)?,
    })
}

/// The counts of one layer (closed forms; see [`conv_counts`] and [`matmul_counts`]).
fn layer_counts(g: &Geometry, shape: &LayerShape) -> Result<RawCounts, LayerTooLarge> {
    match shape {
        LayerShape::Conv { .. } => conv_counts(g, shape),
        LayerShape::Matmul { .. } => matmul_counts(g, shape),
    }
}

/// Check that the predictor can cost `layer` on `hw` without overflow (every count at most
/// [`MAX_LAYER_COUNT`]). The experiment loaders run it on every layer, so [`network_costs`]
/// never meets a layer it cannot cost.
pub fn check_layer(hw: &Hardware, layer: &Layer) -> Result<(), LayerTooLarge> {
    let g = Geometry::new(hw);
    let c = layer_counts(&g, &layer.shape)?;
    // The cache model adds these to the DRAM rows.
    let dim = g.dim;
    fits(
        "re-streamed input rows",
        dim,
        i128::from(c.outer_a).checked_mul(i128::from(c.inner_a)),
    )?;
    fits(
        "re-streamed weight rows",
        dim,
        i128::from(c.outer_b).checked_mul(i128::from(c.inner_b)),
    )?;
    Ok(())
}

/// The artifact's loop over every tile of a convolution, kept as the reference that
/// [`conv_counts`] is tested against (its cost grows with the layer's size).
#[cfg(test)]
fn conv_counts_loop(g: &Geometry, shape: &LayerShape) -> RawCounts {
    let LayerShape::Conv {
        in_dim,
        in_channels,
        out_channels,
        out_dim,
        kernel,
        stride,
        padding,
        pool_size,
        pool_stride,
        pool_padding,
        pool_out_dim,
    } = *shape
    else {
        unreachable!("conv_counts takes a conv")
    };
    let dim = g.dim;
    let (in_dim, ich, och, out_dim, k, stride, padding) = (
        i64::from(in_dim),
        i64::from(in_channels),
        i64::from(out_channels),
        i64::from(out_dim),
        i64::from(kernel),
        i64::from(stride),
        i64::from(padding),
    );
    let (pool_size, pool_stride, pool_padding, pod) = (
        i64::from(pool_size),
        i64::from(pool_stride),
        i64::from(pool_padding),
        i64::from(pool_out_dim),
    );
    let t = g.conv_tiling(
        [1, pod, pod, och, k, k, ich],
        stride,
        pool_size,
        pool_stride,
        padding,
    );
    let [batches, mut porows, pocols, pochs, krows, kcols, kchs] = t;
    porows = porows.min(pod);
    let weight_size = ceil_div(och, dim) * ich * k * k;
    let input_size = ceil_div(ich, dim) * in_dim * in_dim;
    let output_size = ceil_div(och, dim) * pod * pod;
    let macs = och * out_dim * out_dim * k * k * ich;
    let mut ideal = macs / (dim * dim);
    if ich < dim {
        ideal = ideal * dim / ich;
    }
    let raw_d = ceil_div(och, dim)
        * 4
        * ceil_div(1, batches)
        * ceil_div(pod, porows)
        * ceil_div(pod, pocols);
    let inner_a = in_dim * in_dim * ceil_div(ich, dim);
    let inner_b = k * k * ich * ceil_div(pochs, dim);
    let outer_a = ceil_div(och, pochs);
    let num_tiles = (round_div(och, pochs)
        * (1 / batches)
        * round_div(pod, porows)
        * round_div(pod, pocols)
        * round_div(k, krows)
        * round_div(k, kcols)
        * round_div(ich, kchs))
    .max(1);
    let (mut a_load, mut b_load, mut d_load) = (0i64, 0i64, 0i64);
    let mut poch = 0;
    while poch < och {
        let eff_poch = pochs.min(och - poch);
        let poch_unit = eff_poch.min(dim);
        let mut porow = 0;
        while porow < pod {
            let eff_porow = porows.min(pod - porow);
            let orow = eff_porow * pool_stride + pool_size - 1;
            let mut pocol = 0;
            while pocol < pod {
                let eff_pocol = pocols.min(pod - pocol);
                let ocol_position = pocol * pool_stride - pool_padding;
                let plpad = (-ocol_position).max(0);
                let ocol = eff_pocol * pool_stride + pool_size - 1;
                let prpad = (ocol_position + ocol - out_dim).max(0);
                let ocol_unit = ocol.min(dim);
                d_load += orow * ceil_div(ocol, ocol_unit) * ceil_div(eff_poch * 4, poch_unit);
                let mut krow = 0;
                while krow < k {
                    let eff_krow = krows.min(k - krow);
                    let irow = orow * stride + krow - padding;
                    let mut kcol = 0;
                    while kcol < k {
                        let eff_kcol = kcols.min(k - kcol);
                        let icol = (ocol - plpad - prpad) * stride + eff_kcol - 1;
                        let mut kch = 0;
                        while kch < ich {
                            let eff_kch = kchs.min(ich - kch);
                            let kch_unit = eff_kch.min(dim);
                            a_load += ceil_div(eff_kch, kch_unit) * irow * icol;
                            b_load += ceil_div(eff_kch, kch_unit) * eff_poch * eff_krow * eff_kcol;
                            kch += kchs;
                        }
                        kcol += kcols;
                    }
                    krow += krows;
                }
                pocol += pocols;
            }
            porow += porows;
        }
        poch += pochs;
    }
    RawCounts {
        a_load,
        b_load,
        d_load,
        raw_d,
        a_size: input_size,
        b_size: weight_size,
        c_size: output_size,
        inner_a,
        inner_b,
        outer_a,
        outer_b: 1,
        num_tiles,
        ideal,
    }
}

/// The artifact's loop over every tile of a matmul, kept as the reference that
/// [`matmul_counts`] is tested against.
#[cfg(test)]
fn matmul_counts_loop(g: &Geometry, shape: &LayerShape) -> RawCounts {
    let LayerShape::Matmul { i, j, k } = *shape else {
        unreachable!("matmul_counts takes a matmul")
    };
    let dim = g.dim;
    let (di, dj, dk) = (i64::from(i), i64::from(j), i64::from(k));
    // The same tiling as the closed form: the loops below check its counts, not the tiling.
    let (ti, tj, tk, tile_i_in) = matmul_tiling(g, di, dj, dk);
    let pad = |x: i64| ceil_div(x, dim) * dim;
    let (ip, jp, kp) = (pad(di), pad(dj), pad(dk));
    let i0 = ceil_div(ip, ti * dim);
    let j0 = ceil_div(jp, tj * dim);
    let k0 = ceil_div(kp, tk * dim);
    let a_size = di * ceil_div(dk, dim);
    let b_size = dk * ceil_div(dj, dim);
    let c_size = di * ceil_div(dj, dim);
    let fc = di <= dim || dj <= dim;
    let (mut a_load, mut b_load, mut d_load) = (0i64, 0i64, 0i64);
    let ideal;
    if fc {
        a_load = a_size;
        b_load = b_size;
        d_load = c_size * 4;
        ideal = a_load + b_load + d_load;
    } else {
        ideal = di * dj * dk / (dim * dim);
        let mut x = 0;
        while x < di {
            let ii = (ti * dim).min(di - x);
            let mut y = 0;
            while y < dj {
                let jj = (tj * dim).min(dj - y);
                let a_unit = ii.min(dim);
                let b_unit = jj.min(dim);
                d_load += ceil_div(jj * 4, b_unit) * ceil_div(ii, a_unit);
                let mut z = 0;
                while z < dk {
                    let kk = (tk * dim).min(dk - z);
                    let k_unit = kk.min(dim);
                    a_load += ceil_div(kk, k_unit) * ii;
                    b_load += ceil_div(jj, b_unit) * kk;
                    z += tk * dim;
                }
                y += tj * dim;
            }
            x += ti * dim;
        }
    }
    RawCounts {
        a_load,
        b_load,
        d_load,
        raw_d: ceil_div(dj, dim) * 4 * ceil_div(di, tile_i_in * dim),
        a_size,
        b_size,
        c_size,
        inner_a: tile_i_in * dim * ceil_div(dk, dim),
        inner_b: ceil_div(dj, dim) * dk,
        outer_a: 1,
        outer_b: ceil_div(di, tile_i_in * dim),
        num_tiles: (i0 * j0 * k0).max(1),
        ideal,
    }
}

/// Whole-network costs: [`layer_cost`] for every layer, carrying the shared-cache state (whether
/// the previous layer's output is still in the cache) from layer to layer.
pub fn network_costs(hw: &Hardware, layers: &[Layer]) -> Vec<LayerCost> {
    let g = Geometry::new(hw);
    let cache = hw.cache_rows as i64;
    let mut prev_c: Option<i64> = None;
    // The pre-compiler never clears this flag once a layer of the network loaded its input from
    // DRAM; reproduced as is.
    let mut added_a = 0i64;
    let mut out = Vec::with_capacity(layers.len());
    for (n, layer) in layers.iter().enumerate() {
        let c = layer_counts(&g, &layer.shape)
            .expect("the experiment loaders check every layer (runtime::check_layer)");
        let first = n == 0;
        let mut from_dram = c.raw_d + c.b_size + c.c_size;
        if from_dram * 2 + c.a_size > cache || first || prev_c != Some(c.a_size) {
            from_dram += c.a_size;
            added_a = 1;
        }
        let working = c.inner_a + c.inner_b + c.c_size / c.outer_a.max(c.outer_b);
        if working as f64 > cache as f64 / 1.2 || first {
            if c.outer_a > 1 {
                from_dram += (c.outer_a - added_a) * c.inner_a;
            } else if c.outer_b > 1 {
                from_dram += ((c.outer_b - 1) / 2) * c.inner_b;
            }
        }
        prev_c = Some(c.c_size);
        let loads = c.a_load + c.b_load + c.d_load;
        // The pre-compiler reconstructs loads as (loads / tiles) * tiles.
        let total_mem = (loads / c.num_tiles) * c.num_tiles + c.c_size;
        out.push(LayerCost {
            compute_cycles: c.ideal.max(1) as u64,
            load_rows: loads.max(0) as u64,
            store_rows: c.c_size.max(0) as u64,
            total_mem_rows: total_mem.max(0) as u64,
            from_dram_rows: from_dram.max(0) as u64,
            scratchpad_tiles: c.num_tiles as u64,
            input_rows: c.a_size as u64,
            weight_rows: c.b_size as u64,
            a_reuse: c.a_load as f64 / c.a_size.max(1) as f64,
            b_reuse: c.b_load as f64 / c.b_size.max(1) as f64,
        });
    }
    out
}

/// The cost of one layer seen in isolation (its input assumed not cached, as for a network's
/// first layer). Use [`network_costs`] for a network, which models the cache across layers.
pub fn layer_cost(hw: &Hardware, layer: &Layer) -> LayerCost {
    network_costs(hw, std::slice::from_ref(layer))[0]
}

/// Predict a layer on `tiles` tiles: the artifact's model (L2 bandwidth per tile
/// `min(8 / tiles, 1)` rows/cycle, DRAM at `DRAM_BW`, memory and compute overlapped by `overlap`).
pub fn predict_layer(
    hw: &Hardware,
    cost: &LayerCost,
    tiles: u32,
    overlap: Overlap,
) -> LayerPrediction {
    let n = f64::from(tiles.max(1));
    let l2_bw = (8.0 / n).min(1.0);
    let compute = cost.compute_cycles as f64 / n;
    let onchip = cost.total_mem_rows as f64 / n / l2_bw;
    let dram = cost.from_dram_rows as f64 / f64::from(hw.dram_bw_rows_per_cycle);
    let mem = onchip.max(dram);
    let f = match overlap {
        Overlap::Constant(f) => f,
        Overlap::ArtifactReuse => {
            if cost.b_reuse == 1.0 && cost.a_reuse > 1.0 {
                0.7
            } else if cost.b_reuse == 1.0 {
                0.5
            } else if cost.a_reuse + cost.b_reuse > 100.0 {
                1.0
            } else {
                0.3
            }
        }
    };
    let ideal = (mem.max(compute) + f * mem.min(compute)).max(1.0) as u64;
    let demand = (100 * cost.from_dram_rows / ideal) / u64::from(hw.dram_bw_rows_per_cycle);
    LayerPrediction {
        tiles,
        compute_cycles: compute,
        onchip_cycles: onchip,
        dram_cycles: dram,
        mem_cycles: mem,
        ideal_cycles: ideal,
        from_dram_rows: cost.from_dram_rows,
        load_rows: cost.load_rows,
        scratchpad_tiles_per_tile: (cost.scratchpad_tiles / u64::from(tiles.max(1))).max(1),
        demand_percent: demand.min(u64::from(u32::MAX)) as u32,
    }
}

/// The artifact's dynamic priority score:
/// `(1 + priority) / divisor + round(scale * remaining / slack)` with
/// `slack = target - elapsed`, or 10 cycles once the target has passed.
pub fn score(
    consts: &RuntimeConsts,
    priority: u32,
    remaining_cycles: u64,
    target: u64,
    elapsed: u64,
) -> u32 {
    let slack = if target > elapsed {
        target - elapsed
    } else {
        10
    };
    let urgency = (u128::from(consts.score_urgency_scale) * u128::from(remaining_cycles)
        + u128::from(slack / 2))
        / u128::from(slack);
    let s = u128::from((1 + priority) / consts.score_priority_divisor) + urgency;
    s.min(u128::from(u32::MAX)) as u32
}

/// A co-running layer as the runtime sees it: its ideal demand and its task's score.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CoRunner {
    /// Ideal DRAM demand of its current layer, percent of `DRAM_BW` (0 if idle or throttling
    /// disabled for it).
    pub demand_percent: u32,
    /// Its task's dynamic score.
    pub score: u32,
}

/// How the excess bandwidth is partitioned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Partition {
    /// As the paper describes: each co-runner's demand weighted by its own score.
    Paper,
    /// As the published artifact code does: `other_weight_sum += this_score * util[i]` — every
    /// co-runner weighted by the *caller's* score, which cancels priority out of the split.
    ArtifactCode,
}

/// Contention detection and partitioning. Returns `None` when the summed demand stays within
/// `dram_max_util_percent` (no regulation needed), else the granted share in percent of
/// `DRAM_BW` (floored at `min_util_percent`).
///
/// The caller keeps `own - excess * W_others / (own_score * own + W_others)` where
/// `W_others = sum(score_i * demand_i)`: a task with a higher score than its co-runners gives up
/// less of the excess. Note: the published artifact computes `W_others` with the caller's own
/// score for every co-runner ([`Partition::ArtifactCode`]), so `own_score` cancels and the split
/// is by demand only; moca implements the paper's intent by default ([`Partition::Paper`]).
pub fn grant_share(
    hw: &Hardware,
    own_demand: u32,
    own_score: u32,
    others: &[CoRunner],
    partition: Partition,
) -> Option<u32> {
    let other_demand: u64 = others.iter().map(|o| u64::from(o.demand_percent)).sum();
    let total = u64::from(own_demand) + other_demand;
    let limit = u64::from(hw.dram_max_util_percent);
    if total <= limit {
        return None;
    }
    let excess = total - limit;
    let own_score = u64::from(own_score.max(1));
    let w_others: u64 = others
        .iter()
        .map(|o| {
            let s = match partition {
                Partition::Paper => u64::from(o.score.max(1)),
                Partition::ArtifactCode => own_score,
            };
            s * u64::from(o.demand_percent)
        })
        .sum();
    let denom = own_score * u64::from(own_demand) + w_others;
    let cut = (excess * w_others).checked_div(denom).unwrap_or(0);
    let granted = u64::from(own_demand).saturating_sub(cut);
    Some(granted.max(u64::from(hw.min_util_percent)) as u32)
}

/// The throttle register values for one tile: the golden model's configuration type (one type
/// for the registers' values, validated by `golden::spec::validate`).
pub type ThrottleRegs = golden::cfg::ThrottleConfig;

/// Convert a granted share into per-tile register values, following the artifact:
/// `predicted = 100 * from_dram / (DRAM_BW * share)` cycles, `WINDOW = predicted / scratchpad
/// tiles per tile`, `TARGET = loads per tile / scratchpad tiles per tile`. No throttling (all
/// zero) when `share` is `None` (uncontended), when the share is not below the layer's demand, or
/// when the layer has fewer than 4 scratchpad tiles per tile.
///
/// Range handling (never silent truncation): a `WINDOW` above 65535 scales `WINDOW` and `TARGET`
/// down together by the same integer factor (keeping `TARGET/WINDOW` within rounding); a
/// `WINDOW` of 1 is doubled together with `TARGET` (while it fits) to the hardware's smallest
/// `WINDOW`. Small pairs are otherwise written as they are: the throttle grants every setting
/// exactly `TARGET/WINDOW` in the long run, and a larger `TARGET` would only add to the burst
/// term `sigma = 2*TARGET + BURST + R - 1` of its contract (docs/THROTTLE.md). Values that still
/// do not fit return a [`RuntimeError`].
pub fn to_registers(
    hw: &Hardware,
    pred: &LayerPrediction,
    share: Option<u32>,
) -> Result<ThrottleRegs, RuntimeError> {
    let Some(share) = share else {
        return Ok(ThrottleRegs::OFF);
    };
    if share == 0 {
        return Err(RuntimeError::InvalidShare(share));
    }
    if pred.tiles == 0 || pred.tiles > 16 {
        return Err(RuntimeError::InvalidTiles(pred.tiles));
    }
    let tiles_per_tile = pred.scratchpad_tiles_per_tile;
    if share >= pred.demand_percent || tiles_per_tile < 4 {
        return Ok(ThrottleRegs::OFF);
    }
    let predicted = 100 * u128::from(pred.from_dram_rows)
        / (u128::from(hw.dram_bw_rows_per_cycle) * u128::from(share));
    let mut window = predicted / u128::from(tiles_per_tile);
    let loads_per_tile = u128::from(pred.load_rows) / u128::from(pred.tiles);
    let mut target = loads_per_tile / u128::from(tiles_per_tile);
    let max = u128::from(regs::REG_MAX);
    let over = window.max(target);
    if over > max {
        let k = over.div_ceil(max);
        window /= k;
        target = (target + k / 2) / k;
    }
    while window < u128::from(regs::WINDOW_MIN)
        && window > 0
        && target > 0
        && window * 2 <= max
        && target * 2 <= max
    {
        window *= 2;
        target *= 2;
    }
    // A share needs the throttle on: a window that rounds to 0 is as invalid as 1. The rest is
    // the register rule (`golden::spec::validate`, through `ThrottleConfig::new`).
    let wide = |v: u128| i64::try_from(v).unwrap_or(i64::MAX);
    let window_err = || RuntimeError::WindowOutOfRange {
        window: window as u64,
    };
    if window == 0 {
        return Err(window_err());
    }
    ThrottleRegs::new(wide(window), wide(target), None).map_err(|e| match e {
        ConfigError::OutOfRange { register, .. } if register == regs::WINDOW_NAME => window_err(),
        _ => RuntimeError::TargetOutOfRange {
            target: target.min(u128::from(u64::MAX)) as u64,
            window: window as u64,
        },
    })
}

/// Everything the runtime decides for one layer.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LayerDecision {
    /// The layer's prediction on its tiles.
    pub prediction: LayerPrediction,
    /// The task's dynamic score.
    pub score: u32,
    /// The granted share in percent of `DRAM_BW`, `None` if uncontended.
    pub granted_percent: Option<u32>,
    /// Register values for each tile of the group.
    pub regs: ThrottleRegs,
}

/// Inputs describing the task whose layer is about to start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TaskState {
    /// User priority (0..=11).
    pub priority: u32,
    /// Predicted cycles left for the task, this layer included.
    pub remaining_cycles: u64,
    /// Latency target (cycles from dispatch).
    pub target_cycles: u64,
    /// Cycles since dispatch.
    pub elapsed_cycles: u64,
}

/// The runtime's whole per-layer step: predict, score, detect contention, partition, convert.
/// The first layer of a network (3 input channels) is never throttled, as in the artifact.
pub fn decide(
    hw: &Hardware,
    consts: &RuntimeConsts,
    pred: &LayerPrediction,
    first_rgb_layer: bool,
    task: &TaskState,
    others: &[CoRunner],
    partition: Partition,
) -> Result<LayerDecision, RuntimeError> {
    let s = score(
        consts,
        task.priority,
        task.remaining_cycles,
        task.target_cycles,
        task.elapsed_cycles,
    );
    let granted = if first_rgb_layer {
        None
    } else {
        grant_share(hw, pred.demand_percent, s, others, partition)
    };
    let regs = to_registers(hw, pred, granted)?;
    Ok(LayerDecision {
        prediction: *pred,
        score: s,
        granted_percent: granted,
        regs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::{Experiment, artifact_predictions};

    fn hw() -> Hardware {
        Experiment::artifact().hardware
    }

    /// The closed forms give exactly the artifact's per-tile loops on thousands of shapes,
    /// including remainder tiles, pooling with padding and strides, and FC matmuls.
    #[test]
    fn closed_form_counts_equal_the_tile_loops() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(13);
        let art = hw();
        let mut small = art.clone();
        (
            small.dim,
            small.scratchpad_banks,
            small.scratchpad_bank_rows,
        ) = (4, 2, 64);
        (small.accumulator_rows, small.dma_max_bytes) = (64, 16);
        let (mut convs, mut matmuls) = (0, 0);
        for h in [&art, &small] {
            let g = Geometry::new(h);
            for _ in 0..1500 {
                let (i, j, k) = (
                    rng.gen_range(1..300),
                    rng.gen_range(1..300),
                    rng.gen_range(1..300),
                );
                let m = LayerShape::Matmul { i, j, k };
                assert_eq!(
                    matmul_counts(&g, &m).unwrap(),
                    matmul_counts_loop(&g, &m),
                    "{m:?}"
                );
                matmuls += 1;
                let kernel = rng.gen_range(1..=7u32);
                let stride = rng.gen_range(1..=4u32);
                let padding = rng.gen_range(0..=kernel / 2 + 1);
                let in_dim = rng.gen_range(kernel.saturating_sub(2 * padding).max(1)..=70);
                let out_dim = (in_dim + 2 * padding - kernel) / stride + 1;
                let pool_size = rng.gen_range(1..=out_dim.min(5));
                let pool_stride = rng.gen_range(1..=3u32);
                let pool_padding = rng.gen_range(0..=pool_size / 2);
                let c = LayerShape::Conv {
                    in_dim,
                    in_channels: rng.gen_range(1..=80),
                    out_channels: rng.gen_range(1..=80),
                    out_dim,
                    kernel,
                    stride,
                    padding,
                    pool_size,
                    pool_stride,
                    pool_padding,
                    pool_out_dim: (out_dim + 2 * pool_padding - pool_size) / pool_stride + 1,
                };
                assert_eq!(
                    conv_counts(&g, &c).unwrap(),
                    conv_counts_loop(&g, &c),
                    "{c:?}"
                );
                convs += 1;
            }
            // Every layer of the artifact's seven networks too.
            for net in &Experiment::artifact().networks {
                for l in &net.layers {
                    let (a, b) = match l.shape {
                        LayerShape::Conv { .. } => {
                            (conv_counts(&g, &l.shape), conv_counts_loop(&g, &l.shape))
                        }
                        LayerShape::Matmul { .. } => (
                            matmul_counts(&g, &l.shape),
                            matmul_counts_loop(&g, &l.shape),
                        ),
                    };
                    assert_eq!(a.unwrap(), b, "{:?}", l.shape);
                }
            }
        }
        assert_eq!((convs, matmuls), (3000, 3000));
    }

    /// Huge layers cost in constant time: the largest shapes the CSV accepts are either costed
    /// at once or refused with a typed error, never looped over tile by tile or overflowed.
    #[test]
    fn huge_layers_are_costed_at_once_or_refused() {
        let h = hw();
        let max = crate::workload::MAX_LAYER_DIM;
        let layer = |shape| Layer { index: 0, shape };
        let e = check_layer(
            &h,
            &layer(LayerShape::Matmul {
                i: max,
                j: max,
                k: max,
            }),
        )
        .unwrap_err();
        assert!(e.to_string().contains("2^48"), "{e}");
        // 2^20 x 2^20 x 2^10: 2^50 MACs, 2^42 cycles on a DIM-16 tile, about 2^30 tiles.
        let big = layer(LayerShape::Matmul {
            i: max,
            j: max,
            k: 1024,
        });
        check_layer(&h, &big).unwrap();
        let c = layer_cost(&h, &big);
        assert_eq!(c.compute_cycles, 1 << 42);
        let conv = LayerShape::Conv {
            in_dim: max,
            in_channels: max,
            out_channels: max,
            out_dim: max,
            kernel: 1,
            stride: 1,
            padding: 0,
            pool_size: 1,
            pool_stride: 1,
            pool_padding: 0,
            pool_out_dim: max,
        };
        assert!(check_layer(&h, &layer(conv)).is_err());
    }

    #[test]
    fn resnet_layer1_matches_artifact_exactly() {
        // Hand-checked: 3136x64x64 matmul tiles as 8x4x4 blocks (25 tiles); loads 22080 + 12544
        // stored; DRAM = bias 640 + weights 256 + output 12544.
        let e = Experiment::artifact();
        let costs = network_costs(&e.hardware, &e.networks[0].layers);
        let c = costs[1];
        assert_eq!(c.scratchpad_tiles, 25);
        assert_eq!(c.load_rows, 22080);
        assert_eq!(c.from_dram_rows, 13440);
        let p = predict_layer(&e.hardware, &c, 2, Overlap::ArtifactReuse);
        assert_eq!(p.ideal_cycles, 30280);
        assert_eq!(c.total_mem_rows / 2, 17309);
    }

    #[test]
    fn predictor_tracks_artifact_on_most_layers() {
        let e = Experiment::artifact();
        let preds = artifact_predictions();
        let mut within = 0;
        let mut total = 0;
        for (ni, net) in e.networks.iter().enumerate() {
            let costs = network_costs(&e.hardware, &net.layers);
            for (li, c) in costs.iter().enumerate() {
                let a = preds
                    .iter()
                    .find(|r| r.network == e.network_names[ni] && r.layer == li)
                    .unwrap();
                let p = predict_layer(&e.hardware, c, 2, Overlap::ArtifactReuse);
                let err = (p.ideal_cycles as f64 - a.predicted_cycles as f64).abs()
                    / a.predicted_cycles as f64;
                total += 1;
                if err < 0.10 {
                    within += 1;
                }
            }
        }
        assert!(
            within * 10 >= total * 7,
            "{within}/{total} layers within 10 %"
        );
    }

    #[test]
    fn score_matches_hand_computation() {
        let c = Experiment::artifact().runtime;
        // (1+8)/4 = 2; 10 * 3_000_000 / 4_000_000 = 7.5 -> rounds to 8.
        assert_eq!(score(&c, 8, 3_000_000, 10_000_000, 6_000_000), 10);
        // target passed: slack 10 -> 10 * 100 / 10 = 100; (1+0)/4 = 0.
        assert_eq!(score(&c, 0, 100, 1000, 2000), 100);
        assert_eq!(score(&c, 11, 0, 1000, 0), 3);
    }

    #[test]
    fn no_contention_below_limit() {
        let h = hw();
        let others = [CoRunner {
            demand_percent: 50,
            score: 3,
        }];
        assert_eq!(grant_share(&h, 100, 1, &others, Partition::Paper), None);
    }

    #[test]
    fn partition_weights_each_corunner_by_its_own_score() {
        let h = hw();
        // own 100 %, score 1; other 100 %, score 9: excess 50.
        // Paper: cut = 50 * 900 / (100 + 900) = 45 -> 55 %.
        let others = [CoRunner {
            demand_percent: 100,
            score: 9,
        }];
        assert_eq!(grant_share(&h, 100, 1, &others, Partition::Paper), Some(55));
        // The other side keeps more: cut = 50 * 100 / (900 + 100) = 5 -> 95 %.
        let me = [CoRunner {
            demand_percent: 100,
            score: 1,
        }];
        assert_eq!(grant_share(&h, 100, 9, &me, Partition::Paper), Some(95));
        // Artifact code: scores cancel, both cut 25 -> 75 %.
        assert_eq!(
            grant_share(&h, 100, 1, &others, Partition::ArtifactCode),
            Some(75)
        );
        assert_eq!(
            grant_share(&h, 100, 9, &me, Partition::ArtifactCode),
            Some(75)
        );
        // Floor at 25 %.
        let big = [CoRunner {
            demand_percent: 400,
            score: 50,
        }];
        assert_eq!(grant_share(&h, 40, 1, &big, Partition::Paper), Some(25));
    }

    fn pred(from_dram: u64, loads: u64, tiles_per_tile: u64, demand: u32) -> LayerPrediction {
        LayerPrediction {
            tiles: 2,
            compute_cycles: 0.0,
            onchip_cycles: 0.0,
            dram_cycles: 0.0,
            mem_cycles: 0.0,
            ideal_cycles: 1,
            from_dram_rows: from_dram,
            load_rows: loads,
            scratchpad_tiles_per_tile: tiles_per_tile,
            demand_percent: demand,
        }
    }

    #[test]
    fn registers_follow_the_artifact_conversion() {
        let h = hw();
        // 100_000 DRAM rows at 50 % -> 200_000 cycles over 100 tiles -> WINDOW 2000;
        // 400_000 loads over 2 tiles -> 200_000 per tile / 100 -> TARGET 2000.
        let r = to_registers(&h, &pred(100_000, 400_000, 100, 80), Some(50)).unwrap();
        assert_eq!((r.window, r.target, r.burst), (2000, 2000, 2000));
        // Not throttled: uncontended, share >= demand, too few tiles.
        assert_eq!(
            to_registers(&h, &pred(1, 1, 100, 80), None).unwrap(),
            ThrottleRegs::OFF
        );
        assert_eq!(
            to_registers(&h, &pred(1, 1, 100, 80), Some(80)).unwrap(),
            ThrottleRegs::OFF
        );
        assert_eq!(
            to_registers(&h, &pred(1, 1, 3, 80), Some(50)).unwrap(),
            ThrottleRegs::OFF
        );
    }

    #[test]
    fn large_window_is_scaled_keeping_the_ratio() {
        let h = hw();
        // 10M DRAM rows at 25 % -> 40M cycles / 4 tiles = 10M window; loads 8M/2/4 = 1M target.
        let r = to_registers(&h, &pred(10_000_000, 8_000_000, 4, 200), Some(25)).unwrap();
        assert!(r.window >= 2);
        let ratio = f64::from(r.target) / f64::from(r.window);
        assert!((ratio - 0.1).abs() / 0.1 < 0.01, "{r:?}");
    }

    #[test]
    fn small_pairs_are_written_as_they_are_and_granted_exactly() {
        use golden::cfg::ThrottleConfig;
        use golden::throttle::{MemThrottle, ThrottleIn};
        let h = hw();
        // 400 DRAM rows at 50 % -> 800 cycles / 4 tiles = WINDOW 200; 64 loads / 2 tiles / 4 =
        // TARGET 8. Not scaled up to 400:16 or 800:32: same rate, smaller burst term.
        let r = to_registers(&h, &pred(400, 64, 4, 90), Some(50)).unwrap();
        assert_eq!((r.window, r.target, r.burst), (200, 8, 8));
        // The golden throttle grants exactly TARGET/WINDOW to saturating 4-beat requests over
        // 500 windows, within its contract's staircase (BURST + TARGET + R - 1 + TARGET per
        // window started) at every cycle.
        let mut t = MemThrottle::new();
        crate::throttle_model::write_registers(
            &mut t,
            &ThrottleConfig {
                window: r.window,
                target: r.target,
                burst: r.burst,
            },
        );
        let (w, tg) = (u64::from(r.window), u64::from(r.target));
        let mut granted = 0u64;
        for cycle in 1..=500 * w {
            let out = t.step(&ThrottleIn {
                up_valid: true,
                up_beats: 4,
                down_ready: true,
                ..ThrottleIn::default()
            });
            if out.fire {
                granted += 4;
            }
            let cap = u64::from(r.burst) + tg + 3 + tg * cycle.div_ceil(w);
            assert!(granted <= cap, "cycle {cycle}: {granted} > {cap}");
        }
        assert!(granted.abs_diff(500 * tg) <= tg + 4, "{granted}");
        // A WINDOW of 1 is doubled with its TARGET to the smallest valid WINDOW.
        let r = to_registers(&h, &pred(2, 64, 4, 90), Some(50)).unwrap();
        assert_eq!((r.window, r.target), (2, 16));
    }

    #[test]
    fn impossible_registers_are_typed_errors() {
        let h = hw();
        // Loads per window exceed what 16 bits can hold even after scaling: target huge,
        // window tiny.
        let e = to_registers(&h, &pred(10, u64::from(u32::MAX) * 16, 4, 90), Some(50)).unwrap_err();
        assert!(
            matches!(
                e,
                RuntimeError::WindowOutOfRange { .. } | RuntimeError::TargetOutOfRange { .. }
            ),
            "{e}"
        );
        assert_eq!(
            to_registers(&h, &pred(10, 10, 4, 90), Some(0)).unwrap_err(),
            RuntimeError::InvalidShare(0)
        );
    }
}
