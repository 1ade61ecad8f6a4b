-- One row that /healthz rewrites to prove the database accepts writes.
CREATE TABLE health_probe (
    id BIGINT PRIMARY KEY CHECK (id = 1),
    at BIGINT NOT NULL
);
