-- The audit trail of security events (logins, consents, clients, revocations, reuse, keys).
-- Never a secret: users and clients by id, facts in `detail` (JSON). Purged after the retention.

CREATE TABLE audit_events (
    id        BIGSERIAL PRIMARY KEY,
    at        BIGINT NOT NULL,
    kind      TEXT COLLATE "C" NOT NULL,
    user_id   TEXT COLLATE "C",
    client_id TEXT COLLATE "C",
    ip        TEXT COLLATE "C",
    detail    TEXT COLLATE "C" NOT NULL -- JSON
);
CREATE INDEX audit_events_by_time ON audit_events (at, id);
CREATE INDEX audit_events_by_kind ON audit_events (kind, at);
