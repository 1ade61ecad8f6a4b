//! Easel's own HTTP server on `[http] listen`: `GET /healthz` (is the bot connected to Discord,
//! can the database take writes, and each backend's last background probe), `GET /metrics` in Prometheus
//! text format, and the receivers of backends' webhooks (midjourney-proxy's notifyHook). The
//! metrics themselves are recorded where things happen, with the `metrics` crate's macros;
//! this module installs the recorder and renders it. It is handed only what it serves
//! ([`Served`]), not the whole app.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use anyhow::Context;
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use serde_json::json;

use crate::backends::Registry;
use crate::base::TaskState;
use crate::db::Db;

/// Liveness facts other parts report, read by `/healthz`.
#[derive(Debug, Default)]
pub struct Health {
    gateway: AtomicBool,
}

impl Health {
    pub fn set_gateway(&self, connected: bool) {
        self.gateway.store(connected, Ordering::Relaxed);
    }
    pub fn gateway(&self) -> bool {
        self.gateway.load(Ordering::Relaxed)
    }
}

/// Installs the Prometheus recorder once per process and returns its handle.
pub fn prometheus() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let seconds =
            [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0];
        let builder = PrometheusBuilder::new();
        let builder = builder.set_buckets(&seconds).unwrap_or_else(|_| PrometheusBuilder::new());
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        crate::metrics_catalog::describe(&recorder);
        // Another recorder may already be installed (tests build several apps): keep it.
        let _ = metrics::set_global_recorder(recorder);
        handle
    })
}

/// What the operator endpoints read: the gateway flag Discord's side keeps, the database and
/// the backends.
#[derive(Clone)]
pub struct Served {
    pub health: Arc<Health>,
    pub db: Db,
    pub backends: Registry,
}

pub fn router(served: Served) -> Router {
    // Backends' webhook deliveries go to the registry's mailbox.
    let hooks = served.backends.router();
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(render_metrics))
        .with_state(served)
        .merge(hooks)
}

/// Serves the operator endpoints on `listen` (`[http] listen`) unless it is empty; returns
/// the bound address.
pub async fn spawn(listen: &str, served: Served) -> anyhow::Result<Option<SocketAddr>> {
    if listen.is_empty() {
        return Ok(None);
    }
    let listener =
        tokio::net::TcpListener::bind(listen).await.with_context(|| format!("http.listen {listen}"))?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, router(served)).await {
            tracing::error!(error = %e, "the operator HTTP server stopped");
        }
    });
    tracing::info!(%addr, "operator endpoints: /healthz, /metrics");
    Ok(Some(addr))
}

async fn healthz(State(served): State<Served>) -> impl IntoResponse {
    let database = match served.db.probe_write().await {
        Ok(()) => "writable".to_string(),
        Err(e) => format!("error: {e:#}"),
    };
    // The engine's background probe (every `health.check_interval_secs`) is what is shown:
    // probing here would let anyone who can reach /healthz make Easel call every backend,
    // with its key, once per request.
    let mut backends = serde_json::Map::new();
    let mut breakers = serde_json::Map::new();
    let registry = &served.backends;
    for name in registry.names() {
        let Some(view) = registry.health().view(name) else { continue };
        let verdict = match view.probe {
            Some(probe) if probe.ok => "ok".to_string(),
            Some(probe) => format!("error: {}", probe.error.unwrap_or_default()),
            None => "not probed yet".to_string(),
        };
        backends.insert(name.to_string(), verdict.into());
        breakers.insert(name.to_string(), view.breaker.into());
    }
    let gateway = served.health.gateway();
    let healthy = gateway && database == "writable";
    let body = json!({
        "status": if healthy { "ok" } else { "unhealthy" },
        "gateway": if gateway { "connected" } else { "disconnected" },
        "database": database,
        "backends": backends,
        "breakers": breakers,
    });
    let status = if healthy { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, axum::Json(body))
}

async fn render_metrics(State(served): State<Served>) -> impl IntoResponse {
    // Queue state is read from the database at scrape time, so it is right after a restart.
    match served.db.counts_by_state().await {
        Ok(counts) => {
            for state in TaskState::ALL {
                let n = counts.iter().find(|(s, _)| *s == state).map_or(0, |(_, n)| *n);
                metrics::gauge!("easel_tasks", "state" => state.as_str()).set(n as f64);
            }
            let depth = counts.iter().filter(|(s, _)| *s == TaskState::Queued).map(|(_, n)| *n).sum::<i64>();
            metrics::gauge!("easel_queue_depth").set(depth as f64);
        }
        Err(e) => tracing::warn!(error = %format!("{e:#}"), "reading task counts for /metrics failed"),
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], prometheus().render())
}
