-- Quotas, admin controls and the prompt audit.
--
-- `running_cap` is the member's running cap when the task was submitted (from their roles or
-- an admin's override); the scheduler claims a task only while its owner runs fewer than that.
-- NULL (tasks from before this migration, the command line) = `limits.per_user_running`.
ALTER TABLE tasks ADD COLUMN running_cap INTEGER;
-- What a daily quota counts: a member's tasks by creation time.
CREATE INDEX tasks_by_user_created ON tasks (user_id, created_at);

-- Switches an admin flips, kept across restarts (`paused` = '1' or '0').
CREATE TABLE admin_settings (
    key        TEXT    PRIMARY KEY,
    value      TEXT    NOT NULL,
    updated_by TEXT    NOT NULL,
    updated_at INTEGER NOT NULL
);

-- Members an admin barred from Easel.
CREATE TABLE bans (
    user_id    TEXT    PRIMARY KEY,
    banned_by  TEXT    NOT NULL,
    reason     TEXT,
    created_at INTEGER NOT NULL
);

-- An admin's per-member quota; NULL = not overridden, daily_limit 0 = unlimited.
CREATE TABLE quota_overrides (
    user_id     TEXT    PRIMARY KEY,
    daily_limit INTEGER CHECK (daily_limit >= 0),
    running_cap INTEGER CHECK (running_cap >= 1),
    set_by      TEXT    NOT NULL,
    set_at      INTEGER NOT NULL
);

-- Every prompt that asked for new work, accepted or refused, and why.
CREATE TABLE prompt_audit (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    at         INTEGER NOT NULL,                   -- unix ms
    user_id    TEXT    NOT NULL,
    guild_id   TEXT,                               -- NULL in a direct message
    channel_id TEXT,
    command    TEXT    NOT NULL,                   -- imagine, blend, describe, button
    prompt     TEXT    NOT NULL,
    verdict    TEXT    NOT NULL CHECK (verdict IN ('accepted', 'refused')),
    reason     TEXT                                -- why it was refused, e.g. banned-word:gore
);
CREATE INDEX prompt_audit_by_user ON prompt_audit (user_id, at);
