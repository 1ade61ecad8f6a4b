//! [`Server`]: the one serving sequence — build the app, start the engine, the operator HTTP
//! server and the Discord client; on a stop, let running tasks finish and their results reach
//! Discord. `easel run`, `easel sandbox` and the end-to-end tests all start Easel this way.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use tokio::task::JoinHandle;

use crate::app::App;
use crate::config::Config;
use crate::http::{Health, Served};

/// How long running tasks get to finish when the bot is asked to stop.
const STOP_GRACE: Duration = Duration::from_secs(30);
/// How long, after that, the results of tasks that finished get to reach Discord.
const DELIVERY_GRACE: Duration = Duration::from_secs(10);

pub struct Server {
    pub app: Arc<App>,
    /// Whether the Discord gateway is connected, as `/healthz` reports it.
    pub health: Arc<Health>,
    /// Where `/healthz` and `/metrics` are served, when `http.listen` is set.
    pub http: Option<SocketAddr>,
    engine: JoinHandle<()>,
    /// The `[retention]` loop, when it removes anything.
    retention: Option<JoinHandle<()>>,
    discord: JoinHandle<anyhow::Result<()>>,
}

impl Server {
    /// Builds Easel from `config` and starts everything; Discord connects in the background.
    pub async fn start(config: Config) -> anyhow::Result<Server> {
        crate::http::prometheus();
        let app = Arc::new(App::build(config).await.context("Easel could not start")?);
        let health = Arc::new(Health::default());
        let served =
            Served { health: health.clone(), db: app.db.clone(), backends: app.engine.backends().clone() };
        let http = crate::http::spawn(&app.config.http.listen, served)
            .await
            .context("cannot serve the operator endpoints")?;
        let engine = app.start();
        let retention = crate::tasks::retention::spawn(
            app.db.clone(),
            app.engine.storage().clone(),
            app.config.retention.clone(),
            app.clock.clone(),
        );
        let discord = tokio::spawn(crate::discord::run(app.clone(), health.clone()));
        Ok(Server { app, health, http, engine, retention, discord })
    }

    /// Serves until the Discord connection ends or `stop` resolves, then stops taking tasks,
    /// gives running ones [`STOP_GRACE`] to finish and their results [`DELIVERY_GRACE`] to
    /// reach Discord.
    pub async fn serve_until(mut self, stop: impl Future<Output = ()>) -> anyhow::Result<()> {
        let result = tokio::select! {
            r = &mut self.discord => r.unwrap_or_else(|e| Err(anyhow::anyhow!("the Discord client crashed: {e}"))),
            _ = stop => {
                tracing::info!("stopping: no new tasks; running ones get {} s to finish", STOP_GRACE.as_secs());
                Ok(())
            }
        };
        self.discord.abort();
        if let Some(retention) = &self.retention {
            retention.abort();
        }
        self.app.engine.shutdown(STOP_GRACE).await;
        flush_deliveries(&self.app, DELIVERY_GRACE).await;
        self.engine.abort();
        result
    }

    /// Stops at once, as a crash would: the engine and the Discord client are dropped
    /// mid-work (tests use this to restart on the same database).
    pub fn abort(&self) {
        self.discord.abort();
        self.engine.abort();
        if let Some(retention) = &self.retention {
            retention.abort();
        }
    }
}

/// Waits (up to `grace`) until every task that reached a final state has it shown on
/// Discord: a task that finished during the stop grace would otherwise keep showing its last
/// progress until the next start. Message delivery runs on its own tasks and marks each
/// message delivered in the database, so this only has to watch that mark.
async fn flush_deliveries(app: &App, grace: Duration) {
    let deadline = tokio::time::Instant::now() + grace;
    loop {
        let pending = match app.db.undelivered_final_count().await {
            Ok(n) => n,
            Err(e) => {
                tracing::warn!(error = %format!("{e:#}"), "could not check for undelivered results");
                return;
            }
        };
        if pending == 0 {
            return;
        }
        if tokio::time::Instant::now() >= deadline {
            tracing::warn!(
                pending,
                "stopping before every result reached Discord; they are sent at the next start"
            );
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
