-- The portal's state. Times are Unix seconds. Tokens are stored as SHA-256 digests only.
CREATE TABLE settings (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    admin_session_secs BIGINT NOT NULL DEFAULT 3600,
    admin_role_arn TEXT,
    ops_role_arn TEXT
);
INSERT INTO settings (id) VALUES (1);

CREATE TABLE users (
    name TEXT PRIMARY KEY,
    admin BOOLEAN NOT NULL DEFAULT FALSE,
    created BIGINT NOT NULL
);

CREATE TABLE tenants (
    name TEXT PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    role_arn TEXT NOT NULL,
    validity_secs BIGINT NOT NULL,
    max_session_secs BIGINT NOT NULL,
    plan TEXT NOT NULL DEFAULT 'default'
);

CREATE TABLE memberships (
    user_name TEXT NOT NULL REFERENCES users (name) ON DELETE CASCADE,
    tenant_name TEXT NOT NULL REFERENCES tenants (name) ON DELETE CASCADE,
    PRIMARY KEY (user_name, tenant_name)
);

-- A login-minted token points at the token that minted it: revoking or expiring the parent
-- takes its children along, and a child never outlives its parent.
CREATE TABLE tokens (
    id TEXT PRIMARY KEY,
    digest TEXT NOT NULL UNIQUE,
    user_name TEXT NOT NULL REFERENCES users (name) ON DELETE CASCADE,
    parent TEXT REFERENCES tokens (id) ON DELETE CASCADE,
    origin TEXT NOT NULL,
    created BIGINT NOT NULL,
    expires BIGINT
);
CREATE INDEX tokens_user ON tokens (user_name);
CREATE INDEX tokens_parent ON tokens (parent);
CREATE INDEX tokens_expires ON tokens (expires);

-- Append-only: the triggers refuse any change to a written row.
CREATE TABLE audit (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at BIGINT NOT NULL,
    event TEXT NOT NULL,
    actor TEXT NOT NULL,
    user_name TEXT,
    scope TEXT,
    role_arn TEXT,
    duration_secs BIGINT,
    client TEXT,
    token_id TEXT,
    detail TEXT
);
CREATE INDEX audit_at ON audit (at);
CREATE INDEX audit_user ON audit (user_name);
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
BEGIN
    SELECT RAISE(ABORT, 'the audit trail is append-only');
END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
BEGIN
    SELECT RAISE(ABORT, 'the audit trail is append-only');
END;
