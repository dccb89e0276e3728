//! cty values: the data model every Terraform message carries.
//!
//! Terraform encodes configuration, plans and state as cty values (msgpack on the wire, JSON in
//! stored state). There is no maintained Rust crate for cty (no crate on crates.io speaks
//! go-cty's msgpack or JSON forms, unknown values or refinements), so the model and its codecs
//! are written by hand here, on top of `rmp` (msgpack primitives) and `serde_json`. Values are
//! untyped trees; the codecs always work against a [`Type`] (the schema's implied type),
//! exactly as go-cty does.
//!
//! Entry points: [`decode_msgpack`] / [`encode_msgpack`] (the wire form of DynamicValue),
//! [`decode_json`] / [`encode_json`] (state files, `DynamicValue.json`, `RawState.json`),
//! [`Type::from_json`] / [`Type::to_json`] (schema attribute types, dynamic wrappers), and
//! [`from_value`] / [`to_value`] (serde access for resource code, with [`Field`] for what may
//! be unknown).
//!
//! ```
//! use hostup_provider::plugin::value::{
//!     decode_msgpack, encode_msgpack, from_value, to_value, Type, Value,
//! };
//!
//! #[derive(serde::Deserialize, serde::Serialize)]
//! struct Backup {
//!     vps_id: String,
//!     note: Option<String>,
//! }
//!
//! let ty = Type::from_json(br#"["object",{"vps_id":"string","note":"string","id":"string"}]"#)
//!     .expect("type JSON");
//! // A struct becomes an object (attributes it lacks are null) ...
//! let v = to_value(&Backup { vps_id: "vps_1".into(), note: None }, &ty).expect("fits");
//! assert_eq!(v.attr("id"), Some(&Value::Null));
//! // ... the object travels as msgpack, keys sorted, every attribute present ...
//! let bytes = encode_msgpack(&v, &ty).expect("encodes");
//! assert_eq!(bytes[0], 0x83);
//! // ... and comes back into the struct.
//! let back: Backup = from_value(&decode_msgpack(&bytes, &ty).expect("decodes")).expect("reads");
//! assert_eq!(back.vps_id, "vps_1");
//! ```

use std::collections::BTreeMap;

#[cfg(test)]
mod codec_tests;
mod error;
mod field;
mod json;
mod msgpack;
mod number;
mod serde_access;

pub use error::{display_path, PathStep, ValueError};
pub use field::Field;
pub use json::{decode_json, decode_json_lenient, encode_json};
pub use msgpack::{decode_msgpack, encode_msgpack};
pub use number::Number;
pub use serde_access::{from_value, to_value};

/// How deep values and types may nest before a decoder gives up. Terraform schemas nest a
/// handful of levels; the cap exists so hostile or corrupt input cannot exhaust the stack
/// (every container level is one recursion).
pub const MAX_DEPTH: usize = 64;

/// A cty type, as it appears in schema attribute `type` JSON and in `dynamic` wrappers.
///
/// Object attribute names are kept sorted (BTreeMap) because Terraform writes objects with
/// sorted keys and comparing plans needs a canonical order.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Type {
    /// UTF-8 text.
    String,
    /// Arbitrary-precision number.
    Number,
    /// true / false.
    Bool,
    /// "any type": a value in such a slot carries its own type on the wire.
    Dynamic,
    /// Ordered collection of one element type.
    List(Box<Type>),
    /// Unordered collection of one element type.
    Set(Box<Type>),
    /// String-keyed collection of one element type.
    Map(Box<Type>),
    /// Fixed set of named attributes, each with its own type.
    Object(BTreeMap<String, Type>),
    /// Fixed-length sequence, each position with its own type.
    Tuple(Vec<Type>),
}

/// What Terraform told us about an unknown value (msgpack ext 12). Accepted and kept so a
/// value can be passed through, never required: a provider may ignore refinements entirely.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Refinements {
    /// `Some(false)`: the value is certainly not null once known.
    pub nullable: Option<bool>,
    /// A known prefix of a string value.
    pub string_prefix: Option<String>,
    /// A lower bound of a number value and whether it is inclusive.
    pub number_lower: Option<(Number, bool)>,
    /// An upper bound of a number value and whether it is inclusive.
    pub number_upper: Option<(Number, bool)>,
    /// The least length a collection value will have.
    pub length_min: Option<u64>,
    /// The greatest length a collection value will have.
    pub length_max: Option<u64>,
}

impl Refinements {
    /// True when nothing is refined: such an unknown is written as plain `d4 00 00`, never as
    /// an empty ext 12 (which Terraform rejects).
    pub fn is_empty(&self) -> bool {
        self.nullable != Some(false)
            && self.string_prefix.as_deref().is_none_or(str::is_empty)
            && self.number_lower.is_none()
            && self.number_upper.is_none()
            && self.length_min.is_none_or(|n| n == 0)
            && self.length_max.is_none()
    }
}

/// A cty value. Collections and objects hold values; the type lives beside the value (in the
/// schema) except for values in `dynamic` slots, which are wrapped in [`Value::Typed`].
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// Null of whatever type the slot has.
    Null,
    /// Not known until apply (or until an upstream resource is created).
    Unknown(Refinements),
    /// A known string.
    String(String),
    /// A known number.
    Number(Number),
    /// A known bool.
    Bool(bool),
    /// Elements of a list or tuple, in order.
    List(Vec<Value>),
    /// Elements of a set (order carries no meaning).
    Set(Vec<Value>),
    /// Entries of a map.
    Map(BTreeMap<String, Value>),
    /// Attributes of an object: every attribute of the type is present (null when absent).
    Object(BTreeMap<String, Value>),
    /// A value that travelled through a `dynamic` slot, with the concrete type it came with.
    Typed(Type, Box<Value>),
}

impl Value {
    /// An unknown value with no refinements (msgpack `d4 00 00`).
    pub fn unknown() -> Value {
        Value::Unknown(Refinements::default())
    }

    /// True for null, and for a dynamic-wrapped null.
    pub fn is_null(&self) -> bool {
        match self {
            Value::Null => true,
            Value::Typed(_, v) => v.is_null(),
            _ => false,
        }
    }

    /// True when this value is not unknown at the top level (children may still be unknown).
    pub fn is_known(&self) -> bool {
        match self {
            Value::Unknown(_) => false,
            Value::Typed(_, v) => v.is_known(),
            _ => true,
        }
    }

    /// True when neither this value nor anything inside it is unknown.
    pub fn is_wholly_known(&self) -> bool {
        match self {
            Value::Unknown(_) => false,
            Value::List(v) | Value::Set(v) => v.iter().all(Value::is_wholly_known),
            Value::Map(m) | Value::Object(m) => m.values().all(Value::is_wholly_known),
            Value::Typed(_, v) => v.is_wholly_known(),
            _ => true,
        }
    }

    /// The attribute `name` of an object value; `None` when this is not an object or lacks it.
    pub fn attr(&self, name: &str) -> Option<&Value> {
        match self {
            Value::Object(m) => m.get(name),
            Value::Typed(_, v) => v.attr(name),
            _ => None,
        }
    }

    /// The string inside a known string value.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            Value::Typed(_, v) => v.as_str(),
            _ => None,
        }
    }

    /// The bool inside a known bool value.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            Value::Typed(_, v) => v.as_bool(),
            _ => None,
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::String(s.to_owned())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::String(s)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}

impl From<i64> for Value {
    fn from(n: i64) -> Self {
        Value::Number(Number::from(n))
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}

/// What a value is, in words, for "a list cannot be written as string" messages.
pub(crate) fn value_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Unknown(_) => "an unknown value",
        Value::String(_) => "a string",
        Value::Number(_) => "a number",
        Value::Bool(_) => "a bool",
        Value::List(_) => "a list",
        Value::Set(_) => "a set",
        Value::Map(_) => "a map",
        Value::Object(_) => "an object",
        Value::Typed(..) => "a typed value",
    }
}

/// The type a value carries on its own, for values put in a `dynamic` slot without
/// [`Value::Typed`]: primitives are themselves, lists become tuples and maps/objects become
/// objects (as go-cty's JSON type inference does), sets need elements of one type.
pub fn infer_type(v: &Value) -> Result<Type, String> {
    infer(v, 0)
}

fn infer(v: &Value, depth: usize) -> Result<Type, String> {
    if depth > MAX_DEPTH {
        return Err(format!("the value nests deeper than {MAX_DEPTH} levels"));
    }
    Ok(match v {
        Value::Null | Value::Unknown(_) => Type::Dynamic,
        Value::String(_) => Type::String,
        Value::Number(_) => Type::Number,
        Value::Bool(_) => Type::Bool,
        Value::Typed(t, _) => t.clone(),
        Value::List(items) => Type::Tuple(
            items
                .iter()
                .map(|x| infer(x, depth + 1))
                .collect::<Result<_, _>>()?,
        ),
        Value::Set(items) => {
            let mut types = items.iter().map(|x| infer(x, depth + 1));
            let first = match types.next() {
                None => return Err("the type of an empty set in a dynamic slot is unknown; wrap it in Value::Typed".into()),
                Some(t) => t?,
            };
            for t in types {
                if t? != first {
                    return Err("a set in a dynamic slot has elements of different types".into());
                }
            }
            if first == Type::Dynamic {
                return Err("the element type of a set in a dynamic slot is unknown; wrap it in Value::Typed".into());
            }
            Type::Set(Box::new(first))
        }
        Value::Map(m) | Value::Object(m) => Type::Object(
            m.iter()
                .map(|(k, x)| Ok((k.clone(), infer(x, depth + 1)?)))
                .collect::<Result<_, String>>()?,
        ),
    })
}
