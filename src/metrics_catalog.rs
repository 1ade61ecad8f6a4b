//! Every metric Easel exports on `/metrics`, in one list: its name, kind, unit, labels and the
//! HELP text a Prometheus scrape carries. The values are recorded where things happen (with the
//! `metrics` crate's macros); this list is what an operator reads, what `deploy/grafana` charts,
//! and what a test holds the code's `metrics::…!("easel_…")` calls against, so a new metric
//! without a description fails a test rather than appearing bare.

use metrics::{KeyName, Recorder, SharedString, Unit};

/// What kind of Prometheus series a metric is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum MetricKind {
    Counter,
    Gauge,
    Histogram,
}

/// One exported metric.
#[derive(Clone, Copy, Debug)]
pub struct Metric {
    pub name: &'static str,
    pub kind: MetricKind,
    pub labels: &'static [&'static str],
    pub seconds: bool,
    pub help: &'static str,
}

const fn metric(
    name: &'static str,
    kind: MetricKind,
    labels: &'static [&'static str],
    seconds: bool,
    help: &'static str,
) -> Metric {
    Metric { name, kind, labels, seconds, help }
}

use MetricKind::{Counter, Gauge, Histogram};

/// Every metric Easel records.
pub const METRICS: &[Metric] = &[
    metric(
        "easel_tasks",
        Gauge,
        &["state"],
        false,
        "Tasks in the database by state, counted at scrape time.",
    ),
    metric(
        "easel_queue_depth",
        Gauge,
        &[],
        false,
        "Tasks waiting for a backend (state queued), counted at scrape time.",
    ),
    metric(
        "easel_task_seconds",
        Histogram,
        &["backend"],
        true,
        "Seconds from a task's request to its final state (queue wait included), by backend.",
    ),
    metric(
        "easel_tasks_finished_total",
        Counter,
        &["backend", "state"],
        false,
        "Tasks that reached a final state (succeeded, failed, canceled), by backend.",
    ),
    metric(
        "easel_backend_errors_total",
        Counter,
        &["backend", "code"],
        false,
        "Failed backend attempts by backend and failure code (retried attempts count too).",
    ),
    metric(
        "easel_discord_api_errors_total",
        Counter,
        &["status"],
        false,
        "Discord REST calls answered with an error, by HTTP status (429 included).",
    ),
    metric(
        "easel_initial_response_seconds",
        Histogram,
        &[],
        true,
        "Seconds from receiving /imagine to acknowledging it (Discord allows 3).",
    ),
    metric(
        "easel_failovers_total",
        Counter,
        &["from", "to"],
        false,
        "Tasks moved to another backend after a retryable failure, by the backend left and the one taken.",
    ),
    metric(
        "easel_retention_removed_total",
        Counter,
        &["what", "reason"],
        false,
        "What retention removed: tasks' images (what=images, reason=age or size), finished tasks and audit rows (reason=age).",
    ),
    metric(
        "easel_retention_freed_bytes_total",
        Counter,
        &[],
        false,
        "Bytes of image files retention deleted.",
    ),
];

/// Gives `recorder` the description of every metric, so each carries `# HELP` once recorded.
pub fn describe(recorder: &impl Recorder) {
    for m in METRICS {
        let key = KeyName::from_const_str(m.name);
        let unit = m.seconds.then_some(Unit::Seconds);
        let help = SharedString::const_str(m.help);
        match m.kind {
            Counter => recorder.describe_counter(key, unit, help),
            Gauge => recorder.describe_gauge(key, unit, help),
            Histogram => recorder.describe_histogram(key, unit, help),
        }
    }
}

/// The entry for `name`, also for a histogram's `_bucket`, `_sum` and `_count` series.
pub fn find(name: &str) -> Option<&'static Metric> {
    METRICS.iter().find(|m| m.name == name).or_else(|| {
        let base = ["_bucket", "_sum", "_count"].iter().find_map(|s| name.strip_suffix(s))?;
        METRICS.iter().find(|m| m.name == base && m.kind == Histogram)
    })
}
