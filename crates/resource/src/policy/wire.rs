//! The parts of a JSON-RPC body the policy reads, deserialized without building the rest.
//!
//! Hand-written visitors rather than derived structs, to keep `serde_json::Value`'s semantics
//! exactly: a `method`, `name` or `uri` that is not a string counts as absent, and every skipped
//! value is still parsed through `deserialize_any` (not `deserialize_ignored_any`, which accepts
//! numbers out of range, lone surrogates and unbounded nesting), so a body is refused whenever
//! `serde_json::from_slice::<Value>` refuses it, and otherwise read as `Value` reads it.
//!
//! One deliberate difference, to fail closed: a member the policy reads (`method`, `params`,
//! and `name`, `uri` inside `params`) that is **repeated**, or that has a **look-alike** key
//! (`Method`, `NAME`, `paramſ` with the long s), makes the body ambiguous and it is refused
//! (an error of category `Data`). Parsers disagree on these: `serde_json::Value`, `JSON.parse`
//! and Python take the last of repeated keys, others the first, and Go's `encoding/json` matches
//! struct fields case-insensitively (with Unicode simple folding), so the guard and the server
//! behind it could see different methods or tools.

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use std::borrow::Cow;
use std::fmt;

/// A whole body: one message, a batch, or anything else.
pub(super) enum Body<'a> {
    Single(Message<'a>),
    Batch(Vec<Message<'a>>),
    Other,
}

/// One element of a body.
pub(super) enum Message<'a> {
    Object {
        method: Option<Field<'a>>,
        params: Option<Params<'a>>,
    },
    NotObject,
}

/// `params`.
pub(super) enum Params<'a> {
    Object {
        name: Option<Field<'a>>,
        uri: Option<Field<'a>>,
    },
    NotObject,
}

/// A value the policy reads: a string (borrowed unless it had escapes), or something else.
pub(super) enum Field<'a> {
    Str(Cow<'a, str>),
    NotStr,
}

impl Field<'_> {
    pub(super) fn as_str(&self) -> Option<&str> {
        match self {
            Field::Str(s) => Some(s),
            Field::NotStr => None,
        }
    }
}

/// Any value, checked and dropped.
struct Skip;

/// An object key, compared without keeping it.
enum Key {
    Method,
    Params,
    Name,
    Uri,
    /// Not one of the four, but equal to one of them under case folding.
    Lookalike(&'static str),
    Other,
}

/// The start of the message of an ambiguous-member error.
const AMBIGUOUS: &str = "a repeated or look-alike member";

fn ambiguous<E: de::Error>(member: &str) -> E {
    E::custom(format_args!("{AMBIGUOUS} `{member}`"))
}

/// Which member `key` equals under the case folding that lenient decoders apply (ASCII case,
/// and the Unicode simple folds of `s` and `k`: U+017F `ſ`, U+212A Kelvin sign).
fn lookalike(key: &str) -> Option<&'static str> {
    const MEMBERS: [&str; 4] = ["method", "params", "name", "uri"];
    // Every member is 3 to 6 ASCII letters; a longer key cannot fold to one.
    if key.len() > 3 * 6 {
        return None;
    }
    let folded = key.chars().map(|c| match c {
        '\u{17F}' => 's',
        '\u{212A}' => 'k',
        c => c.to_ascii_lowercase(),
    });
    MEMBERS.into_iter().find(|m| folded.clone().eq(m.chars()))
}

macro_rules! scalars {
    ($out:expr) => {
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
            Ok($out)
        }
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
            Ok($out)
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
            Ok($out)
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
            Ok($out)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok($out)
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok($out)
        }
        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            Skip::deserialize(d).map(|_| $out)
        }
        fn visit_newtype_struct<D: Deserializer<'de>>(
            self,
            d: D,
        ) -> Result<Self::Value, D::Error> {
            Skip::deserialize(d).map(|_| $out)
        }
    };
}

fn drain_seq<'de, A: SeqAccess<'de>>(mut seq: A) -> Result<(), A::Error> {
    while seq.next_element::<Skip>()?.is_some() {}
    Ok(())
}

fn drain_map<'de, A: MapAccess<'de>>(mut map: A) -> Result<(), A::Error> {
    while map.next_entry::<Skip, Skip>()?.is_some() {}
    Ok(())
}

impl<'de> Deserialize<'de> for Skip {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Skip;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            scalars!(Skip);
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Skip, E> {
                Ok(Skip)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Skip, A::Error> {
                drain_seq(seq).map(|()| Skip)
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Skip, A::Error> {
                drain_map(map).map(|()| Skip)
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Key;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object key")
            }
            fn visit_str<E: de::Error>(self, key: &str) -> Result<Key, E> {
                Ok(match key {
                    "method" => Key::Method,
                    "params" => Key::Params,
                    "name" => Key::Name,
                    "uri" => Key::Uri,
                    _ => lookalike(key).map_or(Key::Other, Key::Lookalike),
                })
            }
        }
        // Keys go through `deserialize_any` like `Value`'s `String` keys do.
        d.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for Field<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Field<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            scalars!(Field::NotStr);
            fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Self::Value, E> {
                Ok(Field::Str(Cow::Borrowed(s)))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Self::Value, E> {
                Ok(Field::Str(Cow::Owned(s.to_owned())))
            }
            fn visit_string<E: de::Error>(self, s: String) -> Result<Self::Value, E> {
                Ok(Field::Str(Cow::Owned(s)))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
                drain_seq(seq).map(|()| Field::NotStr)
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                drain_map(map).map(|()| Field::NotStr)
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for Params<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Params<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            scalars!(Params::NotObject);
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
                Ok(Params::NotObject)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
                drain_seq(seq).map(|()| Params::NotObject)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let (mut name, mut uri) = (None, None);
                while let Some(key) = map.next_key::<Key>()? {
                    // A repeated or look-alike member is ambiguous: refused (module docs).
                    match key {
                        Key::Name if name.is_some() => return Err(ambiguous("name")),
                        Key::Uri if uri.is_some() => return Err(ambiguous("uri")),
                        Key::Name => name = Some(map.next_value()?),
                        Key::Uri => uri = Some(map.next_value()?),
                        Key::Lookalike(m @ ("name" | "uri")) => return Err(ambiguous(m)),
                        _ => {
                            map.next_value::<Skip>()?;
                        }
                    }
                }
                Ok(Params::Object { name, uri })
            }
        }
        d.deserialize_any(V)
    }
}

struct MessageVisitor;

impl<'de> Visitor<'de> for MessageVisitor {
    type Value = Message<'de>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    scalars!(Message::NotObject);
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Ok(Message::NotObject)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        drain_seq(seq).map(|()| Message::NotObject)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let (mut method, mut params) = (None, None);
        while let Some(key) = map.next_key::<Key>()? {
            // A repeated or look-alike member is ambiguous: refused (module docs).
            match key {
                Key::Method if method.is_some() => return Err(ambiguous("method")),
                Key::Params if params.is_some() => return Err(ambiguous("params")),
                Key::Method => method = Some(map.next_value()?),
                Key::Params => params = Some(map.next_value()?),
                Key::Lookalike(m @ ("method" | "params")) => return Err(ambiguous(m)),
                _ => {
                    map.next_value::<Skip>()?;
                }
            }
        }
        Ok(Message::Object { method, params })
    }
}

impl<'de> Deserialize<'de> for Message<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(MessageVisitor)
    }
}

impl<'de> Deserialize<'de> for Body<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Body<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            scalars!(Body::Other);
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
                Ok(Body::Other)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut batch = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
                while let Some(msg) = seq.next_element()? {
                    batch.push(msg);
                }
                Ok(Body::Batch(batch))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                MessageVisitor.visit_map(map).map(Body::Single)
            }
        }
        d.deserialize_any(V)
    }
}
