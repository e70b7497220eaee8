//! Hand-written JSON for the token hot path: the same bytes `serde_json` would produce, without
//! its serializer machinery (`#[serde(flatten)]` goes through a map serializer per field).

/// Appends `s` as a JSON string. Strings that need no escaping (no `"`, `\` or control
/// character: every token, URI and scope this server issues) are copied as they are; anything
/// else is escaped by `serde_json`, so the output is always identical to it.
pub fn push_str(out: &mut Vec<u8>, s: &str) {
    if s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        out.reserve(s.len() + 2);
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    } else if serde_json::to_writer(&mut *out, s).is_err() {
        // Writing a string into a Vec cannot fail.
        out.extend_from_slice(b"\"\"");
    }
}

/// Appends `"key":` (the key must need no escaping) and the string `value`, with a leading comma
/// unless `first`.
pub fn push_str_field(out: &mut Vec<u8>, first: bool, key: &str, value: &str) {
    push_key(out, first, key);
    push_str(out, value);
}

/// Appends `"key":` and the integer `value`, with a leading comma unless `first`.
pub fn push_int_field(out: &mut Vec<u8>, first: bool, key: &str, value: impl itoa_like::Int) {
    push_key(out, first, key);
    value.push_to(out);
}

fn push_key(out: &mut Vec<u8>, first: bool, key: &str) {
    if !first {
        out.push(b',');
    }
    out.push(b'"');
    out.extend_from_slice(key.as_bytes());
    out.extend_from_slice(b"\":");
}

/// Integers as `serde_json` writes them.
pub mod itoa_like {
    use std::io::Write;

    /// An integer type.
    pub trait Int {
        /// Appends its decimal form.
        fn push_to(self, out: &mut Vec<u8>);
    }

    impl Int for i64 {
        fn push_to(self, out: &mut Vec<u8>) {
            let _ = write!(out, "{self}");
        }
    }

    impl Int for u64 {
        fn push_to(self, out: &mut Vec<u8>) {
            let _ = write!(out, "{self}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_match_serde_json() {
        for s in [
            "",
            "plain",
            "https://h.example/a?b=c",
            "quote\"d",
            "back\\slash",
            "ctl\u{1}\n\t",
            "é ü \u{7f} 日本",
            "</script>",
        ] {
            let mut out = Vec::new();
            push_str(&mut out, s);
            assert_eq!(out, serde_json::to_vec(s).unwrap(), "{s:?}");
        }
    }

    #[test]
    fn integers_match_serde_json() {
        for n in [0i64, -1, 42, i64::MIN, i64::MAX] {
            let mut out = Vec::new();
            push_int_field(&mut out, true, "n", n);
            assert_eq!(
                out,
                format!("\"n\":{}", serde_json::to_string(&n).unwrap()).into_bytes()
            );
        }
        let mut out = Vec::new();
        push_int_field(&mut out, false, "n", u64::MAX);
        assert_eq!(out, format!(",\"n\":{}", u64::MAX).into_bytes());
    }
}
