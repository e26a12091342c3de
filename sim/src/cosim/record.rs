//! [`Recording`]: a block's stimulus and golden outputs, for replay in other simulators.

use super::CosimBlock;
use crate::error::SimError;
use crate::ports::Port;

/// A recorded stimulus with the golden model's outputs, for replay in other simulators.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recording {
    /// Input port names (columns of `inputs`).
    pub input_names: Vec<String>,
    /// Output port names (columns of `golden`).
    pub output_names: Vec<String>,
    /// One row of input values per cycle.
    pub inputs: Vec<Vec<u64>>,
    /// One row of golden output values per cycle.
    pub golden: Vec<Vec<u64>>,
}

impl Recording {
    /// Run `block` from its current state for `cycles` cycles and record everything.
    pub fn record<B: CosimBlock + ?Sized>(block: &mut B, cycles: usize) -> Self {
        let (ni, no) = (block.input_names().len(), block.output_names().len());
        let mut r = Recording {
            input_names: block.input_names().to_vec(),
            output_names: block.output_names().to_vec(),
            inputs: Vec::with_capacity(cycles),
            golden: Vec::with_capacity(cycles),
        };
        for _ in 0..cycles {
            let (mut i, mut o) = (vec![0; ni], vec![0; no]);
            block.step(&mut i, &mut o);
            r.inputs.push(i);
            r.golden.push(o);
        }
        r
    }

    /// The stimulus as rows in the column order of [`crate::ReplayLayout`] for `ports` (every
    /// input but `clock`, in header order), as [`crate::iverilog::replay`] and
    /// [`VerilatedModel::replay`](crate::verilator::VerilatedModel::replay) take it.
    pub fn layout_rows(&self, ports: &[Port], clock: &str) -> Result<Vec<Vec<u128>>, SimError> {
        let layout = crate::ReplayLayout::new(ports, clock)?;
        let cols = layout
            .inputs
            .iter()
            .map(|id| self.column(&self.input_names, &ports[id.0].name))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(self
            .inputs
            .iter()
            .map(|row| cols.iter().map(|&k| u128::from(row[k])).collect())
            .collect())
    }

    /// The golden outputs as rows in the output order of [`crate::ReplayLayout`] for `ports`.
    pub fn golden_layout_rows(
        &self,
        ports: &[Port],
        clock: &str,
    ) -> Result<Vec<Vec<u128>>, SimError> {
        let layout = crate::ReplayLayout::new(ports, clock)?;
        let cols = layout
            .outputs
            .iter()
            .map(|id| self.column(&self.output_names, &ports[id.0].name))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(self
            .golden
            .iter()
            .map(|row| cols.iter().map(|&k| u128::from(row[k])).collect())
            .collect())
    }

    fn column(&self, names: &[String], name: &str) -> Result<usize, SimError> {
        names
            .iter()
            .position(|n| n == name)
            .ok_or_else(|| SimError::NoSuchPort(name.to_string()))
    }
}
