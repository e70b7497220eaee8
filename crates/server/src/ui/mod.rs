//! Server-rendered pages: login, consent and errors. No JavaScript, no external assets.
//!
//! Every page is sent with a Content-Security-Policy that forbids framing (`frame-ancestors
//! 'none'`, plus `X-Frame-Options: DENY` for old browsers), scripts and foreign resources, and
//! limits where forms may go: this server, and, on pages whose form ends in a redirect to the
//! client, the client's redirect origin (browsers apply `form-action` to redirects after a form
//! submission too).

pub mod device_pages;
pub mod error;
pub mod pages;
pub mod session;

pub use error::PageError;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// Escapes text for HTML element content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// An HTML response with the page security headers.
pub fn html(status: StatusCode, body: String, form_targets: &[&str]) -> Response {
    let mut csp = String::from(
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
    );
    for t in form_targets {
        // Only origins made of safe characters go into the header.
        if t.bytes()
            .all(|b| b.is_ascii_graphic() && b != b';' && b != b',' && b != b'\'')
        {
            csp.push(' ');
            csp.push_str(t);
        }
    }
    let mut resp = (status, body).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    if let Ok(v) = HeaderValue::from_str(&csp) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            escape(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }

    #[test]
    fn csp_forbids_framing_and_keeps_unsafe_targets_out() {
        let r = html(
            StatusCode::OK,
            String::new(),
            &["https://app.example", "x; script-src *"],
        );
        let csp = r.headers()[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap();
        assert!(csp.contains("frame-ancestors 'none'"));
        assert!(csp.contains("form-action 'self' https://app.example"));
        assert!(!csp.contains("script-src *"));
        assert_eq!(r.headers()[header::X_FRAME_OPTIONS], "DENY");
    }
}
