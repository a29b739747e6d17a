-- Conversions sent by `send-test` (or carrying the configured test marker) are kept, but out of
-- finance's lists and totals unless asked for.
ALTER TABLE actions ADD COLUMN is_test BOOLEAN NOT NULL DEFAULT FALSE;
