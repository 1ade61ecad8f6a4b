//! Which backend serves a task, decided from facts passed in (no I/O): what the member asked
//! for (a model by name or alias, or `--v`/`--niji` in the prompt), what each backend can do,
//! how wide an image it accepts, whether it is healthy, and how busy it is. The same choice
//! serves a failover, with the backends that already failed the task excluded.

use crate::base::{EditAction, TaskKind, UpscaleMode};
use crate::config::normalize_model;
use crate::prompt::{Param, PromptSpec};

use super::Capabilities;

/// The operation a task needs from its backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Want {
    Imagine,
    Upscale,
    Variation,
    Blend,
    Describe,
    Edit(EditAction),
    Upscale2x(UpscaleMode),
}

impl Want {
    pub fn of(kind: &TaskKind) -> Want {
        match kind {
            TaskKind::Imagine | TaskKind::Reroll => Want::Imagine,
            TaskKind::Upscale { .. } => Want::Upscale,
            TaskKind::Variation { .. } => Want::Variation,
            TaskKind::Blend => Want::Blend,
            TaskKind::Describe => Want::Describe,
            TaskKind::Edit { action, .. } => Want::Edit(*action),
            TaskKind::Upscale2x { mode, .. } => Want::Upscale2x(*mode),
        }
    }

    /// Every backend can "upscale": without its own upscaler, U serves the stored image.
    pub fn served_by(self, caps: &Capabilities) -> bool {
        match self {
            Want::Imagine => caps.imagine,
            Want::Upscale => true,
            Want::Variation => caps.variation,
            Want::Blend => caps.blend,
            Want::Describe => caps.describe,
            Want::Edit(action) => caps.edits(action),
            Want::Upscale2x(mode) => caps.upscales_2x(mode),
        }
    }

    pub fn verb(self) -> &'static str {
        match self {
            Want::Imagine => "imagine",
            Want::Upscale => "upscale",
            Want::Variation => "make variations",
            Want::Blend => "blend",
            Want::Describe => "describe",
            Want::Edit(action) if action.outpaints() => "extend images",
            Want::Edit(_) => "repaint regions",
            Want::Upscale2x(_) => "upscale at 2×",
        }
    }
}

/// One configured backend as routing sees it.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub name: String,
    pub aliases: Vec<String>,
    pub caps: Capabilities,
    /// Healthy by its last probe and not held off by its circuit breaker.
    pub available: bool,
    /// Tasks queued or running on it now.
    pub load: u32,
    pub concurrency: usize,
}

impl Candidate {
    fn answers_to(&self, model: &str) -> bool {
        normalize_model(&self.name) == model || self.aliases.iter().any(|a| normalize_model(a) == model)
    }

    /// Queued and running work per slot: what "least busy" compares.
    fn busyness(&self) -> f64 {
        self.load as f64 / self.concurrency.max(1) as f64
    }
}

#[derive(Debug, Clone, Default)]
pub struct Request<'a> {
    pub want: Option<Want>,
    /// A model picked by name or alias (the `model` option, or the one a failover must keep).
    pub model: Option<&'a str>,
    /// The prompt, for `--v`/`--niji` and the aspect ratio.
    pub spec: Option<&'a PromptSpec>,
    /// For U and V: the backend that made the parent, preferred while it can serve.
    pub parent_backend: Option<&'a str>,
    /// Backends that already failed this task.
    pub exclude: &'a [String],
}

/// The choice: the backend, and the model name to record with the task when the member
/// picked one (so a failover keeps to backends that answer to it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub backend: String,
    pub model: Option<String>,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RouteError {
    #[error("There is no model called `{asked}` here. Pick one of: {}.", known.join(", "))]
    UnknownModel { asked: String, known: Vec<String> },
    #[error("No backend here can {verb}{}.", model.as_ref().map(|m| format!(" with model `{m}`")).unwrap_or_default())]
    Unsupported { verb: &'static str, model: Option<String> },
    #[error(
        "`--ar {aspect}` is wider than any backend here accepts (the widest is {widest:.2}:1). Use a less extreme ratio."
    )]
    TooWide { aspect: String, widest: f64 },
    #[error("No other backend can take this task over.")]
    Exhausted,
}

/// `--v 6` → `v6`, `--niji 6` → `niji6`, a bare `--niji` → `niji`.
pub fn flag_model(spec: &PromptSpec) -> Option<(Param, String)> {
    if let Some(v) = &spec.params.version {
        return Some((Param::Version, normalize_model(&format!("v{v}"))));
    }
    spec.params.niji.as_ref().map(|n| (Param::Niji, normalize_model(&format!("niji{n}"))))
}

pub fn choose(candidates: &[Candidate], req: &Request) -> Result<Route, RouteError> {
    let want = req.want.unwrap_or(Want::Imagine);
    // Names and aliases are unique across backends (the config refuses a repeat).
    let known = || -> Vec<String> {
        candidates.iter().flat_map(|c| std::iter::once(&c.name).chain(&c.aliases)).cloned().collect()
    };
    let mut pool: Vec<&Candidate> = candidates.iter().filter(|c| !req.exclude.contains(&c.name)).collect();
    if pool.is_empty() {
        return Err(RouteError::Exhausted);
    }

    // Which model: an explicit pick, else an alias named by `--v`/`--niji`, else any backend.
    let mut model = None;
    if let Some(asked) = req.model {
        let norm = normalize_model(asked);
        if !candidates.iter().any(|c| c.answers_to(&norm)) {
            return Err(RouteError::UnknownModel { asked: asked.to_string(), known: known() });
        }
        pool.retain(|c| c.answers_to(&norm));
        model = Some(norm);
    } else if let Some((param, flag)) = req.spec.and_then(flag_model) {
        if candidates.iter().any(|c| c.answers_to(&flag)) {
            pool.retain(|c| c.answers_to(&flag));
            model = Some(flag);
        } else if pool.iter().any(|c| c.caps.params.contains(&param)) {
            // The service understands `--v` itself (Midjourney through a proxy).
            pool.retain(|c| c.caps.params.contains(&param));
        } else if candidates.iter().any(|c| !c.aliases.is_empty()) {
            let asked = req.spec.map(|s| render_flag(param, s)).unwrap_or(flag);
            return Err(RouteError::UnknownModel { asked, known: known() });
        }
    }
    if pool.is_empty() {
        return Err(RouteError::Exhausted);
    }

    pool.retain(|c| want.served_by(&c.caps));
    // A child of a job held at one service can only be served there or by a backend that
    // works from the image itself.
    if let Some(parent) = req.parent_backend
        && matches!(want, Want::Upscale | Want::Variation)
    {
        pool.retain(|c| c.name == parent || !c.caps.parent_bound);
    }
    // An edit's canvas was sized for the backend that made the image (its largest side), and
    // a 2× upscale is of that backend's picture: both stay there.
    if let Some(parent) = req.parent_backend
        && matches!(want, Want::Edit(_) | Want::Upscale2x(_))
    {
        pool.retain(|c| c.name == parent);
    }
    if pool.is_empty() {
        return Err(if req.exclude.is_empty() {
            RouteError::Unsupported { verb: want.verb(), model }
        } else {
            RouteError::Exhausted
        });
    }

    if let Some(aspect) = req.spec.and_then(|s| s.params.aspect) {
        let ratio = aspect.w.max(aspect.h) as f64 / aspect.w.min(aspect.h).max(1) as f64;
        let widest = pool.iter().map(|c| c.caps.max_aspect).fold(0.0, f64::max);
        pool.retain(|c| ratio <= c.caps.max_aspect + 1e-9);
        if pool.is_empty() {
            return Err(RouteError::TooWide { aspect: format!("{}:{}", aspect.w, aspect.h), widest });
        }
    }

    // The parent's own backend while it is up; otherwise the least busy healthy one (config
    // order breaks ties); when none is healthy, the least busy anyway — the task then waits
    // for it to recover rather than being refused.
    let healthy: Vec<&Candidate> = pool.iter().copied().filter(|c| c.available).collect();
    let field = if healthy.is_empty() { &pool } else { &healthy };
    let chosen = req
        .parent_backend
        .and_then(|p| field.iter().find(|c| c.name == p))
        .or_else(|| field.iter().min_by(|a, b| a.busyness().total_cmp(&b.busyness())))
        .expect("pool is not empty");
    Ok(Route { backend: chosen.name.clone(), model })
}

fn render_flag(param: Param, spec: &PromptSpec) -> String {
    match param {
        Param::Version => format!("--v {}", spec.params.version.clone().unwrap_or_default()),
        _ => format!("--niji {}", spec.params.niji.clone().unwrap_or_default()).trim_end().to_string(),
    }
}

#[cfg(test)]
#[path = "routing_tests.rs"]
mod tests;
