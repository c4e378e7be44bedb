-- Second factors for the web sign-in (docs/protocol.md §11). One TOTP secret per user, stored
-- as base32 text: the portal has no key from outside the database to encrypt it with, so whoever
-- can read this table can compute the user's codes (as they can read everything else here).
-- `last_step` is the last 30-second step a code was accepted for: a code at or before it is
-- refused, so no code is accepted twice.
CREATE TABLE totp_factors (
    user_name TEXT PRIMARY KEY REFERENCES users (name) ON DELETE CASCADE,
    secret TEXT NOT NULL,
    last_step BIGINT NOT NULL,
    created BIGINT NOT NULL
);
-- Single-use recovery codes, as SHA-256 digests (80 random bits each); a used one is deleted.
CREATE TABLE recovery_codes (
    user_name TEXT NOT NULL REFERENCES users (name) ON DELETE CASCADE,
    digest TEXT NOT NULL,
    created BIGINT NOT NULL,
    PRIMARY KEY (user_name, digest)
);
-- Whether a session's sign-in used a second factor; a login token minted from it inherits it.
ALTER TABLE sessions ADD COLUMN mfa BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE tokens ADD COLUMN mfa BOOLEAN NOT NULL DEFAULT FALSE;
-- Who must have a second factor ('none', 'admins', 'all'), and whether admin-scope vends need a
-- token or session whose sign-in used one.
ALTER TABLE settings ADD COLUMN require_mfa TEXT NOT NULL DEFAULT 'none'
    CHECK (require_mfa IN ('none', 'admins', 'all'));
ALTER TABLE settings ADD COLUMN admin_vends_need_mfa BOOLEAN NOT NULL DEFAULT FALSE;
