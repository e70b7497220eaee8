//! The in-memory cache of validated metadata documents, as clients.
//!
//! Only valid documents are cached, for the lifetime their `Cache-Control` asks, clamped to the
//! configured bounds; `no-store` documents are not cached; failures never are (CIMD §4.3). The
//! cache is per instance and bounded: beyond [`MAX_ENTRIES`] expired entries go first, then all.

use crate::bounded::BoundedMap;
use crate::model::Client;
use mcp_oauth_core::clock::UnixTime;

/// Most documents kept at once.
pub const MAX_ENTRIES: usize = 10_000;

#[derive(Debug, Clone)]
struct Entry {
    client: Client,
    expires_at: UnixTime,
}

/// Validated documents by URL.
#[derive(Debug)]
pub struct DocumentCache {
    entries: BoundedMap<Entry>,
}

impl Default for DocumentCache {
    fn default() -> Self {
        Self {
            entries: BoundedMap::new(MAX_ENTRIES),
        }
    }
}

impl DocumentCache {
    /// The cached client for `url`, if still fresh at `now`.
    pub fn get(&self, url: &str, now: UnixTime) -> Option<Client> {
        self.entries
            .read(url, |e| (e.expires_at > now).then(|| e.client.clone()))
    }

    /// Keeps `client` for `url` until `expires_at`.
    pub fn put(&self, url: &str, client: Client, expires_at: UnixTime, now: UnixTime) {
        let entry = Entry { client, expires_at };
        self.entries.insert(url, entry, |e| e.expires_at > now);
    }

    /// Forgets `url` (its document changed hands or failed).
    pub fn remove(&self, url: &str) {
        self.entries.remove(url);
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
