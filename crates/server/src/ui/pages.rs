//! The page templates. Plain HTML forms that work without JavaScript; every dynamic value is
//! escaped with [`escape`].

use super::escape;

const STYLE: &str = "body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;background:#f4f5f7;color:#1d2330;margin:0}\
main{max-width:26rem;margin:4rem auto;background:#fff;border-radius:12px;box-shadow:0 2px 12px rgba(0,0,0,.08);padding:2rem}\
h1{font-size:1.3rem;margin:0 0 1rem}label{display:block;margin:.8rem 0 .3rem;font-weight:600}\
input[type=text],input[type=password]{width:100%;box-sizing:border-box;padding:.6rem;border:1px solid #c7ccd6;border-radius:6px;font-size:1rem}\
button{padding:.6rem 1.2rem;border-radius:6px;border:1px solid #2456d6;background:#2456d6;color:#fff;font-size:1rem;cursor:pointer;margin-top:1rem}\
button.secondary{background:#fff;color:#2456d6}.error{background:#fdecea;color:#8a1c12;padding:.6rem;border-radius:6px}\
.who{background:#eef3ff;padding:.6rem;border-radius:6px;margin-bottom:1rem}\
.verified{background:#e8f6ec;color:#14532d;padding:.6rem;border-radius:6px;font-size:1.05rem}ul{padding-left:1.2rem}li{margin:.3rem 0}\
code{background:#f0f1f4;padding:.1rem .3rem;border-radius:4px;word-break:break-all}.muted{color:#5b6475;font-size:.9rem}";

pub(crate) fn layout(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>{}</title><link rel=\"icon\" href=\"data:,\"><style>{STYLE}</style></head><body><main>{body}</main></body></html>",
        escape(title)
    )
}

/// What the login and consent pages say about the request.
#[derive(Debug, Clone)]
pub struct RequestSummary<'a> {
    /// The client's display name.
    pub client_name: &'a str,
    /// The host the user will be sent back to.
    pub redirect_host: &'a str,
    /// The resource's name.
    pub resource_name: &'a str,
    /// The resource URI.
    pub resource_uri: &'a str,
    /// For a client identified by a metadata document: the host that served it, which vouches
    /// for the client's identity (and, unlike the name, cannot be chosen freely).
    pub verified_by: Option<&'a str>,
}

/// The "who is asking" block: the verified host of a metadata document, prominently.
pub(crate) fn verified(summary: &RequestSummary<'_>) -> String {
    verified_by(summary.verified_by)
}

/// The line naming the host that served a client's metadata document, if it has one.
pub(crate) fn verified_by(host: Option<&str>) -> String {
    host.map(|h| {
        format!(
            "<p class=\"verified\">Client identity verified by <strong>{}</strong></p>",
            escape(h)
        )
    })
    .unwrap_or_default()
}

/// The scopes asked for that the user's roles do not allow, as text (no inputs: the server
/// recomputes the scopes on POST); empty when there are none.
pub(crate) fn unavailable_items(unavailable: &[crate::roles::Unavailable]) -> String {
    if unavailable.is_empty() {
        return String::new();
    }
    let li: String = unavailable
        .iter()
        .map(|u| {
            format!(
                "<li><strong>{}</strong> <span class=\"muted\">(<code>{}</code>; needs the role {})</span></li>",
                escape(&u.description),
                escape(&u.name),
                escape(&u.roles.join(" or "))
            )
        })
        .collect();
    format!(
        "<p class=\"unavailable\">Also asked for, but not available to your account (it will not be granted):</p><ul class=\"unavailable\">{li}</ul>"
    )
}

/// A "Continue with …" button of the login page: a form to `action` (an upstream's start).
#[derive(Debug, Clone)]
pub struct UpstreamButton {
    /// `{issuer}/upstream/{id}/start`.
    pub action: String,
    /// The provider's name.
    pub name: String,
}

/// The upstream buttons: each a form carrying the CSRF token and the pending request.
fn upstream_buttons(buttons: &[UpstreamButton], csrf: &str, authorize_query: &str) -> String {
    buttons
        .iter()
        .map(|b| {
            format!(
                "<form method=\"post\" action=\"{action}\" class=\"upstream\">\
<input type=\"hidden\" name=\"csrf_token\" value=\"{csrf}\">\
<input type=\"hidden\" name=\"authorize_query\" value=\"{query}\">\
<button type=\"submit\" class=\"secondary\">Continue with {name}</button></form>",
                action = escape(&b.action),
                csrf = escape(csrf),
                query = escape(authorize_query),
                name = escape(&b.name),
            )
        })
        .collect()
}

/// The login form, with the upstream buttons beside it (or instead of it, with no
/// `password_form`).
#[allow(clippy::too_many_arguments)]
pub fn login(
    action: &str,
    csrf: &str,
    authorize_query: &str,
    summary: &RequestSummary<'_>,
    error: Option<&str>,
    username: &str,
    upstreams: &[UpstreamButton],
    password_form: bool,
) -> String {
    let err = error
        .map(|e| format!("<p class=\"error\" role=\"alert\">{}</p>", escape(e)))
        .unwrap_or_default();
    let buttons = upstream_buttons(upstreams, csrf, authorize_query);
    if !password_form {
        return layout(
            "Sign in",
            &format!(
                "<h1>Sign in</h1>\
<p class=\"who\"><strong>{client}</strong> wants to access <strong>{resource}</strong>.</p>{verified}{err}{buttons}",
                client = escape(summary.client_name),
                resource = escape(summary.resource_name),
                verified = verified(summary),
            ),
        );
    }
    let or = if upstreams.is_empty() {
        String::new()
    } else {
        format!("{buttons}<p class=\"muted\">or with a password of this server:</p>")
    };
    layout(
        "Sign in",
        &format!(
            "<h1>Sign in</h1>\
<p class=\"who\"><strong>{client}</strong> wants to access <strong>{resource}</strong>.</p>{verified}{err}{or}\
<form method=\"post\" action=\"{action}\">\
<input type=\"hidden\" name=\"csrf_token\" value=\"{csrf}\">\
<input type=\"hidden\" name=\"authorize_query\" value=\"{query}\">\
<label for=\"username\">Username</label><input id=\"username\" name=\"username\" type=\"text\" autocomplete=\"username\" required autofocus value=\"{user}\">\
<label for=\"password\">Password</label><input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" required>\
<button type=\"submit\" name=\"login\" value=\"1\">Sign in</button></form>",
            client = escape(summary.client_name),
            resource = escape(summary.resource_name),
            verified = verified(summary),
            action = escape(action),
            csrf = escape(csrf),
            query = escape(authorize_query),
            user = escape(username),
        ),
    )
}

/// The list items of the scopes a consent page asks for.
pub(crate) fn scope_items(scopes: &[(String, String)]) -> String {
    if scopes.is_empty() {
        return "<li>Basic access (no specific permissions)</li>".to_owned();
    }
    scopes
        .iter()
        .map(|(name, desc)| {
            format!(
                "<li><strong>{}</strong> <span class=\"muted\">(<code>{}</code>)</span></li>",
                escape(desc),
                escape(name)
            )
        })
        .collect()
}

/// Our consent before a sign-in at an upstream (the MCP spec's confused-deputy defence: the
/// upstream sees one client, ours, for every MCP client, and may not ask the user again), so
/// the user approves this client here, before being sent there.
pub fn upstream_consent(
    action: &str,
    csrf: &str,
    authorize_query: &str,
    summary: &RequestSummary<'_>,
    provider: &str,
    scopes: &[(String, String)],
) -> String {
    layout(
        "Authorize access",
        &format!(
            "<h1>Authorize {client}?</h1>{verified}\
<p><strong>{client}</strong> asks for access to <strong>{resource}</strong> <span class=\"muted\">(<code>{resource_uri}</code>)</span> with these permissions:</p>\
<ul>{items}</ul>\
<p class=\"who\">If you allow it, you will sign in with <strong>{provider}</strong>, and then be sent to <strong>{host}</strong>.</p>\
<form method=\"post\" action=\"{action}\">\
<input type=\"hidden\" name=\"csrf_token\" value=\"{csrf}\">\
<input type=\"hidden\" name=\"authorize_query\" value=\"{query}\">\
<button type=\"submit\" name=\"approve\" value=\"1\">Allow and continue with {provider}</button> \
<button type=\"submit\" name=\"deny\" value=\"1\" class=\"secondary\">Deny</button></form>",
            client = escape(summary.client_name),
            verified = verified(summary),
            resource = escape(summary.resource_name),
            resource_uri = escape(summary.resource_uri),
            items = scope_items(scopes),
            provider = escape(provider),
            host = escape(summary.redirect_host),
            action = escape(action),
            csrf = escape(csrf),
            query = escape(authorize_query),
        ),
    )
}

/// The consent form.
#[allow(clippy::too_many_arguments)]
pub fn consent(
    action: &str,
    csrf: &str,
    authorize_query: &str,
    summary: &RequestSummary<'_>,
    username: &str,
    scopes: &[(String, String)],
    unavailable: &[crate::roles::Unavailable],
) -> String {
    let items = scope_items(scopes);
    let not_available = unavailable_items(unavailable);
    layout(
        "Authorize access",
        &format!(
            "<h1>Authorize {client}?</h1>{verified}\
<p class=\"who\">Signed in as <strong>{user}</strong></p>\
<p><strong>{client}</strong> asks for access to <strong>{resource}</strong> <span class=\"muted\">(<code>{resource_uri}</code>)</span> with these permissions:</p>\
<ul>{items}</ul>{not_available}\
<p class=\"muted\">After you decide, you will be sent to <strong>{host}</strong>.</p>\
<form method=\"post\" action=\"{action}\">\
<input type=\"hidden\" name=\"csrf_token\" value=\"{csrf}\">\
<input type=\"hidden\" name=\"authorize_query\" value=\"{query}\">\
<button type=\"submit\" name=\"approve\" value=\"1\">Allow</button> \
<button type=\"submit\" name=\"deny\" value=\"1\" class=\"secondary\">Deny</button></form>",
            client = escape(summary.client_name),
            verified = verified(summary),
            user = escape(username),
            resource = escape(summary.resource_name),
            resource_uri = escape(summary.resource_uri),
            host = escape(summary.redirect_host),
            action = escape(action),
            csrf = escape(csrf),
            query = escape(authorize_query),
        ),
    )
}

/// An error page, for errors that must not be redirected to the client.
pub fn error(title: &str, message: &str) -> String {
    layout(
        title,
        &format!(
            "<h1>{}</h1><p class=\"error\" role=\"alert\">{}</p><p class=\"muted\">You can close this window.</p>",
            escape(title),
            escape(message)
        ),
    )
}
