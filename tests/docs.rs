//! Generated documentation must match its single source of truth.

use std::path::PathBuf;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

#[test]
fn registers_md_is_current() {
    let path = repo().join("docs/REGISTERS.md");
    let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        on_disk == golden::spec::registers_markdown(),
        "docs/REGISTERS.md is stale: regenerate it with `cargo run -p moca-gen -- regs --markdown > docs/REGISTERS.md`"
    );
}

#[test]
fn readme_shows_the_register_map_and_test_command() {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    assert!(readme.contains("make test") && readme.contains("make demo"));
    for block in golden::spec::RegisterBlock::ALL {
        for r in block.registers() {
            assert!(
                readme.contains(&format!("`{}`", r.name)),
                "README misses {}",
                r.name
            );
        }
    }
}
