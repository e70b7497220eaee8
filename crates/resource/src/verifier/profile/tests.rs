//! The profiles' rules: issuer forms, audience rules, scope and client claims, `typ`, required
//! claims. The whole verifier with each profile is tested end to end in the CLI's `guard_e2e`.

use super::*;
use serde_json::json;

const RES: &str = "https://mcp.example.com/mcp";
const TID: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";

#[test]
fn by_name_knows_every_profile() {
    for n in [
        "rfc9068", "default", "auth0", "okta", "entra", "cognito", "keycloak", "generic",
    ] {
        assert!(Profile::by_name(n).is_ok(), "{n}");
    }
    let e = Profile::by_name("ping").unwrap_err().to_string();
    assert!(e.contains("unknown profile `ping`"), "{e}");
}

#[test]
fn typ_rules() {
    let d = Profile::rfc9068();
    assert!(d.accepts_typ(Some("at+jwt")));
    assert!(d.accepts_typ(Some("application/AT+JWT")));
    assert!(!d.accepts_typ(Some("JWT")));
    assert!(!d.accepts_typ(None));
    let a = Profile::auth0();
    assert!(a.accepts_typ(Some("JWT")) && a.accepts_typ(Some("at+jwt")) && !a.accepts_typ(None));
    let c = Profile::cognito();
    assert!(c.accepts_typ(None) && c.accepts_typ(Some("JWT")));
    let o = Profile::okta();
    assert!(o.accepts_typ(None) && o.accepts_typ(Some("JWT")) && !o.accepts_typ(Some("id+jwt")));
    let g = Profile::generic().typ(["JWT", "none"]);
    assert!(g.accepts_typ(None) && g.accepts_typ(Some("jwt")) && !g.accepts_typ(Some("at+jwt")));
    assert!(Profile::rfc9068().any_typ().accepts_typ(Some("whatever")));
}

#[test]
fn scopes_are_the_union_of_the_scope_claims() {
    let a = Profile::auth0();
    let s = a
        .scopes(&json!({"scope": "openid read:x", "permissions": ["write:x", "read:x"]}))
        .unwrap();
    assert_eq!(s.to_string(), "openid read:x write:x");
    let e = Profile::entra();
    let s = e
        .scopes(&json!({"scp": "Files.Read User.Read", "roles": ["Tasks.ReadWrite.All"]}))
        .unwrap();
    assert_eq!(s.to_string(), "Files.Read Tasks.ReadWrite.All User.Read");
    assert!(
        e.scopes(&json!({"aud": "x"})).is_err(),
        "an Entra ID token without scp or roles"
    );
    let o = Profile::okta();
    assert_eq!(
        o.scopes(&json!({"scp": ["a", "b"], "scope": "c"}))
            .unwrap()
            .to_string(),
        "a b"
    );
    let g = Profile::generic().scope_claims(["perms"]);
    assert_eq!(
        g.scopes(&json!({"perms": "x y", "scope": "z"}))
            .unwrap()
            .to_string(),
        "x y"
    );
}

#[test]
fn client_id_claims() {
    assert_eq!(
        Profile::okta()
            .client_id(&json!({"cid": "0oa1"}))
            .as_deref(),
        Some("0oa1")
    );
    assert_eq!(
        Profile::entra()
            .client_id(&json!({"appid": "v1"}))
            .as_deref(),
        Some("v1")
    );
    assert_eq!(
        Profile::auth0().client_id(&json!({"azp": "a"})).as_deref(),
        Some("a")
    );
    assert_eq!(
        Profile::keycloak()
            .client_id(&json!({"azp": "k"}))
            .as_deref(),
        Some("k")
    );
}

#[test]
fn audience_is_always_checked() {
    let e = Profile::keycloak()
        .audiences(RES, &[])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("Audience mapper") && e.contains("--audience"),
        "{e}"
    );
    let e = Profile::cognito()
        .audiences(RES, &[])
        .unwrap_err()
        .to_string();
    assert!(e.contains("client ids"), "{e}");
    let c = Profile::cognito().audiences(RES, &["app1".into()]).unwrap();
    assert!(
        c.accepts("app1") && !c.accepts(RES),
        "the resource URI is never a Cognito client id"
    );
    let d = Profile::rfc9068()
        .audiences(RES, &["api://mcp".into()])
        .unwrap();
    assert!(d.accepts(RES) && d.accepts("HTTPS://MCP.EXAMPLE.COM/mcp") && d.accepts("api://mcp"));
    assert!(!d.accepts("api://MCP") && !d.accepts("https://mcp.example.com/other"));
    assert!(Profile::rfc9068().audiences(RES, &[String::new()]).is_err());
    let cog = Profile::cognito();
    assert_eq!(
        cog.audience_values(&json!({"client_id": "app1", "aud": "x"})),
        vec!["app1"]
    );
    let auth0 = Profile::auth0();
    assert_eq!(
        auth0.audience_values(&json!({"aud": [RES, "https://t.auth0.com/userinfo"]})),
        vec![RES, "https://t.auth0.com/userinfo"]
    );
}

#[test]
fn required_claims() {
    let c = Profile::cognito();
    assert!(
        c.check_required(&json!({"token_use": "access"}), &[])
            .is_ok()
    );
    let e = c
        .check_required(&json!({"token_use": "id"}), &[])
        .unwrap_err();
    assert_eq!(e, "the access token's `token_use` claim is not `access`");
    assert!(c.check_required(&json!({}), &[]).is_err());
    let k = Profile::keycloak();
    assert!(k.check_required(&json!({"typ": "ID"}), &[]).is_err());
    let extra = [("tid".to_owned(), json!(TID))];
    assert!(
        Profile::entra()
            .check_required(&json!({"tid": TID}), &extra)
            .is_ok()
    );
    assert!(
        Profile::entra()
            .check_required(&json!({"tid": "x"}), &extra)
            .is_err()
    );
}

#[test]
fn auth0_issuer_gets_its_trailing_slash() {
    let f = Profile::auth0()
        .issuer_forms("https://t.eu.auth0.com")
        .unwrap();
    assert_eq!(f.discovery, "https://t.eu.auth0.com/");
    assert_eq!(f.accepted, vec!["https://t.eu.auth0.com/"]);
    assert!(
        Profile::auth0()
            .issuer_forms("https://t.auth0.com/api")
            .is_err()
    );
}

#[test]
fn okta_refuses_the_org_authorization_server() {
    assert!(
        Profile::okta()
            .issuer_forms("https://acme.okta.com/oauth2/default")
            .is_ok()
    );
    assert!(
        Profile::okta()
            .issuer_forms("https://acme.okta.com/oauth2/aus1a2b3")
            .is_ok()
    );
    for org in [
        "https://acme.okta.com",
        "https://acme.okta.com/",
        "https://acme.okta.com/oauth2/v1",
    ] {
        let e = Profile::okta().issuer_forms(org).unwrap_err().to_string();
        assert!(
            e.contains("org authorization server") && e.contains("/oauth2/default"),
            "{e}"
        );
    }
}

#[test]
fn entra_issuer_forms_and_tenants() {
    let v2 = format!("https://login.microsoftonline.com/{TID}/v2.0");
    let f = Profile::entra().issuer_forms(&v2).unwrap();
    assert_eq!(f.discovery, v2);
    assert_eq!(
        f.accepted,
        vec![v2.clone(), format!("https://sts.windows.net/{TID}/")]
    );
    assert_eq!(f.required_claims, vec![("tid".to_owned(), json!(TID))]);
    let v1 = Profile::entra()
        .issuer_forms(&format!("https://sts.windows.net/{TID}/"))
        .unwrap();
    assert_eq!(v1.discovery, v2);
    let e = Profile::entra()
        .issuer_forms("https://login.microsoftonline.com/common/v2.0")
        .unwrap_err()
        .to_string();
    assert!(e.contains("--tenant"), "{e}");
    assert!(
        Profile::entra()
            .issuer_forms("https://login.microsoftonline.com/x")
            .is_err()
    );
    let t2 = "00000000-0000-0000-0000-0000000000aa".to_owned();
    let issuers = entra::tenant_issuers(
        "https://login.microsoftonline.com/organizations/v2.0",
        &[TID.to_owned(), t2.clone()],
    )
    .unwrap();
    assert_eq!(
        issuers,
        vec![v2, format!("https://login.microsoftonline.com/{t2}/v2.0")]
    );
    assert!(entra::tenant_issuers("https://login.microsoftonline.com/common/v2.0", &[]).is_err());
    assert!(
        entra::tenant_issuers(
            "https://login.microsoftonline.com/common/v2.0",
            &["contoso".into()]
        )
        .is_err()
    );
}

#[test]
fn cognito_and_keycloak_issuer_forms() {
    let c = Profile::cognito();
    assert!(
        c.issuer_forms("https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC123")
            .is_ok()
    );
    assert!(
        c.issuer_forms("https://cognito-idp.eu-west-1.amazonaws.com/us-east-1_AbC123")
            .is_err()
    );
    assert!(
        c.issuer_forms("https://cognito-idp.eu-west-1.amazonaws.com/")
            .is_err()
    );
    assert!(
        c.issuer_forms("https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_A/x")
            .is_err()
    );
    let k = Profile::keycloak();
    assert!(k.issuer_forms("https://id.example.com/realms/mcp").is_ok());
    assert!(
        k.issuer_forms("https://id.example.com/auth/realms/mcp")
            .is_ok()
    );
    assert!(k.issuer_forms("https://id.example.com/").is_err());
    assert!(
        Profile::generic()
            .issuer_forms("https://anything/x")
            .is_ok()
    );
}
