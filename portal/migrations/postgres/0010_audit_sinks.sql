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

-- A sequence hands out numbers as transactions ask, not as they commit: seq 11 could become
-- visible before seq 10, and a reader that moved past 11 would never see 10. Each audit insert
-- therefore takes one transaction-scoped advisory lock and only then draws its seq, so the
-- numbers are drawn in the order the transactions commit (the lock is held until then). The
-- audit row is the last write of every transaction that makes one, so the lock is held for the
-- commit only and waits on nothing else (no deadlock). SQLite has one writer at a time already.
-- The trigger is the only one to draw a seq (the column's default would draw one more each time,
-- before the lock); NOT NULL is checked after it has run.
ALTER TABLE audit ALTER COLUMN seq DROP DEFAULT;
CREATE FUNCTION audit_commit_order() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(7305227390041650001);
    NEW.seq := nextval(pg_get_serial_sequence('audit', 'seq'));
    RETURN NEW;
END;
$$;
CREATE TRIGGER audit_commit_order BEFORE INSERT ON audit
    FOR EACH ROW EXECUTE FUNCTION audit_commit_order();
