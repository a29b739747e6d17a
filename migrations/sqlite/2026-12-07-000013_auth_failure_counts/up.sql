-- Refused requests are counted in memory and written once a second, one row per source, client,
-- check and method with how many times it happened in that second (one for the rows before).
ALTER TABLE auth_failures ADD COLUMN times INTEGER NOT NULL DEFAULT 1;
