-- What the user approved on the CLI-login page for a login token: 'tenant' or 'admin' access
-- (docs/protocol.md §11). NULL is a token made by an admin or on the profile page, which carries
-- all its user's rights. A login token minted before this column existed has no record of what
-- was approved, so it gets the lesser scope (it lives an hour at most).
ALTER TABLE tokens ADD COLUMN scope TEXT CHECK (scope IN ('tenant', 'admin'));
UPDATE tokens SET scope = 'tenant' WHERE origin = 'login';
