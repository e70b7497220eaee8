//! The SQL backends' one implementation of every store trait, shared by SQLite and PostgreSQL.
//!
//! A backend is a connection pool of one database ([`SqlBackend`]); the database's type is a
//! [`Dialect`], which says the few ways its SQL differs (how a write transaction begins, whether
//! rows are locked, the `ORDER BY` collation, the "no limit" argument, a transaction lock, the
//! retry of transient failures) and carries the sqlx bounds the generic code needs. Each file
//! implements the traits of one aggregate once, for every backend:
//!
//! - `accounts`: clients, resources and users;
//! - `grants`: codes, grants, refresh tokens and revoked access tokens, loading rows for the
//!   pure decisions of [`rules`](crate::store::rules) and applying them;
//! - `sessions`: consents, signing keys and browser sessions;
//! - `registration`, `assertions`, `audit`, `key_schedule`, `upstream`, `health`, `api_keys`,
//!   `device` (device authorizations, polled by [`rules::decide_poll`](crate::store::rules)): one
//!   trait each.
//!
//! How concurrent writers are kept apart is the dialect's: SQLite's write transaction holds the
//! whole database from `BEGIN IMMEDIATE`, PostgreSQL's runs at `READ COMMITTED` and locks rows
//! (`FOR UPDATE`) in one global order, authorization code, then grant, then refresh token, and
//! is retried whole after a deadlock or serialization failure. Each backend's module docs tell
//! its story; the shared code takes the locks wherever [`Dialect::ROW_LOCKS`] asks for them.

mod accounts;
mod api_keys;
mod assertions;
mod audit;
mod device;
pub(crate) mod dialect;
mod error;
mod grants;
mod health;
mod key_schedule;
mod registration;
mod revocations;
mod row;
mod run;
mod sessions;
pub(crate) mod tx;
mod upstream;

pub(crate) use dialect::{Dialect, RowsAffected, SqlBackend, for_update};
pub(crate) use error::db;
