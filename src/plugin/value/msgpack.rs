//! The msgpack form of cty values: what every `DynamicValue.msgpack` on the wire carries.
//!
//! Written by hand because no Rust crate implements go-cty's encoding (type-directed objects,
//! `[type JSON, value]` dynamic wrappers, unknowns as msgpack extensions, refinements). The
//! `rmp` crate supplies the msgpack primitives (markers, writers); the structure is here.
//!
//! Decoding follows go-cty v1.16 `cty/msgpack` and what Terraform actually sends (reference cty's
//! msgpack encoding, as Terraform uses it): any int width, float32/float64 or a decimal string for
//! numbers; str or bin for strings; nil for null in any slot; any extension as unknown, with code
//! 12 carrying refinements. Encoding writes exactly what Terraform writes: compact ints, float64
//! for exact non-integers, decimal strings otherwise, objects with every attribute in sorted key
//! order, `d4 00 00` for unrefined unknowns and ext 12 only with at least one refinement.
//!
//! Input is untrusted: every length is checked against the bytes left before anything is
//! allocated, nesting is capped at [`MAX_DEPTH`], and every problem is a [`ValueError`] naming
//! where in the value it happened.

use std::collections::BTreeMap;

use rmp::Marker;

use super::error::{PathStep, ValueError, Walk};
use super::{infer_type, Number, Refinements, Type, Value, MAX_DEPTH};

/// The extension code go-cty uses for unknown values carrying refinements.
const REFINED_UNKNOWN_EXT: i8 = 12;
/// go-cty refuses refinement payloads longer than this; so do we.
const MAX_REFINEMENT_BYTES: usize = 1024;
/// Refinement map keys (go-cty `cty/msgpack/unknown.go`).
const REF_NULLNESS: i64 = 1;
const REF_STRING_PREFIX: i64 = 2;
const REF_NUMBER_LOWER: i64 = 3;
const REF_NUMBER_UPPER: i64 = 4;
const REF_LENGTH_MIN: i64 = 5;
const REF_LENGTH_MAX: i64 = 6;
/// go-cty keeps at most this many bytes of a refined string prefix.
const MAX_PREFIX_BYTES: usize = 256;
/// Pre-allocation cap for collections: a length prefix is only a claim until the elements are
/// actually read, so never reserve more than this up front.
const MAX_PREALLOC: usize = 1024;

/// Decodes a msgpack cty value of type `ty` (e.g. a config, plan or state object). Exists
/// because every value Terraform sends is msgpack; the whole input must be one value.
pub fn decode_msgpack(bytes: &[u8], ty: &Type) -> Result<Value, ValueError> {
    let mut d = Decoder {
        buf: bytes,
        pos: 0,
        walk: Walk::default(),
    };
    let v = d.value(ty, 0)?;
    if d.pos != bytes.len() {
        return Err(ValueError::new(format!(
            "{} unexpected trailing bytes after the msgpack value",
            bytes.len() - d.pos
        )));
    }
    Ok(v)
}

/// Encodes `v` as msgpack of type `ty`, in the exact form Terraform writes. Exists because
/// every value a provider returns must be msgpack; a value that does not fit `ty` is an error
/// (a provider bug), never a malformed message that Terraform would choke on.
pub fn encode_msgpack(v: &Value, ty: &Type) -> Result<Vec<u8>, ValueError> {
    let mut e = Encoder {
        out: Vec::with_capacity(64),
        walk: Walk::default(),
    };
    e.value(v, ty, 0)?;
    Ok(e.out)
}

// ---------------------------------------------------------------------------------------------
// Decoding
// ---------------------------------------------------------------------------------------------

struct Decoder<'b> {
    buf: &'b [u8],
    pos: usize,
    walk: Walk,
}

/// What a marker announces, for "a string is required, found an array" messages.
fn marker_kind(m: Marker) -> &'static str {
    match m {
        Marker::Null => "null",
        Marker::True | Marker::False => "a bool",
        Marker::FixPos(_)
        | Marker::FixNeg(_)
        | Marker::U8
        | Marker::U16
        | Marker::U32
        | Marker::U64
        | Marker::I8
        | Marker::I16
        | Marker::I32
        | Marker::I64
        | Marker::F32
        | Marker::F64 => "a number",
        Marker::FixStr(_) | Marker::Str8 | Marker::Str16 | Marker::Str32 => "a string",
        Marker::Bin8 | Marker::Bin16 | Marker::Bin32 => "binary data",
        Marker::FixArray(_) | Marker::Array16 | Marker::Array32 => "an array",
        Marker::FixMap(_) | Marker::Map16 | Marker::Map32 => "a map",
        Marker::FixExt1
        | Marker::FixExt2
        | Marker::FixExt4
        | Marker::FixExt8
        | Marker::FixExt16
        | Marker::Ext8
        | Marker::Ext16
        | Marker::Ext32 => "an extension",
        Marker::Reserved => "the reserved byte 0xc1",
    }
}

fn is_ext(m: Marker) -> bool {
    matches!(
        m,
        Marker::FixExt1
            | Marker::FixExt2
            | Marker::FixExt4
            | Marker::FixExt8
            | Marker::FixExt16
            | Marker::Ext8
            | Marker::Ext16
            | Marker::Ext32
    )
}

impl<'b> Decoder<'b> {
    fn err(&self, msg: impl Into<String>) -> ValueError {
        self.walk.err(msg)
    }

    fn truncated(&self) -> ValueError {
        self.err("the msgpack data ends too early (truncated)")
    }

    fn peek_marker(&self) -> Result<Marker, ValueError> {
        match self.buf.get(self.pos) {
            Some(&b) => Ok(Marker::from_u8(b)),
            None => Err(self.truncated()),
        }
    }

    fn marker(&mut self) -> Result<Marker, ValueError> {
        let m = self.peek_marker()?;
        self.pos += 1;
        Ok(m)
    }

    fn take(&mut self, n: usize) -> Result<&'b [u8], ValueError> {
        if self.buf.len() - self.pos < n {
            return Err(self.truncated());
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn u8(&mut self) -> Result<u8, ValueError> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16, ValueError> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }
    fn u32(&mut self) -> Result<u32, ValueError> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn u64(&mut self) -> Result<u64, ValueError> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_be_bytes(a))
    }

    /// A claimed element count, refused when even one byte per element would overrun the
    /// input (so a 5-byte message cannot announce 4 billion elements).
    fn count(&self, n: u64) -> Result<usize, ValueError> {
        let left = (self.buf.len() - self.pos) as u64;
        if n > left {
            return Err(self.err(format!(
                "the msgpack data claims {n} elements but only {left} bytes are left"
            )));
        }
        Ok(n as usize)
    }

    fn array_len(&mut self, m: Marker) -> Result<Option<usize>, ValueError> {
        let n = match m {
            Marker::FixArray(n) => u64::from(n),
            Marker::Array16 => u64::from(self.u16()?),
            Marker::Array32 => u64::from(self.u32()?),
            _ => return Ok(None),
        };
        self.count(n).map(Some)
    }

    fn map_len(&mut self, m: Marker) -> Result<Option<usize>, ValueError> {
        let n = match m {
            Marker::FixMap(n) => u64::from(n),
            Marker::Map16 => u64::from(self.u16()?),
            Marker::Map32 => u64::from(self.u32()?),
            _ => return Ok(None),
        };
        // Each entry is at least two bytes.
        self.count(n.saturating_mul(2)).map(|_| Some(n as usize))
    }

    /// The bytes of a str or bin whose marker was read; `None` for other markers.
    fn str_or_bin(&mut self, m: Marker) -> Result<Option<&'b [u8]>, ValueError> {
        let n = match m {
            Marker::FixStr(n) => usize::from(n),
            Marker::Str8 | Marker::Bin8 => usize::from(self.u8()?),
            Marker::Str16 | Marker::Bin16 => usize::from(self.u16()?),
            Marker::Str32 | Marker::Bin32 => self.u32()? as usize,
            _ => return Ok(None),
        };
        self.take(n).map(Some)
    }

    fn utf8(&self, b: &[u8]) -> Result<String, ValueError> {
        std::str::from_utf8(b)
            .map(str::to_owned)
            .map_err(|_| self.err("a string is not valid UTF-8"))
    }

    fn wrong(&self, m: Marker, wanted: &str) -> ValueError {
        self.err(format!("{wanted} is required, found {}", marker_kind(m)))
    }

    /// Reads a number whose marker was read; `None` when the marker is not a number.
    fn number(&mut self, m: Marker) -> Result<Option<Number>, ValueError> {
        let n = match m {
            Marker::FixPos(n) => Number::Int(i64::from(n)),
            Marker::FixNeg(n) => Number::Int(i64::from(n)),
            Marker::U8 => Number::Int(i64::from(self.u8()?)),
            Marker::U16 => Number::Int(i64::from(self.u16()?)),
            Marker::U32 => Number::Int(i64::from(self.u32()?)),
            Marker::U64 => Number::from(self.u64()?),
            Marker::I8 => Number::Int(i64::from(self.u8()? as i8)),
            Marker::I16 => Number::Int(i64::from(self.u16()? as i16)),
            Marker::I32 => Number::Int(i64::from(self.u32()? as i32)),
            Marker::I64 => Number::Int(self.u64()? as i64),
            Marker::F32 => {
                let f = f64::from(f32::from_bits(self.u32()?));
                self.float(f)?
            }
            Marker::F64 => {
                let f = f64::from_bits(self.u64()?);
                self.float(f)?
            }
            Marker::FixStr(_) | Marker::Str8 | Marker::Str16 | Marker::Str32 => {
                let b = self.str_or_bin(m)?.unwrap_or_default();
                let text = self.utf8(b)?;
                Number::parse(&text).map_err(|e| self.err(e))?
            }
            _ => return Ok(None),
        };
        Ok(Some(n))
    }

    fn float(&self, f: f64) -> Result<Number, ValueError> {
        if f.is_nan() {
            return Err(self.err("NaN is not a number Terraform can represent"));
        }
        Ok(Number::from(f))
    }

    fn value(&mut self, ty: &Type, depth: usize) -> Result<Value, ValueError> {
        if depth > MAX_DEPTH {
            return Err(self.err(format!("the value nests deeper than {MAX_DEPTH} levels")));
        }
        let m = self.peek_marker()?;
        if m == Marker::Null {
            self.pos += 1;
            return Ok(Value::Null);
        }
        if is_ext(m) {
            return self.unknown();
        }
        self.pos += 1;
        match ty {
            Type::String => match self.str_or_bin(m)? {
                Some(b) => Ok(Value::String(self.utf8(b)?)),
                None => Err(self.wrong(m, "a string")),
            },
            Type::Number => match self.number(m)? {
                Some(n) => Ok(Value::Number(n)),
                None => Err(self.wrong(m, "a number")),
            },
            Type::Bool => match m {
                Marker::True => Ok(Value::Bool(true)),
                Marker::False => Ok(Value::Bool(false)),
                _ => Err(self.wrong(m, "a bool")),
            },
            Type::Dynamic => {
                if self.array_len(m)? != Some(2) {
                    return Err(self.err(
                        "a value of a dynamic type must be a [type, value] array of two elements",
                    ));
                }
                let tm = self.marker()?;
                let Some(tb) = self.str_or_bin(tm)? else {
                    return Err(self.wrong(tm, "the type JSON (bin or str) of a dynamic value"));
                };
                let t = Type::from_json(tb).map_err(|e| {
                    self.err(format!(
                        "the type of a dynamic value is invalid: {}",
                        e.message
                    ))
                })?;
                let v = self.value(&t, depth + 1)?;
                Ok(Value::Typed(t, Box::new(v)))
            }
            Type::List(t) | Type::Set(t) => {
                let Some(n) = self.array_len(m)? else {
                    return Err(self.wrong(
                        m,
                        if matches!(ty, Type::List(_)) {
                            "a list"
                        } else {
                            "a set"
                        },
                    ));
                };
                let set = matches!(ty, Type::Set(_));
                let mut items = Vec::with_capacity(n.min(MAX_PREALLOC));
                for i in 0..n {
                    if set {
                        self.walk.push_set(i);
                    } else {
                        self.walk.push(PathStep::Index(i as i64));
                    }
                    items.push(self.value(t, depth + 1)?);
                    self.walk.pop();
                }
                Ok(if set {
                    Value::Set(items)
                } else {
                    Value::List(items)
                })
            }
            Type::Tuple(ts) => {
                let Some(n) = self.array_len(m)? else {
                    return Err(self.wrong(m, "a tuple"));
                };
                if n != ts.len() {
                    return Err(self.err(format!(
                        "a tuple of {} elements is required, found {n}",
                        ts.len()
                    )));
                }
                let mut items = Vec::with_capacity(n);
                for (i, t) in ts.iter().enumerate() {
                    self.walk.push(PathStep::Index(i as i64));
                    items.push(self.value(t, depth + 1)?);
                    self.walk.pop();
                }
                Ok(Value::List(items))
            }
            Type::Map(t) => {
                let Some(n) = self.map_len(m)? else {
                    return Err(self.wrong(m, "a map"));
                };
                let mut out = BTreeMap::new();
                for _ in 0..n {
                    let k = self.key()?;
                    if out.contains_key(&k) {
                        return Err(self.err(format!("the map key {k:?} appears twice")));
                    }
                    self.walk.push(PathStep::Key(k.clone()));
                    let v = self.value(t, depth + 1)?;
                    self.walk.pop();
                    out.insert(k, v);
                }
                Ok(Value::Map(out))
            }
            Type::Object(attrs) => {
                let Some(n) = self.map_len(m)? else {
                    return Err(self.wrong(m, "an object"));
                };
                let mut out = BTreeMap::new();
                for _ in 0..n {
                    let k = self.key()?;
                    let Some(t) = attrs.get(&k) else {
                        return Err(self.err(format!(
                            "unsupported attribute {k:?} (the object type has {})",
                            list_names(attrs)
                        )));
                    };
                    if out.contains_key(&k) {
                        return Err(self.err(format!("the attribute {k:?} appears twice")));
                    }
                    self.walk.push(PathStep::Attr(k.clone()));
                    let v = self.value(t, depth + 1)?;
                    self.walk.pop();
                    out.insert(k, v);
                }
                if let Some(missing) = attrs.keys().find(|k| !out.contains_key(*k)) {
                    return Err(self.err(format!(
                        "an object with {} attributes is required; {missing:?} is missing",
                        attrs.len()
                    )));
                }
                Ok(Value::Object(out))
            }
        }
    }

    fn key(&mut self) -> Result<String, ValueError> {
        let m = self.marker()?;
        match self.str_or_bin(m)? {
            Some(b) => self.utf8(b),
            None => Err(self.wrong(m, "a string key")),
        }
    }

    /// An unknown: any extension. Code 12 with a payload carries refinements.
    fn unknown(&mut self) -> Result<Value, ValueError> {
        let m = self.marker()?;
        let len = match m {
            Marker::FixExt1 => 1,
            Marker::FixExt2 => 2,
            Marker::FixExt4 => 4,
            Marker::FixExt8 => 8,
            Marker::FixExt16 => 16,
            Marker::Ext8 => usize::from(self.u8()?),
            Marker::Ext16 => usize::from(self.u16()?),
            _ => self.u32()? as usize,
        };
        let code = self.u8()? as i8;
        let payload = self.take(len)?;
        if code != REFINED_UNKNOWN_EXT || len <= 1 {
            return Ok(Value::unknown());
        }
        if len > MAX_REFINEMENT_BYTES {
            return Err(self.err(format!(
                "the refinements of an unknown value are longer than {MAX_REFINEMENT_BYTES} bytes"
            )));
        }
        let mut sub = Decoder {
            buf: payload,
            pos: 0,
            walk: self.walk.clone(),
        };
        let r = sub
            .refinements()
            .map_err(|e| self.err(format!("invalid refinements: {}", e.message)))?;
        Ok(Value::Unknown(r))
    }

    fn refinements(&mut self) -> Result<Refinements, ValueError> {
        let m = self.marker()?;
        let Some(n) = self.map_len(m)? else {
            return Err(self.wrong(m, "a map"));
        };
        let mut r = Refinements::default();
        for _ in 0..n {
            let km = self.marker()?;
            let key = match self.number(km)? {
                Some(Number::Int(k)) => k,
                _ => return Err(self.err("refinement keys must be integers")),
            };
            match key {
                REF_NULLNESS => {
                    r.nullable = Some(match self.marker()? {
                        Marker::True => true,
                        Marker::False => false,
                        other => return Err(self.wrong(other, "a bool")),
                    });
                }
                REF_STRING_PREFIX => {
                    let m = self.marker()?;
                    let Some(b) = self.str_or_bin(m)? else {
                        return Err(self.wrong(m, "a string"));
                    };
                    if b.len() > MAX_PREFIX_BYTES {
                        return Err(self.err("a refined string prefix is longer than 256 bytes"));
                    }
                    r.string_prefix = Some(self.utf8(b)?);
                }
                REF_NUMBER_LOWER | REF_NUMBER_UPPER => {
                    let m = self.marker()?;
                    if self.array_len(m)? != Some(2) {
                        return Err(self.err("a number bound must be a [number, bool] array"));
                    }
                    let nm = self.marker()?;
                    let Some(bound) = self.number(nm)? else {
                        return Err(self.wrong(nm, "a number"));
                    };
                    let inclusive = match self.marker()? {
                        Marker::True => true,
                        Marker::False => false,
                        other => return Err(self.wrong(other, "a bool")),
                    };
                    if key == REF_NUMBER_LOWER {
                        r.number_lower = Some((bound, inclusive));
                    } else {
                        r.number_upper = Some((bound, inclusive));
                    }
                }
                REF_LENGTH_MIN | REF_LENGTH_MAX => {
                    let m = self.marker()?;
                    let len = match self.number(m)? {
                        Some(Number::Int(n)) if n >= 0 => n as u64,
                        _ => return Err(self.err("a collection length must be an integer")),
                    };
                    if key == REF_LENGTH_MIN {
                        r.length_min = Some(len);
                    } else {
                        r.length_max = Some(len);
                    }
                }
                _ => self.skip(0)?,
            }
        }
        if self.pos != self.buf.len() {
            return Err(self.err("trailing bytes after the refinement map"));
        }
        Ok(r)
    }

    /// Skips one msgpack value of any kind (refinement keys this version does not know).
    fn skip(&mut self, depth: usize) -> Result<(), ValueError> {
        if depth > MAX_DEPTH {
            return Err(self.err(format!("the value nests deeper than {MAX_DEPTH} levels")));
        }
        let m = self.marker()?;
        if self.str_or_bin(m)?.is_some() || self.number(m)?.is_some() {
            return Ok(());
        }
        if let Some(n) = self.array_len(m)? {
            for _ in 0..n {
                self.skip(depth + 1)?;
            }
            return Ok(());
        }
        if let Some(n) = self.map_len(m)? {
            for _ in 0..n * 2 {
                self.skip(depth + 1)?;
            }
            return Ok(());
        }
        if is_ext(m) {
            self.pos -= 1;
            return self.unknown().map(|_| ());
        }
        match m {
            Marker::Null | Marker::True | Marker::False => Ok(()),
            _ => Err(self.err("invalid msgpack marker 0xc1")),
        }
    }
}

fn list_names(attrs: &BTreeMap<String, Type>) -> String {
    if attrs.is_empty() {
        return "no attributes".into();
    }
    let names: Vec<&str> = attrs.keys().map(String::as_str).collect();
    format!("attributes {}", names.join(", "))
}

// ---------------------------------------------------------------------------------------------
// Encoding
// ---------------------------------------------------------------------------------------------

struct Encoder {
    out: Vec<u8>,
    walk: Walk,
}

/// Writing into a Vec cannot fail; this keeps the `rmp` calls free of unwraps.
fn ok<T, E>(_: Result<T, E>) {}

impl Encoder {
    fn mismatch(&self, v: &Value, ty: &Type) -> ValueError {
        self.walk.err(format!(
            "{} cannot be written as {}",
            super::value_kind(v),
            ty.friendly_name()
        ))
    }

    fn value(&mut self, v: &Value, ty: &Type, depth: usize) -> Result<(), ValueError> {
        if depth > MAX_DEPTH {
            return Err(self
                .walk
                .err(format!("the value nests deeper than {MAX_DEPTH} levels")));
        }
        match (v, ty) {
            (Value::Null, _) => {
                ok(rmp::encode::write_nil(&mut self.out));
                Ok(())
            }
            (Value::Unknown(r), _) => {
                self.unknown(r, ty);
                Ok(())
            }
            (Value::Typed(t, inner), Type::Dynamic) => self.dynamic(t, inner, depth),
            (_, Type::Dynamic) => {
                let t = infer_type(v).map_err(|m| self.walk.err(m))?;
                self.dynamic(&t, v, depth)
            }
            (Value::Typed(t, inner), _) => {
                if t == ty {
                    self.value(inner, ty, depth)
                } else {
                    Err(self.walk.err(format!(
                        "a value of type {} cannot be written as {}",
                        t.to_json(),
                        ty.to_json()
                    )))
                }
            }
            (Value::String(s), Type::String) => {
                ok(rmp::encode::write_str(&mut self.out, s));
                Ok(())
            }
            (Value::Number(n), Type::Number) => self.number(n),
            (Value::Bool(b), Type::Bool) => {
                ok(rmp::encode::write_bool(&mut self.out, *b));
                Ok(())
            }
            (Value::List(items), Type::List(t)) | (Value::Set(items), Type::Set(t)) => {
                self.array_len(items.len())?;
                let set = matches!(ty, Type::Set(_));
                for (i, x) in items.iter().enumerate() {
                    if set {
                        self.walk.push_set(i);
                    } else {
                        self.walk.push(PathStep::Index(i as i64));
                    }
                    self.value(x, t, depth + 1)?;
                    self.walk.pop();
                }
                Ok(())
            }
            (Value::List(items), Type::Tuple(ts)) => {
                if items.len() != ts.len() {
                    return Err(self.walk.err(format!(
                        "a tuple of {} elements is required, found {}",
                        ts.len(),
                        items.len()
                    )));
                }
                self.array_len(items.len())?;
                for (i, (x, t)) in items.iter().zip(ts).enumerate() {
                    self.walk.push(PathStep::Index(i as i64));
                    self.value(x, t, depth + 1)?;
                    self.walk.pop();
                }
                Ok(())
            }
            (Value::Map(m), Type::Map(t)) => {
                self.map_len(m.len())?;
                for (k, x) in m {
                    ok(rmp::encode::write_str(&mut self.out, k));
                    self.walk.push(PathStep::Key(k.clone()));
                    self.value(x, t, depth + 1)?;
                    self.walk.pop();
                }
                Ok(())
            }
            (Value::Object(m) | Value::Map(m), Type::Object(attrs)) => {
                if let Some(extra) = m.keys().find(|k| !attrs.contains_key(*k)) {
                    return Err(self.walk.err(format!(
                        "attribute {extra:?} is not in the object type ({})",
                        list_names(attrs)
                    )));
                }
                if let Some(missing) = attrs.keys().find(|k| !m.contains_key(*k)) {
                    return Err(self.walk.err(format!(
                        "attribute {missing:?} is missing (every attribute must be present, \
                         null if need be)"
                    )));
                }
                self.map_len(attrs.len())?;
                // BTreeMap iteration is sorted: the order Terraform writes.
                for (k, t) in attrs {
                    ok(rmp::encode::write_str(&mut self.out, k));
                    self.walk.push(PathStep::Attr(k.clone()));
                    let x = m.get(k).unwrap_or(&Value::Null);
                    self.value(x, t, depth + 1)?;
                    self.walk.pop();
                }
                Ok(())
            }
            _ => Err(self.mismatch(v, ty)),
        }
    }

    fn array_len(&mut self, n: usize) -> Result<(), ValueError> {
        let n = u32::try_from(n).map_err(|_| self.walk.err("too many elements for msgpack"))?;
        ok(rmp::encode::write_array_len(&mut self.out, n));
        Ok(())
    }

    fn map_len(&mut self, n: usize) -> Result<(), ValueError> {
        let n = u32::try_from(n).map_err(|_| self.walk.err("too many entries for msgpack"))?;
        ok(rmp::encode::write_map_len(&mut self.out, n));
        Ok(())
    }

    fn dynamic(&mut self, t: &Type, inner: &Value, depth: usize) -> Result<(), ValueError> {
        if matches!(t, Type::Dynamic) {
            return Err(self
                .walk
                .err("a value in a dynamic slot needs a concrete type, not dynamic"));
        }
        self.array_len(2)?;
        ok(rmp::encode::write_bin(
            &mut self.out,
            t.to_json().as_bytes(),
        ));
        self.value(inner, t, depth + 1)
    }

    fn number(&mut self, n: &Number) -> Result<(), ValueError> {
        match n.canonical().as_ref() {
            Number::Int(i) => ok(rmp::encode::write_sint(&mut self.out, *i)),
            Number::Float(f) if f.is_nan() => {
                return Err(self.walk.err("NaN is not a number Terraform can represent"))
            }
            Number::Float(f) => ok(rmp::encode::write_f64(&mut self.out, *f)),
            Number::Decimal(s) => {
                // Validate hand-built decimals: Terraform would reject non-numeric text.
                if Number::parse(s).is_err() {
                    return Err(self.walk.err(format!("{s:?} is not a number")));
                }
                ok(rmp::encode::write_str(&mut self.out, s))
            }
        }
        Ok(())
    }

    fn unknown(&mut self, r: &Refinements, ty: &Type) {
        if r.is_empty() || matches!(ty, Type::Dynamic) {
            self.out.extend_from_slice(&[0xd4, 0, 0]);
            return;
        }
        // Each refinement as (key, encoded value), only those that say something and that
        // apply to the type (go-cty refuses e.g. a length bound on a string), as go-cty does.
        let is_string = matches!(ty, Type::String);
        let is_number = matches!(ty, Type::Number);
        let is_collection = matches!(ty, Type::List(_) | Type::Set(_) | Type::Map(_));
        let mut entries: Vec<(i64, Vec<u8>)> = Vec::new();
        if r.nullable == Some(false) {
            let mut b = Vec::new();
            ok(rmp::encode::write_bool(&mut b, false));
            entries.push((REF_NULLNESS, b));
        }
        if let Some(prefix) = r
            .string_prefix
            .as_deref()
            .filter(|s| is_string && !s.is_empty())
        {
            let mut end = prefix.len().min(MAX_PREFIX_BYTES);
            while !prefix.is_char_boundary(end) {
                end -= 1;
            }
            let mut b = Vec::new();
            ok(rmp::encode::write_str(&mut b, &prefix[..end]));
            entries.push((REF_STRING_PREFIX, b));
        }
        for (key, bound) in [
            (REF_NUMBER_LOWER, &r.number_lower),
            (REF_NUMBER_UPPER, &r.number_upper),
        ] {
            if let Some((n, inclusive)) = bound.as_ref().filter(|_| is_number) {
                if n.is_nan() {
                    continue;
                }
                let mut b = Vec::new();
                ok(rmp::encode::write_array_len(&mut b, 2));
                write_number(&mut b, n);
                ok(rmp::encode::write_bool(&mut b, *inclusive));
                entries.push((key, b));
            }
        }
        for (key, len) in [
            (REF_LENGTH_MIN, r.length_min.filter(|&n| n > 0)),
            (REF_LENGTH_MAX, r.length_max),
        ] {
            if let Some(n) = len.filter(|_| is_collection) {
                let mut b = Vec::new();
                ok(rmp::encode::write_uint(&mut b, n));
                entries.push((key, b));
            }
        }
        if entries.is_empty() {
            self.out.extend_from_slice(&[0xd4, 0, 0]);
            return;
        }
        let mut p = Vec::new();
        ok(rmp::encode::write_map_len(&mut p, entries.len() as u32));
        for (k, b) in &entries {
            ok(rmp::encode::write_sint(&mut p, *k));
            p.extend_from_slice(b);
        }
        ok(rmp::encode::write_ext_meta(
            &mut self.out,
            p.len() as u32,
            REFINED_UNKNOWN_EXT,
        ));
        self.out.extend_from_slice(&p);
    }
}

/// A (canonical, non-NaN) number in Terraform's form, for refinement bounds.
fn write_number(p: &mut Vec<u8>, n: &Number) {
    match n.canonical().as_ref() {
        Number::Int(i) => ok(rmp::encode::write_sint(p, *i)),
        Number::Float(f) => ok(rmp::encode::write_f64(p, *f)),
        Number::Decimal(s) => ok(rmp::encode::write_str(p, s)),
    }
}
