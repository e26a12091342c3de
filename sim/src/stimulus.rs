//! The layout of a recorded stimulus and of the outputs sampled from it, shared by the
//! Verilator ([`crate::VerilatedModel::replay`]) and Icarus ([`crate::iverilog::replay`]) paths.
//!
//! A stimulus is one row per cycle; a row holds one value per input port except the clock, in
//! port (header) order. The result is one row per cycle holding one value per output port, in
//! port order. Values are `u128`, so ports of up to 128 bits can be replayed; wider ports give
//! [`SimError::PortTooWide`]. Signed ports hold their two's complement bit pattern.

use crate::error::SimError;
use crate::ports::{Direction, Port, PortId};

/// Widest port a replay supports.
pub const MAX_REPLAY_WIDTH: u32 = 128;

/// Which ports make up a stimulus row and an output row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplayLayout {
    /// The clock input (not part of a stimulus row).
    pub clock: PortId,
    /// Columns of a stimulus row: the inputs except the clock, in port order.
    pub inputs: Vec<PortId>,
    /// Columns of an output row: the outputs, in port order.
    pub outputs: Vec<PortId>,
}

impl ReplayLayout {
    /// The layout for `ports` with clock input `clock`.
    pub fn new(ports: &[Port], clock: &str) -> Result<Self, SimError> {
        let ci = ports
            .iter()
            .position(|p| p.name == clock)
            .ok_or_else(|| SimError::NoSuchPort(clock.to_string()))?;
        if ports[ci].direction != Direction::Input {
            return Err(SimError::WrongDirection {
                port: clock.to_string(),
                actual: ports[ci].direction,
                expected: Direction::Input,
            });
        }
        if let Some(p) = ports.iter().find(|p| p.width > MAX_REPLAY_WIDTH) {
            return Err(SimError::PortTooWide {
                port: p.name.clone(),
                width: p.width,
                max: MAX_REPLAY_WIDTH,
            });
        }
        let pick = |d: Direction| {
            ports
                .iter()
                .enumerate()
                .filter(|&(i, p)| p.direction == d && i != ci)
                .map(|(i, _)| PortId(i))
                .collect::<Vec<_>>()
        };
        Ok(ReplayLayout {
            clock: PortId(ci),
            inputs: pick(Direction::Input),
            outputs: pick(Direction::Output),
        })
    }

    /// Check that every row has one value per input and that each value fits its port.
    pub fn check(&self, ports: &[Port], rows: &[Vec<u128>]) -> Result<(), SimError> {
        for (cycle, row) in rows.iter().enumerate() {
            if row.len() != self.inputs.len() {
                return Err(SimError::StimulusShape {
                    cycle,
                    expected: self.inputs.len(),
                    got: row.len(),
                });
            }
            for (&id, &v) in self.inputs.iter().zip(row) {
                let p = &ports[id.0];
                if p.width < 128 && v >> p.width != 0 {
                    return Err(SimError::ValueOutOfRange {
                        port: p.name.clone(),
                        width: p.width,
                        value: v.to_string(),
                        min: "0".into(),
                        max: ((1u128 << p.width) - 1).to_string(),
                    });
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse_ports;

    #[test]
    fn layout_and_checks() {
        let ports = parse_ports(
            "module top(clock, a, q, b); input clock; input [3:0] a; output q; input b; endmodule",
            "top",
        )
        .unwrap();
        let l = ReplayLayout::new(&ports, "clock").unwrap();
        assert_eq!(l.clock, PortId(0));
        assert_eq!(l.inputs, vec![PortId(1), PortId(3)]);
        assert_eq!(l.outputs, vec![PortId(2)]);
        l.check(&ports, &[vec![15, 1], vec![0, 0]]).unwrap();
        assert!(matches!(
            l.check(&ports, &[vec![16, 1]]),
            Err(SimError::ValueOutOfRange { .. })
        ));
        assert!(matches!(
            l.check(&ports, &[vec![1]]),
            Err(SimError::StimulusShape {
                cycle: 0,
                expected: 2,
                got: 1
            })
        ));
        assert!(matches!(
            ReplayLayout::new(&ports, "q"),
            Err(SimError::WrongDirection { .. })
        ));
        assert!(matches!(
            ReplayLayout::new(&ports, "nope"),
            Err(SimError::NoSuchPort(_))
        ));
    }
}
