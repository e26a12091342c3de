//! The FireSim trace files of the MoCA artifact (`data/firesim/`, format in its README): parsed
//! with the `csv` crate into serde records, validated, and turned into typed runs.
//!
//! A trace directory holds `tasks.csv`, `rounds.csv` and `runs.csv`; `networks.csv` (the
//! harness' per-network constants) is read from the directory when present and otherwise taken
//! from the embedded copy. Every error names the file, the line and the column.

use serde::Deserialize;
use serde::de::DeserializeOwned;
use std::path::Path;
use thiserror::Error;

/// `data/firesim/networks.csv`, embedded.
pub const EMBEDDED_NETWORKS_CSV: &str = include_str!("../../../../data/firesim/networks.csv");
/// `data/firesim/isolated_1tile_layers.csv`, embedded.
pub const EMBEDDED_ISOLATED_CSV: &str =
    include_str!("../../../../data/firesim/isolated_1tile_layers.csv");
/// `data/firesim/tasks.csv`, embedded.
pub const EMBEDDED_TASKS_CSV: &str = include_str!("../../../../data/firesim/tasks.csv");
/// `data/firesim/rounds.csv`, embedded.
pub const EMBEDDED_ROUNDS_CSV: &str = include_str!("../../../../data/firesim/rounds.csv");
/// `data/firesim/runs.csv`, embedded.
pub const EMBEDDED_RUNS_CSV: &str = include_str!("../../../../data/firesim/runs.csv");

/// Allowed workload sets.
pub const SETS: [&str; 3] = ["A", "B", "C"];
/// Allowed QoS levels.
pub const QOS: [&str; 3] = ["H", "M", "L"];
/// Allowed policies.
pub const POLICIES: [&str; 2] = ["static", "moca"];
/// Sub-groups of 2 tiles in the harness.
pub const SUB_GROUPS: usize = 4;

/// Why a trace could not be read.
#[derive(Debug, Error)]
pub enum DataError {
    /// The file could not be read.
    #[error("{file}: cannot read: {source}")]
    Io {
        /// File.
        file: String,
        /// Cause.
        source: std::io::Error,
    },
    /// A value that does not parse or is out of range.
    #[error("{file}:{line}: column `{column}`: {message}")]
    Field {
        /// File.
        file: String,
        /// 1-based line.
        line: u64,
        /// Column name.
        column: String,
        /// What is wrong.
        message: String,
    },
    /// A malformed row (wrong number of fields, missing column).
    #[error("{file}:{line}: {message}")]
    Row {
        /// File.
        file: String,
        /// 1-based line.
        line: u64,
        /// What is wrong.
        message: String,
    },
    /// The run is not in the directory.
    #[error(
        "no run set={set} qos={qos} policy={policy} in {file} (runs present: {present}; allowed: set A|B|C, qos H|M|L, policy static|moca)"
    )]
    NoRun {
        /// File searched.
        file: String,
        /// Set asked for.
        set: String,
        /// QoS asked for.
        qos: String,
        /// Policy asked for.
        policy: String,
        /// Runs found.
        present: String,
    },
}

/// One row of `tasks.csv` (the columns moca uses; others are ignored).
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct TaskRow {
    /// Workload set.
    pub set: String,
    /// QoS level.
    pub qos: String,
    /// `static` or `moca`.
    pub policy: String,
    /// Queue id (dispatch order).
    pub task: usize,
    /// Network name.
    pub network: String,
    /// Network id 1..=7.
    pub network_id: u32,
    /// User priority.
    pub priority: u32,
    /// Dispatch cycle.
    pub dispatched_cycle: u64,
    /// Latency target (cycles from dispatch).
    pub target_cycles: u64,
    /// Logged latency (floored).
    pub latency_cycles: u64,
    /// Logged thread runtime of the last segment (0 = never executed).
    pub thread_runtime_cycles: u64,
    /// Conv/matmul layer calls executed.
    pub conv: u32,
    /// Conv/matmul layer calls of the whole network.
    pub network_layers: u32,
    /// `thread_runtime_cycles > 0`.
    pub executed: bool,
}

/// One row of `rounds.csv`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
struct RoundRow {
    set: String,
    qos: String,
    policy: String,
    round: usize,
    round_start_cycle: u64,
    queue_groups: u32,
    sg0_tasks: String,
    sg0_queue_sizes: String,
    sg0_grouped: String,
    sg1_tasks: String,
    sg1_queue_sizes: String,
    sg1_grouped: String,
    sg2_tasks: String,
    sg2_queue_sizes: String,
    sg2_grouped: String,
    sg3_tasks: String,
    sg3_queue_sizes: String,
    sg3_grouped: String,
    released: String,
}

/// One row of `runs.csv` (the columns moca uses).
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct RunRow {
    /// Workload set.
    pub set: String,
    /// QoS level.
    pub qos: String,
    /// `static` or `moca`.
    pub policy: String,
    /// Test name in the log.
    pub test: String,
    /// Tasks of the run.
    pub tasks: usize,
    /// Tasks executed.
    pub executed: usize,
    /// `latency < target` count over all tasks (the artifact's SLA).
    pub sla_met: usize,
    /// `sla_met / tasks`.
    pub sla_rate: f64,
    /// Rounds (including the final empty one).
    pub rounds: usize,
    /// Max per-tile runtime.
    pub makespan_cycles: u64,
    /// Per-tile runtimes.
    pub core0_runtime: u64,
    /// Tile 1.
    pub core1_runtime: u64,
    /// Tile 2.
    pub core2_runtime: u64,
    /// Tile 3.
    pub core3_runtime: u64,
    /// Tile 4.
    pub core4_runtime: u64,
    /// Tile 5.
    pub core5_runtime: u64,
    /// Tile 6.
    pub core6_runtime: u64,
    /// Tile 7.
    pub core7_runtime: u64,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
struct NetworkRow {
    network_id: u32,
    network: String,
    network_layers: u32,
    function_parts: String,
    block_parts: String,
    workload_group_intended: i64,
    workload_group_as_indexed: String,
    sp_prediction_cycles: u64,
    tp_prediction_cycles: u64,
    target_cycles_base: u64,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
struct IsolatedRow {
    network: String,
    kind: String,
    index: Option<u32>,
    mean: u64,
    plausible: bool,
}

/// The harness' constants of one network (`networks.csv`).
#[derive(Clone, Debug, PartialEq)]
pub struct NetConsts {
    /// Network id 1..=7.
    pub id: u32,
    /// Name.
    pub name: String,
    /// Conv/matmul layer calls of the whole network.
    pub layers: u32,
    /// Layers per part of the 2-tile path (`<net>_function_1`).
    pub function_parts: Vec<u32>,
    /// Layers per part of the 1-tile block path (`<net>_block_function_1`).
    pub block_parts: Vec<u32>,
    /// `workload_group[id - 1]` (the number of parts: what the code meant).
    pub group_intended: i64,
    /// `workload_group[id]` as the MoCA harness reads it; `None` = out of bounds (the logs imply
    /// a value <= 0).
    pub group_as_indexed: Option<i64>,
    /// Pre-compiler whole-network prediction on 1 tile.
    pub sp_prediction: u64,
    /// Pre-compiler whole-network prediction on 2 tiles (the latency floor).
    pub tp_prediction: u64,
    /// Latency target at QoS M.
    pub target_base: u64,
}

/// One measured isolated layer section on 1 tile.
#[derive(Clone, Debug, PartialEq)]
pub struct IsolatedLayer {
    /// Network name.
    pub network: String,
    /// `conv`, `matmul`, `resadd`, `pool`, `total_thread`, `total_exec`.
    pub kind: String,
    /// Per-kind index.
    pub index: Option<u32>,
    /// Mean of the 7 repeats.
    pub mean: u64,
    /// False for the corrupt pool timings.
    pub plausible: bool,
}

/// One sub-group's list in a round.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SubGroupList {
    /// Task ids in slot order (queue 0, then 1, then 2).
    pub tasks: Vec<usize>,
    /// Entries per queue level.
    pub queue_sizes: Vec<u32>,
    /// MoCA: grouped-table entry per slot (partner id, `-7` consumed, `-1` none).
    pub grouped: Vec<i64>,
}

/// One scheduling round.
#[derive(Clone, Debug, PartialEq)]
pub struct Round {
    /// Index in the run.
    pub index: usize,
    /// Logged `gemmini runtime` at the round's start.
    pub start: u64,
    /// Queue levels built (0 = empty round).
    pub levels: u32,
    /// The four sub-groups' lists.
    pub sub_groups: [SubGroupList; SUB_GROUPS],
    /// Tasks put back in this round.
    pub released: Vec<usize>,
}

/// One recorded run: its tasks (indexed by id), rounds and summary.
#[derive(Clone, Debug, PartialEq)]
pub struct RunTrace {
    /// Set.
    pub set: String,
    /// QoS.
    pub qos: String,
    /// Policy (`static` / `moca`).
    pub policy: String,
    /// Tasks, `tasks[i].task == i`.
    pub tasks: Vec<TaskRow>,
    /// Rounds in order.
    pub rounds: Vec<Round>,
    /// The run's summary row.
    pub summary: RunRow,
}

/// Parse a CSV text into records, with errors naming `file:line` and the column.
fn parse<T: DeserializeOwned>(file: &str, text: &str) -> Result<Vec<(u64, T)>, DataError> {
    let mut rdr = csv::ReaderBuilder::new().from_reader(text.as_bytes());
    let headers = rdr
        .headers()
        .map_err(|e| DataError::Row {
            file: file.into(),
            line: 1,
            message: e.to_string(),
        })?
        .clone();
    let mut out = Vec::new();
    let mut rec = csv::StringRecord::new();
    // The reader's own line numbers lag by one after a long header (it consumes a record's
    // terminator lazily), so a record's line is counted from its byte offset.
    let line_at = |byte: u64| {
        let b = text.as_bytes();
        let mut i = (byte as usize).min(b.len());
        while i < b.len() && (b[i] == b'\n' || b[i] == b'\r') {
            i += 1;
        }
        b[..i].iter().filter(|&&c| c == b'\n').count() as u64 + 1
    };
    loop {
        let more = rdr.read_record(&mut rec).map_err(|e| DataError::Row {
            file: file.into(),
            line: e.position().map_or(0, |p| line_at(p.byte())),
            message: e.to_string(),
        })?;
        if !more {
            break;
        }
        let line = rec.position().map_or(0, |p| line_at(p.byte()));
        let row: T = rec.deserialize(Some(&headers)).map_err(|e| {
            let (column, message) = match e.kind() {
                csv::ErrorKind::Deserialize { err, .. } => (
                    err.field()
                        .and_then(|i| headers.get(i as usize))
                        .map(str::to_string),
                    err.kind().to_string(),
                ),
                _ => (None, e.to_string()),
            };
            match column {
                Some(column) => DataError::Field {
                    file: file.into(),
                    line,
                    column,
                    message,
                },
                None => DataError::Row {
                    file: file.into(),
                    line,
                    message,
                },
            }
        })?;
        out.push((line, row));
    }
    Ok(out)
}

fn field_err(file: &str, line: u64, column: &str, message: impl Into<String>) -> DataError {
    DataError::Field {
        file: file.into(),
        line,
        column: column.into(),
        message: message.into(),
    }
}

/// A space-separated list of integers.
fn ints(file: &str, line: u64, column: &str, s: &str) -> Result<Vec<i64>, DataError> {
    s.split_whitespace()
        .map(|t| {
            t.parse::<i64>()
                .map_err(|_| field_err(file, line, column, format!("`{t}` is not an integer")))
        })
        .collect()
}

fn ids(file: &str, line: u64, column: &str, s: &str) -> Result<Vec<usize>, DataError> {
    ints(file, line, column, s)?
        .into_iter()
        .map(|v| {
            usize::try_from(v)
                .map_err(|_| field_err(file, line, column, format!("task id {v} is negative")))
        })
        .collect()
}

fn read(dir: &Path, name: &str) -> Result<(String, String), DataError> {
    let path = dir.join(name);
    let file = path.display().to_string();
    let text = std::fs::read_to_string(&path).map_err(|source| DataError::Io {
        file: file.clone(),
        source,
    })?;
    Ok((file, text))
}

/// Parse `networks.csv`; ids must be 1..=n in order.
pub fn parse_networks(file: &str, text: &str) -> Result<Vec<NetConsts>, DataError> {
    let rows: Vec<(u64, NetworkRow)> = parse(file, text)?;
    let mut out = Vec::new();
    for (i, (line, r)) in rows.into_iter().enumerate() {
        if r.network_id as usize != i + 1 {
            return Err(field_err(
                file,
                line,
                "network_id",
                format!("expected {} (ids are 1..=n in order)", i + 1),
            ));
        }
        let parts = |col: &str, s: &str| -> Result<Vec<u32>, DataError> {
            let v = ints(file, line, col, s)?;
            if v.is_empty() || v.iter().any(|&x| x <= 0) {
                return Err(field_err(
                    file,
                    line,
                    col,
                    "must list positive layer counts",
                ));
            }
            let v: Vec<u32> = v.into_iter().map(|x| x as u32).collect();
            if v.iter().sum::<u32>() > r.network_layers {
                return Err(field_err(
                    file,
                    line,
                    col,
                    format!(
                        "parts add up to more than network_layers {}",
                        r.network_layers
                    ),
                ));
            }
            Ok(v)
        };
        let group_as_indexed = match r.workload_group_as_indexed.trim() {
            "out_of_bounds" => None,
            s => Some(s.parse::<i64>().map_err(|_| {
                field_err(
                    file,
                    line,
                    "workload_group_as_indexed",
                    format!("`{s}` is not an integer or `out_of_bounds`"),
                )
            })?),
        };
        out.push(NetConsts {
            id: r.network_id,
            function_parts: parts("function_parts", &r.function_parts)?,
            block_parts: parts("block_parts", &r.block_parts)?,
            name: r.network,
            layers: r.network_layers,
            group_intended: r.workload_group_intended,
            group_as_indexed,
            sp_prediction: r.sp_prediction_cycles,
            tp_prediction: r.tp_prediction_cycles,
            target_base: r.target_cycles_base,
        });
    }
    if out.is_empty() {
        return Err(DataError::Row {
            file: file.into(),
            line: 1,
            message: "no networks".into(),
        });
    }
    Ok(out)
}

/// The embedded `networks.csv`.
pub fn embedded_networks() -> Vec<NetConsts> {
    parse_networks(
        "data/firesim/networks.csv (embedded)",
        EMBEDDED_NETWORKS_CSV,
    )
    .expect("the embedded networks.csv parses")
}

/// Parse `isolated_1tile_layers.csv`.
pub fn parse_isolated(file: &str, text: &str) -> Result<Vec<IsolatedLayer>, DataError> {
    Ok(parse::<IsolatedRow>(file, text)?
        .into_iter()
        .map(|(_, r)| IsolatedLayer {
            network: r.network,
            kind: r.kind,
            index: r.index,
            mean: r.mean,
            plausible: r.plausible,
        })
        .collect())
}

/// The embedded isolated per-layer measurements.
pub fn embedded_isolated() -> Vec<IsolatedLayer> {
    parse_isolated(
        "data/firesim/isolated_1tile_layers.csv (embedded)",
        EMBEDDED_ISOLATED_CSV,
    )
    .expect("the embedded isolated_1tile_layers.csv parses")
}

/// The texts of one trace directory's three files, named for error messages.
#[derive(Clone, Debug)]
pub struct TraceFiles {
    /// (file name, text) of `tasks.csv`.
    pub tasks: (String, String),
    /// (file name, text) of `rounds.csv`.
    pub rounds: (String, String),
    /// (file name, text) of `runs.csv`.
    pub runs: (String, String),
}

impl TraceFiles {
    /// Read the three files of `dir`.
    pub fn read(dir: &Path) -> Result<Self, DataError> {
        Ok(TraceFiles {
            tasks: read(dir, "tasks.csv")?,
            rounds: read(dir, "rounds.csv")?,
            runs: read(dir, "runs.csv")?,
        })
    }

    /// The embedded copy of `data/firesim/`.
    pub fn embedded() -> Self {
        let n = |f: &str, t: &str| (format!("data/firesim/{f} (embedded)"), t.to_string());
        TraceFiles {
            tasks: n("tasks.csv", EMBEDDED_TASKS_CSV),
            rounds: n("rounds.csv", EMBEDDED_ROUNDS_CSV),
            runs: n("runs.csv", EMBEDDED_RUNS_CSV),
        }
    }

    /// The runs listed in `runs.csv` as (set, qos, policy).
    pub fn runs(&self) -> Result<Vec<(String, String, String)>, DataError> {
        Ok(parse::<RunRow>(&self.runs.0, &self.runs.1)?
            .into_iter()
            .map(|(_, r)| (r.set, r.qos, r.policy))
            .collect())
    }

    /// Load one run.
    pub fn load(&self, set: &str, qos: &str, policy: &str) -> Result<RunTrace, DataError> {
        self.parsed()?.load(set, qos, policy)
    }

    /// Parse the three files once (to load several runs).
    pub fn parsed(&self) -> Result<ParsedTrace<'_>, DataError> {
        Ok(ParsedTrace {
            files: self,
            runs: parse(&self.runs.0, &self.runs.1)?,
            tasks: parse(&self.tasks.0, &self.tasks.1)?,
            rounds: parse(&self.rounds.0, &self.rounds.1)?,
        })
    }
}

/// The parsed rows of a trace directory.
pub struct ParsedTrace<'a> {
    files: &'a TraceFiles,
    runs: Vec<(u64, RunRow)>,
    tasks: Vec<(u64, TaskRow)>,
    rounds: Vec<(u64, RoundRow)>,
}

impl ParsedTrace<'_> {
    /// Load one run.
    pub fn load(&self, set: &str, qos: &str, policy: &str) -> Result<RunTrace, DataError> {
        let sel = |s: &str, q: &str, p: &str| s == set && q == qos && p == policy;
        let rf = &self.files.runs.0;
        let runs = &self.runs;
        let Some((_, summary)) = runs
            .iter()
            .find(|(_, r)| sel(&r.set, &r.qos, &r.policy))
            .cloned()
        else {
            let present = runs
                .iter()
                .map(|(_, r)| format!("{}/{}/{}", r.set, r.qos, r.policy))
                .collect::<Vec<_>>()
                .join(", ");
            return Err(DataError::NoRun {
                file: rf.clone(),
                set: set.into(),
                qos: qos.into(),
                policy: policy.into(),
                present: if present.is_empty() {
                    "none".into()
                } else {
                    present
                },
            });
        };
        let tf = &self.files.tasks.0;
        let mut tasks: Vec<(u64, TaskRow)> = self
            .tasks
            .iter()
            .filter(|(_, r)| sel(&r.set, &r.qos, &r.policy))
            .cloned()
            .collect();
        tasks.sort_by_key(|(_, t)| t.task);
        for (i, (line, t)) in tasks.iter().enumerate() {
            if t.task != i {
                return Err(field_err(
                    tf,
                    *line,
                    "task",
                    format!(
                        "task ids of run {set}/{qos}/{policy} must be 0..n without gaps or repeats; expected {i}, found {}",
                        t.task
                    ),
                ));
            }
        }
        if tasks.len() != summary.tasks {
            return Err(DataError::Row {
                file: tf.clone(),
                line: 0,
                message: format!(
                    "run {set}/{qos}/{policy} has {} task rows, runs.csv says {}",
                    tasks.len(),
                    summary.tasks
                ),
            });
        }
        let n = tasks.len();
        let of = &self.files.rounds.0;
        let mut rounds = Vec::new();
        for (line, r) in self.rounds.iter().cloned() {
            if !sel(&r.set, &r.qos, &r.policy) {
                continue;
            }
            if r.round != rounds.len() {
                return Err(field_err(
                    of,
                    line,
                    "round",
                    format!("expected round {} (rounds in order from 0)", rounds.len()),
                ));
            }
            let cols = [
                (&r.sg0_tasks, &r.sg0_queue_sizes, &r.sg0_grouped, 0),
                (&r.sg1_tasks, &r.sg1_queue_sizes, &r.sg1_grouped, 1),
                (&r.sg2_tasks, &r.sg2_queue_sizes, &r.sg2_grouped, 2),
                (&r.sg3_tasks, &r.sg3_queue_sizes, &r.sg3_grouped, 3),
            ];
            let mut sub_groups: [SubGroupList; SUB_GROUPS] = Default::default();
            for (t, q, g, s) in cols {
                let tcol = format!("sg{s}_tasks");
                let list = ids(of, line, &tcol, t)?;
                if let Some(&bad) = list.iter().find(|&&id| id >= n) {
                    return Err(field_err(
                        of,
                        line,
                        &tcol,
                        format!("task {bad} is not in the run (0..{n})"),
                    ));
                }
                let qcol = format!("sg{s}_queue_sizes");
                let sizes: Vec<u32> = ints(of, line, &qcol, q)?
                    .into_iter()
                    .map(|v| {
                        u32::try_from(v).map_err(|_| field_err(of, line, &qcol, "negative size"))
                    })
                    .collect::<Result<_, _>>()?;
                if sizes.iter().sum::<u32>() as usize != list.len() {
                    return Err(field_err(
                        of,
                        line,
                        &qcol,
                        format!(
                            "sizes add up to {}, the list has {}",
                            sizes.iter().sum::<u32>(),
                            list.len()
                        ),
                    ));
                }
                let gcol = format!("sg{s}_grouped");
                let grouped = ints(of, line, &gcol, g)?;
                if !grouped.is_empty() && grouped.len() != list.len() {
                    return Err(field_err(
                        of,
                        line,
                        &gcol,
                        format!("{} entries for {} tasks", grouped.len(), list.len()),
                    ));
                }
                if let Some(&bad) = grouped.iter().find(|&&p| p >= n as i64) {
                    return Err(field_err(
                        of,
                        line,
                        &gcol,
                        format!("partner {bad} is not in the run (0..{n})"),
                    ));
                }
                sub_groups[s] = SubGroupList {
                    tasks: list,
                    queue_sizes: sizes,
                    grouped,
                };
            }
            let released = ids(of, line, "released", &r.released)?;
            if let Some(&bad) = released.iter().find(|&&id| id >= n) {
                return Err(field_err(
                    of,
                    line,
                    "released",
                    format!("task {bad} is not in the run (0..{n})"),
                ));
            }
            rounds.push(Round {
                index: r.round,
                start: r.round_start_cycle,
                levels: r.queue_groups,
                sub_groups,
                released,
            });
        }
        if rounds.is_empty() {
            return Err(DataError::Row {
                file: of.clone(),
                line: 0,
                message: format!("no rounds for run {set}/{qos}/{policy}"),
            });
        }
        Ok(RunTrace {
            set: set.into(),
            qos: qos.into(),
            policy: policy.into(),
            tasks: tasks.into_iter().map(|(_, t)| t).collect(),
            rounds,
            summary,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_trace_loads_every_run() {
        let f = TraceFiles::embedded();
        let runs = f.runs().unwrap();
        assert_eq!(runs.len(), 12);
        let parsed = f.parsed().unwrap();
        for (s, q, p) in runs {
            let r = parsed.load(&s, &q, &p).unwrap();
            assert_eq!(r.tasks.len(), 250);
            assert!(r.rounds.last().unwrap().levels == 0);
            let met = r
                .tasks
                .iter()
                .filter(|t| t.latency_cycles < t.target_cycles)
                .count();
            assert_eq!(met, r.summary.sla_met, "{s}/{q}/{p}");
        }
        assert_eq!(embedded_networks().len(), 7);
        assert_eq!(embedded_isolated().len(), 264);
    }

    #[test]
    fn errors_name_file_line_and_column() {
        let mut f = TraceFiles::embedded();
        f.runs.1 = f.runs.1.replacen(",80,250,250,", ",80,2x0,250,", 1);
        let e = f.load("A", "H", "static").unwrap_err().to_string();
        assert!(e.contains("runs.csv (embedded):2: column `tasks`"), "{e}");
        let f = TraceFiles::embedded();
        let e = f.load("A", "X", "static").unwrap_err().to_string();
        assert!(
            e.contains("no run set=A qos=X") && e.contains("qos H|M|L"),
            "{e}"
        );
        let mut f = TraceFiles::embedded();
        f.rounds.1 = f.rounds.1.replacen("5 4 13", "5 4 913", 1);
        let e = f.load("A", "H", "static").unwrap_err().to_string();
        assert!(e.contains(":2: column `sg0_tasks`: task 913"), "{e}");
    }
}
