//! Clients, resources and users (as `sql/accounts.rs`). Deleting a client or a user takes
//! what hangs off it in the same critical section.

use super::{MemoryStore, State};
use crate::model::*;
use crate::store::{ClientStore, ResourceStore, StoreError, StoreResult, UserStore};
use async_trait::async_trait;
use mcp_oauth_core::clock::UnixTime;

impl State {
    fn user_by_name(&self, username: &str) -> Option<&User> {
        self.users.values().find(|u| u.username == username)
    }
}

#[async_trait]
impl ClientStore for MemoryStore {
    async fn insert_client(&self, client: &Client) -> StoreResult<()> {
        let mut s = self.lock()?;
        if s.clients.contains_key(&client.client_id) {
            return Err(StoreError::Conflict("client".into()));
        }
        s.clients.insert(client.client_id.clone(), client.clone());
        Ok(())
    }

    async fn update_client(&self, client: &Client) -> StoreResult<bool> {
        let mut s = self.lock()?;
        match s.clients.get_mut(&client.client_id) {
            Some(c) => {
                *c = client.clone();
                Ok(true)
            }
            None => Ok(false),
        }
    }

    async fn get_client(&self, client_id: &str) -> StoreResult<Option<Client>> {
        Ok(self.lock()?.clients.get(client_id).cloned())
    }

    async fn list_clients(&self) -> StoreResult<Vec<Client>> {
        let mut v: Vec<Client> = self.lock()?.clients.values().cloned().collect();
        v.sort_by(|a, b| (a.created_at, &a.client_id).cmp(&(b.created_at, &b.client_id)));
        Ok(v)
    }

    async fn delete_client(&self, client_id: &str) -> StoreResult<bool> {
        let mut s = self.lock()?;
        s.codes.retain(|_, r| r.code.client_id != client_id);
        s.device_authorizations
            .retain(|_, a| a.client_id != client_id);
        s.discard_orphan_upstream();
        s.remove_grants(|g| g.client_id == client_id);
        s.consents.retain(|_, c| c.client_id != client_id);
        Ok(s.clients.remove(client_id).is_some())
    }

    async fn touch_client(&self, client_id: &str, now: UnixTime) -> StoreResult<()> {
        if let Some(c) = self.lock()?.clients.get_mut(client_id) {
            c.last_used_at = Some(now);
        }
        Ok(())
    }
}

#[async_trait]
impl ResourceStore for MemoryStore {
    async fn upsert_resource(&self, resource: &Resource) -> StoreResult<()> {
        self.lock()?
            .resources
            .insert(resource.uri.clone(), resource.clone());
        Ok(())
    }

    async fn get_resource(&self, uri: &str) -> StoreResult<Option<Resource>> {
        Ok(self.lock()?.resources.get(uri).cloned())
    }

    async fn list_resources(&self) -> StoreResult<Vec<Resource>> {
        Ok(self.lock()?.resources.values().cloned().collect())
    }

    async fn delete_resource(&self, uri: &str) -> StoreResult<bool> {
        Ok(self.lock()?.resources.remove(uri).is_some())
    }
}

#[async_trait]
impl UserStore for MemoryStore {
    async fn insert_user(&self, user: &User) -> StoreResult<()> {
        let mut s = self.lock()?;
        if s.users.contains_key(&user.id) || s.user_by_name(&user.username).is_some() {
            return Err(StoreError::Conflict("user".into()));
        }
        s.users.insert(user.id.clone(), user.clone());
        Ok(())
    }

    async fn get_user_by_name(&self, username: &str) -> StoreResult<Option<User>> {
        Ok(self.lock()?.user_by_name(username).cloned())
    }

    async fn get_user(&self, id: &str) -> StoreResult<Option<User>> {
        Ok(self.lock()?.users.get(id).cloned())
    }

    async fn list_users(&self) -> StoreResult<Vec<User>> {
        let mut v: Vec<User> = self.lock()?.users.values().cloned().collect();
        v.sort_by(|a, b| a.username.cmp(&b.username));
        Ok(v)
    }

    async fn set_password(&self, username: &str, password_hash: &str) -> StoreResult<bool> {
        let mut s = self.lock()?;
        match s.users.values_mut().find(|u| u.username == username) {
            Some(u) => {
                u.password_hash = password_hash.to_owned();
                Ok(true)
            }
            None => Ok(false),
        }
    }

    async fn set_user_disabled(
        &self,
        username: &str,
        disabled_at: Option<UnixTime>,
    ) -> StoreResult<bool> {
        let mut s = self.lock()?;
        match s.users.values_mut().find(|u| u.username == username) {
            Some(u) => {
                u.disabled_at = disabled_at;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    async fn set_roles(&self, username: &str, roles: &[String]) -> StoreResult<bool> {
        let mut s = self.lock()?;
        match s.users.values_mut().find(|u| u.username == username) {
            Some(u) => {
                u.roles = roles.to_vec();
                Ok(true)
            }
            None => Ok(false),
        }
    }

    async fn delete_user(&self, username: &str) -> StoreResult<bool> {
        let mut s = self.lock()?;
        let Some(id) = s.user_by_name(username).map(|u| u.id.clone()) else {
            return Ok(false);
        };
        s.sessions
            .retain(|_, x| x.user_id.as_deref() != Some(id.as_str()));
        s.consents.retain(|_, c| c.user_id != id);
        // Pending codes would otherwise still turn into grants for a user who no longer exists.
        s.codes.retain(|_, r| r.code.user_id != id);
        s.device_authorizations.retain(
            |_, a| !matches!(&a.status, DeviceStatus::Approved { user_id, .. } if *user_id == id),
        );
        s.discard_orphan_upstream();
        s.remove_grants(|g| g.user_id.as_deref() == Some(id.as_str()));
        s.upstream_links.retain(|_, l| l.user_id != id);
        s.users.remove(&id);
        Ok(true)
    }
}
