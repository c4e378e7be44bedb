-- Web sign-in sessions. The cookie holds a random secret; only its SHA-256 digest is stored.
-- `csrf` is the session's form token (it authorizes nothing on its own). Deleting a user ends
-- their sessions.
CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    digest TEXT NOT NULL UNIQUE,
    user_name TEXT NOT NULL REFERENCES users (name) ON DELETE CASCADE,
    csrf TEXT NOT NULL,
    created BIGINT NOT NULL,
    expires BIGINT NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_name);
CREATE INDEX sessions_expires ON sessions (expires);
