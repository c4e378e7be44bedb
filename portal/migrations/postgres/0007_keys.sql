-- Keys the portal seals its own cookies with (single sign-on logins under way, known browsers):
-- made at random by the first process that needs one and shared by every replica that opens
-- this database. Whoever can read this table can forge those cookies, as whoever can read the
-- database can already read everything else.
CREATE TABLE server_keys (
    name TEXT PRIMARY KEY,
    key TEXT NOT NULL,
    created BIGINT NOT NULL
);
