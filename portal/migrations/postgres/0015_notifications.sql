-- Notifications (email, a chat webhook) delivered at least once from this outbox: a row is
-- written in the same transaction as what it tells of, and stays until a send succeeds; a
-- process holds a short lease on the rows it is sending, so replicas never send one twice at
-- once. The id is also the idempotency key a receiver sees. A row the receiver refuses for good
-- (no such mailbox, a webhook that is gone) or that is still unsent after three days is given up
-- (`dead_at`, with the reason in `last_error`). Sent and given-up rows are purged after a week.
CREATE TABLE notifications (
    id TEXT PRIMARY KEY,
    channel TEXT NOT NULL,
    recipient TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    created BIGINT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    next_at BIGINT NOT NULL,
    sent_at BIGINT,
    dead_at BIGINT,
    last_error TEXT,
    owner TEXT,
    lease_until BIGINT
);
CREATE INDEX notifications_due ON notifications (sent_at, next_at);
-- Single-use links (a notification's link to a request): the digest of each link opened, until
-- it expires.
CREATE TABLE links_spent (
    digest TEXT PRIMARY KEY,
    expires BIGINT NOT NULL
);
