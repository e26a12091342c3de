//! A block's declared ports (the golden model's one declaration, [`golden::observe::Ports`])
//! checked against the ports of an RTL top module: names, directions and widths.
//!
//! The same check runs when co-simulation binds a Verilator model and, without Verilator, in
//! `tests/ports.rs` on the Verilog parsed by [`crate::ports::parse_ports`], so a port renamed
//! or resized on one side fails a test before any simulator is built.

use crate::ports::{Direction, Port};
use golden::observe::{self, Dir, Ports};

/// The declared ports of a block, and their names by direction in declaration order (the
/// order of the co-simulation's input and output value slices).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Declared {
    /// Every port, in declaration order.
    pub ports: Vec<observe::Port>,
    /// Names of the inputs.
    pub inputs: Vec<String>,
    /// Names of the outputs.
    pub outputs: Vec<String>,
}

impl Declared {
    /// The declaration of `sample`'s ports (the values are ignored).
    pub fn of(sample: &impl Ports) -> Self {
        Declared {
            ports: sample.declarations(),
            inputs: sample.port_names(Dir::In),
            outputs: sample.port_names(Dir::Out),
        }
    }
}

fn direction(d: Dir) -> Direction {
    match d {
        Dir::In => Direction::Input,
        Dir::Out => Direction::Output,
    }
}

/// Where the declared ports are among the RTL's ports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bound {
    /// Index of the clock in the RTL's port list.
    pub clock: usize,
    /// `ports[i]`: index in the RTL's port list of the `i`-th declared port.
    pub ports: Vec<usize>,
}

/// Check that the RTL ports `rtl` are exactly `declared` plus the `clock` input and the
/// `backdoor` ports, with equal directions and widths, and that every port is at most 64 bits
/// wide, and say where each declared port is. The error lists every difference found.
pub fn check(
    rtl: &[Port],
    clock: &str,
    declared: &[observe::Port],
    backdoor: &[observe::Port],
) -> Result<Bound, String> {
    let mut problems = Vec::new();
    let position = |name: &str| rtl.iter().position(|p| p.name == name);
    for d in declared.iter().chain(backdoor) {
        let name = d.to_string();
        match rtl.iter().find(|p| p.name == name) {
            None => problems.push(format!("the RTL has no port `{name}`")),
            Some(p) if p.direction != direction(d.dir) => problems.push(format!(
                "`{name}` is an {} in the RTL, the golden model has it as an {}",
                p.direction,
                direction(d.dir)
            )),
            Some(p) if p.width != d.width => problems.push(format!(
                "`{name}` is {} bits wide in the RTL, {} in the golden declaration",
                p.width, d.width
            )),
            Some(_) => {}
        }
    }
    let clock_at = position(clock);
    match clock_at.map(|i| &rtl[i]) {
        Some(p) if p.direction == Direction::Input && p.width == 1 => {}
        Some(_) => problems.push(format!("the clock `{clock}` is not a 1-bit input")),
        None => problems.push(format!("the RTL has no clock `{clock}`")),
    }
    let extra: Vec<&str> = rtl
        .iter()
        .filter(|p| {
            p.name != clock
                && !declared
                    .iter()
                    .chain(backdoor)
                    .any(|d| d.to_string() == p.name)
        })
        .map(|p| p.name.as_str())
        .collect();
    if !extra.is_empty() {
        problems.push(format!(
            "RTL ports not covered by the golden model: {}",
            extra.join(", ")
        ));
    }
    if let Some(p) = rtl.iter().find(|p| p.width > 64) {
        problems.push(format!(
            "`{}` is {} bits wide; co-simulation handles at most 64",
            p.name, p.width
        ));
    }
    match clock_at {
        Some(clock) if problems.is_empty() => Ok(Bound {
            clock,
            ports: declared
                .iter()
                .filter_map(|d| position(&d.to_string()))
                .collect(),
        }),
        _ => Err(problems.join("; ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rtl(name: &str, width: u32, direction: Direction) -> Port {
        Port {
            name: name.into(),
            width,
            direction,
            signed: false,
        }
    }

    #[test]
    fn every_kind_of_difference_is_named() {
        let declared = [
            observe::Port::input("a", 3),
            observe::Port::output("b", 1).at(2),
        ];
        let good = [
            rtl("clock", 1, Direction::Input),
            rtl("a", 3, Direction::Input),
            rtl("b$2", 1, Direction::Output),
        ];
        let bound = check(&good, "clock", &declared, &[]).unwrap();
        assert_eq!((bound.clock, bound.ports), (0, vec![1, 2]));
        let mut wide = good.clone();
        wide[1].width = 4;
        let e = check(&wide, "clock", &declared, &[]).unwrap_err();
        assert!(e.contains("`a` is 4 bits wide in the RTL, 3"), "{e}");
        let mut turned = good.clone();
        turned[2].direction = Direction::Input;
        let e = check(&turned, "clock", &declared, &[]).unwrap_err();
        assert!(e.contains("`b$2` is an input in the RTL"), "{e}");
        let e = check(&good[..2], "clock", &declared, &[]).unwrap_err();
        assert!(e.contains("no port `b$2`"), "{e}");
        let mut extra = good.to_vec();
        extra.push(rtl("c", 1, Direction::Output));
        let e = check(&extra, "clock", &declared, &[]).unwrap_err();
        assert!(e.contains("not covered by the golden model: c"), "{e}");
        let bd = [observe::Port::output("c", 1)];
        assert!(check(&extra, "clock", &declared, &bd).is_ok());
        let e = check(&good[1..], "clock", &declared, &[]).unwrap_err();
        assert!(e.contains("no clock `clock`"), "{e}");
    }
}
