-- A local user's password for the web sign-in, as an argon2id PHC string (salt and
-- parameters inside). NULL: the user cannot sign in with a password.
ALTER TABLE users ADD COLUMN password_hash TEXT;
