-- The device authorization grant (RFC 8628): one row per authorization in flight, until its
-- device code is redeemed, it is denied and reported, or it expires (purged). The device code only
-- as its SHA-256, the user code only as its HMAC-SHA-256 under a KEK-derived key (both base64url).
-- The user code hash is unique: a new code that collides is drawn again.
CREATE TABLE device_authorizations (
    device_code_hash TEXT NOT NULL PRIMARY KEY,
    user_code_hash   TEXT NOT NULL UNIQUE,
    client_id        TEXT NOT NULL REFERENCES clients (client_id) ON DELETE CASCADE,
    resource         TEXT NOT NULL,
    scope            TEXT NOT NULL,
    created_at       BIGINT NOT NULL,
    expires_at       BIGINT NOT NULL,
    poll_interval    BIGINT NOT NULL,   -- seconds; grows by 5 at each slow_down
    last_poll_at     BIGINT,
    status           TEXT NOT NULL,     -- pending, approved, denied
    user_id          TEXT REFERENCES users (id) ON DELETE CASCADE,  -- who approved
    auth_time        BIGINT
);
CREATE INDEX device_authorizations_by_expiry ON device_authorizations (expires_at);
CREATE INDEX device_authorizations_by_client ON device_authorizations (client_id);
