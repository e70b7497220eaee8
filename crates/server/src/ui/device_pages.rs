//! The device page's templates (RFC 8628 §3.3, `verification_uri`): sign in, enter or confirm
//! the user code, then approve or deny. Like [`super::pages`]: plain forms, every value escaped.

use super::escape;
use super::pages::{layout, scope_items, unavailable_items, verified_by};

/// The hidden fields every device form carries.
fn hidden(csrf: &str, user_code: &str) -> String {
    format!(
        "<input type=\"hidden\" name=\"csrf_token\" value=\"{}\"><input type=\"hidden\" name=\"user_code\" value=\"{}\">",
        escape(csrf),
        escape(user_code)
    )
}

fn alert(error: Option<&str>) -> String {
    error
        .map(|e| format!("<p class=\"error\" role=\"alert\">{}</p>", escape(e)))
        .unwrap_or_default()
}

/// An identity provider the device page offers: its `[[upstream]]` id and name.
#[derive(Debug, Clone)]
pub struct Provider {
    /// The block's id (the button's value).
    pub id: String,
    /// Its display name.
    pub name: String,
}

/// Sign-in before a device can be connected. `user_code` (as typed or prefilled) is carried
/// through the sign-in and shown again afterwards, for confirmation. With identity providers,
/// the code is asked for first, in the form of their buttons (`upstream_action`): the consent
/// comes before the person is sent to the provider, so the code must be known by then.
#[allow(clippy::too_many_arguments)]
pub fn login(
    action: &str,
    upstream_action: &str,
    csrf: &str,
    user_code: &str,
    error: Option<&str>,
    username: &str,
    providers: &[Provider],
    password_form: bool,
) -> String {
    let federated = if providers.is_empty() {
        String::new()
    } else {
        let buttons: String = providers
            .iter()
            .map(|p| {
                format!(
                    "<button type=\"submit\" name=\"upstream\" value=\"{id}\" class=\"secondary\">Continue with {name}</button> ",
                    id = escape(&p.id),
                    name = escape(&p.name),
                )
            })
            .collect();
        format!(
            "<form method=\"post\" action=\"{action}\" class=\"upstream\">\
<input type=\"hidden\" name=\"csrf_token\" value=\"{csrf}\">\
<label for=\"upstream_user_code\">Code your device shows</label><input id=\"upstream_user_code\" name=\"user_code\" type=\"text\" autocomplete=\"off\" autocapitalize=\"characters\" spellcheck=\"false\" required maxlength=\"64\" value=\"{code}\">\
{buttons}</form>",
            action = escape(upstream_action),
            csrf = escape(csrf),
            code = escape(user_code),
        )
    };
    if !password_form {
        let body = if providers.is_empty() {
            "<p>Sign in to this server first (for example in the web console), then open this page again.</p>".to_owned()
        } else {
            format!(
                "<p class=\"who\">Enter the code your device shows, then sign in with your identity provider.</p>{federated}"
            )
        };
        return layout(
            "Sign in",
            &format!("<h1>Connect a device</h1>{}{body}", alert(error)),
        );
    }
    let or = if providers.is_empty() {
        String::new()
    } else {
        format!("{federated}<p class=\"muted\">or with a password of this server:</p>")
    };
    layout(
        "Sign in",
        &format!(
            "<h1>Connect a device</h1>\
<p class=\"who\">Sign in to connect an application running on another device.</p>{err}{or}\
<form method=\"post\" action=\"{action}\">{hidden}\
<label for=\"username\">Username</label><input id=\"username\" name=\"username\" type=\"text\" autocomplete=\"username\" required autofocus value=\"{user}\">\
<label for=\"password\">Password</label><input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" required>\
<button type=\"submit\" name=\"login\" value=\"1\">Sign in</button></form>",
            err = alert(error),
            action = escape(action),
            hidden = hidden(csrf, user_code),
            user = escape(username),
        ),
    )
}

/// The user code form. A code that arrived in the link (`verification_uri_complete`) is filled
/// in, but the person must still press Continue after comparing it with the device's screen
/// (RFC 8628 §5.4: a link alone never connects anything).
pub fn enter_code(
    action: &str,
    csrf: &str,
    username: &str,
    user_code: &str,
    error: Option<&str>,
) -> String {
    let hint = if user_code.is_empty() {
        "Enter the code your device shows."
    } else {
        "Check that this is exactly the code your device shows. If you did not start this on a device of your own, close this page."
    };
    layout(
        "Connect a device",
        &format!(
            "<h1>Connect a device</h1>\
<p class=\"who\">Signed in as <strong>{user}</strong></p>{err}<p>{hint}</p>\
<form method=\"post\" action=\"{action}\">\
<input type=\"hidden\" name=\"csrf_token\" value=\"{csrf}\">\
<label for=\"user_code\">Code</label><input id=\"user_code\" name=\"user_code\" type=\"text\" autocomplete=\"off\" autocapitalize=\"characters\" spellcheck=\"false\" required autofocus maxlength=\"64\" value=\"{code}\">\
<button type=\"submit\" name=\"lookup\" value=\"1\">Continue</button></form>",
            user = escape(username),
            err = alert(error),
            hint = escape(hint),
            action = escape(action),
            csrf = escape(csrf),
            code = escape(user_code),
        ),
    )
}

/// What the consent page shows of a device authorization.
#[derive(Debug, Clone)]
pub struct DeviceSummary<'a> {
    /// The client's display name.
    pub client_name: &'a str,
    /// The client id.
    pub client_id: &'a str,
    /// For a client identified by a metadata document: the host that served it.
    pub verified_by: Option<&'a str>,
    /// The resource's name.
    pub resource_name: &'a str,
    /// The resource URI.
    pub resource_uri: &'a str,
    /// The user code, as shown (`XXXX-XXXX`).
    pub user_code: &'a str,
}

/// What a device asks for: the code, the client, the resource and the scopes.
fn asked(summary: &DeviceSummary<'_>, scopes: &[(String, String)]) -> String {
    format!(
        "<p>The device showing the code <code id=\"user-code\">{code}</code> runs <strong>{client}</strong> <span class=\"muted\">(client id <code>{client_id}</code>)</span> and asks for access to <strong>{resource}</strong> <span class=\"muted\">(<code>{resource_uri}</code>)</span> with these permissions:</p><ul>{items}</ul>",
        code = escape(summary.user_code),
        client = escape(summary.client_name),
        client_id = escape(summary.client_id),
        resource = escape(summary.resource_name),
        resource_uri = escape(summary.resource_uri),
        items = scope_items(scopes),
    )
}

/// Approve or deny a device authorization.
pub fn consent(
    action: &str,
    csrf: &str,
    summary: &DeviceSummary<'_>,
    username: &str,
    scopes: &[(String, String)],
    unavailable: &[crate::roles::Unavailable],
) -> String {
    let verified = verified_by(summary.verified_by);
    let not_available = unavailable_items(unavailable);
    layout(
        "Authorize a device",
        &format!(
            "<h1>Authorize {client}?</h1>{verified}\
<p class=\"who\">Signed in as <strong>{user}</strong></p>\
{asked}{not_available}\
<p class=\"muted\">Only approve a device you are using yourself, right now.</p>\
<form method=\"post\" action=\"{action}\">{hidden}\
<button type=\"submit\" name=\"approve\" value=\"1\">Allow</button> \
<button type=\"submit\" name=\"deny\" value=\"1\" class=\"secondary\">Deny</button></form>",
            client = escape(summary.client_name),
            user = escape(username),
            asked = asked(summary, scopes),
            action = escape(action),
            hidden = hidden(csrf, summary.user_code),
        ),
    )
}

/// Our consent before a federated sign-in approves a device (the MCP spec's confused-deputy
/// defence, as [`super::pages::upstream_consent`]): who asks for what, and where the person
/// will sign in. The scopes are those asked for; the sign-in's account gets those its roles
/// allow.
pub fn upstream_consent(
    action: &str,
    csrf: &str,
    summary: &DeviceSummary<'_>,
    provider: &Provider,
    scopes: &[(String, String)],
) -> String {
    let verified = verified_by(summary.verified_by);
    layout(
        "Authorize a device",
        &format!(
            "<h1>Authorize {client}?</h1>{verified}\
{asked}\
<p class=\"who\">If you allow it, you will sign in with <strong>{provider}</strong>; the device gets access for the account you sign in with there.</p>\
<p class=\"muted\">Only approve a device you are using yourself, right now.</p>\
<form method=\"post\" action=\"{action}\">{hidden}\
<input type=\"hidden\" name=\"upstream\" value=\"{provider_id}\">\
<button type=\"submit\" name=\"approve\" value=\"1\">Allow and continue with {provider}</button> \
<button type=\"submit\" name=\"deny\" value=\"1\" class=\"secondary\">Deny</button></form>",
            client = escape(summary.client_name),
            asked = asked(summary, scopes),
            provider = escape(&provider.name),
            provider_id = escape(&provider.id),
            action = escape(action),
            hidden = hidden(csrf, summary.user_code),
        ),
    )
}

/// After the decision.
pub fn done(approved: bool) -> String {
    let (title, text) = if approved {
        (
            "Device connected",
            "The device is now authorized. You can close this window and go back to it.",
        )
    } else {
        (
            "Request denied",
            "The device was not given access. You can close this window.",
        )
    };
    layout(
        title,
        &format!(
            "<h1 id=\"outcome\">{}</h1><p>{}</p>",
            escape(title),
            escape(text)
        ),
    )
}
