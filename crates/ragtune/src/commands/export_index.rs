//! `ragtune export index RUN [--config ID] --out DIR [--overwrite]`: the chosen setup as
//! Parquet that vector databases load (docs/usage.md, "Exporting the index").

use std::path::{Path, PathBuf};

use anyhow::Context;
use ragtune_results::export::{IndexRow, write_index, write_queries};
use ragtune_serve::Engine;

use crate::UserError;
use crate::cli::{ExportArgs, ExportCommand, ExportIndexArgs};

pub fn run(args: ExportArgs) -> anyhow::Result<()> {
    match args.command {
        ExportCommand::Index(a) => index(a),
    }
}

fn index(args: ExportIndexArgs) -> anyhow::Result<()> {
    if args.out.exists() && !args.overwrite {
        return Err(UserError(format!(
            "{}: exists; pass --overwrite to replace it, or choose another --out",
            args.out.display()
        ))
        .into());
    }
    let opts = super::sweep_options(&args.engine)?;
    let engine = Engine::open(&args.run, args.config.as_deref(), &opts)?;
    let tmp = beside(&args.out)?;
    std::fs::create_dir(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
    let written = write_folder(&engine, &tmp).and_then(|n| {
        replace(&tmp, &args.out)?;
        Ok(n)
    });
    let n = match written {
        Ok(n) => n,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&tmp);
            return Err(e);
        }
    };
    let files = if engine.point.model().is_some() {
        "chunks.parquet with vectors, questions.parquet with query vectors, setup.json"
    } else {
        "chunks.parquet, setup.json"
    };
    eprintln!(
        "ragtune: wrote {}: {n} chunks of setup {} ({files})",
        args.out.display(),
        engine.config_id
    );
    Ok(())
}

/// An unused hidden name beside `out` ([`ragtune_core::temp_path`]; `out`'s folder is
/// created), for the folder being written or the one moved aside.
fn beside(out: &Path) -> anyhow::Result<PathBuf> {
    let parent = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    let name = out
        .file_name()
        .map_or_else(|| "index".into(), |n| n.to_string_lossy().into_owned());
    Ok(ragtune_core::temp_path(parent, &name))
}

/// Put the finished folder `tmp` at `out`, replacing what is there.
fn replace(tmp: &Path, out: &Path) -> anyhow::Result<()> {
    if out.exists() {
        let old = beside(out)?;
        std::fs::rename(out, &old).with_context(|| format!("moving {} aside", out.display()))?;
        std::fs::rename(tmp, out).with_context(|| format!("renaming into {}", out.display()))?;
        std::fs::remove_dir_all(&old).with_context(|| format!("removing {}", old.display()))?;
        return Ok(());
    }
    std::fs::rename(tmp, out).with_context(|| format!("renaming into {}", out.display()))
}

/// chunks.parquet, questions.parquet and setup.json into `dir`; the number of chunks.
fn write_folder(engine: &Engine, dir: &Path) -> anyhow::Result<usize> {
    let corpus = &engine.corpus;
    let rows: Vec<IndexRow> = (engine.set.chunks.iter().enumerate())
        .map(|(i, c)| {
            let doc = &corpus.docs[c.doc as usize];
            let pages = doc.page_range(c.start, c.end);
            IndexRow {
                id: i as u32,
                doc_id: doc.id.clone(),
                start: c.start as u64,
                end: c.end as u64,
                first_page: pages.map(|p| p.0),
                last_page: pages.map(|p| p.1),
                text: engine.set.text(corpus, i).to_string(),
                indexed_text: engine.set.index_text(corpus, i).into_owned(),
            }
        })
        .collect();
    let held = engine.vectors()?;
    let vectors = held.as_ref().map(|v| (v.data.as_slice(), v.dim));
    write_index(&rows, vectors, &dir.join("chunks.parquet"))?;
    if let Some(dim) = held.as_ref().map(|v| v.dim) {
        let (ids, texts): (Vec<String>, Vec<String>) = (corpus.questions.iter())
            .map(|q| (q.id.clone(), q.text.clone()))
            .unzip();
        let mut flat = Vec::with_capacity(ids.len() * dim);
        for q in &corpus.questions {
            flat.extend(engine.query_vector(&q.text)?.unwrap_or_default());
        }
        write_queries(&ids, &texts, &flat, dim, &dir.join("questions.parquet"))?;
    }
    let settings = serde_json::to_string_pretty(&engine.query_settings())?;
    ragtune_core::write_atomic(&dir.join("setup.json"), settings.as_bytes())
        .with_context(|| format!("writing {}/setup.json", dir.display()))?;
    Ok(rows.len())
}
