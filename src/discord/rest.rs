//! Easel's own client for the few Discord REST calls that deliver task messages (edit the
//! interaction response, follow-ups, channel messages). serenity's client does not surface
//! `retry_after` or the rate-limit headers, and with `api_base` set its rate limiter is off,
//! so message delivery paces itself here: it waits out `X-RateLimit-Reset-After` when a
//! bucket is empty, honours a 429's `retry_after`, and retries 5xx a few times.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use reqwest::header::{AUTHORIZATION, HeaderValue};
use reqwest::{Method, StatusCode};
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use crate::backends::http_util::retry_after;

const API_VERSION: &str = "/api/v10";
/// A 429 asking for a longer wait than this is treated as a failure rather than waited out.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);
const MAX_TRIES: u32 = 5;

/// Discord error codes Easel reacts to.
pub mod codes {
    pub const UNKNOWN_CHANNEL: u64 = 10003;
    pub const UNKNOWN_MESSAGE: u64 = 10008;
    pub const UNKNOWN_WEBHOOK: u64 = 10015;
    pub const UNKNOWN_INTERACTION: u64 = 10062;
    pub const INVALID_WEBHOOK_TOKEN: u64 = 50027;
}

#[derive(Debug, thiserror::Error)]
pub enum RestError {
    #[error("Discord answered {status}: {message} (code {code:?})")]
    Api { status: StatusCode, code: Option<u64>, message: String },
    #[error("could not reach Discord: {0}")]
    Transport(#[from] reqwest::Error),
}

impl RestError {
    pub fn code(&self) -> Option<u64> {
        match self {
            RestError::Api { code, .. } => *code,
            RestError::Transport(_) => None,
        }
    }

    /// The interaction token no longer works: deliver through the channel instead.
    pub fn token_expired(&self) -> bool {
        matches!(
            self.code(),
            Some(codes::INVALID_WEBHOOK_TOKEN | codes::UNKNOWN_WEBHOOK | codes::UNKNOWN_INTERACTION)
        ) || matches!(self, RestError::Api { status: StatusCode::UNAUTHORIZED, .. })
    }

    /// The message or channel is gone: stop trying to show anything there.
    pub fn target_gone(&self) -> bool {
        matches!(self.code(), Some(codes::UNKNOWN_MESSAGE | codes::UNKNOWN_CHANNEL))
    }
}

/// A file to attach.
#[derive(Debug, Clone)]
pub struct FilePart {
    pub name: String,
    pub mime: &'static str,
    pub bytes: Bytes,
}

/// What happens to the attachments a message already has.
#[derive(Debug, Clone)]
pub enum Attachments {
    /// Leave them (e.g. recolouring buttons under a grid).
    Keep,
    /// Replace them with this file, or remove them all.
    Replace(Option<FilePart>),
}

#[derive(Debug, Clone)]
pub struct Outgoing {
    pub content: String,
    pub components: serde_json::Value,
    /// The only user the message may ping.
    pub mention: Option<String>,
    pub attachments: Attachments,
    pub ephemeral: bool,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SentMessage {
    pub id: String,
    pub channel_id: String,
}

#[derive(Serialize)]
struct Payload<'a> {
    content: &'a str,
    components: &'a serde_json::Value,
    allowed_mentions: serde_json::Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    attachments: Option<Vec<serde_json::Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    flags: Option<u64>,
}

#[derive(Deserialize)]
struct ErrorBody {
    #[serde(default)]
    code: Option<u64>,
    #[serde(default)]
    message: String,
    #[serde(default)]
    retry_after: Option<f64>,
}

pub struct DiscordRest {
    client: reqwest::Client,
    base: String,
    /// `Bot <token>`, marked sensitive so it stays out of reqwest's and hyper's debug output.
    authorization: HeaderValue,
    application_id: u64,
    /// Per bucket (route + major parameter): do not send before this instant.
    paused: Mutex<HashMap<String, Instant>>,
    pub requests: AtomicU64,
    pub rate_limited: AtomicU64,
}

impl DiscordRest {
    /// `api_base` is the configured override (empty for Discord itself).
    pub fn new(api_base: &str, bot_token: &str, application_id: u64) -> anyhow::Result<DiscordRest> {
        let origin = if api_base.is_empty() { "https://discord.com" } else { api_base.trim_end_matches('/') };
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .user_agent(concat!(
                "DiscordBot (https://github.com/easel-bot/easel, ",
                env!("CARGO_PKG_VERSION"),
                ")"
            ))
            .build()?;
        let token = bot_token.trim_start_matches("Bot ");
        let mut authorization = HeaderValue::from_str(&format!("Bot {token}"))
            .map_err(|_| anyhow::anyhow!("the Discord token has characters an HTTP header cannot carry"))?;
        authorization.set_sensitive(true);
        Ok(DiscordRest {
            client,
            base: format!("{origin}{API_VERSION}"),
            authorization,
            application_id,
            paused: Mutex::new(HashMap::new()),
            requests: AtomicU64::new(0),
            rate_limited: AtomicU64::new(0),
        })
    }

    pub async fn edit_original(&self, token: &str, msg: &Outgoing) -> Result<SentMessage, RestError> {
        let path = format!("/webhooks/{}/{token}/messages/@original", self.application_id);
        self.send(Method::PATCH, &path, token, msg, false).await
    }

    pub async fn delete_original(&self, token: &str) -> Result<(), RestError> {
        let path = format!("/webhooks/{}/{token}/messages/@original", self.application_id);
        let url = format!("{}{path}", self.base);
        let resp = self.client.delete(url).send().await?;
        if resp.status().is_success() { Ok(()) } else { Err(api_error(resp).await.0) }
    }

    /// Deletes a follow-up message of an interaction whose token still lives.
    pub async fn delete_followup(&self, token: &str, message_id: &str) -> Result<(), RestError> {
        let path = format!("/webhooks/{}/{token}/messages/{message_id}", self.application_id);
        let resp = self.client.delete(format!("{}{path}", self.base)).send().await?;
        if resp.status().is_success() { Ok(()) } else { Err(api_error(resp).await.0) }
    }

    /// Deletes one of the bot's own messages in a channel (no permission needed for those).
    pub async fn delete_channel_message(&self, channel: &str, message_id: &str) -> Result<(), RestError> {
        let url = format!("{}/channels/{channel}/messages/{message_id}", self.base);
        let resp = self.client.delete(url).header(AUTHORIZATION, self.authorization.clone()).send().await?;
        if resp.status().is_success() { Ok(()) } else { Err(api_error(resp).await.0) }
    }

    /// The bot's DM channel with `user` (`POST /users/@me/channels`), for private mode.
    pub async fn open_dm(&self, user: &str) -> Result<String, RestError> {
        #[derive(serde::Deserialize)]
        struct Channel {
            id: String,
        }
        let url = format!("{}/users/@me/channels", self.base);
        let resp = self
            .client
            .post(url)
            .header(AUTHORIZATION, self.authorization.clone())
            .json(&serde_json::json!({ "recipient_id": user }))
            .send()
            .await?;
        if resp.status().is_success() {
            Ok(resp.json::<Channel>().await?.id)
        } else {
            Err(api_error(resp).await.0)
        }
    }

    pub async fn create_followup(&self, token: &str, msg: &Outgoing) -> Result<SentMessage, RestError> {
        let path = format!("/webhooks/{}/{token}", self.application_id);
        self.send(Method::POST, &path, token, msg, false).await
    }

    pub async fn edit_followup(
        &self,
        token: &str,
        message_id: &str,
        msg: &Outgoing,
    ) -> Result<SentMessage, RestError> {
        let path = format!("/webhooks/{}/{token}/messages/{message_id}", self.application_id);
        self.send(Method::PATCH, &path, token, msg, false).await
    }

    pub async fn create_channel_message(
        &self,
        channel: &str,
        msg: &Outgoing,
    ) -> Result<SentMessage, RestError> {
        self.send(Method::POST, &format!("/channels/{channel}/messages"), channel, msg, true).await
    }

    pub async fn edit_channel_message(
        &self,
        channel: &str,
        id: &str,
        msg: &Outgoing,
    ) -> Result<SentMessage, RestError> {
        self.send(Method::PATCH, &format!("/channels/{channel}/messages/{id}"), channel, msg, true).await
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        major: &str,
        msg: &Outgoing,
        as_bot: bool,
    ) -> Result<SentMessage, RestError> {
        // Keyed by the top-level resource only (the webhook token, the channel), across methods:
        // conservative where Discord shares one bucket between routes.
        let bucket = format!("{}:{major}", path.split('/').nth(1).unwrap_or(""));
        let mut tries = 0;
        loop {
            tries += 1;
            self.wait_for_bucket(&bucket).await;
            let mut req = self.client.request(method.clone(), format!("{}{path}", self.base));
            if as_bot {
                req = req.header(AUTHORIZATION, self.authorization.clone());
            }
            req = attach_body(req, msg);
            self.requests.fetch_add(1, Ordering::Relaxed);
            let resp = match req.send().await {
                Ok(r) => r,
                Err(e) if tries < MAX_TRIES && (e.is_timeout() || e.is_connect()) => {
                    tokio::time::sleep(Duration::from_millis(250 << tries)).await;
                    continue;
                }
                Err(e) => return Err(e.into()),
            };
            self.note_bucket(&bucket, resp.headers());
            let status = resp.status();
            if status.is_success() {
                return Ok(resp.json().await?);
            }
            metrics::counter!("easel_discord_api_errors_total", "status" => status.as_u16().to_string())
                .increment(1);
            let (err, retry_after) = api_error(resp).await;
            if status == StatusCode::TOO_MANY_REQUESTS {
                self.rate_limited.fetch_add(1, Ordering::Relaxed);
                let wait = retry_after.unwrap_or(Duration::from_secs(1));
                if tries < MAX_TRIES && wait <= MAX_RETRY_AFTER {
                    tracing::warn!(
                        bucket,
                        wait_ms = wait.as_millis() as u64,
                        "Discord rate limit hit; waiting"
                    );
                    self.pause(&bucket, wait);
                    continue;
                }
            } else if status.is_server_error() && tries < MAX_TRIES {
                tokio::time::sleep(Duration::from_millis(500 << tries)).await;
                continue;
            }
            return Err(err);
        }
    }

    async fn wait_for_bucket(&self, bucket: &str) {
        let until = self.paused.lock().expect("bucket map poisoned").get(bucket).copied();
        if let Some(until) = until {
            tokio::time::sleep_until(until).await;
        }
    }

    fn pause(&self, bucket: &str, for_: Duration) {
        self.paused.lock().expect("bucket map poisoned").insert(bucket.to_string(), Instant::now() + for_);
    }

    /// Empty bucket: wait until Discord says it refills, so the next call is not a 429.
    fn note_bucket(&self, bucket: &str, headers: &reqwest::header::HeaderMap) {
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
        let remaining = header("x-ratelimit-remaining").and_then(|v| v.parse::<u64>().ok());
        let reset_after = header("x-ratelimit-reset-after").and_then(|v| v.parse::<f64>().ok());
        if let (Some(0), Some(secs)) = (remaining, reset_after)
            && secs.is_finite()
            && secs > 0.0
        {
            self.pause(bucket, Duration::from_secs_f64(secs.min(MAX_RETRY_AFTER.as_secs_f64())));
        }
    }
}

fn attach_body(req: reqwest::RequestBuilder, msg: &Outgoing) -> reqwest::RequestBuilder {
    let (attachments, file) = match &msg.attachments {
        Attachments::Keep => (None, None),
        Attachments::Replace(None) => (Some(Vec::new()), None),
        Attachments::Replace(Some(f)) => {
            (Some(vec![serde_json::json!({"id": 0, "filename": f.name})]), Some(f))
        }
    };
    let payload = Payload {
        content: &msg.content,
        components: &msg.components,
        allowed_mentions: serde_json::json!({"parse": [], "users": msg.mention.iter().collect::<Vec<_>>()}),
        attachments,
        flags: msg.ephemeral.then_some(64),
    };
    match file {
        None => req.json(&payload),
        Some(f) => {
            let json = serde_json::to_string(&payload).unwrap_or_default();
            let payload_part = reqwest::multipart::Part::text(json).mime_str("application/json");
            let file_part =
                reqwest::multipart::Part::stream(f.bytes.clone()).file_name(f.name.clone()).mime_str(f.mime);
            match (payload_part, file_part) {
                (Ok(p), Ok(fp)) => req
                    .multipart(reqwest::multipart::Form::new().part("payload_json", p).part("files[0]", fp)),
                // Both mime strings are constants; this cannot fail, but never panic on it.
                _ => req.json(&payload),
            }
        }
    }
}

async fn api_error(resp: reqwest::Response) -> (RestError, Option<Duration>) {
    let status = resp.status();
    // Discord sends seconds, but a proxy in front of it may send an HTTP date.
    let header_retry = retry_after(resp.headers(), SystemTime::now()).map(|d| d.as_secs_f64());
    let body = resp.text().await.unwrap_or_default();
    let parsed: Option<ErrorBody> = serde_json::from_str(&body).ok();
    let retry = parsed.as_ref().and_then(|b| b.retry_after).or(header_retry);
    let retry = retry.filter(|s| s.is_finite() && *s >= 0.0).map(Duration::from_secs_f64);
    let (code, message) = match parsed {
        Some(b) => (b.code, b.message),
        None => (None, body.chars().take(200).collect()),
    };
    (RestError::Api { status, code, message }, retry)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_authorization_header_is_sensitive() {
        let rest = DiscordRest::new("", "Bot abc.def", 1).unwrap();
        assert!(rest.authorization.is_sensitive());
        assert_eq!(rest.authorization.to_str().unwrap(), "Bot abc.def");
        assert!(!format!("{:?}", rest.authorization).contains("abc"));
    }

    fn api(status: u16, code: u64) -> RestError {
        RestError::Api {
            status: StatusCode::from_u16(status).unwrap(),
            code: Some(code),
            message: String::new(),
        }
    }

    #[test]
    fn a_deleted_message_ends_delivery_quietly_and_a_dead_token_moves_to_the_channel() {
        for gone in [codes::UNKNOWN_MESSAGE, codes::UNKNOWN_CHANNEL] {
            assert!(api(404, gone).target_gone() && !api(404, gone).token_expired(), "{gone}");
        }
        for dead in [codes::UNKNOWN_WEBHOOK, codes::INVALID_WEBHOOK_TOKEN, codes::UNKNOWN_INTERACTION] {
            assert!(api(404, dead).token_expired() && !api(404, dead).target_gone(), "{dead}");
        }
        let busy = api(503, 0);
        assert!(!busy.target_gone() && !busy.token_expired(), "a 5xx is retried, not given up");
    }
}
