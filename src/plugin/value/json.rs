//! The JSON forms of cty: type JSON (schema attribute types, dynamic wrappers) and value JSON
//! (state files, `RawState.json` in UpgradeResourceState, `DynamicValue.json`).
//!
//! Written by hand on top of `serde_json` because no crate knows go-cty's rules (reference cty's
//! JSON encoding, as Terraform uses it). Decoding is driven by the type, the way go-cty's is: the
//! type decides whether a JSON object is a map, an object or a `{"value", "type"}` dynamic wrapper.
//! Numbers are read from their literal text (through `serde_json::value::RawValue`), never through
//! f64, so `0.1` or a 30-digit integer in state survive exactly.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;

use super::error::{PathStep, ValueError, Walk};
use super::{infer_type, Number, Type, Value, MAX_DEPTH};

// ---------------------------------------------------------------------------------------------
// Type JSON
// ---------------------------------------------------------------------------------------------

impl Type {
    /// The cty type JSON of this type (`"string"`, `["list","string"]`, `["object",{...}]`).
    /// Exists because schema attribute types and dynamic wrappers carry types in this form;
    /// Terraform crashes on a malformed one, so it is only ever produced here.
    pub fn to_json(&self) -> String {
        let mut out = String::new();
        self.write_json(&mut out);
        out
    }

    fn write_json(&self, out: &mut String) {
        match self {
            Type::String => out.push_str("\"string\""),
            Type::Number => out.push_str("\"number\""),
            Type::Bool => out.push_str("\"bool\""),
            Type::Dynamic => out.push_str("\"dynamic\""),
            Type::List(t) | Type::Set(t) | Type::Map(t) => {
                out.push_str(match self {
                    Type::List(_) => "[\"list\",",
                    Type::Set(_) => "[\"set\",",
                    _ => "[\"map\",",
                });
                t.write_json(out);
                out.push(']');
            }
            Type::Object(attrs) => {
                out.push_str("[\"object\",{");
                for (i, (k, t)) in attrs.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write_json_string(out, k);
                    out.push(':');
                    t.write_json(out);
                }
                out.push_str("}]");
            }
            Type::Tuple(ts) => {
                out.push_str("[\"tuple\",[");
                for (i, t) in ts.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    t.write_json(out);
                }
                out.push_str("]]");
            }
        }
    }

    /// Parses cty type JSON. Exists for the `[type, value]` dynamic wrappers Terraform sends
    /// and for state files; object types with optional-attribute markers (a third element)
    /// are accepted and the markers ignored, since they only matter to type constraints.
    pub fn from_json(bytes: &[u8]) -> Result<Type, ValueError> {
        let v: serde_json::Value = serde_json::from_slice(bytes)
            .map_err(|e| ValueError::new(format!("invalid type JSON: {e}")))?;
        Type::from_json_value(&v)
    }

    /// Like [`Type::from_json`], from an already parsed JSON value.
    pub fn from_json_value(v: &serde_json::Value) -> Result<Type, ValueError> {
        type_from_json(v, 0).map_err(ValueError::new)
    }

    /// A short human name (`string`, `list of string`, `object`), for error messages.
    pub fn friendly_name(&self) -> String {
        match self {
            Type::String => "string".into(),
            Type::Number => "number".into(),
            Type::Bool => "bool".into(),
            Type::Dynamic => "any type".into(),
            Type::List(t) => format!("list of {}", t.friendly_name()),
            Type::Set(t) => format!("set of {}", t.friendly_name()),
            Type::Map(t) => format!("map of {}", t.friendly_name()),
            Type::Object(_) => "object".into(),
            Type::Tuple(_) => "tuple".into(),
        }
    }
}

fn type_from_json(v: &serde_json::Value, depth: usize) -> Result<Type, String> {
    use serde_json::Value as J;
    if depth > MAX_DEPTH {
        return Err(format!("type nests deeper than {MAX_DEPTH} levels"));
    }
    match v {
        J::String(s) => match s.as_str() {
            "string" => Ok(Type::String),
            "number" => Ok(Type::Number),
            "bool" => Ok(Type::Bool),
            "dynamic" => Ok(Type::Dynamic),
            other => Err(format!("unknown primitive type {other:?}")),
        },
        J::Array(items) => {
            let Some(J::String(kind)) = items.first() else {
                return Err("a complex type must be an array starting with its kind".into());
            };
            match (kind.as_str(), items.len()) {
                ("list" | "set" | "map", 2) => {
                    let t = Box::new(type_from_json(&items[1], depth + 1)?);
                    Ok(match kind.as_str() {
                        "list" => Type::List(t),
                        "set" => Type::Set(t),
                        _ => Type::Map(t),
                    })
                }
                ("object", 2 | 3) => {
                    let J::Object(attrs) = &items[1] else {
                        return Err("an object type needs an object of attribute types".into());
                    };
                    if let Some(opt) = items.get(2) {
                        let valid = opt
                            .as_array()
                            .is_some_and(|a| a.iter().all(serde_json::Value::is_string));
                        if !valid {
                            return Err(
                                "the optional attributes of an object type must be a list of \
                                 names"
                                    .into(),
                            );
                        }
                    }
                    let mut out = BTreeMap::new();
                    for (k, t) in attrs {
                        out.insert(k.clone(), type_from_json(t, depth + 1)?);
                    }
                    Ok(Type::Object(out))
                }
                ("tuple", 2) => {
                    let J::Array(ts) = &items[1] else {
                        return Err("a tuple type needs an array of element types".into());
                    };
                    ts.iter()
                        .map(|t| type_from_json(t, depth + 1))
                        .collect::<Result<_, _>>()
                        .map(Type::Tuple)
                }
                (other, n) => Err(format!("invalid type: kind {other:?} with {n} elements")),
            }
        }
        _ => Err("a type must be a string or an array".into()),
    }
}

fn write_json_string(out: &mut String, s: &str) {
    // serde_json's escaping; serialising a &str cannot fail.
    out.push_str(&serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into()));
}

// ---------------------------------------------------------------------------------------------
// Value JSON: decoding
// ---------------------------------------------------------------------------------------------

/// Decodes cty value JSON of type `ty` the way go-cty does: missing object attributes become
/// null, unknown ones are an error. Exists for `DynamicValue.json` and state JSON.
pub fn decode_json(bytes: &[u8], ty: &Type) -> Result<Value, ValueError> {
    decode(bytes, ty, false)
}

/// Like [`decode_json`], but object attributes the type does not have are dropped instead of
/// refused. Exists for UpgradeResourceState: stored state may hold attributes an older
/// provider version had, and Terraform expects the provider to shed them.
pub fn decode_json_lenient(bytes: &[u8], ty: &Type) -> Result<Value, ValueError> {
    decode(bytes, ty, true)
}

fn decode(bytes: &[u8], ty: &Type, lenient: bool) -> Result<Value, ValueError> {
    let text =
        std::str::from_utf8(bytes).map_err(|_| ValueError::new("the JSON is not valid UTF-8"))?;
    let cx = Cx {
        walk: RefCell::new(Walk::default()),
        err: RefCell::new(None),
        lenient,
    };
    let mut de = serde_json::Deserializer::from_str(text);
    let res = Seed {
        ty,
        cx: &cx,
        depth: 0,
    }
    .deserialize(&mut de)
    .and_then(|v| de.end().map(|()| v));
    match res {
        Ok(v) => Ok(v),
        Err(e) => Err(cx.err.into_inner().unwrap_or_else(|| {
            let walk = cx.walk.into_inner();
            walk.err(format!("invalid JSON: {e}"))
        })),
    }
}

/// Shared decoding state: the path walked so far (left at the failure point on error) and
/// the first error found, with its path (serde's own errors cannot carry one).
struct Cx {
    walk: RefCell<Walk>,
    err: RefCell<Option<ValueError>>,
    lenient: bool,
}

impl Cx {
    fn fail<E: de::Error>(&self, msg: impl Into<String>) -> E {
        let msg = msg.into();
        let e = self.walk.borrow().err(msg.clone());
        let mut slot = self.err.borrow_mut();
        if slot.is_none() {
            *slot = Some(e);
        }
        E::custom(msg)
    }
}

#[derive(Clone, Copy)]
struct Seed<'a> {
    ty: &'a Type,
    cx: &'a Cx,
    depth: usize,
}

/// What a JSON literal is, for messages.
fn json_kind(text: &str) -> &'static str {
    match text.as_bytes().first() {
        Some(b'"') => "a string",
        Some(b'[') => "an array",
        Some(b'{') => "an object",
        Some(b't' | b'f') => "a bool",
        Some(b'n') => "null",
        _ => "a number",
    }
}

impl<'de> DeserializeSeed<'de> for Seed<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        if self.depth > MAX_DEPTH {
            return Err(self
                .cx
                .fail(format!("the value nests deeper than {MAX_DEPTH} levels")));
        }
        match self.ty {
            Type::String | Type::Number | Type::Bool => {
                let raw = <&RawValue>::deserialize(d)?;
                self.primitive(raw.get())
            }
            Type::Dynamic => {
                let raw = <&RawValue>::deserialize(d)?;
                self.dynamic(raw.get())
            }
            _ => d.deserialize_any(self),
        }
    }
}

impl<'a> Seed<'a> {
    fn child<'b>(&'b self, ty: &'b Type) -> Seed<'b> {
        Seed {
            ty,
            cx: self.cx,
            depth: self.depth + 1,
        }
    }

    fn primitive<E: de::Error>(&self, text: &str) -> Result<Value, E> {
        let text = text.trim();
        if text == "null" {
            return Ok(Value::Null);
        }
        let unquote = |t: &str| -> Result<String, E> {
            serde_json::from_str::<String>(t).map_err(|e| self.cx.fail(format!("{e}")))
        };
        match self.ty {
            Type::String => match json_kind(text) {
                "a string" => Ok(Value::String(unquote(text)?)),
                // go-cty converts JSON numbers and bools found in a string slot.
                "a number" | "a bool" => Ok(Value::String(text.to_owned())),
                k => Err(self.cx.fail(format!("a string is required, found {k}"))),
            },
            Type::Number => {
                let literal = match json_kind(text) {
                    "a number" => text.to_owned(),
                    "a string" => unquote(text)?,
                    k => return Err(self.cx.fail(format!("a number is required, found {k}"))),
                };
                Number::parse(&literal)
                    .map(Value::Number)
                    .map_err(|m| self.cx.fail(m))
            }
            _ => match text {
                "true" | "\"true\"" => Ok(Value::Bool(true)),
                "false" | "\"false\"" => Ok(Value::Bool(false)),
                t => Err(self
                    .cx
                    .fail(format!("a bool is required, found {}", json_kind(t)))),
            },
        }
    }

    /// `null` or `{"value": ..., "type": ...}`.
    fn dynamic<E: de::Error>(&self, text: &str) -> Result<Value, E> {
        #[derive(Deserialize)]
        struct Wrapper<'x> {
            #[serde(borrow)]
            value: &'x RawValue,
            #[serde(rename = "type", borrow)]
            ty: &'x RawValue,
        }
        if text.trim() == "null" {
            return Ok(Value::Null);
        }
        let w: Wrapper<'_> = serde_json::from_str(text).map_err(|e| {
            self.cx.fail(format!(
                "a value of a dynamic type must be an object with \"value\" and \"type\" ({e})"
            ))
        })?;
        let (value, ty) = (w.value, w.ty);
        let t = Type::from_json(ty.get().as_bytes()).map_err(|e| {
            self.cx.fail(format!(
                "the type of a dynamic value is invalid: {}",
                e.message
            ))
        })?;
        let mut de = serde_json::Deserializer::from_str(value.get());
        let v = self
            .child(&t)
            .deserialize(&mut de)
            .map_err(|e| self.cx.fail(format!("{e}")))?;
        Ok(Value::Typed(t, Box::new(v)))
    }

    fn expected(&self) -> String {
        format!("{} is required", article(self.ty))
    }
}

fn article(ty: &Type) -> String {
    match ty {
        Type::Object(_) => "an object".into(),
        Type::Dynamic => "a value".into(),
        t => format!("a {}", t.friendly_name()),
    }
}

impl<'de> Visitor<'de> for Seed<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.expected())
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Value, E> {
        Err(self.cx.fail(format!("{}, found a bool", self.expected())))
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Value, E> {
        Err(self.cx.fail(format!("{}, found a number", self.expected())))
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Value, E> {
        Err(self.cx.fail(format!("{}, found a number", self.expected())))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Value, E> {
        Err(self.cx.fail(format!("{}, found a number", self.expected())))
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Value, E> {
        Err(self.cx.fail(format!("{}, found a string", self.expected())))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let cx = self.cx;
        match self.ty {
            Type::List(t) | Type::Set(t) => {
                let set = matches!(self.ty, Type::Set(_));
                let mut items = Vec::new();
                loop {
                    let i = items.len();
                    if set {
                        cx.walk.borrow_mut().push_set(i);
                    } else {
                        cx.walk.borrow_mut().push(PathStep::Index(i as i64));
                    }
                    match seq.next_element_seed(self.child(t))? {
                        Some(v) => items.push(v),
                        None => {
                            cx.walk.borrow_mut().pop();
                            break;
                        }
                    }
                    cx.walk.borrow_mut().pop();
                }
                Ok(if set {
                    Value::Set(items)
                } else {
                    Value::List(items)
                })
            }
            Type::Tuple(ts) => {
                let mut items = Vec::with_capacity(ts.len());
                for (i, t) in ts.iter().enumerate() {
                    cx.walk.borrow_mut().push(PathStep::Index(i as i64));
                    match seq.next_element_seed(self.child(t))? {
                        Some(v) => items.push(v),
                        None => {
                            cx.walk.borrow_mut().pop();
                            return Err(cx.fail(format!(
                                "a tuple of {} elements is required, found {i}",
                                ts.len()
                            )));
                        }
                    }
                    cx.walk.borrow_mut().pop();
                }
                if seq.next_element::<IgnoredAny>()?.is_some() {
                    return Err(cx.fail(format!(
                        "a tuple of {} elements is required, found more",
                        ts.len()
                    )));
                }
                Ok(Value::List(items))
            }
            _ => Err(cx.fail(format!("{}, found an array", self.expected()))),
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let cx = self.cx;
        match self.ty {
            Type::Map(t) => {
                let mut out = BTreeMap::new();
                while let Some(k) = map.next_key::<String>()? {
                    if out.contains_key(&k) {
                        return Err(cx.fail(format!("the map key {k:?} appears twice")));
                    }
                    cx.walk.borrow_mut().push(PathStep::Key(k.clone()));
                    let v = map.next_value_seed(self.child(t))?;
                    cx.walk.borrow_mut().pop();
                    out.insert(k, v);
                }
                Ok(Value::Map(out))
            }
            Type::Object(attrs) => {
                let mut out = BTreeMap::new();
                while let Some(k) = map.next_key::<String>()? {
                    let Some(t) = attrs.get(&k) else {
                        if cx.lenient {
                            map.next_value::<IgnoredAny>()?;
                            continue;
                        }
                        return Err(cx.fail(format!("unsupported attribute {k:?}")));
                    };
                    if out.contains_key(&k) {
                        return Err(cx.fail(format!("the attribute {k:?} appears twice")));
                    }
                    cx.walk.borrow_mut().push(PathStep::Attr(k.clone()));
                    let v = map.next_value_seed(self.child(t))?;
                    cx.walk.borrow_mut().pop();
                    out.insert(k, v);
                }
                for k in attrs.keys() {
                    out.entry(k.clone()).or_insert(Value::Null);
                }
                Ok(Value::Object(out))
            }
            _ => Err(cx.fail(format!("{}, found an object", self.expected()))),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Value JSON: encoding
// ---------------------------------------------------------------------------------------------

/// Encodes `v` of type `ty` as cty value JSON (the form of state files). Exists for tests,
/// docs and any place a value must be shown or stored as JSON. Unknown values and infinities
/// have no JSON form and are errors.
pub fn encode_json(v: &Value, ty: &Type) -> Result<Vec<u8>, ValueError> {
    let mut out = String::new();
    let mut walk = Walk::default();
    write_value(&mut out, v, ty, &mut walk, 0)?;
    Ok(out.into_bytes())
}

fn write_value(
    out: &mut String,
    v: &Value,
    ty: &Type,
    walk: &mut Walk,
    depth: usize,
) -> Result<(), ValueError> {
    if depth > MAX_DEPTH {
        return Err(walk.err(format!("the value nests deeper than {MAX_DEPTH} levels")));
    }
    match (v, ty) {
        (Value::Null, _) => out.push_str("null"),
        (Value::Unknown(_), _) => {
            return Err(walk.err("an unknown value cannot be written as JSON"))
        }
        (Value::Typed(t, inner), Type::Dynamic) => write_dynamic(out, t, inner, walk, depth)?,
        (_, Type::Dynamic) => {
            let t = infer_type(v).map_err(|m| walk.err(m))?;
            write_dynamic(out, &t, v, walk, depth)?;
        }
        (Value::Typed(t, inner), _) if t == ty => write_value(out, inner, ty, walk, depth)?,
        (Value::String(s), Type::String) => write_json_string(out, s),
        (Value::Number(n), Type::Number) => {
            if n.is_nan() {
                return Err(walk.err("NaN is not a number"));
            }
            match n.to_decimal_string() {
                Some(s) => out.push_str(&s),
                None => return Err(walk.err("an infinite number cannot be written as JSON")),
            }
        }
        (Value::Bool(b), Type::Bool) => out.push_str(if *b { "true" } else { "false" }),
        (Value::List(items), Type::List(t)) | (Value::Set(items), Type::Set(t)) => {
            let set = matches!(ty, Type::Set(_));
            out.push('[');
            for (i, x) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                if set {
                    walk.push_set(i);
                } else {
                    walk.push(PathStep::Index(i as i64));
                }
                write_value(out, x, t, walk, depth + 1)?;
                walk.pop();
            }
            out.push(']');
        }
        (Value::List(items), Type::Tuple(ts)) => {
            if items.len() != ts.len() {
                return Err(walk.err(format!(
                    "a tuple of {} elements is required, found {}",
                    ts.len(),
                    items.len()
                )));
            }
            out.push('[');
            for (i, (x, t)) in items.iter().zip(ts).enumerate() {
                if i > 0 {
                    out.push(',');
                }
                walk.push(PathStep::Index(i as i64));
                write_value(out, x, t, walk, depth + 1)?;
                walk.pop();
            }
            out.push(']');
        }
        (Value::Map(m), Type::Map(t)) => {
            out.push('{');
            for (i, (k, x)) in m.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json_string(out, k);
                out.push(':');
                walk.push(PathStep::Key(k.clone()));
                write_value(out, x, t, walk, depth + 1)?;
                walk.pop();
            }
            out.push('}');
        }
        (Value::Object(m) | Value::Map(m), Type::Object(attrs)) => {
            if let Some(extra) = m.keys().find(|k| !attrs.contains_key(*k)) {
                return Err(walk.err(format!("attribute {extra:?} is not in the object type")));
            }
            out.push('{');
            for (i, (k, t)) in attrs.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json_string(out, k);
                out.push(':');
                walk.push(PathStep::Attr(k.clone()));
                write_value(out, m.get(k).unwrap_or(&Value::Null), t, walk, depth + 1)?;
                walk.pop();
            }
            out.push('}');
        }
        _ => {
            return Err(walk.err(format!(
                "{} cannot be written as {}",
                super::value_kind(v),
                ty.friendly_name()
            )))
        }
    }
    Ok(())
}

fn write_dynamic(
    out: &mut String,
    t: &Type,
    v: &Value,
    walk: &mut Walk,
    depth: usize,
) -> Result<(), ValueError> {
    if matches!(t, Type::Dynamic) {
        return Err(walk.err("a value in a dynamic slot needs a concrete type, not dynamic"));
    }
    out.push_str("{\"value\":");
    write_value(out, v, t, walk, depth + 1)?;
    out.push_str(",\"type\":");
    t.write_json(out);
    out.push('}');
    Ok(())
}
