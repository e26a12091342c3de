//! `moca gen`, `moca lint`, `moca regs`: Verilog emission and checks.

use crate::tools::{self, IVERILOG, VERILATOR};
use crate::usage;
use anyhow::Result;
use clap::{Args, ValueEnum};
use golden::spec;
use hw::emit::VerilogTop;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// The Verilator control file with moca's documented lint waivers.
pub const WAIVERS: &str = include_str!("../../hw/lint/waivers.vlt");

/// A hardware block with a Verilog top.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Block {
    /// `MemThrottle`: the per-tile memory-access rate limiter.
    Throttle,
    /// `BusArbiter`: N requesters to one memory port.
    Arbiter,
    /// One accelerator tile alone (no throttle, arbiter or shared memory; its DMA ports are
    /// top-level ports).
    Tile,
    /// `MocaSoc`: N accelerator tiles, their throttles, the arbiter and shared memory.
    Soc,
}

impl Block {
    /// Every block, in the order `moca lint` checks them.
    pub const ALL: [Block; 4] = [Block::Throttle, Block::Arbiter, Block::Tile, Block::Soc];

    /// The `--block` value.
    pub fn name(self) -> &'static str {
        match self {
            Block::Throttle => "throttle",
            Block::Arbiter => "arbiter",
            Block::Tile => "tile",
            Block::Soc => "soc",
        }
    }
}

/// The shape of a tile or of the SoC (`--block tile`, `--block soc`).
#[derive(Args, Clone, Debug, Default)]
pub struct SocShape {
    /// SoC: number of tiles (1..=16; default 2).
    #[arg(long, value_parser = crate::args::ranged::<u16>("tiles", crate::args::TILES))]
    pub tiles: Option<u16>,
    /// Tile and SoC: systolic array dimension DIM (2..=16; default 4).
    #[arg(long, value_parser = crate::args::ranged::<u16>("dim", crate::args::DIM))]
    pub dim: Option<u16>,
    /// Tile and SoC: scratchpad rows per tile (4*DIM..=16384; default 64*DIM).
    #[arg(long)]
    pub sp_rows: Option<u32>,
    /// Tile and SoC: accumulator rows per tile (2*DIM..=16384; default 16*DIM).
    #[arg(long)]
    pub acc_rows: Option<u32>,
    /// Tile and SoC: shared-memory rows (1..=16777216; default 4096). For a tile alone, the
    /// memory size its LOAD/STORE bounds check assumes.
    #[arg(long)]
    pub mem_rows: Option<u32>,
    /// SoC: memory read latency in cycles (1..=1024; default 16).
    #[arg(long)]
    pub latency: Option<u32>,
}

/// Default shared-memory rows of `--block soc` / `--block tile`.
pub const DEFAULT_MEM_ROWS: u32 = 4096;
/// Default tiles of `--block soc`.
pub const DEFAULT_TILES: u16 = 2;

impl SocShape {
    /// Validated SoC parameters (bad values are usage errors naming the range).
    pub fn params(&self) -> Result<golden::soc::SocParams> {
        let dim = usize::from(self.dim.unwrap_or(spec::tile::DEFAULT_DIM as u16));
        let tiles = usize::from(self.tiles.unwrap_or(DEFAULT_TILES));
        let mut p = golden::soc::SocParams::new(tiles, dim).map_err(usage)?;
        if let Some(r) = self.sp_rows {
            p.tile.sp_rows = r;
        }
        if let Some(r) = self.acc_rows {
            p.tile.acc_rows = r;
        }
        p.mem_rows = self.mem_rows.unwrap_or(DEFAULT_MEM_ROWS);
        p.latency = self.latency.unwrap_or(spec::tile::DEFAULT_MEM_LATENCY);
        p.validate().map_err(usage)?;
        Ok(p)
    }
}

/// Reject a flag given for a block it does not apply to (a usage error naming the flag and
/// the blocks it applies to), so that a mistyped `--block` cannot silently ignore a flag.
pub fn check_flags(block: Block, ports: Option<u16>, shape: &SocShape) -> Result<()> {
    crate::args::check_applies(
        block.name(),
        &[
            ("ports", ports.is_some(), &["arbiter"]),
            ("tiles", shape.tiles.is_some(), &["soc"]),
            ("dim", shape.dim.is_some(), &["tile", "soc"]),
            ("sp-rows", shape.sp_rows.is_some(), &["tile", "soc"]),
            ("acc-rows", shape.acc_rows.is_some(), &["tile", "soc"]),
            ("mem-rows", shape.mem_rows.is_some(), &["tile", "soc"]),
            ("latency", shape.latency.is_some(), &["soc"]),
        ],
    )
}

/// Emit the Verilog of `block` (`ports` is used by the arbiter, `shape` by the tile and the
/// SoC; flags that do not apply are ignored here, see [`check_flags`]).
pub fn emit(block: Block, ports: Option<u16>, shape: &SocShape) -> Result<VerilogTop> {
    Ok(match block {
        Block::Throttle => hw::emit::throttle(),
        Block::Arbiter => {
            let ports = ports.unwrap_or(spec::DEFAULT_PORTS as u16);
            hw::emit::arbiter(usize::from(ports)).map_err(usage)?
        }
        Block::Tile => {
            let p = shape.params()?;
            hw::emit::tile(&p.tile, p.mem_rows).map_err(usage)?
        }
        Block::Soc => hw::emit::soc(&shape.params()?).map_err(usage)?,
    })
}

/// Arguments of `moca gen`.
#[derive(Args)]
#[command(
    long_about = "Write the Verilog of a block: one deterministic file per top module \
    (`moca_throttle.v`, `moca_arbiter_p<N>.v`, `moca_tile_d<DIM>.v`, `moca_soc_t<N>_d<DIM>.v`), \
    headed by the parameters it was generated with. The files are plain Verilog-2005 that \
    Verilator, Icarus Verilog and yosys accept. A flag that does not apply to the block (e.g. \
    --ports with --block tile) is an error.\n\n\
    Example: moca gen --block arbiter --ports 8 -o rtl/\n\
    Example: moca gen --block tile --dim 16 --sp-rows 64 --acc-rows 32 -o rtl/"
)]
pub struct GenArgs {
    /// Block to generate.
    #[arg(long, value_enum)]
    pub block: Block,
    /// Arbiter: number of requesters (1..=16; default 4).
    #[arg(long, value_parser = crate::args::ranged::<u16>("ports", crate::args::PORTS))]
    pub ports: Option<u16>,
    /// Tile and SoC shape.
    #[command(flatten)]
    pub soc: SocShape,
    /// Output directory (created if missing).
    #[arg(short, long = "out", value_name = "DIR")]
    pub out: PathBuf,
}

/// Arguments of `moca lint`.
#[derive(Args)]
#[command(
    long_about = "Generate each block and lint it with `verilator --lint-only -Wall` \
    (with the waivers in hw/lint/waivers.vlt, printed by --show-waivers) and compile it with \
    `iverilog -g2005`. Any diagnostic is printed as `file:line: message` and fails the run \
    (exit 1). Without --block every block is linted, each with the flags that apply to it; \
    with --block, a flag that does not apply to that block is an error."
)]
pub struct LintArgs {
    /// Block to lint (default: all).
    #[arg(long, value_enum)]
    pub block: Option<Block>,
    /// Arbiter: number of requesters (1..=16; default 4).
    #[arg(long, value_parser = crate::args::ranged::<u16>("ports", crate::args::PORTS))]
    pub ports: Option<u16>,
    /// Tile and SoC shape.
    #[command(flatten)]
    pub soc: SocShape,
    /// Keep the linted files in this directory (default: a temporary directory).
    #[arg(short, long = "out", value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Print the waiver file and exit.
    #[arg(long)]
    pub show_waivers: bool,
}

/// Arguments of `moca regs`.
#[derive(Args)]
pub struct RegsArgs {
    /// Print the whole map as Markdown (the content of docs/REGISTERS.md).
    #[arg(long, conflicts_with = "readme")]
    pub markdown: bool,
    /// Print the README's register section (the lines between its `<!-- registers` markers,
    /// both included).
    #[arg(long)]
    pub readme: bool,
}

fn write_top(dir: &Path, top: &VerilogTop) -> Result<PathBuf> {
    std::fs::create_dir_all(dir).map_err(|e| {
        usage(format!(
            "cannot create output directory {}: {e}",
            dir.display()
        ))
    })?;
    let path = dir.join(&top.file_name);
    crate::output::write_atomic(&path, top.text.as_bytes())?;
    Ok(path)
}

/// `moca gen`.
pub fn gen_cmd(a: &GenArgs) -> Result<ExitCode> {
    check_flags(a.block, a.ports, &a.soc)?;
    let top = emit(a.block, a.ports, &a.soc)?;
    let path = write_top(&a.out, &top)?;
    println!("{}", path.display());
    Ok(ExitCode::SUCCESS)
}

/// Diagnostics of one lint run, as `file:line: message` lines.
pub fn lint_file(path: &Path, top: &str, waivers: &Path) -> Result<Vec<String>> {
    let mut diags = Vec::new();
    let out = VERILATOR.run(&[
        "--lint-only".as_ref(),
        "-Wall".as_ref(),
        waivers.as_os_str(),
        path.as_os_str(),
        "--top-module".as_ref(),
        top.as_ref(),
    ])?;
    for line in String::from_utf8_lossy(&out.stderr).lines() {
        // `%Warning-RULE: file:line:col: msg` -> `file:line: RULE: msg`
        if let Some(rest) = line.strip_prefix('%') {
            if rest.starts_with("Error: Exiting due to") {
                continue;
            }
            let (kind, msg) = rest.split_once(": ").unwrap_or((rest, ""));
            let mut parts = msg.splitn(4, ':');
            let (f, l, _c, m) = (parts.next(), parts.next(), parts.next(), parts.next());
            match (f, l, m) {
                (Some(f), Some(l), Some(m)) => diags.push(format!("{f}:{l}: {kind}:{m}")),
                _ => diags.push(format!("{}: {kind}: {msg}", path.display())),
            }
        }
    }
    if !out.status.success() && diags.is_empty() {
        diags.push(format!(
            "{}: verilator exited with {}",
            path.display(),
            out.status
        ));
    }
    let out = IVERILOG.run(&[
        "-g2005".as_ref(),
        "-o".as_ref(),
        std::ffi::OsStr::new("/dev/null"),
        path.as_os_str(),
    ])?;
    for line in String::from_utf8_lossy(&out.stderr).lines() {
        diags.push(format!("{line} (iverilog)"));
    }
    if !out.status.success() && diags.is_empty() {
        diags.push(format!(
            "{}: iverilog exited with {}",
            path.display(),
            out.status
        ));
    }
    Ok(diags)
}

/// `moca lint`.
pub fn lint_cmd(a: &LintArgs) -> Result<ExitCode> {
    if a.show_waivers {
        print!("{WAIVERS}");
        return Ok(ExitCode::SUCCESS);
    }
    let work = tools::WorkDir::new(a.out.as_deref())?;
    let dir = work.path();
    let blocks = match a.block {
        Some(b) => {
            check_flags(b, a.ports, &a.soc)?;
            vec![b]
        }
        None => Block::ALL.to_vec(),
    };
    let waivers = dir.join("waivers.vlt");
    tools::write_file(&waivers, WAIVERS)?;
    let mut failed = false;
    for b in blocks {
        let top = emit(b, a.ports, &a.soc)?;
        let path = write_top(dir, &top)?;
        let diags = lint_file(&path, &top.top, &waivers)?;
        for d in &diags {
            println!("{d}");
        }
        if diags.is_empty() {
            eprintln!(
                "{}: clean (verilator -Wall, iverilog -g2005)",
                top.file_name
            );
        }
        failed |= !diags.is_empty();
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// `moca regs`.
pub fn regs_cmd(a: &RegsArgs) -> Result<ExitCode> {
    if a.markdown {
        print!("{}", spec::registers_markdown());
        return Ok(ExitCode::SUCCESS);
    }
    if a.readme {
        print!("{}", spec::registers_readme());
        return Ok(ExitCode::SUCCESS);
    }
    for block in spec::RegisterBlock::ALL {
        println!("{}", block.name());
        for r in block.registers() {
            println!(
                "  0x{:X}  {:<13} {}  {:>2} bit{}",
                r.addr,
                r.name,
                r.access,
                r.width(),
                if r.signed() { " signed" } else { "" }
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
