//! Tests of the service over its RPC methods, with a toy provider.

use std::sync::Arc;

use tonic::{Request, Response};

use crate::plugin::framework::{
    ConfigureRequest, ConfigureResponse, CreateRequest, CreateResponse, Ctx, DataSource,
    DeleteRequest, DeleteResponse, Provider, ReadRequest, ReadResponse, Resource,
};
use crate::plugin::proto::tfplugin5 as pb;
use crate::plugin::proto::tfplugin5::provider_server::Provider as ProviderRpc;
use crate::plugin::schema::{Block, Schema};
use crate::plugin::value::{Type, Value};

/// Makes a protocol diagnostic list readable in test failures.
fn summaries(d: &[pb::Diagnostic]) -> Vec<String> {
    d.iter()
        .map(|d| format!("{}: {}", d.summary, d.detail))
        .collect()
}

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use super::*;
use crate::plugin::framework::timeouts;
use crate::plugin::schema::{Attribute, NestedBlock};
use crate::plugin::value::{decode_msgpack, encode_msgpack};

/// A provider with one resource, `toy_thing`, whose create for `name = "slow"` waits until
/// cancelled: enough to drive every RPC the way Terraform does.
struct Toy {
    started: Arc<AtomicUsize>,
}

struct Thing {
    started: Arc<AtomicUsize>,
}

#[async_trait::async_trait]
impl Provider for Toy {
    type Data = ();

    fn type_name_prefix(&self) -> &str {
        "toy"
    }

    fn schema(&self) -> Schema {
        Schema::new(Block::new().attribute(Attribute::string("region").optional()))
    }

    async fn configure(&self, _: &Ctx, _: ConfigureRequest, resp: &mut ConfigureResponse<()>) {
        resp.data = Some(());
    }

    fn resources(&self) -> Vec<Arc<dyn Resource<()>>> {
        vec![
            Arc::new(Thing {
                started: self.started.clone(),
            }),
            Arc::new(Login),
        ]
    }

    fn data_sources(&self) -> Vec<Arc<dyn DataSource<()>>> {
        Vec::new()
    }
}

#[async_trait::async_trait]
impl Resource<()> for Thing {
    fn type_name(&self) -> &str {
        "toy_thing"
    }

    fn schema(&self) -> Schema {
        Schema::new(
            Block::new()
                .attribute(Attribute::string("id").computed())
                .attribute(Attribute::string("name").required().requires_replace())
                .attribute(Attribute::map("tags", Type::String).optional())
                .block(NestedBlock::list(
                    "rule",
                    Block::new().attribute(Attribute::number("port").optional()),
                ))
                .block(timeouts::block(&["create"])),
        )
        .version(1)
    }

    async fn create(&self, ctx: &Ctx, req: CreateRequest<()>, resp: &mut CreateResponse) {
        let mut state = req.planned_state.clone();
        state.set_attr("id", "thing-1");
        resp.state = state;
        if req.planned_state.string("name") == Some("slow") {
            self.started.fetch_add(1, Ordering::SeqCst);
            let why = ctx.cancelled().await;
            resp.diagnostics.error(
                "Create interrupted",
                format!("thing-1 may still be running: {why}"),
            );
        }
    }

    async fn read(&self, _: &Ctx, _: ReadRequest<()>, _: &mut ReadResponse) {}

    async fn delete(&self, _: &Ctx, _: DeleteRequest<()>, _: &mut DeleteResponse) {}
}

fn service() -> (Arc<ProviderService<Toy>>, Arc<AtomicUsize>) {
    let started = Arc::new(AtomicUsize::new(0));
    let svc = ProviderService::new(Toy {
        started: started.clone(),
    });
    (Arc::new(svc), started)
}

fn thing_type(svc: &ProviderService<Toy>) -> Type {
    svc.resources["toy_thing"].info.ty.clone()
}

fn dv(v: &Value, ty: &Type) -> Option<pb::DynamicValue> {
    Some(pb::DynamicValue {
        msgpack: encode_msgpack(v, ty).expect("test value fits the schema"),
        json: Vec::new(),
    })
}

fn config(name: &str) -> Value {
    let mut m = std::collections::BTreeMap::new();
    m.insert("id".to_string(), Value::Null);
    m.insert("name".to_string(), name.into());
    m.insert("tags".to_string(), Value::Null);
    m.insert("rule".to_string(), Value::List(Vec::new()));
    m.insert("timeouts".to_string(), Value::Null);
    Value::Object(m)
}

#[tokio::test]
async fn schema_types_are_valid_type_json() {
    let (svc, _) = service();
    let resp = svc
        .get_schema(Request::new(pb::get_provider_schema::Request {}))
        .await
        .expect("GetSchema")
        .into_inner();
    let block = resp.resource_schemas["toy_thing"]
        .block
        .as_ref()
        .expect("block");
    let tags = block
        .attributes
        .iter()
        .find(|a| a.name == "tags")
        .expect("tags");
    assert_eq!(tags.r#type, br#"["map","string"]"#);
    for a in &block.attributes {
        Type::from_json(&a.r#type).expect("every attribute type parses back");
    }
}

#[tokio::test]
async fn plan_then_apply_create() {
    let (svc, _) = service();
    let ty = thing_type(&svc);
    let cfg = config("fast");
    let plan = svc
        .plan_resource_change(Request::new(pb::plan_resource_change::Request {
            type_name: "toy_thing".into(),
            prior_state: dv(&Value::Null, &ty),
            proposed_new_state: dv(&cfg, &ty),
            config: dv(&cfg, &ty),
            ..Default::default()
        }))
        .await
        .expect("plan")
        .into_inner();
    assert!(
        plan.diagnostics.is_empty(),
        "{:?}",
        summaries(&plan.diagnostics)
    );
    let planned_dv = plan.planned_state.expect("planned state");
    let planned = decode_msgpack(&planned_dv.msgpack, &ty).expect("planned decodes");
    assert!(
        !planned.attr("id").is_some_and(Value::is_known),
        "{planned:?}"
    );

    let apply = svc
        .apply_resource_change(Request::new(pb::apply_resource_change::Request {
            type_name: "toy_thing".into(),
            prior_state: dv(&Value::Null, &ty),
            planned_state: Some(planned_dv),
            config: dv(&cfg, &ty),
            ..Default::default()
        }))
        .await
        .expect("apply")
        .into_inner();
    assert!(
        apply.diagnostics.is_empty(),
        "{:?}",
        summaries(&apply.diagnostics)
    );
    let state = decode_msgpack(&apply.new_state.expect("state").msgpack, &ty).expect("decode");
    assert_eq!(state.attr("id").and_then(Value::as_str), Some("thing-1"));
    assert_eq!(state.attr("name").and_then(Value::as_str), Some("fast"));
}

#[tokio::test]
async fn upgrade_resource_state_refuses_json_that_is_not_an_object() {
    let (svc, _) = service();
    for (raw, kind) in [("null", "null"), ("[1]", "an array"), ("\"x\"", "a string")] {
        let resp = svc
            .upgrade_resource_state(Request::new(pb::upgrade_resource_state::Request {
                type_name: "toy_thing".into(),
                version: 0,
                raw_state: Some(pb::RawState {
                    json: raw.as_bytes().to_vec(),
                    flatmap: Default::default(),
                }),
            }))
            .await
            .expect("upgrade answers")
            .into_inner();
        assert!(resp.upgraded_state.is_none(), "{raw}");
        assert_eq!(resp.diagnostics.len(), 1, "{raw}");
        assert_eq!(resp.diagnostics[0].summary, "Invalid stored state", "{raw}");
        assert!(
            resp.diagnostics[0]
                .detail
                .contains(&format!("is JSON {kind}, not")),
            "{raw}: {}",
            resp.diagnostics[0].detail
        );
    }
}

#[tokio::test]
async fn upgrade_resource_state_from_json() {
    let (svc, _) = service();
    let ty = thing_type(&svc);
    // Written by an older version: no `rule` or `timeouts` blocks yet, and an attribute
    // that no longer exists.
    let raw = br#"{"id":"thing-9","name":"old","tags":{"a":"b"},"legacy":42}"#;
    let resp = svc
        .upgrade_resource_state(Request::new(pb::upgrade_resource_state::Request {
            type_name: "toy_thing".into(),
            version: 0,
            raw_state: Some(pb::RawState {
                json: raw.to_vec(),
                flatmap: Default::default(),
            }),
        }))
        .await
        .expect("upgrade")
        .into_inner();
    assert!(
        resp.diagnostics.is_empty(),
        "{:?}",
        summaries(&resp.diagnostics)
    );
    let upgraded = resp.upgraded_state.expect("upgraded state");
    assert!(upgraded.json.is_empty(), "responses are msgpack only");
    let v = decode_msgpack(&upgraded.msgpack, &ty).expect("msgpack of the current schema");
    assert_eq!(v.attr("id").and_then(Value::as_str), Some("thing-9"));
    assert_eq!(
        v.attr("tags"),
        Some(&Value::Map([("a".to_string(), Value::from("b"))].into()))
    );
    assert_eq!(
        v.attr("rule"),
        Some(&Value::List(Vec::new())),
        "absent LIST block"
    );
    assert_eq!(
        v.attr("timeouts"),
        Some(&Value::Null),
        "absent SINGLE block"
    );
    assert!(v.attr("legacy").is_none());

    // Broken JSON is a diagnostic, not a crash.
    let resp = svc
        .upgrade_resource_state(Request::new(pb::upgrade_resource_state::Request {
            type_name: "toy_thing".into(),
            version: 1,
            raw_state: Some(pb::RawState {
                json: br#"{"id": 5"#.to_vec(),
                flatmap: Default::default(),
            }),
        }))
        .await
        .expect("upgrade")
        .into_inner();
    assert!(resp.upgraded_state.is_none());
    assert!(
        summaries(&resp.diagnostics)
            .iter()
            .any(|d| d.contains("not valid JSON")),
        "{:?}",
        summaries(&resp.diagnostics)
    );
}

#[tokio::test]
async fn bad_msgpack_from_terraform_is_a_diagnostic() {
    let (svc, _) = service();
    let resp = svc
        .validate_resource_type_config(Request::new(pb::validate_resource_type_config::Request {
            type_name: "toy_thing".into(),
            config: Some(pb::DynamicValue {
                msgpack: vec![0x85, 0xa2, b'i'],
                json: Vec::new(),
            }),
            ..Default::default()
        }))
        .await
        .expect("validate")
        .into_inner();
    let s = summaries(&resp.diagnostics);
    assert!(s.iter().any(|d| d.contains("could not decode")), "{s:?}");
}

#[tokio::test]
async fn stop_cancels_operations_in_flight() {
    let (svc, started) = service();
    let ty = thing_type(&svc);
    let planned = |name: &str| {
        let mut v = config(name);
        if let Value::Object(m) = &mut v {
            m.insert("id".into(), Value::unknown());
        }
        v
    };
    let cfg = planned("slow");
    let apply = |svc: Arc<ProviderService<Toy>>, cfg: Value| {
        let ty = ty.clone();
        // The configuration has the computed id null (Terraform never sends unknowns in
        // an apply-time configuration); the plan has it unknown.
        let mut config = cfg.clone();
        if let Value::Object(m) = &mut config {
            m.insert("id".into(), Value::Null);
        }
        tokio::spawn(async move {
            svc.apply_resource_change(Request::new(pb::apply_resource_change::Request {
                type_name: "toy_thing".into(),
                prior_state: dv(&Value::Null, &ty),
                planned_state: dv(&cfg, &ty),
                config: dv(&config, &ty),
                ..Default::default()
            }))
            .await
            .map(Response::into_inner)
        })
    };
    let first = apply(svc.clone(), cfg.clone());
    let second = apply(svc.clone(), cfg.clone());
    // Wait (bounded) until both creates are blocked inside the resource.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while started.load(Ordering::SeqCst) < 2 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the creates never started"
        );
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let stop = svc
        .stop(Request::new(pb::stop::Request {}))
        .await
        .expect("stop")
        .into_inner();
    assert_eq!(stop.error, "");
    for h in [first, second] {
        let resp = tokio::time::timeout(Duration::from_secs(5), h)
            .await
            .expect("Stop ends the create within the bound")
            .expect("task")
            .expect("rpc");
        let s = summaries(&resp.diagnostics);
        assert!(
            s.iter().any(|d| d.contains("asked the provider to stop")),
            "{s:?}"
        );
        // The id was saved before the wait, so nothing is orphaned.
        let state = decode_msgpack(&resp.new_state.expect("state").msgpack, &ty).expect("decode");
        assert_eq!(state.attr("id").and_then(Value::as_str), Some("thing-1"));
    }
    // Operations after the Stop get a fresh context.
    let later = apply(svc.clone(), planned("fast"));
    let resp = tokio::time::timeout(Duration::from_secs(5), later)
        .await
        .expect("bounded")
        .expect("task")
        .expect("rpc");
    assert!(
        resp.diagnostics.is_empty(),
        "{:?}",
        summaries(&resp.diagnostics)
    );
}

/// A resource with write-only attributes (HostUp's schemas have none yet): `password` at the
/// top, `token` in each `key` block. Its plan and create copy them from the configuration, the
/// mistake the framework must absorb so that Terraform never sees a write-only value.
struct Login;

#[async_trait::async_trait]
impl Resource<()> for Login {
    fn type_name(&self) -> &str {
        "toy_login"
    }

    fn schema(&self) -> Schema {
        Schema::new(
            Block::new()
                .attribute(Attribute::string("id").computed())
                .attribute(Attribute::string("user").required())
                .attribute(Attribute::string("password").optional().write_only())
                .block(NestedBlock::list(
                    "key",
                    Block::new().attribute(Attribute::string("token").required().write_only()),
                )),
        )
    }

    async fn plan(
        &self,
        _: &Ctx,
        req: crate::plugin::framework::PlanRequest<()>,
        resp: &mut crate::plugin::framework::PlanResponse,
    ) {
        if let Some(pw) = req.config.string("password") {
            resp.planned_state.set_attr("password", pw);
        }
    }

    async fn create(&self, _: &Ctx, req: CreateRequest<()>, resp: &mut CreateResponse) {
        let mut state = req.config.clone();
        state.set_attr("id", "login-1");
        resp.state = state;
    }

    async fn read(&self, _: &Ctx, _: ReadRequest<()>, _: &mut ReadResponse) {}

    async fn delete(&self, _: &Ctx, _: DeleteRequest<()>, _: &mut DeleteResponse) {}
}

fn login(password: Value, tokens: &[&str]) -> Value {
    let keys = tokens
        .iter()
        .map(|t| Value::Object([("token".to_string(), Value::from(*t))].into()))
        .collect();
    Value::Object(
        [
            ("id".to_string(), Value::Null),
            ("user".to_string(), "ana".into()),
            ("password".to_string(), password),
            ("key".to_string(), Value::List(keys)),
        ]
        .into(),
    )
}

async fn validate_login(
    svc: &ProviderService<Toy>,
    config: &Value,
    write_only_allowed: Option<bool>,
) -> Vec<pb::Diagnostic> {
    let ty = svc.resources["toy_login"].info.ty.clone();
    svc.validate_resource_type_config(Request::new(pb::validate_resource_type_config::Request {
        type_name: "toy_login".into(),
        config: dv(config, &ty),
        client_capabilities: write_only_allowed.map(|w| pb::ClientCapabilities {
            write_only_attributes_allowed: w,
            ..Default::default()
        }),
    }))
    .await
    .expect("validate")
    .into_inner()
    .diagnostics
}

fn first_key(v: &Value) -> &Value {
    match v.attr("key") {
        Some(Value::List(xs)) if !xs.is_empty() => &xs[0],
        other => panic!("no key block in {other:?}"),
    }
}

fn path_of(d: &pb::Diagnostic) -> crate::plugin::diag::AttributePath {
    crate::plugin::diag::AttributePath::from(d.attribute.as_ref().expect("a path"))
}

#[tokio::test]
async fn write_only_values_are_refused_by_a_terraform_that_cannot_hold_them() {
    let (svc, _) = service();
    let set = login("s3cret".into(), &["t0", "t1"]);
    // Terraform < 1.11 sends no capabilities; a client may also send them with the flag off.
    for caps in [None, Some(false)] {
        let d = validate_login(&svc, &set, caps).await;
        let paths: Vec<String> = d.iter().map(|d| path_of(d).to_string()).collect();
        assert_eq!(
            paths,
            ["password", "key[0].token", "key[1].token"],
            "{caps:?}"
        );
        for d in &d {
            assert_eq!(d.severity, pb::diagnostic::Severity::Error as i32);
            assert_eq!(d.summary, "Write-only attribute needs Terraform 1.11");
            assert!(
                d.detail.contains("Upgrade Terraform to 1.11 or later"),
                "{}",
                d.detail
            );
        }
    }
    // Unknown is a value to come, so it is refused too; null is no value.
    let d = validate_login(&svc, &login(Value::unknown(), &[]), None).await;
    assert_eq!(d.len(), 1, "{:?}", summaries(&d));
    let d = validate_login(&svc, &login(Value::Null, &[]), None).await;
    assert!(d.is_empty(), "{:?}", summaries(&d));
    // Terraform >= 1.11 announces the capability: the same values are fine.
    let d = validate_login(&svc, &set, Some(true)).await;
    assert!(d.is_empty(), "{:?}", summaries(&d));
}

#[tokio::test]
async fn write_only_values_never_reach_plan_or_state() {
    let (svc, _) = service();
    let ty = svc.resources["toy_login"].info.ty.clone();
    let cfg = login("s3cret".into(), &["t0"]);
    let plan = svc
        .plan_resource_change(Request::new(pb::plan_resource_change::Request {
            type_name: "toy_login".into(),
            prior_state: dv(&Value::Null, &ty),
            proposed_new_state: dv(&cfg, &ty),
            config: dv(&cfg, &ty),
            ..Default::default()
        }))
        .await
        .expect("plan")
        .into_inner();
    assert!(
        plan.diagnostics.is_empty(),
        "{:?}",
        summaries(&plan.diagnostics)
    );
    let planned_dv = plan.planned_state.expect("planned state");
    let planned = decode_msgpack(&planned_dv.msgpack, &ty).expect("decode");
    assert_eq!(planned.attr("password"), Some(&Value::Null), "{planned:?}");
    let key = first_key(&planned);
    assert_eq!(key.attr("token"), Some(&Value::Null), "{planned:?}");

    let apply = svc
        .apply_resource_change(Request::new(pb::apply_resource_change::Request {
            type_name: "toy_login".into(),
            prior_state: dv(&Value::Null, &ty),
            planned_state: Some(planned_dv),
            config: dv(&cfg, &ty),
            ..Default::default()
        }))
        .await
        .expect("apply")
        .into_inner();
    assert!(
        apply.diagnostics.is_empty(),
        "{:?}",
        summaries(&apply.diagnostics)
    );
    let state = decode_msgpack(&apply.new_state.expect("state").msgpack, &ty).expect("decode");
    assert_eq!(state.attr("id").and_then(Value::as_str), Some("login-1"));
    assert_eq!(state.attr("password"), Some(&Value::Null), "{state:?}");
    let key = first_key(&state);
    assert_eq!(key.attr("token"), Some(&Value::Null), "{state:?}");
}

/// Terraform >= 1.6 asks only the first process of a command for the schema (the provider
/// declares get_provider_schema_optional): a fresh process must serve Configure, Plan and
/// Apply as its first RPCs.
#[tokio::test]
async fn a_process_never_asked_for_its_schema_configures_plans_and_applies() {
    let (svc, _) = service();
    let caps = svc
        .schema_response
        .server_capabilities
        .expect("capabilities");
    assert!(caps.get_provider_schema_optional);
    let provider_ty = svc.provider_schema.ty.clone();
    let region = Value::Object([("region".to_string(), Value::from("se"))].into());
    let configured = svc
        .configure(Request::new(pb::configure::Request {
            terraform_version: "1.11.4".into(),
            config: dv(&region, &provider_ty),
            ..Default::default()
        }))
        .await
        .expect("configure")
        .into_inner();
    assert!(
        configured.diagnostics.is_empty(),
        "{:?}",
        summaries(&configured.diagnostics)
    );
    assert!(
        svc.provider_data().get().is_some(),
        "configure produced the provider data"
    );
    let ty = thing_type(&svc);
    let cfg = config("fast");
    let plan = svc
        .plan_resource_change(Request::new(pb::plan_resource_change::Request {
            type_name: "toy_thing".into(),
            prior_state: dv(&Value::Null, &ty),
            proposed_new_state: dv(&cfg, &ty),
            config: dv(&cfg, &ty),
            ..Default::default()
        }))
        .await
        .expect("plan")
        .into_inner();
    assert!(
        plan.diagnostics.is_empty(),
        "{:?}",
        summaries(&plan.diagnostics)
    );
    let apply = svc
        .apply_resource_change(Request::new(pb::apply_resource_change::Request {
            type_name: "toy_thing".into(),
            prior_state: dv(&Value::Null, &ty),
            planned_state: plan.planned_state,
            config: dv(&cfg, &ty),
            ..Default::default()
        }))
        .await
        .expect("apply")
        .into_inner();
    assert!(
        apply.diagnostics.is_empty(),
        "{:?}",
        summaries(&apply.diagnostics)
    );
    let state = decode_msgpack(&apply.new_state.expect("state").msgpack, &ty).expect("decode");
    assert_eq!(state.attr("id").and_then(Value::as_str), Some("thing-1"));
}
