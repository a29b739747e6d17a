ALTER TABLE actions DROP COLUMN is_test;
