-- Passkeys (WebAuthn) as a second factor (docs/protocol.md §11), several per user, each named.
-- `passkey` is webauthn-rs's `Passkey` as JSON (the public key, the sign counter, the backup
-- flags): public material, updated after each use as the crate advises.
CREATE TABLE passkeys (
    credential_id TEXT PRIMARY KEY,
    user_name TEXT NOT NULL REFERENCES users (name) ON DELETE CASCADE,
    name TEXT NOT NULL,
    passkey TEXT NOT NULL,
    created BIGINT NOT NULL,
    last_used BIGINT,
    UNIQUE (user_name, name)
);
-- Challenges answered, by SHA-256 digest of the sealed ceremony state, until they expire: a
-- challenge is accepted once.
CREATE TABLE webauthn_spent (
    digest TEXT PRIMARY KEY,
    expires BIGINT NOT NULL
);
