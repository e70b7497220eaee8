-- Federated sign-in on the device page (RFC 8628 §3.3): a sign-in sent upstream is for either a
-- pending `/authorize` request (`authorize_query`, as before) or a device authorization, named by
-- the HMAC of its user code; for the latter `authorize_query` is empty. The upstream tokens of a
-- device sign-in are kept under the device code's hash, as a code's are under the code's.
ALTER TABLE upstream_logins ADD COLUMN device_user_code_hash TEXT COLLATE "C";
