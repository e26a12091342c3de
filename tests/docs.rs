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
    let (begin, end) = (golden::spec::README_BEGIN, golden::spec::README_END);
    let section = readme
        .find(begin)
        .zip(readme.find(end))
        .map(|(a, b)| &readme[a..b + end.len() + 1]);
    assert!(
        section == Some(golden::spec::registers_readme().as_str()),
        "README.md's register section is stale: replace the lines from `{begin}` to `{end}` \
         with the output of `cargo run -p moca-gen -- regs --readme`"
    );
}

#[test]
fn every_file_the_readme_links_exists() {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let mut checked = 0;
    for part in readme.split("](").skip(1) {
        let Some(target) = part.split(')').next() else {
            continue;
        };
        let target = target.split('#').next().unwrap_or_default();
        if target.is_empty() || target.contains("://") {
            continue;
        }
        assert!(
            repo().join(target).exists(),
            "README.md links {target}, which does not exist"
        );
        checked += 1;
    }
    assert!(
        checked > 5,
        "found only {checked} relative links in README.md"
    );
}
