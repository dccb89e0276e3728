//! Typed access to values through serde, so resource code reads a config into a plain struct
//! (`#[derive(Deserialize)] struct Backup { vps_id: String, note: Option<String> }`) and
//! builds state from one, instead of walking [`Value`] trees by hand.
//!
//! [`from_value`] is a serde `Deserializer` over [`Value`] itself, so an unknown value is an
//! error only where the target type actually reads it (a field the struct does not have is
//! skipped), and every error names the attribute. [`to_value`] goes through JSON and the
//! type-directed JSON decoder: simple, exact for numbers, and it fills absent attributes with
//! null like Terraform does.

use std::fmt;

use serde::de::{
    self, DeserializeOwned, DeserializeSeed, IntoDeserializer, MapAccess, SeqAccess, Visitor,
};
use serde::Serialize;

use super::error::{PathStep, ValueError};
use super::field::FIELD_TOKEN;
use super::{decode_json, Number, Type, Value};

/// Reads a value into any `Deserialize` type: objects and maps as structs or maps, lists,
/// sets and tuples as sequences, null as `None`, strings as unit enum variants. Exists so
/// resource code gets typed inputs in one line.
///
/// An unknown value read by the target is an error with [`ValueError::unknown`] set (use
/// `Option` fields and check [`Value::is_known`] first where unknowns are expected, e.g. in
/// validation); a struct that ignores an attribute never sees its unknown.
pub fn from_value<T: DeserializeOwned>(v: &Value) -> Result<T, ValueError> {
    T::deserialize(ValueDe { v }).map_err(|e| e.0)
}

/// Builds a value of type `ty` from any `Serialize` type (a struct for an object, a
/// `BTreeMap`/`HashMap` for a map, a `Vec` for a list or set, `None` for null). Struct fields
/// missing for some attributes leave them null; fields the type does not have are an error.
/// Exists so resource code can write state from a plain struct.
pub fn to_value<T: Serialize + ?Sized>(t: &T, ty: &Type) -> Result<Value, ValueError> {
    let bytes = serde_json::to_vec(t)
        .map_err(|e| ValueError::new(format!("cannot serialise the value: {e}")))?;
    decode_json(&bytes, ty)
}

/// The error of [`from_value`]: a [`ValueError`] whose path grows as it travels up.
#[derive(Debug)]
struct DeError(ValueError);

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for DeError {}

impl de::Error for DeError {
    fn custom<M: fmt::Display>(msg: M) -> Self {
        DeError(ValueError::new(msg.to_string()))
    }
}

impl DeError {
    fn within(mut self, step: Option<PathStep>) -> Self {
        if let Some(step) = step {
            self.0.path.insert(0, step);
        }
        self
    }
}

#[derive(Clone, Copy)]
struct ValueDe<'a> {
    v: &'a Value,
}

impl<'a> ValueDe<'a> {
    /// The value with dynamic wrappers removed.
    fn inner(self) -> &'a Value {
        let mut v = self.v;
        while let Value::Typed(_, inner) = v {
            v = inner;
        }
        v
    }
}

fn unknown() -> DeError {
    DeError(ValueError::unknown_at(Vec::new()))
}

impl<'de> de::Deserializer<'de> for ValueDe<'de> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.inner() {
            Value::Null => visitor.visit_unit(),
            Value::Unknown(_) => Err(unknown()),
            Value::String(s) => visitor.visit_borrowed_str(s),
            Value::Number(n) => match n.canonical().as_ref() {
                Number::Int(i) => visitor.visit_i64(*i),
                Number::Float(f) => visitor.visit_f64(*f),
                Number::Decimal(s) => match s.parse::<u64>() {
                    Ok(u) => visitor.visit_u64(u),
                    Err(_) => visitor.visit_f64(n.as_f64()),
                },
            },
            Value::Bool(b) => visitor.visit_bool(*b),
            Value::List(items) => visitor.visit_seq(Seq {
                items: items.iter(),
                index: 0,
                set: false,
            }),
            Value::Set(items) => visitor.visit_seq(Seq {
                items: items.iter(),
                index: 0,
                set: true,
            }),
            Value::Map(m) => visitor.visit_map(Map {
                entries: m.iter(),
                pending: None,
                object: false,
            }),
            Value::Object(m) => visitor.visit_map(Map {
                entries: m.iter(),
                pending: None,
                object: true,
            }),
            Value::Typed(..) => unreachable_typed(),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.inner() {
            Value::Null => visitor.visit_none(),
            Value::Unknown(_) => Err(unknown()),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        if name == FIELD_TOKEN {
            // A model [`super::Field`]: an unknown is one of its values, not an error.
            return match self.inner() {
                Value::Unknown(_) => visitor.visit_unit(),
                Value::Null => visitor.visit_none(),
                _ => visitor.visit_some(self),
            };
        }
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        match self.inner() {
            Value::String(s) => visitor.visit_enum(s.as_str().into_deserializer()),
            Value::Unknown(_) => Err(unknown()),
            other => Err(DeError(ValueError::new(format!(
                "a string naming a variant is required, found {}",
                super::value_kind(other)
            )))),
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_unit()
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct seq tuple tuple_struct map struct identifier
    }
}

/// `inner()` strips every wrapper, so a Typed value never reaches the match arms.
fn unreachable_typed<T>() -> Result<T, DeError> {
    Err(DeError(ValueError::new(
        "internal: unwrapped dynamic value",
    )))
}

struct Seq<'a> {
    items: std::slice::Iter<'a, Value>,
    index: i64,
    set: bool,
}

impl<'de> SeqAccess<'de> for Seq<'de> {
    type Error = DeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, DeError> {
        let Some(v) = self.items.next() else {
            return Ok(None);
        };
        let i = self.index;
        self.index += 1;
        // Set elements cannot be addressed in Terraform paths: the path stops at the set.
        let step = (!self.set).then_some(PathStep::Index(i));
        seed.deserialize(ValueDe { v })
            .map(Some)
            .map_err(|e| e.within(step))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len())
    }
}

struct Map<'a> {
    entries: std::collections::btree_map::Iter<'a, String, Value>,
    pending: Option<(&'a String, &'a Value)>,
    object: bool,
}

impl<'de> MapAccess<'de> for Map<'de> {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        let Some((k, v)) = self.entries.next() else {
            return Ok(None);
        };
        self.pending = Some((k, v));
        seed.deserialize(de::value::BorrowedStrDeserializer::new(k))
            .map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        let Some((k, v)) = self.pending.take() else {
            return Err(DeError(ValueError::new(
                "internal: value requested before key",
            )));
        };
        let step = if self.object {
            PathStep::Attr(k.clone())
        } else {
            PathStep::Key(k.clone())
        };
        seed.deserialize(ValueDe { v })
            .map_err(|e| e.within(Some(step)))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.entries.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use std::collections::BTreeMap;

    #[derive(Debug, Deserialize, Serialize, PartialEq)]
    struct Timeouts {
        create: Option<String>,
    }

    #[derive(Debug, Deserialize, Serialize, PartialEq)]
    struct Backup {
        vps_id: String,
        note: Option<String>,
        triggers: Option<BTreeMap<String, String>>,
        size: Option<i64>,
        ratio: Option<f64>,
        timeouts: Option<Timeouts>,
        mode: Mode,
    }

    #[derive(Debug, Deserialize, Serialize, PartialEq)]
    #[serde(rename_all = "snake_case")]
    enum Mode {
        Fast,
        Safe,
    }

    fn ty() -> Type {
        Type::Object(
            [
                ("vps_id", Type::String),
                ("note", Type::String),
                ("triggers", Type::Map(Box::new(Type::String))),
                ("size", Type::Number),
                ("ratio", Type::Number),
                (
                    "timeouts",
                    Type::Object([("create".to_string(), Type::String)].into()),
                ),
                ("mode", Type::String),
                ("id", Type::String),
            ]
            .into_iter()
            .map(|(k, t)| (k.to_string(), t))
            .collect(),
        )
    }

    #[test]
    fn struct_round_trip() {
        let b = Backup {
            vps_id: "vps_1".into(),
            note: None,
            triggers: Some([("release".to_string(), "v2".to_string())].into()),
            size: Some(42),
            ratio: Some(0.5),
            timeouts: Some(Timeouts {
                create: Some("60m".into()),
            }),
            mode: Mode::Safe,
        };
        let v = to_value(&b, &ty()).expect("to_value");
        assert_eq!(
            v.attr("id"),
            Some(&Value::Null),
            "absent fields become null"
        );
        assert_eq!(v.attr("note"), Some(&Value::Null));
        assert_eq!(v.attr("mode").and_then(Value::as_str), Some("safe"));
        let back: Backup = from_value(&v).expect("from_value");
        assert_eq!(back, b);
    }

    #[test]
    fn unknowns_error_only_where_read() {
        let mut v =
            to_value(&serde_json::json!({"vps_id": "x", "mode": "fast"}), &ty()).expect("to_value");
        if let Value::Object(m) = &mut v {
            m.insert("id".into(), Value::unknown());
        }
        // `id` is not a field of Backup: its unknown is never read.
        let b: Backup = from_value(&v).expect("unknown in an ignored attribute");
        assert_eq!(b.vps_id, "x");
        if let Value::Object(m) = &mut v {
            let mut t = BTreeMap::new();
            t.insert("release".to_string(), Value::unknown());
            m.insert("triggers".into(), Value::Map(t));
        }
        let e = from_value::<Backup>(&v).expect_err("unknown map element");
        assert!(e.unknown);
        assert_eq!(
            e.path,
            vec![
                PathStep::Attr("triggers".into()),
                PathStep::Key("release".into())
            ]
        );
        assert_eq!(e.to_string(), "value at .triggers[\"release\"] is unknown");
    }

    #[test]
    fn type_errors_name_the_attribute() {
        let v = to_value(
            &serde_json::json!({"vps_id": "x", "mode": "turbo", "size": 1.5}),
            &ty(),
        )
        .expect("to_value");
        let e = from_value::<Backup>(&v).expect_err("bad enum");
        assert!(
            e.path == vec![PathStep::Attr("mode".into())]
                || e.path == vec![PathStep::Attr("size".into())],
            "{e}"
        );
        let e = to_value(&serde_json::json!({"nope": 1}), &ty()).expect_err("extra field");
        assert!(e.to_string().contains("nope"), "{e}");
        let e = to_value(&serde_json::json!({"size": "big"}), &ty()).expect_err("bad number");
        assert_eq!(e.path, vec![PathStep::Attr("size".into())], "{e}");
    }

    #[test]
    fn fields_tell_unknown_from_null() {
        use super::super::Field;
        #[derive(Debug, Deserialize, Serialize)]
        struct Args {
            vps_id: Field<String>,
            note: Field<String>,
            triggers: Field<BTreeMap<String, String>>,
        }
        let mut v = to_value(&serde_json::json!({"vps_id": "x"}), &ty()).expect("to_value");
        if let Value::Object(m) = &mut v {
            m.insert("note".into(), Value::unknown());
        }
        let a: Args = from_value(&v).expect("unknown in a Field");
        assert_eq!(a.vps_id, Field::Value("x".to_owned()));
        assert!(a.note.is_unknown());
        assert!(a.triggers.is_null());
        // Written back, a known Field is its value and a null one null; an unknown is refused.
        let back = to_value(
            &Args {
                note: Field::Null,
                ..a
            },
            &ty(),
        )
        .expect("known fields write");
        assert_eq!(back.attr("vps_id").and_then(Value::as_str), Some("x"));
        assert_eq!(back.attr("note"), Some(&Value::Null));
        let unknown = Args {
            vps_id: Field::Unknown,
            note: Field::Null,
            triggers: Field::Null,
        };
        assert!(to_value(&unknown, &ty()).is_err());
        // Inside a Field, a type mismatch is still an error naming the attribute.
        let bad = to_value(&serde_json::json!({"vps_id": "x", "size": 1}), &ty()).expect("v");
        #[derive(Debug, Deserialize)]
        struct Wrong {
            #[allow(dead_code)]
            size: Field<String>,
        }
        let e = from_value::<Wrong>(&bad).expect_err("number as string");
        assert_eq!(e.path, vec![PathStep::Attr("size".into())], "{e}");
    }

    #[test]
    fn sets_lists_and_dynamic() {
        let v = Value::Typed(
            Type::Set(Box::new(Type::Number)),
            Box::new(Value::Set(vec![Value::from(1), Value::from(2)])),
        );
        let mut got: Vec<i64> = from_value(&v).expect("set");
        got.sort_unstable();
        assert_eq!(got, vec![1, 2]);
        let big = Value::Number(Number::Decimal("18446744073709551615".into()));
        assert_eq!(from_value::<u64>(&big).ok(), Some(u64::MAX));
    }
}
