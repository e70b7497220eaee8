//! An account an administrator disabled signs in no more through its upstream: the provider
//! still vouches for the person, but our callback refuses, says so, and issues no code.

use crate::idp::Browser;
use crate::upstream::{code_of, setup, sign_in};
use mcp_oauth_server::admin;
use reqwest::StatusCode;

#[tokio::test]
async fn a_disabled_account_does_not_sign_in_through_its_upstream() {
    let Some((srv, idp)) = setup(&[("corp", "Corp")], |_| {}).await else {
        return;
    };
    code_of(&sign_in(&srv, &idp, &Browser::new(), "Corp", "ann").await);
    let users = srv.store().list_users().await.unwrap();
    let ann = users
        .iter()
        .find(|u| u.username.starts_with("corp-"))
        .expect("the linked account")
        .username
        .clone();
    admin::set_user_disabled(srv.store().as_ref(), &ann, true, srv.state.now())
        .await
        .unwrap();

    let page = sign_in(&srv, &idp, &Browser::new(), "Corp", "ann").await;
    assert_eq!(page.status, StatusCode::FORBIDDEN, "{}", page.body);
    assert!(page.body.contains("disabled"), "{}", page.body);
    assert!(page.location.is_none(), "no code goes to the client");

    admin::set_user_disabled(srv.store().as_ref(), &ann, false, srv.state.now())
        .await
        .unwrap();
    code_of(&sign_in(&srv, &idp, &Browser::new(), "Corp", "ann").await);
}
