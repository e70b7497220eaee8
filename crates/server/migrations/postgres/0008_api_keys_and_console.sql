-- API keys (issue 16): bound to one resource, a subset of its scopes and an expiry. The key is
-- never stored, only its HMAC-SHA-256 under a KEK-derived key (base64url).
CREATE TABLE api_keys (
    id           TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    key_hash     TEXT COLLATE "C" NOT NULL UNIQUE,
    label        TEXT COLLATE "C" NOT NULL,
    user_id      TEXT COLLATE "C",          -- NULL: a service key an administrator created
    resource     TEXT COLLATE "C" NOT NULL,
    scope        TEXT COLLATE "C" NOT NULL,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    last_used_at BIGINT,
    revoked_at   BIGINT
);
CREATE INDEX api_keys_by_user ON api_keys (user_id, created_at);

-- When an administrator disabled a client (issue 16); NULL: enabled.
ALTER TABLE clients ADD COLUMN disabled_at BIGINT;
-- A secret rotated with an overlap window: the previous one (hash) and when it stops working.
ALTER TABLE clients ADD COLUMN previous_secret_hash TEXT COLLATE "C";
ALTER TABLE clients ADD COLUMN previous_secret_until BIGINT;
-- When an administrator disabled a user; NULL: enabled.
ALTER TABLE users ADD COLUMN disabled_at BIGINT;
