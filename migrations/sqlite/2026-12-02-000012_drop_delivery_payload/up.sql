-- The canonical payload was written with every delivery and read by nothing: it is derived from
-- the stored query and body (the dedup key is its hash), and it was a third of each delivery's
-- bytes on the write path.
ALTER TABLE deliveries DROP COLUMN payload;
