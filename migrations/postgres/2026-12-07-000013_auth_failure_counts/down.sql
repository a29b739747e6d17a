ALTER TABLE auth_failures DROP COLUMN times;
