//! Throw-away PostgreSQL databases for tests (this crate's, and other crates' through the
//! `contract-tests` feature).
//!
//! [`TestDatabase::create`] connects to the server named by `MCP_OAUTH_TEST_DATABASE_URL`
//! (default [`DEFAULT_URL`]), creates a database `mcp_oauth_test_<random>` there and drops it
//! again when the value is dropped (a test that panics leaves nothing behind either). When no
//! server answers, it fails if `MCP_OAUTH_REQUIRE_POSTGRES` is set (CI) and otherwise prints a
//! loud `SKIPPED` line and returns `None`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use sqlx::{Connection, Executor, PgConnection};

/// The server used when `MCP_OAUTH_TEST_DATABASE_URL` is not set.
pub const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// A database that exists for one test.
#[derive(Debug)]
pub struct TestDatabase {
    admin_url: String,
    name: String,
    url: String,
    dropped: bool,
}

impl TestDatabase {
    /// Creates a fresh, empty database; `None` (after a loud notice) when no PostgreSQL server
    /// is reachable and `MCP_OAUTH_REQUIRE_POSTGRES` is not set.
    pub async fn create(test: &str) -> Option<Self> {
        let admin_url =
            std::env::var("MCP_OAUTH_TEST_DATABASE_URL").unwrap_or_else(|_| DEFAULT_URL.to_owned());
        let connect = tokio::time::timeout(
            std::time::Duration::from_secs(10),
            PgConnection::connect(&admin_url),
        );
        let mut admin = match connect.await.unwrap_or_else(|_| {
            Err(sqlx::Error::Io(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "connection timed out",
            )))
        }) {
            Ok(c) => c,
            Err(e) => {
                if std::env::var_os("MCP_OAUTH_REQUIRE_POSTGRES").is_some() {
                    panic!(
                        "PostgreSQL at {admin_url} is required (MCP_OAUTH_REQUIRE_POSTGRES) but unreachable: {e}"
                    );
                }
                // Straight to the stderr handle, past the test harness's output capture, so
                // the skip is seen even when the test passes.
                use std::io::Write;
                let _ = writeln!(
                    std::io::stderr(),
                    "\n!!!!! SKIPPED {test}: no PostgreSQL at {admin_url} ({e}); set \
                     MCP_OAUTH_TEST_DATABASE_URL, or MCP_OAUTH_REQUIRE_POSTGRES=1 to fail instead !!!!!\n"
                );
                return None;
            }
        };
        let name = format!("mcp_oauth_test_{:016x}", rand::random::<u64>());
        admin
            .execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .await
            .unwrap_or_else(|e| panic!("creating test database {name}: {e}"));
        let _ = admin.close().await;
        let mut url = url::Url::parse(&admin_url).expect("MCP_OAUTH_TEST_DATABASE_URL is a URL");
        url.set_path(&format!("/{name}"));
        Some(Self {
            admin_url,
            name,
            url: url.to_string(),
            dropped: false,
        })
    }

    /// The database's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The database's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Drops the database now (closing whatever connections remain).
    pub async fn drop_now(mut self) {
        self.dropped = true;
        drop_database(&self.admin_url, &self.name).await;
    }
}

async fn drop_database(admin_url: &str, name: &str) {
    match PgConnection::connect(admin_url).await {
        Ok(mut admin) => {
            if let Err(e) = admin
                .execute(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                )))
                .await
            {
                eprintln!("dropping test database {name}: {e}");
            }
            let _ = admin.close().await;
        }
        Err(e) => eprintln!("dropping test database {name}: {e}"),
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if self.dropped {
            return;
        }
        // Drop may run inside a runtime (or while unwinding from a panic): do the async work on a
        // thread of its own with a runtime of its own.
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        let _ = std::thread::spawn(move || {
            if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                rt.block_on(drop_database(&admin_url, &name));
            }
        })
        .join();
    }
}
