//! Configuration in layers: the defaults, then a TOML file, then `MCP_OAUTH_<KEY>` variables.
//!
//! One generic overlay instead of a list of settings kept in sync by hand: any `Deserialize`
//! struct (the [`ServerConfig`](super::ServerConfig), or a program's own settings) names its keys
//! to serde, and for each key the variable `MCP_OAUTH_<KEY>` (the key in upper case), when set,
//! replaces the file's value. A variable's text is parsed with the key's own type: a number as that
//! number, `true`/`false` for a flag, a comma-separated list for a list, a name for an enum. A bad
//! value names the key and, for a variable, the variable; an unknown key in the file is refused
//! (a typo must not be silently ignored).
//!
//! The library reads no file and no environment itself: the program hands over the file's text
//! and the variables ([`Layers::with_env`], typically `std::env::vars_os()`).

use serde::de::{self, DeserializeOwned, DeserializeSeed, IntoDeserializer, MapAccess, Visitor};
use std::collections::HashMap;

/// The prefix of the variables that set keys.
pub const ENV_PREFIX: &str = "MCP_OAUTH_";

/// The file's keys and the `MCP_OAUTH_*` variables, not yet deserialized.
#[derive(Debug, Clone, Default)]
pub struct Layers {
    file: toml::Table,
    env: HashMap<String, String>,
}

/// A configuration that cannot be read: the key is always named.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LayerError {
    /// The file is not TOML.
    #[error("{0}")]
    Syntax(String),
    /// A key in the file that no setting has.
    #[error("unknown key `{0}`")]
    UnknownKey(String),
    /// A file value of the wrong type, or outside the key's grammar.
    #[error("invalid configuration `{key}`: {message}")]
    File {
        /// The key.
        key: String,
        /// What is wrong with the value.
        message: String,
    },
    /// A variable's value that does not parse as its key's type.
    #[error("invalid value for {variable} (`{key}`): {message}")]
    Env {
        /// The key.
        key: String,
        /// The variable (`MCP_OAUTH_<KEY>`).
        variable: String,
        /// What is wrong with the value.
        message: String,
    },
    /// Anything else serde reports (a missing required key, say).
    #[error("{0}")]
    Other(String),
}

impl de::Error for LayerError {
    fn custom<T: std::fmt::Display>(msg: T) -> Self {
        Self::Other(msg.to_string())
    }

    fn unknown_field(field: &str, _expected: &'static [&'static str]) -> Self {
        Self::UnknownKey(field.to_owned())
    }
}

/// The variable that sets `key`.
pub fn env_name(key: &str) -> String {
    format!("{ENV_PREFIX}{}", key.to_ascii_uppercase())
}

impl Layers {
    /// No file, no variables: every key at its default.
    pub fn new() -> Self {
        Self::default()
    }

    /// The keys of a TOML file's text.
    pub fn from_toml(text: &str) -> Result<Self, LayerError> {
        let file = text
            .parse::<toml::Table>()
            .map_err(|e| LayerError::Syntax(e.to_string().trim_end().to_owned()))?;
        Ok(Self {
            file,
            env: HashMap::new(),
        })
    }

    /// Adds the variables that start with `MCP_OAUTH_` (others are ignored); they win over the
    /// file.
    pub fn with_env<K, V>(mut self, vars: impl IntoIterator<Item = (K, V)>) -> Self
    where
        K: Into<String>,
        V: Into<String>,
    {
        for (k, v) in vars {
            let k = k.into();
            if k.starts_with(ENV_PREFIX) {
                self.env.insert(k, v.into());
            }
        }
        self
    }

    /// Takes out of the file the keys `T` declares and deserializes `T` from them alone: a
    /// program's own settings (its listen address, its data directory) that share the file with
    /// the server's. No variables here: such a program reads its own (its flags' `env`). The
    /// keys left are the server's ([`Layers::deserialize`]).
    pub fn split_file<T: DeserializeOwned>(&mut self) -> Result<T, LayerError> {
        T::deserialize(Fields(|fields| split(&mut self.file, fields)))
    }

    /// Deserializes `T` from the file's keys with the variables of `T`'s keys over them. A key
    /// neither sets keeps `T`'s serde default.
    pub fn deserialize<T: DeserializeOwned>(&self) -> Result<T, LayerError> {
        T::deserialize(Fields(|fields| overlay(self, fields)))
    }
}

/// One key's value: from the file, or a variable's text, or the file's blocks with their
/// variables over them.
enum Entry {
    File(toml::Value),
    Env {
        variable: String,
        text: String,
    },
    /// An array of tables that each have an `id` (`[[upstream]]`): each table a struct of its
    /// own, its keys under the variables `{prefix}_{ID}_{KEY}` (`MCP_OAUTH_UPSTREAM_CORP_CLIENT_ID`:
    /// the id in upper case, `-` as `_`). Variables name blocks of the file; they add none.
    Blocks {
        tables: Vec<toml::Table>,
        prefix: String,
        env: HashMap<String, String>,
    },
}

/// A struct's deserializer: the closure picks the keys and values from the struct's field names
/// (anything else than a struct gets the entries of no field).
struct Fields<F>(F);

impl<'de, F> de::Deserializer<'de> for Fields<F>
where
    F: FnOnce(&'static [&'static str]) -> Vec<(String, Entry)>,
{
    type Error = LayerError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        visitor.visit_map(Entries::new((self.0)(&[])))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        visitor.visit_map(Entries::new((self.0)(fields)))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
        ignored_any
    }
}

/// [`Layers::deserialize`]: every file key (an unknown one is refused by the struct), each
/// field's variable over its file value, and the variables of fields the file lacks.
fn overlay(layers: &Layers, fields: &'static [&'static str]) -> Vec<(String, Entry)> {
    overlay_on(&layers.file, &layers.env, &env_name, fields)
}

/// The tables of an array whose every table has a string `id`.
fn blocks(v: &toml::Value) -> Option<Vec<toml::Table>> {
    let list = v.as_array()?;
    list.iter()
        .map(|t| {
            t.as_table()
                .filter(|t| t.get("id").is_some_and(toml::Value::is_str))
                .cloned()
        })
        .collect()
}

/// [`overlay`] of one table, its variables named by `name`.
fn overlay_on(
    file: &toml::Table,
    env: &HashMap<String, String>,
    name: &dyn Fn(&str) -> String,
    fields: &'static [&'static str],
) -> Vec<(String, Entry)> {
    let variable = |key: &str| {
        fields
            .contains(&key)
            .then(|| name(key))
            .and_then(|var| env.get(&var).map(|text| (var, text.clone())))
    };
    let mut entries: Vec<(String, Entry)> = Vec::new();
    for (k, v) in file {
        entries.push(match (variable(k), blocks(v)) {
            (Some((variable, text)), _) => (k.clone(), Entry::Env { variable, text }),
            (None, Some(tables)) if fields.contains(&k.as_str()) => {
                let prefix = name(k);
                let env = env
                    .iter()
                    .filter(|(var, _)| var.starts_with(&prefix))
                    .map(|(a, b)| (a.clone(), b.clone()))
                    .collect();
                (
                    k.clone(),
                    Entry::Blocks {
                        tables,
                        prefix,
                        env,
                    },
                )
            }
            (None, _) => (k.clone(), Entry::File(v.clone())),
        });
    }
    for key in fields.iter().filter(|k| !file.contains_key(**k)) {
        if let Some((variable, text)) = variable(key) {
            entries.push(((*key).to_owned(), Entry::Env { variable, text }));
        }
    }
    entries
}

/// [`Layers::split_file`]: the file keys that are fields, taken out of the file.
fn split(file: &mut toml::Table, fields: &'static [&'static str]) -> Vec<(String, Entry)> {
    fields
        .iter()
        .filter_map(|k| file.remove(*k).map(|v| ((*k).to_owned(), Entry::File(v))))
        .collect()
}

/// The keys and values handed to a struct's visitor; each value's error names its key.
struct Entries {
    iter: std::vec::IntoIter<(String, Entry)>,
    value: Option<(String, Entry)>,
}

impl Entries {
    fn new(entries: Vec<(String, Entry)>) -> Self {
        Self {
            iter: entries.into_iter(),
            value: None,
        }
    }
}

impl<'de> MapAccess<'de> for Entries {
    type Error = LayerError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Self::Error> {
        let Some((key, entry)) = self.iter.next() else {
            return Ok(None);
        };
        let k = seed.deserialize(key.as_str().into_deserializer())?;
        self.value = Some((key, entry));
        Ok(Some(k))
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, Self::Error> {
        let Some((key, entry)) = self.value.take() else {
            return Err(LayerError::Other("a value without its key".into()));
        };
        match entry {
            Entry::File(v) => seed.deserialize(v).map_err(|e| LayerError::File {
                key,
                message: e.to_string().trim_end().to_owned(),
            }),
            Entry::Env { variable, text } => {
                seed.deserialize(EnvText(&text))
                    .map_err(|ValueError(message)| LayerError::Env {
                        key,
                        variable,
                        message,
                    })
            }
            Entry::Blocks {
                tables,
                prefix,
                env,
            } => seed.deserialize(Blocks {
                tables: tables.into_iter(),
                prefix,
                env,
            }),
        }
    }
}

/// The blocks of an [`Entry::Blocks`], as a sequence of structs.
struct Blocks {
    tables: std::vec::IntoIter<toml::Table>,
    prefix: String,
    env: HashMap<String, String>,
}

impl<'de> de::Deserializer<'de> for Blocks {
    type Error = LayerError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        visitor.visit_seq(self)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map struct enum identifier
        ignored_any
    }
}

impl<'de> de::SeqAccess<'de> for Blocks {
    type Error = LayerError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Self::Error> {
        let Some(table) = self.tables.next() else {
            return Ok(None);
        };
        let id = table
            .get("id")
            .and_then(toml::Value::as_str)
            .unwrap_or_default()
            .to_ascii_uppercase()
            .replace('-', "_");
        let prefix = format!("{}_{id}_", self.prefix);
        let name = move |key: &str| format!("{prefix}{}", key.to_ascii_uppercase());
        let env = &self.env;
        seed.deserialize(Fields(|fields| overlay_on(&table, env, &name, fields)))
            .map(Some)
    }
}

/// Why a variable's text is not a value of its key's type.
#[derive(Debug)]
struct ValueError(String);

impl std::fmt::Display for ValueError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ValueError {}

impl de::Error for ValueError {
    fn custom<T: std::fmt::Display>(msg: T) -> Self {
        Self(msg.to_string())
    }
}

/// A variable's text, parsed as whatever type the key asks for (surrounding spaces ignored).
struct EnvText<'a>(&'a str);

macro_rules! parse_as {
    ($($method:ident => $visit:ident($ty:ty)),* $(,)?) => {
        $(
            fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
                let v = self.0.trim().parse::<$ty>().map_err(|e| ValueError(e.to_string()))?;
                visitor.$visit(v)
            }
        )*
    };
}

impl<'de> de::Deserializer<'de> for EnvText<'_> {
    type Error = ValueError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        visitor.visit_str(self.0.trim())
    }

    parse_as! {
        deserialize_bool => visit_bool(bool),
        deserialize_i8 => visit_i8(i8),
        deserialize_i16 => visit_i16(i16),
        deserialize_i32 => visit_i32(i32),
        deserialize_i64 => visit_i64(i64),
        deserialize_u8 => visit_u8(u8),
        deserialize_u16 => visit_u16(u16),
        deserialize_u32 => visit_u32(u32),
        deserialize_u64 => visit_u64(u64),
        deserialize_f32 => visit_f32(f32),
        deserialize_f64 => visit_f64(f64),
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        visitor.visit_some(self)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        visitor.visit_newtype_struct(self)
    }

    /// A list is comma-separated; empty items are dropped (`a, b,` is two).
    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        let items = self
            .0
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(EnvText);
        visitor.visit_seq(de::value::SeqDeserializer::new(items))
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        let text: de::value::StrDeserializer<'_, ValueError> = self.0.trim().into_deserializer();
        visitor.visit_enum(text)
    }

    serde::forward_to_deserialize_any! {
        i128 u128 char str string bytes byte_buf unit unit_struct tuple tuple_struct map struct
        identifier ignored_any
    }
}

impl<'de> IntoDeserializer<'de, ValueError> for EnvText<'_> {
    type Deserializer = Self;
    fn into_deserializer(self) -> Self {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Default, serde::Deserialize, PartialEq)]
    #[serde(deny_unknown_fields, default)]
    struct Settings {
        ttl: i64,
        on: bool,
        hosts: Vec<String>,
        name: Option<String>,
    }

    #[derive(Debug, Default, serde::Deserialize, PartialEq)]
    #[serde(default)]
    struct Own {
        addr: Option<String>,
    }

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn variables_win_over_the_file_and_parse_as_their_key() {
        let layers = Layers::from_toml("ttl = 5\nhosts = [\"a\"]")
            .unwrap()
            .with_env(env(&[
                ("MCP_OAUTH_TTL", " 7 "),
                ("MCP_OAUTH_ON", "true"),
                ("MCP_OAUTH_NAME", "x"),
                ("MCP_OAUTH_UNRELATED", "ignored"),
                ("OTHER_TTL", "9"),
            ]));
        let s: Settings = layers.deserialize().unwrap();
        assert_eq!(
            s,
            Settings {
                ttl: 7,
                on: true,
                hosts: vec!["a".into()],
                name: Some("x".into())
            }
        );
        let layers = Layers::new().with_env(env(&[("MCP_OAUTH_HOSTS", "a.example, *.b.example,")]));
        let s: Settings = layers.deserialize().unwrap();
        assert_eq!(s.hosts, vec!["a.example", "*.b.example"]);
        assert_eq!(
            Layers::new().deserialize::<Settings>().unwrap(),
            Settings::default()
        );
    }

    #[test]
    fn errors_name_the_key_and_the_variable() {
        let e = Layers::new()
            .with_env(env(&[("MCP_OAUTH_TTL", "soon")]))
            .deserialize::<Settings>()
            .unwrap_err();
        assert!(
            matches!(&e, LayerError::Env { key, variable, .. }
            if key == "ttl" && variable == "MCP_OAUTH_TTL"),
            "{e}"
        );
        assert!(e.to_string().contains("MCP_OAUTH_TTL (`ttl`)"), "{e}");
        let e = Layers::from_toml("ttl = \"soon\"")
            .unwrap()
            .deserialize::<Settings>()
            .unwrap_err();
        assert!(
            e.to_string().starts_with("invalid configuration `ttl`: "),
            "{e}"
        );
        let e = Layers::from_toml("tll = 5")
            .unwrap()
            .deserialize::<Settings>()
            .unwrap_err();
        assert_eq!(e, LayerError::UnknownKey("tll".into()));
        assert!(matches!(
            Layers::from_toml("ttl = ").unwrap_err(),
            LayerError::Syntax(_)
        ));
    }

    #[test]
    fn a_programs_own_keys_are_split_off_first() {
        let mut layers = Layers::from_toml("addr = \"127.0.0.1:1\"\nttl = 5")
            .unwrap()
            .with_env(env(&[("MCP_OAUTH_ADDR", "ignored here")]));
        let own: Own = layers.split_file().unwrap();
        assert_eq!(own.addr.as_deref(), Some("127.0.0.1:1"));
        assert_eq!(layers.deserialize::<Settings>().unwrap().ttl, 5);
        let mut unsplit = Layers::from_toml("addr = \"x\"").unwrap();
        assert!(unsplit.deserialize::<Settings>().is_err());
        let _: Own = unsplit.split_file().unwrap();
        assert!(unsplit.deserialize::<Settings>().is_ok());
    }
}
