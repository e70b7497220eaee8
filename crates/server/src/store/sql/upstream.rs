//! Federated login's records in SQL: sign-ins in flight (consumed by one `DELETE … RETURNING`,
//! so exactly one instance of several gets a given sign-in), links, upstream tokens, the queue
//! of deleted upstream tokens still to revoke at their provider (taken the same way), and the
//! refresh lease of a grant's upstream tokens (claimed by one conditional `UPDATE`).

use super::accounts::insert_user_in;
use super::dialect::{Arg, Dialect, Query, SqlBackend, SqlRow, formatted};
use super::row::{Columns, record};
use super::run::Run;
use super::tx::in_tx;
use crate::model::User;
use crate::model::upstream::{SignInFor, UpstreamLink, UpstreamLogin, UpstreamTokens};
use crate::store::{StoreResult, UpstreamStore};
use async_trait::async_trait;
use mcp_oauth_core::clock::UnixTime;

fn login_from_row(row: &impl SqlRow) -> StoreResult<UpstreamLogin> {
    let target = match row.col::<Option<String>>("device_user_code_hash")? {
        Some(user_code_hash) => SignInFor::Device { user_code_hash },
        None => SignInFor::Authorization {
            query: row.col("authorize_query")?,
        },
    };
    record![row => UpstreamLogin { state_hash, upstream_id, session_hash, target = target,
        sealed_verifier, nonce, created_at, expires_at }]
}

fn link_from_row(row: &impl SqlRow) -> StoreResult<UpstreamLink> {
    record![row => UpstreamLink { upstream_id, subject, user_id, email,
        email_verified = row.col::<i64>("email_verified")? != 0, created_at }]
}

fn tokens_from_row(row: &impl SqlRow) -> StoreResult<UpstreamTokens> {
    record![row => UpstreamTokens { code_hash, grant_id, upstream_id, sealed, expires_at,
        updated_at }]
}

async fn insert_link_in<D: Dialect>(conn: &mut D::Connection, l: &UpstreamLink) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO upstream_links (upstream_id, subject, user_id, email, email_verified, \
         created_at) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .arg(l.upstream_id.as_str())
    .arg(l.subject.as_str())
    .arg(l.user_id.as_str())
    .arg(l.email.as_deref())
    .arg(i64::from(l.email_verified))
    .arg(l.created_at)
    .run(D::on(conn), "upstream link")
    .await
}

/// Keeps (or replaces) the upstream tokens under `t.code_hash`: the statement, to run on the
/// pool or in a transaction.
pub(super) fn put_tokens<D: Dialect>(t: &UpstreamTokens) -> Query<'_, D> {
    sqlx::query(
        "INSERT INTO upstream_tokens (code_hash, grant_id, upstream_id, sealed, expires_at, \
         updated_at) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (code_hash) DO UPDATE SET \
         grant_id = excluded.grant_id, upstream_id = excluded.upstream_id, \
         sealed = excluded.sealed, expires_at = excluded.expires_at, \
         updated_at = excluded.updated_at",
    )
    .arg(t.code_hash.as_str())
    .arg(t.grant_id.as_deref())
    .arg(t.upstream_id.as_str())
    .arg(t.sealed.as_slice())
    .arg(t.expires_at)
    .arg(t.updated_at)
}

#[async_trait]
impl<S: SqlBackend<Db = D>, D: Dialect> UpstreamStore for S {
    async fn insert_upstream_login(&self, l: &UpstreamLogin) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO upstream_logins (state_hash, upstream_id, session_hash, \
             authorize_query, device_user_code_hash, sealed_verifier, nonce, created_at, \
             expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .arg(l.state_hash.as_str())
        .arg(l.upstream_id.as_str())
        .arg(l.session_hash.as_str())
        .arg(match &l.target {
            SignInFor::Authorization { query } => query.as_str(),
            SignInFor::Device { .. } => "",
        })
        .arg(match &l.target {
            SignInFor::Device { user_code_hash } => Some(user_code_hash.as_str()),
            SignInFor::Authorization { .. } => None,
        })
        .arg(l.sealed_verifier.as_slice())
        .arg(l.nonce.as_str())
        .arg(l.created_at)
        .arg(l.expires_at)
        .run(self.on_pool(), "upstream login")
        .await
    }

    async fn take_upstream_login(
        &self,
        state_hash: &str,
        now: UnixTime,
    ) -> StoreResult<Option<UpstreamLogin>> {
        // One statement: the row is gone for everyone else the moment one caller has it.
        let taken = sqlx::query("DELETE FROM upstream_logins WHERE state_hash = $1 RETURNING *")
            .arg(state_hash)
            .optional(
                self.on_pool(),
                "consuming an upstream login",
                login_from_row,
            )
            .await?;
        Ok(taken.filter(|l| l.expires_at > now))
    }

    async fn purge_upstream_logins(&self, now: UnixTime) -> StoreResult<u64> {
        sqlx::query("DELETE FROM upstream_logins WHERE expires_at <= $1")
            .arg(now)
            .changed(self.on_pool(), "purging upstream logins")
            .await
    }

    async fn get_upstream_link(
        &self,
        upstream_id: &str,
        subject: &str,
    ) -> StoreResult<Option<UpstreamLink>> {
        sqlx::query("SELECT * FROM upstream_links WHERE upstream_id = $1 AND subject = $2")
            .arg(upstream_id)
            .arg(subject)
            .optional(self.on_pool(), "reading an upstream link", link_from_row)
            .await
    }

    async fn find_verified_links(&self, email: &str) -> StoreResult<Vec<UpstreamLink>> {
        sqlx::query(
            "SELECT * FROM upstream_links WHERE email = $1 AND email_verified = 1 \
             ORDER BY created_at",
        )
        .arg(email)
        .all(self.on_pool(), "finding upstream links", link_from_row)
        .await
    }

    async fn create_upstream_user(&self, user: &User, link: &UpstreamLink) -> StoreResult<()> {
        in_tx!(self, |tx| async move {
            insert_user_in::<D>(&mut *tx, user).await?;
            insert_link_in::<D>(&mut *tx, link).await
        })
    }

    async fn insert_upstream_link(&self, link: &UpstreamLink) -> StoreResult<()> {
        in_tx!(self, |tx| insert_link_in::<D>(tx, link))
    }

    async fn list_upstream_links(&self) -> StoreResult<Vec<UpstreamLink>> {
        formatted(format!(
            "SELECT * FROM upstream_links ORDER BY user_id{c}, upstream_id{c}, subject{c}",
            c = D::BYTE_ORDER
        ))
        .all(self.on_pool(), "listing upstream links", link_from_row)
        .await
    }

    async fn user_upstream_links(&self, user_id: &str) -> StoreResult<Vec<UpstreamLink>> {
        formatted(format!(
            "SELECT * FROM upstream_links WHERE user_id = $1 ORDER BY upstream_id{c}, subject{c}",
            c = D::BYTE_ORDER
        ))
        .arg(user_id)
        .all(
            self.on_pool(),
            "listing a user's upstream links",
            link_from_row,
        )
        .await
    }

    async fn put_upstream_tokens(&self, t: &UpstreamTokens) -> StoreResult<()> {
        put_tokens::<D>(t)
            .run(self.on_pool(), "upstream tokens")
            .await
    }

    async fn get_grant_upstream_tokens(
        &self,
        grant_id: &str,
    ) -> StoreResult<Option<UpstreamTokens>> {
        sqlx::query(
            "SELECT t.* FROM upstream_tokens t JOIN grants g ON g.id = t.grant_id \
             WHERE t.grant_id = $1 AND g.revoked_at IS NULL",
        )
        .arg(grant_id)
        .optional(self.on_pool(), "reading upstream tokens", tokens_from_row)
        .await
    }

    async fn take_upstream_revocations(&self, limit: u32) -> StoreResult<Vec<UpstreamTokens>> {
        // One statement: a row taken here is revoked by this instance only.
        sqlx::query(
            "DELETE FROM upstream_revocations WHERE code_hash IN \
             (SELECT code_hash FROM upstream_revocations ORDER BY code_hash LIMIT $1) \
             RETURNING code_hash, upstream_id, sealed",
        )
        .arg(i64::from(limit))
        .all(self.on_pool(), "taking upstream revocations", |row| {
            Ok(UpstreamTokens::queued(
                row.col("code_hash")?,
                row.col("upstream_id")?,
                row.col("sealed")?,
            ))
        })
        .await
    }

    async fn claim_upstream_refresh(
        &self,
        grant_id: &str,
        now: UnixTime,
        until: UnixTime,
    ) -> StoreResult<bool> {
        // A conditional UPDATE: of instances racing for it, exactly one changes the row.
        Ok(sqlx::query(
            "UPDATE upstream_tokens SET refreshing_until = $1 WHERE grant_id = $2 \
             AND (refreshing_until IS NULL OR refreshing_until <= $3)",
        )
        .arg(until)
        .arg(grant_id)
        .arg(now)
        .changed(self.on_pool(), "claiming an upstream refresh")
        .await?
            > 0)
    }

    async fn release_upstream_refresh(&self, grant_id: &str) -> StoreResult<()> {
        sqlx::query("UPDATE upstream_tokens SET refreshing_until = NULL WHERE grant_id = $1")
            .arg(grant_id)
            .run(self.on_pool(), "releasing an upstream refresh")
            .await
    }

    async fn update_grant_upstream_tokens(&self, t: &UpstreamTokens) -> StoreResult<bool> {
        Ok(sqlx::query(
            "UPDATE upstream_tokens SET sealed = $1, expires_at = $2, updated_at = $3 \
             WHERE code_hash = $4 AND grant_id = $5",
        )
        .arg(t.sealed.as_slice())
        .arg(t.expires_at)
        .arg(t.updated_at)
        .arg(t.code_hash.as_str())
        .arg(t.grant_id.as_deref())
        .changed(self.on_pool(), "refreshing upstream tokens")
        .await?
            > 0)
    }
}
