-- Where a user's notifications go: an address set by an admin (`jit portal user set --email`,
-- the user's admin page) or by a single sign-on with a verified `email` claim. None: mail goes
-- to the user's name when that is an address, else nowhere.
ALTER TABLE users ADD COLUMN email TEXT;
