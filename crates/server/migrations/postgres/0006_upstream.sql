-- Federated login (issue 14): sign-ins in flight at an upstream, the links of upstream
-- accounts to users, and the upstream tokens kept with a code and then its grant.

CREATE TABLE upstream_logins (
    state_hash      TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    upstream_id     TEXT COLLATE "C" NOT NULL,
    session_hash    TEXT COLLATE "C" NOT NULL,
    authorize_query TEXT COLLATE "C" NOT NULL,
    sealed_verifier BYTEA NOT NULL,
    nonce           TEXT COLLATE "C" NOT NULL,
    created_at      BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL
);
CREATE INDEX upstream_logins_by_expiry ON upstream_logins (expires_at);

CREATE TABLE upstream_links (
    upstream_id    TEXT COLLATE "C" NOT NULL,
    subject        TEXT COLLATE "C" NOT NULL,
    user_id        TEXT COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    email          TEXT COLLATE "C",
    email_verified BIGINT NOT NULL,
    created_at     BIGINT NOT NULL,
    PRIMARY KEY (upstream_id, subject)
);
CREATE INDEX upstream_links_by_user ON upstream_links (user_id);
CREATE INDEX upstream_links_by_email ON upstream_links (email);

CREATE TABLE upstream_tokens (
    code_hash   TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    grant_id    TEXT COLLATE "C" REFERENCES grants (id) ON DELETE CASCADE,
    upstream_id TEXT COLLATE "C" NOT NULL,
    sealed      BYTEA NOT NULL,
    expires_at  BIGINT,
    updated_at  BIGINT NOT NULL
);
CREATE INDEX upstream_tokens_by_grant ON upstream_tokens (grant_id);
