-- Twin of migrations/sqlite/0004_user_settings.sql.
CREATE TABLE user_settings (
    user_id    TEXT    PRIMARY KEY,
    aspect     TEXT,
    model      TEXT,
    stylize    BIGINT,
    strength   TEXT    NOT NULL DEFAULT 'strong' CHECK (strength IN ('strong', 'subtle')),
    private    BOOLEAN NOT NULL DEFAULT FALSE,
    remix      BOOLEAN NOT NULL DEFAULT FALSE,
    suffix     TEXT    NOT NULL DEFAULT '',
    updated_at BIGINT  NOT NULL
);

CREATE TABLE user_options (
    user_id TEXT NOT NULL,
    name    TEXT NOT NULL,
    value   TEXT NOT NULL,
    PRIMARY KEY (user_id, name)
);
