-- The edits after U (Zoom Out, Custom Zoom, Make Square, Pan, Vary (Region)): the canvas, the
-- mask and the strength, as JSON (imaging::EditPlan). Stored with the task so a restart runs
-- the same edit and its buttons keep working; NULL for every other kind of task.
ALTER TABLE tasks ADD COLUMN edit TEXT;
