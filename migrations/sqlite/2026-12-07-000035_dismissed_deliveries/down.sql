ALTER TABLE deliveries DROP COLUMN dismissed_at;
