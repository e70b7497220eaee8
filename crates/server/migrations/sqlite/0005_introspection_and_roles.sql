-- Introspection only for resource servers an administrator named (issue 12, item 4), and user
-- roles for restricted scopes (item 9). Restricted scopes live in `resources.scopes` (JSON).

-- JSON array of resource URIs whose tokens this client may introspect; empty: none.
ALTER TABLE clients ADD COLUMN introspect_resources TEXT NOT NULL DEFAULT '[]';
-- JSON array of role names, sorted.
ALTER TABLE users ADD COLUMN roles TEXT NOT NULL DEFAULT '[]';
