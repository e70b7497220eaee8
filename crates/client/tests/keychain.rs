#![cfg(feature = "keychain")]
