-- Federated login (issue 14): sign-ins in flight at an upstream, the links of upstream
-- accounts to users, and the upstream tokens kept with a code and then its grant.

CREATE TABLE upstream_logins (
    state_hash      TEXT NOT NULL PRIMARY KEY,
    upstream_id     TEXT NOT NULL,
    session_hash    TEXT NOT NULL,
    authorize_query TEXT NOT NULL,
    sealed_verifier BLOB NOT NULL,
    nonce           TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL
);
CREATE INDEX upstream_logins_by_expiry ON upstream_logins (expires_at);

CREATE TABLE upstream_links (
    upstream_id    TEXT NOT NULL,
    subject        TEXT NOT NULL,
    user_id        TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    email          TEXT,
    email_verified BIGINT NOT NULL,
    created_at     BIGINT NOT NULL,
    PRIMARY KEY (upstream_id, subject)
);
CREATE INDEX upstream_links_by_user ON upstream_links (user_id);
CREATE INDEX upstream_links_by_email ON upstream_links (email);

CREATE TABLE upstream_tokens (
    code_hash   TEXT NOT NULL PRIMARY KEY,
    grant_id    TEXT REFERENCES grants (id) ON DELETE CASCADE,
    upstream_id TEXT NOT NULL,
    sealed      BLOB NOT NULL,
    expires_at  BIGINT,
    updated_at  BIGINT NOT NULL
);
CREATE INDEX upstream_tokens_by_grant ON upstream_tokens (grant_id);
