//! The provider binary against hostile or broken tfplugin5 traffic, driven over gRPC exactly as
//! Terraform drives it (handshake line, AutoMTLS, the generated tfplugin5 client): malformed
//! DynamicValues, wrong attribute types, unknowns where Terraform never sends them, unknown type
//! names, undecodable protobuf, a 100 MiB message, 500 concurrent RPCs, and Stop during every
//! long-running RPC and while idle.
//!
//! The rule each case checks: an answer — diagnostics or a clean gRPC status — never a crash
//! (after each case the process must still answer GetSchema and must not have written "panic"
//! to stderr) and never a hang (every call is bounded; expiry fails the test with "HANG").
//! docs/RELIABILITY.md ("Protocol robustness") tabulates what the provider answers in each case.

mod plugin_client;

use std::collections::BTreeMap;
use std::time::Duration;

use hostup_provider::plugin::proto::tfplugin5 as pb;
use hostup_provider::plugin::value::{decode_msgpack, encode_msgpack, Type, Value};
use plugin_client::{bounded, raw_call, within, Plugin, Sim, Types, DEADLINE};
use tokio::io::AsyncReadExt;

const BACKUP: &str = "hostup_vps_backup";
const RESTORE: &str = "hostup_vps_snapshot_restore";
const SNAPSHOT: &str = "hostup_vps_snapshot";
const DATA_SNAPSHOTS: &str = "hostup_vps_snapshots";
/// A VPS of the sim's default fixture with free backup and snapshot slots.
const VPS_APP: &str = "vps_01hxa3b4c5d6e7f8g9h0j1k2m3";
/// A PAYG VPS of the default fixture: 5 empty snapshot slots.
const VPS_PAYG: &str = "vps_01hxa3b4c5d6e7f8g9h0j1k2m7";
/// The snapshot present on [`VPS_APP`] in the default fixture.
const SNAPSHOT_APP: &str = "before-upgrade";
/// The sim's default key with read:vm and backup:vm.
const KEY: &str = "test-key";
/// Bound on how long an RPC may take to return after Stop. A correctness bound, not a speed
/// assertion (the target asks for one second; this leaves room for slow machines).
const AFTER_STOP: Duration = Duration::from_secs(5);

// ------------------------------------------------------------------ value helpers

/// An object of type `ty` with every attribute null except `set`.
fn object(ty: &Type, set: &[(&str, Value)]) -> Value {
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
fn dv(v: &Value, ty: &Type) -> Option<pb::DynamicValue> {
    Some(pb::DynamicValue {
        msgpack: encode_msgpack(v, ty).expect("test value fits its type"),
        json: Vec::new(),
    })
}

fn msgpack(bytes: Vec<u8>) -> Option<pb::DynamicValue> {
    Some(pb::DynamicValue {
        msgpack: bytes,
        json: Vec::new(),
    })
}

fn json(bytes: &[u8]) -> Option<pb::DynamicValue> {
    Some(pb::DynamicValue {
        msgpack: Vec::new(),
        json: bytes.to_vec(),
    })
}

fn null_dv() -> Option<pb::DynamicValue> {
    msgpack(vec![0xc0])
}

/// "SEVERITY summary: detail" of each diagnostic, for messages and the case table.
fn describe(d: &[pb::Diagnostic]) -> Vec<String> {
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

fn first_error(d: &[pb::Diagnostic]) -> Option<&pb::Diagnostic> {
    d.iter().find(|d| d.severity == 1)
}

/// Fails unless `d` holds an error diagnostic; returns its summary for the case table.
fn expect_error(case: &str, d: &[pb::Diagnostic]) -> String {
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
fn well_formed(case: &str, d: &[pb::Diagnostic]) {
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
fn record(case: &str, answer: &str) {
    eprintln!("| {case} | {answer} |");
}

/// A deterministic pseudo-random byte string (no rand: the case must be reproducible).
fn noise(len: usize, mut seed: u64) -> Vec<u8> {
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
fn malformed(valid: &[u8]) -> Vec<(String, Option<pb::DynamicValue>)> {
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

// ------------------------------------------------------------------ a provider under test

/// The plugin plus its schema types.
struct Under {
    plugin: Plugin,
    types: Types,
}

impl Under {
    async fn launch(extra: &[(&str, &str)]) -> Under {
        let plugin = Plugin::launch(extra).await;
        let types = Types::of(&plugin).await;
        Under { plugin, types }
    }

    fn rt(&self, name: &str) -> Type {
        self.types.resource(name).clone()
    }

    fn dt(&self, name: &str) -> Type {
        self.types.data_source(name).clone()
    }

    async fn configure(&self, endpoint: &str, api_key: Value) -> Vec<pb::Diagnostic> {
        let ty = self.types.provider.clone();
        let config = object(&ty, &[("endpoint", endpoint.into()), ("api_key", api_key)]);
        bounded(
            "Configure",
            self.plugin.client().configure(pb::configure::Request {
                terraform_version: "1.11.4".into(),
                config: dv(&config, &ty),
                client_capabilities: None,
            }),
        )
        .await
        .expect("Configure answers OK")
        .into_inner()
        .diagnostics
    }

    async fn validate_resource(
        &self,
        type_name: &str,
        config: Option<pb::DynamicValue>,
    ) -> Result<Vec<pb::Diagnostic>, tonic::Status> {
        self.validate_resource_within(DEADLINE, type_name, config)
            .await
    }

    /// [`Under::validate_resource`] with its own hang bound (for 100 MiB messages).
    async fn validate_resource_within(
        &self,
        limit: Duration,
        type_name: &str,
        config: Option<pb::DynamicValue>,
    ) -> Result<Vec<pb::Diagnostic>, tonic::Status> {
        within(
            limit,
            "ValidateResourceTypeConfig",
            self.plugin.client().validate_resource_type_config(
                pb::validate_resource_type_config::Request {
                    type_name: type_name.into(),
                    config,
                    client_capabilities: None,
                },
            ),
        )
        .await
        .map(|r| r.into_inner().diagnostics)
    }

    async fn validate_data(
        &self,
        type_name: &str,
        config: Option<pb::DynamicValue>,
    ) -> Result<Vec<pb::Diagnostic>, tonic::Status> {
        bounded(
            "ValidateDataSourceConfig",
            self.plugin.client().validate_data_source_config(
                pb::validate_data_source_config::Request {
                    type_name: type_name.into(),
                    config,
                },
            ),
        )
        .await
        .map(|r| r.into_inner().diagnostics)
    }

    async fn plan(
        &self,
        type_name: &str,
        prior: Option<pb::DynamicValue>,
        proposed: Option<pb::DynamicValue>,
        config: Option<pb::DynamicValue>,
    ) -> Result<pb::plan_resource_change::Response, tonic::Status> {
        bounded(
            "PlanResourceChange",
            self.plugin
                .client()
                .plan_resource_change(pb::plan_resource_change::Request {
                    type_name: type_name.into(),
                    prior_state: prior,
                    proposed_new_state: proposed,
                    config,
                    ..Default::default()
                }),
        )
        .await
        .map(tonic::Response::into_inner)
    }

    async fn apply(
        &self,
        type_name: &str,
        prior: Option<pb::DynamicValue>,
        planned: Option<pb::DynamicValue>,
        config: Option<pb::DynamicValue>,
    ) -> Result<pb::apply_resource_change::Response, tonic::Status> {
        bounded(
            "ApplyResourceChange",
            self.plugin
                .client()
                .apply_resource_change(pb::apply_resource_change::Request {
                    type_name: type_name.into(),
                    prior_state: prior,
                    planned_state: planned,
                    config,
                    ..Default::default()
                }),
        )
        .await
        .map(tonic::Response::into_inner)
    }

    async fn read(
        &self,
        type_name: &str,
        current: Option<pb::DynamicValue>,
    ) -> Result<pb::read_resource::Response, tonic::Status> {
        bounded(
            "ReadResource",
            self.plugin
                .client()
                .read_resource(pb::read_resource::Request {
                    type_name: type_name.into(),
                    current_state: current,
                    ..Default::default()
                }),
        )
        .await
        .map(tonic::Response::into_inner)
    }

    async fn read_data(
        &self,
        type_name: &str,
        config: Option<pb::DynamicValue>,
    ) -> Result<pb::read_data_source::Response, tonic::Status> {
        bounded(
            "ReadDataSource",
            self.plugin
                .client()
                .read_data_source(pb::read_data_source::Request {
                    type_name: type_name.into(),
                    config,
                    ..Default::default()
                }),
        )
        .await
        .map(tonic::Response::into_inner)
    }

    async fn import(
        &self,
        type_name: &str,
        id: &str,
    ) -> Result<pb::import_resource_state::Response, tonic::Status> {
        bounded(
            "ImportResourceState",
            self.plugin
                .client()
                .import_resource_state(pb::import_resource_state::Request {
                    type_name: type_name.into(),
                    id: id.into(),
                    ..Default::default()
                }),
        )
        .await
        .map(tonic::Response::into_inner)
    }

    async fn upgrade(
        &self,
        type_name: &str,
        version: i64,
        raw: Option<pb::RawState>,
    ) -> Result<pb::upgrade_resource_state::Response, tonic::Status> {
        self.upgrade_within(DEADLINE, type_name, version, raw).await
    }

    /// [`Under::upgrade`] with its own hang bound (a 100 MiB state takes a debug build
    /// seconds to decode on a loaded 2-core machine; the bound only tells a hang).
    async fn upgrade_within(
        &self,
        limit: Duration,
        type_name: &str,
        version: i64,
        raw: Option<pb::RawState>,
    ) -> Result<pb::upgrade_resource_state::Response, tonic::Status> {
        within(
            limit,
            "UpgradeResourceState",
            self.plugin
                .client()
                .upgrade_resource_state(pb::upgrade_resource_state::Request {
                    type_name: type_name.into(),
                    version,
                    raw_state: raw,
                }),
        )
        .await
        .map(tonic::Response::into_inner)
    }

    async fn stop(&self) -> String {
        bounded("Stop", self.plugin.client().stop(pb::stop::Request {}))
            .await
            .expect("Stop answers OK")
            .into_inner()
            .error
    }
}

fn raw_json(s: &[u8]) -> Option<pb::RawState> {
    Some(pb::RawState {
        json: s.to_vec(),
        flatmap: Default::default(),
    })
}

// ------------------------------------------------------------------ malformed values

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

// ------------------------------------------------------------------ type names, protobuf

/// Type names the provider does not serve, in every RPC that takes one.
#[tokio::test]
async fn unknown_type_names_are_error_diagnostics() {
    let mut u = Under::launch(&[]).await;
    let long = "x".repeat(100_000);
    let names = [
        "hostup_nope",
        "",
        DATA_SNAPSHOTS, // a data source name where a resource is expected, and vice versa
        "HOSTUP_VPS_BACKUP",
        "hostup_vps_backup ",
        "héllo_wörld\u{0}",
        long.as_str(),
    ];
    for n in names {
        let shown = if n.len() > 40 { "100 000 × x" } else { n };
        let c = format!("ValidateResourceTypeConfig type {shown:?}");
        let d = u.validate_resource(n, null_dv()).await.expect(&c);
        record(&c, &expect_error(&c, &d));
        let c = format!("PlanResourceChange type {shown:?}");
        let r = u.plan(n, null_dv(), null_dv(), null_dv()).await.expect(&c);
        expect_error(&c, &r.diagnostics);
        let c = format!("ApplyResourceChange type {shown:?}");
        let r = u.apply(n, null_dv(), null_dv(), null_dv()).await.expect(&c);
        expect_error(&c, &r.diagnostics);
        let c = format!("ReadResource type {shown:?}");
        let r = u.read(n, null_dv()).await.expect(&c);
        expect_error(&c, &r.diagnostics);
        let c = format!("ImportResourceState type {shown:?}");
        let r = u.import(n, "vps_x/job_y").await.expect(&c);
        expect_error(&c, &r.diagnostics);
        assert!(r.imported_resources.is_empty(), "{c}");
        let c = format!("UpgradeResourceState type {shown:?}");
        let r = u.upgrade(n, 0, raw_json(b"{}")).await.expect(&c);
        expect_error(&c, &r.diagnostics);
        let dn = if n == DATA_SNAPSHOTS { BACKUP } else { n };
        let c = format!("ValidateDataSourceConfig type {dn:?}");
        let d = u.validate_data(dn, null_dv()).await.expect(&c);
        expect_error(&c, &d);
        let c = format!("ReadDataSource type {dn:?}");
        let r = u.read_data(dn, null_dv()).await.expect(&c);
        expect_error(&c, &r.diagnostics);
        u.plugin.assert_healthy(&c).await;
    }
    u.plugin.shutdown().await;
}

/// Request bodies that are not the protobuf the method expects: a clean gRPC status (or an
/// answer when the bytes happen to decode), never a crash.
#[tokio::test]
async fn undecodable_protobuf_gets_a_clean_status() {
    let mut u = Under::launch(&[]).await;
    let methods = [
        "GetSchema",
        "GetMetadata",
        "PrepareProviderConfig",
        "ValidateResourceTypeConfig",
        "ValidateDataSourceConfig",
        "UpgradeResourceState",
        "Configure",
        "ReadResource",
        "PlanResourceChange",
        "ApplyResourceChange",
        "ImportResourceState",
        "MoveResourceState",
        "ReadDataSource",
        "GetFunctions",
        "CallFunction",
        "ValidateEphemeralResourceConfig",
        "OpenEphemeralResource",
        "Stop",
    ];
    // Field 1 (type_name in most requests) as a length-delimited field holding invalid UTF-8.
    let bad_utf8 = vec![0x0a, 0x02, 0xff, 0xfe];
    let bodies: [(&str, Vec<u8>); 4] = [
        ("invalid varint / wire type 7", vec![0xff; 16]),
        (
            "length prefix past the end",
            vec![0x0a, 0xff, 0xff, 0xff, 0x0f, 0x01],
        ),
        ("string field holding invalid UTF-8", bad_utf8),
        ("256 random bytes", noise(256, 11)),
    ];
    for m in methods {
        for (what, body) in &bodies {
            let c = format!("{m} with {what}");
            let r = bounded(&c, raw_call(&u.plugin.channel, m, body.clone())).await;
            let answer = match &r {
                Ok(bytes) => format!("OK ({} bytes)", bytes.len()),
                Err(s) => format!("status {:?}", s.code()),
            };
            if let Err(s) = &r {
                assert_ne!(
                    s.code(),
                    tonic::Code::Unavailable,
                    "{c}: the connection must survive ({s:?})"
                );
            }
            if m == "ImportResourceState" || m == "ValidateResourceTypeConfig" {
                record(&c, &answer);
            }
        }
        u.plugin.assert_healthy(m).await;
    }
    // A method tfplugin5 does not have.
    let r = bounded(
        "unknown method",
        raw_call(&u.plugin.channel, "NoSuchMethod", Vec::new()),
    )
    .await;
    let code = r.err().map(|s| s.code());
    assert_eq!(code, Some(tonic::Code::Unimplemented));
    record("/tfplugin5.Provider/NoSuchMethod", "status Unimplemented");
    // An import id that is not UTF-8 (prost refuses it before the provider sees it) and ids of
    // the wrong shape.
    for id in [
        "",
        "/",
        "vps_x/",
        "/job_y",
        "a/b/c",
        "vps_x job_y",
        &"z".repeat(1 << 20),
    ] {
        let shown = if id.len() > 40 { "1 MiB of z" } else { id };
        let c = format!("ImportResourceState id {shown:?}");
        let r = u.import(BACKUP, id).await.expect(&c);
        record(&c, &expect_error(&c, &r.diagnostics));
        assert!(r.imported_resources.is_empty(), "{c}");
    }
    u.plugin.assert_healthy("bad import ids").await;
    u.plugin.shutdown().await;
}

// ------------------------------------------------------------------ unknowns

/// Unknowns where Terraform never sends them: in the provider configuration of Configure, in
/// apply's configuration and plan, in states and in data source configurations.
#[tokio::test]
async fn unknowns_where_none_are_allowed() {
    let sim = Sim::start(&["--job-duration", "0s"]).await;
    let mut u = Under::launch(&[]).await;
    let bt = u.rt(BACKUP);
    let st = u.dt(DATA_SNAPSHOTS);

    // Unknown api_key: Configure answers, and every later operation that needs the API says
    // the provider is not configured instead of calling it.
    let c = "Configure api_key unknown";
    let d = u.configure(&sim.url, Value::unknown()).await;
    assert!(d.is_empty(), "{c}: {:?}", describe(&d));
    record(c, "no diagnostics; the provider stays unconfigured");
    u.plugin.assert_healthy(c).await;
    let cfg = object(&bt, &[("vps_id", VPS_APP.into())]);
    let mut planned = cfg.clone();
    if let Value::Object(m) = &mut planned {
        for k in ["id", "job_id", "status", "completed_at"] {
            m.insert(k.into(), Value::unknown());
        }
    }
    let c = "ApplyResourceChange create after Configure with unknown api_key";
    let r = u
        .apply(BACKUP, null_dv(), dv(&planned, &bt), dv(&cfg, &bt))
        .await
        .expect(c);
    record(c, &expect_error(c, &r.diagnostics));
    let c = "ReadDataSource after Configure with unknown api_key";
    let r = u
        .read_data(
            DATA_SNAPSHOTS,
            dv(&object(&st, &[("vps_id", VPS_APP.into())]), &st),
        )
        .await
        .expect(c);
    record(c, &expect_error(c, &r.diagnostics));
    assert_eq!(
        sim.count("POST /api/v2/vps/{id}/backups").await,
        0,
        "nothing is queued without a configured provider"
    );

    // A wholly unknown provider configuration.
    let c = "Configure config wholly unknown (d4 00 00)";
    let d = bounded(
        c,
        u.plugin.client().configure(pb::configure::Request {
            terraform_version: "1.11.4".into(),
            config: msgpack(vec![0xd4, 0x00, 0x00]),
            client_capabilities: None,
        }),
    )
    .await
    .expect(c)
    .into_inner()
    .diagnostics;
    assert!(d.is_empty(), "{c}: {:?}", describe(&d));
    record(c, "no diagnostics; the provider stays unconfigured");

    // Now configure for real, then send unknowns into apply.
    let d = u.configure(&sim.url, KEY.into()).await;
    assert!(first_error(&d).is_none(), "{:?}", describe(&d));
    let unknown_vps = object(&bt, &[("vps_id", Value::unknown())]);
    let mut planned_unknown_vps = unknown_vps.clone();
    if let Value::Object(m) = &mut planned_unknown_vps {
        for k in ["id", "job_id", "status", "completed_at"] {
            m.insert(k.into(), Value::unknown());
        }
    }
    // The object with these raw msgpack bytes where vps_id's value goes; the rest null.
    let with_vps_id = |raw: &[u8]| {
        let mut b =
            encode_msgpack(&object(&bt, &[("vps_id", "PLACEHOLDER".into())]), &bt).expect("encode");
        let needle = [&[0xabu8][..], b"PLACEHOLDER"].concat();
        let at = b
            .windows(needle.len())
            .position(|w| w == needle.as_slice())
            .expect("placeholder");
        b.splice(at..at + needle.len(), raw.iter().copied());
        msgpack(b)
    };
    // Refined unknown (ext 12, "not null").
    let refined = with_vps_id(&[0xc7, 0x03, 0x0c, 0x81, 0x01, 0xc2]);
    // An extension of code 99 and 4 bytes.
    let odd_ext = with_vps_id(&[0xd6, 0x63, 1, 2, 3, 4]);
    // ext32, code 12, a 4000-byte payload (go-cty refuses more than 1024).
    let mut ext = vec![0xc9, 0x00, 0x00, 0x0f, 0xa0, 0x0c];
    ext.extend(vec![0xc0; 4000]);
    let huge_refinement = with_vps_id(&ext);
    let cases: Vec<(&str, Option<pb::DynamicValue>, Option<pb::DynamicValue>)> = vec![
        (
            "config and planned vps_id unknown",
            dv(&planned_unknown_vps, &bt),
            dv(&unknown_vps, &bt),
        ),
        (
            "planned state wholly unknown",
            msgpack(vec![0xd4, 0x00, 0x00]),
            dv(&cfg, &bt),
        ),
        (
            "config wholly unknown",
            dv(&planned, &bt),
            msgpack(vec![0xd4, 0x00, 0x00]),
        ),
        ("planned vps_id a refined unknown", refined.clone(), refined),
        ("planned vps_id an ext of code 99", odd_ext.clone(), odd_ext),
        (
            "planned vps_id an ext 12 with a 4000-byte payload",
            huge_refinement.clone(),
            huge_refinement,
        ),
    ];
    for (what, planned_dv, config_dv) in cases {
        let c = format!("ApplyResourceChange create, {what}");
        let r = u
            .apply(BACKUP, null_dv(), planned_dv, config_dv)
            .await
            .expect(&c);
        let e = expect_error(&c, &r.diagnostics);
        if what.starts_with("config") {
            assert_eq!(e, "Invalid configuration received from Terraform", "{c}");
        }
        record(&c, &e);
        if let Some(s) = r.new_state.as_ref().filter(|s| !s.msgpack.is_empty()) {
            let v = decode_msgpack(&s.msgpack, &bt)
                .unwrap_or_else(|e| panic!("{c}: new_state does not fit the schema: {e}"));
            assert!(v.is_wholly_known(), "{c}: new_state has unknowns: {v:?}");
        }
        u.plugin.assert_healthy(&c).await;
    }
    assert_eq!(
        sim.count("POST /api/v2/vps/{id}/backups").await,
        0,
        "no backup is queued for an unknown VPS"
    );

    // Unknowns in states (never sent: states are always wholly known) and in a data source
    // read (Terraform defers such reads to apply): an error naming what was wrong, and the
    // provider acts on nothing.
    let mut prior = object(
        &bt,
        &[
            ("vps_id", VPS_APP.into()),
            ("id", "job_1".into()),
            ("job_id", Value::unknown()),
            ("status", "completed".into()),
        ],
    );
    let c = "PlanResourceChange prior_state with unknown job_id";
    let r = u
        .plan(BACKUP, dv(&prior, &bt), dv(&cfg, &bt), dv(&cfg, &bt))
        .await
        .expect(c);
    let e = expect_error(c, &r.diagnostics);
    assert_eq!(e, "Invalid prior state received from Terraform");
    assert!(r.planned_state.is_none(), "{c}: no plan");
    record(c, &e);

    let c = "ReadResource current_state with unknown job_id";
    let r = u.read(BACKUP, dv(&prior, &bt)).await.expect(c);
    let e = expect_error(c, &r.diagnostics);
    assert_eq!(e, "Invalid current state received from Terraform");
    let s = r.new_state.as_ref().expect("new_state");
    let v = decode_msgpack(&s.msgpack, &bt).expect("new_state fits the schema");
    assert!(
        v.is_wholly_known(),
        "{c}: Terraform must get no unknowns back"
    );
    assert_eq!(
        v.attr("id").and_then(Value::as_str),
        Some("job_1"),
        "{c}: known values kept"
    );
    record(
        c,
        &format!("{e}; new_state = the state with the unknowns as null"),
    );

    let c = "ApplyResourceChange delete with unknowns in prior_state";
    if let Value::Object(m) = &mut prior {
        m.insert("vps_id".into(), Value::unknown());
    }
    let r = u
        .apply(BACKUP, dv(&prior, &bt), null_dv(), null_dv())
        .await
        .expect(c);
    let e = expect_error(c, &r.diagnostics);
    assert_eq!(e, "Invalid prior state received from Terraform");
    record(c, &e);

    for (what, v) in [
        (
            "vps_id unknown",
            dv(&object(&st, &[("vps_id", Value::unknown())]), &st),
        ),
        ("config wholly unknown", msgpack(vec![0xd4, 0x00, 0x00])),
    ] {
        let c = format!("ReadDataSource {DATA_SNAPSHOTS}, {what}");
        let r = u.read_data(DATA_SNAPSHOTS, v).await.expect(&c);
        let e = expect_error(&c, &r.diagnostics);
        assert_eq!(e, "Invalid configuration received from Terraform", "{c}");
        assert!(r.state.is_none(), "{c}: no state");
        record(&c, &e);
        u.plugin.assert_healthy(&c).await;
    }
    assert_eq!(
        sim.count("GET /api/v2/vps/{id}/snapshots").await,
        0,
        "no API call for an unknown VPS"
    );
    u.plugin.shutdown().await;
}

// ------------------------------------------------------------------ size and load

/// A 100 MiB message (well under the server's 256 MiB limit) is answered, and one above the
/// limit gets a clean status; the process stays healthy.
#[tokio::test]
async fn hundred_mib_messages_are_answered() {
    let mut u = Under::launch(&[]).await;
    let bt = u.rt(BACKUP);
    const MIB100: usize = 100 << 20;

    let c = "ValidateResourceTypeConfig with 100 MiB of garbage msgpack";
    let mut garbage = vec![0xc1u8];
    garbage.resize(MIB100, 0x5a);
    let d = u
        .validate_resource_within(Duration::from_secs(120), BACKUP, msgpack(garbage))
        .await
        .expect(c);
    record(c, &expect_error(c, &d));
    u.plugin.assert_healthy(c).await;

    let c = "ValidateResourceTypeConfig with a 100 MiB note";
    let note = "n".repeat(MIB100);
    let cfg = object(
        &bt,
        &[("vps_id", VPS_APP.into()), ("note", note.clone().into())],
    );
    let d = u
        .validate_resource_within(Duration::from_secs(120), BACKUP, dv(&cfg, &bt))
        .await
        .expect(c);
    let e = expect_error(c, &d);
    assert_eq!(e, "Note too long", "{:?}", describe(&d));
    record(c, &e);
    u.plugin.assert_healthy(c).await;

    let c = "UpgradeResourceState with a 100 MiB raw JSON state";
    let raw = format!(r#"{{"vps_id":"{VPS_APP}","id":"job_1","note":"{note}"}}"#);
    drop(note);
    let limit = Duration::from_secs(120);
    let r = u
        .upgrade_within(limit, BACKUP, 0, raw_json(raw.as_bytes()))
        .await
        .expect(c);
    drop(raw);
    well_formed(c, &r.diagnostics);
    let s = r.upgraded_state.as_ref().expect("an upgraded state");
    let v = decode_msgpack(&s.msgpack, &bt).expect("fits the schema");
    assert_eq!(
        v.attr("note").and_then(Value::as_str).map(str::len),
        Some(MIB100)
    );
    record(c, "the upgraded 100 MiB state (msgpack), no diagnostics");
    u.plugin.assert_healthy(c).await;

    let c = "ValidateResourceTypeConfig with a 300 MiB message (over the 256 MiB limit)";
    let mut over = vec![0xc1u8];
    over.resize(300 << 20, 0);
    let r = u
        .validate_resource_within(Duration::from_secs(120), BACKUP, msgpack(over))
        .await;
    let status = r.expect_err("a message over the limit is refused");
    assert!(
        matches!(
            status.code(),
            tonic::Code::ResourceExhausted | tonic::Code::OutOfRange | tonic::Code::Internal
        ),
        "{c}: {status:?}"
    );
    record(
        c,
        &format!("status {:?}: {}", status.code(), status.message()),
    );
    u.plugin.assert_healthy(c).await;
    u.plugin.shutdown().await;
}

/// 500 RPCs in flight at once on Terraform's single connection: all answered.
#[tokio::test]
async fn five_hundred_concurrent_rpcs_are_all_answered() {
    let sim = Sim::start(&["--job-duration", "0s", "--rate-limit", "0"]).await;
    let mut u = Under::launch(&[]).await;
    let d = u.configure(&sim.url, KEY.into()).await;
    assert!(first_error(&d).is_none(), "{:?}", describe(&d));
    let bt = u.rt(BACKUP);
    let st = u.dt(DATA_SNAPSHOTS);
    let cfg = object(&bt, &[("vps_id", VPS_APP.into())]);
    let data = object(&st, &[("vps_id", VPS_APP.into())]);
    let mut calls = Vec::with_capacity(500);
    for i in 0..500usize {
        let u = &u;
        let (cfg, data, bt, st) = (&cfg, &data, &bt, &st);
        calls.push(async move {
            let what = format!("concurrent call {i} (kind {})", i % 5);
            let ok = match i % 5 {
                0 => u
                    .plugin
                    .client()
                    .get_schema(pb::get_provider_schema::Request {})
                    .await
                    .map(|r| r.into_inner().provider.is_some()),
                1 => u
                    .validate_resource(BACKUP, msgpack(noise(64, i as u64)))
                    .await
                    .map(|d| first_error(&d).is_some()),
                2 => u
                    .validate_resource(BACKUP, dv(cfg, bt))
                    .await
                    .map(|d| first_error(&d).is_none()),
                3 => u
                    .plan(BACKUP, null_dv(), dv(cfg, bt), dv(cfg, bt))
                    .await
                    .map(|r| first_error(&r.diagnostics).is_none() && r.planned_state.is_some()),
                _ => u
                    .read_data(DATA_SNAPSHOTS, dv(data, st))
                    .await
                    .map(|r| first_error(&r.diagnostics).is_none() && r.state.is_some()),
            };
            (what, ok)
        });
    }
    let results = within(
        Duration::from_secs(30),
        "500 concurrent RPCs",
        futures_util::future::join_all(calls),
    )
    .await;
    let failed: Vec<String> = results
        .into_iter()
        .filter(|(_, r)| !matches!(r, Ok(true)))
        .map(|(w, r)| format!("{w}: {r:?}"))
        .collect();
    assert!(
        failed.is_empty(),
        "{} calls failed: {:#?}",
        failed.len(),
        &failed[..failed.len().min(5)]
    );
    record(
        "500 concurrent RPCs (GetSchema, Validate good/bad, Plan, ReadDataSource)",
        "all 500 answered as when alone",
    );
    u.plugin.assert_healthy("500 concurrent RPCs").await;
    u.plugin.shutdown().await;
}

// ------------------------------------------------------------------ Stop

/// A local TCP endpoint that accepts connections, reads the request and never answers: a
/// HostUp API that hangs. `hit` fires when a request has arrived, so a test knows the RPC is
/// waiting on it.
struct BlackHole {
    url: String,
    hits: tokio::sync::mpsc::UnboundedReceiver<()>,
    task: tokio::task::JoinHandle<()>,
}

impl BlackHole {
    async fn start() -> BlackHole {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let (tx, hits) = tokio::sync::mpsc::unbounded_channel();
        let task = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((mut s, _)) = listener.accept().await {
                let tx = tx.clone();
                held.push(tokio::spawn(async move {
                    let mut buf = vec![0u8; 16 * 1024];
                    let mut announced = false;
                    // Read whatever comes, never answer; the socket stays open until dropped.
                    while let Ok(n) = s.read(&mut buf).await {
                        if n == 0 {
                            break;
                        }
                        if !announced {
                            announced = true;
                            let _ = tx.send(());
                        }
                    }
                }));
            }
        });
        BlackHole { url, hits, task }
    }

    /// Waits (bounded) until a request has reached the endpoint.
    async fn hit(&mut self, what: &str) {
        bounded(&format!("{what} reaching the API"), self.hits.recv())
            .await
            .expect("black hole running");
    }
}

impl Drop for BlackHole {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// An RPC future launched in the background, so Stop can be sent while it is in flight.
type InFlight<T> = tokio::task::JoinHandle<Result<T, tonic::Status>>;

/// Awaits an RPC that Stop should have ended, within [`AFTER_STOP`].
async fn after_stop<T>(what: &str, h: InFlight<T>) -> T {
    within(AFTER_STOP, &format!("{what} after Stop"), h)
        .await
        .expect("task")
        .unwrap_or_else(|s| panic!("{what}: gRPC error after Stop: {s:?}"))
}

fn mentions_stop(d: &[pb::Diagnostic]) -> bool {
    d.iter().any(|d| {
        let t = format!("{} {}", d.summary, d.detail).to_ascii_lowercase();
        t.contains("stop") || t.contains("cancel") || t.contains("interrupt")
    })
}

/// Stop during each RPC that waits on HostUp: ApplyResourceChange of each action resource
/// against a sim whose jobs take an hour, and Plan, ReadResource, ReadDataSource, Import and
/// Apply against an API that never answers. Each returns within the bound with an error
/// diagnostic; operations after a Stop are not cancelled by it.
#[tokio::test]
async fn stop_ends_every_long_running_rpc() {
    // --- Apply of each action resource while HostUp's job runs (job wait). One sim each:
    // a job left running by the previous case would close the next one's gate.
    let mut u = Under::launch(&[]).await;
    // (resource type, VPS, arguments besides vps_id, the sim route that queues the job)
    type Create = (
        &'static str,
        &'static str,
        Vec<(&'static str, Value)>,
        &'static str,
    );
    let creates: [Create; 3] = [
        (BACKUP, VPS_APP, vec![], "POST /api/v2/vps/{id}/backups"),
        (
            RESTORE,
            VPS_APP,
            vec![("snapshot_name", SNAPSHOT_APP.into())],
            "POST /api/v2/vps/{id}/snapshots/{snapshotId}/actions/restore",
        ),
        (
            SNAPSHOT,
            VPS_PAYG,
            vec![("name", "stop-test".into())],
            "POST /api/v2/vps/{id}/snapshots",
        ),
    ];
    for (type_name, vps, extra, route) in creates {
        let sim = Sim::start(&["--job-duration", "1h"]).await;
        let d = u.configure(&sim.url, KEY.into()).await;
        assert!(first_error(&d).is_none(), "{:?}", describe(&d));
        let ty = u.rt(type_name);
        let Type::Object(attrs) = &ty else {
            panic!("object")
        };
        let mut set = vec![("vps_id", Value::from(vps))];
        set.extend(extra);
        let cfg = object(&ty, &set);
        let mut planned = cfg.clone();
        if let Value::Object(m) = &mut planned {
            for k in [
                "id",
                "job_id",
                "status",
                "completed_at",
                "display_id",
                "created_at",
                "expires_at",
                "includes_memory_state",
                "parent_name",
            ] {
                if attrs.contains_key(k) {
                    m.insert(k.into(), Value::unknown());
                }
            }
        }
        // The plan (which checks the gate) first, as Terraform does; then apply it.
        let r = u
            .plan(type_name, null_dv(), dv(&cfg, &ty), dv(&cfg, &ty))
            .await
            .expect("plan");
        assert!(
            first_error(&r.diagnostics).is_none(),
            "{type_name} plan: {:?}",
            describe(&r.diagnostics)
        );
        let planned_dv = r.planned_state.clone().or_else(|| dv(&planned, &ty));
        let before = sim.count(route).await;
        let client = u.plugin.client();
        let (cfg_dv, tn) = (dv(&cfg, &ty), type_name.to_owned());
        let h: InFlight<pb::apply_resource_change::Response> = tokio::spawn(async move {
            client
                .clone()
                .apply_resource_change(pb::apply_resource_change::Request {
                    type_name: tn,
                    prior_state: null_dv(),
                    planned_state: planned_dv,
                    config: cfg_dv,
                    ..Default::default()
                })
                .await
                .map(tonic::Response::into_inner)
        });
        // Wait (bounded) until HostUp accepted the job: the apply is now waiting on it.
        let deadline = tokio::time::Instant::now() + DEADLINE;
        while sim.count(route).await == before {
            assert!(
                tokio::time::Instant::now() < deadline,
                "{type_name}: the job was never queued"
            );
            assert!(!h.is_finished(), "{type_name}: apply ended before Stop");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(u.stop().await, "", "Stop answers with an empty error");
        let c = format!("Stop during ApplyResourceChange of {type_name} (job running)");
        let r = after_stop(&c, h).await;
        let e = expect_error(&c, &r.diagnostics);
        assert!(
            mentions_stop(&r.diagnostics),
            "{c}: {:?}",
            describe(&r.diagnostics)
        );
        let state = r.new_state.as_ref().expect("a new state");
        let v = decode_msgpack(&state.msgpack, &ty).expect("new_state fits the schema");
        assert!(v.is_wholly_known(), "{c}: no unknowns");
        assert!(
            v.attr("job_id")
                .and_then(Value::as_str)
                .is_some_and(|j| !j.is_empty()),
            "{c}: the job id is kept in state: {v:?}"
        );
        record(&c, &format!("{e} (job id kept in new_state)"));
        u.plugin.assert_healthy(&c).await;
    }

    // --- A second backup of the same VPS waits for the first (per-VPS lock); Stop ends both
    // the job wait and the lock wait, and the second never queues anything.
    let sim = Sim::start(&["--job-duration", "1h"]).await;
    let d = u.configure(&sim.url, KEY.into()).await;
    assert!(first_error(&d).is_none(), "{:?}", describe(&d));
    let bt = u.rt(BACKUP);
    let cfg = object(&bt, &[("vps_id", VPS_APP.into())]);
    let mut planned = cfg.clone();
    if let Value::Object(m) = &mut planned {
        for k in ["id", "job_id", "status", "completed_at"] {
            m.insert(k.into(), Value::unknown());
        }
    }
    let apply_fut = || {
        let mut client = u.plugin.client();
        let (planned_dv, cfg_dv) = (dv(&planned, &bt), dv(&cfg, &bt));
        async move {
            client
                .apply_resource_change(pb::apply_resource_change::Request {
                    type_name: BACKUP.into(),
                    prior_state: null_dv(),
                    planned_state: planned_dv,
                    config: cfg_dv,
                    ..Default::default()
                })
                .await
                .map(tonic::Response::into_inner)
        }
    };
    let first: InFlight<pb::apply_resource_change::Response> = tokio::spawn(apply_fut());
    let route = "POST /api/v2/vps/{id}/backups";
    let deadline = tokio::time::Instant::now() + DEADLINE;
    while sim.count(route).await == 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the first backup was never queued"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // An ordering barrier rather than a sleep: poll the second call once, which queues its
    // request on the connection ahead of anything sent later, then make a GetSchema round
    // trip. The server takes the streams of one connection in order on its single thread, so
    // once GetSchema is answered the second apply has started and waits for the VPS lock.
    let mut second = Box::pin(apply_fut());
    tokio::select! {
        biased;
        r = &mut second => panic!("the second apply answered at once: {r:?}"),
        () = std::future::ready(()) => {}
    }
    let second: InFlight<pb::apply_resource_change::Response> = tokio::spawn(second);
    u.plugin.assert_healthy("the second apply was sent").await;
    assert!(
        !second.is_finished(),
        "the second apply waits for the first"
    );
    assert_eq!(u.stop().await, "");
    let c = "Stop during two ApplyResourceChange of one VPS (job wait + lock wait)";
    let r1 = after_stop("the first apply", first).await;
    let r2 = after_stop("the second apply (waiting for the VPS lock)", second).await;
    assert!(
        mentions_stop(&r1.diagnostics),
        "{:?}",
        describe(&r1.diagnostics)
    );
    let e2 = expect_error(c, &r2.diagnostics);
    assert!(
        mentions_stop(&r2.diagnostics),
        "{:?}",
        describe(&r2.diagnostics)
    );
    assert_eq!(
        sim.count(route).await,
        1,
        "the second backup was never queued"
    );
    record(c, &format!("both end; the waiting one with: {e2}"));
    u.plugin.assert_healthy(c).await;
    u.plugin.shutdown().await;

    // --- RPCs blocked on an API that never answers.
    let mut hole = BlackHole::start().await;
    let mut u = Under::launch(&[]).await;
    let d = u.configure(&hole.url, KEY.into()).await;
    assert!(first_error(&d).is_none(), "{:?}", describe(&d));
    let bt = u.rt(BACKUP);
    let st = u.dt(DATA_SNAPSHOTS);
    let snt = u.rt(SNAPSHOT);
    let cfg = object(&bt, &[("vps_id", VPS_APP.into())]);
    let snap_state = object(
        &snt,
        &[
            ("vps_id", VPS_APP.into()),
            ("name", SNAPSHOT_APP.into()),
            ("id", SNAPSHOT_APP.into()),
        ],
    );
    let mut planned = cfg.clone();
    if let Value::Object(m) = &mut planned {
        for k in ["id", "job_id", "status", "completed_at"] {
            m.insert(k.into(), Value::unknown());
        }
    }
    for kind in [
        "PlanResourceChange",
        "ReadResource",
        "ReadDataSource",
        "ImportResourceState",
        "ApplyResourceChange",
    ] {
        let client = u.plugin.client();
        let (bt, st, snt) = (bt.clone(), st.clone(), snt.clone());
        let (cfg, planned, snap_state) = (cfg.clone(), planned.clone(), snap_state.clone());
        let h: InFlight<Vec<pb::Diagnostic>> = tokio::spawn(async move {
            let mut client = client;
            match kind {
                "PlanResourceChange" => client
                    .plan_resource_change(pb::plan_resource_change::Request {
                        type_name: BACKUP.into(),
                        prior_state: null_dv(),
                        proposed_new_state: dv(&cfg, &bt),
                        config: dv(&cfg, &bt),
                        ..Default::default()
                    })
                    .await
                    .map(|r| r.into_inner().diagnostics),
                "ReadResource" => client
                    .read_resource(pb::read_resource::Request {
                        type_name: SNAPSHOT.into(),
                        current_state: dv(&snap_state, &snt),
                        ..Default::default()
                    })
                    .await
                    .map(|r| r.into_inner().diagnostics),
                "ReadDataSource" => client
                    .read_data_source(pb::read_data_source::Request {
                        type_name: DATA_SNAPSHOTS.into(),
                        config: dv(&object(&st, &[("vps_id", VPS_APP.into())]), &st),
                        ..Default::default()
                    })
                    .await
                    .map(|r| r.into_inner().diagnostics),
                "ImportResourceState" => client
                    .import_resource_state(pb::import_resource_state::Request {
                        type_name: BACKUP.into(),
                        id: format!("{VPS_APP}/job_01"),
                        ..Default::default()
                    })
                    .await
                    .map(|r| r.into_inner().diagnostics),
                _ => client
                    .apply_resource_change(pb::apply_resource_change::Request {
                        type_name: BACKUP.into(),
                        prior_state: null_dv(),
                        planned_state: dv(&planned, &bt),
                        config: dv(&cfg, &bt),
                        ..Default::default()
                    })
                    .await
                    .map(|r| r.into_inner().diagnostics),
            }
        });
        hole.hit(kind).await;
        assert!(!h.is_finished(), "{kind} ended before Stop");
        assert_eq!(u.stop().await, "");
        let c = format!("Stop during {kind} (HostUp not answering)");
        let d = after_stop(&c, h).await;
        let e = expect_error(&c, &d);
        assert!(mentions_stop(&d), "{c}: {:?}", describe(&d));
        record(&c, &e);
        u.plugin.assert_healthy(&c).await;
    }

    // --- One Stop ends several RPCs at once; the next RPC gets a fresh context.
    let mut handles = Vec::new();
    for _ in 0..3 {
        let client = u.plugin.client();
        let (bt, cfg) = (bt.clone(), cfg.clone());
        handles.push(tokio::spawn(async move {
            let mut client = client;
            client
                .plan_resource_change(pb::plan_resource_change::Request {
                    type_name: BACKUP.into(),
                    prior_state: null_dv(),
                    proposed_new_state: dv(&cfg, &bt),
                    config: dv(&cfg, &bt),
                    ..Default::default()
                })
                .await
                .map(|r| r.into_inner().diagnostics)
        }));
    }
    for _ in 0..3 {
        hole.hit("three concurrent plans").await;
    }
    assert_eq!(u.stop().await, "");
    for h in handles {
        let d = after_stop("one of three plans", h).await;
        assert!(mentions_stop(&d), "{:?}", describe(&d));
    }
    record(
        "one Stop during 3 concurrent PlanResourceChange",
        "all 3 end with the cancellation error",
    );
    // A plan started after the Stop is not pre-cancelled: it waits on the API again.
    let client = u.plugin.client();
    let (bt2, cfg2) = (bt.clone(), cfg.clone());
    let later: InFlight<Vec<pb::Diagnostic>> = tokio::spawn(async move {
        let mut client = client;
        client
            .plan_resource_change(pb::plan_resource_change::Request {
                type_name: BACKUP.into(),
                prior_state: null_dv(),
                proposed_new_state: dv(&cfg2, &bt2),
                config: dv(&cfg2, &bt2),
                ..Default::default()
            })
            .await
            .map(|r| r.into_inner().diagnostics)
    });
    hole.hit("a plan after Stop").await;
    assert!(
        !later.is_finished(),
        "a plan after Stop must not be cancelled by it"
    );
    assert_eq!(u.stop().await, "");
    after_stop("the plan after the first Stop", later).await;
    u.plugin.assert_healthy("Stops").await;
    u.plugin.shutdown().await;
}

/// Stop with nothing in flight (before Configure, twice in a row, after Configure) answers at
/// once with an empty error and cancels nothing that starts later: a plan and an apply against
/// a sim with instant jobs then succeed.
#[tokio::test]
async fn stop_while_idle_answers_and_cancels_nothing_later() {
    let sim = Sim::start(&["--job-duration", "0s"]).await;
    let mut u = Under::launch(&[]).await;
    assert_eq!(u.stop().await, "", "Stop before Configure");
    u.plugin.assert_healthy("Stop before Configure").await;
    let d = u.configure(&sim.url, KEY.into()).await;
    assert!(first_error(&d).is_none(), "{:?}", describe(&d));
    assert_eq!(u.stop().await, "", "Stop after Configure");
    assert_eq!(u.stop().await, "", "a second Stop");
    u.plugin.assert_healthy("idle Stops").await;

    let bt = u.rt(BACKUP);
    let cfg = object(&bt, &[("vps_id", VPS_APP.into())]);
    let plan = u
        .plan(BACKUP, null_dv(), dv(&cfg, &bt), dv(&cfg, &bt))
        .await
        .expect("plan");
    assert!(
        plan.diagnostics.is_empty(),
        "{:?}",
        describe(&plan.diagnostics)
    );
    let r = u
        .apply(BACKUP, null_dv(), plan.planned_state, dv(&cfg, &bt))
        .await
        .expect("apply");
    assert!(r.diagnostics.is_empty(), "{:?}", describe(&r.diagnostics));
    let v = decode_msgpack(&r.new_state.expect("state").msgpack, &bt).expect("state");
    assert_eq!(v.attr("status").and_then(Value::as_str), Some("completed"));
    assert_eq!(sim.count("POST /api/v2/vps/{id}/backups").await, 1);
    record(
        "Stop while idle (before/after Configure, twice)",
        "empty Stop.Response.Error; later plan and apply succeed",
    );
    u.plugin.assert_healthy("apply after idle Stops").await;
    u.plugin.shutdown().await;
}

/// Timeouts at the edges of what validation accepts reach the job wait without harm: the
/// longest accepted (999 999 999 s, about 31 years) and the shortest (1 ns) both end in a
/// well-formed answer with the job id in state (an instant job is seen complete on the first
/// poll even with 1 ns), and values past the limits are refused by validation.
#[tokio::test]
async fn extreme_timeouts_reach_the_job_wait_safely() {
    let sim = Sim::start(&["--job-duration", "0s"]).await;
    let mut u = Under::launch(&[]).await;
    let d = u.configure(&sim.url, KEY.into()).await;
    assert!(first_error(&d).is_none(), "{:?}", describe(&d));
    let bt = u.rt(BACKUP);
    let Type::Object(attrs) = &bt else {
        panic!("object")
    };
    let timeouts_ty = attrs.get("timeouts").expect("timeouts block").clone();
    for (create, vps) in [("999999999s", VPS_APP), ("1ns", VPS_PAYG)] {
        let timeouts = object(&timeouts_ty, &[("create", create.into())]);
        let cfg = object(&bt, &[("vps_id", vps.into()), ("timeouts", timeouts)]);
        let c = format!("ValidateResourceTypeConfig timeouts.create = {create:?}");
        let d = u.validate_resource(BACKUP, dv(&cfg, &bt)).await.expect(&c);
        assert!(d.is_empty(), "{c}: {:?}", describe(&d));
        let plan = u
            .plan(BACKUP, null_dv(), dv(&cfg, &bt), dv(&cfg, &bt))
            .await
            .expect("plan");
        assert!(
            plan.diagnostics.is_empty(),
            "{:?}",
            describe(&plan.diagnostics)
        );
        let c = format!("ApplyResourceChange with timeouts.create = {create:?}");
        let r = u
            .apply(BACKUP, null_dv(), plan.planned_state, dv(&cfg, &bt))
            .await
            .expect(&c);
        well_formed(&c, &r.diagnostics);
        let v = decode_msgpack(&r.new_state.expect("state").msgpack, &bt).expect("state");
        assert!(v.is_wholly_known(), "{c}");
        assert!(
            v.attr("job_id").and_then(Value::as_str).is_some(),
            "{c}: {v:?}"
        );
        let answer = match first_error(&r.diagnostics) {
            None => format!(
                "created, status {}",
                v.attr("status").and_then(Value::as_str).unwrap_or("?")
            ),
            Some(e) => format!("{} (job id in state)", e.summary),
        };
        if create == "999999999s" {
            assert!(
                r.diagnostics.is_empty(),
                "{c}: {:?}",
                describe(&r.diagnostics)
            );
        }
        record(&c, &answer);
        u.plugin.assert_healthy(&c).await;
    }
    for bad in ["1000000001s", "99999999999999999999h", "1e9s", "-1s", "0s"] {
        let timeouts = object(&timeouts_ty, &[("create", bad.into())]);
        let cfg = object(&bt, &[("vps_id", VPS_APP.into()), ("timeouts", timeouts)]);
        let c = format!("ValidateResourceTypeConfig timeouts.create = {bad:?}");
        let d = u.validate_resource(BACKUP, dv(&cfg, &bt)).await.expect(&c);
        record(&c, &expect_error(&c, &d));
    }
    u.plugin.assert_healthy("extreme timeouts").await;
    u.plugin.shutdown().await;
}

/// GRPCController.Shutdown while an apply is still waiting on HostUp (Terraform normally
/// sends Stop first): the process still exits cleanly and promptly instead of hanging on the
/// RPC in flight.
#[tokio::test]
async fn shutdown_with_an_rpc_in_flight_still_exits() {
    let sim = Sim::start(&["--job-duration", "1h"]).await;
    let u = Under::launch(&[]).await;
    let d = u.configure(&sim.url, KEY.into()).await;
    assert!(first_error(&d).is_none(), "{:?}", describe(&d));
    let bt = u.rt(BACKUP);
    let cfg = object(&bt, &[("vps_id", VPS_APP.into())]);
    let plan = u
        .plan(BACKUP, null_dv(), dv(&cfg, &bt), dv(&cfg, &bt))
        .await
        .expect("plan");
    let mut client = u.plugin.client();
    let (planned_dv, cfg_dv) = (plan.planned_state, dv(&cfg, &bt));
    let apply: InFlight<pb::apply_resource_change::Response> = tokio::spawn(async move {
        client
            .apply_resource_change(pb::apply_resource_change::Request {
                type_name: BACKUP.into(),
                prior_state: null_dv(),
                planned_state: planned_dv,
                config: cfg_dv,
                ..Default::default()
            })
            .await
            .map(tonic::Response::into_inner)
    });
    let deadline = tokio::time::Instant::now() + DEADLINE;
    while sim.count("POST /api/v2/vps/{id}/backups").await == 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the job was never queued"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // `shutdown` asserts a clean exit (status 0, no panic on stderr) within the deadline.
    u.plugin.shutdown().await;
    // The client side of the apply ends too (the connection is gone): no hang.
    let r = bounded("the apply after Shutdown", apply)
        .await
        .expect("task");
    record(
        "GRPCController.Shutdown with an ApplyResourceChange in flight",
        &format!(
            "process exits 0; the in-flight call ends with {}",
            match &r {
                Ok(_) => "a response".to_owned(),
                Err(s) => format!("status {:?}", s.code()),
            }
        ),
    );
}

/// Ctrl-C in a terminal signals the whole process group, the provider included, and Terraform
/// does not send Stop while `terraform apply` is still planning. The provider's own SIGINT acts
/// as Stop: a read hanging on HostUp ends at once with an error, and the process keeps serving.
#[tokio::test]
async fn sigint_to_the_provider_acts_as_stop_and_keeps_it_serving() {
    let mut hole = BlackHole::start().await;
    let mut u = Under::launch(&[]).await;
    let d = u.configure(&hole.url, KEY.into()).await;
    assert!(first_error(&d).is_none(), "{:?}", describe(&d));
    let st = u.dt(DATA_SNAPSHOTS);
    let client = u.plugin.client();
    let config = dv(&object(&st, &[("vps_id", VPS_APP.into())]), &st);
    let h: InFlight<Vec<pb::Diagnostic>> = tokio::spawn(async move {
        let mut client = client;
        client
            .read_data_source(pb::read_data_source::Request {
                type_name: DATA_SNAPSHOTS.into(),
                config,
                ..Default::default()
            })
            .await
            .map(|r| r.into_inner().diagnostics)
    });
    hole.hit("ReadDataSource").await;
    assert!(!h.is_finished(), "the read ended before SIGINT");
    let pid = libc::pid_t::try_from(u.plugin.pid()).expect("pid fits");
    // SAFETY: sending a signal to our own child process.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGINT) }, 0, "kill -INT");
    let c = "SIGINT during ReadDataSource (HostUp not answering)";
    let d = after_stop(c, h).await;
    let e = expect_error(c, &d);
    assert!(mentions_stop(&d), "{c}: {:?}", describe(&d));
    record(c, &e);
    // Still alive and serving: Terraform saves state and calls Shutdown afterwards.
    u.plugin.assert_healthy(c).await;
    u.plugin.shutdown().await;
}

/// Terraform killed with SIGKILL never calls Shutdown. The provider notices that its parent is
/// gone and exits instead of living on as an orphan.
#[test]
fn provider_exits_when_terraform_dies_without_shutdown() {
    use std::io::BufRead;
    // A stand-in for Terraform: a shell that starts the provider, prints its pid, and waits.
    let mut parent = std::process::Command::new("sh")
        .args(["-c", "\"$0\" & echo \"pid $!\"; wait"])
        .arg(env!("CARGO_BIN_EXE_terraform-provider-hostup"))
        .env(
            "TF_PLUGIN_MAGIC_COOKIE",
            hostup_provider::plugin::serve::MAGIC_COOKIE_VALUE,
        )
        .env("PLUGIN_PROTOCOL_VERSIONS", "5")
        .env_remove("PLUGIN_CLIENT_CERT")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn sh");
    let stdout = parent.stdout.take().expect("stdout");
    let mut lines = std::io::BufReader::new(stdout).lines();
    let (mut pid, mut handshake) = (None, false);
    while pid.is_none() || !handshake {
        let line = lines
            .next()
            .expect("the shell printed the pid and the provider its handshake")
            .expect("read line");
        if let Some(p) = line.strip_prefix("pid ") {
            pid = p.trim().parse::<libc::pid_t>().ok();
        } else if line.starts_with("1|5|tcp|") {
            handshake = true;
        }
    }
    let pid = pid.expect("provider pid");
    parent.kill().expect("SIGKILL the stand-in for Terraform");
    let _ = parent.wait();
    // Exited, or a zombie waiting for a reaper (the container's init may not reap).
    let gone = || {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|s| {
                s.rsplit_once(')')
                    .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'))
            })
            .unwrap_or(true)
    };
    let start = std::time::Instant::now();
    while !gone() && start.elapsed() < Duration::from_secs(15) {
        std::thread::sleep(Duration::from_millis(50));
    }
    let exited = gone();
    if !exited {
        // SAFETY: cleaning up the orphan this test created.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
    assert!(
        exited,
        "the provider {pid} outlived its parent by 15 s: {:?}",
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
    );
}
