-- What each member set with /settings and /prefer. One row per member who changed anything;
-- members without a row use the defaults.
CREATE TABLE user_settings (
    user_id   TEXT    PRIMARY KEY,
    aspect    TEXT,                       -- default --ar, e.g. "3:2"
    model     TEXT,                       -- default backend or alias
    stylize   INTEGER,                    -- default --s
    strength  TEXT    NOT NULL DEFAULT 'strong' CHECK (strength IN ('strong', 'subtle')),
    private   INTEGER NOT NULL DEFAULT 0, -- results by DM
    remix     INTEGER NOT NULL DEFAULT 0, -- V and Vary open a modal to edit the prompt first
    suffix    TEXT    NOT NULL DEFAULT '',
    updated_at INTEGER NOT NULL
);

-- /prefer option: `--name` in a prompt expands to the value.
CREATE TABLE user_options (
    user_id TEXT NOT NULL,
    name    TEXT NOT NULL,
    value   TEXT NOT NULL,
    PRIMARY KEY (user_id, name)
);
