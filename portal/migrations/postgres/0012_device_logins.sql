-- Device logins (docs/protocol.md §2.1): a CLI's request for a login token, approved or denied
-- on the portal's /device page by a signed-in user who types its user code. Both codes are
-- stored as SHA-256 digests only. `state` is pending, approved, denied or done (the token was
-- handed out: a device code gives one token, once). An approval belongs to the session that
-- gave it: the token is minted from that session, so it ends with it; a session that ends
-- before the CLI polls leaves the approval without one, which the poll refuses.
CREATE TABLE device_logins (
    id TEXT PRIMARY KEY,
    digest TEXT NOT NULL UNIQUE,
    user_digest TEXT NOT NULL UNIQUE,
    scope TEXT NOT NULL CHECK (scope IN ('tenant', 'admin')),
    host TEXT NOT NULL,
    client TEXT,
    created BIGINT NOT NULL,
    expires BIGINT NOT NULL,
    interval_secs BIGINT NOT NULL,
    last_poll BIGINT,
    state TEXT NOT NULL CHECK (state IN ('pending', 'approved', 'denied', 'done')),
    user_name TEXT,
    session TEXT REFERENCES sessions (id) ON DELETE SET NULL
);
CREATE INDEX device_logins_expires ON device_logins (expires);
CREATE INDEX device_logins_session ON device_logins (session);
