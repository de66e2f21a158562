//! ONNX cross-encoders: one relevance logit per (query, text) pair, as sentence-transformers'
//! `CrossEncoder` models export through optimum (`model.toml`: `kind = "cross-encoder"`).
//!
//! Inputs `input_ids` and `attention_mask` (and `token_type_ids` when the model takes
//! them), the pair encoded by the model's tokenizer as `[CLS] query [SEP] text [SEP]` and
//! truncated longest-first to `max_tokens` (512 unless model.toml says otherwise); output:
//! model.toml's `output`, else `logits`, else the first output, of shape `[batch, 1]` or
//! `[batch]`. The texts of one call are one batch, padded to
//! the longest pair.

use std::sync::Mutex;

use ndarray::Array2;
use ort::session::Session;
use ort::value::TensorRef;
use ragtune_core::{EmbedFailure, PairScorer};
use tokenizers::Tokenizer;

use crate::error::{EmbedError, Result, rt};
use crate::model::{ModelKind, ModelSpec};
use crate::onnx::{build_session, environment};
use crate::{EmbedOptions, runtime_library};

/// A loaded cross-encoder.
pub struct OnnxCrossEncoder {
    session: Mutex<Session>,
    tokenizer: Tokenizer,
    token_types: bool,
    output: String,
    namespace: String,
}

impl OnnxCrossEncoder {
    /// Load `spec`, a `kind = "cross-encoder"` model folder, with all of `opts.threads` in
    /// one session (a query's pairs are one batch).
    pub fn load(spec: &ModelSpec, opts: &EmbedOptions) -> Result<Self> {
        let onnx = spec.onnx_path();
        let model_err = |message: String| EmbedError::Model {
            path: onnx.clone(),
            message,
        };
        if spec.kind != ModelKind::CrossEncoder {
            return Err(model_err(format!(
                "`{}` is an {} model; a cross-encoder's model.toml says kind = \"cross-encoder\"",
                spec.name,
                spec.kind.name()
            )));
        }
        let identity = spec.identity()?;
        let env = environment(&runtime_library(&opts.models_dir, opts.device))?;
        let session = build_session(env, &onnx, opts.threads, opts.device).map_err(rt)?;
        let inputs: Vec<String> = session
            .inputs()
            .iter()
            .map(|i| i.name().to_string())
            .collect();
        for needed in ["input_ids", "attention_mask"] {
            if !inputs.iter().any(|n| n == needed) {
                return Err(model_err(format!(
                    "the cross-encoder has no `{needed}` input (inputs: {inputs:?})"
                )));
            }
        }
        let outputs: Vec<String> = session
            .outputs()
            .iter()
            .map(|o| o.name().to_string())
            .collect();
        let output = match &spec.output {
            Some(want) if outputs.contains(want) => want.clone(),
            Some(want) => {
                return Err(model_err(format!(
                    "model.toml names output `{want}`, which the model does not have (outputs: {outputs:?})"
                )));
            }
            None => (outputs.iter().find(|o| o.as_str() == "logits"))
                .or(outputs.first())
                .cloned()
                .ok_or_else(|| model_err("the cross-encoder has no output".into()))?,
        };
        let tokenizer = spec.tokenizer()?;
        Ok(Self {
            session: Mutex::new(session),
            tokenizer,
            token_types: inputs.iter().any(|n| n == "token_type_ids"),
            output,
            namespace: identity.namespace,
        })
    }

    /// The pairs as padded `[batch, len]` ids, mask and token types.
    fn encode(&self, query: &str, texts: &[&str]) -> Result<[Array2<i64>; 3]> {
        let encodings = texts
            .iter()
            .map(|t| self.tokenizer.encode((query, *t), true))
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(rt)?;
        let len = encodings.iter().map(|e| e.len()).max().unwrap_or(0).max(1);
        let mut ids = Array2::<i64>::zeros((texts.len(), len));
        let mut mask = Array2::<i64>::zeros((texts.len(), len));
        let mut types = Array2::<i64>::zeros((texts.len(), len));
        for (r, e) in encodings.iter().enumerate() {
            for (c, (&id, &t)) in e.get_ids().iter().zip(e.get_type_ids()).enumerate() {
                ids[[r, c]] = i64::from(id);
                mask[[r, c]] = 1;
                types[[r, c]] = i64::from(t);
            }
        }
        Ok([ids, mask, types])
    }

    fn run(&self, query: &str, texts: &[&str]) -> Result<Vec<f32>> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let [ids, mask, types] = self.encode(query, texts)?;
        let mut inputs = vec![
            ("input_ids", TensorRef::from_array_view(&ids).map_err(rt)?),
            (
                "attention_mask",
                TensorRef::from_array_view(&mask).map_err(rt)?,
            ),
        ];
        if self.token_types {
            inputs.push((
                "token_type_ids",
                TensorRef::from_array_view(&types).map_err(rt)?,
            ));
        }
        let mut session = self
            .session
            .lock()
            .map_err(|_| rt("session lock poisoned"))?;
        let outputs = session.run(inputs).map_err(rt)?;
        let logits = outputs[self.output.as_str()]
            .try_extract_array::<f32>()
            .map_err(rt)?;
        let shape = logits.shape().to_vec();
        if !(shape == [texts.len()] || shape == [texts.len(), 1]) {
            return Err(rt(format!(
                "output `{}` has shape {shape:?}, expected [{n}, 1] or [{n}]: one logit per pair",
                self.output,
                n = texts.len()
            )));
        }
        Ok(logits.iter().copied().collect())
    }
}

impl PairScorer for OnnxCrossEncoder {
    fn namespace(&self) -> &str {
        &self.namespace
    }
    fn score(&self, query: &str, texts: &[&str]) -> std::result::Result<Vec<f32>, EmbedFailure> {
        self.run(query, texts)
            .map_err(|e| EmbedFailure(e.to_string()))
    }
}
