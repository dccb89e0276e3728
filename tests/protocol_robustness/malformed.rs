//! Malformed DynamicValues, garbage raw JSON states and values of the wrong type.

use hostup_provider::plugin::proto::tfplugin5 as pb;
use hostup_provider::plugin::value::{decode_msgpack, encode_msgpack, Type, Value};

use crate::plugin_client::bounded;
use crate::under::{raw_json, Under};
use crate::values::{
    dv, expect_error, first_error, json, malformed, noise, null_dv, object, record, well_formed,
};
use crate::{BACKUP, DATA_SNAPSHOTS, VPS_APP};

/// Every RPC that takes a DynamicValue, with each malformed value in each of its slots.
#[tokio::test]
async fn malformed_dynamic_values_are_error_diagnostics() {
    // TF_LOG=trace so that the logging of bad input is exercised too.
    let mut u = Under::launch(&[("TF_LOG", "trace")]).await;
    let bt = u.rt(BACKUP);
    let st = u.dt(DATA_SNAPSHOTS);
    let pt = u.types.provider.clone();
    let backup_cfg = object(&bt, &[("vps_id", VPS_APP.into())]);
    let backup_valid = dv(&backup_cfg, &bt);
    let backup_bytes = encode_msgpack(&backup_cfg, &bt).expect("encode");
    let data_cfg = object(&st, &[("vps_id", VPS_APP.into())]);
    let data_bytes = encode_msgpack(&data_cfg, &st).expect("encode");
    let prov_cfg = object(&pt, &[("api_key", "k".into())]);
    let prov_bytes = encode_msgpack(&prov_cfg, &pt).expect("encode");
    let mut planned = backup_cfg.clone();
    if let Value::Object(m) = &mut planned {
        for k in ["id", "job_id", "status", "completed_at"] {
            m.insert(k.into(), Value::unknown());
        }
    }
    let planned_valid = dv(&planned, &bt);

    for (name, bad) in malformed(&backup_bytes) {
        let c = format!("ValidateResourceTypeConfig config = {name}");
        let d = u.validate_resource(BACKUP, bad.clone()).await.expect(&c);
        record(&c, &expect_error(&c, &d));
        u.plugin.assert_healthy(&c).await;

        for slot in ["prior_state", "proposed_new_state", "config"] {
            let c = format!("PlanResourceChange {slot} = {name}");
            let mut args = [null_dv(), backup_valid.clone(), backup_valid.clone()];
            let i = ["prior_state", "proposed_new_state", "config"]
                .iter()
                .position(|s| *s == slot)
                .unwrap_or(0);
            args[i] = bad.clone();
            let [a, b, cc] = args;
            let r = u.plan(BACKUP, a, b, cc).await.expect(&c);
            record(&c, &expect_error(&c, &r.diagnostics));
            assert!(
                r.planned_state.is_none(),
                "{c}: no plan comes back from bad input"
            );
            u.plugin.assert_healthy(&c).await;
        }

        for slot in ["prior_state", "planned_state", "config"] {
            let c = format!("ApplyResourceChange {slot} = {name}");
            let mut args = [null_dv(), planned_valid.clone(), backup_valid.clone()];
            let i = ["prior_state", "planned_state", "config"]
                .iter()
                .position(|s| *s == slot)
                .unwrap_or(0);
            args[i] = bad.clone();
            let [a, b, cc] = args;
            let prior_sent = a.clone();
            let r = u.apply(BACKUP, a, b, cc).await.expect(&c);
            record(&c, &expect_error(&c, &r.diagnostics));
            // Nothing was applied: the prior state comes back as it was sent.
            assert_eq!(r.new_state, prior_sent, "{c}: new_state is the prior state");
            u.plugin.assert_healthy(&c).await;
        }

        let c = format!("ReadResource current_state = {name}");
        let r = u.read(BACKUP, bad.clone()).await.expect(&c);
        record(&c, &expect_error(&c, &r.diagnostics));
        assert_eq!(r.new_state, bad, "{c}: new_state is the state as sent");
        u.plugin.assert_healthy(&c).await;
    }

    for (name, bad) in malformed(&data_bytes) {
        let c = format!("ValidateDataSourceConfig config = {name}");
        let d = u
            .validate_data(DATA_SNAPSHOTS, bad.clone())
            .await
            .expect(&c);
        record(&c, &expect_error(&c, &d));
        let c = format!("ReadDataSource config = {name}");
        let r = u.read_data(DATA_SNAPSHOTS, bad).await.expect(&c);
        record(&c, &expect_error(&c, &r.diagnostics));
        assert!(r.state.is_none(), "{c}: no state from bad input");
        u.plugin.assert_healthy(&c).await;
    }

    for (name, bad) in malformed(&prov_bytes) {
        let c = format!("Configure config = {name}");
        let d = bounded(
            &c,
            u.plugin.client().configure(pb::configure::Request {
                terraform_version: "1.11.4".into(),
                config: bad.clone(),
                client_capabilities: None,
            }),
        )
        .await
        .expect(&c)
        .into_inner()
        .diagnostics;
        record(&c, &expect_error(&c, &d));
        let c = format!("PrepareProviderConfig config = {name}");
        let d = bounded(
            &c,
            u.plugin
                .client()
                .prepare_provider_config(pb::prepare_provider_config::Request { config: bad }),
        )
        .await
        .expect(&c)
        .into_inner()
        .diagnostics;
        record(&c, &expect_error(&c, &d));
        u.plugin.assert_healthy(&c).await;
    }
    u.plugin.shutdown().await;
}

/// Raw JSON states Terraform could hand to UpgradeResourceState from a corrupt or foreign
/// state file: an error diagnostic, or (when the JSON is readable) a state of the current
/// schema that is wholly known.
#[tokio::test]
async fn upgrade_resource_state_with_garbage_raw_json() {
    let mut u = Under::launch(&[]).await;
    let bt = u.rt(BACKUP);
    let mut deep = vec![b'['; 100_000];
    deep.extend(vec![b']'; 100_000]);
    let deep_in_attr = {
        let mut s = br#"{"vps_id": "#.to_vec();
        s.extend(vec![b'['; 100_000]);
        s.extend(vec![b']'; 100_000]);
        s.push(b'}');
        s
    };
    let cases: Vec<(&str, i64, Option<pb::RawState>, bool)> = vec![
        // (case, version, raw state, must be an error)
        ("not JSON", 0, raw_json(b"{\"id\": 5"), true),
        (
            "binary noise",
            0,
            Some(pb::RawState {
                json: noise(512, 3),
                flatmap: Default::default(),
            }),
            true,
        ),
        ("a JSON array", 0, raw_json(b"[1, 2]"), true),
        ("a JSON string", 0, raw_json(br#""state""#), true),
        ("a JSON number", 0, raw_json(b"42"), true),
        (
            "vps_id is a number",
            0,
            raw_json(br#"{"vps_id": 5}"#),
            false,
        ),
        (
            "vps_id is an object",
            0,
            raw_json(br#"{"vps_id": {"a": 1}}"#),
            true,
        ),
        (
            "triggers is a list",
            0,
            raw_json(br#"{"vps_id": "v", "triggers": ["a"]}"#),
            true,
        ),
        (
            "triggers holds an object",
            0,
            raw_json(br#"{"vps_id": "v", "triggers": {"a": {"b": 1}}}"#),
            true,
        ),
        (
            "timeouts is a string",
            0,
            raw_json(br#"{"vps_id": "v", "timeouts": "60m"}"#),
            true,
        ),
        (
            "a number too big for f64 (1e999)",
            0,
            raw_json(br#"{"vps_id": "v", "note": 1e999}"#),
            false,
        ),
        (
            "duplicate keys",
            0,
            raw_json(br#"{"vps_id": "a", "vps_id": "b"}"#),
            false,
        ),
        (
            "invalid UTF-8 in a string",
            0,
            raw_json(b"{\"vps_id\": \"\xff\xfe\"}"),
            true,
        ),
        ("100 000 nested arrays", 0, raw_json(&deep), true),
        (
            "100 000 nested arrays in an attribute",
            0,
            raw_json(&deep_in_attr),
            true,
        ),
        (
            "only unknown attributes",
            0,
            raw_json(br#"{"legacy": 1, "other": [1]}"#),
            false,
        ),
        ("empty object", 0, raw_json(b"{}"), false),
        ("JSON null", 0, raw_json(b"null"), false),
        (
            "flatmap only (pre-0.12 state)",
            0,
            Some(pb::RawState {
                json: Vec::new(),
                flatmap: [("id".to_string(), "x".to_string())].into(),
            }),
            true,
        ),
        ("raw_state absent", 0, None, false),
        (
            "negative schema version",
            -1,
            raw_json(br#"{"vps_id": "v"}"#),
            false,
        ),
        (
            "schema version i64::MAX",
            i64::MAX,
            raw_json(br#"{"vps_id": "v"}"#),
            false,
        ),
    ];
    for (name, version, raw, must_fail) in cases {
        let c = format!("UpgradeResourceState raw_state = {name}");
        let r = u.upgrade(BACKUP, version, raw).await.expect(&c);
        well_formed(&c, &r.diagnostics);
        if must_fail || first_error(&r.diagnostics).is_some() {
            record(&c, &expect_error(&c, &r.diagnostics));
            assert!(r.upgraded_state.is_none(), "{c}: no state with an error");
        } else {
            let s = r.upgraded_state.as_ref().expect("an upgraded state");
            assert!(s.json.is_empty(), "{c}: answers in msgpack");
            let v = decode_msgpack(&s.msgpack, &bt)
                .unwrap_or_else(|e| panic!("{c}: upgraded state does not fit the schema: {e}"));
            assert!(v.is_wholly_known(), "{c}: upgraded state has unknowns");
            record(
                &c,
                &format!("upgraded state (no error): {v:?}").replace('|', "/"),
            );
        }
        u.plugin.assert_healthy(&c).await;
    }
    // The same for a type name the provider does not have.
    let c = "UpgradeResourceState of an unknown type";
    let r = u.upgrade("hostup_nope", 0, raw_json(b"{}")).await.expect(c);
    record(c, &expect_error(c, &r.diagnostics));
    u.plugin.shutdown().await;
}

/// A value of the wrong type for one attribute at a time, in every resource, data source and
/// the provider block: a msgpack value that does not fit the schema is an error diagnostic.
#[tokio::test]
async fn values_of_the_wrong_type_are_error_diagnostics() {
    let mut u = Under::launch(&[]).await;
    /// Values that do not fit `ty`, each with the type it is encoded as.
    fn wrong(ty: &Type) -> Vec<(Type, Value, &'static str)> {
        let list_a = Value::List(vec!["a".into()]);
        match ty {
            Type::String => vec![
                (Type::Bool, Value::Bool(true), "a bool"),
                (Type::List(Box::new(Type::String)), list_a, "a list"),
                (Type::Number, Value::from(5i64), "a number"),
            ],
            Type::Number => vec![
                (Type::String, "not a number".into(), "a non-numeric string"),
                (Type::Bool, Value::Bool(false), "a bool"),
            ],
            Type::Bool => vec![
                (Type::String, "yes".into(), "the string \"yes\""),
                (Type::Number, Value::from(1i64), "a number"),
            ],
            Type::Map(_) => vec![
                (Type::String, "x".into(), "a string"),
                (Type::List(Box::new(Type::String)), list_a.clone(), "a list"),
                (
                    Type::Map(Box::new(Type::List(Box::new(Type::String)))),
                    Value::Map([("k".to_string(), list_a.clone())].into()),
                    "a map of lists",
                ),
            ],
            Type::List(_) | Type::Set(_) => vec![
                (Type::String, "x".into(), "a string"),
                (
                    Type::Map(Box::new(Type::String)),
                    Value::Map([("k".to_string(), "v".into())].into()),
                    "a map",
                ),
            ],
            Type::Object(_) => vec![
                (Type::String, "60m".into(), "a string"),
                (
                    Type::List(Box::new(Type::String)),
                    Value::List(vec!["60m".into()]),
                    "a list",
                ),
            ],
            Type::Tuple(_) | Type::Dynamic => Vec::new(),
        }
    }
    /// The whole object with `attr` replaced by `bad` (typed `bad_ty`), as msgpack.
    fn with_wrong(ty: &Type, attr: &str, bad_ty: &Type, bad: &Value) -> Option<pb::DynamicValue> {
        let Type::Object(attrs) = ty else {
            panic!("object type")
        };
        let mut wire = attrs.clone();
        wire.insert(attr.to_owned(), bad_ty.clone());
        let wire = Type::Object(wire);
        let v = object(ty, &[(attr, bad.clone())]);
        dv(&v, &wire)
    }

    let resources: Vec<(String, Type)> = u
        .types
        .resources
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    for (name, ty) in &resources {
        let Type::Object(attrs) = ty else { continue };
        for (attr, aty) in attrs {
            for (bad_ty, bad, what) in wrong(aty) {
                let value = with_wrong(ty, attr, &bad_ty, &bad);
                let c = format!("ValidateResourceTypeConfig {name}.{attr} = {what}");
                let d = u.validate_resource(name, value.clone()).await.expect(&c);
                record(&c, &expect_error(&c, &d));
                let c = format!("PlanResourceChange {name} config.{attr} = {what}");
                let r = u
                    .plan(name, null_dv(), value.clone(), value)
                    .await
                    .expect(&c);
                expect_error(&c, &r.diagnostics);
            }
        }
        u.plugin.assert_healthy(name).await;
    }
    let data: Vec<(String, Type)> = u
        .types
        .data_sources
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    for (name, ty) in &data {
        let Type::Object(attrs) = ty else { continue };
        for (attr, aty) in attrs {
            for (bad_ty, bad, what) in wrong(aty) {
                let value = with_wrong(ty, attr, &bad_ty, &bad);
                let c = format!("ValidateDataSourceConfig {name}.{attr} = {what}");
                let d = u.validate_data(name, value.clone()).await.expect(&c);
                record(&c, &expect_error(&c, &d));
                let c = format!("ReadDataSource {name} config.{attr} = {what}");
                let r = u.read_data(name, value).await.expect(&c);
                expect_error(&c, &r.diagnostics);
            }
        }
        u.plugin.assert_healthy(name).await;
    }
    let pt = u.types.provider.clone();
    let Type::Object(attrs) = &pt else {
        panic!("provider type")
    };
    for (attr, aty) in attrs {
        for (bad_ty, bad, what) in wrong(aty) {
            let value = with_wrong(&pt, attr, &bad_ty, &bad);
            let c = format!("Configure provider.{attr} = {what}");
            let d = bounded(
                &c,
                u.plugin.client().configure(pb::configure::Request {
                    terraform_version: "1.11.4".into(),
                    config: value,
                    client_capabilities: None,
                }),
            )
            .await
            .expect(&c)
            .into_inner()
            .diagnostics;
            record(&c, &expect_error(&c, &d));
        }
    }
    // JSON DynamicValues follow go-cty's JSON rules (a number or bool may stand for a
    // string): answered either way, with a well-formed result.
    for (c, body) in [
        ("JSON vps_id = 5", &br#"{"vps_id": 5}"#[..]),
        ("JSON vps_id = true", br#"{"vps_id": true}"#),
        (
            "JSON triggers = [1]",
            br#"{"vps_id": "v", "triggers": [1]}"#,
        ),
        ("JSON timeouts = 7", br#"{"vps_id": "v", "timeouts": 7}"#),
    ] {
        let c = format!("ValidateResourceTypeConfig {BACKUP} {c}");
        let d = u.validate_resource(BACKUP, json(body)).await.expect(&c);
        well_formed(&c, &d);
        record(
            &c,
            first_error(&d).map_or("no diagnostics (accepted)", |e| e.summary.as_str()),
        );
    }
    u.plugin.assert_healthy("wrong types").await;
    u.plugin.shutdown().await;
}
