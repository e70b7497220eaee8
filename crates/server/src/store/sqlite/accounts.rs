//! Clients, resources and users in SQLite.

use super::{Query, SqliteStore, col, db, finish, json_col, opt_json_col, opt_scope_col, to_json};
use crate::model::{Client, ClientOrigin, Resource, User};
use crate::store::{ClientStore, ResourceStore, StoreError, StoreResult, UserStore};
use async_trait::async_trait;
use mcp_oauth_core::clock::UnixTime;
use sqlx::SqliteConnection;
use sqlx::sqlite::SqliteRow;

fn client_from_row(row: &SqliteRow) -> StoreResult<Client> {
    let origin: String = col(row, "origin")?;
    Ok(Client {
        client_id: col(row, "client_id")?,
        client_name: col(row, "client_name")?,
        token_endpoint_auth_method: col(row, "token_endpoint_auth_method")?,
        secret_hash: col(row, "secret_hash")?,
        secret_expires_at: col(row, "secret_expires_at")?,
        redirect_uris: json_col(row, "redirect_uris")?,
        grant_types: json_col(row, "grant_types")?,
        allowed_scopes: opt_scope_col(row, "allowed_scopes")?,
        jwks: opt_json_col(row, "jwks")?,
        jwks_uri: col(row, "jwks_uri")?,
        origin: ClientOrigin::parse(&origin)
            .ok_or_else(|| StoreError::Backend(format!("stored client origin `{origin}`")))?,
        registration_token_hash: col(row, "registration_token_hash")?,
        metadata: json_col(row, "metadata")?,
        created_at: col(row, "created_at")?,
        last_used_at: col(row, "last_used_at")?,
        introspect_resources: json_col(row, "introspect_resources")?,
    })
}

/// Binds every column of a client, `client_id` last (the order of [`INSERT_CLIENT`] and
/// [`UPDATE_CLIENT`]).
fn bind_client<'q>(q: Query<'q>, c: &Client) -> StoreResult<Query<'q>> {
    let jwks = c.jwks.as_ref().map(to_json).transpose()?;
    Ok(q.bind(c.client_name.as_str())
        .bind(c.token_endpoint_auth_method.as_str())
        .bind(c.secret_hash.as_deref())
        .bind(c.secret_expires_at)
        .bind(to_json(&c.redirect_uris)?)
        .bind(to_json(&c.grant_types)?)
        .bind(c.allowed_scopes.as_ref().map(ToString::to_string))
        .bind(jwks)
        .bind(c.jwks_uri.as_deref())
        .bind(c.origin.as_str())
        .bind(c.registration_token_hash.as_deref())
        .bind(to_json(&c.metadata)?)
        .bind(c.created_at)
        .bind(c.last_used_at)
        .bind(to_json(&c.introspect_resources)?)
        .bind(c.client_id.as_str()))
}

const INSERT_CLIENT: &str = "INSERT INTO clients (client_name, token_endpoint_auth_method, \
     secret_hash, secret_expires_at, redirect_uris, grant_types, allowed_scopes, jwks, jwks_uri, \
     origin, registration_token_hash, metadata, created_at, last_used_at, introspect_resources, \
     client_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";

const UPDATE_CLIENT: &str = "UPDATE clients SET client_name = ?, token_endpoint_auth_method = ?, \
     secret_hash = ?, secret_expires_at = ?, redirect_uris = ?, grant_types = ?, \
     allowed_scopes = ?, jwks = ?, jwks_uri = ?, origin = ?, registration_token_hash = ?, \
     metadata = ?, created_at = ?, last_used_at = ?, introspect_resources = ? \
     WHERE client_id = ?";

#[async_trait]
impl ClientStore for SqliteStore {
    async fn insert_client(&self, client: &Client) -> StoreResult<()> {
        bind_client(sqlx::query(INSERT_CLIENT), client)?
            .execute(&self.pool)
            .await
            .map_err(db("client"))?;
        Ok(())
    }

    async fn update_client(&self, client: &Client) -> StoreResult<bool> {
        let done = bind_client(sqlx::query(UPDATE_CLIENT), client)?
            .execute(&self.pool)
            .await
            .map_err(db("client"))?;
        Ok(done.rows_affected() > 0)
    }

    async fn get_client(&self, client_id: &str) -> StoreResult<Option<Client>> {
        sqlx::query("SELECT * FROM clients WHERE client_id = ?")
            .bind(client_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(db("reading a client"))?
            .as_ref()
            .map(client_from_row)
            .transpose()
    }

    async fn list_clients(&self) -> StoreResult<Vec<Client>> {
        sqlx::query("SELECT * FROM clients ORDER BY created_at, client_id")
            .fetch_all(&self.pool)
            .await
            .map_err(db("listing clients"))?
            .iter()
            .map(client_from_row)
            .collect()
    }

    async fn delete_client(&self, client_id: &str) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        let result = delete_client_in(&mut tx, client_id).await;
        finish(tx, result).await
    }

    async fn touch_client(&self, client_id: &str, now: UnixTime) -> StoreResult<()> {
        sqlx::query("UPDATE clients SET last_used_at = ? WHERE client_id = ?")
            .bind(now)
            .bind(client_id)
            .execute(&self.pool)
            .await
            .map_err(db("touching a client"))?;
        Ok(())
    }
}

/// Deletes a client and everything issued to it, inside the caller's transaction.
async fn delete_client_in(conn: &mut SqliteConnection, client_id: &str) -> StoreResult<bool> {
    const STEPS: [&str; 4] = [
        "DELETE FROM authorization_codes WHERE client_id = ?",
        // Explicit rather than left to ON DELETE CASCADE, so the statement list is the same on
        // every backend whatever its foreign-key settings.
        "DELETE FROM refresh_tokens WHERE grant_id IN (SELECT id FROM grants WHERE client_id = ?)",
        "DELETE FROM grants WHERE client_id = ?",
        "DELETE FROM consents WHERE client_id = ?",
    ];
    for step in STEPS {
        sqlx::query(step)
            .bind(client_id)
            .execute(&mut *conn)
            .await
            .map_err(db("deleting a client"))?;
    }
    let done = sqlx::query("DELETE FROM clients WHERE client_id = ?")
        .bind(client_id)
        .execute(&mut *conn)
        .await
        .map_err(db("deleting a client"))?;
    Ok(done.rows_affected() > 0)
}

fn resource_from_row(row: &SqliteRow) -> StoreResult<Resource> {
    Ok(Resource {
        uri: col(row, "uri")?,
        name: col(row, "name")?,
        scopes: json_col(row, "scopes")?,
        created_at: col(row, "created_at")?,
    })
}

#[async_trait]
impl ResourceStore for SqliteStore {
    async fn upsert_resource(&self, resource: &Resource) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO resources (uri, name, scopes, created_at) VALUES (?, ?, ?, ?) \
             ON CONFLICT (uri) DO UPDATE SET name = excluded.name, scopes = excluded.scopes, \
             created_at = excluded.created_at",
        )
        .bind(resource.uri.as_str())
        .bind(resource.name.as_str())
        .bind(to_json(&resource.scopes)?)
        .bind(resource.created_at)
        .execute(&self.pool)
        .await
        .map_err(db("resource"))?;
        Ok(())
    }

    async fn get_resource(&self, uri: &str) -> StoreResult<Option<Resource>> {
        sqlx::query("SELECT * FROM resources WHERE uri = ?")
            .bind(uri)
            .fetch_optional(&self.pool)
            .await
            .map_err(db("reading a resource"))?
            .as_ref()
            .map(resource_from_row)
            .transpose()
    }

    async fn list_resources(&self) -> StoreResult<Vec<Resource>> {
        sqlx::query("SELECT * FROM resources ORDER BY uri")
            .fetch_all(&self.pool)
            .await
            .map_err(db("listing resources"))?
            .iter()
            .map(resource_from_row)
            .collect()
    }

    async fn delete_resource(&self, uri: &str) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM resources WHERE uri = ?")
            .bind(uri)
            .execute(&self.pool)
            .await
            .map_err(db("deleting a resource"))?;
        Ok(done.rows_affected() > 0)
    }
}

fn user_from_row(row: &SqliteRow) -> StoreResult<User> {
    Ok(User {
        id: col(row, "id")?,
        username: col(row, "username")?,
        password_hash: col(row, "password_hash")?,
        created_at: col(row, "created_at")?,
        roles: json_col(row, "roles")?,
    })
}

#[async_trait]
impl UserStore for SqliteStore {
    async fn insert_user(&self, user: &User) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO users (id, username, password_hash, created_at, roles) \
             VALUES (?, ?, ?, ?, ?)",
        )
        .bind(user.id.as_str())
        .bind(user.username.as_str())
        .bind(user.password_hash.as_str())
        .bind(user.created_at)
        .bind(to_json(&user.roles)?)
        .execute(&self.pool)
        .await
        .map_err(db("user"))?;
        Ok(())
    }

    async fn get_user_by_name(&self, username: &str) -> StoreResult<Option<User>> {
        sqlx::query("SELECT * FROM users WHERE username = ?")
            .bind(username)
            .fetch_optional(&self.pool)
            .await
            .map_err(db("reading a user"))?
            .as_ref()
            .map(user_from_row)
            .transpose()
    }

    async fn get_user(&self, id: &str) -> StoreResult<Option<User>> {
        sqlx::query("SELECT * FROM users WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(db("reading a user"))?
            .as_ref()
            .map(user_from_row)
            .transpose()
    }

    async fn list_users(&self) -> StoreResult<Vec<User>> {
        sqlx::query("SELECT * FROM users ORDER BY username")
            .fetch_all(&self.pool)
            .await
            .map_err(db("listing users"))?
            .iter()
            .map(user_from_row)
            .collect()
    }

    async fn set_password(&self, username: &str, password_hash: &str) -> StoreResult<bool> {
        let done = sqlx::query("UPDATE users SET password_hash = ? WHERE username = ?")
            .bind(password_hash)
            .bind(username)
            .execute(&self.pool)
            .await
            .map_err(db("setting a password"))?;
        Ok(done.rows_affected() > 0)
    }

    async fn set_roles(&self, username: &str, roles: &[String]) -> StoreResult<bool> {
        let done = sqlx::query("UPDATE users SET roles = ? WHERE username = ?")
            .bind(to_json(roles)?)
            .bind(username)
            .execute(&self.pool)
            .await
            .map_err(db("setting roles"))?;
        Ok(done.rows_affected() > 0)
    }

    async fn delete_user(&self, username: &str) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        let result = delete_user_in(&mut tx, username).await;
        finish(tx, result).await
    }
}

/// Deletes a user and what hangs off them, inside the caller's transaction.
async fn delete_user_in(conn: &mut SqliteConnection, username: &str) -> StoreResult<bool> {
    let id: Option<String> = sqlx::query_scalar("SELECT id FROM users WHERE username = ?")
        .bind(username)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db("deleting a user"))?;
    let Some(id) = id else {
        return Ok(false);
    };
    const STEPS: [&str; 6] = [
        "DELETE FROM sessions WHERE user_id = ?",
        "DELETE FROM consents WHERE user_id = ?",
        // Pending codes would otherwise still turn into grants for a user who no longer exists.
        "DELETE FROM authorization_codes WHERE user_id = ?",
        "DELETE FROM refresh_tokens WHERE grant_id IN (SELECT id FROM grants WHERE user_id = ?)",
        "DELETE FROM grants WHERE user_id = ?",
        "DELETE FROM users WHERE id = ?",
    ];
    for step in STEPS {
        sqlx::query(step)
            .bind(id.as_str())
            .execute(&mut *conn)
            .await
            .map_err(db("deleting a user"))?;
    }
    Ok(true)
}
