//! Clients, resources and users, in SQL.

use super::dialect::{Arg, Column, Dialect, Query, SqlBackend, SqlRow, formatted};
use super::error::db;
use super::revocations::{discard_tokens_in, doomed};
use super::row::record;
use super::row::{Columns, to_json};
use super::run::Run;
use super::tx::in_tx;
use crate::model::{Client, ClientOrigin, Resource, User};
use crate::store::{ClientStore, ResourceStore, StoreError, StoreResult, UserStore};
use async_trait::async_trait;
use mcp_oauth_core::clock::UnixTime;

fn client_from_row(row: &impl SqlRow) -> StoreResult<Client> {
    let origin: String = row.col("origin")?;
    let origin = ClientOrigin::parse(&origin)
        .ok_or_else(|| StoreError::Backend(format!("stored client origin `{origin}`")))?;
    record![row => Client { client_id, client_name, token_endpoint_auth_method, secret_hash,
        secret_expires_at, redirect_uris: json, grant_types: json, allowed_scopes: opt_scope,
        jwks: opt_json, jwks_uri, origin = origin, registration_token_hash, metadata: json,
        created_at, last_used_at, introspect_resources: json, disabled_at, previous_secret_hash, previous_secret_until }]
}

/// Binds every column of a client, `client_id` last (the order of [`INSERT_CLIENT`] and
/// [`UPDATE_CLIENT`]).
fn bind_client<'q, D: Dialect>(q: Query<'q, D>, c: &Client) -> StoreResult<Query<'q, D>> {
    let jwks = c.jwks.as_ref().map(to_json).transpose()?;
    Ok(q.arg(c.client_name.as_str())
        .arg(c.token_endpoint_auth_method.as_str())
        .arg(c.secret_hash.as_deref())
        .arg(c.secret_expires_at)
        .arg(to_json(&c.redirect_uris)?)
        .arg(to_json(&c.grant_types)?)
        .arg(c.allowed_scopes.as_ref().map(ToString::to_string))
        .arg(jwks)
        .arg(c.jwks_uri.as_deref())
        .arg(c.origin.as_str())
        .arg(c.registration_token_hash.as_deref())
        .arg(to_json(&c.metadata)?)
        .arg(c.created_at)
        .arg(c.last_used_at)
        .arg(to_json(&c.introspect_resources)?)
        .arg(c.disabled_at)
        .arg(c.previous_secret_hash.as_deref())
        .arg(c.previous_secret_until)
        .arg(c.client_id.as_str()))
}

const INSERT_CLIENT: &str = "INSERT INTO clients (client_name, token_endpoint_auth_method, \
     secret_hash, secret_expires_at, redirect_uris, grant_types, allowed_scopes, jwks, jwks_uri, \
     origin, registration_token_hash, metadata, created_at, last_used_at, introspect_resources, \
     disabled_at, previous_secret_hash, previous_secret_until, client_id) VALUES ($1, $2, $3, $4, $5, \
     $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)";

const UPDATE_CLIENT: &str = "UPDATE clients SET client_name = $1, token_endpoint_auth_method = $2, \
     secret_hash = $3, secret_expires_at = $4, redirect_uris = $5, grant_types = $6, \
     allowed_scopes = $7, jwks = $8, jwks_uri = $9, origin = $10, registration_token_hash = $11, \
     metadata = $12, created_at = $13, last_used_at = $14, introspect_resources = $15, \
     disabled_at = $16, previous_secret_hash = $17, previous_secret_until = $18 WHERE client_id = $19";

#[async_trait]
impl<S: SqlBackend<Db = D>, D: Dialect> ClientStore for S {
    async fn insert_client(&self, client: &Client) -> StoreResult<()> {
        bind_client::<D>(sqlx::query(INSERT_CLIENT), client)?
            .run(self.on_pool(), "client")
            .await
    }

    async fn update_client(&self, client: &Client) -> StoreResult<bool> {
        Ok(bind_client::<D>(sqlx::query(UPDATE_CLIENT), client)?
            .changed(self.on_pool(), "client")
            .await?
            > 0)
    }

    async fn get_client(&self, client_id: &str) -> StoreResult<Option<Client>> {
        sqlx::query("SELECT * FROM clients WHERE client_id = $1")
            .arg(client_id)
            .optional(self.on_pool(), "reading a client", client_from_row)
            .await
    }

    async fn list_clients(&self) -> StoreResult<Vec<Client>> {
        formatted(format!(
            "SELECT * FROM clients ORDER BY created_at, client_id{}",
            D::BYTE_ORDER
        ))
        .all(self.on_pool(), "listing clients", client_from_row)
        .await
    }

    async fn delete_client(&self, client_id: &str) -> StoreResult<bool> {
        in_tx!(self, |tx| delete_client_in::<D>(tx, client_id))
    }

    async fn touch_client(&self, client_id: &str, now: UnixTime) -> StoreResult<()> {
        sqlx::query("UPDATE clients SET last_used_at = $1 WHERE client_id = $2")
            .arg(now)
            .arg(client_id)
            .run(self.on_pool(), "touching a client")
            .await
    }
}

/// Deletes a client and everything issued to it, inside the caller's transaction.
async fn delete_client_in<D: Dialect>(
    conn: &mut D::Connection,
    client_id: &str,
) -> StoreResult<bool> {
    // Lock what goes, in the global order (codes, then grants), before changing anything.
    lock_rows::<D>(conn, LOCK_CLIENT_ROWS, client_id).await?;
    // Its kept upstream tokens, before the codes and grants that find them go.
    discard_tokens_in::<D>(conn, doomed::CLIENT, client_id).await?;
    const STEPS: [&str; 5] = [
        "DELETE FROM authorization_codes WHERE client_id = $1",
        "DELETE FROM device_authorizations WHERE client_id = $1",
        // Explicit rather than left to ON DELETE CASCADE, so the statement list is the same on
        // every backend whatever its foreign-key settings.
        "DELETE FROM refresh_tokens WHERE grant_id IN (SELECT id FROM grants WHERE client_id = $1)",
        "DELETE FROM grants WHERE client_id = $1",
        "DELETE FROM consents WHERE client_id = $1",
    ];
    for step in STEPS {
        sqlx::query(step)
            .arg(client_id)
            .run(D::on(conn), "deleting a client")
            .await?;
    }
    Ok(sqlx::query("DELETE FROM clients WHERE client_id = $1")
        .arg(client_id)
        .changed(D::on(conn), "deleting a client")
        .await?
        > 0)
}

/// Row locks taken before deleting a client: its codes, then its grants.
const LOCK_CLIENT_ROWS: [&str; 2] = [
    "SELECT code_hash FROM authorization_codes WHERE client_id = $1 ORDER BY code_hash FOR UPDATE",
    "SELECT id FROM grants WHERE client_id = $1 ORDER BY id FOR UPDATE",
];

/// Row locks taken before deleting a user: their codes, then their grants.
const LOCK_USER_ROWS: [&str; 2] = [
    "SELECT code_hash FROM authorization_codes WHERE user_id = $1 ORDER BY code_hash FOR UPDATE",
    "SELECT id FROM grants WHERE user_id = $1 ORDER BY id FOR UPDATE",
];

/// Runs each locking `SELECT … FOR UPDATE` of `steps` with `key`, where the dialect keeps
/// writers apart by row locks ([`Dialect::ROW_LOCKS`]; elsewhere the transaction already holds
/// the whole database).
async fn lock_rows<D: Dialect>(
    conn: &mut D::Connection,
    steps: [&'static str; 2],
    key: &str,
) -> StoreResult<()> {
    if !D::ROW_LOCKS {
        return Ok(());
    }
    for step in steps {
        sqlx::query(step)
            .arg(key)
            .fetch_all(D::on(conn))
            .await
            .map_err(db("locking rows"))?;
    }
    Ok(())
}

fn resource_from_row(row: &impl SqlRow) -> StoreResult<Resource> {
    record![row => Resource { uri, name, scopes: json, created_at }]
}

#[async_trait]
impl<S: SqlBackend<Db = D>, D: Dialect> ResourceStore for S {
    async fn upsert_resource(&self, resource: &Resource) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO resources (uri, name, scopes, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (uri) DO UPDATE SET name = excluded.name, scopes = excluded.scopes, \
             created_at = excluded.created_at",
        )
        .arg(resource.uri.as_str())
        .arg(resource.name.as_str())
        .arg(to_json(&resource.scopes)?)
        .arg(resource.created_at)
        .run(self.on_pool(), "resource")
        .await
    }

    async fn get_resource(&self, uri: &str) -> StoreResult<Option<Resource>> {
        sqlx::query("SELECT * FROM resources WHERE uri = $1")
            .arg(uri)
            .optional(self.on_pool(), "reading a resource", resource_from_row)
            .await
    }

    async fn list_resources(&self) -> StoreResult<Vec<Resource>> {
        formatted(format!(
            "SELECT * FROM resources ORDER BY uri{}",
            D::BYTE_ORDER
        ))
        .all(self.on_pool(), "listing resources", resource_from_row)
        .await
    }

    async fn delete_resource(&self, uri: &str) -> StoreResult<bool> {
        Ok(sqlx::query("DELETE FROM resources WHERE uri = $1")
            .arg(uri)
            .changed(self.on_pool(), "deleting a resource")
            .await?
            > 0)
    }
}

fn user_from_row(row: &impl SqlRow) -> StoreResult<User> {
    record![row => User { id, username, password_hash, created_at, roles: json, disabled_at }]
}

#[async_trait]
impl<S: SqlBackend<Db = D>, D: Dialect> UserStore for S {
    async fn insert_user(&self, user: &User) -> StoreResult<()> {
        in_tx!(self, |tx| insert_user_in::<D>(tx, user))
    }

    async fn get_user_by_name(&self, username: &str) -> StoreResult<Option<User>> {
        sqlx::query("SELECT * FROM users WHERE username = $1")
            .arg(username)
            .optional(self.on_pool(), "reading a user", user_from_row)
            .await
    }

    async fn get_user(&self, id: &str) -> StoreResult<Option<User>> {
        sqlx::query("SELECT * FROM users WHERE id = $1")
            .arg(id)
            .optional(self.on_pool(), "reading a user", user_from_row)
            .await
    }

    async fn list_users(&self) -> StoreResult<Vec<User>> {
        formatted(format!(
            "SELECT * FROM users ORDER BY username{}",
            D::BYTE_ORDER
        ))
        .all(self.on_pool(), "listing users", user_from_row)
        .await
    }

    async fn set_user_disabled(
        &self,
        username: &str,
        disabled_at: Option<UnixTime>,
    ) -> StoreResult<bool> {
        Ok(
            sqlx::query("UPDATE users SET disabled_at = $1 WHERE username = $2")
                .arg(disabled_at)
                .arg(username)
                .changed(self.on_pool(), "disabling a user")
                .await?
                > 0,
        )
    }

    async fn set_password(&self, username: &str, password_hash: &str) -> StoreResult<bool> {
        Ok(
            sqlx::query("UPDATE users SET password_hash = $1 WHERE username = $2")
                .arg(password_hash)
                .arg(username)
                .changed(self.on_pool(), "setting a password")
                .await?
                > 0,
        )
    }

    async fn set_roles(&self, username: &str, roles: &[String]) -> StoreResult<bool> {
        Ok(
            sqlx::query("UPDATE users SET roles = $1 WHERE username = $2")
                .arg(to_json(roles)?)
                .arg(username)
                .changed(self.on_pool(), "setting roles")
                .await?
                > 0,
        )
    }

    async fn delete_user(&self, username: &str) -> StoreResult<bool> {
        in_tx!(self, |tx| delete_user_in::<D>(tx, username))
    }
}

/// Inserts a user inside the caller's transaction (alone, or with its first upstream link).
pub(super) async fn insert_user_in<D: Dialect>(
    conn: &mut D::Connection,
    user: &User,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO users (id, username, password_hash, created_at, roles, disabled_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .arg(user.id.as_str())
    .arg(user.username.as_str())
    .arg(user.password_hash.as_str())
    .arg(user.created_at)
    .arg(to_json(&user.roles)?)
    .arg(user.disabled_at)
    .run(D::on(conn), "user")
    .await
}

/// Deletes a user and what hangs off them, inside the caller's transaction.
async fn delete_user_in<D: Dialect>(conn: &mut D::Connection, username: &str) -> StoreResult<bool> {
    let id: Option<String> = sqlx::query("SELECT id FROM users WHERE username = $1")
        .arg(username)
        .fetch_optional(D::on(conn))
        .await
        .and_then(|row| row.map(|row| row.column("id")).transpose())
        .map_err(db("deleting a user"))?;
    let Some(id) = id else {
        return Ok(false);
    };
    lock_rows::<D>(conn, LOCK_USER_ROWS, &id).await?;
    discard_tokens_in::<D>(conn, doomed::USER, &id).await?;
    const STEPS: [&str; 7] = [
        "DELETE FROM sessions WHERE user_id = $1",
        "DELETE FROM consents WHERE user_id = $1",
        // An approved, unredeemed device authorization is a pending grant too.
        "DELETE FROM device_authorizations WHERE user_id = $1",
        // Pending codes would otherwise still turn into grants for a user who no longer exists.
        "DELETE FROM authorization_codes WHERE user_id = $1",
        "DELETE FROM refresh_tokens WHERE grant_id IN (SELECT id FROM grants WHERE user_id = $1)",
        "DELETE FROM grants WHERE user_id = $1",
        "DELETE FROM users WHERE id = $1",
    ];
    for step in STEPS {
        sqlx::query(step)
            .arg(id.as_str())
            .run(D::on(conn), "deleting a user")
            .await?;
    }
    Ok(true)
}
