//! `client_secret_basic` credentials (RFC 6749 §2.3.1): the one encoder the client sends and the
//! one decoder the server accepts.
//!
//! The client identifier and the secret are each `application/x-www-form-urlencoded` (Appendix B)
//! *before* they are joined by `:` and base64-encoded, which many implementations forget: an id or
//! secret holding `:`, `%`, `+` or a space then reads differently on each side. Both halves live
//! here so that the encoder and the decoder cannot drift apart.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// `application/x-www-form-urlencoded` encoding of one value (RFC 6749 Appendix B).
pub fn form_urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// `application/x-www-form-urlencoded` decoding of one value: `+` is a space, `%XX` a byte.
/// `None` for a truncated or non-hex escape or a result that is not UTF-8.
///
/// Done by hand rather than with a form parser because a raw `&` or `=` from a lax client must
/// not split the value.
pub fn form_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = s.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// The `Authorization` header value for `client_secret_basic`:
/// `Basic base64(urlencode(client_id) ":" urlencode(secret))`.
pub fn encode(client_id: &str, secret: &str) -> String {
    let raw = format!("{}:{}", form_urlencode(client_id), form_urlencode(secret));
    format!("Basic {}", STANDARD.encode(raw))
}

/// Decodes an `Authorization` header value of the `Basic` scheme (case-insensitive) into the
/// client identifier and the secret. `None` for another scheme, bad base64, no `:`, a bad escape
/// or anything that is not UTF-8.
pub fn decode(value: &str) -> Option<(String, String)> {
    let (scheme, rest) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let raw = STANDARD.decode(rest.trim()).ok()?;
    let mut raw = String::from_utf8(raw).ok()?;
    let colon = raw.find(':')?;
    if !raw.contains(['+', '%']) {
        // Nothing to decode: split the buffer instead of copying both halves.
        let secret = raw[colon + 1..].to_owned();
        raw.truncate(colon);
        return Some((raw, secret));
    }
    let (id, secret) = raw.split_at(colon);
    Some((form_decode(id)?, form_decode(&secret[1..])?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_form_encodes_before_base64() {
        // RFC 6749 §2.3.1: a space becomes '+', ':' becomes %3A, then base64.
        let h = encode("my client:1", "p@ss w/rd+");
        let b64 = h.strip_prefix("Basic ").unwrap();
        let raw = STANDARD.decode(b64).unwrap();
        assert_eq!(
            String::from_utf8(raw).unwrap(),
            "my+client%3A1:p%40ss+w%2Frd%2B"
        );
    }

    #[test]
    fn decode_is_form_decoded() {
        // id "a b" and secret "p:w%" encoded per RFC 6749 §2.3.1.
        let v = format!("Basic {}", STANDARD.encode("a+b:p%3Aw%25"));
        assert_eq!(decode(&v), Some(("a b".into(), "p:w%".into())));
        assert_eq!(decode("Bearer x"), None);
        assert_eq!(decode("Basic !!!"), None);
        assert_eq!(
            decode(&format!("basic {}", STANDARD.encode("nocolon"))),
            None
        );
        assert_eq!(form_decode("a&b=c%2"), None);
        assert_eq!(form_decode("a&b=c"), Some("a&b=c".into()));
    }

    #[test]
    fn malformed_never_panics() {
        for v in [
            "",
            "Basic",
            "Basic ",
            "Basic %",
            "Basic \u{e9}\u{e9}",
            "Basic /w==",     // not UTF-8
            "Basic JTp4",     // "%:x": a truncated escape
            "Basic JXp6Ong=", // "%zz:x": not hex
            "Basic JUMzOng=", // "%C3:x": an escape that is not UTF-8 alone
        ] {
            assert_eq!(decode(v), None, "{v:?}");
        }
        assert_eq!(form_decode("%"), None);
        assert_eq!(form_decode("%4"), None);
        assert_eq!(form_decode("%\u{e9}"), None);
    }

    #[test]
    fn round_trip() {
        for (id, secret) in [
            ("plain", "secret"),
            ("a b:c", "p%2B+:x"),
            ("https://client.example/metadata.json", "\u{e9}t\u{e9} &="),
            ("", ""),
        ] {
            assert_eq!(
                decode(&encode(id, secret)),
                Some((id.to_owned(), secret.to_owned()))
            );
        }
    }
}
