-- Favourites and the showcase. A member's ❤️ on a single image is a row here (pressed again,
-- the row goes); favourited results are kept by retention. `showcase_posts` holds at most one
-- row per task: the first heart claims it (a primary-key insert, so a burst of hearts posts
-- once), and the posted message's id is filled in after the post.
CREATE TABLE favorites (
    user_id    TEXT    NOT NULL,
    task_id    INTEGER NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,               -- unix ms
    PRIMARY KEY (user_id, task_id)
);
CREATE INDEX favorites_by_task ON favorites (task_id);

CREATE TABLE showcase_posts (
    task_id    INTEGER PRIMARY KEY REFERENCES tasks(id) ON DELETE CASCADE,
    channel_id TEXT    NOT NULL,
    message_id TEXT,                           -- NULL while the post is being sent
    posted_by  TEXT    NOT NULL,               -- whose heart put it there
    posted_at  INTEGER NOT NULL                -- unix ms
);
