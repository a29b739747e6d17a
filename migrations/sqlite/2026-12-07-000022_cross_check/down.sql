DROP TABLE reconciliation_seen;
DROP TABLE reconciliation_differences;
DROP TABLE reconciliation_runs;
ALTER TABLE action_events DROP COLUMN origin;
