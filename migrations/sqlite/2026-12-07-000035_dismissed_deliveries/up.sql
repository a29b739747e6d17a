-- A quarantined delivery someone looked at and set aside (junk, a probe): kept as it was, but
-- out of what needs attention; clearing the time undoes it.
ALTER TABLE deliveries ADD COLUMN dismissed_at TIMESTAMP;
