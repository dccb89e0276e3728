//! [`ObjectValue`]: a config, plan or state object together with its schema type.
//!
//! Resources read it into a typed model ([`ObjectValue::model`]) and write back what they
//! learned ([`ObjectValue::set_fields`]); the framework itself works by attribute path. The
//! type travels with the value so a wrong attribute name or a value of the wrong type is caught
//! where it is written (and reported as a clear "provider bug" diagnostic) instead of
//! surfacing as an undecodable msgpack object in Terraform.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::plugin::diag::{AttributePath, Diagnostic, Diagnostics, PathStep};
use crate::plugin::schema::{Block, Nesting, Schema};
use crate::plugin::value::{self, Type, Value, ValueError};

/// A schema with its implied type, computed once per resource type and shared by every value.
#[derive(Debug)]
pub struct SchemaInfo {
    /// The schema as the resource declared it.
    pub schema: Schema,
    /// `schema.implied_type()`.
    pub ty: Type,
}

impl SchemaInfo {
    /// Computes the implied type once.
    pub fn new(schema: Schema) -> Arc<Self> {
        let ty = schema.implied_type();
        Arc::new(SchemaInfo { schema, ty })
    }
}

/// A config, plan or state object of one resource/data source/provider, with its type.
#[derive(Debug, Clone)]
pub struct ObjectValue {
    value: Value,
    info: Arc<SchemaInfo>,
    misuse: Vec<String>,
}

impl PartialEq for ObjectValue {
    fn eq(&self, other: &Self) -> bool {
        values_equal(&self.value, &other.value)
    }
}

impl ObjectValue {
    /// Wraps `value` (an object or null) of the schema `info`. The server builds these; tests
    /// may too.
    pub fn new(value: Value, info: Arc<SchemaInfo>) -> Self {
        ObjectValue {
            value,
            info,
            misuse: Vec::new(),
        }
    }

    /// The null object of the schema (e.g. no prior state).
    pub fn null(info: Arc<SchemaInfo>) -> Self {
        Self::new(Value::Null, info)
    }

    /// An object whose attributes are all null and whose LIST/SET/MAP nested blocks are empty
    /// collections (Terraform rejects null there): the safe starting point for a fresh object,
    /// e.g. in import.
    pub fn empty(info: Arc<SchemaInfo>) -> Self {
        let value = empty_object(&info.schema.block);
        Self::new(value, info)
    }

    /// True when the whole object is null (no object at all).
    pub fn is_null(&self) -> bool {
        self.value.is_null()
    }

    /// True when no attribute, however deep, is unknown.
    pub fn is_wholly_known(&self) -> bool {
        self.value.is_wholly_known()
    }

    /// The raw cty value.
    pub fn value(&self) -> &Value {
        &self.value
    }

    /// The object's cty type (the schema's implied type).
    pub fn ty(&self) -> &Type {
        &self.info.ty
    }

    /// The schema this object follows.
    pub fn schema(&self) -> &Schema {
        &self.info.schema
    }

    /// Takes the raw value out.
    pub fn into_value(self) -> Value {
        self.value
    }

    /// The value of top-level attribute (or nested block) `name`; null when the object is null.
    /// A name not in the schema also reads as null and is recorded as a provider bug.
    pub fn attr(&self, name: &str) -> &Value {
        static NULL: Value = Value::Null;
        self.value.attr(name).unwrap_or(&NULL)
    }

    /// The known, non-null string in attribute `name`; `None` when null or unknown.
    pub fn string(&self, name: &str) -> Option<&str> {
        self.attr(name).as_str()
    }

    /// The known bool in attribute `name`.
    pub fn bool(&self, name: &str) -> Option<bool> {
        self.attr(name).as_bool()
    }

    /// The known integer in attribute `name`.
    pub fn i64(&self, name: &str) -> Option<i64> {
        match self.attr(name) {
            Value::Number(n) => n.as_i64(),
            _ => None,
        }
    }

    /// True when attribute `name` is known (null counts as known). Validation must skip
    /// unknown values: they are only known at apply.
    pub fn is_known(&self, name: &str) -> bool {
        self.attr(name).is_wholly_known()
    }

    /// The value at `path`, `None` if the path does not exist in this value.
    pub fn get_path(&self, path: &AttributePath) -> Option<&Value> {
        value_at(&self.value, path)
    }

    /// Sets top-level attribute `name`. The name and the value's shape are checked against the
    /// schema type; a mismatch is a provider bug and becomes an error diagnostic of the
    /// operation (the object is left unchanged).
    pub fn set_attr(&mut self, name: &str, value: impl Into<Value>) -> &mut Self {
        self.set_path(&AttributePath::root(name), value)
    }

    /// Sets the value at `path` (same checks as [`ObjectValue::set_attr`]). Setting inside a
    /// null object first makes it an object with all attributes null.
    pub fn set_path(&mut self, path: &AttributePath, value: impl Into<Value>) -> &mut Self {
        let value = value.into();
        let Some(ty) = type_at(&self.info.ty, path) else {
            self.misuse
                .push(format!("attribute {path} does not exist in the schema"));
            return self;
        };
        if let Err(e) = conforms(&value, ty) {
            self.misuse.push(format!(
                "value for {path} does not match its schema type: {e}"
            ));
            return self;
        }
        if self.value.is_null() {
            self.value = empty_object(&self.info.schema.block);
        }
        match slot_at(&mut self.value, path) {
            Some(slot) => *slot = value,
            None => self.misuse.push(format!(
                "cannot set {path}: its parent is null, unknown or a set"
            )),
        }
        self
    }

    /// Reads the whole object into a typed struct through serde (see
    /// [`value::from_value`]): the one-line way for resource code to get its arguments.
    /// A failure is an error diagnostic at the offending attribute, ready to push.
    pub fn decode<T: serde::de::DeserializeOwned>(&self) -> Result<T, Diagnostic> {
        value::from_value(&self.value).map_err(|e| value_error_diagnostic(&e))
    }

    /// Replaces the whole object with one built from a typed struct (see [`value::to_value`];
    /// struct fields absent for some attributes leave them null). A struct that does not fit
    /// the schema is a provider bug, recorded like [`ObjectValue::set_attr`] does.
    pub fn set_from<T: serde::Serialize + ?Sized>(&mut self, t: &T) -> &mut Self {
        match value::to_value(t, &self.info.ty) {
            Ok(v) => self.set_value(v),
            Err(e) => {
                self.misuse
                    .push(format!("value does not match the schema type: {e}"));
                self
            }
        }
    }

    /// [`ObjectValue::decode`] for resource code: the typed model (fields of
    /// [`value::Field`] where values may be unknown or null), or `None` with the error
    /// recorded in `diags` (a model that does not fit its schema is a provider bug).
    pub fn model<T: serde::de::DeserializeOwned>(&self, diags: &mut Diagnostics) -> Option<T> {
        match self.decode() {
            Ok(t) => Some(t),
            Err(d) => {
                diags.push(d);
                None
            }
        }
    }

    /// Sets the top-level attributes a struct names, one per field, from its values (a `None`
    /// or [`value::Field::Null`] field sets null); attributes it does not name are left as
    /// they are. The partial counterpart of [`ObjectValue::set_from`], for an operation that
    /// records what it learned (`job_id`, `status`) in a planned or prior state. Names and
    /// types are checked like [`ObjectValue::set_attr`] does.
    pub fn set_fields<T: serde::Serialize + ?Sized>(&mut self, t: &T) -> &mut Self {
        let fields = match serde_json::to_value(t) {
            Ok(serde_json::Value::Object(m)) => m,
            Ok(_) => {
                self.misuse
                    .push("set_fields needs a struct or map".to_owned());
                return self;
            }
            Err(e) => {
                self.misuse
                    .push(format!("cannot serialise the fields: {e}"));
                return self;
            }
        };
        for (name, json) in fields {
            let path = AttributePath::root(name.as_str());
            let Some(ty) = type_at(&self.info.ty, &path) else {
                self.misuse
                    .push(format!("attribute {path} does not exist in the schema"));
                continue;
            };
            let decoded = serde_json::to_vec(&json)
                .map_err(|e| ValueError::new(e.to_string()))
                .and_then(|bytes| value::decode_json(&bytes, ty));
            match decoded {
                Ok(v) => {
                    self.set_path(&path, v);
                }
                Err(e) => self.misuse.push(format!(
                    "value for {path} does not match its schema type: {e}"
                )),
            }
        }
        self
    }

    /// Replaces the whole object with null (e.g. a failed create that created nothing).
    pub fn set_null(&mut self) -> &mut Self {
        self.value = Value::Null;
        self
    }

    /// Replaces the whole value (checked against the type like [`ObjectValue::set_attr`]).
    pub fn set_value(&mut self, value: Value) -> &mut Self {
        match conforms(&value, &self.info.ty) {
            Ok(()) => self.value = value,
            Err(e) => self
                .misuse
                .push(format!("object does not match the schema type: {e}")),
        }
        self
    }

    /// Provider bugs recorded by setters, drained by the server into diagnostics.
    pub(crate) fn take_misuse(&mut self) -> Vec<String> {
        std::mem::take(&mut self.misuse)
    }

    pub(crate) fn value_mut(&mut self) -> &mut Value {
        &mut self.value
    }
}

/// A codec or serde error as the diagnostic a user sees, attached to the attribute it names.
/// Exists so that every place turning a [`ValueError`] into a diagnostic says the same thing.
pub fn value_error_diagnostic(e: &ValueError) -> Diagnostic {
    let path = AttributePath {
        steps: e
            .path
            .iter()
            .map(|s| match s {
                value::PathStep::Attr(n) => PathStep::Attr(n.clone()),
                value::PathStep::Key(k) => PathStep::Key(k.clone()),
                value::PathStep::Index(i) => PathStep::Index(*i),
            })
            .collect(),
    };
    let d = if e.unknown {
        Diagnostic::error(
            "Value not known yet",
            format!(
                "{e}. This value is only known after apply, but the provider needs it now; \
                 use a value known at plan time."
            ),
        )
    } else {
        Diagnostic::error("Invalid value", e.to_string())
    };
    if path.steps.is_empty() {
        d
    } else {
        d.with_path(path)
    }
}

/// An object of `block` with null attributes, null SINGLE blocks, empty GROUP blocks and empty
/// LIST/SET/MAP blocks (Terraform requires those to be collections, never null).
pub(crate) fn empty_object(block: &Block) -> Value {
    let mut m = BTreeMap::new();
    for a in &block.attributes {
        m.insert(a.name.clone(), Value::Null);
    }
    for b in &block.blocks {
        let v = match b.nesting {
            Nesting::Single => Value::Null,
            Nesting::Group => empty_object(&b.block),
            Nesting::List => Value::List(Vec::new()),
            Nesting::Set => Value::Set(Vec::new()),
            Nesting::Map => Value::Map(BTreeMap::new()),
        };
        m.insert(b.type_name.clone(), v);
    }
    Value::Object(m)
}

/// The value at `path` inside `v`.
pub(crate) fn value_at<'a>(v: &'a Value, path: &AttributePath) -> Option<&'a Value> {
    let mut cur = v;
    for step in &path.steps {
        cur = match (cur, step) {
            (Value::Typed(_, inner), _) => value_at_step(inner, step)?,
            _ => value_at_step(cur, step)?,
        };
    }
    Some(cur)
}

fn value_at_step<'a>(v: &'a Value, step: &PathStep) -> Option<&'a Value> {
    match (v, step) {
        (Value::Object(m), PathStep::Attr(n)) => m.get(n),
        (Value::Map(m), PathStep::Key(k)) => m.get(k),
        (Value::List(l), PathStep::Index(i)) => usize::try_from(*i).ok().and_then(|i| l.get(i)),
        _ => None,
    }
}

fn slot_at<'a>(v: &'a mut Value, path: &AttributePath) -> Option<&'a mut Value> {
    let mut cur = v;
    for step in &path.steps {
        cur = match (cur, step) {
            (Value::Object(m), PathStep::Attr(n)) => m.get_mut(n)?,
            (Value::Map(m), PathStep::Key(k)) => m.entry(k.clone()).or_insert(Value::Null),
            (Value::List(l), PathStep::Index(i)) => {
                let i = usize::try_from(*i).ok()?;
                l.get_mut(i)?
            }
            _ => return None,
        };
    }
    Some(cur)
}

/// The type at `path` inside `ty`.
pub(crate) fn type_at<'a>(ty: &'a Type, path: &AttributePath) -> Option<&'a Type> {
    let mut cur = ty;
    for step in &path.steps {
        cur = match (cur, step) {
            (Type::Object(m), PathStep::Attr(n)) => m.get(n)?,
            (Type::Map(t), PathStep::Key(_)) | (Type::List(t), PathStep::Index(_)) => t,
            (Type::Tuple(ts), PathStep::Index(i)) => ts.get(usize::try_from(*i).ok()?)?,
            _ => return None,
        };
    }
    Some(cur)
}

/// Checks that `v` can be encoded as `ty` (shape only; null and unknown fit anywhere).
pub(crate) fn conforms(v: &Value, ty: &Type) -> Result<(), String> {
    match (v, ty) {
        (Value::Null | Value::Unknown(_), _) => Ok(()),
        (_, Type::Dynamic) => Ok(()),
        (Value::Typed(t, inner), _) => {
            if t == ty {
                conforms(inner, ty)
            } else {
                Err("a typed (dynamic) value in a non-dynamic slot".into())
            }
        }
        (Value::String(_), Type::String)
        | (Value::Number(_), Type::Number)
        | (Value::Bool(_), Type::Bool) => Ok(()),
        (Value::List(items), Type::List(t)) | (Value::Set(items), Type::Set(t)) => items
            .iter()
            .enumerate()
            .try_for_each(|(i, x)| conforms(x, t).map_err(|e| format!("[{i}]: {e}"))),
        (Value::List(items), Type::Tuple(ts)) => {
            if items.len() != ts.len() {
                return Err(format!(
                    "tuple of {} elements expected, got {}",
                    ts.len(),
                    items.len()
                ));
            }
            items
                .iter()
                .zip(ts)
                .enumerate()
                .try_for_each(|(i, (x, t))| conforms(x, t).map_err(|e| format!("[{i}]: {e}")))
        }
        (Value::Map(m), Type::Map(t)) => m
            .iter()
            .try_for_each(|(k, x)| conforms(x, t).map_err(|e| format!("[{k:?}]: {e}"))),
        (Value::Object(m), Type::Object(attrs)) | (Value::Map(m), Type::Object(attrs)) => {
            if let Some(extra) = m.keys().find(|k| !attrs.contains_key(*k)) {
                return Err(format!("attribute {extra:?} is not in the schema"));
            }
            if let Some(missing) = attrs.keys().find(|k| !m.contains_key(*k)) {
                return Err(format!("attribute {missing:?} is missing"));
            }
            m.iter()
                .try_for_each(|(k, x)| conforms(x, &attrs[k]).map_err(|e| format!(".{k}: {e}")))
        }
        (v, t) => Err(format!(
            "{} given where {} is expected",
            kind(v),
            type_name(t)
        )),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Unknown(_) => "unknown",
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

fn type_name(t: &Type) -> &'static str {
    match t {
        Type::String => "string",
        Type::Number => "number",
        Type::Bool => "bool",
        Type::Dynamic => "any",
        Type::List(_) => "a list",
        Type::Set(_) => "a set",
        Type::Map(_) => "a map",
        Type::Object(_) => "an object",
        Type::Tuple(_) => "a tuple",
    }
}

/// cty equality: sets compare as multisets (their order carries no meaning), unknowns are
/// equal to nothing known. Used to decide "did this change?" in plans.
pub fn values_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Typed(ta, va), Value::Typed(tb, vb)) => ta == tb && values_equal(va, vb),
        (Value::Unknown(_), Value::Unknown(_)) => true,
        (Value::Set(xs), Value::Set(ys)) => {
            if xs.len() != ys.len() {
                return false;
            }
            let mut used = vec![false; ys.len()];
            xs.iter().all(|x| {
                ys.iter().enumerate().any(|(i, y)| {
                    if !used[i] && values_equal(x, y) {
                        used[i] = true;
                        true
                    } else {
                        false
                    }
                })
            })
        }
        (Value::List(xs), Value::List(ys)) => {
            xs.len() == ys.len() && xs.iter().zip(ys).all(|(x, y)| values_equal(x, y))
        }
        (Value::Map(xs), Value::Map(ys)) | (Value::Object(xs), Value::Object(ys)) => {
            maps_equal(xs, ys)
        }
        _ => a == b,
    }
}

fn maps_equal(xs: &BTreeMap<String, Value>, ys: &BTreeMap<String, Value>) -> bool {
    xs.len() == ys.len()
        && xs
            .iter()
            .all(|(k, x)| ys.get(k).is_some_and(|y| values_equal(x, y)))
}

/// Paths (in HCL form) of every unknown inside `v`, for "still unknown after apply" errors.
pub(crate) fn unknown_paths(v: &Value, path: &AttributePath, out: &mut Vec<AttributePath>) {
    match v {
        Value::Unknown(_) => out.push(path.clone()),
        Value::Typed(_, inner) => unknown_paths(inner, path, out),
        Value::Object(m) => {
            for (k, x) in m {
                unknown_paths(x, &path.clone().attr(k), out);
            }
        }
        Value::Map(m) => {
            for (k, x) in m {
                unknown_paths(x, &path.clone().key(k), out);
            }
        }
        Value::List(xs) => {
            for (i, x) in xs.iter().enumerate() {
                unknown_paths(x, &path.clone().index(i as i64), out);
            }
        }
        Value::Set(xs) if xs.iter().any(|x| !x.is_wholly_known()) => out.push(path.clone()),
        _ => {}
    }
}

/// Replaces every unknown inside `v` with null (what Terraform itself does, with an error,
/// when a provider returns unknowns after apply).
pub(crate) fn unknowns_to_null(v: &mut Value) {
    match v {
        Value::Unknown(_) => *v = Value::Null,
        Value::Typed(_, inner) => unknowns_to_null(inner),
        Value::Object(m) | Value::Map(m) => m.values_mut().for_each(unknowns_to_null),
        Value::List(xs) | Value::Set(xs) => xs.iter_mut().for_each(unknowns_to_null),
        _ => {}
    }
}

/// Makes a misuse message into the error diagnostic the user sees.
pub(crate) fn misuse_diagnostic(type_name: &str, operation: &str, msg: &str) -> Diagnostic {
    Diagnostic::error(
        "Provider bug",
        format!(
            "The provider's {operation} of {type_name} used its schema wrongly: {msg}. \
             This is a bug in the provider; please report it."
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugin::schema::{Attribute, NestedBlock};

    fn ty() -> Arc<SchemaInfo> {
        SchemaInfo::new(Schema::new(
            Block::new()
                .attribute(Attribute::string("id").computed())
                .attribute(Attribute::number("n").optional())
                .attribute(Attribute::map("tags", Type::String).optional())
                .attribute(Attribute::set("s", Type::String).optional())
                .block(NestedBlock::list("rule", Block::new())),
        ))
    }

    #[test]
    fn set_attr_checks_name_and_type() {
        let mut o = ObjectValue::null(ty());
        o.set_attr("id", "x").set_attr("n", 3);
        assert_eq!(o.string("id"), Some("x"));
        assert_eq!(o.i64("n"), Some(3));
        assert!(o.attr("tags").is_null());
        assert_eq!(o.attr("rule"), &Value::List(vec![]));
        o.set_attr("nope", "x");
        o.set_attr("n", "three");
        let m = o.take_misuse();
        assert_eq!(m.len(), 2, "{m:?}");
        assert!(m[0].contains("nope"));
        assert!(
            m[1].contains("a string given where number is expected"),
            "{m:?}"
        );
        assert_eq!(o.i64("n"), Some(3));
        o.set_attr("tags", Value::Map(BTreeMap::new()));
        o.set_path(&AttributePath::root("tags").key("a"), "b");
        assert_eq!(
            o.get_path(&AttributePath::root("tags").key("a"))
                .and_then(Value::as_str),
            Some("b")
        );
        assert!(o.take_misuse().is_empty());
    }

    #[test]
    fn typed_decode_and_set_from() {
        #[derive(serde::Deserialize, serde::Serialize, Debug, PartialEq)]
        struct T {
            id: Option<String>,
            n: Option<i64>,
            tags: Option<BTreeMap<String, String>>,
        }
        let mut o = ObjectValue::null(ty());
        o.set_from(&T {
            id: Some("x".into()),
            n: Some(2),
            tags: None,
        });
        assert!(o.take_misuse().is_empty());
        assert_eq!(o.string("id"), Some("x"));
        assert_eq!(o.attr("rule"), &Value::Null, "absent from the struct: null");
        let back: T = o.decode().expect("decode");
        assert_eq!(back.n, Some(2));
        o.set_attr("n", Value::unknown());
        let d = o.decode::<T>().expect_err("unknown n");
        assert_eq!(d.summary, "Value not known yet");
        assert_eq!(d.attribute, Some(AttributePath::root("n")));
        o.set_from(&serde_json::json!({"bogus": 1}));
        assert_eq!(o.take_misuse().len(), 1);
    }

    #[test]
    fn set_equality_ignores_order_and_unknown_paths() {
        let a = Value::Set(vec!["a".into(), "b".into()]);
        let b = Value::Set(vec!["b".into(), "a".into()]);
        assert!(values_equal(&a, &b));
        assert!(!values_equal(&a, &Value::Set(vec!["a".into(), "a".into()])));
        let mut v = Value::Object(
            [
                ("x".to_string(), Value::unknown()),
                ("y".to_string(), Value::List(vec![Value::unknown()])),
            ]
            .into_iter()
            .collect(),
        );
        let mut out = Vec::new();
        unknown_paths(&v, &AttributePath::default(), &mut out);
        let shown: Vec<String> = out.iter().map(ToString::to_string).collect();
        assert_eq!(shown, vec!["x", "y[0]"]);
        unknowns_to_null(&mut v);
        assert!(v.is_wholly_known());
    }
}
