//! Tests of the msgpack and JSON codecs: golden bytes in the form Terraform writes (worked out
//! from go-cty's encoder and Terraform's value encodings), malformed input, and property tests
//! (random types and values, unknowns anywhere, nesting) for round trips.

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::*;

fn obj(entries: &[(&str, Value)]) -> Value {
    Value::Object(
        entries
            .iter()
            .map(|(k, v)| ((*k).to_string(), v.clone()))
            .collect(),
    )
}

fn oty(entries: &[(&str, Type)]) -> Type {
    Type::Object(
        entries
            .iter()
            .map(|(k, t)| ((*k).to_string(), t.clone()))
            .collect(),
    )
}

fn list(t: Type) -> Type {
    Type::List(Box::new(t))
}

fn hex(b: &[u8]) -> String {
    b.iter()
        .map(|x| format!("{x:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn enc(v: &Value, t: &Type) -> String {
    hex(&encode_msgpack(v, t).unwrap_or_else(|e| panic!("encode {v:?}: {e}")))
}

// ---------------------------------------------------------------------------------------------
// Golden bytes
// ---------------------------------------------------------------------------------------------

#[test]
fn golden_primitives() {
    assert_eq!(enc(&Value::Null, &Type::String), "c0");
    assert_eq!(enc(&"x".into(), &Type::String), "a1 78");
    assert_eq!(enc(&true.into(), &Type::Bool), "c3");
    assert_eq!(enc(&false.into(), &Type::Bool), "c2");
    // Compact ints, as Terraform's encoder writes them.
    assert_eq!(enc(&Value::from(1), &Type::Number), "01");
    assert_eq!(enc(&Value::from(-1), &Type::Number), "ff");
    assert_eq!(enc(&Value::from(200), &Type::Number), "cc c8");
    assert_eq!(enc(&Value::from(-200), &Type::Number), "d1 ff 38");
    assert_eq!(enc(&Value::from(70000), &Type::Number), "ce 00 01 11 70");
    // An exact non-integer float64.
    assert_eq!(
        enc(&Value::Number(Number::Float(1.5)), &Type::Number),
        "cb 3f f8 00 00 00 00 00 00"
    );
    // An integral float is written as an int.
    assert_eq!(enc(&Value::Number(Number::Float(3.0)), &Type::Number), "03");
    // 0.1 is not an exact float64: go-cty writes the decimal string.
    assert_eq!(
        enc(&Value::Number(Number::Decimal("0.1".into())), &Type::Number),
        "a3 30 2e 31"
    );
    assert_eq!(
        enc(&Value::Number(Number::Float(f64::INFINITY)), &Type::Number),
        "cb 7f f0 00 00 00 00 00 00"
    );
}

#[test]
fn golden_object_and_collections() {
    let t = oty(&[("a", Type::String)]);
    assert_eq!(enc(&obj(&[("a", "x".into())]), &t), "81 a1 61 a1 78");
    // Attributes sorted, nulls written.
    let t = oty(&[("b", Type::Number), ("a", Type::String)]);
    assert_eq!(
        enc(&obj(&[("b", Value::from(1)), ("a", Value::Null)]), &t),
        "82 a1 61 c0 a1 62 01"
    );
    assert_eq!(
        enc(
            &Value::List(vec!["a".into(), "b".into()]),
            &list(Type::String)
        ),
        "92 a1 61 a1 62"
    );
    assert_eq!(
        enc(
            &Value::Map([("k".to_string(), Value::from(true))].into()),
            &Type::Map(Box::new(Type::Bool))
        ),
        "81 a1 6b c3"
    );
    assert_eq!(
        enc(
            &Value::List(vec!["a".into(), Value::from(1)]),
            &Type::Tuple(vec![Type::String, Type::Number])
        ),
        "92 a1 61 01"
    );
}

#[test]
fn golden_unknowns() {
    assert_eq!(enc(&Value::unknown(), &Type::String), "d4 00 00");
    // Refined "not null": ext8, length 3, code 12, map {1: false}.
    let r = Value::Unknown(Refinements {
        nullable: Some(false),
        ..Default::default()
    });
    assert_eq!(enc(&r, &Type::String), "c7 03 0c 81 01 c2");
    // An empty refinement set is never written as ext 12.
    let r = Value::Unknown(Refinements {
        nullable: Some(true),
        string_prefix: Some(String::new()),
        length_min: Some(0),
        ..Default::default()
    });
    assert_eq!(enc(&r, &Type::String), "d4 00 00");
    // Unknowns of dynamic type are always plain.
    let r = Value::Unknown(Refinements {
        nullable: Some(false),
        ..Default::default()
    });
    assert_eq!(enc(&r, &Type::Dynamic), "d4 00 00");
    // Decoding: Terraform's refined bytes, plus any other extension as unknown.
    let v = decode_msgpack(&[0xc7, 0x03, 0x0c, 0x81, 0x01, 0xc2], &Type::String).expect("ext12");
    assert_eq!(
        v,
        Value::Unknown(Refinements {
            nullable: Some(false),
            ..Default::default()
        })
    );
    for bytes in [
        &[0xd4, 0x00, 0x00][..],
        &[0xd4, 0x05, 0x01],
        &[0xd5, 0x00, 0x00, 0x00],
        &[0xc7, 0x00, 0x0c],
    ] {
        assert_eq!(
            decode_msgpack(bytes, &list(Type::String)).ok(),
            Some(Value::unknown()),
            "{}",
            hex(bytes)
        );
    }
    // A prefix, a number range and a length, with an unknown key (9) ignored.
    let mut p = Vec::new();
    rmp::encode::write_map_len(&mut p, 4).ok();
    rmp::encode::write_sint(&mut p, 2).ok();
    rmp::encode::write_str(&mut p, "ab").ok();
    rmp::encode::write_sint(&mut p, 3).ok();
    rmp::encode::write_array_len(&mut p, 2).ok();
    rmp::encode::write_sint(&mut p, 0).ok();
    rmp::encode::write_bool(&mut p, true).ok();
    rmp::encode::write_sint(&mut p, 5).ok();
    rmp::encode::write_sint(&mut p, 2).ok();
    rmp::encode::write_sint(&mut p, 9).ok();
    rmp::encode::write_array_len(&mut p, 1).ok();
    rmp::encode::write_nil(&mut p).ok();
    let mut bytes = Vec::new();
    rmp::encode::write_ext_meta(&mut bytes, p.len() as u32, 12).ok();
    bytes.extend_from_slice(&p);
    let v = decode_msgpack(&bytes, &Type::String).expect("refined");
    let Value::Unknown(r) = &v else {
        panic!("{v:?}")
    };
    assert_eq!(r.string_prefix.as_deref(), Some("ab"));
    assert_eq!(r.number_lower, Some((Number::Int(0), true)));
    assert_eq!(r.length_min, Some(2));
    // Re-encoding keeps the refinements that apply to the type (not the unknown key, and
    // for a string not the number or length bounds, which Terraform would refuse).
    let again = encode_msgpack(&v, &Type::String).expect("enc");
    assert_eq!(hex(&again), "c7 05 0c 81 02 a2 61 62");
    let again = encode_msgpack(&v, &list(Type::String)).expect("enc");
    assert_eq!(hex(&again), "c7 03 0c 81 05 02");
    let again = encode_msgpack(&v, &Type::Number).expect("enc");
    assert_eq!(hex(&again), "c7 05 0c 81 03 92 00 c3");
}

#[test]
fn golden_dynamic() {
    // [bin("string"), "x"]: 92, bin8 len 8 `"string"`, a1 78.
    let v = Value::Typed(Type::String, Box::new("x".into()));
    assert_eq!(
        enc(&v, &Type::Dynamic),
        "92 c4 08 22 73 74 72 69 6e 67 22 a1 78"
    );
    // A plain string in a dynamic slot gets its type inferred.
    assert_eq!(
        enc(&"x".into(), &Type::Dynamic),
        "92 c4 08 22 73 74 72 69 6e 67 22 a1 78"
    );
    assert_eq!(enc(&Value::Null, &Type::Dynamic), "c0");
    // Decoding accepts the type as str too.
    let bytes = [
        0x92, 0xa8, b'"', b's', b't', b'r', b'i', b'n', b'g', b'"', 0xa1, b'x',
    ];
    assert_eq!(decode_msgpack(&bytes, &Type::Dynamic).ok(), Some(v));
    // A dynamic attribute inside an object, holding a list of numbers.
    let t = oty(&[("d", Type::Dynamic)]);
    let inner = Value::Typed(
        list(Type::Number),
        Box::new(Value::List(vec![Value::from(7)])),
    );
    let bytes = encode_msgpack(&obj(&[("d", inner.clone())]), &t).expect("enc");
    let ty_json = br#"["list","number"]"#;
    let mut want = vec![0x81, 0xa1, b'd', 0x92, 0xc4, ty_json.len() as u8];
    want.extend_from_slice(ty_json);
    want.extend_from_slice(&[0x91, 0x07]);
    assert_eq!(hex(&bytes), hex(&want));
    assert_eq!(decode_msgpack(&bytes, &t).ok(), Some(obj(&[("d", inner)])));
}

#[test]
fn decodes_every_number_form() {
    let cases: Vec<(Vec<u8>, Number)> = vec![
        (vec![0x05], Number::Int(5)),
        (vec![0xe0], Number::Int(-32)),
        (vec![0xcc, 0xff], Number::Int(255)),
        (vec![0xcd, 0x01, 0x00], Number::Int(256)),
        (vec![0xd0, 0x80], Number::Int(-128)),
        (vec![0xd1, 0x80, 0x00], Number::Int(-32768)),
        (vec![0xd2, 0xff, 0xff, 0xff, 0xff], Number::Int(-1)),
        (
            vec![0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
            Number::Decimal("18446744073709551615".into()),
        ),
        (vec![0xca, 0x3f, 0xc0, 0x00, 0x00], Number::Float(1.5)),
        (
            vec![0xcb, 0x40, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00],
            Number::Float(2.5),
        ),
        (
            vec![0xa4, b'1', b'e', b'2', b'0'],
            Number::parse("1e20").expect("n"),
        ),
    ];
    for (bytes, want) in cases {
        let got = decode_msgpack(&bytes, &Type::Number);
        assert_eq!(got.ok(), Some(Value::Number(want)), "{}", hex(&bytes));
    }
    // Strings may arrive as bin.
    assert_eq!(
        decode_msgpack(&[0xc4, 0x01, b'z'], &Type::String).ok(),
        Some("z".into())
    );
}

#[test]
fn type_json() {
    let t = oty(&[
        ("s", Type::String),
        ("l", list(Type::Number)),
        ("m", Type::Map(Box::new(Type::Bool))),
        ("set", Type::Set(Box::new(Type::Dynamic))),
        ("t", Type::Tuple(vec![Type::String, Type::Number])),
    ]);
    let json = t.to_json();
    assert_eq!(
        json,
        r#"["object",{"l":["list","number"],"m":["map","bool"],"s":"string","set":["set","dynamic"],"t":["tuple",["string","number"]]}]"#
    );
    assert_eq!(Type::from_json(json.as_bytes()).ok(), Some(t));
    assert_eq!(Type::String.to_json(), "\"string\"");
    // Optional-attribute markers are tolerated.
    let opt = br#"["object",{"a":"string","b":"number"},["b"]]"#;
    assert_eq!(
        Type::from_json(opt).ok(),
        Some(oty(&[("a", Type::String), ("b", Type::Number)]))
    );
    for bad in [
        &br#""str""#[..],
        br#"["list"]"#,
        br#"["list","string","x"]"#,
        br#"["object",["a"]]"#,
        br#"["object",{},"x"]"#,
        br#"["tuple","string"]"#,
        br#"42"#,
        br#"["list","string""#,
    ] {
        assert!(
            Type::from_json(bad).is_err(),
            "{}",
            String::from_utf8_lossy(bad)
        );
    }
    let deep = format!("{}\"string\"{}", "[\"list\",".repeat(200), "]".repeat(200));
    assert!(Type::from_json(deep.as_bytes()).is_err());
}

#[test]
fn json_values_as_in_state_files() {
    let t = oty(&[
        ("id", Type::String),
        ("n", Type::Number),
        ("big", Type::Number),
        ("tags", Type::Map(Box::new(Type::String))),
        ("rules", list(oty(&[("port", Type::Number)]))),
        ("d", Type::Dynamic),
        ("gone", Type::Bool),
    ]);
    let json = br#"{"id":"x","n":0.1,"big":123456789012345678901234567890,
        "tags":{"env":"prod"},"rules":[{"port":22}],
        "d":{"value":["a",1],"type":["tuple",["string","number"]]}}"#;
    let v = decode_json(json, &t).expect("decode");
    assert_eq!(
        v.attr("n"),
        Some(&Value::Number(Number::Decimal("0.1".into())))
    );
    assert_eq!(
        v.attr("big"),
        Some(&Value::Number(Number::Decimal(
            "123456789012345678901234567890".into()
        )))
    );
    assert_eq!(v.attr("gone"), Some(&Value::Null), "missing becomes null");
    assert_eq!(
        v.attr("d"),
        Some(&Value::Typed(
            Type::Tuple(vec![Type::String, Type::Number]),
            Box::new(Value::List(vec!["a".into(), Value::from(1)]))
        ))
    );
    let out = String::from_utf8(encode_json(&v, &t).expect("encode")).expect("utf8");
    assert_eq!(
        out,
        r#"{"big":123456789012345678901234567890,"d":{"value":["a",1],"type":["tuple",["string","number"]]},"gone":null,"id":"x","n":0.1,"rules":[{"port":22}],"tags":{"env":"prod"}}"#
    );
    // A typed null in a dynamic slot keeps its type (found by the property test).
    let st = Type::Set(Box::new(Type::Dynamic));
    let typed_null = Value::Set(vec![Value::Typed(Type::String, Box::new(Value::Null))]);
    let bytes = encode_json(&typed_null, &st).expect("encode");
    assert_eq!(bytes, br#"[{"value":null,"type":"string"}]"#);
    assert_eq!(decode_json(&bytes, &st).ok(), Some(typed_null));
    // Extra attributes: refused strictly, dropped leniently.
    let extra = br#"{"id":"x","old_attr":{"deep":[1,2]}}"#;
    let e = decode_json(extra, &t).expect_err("strict");
    assert!(e.to_string().contains("old_attr"), "{e}");
    let v = decode_json_lenient(extra, &t).expect("lenient");
    assert_eq!(v.attr("id").and_then(Value::as_str), Some("x"));
    // go-cty's conversions of primitives in JSON.
    let t = oty(&[("s", Type::String), ("n", Type::Number), ("b", Type::Bool)]);
    let v = decode_json(br#"{"s":12.50,"n":"7","b":"true"}"#, &t).expect("conversions");
    assert_eq!(v.attr("s").and_then(Value::as_str), Some("12.50"));
    assert_eq!(v.attr("n"), Some(&Value::from(7)));
    assert_eq!(v.attr("b"), Some(&Value::Bool(true)));
    // Unknowns and infinities have no JSON form.
    assert!(encode_json(&Value::unknown(), &Type::String).is_err());
    assert!(encode_json(&Value::Number(Number::Float(f64::INFINITY)), &Type::Number).is_err());
}

// ---------------------------------------------------------------------------------------------
// Malformed input
// ---------------------------------------------------------------------------------------------

#[test]
fn malformed_msgpack_is_an_error_with_a_path() {
    let t = oty(&[("a", Type::String), ("l", list(Type::Number))]);
    let cases: Vec<(&[u8], &str)> = vec![
        (&[], "truncated"),
        (&[0x82, 0xa1, b'a'], "claims 4 elements"),
        (&[0x81, 0xa1, b'a'], "truncated"),
        (
            &[0x82, 0xa1, b'a', 0xa1, b'x', 0xa1, b'l', 0x91, 0xa1, b'z'],
            "\"z\" is not a number",
        ),
        (
            &[0x82, 0xa1, b'a', 0xa1, b'x', 0xa1, b'l', 0x91, 0x90],
            "a number is required, found an array",
        ),
        (&[0x81, 0xa1, b'a', 0xa1, b'x'], "\"l\" is missing"),
        (&[0x81, 0xa1, b'q', 0xc0], "unsupported attribute \"q\""),
        (&[0x92, 0xc0, 0xc0], "an object is required, found an array"),
        (&[0xc1], "reserved"),
        // 4 billion elements claimed in 5 bytes.
        (
            &[
                0x82, 0xa1, b'a', 0xc0, 0xa1, b'l', 0xdd, 0xff, 0xff, 0xff, 0xff,
            ],
            "claims",
        ),
        (&[0xdf, 0xff, 0xff, 0xff, 0xff], "claims"),
        // A 4 GB string claimed.
        (
            &[0x81, 0xa1, b'a', 0xdb, 0xff, 0xff, 0xff, 0xff],
            "truncated",
        ),
        (&[0x82, 0xa1, b'a', 0xa1, 0xff, 0xa1, b'l', 0x90], "UTF-8"),
        (&[0x82, 0xa1, b'a', 0xc0, 0xa1, b'a', 0xc0], "twice"),
        (
            &[0x82, 0xa1, b'a', 0xc0, 0xa1, b'l', 0x90, 0xc0],
            "trailing",
        ),
    ];
    for (bytes, want) in cases {
        match decode_msgpack(bytes, &t) {
            Ok(v) => panic!("{} decoded as {v:?}", hex(bytes)),
            Err(e) => assert!(e.to_string().contains(want), "{}: {e}", hex(bytes)),
        }
    }
    let e = decode_msgpack(
        &[0x82, 0xa1, b'a', 0xa1, b'x', 0xa1, b'l', 0x92, 0x01, 0xc3],
        &t,
    )
    .expect_err("bool in a number list");
    assert_eq!(e.path, vec![PathStep::Attr("l".into()), PathStep::Index(1)]);
    // NaN is not a cty number.
    assert!(decode_msgpack(&[0xcb, 0x7f, 0xf8, 0, 0, 0, 0, 0, 0], &Type::Number).is_err());
    // Oversized refinements.
    let mut big = vec![0xc9, 0x00, 0x00, 0x08, 0x00, 0x0c];
    big.extend(std::iter::repeat_n(0u8, 0x800));
    assert!(decode_msgpack(&big, &Type::String).is_err());
}

#[test]
fn deep_nesting_is_refused_without_overflow() {
    // A type 500 lists deep, and input 100 000 arrays deep: errors, not a stack overflow.
    let mut t = Type::String;
    for _ in 0..500 {
        t = list(t);
    }
    let mut bytes = vec![0x91; 100_000];
    bytes.push(0xa0);
    let e = decode_msgpack(&bytes, &t).expect_err("too deep");
    assert!(e.to_string().contains("deeper"), "{e}");
    let json = format!("{}\"x\"{}", "[".repeat(100_000), "]".repeat(100_000));
    assert!(decode_json(json.as_bytes(), &t).is_err());
    // A dynamic type whose JSON nests too deeply.
    let ty_json = format!("{}\"string\"{}", "[\"list\",".repeat(100), "]".repeat(100));
    let mut b = vec![0x92, 0xc5];
    b.extend_from_slice(&(ty_json.len() as u16).to_be_bytes());
    b.extend_from_slice(ty_json.as_bytes());
    b.push(0xc0);
    assert!(decode_msgpack(&b, &Type::Dynamic).is_err());
    // Hostile JSON numbers.
    assert!(decode_json(b"1e999999999", &Type::Number).is_err());
}

#[test]
fn malformed_json_is_an_error_with_a_path() {
    let t = oty(&[("a", Type::String), ("l", list(Type::Number))]);
    let cases: Vec<(&[u8], &str)> = vec![
        (b"", "invalid JSON"),
        (br#"{"a":"x""#, "invalid JSON"),
        (br#"{"a":["x"]}"#, "a string is required, found an array"),
        (br#"{"l":[1,"two"]}"#, "not a number"),
        (br#"{"l":{"x":1}}"#, "found an object"),
        (br#"[1]"#, "found an array"),
        (br#"{"a":"x"} x"#, "invalid JSON"),
        (br#"{"a":"x","a":"y"}"#, "twice"),
        (b"\xff", "UTF-8"),
    ];
    for (bytes, want) in cases {
        match decode_json(bytes, &t) {
            Ok(v) => panic!("{:?} decoded as {v:?}", String::from_utf8_lossy(bytes)),
            Err(e) => assert!(
                e.to_string().contains(want),
                "{:?}: {e}",
                String::from_utf8_lossy(bytes)
            ),
        }
    }
    let e = decode_json(br#"{"l":[1,2,true]}"#, &t).expect_err("bool");
    assert_eq!(e.path, vec![PathStep::Attr("l".into()), PathStep::Index(2)]);
    let e = decode_json(br#"{"d":{"type":"number"}}"#, &oty(&[("d", Type::Dynamic)]))
        .expect_err("no value");
    assert_eq!(e.path, vec![PathStep::Attr("d".into())]);
}

// ---------------------------------------------------------------------------------------------
// Property tests
// ---------------------------------------------------------------------------------------------

fn arb_type() -> impl Strategy<Value = Type> {
    let leaf = prop_oneof![
        Just(Type::String),
        Just(Type::Number),
        Just(Type::Bool),
        Just(Type::Dynamic),
    ];
    leaf.prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            inner.clone().prop_map(|t| Type::List(Box::new(t))),
            inner.clone().prop_map(|t| Type::Set(Box::new(t))),
            inner.clone().prop_map(|t| Type::Map(Box::new(t))),
            prop::collection::btree_map("[a-z_]{1,6}", inner.clone(), 0..4).prop_map(Type::Object),
            prop::collection::vec(inner, 0..4).prop_map(Type::Tuple),
        ]
    })
}

/// A concrete (non-dynamic) type for a dynamic slot.
fn arb_concrete_type() -> impl Strategy<Value = Type> {
    let leaf = prop_oneof![Just(Type::String), Just(Type::Number), Just(Type::Bool)];
    leaf.prop_recursive(2, 8, 3, |inner| {
        prop_oneof![
            inner.clone().prop_map(|t| Type::List(Box::new(t))),
            prop::collection::btree_map("[a-z]{1,4}", inner, 0..3).prop_map(Type::Object),
        ]
    })
}

fn arb_number() -> impl Strategy<Value = Number> {
    prop_oneof![
        any::<i64>().prop_map(Number::Int),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Number::from),
        "-?[1-9][0-9]{0,30}(\\.[0-9]{0,20}[1-9])?"
            .prop_map(|s| Number::parse(&s).unwrap_or(Number::Int(0))),
        Just(Number::Float(f64::INFINITY)),
        Just(Number::Float(f64::NEG_INFINITY)),
    ]
}

fn arb_refinements() -> impl Strategy<Value = Refinements> {
    (
        prop::option::of(any::<bool>()),
        prop::option::of("[a-z]{0,5}"),
        prop::option::of((any::<i32>(), any::<bool>())),
        prop::option::of(0u64..10),
    )
        .prop_map(|(nullable, string_prefix, lower, length_max)| Refinements {
            nullable,
            string_prefix,
            number_lower: lower.map(|(n, inc)| (Number::Int(i64::from(n)), inc)),
            number_upper: None,
            length_min: None,
            length_max,
        })
}

/// The refinements as they come back from a msgpack round trip of an unknown of type `ty`:
/// only meaningful refinements that apply to the type are written (a `nullable: true` says
/// nothing), and unknowns of dynamic type are written plain.
fn normalised(r: &Refinements, ty: &Type) -> Refinements {
    if matches!(ty, Type::Dynamic) {
        return Refinements::default();
    }
    let collection = matches!(ty, Type::List(_) | Type::Set(_) | Type::Map(_));
    Refinements {
        nullable: (r.nullable == Some(false)).then_some(false),
        string_prefix: r
            .string_prefix
            .clone()
            .filter(|s| *ty == Type::String && !s.is_empty()),
        number_lower: r.number_lower.clone().filter(|_| *ty == Type::Number),
        number_upper: r.number_upper.clone().filter(|_| *ty == Type::Number),
        length_min: r.length_min.filter(|&n| collection && n > 0),
        length_max: r.length_max.filter(|_| collection),
    }
}

/// A value of type `ty`; `unknowns` allows unknowns anywhere (msgpack can carry them).
fn arb_value(ty: Type, unknowns: bool) -> BoxedStrategy<Value> {
    let special = if unknowns {
        prop_oneof![
            Just(Value::Null),
            Just(Value::unknown()),
            arb_refinements().prop_map(Value::Unknown),
        ]
        .boxed()
    } else {
        Just(Value::Null).boxed()
    };
    let known: BoxedStrategy<Value> = match ty {
        Type::String => ".{0,8}".prop_map(Value::String).boxed(),
        Type::Number => {
            if unknowns {
                arb_number().prop_map(Value::Number).boxed()
            } else {
                arb_number()
                    .prop_filter("JSON has no infinity", |n| !n.is_infinite())
                    .prop_map(Value::Number)
                    .boxed()
            }
        }
        Type::Bool => any::<bool>().prop_map(Value::Bool).boxed(),
        Type::Dynamic => arb_concrete_type()
            .prop_flat_map(move |t| {
                arb_value(t.clone(), unknowns)
                    .prop_map(move |v| Value::Typed(t.clone(), Box::new(v)))
            })
            .boxed(),
        Type::List(t) => prop::collection::vec(arb_value(*t, unknowns), 0..4)
            .prop_map(Value::List)
            .boxed(),
        Type::Set(t) => prop::collection::vec(arb_value(*t, unknowns), 0..4)
            .prop_map(Value::Set)
            .boxed(),
        Type::Map(t) => prop::collection::btree_map("[a-z]{0,4}", arb_value(*t, unknowns), 0..4)
            .prop_map(Value::Map)
            .boxed(),
        Type::Object(attrs) => {
            let parts: Vec<BoxedStrategy<(String, Value)>> = attrs
                .into_iter()
                .map(|(k, t)| {
                    arb_value(t, unknowns)
                        .prop_map(move |v| (k.clone(), v))
                        .boxed()
                })
                .collect();
            parts
                .prop_map(|kv| Value::Object(kv.into_iter().collect::<BTreeMap<_, _>>()))
                .boxed()
        }
        Type::Tuple(ts) => {
            let parts: Vec<BoxedStrategy<Value>> =
                ts.into_iter().map(|t| arb_value(t, unknowns)).collect();
            parts.prop_map(Value::List).boxed()
        }
    };
    prop_oneof![1 => special, 4 => known].boxed()
}

/// What a value of type `ty` looks like after a round trip: refinements normalised for
/// their type, numbers canonical.
fn canon(v: &Value, ty: &Type) -> Value {
    match (v, ty) {
        (Value::Unknown(r), _) => Value::Unknown(normalised(r, ty)),
        (Value::Number(n), _) => Value::Number(n.canonical().into_owned()),
        (Value::Typed(t, x), _) => Value::Typed(t.clone(), Box::new(canon(x, t))),
        (Value::List(xs), Type::List(t)) => Value::List(xs.iter().map(|x| canon(x, t)).collect()),
        (Value::Set(xs), Type::Set(t)) => Value::Set(xs.iter().map(|x| canon(x, t)).collect()),
        (Value::List(xs), Type::Tuple(ts)) => {
            Value::List(xs.iter().zip(ts).map(|(x, t)| canon(x, t)).collect())
        }
        (Value::Map(m), Type::Map(t)) => {
            Value::Map(m.iter().map(|(k, x)| (k.clone(), canon(x, t))).collect())
        }
        (Value::Object(m), Type::Object(ts)) => Value::Object(
            m.iter()
                .map(|(k, x)| (k.clone(), canon(x, &ts[k])))
                .collect(),
        ),
        _ => v.clone(),
    }
}

fn type_and_value(unknowns: bool) -> impl Strategy<Value = (Type, Value)> {
    arb_type().prop_flat_map(move |t| (Just(t.clone()), arb_value(t, unknowns)))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn msgpack_round_trip((ty, v) in type_and_value(true)) {
        let bytes = encode_msgpack(&v, &ty).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let back = decode_msgpack(&bytes, &ty).map_err(|e| TestCaseError::fail(format!("{e} in {}", hex(&bytes))))?;
        prop_assert_eq!(&back, &canon(&v, &ty));
        // Encoding is deterministic: the decoded value encodes to the same bytes.
        prop_assert_eq!(encode_msgpack(&back, &ty).ok(), Some(bytes));
    }

    #[test]
    fn json_round_trip((ty, v) in type_and_value(false)) {
        let bytes = encode_json(&v, &ty).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let back = decode_json(&bytes, &ty).map_err(|e| TestCaseError::fail(format!("{e} in {}", String::from_utf8_lossy(&bytes))))?;
        prop_assert_eq!(&back, &canon(&v, &ty));
        // And the same value survives msgpack: JSON state upgraded to the wire form.
        let mp = encode_msgpack(&back, &ty).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(decode_msgpack(&mp, &ty).ok(), Some(back));
    }

    #[test]
    fn type_json_round_trip(ty in arb_type()) {
        prop_assert_eq!(Type::from_json(ty.to_json().as_bytes()).ok(), Some(ty));
    }

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..64), ty in arb_type()) {
        let _ = decode_msgpack(&bytes, &ty);
        let _ = decode_json(&bytes, &ty);
        let _ = Type::from_json(&bytes);
    }

    #[test]
    fn corrupted_encodings_never_panic(
        (ty, v) in type_and_value(true),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
    ) {
        let mut bytes = encode_msgpack(&v, &ty).map_err(|e| TestCaseError::fail(e.to_string()))?;
        for (at, b) in flips {
            let i = at.index(bytes.len());
            bytes[i] = b;
        }
        // Either a value or an error; what matters is no panic and no huge allocation.
        let _ = decode_msgpack(&bytes, &ty);
        let mut json = encode_json(&v, &ty).unwrap_or_default();
        if !json.is_empty() {
            let i = json.len() / 2;
            json[i] ^= 0x20;
            let _ = decode_json(&json, &ty);
            let _ = decode_json_lenient(&json, &ty);
        }
    }

    #[test]
    fn truncations_are_errors((ty, v) in type_and_value(true)) {
        let bytes = encode_msgpack(&v, &ty).map_err(|e| TestCaseError::fail(e.to_string()))?;
        for cut in 0..bytes.len() {
            prop_assert!(decode_msgpack(&bytes[..cut], &ty).is_err(), "prefix {} decoded", hex(&bytes[..cut]));
        }
    }
}
