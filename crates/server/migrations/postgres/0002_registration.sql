-- Dynamic client registration (RFC 7591): initial access tokens for the `token` policy, and an
-- index for purging registrations that never obtained a token.

CREATE TABLE registration_tokens (
    id         TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    token_hash TEXT COLLATE "C" NOT NULL UNIQUE, -- SHA-256 (base64url); the token itself is never stored
    label      TEXT COLLATE "C" NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT               -- NULL: until revoked
);
CREATE INDEX registration_tokens_by_expiry ON registration_tokens (expires_at);

-- Unused dynamic registrations, oldest first (a partial index: PostgreSQL has the same form).
CREATE INDEX clients_unused ON clients (origin, created_at) WHERE last_used_at IS NULL;
