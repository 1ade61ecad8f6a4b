-- Deleted results. A member (or a moderator) can delete a result: its message goes, its image
-- files are removed from disk, and the rows stay — marked — so a later press on any button
-- that names the task can say it was deleted instead of "unknown task". Plain columns, the
-- same in PostgreSQL.
ALTER TABLE tasks ADD COLUMN deleted_at BIGINT;           -- unix ms; NULL = not deleted
ALTER TABLE tasks ADD COLUMN deleted_by TEXT;             -- the member who deleted it
ALTER TABLE task_images ADD COLUMN deleted_at BIGINT;     -- the file is gone from storage
