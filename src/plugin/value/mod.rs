//! cty values: the data model every Terraform message carries.
//!
//! Terraform encodes configuration, plans and state as cty values (msgpack on the wire, JSON in
//! stored state). There is no maintained Rust crate for cty, so the model and its codecs are
//! written by hand here. Values are untyped trees; the codecs always work against a [`Type`]
//! (the schema's implied type), exactly as go-cty does.

use std::collections::BTreeMap;

mod number;
pub use number::Number;

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
