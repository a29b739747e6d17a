-- Silence and trouble alerts: one row per alert, from when it started to when it cleared. At
-- most one open alert per source and kind, so of several instances evaluating together exactly
-- one starts (and announces) it, and exactly one clears it.
CREATE TABLE alerts (
    id BIGSERIAL PRIMARY KEY,
    source TEXT NOT NULL,
    kind TEXT NOT NULL,
    message TEXT NOT NULL,
    started_at TIMESTAMP NOT NULL,
    cleared_at TIMESTAMP
);
CREATE UNIQUE INDEX alerts_open ON alerts (source, kind) WHERE cleared_at IS NULL;
