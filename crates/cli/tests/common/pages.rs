//! The person at the browser, for the tests: signs in on the real login and consent pages with a
//! cookie-keeping HTTP client and returns where the server sends the browser next.
//!
//! Included by path (`#[path = "…/common/pages.rs"] mod pages;`) by each test crate that needs it.
#![allow(dead_code)]

use std::time::Duration;

/// The value of the hidden form field `name` in `body`, HTML-unescaped.
pub fn hidden(body: &str, name: &str) -> String {
    between(body, &format!("name=\"{name}\" value=\""), "\"")
}

/// The text between the first `start` and the next `end`, HTML-unescaped.
pub fn between(body: &str, start: &str, end: &str) -> String {
    let from = body
        .find(start)
        .unwrap_or_else(|| panic!("no `{start}` in {body}"))
        + start.len();
    let to = body[from..]
        .find(end)
        .unwrap_or_else(|| panic!("no `{end}` after `{start}` in {body}"))
        + from;
    body[from..to]
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// A browser: keeps cookies, does not follow redirects (the test looks at each).
pub fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

/// Opens `authorization_url`, signs in as `username`/`password` on the login page, approves the
/// consent page when one is shown, and returns the final redirect's `Location` (not followed).
/// The forms are posted to the `action` each page names.
pub async fn sign_in(authorization_url: &str, username: &str, password: &str) -> String {
    let browser = browser();
    let auth_url = url::Url::parse(authorization_url).unwrap();
    let page = browser.get(auth_url.clone()).send().await.unwrap();
    assert_eq!(page.status(), 200, "the login page");
    let body = page.text().await.unwrap();
    let action = auth_url.join(&between(&body, "action=\"", "\"")).unwrap();
    let aq = hidden(&body, "authorize_query");
    let r = browser
        .post(action)
        .form(&[
            ("csrf_token", hidden(&body, "csrf_token").as_str()),
            ("authorize_query", aq.as_str()),
            ("username", username),
            ("password", password),
            ("login", "1"),
        ])
        .send()
        .await
        .unwrap();
    let done = if r.status() == 303 {
        r
    } else {
        assert_eq!(r.status(), 200, "the consent page");
        let body = r.text().await.unwrap();
        let action = auth_url.join(&between(&body, "action=\"", "\"")).unwrap();
        browser
            .post(action)
            .form(&[
                ("csrf_token", hidden(&body, "csrf_token").as_str()),
                ("authorize_query", aq.as_str()),
                ("approve", "1"),
            ])
            .send()
            .await
            .unwrap()
    };
    assert_eq!(done.status(), 303, "the redirect after consent");
    done.headers()["location"].to_str().unwrap().to_owned()
}
