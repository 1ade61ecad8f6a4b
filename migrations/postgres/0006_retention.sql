-- Retention: the images of old finished tasks may be removed (by age or to keep the image
-- folder under a size cap). The task row stays and says so, so a button pressed under it
-- can answer why instead of failing. `images_removed_why` is 'age' or 'size'.
ALTER TABLE tasks ADD COLUMN images_removed_at BIGINT;
ALTER TABLE tasks ADD COLUMN images_removed_why TEXT CHECK (images_removed_why IN ('age', 'size'));

-- What retention looks up: finished tasks oldest first, audit rows by age, and whether any
-- other task's image row still points at a file (an upscale may reuse its parent's file).
CREATE INDEX tasks_by_finished ON tasks (finished_at);
CREATE INDEX prompt_audit_by_at ON prompt_audit (at);
CREATE INDEX task_images_by_path ON task_images (path);
