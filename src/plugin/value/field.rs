//! [`Field`]: one attribute of a typed model as Terraform holds it: a value, null, or not
//! known yet.
//!
//! Terraform hands a provider values that may be unknown (a config or plan that refers to
//! something not yet created). serde's `Option` can say "null" but not "unknown", and a plain
//! field would make every unknown an error. `Field<T>` is the model field that tells the three
//! apart, as terraform-plugin-framework's `types.String` (`IsNull`, `IsUnknown`) does, so a
//! resource reads its whole configuration into one struct at validate and plan time too.
//!
//! ```
//! use hostup_provider::plugin::value::{from_value, Field, Value};
//!
//! #[derive(serde::Deserialize)]
//! struct Args {
//!     vps_id: Field<String>,
//!     note: Field<String>,
//! }
//!
//! let config = Value::Object(
//!     [("vps_id".to_owned(), Value::unknown()), ("note".to_owned(), Value::Null)].into(),
//! );
//! let args: Args = from_value(&config).expect("unknowns are values of a Field");
//! assert!(args.vps_id.is_unknown());
//! assert_eq!(args.note.get(), None);
//! ```

use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserialize, Deserializer, Visitor};
use serde::ser::{Serialize, Serializer};

/// The newtype name by which [`Field`]'s `Deserialize` asks the value deserializer to report an
/// unknown instead of failing on it (other deserializers, e.g. serde_json's, ignore the name).
pub(super) const FIELD_TOKEN: &str = "$hostup::plugin::value::Field";

/// One attribute of a typed model: a value, null, or unknown.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Field<T> {
    /// A known, non-null value.
    Value(T),
    /// Null: not set in the configuration, or not recorded in state.
    #[default]
    Null,
    /// Not known yet (only in configs and plans).
    Unknown,
}

impl<T> Field<T> {
    /// The value, when known and not null.
    pub fn get(&self) -> Option<&T> {
        match self {
            Field::Value(v) => Some(v),
            Field::Null | Field::Unknown => None,
        }
    }

    /// The value, when known and not null, by value.
    pub fn into_option(self) -> Option<T> {
        match self {
            Field::Value(v) => Some(v),
            Field::Null | Field::Unknown => None,
        }
    }

    /// True when the value is not known yet.
    pub fn is_unknown(&self) -> bool {
        matches!(self, Field::Unknown)
    }

    /// True when the value is null.
    pub fn is_null(&self) -> bool {
        matches!(self, Field::Null)
    }
}

impl Field<String> {
    /// The string, when known and not null.
    pub fn as_deref(&self) -> Option<&str> {
        self.get().map(String::as_str)
    }
}

impl<T> From<Option<T>> for Field<T> {
    fn from(o: Option<T>) -> Self {
        o.map_or(Field::Null, Field::Value)
    }
}

impl<T: Serialize> Serialize for Field<T> {
    /// A value or null; an unknown cannot be written (providers write state and planned
    /// values of known things; the framework itself marks what is unknown).
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Field::Value(v) => v.serialize(s),
            Field::Null => s.serialize_none(),
            Field::Unknown => Err(serde::ser::Error::custom(
                "an unknown value cannot be written",
            )),
        }
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Field<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_newtype_struct(FIELD_TOKEN, FieldVisitor(PhantomData))
    }
}

struct FieldVisitor<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for FieldVisitor<T> {
    type Value = Field<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a value, null or unknown")
    }

    /// The value deserializer's answer for an unknown.
    fn visit_unit<E: de::Error>(self) -> Result<Field<T>, E> {
        Ok(Field::Unknown)
    }

    fn visit_none<E: de::Error>(self) -> Result<Field<T>, E> {
        Ok(Field::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Field<T>, D::Error> {
        T::deserialize(d).map(Field::Value)
    }

    /// Any other deserializer: a value or null, never unknown.
    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Field<T>, D::Error> {
        Option::<T>::deserialize(d).map(Field::from)
    }
}
