//! The request and response bodies of the HTTP API, and the OpenAPI document derived from
//! them (utoipa): what the handlers send is what the document says, field for field.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::Limits;

/// `POST /search`'s body.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchRequest {
    /// The query text.
    #[schema(min_length = 1)]
    pub query: String,
    /// How many chunks to return.
    #[serde(default = "default_k")]
    #[schema(default = 5, minimum = 1)]
    pub k: usize,
}

fn default_k() -> usize {
    5
}

/// `POST /explain`'s body (and the MCP tool `explain`'s input).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExplainRequest {
    /// The id of one of the run's questions.
    #[schema(min_length = 1)]
    pub question: String,
    /// How many chunks to return.
    #[serde(default = "default_explain_k")]
    #[schema(default = 10, minimum = 1)]
    pub k: usize,
}

fn default_explain_k() -> usize {
    10
}

/// One labelled text of a question, and where the served setup ranks it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GoldLabel {
    /// The document.
    pub doc_id: String,
    /// First byte of the labelled text (absent for a document label).
    pub start: Option<usize>,
    /// One past its last byte.
    pub end: Option<usize>,
    /// The 1-based rank of the first returned chunk that holds part of it, if any.
    pub rank: Option<usize>,
}

/// `POST /explain`: one of the run's questions through the served setup.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExplainResponse {
    /// The setup that answered.
    pub config_id: String,
    /// The question's id.
    pub question_id: String,
    /// The question.
    pub question: String,
    /// Its labels and where each was found (empty for an unlabelled question).
    pub gold: Vec<GoldLabel>,
    /// The ranked chunks, as `POST /search` returns them for the question's text.
    pub results: Vec<crate::SearchHit>,
}

/// Every error's body.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ErrorBody {
    /// What went wrong, in words.
    pub error: String,
}

/// `GET /config`: the served setup and what the sweep measured for it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfigResponse {
    /// The setup's stable id.
    pub config_id: String,
    /// The setup in words.
    pub label: String,
    /// The setup, as best.toml's `[point]` holds it.
    #[schema(value_type = Object)]
    pub setup: serde_json::Value,
    /// Ranking depth per retriever.
    pub depth: usize,
    /// `[select] objective` of the run.
    pub objective: String,
    /// The setup's results rows, one per k (and split).
    #[schema(value_type = Vec<Object>)]
    pub metrics: Vec<serde_json::Value>,
    /// The corpus fingerprint the run was made on.
    pub corpus_fingerprint: String,
    /// Chunks in the index.
    pub n_chunks: usize,
    /// The run folder.
    pub run: String,
}

impl ConfigResponse {
    /// What `GET /config` says of `engine`, loaded from run folder `run`, whose sweep
    /// measured `rows` for it.
    pub fn of(
        engine: &crate::Engine,
        rows: &[ragtune_eval::ResultRow],
        run: &std::path::Path,
    ) -> serde_json::Result<Self> {
        Ok(Self {
            config_id: engine.config_id.clone(),
            label: engine.point.label(),
            setup: serde_json::to_value(&engine.point)?,
            depth: engine.depth,
            objective: engine.grid.select.objective.clone(),
            metrics: rows
                .iter()
                .map(serde_json::to_value)
                .collect::<serde_json::Result<_>>()?,
            corpus_fingerprint: engine.manifest.corpus_fingerprint.clone(),
            n_chunks: engine.set.len(),
            run: run.display().to_string(),
        })
    }
}

/// The OpenAPI 3.1 document with the request limits written in: every object schema of
/// the API's own types closed (`additionalProperties: false`), as serde writes them.
pub fn openapi_spec(limits: &Limits) -> serde_json::Value {
    use utoipa::OpenApi;
    let mut doc = serde_json::to_value(crate::ApiDoc::openapi()).expect("the document serialises");
    let schemas = &mut doc["components"]["schemas"];
    let request = &mut schemas["SearchRequest"]["properties"];
    request["query"]["maxLength"] = limits.max_query_chars.into();
    request["k"]["maximum"] = limits.max_k.into();
    if let Some(all) = schemas.as_object_mut() {
        for schema in all.values_mut() {
            close(schema);
        }
    }
    doc
}

/// `additionalProperties: false` on an object schema with properties and on every such
/// schema inside it (free-form `Object` fields have no properties and stay open).
fn close(schema: &mut serde_json::Value) {
    if let Some(obj) = schema.as_object_mut() {
        if obj.contains_key("properties") && !obj.contains_key("additionalProperties") {
            obj.insert("additionalProperties".into(), false.into());
        }
        for v in obj.values_mut() {
            close(v);
        }
    } else if let Some(items) = schema.as_array_mut() {
        items.iter_mut().for_each(close);
    }
}
