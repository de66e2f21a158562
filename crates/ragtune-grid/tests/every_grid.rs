//! Every grid the repository ships or documents parses: grids/*.toml, benches/*.toml and
//! each ```toml block of README.md and docs/*.md (read as a grid file in the folder of
//! the document that holds it). A grid that drifts from the schema fails here, on any
//! machine, before a user copies it; and on each, the setups counted from the lists before
//! expansion (which bounds a grid's size) equal the setups expanded.

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn files(dir: &str, ext: &str) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(root().join(dir))
        .unwrap_or_else(|e| panic!("{dir}: {e}"))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == ext))
        .collect();
    out.sort();
    out
}

/// The ```toml blocks of a Markdown file, with the line each starts on.
fn toml_blocks(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut open: Option<(usize, String)> = None;
    for (i, line) in text.lines().enumerate() {
        let fence = line.trim_start();
        match &mut open {
            None if fence.starts_with("```toml") => open = Some((i + 2, String::new())),
            Some(_) if fence.starts_with("```") => out.push(open.take().unwrap()),
            Some((_, block)) => {
                block.push_str(line);
                block.push('\n');
            }
            None => {}
        }
    }
    assert!(open.is_none(), "an unclosed ```toml block");
    out
}

/// Parse, and check that the count made before expansion is the expansion's length.
fn parse(path: &Path, text: String, what: &str) {
    match ragtune_grid::Grid::parse(path, text) {
        Err(e) => panic!("{what} does not parse as a grid: {e}"),
        Ok(g) => assert_eq!(
            g.counted,
            g.points.len() as u64,
            "{what}: counted {} setups, expanded {}",
            g.counted,
            g.points.len()
        ),
    }
}

#[test]
fn every_grid_file_parses() {
    let grids: Vec<PathBuf> = [files("grids", "toml"), files("benches", "toml")].concat();
    assert!(grids.len() >= 7, "found only {grids:?}");
    for g in grids {
        let text = std::fs::read_to_string(&g).unwrap();
        parse(&g, text, &g.display().to_string());
    }
}

#[test]
fn every_toml_block_in_the_docs_parses() {
    let docs: Vec<PathBuf> = [vec![root().join("README.md")], files("docs", "md")].concat();
    let mut blocks = 0;
    for doc in docs {
        let text = std::fs::read_to_string(&doc).unwrap();
        for (line, block) in toml_blocks(&text) {
            let at = format!("{}:{line}", doc.display());
            parse(&doc.with_file_name("grid.toml"), block, &at);
            blocks += 1;
        }
    }
    // README.md's minimal grid and docs/grid.md's reference grid at least.
    assert!(blocks >= 2, "found only {blocks} ```toml blocks");
}

#[test]
fn the_block_reader_finds_blocks_and_their_lines() {
    let md = "text\n```toml\nname = \"a\"\n```\n```sh\nls\n```\n  ```toml\nx = 1\n  ```\n";
    let blocks = toml_blocks(md);
    assert_eq!(
        blocks,
        vec![(3, "name = \"a\"\n".into()), (9, "x = 1\n".into())]
    );
}
