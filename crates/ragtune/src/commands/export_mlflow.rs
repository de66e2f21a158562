//! `ragtune export-mlflow --run DIR --tracking-uri URI [--experiment NAME]`: a sweep into
//! MLflow through its REST API (no Python at run time).
//!
//! - One parent run per sweep: the manifest's facts as tags; results.parquet,
//!   per_question.parquet and report.html as artefacts.
//! - One child run per setup (tag `mlflow.parentRunId`): the setup's fields as parameters,
//!   every metric as `<metric>_at_<k>` (with `_tune` and `_test` suffixes for held-out
//!   splits), plus `context_tokens_at_<k>`.
//!
//! Artefacts go through the tracking server's artefact proxy (`mlflow server`, which
//! serves artefacts by default); a server without it is refused with that reason.

use anyhow::{Context, bail};
use ragtune_core::FlatSetup;
use ragtune_eval::{Metric, PointRecord};
use serde_json::{Value, json};

use super::loop_stats::Run;
use crate::UserError;
use crate::cli::ExportMlflowArgs;

/// MLflow's REST endpoint at `base`.
struct Mlflow {
    agent: ureq::Agent,
    base: String,
}

impl Mlflow {
    fn new(uri: &str) -> Mlflow {
        let agent = ureq::Agent::new_with_config(
            ureq::Agent::config_builder()
                .http_status_as_error(false)
                .timeout_global(Some(std::time::Duration::from_secs(60)))
                .build(),
        );
        Mlflow {
            agent,
            base: uri.trim_end_matches('/').to_string(),
        }
    }

    /// The status and JSON body of a request; a refused connection is the user's URI.
    fn call(&self, method: &str, path: &str, body: Option<&Value>) -> anyhow::Result<(u16, Value)> {
        let url = format!("{}/api/2.0/{path}", self.base);
        let sent = match (method, body) {
            ("GET", _) => self.agent.get(&url).call(),
            (_, Some(b)) => self.agent.post(&url).send_json(b),
            _ => self.agent.post(&url).send_empty(),
        };
        let mut resp = sent.map_err(|e| UserError(format!("{}: {e}", self.base)))?;
        let status = resp.status().as_u16();
        let text = resp.body_mut().read_to_string().unwrap_or_default();
        Ok((
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        ))
    }

    /// `POST path` that must succeed.
    fn post(&self, path: &str, body: &Value) -> anyhow::Result<Value> {
        match self.call("POST", path, Some(body))? {
            (200, v) => Ok(v),
            (status, v) => bail!("MLflow {path}: HTTP {status}: {v}"),
        }
    }

    /// The experiment's id, created when it does not exist.
    fn experiment(&self, name: &str) -> anyhow::Result<String> {
        let q = format!(
            "mlflow/experiments/get-by-name?experiment_name={}",
            urlencode(name)
        );
        match self.call("GET", &q, None)? {
            (200, v) => Ok(v["experiment"]["experiment_id"]
                .as_str()
                .unwrap_or_default()
                .to_string()),
            (404, _) => {
                let v = self.post("mlflow/experiments/create", &json!({ "name": name }))?;
                Ok(v["experiment_id"].as_str().unwrap_or_default().to_string())
            }
            (status, v) => bail!("MLflow experiments/get-by-name: HTTP {status}: {v}"),
        }
    }

    /// A new run; returns its id and artefact URI.
    fn run(
        &self,
        experiment: &str,
        name: &str,
        tags: &[(String, String)],
    ) -> anyhow::Result<(String, String)> {
        let tags: Vec<Value> = tags
            .iter()
            .map(|(k, v)| json!({"key": k, "value": v}))
            .collect();
        let v = self.post(
            "mlflow/runs/create",
            &json!({"experiment_id": experiment, "run_name": name, "start_time": now_ms(), "tags": tags}),
        )?;
        let info = &v["run"]["info"];
        Ok((
            info["run_id"].as_str().unwrap_or_default().to_string(),
            info["artifact_uri"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        ))
    }

    /// Log `params` and `metrics` in batches within MLflow's limits, then finish the run.
    fn log_and_finish(
        &self,
        run_id: &str,
        params: &[(String, String)],
        metrics: &[(String, f64)],
    ) -> anyhow::Result<()> {
        let t = now_ms();
        for chunk in params.chunks(100) {
            let p: Vec<Value> = chunk
                .iter()
                .map(|(k, v)| json!({"key": k, "value": v}))
                .collect();
            self.post(
                "mlflow/runs/log-batch",
                &json!({"run_id": run_id, "params": p}),
            )?;
        }
        for chunk in metrics.chunks(1000) {
            let m: Vec<Value> = chunk
                .iter()
                .map(|(k, v)| json!({"key": k, "value": v, "timestamp": t, "step": 0}))
                .collect();
            self.post(
                "mlflow/runs/log-batch",
                &json!({"run_id": run_id, "metrics": m}),
            )?;
        }
        self.post(
            "mlflow/runs/update",
            &json!({"run_id": run_id, "status": "FINISHED", "end_time": now_ms()}),
        )?;
        Ok(())
    }

    /// Upload `bytes` as artefact `name` of the run whose artefact URI is `uri`.
    fn artifact(&self, uri: &str, name: &str, bytes: Vec<u8>) -> anyhow::Result<()> {
        let Some(rel) = uri.strip_prefix("mlflow-artifacts:") else {
            return Err(UserError(format!(
                "{}: artefacts go to {uri}, which this command cannot reach; start the server with artefact serving (mlflow server --serve-artifacts, the default)",
                self.base
            ))
            .into());
        };
        let url = format!(
            "{}/api/2.0/mlflow-artifacts/artifacts/{}/{name}",
            self.base,
            rel.trim_start_matches('/')
        );
        let mut resp = self
            .agent
            .put(&url)
            .header("Content-Type", "application/octet-stream")
            .send(&bytes[..])
            .map_err(|e| UserError(format!("{}: {e}", self.base)))?;
        match resp.status().as_u16() {
            200 => Ok(()),
            s => bail!(
                "MLflow artefact upload of {name}: HTTP {s}: {}",
                resp.body_mut().read_to_string().unwrap_or_default()
            ),
        }
    }
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A setup's fields as MLflow parameters (nested fields joined with `_`), nulls left out.
fn setup_params(p: &PointRecord) -> Vec<(String, String)> {
    fn walk(prefix: &str, v: &Value, out: &mut Vec<(String, String)>) {
        match v {
            Value::Object(m) => {
                for (k, v) in m {
                    let key = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}_{k}")
                    };
                    walk(&key, v, out);
                }
            }
            Value::Null => {}
            Value::String(s) => out.push((prefix.to_string(), s.clone())),
            other => out.push((prefix.to_string(), other.to_string())),
        }
    }
    let mut out = vec![("config_id".to_string(), p.config_id.clone())];
    walk(
        "",
        &serde_json::to_value(FlatSetup::from(p.point.clone())).unwrap_or(Value::Null),
        &mut out,
    );
    out
}

/// Every row's metrics as `<metric>_at_<k>[_<split>]`.
fn setup_metrics(p: &PointRecord) -> Vec<(String, f64)> {
    let mut out = Vec::new();
    for r in &p.rows {
        let suffix = if r.split == ragtune_eval::Split::All {
            String::new()
        } else {
            format!("_{}", r.split)
        };
        for &m in Metric::ALL {
            if let Some(v) = r.metrics.get(m) {
                out.push((format!("{}_at_{}{suffix}", m.name(), r.top_k), v));
            }
        }
        out.push((
            format!("context_tokens_at_{}{suffix}", r.top_k),
            r.context_tokens,
        ));
    }
    out
}

/// The manifest's facts as tags of the parent run.
fn manifest_tags(m: &ragtune_sweep::Manifest) -> Vec<(String, String)> {
    let models: Vec<String> = m
        .models
        .iter()
        .map(|r| format!("{} sha256:{}", r.name, r.sha256))
        .collect();
    [
        ("grid_name", m.grid_name.clone()),
        ("corpus_fingerprint", m.corpus_fingerprint.clone()),
        ("n_documents", m.n_documents.to_string()),
        ("n_questions", m.n_questions.to_string()),
        ("n_points", m.n_points.to_string()),
        ("objective", m.objective.clone()),
        (
            "best_config_id",
            m.best_config_id.clone().unwrap_or_default(),
        ),
        ("device", m.device.clone()),
        (
            "execution_provider",
            m.execution_provider.clone().unwrap_or_default(),
        ),
        ("models", models.join(", ")),
        ("cache_hits", m.cache_hits.to_string()),
        ("cache_misses", m.cache_misses.to_string()),
        ("ragtune_version", m.ragtune_version.clone()),
        ("git_commit", m.git_commit.clone()),
        ("started_at", m.started_at.clone()),
        ("finished_at", m.finished_at.clone().unwrap_or_default()),
    ]
    .into_iter()
    .map(|(k, v)| (format!("ragtune.{k}"), v))
    .collect()
}

pub fn run(args: ExportMlflowArgs) -> anyhow::Result<()> {
    let run = Run::open(&args.run)?;
    let report = args.run.join("report.html");
    if !report.is_file() {
        super::report::write(&args.run, &report)?;
    }
    let records = run.points()?;
    let m = &run.manifest;
    let ml = Mlflow::new(&args.tracking_uri);
    let experiment = ml.experiment(args.experiment.as_deref().unwrap_or(&m.grid_name))?;
    let name = format!(
        "{} {}",
        m.grid_name,
        &m.started_at[..m.started_at.len().min(19)]
    );
    let (parent, uri) = ml.run(&experiment, &name, &manifest_tags(m))?;
    for p in &records {
        let tags = [
            ("mlflow.parentRunId".to_string(), parent.clone()),
            ("ragtune.label".to_string(), p.label.clone()),
        ];
        let (child, _) = ml.run(&experiment, &p.config_id, &tags)?;
        ml.log_and_finish(&child, &setup_params(p), &setup_metrics(p))
            .with_context(|| format!("logging setup {}", p.config_id))?;
    }
    for file in ["results.parquet", "per_question.parquet", "report.html"] {
        let bytes = std::fs::read(args.run.join(file))
            .with_context(|| format!("{}", args.run.join(file).display()))?;
        ml.artifact(&uri, file, bytes)?;
    }
    let best = records
        .iter()
        .find(|p| Some(&p.config_id) == m.best_config_id.as_ref())
        .map(setup_metrics)
        .unwrap_or_default();
    let best: Vec<(String, f64)> = best
        .into_iter()
        .map(|(k, v)| (format!("best_{k}"), v))
        .collect();
    ml.log_and_finish(&parent, &[], &best)?;
    eprintln!(
        "ragtune: exported {} setups to {} (experiment {experiment}), parent run {parent}",
        records.len(),
        args.tracking_uri
    );
    println!("{parent}");
    Ok(())
}
