-- Single sign-on logins under way: one row from the redirect to the provider until its callback
-- (about ten minutes at most), used once. Keyed by the SHA-256 digest of the `state` sent to the
-- provider; `binding` is the digest of a cookie set in the browser that started the login, so a
-- callback from another browser is refused. `verifier` (PKCE) and `nonce` are worthless without
-- the provider's one-time code.
CREATE TABLE oidc_logins (
    state_digest TEXT PRIMARY KEY,
    binding TEXT NOT NULL,
    verifier TEXT NOT NULL,
    nonce TEXT NOT NULL,
    next TEXT NOT NULL,
    created BIGINT NOT NULL,
    expires BIGINT NOT NULL
);
CREATE INDEX oidc_logins_expires ON oidc_logins (expires);
