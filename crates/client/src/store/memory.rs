//! A store in memory: for tests, for one-shot commands, and for embedding where the host keeps
//! its own persistence.

use super::{CredentialStore, StoreData, StoredRegistration, StoredToken, TokenKey};
use crate::error::Result;
use std::sync::{Mutex, MutexGuard};

/// Tokens and registrations in memory. Share it with `Arc` between managers of one process.
#[derive(Debug, Default)]
pub struct MemoryStore {
    data: Mutex<StoreData>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn data(&self) -> MutexGuard<'_, StoreData> {
        // A poisoned lock only means another thread panicked mid-update of plain data.
        self.data
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[async_trait::async_trait]
impl CredentialStore for MemoryStore {
    async fn get_token(&self, key: &TokenKey) -> Result<Option<StoredToken>> {
        Ok(self.data().get_token(key))
    }
    async fn put_token(&self, key: &TokenKey, token: &StoredToken) -> Result<()> {
        self.data().put_token(key, token);
        Ok(())
    }
    async fn remove_token(&self, key: &TokenKey) -> Result<()> {
        self.data().remove_token(key);
        Ok(())
    }
    async fn tokens_for_server(&self, server_url: &str) -> Result<Vec<(TokenKey, StoredToken)>> {
        Ok(self.data().tokens_for_server(server_url))
    }
    async fn all_tokens(&self) -> Result<Vec<(TokenKey, StoredToken)>> {
        Ok(self.data().all_tokens())
    }
    async fn all_registrations(&self) -> Result<Vec<StoredRegistration>> {
        Ok(self.data().registrations.clone())
    }
    async fn get_registration(&self, issuer: &str) -> Result<Option<StoredRegistration>> {
        Ok(self.data().get_registration(issuer))
    }
    async fn put_registration(&self, registration: &StoredRegistration) -> Result<()> {
        self.data().put_registration(registration);
        Ok(())
    }
    async fn remove_registration(&self, issuer: &str, client_id: &str) -> Result<()> {
        self.data().remove_registration(issuer, client_id);
        Ok(())
    }
}
