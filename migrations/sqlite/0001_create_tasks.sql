-- Tasks and their images. Every state change is a guarded UPDATE (… WHERE state = ?), so
-- a restart or a second worker can never move a task twice.
CREATE TABLE tasks (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    kind              TEXT    NOT NULL,            -- TaskKind as JSON
    state             TEXT    NOT NULL CHECK (state IN
                        ('queued', 'submitted', 'running', 'succeeded', 'failed', 'canceled')),
    parent_id         INTEGER REFERENCES tasks (id),
    user_id           TEXT    NOT NULL,
    guild_id          TEXT,
    channel_id        TEXT,
    prompt            TEXT    NOT NULL,            -- PromptSpec as JSON
    backend           TEXT    NOT NULL,
    remote_id         TEXT,                        -- the backend's job id, once it has one
    remote_state      TEXT,                        -- opaque JSON the backend asked to keep
    progress          INTEGER NOT NULL DEFAULT 0,
    seed              INTEGER NOT NULL,
    attempts          INTEGER NOT NULL DEFAULT 0,
    next_attempt_at   INTEGER NOT NULL,            -- unix ms; retries wait until then
    deadline_at       INTEGER NOT NULL,            -- unix ms; the task fails after it
    failure_code      TEXT,
    failure_message   TEXT,
    output_prompts    TEXT    NOT NULL DEFAULT '[]',
    notes             TEXT    NOT NULL DEFAULT '[]',
    input_count       INTEGER NOT NULL DEFAULT 0,
    interaction_token TEXT,
    token_expires_at  INTEGER,
    message_id        TEXT,
    message_original  INTEGER NOT NULL DEFAULT 0, -- the message is the interaction's original response
    delivered         INTEGER NOT NULL DEFAULT 0, -- the final state has been shown on Discord
    created_at        INTEGER NOT NULL,
    started_at        INTEGER,
    finished_at       INTEGER,
    updated_at        INTEGER NOT NULL
);

CREATE INDEX tasks_runnable ON tasks (backend, state, next_attempt_at);
CREATE INDEX tasks_by_user ON tasks (user_id, state, started_at);
CREATE INDEX tasks_by_parent ON tasks (parent_id);

CREATE TABLE task_images (
    task_id INTEGER NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    role    TEXT    NOT NULL CHECK (role IN ('image', 'grid', 'input', 'preview')),
    idx     INTEGER NOT NULL,
    path    TEXT    NOT NULL,
    mime    TEXT    NOT NULL,
    width   INTEGER NOT NULL,
    height  INTEGER NOT NULL,
    bytes   INTEGER NOT NULL,
    seed    INTEGER,
    PRIMARY KEY (task_id, role, idx)
);
