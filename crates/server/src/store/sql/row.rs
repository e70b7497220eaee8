//! Reading stored records out of rows, and the text forms their structured fields are stored in
//! (a scope set as its space-delimited string, lists and documents as JSON text).

use super::dialect::{Column, SqlRow};
use super::error::db;
use crate::store::{StoreError, StoreResult};
use mcp_oauth_core::ScopeSet;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// The column readers of every [`SqlRow`].
pub(crate) trait Columns: SqlRow {
    /// Reads a column.
    fn col<T>(&self, name: &str) -> StoreResult<T>
    where
        Self: Column<T>,
    {
        <Self as Column<T>>::column(self, name).map_err(db("decoding a row"))
    }

    /// Reads a scope set stored as its space-delimited string.
    fn scope(&self, name: &str) -> StoreResult<ScopeSet> {
        parse_scope(&self.col::<String>(name)?)
    }

    /// Reads an optional scope set.
    fn opt_scope(&self, name: &str) -> StoreResult<Option<ScopeSet>> {
        self.col::<Option<String>>(name)?
            .map(|s| parse_scope(&s))
            .transpose()
    }

    /// Reads a value stored as JSON text.
    fn json<T: DeserializeOwned>(&self, name: &str) -> StoreResult<T> {
        from_json(name, &self.col::<String>(name)?)
    }

    /// Reads an optional value stored as JSON text.
    fn opt_json<T: DeserializeOwned>(&self, name: &str) -> StoreResult<Option<T>> {
        self.col::<Option<String>>(name)?
            .map(|s| from_json(name, &s))
            .transpose()
    }
}

impl<R: SqlRow> Columns for R {}

/// Parses a stored scope set.
pub(crate) fn parse_scope(s: &str) -> StoreResult<ScopeSet> {
    ScopeSet::parse(s).map_err(|e| StoreError::Backend(format!("stored scope: {e}")))
}

fn from_json<T: DeserializeOwned>(name: &str, s: &str) -> StoreResult<T> {
    serde_json::from_str(s).map_err(|e| StoreError::Backend(format!("stored JSON in {name}: {e}")))
}

/// Serializes a value for a JSON text column.
pub(crate) fn to_json<T: Serialize + ?Sized>(v: &T) -> StoreResult<String> {
    serde_json::to_string(v).map_err(|e| StoreError::Backend(format!("encoding JSON: {e}")))
}

/// Reads a stored record out of a row, every field from the column of its own name: `field` with
/// [`Columns::col`], `field: reader` with another reader of [`Columns`] (`scope`, `json`, …),
/// `field = expr` from an expression (a column parsed further). One list per record, so a field
/// and its column cannot drift apart.
macro_rules! record {
    ($row:ident => $ty:ident { $($field:ident $(: $reader:ident)? $(= $value:expr)?),* $(,)? }) => {
        Ok($ty { $($field: record!(@field $row, $field $(: $reader)? $(= $value)?)),* })
    };
    (@field $row:ident, $field:ident) => { $row.col(stringify!($field))? };
    (@field $row:ident, $field:ident : $reader:ident) => { $row.$reader(stringify!($field))? };
    (@field $row:ident, $field:ident = $value:expr) => { $value };
}
pub(crate) use record;
