-- One row per dashboard login: the cookie holds a random id, the table its SHA-256 (a copy of the
-- database is no key to a live session). Logging out deletes the row; a session whose login
-- (username and password hash) is no longer the configured one is refused and deleted.
CREATE TABLE sessions (
    id_digest TEXT PRIMARY KEY,
    username TEXT NOT NULL,
    login_fingerprint TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL
);
CREATE INDEX sessions_expires_at ON sessions (expires_at);
