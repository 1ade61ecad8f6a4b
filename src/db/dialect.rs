//! The statements whose syntax is a dialect's own, one place each: the fair claim, the JSON
//! append of a failover, every upsert, and how a submit keeps a concurrent submit by the
//! same member out until it has counted and inserted. Everything else is written once, in
//! the table files. Two dialects: [`SQLITE`] and [`POSTGRES`] (the claim with `FOR UPDATE
//! SKIP LOCKED` and an advisory lock on the member, `jsonb` for the append, a
//! transaction-scoped advisory lock on the member for submits). The upserts are the same
//! text in both (`INSERT … ON CONFLICT … DO UPDATE SET x = excluded.x`), named once here.

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
    /// Run first in retention's transaction where `begin_write` does not already exclude
    /// submits, and its shared twin in a submit that works from a parent's images: the two
    /// then serialise as SQLite's write lock makes them, so a U/V submitted during a removal
    /// either pins its parent first or sees its images gone.
    pub retention_lock: Option<(&'static str, &'static str)>,
    /// `queued → submitted` for the next task of backend `$2` at time `$1`, fairly across
    /// members (least recently served first, then that member's oldest task), within each
    /// member's running cap (`$3` stands in for tasks without one) and never past an older
    /// task of the same member that is still held (`$4` = the held marker).
    pub claim: Claim,
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

/// How a dialect claims a task.
pub(super) enum Claim {
    /// One statement picks and claims (SQLite: one writer at a time, so the count of the
    /// member's active tasks inside it is exact).
    OneStatement(&'static str),
    /// In one READ COMMITTED transaction: `pick` (same binds as the one statement) returns
    /// the candidate's `(id, user_id)` and locks its row, skipping rows another claim holds;
    /// `lock_member` (`$1` = user) waits for any other claim of the same member to commit;
    /// `take` (`$1` = now, `$2` = id, `$3` = default cap) claims it only if the member is
    /// still under their cap, counted after the lock, so no two claims both pass it.
    PickLockTake { pick: &'static str, lock_member: &'static str, take: &'static str },
}

const UPSERT_IMAGE: &str =
    "INSERT INTO task_images (task_id, role, idx, path, mime, width, height, bytes, seed)
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                   ON CONFLICT (task_id, role, idx) DO UPDATE SET path = excluded.path,
                       mime = excluded.mime, width = excluded.width, height = excluded.height,
                       bytes = excluded.bytes, seed = excluded.seed";
const UPSERT_ADMIN_SETTING: &str = "INSERT INTO admin_settings (key, value, updated_by, updated_at)
                           VALUES ($1, $2, $3, $4)
                           ON CONFLICT (key) DO UPDATE SET value = excluded.value,
                               updated_by = excluded.updated_by, updated_at = excluded.updated_at";
const INSERT_BAN: &str = "INSERT INTO bans (user_id, banned_by, reason, created_at) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (user_id) DO NOTHING";
const UPSERT_QUOTA_OVERRIDE: &str =
    "INSERT INTO quota_overrides (user_id, daily_limit, running_cap, set_by, set_at)
                            VALUES ($1, $2, $3, $4, $5)
                            ON CONFLICT (user_id) DO UPDATE SET daily_limit = excluded.daily_limit,
                                running_cap = excluded.running_cap, set_by = excluded.set_by,
                                set_at = excluded.set_at";
const UPSERT_USER_SETTINGS: &str = "INSERT INTO user_settings
                               (user_id, aspect, model, stylize, strength, private, remix, suffix, updated_at)
                           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                           ON CONFLICT (user_id) DO UPDATE SET aspect = excluded.aspect,
                               model = excluded.model, stylize = excluded.stylize,
                               strength = excluded.strength, private = excluded.private,
                               remix = excluded.remix, suffix = excluded.suffix,
                               updated_at = excluded.updated_at";
const UPSERT_USER_OPTION: &str = "INSERT INTO user_options (user_id, name, value) SELECT $1, $2, $3
                         WHERE (SELECT COUNT(*) FROM user_options WHERE user_id = $1) < $4
                            OR EXISTS (SELECT 1 FROM user_options WHERE user_id = $1 AND name = $2)
                         ON CONFLICT (user_id, name) DO UPDATE SET value = excluded.value";
const PROBE_WRITE: &str = "INSERT INTO health_probe (id, at) VALUES (1, $1)
                  ON CONFLICT (id) DO UPDATE SET at = excluded.at";

pub(super) static SQLITE: Sql = Sql {
    begin_submit: "BEGIN IMMEDIATE",
    lock_member: None,
    begin_write: "BEGIN IMMEDIATE",
    retention_lock: None,
    claim: Claim::OneStatement(
        "UPDATE tasks SET state = 'submitted', attempts = attempts + 1,
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
    ),
    fail_over: "UPDATE tasks SET state = 'queued', backend = $1, next_attempt_at = $2, progress = 0,
                    updated_at = $2, tried_backends = json_insert(tried_backends, '$[#]', $3)
                WHERE id = $4 AND backend = $3 AND remote_id IS NULL
                  AND (state IN ('submitted', 'running') OR (state = 'queued' AND next_attempt_at != $5))",
    upsert_image: UPSERT_IMAGE,
    upsert_admin_setting: UPSERT_ADMIN_SETTING,
    insert_ban: INSERT_BAN,
    upsert_quota_override: UPSERT_QUOTA_OVERRIDE,
    upsert_user_settings: UPSERT_USER_SETTINGS,
    upsert_user_option: UPSERT_USER_OPTION,
    probe_write: PROBE_WRITE,
};

/// Advisory-lock namespaces (the first key of `pg_advisory_xact_lock(int, int)`; the second
/// is `hashtext(user_id)`): a submit and a claim of the same member never wait for each
/// other, only for another of their own kind.
pub(super) static POSTGRES: Sql = Sql {
    // READ COMMITTED: each statement after the member lock sees every commit before it.
    begin_submit: "BEGIN",
    lock_member: Some("SELECT pg_advisory_xact_lock(1, hashtext($1))"),
    // READ COMMITTED plus the retention lock: each statement after the lock sees what the
    // other side committed before it.
    begin_write: "BEGIN",
    retention_lock: Some(("SELECT pg_advisory_xact_lock(3, 0)", "SELECT pg_advisory_xact_lock_shared(3, 0)")),
    claim: Claim::PickLockTake {
        pick: "SELECT t.id, t.user_id FROM tasks t
               WHERE t.state = 'queued' AND t.backend = $2 AND t.next_attempt_at <= $1
                 AND (SELECT COUNT(*) FROM tasks a
                      WHERE a.user_id = t.user_id AND a.state IN ('submitted', 'running'))
                     < COALESCE(t.running_cap, $3)
                 AND NOT EXISTS (SELECT 1 FROM tasks h
                      WHERE h.user_id = t.user_id AND h.state = 'queued' AND h.next_attempt_at = $4
                        AND h.id < t.id)
               ORDER BY (SELECT MAX(a.started_at) FROM tasks a WHERE a.user_id = t.user_id) NULLS FIRST,
                        t.id
               LIMIT 1
               FOR UPDATE OF t SKIP LOCKED",
        lock_member: "SELECT pg_advisory_xact_lock(2, hashtext($1))",
        take: "UPDATE tasks SET state = 'submitted', attempts = attempts + 1,
                   started_at = COALESCE(started_at, $1), updated_at = $1
               WHERE id = $2 AND state = 'queued'
                 AND (SELECT COUNT(*) FROM tasks a
                      WHERE a.user_id = tasks.user_id AND a.state IN ('submitted', 'running'))
                     < COALESCE(running_cap, $3)
               RETURNING *",
    },
    fail_over: "UPDATE tasks SET state = 'queued', backend = $1, next_attempt_at = $2, progress = 0,
                    updated_at = $2,
                    tried_backends = (tried_backends::jsonb || jsonb_build_array($3::text))::text
                WHERE id = $4 AND backend = $3 AND remote_id IS NULL
                  AND (state IN ('submitted', 'running') OR (state = 'queued' AND next_attempt_at != $5))",
    upsert_image: UPSERT_IMAGE,
    upsert_admin_setting: UPSERT_ADMIN_SETTING,
    insert_ban: INSERT_BAN,
    upsert_quota_override: UPSERT_QUOTA_OVERRIDE,
    upsert_user_settings: UPSERT_USER_SETTINGS,
    upsert_user_option: UPSERT_USER_OPTION,
    probe_write: PROBE_WRITE,
};
