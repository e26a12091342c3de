//! Workload inputs: network layer shapes (CSV), the artifact's per-layer predictions (CSV) and the
//! experiment/SoC constants (TOML).
//!
//! The data of the MoCA artifact ships in the repository's `data/` folder and is embedded into the
//! binary ([`EMBEDDED_LAYERS_CSV`], [`EMBEDDED_PREDICTIONS_CSV`], [`EMBEDDED_EXPERIMENT_TOML`]), so
//! every command works from any working directory. Users may load their own files in the same
//! formats; every loader returns a [`WorkloadError`] naming the file, the line and the field, and
//! the allowed range — it never panics on bad input.
//!
//! # Layer CSV format (`layers.csv`)
//! Header: `network,layer,op,in_dim,in_channels,out_channels,out_dim,kernel,stride,padding,I,J,K,
//! pool_size,pool_stride,out_dim_pooled`. `op=conv` rows need the convolution fields (the pooling
//! fields default to no pooling); `op=matmul` rows need `I`, `J`, `K`. Layers of one network must
//! appear in order with consecutive indices starting at 0.
//!
//! # Experiment TOML format (`moca-artifact.toml`)
//! The artifact's constants file. Every per-network array must have one entry per name in
//! `networks`; an optional top-level `layers = "file.csv"` adds user networks (path relative to
//! the TOML file), and an optional `[simulator]` table overrides the simulator's SoC parameters
//! (see [`SimParams`]).

use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// The seven networks' layer shapes from the MoCA artifact (copy of `data/layers.csv`).
pub const EMBEDDED_LAYERS_CSV: &str = include_str!("../../../data/layers.csv");
/// The artifact's precompiled per-layer predictions (copy of
/// `data/artifact-layer-predictions.csv`).
pub const EMBEDDED_PREDICTIONS_CSV: &str =
    include_str!("../../../data/artifact-layer-predictions.csv");
/// The artifact's experiment constants (copy of `data/moca-artifact.toml`).
pub const EMBEDDED_EXPERIMENT_TOML: &str = include_str!("../../../data/moca-artifact.toml");

/// An error loading or validating a workload input. Every variant names the source.
#[derive(Debug, Error)]
pub enum WorkloadError {
    /// The file could not be read.
    #[error("{file}: cannot read")]
    Io {
        /// Path of the file.
        file: String,
        /// Underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A CSV header is missing a required column.
    #[error("{file}: header lacks the column `{column}` (expected {expected})")]
    MissingColumn {
        /// File name.
        file: String,
        /// Missing column.
        column: String,
        /// The expected header.
        expected: String,
    },
    /// A CSV field is missing or out of range.
    #[error("{file}:{line}: field `{field}`: {message}")]
    Field {
        /// File name.
        file: String,
        /// 1-based line number.
        line: usize,
        /// Column name.
        field: String,
        /// What is wrong and what is allowed.
        message: String,
    },
    /// The TOML could not be parsed (syntax or type error; the message gives line and column).
    #[error("{file}: {message}")]
    Toml {
        /// File name.
        file: String,
        /// Parser message (with line/column).
        message: String,
    },
    /// A TOML value is out of its allowed range or inconsistent with another.
    #[error("{file}: `{field}`: {message}")]
    Invalid {
        /// File name.
        file: String,
        /// Dotted field path.
        field: String,
        /// What is wrong and what is allowed.
        message: String,
    },
}

/// Shape of one layer as the accelerator runs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LayerShape {
    /// A convolution (Gemmini `tiled_conv`), optionally followed by pooling.
    Conv {
        /// Input height = width.
        in_dim: u32,
        /// Input channels.
        in_channels: u32,
        /// Output channels.
        out_channels: u32,
        /// Output height = width before pooling.
        out_dim: u32,
        /// Kernel height = width.
        kernel: u32,
        /// Convolution stride.
        stride: u32,
        /// Zero padding.
        padding: u32,
        /// Pooling window (1 = no pooling).
        pool_size: u32,
        /// Pooling stride (1 = no pooling).
        pool_stride: u32,
        /// Pooling padding (derived so that the pooled size matches `out_dim_pooled`).
        pool_padding: u32,
        /// Output height = width after pooling.
        pool_out_dim: u32,
    },
    /// A matrix multiplication `C[I][J] = A[I][K] * B[K][J]` (FC layers and 1x1 convolutions).
    Matmul {
        /// Rows of A and C.
        i: u32,
        /// Columns of B and C.
        j: u32,
        /// Inner dimension.
        k: u32,
    },
}

impl LayerShape {
    /// Multiply-accumulate operations of the layer (saturating at `u64::MAX`).
    pub fn macs(&self) -> u64 {
        match *self {
            LayerShape::Conv {
                in_channels,
                out_channels,
                out_dim,
                kernel,
                ..
            } => u64::from(out_dim)
                .pow(2)
                .saturating_mul(u64::from(out_channels))
                .saturating_mul(u64::from(in_channels))
                .saturating_mul(u64::from(kernel).pow(2)),
            LayerShape::Matmul { i, j, k } => u64::from(i)
                .saturating_mul(u64::from(j))
                .saturating_mul(u64::from(k)),
        }
    }
}

/// One layer of a network.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layer {
    /// Index within the network (0-based).
    pub index: usize,
    /// The shape.
    pub shape: LayerShape,
}

/// A network: a named sequence of layers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Network {
    /// Name, as in the CSV and the TOML's `networks`.
    pub name: String,
    /// Layers in execution order.
    pub layers: Vec<Layer>,
}

const LAYER_COLUMNS: [&str; 16] = [
    "network",
    "layer",
    "op",
    "in_dim",
    "in_channels",
    "out_channels",
    "out_dim",
    "kernel",
    "stride",
    "padding",
    "I",
    "J",
    "K",
    "pool_size",
    "pool_stride",
    "out_dim_pooled",
];

/// Largest accepted spatial/channel dimension in a layer CSV.
pub const MAX_LAYER_DIM: u32 = 1 << 20;
/// Largest cycle count accepted in an experiment TOML (`scheduler.*_cycles`,
/// `dispatch_jitter_step`): 2^36, about 69 s at 1 GHz. With at most 10^6 tasks and scales of
/// at most 100 the arrival clock stays below 2^63.
pub const MAX_CYCLES: u64 = 1 << 36;
/// Most layers of one network in a layer CSV.
pub const MAX_LAYERS: usize = 100_000;

/// A CSV file read with the `csv` crate: a header with exactly the expected columns (no missing,
/// extra or duplicated column; a UTF-8 byte-order mark, quotes, spaces around fields and `#`
/// comment lines are accepted), then records that deserialize into a serde record type.
struct CsvTable<'a> {
    file: &'a str,
    headers: csv::StringRecord,
    rows: Vec<(usize, csv::StringRecord)>,
}

impl<'a> CsvTable<'a> {
    fn parse(file: &'a str, text: &'a str, required: &[&str]) -> Result<Self, WorkloadError> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut rd = csv::ReaderBuilder::new()
            .trim(csv::Trim::All)
            .comment(Some(b'#'))
            .from_reader(text.as_bytes());
        let missing = |column: &str| WorkloadError::MissingColumn {
            file: file.to_string(),
            column: column.to_string(),
            expected: required.join(","),
        };
        let bad_header = |message: String| WorkloadError::Field {
            file: file.to_string(),
            line: 1,
            field: "header".into(),
            message,
        };
        let headers = rd.headers().map_err(|e| bad_header(e.to_string()))?.clone();
        if headers.is_empty() || headers.iter().all(str::is_empty) {
            return Err(missing(required[0]));
        }
        for (i, h) in headers.iter().enumerate() {
            if !required.contains(&h) {
                return Err(bad_header(format!(
                    "unknown column `{h}` (expected exactly {})",
                    required.join(",")
                )));
            }
            if headers.iter().take(i).any(|x| x == h) {
                return Err(bad_header(format!("column `{h}` appears twice")));
            }
        }
        if let Some(c) = required.iter().find(|c| !headers.iter().any(|h| h == **c)) {
            return Err(missing(c));
        }
        let mut rows = Vec::new();
        for rec in rd.records() {
            let rec = rec.map_err(|e| {
                let line = e.position().map_or(0, |p| p.line() as usize);
                let message = match e.kind() {
                    csv::ErrorKind::UnequalLengths {
                        expected_len, len, ..
                    } => format!("{len} fields, the header has {expected_len}"),
                    _ => e.to_string(),
                };
                WorkloadError::Field {
                    file: file.to_string(),
                    line,
                    field: "record".into(),
                    message,
                }
            })?;
            let line = rec.position().map_or(0, |p| p.line() as usize);
            rows.push((line, rec));
        }
        Ok(CsvTable {
            file,
            headers,
            rows,
        })
    }

    /// Deserialize one record into its serde record type; a field that does not parse is named
    /// with its column, its value and what is allowed.
    fn record<T: serde::de::DeserializeOwned>(
        &self,
        line: usize,
        rec: &csv::StringRecord,
    ) -> Result<T, WorkloadError> {
        rec.deserialize(Some(&self.headers)).map_err(|e| {
            if let csv::ErrorKind::Deserialize { err, .. } = e.kind()
                && let Some(i) = err.field()
            {
                let i = i as usize;
                let col = self.headers.get(i).unwrap_or("?");
                let v = rec.get(i).unwrap_or("");
                return self.err(line, col, format!("`{v}` is not a non-negative integer"));
            }
            self.err(line, "record", e.to_string())
        })
    }

    fn err(&self, line: usize, field: &str, message: String) -> WorkloadError {
        WorkloadError::Field {
            file: self.file.to_string(),
            line,
            field: field.to_string(),
            message,
        }
    }

    fn dim(
        &self,
        line: usize,
        value: Option<u64>,
        col: &str,
        min: u32,
        default: Option<u32>,
    ) -> Result<u32, WorkloadError> {
        match value {
            None => default.ok_or_else(|| {
                self.err(
                    line,
                    col,
                    format!("required, an integer in {min}..={MAX_LAYER_DIM}"),
                )
            }),
            Some(v) if v < u64::from(min) || v > u64::from(MAX_LAYER_DIM) => Err(self.err(
                line,
                col,
                format!("{v} is out of range {min}..={MAX_LAYER_DIM}"),
            )),
            Some(v) => Ok(v as u32),
        }
    }
}

/// One row of a layer CSV (serde record; empty fields are `None`).
#[derive(Deserialize)]
struct LayerRow {
    network: String,
    layer: Option<u64>,
    op: String,
    in_dim: Option<u64>,
    in_channels: Option<u64>,
    out_channels: Option<u64>,
    out_dim: Option<u64>,
    kernel: Option<u64>,
    stride: Option<u64>,
    padding: Option<u64>,
    #[serde(rename = "I")]
    i: Option<u64>,
    #[serde(rename = "J")]
    j: Option<u64>,
    #[serde(rename = "K")]
    k: Option<u64>,
    pool_size: Option<u64>,
    pool_stride: Option<u64>,
    out_dim_pooled: Option<u64>,
}

/// One row of the artifact predictions CSV (serde record).
#[derive(Deserialize)]
struct PredictionRow {
    network: String,
    layer: Option<u64>,
    predicted_cycles: Option<u64>,
    from_dram_rows: Option<u64>,
    total_loads_rows: Option<u64>,
}

/// Parse a layer CSV. `file` names the source in error messages.
pub fn parse_layers_csv(file: &str, text: &str) -> Result<Vec<Network>, WorkloadError> {
    let t = CsvTable::parse(file, text, &LAYER_COLUMNS)?;
    let mut nets: Vec<Network> = Vec::new();
    for (line, rec) in &t.rows {
        let line = *line;
        let row: LayerRow = t.record(line, rec)?;
        let name = row.network.as_str();
        if name.is_empty() {
            return Err(t.err(line, "network", "required, a network name".into()));
        }
        let index = row
            .layer
            .ok_or_else(|| t.err(line, "layer", "required, the 0-based layer index".into()))?;
        let index = usize::try_from(index)
            .ok()
            .filter(|&i| i < MAX_LAYERS)
            .ok_or_else(|| {
                t.err(
                    line,
                    "layer",
                    format!("{index} is out of range 0..{MAX_LAYERS}"),
                )
            })?;
        let op = row.op.as_str();
        let shape = match op {
            "conv" => {
                let in_dim = t.dim(line, row.in_dim, "in_dim", 1, None)?;
                let in_channels = t.dim(line, row.in_channels, "in_channels", 1, None)?;
                let out_channels = t.dim(line, row.out_channels, "out_channels", 1, None)?;
                let out_dim = t.dim(line, row.out_dim, "out_dim", 1, None)?;
                let kernel = t.dim(line, row.kernel, "kernel", 1, None)?;
                let stride = t.dim(line, row.stride, "stride", 1, None)?;
                let padding = t.dim(line, row.padding, "padding", 0, Some(0))?;
                let pool_size = t.dim(line, row.pool_size, "pool_size", 1, Some(1))?;
                let pool_stride = t.dim(line, row.pool_stride, "pool_stride", 1, Some(1))?;
                let expected_out = (in_dim + 2 * padding)
                    .checked_sub(kernel)
                    .map(|d| d / stride + 1);
                if expected_out != Some(out_dim) {
                    return Err(t.err(
                        line,
                        "out_dim",
                        format!(
                            "{out_dim} does not match (in_dim + 2*padding - kernel)/stride + 1 = {}",
                            expected_out.map_or("negative".to_string(), |v| v.to_string())
                        ),
                    ));
                }
                if pool_size > out_dim {
                    return Err(t.err(
                        line,
                        "pool_size",
                        format!("{pool_size} exceeds out_dim {out_dim}"),
                    ));
                }
                let pooled = |pad: u32| (out_dim + 2 * pad - pool_size) / pool_stride + 1;
                let pool_out_dim = t.dim(
                    line,
                    row.out_dim_pooled,
                    "out_dim_pooled",
                    1,
                    Some(pooled(0)),
                )?;
                let pool_padding = (0..=pool_size / 2)
                    .find(|&p| pooled(p) == pool_out_dim)
                    .ok_or_else(|| {
                        t.err(
                            line,
                            "out_dim_pooled",
                            format!(
                                "{pool_out_dim} is not reachable by pooling {out_dim} with size \
                                 {pool_size}, stride {pool_stride} and padding 0..={}",
                                pool_size / 2
                            ),
                        )
                    })?;
                LayerShape::Conv {
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
                }
            }
            "matmul" => LayerShape::Matmul {
                i: t.dim(line, row.i, "I", 1, None)?,
                j: t.dim(line, row.j, "J", 1, None)?,
                k: t.dim(line, row.k, "K", 1, None)?,
            },
            other => {
                return Err(t.err(
                    line,
                    "op",
                    format!("`{other}` is not one of `conv`, `matmul`"),
                ));
            }
        };
        let net = match nets.iter_mut().find(|n| n.name == name) {
            Some(n) => n,
            None => {
                nets.push(Network {
                    name: name.to_string(),
                    layers: Vec::new(),
                });
                nets.last_mut().expect("just pushed")
            }
        };
        if index != net.layers.len() {
            return Err(t.err(
                line,
                "layer",
                format!(
                    "{index} is out of order for `{name}`: expected {}",
                    net.layers.len()
                ),
            ));
        }
        net.layers.push(Layer { index, shape });
    }
    Ok(nets)
}

/// One row of the artifact's per-layer predictions (a task on a 2-tile group).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArtifactPrediction {
    /// Network name.
    pub network: String,
    /// Layer index.
    pub layer: usize,
    /// Predicted cycles on a 2-tile group.
    pub predicted_cycles: u64,
    /// Rows (16 B) that come from DRAM, if the artifact has them.
    pub from_dram_rows: Option<u64>,
    /// Loads issued per tile (16-B rows), if the artifact has them.
    pub total_loads_rows: Option<u64>,
}

/// Parse the artifact predictions CSV (`network,layer,predicted_cycles,from_dram_rows,
/// total_loads_rows`; the last two may be empty).
pub fn parse_predictions_csv(
    file: &str,
    text: &str,
) -> Result<Vec<ArtifactPrediction>, WorkloadError> {
    let cols = [
        "network",
        "layer",
        "predicted_cycles",
        "from_dram_rows",
        "total_loads_rows",
    ];
    let t = CsvTable::parse(file, text, &cols)?;
    let mut out = Vec::with_capacity(t.rows.len());
    for (line, rec) in &t.rows {
        let row: PredictionRow = t.record(*line, rec)?;
        let need = |v: Option<u64>, c: &str| {
            v.ok_or_else(|| t.err(*line, c, "required, a non-negative integer".into()))
        };
        out.push(ArtifactPrediction {
            network: row.network,
            layer: usize::try_from(need(row.layer, "layer")?).unwrap_or(usize::MAX),
            predicted_cycles: need(row.predicted_cycles, "predicted_cycles")?,
            from_dram_rows: row.from_dram_rows,
            total_loads_rows: row.total_loads_rows,
        });
    }
    Ok(out)
}

/// Hardware constants of the SoC (`[hardware]`).
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Hardware {
    /// Accelerator tiles sharing the L2 and DRAM.
    pub tiles: u32,
    /// Tiles per task group (static partition / MoCA).
    pub tiles_per_task: u32,
    /// Systolic array dimension (int8).
    pub dim: u32,
    /// Scratchpad banks per tile.
    pub scratchpad_banks: u32,
    /// Rows per scratchpad bank.
    pub scratchpad_bank_rows: u32,
    /// Accumulator rows per tile.
    pub accumulator_rows: u32,
    /// Largest DMA read in bytes.
    pub dma_max_bytes: u32,
    /// Bytes per bus beat (what the throttle counts).
    pub bus_bytes_per_beat: u32,
    /// Nominal DRAM bandwidth in rows (16 B) per cycle (`DRAM_BW`).
    pub dram_bw_rows_per_cycle: u32,
    /// Contention threshold: summed ideal demand above this percentage of `DRAM_BW`.
    pub dram_max_util_percent: u32,
    /// Shared L2 capacity in rows.
    pub cache_rows: u64,
    /// Floor of a throttled tenant's share, percent of `DRAM_BW`.
    pub min_util_percent: u32,
}

/// Runtime score constants (`[runtime]`).
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RuntimeConsts {
    /// Divisor of `(1 + priority)` in the score.
    pub score_priority_divisor: u32,
    /// Scale of `remaining / slack` in the score.
    pub score_urgency_scale: u32,
    /// Overlap factor: `ideal = max(mem, compute) + overlap * min(mem, compute)`.
    pub prediction_overlap: f64,
}

/// Scheduler and arrival constants (`[scheduler]`).
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SchedulerConsts {
    /// Tasks per run.
    pub tasks: u32,
    /// Depth of the scheduler's look-ahead queue.
    pub queue_depth: u32,
    /// Look-ahead iterations (the artifact's batching; kept for completeness).
    pub lookahead_iterations: u32,
    /// Dispatch streams (the artifact's `CAP`).
    pub dispatch_streams: u32,
    /// Dispatch gap reduced by `dispatch_jitter_step * (rand % 20)`.
    pub dispatch_jitter_step: u64,
    /// Arrival pressure per workload set (gap multiplier).
    pub cap_scale: BTreeMap<String, f64>,
    /// Latency-target multiplier per QoS level.
    pub target_scale: BTreeMap<String, f64>,
    /// Scale applied to run-time estimates in the scheduler.
    pub estimate_scale: f64,
    /// Single-task cycles on one 2-tile group (dispatch spacing), per network.
    pub sp_cycles: Vec<u64>,
    /// Latency target at QoS M, per network.
    pub target_cycles: Vec<u64>,
    /// Isolated run time (STP / fairness reference), per network.
    pub single_run_cycles: Vec<u64>,
    /// Precompiled whole-network prediction on one tile, per network.
    pub sp_prediction_cycles: Vec<u64>,
    /// Precompiled whole-network prediction on two tiles, per network.
    pub tp_prediction_cycles: Vec<u64>,
    /// How the MoCA scheduler co-locates tasks: `"memory-aware"` (default) or `"artifact"` (the
    /// artifact's 1+1 grouping, `multitenant::sched::grouping`).
    #[serde(default)]
    pub moca_grouping: crate::sched::grouping::Grouping,
}

/// Priority distribution (`[priority]`).
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PriorityDist {
    /// Priority values (0..=11).
    pub values: Vec<u32>,
    /// Draw weight of each value.
    pub weights: Vec<u32>,
}

/// Simulator SoC parameters (optional `[simulator]` table). See `multitenant::system`.
#[derive(Clone, Debug, Deserialize, PartialEq, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SimParams {
    /// Peak rows per cycle the DRAM channel delivers (all tenants together). The paper's SoC:
    /// `DRAM_BW` = 16 B/cycle = 1 row/cycle for all 8 tiles (the runtime's 150 % contention
    /// threshold is a detection margin on *predicted* demands, not a wider channel).
    pub dram_peak_rows_per_cycle: f64,
    /// Rows per cycle one tile's DMA can move from the L2 (on-chip loads and stores).
    pub l2_rows_per_cycle_per_tile: f64,
    /// Rows per cycle the shared L2 (and the system bus in front of it) delivers to all tiles
    /// together, hits and misses alike: co-running layers whose port traffic exceeds it are
    /// slowed in proportion (`multitenant::system`). The default (8 = one row per cycle for
    /// each of the 8 tiles' own ports) never binds.
    pub l2_total_rows_per_cycle: f64,
    /// DRAM round-trip latency in cycles seen by a DMA request.
    pub dram_latency_cycles: f64,
    /// Outstanding DRAM rows one tile's DMA can have in flight (bounds one tile's DRAM rate by
    /// Little's law: `inflight / latency`).
    pub dma_inflight_rows_per_tile: f64,
    /// Fraction of peak lost per additional concurrent DRAM stream (row-buffer interference),
    /// capped at `max_interference_loss`.
    pub interference_loss_per_stream: f64,
    /// Largest fraction of peak lost to interference.
    pub max_interference_loss: f64,
    /// Fixed cycles per layer (configuration, loop setup, the two tiles' barrier, and the
    /// pooling / residual-add / CPU work that `layers.csv` does not list).
    pub layer_overhead_cycles: f64,
    /// Extra DRAM traffic per layer, in units of the layer's output rows, standing for the
    /// memory-bound work `layers.csv` does not list (pooling passes, residual adds, reshapes):
    /// the rows are read and written through the shared DRAM like any other traffic.
    pub aux_traffic_per_output_row: f64,
    /// Queueing factor `q` of the DRAM latency under load:
    /// `latency + q * dram_service_cycles * rho / (1 - rho)` at channel utilisation `rho`
    /// (0.5 is the M/D/1 queue's waiting time; 0 disables the latency model).
    pub queueing_factor: f64,
    /// Cycles the channel is busy serving one DMA request (the queueing delay's unit): a 64-B
    /// read at 16 B/cycle takes 4 cycles. The queue grows by service times, not round trips.
    pub dram_service_cycles: f64,
    /// Fraction of the shorter of memory and compute that does not overlap with the longer one
    /// (Gemmini's DMA and execute share one command stream, so double buffering is imperfect).
    pub overlap_serialization: f64,
    /// Split the shared L2's capacity among the tasks holding tiles: a layer that starts while
    /// `k` tasks hold tiles sees `cache_rows / k` of the L2, so co-runners evict each other's
    /// reused data and more of its traffic comes from DRAM (false: every task sees the whole L2,
    /// as the runtime's predictor assumes).
    pub share_l2_capacity: bool,
    /// How an oversubscribed channel is shared among the tenants that want more than it has.
    pub arbitration: Arbitration,
    /// How a throttled layer is timed: `"exact-cap"` (default, `TARGET/WINDOW`) or `"golden"`
    /// (what the golden throttle grants, `multitenant::throttle_model`).
    pub throttle_model: crate::throttle_model::ThrottleTiming,
    /// DRAM latency a request pays when its bank's open row belongs to another tile's stream
    /// (precharge + activate in an open-page controller, `tRP + tRCD` = 28 cycles in the
    /// artifact's FireSim DDR3 model, plus the FR-FCFS reordering it defeats). With `k` tasks
    /// streaming (the tiles of one task share open rows), a request conflicts with probability
    /// `1 - 1/k`, so every co-running layer's
    /// latency-bound DMA slows down, light or heavy (`multitenant::system`). 0 (the default)
    /// disables it; `moca calibrate --against firesim --fit` fits it.
    pub row_conflict_latency_cycles: f64,
    /// Add each network's *measured* work beyond its layer table (residual adds, pooling,
    /// glue: the isolated one-tile thread time minus its conv/matmul sections in
    /// `data/firesim/isolated_1tile_layers.csv`) as one memory-only pass after its last layer
    /// (`multitenant::system`, the same pass the FireSim replay runs). Set by the FireSim
    /// calibration (`multitenant::firesim::calibrate::Params::apply`); false by default, where
    /// `aux_traffic_per_output_row` stands for that work.
    pub measured_non_layer_work: bool,
}

/// How the simulator shares an oversubscribed memory channel (`[simulator] arbitration`).
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Arbitration {
    /// In proportion to demand: first-come arbitration in front of a DRAM controller, where a
    /// tenant with more requests outstanding gets more of them served (`baselines.md`; the
    /// default for the paper's SoC).
    #[default]
    Proportional,
    /// Max-min fair ("water filling"): tenants that want less than an equal split get their
    /// demand, the rest share the remainder equally. This is what moca's own SoC does: its
    /// `BusArbiter` grants backlogged requesters in round-robin order
    /// (`moca calibrate --against soc`).
    MaxMin,
}

/// Defaults calibrated against the artifact's measured isolated run times (`single_run_cycles`,
/// see `docs/CALIBRATION.md`): `overlap_serialization`, `layer_overhead_cycles` and
/// `aux_traffic_per_output_row` were fitted by grid search; the others are SoC assumptions.
impl Default for SimParams {
    fn default() -> Self {
        SimParams {
            dram_peak_rows_per_cycle: 1.0,
            l2_rows_per_cycle_per_tile: 1.0,
            l2_total_rows_per_cycle: 8.0,
            dram_latency_cycles: 120.0,
            dma_inflight_rows_per_tile: 64.0,
            interference_loss_per_stream: 0.05,
            max_interference_loss: 0.15,
            layer_overhead_cycles: 50_000.0,
            overlap_serialization: 0.55,
            queueing_factor: 0.5,
            dram_service_cycles: 4.0,
            aux_traffic_per_output_row: 0.0,
            share_l2_capacity: true,
            arbitration: Arbitration::Proportional,
            throttle_model: Default::default(),
            row_conflict_latency_cycles: 0.0,
            measured_non_layer_work: false,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExperiment {
    networks: Vec<String>,
    #[serde(default)]
    layers: Option<String>,
    hardware: Hardware,
    runtime: RuntimeConsts,
    scheduler: SchedulerConsts,
    mix: BTreeMap<String, Vec<u32>>,
    priority: PriorityDist,
    #[serde(default)]
    simulator: SimParams,
}

/// The whole experiment: SoC, constants, and the networks with their layers.
#[derive(Clone, Debug, PartialEq)]
pub struct Experiment {
    /// Network names, in the order of every per-network array.
    pub network_names: Vec<String>,
    /// The networks' layers, same order as `network_names`.
    pub networks: Vec<Network>,
    /// Hardware constants.
    pub hardware: Hardware,
    /// Runtime constants.
    pub runtime: RuntimeConsts,
    /// Scheduler constants.
    pub scheduler: SchedulerConsts,
    /// Workload mixes: set name -> draw weight per network.
    pub mix: BTreeMap<String, Vec<u32>>,
    /// Priority distribution.
    pub priority: PriorityDist,
    /// Simulator parameters.
    pub sim: SimParams,
}

impl Experiment {
    /// The artifact's experiment with the embedded data.
    pub fn artifact() -> Self {
        Self::from_toml_str(
            "moca-artifact.toml (embedded)",
            EMBEDDED_EXPERIMENT_TOML,
            None,
        )
        .expect("the embedded artifact experiment is valid")
    }

    /// Load an experiment TOML file. Networks come from the embedded `layers.csv`, plus the file
    /// named by the TOML's `layers` key (relative to the TOML's folder) if present.
    pub fn from_file(path: &Path) -> Result<Self, WorkloadError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| WorkloadError::Io {
            file: file.clone(),
            source,
        })?;
        Self::from_toml_str(&file, &text, path.parent())
    }

    /// Parse an experiment from TOML text. `base` resolves a relative `layers` path.
    pub fn from_toml_str(
        file: &str,
        text: &str,
        base: Option<&Path>,
    ) -> Result<Self, WorkloadError> {
        let raw: RawExperiment = toml::from_str(text).map_err(|e| WorkloadError::Toml {
            file: file.to_string(),
            message: e.to_string(),
        })?;
        let mut nets = parse_layers_csv("layers.csv (embedded)", EMBEDDED_LAYERS_CSV)?;
        if let Some(extra) = &raw.layers {
            let p: PathBuf = base.map_or_else(|| PathBuf::from(extra), |b| b.join(extra));
            let pf = p.display().to_string();
            let text = std::fs::read_to_string(&p).map_err(|source| WorkloadError::Io {
                file: pf.clone(),
                source,
            })?;
            for n in parse_layers_csv(&pf, &text)? {
                nets.retain(|m| m.name != n.name);
                nets.push(n);
            }
        }
        Self::assemble(file, raw, nets)
    }

    /// Replace or add networks from a user layer CSV (same format as `layers.csv`).
    pub fn with_layers(mut self, file: &str, text: &str) -> Result<Self, WorkloadError> {
        for n in parse_layers_csv(file, text)? {
            for l in &n.layers {
                crate::runtime::check_layer(&self.hardware, l).map_err(|e| {
                    WorkloadError::Invalid {
                        file: file.to_string(),
                        field: format!("{} layer {}", n.name, l.index),
                        message: e.to_string(),
                    }
                })?;
            }
            if let Some(slot) = self.networks.iter_mut().find(|m| m.name == n.name) {
                *slot = n;
            } else {
                return Err(WorkloadError::Invalid {
                    file: file.to_string(),
                    field: "network".into(),
                    message: format!(
                        "`{}` is not listed in the experiment's `networks` ({}); add it there \
                         with its per-network constants",
                        n.name,
                        self.network_names.join(", ")
                    ),
                });
            }
        }
        Ok(self)
    }

    fn assemble(file: &str, raw: RawExperiment, all: Vec<Network>) -> Result<Self, WorkloadError> {
        let inv = |field: &str, message: String| WorkloadError::Invalid {
            file: file.to_string(),
            field: field.to_string(),
            message,
        };
        let n = raw.networks.len();
        if n == 0 {
            return Err(inv("networks", "must name at least one network".into()));
        }
        if let Some((i, name)) = raw
            .networks
            .iter()
            .enumerate()
            .find(|(i, x)| raw.networks[..*i].contains(x))
        {
            return Err(inv(
                "networks",
                format!("`{name}` is listed twice (entry {i}); network names must be unique"),
            ));
        }
        let mut networks = Vec::with_capacity(n);
        for name in &raw.networks {
            let net = all.iter().find(|m| &m.name == name).ok_or_else(|| {
                inv(
                    "networks",
                    format!("`{name}` has no layers in the layer CSV (add them or set `layers`)"),
                )
            })?;
            networks.push(net.clone());
        }
        let h = &raw.hardware;
        let range = |field: &str, v: u64, lo: u64, hi: u64| {
            if v < lo || v > hi {
                Err(inv(field, format!("{v} is out of range {lo}..={hi}")))
            } else {
                Ok(())
            }
        };
        range("hardware.tiles", h.tiles.into(), 1, 16)?;
        range(
            "hardware.tiles_per_task",
            h.tiles_per_task.into(),
            1,
            h.tiles.into(),
        )?;
        if !h.tiles.is_multiple_of(h.tiles_per_task) {
            return Err(inv(
                "hardware.tiles_per_task",
                format!("{} does not divide tiles = {}", h.tiles_per_task, h.tiles),
            ));
        }
        range("hardware.dim", h.dim.into(), 1, 256)?;
        range(
            "hardware.scratchpad_banks",
            h.scratchpad_banks.into(),
            1,
            64,
        )?;
        range(
            "hardware.scratchpad_bank_rows",
            h.scratchpad_bank_rows.into(),
            16,
            1 << 20,
        )?;
        range(
            "hardware.accumulator_rows",
            h.accumulator_rows.into(),
            16,
            1 << 20,
        )?;
        range(
            "hardware.dma_max_bytes",
            h.dma_max_bytes.into(),
            h.dim.into(),
            4096,
        )?;
        range(
            "hardware.bus_bytes_per_beat",
            h.bus_bytes_per_beat.into(),
            1,
            4096,
        )?;
        range(
            "hardware.dram_bw_rows_per_cycle",
            h.dram_bw_rows_per_cycle.into(),
            1,
            64,
        )?;
        range(
            "hardware.dram_max_util_percent",
            h.dram_max_util_percent.into(),
            1,
            10_000,
        )?;
        range("hardware.cache_rows", h.cache_rows, 0, 1 << 40)?;
        range(
            "hardware.min_util_percent",
            h.min_util_percent.into(),
            1,
            100,
        )?;
        let r = &raw.runtime;
        range(
            "runtime.score_priority_divisor",
            r.score_priority_divisor.into(),
            1,
            1000,
        )?;
        range(
            "runtime.score_urgency_scale",
            r.score_urgency_scale.into(),
            0,
            1_000_000,
        )?;
        if !(0.0..=1.0).contains(&r.prediction_overlap) {
            return Err(inv(
                "runtime.prediction_overlap",
                format!("{} is out of range 0.0..=1.0", r.prediction_overlap),
            ));
        }
        let s = &raw.scheduler;
        range("scheduler.tasks", s.tasks.into(), 1, 1_000_000)?;
        range("scheduler.queue_depth", s.queue_depth.into(), 1, 1_000_000)?;
        range(
            "scheduler.lookahead_iterations",
            s.lookahead_iterations.into(),
            0,
            1_000_000,
        )?;
        range(
            "scheduler.dispatch_jitter_step",
            s.dispatch_jitter_step,
            0,
            MAX_CYCLES,
        )?;
        range(
            "scheduler.dispatch_streams",
            s.dispatch_streams.into(),
            1,
            1024,
        )?;
        for (field, v) in [
            ("scheduler.sp_cycles", &s.sp_cycles),
            ("scheduler.target_cycles", &s.target_cycles),
            ("scheduler.single_run_cycles", &s.single_run_cycles),
            ("scheduler.sp_prediction_cycles", &s.sp_prediction_cycles),
            ("scheduler.tp_prediction_cycles", &s.tp_prediction_cycles),
        ] {
            if v.len() != n {
                return Err(inv(
                    field,
                    format!("has {} entries, `networks` has {n}", v.len()),
                ));
            }
            if let Some((i, c)) = v
                .iter()
                .enumerate()
                .find(|(_, c)| !(1..=MAX_CYCLES).contains(*c))
            {
                return Err(inv(
                    field,
                    format!("entry {i} = {c} is out of range 1..={MAX_CYCLES}"),
                ));
            }
        }
        if s.target_scale.is_empty() {
            return Err(inv(
                "scheduler.target_scale",
                "needs at least one QoS level (e.g. `{ M = 1.0 }`)".into(),
            ));
        }
        for (field, m) in [
            ("scheduler.cap_scale", &s.cap_scale),
            ("scheduler.target_scale", &s.target_scale),
        ] {
            for (k, v) in m {
                if !(v.is_finite() && *v > 0.0 && *v <= 100.0) {
                    return Err(inv(
                        &format!("{field}.{k}"),
                        format!("{v} is out of range (0, 100]"),
                    ));
                }
            }
        }
        if !(s.estimate_scale.is_finite() && s.estimate_scale > 0.0 && s.estimate_scale <= 100.0) {
            return Err(inv(
                "scheduler.estimate_scale",
                format!("{} is out of range (0, 100]", s.estimate_scale),
            ));
        }
        if raw.mix.is_empty() {
            return Err(inv("mix", "needs at least one workload set".into()));
        }
        for (k, w) in &raw.mix {
            if w.len() != n {
                return Err(inv(
                    &format!("mix.{k}"),
                    format!("has {} weights, `networks` has {n}", w.len()),
                ));
            }
            if w.iter().all(|&x| x == 0) {
                return Err(inv(&format!("mix.{k}"), "all weights are 0".into()));
            }
            if !s.cap_scale.contains_key(k) {
                return Err(inv(
                    "scheduler.cap_scale",
                    format!("has no entry for workload set `{k}`"),
                ));
            }
        }
        let p = &raw.priority;
        if p.values.is_empty() || p.values.len() != p.weights.len() {
            return Err(inv(
                "priority.weights",
                format!(
                    "needs one weight per value ({} values, {} weights)",
                    p.values.len(),
                    p.weights.len()
                ),
            ));
        }
        if let Some(v) = p.values.iter().find(|&&v| v > 11) {
            return Err(inv(
                "priority.values",
                format!("{v} is out of range 0..=11"),
            ));
        }
        if p.weights.iter().all(|&w| w == 0) {
            return Err(inv("priority.weights", "all weights are 0".into()));
        }
        let sim = &raw.simulator;
        for (field, v, lo, hi) in [
            (
                "simulator.dram_peak_rows_per_cycle",
                sim.dram_peak_rows_per_cycle,
                1e-3,
                1e3,
            ),
            (
                "simulator.l2_rows_per_cycle_per_tile",
                sim.l2_rows_per_cycle_per_tile,
                1e-3,
                1e3,
            ),
            (
                "simulator.l2_total_rows_per_cycle",
                sim.l2_total_rows_per_cycle,
                1e-3,
                1e4,
            ),
            (
                "simulator.dram_latency_cycles",
                sim.dram_latency_cycles,
                0.0,
                1e6,
            ),
            (
                "simulator.dma_inflight_rows_per_tile",
                sim.dma_inflight_rows_per_tile,
                1.0,
                1e6,
            ),
            (
                "simulator.interference_loss_per_stream",
                sim.interference_loss_per_stream,
                0.0,
                0.5,
            ),
            (
                "simulator.max_interference_loss",
                sim.max_interference_loss,
                0.0,
                0.9,
            ),
            (
                "simulator.layer_overhead_cycles",
                sim.layer_overhead_cycles,
                0.0,
                1e9,
            ),
            (
                "simulator.overlap_serialization",
                sim.overlap_serialization,
                0.0,
                1.0,
            ),
            ("simulator.queueing_factor", sim.queueing_factor, 0.0, 100.0),
            (
                "simulator.dram_service_cycles",
                sim.dram_service_cycles,
                0.0,
                1e6,
            ),
            (
                "simulator.aux_traffic_per_output_row",
                sim.aux_traffic_per_output_row,
                0.0,
                100.0,
            ),
        ] {
            if !(v.is_finite() && v >= lo && v <= hi) {
                return Err(inv(field, format!("{v} is out of range {lo}..={hi}")));
            }
        }
        for net in &networks {
            for l in &net.layers {
                crate::runtime::check_layer(&raw.hardware, l).map_err(|e| {
                    inv("networks", format!("`{}` layer {}: {e}", net.name, l.index))
                })?;
            }
        }
        Ok(Experiment {
            network_names: raw.networks,
            networks,
            hardware: raw.hardware,
            runtime: raw.runtime,
            scheduler: raw.scheduler,
            mix: raw.mix,
            priority: raw.priority,
            sim: raw.simulator,
        })
    }

    /// Index of a network by name.
    pub fn network_index(&self, name: &str) -> Option<usize> {
        self.network_names.iter().position(|n| n == name)
    }
}

/// The embedded artifact predictions.
pub fn artifact_predictions() -> Vec<ArtifactPrediction> {
    parse_predictions_csv(
        "artifact-layer-predictions.csv (embedded)",
        EMBEDDED_PREDICTIONS_CSV,
    )
    .expect("the embedded predictions are valid")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_layers_have_documented_counts() {
        let nets = parse_layers_csv("layers.csv", EMBEDDED_LAYERS_CSV).unwrap();
        let counts: Vec<(String, usize)> = nets
            .iter()
            .map(|n| (n.name.clone(), n.layers.len()))
            .collect();
        let expect = [
            ("resnet50", 54),
            ("alexnet", 10),
            ("googlenet", 58),
            ("squeezenet", 26),
            ("kws", 25),
            ("yolov2", 19),
            ("yololite", 7),
        ];
        assert_eq!(counts.len(), expect.len());
        for ((n, c), (en, ec)) in counts.iter().zip(expect) {
            assert_eq!((n.as_str(), *c), (en, ec));
        }
    }

    #[test]
    fn pool_padding_is_derived() {
        let nets = parse_layers_csv("layers.csv", EMBEDDED_LAYERS_CSV).unwrap();
        // resnet50 layer 0: 112 -> 56 with a 3x3/2 pool needs padding 1.
        match nets[0].layers[0].shape {
            LayerShape::Conv {
                pool_padding,
                pool_out_dim,
                ..
            } => {
                assert_eq!((pool_padding, pool_out_dim), (1, 56))
            }
            _ => panic!("resnet50 layer 0 is a conv"),
        }
        // alexnet layer 0: 55 -> 27 with a 3x3/2 pool needs no padding.
        match nets[1].layers[0].shape {
            LayerShape::Conv { pool_padding, .. } => assert_eq!(pool_padding, 0),
            _ => panic!("alexnet layer 0 is a conv"),
        }
    }

    #[test]
    fn bad_csv_names_file_line_and_field() {
        let text = "network,layer,op,in_dim,in_channels,out_channels,out_dim,kernel,stride,padding,I,J,K,pool_size,pool_stride,out_dim_pooled\n\
                    mine,0,matmul,,,,,,,,4,0,4,,,\n";
        let e = parse_layers_csv("mine.csv", text).unwrap_err().to_string();
        assert!(
            e.contains("mine.csv:2") && e.contains("`J`") && e.contains("out of range"),
            "{e}"
        );
        let text = "network,layer,op\nmine,0,conv\n";
        let e = parse_layers_csv("mine.csv", text).unwrap_err().to_string();
        assert!(e.contains("lacks the column"), "{e}");
        let text = "network,layer,op,in_dim,in_channels,out_channels,out_dim,kernel,stride,padding,I,J,K,pool_size,pool_stride,out_dim_pooled\n\
                    mine,0,conv,8,3,16,9,3,1,1,,,,,,\n";
        let e = parse_layers_csv("mine.csv", text).unwrap_err().to_string();
        assert!(e.contains("out_dim") && e.contains(":2"), "{e}");
        let text = "network,layer,op,in_dim,in_channels,out_channels,out_dim,kernel,stride,padding,I,J,K,pool_size,pool_stride,out_dim_pooled\n\
                    mine,1,matmul,,,,,,,,4,4,4,,,\n";
        let e = parse_layers_csv("mine.csv", text).unwrap_err().to_string();
        assert!(e.contains("out of order"), "{e}");
    }

    #[test]
    fn artifact_experiment_loads() {
        let e = Experiment::artifact();
        assert_eq!(e.network_names.len(), 7);
        assert_eq!(e.hardware.tiles, 8);
        assert_eq!(e.mix["B"], vec![12, 18, 16, 0, 0, 18, 0]);
        assert_eq!(e.sim, SimParams::default());
    }

    #[test]
    fn bad_toml_is_a_typed_error() {
        let bad = EMBEDDED_EXPERIMENT_TOML.replace("tiles = 8 ", "tiles = 0 ");
        let e = Experiment::from_toml_str("x.toml", &bad, None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("hardware.tiles") && e.contains("1..=16"), "{e}");
        let bad = EMBEDDED_EXPERIMENT_TOML.replace("sp_cycles = [15070506, ", "sp_cycles = [");
        let e = Experiment::from_toml_str("x.toml", &bad, None)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("scheduler.sp_cycles") && e.contains("6 entries"),
            "{e}"
        );
        let bad = EMBEDDED_EXPERIMENT_TOML.replace("dim = 16", "dim = \"x\"");
        let e = Experiment::from_toml_str("x.toml", &bad, None)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("x.toml:") && e.contains("line"), "{e}");
        let bad =
            format!("{EMBEDDED_EXPERIMENT_TOML}\n[simulator]\ndram_peak_rows_per_cycle = -1.0\n");
        let e = Experiment::from_toml_str("x.toml", &bad, None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("simulator.dram_peak_rows_per_cycle"), "{e}");
    }

    #[test]
    fn predictions_parse_with_gaps() {
        let p = artifact_predictions();
        assert_eq!(p.len(), 199);
        let a8 = p
            .iter()
            .find(|r| r.network == "alexnet" && r.layer == 8)
            .unwrap();
        assert_eq!((a8.from_dram_rows, a8.total_loads_rows), (None, None));
    }
}
