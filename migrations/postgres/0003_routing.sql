-- Twin of migrations/sqlite/0003_routing.sql: the model asked for, and the backends tried
-- (a JSON array as TEXT; a failover appends with jsonb).
ALTER TABLE tasks ADD COLUMN model TEXT;
ALTER TABLE tasks ADD COLUMN tried_backends TEXT NOT NULL DEFAULT '[]';
