-- The authorization server's schema on PostgreSQL: the same shape as migrations/sqlite/0001_init.sql
-- (TEXT, BIGINT unix seconds, BYTEA for bytes, JSON as TEXT, scope sets as their space-delimited
-- string), so that both backends behave the same.
--
-- Every text column uses the "C" collation: comparisons and ORDER BY are byte order, as in SQLite,
-- whatever the database's default collation (list order is part of the store contract).
--
-- Only the refresh-token family is tied by foreign keys: client and user ids are not, because the
-- store's own delete operations remove what hangs off them, and a grant may name a user that is
-- not a local account.

CREATE TABLE clients (
    client_id                  TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    client_name                TEXT COLLATE "C" NOT NULL,
    token_endpoint_auth_method TEXT COLLATE "C" NOT NULL,
    secret_hash                TEXT COLLATE "C",
    secret_expires_at          BIGINT,
    redirect_uris              TEXT COLLATE "C" NOT NULL, -- JSON array of strings
    grant_types                TEXT COLLATE "C" NOT NULL, -- JSON array of strings
    allowed_scopes             TEXT COLLATE "C",          -- NULL: any scope of the resource
    jwks                       TEXT COLLATE "C",          -- JSON
    jwks_uri                   TEXT COLLATE "C",
    origin                     TEXT COLLATE "C" NOT NULL,
    registration_token_hash    TEXT COLLATE "C",
    metadata                   TEXT COLLATE "C" NOT NULL, -- JSON
    created_at                 BIGINT NOT NULL,
    last_used_at               BIGINT
);
CREATE INDEX clients_by_created ON clients (created_at, client_id);

CREATE TABLE resources (
    uri        TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    name       TEXT COLLATE "C" NOT NULL,
    scopes     TEXT COLLATE "C" NOT NULL, -- JSON array of {name, description}
    created_at BIGINT NOT NULL
);

CREATE TABLE users (
    id            TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    username      TEXT COLLATE "C" NOT NULL UNIQUE,
    password_hash TEXT COLLATE "C" NOT NULL,
    created_at    BIGINT NOT NULL
);

CREATE TABLE grants (
    id         TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    client_id  TEXT COLLATE "C" NOT NULL,
    user_id    TEXT COLLATE "C",
    resource   TEXT COLLATE "C" NOT NULL,
    scope      TEXT COLLATE "C" NOT NULL,
    auth_time  BIGINT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE INDEX grants_by_user ON grants (user_id, created_at, id);
CREATE INDEX grants_by_client ON grants (client_id);
CREATE INDEX grants_by_expiry ON grants (expires_at);

CREATE TABLE authorization_codes (
    code_hash      TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    client_id      TEXT COLLATE "C" NOT NULL,
    redirect_uri   TEXT COLLATE "C" NOT NULL,
    code_challenge TEXT COLLATE "C" NOT NULL,
    resource       TEXT COLLATE "C" NOT NULL,
    scope          TEXT COLLATE "C" NOT NULL,
    user_id        TEXT COLLATE "C" NOT NULL,
    auth_time      BIGINT NOT NULL,
    created_at     BIGINT NOT NULL,
    expires_at     BIGINT NOT NULL,
    used_at        BIGINT,
    -- The grant the code produced, so that a replay can revoke it.
    grant_id       TEXT COLLATE "C" REFERENCES grants (id) ON DELETE SET NULL
);
CREATE INDEX codes_by_client ON authorization_codes (client_id);
CREATE INDEX codes_by_user ON authorization_codes (user_id);
CREATE INDEX codes_by_expiry ON authorization_codes (expires_at);
CREATE INDEX codes_by_grant ON authorization_codes (grant_id);

CREATE TABLE refresh_tokens (
    token_hash     TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    grant_id       TEXT COLLATE "C" NOT NULL REFERENCES grants (id) ON DELETE CASCADE,
    created_at     BIGINT NOT NULL,
    expires_at     BIGINT NOT NULL,
    rotated_at     BIGINT,
    successor_hash TEXT COLLATE "C"
);
CREATE INDEX refresh_by_grant ON refresh_tokens (grant_id);
CREATE INDEX refresh_by_expiry ON refresh_tokens (expires_at);

CREATE TABLE revoked_jtis (
    jti        TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    expires_at BIGINT NOT NULL
);
CREATE INDEX revoked_jtis_by_expiry ON revoked_jtis (expires_at);

CREATE TABLE consents (
    user_id    TEXT COLLATE "C" NOT NULL,
    client_id  TEXT COLLATE "C" NOT NULL,
    resource   TEXT COLLATE "C" NOT NULL,
    scope      TEXT COLLATE "C" NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, client_id, resource)
);
CREATE INDEX consents_by_client ON consents (client_id);

CREATE TABLE signing_keys (
    kid                   TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    alg                   TEXT COLLATE "C" NOT NULL,
    encrypted_private_key BYTEA NOT NULL,
    public_jwk            TEXT COLLATE "C" NOT NULL, -- JSON
    created_at            BIGINT NOT NULL,
    activates_at          BIGINT NOT NULL,
    retires_at            BIGINT
);
CREATE INDEX signing_keys_by_created ON signing_keys (created_at, kid);

CREATE TABLE sessions (
    id_hash    TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    user_id    TEXT COLLATE "C",
    csrf_token TEXT COLLATE "C" NOT NULL,
    auth_time  BIGINT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_by_user ON sessions (user_id);
CREATE INDEX sessions_by_expiry ON sessions (expires_at);
