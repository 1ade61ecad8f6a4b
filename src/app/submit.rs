//! The one submit path. Each request — /imagine (and `easel imagine`), /blend, /describe, and
//! the buttons and remix form in `press` — is checked by its own `check_*` function: the gate,
//! the member's prompt composed and parsed once, room in their queue, a backend that can take
//! each task. What passed is a [`Ticket`]; nothing is written yet, and everything read so far
//! but the queue count came from memory, so the caller can acknowledge the member at once.
//! [`App::queue`] then writes the audit row, routes each task by load and queues it.
//!
//! Two calls rather than one because the acknowledgement sits between them: a refusal must
//! reach the member privately *before* anything public happens, and everything that can wait
//! (the audit write, the load-based choice, the insert) waits until after.

use std::collections::HashMap;

use bytes::Bytes;

use super::{App, Refused, Requester};
use crate::admin::quota::Quota;
use crate::admin::{Admission, Ask, Outcome};
use crate::backends::routing::{self, Request, RouteError, Want};
use crate::base::{MessageRef, TaskId, TaskKind};
use crate::db::{NewTask, Task};
use crate::prompt::{self, Aspect, PromptSpec, StyleRef, StyleSource};
use crate::tasks::engine::SubmitError;

/// A request that passed every check that can refuse it at once, ready to queue with
/// [`App::queue`] (or, when the caller gives up after acknowledging, [`App::abandon`]).
#[must_use = "queue or abandon a ticket, so that its audit row is written"]
#[derive(Debug)]
pub struct Ticket {
    who: Requester,
    /// `None` for the local operator (`easel imagine`), who is not a member to gate.
    admission: Option<Admission>,
    quota: Quota,
    tasks: Vec<Planned>,
    private: bool,
}

/// One task of a ticket, before its backend is chosen by load.
#[derive(Debug)]
pub(super) struct Planned {
    pub kind: TaskKind,
    /// The task a button was pressed under, and the backend that made it.
    pub parent: Option<(TaskId, String)>,
    pub prompt: PromptSpec,
    /// The model the member asked for (a backend name or alias), if any.
    pub model: Option<String>,
    pub seed: u32,
    pub inputs: Vec<Bytes>,
    /// An edit after U: its canvas, mask and strength.
    pub edit: Option<crate::imaging::EditPlan>,
}

impl Planned {
    pub fn new(kind: TaskKind, prompt: PromptSpec) -> Planned {
        Planned {
            kind,
            parent: None,
            prompt,
            model: None,
            seed: fastrand::u32(..),
            inputs: Vec::new(),
            edit: None,
        }
    }

    fn request(&self) -> Request<'_> {
        Request {
            want: Some(Want::of(&self.kind)),
            model: self.model.as_deref(),
            spec: Some(&self.prompt),
            parent_backend: self.parent.as_ref().map(|(_, backend)| backend.as_str()),
            exclude: &[],
        }
    }
}

/// Images a member attached to /imagine, by their links: `image` as an image prompt,
/// `style` as a style reference.
#[derive(Debug, Clone, Default)]
pub struct References {
    pub image: Option<String>,
    pub style: Option<String>,
}

impl References {
    fn add_to(&self, spec: &mut PromptSpec) {
        if let Some(url) = &self.image {
            spec.image_urls.insert(0, url.clone());
        }
        if let Some(url) = &self.style {
            spec.params.style_refs.push(StyleRef { source: StyleSource::Url(url.clone()), weight: None });
        }
    }
}

impl Ticket {
    /// The member wants their /imagine results in their DMs (private mode).
    pub fn private(&self) -> bool {
        self.private
    }

    /// Private mode: each task's message is posted in `channel` (the member's DMs) instead of
    /// on the interaction.
    pub fn deliver_to_channel(&mut self, channel: String) {
        self.who.channel_id = Some(channel);
        self.who.message = MessageRef::default();
    }

    /// The images a /blend or /describe was given, fetched after acknowledging.
    pub fn attach(&mut self, inputs: Vec<Bytes>) {
        for task in &mut self.tasks {
            task.inputs = inputs.clone();
        }
    }
}

impl App {
    /// /imagine (and 1–4 under a /describe result): the member's options expanded and suffix
    /// added, the gate (an audit row either way), the prompt parsed (with `{a, b}`
    /// permutations) and their defaults filled in, then room in their queue and a backend for
    /// each prompt — `model` (a backend name or alias) when given, else their default model,
    /// else by `--v`/`--niji`, capability and health.
    pub async fn check_imagine(
        &self,
        raw: &str,
        model: Option<&str>,
        who: &Requester,
    ) -> Result<Ticket, Refused> {
        self.plan_imagine(&[raw], model, who, true, &References::default()).await
    }

    /// /imagine with images attached as options: `refs.image` leads the prompt as an image
    /// prompt and `refs.style` joins its style references, in every prompt it expands to.
    /// The caller attaches their bytes ([`Ticket::attach`]) once fetched.
    pub async fn check_imagine_with(
        &self,
        raw: &str,
        model: Option<&str>,
        who: &Requester,
        refs: &References,
    ) -> Result<Ticket, Refused> {
        self.plan_imagine(&[raw], model, who, true, refs).await
    }

    /// Several /imagine prompts as one request ("Imagine all" under a /describe result): one
    /// gate admission for all of them, and their tasks queued together or not at all.
    pub async fn check_imagine_all(
        &self,
        raws: &[&str],
        model: Option<&str>,
        who: &Requester,
    ) -> Result<Ticket, Refused> {
        self.plan_imagine(raws, model, who, true, &References::default()).await
    }

    /// `easel imagine` (and tests): the same path as /imagine for the local operator, who is
    /// not a Discord member, so without the gate; queued at once.
    pub async fn imagine(
        &self,
        raw: &str,
        model: Option<&str>,
        who: &Requester,
    ) -> Result<Vec<Task>, Refused> {
        let ticket = self.plan_imagine(&[raw], model, who, false, &References::default()).await?;
        self.queue(ticket).await
    }

    async fn plan_imagine(
        &self,
        raws: &[&str],
        model: Option<&str>,
        who: &Requester,
        gated: bool,
        refs: &References,
    ) -> Result<Ticket, Refused> {
        let (settings, options) = self.prefs.settings_and_options(&who.user_id).await?;
        let composed: Vec<String> =
            raws.iter().map(|raw| crate::prefs::compose(raw, &settings.suffix, &options)).collect();
        let parsed: Result<Vec<PromptSpec>, _> = composed
            .iter()
            .map(|c| prompt::parse(c, &self.prompt_limits()))
            .collect::<Result<Vec<_>, _>>()
            .map(|lists| lists.into_iter().flatten().collect());
        // The gate first, so a barred member hears why before any prompt advice.
        let admission = match gated {
            true => {
                let tasks = parsed.as_ref().map_or(raws.len() as u32, |specs| specs.len() as u32);
                Some(self.gate.admit(who, Ask::create("imagine", &composed.join("\n"), tasks)).await?)
            }
            false => None,
        };
        let specs = match parsed {
            Ok(specs) => specs,
            Err(e) => return Err(self.refuse_admitted(admission, e.into()).await),
        };
        let model = model.or(settings.model.as_deref());
        let tasks = specs
            .into_iter()
            .map(|mut spec| {
                refs.add_to(&mut spec);
                crate::prefs::apply_defaults(&mut spec, &settings);
                let seed = spec.params.seed.unwrap_or_else(|| fastrand::u32(..));
                Planned { model: model.map(str::to_string), seed, ..Planned::new(TaskKind::Imagine, spec) }
            })
            .collect();
        self.ticket(who, admission, tasks, settings.private).await
    }

    /// /blend: two to five images, attached once fetched, mixed into a grid of `aspect`.
    pub async fn check_blend(&self, who: &Requester, aspect: Aspect) -> Result<Ticket, Refused> {
        // The gate (and an audit row with an empty prompt) before anything else.
        let admission = self.gate.admit(who, Ask::create("blend", "", 1)).await?;
        let mut prompt = PromptSpec::default();
        prompt.params.aspect = Some(aspect);
        let planned = Planned::new(TaskKind::Blend, prompt);
        self.ticket(who, Some(admission), vec![planned], false)
            .await
            .map_err(|e| unsupported(e, Refused::CannotBlend))
    }

    /// /describe: four prompts for one image, attached once fetched.
    pub async fn check_describe(&self, who: &Requester) -> Result<Ticket, Refused> {
        let admission = self.gate.admit(who, Ask::create("describe", "", 1)).await?;
        let planned = Planned::new(TaskKind::Describe, PromptSpec::default());
        self.ticket(who, Some(admission), vec![planned], false)
            .await
            .map_err(|e| unsupported(e, Refused::CannotDescribe))
    }

    /// The ticket for `tasks`, once a backend can take each of them and the member has room
    /// for all: a request's tasks are queued together, or none of them.
    pub(super) async fn ticket(
        &self,
        who: &Requester,
        admission: Option<Admission>,
        tasks: Vec<Planned>,
        private: bool,
    ) -> Result<Ticket, Refused> {
        let quota = match &admission {
            Some(a) => a.quota,
            None => self.gate.quota_for(who).await?,
        };
        let checked = self.can_take(who, &tasks, &quota).await;
        if let Err(e) = checked {
            return Err(self.refuse_admitted(admission, e).await);
        }
        Ok(Ticket { who: who.clone(), admission, quota, tasks, private })
    }

    async fn can_take(&self, who: &Requester, tasks: &[Planned], quota: &Quota) -> Result<(), Refused> {
        // Which backend takes each task is chosen by load when it is queued; whether any can
        // does not depend on load, so it is known now without asking the database.
        let candidates = self.engine.backends().candidates(&HashMap::new());
        for task in tasks {
            routing::choose(&candidates, &task.request()).map_err(SubmitError::Route)?;
        }
        self.engine.check_room(&who.user_id, tasks.len() as u32, quota.running_cap).await?;
        Ok(())
    }

    /// A later check refused what the gate let through: the admission is audited as refused,
    /// with this refusal's reason, and the refusal goes back.
    pub(super) async fn refuse_admitted(&self, admission: Option<Admission>, refused: Refused) -> Refused {
        match self.record_admission(admission, Outcome::Refused(refused.code())).await {
            Ok(()) => refused,
            Err(e) => e,
        }
    }

    pub(super) async fn record_admission(
        &self,
        admission: Option<Admission>,
        outcome: Outcome,
    ) -> Result<(), Refused> {
        if let Some(mut admission) = admission {
            self.gate.record(&mut admission, outcome).await?;
        }
        Ok(())
    }

    /// The member has been answered: each task on the least busy backend that can take it,
    /// queued, then the audit row saying whether they were. Returns the tasks, in the order
    /// they were asked for.
    pub async fn queue(&self, ticket: Ticket) -> Result<Vec<Task>, Refused> {
        let Ticket { who, admission, quota, tasks, .. } = ticket;
        let queued = self.route_and_enqueue(&who, tasks, quota).await;
        match queued {
            Ok(tasks) => {
                self.record_admission(admission, Outcome::Accepted).await?;
                Ok(tasks)
            }
            Err(e) => Err(self.refuse_admitted(admission, e).await),
        }
    }

    async fn route_and_enqueue(
        &self,
        who: &Requester,
        tasks: Vec<Planned>,
        quota: Quota,
    ) -> Result<Vec<Task>, Refused> {
        let mut new = Vec::with_capacity(tasks.len());
        for (i, task) in tasks.into_iter().enumerate() {
            let route = self.engine.route(&task.request()).await?;
            // Only the first prompt fills the interaction's response; the others wait for the
            // follow-up the command posts, or a fast backend's result for a later prompt would
            // overwrite the first one's message.
            let message = MessageRef { original: who.message.original && i == 0, ..who.message.clone() };
            new.push(NewTask {
                kind: task.kind,
                parent_id: task.parent.map(|(id, _)| id),
                user_id: who.user_id.clone(),
                guild_id: who.guild_id.clone(),
                channel_id: who.channel_id.clone(),
                prompt: task.prompt,
                backend: route.backend,
                model: route.model,
                seed: task.seed,
                message,
                inputs: task.inputs,
                running_cap: None,
                edit: task.edit,
            });
        }
        Ok(self.enqueue(new, quota).await?)
    }

    /// The caller gave up (an attachment could not be fetched, DMs are closed, Discord did
    /// not take the acknowledgement): nothing is queued, and the audit says so.
    pub async fn abandon(&self, ticket: Ticket) {
        if let Err(e) = self.record_admission(ticket.admission, Outcome::Abandoned).await {
            tracing::warn!(user_id = %ticket.who.user_id, error = %e, "could not audit an abandoned request");
        }
    }

    /// The one place new tasks reach the engine; each carries the member's running cap. The
    /// engine creates a request's tasks all or none, in one transaction with the waiting cap
    /// and the member's daily quota, so a burst cannot slip past either.
    async fn enqueue(&self, mut tasks: Vec<NewTask>, quota: Quota) -> Result<Vec<Task>, SubmitError> {
        for task in &mut tasks {
            task.running_cap = Some(quota.running_cap);
        }
        self.engine.submit_all(tasks, self.submit_limits(quota.daily_limit)).await
    }
}

/// "No backend here can blend" in the words of the command, for a backend-less operation.
fn unsupported(e: Refused, instead: Refused) -> Refused {
    match e {
        Refused::Submit(SubmitError::Route(RouteError::Unsupported { .. })) => instead,
        other => other,
    }
}
