//! The statements whose syntax is a dialect's own, one place each: the fair claim, the JSON
//! append of a failover, every upsert, and how a submit keeps a concurrent submit by the
//! same member out until it has counted and inserted. Everything else is written once, in
//! the table files. A second dialect is a second [`Sql`] value here (PostgreSQL: the claim
//! with `FOR UPDATE SKIP LOCKED`, `jsonb` for the append, a transaction-scoped advisory
//! lock on the member for submits).

/// One dialect's statements. Placeholders are `$1`, `$2`…, which every dialect Easel speaks
/// reads the same way.
pub(super) struct Sql {
    /// Starts a submit's transaction. SQLite: `BEGIN IMMEDIATE` takes the write lock up
    /// front, so two submits serialise instead of both counting before either inserts.
    pub begin_submit: &'static str,
    /// Run first inside a submit's transaction to lock the member (`$1` = user id), where
    /// `begin_submit` alone does not already serialise submits.
    pub lock_member: Option<&'static str>,
    /// Starts a transaction that decides what to remove and removes it (retention), so no
    /// submit slips in between. SQLite: `BEGIN IMMEDIATE`.
    pub begin_write: &'static str,
    /// `queued → submitted` for the next task of backend `$2` at time `$1`, fairly across
    /// members (least recently served first, then that member's oldest task), within each
    /// member's running cap (`$3` stands in for tasks without one) and never past an older
    /// task of the same member that is still held (`$4` = the held marker).
    pub claim: &'static str,
    /// Moves task `$4` from backend `$3` to `$1` at time `$2`, adding `$3` to the JSON list
    /// of tried backends; `$5` = the held marker.
    pub fail_over: &'static str,
    pub upsert_image: &'static str,
    pub upsert_admin_setting: &'static str,
    /// Inserts a ban unless there is one already (the first ban's record is kept).
    pub insert_ban: &'static str,
    pub upsert_quota_override: &'static str,
    pub upsert_user_settings: &'static str,
    /// Sets option `$2` of member `$1` to `$3`, unless that would give them more than `$4`.
    pub upsert_user_option: &'static str,
    pub probe_write: &'static str,
}

pub(super) static SQLITE: Sql = Sql {
    begin_submit: "BEGIN IMMEDIATE",
    lock_member: None,
    begin_write: "BEGIN IMMEDIATE",
    claim: "UPDATE tasks SET state = 'submitted', attempts = attempts + 1,
                 started_at = COALESCE(started_at, $1), updated_at = $1
             WHERE state = 'queued' AND id = (
                 SELECT t.id FROM tasks t
                 WHERE t.state = 'queued' AND t.backend = $2 AND t.next_attempt_at <= $1
                   AND (SELECT COUNT(*) FROM tasks a
                        WHERE a.user_id = t.user_id AND a.state IN ('submitted', 'running'))
                       < COALESCE(t.running_cap, $3)
                   AND NOT EXISTS (SELECT 1 FROM tasks h
                        WHERE h.user_id = t.user_id AND h.state = 'queued' AND h.next_attempt_at = $4
                          AND h.id < t.id)
                 ORDER BY (SELECT MAX(a.started_at) FROM tasks a WHERE a.user_id = t.user_id) IS NOT NULL,
                          (SELECT MAX(a.started_at) FROM tasks a WHERE a.user_id = t.user_id),
                          t.id
                 LIMIT 1)
             RETURNING *",
    fail_over: "UPDATE tasks SET state = 'queued', backend = $1, next_attempt_at = $2, progress = 0,
                    updated_at = $2, tried_backends = json_insert(tried_backends, '$[#]', $3)
                WHERE id = $4 AND backend = $3 AND remote_id IS NULL
                  AND (state IN ('submitted', 'running') OR (state = 'queued' AND next_attempt_at != $5))",
    upsert_image: "INSERT INTO task_images (task_id, role, idx, path, mime, width, height, bytes, seed)
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                   ON CONFLICT (task_id, role, idx) DO UPDATE SET path = excluded.path,
                       mime = excluded.mime, width = excluded.width, height = excluded.height,
                       bytes = excluded.bytes, seed = excluded.seed",
    upsert_admin_setting: "INSERT INTO admin_settings (key, value, updated_by, updated_at)
                           VALUES ($1, $2, $3, $4)
                           ON CONFLICT (key) DO UPDATE SET value = excluded.value,
                               updated_by = excluded.updated_by, updated_at = excluded.updated_at",
    insert_ban: "INSERT INTO bans (user_id, banned_by, reason, created_at) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (user_id) DO NOTHING",
    upsert_quota_override: "INSERT INTO quota_overrides (user_id, daily_limit, running_cap, set_by, set_at)
                            VALUES ($1, $2, $3, $4, $5)
                            ON CONFLICT (user_id) DO UPDATE SET daily_limit = excluded.daily_limit,
                                running_cap = excluded.running_cap, set_by = excluded.set_by,
                                set_at = excluded.set_at",
    upsert_user_settings: "INSERT INTO user_settings
                               (user_id, aspect, model, stylize, strength, private, remix, suffix, updated_at)
                           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                           ON CONFLICT (user_id) DO UPDATE SET aspect = excluded.aspect,
                               model = excluded.model, stylize = excluded.stylize,
                               strength = excluded.strength, private = excluded.private,
                               remix = excluded.remix, suffix = excluded.suffix,
                               updated_at = excluded.updated_at",
    upsert_user_option: "INSERT INTO user_options (user_id, name, value) SELECT $1, $2, $3
                         WHERE (SELECT COUNT(*) FROM user_options WHERE user_id = $1) < $4
                            OR EXISTS (SELECT 1 FROM user_options WHERE user_id = $1 AND name = $2)
                         ON CONFLICT (user_id, name) DO UPDATE SET value = excluded.value",
    probe_write: "INSERT INTO health_probe (id, at) VALUES (1, $1)
                  ON CONFLICT (id) DO UPDATE SET at = excluded.at",
};
