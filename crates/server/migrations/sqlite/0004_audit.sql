-- The audit trail of security events (logins, consents, clients, revocations, reuse, keys).
-- Never a secret: users and clients by id, facts in `detail` (JSON). Purged after the retention.

CREATE TABLE audit_events (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    at        BIGINT NOT NULL,
    kind      TEXT NOT NULL,
    user_id   TEXT,
    client_id TEXT,
    ip        TEXT,
    detail    TEXT NOT NULL -- JSON
);
CREATE INDEX audit_events_by_time ON audit_events (at, id);
CREATE INDEX audit_events_by_kind ON audit_events (kind, at);
