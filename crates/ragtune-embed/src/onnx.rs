//! The ONNX Runtime embedder.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock};

use ndarray::Array2;
use ort::session::Session;
use ort::value::{TensorElementType, TensorRef, ValueType};
use ragtune_core::{
    BatchSink, Batching, EmbedFailure, EmbedOutput, EmbedTotals, Embedder, TokenVectors,
    l2_normalize, window_owners, window_ranges,
};
use tokenizers::Tokenizer;

use crate::error::{EmbedError, Result, rt};
use crate::model::{ModelSpec, Pooling};
use crate::{AUTO_CANDIDATES, BatchSize, Device, pick_batch, token_batches};

/// The process's one ONNX Runtime environment (ort allows one per process).
static ENV: OnceLock<std::result::Result<(ort::environment::Environment, PathBuf), String>> =
    OnceLock::new();

/// Where libonnxruntime is found: `ORT_DYLIB_PATH`, else under `models_dir`:
/// `onnxruntime-cuda/` (onnxruntime-gpu, from `models/fetch.sh --cuda`) for CUDA, and
/// `onnxruntime/` for CPU.
pub fn runtime_library(models_dir: &Path, device: Device) -> PathBuf {
    match std::env::var_os("ORT_DYLIB_PATH") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => models_dir
            .join(match device {
                Device::Cpu => "onnxruntime",
                Device::Cuda => "onnxruntime-cuda",
            })
            .join(if cfg!(target_os = "macos") {
                "libonnxruntime.dylib"
            } else {
                "libonnxruntime.so"
            }),
    }
}

pub(crate) fn environment(lib: &Path) -> Result<&'static ort::environment::Environment> {
    let entry = ENV.get_or_init(|| {
        if !lib.is_file() {
            return Err(format!(
                "{} not found; run models/fetch.sh{}, or set ORT_DYLIB_PATH to a libonnxruntime of version 1.31 or later",
                lib.display(),
                if lib.parent().is_some_and(|p| p.ends_with("onnxruntime-cuda")) { " --cuda" } else { "" }
            ));
        }
        let env = ort::init_from(lib)
            .map_err(|e| format!("{}: {e}", lib.display()))?
            .with_name("ragtune")
            .build()
            .map_err(|e| format!("{}: {e}", lib.display()))?;
        Ok((env, lib.to_path_buf()))
    });
    match entry {
        Ok((env, loaded)) if loaded == lib => Ok(env),
        Ok((_, loaded)) => Err(EmbedError::Runtime(format!(
            "ONNX Runtime was already loaded from {}; one process cannot load {} too",
            loaded.display(),
            lib.display()
        ))),
        Err(e) => Err(EmbedError::Runtime(e.clone())),
    }
}

pub(crate) fn build_session(
    env: &ort::environment::Environment,
    onnx: &Path,
    threads: usize,
    device: Device,
) -> ort::Result<Session> {
    let mut builder = Session::builder(env)?.with_intra_threads(threads.max(1))?;
    if device == Device::Cpu {
        // ONNX Runtime 1.32's CPU SkipLayerNormalization is slower than the Add and
        // LayerNormalization it replaces: without the fusion all-minilm-l6-v2 runs 5–12%
        // and its q8 variant 13–42% more tokens/s (docs/performance.md).
        builder = builder.with_disabled_optimizers("SkipLayerNormFusion")?;
    }
    if device == Device::Cuda {
        #[cfg(feature = "cuda")]
        {
            builder = builder
                .with_execution_providers([ort::ep::CUDA::default().build().error_on_failure()])?;
        }
    }
    builder.commit_from_file(onnx)
}

/// Intra-op threads of session `i` when `threads` are split between `sessions`: as evenly
/// as they go, the first sessions taking one more, and never fewer than one.
fn split_threads(threads: usize, sessions: usize, i: usize) -> usize {
    let sessions = sessions.clamp(1, threads.max(1));
    (threads / sessions + usize::from(i < threads % sessions)).max(1)
}

/// The token-level output (float32, rank 3) and its dimension, checked against model.toml.
fn token_output(session: &Session, spec: &ModelSpec, onnx: &Path) -> Result<(String, usize)> {
    let onnx = onnx.to_path_buf();
    let rank3_float: Vec<(String, i64)> = session
        .outputs()
        .iter()
        .filter_map(|o| match o.dtype() {
            ValueType::Tensor {
                ty: TensorElementType::Float32,
                shape,
                ..
            } if shape.len() == 3 => Some((o.name().to_string(), shape[2])),
            _ => None,
        })
        .collect();
    let (output, declared_dim) = match &spec.output {
            Some(name) => rank3_float.iter().find(|(n, _)| n == name).cloned().ok_or_else(|| EmbedError::Model {
                path: onnx.clone(),
                message: format!("model.toml names output `{name}`, but the float32 rank-3 outputs are {rank3_float:?}"),
            })?,
            None if rank3_float.len() == 1 => rank3_float[0].clone(),
            None => {
                return Err(EmbedError::Model {
                    path: onnx,
                    message: format!(
                        "cannot tell the token-level output: float32 rank-3 outputs are {rank3_float:?}; set `output` in model.toml"
                    ),
                });
            }
        };
    let dim = match (spec.dim, declared_dim) {
        (Some(d), g) if g > 0 && g as usize != d => {
            return Err(EmbedError::Model {
                path: onnx,
                message: format!("model.toml declares dim {d}, but output `{output}` has {g}"),
            });
        }
        (Some(d), _) => d,
        (None, g) if g > 0 => g as usize,
        (None, _) => {
            return Err(EmbedError::Model {
                path: onnx,
                message: "output dimension is dynamic; declare `dim` in model.toml".into(),
            });
        }
    };
    Ok((output, dim))
}

/// Requests of at most this many texts are tokenised serially ([`OnnxEmbedder::encode`]).
const SERIAL_TOKENIZE: usize = 32;

/// A sentence embedder running an ONNX encoder.
pub struct OnnxEmbedder {
    spec: ModelSpec,
    /// Sessions that run batches side by side, the threads split between them: on 2 cores
    /// two sessions of one thread embed 5–20% more tokens per second than one session of
    /// two (docs/performance.md), since small batches leave intra-op threads waiting.
    sessions: Vec<Mutex<Session>>,
    tokenizer: Tokenizer,
    /// The tokenizer without truncation, for late chunking's whole documents.
    whole: Tokenizer,
    /// The special tokens that open and close a text (`[CLS]`, `[SEP]`), or, when there
    /// are not exactly two, what the tokenizer adds (late chunking then refuses).
    wrap: std::result::Result<(u32, u32), Vec<u32>>,
    input_names: Vec<String>,
    output: String,
    dim: usize,
    namespace: String,
    model_sha256: String,
    provider: &'static str,
    batch: BatchSize,
    /// The size `auto` found, once a request large enough to try sizes on came.
    auto_batch: OnceLock<usize>,
}

/// Options for [`OnnxEmbedder::load`].
#[derive(Debug, Clone)]
pub struct EmbedOptions {
    /// Folder holding `onnxruntime/` (and the registry's models).
    pub models_dir: PathBuf,
    /// Intra-op threads in all, split between the sessions.
    pub threads: usize,
    /// ONNX Runtime sessions running batches side by side (at least 1, at most `threads`).
    pub sessions: usize,
    /// CPU or CUDA.
    pub device: Device,
    /// Texts per inference call (batches are sorted by length), a budget of padded
    /// tokens per call, or `auto`: the size that fills the device, found on the first
    /// large request.
    pub batch_size: BatchSize,
}

impl OnnxEmbedder {
    /// Load `spec`'s model and tokenizer.
    pub fn load(spec: &ModelSpec, opts: &EmbedOptions) -> Result<Self> {
        if opts.device == Device::Cuda && !cfg!(feature = "cuda") {
            return Err(EmbedError::CudaNotBuilt);
        }
        let onnx = spec.onnx_path();
        let identity = spec.identity()?;
        let env = environment(&runtime_library(&opts.models_dir, opts.device))?;
        let sessions = (0..opts.sessions.clamp(1, opts.threads.max(1)))
            .map(|i| {
                let threads = split_threads(opts.threads, opts.sessions, i);
                build_session(env, &onnx, threads, opts.device).map(Mutex::new)
            })
            .collect::<ort::Result<Vec<_>>>()
            .map_err(|e| match opts.device {
                Device::Cpu => rt(e),
                Device::Cuda => rt(format!(
                    "{e} (the CUDA provider needs CUDA 13 and cuDNN 9 on LD_LIBRARY_PATH; models/README.md lists the libraries)"
                )),
            })?;
        let session = sessions[0]
            .lock()
            .map_err(|_| rt("session lock poisoned"))?;
        let input_names: Vec<String> = session
            .inputs()
            .iter()
            .map(|i| i.name().to_string())
            .collect();
        for needed in ["input_ids", "attention_mask"] {
            if !input_names.iter().any(|n| n == needed) {
                return Err(EmbedError::Model {
                    path: onnx,
                    message: format!("the model has no `{needed}` input (inputs: {input_names:?})"),
                });
            }
        }
        let (output, dim) = token_output(&session, spec, &onnx)?;
        drop(session);
        let tok_path = spec.tokenizer_path();
        let tok_err = |e: &dyn std::fmt::Display| EmbedError::Tokenizer {
            path: tok_path.clone(),
            message: e.to_string(),
        };
        let tokenizer = spec.tokenizer()?;
        let mut whole = tokenizer.clone();
        whole.with_truncation(None).map_err(|e| tok_err(&e))?;
        let specials = whole.encode("", true).map_err(|e| tok_err(&e))?;
        let wrap = match specials.get_ids() {
            &[open, close] => Ok((open, close)),
            other => Err(other.to_vec()),
        };
        Ok(Self {
            spec: spec.clone(),
            sessions,
            tokenizer,
            whole,
            wrap,
            input_names,
            output,
            dim,
            namespace: identity.namespace,
            model_sha256: identity.sha256,
            provider: match opts.device {
                Device::Cpu => "CPUExecutionProvider",
                Device::Cuda => "CUDAExecutionProvider",
            },
            batch: match opts.batch_size {
                BatchSize::Fixed(n) => BatchSize::Fixed(n.max(1)),
                BatchSize::Tokens(n) => BatchSize::Tokens(n.max(1)),
                auto => auto,
            },
            auto_batch: OnceLock::new(),
        })
    }

    /// sha256 of model.onnx.
    pub fn model_sha256(&self) -> &str {
        &self.model_sha256
    }

    /// The model's spec.
    pub fn spec(&self) -> &ModelSpec {
        &self.spec
    }

    /// Tokenize with special tokens, truncated at the model's maximum.
    /// A few texts (served queries) are tokenised on the calling thread: handing them to
    /// rayon's pool costs more than it saves, and a server's cores are busy already.
    fn encode(&self, texts: &[&str]) -> Result<Vec<tokenizers::Encoding>> {
        let err = |e: tokenizers::Error| EmbedError::Tokenizer {
            path: self.spec.tokenizer_path(),
            message: e.to_string(),
        };
        if texts.len() <= SERIAL_TOKENIZE {
            return (texts.iter())
                .map(|t| self.tokenizer.encode(*t, true).map_err(err))
                .collect();
        }
        self.tokenizer
            .encode_batch(texts.to_vec(), true)
            .map_err(err)
    }

    /// Row `r`'s sentence vector from its token vectors `hidden[r, ..seq, ..]`: mean over
    /// the attention mask or the first token, then L2 normalisation if the model asks.
    fn pool(
        &self,
        hidden: &ndarray::ArrayViewD<f32>,
        mask: &Array2<i64>,
        r: usize,
        seq: usize,
        v: &mut [f32],
    ) {
        v.fill(0.0);
        match self.spec.pooling {
            Pooling::Mean => {
                let mut n = 0.0f32;
                for c in 0..seq {
                    if mask[[r, c]] == 0 {
                        continue;
                    }
                    n += 1.0;
                    for (d, x) in v.iter_mut().enumerate() {
                        *x += hidden[[r, c, d]];
                    }
                }
                if n > 0.0 {
                    v.iter_mut().for_each(|x| *x /= n);
                }
            }
            Pooling::Cls => {
                for (d, x) in v.iter_mut().enumerate() {
                    *x = hidden[[r, 0, d]];
                }
            }
        }
        if self.spec.normalize {
            l2_normalize(v);
        }
    }

    /// Run rows of token ids (`types` may be empty: all zeros), padded to the longest, and
    /// hand the token-level output, `[rows, len, dim]`, and the attention mask to `read`
    /// (the output is read in place, not copied).
    fn infer<R>(
        &self,
        prefer: usize,
        rows: &[&[u32]],
        types: &[&[u32]],
        read: impl FnOnce(&ndarray::ArrayViewD<f32>, &Array2<i64>) -> R,
    ) -> Result<R> {
        let b = rows.len();
        let len = rows.iter().map(|r| r.len()).max().unwrap_or(0).max(1);
        let mut ids = Array2::<i64>::zeros((b, len));
        let mut mask = Array2::<i64>::zeros((b, len));
        let mut tt = Array2::<i64>::zeros((b, len));
        for (r, row) in rows.iter().enumerate() {
            for (c, &id) in row.iter().enumerate() {
                ids[[r, c]] = i64::from(id);
                mask[[r, c]] = 1;
                tt[[r, c]] = types
                    .get(r)
                    .and_then(|t| t.get(c))
                    .map_or(0, |&t| i64::from(t));
            }
        }
        let mut inputs = vec![
            ("input_ids", TensorRef::from_array_view(&ids).map_err(rt)?),
            (
                "attention_mask",
                TensorRef::from_array_view(&mask).map_err(rt)?,
            ),
        ];
        if self.input_names.iter().any(|n| n == "token_type_ids") {
            inputs.push((
                "token_type_ids",
                TensorRef::from_array_view(&tt).map_err(rt)?,
            ));
        }
        let mut session = self.session(prefer)?;
        let outputs = session.run(inputs).map_err(rt)?;
        let hidden = outputs[self.output.as_str()]
            .try_extract_array::<f32>()
            .map_err(rt)?;
        let shape = hidden.shape().to_vec();
        if shape.len() != 3 || shape[0] != b || shape[2] != self.dim {
            return Err(rt(format!(
                "output `{}` has shape {shape:?}, expected [{b}, _, {}]",
                self.output, self.dim
            )));
        }
        Ok(read(&hidden, &mask))
    }

    /// Session `prefer` if it is free, else any free one, else wait for `prefer`: workers
    /// of [`Self::fan_out`] each own one, and lone calls (a served query) take a free one.
    fn session(&self, prefer: usize) -> Result<MutexGuard<'_, Session>> {
        let prefer = prefer % self.sessions.len();
        let order = (0..self.sessions.len()).map(|i| (prefer + i) % self.sessions.len());
        for i in order {
            if let Ok(guard) = self.sessions[i].try_lock() {
                return Ok(guard);
            }
        }
        self.sessions[prefer]
            .lock()
            .map_err(|_| rt("session lock poisoned"))
    }

    /// Run `work(session, job)` for every job, the sessions side by side, and hand each
    /// result to `done` on this thread as it comes (in any order). The first error stops
    /// the workers after the jobs in flight and is returned. One session runs inline.
    fn fan_out<J: Send, R: Send>(
        &self,
        jobs: Vec<J>,
        work: &(dyn Fn(usize, J) -> Result<R> + Sync),
        done: &mut dyn FnMut(R) -> Result<()>,
    ) -> Result<()> {
        let workers = self.sessions.len().min(jobs.len());
        if workers <= 1 {
            return jobs.into_iter().try_for_each(|j| done(work(0, j)?));
        }
        let queue = Mutex::new(jobs.into_iter());
        let stop = AtomicBool::new(false);
        let (tx, rx) = std::sync::mpsc::sync_channel::<Result<R>>(workers);
        std::thread::scope(|scope| {
            for s in 0..workers {
                let (tx, queue, stop) = (tx.clone(), &queue, &stop);
                scope.spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        let Some(job) = queue.lock().ok().and_then(|mut q| q.next()) else {
                            break;
                        };
                        if tx.send(work(s, job)).is_err() {
                            break;
                        }
                    }
                });
            }
            drop(tx);
            let mut first = Ok(());
            // Drain to the end, so that no worker waits on a full channel.
            for r in rx {
                if first.is_ok() {
                    first = r.and_then(&mut *done);
                    stop.store(first.is_err(), Ordering::Relaxed);
                }
            }
            first
        })
    }

    /// `order` (indices of `encodings`, sorted by length) cut into inference calls: by
    /// the fixed size; by the token budget; or, for `auto`, one call for a request no
    /// larger than the smallest size tried (a served query), else by the size found once
    /// on copies of the request's median text.
    fn batches<'a>(
        &self,
        encodings: &[tokenizers::Encoding],
        order: &'a [usize],
    ) -> Vec<&'a [usize]> {
        let size = match self.batch {
            BatchSize::Tokens(budget) => {
                return token_batches(order, |i| encodings[i].len(), budget);
            }
            BatchSize::Fixed(n) => n,
            BatchSize::Auto if order.len() <= 2 * AUTO_CANDIDATES[0] => order.len().max(1),
            BatchSize::Auto => *self
                .auto_batch
                .get_or_init(|| self.calibrate(&encodings[order[order.len() / 2]])),
        };
        order.chunks(size).collect()
    }

    /// [`pick_batch`] over copies of `text`: each size runs once to warm up (a GPU picks
    /// its kernels per shape) and once timed. Sizes stop being tried after 3 s of trials.
    fn calibrate(&self, text: &tokenizers::Encoding) -> usize {
        let started = std::time::Instant::now();
        pick_batch(&AUTO_CANDIDATES, |size| {
            if started.elapsed().as_secs_f64() > 3.0 {
                return None;
            }
            let rows = vec![text.get_ids(); size];
            let types = vec![text.get_type_ids(); size];
            self.infer(0, &rows, &types, |_, _| ()).ok()?;
            let t = std::time::Instant::now();
            self.infer(0, &rows, &types, |_, _| ()).ok()?;
            Some(size as f64 / t.elapsed().as_secs_f64().max(1e-9))
        })
    }

    /// Texts tokenised ahead of inference at a time: enough for 8 batches (sorting by
    /// length happens within a segment; a token budget counts as that many one-token
    /// texts), and at least 2,048.
    fn segment_len(&self) -> usize {
        let batch = match self.batch {
            BatchSize::Fixed(n) | BatchSize::Tokens(n) => n,
            BatchSize::Auto => AUTO_CANDIDATES[AUTO_CANDIDATES.len() - 1],
        };
        (8 * batch).max(2048)
    }

    /// Embed one segment's `encodings` (texts `offset..` of the request), batches sorted
    /// by length over the sessions, and hand each batch to `sink` as it finishes.
    fn run_encoded(
        &self,
        encodings: &[tokenizers::Encoding],
        offset: usize,
        progress: &(dyn Fn(usize) + Sync),
        sink: &mut BatchSink<'_>,
    ) -> Result<()> {
        // Sorting by length makes each batch pad only as far as its longest member.
        let order = by_length(encodings);
        let batches = self.batches(encodings, &order);
        self.run_cut(encodings, &batches, offset, progress, sink)
    }

    /// Run `batches` (indices into `encodings`) over the sessions, handing each to `sink`.
    fn run_cut(
        &self,
        encodings: &[tokenizers::Encoding],
        batches: &[&[usize]],
        offset: usize,
        progress: &(dyn Fn(usize) + Sync),
        sink: &mut BatchSink<'_>,
    ) -> Result<()> {
        let dim = self.dim;
        let work = |session: usize, b: usize| {
            let encs: Vec<&tokenizers::Encoding> =
                batches[b].iter().map(|&i| &encodings[i]).collect();
            let mut v = vec![0f32; batches[b].len() * dim];
            self.run_batch(session, &encs, &mut v)?;
            Ok((b, v))
        };
        let mut done = |(b, v): (usize, Vec<f32>)| {
            let idx: Vec<usize> = batches[b].iter().map(|i| offset + i).collect();
            sink(&idx, &v).map_err(|f| EmbedError::Refused(f.0))?;
            progress(idx.len());
            Ok(())
        };
        self.fan_out((0..batches.len()).collect(), &work, &mut done)
    }

    fn run_batch(
        &self,
        session: usize,
        encodings: &[&tokenizers::Encoding],
        out: &mut [f32],
    ) -> Result<()> {
        let rows: Vec<&[u32]> = encodings.iter().map(|e| e.get_ids()).collect();
        let types: Vec<&[u32]> = encodings.iter().map(|e| e.get_type_ids()).collect();
        self.infer(session, &rows, &types, |hidden, mask| {
            let seq = hidden.shape()[1].min(mask.shape()[1]);
            for r in 0..rows.len() {
                let v = &mut out[r * self.dim..(r + 1) * self.dim];
                self.pool(hidden, mask, r, seq, v);
            }
        })
    }

    /// The tokens of the whole of `text` (no truncation, no special tokens) with their
    /// byte offsets, and the ids that open and close every window (`[CLS]`, `[SEP]`).
    fn whole(&self, text: &str) -> Result<(tokenizers::Encoding, u32, u32)> {
        let err = |message: String| EmbedError::Tokenizer {
            path: self.spec.tokenizer_path(),
            message,
        };
        let (open, close) = self.wrap.clone().map_err(|added| {
            err(format!(
                "late chunking needs a tokenizer that wraps a text in one opening and one closing special token; this one adds {added:?}"
            ))
        })?;
        let enc = self
            .whole
            .encode(text, false)
            .map_err(|e| err(e.to_string()))?;
        Ok((enc, open, close))
    }

    /// Token vectors of `text` run in overlapping windows ([`Embedder::token_vectors`]),
    /// the windows spread over the sessions.
    fn windows(&self, text: &str, window: usize, overlap: usize) -> Result<TokenVectors> {
        let (enc, open, close) = self.whole(text)?;
        let (ids, n, dim) = (enc.get_ids(), enc.len(), self.dim);
        let content = window.saturating_sub(2).max(1);
        let owners = window_owners(n, content, overlap);
        let mut vectors = vec![0f32; n * dim];
        // Each window's job: its token range and the rows of `vectors` it owns (the
        // owners rise with the token, so each window owns one run of tokens).
        let mut jobs = Vec::new();
        let mut rest = vectors.as_mut_slice();
        let mut t = 0;
        for (w, range) in window_ranges(n, content, overlap).into_iter().enumerate() {
            let first = t;
            while t < n && owners[t].0 == w {
                t += 1;
            }
            let (mine, tail) = std::mem::take(&mut rest).split_at_mut((t - first) * dim);
            rest = tail;
            jobs.push((range, first, mine));
        }
        // One window per inference call: at 512 tokens, batching windows ran 20–25%
        // slower per token on 2 cores (docs/performance.md), and windows need no padding.
        let work = |session: usize, ((s, e), first, mine): ((usize, usize), usize, &mut [f32])| {
            let row = [&[open][..], &ids[s..e], &[close][..]].concat();
            let read = |hidden: &ndarray::ArrayViewD<f32>, _: &Array2<i64>| {
                for (k, v) in mine.chunks_mut(dim).enumerate() {
                    let c = 1 + first + k - s;
                    for (d, x) in v.iter_mut().enumerate() {
                        *x = hidden[[0, c, d]];
                    }
                }
            };
            self.infer(session, &[row.as_slice()], &[], read).map_err(|e| {
                rt(format!(
                    "a late-chunking window of {} tokens failed ({e}); if that exceeds the model's position slots (512 for BERT-style models such as MiniLM), lower [retrieval] late_window",
                    row.len()
                ))
            })
        };
        self.fan_out(jobs, &work, &mut |()| Ok(()))?;
        let offsets = enc.get_offsets().to_vec();
        Ok(TokenVectors { offsets, vectors })
    }
}

fn failure(e: EmbedError) -> EmbedFailure {
    EmbedFailure(e.to_string())
}

impl Embedder for OnnxEmbedder {
    fn dim(&self) -> usize {
        self.dim
    }

    fn namespace(&self) -> &str {
        &self.namespace
    }

    fn provider(&self) -> &str {
        self.provider
    }

    fn query_prefix(&self) -> &str {
        &self.spec.query_prefix
    }

    fn passage_prefix(&self) -> &str {
        &self.spec.passage_prefix
    }

    fn batching(&self) -> Option<Batching> {
        match self.batch {
            BatchSize::Fixed(n) => Some(Batching::Texts(n)),
            BatchSize::Tokens(n) => Some(Batching::Tokens(n)),
            BatchSize::Auto => self.auto_batch.get().map(|&n| Batching::Texts(n)),
        }
    }

    fn count_truncated(&self, texts: &[&str]) -> std::result::Result<usize, EmbedFailure> {
        Ok(truncated(&self.encode(texts).map_err(failure)?))
    }

    fn embed(
        &self,
        texts: &[&str],
        progress: &(dyn Fn(usize) + Sync),
    ) -> std::result::Result<EmbedOutput, EmbedFailure> {
        let dim = self.dim;
        let mut vectors = vec![0f32; texts.len() * dim];
        let totals = self.embed_batches(texts, progress, &mut |idx, v| {
            place(&mut vectors, dim, idx, v);
            Ok(())
        })?;
        Ok(EmbedOutput {
            vectors,
            truncated: totals.truncated,
            model_tokens: totals.model_tokens,
        })
    }

    fn token_vectors(
        &self,
        text: &str,
        window: usize,
        overlap: usize,
    ) -> std::result::Result<TokenVectors, EmbedFailure> {
        self.windows(text, window, overlap).map_err(failure)
    }

    fn embed_queries(
        &self,
        texts: &[&str],
        budget: usize,
    ) -> std::result::Result<Vec<f32>, EmbedFailure> {
        let encodings = self.encode(texts).map_err(failure)?;
        let order = by_length(&encodings);
        let batches = token_batches(&order, |i| encodings[i].len(), budget);
        let dim = self.dim;
        let mut vectors = vec![0f32; texts.len() * dim];
        let mut sink = |idx: &[usize], v: &[f32]| {
            place(&mut vectors, dim, idx, v);
            Ok(())
        };
        self.run_cut(&encodings, &batches, 0, &|_| {}, &mut sink)
            .map_err(failure)?;
        Ok(vectors)
    }

    fn embed_batches(
        &self,
        texts: &[&str],
        progress: &(dyn Fn(usize) + Sync),
        sink: &mut BatchSink<'_>,
    ) -> std::result::Result<EmbedTotals, EmbedFailure> {
        // Tokenisation runs a segment ahead of inference, on rayon's threads, so that the
        // model (a GPU above all) does not wait for the tokenizer between segments. A
        // request of one segment (a served query) is tokenised in place.
        let segment = self.segment_len();
        if texts.len() <= segment {
            let encodings = self.encode(texts).map_err(failure)?;
            self.run_encoded(&encodings, 0, progress, sink)
                .map_err(failure)?;
            return Ok(totals(&encodings));
        }
        std::thread::scope(|scope| {
            let (tx, rx) = std::sync::mpsc::sync_channel(1);
            scope.spawn(move || {
                for (k, part) in texts.chunks(segment).enumerate() {
                    if tx.send((k * segment, self.encode(part))).is_err() {
                        break;
                    }
                }
            });
            let mut sum = EmbedTotals::default();
            for (offset, encodings) in rx {
                let encodings = encodings.map_err(failure)?;
                sum = sum.plus(totals(&encodings));
                self.run_encoded(&encodings, offset, progress, sink)
                    .map_err(failure)?;
            }
            Ok(sum)
        })
    }
}

/// Put a finished batch's rows `v` (row-major, `dim` wide) at their texts' places
/// `idx` in the request's `vectors`.
fn place(vectors: &mut [f32], dim: usize, idx: &[usize], v: &[f32]) {
    for (j, &i) in idx.iter().enumerate() {
        vectors[i * dim..(i + 1) * dim].copy_from_slice(&v[j * dim..(j + 1) * dim]);
    }
}

/// Indices of `encodings`, shortest first.
fn by_length(encodings: &[tokenizers::Encoding]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..encodings.len()).collect();
    order.sort_by_key(|&i| encodings[i].len());
    order
}

/// How many of `encodings` were cut at the model's maximum.
fn truncated(encodings: &[tokenizers::Encoding]) -> usize {
    encodings
        .iter()
        .filter(|e| !e.get_overflowing().is_empty())
        .count()
}

/// What the model runs for `encodings` (truncated already, special tokens included).
fn totals(encodings: &[tokenizers::Encoding]) -> EmbedTotals {
    EmbedTotals {
        truncated: truncated(encodings),
        model_tokens: encodings.iter().map(|e| e.len() as u64).sum(),
    }
}
