//! The served setup as MCP tools, with the official Rust SDK (rmcp): over streamable HTTP
//! at `/mcp` beside the HTTP API, and over stdio for desktop agents (`ragtune mcp`).
//!
//! | tool | input | output |
//! |---|---|---|
//! | `search` | [`SearchRequest`] | [`crate::SearchResponse`]: what `POST /search` returns |
//! | `explain` | [`ExplainRequest`] | [`crate::ExplainResponse`]: what `POST /explain` returns |
//!
//! The tools' input and output schemas are the OpenAPI document's schemas of those types
//! ([`crate::openapi_spec`], limits included), with their references written in: one
//! source for both. Streamable HTTP accepts loopback `Host` names only and, when a browser
//! sends an `Origin`, only a loopback one (the MCP specification's DNS-rebinding rule).

use std::sync::Arc;

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation,
    InitializeResult, ListToolsResult, PaginatedRequestParams, ServerCapabilities, Tool,
};
use rmcp::service::RequestContext;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{ErrorData, RoleServer, ServerHandler};
use serde_json::{Map, Value};

use crate::{AppState, ExplainRequest, Limits, SearchRequest};

/// The MCP server of one served setup.
#[derive(Clone)]
pub struct McpServer {
    state: Arc<AppState>,
}

/// `schema` with every `$ref` to `#/components/schemas/X` replaced by X's schema.
fn inline(schema: &Value, components: &Map<String, Value>) -> Value {
    match schema {
        Value::Object(obj) => {
            if let Some(name) = (obj.get("$ref").and_then(Value::as_str))
                .and_then(|r| r.strip_prefix("#/components/schemas/"))
                && let Some(target) = components.get(name)
            {
                return inline(target, components);
            }
            Value::Object(
                obj.iter()
                    .map(|(k, v)| (k.clone(), inline(v, components)))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.iter().map(|v| inline(v, components)).collect()),
        other => other.clone(),
    }
}

/// The JSON schema of API type `name` in the OpenAPI document's `components`,
/// self-contained.
fn api_schema(name: &str, components: &Map<String, Value>) -> Map<String, Value> {
    match inline(&components[name], components) {
        Value::Object(o) => o,
        _ => unreachable!("the document has a schema for {name}"),
    }
}

/// The tools, described from the API's types (one OpenAPI document for all four schemas).
pub fn tools(limits: &Limits) -> Vec<Tool> {
    let doc = crate::openapi_spec(limits);
    let components = doc["components"]["schemas"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    let tool = |name: &'static str, what: &'static str, input: &str, output: &str| {
        Tool::new(name, what, Arc::new(api_schema(input, &components)))
            .with_raw_output_schema(Arc::new(api_schema(output, &components)))
    };
    vec![
        tool(
            "search",
            "Retrieve the top k chunks for a query with the retrieval setup ragtune measured as best on this corpus: each with its document, page where known, byte range, text and score.",
            "SearchRequest",
            "SearchResponse",
        ),
        tool(
            "explain",
            "One of the evaluation questions (by id) through the served setup: its top k chunks, its labelled answers and the rank at which each is found.",
            "ExplainRequest",
            "ExplainResponse",
        ),
    ]
}

impl McpServer {
    /// The server of the setup `state` serves.
    pub(crate) fn new(state: Arc<AppState>) -> Self {
        Self { state }
    }

    /// Run tool `name` on `args`: the same checks and the same engine as the HTTP routes,
    /// and the same JSON (written once, so that f32 scores read as the HTTP body has them).
    fn run(&self, name: &str, args: Value) -> Result<Value, String> {
        let (engine, limits) = (&self.state.engine, &self.state.limits);
        let parse_err = |e: serde_json::Error| format!("invalid arguments for `{name}`: {e}");
        match name {
            "search" => {
                let req: SearchRequest = serde_json::from_value(args).map_err(parse_err)?;
                crate::check_search(&req, limits)?;
                let resp = engine
                    .search(&req.query, req.k)
                    .map_err(|e| e.to_string())?;
                Ok(as_served(&resp))
            }
            "explain" => {
                let req: ExplainRequest = serde_json::from_value(args).map_err(parse_err)?;
                crate::check_explain(&req, limits)?;
                match engine.explain(&req.question, req.k) {
                    Ok(Some(r)) => Ok(as_served(&r)),
                    Ok(None) => Err(format!(
                        "no question with id {:?} in this run",
                        req.question
                    )),
                    Err(e) => Err(e.to_string()),
                }
            }
            other => Err(format!(
                "no tool {other:?}; the tools are search and explain"
            )),
        }
    }
}

/// `v` as the HTTP routes write it: through JSON text, so that an f32 score reads as the
/// shortest decimal that gives it back (`25.629055`, not `25.62905502319336`).
fn as_served<T: serde::Serialize>(v: &T) -> Value {
    let text = serde_json::to_string(v).expect("a response serialises");
    serde_json::from_str(&text).expect("the JSON just written parses")
}

impl ServerHandler for McpServer {
    fn get_info(&self) -> InitializeResult {
        InitializeResult::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("ragtune", env!("CARGO_PKG_VERSION")))
            .with_instructions(format!(
                "Retrieval with setup {} ({}), the one ragtune measured as best on this corpus. `search` retrieves chunks for a query.",
                self.state.engine.config_id,
                self.state.engine.point.label()
            ))
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(tools(&self.state.limits)))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let name = request.name.to_string();
        if !matches!(name.as_str(), "search" | "explain") {
            return Err(ErrorData::invalid_params(
                format!("no tool {name:?}; the tools are search and explain"),
                None,
            ));
        }
        let args = Value::Object(request.arguments.unwrap_or_default());
        let server = self.clone();
        let ran = tokio::task::spawn_blocking(move || server.run(&name, args))
            .await
            .map_err(|e| ErrorData::internal_error(format!("the tool failed: {e}"), None))?;
        Ok(match ran {
            Ok(value) => {
                let mut result =
                    CallToolResult::success(vec![ContentBlock::text(value.to_string())]);
                result.structured_content = Some(value);
                result
            }
            Err(why) => CallToolResult::error(vec![ContentBlock::text(why)]),
        }
        .into())
    }
}

/// The streamable HTTP service mounted at `/mcp`.
pub(crate) fn service(
    state: Arc<AppState>,
) -> StreamableHttpService<McpServer, LocalSessionManager> {
    let server = McpServer::new(state);
    let config = StreamableHttpServerConfig::default().with_allowed_origins([
        "http://127.0.0.1:*",
        "http://localhost:*",
        "http://[::1]:*",
    ]);
    StreamableHttpService::new(
        move || Ok(server.clone()),
        LocalSessionManager::default().into(),
        config,
    )
}

/// Serve the tools over stdin and stdout until the client closes them: stdout carries
/// JSON-RPC only (logs go to stderr).
pub fn serve_stdio(
    engine: crate::Engine,
    config: crate::ConfigResponse,
    limits: Limits,
) -> std::io::Result<()> {
    use rmcp::ServiceExt;
    let state = crate::app_state(engine, config, limits);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let running = McpServer::new(state)
            .serve(rmcp::transport::stdio())
            .await
            .map_err(std::io::Error::other)?;
        running.waiting().await.map_err(std::io::Error::other)?;
        Ok(())
    })
}
