//! The sandbox's public record types: what test code reads back after driving the bot.
//!
//! They are deliberately plainer than Discord's objects (ids are `u64`, times are durations on
//! the sandbox clock) and carry what a test wants to assert on: who may see a message, how often
//! it was edited, which interaction made it, and every limit the bot broke. All of them are
//! `Serialize` so the `/control` HTTP API can hand the same records to a browser page.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

/// A message in the sandbox's one text channel, as the sandbox stores it.
#[derive(Clone, Debug, Serialize)]
pub struct Message {
    pub id: u64,
    pub channel_id: u64,
    pub author_id: u64,
    pub content: String,
    pub components: Vec<ActionRow>,
    pub attachments: Vec<Attachment>,
    /// Embeds exactly as the bot sent them.
    pub embeds: Vec<Value>,
    /// Discord message flags (64 = ephemeral, 128 = loading).
    pub flags: u64,
    /// `Some(user)` for an ephemeral message: only that user sees it.
    pub ephemeral_for: Option<u64>,
    /// A deferred ("Bot is thinking…") response nobody has filled in yet.
    pub loading: bool,
    /// How many times the message was changed after it was created.
    pub edits: u32,
    /// The interaction whose response or followup this is.
    pub interaction_id: Option<u64>,
    pub created_at: Duration,
    pub edited_at: Option<Duration>,
}

impl Message {
    pub fn is_ephemeral(&self) -> bool {
        self.ephemeral_for.is_some()
    }

    /// Whether `user` sees this message in the channel.
    pub fn visible_to(&self, user: u64) -> bool {
        self.ephemeral_for.is_none_or(|only| only == user)
    }

    pub fn buttons(&self) -> impl Iterator<Item = &Button> {
        self.components.iter().flat_map(|row| row.buttons.iter())
    }

    /// The first button whose label is `label`.
    pub fn button(&self, label: &str) -> Option<&Button> {
        self.buttons().find(|b| b.label.as_deref() == Some(label))
    }

    pub fn button_by_id(&self, custom_id: &str) -> Option<&Button> {
        self.buttons().find(|b| b.custom_id.as_deref() == Some(custom_id))
    }

    /// Button labels row by row, flattened (buttons without a label are skipped).
    pub fn labels(&self) -> Vec<&str> {
        self.buttons().filter_map(|b| b.label.as_deref()).collect()
    }

    pub fn custom_ids(&self) -> Vec<&str> {
        self.buttons().filter_map(|b| b.custom_id.as_deref()).collect()
    }

    pub fn attachment(&self, filename: &str) -> Option<&Attachment> {
        self.attachments.iter().find(|a| a.filename == filename)
    }
}

/// An action row. Buttons are typed; other row components (select menus) are kept as sent.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ActionRow {
    pub buttons: Vec<Button>,
    pub others: Vec<Value>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Button {
    /// 1 primary, 2 secondary, 3 success, 4 danger, 5 link, 6 premium.
    pub style: u8,
    pub label: Option<String>,
    pub emoji: Option<Emoji>,
    pub custom_id: Option<String>,
    pub url: Option<String>,
    pub disabled: bool,
}

#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Emoji {
    pub name: String,
    pub id: Option<u64>,
    pub animated: bool,
}

/// A stored file: on a message, or uploaded by a test for an attachment option.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Attachment {
    pub id: u64,
    pub filename: String,
    pub content_type: Option<String>,
    pub size: u64,
    /// `http://127.0.0.1:PORT/attachments/{channel}/{id}/{filename}?ex=…` on the sandbox.
    pub url: String,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub description: Option<String>,
}

/// One option of a slash command invocation.
#[derive(Clone, Debug, Serialize)]
pub struct CommandOption {
    pub name: String,
    pub value: OptionValue,
}

#[derive(Clone, Debug, Serialize)]
#[serde(tag = "type", content = "value", rename_all = "snake_case")]
pub enum OptionValue {
    String(String),
    Integer(i64),
    Number(f64),
    Boolean(bool),
    User(u64),
    /// The id of an attachment made with `Sandbox::upload`.
    Attachment(u64),
    /// A subcommand (`/prefer suffix`) with its own options.
    Subcommand(Vec<CommandOption>),
    /// A group of subcommands (`/prefer option …`) holding the one chosen.
    Group(Vec<CommandOption>),
}

impl OptionValue {
    /// Discord's application command option type number.
    pub fn kind(&self) -> u8 {
        match self {
            OptionValue::Subcommand(_) => 1,
            OptionValue::String(_) => 3,
            OptionValue::Integer(_) => 4,
            OptionValue::Boolean(_) => 5,
            OptionValue::User(_) => 6,
            OptionValue::Number(_) => 10,
            OptionValue::Attachment(_) => 11,
            OptionValue::Group(_) => 2,
        }
    }
}

impl CommandOption {
    pub fn string(name: &str, value: impl Into<String>) -> CommandOption {
        CommandOption { name: name.into(), value: OptionValue::String(value.into()) }
    }
    pub fn integer(name: &str, value: i64) -> CommandOption {
        CommandOption { name: name.into(), value: OptionValue::Integer(value) }
    }
    pub fn number(name: &str, value: f64) -> CommandOption {
        CommandOption { name: name.into(), value: OptionValue::Number(value) }
    }
    pub fn boolean(name: &str, value: bool) -> CommandOption {
        CommandOption { name: name.into(), value: OptionValue::Boolean(value) }
    }
    pub fn user(name: &str, user_id: u64) -> CommandOption {
        CommandOption { name: name.into(), value: OptionValue::User(user_id) }
    }
    pub fn subcommand(name: &str, options: Vec<CommandOption>) -> CommandOption {
        CommandOption { name: name.into(), value: OptionValue::Subcommand(options) }
    }
    pub fn group(name: &str, subcommand: CommandOption) -> CommandOption {
        CommandOption { name: name.into(), value: OptionValue::Group(vec![subcommand]) }
    }
    pub fn attachment(name: &str, attachment: &Attachment) -> CommandOption {
        CommandOption { name: name.into(), value: OptionValue::Attachment(attachment.id) }
    }
}

/// What a test learns about one interaction it dispatched.
#[derive(Clone, Debug, Serialize)]
pub struct InteractionRecord {
    pub id: u64,
    pub token: String,
    pub user_id: u64,
    /// Where it happened: the guild's text channel, or the user's DM channel with the bot.
    pub channel_id: u64,
    pub kind: InteractionKind,
    pub dispatched_at: Duration,
    /// The first (and only accepted) callback.
    pub callback: Option<CallbackRecord>,
    /// The message `@original` refers to, once there is one.
    pub original_message_id: Option<u64>,
    /// Messages created by followups (not counting one that filled a deferred response).
    pub followup_ids: Vec<u64>,
    /// Everything the bot did with this interaction, in order (rejected calls included).
    pub events: Vec<InteractionEvent>,
    /// The modal the bot opened (callback type 9), as sent.
    pub modal: Option<Value>,
    /// The choices the bot offered (callback type 8), as sent.
    pub choices: Option<Value>,
}

impl InteractionRecord {
    pub fn callback_type(&self) -> Option<u8> {
        self.callback.as_ref().map(|c| c.kind)
    }
}

#[derive(Clone, Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum InteractionKind {
    /// Type 2: a slash command.
    Command { name: String, options: Vec<CommandOption> },
    /// Type 3: a button click on `message_id`.
    Component { custom_id: String, message_id: u64 },
    /// Type 4: the member is typing into option `focused` of command `name`.
    Autocomplete { name: String, focused: String },
    /// Type 5: the member submitted the form `custom_id`, opened from `message_id`'s button.
    Modal { custom_id: String, message_id: Option<u64> },
}

#[derive(Clone, Debug, Serialize)]
pub struct CallbackRecord {
    /// 4 message, 5 deferred message, 6 deferred update, 7 update message, 8 autocomplete
    /// choices, 9 modal.
    pub kind: u8,
    pub at: Duration,
    /// Dispatch to callback on the sandbox clock.
    pub latency: Duration,
    pub ephemeral: bool,
}

#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum InteractionEvent {
    Callback {
        kind: u8,
    },
    EditOriginal {
        message_id: u64,
    },
    DeleteOriginal {
        message_id: u64,
    },
    /// A followup; `filled_deferred` when it filled the loading message of a type 5 instead.
    Followup {
        message_id: u64,
        ephemeral: bool,
        filled_deferred: bool,
    },
    EditFollowup {
        message_id: u64,
    },
    DeleteFollowup {
        message_id: u64,
    },
    Rejected {
        route: RouteKind,
        status: u16,
        code: u32,
    },
}

/// A limit or protocol rule the bot broke, with the answer the sandbox gave.
#[derive(Clone, Debug, Serialize)]
pub struct Violation {
    pub kind: ViolationKind,
    pub detail: String,
    pub route: RouteKind,
    pub interaction_id: Option<u64>,
    pub at: Duration,
    /// HTTP status answered (0 for gateway violations).
    pub status: u16,
    /// Discord's JSON error code answered (or gateway close code).
    pub code: u32,
}

#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum ViolationKind {
    /// First callback more than 3 s after dispatch.
    LateCallback,
    /// Webhook call more than 15 min after dispatch.
    TokenExpired,
    /// A second callback for the same interaction.
    AlreadyAcknowledged,
    /// A callback type that does not fit the interaction (6/7 for a command, 1, 8, unknown).
    InvalidCallbackType,
    /// Webhook call for an interaction that was never acknowledged.
    NotAcknowledged,
    TooManyRows,
    TooManyComponents,
    CustomIdTooLong,
    DuplicateCustomId,
    LabelTooLong,
    ContentTooLong,
    TooManyFiles,
    FileTooLarge,
    EmptyMessage,
    UnknownMessage,
    UnknownChannel,
    UnknownWebhook,
    UnknownInteraction,
    InvalidToken,
    Unauthorized,
    CannotEditOthersMessage,
    InvalidFormBody,
    InvalidJson,
    UnsupportedRoute,
    GatewayProtocol,
}

/// The sandbox's name for each Discord route it serves, used in stats, violations and
/// fault injection.
#[derive(Clone, Copy, Debug, Serialize, serde::Deserialize, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum RouteKind {
    /// Matches every Discord API route (only meaningful for `rate_limit_next` and `fail_next`).
    Any,
    GetGateway,
    GetGatewayBot,
    GetApplication,
    GetCurrentUser,
    /// `PUT` or `GET` of global or guild commands.
    Commands,
    InteractionCallback,
    GetOriginal,
    EditOriginal,
    DeleteOriginal,
    CreateFollowup,
    GetFollowup,
    EditFollowup,
    DeleteFollowup,
    CreateMessage,
    GetMessage,
    EditMessage,
    DeleteMessage,
    Attachment,
    Gateway,
    Unknown,
}

impl RouteKind {
    pub fn matches(self, other: RouteKind) -> bool {
        self == other || (self == RouteKind::Any && !matches!(other, RouteKind::Attachment))
    }
}

/// Counters for benchmarks and load tests.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Stats {
    pub requests: BTreeMap<RouteKind, u64>,
    /// Every 429 answered, injected (`rate_limit_next`) or earned, by route.
    pub rate_limited: BTreeMap<RouteKind, u64>,
    pub rate_limited_total: u64,
    /// The 429s the bot earned by going over one of Discord's limits (per-route or global),
    /// as opposed to injected ones: 0 means it never hit a real limit. Not violations, since
    /// Discord does not hold them against a bot, but a well-paced bot keeps this at 0.
    pub rate_limited_real: u64,
    /// Of `rate_limited_real`, those that hit the global limit.
    pub rate_limited_global: u64,
    /// Requests answered with an injected failure (`fail_next`), by route.
    pub injected_failures: BTreeMap<RouteKind, u64>,
    pub injected_failures_total: u64,
    /// Dispatch → first callback, ms on the sandbox clock, in callback order.
    pub callback_latencies_ms: Vec<f64>,
    pub interactions_dispatched: u64,
    pub messages_created: u64,
    pub message_edits: u64,
    pub bytes_uploaded: u64,
    pub gateway_connections: u64,
    pub identifies: u64,
    pub resumes: u64,
    pub heartbeats: u64,
    pub dispatches: u64,
    pub violations: u64,
}

impl Stats {
    pub fn requests_to(&self, route: RouteKind) -> u64 {
        self.requests.get(&route).copied().unwrap_or(0)
    }

    /// The `q` quantile (0.0–1.0) of the callback latencies, nearest rank.
    pub fn callback_latency_quantile_ms(&self, q: f64) -> Option<f64> {
        let mut v = self.callback_latencies_ms.clone();
        if v.is_empty() {
            return None;
        }
        v.sort_by(f64::total_cmp);
        let rank = ((q.clamp(0.0, 1.0) * v.len() as f64).ceil() as usize).clamp(1, v.len());
        Some(v[rank - 1])
    }
}
