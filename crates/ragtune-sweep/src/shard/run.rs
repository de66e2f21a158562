//! Running one shard, and merging the shards of a run folder.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Instant;

use ragtune_core::ChunkSet;
use ragtune_eval::PointRecord;
use serde::{Deserialize, Serialize};

use super::{Piece, SHARDS_DIR, ShardId, ShardPlan};
use crate::error::{Result, SweepError};
use crate::exec::{Executor, Reporter, set_label};
use crate::models::Models;
use crate::prepare::{SweepOptions, prepare};
use crate::record::{Manifest, RunDir, RunStatus, StageRecord};
use crate::sweep::{describe_inputs, new_manifest, record_execution, reusable_point};
use ragtune_grid::Grid;
use ragtune_grid::Strategy;
use ragtune_store::{Stage, StageStore};

/// What one shard did: `shards/shard-I-of-N.json`, written when it starts and when it
/// ends (a record still `running` is a shard that is running or was killed).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ShardRecord {
    /// Which shard.
    pub shard: ShardId,
    /// `running`, `complete` or `failed`.
    pub status: RunStatus,
    /// The host it ran on.
    pub host: String,
    /// sha256 of the grid file's text: every shard of a run sweeps the same grid.
    pub grid_sha256: String,
    /// Estimated tokens of its embedding pieces.
    pub estimated_tokens: u64,
    /// Its embedding pieces.
    pub embed_units: usize,
    /// The config ids of the setups it was given.
    pub setups: Vec<String>,
    /// The config ids of the points it wrote or kept (setups whose chunk set is identical
    /// to another's are listed under that one, and written by its shard).
    pub written: Vec<String>,
    /// Wall seconds embedding its pieces.
    pub embed_seconds: f64,
    /// Wall seconds scoring its setups.
    pub score_seconds: f64,
    /// This shard's own manifest: its inputs, accounting and error.
    pub manifest: Manifest,
}

/// A shard as the merged manifest lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShardSummary {
    /// `I/N`.
    pub shard: String,
    /// The host it ran on.
    pub host: String,
    /// Estimated tokens of its embedding pieces.
    pub estimated_tokens: u64,
    /// Tokens it embedded (pieces, and whatever it found missing when scoring).
    pub embedded_tokens: u64,
    /// Setups it was given.
    pub setups: usize,
    /// Wall seconds embedding its pieces.
    pub embed_seconds: f64,
    /// Wall seconds scoring its setups.
    pub score_seconds: f64,
    /// Start, RFC 3339.
    pub started_at: String,
    /// End, RFC 3339.
    pub finished_at: Option<String>,
}

fn run_err(path: &Path, message: impl Into<String>) -> SweepError {
    SweepError::Run {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

/// This machine's name (`HOSTNAME`, else the kernel's), for the records.
fn host_name() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
        .map_or_else(|| "unknown".into(), |h| h.trim().to_string())
}

fn record_path(root: &Path, shard: ShardId) -> PathBuf {
    root.join(SHARDS_DIR).join(shard.file_name())
}

fn write_record(root: &Path, rec: &ShardRecord) -> Result<()> {
    let bytes = serde_json::to_vec_pretty(rec).expect("records serialise");
    Ok(ragtune_store::write_atomic(
        &record_path(root, rec.shard),
        &bytes,
    )?)
}

/// Every shard record in the run folder at `root`, by shard index then count.
pub fn read_records(root: &Path) -> Result<Vec<ShardRecord>> {
    let dir = root.join(SHARDS_DIR);
    let mut out = Vec::new();
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(SweepError::io(&dir, e)),
    };
    for entry in entries {
        let path = entry.map_err(|e| SweepError::io(&dir, e))?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if !(name.starts_with("shard-") && name.ends_with(".json")) {
            continue;
        }
        let bytes = std::fs::read(&path).map_err(|e| SweepError::io(&path, e))?;
        let rec: ShardRecord =
            serde_json::from_slice(&bytes).map_err(|e| run_err(&path, e.to_string()))?;
        out.push(rec);
    }
    out.sort_by_key(|r| (r.shard.index, r.shard.count));
    Ok(out)
}

/// Refuse a grid a shard cannot run, and a run folder holding shards of another grid or
/// another shard count.
fn check_shardable(grid: &Grid, opts: &SweepOptions, root: &Path, me: &ShardRecord) -> Result<()> {
    if searches(grid) {
        return Err(run_err(
            &grid.path,
            "[search] runs its rungs or stages one after another, in one process; shards run the whole grid: remove [search] to shard this grid",
        ));
    }
    if opts.cache_dir.is_none() {
        return Err(run_err(
            root,
            "shards share their work through the stage store: --no-cache cannot be used with --shard",
        ));
    }
    for other in read_records(root)? {
        if other.grid_sha256 != me.grid_sha256 || other.shard.count != me.shard.count {
            return Err(run_err(
                &record_path(root, other.shard),
                format!(
                    "this run folder holds shard {} of {} (another grid or shard count); shard {} of {} needs a run folder of its own: choose another --out",
                    other.shard,
                    other.manifest.grid_path.display(),
                    me.shard,
                    grid.path.display()
                ),
            ));
        }
    }
    Ok(())
}

/// Whether the grid's `[search]` would do anything: a strategy runs its rungs or stages
/// in order, and a budget stops one process, neither of which shards can share.
fn searches(grid: &Grid) -> bool {
    grid.search.as_ref().is_some_and(|s| {
        s.strategy != Strategy::Full || s.max_seconds.is_some() || s.max_embedded_tokens.is_some()
    })
}

/// Run shard `shard` of `grid` into the shared run folder `root`: embed its pieces, then
/// score its setups. Its record says how it went, whatever happens.
pub fn run_shard(
    grid: &Grid,
    root: &Path,
    opts: &SweepOptions,
    models: &dyn Models,
    rep: &dyn Reporter,
    shard: ShardId,
) -> Result<ShardRecord> {
    let mut rec = ShardRecord {
        shard,
        status: RunStatus::Running,
        host: host_name(),
        grid_sha256: ragtune_core::sha256_hex(grid.text.as_bytes()),
        estimated_tokens: 0,
        embed_units: 0,
        setups: vec![],
        written: vec![],
        embed_seconds: 0.0,
        score_seconds: 0.0,
        manifest: new_manifest(grid, opts),
    };
    check_shardable(grid, opts, root, &rec)?;
    let run = RunDir::shared(root)?;
    write_record(root, &rec)?;
    let result = shard_inner(grid, &run, opts, models, rep, &mut rec);
    rec.manifest.finished_at = Some(chrono::Utc::now().to_rfc3339());
    match &result {
        Ok(()) => rec.status = RunStatus::Complete,
        Err(e) => {
            rec.status = RunStatus::Failed;
            rec.manifest.status = RunStatus::Failed;
            rec.manifest.error = Some(e.to_string());
        }
    }
    write_record(root, &rec)?;
    result.map(|()| rec)
}

fn shard_inner(
    grid: &Grid,
    run: &RunDir,
    opts: &SweepOptions,
    models: &dyn Models,
    rep: &dyn Reporter,
    rec: &mut ShardRecord,
) -> Result<()> {
    let store = opts.store()?.expect("checked: shards have a store");
    let texts = crate::Texts::new(&opts.models_dir, Some(&store)).with_run(run.path(), true);
    let prep = prepare(grid, models, &opts.models_dir, None, &texts)?;
    describe_inputs(&mut rec.manifest, &prep);
    crate::sweep::describe_texts(&mut rec.manifest, &texts);
    for w in &prep.warnings {
        rep.warn(w);
    }
    let sp = ShardPlan::new(&prep, rec.shard.count);
    let i = rec.shard.index;
    rec.estimated_tokens = sp.embed_tokens[i];
    rec.embed_units = sp.embed[i].len();
    rec.setups = sp.setups[i].clone();
    let only: HashSet<String> = rec.setups.iter().cloned().collect();
    let ex = Executor::new(grid, &prep, Some(&store), models, rep).with_only(only);
    let t = Instant::now();
    let embedded = embed_pieces(&ex, &store, &sp.embed[i]);
    rec.embed_seconds = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let records = embedded
        .and_then(|()| kept_points(run, &rec.setups, grid))
        .and_then(|done| {
            rec.manifest.resumed_points = done.len();
            ex.execute(&done, run)
        });
    rec.score_seconds = t.elapsed().as_secs_f64();
    record_execution(&mut rec.manifest, &ex, Some(&store), models);
    store.save_counts()?;
    rec.written = records?.into_iter().map(|r| r.config_id).collect();
    rec.manifest.stage_seconds = vec![
        ("embed".into(), rec.embed_seconds),
        ("score".into(), rec.score_seconds),
    ];
    Ok(())
}

/// Embed each piece's chunks through the store's embedding table (a piece whose whole
/// vectors node is already stored is skipped).
fn embed_pieces(ex: &Executor, store: &StageStore, pieces: &[super::EmbedUnit]) -> Result<()> {
    let mut sets: HashMap<usize, ChunkSet> = HashMap::new();
    for u in pieces {
        let Piece::Chunks {
            vectors,
            chunks,
            first_doc,
            end_doc,
        } = u.piece
        else {
            ex.question_vectors(&u.model)?;
            continue;
        };
        if store.contains(Stage::Vectors, &ex.plan().nodes[vectors].key) {
            continue;
        }
        let set = match sets.entry(chunks) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => e.insert(ex.chunk_set(chunks)?.0),
        };
        let texts: Vec<std::borrow::Cow<str>> = (0..set.len())
            .filter(|&c| (first_doc..end_doc).contains(&(set.chunks[c].doc as usize)))
            .map(|c| set.index_text(ex.corpus(), c))
            .collect();
        let refs: Vec<&str> = texts.iter().map(|t| t.as_ref()).collect();
        let what = format!(
            "{} (documents {first_doc}..{end_doc})",
            set_label(ex, vectors)
        );
        ex.embed((&what, crate::exec::Role::Passage), &u.model, &refs)?;
    }
    Ok(())
}

/// The points of `ids` already in the run folder (a rerun of a killed shard keeps them),
/// when scored at the grid's cut-offs.
fn kept_points(run: &RunDir, ids: &[String], grid: &Grid) -> Result<HashMap<String, PointRecord>> {
    let present: HashSet<String> = run.config_ids()?.into_iter().collect();
    let recorded = run.recorded();
    let mut kept = HashMap::new();
    for id in ids.iter().filter(|id| present.contains(*id)) {
        if let Some(p) = reusable_point(run, id, grid, &recorded)? {
            kept.insert(id.clone(), p);
        }
    }
    Ok(kept)
}

/// Whether every shard of the run folder at `root` is complete.
pub fn all_complete(root: &Path) -> bool {
    let Ok(recs) = read_records(root) else {
        return false;
    };
    let Some(count) = recs.first().map(|r| r.shard.count) else {
        return false;
    };
    (0..count).all(|i| {
        recs.iter().any(|r| {
            r.shard.index == i && r.shard.count == count && r.status == RunStatus::Complete
        })
    })
}

/// A shard's claim to merge the run folder by itself (`shards/merge.lock`, created
/// exclusively): the first finisher to see every shard complete takes it, and keeps it
/// once merged, so that no other shard merges again. A failed merge drops it (a later
/// finisher may try); `ragtune merge` merges whatever the claim says.
#[derive(Debug)]
pub struct MergeLock(Option<PathBuf>);

impl MergeLock {
    /// Keep the claim: the run is merged.
    pub fn keep(mut self) {
        self.0 = None;
    }

    /// Take the claim, or `None` when another shard holds it.
    pub fn take(root: &Path) -> Option<Self> {
        let path = root.join(SHARDS_DIR).join("merge.lock");
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .ok()
            .map(|_| Self(Some(path)))
    }
}

impl Drop for MergeLock {
    fn drop(&mut self) {
        if let Some(p) = &self.0 {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// What keeps the run folder at `root` from merging: shards not complete, and points a
/// complete shard wrote that are gone. Refuses a folder mixing grids or shard counts.
fn missing_parts(root: &Path, recs: &[ShardRecord], run: &RunDir) -> Result<Vec<String>> {
    let first = &recs[0];
    let count = first.shard.count;
    if let Some(r) = recs
        .iter()
        .find(|r| r.shard.count != count || r.grid_sha256 != first.grid_sha256)
    {
        return Err(run_err(
            root,
            format!(
                "shards of different sweeps in one run folder: shard {} and shard {} ran different grids or shard counts",
                first.shard, r.shard
            ),
        ));
    }
    let mut missing = Vec::new();
    for i in 0..count {
        match recs.iter().find(|r| r.shard.index == i) {
            None => missing.push(format!("shard {i}/{count}: no record (never started)")),
            Some(r) if r.status == RunStatus::Failed => missing.push(format!(
                "shard {i}/{count}: failed on {}: {}",
                r.host,
                r.manifest.error.as_deref().unwrap_or("no error recorded")
            )),
            Some(r) if r.status != RunStatus::Complete => missing.push(format!(
                "shard {i}/{count}: running on {} since {}, or killed (rerun it: it keeps what it wrote)",
                r.host, r.manifest.started_at
            )),
            Some(_) => {}
        }
    }
    let present: HashSet<String> = run.config_ids()?.into_iter().collect();
    for r in recs.iter().filter(|r| r.status == RunStatus::Complete) {
        for id in r.written.iter().filter(|id| !present.contains(*id)) {
            missing.push(format!(
                "shard {}: its point points/{id}.json is missing (rerun the shard)",
                r.shard
            ));
        }
    }
    Ok(missing)
}

/// The shards' points, in the order one process scores them (chunk sets in grid order,
/// then setups in grid order), and one manifest. Refuses, listing what is missing, unless
/// every shard is complete and every point it wrote is there.
pub fn merge_shards(root: &Path) -> Result<(Grid, Vec<PointRecord>, Manifest)> {
    let recs = read_records(root)?;
    if recs.is_empty() {
        return Err(run_err(
            root,
            format!(
                "no shard records ({SHARDS_DIR}/shard-I-of-N.json): nothing to merge; run `ragtune sweep GRID --shard I/N --out {}` first",
                root.display()
            ),
        ));
    }
    let run = RunDir::shared(root)?;
    let missing = missing_parts(root, &recs, &run)?;
    if !missing.is_empty() {
        return Err(run_err(
            root,
            format!(
                "shards incomplete, nothing merged:\n  {}",
                missing.join("\n  ")
            ),
        ));
    }
    let base = &recs[0].manifest;
    let mut grid = Grid::parse_recorded(&base.grid_path, base.grid_text.clone())?;
    grid.corpus = base.corpus.clone();
    let mut ids: Vec<&String> = recs.iter().flat_map(|r| &r.written).collect();
    let mut seen = HashSet::new();
    ids.retain(|id| seen.insert(*id));
    let recorded = run.recorded();
    let mut records = ids
        .iter()
        .map(|id| crate::lookup::read_point_in(&run, id, &recorded))
        .collect::<Result<Vec<_>>>()?;
    let position: HashMap<String, usize> = grid
        .points
        .iter()
        .enumerate()
        .map(|(i, p)| (p.config_id(), i))
        .collect();
    let chunk_rank = |r: &PointRecord| {
        let i = position.get(&r.config_id).copied().unwrap_or(usize::MAX);
        let spec = grid.points.get(i).map(|p| p.chunk);
        let first = grid.points.iter().position(|p| Some(p.chunk) == spec);
        (first.unwrap_or(usize::MAX), i)
    };
    records.sort_by_key(chunk_rank);
    Ok((grid.clone(), records, merged_manifest(&recs)))
}

/// One manifest for the merged run: the first shard's inputs, every shard's work summed,
/// and each shard's host and timings.
fn merged_manifest(recs: &[ShardRecord]) -> Manifest {
    let mut m = recs[0].manifest.clone();
    m.status = RunStatus::Scored;
    m.error = None;
    m.best_config_id = None;
    m.started_at = recs
        .iter()
        .map(|r| r.manifest.started_at.clone())
        .min()
        .unwrap_or_default();
    m.finished_at = Some(chrono::Utc::now().to_rfc3339());
    let all = |f: &dyn Fn(&Manifest) -> u64| recs.iter().map(|r| f(&r.manifest)).sum::<u64>();
    m.cache_hits = all(&|x| x.cache_hits);
    m.cache_misses = all(&|x| x.cache_misses);
    m.truncated = all(&|x| x.truncated);
    m.corrupt_entries = all(&|x| x.corrupt_entries);
    m.resumed_points = all(&|x| x.resumed_points as u64) as usize;
    m.embeddings = recs
        .iter()
        .flat_map(|r| r.manifest.embeddings.clone())
        .collect();
    m.warnings = Vec::new();
    for w in recs.iter().flat_map(|r| &r.manifest.warnings) {
        if !m.warnings.contains(w) {
            m.warnings.push(w.clone());
        }
    }
    m.stages = sum_stages(recs);
    m.execution_provider = recs
        .iter()
        .find_map(|r| r.manifest.execution_provider.clone());
    m.stage_seconds = recs
        .iter()
        .flat_map(|r| {
            [
                (format!("shard {} embed", r.shard), r.embed_seconds),
                (format!("shard {} score", r.shard), r.score_seconds),
            ]
        })
        .collect();
    m.shards = recs.iter().map(summary).collect();
    m
}

fn sum_stages(recs: &[ShardRecord]) -> Vec<StageRecord> {
    let mut out: Vec<StageRecord> = recs[0].manifest.stages.clone();
    for s in &mut out {
        s.computed = 0;
        s.reused = 0;
    }
    for r in recs {
        for s in &r.manifest.stages {
            if let Some(o) = out.iter_mut().find(|o| o.kind == s.kind) {
                o.computed += s.computed;
                o.reused += s.reused;
            }
        }
    }
    out
}

fn summary(r: &ShardRecord) -> ShardSummary {
    ShardSummary {
        shard: r.shard.to_string(),
        host: r.host.clone(),
        estimated_tokens: r.estimated_tokens,
        embedded_tokens: r
            .manifest
            .embeddings
            .iter()
            .map(|e| e.embedded_tokens)
            .sum(),
        setups: r.setups.len(),
        embed_seconds: r.embed_seconds,
        score_seconds: r.score_seconds,
        started_at: r.manifest.started_at.clone(),
        finished_at: r.manifest.finished_at.clone(),
    }
}
