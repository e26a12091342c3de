//! Typed errors of the crate.

use std::path::PathBuf;

/// What to install when Verilator, `make` or a C++ compiler is missing.
pub const VERILATOR_INSTALL_HINT: &str = "apt-get install verilator g++ make";

/// What to install when Icarus Verilog is missing.
pub const IVERILOG_INSTALL_HINT: &str = "apt-get install iverilog";

/// An error found while reading the ports of a module from Verilog text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// No `module <top>` in the text.
    #[error("module `{top}` not found in the Verilog text (modules found: {found})")]
    ModuleNotFound {
        /// The module that was asked for.
        top: String,
        /// The modules that were found, comma separated (or `none`).
        found: String,
    },
    /// The text does not follow the expected syntax.
    #[error("line {line}: {message}")]
    Syntax {
        /// 1-based line number.
        line: usize,
        /// What was expected.
        message: String,
    },
    /// A `/* ... */` comment was never closed.
    #[error("line {line}: unterminated block comment")]
    UnterminatedComment {
        /// 1-based line of the comment start.
        line: usize,
    },
    /// The range of a port is not made of integer constants.
    #[error("line {line}: width of port `{port}` is not a constant integer range: {reason}")]
    UnsupportedWidth {
        /// 1-based line number.
        line: usize,
        /// The port.
        port: String,
        /// Why the range could not be evaluated.
        reason: String,
    },
    /// A valid Verilog construct that the binding does not support.
    #[error("line {line}: port `{port}`: {what} is not supported")]
    Unsupported {
        /// 1-based line number.
        line: usize,
        /// The port.
        port: String,
        /// The construct.
        what: String,
    },
    /// A port of the header has no `input`/`output` declaration.
    #[error(
        "port `{port}` is listed in the header of module `{top}` but never declared input or output"
    )]
    MissingDirection {
        /// The module.
        top: String,
        /// The port.
        port: String,
    },
    /// A port is declared twice.
    #[error("line {line}: port `{port}` is declared twice")]
    DuplicatePort {
        /// 1-based line number of the second declaration.
        line: usize,
        /// The port.
        port: String,
    },
    /// A direction declaration names something that is not in the header.
    #[error(
        "line {line}: `{port}` is declared as a port but is not in the port list of module `{top}`"
    )]
    NotInHeader {
        /// 1-based line number.
        line: usize,
        /// The module.
        top: String,
        /// The name.
        port: String,
    },
}

/// Every error of the crate.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The Verilog could not be parsed.
    #[error("cannot read the ports of the Verilog: {0}")]
    Parse(#[from] ParseError),
    /// A tool is not installed (or not at the given path).
    #[error("{tool} not found (tried `{}`): install it with `{hint}`", path.display())]
    ToolMissing {
        /// The tool, e.g. `verilator`.
        tool: String,
        /// The path or command that was tried.
        path: PathBuf,
        /// The command that installs it.
        hint: &'static str,
    },
    /// A tool ran and failed.
    #[error("{tool} failed ({status}) running `{command}`:\n{output}")]
    ToolFailed {
        /// The tool.
        tool: String,
        /// The command line.
        command: String,
        /// Exit status, as text.
        status: String,
        /// The last lines of its standard output and error.
        output: String,
    },
    /// A file system operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done, including the path.
        context: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The built shared library could not be loaded.
    #[error("cannot load the simulation library {}: {source}", path.display())]
    Load {
        /// The library.
        path: PathBuf,
        /// The cause.
        #[source]
        source: libloading::Error,
    },
    /// The loaded library does not match the ports or the shim version expected.
    #[error("the simulation library does not match the expected interface: {0}")]
    AbiMismatch(String),
    /// The model could not be created (out of memory or a C++ exception).
    #[error("the Verilated model of `{0}` could not be created")]
    CreateFailed(String),
    /// No port of that name.
    #[error("no port named `{0}`")]
    NoSuchPort(String),
    /// A value does not fit the port.
    #[error("value {value} does not fit port `{port}` ({width} bits, allowed {min}..={max})")]
    ValueOutOfRange {
        /// The port.
        port: String,
        /// Its width in bits.
        width: u32,
        /// The value given, as text.
        value: String,
        /// Smallest value allowed, as text.
        min: String,
        /// Largest value allowed, as text.
        max: String,
    },
    /// An input operation on an output or the other way round.
    #[error("port `{port}` is an {actual}, expected an {expected}")]
    WrongDirection {
        /// The port.
        port: String,
        /// Its direction.
        actual: crate::Direction,
        /// The direction needed.
        expected: crate::Direction,
    },
    /// The model was built without `BuildOptions::trace`.
    #[error("VCD tracing needs a model built with BuildOptions::trace = true")]
    TraceNotEnabled,
    /// A port is too wide for an operation.
    #[error("port `{port}` is {width} bits wide; at most {max} bits are supported here")]
    PortTooWide {
        /// The port.
        port: String,
        /// Its width.
        width: u32,
        /// The limit.
        max: u32,
    },
    /// A stimulus row has the wrong number of values.
    #[error(
        "stimulus cycle {cycle} has {got} values, expected {expected} (one per input port except the clock)"
    )]
    StimulusShape {
        /// The cycle (row index).
        cycle: usize,
        /// Values expected.
        expected: usize,
        /// Values found.
        got: usize,
    },
    /// The simulator produced an unknown (X/Z) value.
    #[error(
        "cycle {cycle}: output `{port}` is unknown (`{text}`) in the Icarus simulation; Verilator starts every register at 0, give the register an initial value or a reset"
    )]
    UnknownValue {
        /// The cycle.
        cycle: usize,
        /// The port.
        port: String,
        /// The value printed by the simulator.
        text: String,
    },
    /// The golden model and the RTL top do not have the same ports, so they cannot be compared
    /// signal by signal.
    #[error(
        "the golden model of {block} does not match the ports of Verilog module `{top}`: {message}"
    )]
    Interface {
        /// The block.
        block: String,
        /// The Verilog top module.
        top: String,
        /// Which ports are missing or extra.
        message: String,
    },
    /// The output dump of a simulator could not be read.
    #[error("cannot read the simulator output at line {line}: {message}")]
    BadDump {
        /// 1-based line.
        line: usize,
        /// What is wrong.
        message: String,
    },
}

impl SimError {
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        SimError::Io {
            context: context.into(),
            source,
        }
    }
}
