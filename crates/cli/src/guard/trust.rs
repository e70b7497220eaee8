//! Whom the guard trusts, assembled from its settings: the provider [`Profile`] (with the
//! `generic` knobs), the issuers (for Entra ID one per allowed tenant), a [`JwtVerifier`] per
//! issuer with the audience aliases, and, when a client id is given, RFC 7662 introspection for
//! opaque tokens. Every issuer's metadata is read first ([`super::startup`]), so that a
//! configuration that cannot work stops the start with its reason.

use super::settings::{SecretSource, Settings};
use super::startup;
use crate::output::explained;
use anyhow::Context;
use mcp_oauth_core::secret::Secret;
use mcp_oauth_resource::verifier::profile::entra;
use mcp_oauth_resource::{
    CachedVerifier, IntrospectionVerifier, JwtVerifier, MultiIssuerVerifier, Profile,
    SharedVerifier, SplitVerifier,
};
use std::sync::Arc;

/// What the guard verifies tokens with, and what its metadata says about the issuers.
pub(super) struct Trust {
    pub(super) verifier: SharedVerifier,
    /// The PRM `authorization_servers`: the provider's issuers.
    pub(super) issuers: Vec<String>,
    /// Notes printed at start-up (client registration).
    pub(super) notes: Vec<String>,
    /// How opaque tokens are checked, for the start-up line.
    pub(super) introspection: Option<String>,
}

/// The profile named in the settings, with the `generic` knobs applied.
fn profile(s: &Settings) -> anyhow::Result<Profile> {
    let mut p = Profile::by_name(&s.profile).context("invalid --profile")?;
    let g = &s.generic;
    if let Some(c) = &g.scope_claims {
        p = p.scope_claims(c.clone());
    }
    if let Some(c) = &g.audience_claims {
        p = p.audience_claims(c.clone());
    }
    if let Some(t) = &g.typ {
        p = p.typ(t.clone());
    }
    for (k, v) in &g.required_claims {
        p = p.required_claim(k.clone(), v.clone());
    }
    Ok(p)
}

/// The issuers to trust: as given, or for Entra ID one per `--tenant` on the given authority.
fn issuers(s: &Settings) -> anyhow::Result<Vec<String>> {
    if s.tenants.is_empty() {
        if s.issuers.is_empty() {
            anyhow::bail!("--issuer is required (or `issuer` in [guard])");
        }
        return Ok(s.issuers.clone());
    }
    if s.profile != "entra" {
        anyhow::bail!("--tenant is for --profile entra (the tenants of a multi-tenant app)");
    }
    let authorities = if s.issuers.is_empty() {
        vec![format!("{}/organizations/v2.0", entra::AUTHORITY)]
    } else {
        s.issuers.clone()
    };
    let mut out = Vec::new();
    for a in &authorities {
        for i in entra::tenant_issuers(a, &s.tenants)
            .map_err(|e| explained(format!("--tenant with issuer `{a}`: {e}"), None))?
        {
            if !out.contains(&i) {
                out.push(i);
            }
        }
    }
    Ok(out)
}

fn secret(source: &SecretSource) -> anyhow::Result<Secret> {
    let value = match source {
        SecretSource::Env(var) => std::env::var(var).with_context(|| {
            format!("--client-secret-env: environment variable {var} is not set")
        })?,
        SecretSource::File(path) => std::fs::read_to_string(path)
            .with_context(|| format!("--client-secret-file: cannot read {}", path.display()))?,
    };
    let value = value.trim_end_matches(['\r', '\n']).to_owned();
    if value.is_empty() {
        anyhow::bail!("the introspection client secret is empty");
    }
    Ok(Secret::new(value))
}

/// Builds the verifiers and runs the start-up checks.
pub(super) async fn assemble(s: &Settings) -> anyhow::Result<Trust> {
    let profile = profile(s)?;
    let issuers = issuers(s)?;
    let wants_introspection = s.client_id.is_some() || s.introspection_endpoint.is_some();
    if !wants_introspection && s.client_secret.is_some() {
        anyhow::bail!("a client secret without --client-id: introspection needs both");
    }
    if s.jwks_uri.is_some() && issuers.len() > 1 {
        anyhow::bail!("--jwks-uri names the keys of one issuer; several are configured");
    }
    let mut multi = MultiIssuerVerifier::new();
    let mut notes = Vec::new();
    let mut discovered = Vec::new();
    let mut first_meta = None;
    for issuer in &issuers {
        let mut b = JwtVerifier::builder(issuer.clone(), s.resource.clone())
            .profile(profile.clone())
            .audiences(s.audiences.iter().cloned())
            .insecure_allow_http(s.insecure_http);
        if let Some(u) = &s.jwks_uri {
            b = b.jwks_uri(u.clone());
        }
        let v = b.build().map_err(|e| {
            explained(
                format!(
                    "cannot trust issuer `{issuer}` with profile `{}`: {e}",
                    profile.name()
                ),
                None,
            )
        })?;
        let meta = startup::metadata(v.issuer(), s.insecure_http).await?;
        startup::require_jwks(v.issuer(), &meta, s.jwks_uri.as_deref())?;
        v.refresh().await.map_err(|e| {
            explained(
                format!(
                    "the signing keys of `{}` cannot be loaded: {e}. Check its jwks_uri \
                     (or --jwks-uri)",
                    v.issuer()
                ),
                None,
            )
        })?;
        notes.extend(startup::registration_note(v.issuer(), &meta));
        discovered.push(v.issuer().to_owned());
        for form in v.accepted_issuers() {
            multi = multi.with_issuer(form.clone(), v.clone())?;
        }
        first_meta.get_or_insert(meta);
    }
    let jwt = CachedVerifier::new(multi);
    if !wants_introspection {
        return Ok(Trust {
            verifier: Arc::new(jwt),
            issuers: discovered,
            notes,
            introspection: None,
        });
    }
    let (Some(client_id), Some(source)) = (&s.client_id, &s.client_secret) else {
        anyhow::bail!(
            "introspection needs the guard's own client credentials at the provider: \
             --client-id ID with --client-secret-env VAR or --client-secret-file PATH"
        );
    };
    let [issuer] = discovered.as_slice() else {
        anyhow::bail!("introspection (--client-id) is for one issuer; several are configured");
    };
    let endpoint = match (
        &s.introspection_endpoint,
        first_meta.and_then(|m| m.introspection_endpoint),
    ) {
        (Some(e), _) => e.clone(),
        (None, Some(e)) => e,
        (None, None) => {
            return Err(explained(
                format!(
                    "the metadata of `{issuer}` has no introspection_endpoint: give it with \
                     --introspection-endpoint URL"
                ),
                None,
            ));
        }
    };
    let mut b = IntrospectionVerifier::builder(
        issuer.clone(),
        s.resource.clone(),
        client_id,
        secret(source)?,
    )
    .endpoint(endpoint.clone())
    .insecure_allow_http(s.insecure_http)
    // The bound on how late a revoked token or API key is noticed.
    .max_ttl(std::time::Duration::from_secs(30));
    if profile.resource_in_audience() {
        for a in &s.audiences {
            b = b.audience(a.clone());
        }
    } else {
        anyhow::bail!(
            "profile `{}` has no introspection: its tokens are JWTs checked locally",
            profile.name()
        );
    }
    let opaque = b
        .build()
        .map_err(|e| explained(format!("invalid introspection settings: {e}"), None))?;
    Ok(Trust {
        // JWTs to the JWT verifiers, anything else (opaque tokens, API keys) to introspection.
        verifier: Arc::new(SplitVerifier::new(jwt, opaque)),
        issuers: discovered,
        notes,
        introspection: Some(endpoint),
    })
}
