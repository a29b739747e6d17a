ALTER TABLE deliveries ADD COLUMN payload TEXT;
