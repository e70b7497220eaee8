//! The presets against the live provider: each OpenID preset's issuer pointed at
//! node-oidc-provider (their quirks are unit tests of the presets), and the `cognito` preset
//! against the provider made to issue Cognito's ID tokens (`IDP_CLAIMS=cognito`).

use crate::idp::Browser;
use crate::upstream::{code_of, setup, setup_with, sign_in};
use mcp_oauth_server::config::{Preset, UpstreamConfig};
use reqwest::StatusCode;

#[tokio::test]
async fn the_oidc_presets_pointed_at_a_live_provider() {
    // Each preset's issuer pointed at node-oidc-provider (its quirks are unit tests of the
    // presets); Entra with a tenant pinned refuses a token without that `tid`.
    let presets = [
        ("google", "Google", Preset::Google),
        ("entra", "Microsoft", Preset::Entra),
        ("okta", "Okta", Preset::Okta),
        ("auth0", "Auth0", Preset::Auth0),
        ("keycloak", "Keycloak", Preset::Keycloak),
        ("pinned", "Pinned", Preset::Entra),
    ];
    let ids: Vec<(&str, &str)> = presets.iter().map(|(id, name, _)| (*id, *name)).collect();
    let Some((srv, idp)) = setup(&ids, |blocks| {
        for (b, (_, _, preset)) in blocks.iter_mut().zip(presets.iter()) {
            b.preset = *preset;
        }
        blocks[3].audience = Some("https://api.example".into());
        blocks[5].tenant = Some("72f988bf-86f1-41af-91ab-2d7cd011db47".into());
    })
    .await
    else {
        return;
    };
    for (id, name, _) in &presets[..5] {
        let done = sign_in(&srv, &idp, &Browser::new(), name, "ann").await;
        code_of(&done);
        assert!(
            srv.store()
                .get_upstream_link(id, "ann")
                .await
                .unwrap()
                .is_some(),
            "{id}"
        );
    }
    let refused = sign_in(&srv, &idp, &Browser::new(), "Pinned", "ann").await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    assert!(refused.body.contains("`tid`"), "{}", refused.body);
}

/// The `cognito` block (its issuer pointed at the provider) at `idp`.
fn cognito(b: &mut UpstreamConfig) {
    b.preset = Preset::Cognito;
    b.region = Some("eu-west-1".into());
    b.user_pool_id = Some("eu-west-1_AbC123".into());
    b.domain = Some("myapp".into());
    b.scopes = Some(["openid", "email"].map(String::from).to_vec());
}

#[tokio::test]
async fn the_cognito_preset_against_a_provider_speaking_cognito() {
    // IDP_CLAIMS=cognito: ID tokens with `token_use: "id"`, `cognito:username` and a string
    // `email_verified`, as a Cognito user pool issues them.
    let Some((srv, idp)) = setup_with(
        &[("cognito", "Cognito")],
        &[("IDP_CLAIMS", "cognito")],
        |c| cognito(&mut c.upstream[0]),
    )
    .await
    else {
        return;
    };
    let done = sign_in(&srv, &idp, &Browser::new(), "Cognito", "ann").await;
    code_of(&done);
    let link = srv
        .store()
        .get_upstream_link("cognito", "ann")
        .await
        .unwrap()
        .expect("linked by subject");
    assert!(link.email_verified, "Cognito's string \"true\" counts");
    let user = srv.store().get_user(&link.user_id).await.unwrap().unwrap();
    assert_eq!(
        user.username, "cognito-cog-ann",
        "named by `cognito:username`, after the block"
    );
    drop((srv, idp));

    // The same block at a provider whose ID tokens lack `token_use`: refused, nothing written.
    let Some((srv, idp)) = setup_with(&[("cognito", "Cognito")], &[], |c| {
        cognito(&mut c.upstream[0])
    })
    .await
    else {
        return;
    };
    let refused = sign_in(&srv, &idp, &Browser::new(), "Cognito", "ann").await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    assert!(refused.body.contains("token_use"), "{}", refused.body);
    assert!(
        srv.store()
            .get_upstream_link("cognito", "ann")
            .await
            .unwrap()
            .is_none()
    );
}
