//! Jobs at the service: reading a job out of an answer, the remote id that records a task's
//! jobs, and following them through `GET /v1/job/{id}` until every one has ended.
//!
//! One imagine is four jobs, so the remote id Easel stores is the JSON list of their ids
//! (`["j1","j2"]`), rewritten after each accepted POST; a bare id is read as a list of one.
//! A restart or a retry then re-attaches to every recorded job and submits only the ones
//! never accepted.
//!
//! Polling backs off while nothing moves (as for ImagineAPI): the base interval after any
//! change, doubling up to five times that while the jobs stand still.

use std::time::Duration;

use tokio::time::Instant;

use super::errors::{self, SERVICE};
use super::wire::{JOB_SHAPE, Job, Status};
use crate::backends::http_util::{JsonClient, Reply, excerpt, redact};
use crate::backends::{BackendError, ProgressSink};
use crate::config::Secret;

/// Polls back off to this many times the base interval while nothing changes.
const BACKOFF_FACTOR: u32 = 5;
/// Rounds in a row with a retryable polling failure absorbed here; the next is returned
/// (and the engine's retry re-attaches to the same jobs).
const POLL_RETRIES: u32 = 4;
/// 404s in a row before a job counts as lost.
const UNKNOWN_LIMIT: u32 = 3;
/// Longest wait a `Retry-After` imposes between two polls.
const MAX_POLL_WAIT: Duration = Duration::from_secs(60);

/// The remote id recording `ids`.
pub(super) fn encode_ids(ids: &[String]) -> String {
    serde_json::to_string(ids).unwrap_or_default()
}

/// The job ids a remote id records; empty for none.
pub(super) fn decode_ids(remote_id: Option<&str>) -> Vec<String> {
    let Some(text) = remote_id.map(str::trim).filter(|t| !t.is_empty()) else { return Vec::new() };
    match serde_json::from_str::<Vec<String>>(text) {
        Ok(ids) => ids.into_iter().map(|id| id.trim().to_string()).filter(|id| !id.is_empty()).collect(),
        Err(_) => vec![text.to_string()],
    }
}

/// A job out of a success answer.
pub(super) fn parse(reply: &Reply) -> Result<Job, BackendError> {
    serde_json::from_slice(&reply.body).map_err(|e| {
        SERVICE.bad_response(
            format!("an answer that is not {JOB_SHAPE}"),
            format!("{}: {e}; body: {}", reply.what, excerpt(&reply.body, 300)),
        )
    })
}

pub(super) struct Follow<'a> {
    pub api: &'a JsonClient,
    pub backend: &'a str,
    pub poll: Duration,
    /// Scrubbed from what is logged here: a careless server may echo it in an error body.
    pub key: &'a Secret,
}

impl Follow<'_> {
    /// Polls every job until all have succeeded, reporting their mean progress; the ended
    /// jobs come back in the order of `ids`. The first job that fails fails them all.
    pub async fn all(&self, ids: &[String], progress: &ProgressSink) -> Result<Vec<Job>, BackendError> {
        let base = self.poll;
        let longest = base * BACKOFF_FACTOR;
        let mut interval = base;
        let mut done: Vec<Option<Job>> = vec![None; ids.len()];
        let mut percents = vec![0u8; ids.len()];
        let mut unknown = vec![0u32; ids.len()];
        let (mut failures, mut reported) = (0, None);
        loop {
            let pending: Vec<usize> = (0..ids.len()).filter(|&i| done[i].is_none()).collect();
            let answers = futures::future::join_all(pending.iter().map(|&i| self.fetch(&ids[i]))).await;
            let mut trouble: Option<BackendError> = None;
            for (&i, answer) in pending.iter().zip(answers) {
                match answer {
                    Ok(Some(job)) => {
                        unknown[i] = 0;
                        match job.status() {
                            Some(Status::Succeeded) => {
                                percents[i] = 100;
                                done[i] = Some(job);
                            }
                            Some(Status::Failed | Status::Cancelled) => {
                                return Err(errors::job_failed(&ids[i], &job));
                            }
                            // 100 is for the finished job.
                            Some(Status::Working) => {
                                percents[i] = job.percent().unwrap_or(percents[i]).min(99)
                            }
                            Some(Status::Waiting) => percents[i] = 0,
                            None => {
                                return Err(SERVICE.bad_response(
                                    format!("{JOB_SHAPE} without a `status`"),
                                    format!("job {}: status missing", ids[i]),
                                ));
                            }
                        }
                    }
                    Ok(None) => {
                        unknown[i] += 1;
                        if unknown[i] >= UNKNOWN_LIMIT {
                            return Err(errors::lost(&ids[i]));
                        }
                    }
                    Err(e) if e.retryable => trouble = Some(e),
                    Err(e) => return Err(e),
                }
            }
            if done.iter().all(Option::is_some) {
                return Ok(done.into_iter().flatten().collect());
            }
            let mean =
                (percents.iter().map(|&p| u32::from(p)).sum::<u32>() / ids.len().max(1) as u32).min(99) as u8;
            let moved = reported != Some(mean);
            if moved {
                progress.percent(mean, None);
                reported = Some(mean);
            }
            interval = if moved { base } else { (interval * 2).min(longest) };
            let wait = match trouble {
                Some(e) if failures >= POLL_RETRIES => return Err(e),
                Some(e) => {
                    failures += 1;
                    let error = redact(e.clone(), &[self.key.expose()]).detail;
                    tracing::warn!(backend = %self.backend, %error, "opj poll failed");
                    // Never below the base interval: a `Retry-After: 0` must not make a busy loop.
                    e.retry_after.unwrap_or(interval).clamp(base, MAX_POLL_WAIT.max(base))
                }
                None => {
                    failures = 0;
                    interval
                }
            };
            tokio::time::sleep_until(Instant::now() + wait).await;
        }
    }

    /// `None` when the service does not know the job (404).
    async fn fetch(&self, id: &str) -> Result<Option<Job>, BackendError> {
        let reply = self.api.get(self.api.url(&["job", id])).await?;
        if reply.status == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        parse(&reply.success(|r| errors::from_status(self.backend, r))?).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_ids_record_every_job() {
        let ids = vec!["a".to_string(), "b,c".to_string()];
        assert_eq!(encode_ids(&ids), r#"["a","b,c"]"#);
        assert_eq!(decode_ids(Some(&encode_ids(&ids))), ids);
        assert_eq!(decode_ids(Some(" j-1 ")), ["j-1"]);
        assert!(decode_ids(Some("")).is_empty());
        assert!(decode_ids(None).is_empty());
        assert!(decode_ids(Some("[]")).is_empty());
    }
}
