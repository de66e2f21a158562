//! Command-line definitions (clap). The logic lives in `commands/`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Find the best retrieval setup for a RAG system by measurement.
#[derive(Debug, Parser)]
#[command(name = "ragtune", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run every setup in a grid file and score it against the labelled questions.
    Sweep(SweepArgs),
    /// Show what a sweep of a grid would run: points, stage nodes, what is stored.
    Plan(PlanArgs),
    /// Merge the shards of a sharded sweep into its tables, best.toml and manifest.
    Merge(MergeArgs),
    /// Inspect or trim the stage store.
    Cache(CacheArgs),
    /// Compare two runs setup by setup: paired differences with 95% intervals.
    Compare(CompareArgs),
    /// A CI gate on a run: exit 0 when it passes, 1 when it fails.
    Check(CheckArgs),
    /// List past runs, newest first.
    Runs(RunsArgs),
    /// Write a run's report: one self-contained HTML page of plots and facts.
    Report(ReportArgs),
    /// Retrieve for one query with a run's chosen (or given) setup.
    Query(QueryArgs),
    /// Trace one question's retrieval step by step, or diff two setups.
    Explain(ExplainArgs),
    /// Serve a run's chosen setup over HTTP.
    Serve(ServeArgs),
    /// Serve a run's chosen setup as MCP tools over stdio, for desktop agents (stdout
    /// carries JSON-RPC only; `serve` offers the same tools over HTTP at /mcp).
    Mcp(McpArgs),
    /// Judge a run's pooled results in the browser: every setup's top chunks per
    /// question, marked relevant, not relevant or by the exact relevant text.
    Judge(JudgeArgs),
    /// Export a setup's document-level run and qrels in TREC format.
    ExportTrec(ExportTrecArgs),
    /// Export a setup for other systems: `ragtune export index` writes its chunks and
    /// vectors as Parquet that vector databases load.
    Export(ExportArgs),
    /// Export a run to an MLflow tracking server: a parent run, one child per setup.
    ExportMlflow(ExportMlflowArgs),
    /// Inspect a grid's labels: how each answer, source and span resolved.
    Labels(LabelsArgs),
}

#[derive(Debug, Args)]
pub struct LabelsArgs {
    #[command(subcommand)]
    pub command: LabelsCommand,
}

#[derive(Debug, Subcommand)]
pub enum LabelsCommand {
    /// Per question, how each label resolved (exact, normalised, fuzzy with its
    /// similarity, ambiguous with its places, not found with the nearest text), then a
    /// summary. Exits 1 when an answer was not found.
    Check {
        /// The grid file whose [corpus] to read.
        grid: PathBuf,
        /// Print one JSON document (offsets in Unicode code points).
        #[arg(long)]
        json: bool,
        /// Read a grid of up to this many distinct setups (only its [corpus] is used).
        #[arg(long, value_name = "N", default_value_t = ragtune_grid::DEFAULT_MAX_POINTS, value_parser = clap::value_parser!(u64).range(1..))]
        max_points: u64,
        #[command(flatten)]
        engine: EngineArgs,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DeviceArg {
    Cpu,
    Cuda,
}

/// Options shared by every command that embeds.
#[derive(Debug, Clone, Args)]
pub struct EngineArgs {
    /// Folder holding onnxruntime/ and the bundled models [default: ./models, else the
    /// models/ folder of the source tree the binary was built in].
    #[arg(long, env = "RAGTUNE_MODELS_DIR")]
    pub models_dir: Option<PathBuf>,
    /// Stage store folder (chunk sets, indexes, embeddings, rankings).
    #[arg(long, default_value = ".ragtune/cache")]
    pub cache_dir: PathBuf,
    /// Do not read or write the stage store.
    #[arg(long)]
    pub no_cache: bool,
    /// Threads for retrieval and for ONNX Runtime [default: all cores].
    #[arg(long, value_parser = at_least_one)]
    pub threads: Option<usize>,
    /// Where the embedding model runs.
    #[arg(long, value_enum, default_value_t = DeviceArg::Cpu)]
    pub device: DeviceArg,
    /// Texts per inference call (batches are sorted by length); `tokens:N`, as many texts
    /// as fit N padded tokens; or `auto`, the size past which throughput stops rising,
    /// found on the first large request [default: tokens:256 on CPU, auto on CUDA].
    #[arg(long)]
    pub batch_size: Option<ragtune_embed::BatchSize>,
    /// ONNX Runtime sessions that run batches side by side, --threads split between them
    /// [default: one per thread on CPU, 1 on CUDA].
    #[arg(long, value_parser = at_least_one)]
    pub sessions: Option<usize>,
}

/// A whole number of at least 1 (0 threads or a batch of 0 texts is refused, not coerced).
fn at_least_one(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("{s:?} is not a whole number")),
    }
}

#[derive(Debug, Args)]
pub struct SweepArgs {
    /// The grid file (TOML).
    pub grid: PathBuf,
    /// Run folder [default: runs/<timestamp>-<grid name>].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Continue an interrupted sweep in --out: keep its stored points, compute the rest.
    #[arg(long, requires = "out")]
    pub resume: bool,
    /// How many setups to list on stdout.
    #[arg(long, default_value_t = 10)]
    pub show: usize,
    /// Run one shard of the sweep: I/N (I from 0), or `auto` for a Slurm array task or a
    /// Kubernetes Indexed Job's pod. Shards share --out and --cache-dir (a shared
    /// filesystem); the last to finish merges, or run `ragtune merge`.
    #[arg(
        long,
        value_name = "I/N|auto",
        requires = "out",
        conflicts_with = "resume"
    )]
    pub shard: Option<String>,
    /// With `--shard auto` in a Kubernetes Indexed Job: the job's completions.
    #[arg(long, value_name = "N", requires = "shard", value_parser = at_least_one)]
    pub shards: Option<usize>,
    /// Refuse a grid of more distinct setups than this; they are counted from the lists
    /// before anything is expanded.
    #[arg(long, value_name = "N", default_value_t = ragtune_grid::DEFAULT_MAX_POINTS, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_points: u64,
    #[command(flatten)]
    pub engine: EngineArgs,
}

#[derive(Debug, Args)]
pub struct MergeArgs {
    /// The run folder the shards wrote into.
    pub run: PathBuf,
    /// How many setups to list on stdout.
    #[arg(long, default_value_t = 10)]
    pub show: usize,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// The grid file (TOML).
    pub grid: PathBuf,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    /// Show how N shards would split the work, with each one's estimated tokens.
    #[arg(long, value_name = "N", value_parser = at_least_one)]
    pub shards: Option<usize>,
    /// Refuse a grid of more distinct setups than this; they are counted from the lists
    /// before anything is expanded.
    #[arg(long, value_name = "N", default_value_t = ragtune_grid::DEFAULT_MAX_POINTS, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_points: u64,
    #[command(flatten)]
    pub engine: EngineArgs,
}

#[derive(Debug, Args)]
pub struct CacheArgs {
    /// Stage store folder.
    #[arg(long, default_value = ".ragtune/cache", global = true)]
    pub cache_dir: PathBuf,
    #[command(subcommand)]
    pub command: CacheCommand,
}

#[derive(Debug, Subcommand)]
pub enum CacheCommand {
    /// Size and entries per stage.
    Stats {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Evict least recently used entries until the store fits a size.
    Gc {
        /// Largest size to keep, like 5GB or 500MiB.
        #[arg(long)]
        max_size: String,
    },
}

#[derive(Debug, Args)]
pub struct CompareArgs {
    /// The earlier run.
    pub run_a: PathBuf,
    /// The later run.
    pub run_b: PathBuf,
    /// metric@k to compare [default: run A's objective].
    #[arg(long)]
    pub metric: Option<String>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The run to judge.
    #[arg(long)]
    pub run: PathBuf,
    /// A requirement on the best setup, like "span_recall@5>=0.85", judged by the lower
    /// bound of its 95% interval (repeatable).
    #[arg(long)]
    pub require: Vec<String>,
    /// A run to compare the best setup with.
    #[arg(long)]
    pub baseline: Option<PathBuf>,
    /// With --baseline: fail when the best setup is significantly worse than the
    /// baseline's by more than this (objective units).
    #[arg(long, default_value_t = 0.0, requires = "baseline")]
    pub max_drop: f64,
}

#[derive(Debug, Args)]
pub struct ExportMlflowArgs {
    /// Run folder written by `ragtune sweep`.
    #[arg(long)]
    pub run: PathBuf,
    /// The tracking server, e.g. http://127.0.0.1:5000.
    #[arg(long, env = "MLFLOW_TRACKING_URI")]
    pub tracking_uri: String,
    /// Experiment name [default: the grid's name]; created when missing.
    #[arg(long)]
    pub experiment: Option<String>,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Run folder written by `ragtune sweep`.
    #[arg(long)]
    pub run: PathBuf,
    /// Where to write the page [default: RUN/report.html].
    #[arg(long)]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct RunsArgs {
    /// Folder holding run folders.
    #[arg(long, default_value = "runs")]
    pub dir: PathBuf,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct QueryArgs {
    /// Run folder written by `ragtune sweep`.
    #[arg(long)]
    pub run: PathBuf,
    /// Setup to use [default: the run's best.toml].
    #[arg(long)]
    pub config: Option<String>,
    /// Number of chunks.
    #[arg(long, short, default_value_t = 5)]
    pub k: usize,
    /// Print JSON (the same body as POST /search).
    #[arg(long)]
    pub json: bool,
    /// The query text.
    pub text: String,
    #[command(flatten)]
    pub engine: EngineArgs,
}

#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// Run folder written by `ragtune sweep`.
    #[arg(long)]
    pub run: PathBuf,
    /// Question id to trace.
    #[arg(long, required_unless_present = "diff", conflicts_with = "diff")]
    pub question: Option<String>,
    /// Setup to trace [default: the run's best.toml].
    #[arg(long)]
    pub config: Option<String>,
    /// List the questions one setup finds at the objective's k and the other misses.
    #[arg(long, num_args = 2, value_names = ["CONFIG_A", "CONFIG_B"])]
    pub diff: Option<Vec<String>>,
    /// How many hits of each retriever to show.
    #[arg(long, default_value_t = 10)]
    pub top: usize,
    #[command(flatten)]
    pub engine: EngineArgs,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Run folder written by `ragtune sweep`.
    #[arg(long)]
    pub run: PathBuf,
    /// Setup to serve: a best.toml file or a config id [default: the run's best.toml].
    #[arg(long)]
    pub config: Option<String>,
    /// Address to listen on (loopback unless you say otherwise).
    #[arg(long, default_value = "127.0.0.1:7878")]
    pub addr: String,
    /// Milliseconds a query waits for others to share its inference call (micro-batching);
    /// 0 takes only the queries already queued when the model comes free.
    #[arg(long, default_value_t = 1.0, value_parser = batch_wait_ms)]
    pub batch_wait_ms: f64,
    /// Most queries in one batch (cut into inference calls of 64 padded tokens on CPU, one
    /// call on CUDA); 1 embeds each query alone.
    #[arg(long, default_value_t = 32, value_parser = max_batch)]
    pub max_batch: usize,
    /// Query vectors kept in memory for repeated queries (LRU, at most 10,000,000); 0
    /// keeps none.
    #[arg(long, default_value_t = 10_000, value_parser = query_cache)]
    pub query_cache: usize,
    #[command(flatten)]
    pub engine: EngineArgs,
}

/// A whole number from `lo` to `hi`.
fn whole_in(s: &str, lo: usize, hi: usize) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if (lo..=hi).contains(&n) => Ok(n),
        Ok(_) => Err(format!("must be from {lo} to {hi}")),
        Err(_) => Err(format!("{s:?} is not a whole number")),
    }
}

fn max_batch(s: &str) -> Result<usize, String> {
    whole_in(s, 1, 1024)
}

fn query_cache(s: &str) -> Result<usize, String> {
    whole_in(s, 0, 10_000_000)
}

/// A wait from 0 to 1,000 milliseconds.
fn batch_wait_ms(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(ms) if (0.0..=1000.0).contains(&ms) => Ok(ms),
        Ok(_) => Err("must be from 0 to 1000 milliseconds".into()),
        Err(_) => Err(format!("{s:?} is not a number of milliseconds")),
    }
}

#[derive(Debug, Args)]
pub struct McpArgs {
    /// A run folder written by `ragtune sweep`, or a best.toml inside one.
    pub run: PathBuf,
    /// Setup to serve: a config id [default: the run's best.toml].
    #[arg(long)]
    pub config: Option<String>,
    #[command(flatten)]
    pub engine: EngineArgs,
}

#[derive(Debug, Args)]
pub struct JudgeArgs {
    /// Run folder written by `ragtune sweep`.
    pub run: PathBuf,
    /// Chunks pooled from each setup's ranking, per question.
    #[arg(long, default_value_t = ragtune_judge::DEFAULT_DEPTH)]
    pub depth: usize,
    /// The judgements file, read to resume and rewritten at every judgement [default: the
    /// grid's `[corpus] judgements`, else GRID.judgements.jsonl beside the grid file].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Address to listen on (loopback unless you say otherwise).
    #[arg(long, default_value = "127.0.0.1:7879")]
    pub addr: String,
    #[command(flatten)]
    pub engine: EngineArgs,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    #[command(subcommand)]
    pub command: ExportCommand,
}

#[derive(Debug, Subcommand)]
pub enum ExportCommand {
    /// The setup's chunks (id, document, byte range, pages, text) and float32 vectors as
    /// chunks.parquet, the run's questions with their query vectors as questions.parquet,
    /// and setup.json (how the setup queries). Written to a temporary folder renamed into
    /// place: an interrupted export leaves nothing half-written.
    Index(ExportIndexArgs),
}

#[derive(Debug, Args)]
pub struct ExportIndexArgs {
    /// Run folder written by `ragtune sweep`.
    pub run: PathBuf,
    /// Setup to export: a best.toml file or a config id [default: the run's best.toml].
    #[arg(long)]
    pub config: Option<String>,
    /// The folder to write (refused if it exists, unless --overwrite).
    #[arg(long)]
    pub out: PathBuf,
    /// Replace an existing folder.
    #[arg(long)]
    pub overwrite: bool,
    #[command(flatten)]
    pub engine: EngineArgs,
}

#[derive(Debug, Args)]
pub struct ExportTrecArgs {
    /// Run folder written by `ragtune sweep`.
    #[arg(long)]
    pub run: PathBuf,
    /// Setup to export.
    #[arg(long)]
    pub config: String,
    /// Cut at k chunks.
    #[arg(long)]
    pub k: usize,
    /// Output folder for run.trec and qrels.trec.
    #[arg(long)]
    pub out: PathBuf,
    #[command(flatten)]
    pub engine: EngineArgs,
}
