//! `serve --dev`: the tour's callback page at `{issuer}/dev/callback`.
//!
//! The demo client has this URL among its redirect URIs, so the browser flow of the README's tour
//! ends on a page of this server instead of an address where nothing listens: it shows the
//! authorization response (`code`, `state`, `iss`, or the error) and the exact `curl` command that
//! redeems the code. Served only in development mode. The page is sent with the same headers as
//! the login and consent pages (CSP without scripts, no framing, `no-store`, no referrer), and
//! every value from the query is HTML-escaped; in the command, values are shell-quoted.

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use mcp_oauth_server::ui::{escape, html};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Where the page is served, below the issuer.
pub const PATH: &str = "/dev/callback";

/// The PKCE pair of the tour (RFC 7636 appendix B): the printed authorization URL carries the
/// challenge, the page's command the verifier.
pub const TOUR_VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
/// `BASE64URL(SHA256(TOUR_VERIFIER))`.
pub const TOUR_CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

/// The callback URL of an issuer.
pub fn url(issuer: &str) -> String {
    format!("{issuer}{PATH}")
}

struct Tour {
    issuer: String,
    client_id: String,
    resource: String,
}

/// The route of the page, for an issuer whose endpoints are mounted at `issuer_path`.
pub fn router(issuer: &str, issuer_path: &str, client_id: &str, resource: &str) -> Router {
    let tour = Arc::new(Tour {
        issuer: issuer.to_owned(),
        client_id: client_id.to_owned(),
        resource: resource.to_owned(),
    });
    Router::new()
        .route(
            &format!("{}{PATH}", issuer_path.trim_end_matches('/')),
            get(page),
        )
        .with_state(tour)
}

async fn page(State(tour): State<Arc<Tour>>, RawQuery(query): RawQuery) -> Response {
    // The first value of each parameter (a repeated one is shown as it came first).
    let mut params = BTreeMap::new();
    for (k, v) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        params
            .entry(k.into_owned())
            .or_insert_with(|| v.into_owned());
    }
    let get = |k: &str| params.get(k).map(String::as_str);
    let row = |name: &str, value: Option<&str>| match value {
        Some(v) => format!(
            "<tr><th>{name}</th><td><code>{}</code></td></tr>",
            escape(v)
        ),
        None => format!("<tr><th>{name}</th><td class=\"muted\">(none)</td></tr>"),
    };
    let iss_note = match get("iss") {
        Some(i) if i == tour.issuer => {
            "<p class=\"ok\"><code>iss</code> is this server's issuer (RFC 9207): the response came from the server the request went to.</p>".to_owned()
        }
        Some(_) => format!(
            "<p class=\"error\"><code>iss</code> is not this server's issuer ({}): a client must reject this response (RFC 9207, mix-up attack).</p>",
            escape(&tour.issuer)
        ),
        None => "<p class=\"error\">No <code>iss</code>: this server always sends it (RFC 9207).</p>".to_owned(),
    };
    let (title, body) = if let Some(error) = get("error") {
        (
            "Authorization refused",
            format!(
                "<h1>Authorization refused</h1><p>The server sent an error response (RFC 6749 §4.1.2.1) instead of a code.</p><table>{}{}{}{}</table>{iss_note}",
                row("error", Some(error)),
                row("error_description", get("error_description")),
                row("state", get("state")),
                row("iss", get("iss")),
            ),
        )
    } else if let Some(code) = get("code") {
        let command = redeem_command(&tour, code);
        (
            "Authorization code received",
            format!(
                "<h1>Authorization code received</h1><table>{}{}{}</table>{iss_note}\
<p>Check that <code>state</code> is the one you sent (the tour's URL sends <code>xyz</code>), then redeem the code \
within 60 seconds (it works once):</p><pre>{}</pre>\
<p class=\"muted\"><code>code_verifier</code> is the tour's verifier, whose challenge the printed URL carries. If you made your own \
challenge, put your verifier there instead.</p>",
                row("code", Some(code)),
                row("state", get("state")),
                row("iss", get("iss")),
                escape(&command),
            ),
        )
    } else {
        (
            "Nothing to show",
            "<h1>Nothing to show</h1><p>This page shows an authorization response: open the authorization URL that <code>mcp-oauth serve --dev</code> printed, sign in and approve, and the browser comes back here with a code.</p>".to_owned(),
        )
    };
    html(StatusCode::OK, layout(title, &body), &[])
}

/// The `curl` command that redeems `code` for the demo client.
fn redeem_command(tour: &Tour, code: &str) -> String {
    format!(
        "curl -s {} -d grant_type=authorization_code -d client_id={} \\\n     --data-urlencode redirect_uri={} --data-urlencode resource={} \\\n     -d code_verifier={TOUR_VERIFIER} --data-urlencode code={}",
        shell_word(&format!("{}/token", tour.issuer)),
        shell_word(&tour.client_id),
        shell_word(&url(&tour.issuer)),
        shell_word(&tour.resource),
        shell_word(code),
    )
}

/// `s` as one shell word: as it is when it holds only characters no shell treats specially,
/// otherwise in single quotes (a `'` inside becomes `'\''`).
fn shell_word(s: &str) -> String {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~/:@%+=,".contains(&b))
    {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

const STYLE: &str = "body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;background:#f4f5f7;color:#1d2330;margin:0}\
main{max-width:46rem;margin:3rem auto;background:#fff;border-radius:12px;box-shadow:0 2px 12px rgba(0,0,0,.08);padding:2rem}\
h1{font-size:1.3rem;margin:0 0 1rem}table{border-collapse:collapse;margin-bottom:1rem}th{text-align:left;padding:.3rem 1rem .3rem 0;vertical-align:top}\
td{padding:.3rem 0}code{background:#f0f1f4;padding:.1rem .3rem;border-radius:4px;word-break:break-all}\
pre{background:#1d2330;color:#f4f5f7;padding:1rem;border-radius:8px;white-space:pre-wrap;word-break:break-all}\
.error{background:#fdecea;color:#8a1c12;padding:.6rem;border-radius:6px}.ok{background:#e8f6ec;color:#14532d;padding:.6rem;border-radius:6px}\
.muted{color:#5b6475;font-size:.9rem}";

fn layout(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>{}</title><style>{STYLE}</style></head><body><main>{body}</main></body></html>",
        escape(title)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_words_are_quoted_when_needed() {
        assert_eq!(shell_word("abc-_.~123"), "abc-_.~123");
        assert_eq!(
            shell_word("http://127.0.0.1:8080/token"),
            "http://127.0.0.1:8080/token"
        );
        assert_eq!(shell_word("a b"), "'a b'");
        assert_eq!(shell_word("$(rm -rf ~)"), "'$(rm -rf ~)'");
        assert_eq!(shell_word("it's"), "'it'\\''s'");
        assert_eq!(shell_word(""), "''");
    }

    #[test]
    fn the_tour_pair_is_a_pkce_pair() {
        assert_eq!(
            mcp_oauth_core::pkce::s256_challenge(TOUR_VERIFIER),
            TOUR_CHALLENGE
        );
    }
}
