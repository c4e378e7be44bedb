-- A token a signed-in browser authorized for the CLI belongs to that session: signing out (or
-- the session ending) revokes it.
ALTER TABLE tokens ADD COLUMN session TEXT REFERENCES sessions (id) ON DELETE CASCADE;
CREATE INDEX tokens_session ON tokens (session);
