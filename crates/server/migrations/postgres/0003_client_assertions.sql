-- private_key_jwt (RFC 7523): the ids (jti) of client assertions already used, kept until the
-- assertion expires so that a replay is refused, across restarts too.

CREATE TABLE used_assertions (
    client_id  TEXT COLLATE "C" NOT NULL,
    jti        TEXT COLLATE "C" NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (client_id, jti)
);
CREATE INDEX used_assertions_by_expiry ON used_assertions (expires_at);
