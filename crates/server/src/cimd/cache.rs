//! The in-memory cache of validated metadata documents, as clients.
//!
//! Only valid documents are cached, for the lifetime their `Cache-Control` asks, clamped to the
//! configured bounds; `no-store` documents are not cached; failures never are (CIMD §4.3). The
//! cache is per instance and bounded: beyond [`MAX_ENTRIES`] expired entries go first, then all.

use crate::model::Client;
use mcp_oauth_core::clock::UnixTime;
use std::collections::HashMap;
use std::sync::Mutex;

/// Most documents kept at once.
pub const MAX_ENTRIES: usize = 10_000;

#[derive(Debug, Clone)]
struct Entry {
    client: Client,
    expires_at: UnixTime,
}

/// Validated documents by URL.
#[derive(Debug, Default)]
pub struct DocumentCache {
    entries: Mutex<HashMap<String, Entry>>,
}

impl DocumentCache {
    /// The cached client for `url`, if still fresh at `now`.
    pub fn get(&self, url: &str, now: UnixTime) -> Option<Client> {
        let map = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        map.get(url)
            .filter(|e| e.expires_at > now)
            .map(|e| e.client.clone())
    }

    /// Keeps `client` for `url` until `expires_at`.
    pub fn put(&self, url: &str, client: Client, expires_at: UnixTime, now: UnixTime) {
        let mut map = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= MAX_ENTRIES && !map.contains_key(url) {
            map.retain(|_, e| e.expires_at > now);
            if map.len() >= MAX_ENTRIES {
                map.clear();
            }
        }
        map.insert(url.to_owned(), Entry { client, expires_at });
    }

    /// Forgets `url` (its document changed hands or failed).
    pub fn remove(&self, url: &str) {
        let mut map = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        map.remove(url);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_expire() {
        let c = DocumentCache::default();
        let client = crate::store::contract::bare_client("https://a.example/c", 1);
        c.put("https://a.example/c", client.clone(), 100, 0);
        assert_eq!(c.get("https://a.example/c", 99), Some(client));
        assert_eq!(c.get("https://a.example/c", 100), None);
        c.remove("https://a.example/c");
        assert_eq!(c.get("https://a.example/c", 0), None);
    }
}
