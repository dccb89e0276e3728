//! Value helpers: DynamicValues as Terraform encodes them (and as it never would), and the
//! diagnostics the cases read back.

use std::collections::BTreeMap;

use hostup_provider::plugin::proto::tfplugin5 as pb;
use hostup_provider::plugin::value::{encode_msgpack, Type, Value};

/// An object of type `ty` with every attribute null except `set`.
pub(crate) fn object(ty: &Type, set: &[(&str, Value)]) -> Value {
    let Type::Object(attrs) = ty else {
        panic!("not an object type: {ty:?}")
    };
    let mut m: BTreeMap<String, Value> = attrs.keys().map(|k| (k.clone(), Value::Null)).collect();
    for (k, v) in set {
        assert!(m.contains_key(*k), "no attribute {k} in {ty:?}");
        m.insert((*k).to_owned(), v.clone());
    }
    Value::Object(m)
}

/// `v` as msgpack of `ty`, as Terraform sends it.
pub(crate) fn dv(v: &Value, ty: &Type) -> Option<pb::DynamicValue> {
    Some(pb::DynamicValue {
        msgpack: encode_msgpack(v, ty).expect("test value fits its type"),
        json: Vec::new(),
    })
}

pub(crate) fn msgpack(bytes: Vec<u8>) -> Option<pb::DynamicValue> {
    Some(pb::DynamicValue {
        msgpack: bytes,
        json: Vec::new(),
    })
}

pub(crate) fn json(bytes: &[u8]) -> Option<pb::DynamicValue> {
    Some(pb::DynamicValue {
        msgpack: Vec::new(),
        json: bytes.to_vec(),
    })
}

pub(crate) fn null_dv() -> Option<pb::DynamicValue> {
    msgpack(vec![0xc0])
}

/// "SEVERITY summary: detail" of each diagnostic, for messages and the case table.
pub(crate) fn describe(d: &[pb::Diagnostic]) -> Vec<String> {
    d.iter()
        .map(|d| {
            let sev = match d.severity {
                1 => "ERROR",
                2 => "WARNING",
                _ => "INVALID",
            };
            format!("{sev} {}: {}", d.summary, d.detail)
        })
        .collect()
}

pub(crate) fn first_error(d: &[pb::Diagnostic]) -> Option<&pb::Diagnostic> {
    d.iter().find(|d| d.severity == 1)
}

/// Fails unless `d` holds an error diagnostic; returns its summary for the case table.
pub(crate) fn expect_error(case: &str, d: &[pb::Diagnostic]) -> String {
    match first_error(d) {
        Some(e) => {
            assert!(!e.summary.is_empty(), "{case}: an error without summary");
            e.summary.clone()
        }
        None => panic!(
            "{case}: expected an error diagnostic, got {:?}",
            describe(d)
        ),
    }
}

/// Every diagnostic has a severity Terraform maps (never INVALID) and a summary.
pub(crate) fn well_formed(case: &str, d: &[pb::Diagnostic]) {
    for x in d {
        assert!(
            x.severity == 1 || x.severity == 2,
            "{case}: diagnostic with severity {}: {:?}",
            x.severity,
            describe(d)
        );
        assert!(!x.summary.is_empty(), "{case}: empty summary");
    }
}

/// Prints one line of the case table (run with --nocapture to see it).
pub(crate) fn record(case: &str, answer: &str) {
    eprintln!("| {case} | {answer} |");
}

/// A deterministic pseudo-random byte string (no rand: the case must be reproducible).
pub(crate) fn noise(len: usize, mut seed: u64) -> Vec<u8> {
    (0..len)
        .map(|_| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) as u8
        })
        .collect()
}

/// Malformed DynamicValues: (name, value). `valid` is a correct encoding of the slot's type.
pub(crate) fn malformed(valid: &[u8]) -> Vec<(String, Option<pb::DynamicValue>)> {
    let mut deep_json = vec![b'['; 100_000];
    deep_json.extend(vec![b']'; 100_000]);
    let mut deep_msgpack = vec![0x91u8; 100_000];
    deep_msgpack.push(0xc0);
    let mut trailing = valid.to_vec();
    trailing.push(0x00);
    vec![
        ("msgpack: reserved byte 0xc1".into(), msgpack(vec![0xc1])),
        ("msgpack: 256 random bytes".into(), msgpack(noise(256, 7))),
        (
            "msgpack: valid object truncated to half".into(),
            msgpack(valid[..valid.len() / 2].to_vec()),
        ),
        (
            "msgpack: valid object plus a trailing byte".into(),
            msgpack(trailing),
        ),
        (
            "msgpack: a string at top level".into(),
            msgpack(vec![0xa3, b'a', b'b', b'c']),
        ),
        (
            "msgpack: an array at top level".into(),
            msgpack(vec![0x92, 0x01, 0x02]),
        ),
        ("msgpack: a number at top level".into(), msgpack(vec![0x2a])),
        (
            "msgpack: map claiming 2^32-1 entries".into(),
            msgpack(vec![0xdf, 0xff, 0xff, 0xff, 0xff]),
        ),
        (
            "msgpack: string claiming 4 GiB".into(),
            msgpack(vec![0xdb, 0xff, 0xff, 0xff, 0xff, b'x']),
        ),
        (
            "msgpack: object with an unsupported attribute".into(),
            msgpack(vec![0x81, 0xa4, b'n', b'o', b'p', b'e', 0x01]),
        ),
        (
            "msgpack: 100 000 nested arrays".into(),
            msgpack(deep_msgpack),
        ),
        ("JSON: not JSON".into(), json(b"{not json")),
        ("JSON: truncated".into(), json(br#"{"vps_id": "vps_"#)),
        ("JSON: an array at top level".into(), json(b"[1,2,3]")),
        ("JSON: a string at top level".into(), json(br#""abc""#)),
        (
            "JSON: object with an unsupported attribute".into(),
            json(br#"{"nope": 1}"#),
        ),
        (
            "JSON: invalid UTF-8".into(),
            json(b"{\"vps_id\": \"\xff\"}"),
        ),
        ("JSON: 100 000 nested arrays".into(), json(&deep_json)),
    ]
}
