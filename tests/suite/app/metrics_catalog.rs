//! `/metrics` explains itself and the Grafana dashboard charts only what Easel exports: every
//! metric the code records is in `easel::metrics_catalog` (and nothing stale is), a real scrape
//! carries `# HELP` for every series, and every metric and label `deploy/grafana/` names exists.

use crate::support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use easel::metrics_catalog::{self, METRICS, MetricKind};
use support::world::{Backend, World};

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// `(name, kind)` of every `metrics::counter!("easel_…"` (gauge, histogram) call under `src/`.
fn recorded_in_source() -> BTreeSet<(String, MetricKind)> {
    let calls = regex::Regex::new(r#"metrics::(counter|gauge|histogram)!\(\s*"([a-z0-9_]+)""#).unwrap();
    let mut found = BTreeSet::new();
    let mut dirs = vec![repo("src")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                for c in calls.captures_iter(&text) {
                    let kind = match &c[1] {
                        "counter" => MetricKind::Counter,
                        "gauge" => MetricKind::Gauge,
                        _ => MetricKind::Histogram,
                    };
                    found.insert((c[2].to_owned(), kind));
                }
            }
        }
    }
    found
}

#[test]
fn every_metric_the_code_records_is_described_and_nothing_else() {
    let recorded = recorded_in_source();
    assert!(recorded.len() >= 8, "the source scan found too little: {recorded:?}");
    for (name, kind) in &recorded {
        let entry = METRICS.iter().find(|m| m.name == name);
        let entry = entry.unwrap_or_else(|| panic!("`{name}` is recorded but not in src/metrics_catalog.rs"));
        assert_eq!(entry.kind, *kind, "`{name}` is recorded as a {kind:?}");
        assert!(entry.help.len() > 20 && entry.help.ends_with('.'), "`{name}` needs a sentence of help");
    }
    for m in METRICS {
        assert!(
            recorded.iter().any(|(name, _)| name == m.name),
            "`{}` is described but nothing records it",
            m.name
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scrape_carries_help_for_every_series() {
    let mut w = World::new(Backend::Demo { step_ms: 10 }, |c| c.http.listen = "127.0.0.1:0".into()).await;
    w.start_in_process().await;
    let alice = w.sandbox.add_user("alice");
    w.final_original(w.imagine(alice, "a lighthouse").await).await;
    let url = format!("http://{}/metrics", w.http.expect("http.listen is set"));
    let text = reqwest::get(url).await.unwrap().text().await.unwrap();

    let typed: Vec<&str> =
        text.lines().filter_map(|l| l.strip_prefix("# TYPE ")?.split(' ').next()).collect();
    assert!(typed.contains(&"easel_task_seconds") && typed.contains(&"easel_tasks"), "{text}");
    for name in typed {
        let help = text.lines().find_map(|l| l.strip_prefix(&format!("# HELP {name} ")));
        let entry = metrics_catalog::find(name).unwrap_or_else(|| panic!("`{name}` is not in the catalog"));
        assert_eq!(help, Some(entry.help), "`# HELP {name}` in:\n{text}");
    }
}

/// Every PromQL expression and variable query of the dashboard.
fn dashboard_queries(dashboard: &serde_json::Value) -> Vec<String> {
    let mut queries = Vec::new();
    for panel in dashboard["panels"].as_array().expect("panels") {
        let targets = panel["targets"].as_array().expect("every panel has targets");
        assert!(!targets.is_empty(), "panel {} queries nothing", panel["title"]);
        for t in targets {
            queries.push(t["expr"].as_str().expect("expr").to_owned());
            queries.push(t["legendFormat"].as_str().unwrap_or_default().to_owned());
        }
    }
    for v in dashboard["templating"]["list"].as_array().expect("templating") {
        queries.push(v["definition"].as_str().expect("definition").to_owned());
    }
    queries
}

#[test]
fn the_grafana_dashboard_charts_only_metrics_and_labels_easel_exports() {
    let path = repo("deploy/grafana/easel-dashboard.json");
    let dashboard: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap())
        .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()));
    let names = regex::Regex::new(r"\beasel_[a-z0-9_]+").unwrap();
    // Labels in `by (…)`, in `{label=…}` selectors and in legends' `{{label}}`.
    let labels = regex::Regex::new(r"by \(([^)]*)\)|[{,]\s*([a-z_]+)\s*=~?|\{\{([a-z_]+)\}\}").unwrap();
    let mut charted = BTreeSet::new();
    let mut ids = BTreeSet::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        assert!(ids.insert(panel["id"].as_u64().expect("panel id")), "duplicate panel id");
        assert_eq!(panel["datasource"]["uid"], "${DS_PROMETHEUS}", "panel {}", panel["title"]);
    }
    let queries = dashboard_queries(&dashboard);
    // A legend goes with the expression before it, so it is checked against that one's metrics.
    let mut known_labels = BTreeSet::new();
    for query in &queries {
        let metrics: Vec<_> = names
            .find_iter(query)
            .map(|m| {
                let entry = metrics_catalog::find(m.as_str());
                entry.unwrap_or_else(|| {
                    panic!("the dashboard charts `{}`, which Easel does not export", m.as_str())
                })
            })
            .collect();
        if !metrics.is_empty() {
            known_labels = metrics.iter().flat_map(|m| m.labels.iter().copied()).collect();
            known_labels.insert("le");
            charted.extend(metrics.iter().map(|m| m.name));
        }
        for c in labels.captures_iter(query) {
            let group = c.get(1).or(c.get(2)).or(c.get(3)).unwrap().as_str();
            for label in group.split(',').map(str::trim).filter(|l| !l.is_empty()) {
                assert!(known_labels.contains(label), "`{query}` uses label `{label}` its metric lacks");
            }
        }
    }
    let every: BTreeSet<_> = METRICS.iter().map(|m| m.name).collect();
    assert_eq!(charted, every, "the dashboard charts every metric Easel exports");
}
