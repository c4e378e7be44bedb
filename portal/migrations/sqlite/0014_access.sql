-- Access requests and approvals (docs/access.md). A target is spelled as the contract crate
-- spells it (`tenant:NAME`, `admin`, `duplo-ops`) and is no foreign key: a policy stays when a
-- tenant is removed and added again. Times are Unix seconds.

-- Local groups, made by an admin.
CREATE TABLE access_groups (
    name TEXT PRIMARY KEY,
    created BIGINT NOT NULL
);

-- A user in a group: put there by an admin (`local`, the group must exist) or by the single
-- sign-on `groups` claim (`sso`, replaced at each single sign-on; no local group needed).
CREATE TABLE access_group_members (
    group_name TEXT NOT NULL,
    user_name TEXT NOT NULL REFERENCES users (name) ON DELETE CASCADE,
    source TEXT NOT NULL CHECK (source IN ('local', 'sso')),
    PRIMARY KEY (group_name, user_name, source)
);
CREATE INDEX access_group_members_user ON access_group_members (user_name);

-- A target's policy; a target without a row has the defaults below.
CREATE TABLE access_policies (
    target TEXT PRIMARY KEY,
    approvals_needed BIGINT NOT NULL DEFAULT 1 CHECK (approvals_needed IN (1, 2)),
    max_grant_secs BIGINT NOT NULL DEFAULT 3600,
    reason_required BOOLEAN NOT NULL DEFAULT TRUE,
    ticket_required BOOLEAN NOT NULL DEFAULT FALSE,
    break_glass BOOLEAN NOT NULL DEFAULT FALSE
);

-- Who may ask for a target (`eligible`) and who decides (`approver`): a user or a group.
CREATE TABLE access_principals (
    target TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('eligible', 'approver')),
    kind TEXT NOT NULL CHECK (kind IN ('user', 'group')),
    name TEXT NOT NULL,
    PRIMARY KEY (target, role, kind, name)
);
CREATE INDEX access_principals_name ON access_principals (kind, name);

-- A request for one or more targets. A pending request past `expires` is expired.
CREATE TABLE access_requests (
    id TEXT PRIMARY KEY,
    user_name TEXT NOT NULL REFERENCES users (name) ON DELETE CASCADE,
    created BIGINT NOT NULL,
    expires BIGINT NOT NULL,
    duration_secs BIGINT NOT NULL,
    reason TEXT,
    ticket TEXT,
    break_glass BOOLEAN NOT NULL DEFAULT FALSE,
    state TEXT NOT NULL CHECK (state IN ('pending', 'approved', 'denied', 'withdrawn', 'expired')),
    decided BIGINT
);
CREATE INDEX access_requests_state ON access_requests (state, expires);
CREATE INDEX access_requests_user ON access_requests (user_name);

CREATE TABLE access_request_targets (
    request TEXT NOT NULL REFERENCES access_requests (id) ON DELETE CASCADE,
    target TEXT NOT NULL,
    PRIMARY KEY (request, target)
);

-- One decision per approver and request: a quorum counts distinct approvers.
CREATE TABLE access_decisions (
    request TEXT NOT NULL REFERENCES access_requests (id) ON DELETE CASCADE,
    approver TEXT NOT NULL,
    approve BOOLEAN NOT NULL,
    comment TEXT,
    at BIGINT NOT NULL,
    PRIMARY KEY (request, approver)
);

-- An approved request's access to one target, from `starts` to `ends` unless revoked. A
-- break-glass grant waits for an approver's review (`reviewed`).
CREATE TABLE access_grants (
    id TEXT PRIMARY KEY,
    request TEXT NOT NULL REFERENCES access_requests (id) ON DELETE CASCADE,
    user_name TEXT NOT NULL REFERENCES users (name) ON DELETE CASCADE,
    target TEXT NOT NULL,
    starts BIGINT NOT NULL,
    ends BIGINT NOT NULL,
    revoked BIGINT,
    revoked_by TEXT,
    break_glass BOOLEAN NOT NULL DEFAULT FALSE,
    reviewed BIGINT,
    reviewed_by TEXT
);
CREATE INDEX access_grants_user ON access_grants (user_name, target, ends);
CREATE INDEX access_grants_request ON access_grants (request);
