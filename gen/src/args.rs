//! The block arguments every subcommand shares, with their ranges taken from `golden::spec`,
//! and the one out-of-range error of the command line.
//!
//! A flag's range is written once here (from the spec's constants) and used by the clap value
//! parsers and by the checks run after parsing, so `--ports 17` prints the same sentence
//! whatever the subcommand: `ports=17 is out of range: allowed 1..=16`.

use golden::spec;
use std::fmt::Display;
use std::ops::RangeInclusive;

/// A user-controlled value outside its documented range (exit code 2).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{name}={value} is out of range: allowed {allowed}")]
pub struct OutOfRange {
    /// The flag or field (without dashes), e.g. `ports`.
    pub name: String,
    /// The rejected value as the user wrote it.
    pub value: String,
    /// The allowed range, e.g. `1..=16`.
    pub allowed: String,
}

impl OutOfRange {
    /// An error for `name=value` with the allowed range `allowed`.
    pub fn new(name: impl Display, value: impl Display, allowed: impl Display) -> Self {
        OutOfRange {
            name: name.to_string(),
            value: value.to_string(),
            allowed: allowed.to_string(),
        }
    }
}

/// `value` if it lies in `range`, else an [`OutOfRange`] naming `name` and the range.
pub fn check<T: PartialOrd + Display + Copy>(
    name: &str,
    value: T,
    range: &RangeInclusive<T>,
) -> Result<T, OutOfRange> {
    if range.contains(&value) {
        Ok(value)
    } else {
        Err(OutOfRange::new(
            name,
            value,
            format!("{}..={}", range.start(), range.end()),
        ))
    }
}

/// `value` (a flag parsed as a signed integer) if it lies in the spec range `range`.
pub fn check_spec(name: &str, value: i64, range: &RangeInclusive<u64>) -> Result<i64, OutOfRange> {
    let r = *range.start() as i64..=*range.end() as i64;
    check(name, value, &r)
}

/// Arbiter requesters (`--ports`).
pub const PORTS: RangeInclusive<u64> = spec::MIN_PORTS as u64..=spec::MAX_PORTS as u64;
/// SoC tiles (`--tiles`): one arbiter port each.
pub const TILES: RangeInclusive<u64> = PORTS;
/// Systolic array dimension (`--dim`).
pub const DIM: RangeInclusive<u64> = spec::tile::MIN_DIM as u64..=spec::tile::MAX_DIM as u64;
/// Shared-memory read latency in cycles (`--latency`).
pub const LATENCY: RangeInclusive<u64> =
    spec::tile::MIN_MEM_LATENCY as u64..=spec::tile::MAX_MEM_LATENCY as u64;
/// `STORE` right shift (`--shift`).
pub const SHIFT: RangeInclusive<u64> = 0..=spec::tile::MAX_SHIFT as u64;
/// Seeds of one `moca sweep` cell (`--seeds`): 36 cells x 10000 seeds is 360000 runs, about an
/// hour on two cores at the default 250 tasks.
pub const SWEEP_SEEDS: RangeInclusive<u64> = 1..=10_000;
/// Worker threads of `moca sweep` (`--jobs`).
pub const JOBS: RangeInclusive<u64> = 1..=256;

/// A clap value parser for an integer flag `name` in `range`: a non-integer or a value outside
/// the range is rejected with the [`OutOfRange`] sentence (clap exits with code 2).
pub fn ranged<T>(
    name: &'static str,
    range: RangeInclusive<u64>,
) -> impl Fn(&str) -> Result<T, String> + Clone + Send + Sync + 'static
where
    T: TryFrom<u64>,
{
    move |s: &str| {
        let allowed = format!("{}..={}", range.start(), range.end());
        let v: u64 = s
            .trim()
            .parse()
            .map_err(|_| OutOfRange::new(name, s, &allowed).to_string())?;
        check(name, v, &range).map_err(|e| e.to_string())?;
        T::try_from(v).map_err(|_| OutOfRange::new(name, v, &allowed).to_string())
    }
}

/// Reject a flag given for a block it does not apply to: `flags` lists each flag (without
/// dashes), whether the user gave it, and the blocks (`--block` values) it applies to. The one
/// checker of every subcommand with a `--block`, so that a mistyped block cannot silently
/// ignore a flag, and the one sentence: `--ports does not apply to --block tile: it applies to
/// --block arbiter only`.
pub fn check_applies(block: &str, flags: &[(&str, bool, &[&str])]) -> anyhow::Result<()> {
    for (flag, set, applies) in flags {
        if *set && !applies.contains(&block) {
            return Err(crate::usage(format!(
                "--{flag} does not apply to --block {block}: it applies to --block {} only",
                applies.join(" and --block ")
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_sentence_for_every_range() {
        let p = ranged::<u16>("ports", PORTS);
        assert_eq!(p("4"), Ok(4));
        assert_eq!(
            p("17").unwrap_err(),
            "ports=17 is out of range: allowed 1..=16"
        );
        assert_eq!(
            p("x").unwrap_err(),
            "ports=x is out of range: allowed 1..=16"
        );
        assert_eq!(
            check("dim", 1u64, &DIM).unwrap_err().to_string(),
            "dim=1 is out of range: allowed 2..=16"
        );
        // Ranges come from the spec.
        assert_eq!(*LATENCY.end(), u64::from(spec::tile::MAX_MEM_LATENCY));
    }
}
