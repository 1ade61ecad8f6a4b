//! Following one accepted prompt to its end. The WebSocket, when there is one, gives progress,
//! previews and the end as they happen; `/history/{id}` is the authority on the result and is
//! read when the socket says the prompt is done, every `poll` when there is no socket (it
//! failed to open, broke mid-job, or the job was re-attached after a restart and its events go
//! to the old socket), and every ten polls besides, in case a socket stays open but silent.
//! `/queue` tells a prompt that is still waiting or running from one the server no longer
//! knows (it restarted: its queue and history live in memory).

use std::time::Duration;

use tokio::time::Instant;

use super::client::Api;
use super::errors;
use super::socket::{Event, Socket};
use super::wire::{ExecutionError, HistoryEntry};
use crate::backends::{BackendError, ProgressSink};

/// Retryable failures of a poll in a row absorbed here; the next is returned.
const POLL_RETRIES: u32 = 4;
/// Polls are this many times rarer while the socket reports.
const SOCKET_POLL_FACTOR: u32 = 10;
/// After the socket says "done", the history is written a moment later.
const FINISH_POLL: Duration = Duration::from_millis(100);

/// Waits for `prompt_id` to end; its history entry when it succeeded.
pub(super) async fn follow(
    api: &Api,
    prompt_id: &str,
    mut socket: Option<Socket>,
    progress: &ProgressSink,
    poll: Duration,
) -> Result<HistoryEntry, BackendError> {
    let mut percent = Percent::default();
    let mut failures = 0;
    let mut finished = false;
    let every = |socket: &Option<Socket>, finished: bool| match (socket, finished) {
        (_, true) => poll.min(FINISH_POLL),
        (Some(_), false) => poll * SOCKET_POLL_FACTOR,
        (None, false) => poll,
    };
    let mut next_poll = Instant::now() + every(&socket, finished);
    loop {
        let event = match socket.as_mut() {
            Some(s) => tokio::select! {
                event = s.next(prompt_id) => Some(event),
                _ = tokio::time::sleep_until(next_poll) => None,
            },
            None => {
                tokio::time::sleep_until(next_poll).await;
                None
            }
        };
        match event {
            Some(Some(Event::Progress { value, max })) => {
                if let Some(p) = percent.update(value, max) {
                    progress.percent(p, None);
                }
                continue;
            }
            Some(Some(Event::Preview(image))) => {
                progress.percent(percent.now(), Some(image));
                continue;
            }
            Some(Some(Event::Failed(e))) => return Err(errors::execution_failed(prompt_id, &e)),
            Some(Some(Event::Interrupted)) => return Err(errors::interrupted(prompt_id)),
            Some(Some(Event::Finished)) => {
                (socket, finished) = (None, true);
                next_poll = Instant::now();
                continue;
            }
            Some(None) => {
                tracing::warn!(backend = %api.backend, prompt = prompt_id, "comfyui websocket closed mid-job; polling /history instead");
                socket = None;
                next_poll = Instant::now();
                continue;
            }
            None => {}
        }
        match check(api, prompt_id).await {
            Ok(Some(entry)) => return ended(prompt_id, entry),
            Ok(None) => failures = 0,
            Err(e) if e.retryable && failures < POLL_RETRIES => {
                failures += 1;
                tracing::warn!(backend = %api.backend, prompt = prompt_id, error = %e.detail, "comfyui poll failed");
            }
            Err(e) => return Err(e),
        }
        next_poll = Instant::now() + every(&socket, finished);
    }
}

/// Where the server has a prompt.
enum Whereabouts {
    Ended(HistoryEntry),
    /// Queued or running.
    Waiting,
    Unknown,
}

async fn locate(api: &Api, prompt_id: &str) -> Result<Whereabouts, BackendError> {
    if let Some(entry) = api.history(prompt_id).await? {
        return Ok(Whereabouts::Ended(entry));
    }
    if api.queue().await?.place(prompt_id).is_some() {
        return Ok(Whereabouts::Waiting);
    }
    // The server moves a prompt from the queue to the history in one step, so one that left
    // the queue between the two reads is in the history now.
    Ok(match api.history(prompt_id).await? {
        Some(entry) => Whereabouts::Ended(entry),
        None => Whereabouts::Unknown,
    })
}

/// `Some` once the prompt is in the history, `None` while it waits or runs, and the "lost"
/// error when the server knows it nowhere.
async fn check(api: &Api, prompt_id: &str) -> Result<Option<HistoryEntry>, BackendError> {
    match locate(api, prompt_id).await? {
        Whereabouts::Ended(entry) => Ok(Some(entry)),
        Whereabouts::Waiting => Ok(None),
        Whereabouts::Unknown => Err(errors::lost(prompt_id)),
    }
}

/// Whether the server still has the prompt (queued, running or finished): a restarted Easel
/// re-attaches to it; one the server forgot is submitted again.
pub(super) async fn known(api: &Api, prompt_id: &str) -> Result<bool, BackendError> {
    Ok(!matches!(locate(api, prompt_id).await?, Whereabouts::Unknown))
}

/// The history entry of a prompt that ended: the failure it records, or the entry itself.
fn ended(prompt_id: &str, entry: HistoryEntry) -> Result<HistoryEntry, BackendError> {
    match entry.failure() {
        None => Ok(entry),
        Some((event, _)) if event == "execution_interrupted" => Err(errors::interrupted(prompt_id)),
        Some((_, data)) => {
            let e: ExecutionError = serde_json::from_value(data).unwrap_or_default();
            Err(errors::execution_failed(prompt_id, &e))
        }
    }
}

/// The percentage shown: sampler steps, never backwards, 99 at most (100 is for the result).
/// A workflow with several samplers (a hires pass) holds at its highest until it ends.
#[derive(Debug, Default)]
struct Percent(u8);

impl Percent {
    fn update(&mut self, value: f64, max: f64) -> Option<u8> {
        if !(max > 0.0 && value.is_finite()) {
            return None;
        }
        let p = ((value / max * 100.0).floor().clamp(1.0, 99.0)) as u8;
        (p > self.0).then(|| {
            self.0 = p;
            p
        })
    }

    fn now(&self) -> u8 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_percentage_follows_the_sampler_and_never_falls() {
        let mut p = Percent::default();
        assert_eq!(p.update(1.0, 20.0), Some(5));
        assert_eq!(p.update(1.0, 20.0), None);
        assert_eq!(p.update(20.0, 20.0), Some(99));
        assert_eq!(p.update(3.0, 10.0), None, "a second sampler starts over");
        assert_eq!(p.update(1.0, 0.0), None);
        assert_eq!(p.now(), 99);
    }
}
