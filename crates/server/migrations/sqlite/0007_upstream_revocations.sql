-- Issue 14, the remaining gaps. Kept upstream tokens are not just deleted with their grant,
-- code, client or user: every statement that deletes them first moves them here, in the same
-- transaction, and the server revokes them at their provider (RFC 7009; GitHub's "delete an
-- app token"), taking each row with one `DELETE … RETURNING` so that one instance of several
-- does it. And one refresh of a grant's upstream tokens at a time across instances: a lease.

CREATE TABLE upstream_revocations (
    code_hash   TEXT NOT NULL PRIMARY KEY,
    upstream_id TEXT NOT NULL,
    sealed      BLOB NOT NULL
);

ALTER TABLE upstream_tokens ADD COLUMN refreshing_until BIGINT;
