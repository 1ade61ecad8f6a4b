-- Several backends at once. `model` is what the member asked for (a backend name or one of
-- its aliases, normalised), so a failover only moves the task to a backend that answers to
-- the same name; `tried_backends` lists, as a JSON array, the backends that already failed it,
-- so a failover never goes back to one of them.
ALTER TABLE tasks ADD COLUMN model TEXT;
ALTER TABLE tasks ADD COLUMN tried_backends TEXT NOT NULL DEFAULT '[]';
