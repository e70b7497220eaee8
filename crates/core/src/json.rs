//! Hand-written JSON for the token hot path: the same bytes `serde_json` would produce, without
//! its serializer machinery (`#[serde(flatten)]` goes through a map serializer per field).

/// Appends `s` as a JSON string. Strings that need no escaping (no `"`, `\` or control
/// character: every token, URI and scope this server issues) are copied as they are; anything
/// else is escaped by `serde_json`, so the output is always identical to it.
pub fn push_str(out: &mut Vec<u8>, s: &str) {
    if !needs_escape(s.as_bytes()) {
        out.reserve(s.len() + 2);
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    } else if serde_json::to_writer(&mut *out, s).is_err() {
        // Writing a string into a Vec cannot fail.
        out.extend_from_slice(b"\"\"");
    }
}

/// Whether `b` holds a byte JSON escapes: a control character, `"` or `\`. Eight bytes at a
/// time, since access tokens are long.
fn needs_escape(b: &[u8]) -> bool {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGH: u64 = u64::from_ne_bytes([0x80; 8]);
    // Exact "some byte is below n" (n <= 0x80) and "some byte is zero" tests.
    let below = |w: u64, n: u64| w.wrapping_sub(ONES * n) & !w & HIGH != 0;
    let mut chunks = b.chunks_exact(8);
    for c in &mut chunks {
        let mut a = [0u8; 8];
        a.copy_from_slice(c);
        let w = u64::from_ne_bytes(a);
        if below(w, 0x20)
            || below(w ^ (ONES * u64::from(b'"')), 1)
            || below(w ^ (ONES * u64::from(b'\\')), 1)
        {
            return true;
        }
    }
    chunks
        .remainder()
        .iter()
        .any(|&c| c < 0x20 || c == b'"' || c == b'\\')
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
            "0123456789abcdef\"0123",
            "0123456789abcdef\\0123",
            "0123456789abcdef\u{1f}0123",
            "0123456789abcdefghij\u{7f}\u{80}ÿ",
            "\u{ff}\u{9f}\u{a0}\u{21}\u{5b}\u{5d}\u{1ff}\u{2022}",
        ] {
            let mut out = Vec::new();
            push_str(&mut out, s);
            assert_eq!(out, serde_json::to_vec(s).unwrap(), "{s:?}");
        }
    }

    #[test]
    fn escape_detection_is_exact() {
        for pos in 0..20 {
            for byte in 0u8..=0x7f {
                let mut v = vec![b'a'; 20];
                v[pos] = byte;
                let want = byte < 0x20 || byte == b'"' || byte == b'\\';
                assert_eq!(needs_escape(&v), want, "{byte:#x} at {pos}");
            }
            let mut v = [0xc3u8, 0xa9].repeat(10);
            v[pos] = 0xa2;
            assert!(!needs_escape(&v));
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
