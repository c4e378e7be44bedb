-- The audit stream (portal/src/stream/): how far each configured sink has been sent the audit
-- trail. The trail is append-only and its seq grows in commit order, so the rows after
-- `delivered_through` are the outbox: a row and its delivery are written in one transaction
-- because they are the same row. `owner` holds a lease (until `lease_until`, Unix seconds) so
-- that of several processes on one database one delivers at a time.
CREATE TABLE audit_sinks (
    name TEXT PRIMARY KEY,
    delivered_through BIGINT NOT NULL DEFAULT 0,
    owner TEXT,
    lease_until BIGINT NOT NULL DEFAULT 0
);
