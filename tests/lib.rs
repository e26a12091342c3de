//! Integration tests of moca live in this package's `[[test]]` targets; see Cargo.toml.
