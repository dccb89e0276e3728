//! The catalogue of messages: every kind of diagnostic the provider and its client produce,
//! each triggered for real (the resources and data sources against the in-process hostup-sim
//! over HTTP on 127.0.0.1, the provider block through its own validate and configure), held
//! to the project's message style (docs/MESSAGES.md) by [`style_faults`], and written into
//! docs/MESSAGES.md between its markers so that a change of text shows in review.
//!
//! A few entries are built directly, each saying why (the simulator's closed gates always
//! carry a code, so a gate without one cannot be asked of it).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::hostup::Gate;
use crate::plugin::diag::{AttributePath, Diagnostic, Diagnostics, Severity};
use crate::plugin::framework::{
    Action, Ctx, DataSource, DeleteRequest, DeleteResponse, ImportRequest, ImportResponse,
    InvokeActionRequest, InvokeActionResponse, ObjectValue, PlanActionRequest, PlanActionResponse,
    PlanDestroyRequest, PlanDestroyResponse, PlanRequest, PlanResponse, Private, Progress,
    ProviderData, ReadDataSourceRequest, ReadDataSourceResponse, ReadRequest, ReadResponse,
    Resource, SchemaInfo, ValidateRequest, ValidateResponse,
};
use crate::plugin::value::{Number, Value};
use crate::sim::{fixture, ApiKey};

use super::action_vps_backup::VpsBackupAction;
use super::action_vps_backup_restore::VpsBackupRestoreAction;
use super::action_vps_snapshot::VpsSnapshotAction;
use super::action_vps_snapshot_restore::VpsSnapshotRestoreAction;
use super::config::{self, HostupConfig};
use super::data::HostupData;
use super::data_vps::VpsData;
use super::data_vps_restore_sources::VpsRestoreSources;
use super::data_vps_snapshots::VpsSnapshots;
use super::errors::{self, Subject};
use super::resource_vps_backup::VpsBackup;
use super::resource_vps_backup_restore::VpsBackupRestore;
use super::resource_vps_backup_schedule::VpsBackupSchedule;
use super::resource_vps_backup_settings::VpsBackupSettings;
use super::resource_vps_snapshot::VpsSnapshot;
use super::resource_vps_snapshot_restore::VpsSnapshotRestore;
use super::resource_vps_snapshot_schedule::VpsSnapshotSchedule;
use super::sim_tests::{backup_config, config_of, create, fast, plan, Env};

const DOC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/MESSAGES.md");
const BEGIN: &str = "<!-- catalogue:begin -->";
const END: &str = "<!-- catalogue:end -->";

/// A VPS id of HostUp's form that the simulator does not have.
const VPS_UNKNOWN: &str = "vps_01hxa3b4c5d6e7f8g9h0j1k2zz";

type Run = Pin<Box<dyn Future<Output = Outcome> + Send>>;

/// What a case produced: its diagnostics, and the sim's base URL (masked in the page).
struct Outcome {
    diags: Vec<Diagnostic>,
    base_url: Option<String>,
}

impl Outcome {
    fn of(d: &Diagnostics, env: Option<&Env>) -> Self {
        Outcome {
            diags: d.iter().cloned().collect(),
            base_url: env.map(|e| e.sim.base_url()),
        }
    }
}

/// One entry of the catalogue.
struct Case {
    /// Short name (the page's heading).
    name: &'static str,
    /// What triggers it, in a user's words.
    trigger: &'static str,
    /// Text the messages must not contain for this case (e.g. an env var that was not the
    /// source of the setting).
    forbid: &'static [&'static str],
    run: Run,
}

fn case(
    name: &'static str,
    trigger: &'static str,
    forbid: &'static [&'static str],
    run: impl Future<Output = Outcome> + Send + 'static,
) -> Case {
    Case {
        name,
        trigger,
        forbid,
        run: Box::pin(run),
    }
}

/// Provider data whose client talks to `endpoint` (with an optional per-attempt timeout).
fn data_at(
    endpoint: &str,
    key: &str,
    request_timeout: Option<Duration>,
) -> ProviderData<HostupData> {
    let config = HostupConfig {
        api_key: key.to_owned(),
        endpoint: url::Url::parse(endpoint).expect("endpoint"),
        terraform_version: "test".into(),
        plan_checks: Default::default(),
        request_timeout,
        sources: Default::default(),
    };
    let client = super::build_client(&config).expect("client");
    ProviderData::new(Some(Arc::new(HostupData {
        config,
        client,
        run: Default::default(),
    })))
}

/// The provider block's validate, then (if it passed) configure with `env`.
fn provider(attrs: &[(&str, Value)], env: &'static [(&'static str, &'static str)]) -> Outcome {
    let cfg = config_of(config::schema(), attrs);
    let mut d = Diagnostics::new();
    config::validate(&cfg, &mut d);
    if !d.has_errors() {
        let env = |name: &str| {
            env.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        };
        let _ = config::configure(&cfg, "1.11.4", &env, &mut d);
    }
    Outcome::of(&d, None)
}

async fn validate<R: Resource<HostupData>>(r: &R, attrs: Vec<(&str, Value)>) -> Outcome {
    let mut resp = ValidateResponse::default();
    let req = ValidateRequest {
        config: config_of(r.schema(), &attrs),
    };
    r.validate(&Ctx::background(), req, &mut resp).await;
    Outcome::of(&resp.diagnostics, None)
}

async fn read_data<D: DataSource<HostupData>>(
    d: &D,
    data: ProviderData<HostupData>,
    attrs: &[(&str, Value)],
) -> Diagnostics {
    let cfg = config_of(d.schema(), attrs);
    let mut resp = ReadDataSourceResponse {
        state: cfg.clone(),
        diagnostics: Diagnostics::new(),
    };
    let req = ReadDataSourceRequest {
        config: cfg,
        provider: data,
    };
    d.read(&Ctx::background(), req, &mut resp).await;
    resp.diagnostics
}

/// The snapshot list of app-01 read through a client at `endpoint`.
async fn list_at(endpoint: &str, timeout: Option<Duration>, env: Option<&Env>) -> Outcome {
    let data = data_at(endpoint, fixture::KEY_TEST, timeout);
    let d = read_data(&VpsSnapshots, data, &[("vps_id", fixture::VPS_APP.into())]).await;
    Outcome::of(&d, env)
}

/// The snapshot list of app-01 while the sim answers with `faults`.
async fn list_with_faults(faults: serde_json::Value) -> Outcome {
    let env = Env::start(fast()).await;
    env.faults(faults).await;
    let url = env.sim.base_url();
    list_at(&url, None, Some(&env)).await
}

/// The plan of `r` for `cfg`, with the test key.
async fn plan_of<R: Resource<HostupData>>(r: R, cfg: ObjectValue) -> Outcome {
    let env = Env::start(fast()).await;
    let p = plan(&r, &env.data(fixture::KEY_TEST), &cfg).await;
    Outcome::of(&p.diagnostics, Some(&env))
}

async fn plan_backup(vps: &str, key: &str) -> Outcome {
    let env = Env::start(fast()).await;
    let d = plan(&VpsBackup, &env.data(key), &backup_config(vps)).await;
    Outcome::of(&d.diagnostics, Some(&env))
}

/// A backup created (plan skipped) while the sim has `faults`, with `timeouts.create`.
async fn create_backup_with(faults: serde_json::Value, timeout: Option<&str>) -> Outcome {
    let env = Env::start(fast()).await;
    env.faults(faults).await;
    let mut cfg = backup_config(fixture::VPS_APP);
    if let Some(t) = timeout {
        cfg = with_timeouts(cfg, &[("create", t)]);
    }
    let r = create(
        &VpsBackup,
        &Ctx::background(),
        &env.data(fixture::KEY_TEST),
        &cfg,
    )
    .await;
    Outcome::of(&r.diagnostics, Some(&env))
}

/// `c` with the given operations of its `timeouts` block set (the others null).
fn with_timeouts(mut c: ObjectValue, set: &[(&str, &str)]) -> ObjectValue {
    let ops: Vec<String> = c
        .schema()
        .block
        .blocks
        .iter()
        .find(|b| b.type_name == "timeouts")
        .map_or_else(Vec::new, |b| {
            b.block.attributes.iter().map(|a| a.name.clone()).collect()
        });
    let value = Value::Object(
        ops.into_iter()
            .map(|op| {
                let v = set
                    .iter()
                    .find(|(k, _)| *k == op)
                    .map_or(Value::Null, |(_, t)| Value::from(*t));
                (op, v)
            })
            .collect(),
    );
    c.set_attr("timeouts", value);
    c
}

fn snapshot_config(vps: &str, name: &str) -> ObjectValue {
    config_of(
        VpsSnapshot.schema(),
        &[("vps_id", vps.into()), ("name", name.into())],
    )
}

fn restore_config(vps: &str, snapshot: &str) -> ObjectValue {
    config_of(
        VpsSnapshotRestore.schema(),
        &[("vps_id", vps.into()), ("snapshot_name", snapshot.into())],
    )
}

/// Starts `create` of `r` with `cfg` on a stuck job, and stops it (as Terraform's Stop does)
/// once the job has been polled once.
async fn stopped<R: Resource<HostupData>>(r: R, cfg: ObjectValue) -> Outcome {
    let env = Env::start(fast()).await;
    env.faults(json!({"jobs":{"stuckNext":1}})).await;
    let data = env.data(fixture::KEY_TEST);
    let token = CancellationToken::new();
    let ctx = Ctx::new(token.clone(), None);
    let task = tokio::spawn(async move { create(&r, &ctx, &data, &cfg).await });
    // Two answered polls: the client sent the second only after reading the first, so
    // the error says what the job was last seen doing (one answered poll may still be
    // unread when Stop comes, and the text then depends on timing).
    until_polled(&env, 2).await;
    token.cancel();
    let resp = task.await.expect("create task");
    Outcome::of(&resp.diagnostics, Some(&env))
}

/// Returns once the sim has answered `n` job polls (or after 20 s, and the case then shows
/// whatever came of it).
async fn until_polled(env: &Env, n: u64) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while env.count("GET /api/jobs/{jobId}").await < n && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn read_resource<R: Resource<HostupData>>(
    r: &R,
    data: ProviderData<HostupData>,
    state: ObjectValue,
) -> ReadResponse {
    let mut resp = ReadResponse {
        state: Some(state.clone()),
        private: Private::new(),
        diagnostics: Diagnostics::new(),
    };
    let req = ReadRequest {
        current_state: state,
        private: Private::new(),
        provider: data,
    };
    r.read(&Ctx::background(), req, &mut resp).await;
    resp
}

/// `r` imported from `id` with `data`.
async fn imported<R: Resource<HostupData>>(
    r: &R,
    id: &str,
    data: ProviderData<HostupData>,
) -> ImportResponse {
    let mut resp = ImportResponse {
        state: ObjectValue::empty(SchemaInfo::new(r.schema())),
        private: Private::new(),
        diagnostics: Diagnostics::new(),
    };
    let req = ImportRequest {
        id: id.to_owned(),
        provider: data,
    };
    r.import(&Ctx::background(), req, &mut resp).await;
    resp
}

/// The fixture's snapshot of app-01, imported.
async fn fixture_snapshot(data: &ProviderData<HostupData>) -> ObjectValue {
    let id = format!("{}/{}", fixture::VPS_APP, fixture::SNAPSHOT_APP);
    imported(&VpsSnapshot, &id, data.clone()).await.state
}

async fn import<R: Resource<HostupData>>(r: &R, id: &str) -> Outcome {
    let env = Env::start(fast()).await;
    let resp = imported(r, id, env.data(fixture::KEY_TEST)).await;
    Outcome::of(&resp.diagnostics, Some(&env))
}

fn gate(reason: Option<&str>, code: Option<&str>) -> Gate {
    Gate {
        allowed: false,
        reason: reason.map(str::to_owned),
        code: code.map(str::to_owned),
    }
}

fn direct(d: Diagnostic) -> Outcome {
    Outcome {
        diags: vec![d],
        base_url: None,
    }
}

fn s(v: &str) -> Value {
    Value::from(v)
}

fn n(v: f64) -> Value {
    Value::Number(Number::from(v))
}

/// A key with the scopes the provider needed before the schedules (`read:vm`, `backup:vm`)
/// but not `write:vm`.
const KEY_NO_WRITE: &str = "backup-read-key";

/// A simulator that also knows [`KEY_NO_WRITE`].
async fn env_with_key_without_write() -> Env {
    Env::start(fast().with_key(ApiKey::new(KEY_NO_WRITE, &["read:vm", "backup:vm"]))).await
}

/// What Terraform proposes: `config` with the computed-only attributes of `prior` (unknown on a
/// create).
fn proposed(config: &ObjectValue, prior: Option<&ObjectValue>) -> ObjectValue {
    let mut p = config.clone();
    let computed: Vec<String> = config
        .schema()
        .block
        .attributes
        .iter()
        .filter(|a| a.computed && !a.optional)
        .map(|a| a.name.clone())
        .collect();
    for c in computed {
        let v = prior.map_or_else(Value::unknown, |pr| pr.attr(&c).clone());
        p.set_attr(&c, v);
    }
    p
}

/// The plan of `r` for `config`, from `prior` (an update) or from nothing (a create).
async fn plan_from<R: Resource<HostupData>>(
    r: &R,
    data: &ProviderData<HostupData>,
    prior: Option<&ObjectValue>,
    config: &ObjectValue,
) -> PlanResponse {
    let planned = proposed(config, prior);
    let mut resp = PlanResponse {
        planned_state: planned.clone(),
        requires_replace: Vec::new(),
        planned_private: Private::new(),
        diagnostics: Diagnostics::new(),
    };
    let req = PlanRequest {
        prior_state: prior.cloned(),
        proposed_new_state: planned,
        config: config.clone(),
        prior_private: Private::new(),
        provider: data.clone(),
    };
    r.plan(&Ctx::background(), req, &mut resp).await;
    resp
}

/// The plan of a change of what `import_id` imports into `config`.
async fn plan_change<R: Resource<HostupData>>(
    r: R,
    import_id: &str,
    config: ObjectValue,
) -> Outcome {
    let env = Env::start(fast()).await;
    let data = env.data(fixture::KEY_TEST);
    let prior = imported(&r, import_id, data.clone()).await.state;
    let p = plan_from(&r, &data, Some(&prior), &config).await;
    Outcome::of(&p.diagnostics, Some(&env))
}

/// The second of two resources of `cfg` planned in one run (the first claims the VPS).
async fn planned_twice<R: Resource<HostupData>>(r: R, cfg: ObjectValue) -> Outcome {
    let env = Env::start(fast()).await;
    let data = env.data(fixture::KEY_TEST);
    let _ = plan(&r, &data, &cfg).await;
    let p = plan(&r, &data, &cfg).await;
    Outcome::of(&p.diagnostics, Some(&env))
}

/// A plan of `cfg` with `key`.
async fn plan_with_key<R: Resource<HostupData>>(r: R, cfg: ObjectValue, key: &str) -> Outcome {
    let env = Env::start(fast()).await;
    let p = plan(&r, &env.data(key), &cfg).await;
    Outcome::of(&p.diagnostics, Some(&env))
}

/// The destroy plan of what `import_id` imports.
async fn destroy_plan<R: Resource<HostupData>>(r: R, import_id: &str) -> Outcome {
    let env = Env::start(fast()).await;
    let data = env.data(fixture::KEY_TEST);
    let state = imported(&r, import_id, data.clone()).await.state;
    let mut resp = PlanDestroyResponse {
        planned_private: Private::new(),
        diagnostics: Diagnostics::new(),
    };
    let req = PlanDestroyRequest {
        prior_state: state,
        prior_private: Private::new(),
        provider: data,
    };
    r.plan_destroy(&Ctx::background(), req, &mut resp).await;
    Outcome::of(&resp.diagnostics, Some(&env))
}

/// A refresh of `state` (built from `attrs`).
async fn refresh<R: Resource<HostupData>>(r: R, attrs: Vec<(&str, Value)>) -> Outcome {
    let env = Env::start(fast()).await;
    let state = config_of(r.schema(), &attrs);
    let resp = read_resource(&r, env.data(fixture::KEY_TEST), state).await;
    Outcome::of(&resp.diagnostics, Some(&env))
}

/// `cfg` created (plan skipped) with [`KEY_NO_WRITE`].
async fn create_without_write<R: Resource<HostupData>>(r: R, cfg: ObjectValue) -> Outcome {
    let env = env_with_key_without_write().await;
    let resp = create(&r, &Ctx::background(), &env.data(KEY_NO_WRITE), &cfg).await;
    Outcome::of(&resp.diagnostics, Some(&env))
}

/// What `import_id` imports, destroyed with [`KEY_NO_WRITE`].
async fn delete_without_write<R: Resource<HostupData>>(r: R, import_id: &str) -> Outcome {
    let env = env_with_key_without_write().await;
    let state = imported(&r, import_id, env.data(fixture::KEY_TEST))
        .await
        .state;
    let mut resp = DeleteResponse::default();
    let req = DeleteRequest {
        prior_state: state,
        prior_private: Private::new(),
        provider: env.data(KEY_NO_WRITE),
    };
    r.delete(&Ctx::background(), req, &mut resp).await;
    Outcome::of(&resp.diagnostics, Some(&env))
}

/// `base` with `over` set (a key of `base` replaced, a null removes it).
fn attrs_with(
    base: &[(&'static str, Value)],
    over: &[(&'static str, Value)],
) -> Vec<(&'static str, Value)> {
    let mut v: Vec<(&'static str, Value)> = base
        .iter()
        .filter(|(k, _)| !over.iter().any(|(o, _)| o == k))
        .cloned()
        .collect();
    v.extend(over.iter().filter(|(_, x)| !x.is_null()).cloned());
    v
}

fn snapshot_schedule_config(vps: &str, hours: f64) -> ObjectValue {
    config_of(
        VpsSnapshotSchedule.schema(),
        &[("vps_id", vps.into()), ("interval_hours", n(hours))],
    )
}

/// A daily schedule at 02:00 keeping 7 on `vps`, with `over` set.
fn backup_schedule_attrs(vps: &str, over: &[(&'static str, Value)]) -> Vec<(&'static str, Value)> {
    let base = [
        ("vps_id", s(vps)),
        ("frequency", s("daily")),
        ("hour", n(2.0)),
        ("retention_count", n(7.0)),
    ];
    attrs_with(&base, over)
}

fn backup_schedule_config(vps: &str, over: &[(&'static str, Value)]) -> ObjectValue {
    config_of(
        VpsBackupSchedule.schema(),
        &backup_schedule_attrs(vps, over),
    )
}

fn backup_restore_config(vps: &str, backup: &str, source: Option<&str>) -> ObjectValue {
    let mut attrs = vec![("vps_id", s(vps)), ("backup_id", s(backup))];
    if let Some(src) = source {
        attrs.push(("source_vps_id", s(src)));
    }
    config_of(VpsBackupRestore.schema(), &attrs)
}

/// A backup restore applied (plan skipped) with `key` while the sim has `faults`.
async fn create_backup_restore(
    cfg: ObjectValue,
    key: &'static str,
    faults: serde_json::Value,
) -> Outcome {
    let env = Env::start(fast()).await;
    env.faults(faults).await;
    let r = create(&VpsBackupRestore, &Ctx::background(), &env.data(key), &cfg).await;
    Outcome::of(&r.diagnostics, Some(&env))
}

fn backup_settings_config(vps: &str, max: Option<f64>, auto: Option<bool>) -> ObjectValue {
    let mut attrs = vec![("vps_id", s(vps))];
    if let Some(m) = max {
        attrs.push(("max_total_backups", n(m)));
    }
    if let Some(a) = auto {
        attrs.push(("auto_delete_oldest", Value::from(a)));
    }
    config_of(VpsBackupSettings.schema(), &attrs)
}

fn cases() -> Vec<Case> {
    let mut all = vec![
        // --- The provider block and the environment.
        case(
            "No API key",
            "no `api_key` in the provider block and `HOSTUP_API_KEY` unset",
            &[],
            async { provider(&[], &[]) },
        ),
        case(
            "Empty api_key and endpoint are unset",
            "`api_key = \"\"` and `endpoint = \"\"` (e.g. a variable defaulting to \"\") with both \
             environment variables unset: the key is missing, nothing is said of the empty strings",
            &["Empty"],
            async { provider(&[("api_key", s("")), ("endpoint", s(""))], &[]) },
        ),
        case(
            "Endpoint without scheme",
            "`endpoint = \"localhost:8080\"`",
            &["relative URL", "scheme \"localhost\""],
            async { provider(&[("api_key", s("k")), ("endpoint", s("localhost:8080"))], &[]) },
        ),
        case(
            "Endpoint without scheme, remote host",
            "`endpoint = \"cloud.hostup.se\"`",
            &[],
            async { provider(&[("api_key", s("k")), ("endpoint", s("cloud.hostup.se"))], &[]) },
        ),
        case(
            "Endpoint that is a path",
            "`endpoint = \"/foo\"`",
            &["api_key"],
            async { provider(&[("api_key", s("k")), ("endpoint", s("/foo"))], &[]) },
        ),
        case(
            "Plain HTTP to a remote host, from the block",
            "`endpoint = \"http://cloud.example.com\"`",
            &["HOSTUP_ENDPOINT"],
            async {
                provider(
                    &[("api_key", s("k")), ("endpoint", s("http://cloud.example.com"))],
                    &[],
                )
            },
        ),
        case(
            "Plain HTTP to a remote host, from the environment",
            "`HOSTUP_ENDPOINT=http://cloud.example.com`, no `endpoint` in the block",
            &[],
            async {
                provider(
                    &[("api_key", s("k"))],
                    &[("HOSTUP_ENDPOINT", "http://cloud.example.com")],
                )
            },
        ),
        case(
            "Credentials in the endpoint",
            "`endpoint = \"https://user:secret@cloud.hostup.se\"`",
            &["secret"],
            async {
                provider(
                    &[
                        ("api_key", s("k")),
                        ("endpoint", s("https://user:secret@cloud.hostup.se")),
                    ],
                    &[],
                )
            },
        ),
        case(
            "HOSTUP_REQUEST_TIMEOUT is not a duration",
            "`HOSTUP_REQUEST_TIMEOUT=soon`",
            &[],
            async { provider(&[("api_key", s("k"))], &[("HOSTUP_REQUEST_TIMEOUT", "soon")]) },
        ),
        case(
            "HOSTUP_REQUEST_TIMEOUT is zero",
            "`HOSTUP_REQUEST_TIMEOUT=0s`",
            &[],
            async { provider(&[("api_key", s("k"))], &[("HOSTUP_REQUEST_TIMEOUT", "0s")]) },
        ),
        case(
            "plan_checks is not a mode",
            "`plan_checks = \"fast\"` (with `HOSTUP_PLAN_CHECKS` set too: the block wins)",
            &["HOSTUP_PLAN_CHECKS"],
            async {
                provider(
                    &[("api_key", s("k")), ("plan_checks", s("fast"))],
                    &[("HOSTUP_PLAN_CHECKS", "warn")],
                )
            },
        ),
        case(
            "HOSTUP_PLAN_CHECKS is not a mode",
            "`HOSTUP_PLAN_CHECKS=loud`, no `plan_checks` in the block",
            &["plan_checks = \"loud\""],
            async { provider(&[("api_key", s("k"))], &[("HOSTUP_PLAN_CHECKS", "loud")]) },
        ),
        // --- Arguments, offline at `terraform validate`.
        case(
            "vps_id blank",
            "`vps_id = \"\"`",
            &[],
            validate(&VpsBackup, vec![("vps_id", s(""))]),
        ),
        case(
            "vps_id with surrounding spaces",
            "`vps_id = \" vps_01hxa3b4c5d6e7f8g9h0j1k2m3\\n\"` (e.g. from a file read with `file()`)",
            &[],
            validate(
                &VpsBackup,
                vec![("vps_id", s(" vps_01hxa3b4c5d6e7f8g9h0j1k2m3\n"))],
            ),
        ),
        case(
            "vps_id is an IP address",
            "`vps_id = \"192.0.2.10\"`",
            &[],
            validate(&VpsSnapshot, vec![("vps_id", s("192.0.2.10")), ("name", s("a"))]),
        ),
        case(
            "vps_id is a name",
            "`vps_id = \"app-01\"`",
            &[],
            validate(&VpsSnapshotRestore, vec![("vps_id", s("app-01")), ("snapshot_name", s("a"))]),
        ),
        case(
            "vps_id of an unusual form",
            "`vps_id = \"vps_APP\"` (a warning: HostUp's ids may take other forms)",
            &[],
            validate(&VpsBackup, vec![("vps_id", s("vps_APP"))]),
        ),
        case(
            "Snapshot name HostUp would refuse",
            "`name = \"Pre Deploy!\"`",
            &[],
            validate(
                &VpsSnapshot,
                vec![("vps_id", s(fixture::VPS_APP)), ("name", s("Pre Deploy!"))],
            ),
        ),
        case(
            "A timeout that is not a duration",
            "`timeouts { create = \"soon\" }`",
            &[],
            async {
                let cfg = with_timeouts(backup_config(fixture::VPS_APP), &[("create", "soon")]);
                let mut resp = ValidateResponse::default();
                VpsBackup
                    .validate(&Ctx::background(), ValidateRequest { config: cfg }, &mut resp)
                    .await;
                Outcome::of(&resp.diagnostics, None)
            },
        ),
        // --- Reaching HostUp.
        case(
            "Nothing listens at the endpoint",
            "`endpoint = \"http://127.0.0.1:1\"` in the provider block (connection refused)",
            &["os error", "client error", "tcp connect", "HOSTUP_ENDPOINT"],
            list_at("http://127.0.0.1:1", None, None),
        ),
        case(
            "https:// to a plain-HTTP server",
            "`endpoint = \"https://127.0.0.1:PORT\"` where hostup-sim speaks plain HTTP",
            &["InvalidContentType", "corrupt message"],
            async {
                let env = Env::start(fast()).await;
                let url = env.sim.base_url().replacen("http://", "https://", 1);
                list_at(&url, None, Some(&env)).await
            },
        ),
        case(
            "Connection reset on every attempt",
            "every GET answered by a TCP reset (`reset` fault)",
            &["os error", "client error"],
            list_with_faults(json!({"rules":[{"kind":"reset"}]})),
        ),
        case(
            "An HTML error page",
            "every GET answered by a proxy's HTML 502 page (`html502` fault)",
            &["<html", "\r"],
            list_with_faults(json!({"rules":[{"kind":"html502"}]})),
        ),
        case(
            "HostUp fails (5xx) on every attempt",
            "every GET answered 503 (`error` fault)",
            &[],
            list_with_faults(json!({"rules":[{"kind":"error","status":503}]})),
        ),
        case(
            "A body cut short",
            "every GET answered with half its body (`truncate` fault)",
            &[],
            list_with_faults(json!({"rules":[{"kind":"truncate"}]})),
        ),
        case(
            "No answer in time",
            "each attempt slower than the 200 ms request timeout (`HOSTUP_REQUEST_TIMEOUT=200ms`, \
             latency 1 s)",
            &[],
            async {
                let env = Env::start(fast()).await;
                env.faults(json!({"rules":[{"kind":"latency","ms":1000}]})).await;
                let url = env.sim.base_url();
                list_at(&url, Some(Duration::from_millis(200)), Some(&env)).await
            },
        ),
        case(
            "Still rate limited after the retries",
            "every request answered 429 with `Retry-After: 1`",
            &["Too many requests: Too many requests"],
            list_with_faults(json!({"rules":[{"kind":"rateLimit","retryAfter":1}]})),
        ),
        // --- HostUp's answers.
        case(
            "Unknown VPS",
            "`vps_id` of HostUp's form that the account does not have",
            &["data[]", "/api/v2/vps ("],
            plan_backup(VPS_UNKNOWN, fixture::KEY_TEST),
        ),
        case(
            "Key without the scope to read",
            "a backup planned with a key that has only `backup:vm`",
            &[],
            plan_backup(fixture::VPS_APP, fixture::KEY_BACKUP_ONLY),
        ),
        case(
            "Key without the scope to back up",
            "a backup applied with a read-only key",
            &[],
            async {
                let env = Env::start(fast()).await;
                let data = env.data(fixture::KEY_READ_ONLY);
                let r = create(&VpsBackup, &Ctx::background(), &data, &backup_config(fixture::VPS_APP))
                    .await;
                Outcome::of(&r.diagnostics, Some(&env))
            },
        ),
        case(
            "Key HostUp does not know",
            "`api_key` that HostUp rejects (401)",
            &["nope-key"],
            plan_backup(fixture::VPS_APP, "nope-key"),
        ),
        case(
            "Backup quota used up",
            "a backup planned on a VPS whose backup quota is used up",
            &["canCreateBackup", "(code none)"],
            plan_backup(fixture::VPS_FULL, fixture::KEY_TEST),
        ),
        case(
            "Snapshot slots used up",
            "a snapshot planned on a VPS whose slots are all used",
            &["canCreate"],
            plan_of(VpsSnapshot, snapshot_config(fixture::VPS_FULL, "next")),
        ),
        case(
            "A gate closed without reason or code",
            "built directly: the simulator's closed gates always carry a code",
            &["(code none)", "(code )"],
            async {
                let subject = Subject::new("hostup_vps_backup", fixture::VPS_APP, "backup");
                direct(errors::gate_closed(
                    &subject,
                    "canCreateBackup",
                    &gate(None, None),
                    AttributePath::root("vps_id"),
                    false,
                ))
            },
        ),
        case(
            "Snapshot name already used",
            "a snapshot planned with the name of one the VPS has",
            &[],
            plan_of(VpsSnapshot, snapshot_config(fixture::VPS_APP, fixture::SNAPSHOT_APP)),
        ),
        case(
            "Restore of a snapshot the VPS does not have",
            "`snapshot_name = \"nope\"` on a VPS with snapshots",
            &[],
            plan_of(VpsSnapshotRestore, restore_config(fixture::VPS_APP, "nope")),
        ),
        case(
            "Restore on a VPS without snapshots",
            "`snapshot_name = \"nope\"` on a VPS that has none",
            &["names above", "one of"],
            plan_of(VpsSnapshotRestore, restore_config(fixture::VPS_PAYG, "nope")),
        ),
        case(
            "A restore planned",
            "a restore of an existing snapshot (the warning every plan that runs it shows)",
            &[],
            plan_of(VpsSnapshotRestore, restore_config(fixture::VPS_APP, fixture::SNAPSHOT_APP)),
        ),
        // --- Jobs.
        case(
            "A backup job that fails",
            "HostUp reports the backup job failed",
            &["untaint"],
            create_backup_with(
                json!({"jobs":{"failNext":1,"failMessage":"Backup storage unavailable"}}),
                None,
            ),
        ),
        case(
            "A snapshot job that fails",
            "HostUp reports the snapshot job failed",
            &["untaint"],
            async {
                let env = Env::start(fast()).await;
                env.faults(json!({"jobs":{"failNext":1,"failMessage":"Storage node offline"}}))
                    .await;
                let cfg = snapshot_config(fixture::VPS_APP, "pre-deploy");
                let r = create(&VpsSnapshot, &Ctx::background(), &env.data(fixture::KEY_TEST), &cfg)
                    .await;
                Outcome::of(&r.diagnostics, Some(&env))
            },
        ),
        case(
            "A backup job still running at timeouts.create",
            "the job never ends; `timeouts { create = \"2s\" }`",
            &[],
            create_backup_with(json!({"jobs":{"stuckNext":1}}), Some("2s")),
        ),
        case(
            "A backup job still running at timeouts.create after a busy VPS",
            "a dashboard job keeps the VPS busy for a while, then the backup's own job never \
             ends; `timeouts { create = \"4s\" }`",
            &[],
            async {
                let env = Env::start(fast()).await;
                env.faults(json!({"jobs":{"stuckNext":2}})).await;
                let data = env.data(fixture::KEY_TEST);
                let client = data.get().expect("provider data").client.clone();
                let body = crate::hostup::CreateBackup { note: None };
                let foreign = client
                    .create_backup(fixture::VPS_APP, &body)
                    .await
                    .expect("the dashboard's job");
                let cfg = with_timeouts(backup_config(fixture::VPS_APP), &[("create", "4s")]);
                let task = tokio::spawn(async move {
                    create(&VpsBackup, &Ctx::background(), &data, &cfg).await
                });
                // Once the provider has found the gate closed twice, the dashboard's job ends.
                let reads = "GET /api/v2/vps/{id}/backups";
                let deadline = Instant::now() + Duration::from_secs(20);
                while env.count(reads).await < 2 && Instant::now() < deadline {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                let done = format!("/_sim/jobs/{}/complete", foreign.job_id);
                env.admin(reqwest::Method::POST, &done, json!({})).await;
                let r = task.await.expect("create task");
                Outcome::of(&r.diagnostics, Some(&env))
            },
        ),
        case(
            "The VPS stays busy with another job",
            "every backup POST answered 409 `job_in_progress`; `timeouts { create = \"2s\" }`",
            &[],
            create_backup_with(
                json!({"rules":[{"kind":"busy","method":"POST"}]}),
                Some("2s"),
            ),
        ),
        case(
            "The answer to the backup POST is lost",
            "HostUp queues the backup, then the connection is reset before its answer",
            &["refused"],
            create_backup_with(
                json!({"rules":[{"kind":"reset","method":"POST","after":true,"count":1}]}),
                None,
            ),
        ),
        case(
            "Terraform stopped during a backup",
            "Ctrl-C while the backup job runs",
            &[],
            stopped(VpsBackup, backup_config(fixture::VPS_APP)),
        ),
        case(
            "Terraform stopped during a restore",
            "Ctrl-C while the restore job runs",
            &[],
            stopped(
                VpsSnapshotRestore,
                restore_config(fixture::VPS_APP, fixture::SNAPSHOT_APP),
            ),
        ),
        case(
            "A job HostUp forgets",
            "HostUp stops knowing the backup job while it runs (it expired)",
            &[],
            async {
                let env = Env::start(fast()).await;
                env.faults(json!({"jobs":{"stuckNext":1}})).await;
                let data = env.data(fixture::KEY_TEST);
                let cfg = backup_config(fixture::VPS_APP);
                let task = tokio::spawn(async move {
                    create(&VpsBackup, &Ctx::background(), &data, &cfg).await
                });
                until_polled(&env, 1).await;
                let state = env.admin(reqwest::Method::GET, "/_sim/state", json!(null)).await;
                for job in state["jobs"].as_array().into_iter().flatten() {
                    if let Some(id) = job["jobId"].as_str() {
                        env.admin(reqwest::Method::DELETE, &format!("/_sim/jobs/{id}"), json!(null))
                            .await;
                    }
                }
                let r = task.await.expect("create task");
                Outcome::of(&r.diagnostics, Some(&env))
            },
        ),
        case(
            "A snapshot delete on a busy VPS",
            "every snapshot DELETE answered 409 `job_in_progress`; `timeouts { delete = \"2s\" }`",
            &[],
            async {
                let env = Env::start(fast()).await;
                let data = env.data(fixture::KEY_TEST);
                let mut state = fixture_snapshot(&data).await;
                let t = with_timeouts(
                    snapshot_config(fixture::VPS_APP, fixture::SNAPSHOT_APP),
                    &[("delete", "2s")],
                );
                state.set_attr("timeouts", t.attr("timeouts").clone());
                env.faults(json!({"rules":[{"kind":"busy","method":"DELETE"}]})).await;
                let mut resp = DeleteResponse::default();
                let req = DeleteRequest {
                    prior_state: state,
                    prior_private: Private::new(),
                    provider: data,
                };
                VpsSnapshot.delete(&Ctx::background(), req, &mut resp).await;
                Outcome::of(&resp.diagnostics, Some(&env))
            },
        ),
        case(
            "A snapshot that expired",
            "refresh of a snapshot HostUp has since expired (Terraform then plans a new one)",
            &[],
            async {
                let env = Env::start(fast()).await;
                let data = env.data(fixture::KEY_TEST);
                let state = fixture_snapshot(&data).await;
                let path = format!(
                    "/_sim/vps/{}/snapshots/{}/expire",
                    fixture::VPS_APP,
                    fixture::SNAPSHOT_APP
                );
                env.admin(reqwest::Method::POST, &path, json!(null)).await;
                let r = read_resource(&VpsSnapshot, data, state).await;
                Outcome::of(&r.diagnostics, Some(&env))
            },
        ),
        // --- Import and lookups.
        case(
            "Import id of the wrong form (backup)",
            "`terraform import hostup_vps_backup.x foo`",
            &[],
            import(&VpsBackup, "foo"),
        ),
        case(
            "Import id whose VPS part is a name",
            "`terraform import hostup_vps_snapshot.x app-01/before-upgrade`",
            &[],
            import(&VpsSnapshot, "app-01/before-upgrade"),
        ),
        case(
            "Import id whose VPS part is an IP address",
            "`terraform import hostup_vps_backup.x 192.0.2.10/job_01m8ymdmecn50fdf56zdentxbx`",
            &[],
            import(&VpsBackup, "192.0.2.10/job_01m8ymdmecn50fdf56zdentxbx"),
        ),
        case(
            "Import id with spaces around the slash",
            "`terraform import hostup_vps_snapshot.x \"vps_… / before-upgrade\"`",
            &[],
            import(&VpsSnapshot, "vps_01hxa3b4c5d6e7f8g9h0j1k2m3 / before-upgrade"),
        ),
        case(
            "Import of a job HostUp does not know",
            "`terraform import hostup_vps_backup.x vps_…/job_nope`",
            &[],
            import(&VpsBackup, "vps_01hxa3b4c5d6e7f8g9h0j1k2m3/job_nope"),
        ),
        case(
            "Import of a snapshot the VPS does not have",
            "`terraform import hostup_vps_snapshot.x vps_…/nope`",
            &[],
            import(&VpsSnapshot, "vps_01hxa3b4c5d6e7f8g9h0j1k2m3/nope"),
        ),
        case(
            "No VPS of that name",
            "`data \"hostup_vps\" { name = \"no-such-vps\" }`",
            &[],
            async {
                let env = Env::start(fast()).await;
                let d = read_data(
                    &VpsData,
                    env.data(fixture::KEY_TEST),
                    &[("name", s("no-such-vps"))],
                )
                .await;
                Outcome::of(&d, Some(&env))
            },
        ),
    ];
    all.extend(policy_cases());
    all.extend(restore_cases());
    all.extend(action_cases());
    all
}

/// The schedules and settings: `hostup_vps_snapshot_schedule`, `hostup_vps_backup_schedule`
/// and `hostup_vps_backup_settings` (fixture, docs/hostup-sim.md §5.1: cloud-01 has a 12 h
/// snapshot schedule, web-01 no snapshot slots, staging-01 is pending, db-01 a nightly backup
/// schedule and a backup limit of 2, app-01 3 slots and a backup limit of 3).
fn policy_cases() -> Vec<Case> {
    use fixture::{BACKUP_SCHEDULE_DB, VPS_APP, VPS_FULL, VPS_NO_SNAPSHOTS, VPS_PAYG, VPS_PENDING};
    let db_schedule: &'static str = "vps_01hxa3b4c5d6e7f8g9h0j1k2m5/bks_01hxa3b4c5d6e7f8g9h0j1k2n1";
    assert_eq!(db_schedule, format!("{VPS_FULL}/{BACKUP_SCHEDULE_DB}"));
    vec![
        // --- hostup_vps_snapshot_schedule.
        case(
            "Snapshot interval below HostUp's range",
            "`interval_hours = 3` in a `hostup_vps_snapshot_schedule`",
            &[],
            validate(
                &VpsSnapshotSchedule,
                vec![("vps_id", s(VPS_APP)), ("interval_hours", n(3.0))],
            ),
        ),
        case(
            "Snapshot interval above HostUp's range",
            "`interval_hours = 25`",
            &[],
            validate(
                &VpsSnapshotSchedule,
                vec![("vps_id", s(VPS_APP)), ("interval_hours", n(25.0))],
            ),
        ),
        case(
            "Snapshot interval not whole hours",
            "`interval_hours = 6.5`",
            &[],
            validate(
                &VpsSnapshotSchedule,
                vec![("vps_id", s(VPS_APP)), ("interval_hours", n(6.5))],
            ),
        ),
        case(
            "Snapshot schedule on a VPS without snapshot slots",
            "a snapshot schedule planned on a VPS whose plan has no snapshot slots",
            &["canEnable"],
            plan_of(VpsSnapshotSchedule, snapshot_schedule_config(VPS_NO_SNAPSHOTS, 6.0)),
        ),
        case(
            "Snapshot schedule while HostUp does not allow one",
            "a snapshot schedule planned on a VPS whose order is still pending (`canEnable` closed)",
            &["canEnable"],
            plan_of(VpsSnapshotSchedule, snapshot_schedule_config(VPS_PENDING, 6.0)),
        ),
        case(
            "Scheduled snapshots take every slot",
            "`interval_hours = 6` on a VPS with 3 snapshot slots (the warning of every plan that \
             creates or changes the schedule)",
            &[],
            plan_of(VpsSnapshotSchedule, snapshot_schedule_config(VPS_APP, 6.0)),
        ),
        case(
            "Scheduled snapshots leave slots free",
            "`interval_hours = 12` on a VPS with 3 snapshot slots",
            &[],
            plan_of(VpsSnapshotSchedule, snapshot_schedule_config(VPS_APP, 12.0)),
        ),
        case(
            "A snapshot schedule replaces one made in the dashboard",
            "a new `hostup_vps_snapshot_schedule` on a VPS that already has a schedule (every 12 h)",
            &[],
            plan_of(VpsSnapshotSchedule, snapshot_schedule_config(VPS_PAYG, 6.0)),
        ),
        case(
            "A snapshot schedule changed",
            "an imported schedule (every 12 h, 5 slots) changed to `interval_hours = 4`",
            &[],
            plan_change(
                VpsSnapshotSchedule,
                VPS_PAYG,
                snapshot_schedule_config(VPS_PAYG, 4.0),
            ),
        ),
        case(
            "Two snapshot schedules for one VPS",
            "two `hostup_vps_snapshot_schedule` resources with the same `vps_id`",
            &[],
            planned_twice(VpsSnapshotSchedule, snapshot_schedule_config(VPS_APP, 12.0)),
        ),
        case(
            "Snapshot schedule checked with a key that cannot read",
            "a snapshot schedule planned with a key that has only `backup:vm`",
            &["write:vm"],
            plan_with_key(
                VpsSnapshotSchedule,
                snapshot_schedule_config(VPS_APP, 12.0),
                fixture::KEY_BACKUP_ONLY,
            ),
        ),
        case(
            "Snapshot schedule set with a key without write:vm",
            "a snapshot schedule applied with a key that has `read:vm` and `backup:vm` only",
            &["backup:vm", "read:vm"],
            create_without_write(VpsSnapshotSchedule, snapshot_schedule_config(VPS_APP, 12.0)),
        ),
        case(
            "Snapshot schedule deleted with a key without write:vm",
            "`terraform destroy` of a snapshot schedule with a key that has `read:vm` and \
             `backup:vm` only",
            &["backup:vm", "read:vm"],
            delete_without_write(VpsSnapshotSchedule, VPS_PAYG),
        ),
        case(
            "A snapshot schedule deleted outside Terraform",
            "refresh of a snapshot schedule HostUp no longer lists",
            &[],
            refresh(
                VpsSnapshotSchedule,
                vec![
                    ("vps_id", s(VPS_APP)),
                    ("enabled", Value::from(true)),
                    ("interval_hours", n(12.0)),
                    ("id", s(VPS_APP)),
                ],
            ),
        ),
        case(
            "Import id of the wrong form (snapshot schedule)",
            "`terraform import hostup_vps_snapshot_schedule.x app-01`",
            &[],
            import(&VpsSnapshotSchedule, "app-01"),
        ),
        case(
            "Import of a snapshot schedule the VPS does not have",
            "`terraform import hostup_vps_snapshot_schedule.x vps_…` for a VPS without a schedule",
            &[],
            import(&VpsSnapshotSchedule, VPS_APP),
        ),
        case(
            "Destroying a snapshot schedule",
            "`terraform destroy` (or a removed block) of a snapshot schedule: the destroy plan's \
             warning",
            &[],
            destroy_plan(VpsSnapshotSchedule, VPS_PAYG),
        ),
        // --- hostup_vps_backup_schedule, at `terraform validate`.
        case(
            "Backup frequency HostUp does not know",
            "`frequency = \"hourly\"` in a `hostup_vps_backup_schedule`",
            &[],
            validate(
                &VpsBackupSchedule,
                backup_schedule_attrs(VPS_APP, &[("frequency", s("hourly"))]),
            ),
        ),
        case(
            "Backup hour out of range",
            "`hour = 24`",
            &[],
            validate(&VpsBackupSchedule, backup_schedule_attrs(VPS_APP, &[("hour", n(24.0))])),
        ),
        case(
            "Backup hour not whole",
            "`hour = 1.5`",
            &[],
            validate(&VpsBackupSchedule, backup_schedule_attrs(VPS_APP, &[("hour", n(1.5))])),
        ),
        case(
            "Backup day_of_week out of range",
            "`frequency = \"weekly\"`, `day_of_week = 7`",
            &[],
            validate(
                &VpsBackupSchedule,
                backup_schedule_attrs(
                    VPS_APP,
                    &[("frequency", s("weekly")), ("day_of_week", n(7.0))],
                ),
            ),
        ),
        case(
            "Backup day_of_month out of range",
            "`frequency = \"monthly\"`, `day_of_month = 0`",
            &[],
            validate(
                &VpsBackupSchedule,
                backup_schedule_attrs(
                    VPS_APP,
                    &[("frequency", s("monthly")), ("day_of_month", n(0.0))],
                ),
            ),
        ),
        case(
            "Backup retention_count below 1",
            "`retention_count = 0`",
            &[],
            validate(
                &VpsBackupSchedule,
                backup_schedule_attrs(VPS_APP, &[("retention_count", n(0.0))]),
            ),
        ),
        case(
            "Weekly backups without a day",
            "`frequency = \"weekly\"` without `day_of_week`",
            &[],
            validate(
                &VpsBackupSchedule,
                backup_schedule_attrs(VPS_APP, &[("frequency", s("weekly"))]),
            ),
        ),
        case(
            "Monthly backups without a day",
            "`frequency = \"monthly\"` without `day_of_month`",
            &[],
            validate(
                &VpsBackupSchedule,
                backup_schedule_attrs(VPS_APP, &[("frequency", s("monthly"))]),
            ),
        ),
        case(
            "A day of the week for daily backups",
            "`frequency = \"daily\"` with `day_of_week = 1`",
            &[],
            validate(
                &VpsBackupSchedule,
                backup_schedule_attrs(VPS_APP, &[("day_of_week", n(1.0))]),
            ),
        ),
        case(
            "A day of the month for weekly backups",
            "`frequency = \"weekly\"`, `day_of_week = 1` and `day_of_month = 3`",
            &[],
            validate(
                &VpsBackupSchedule,
                backup_schedule_attrs(
                    VPS_APP,
                    &[
                        ("frequency", s("weekly")),
                        ("day_of_week", n(1.0)),
                        ("day_of_month", n(3.0)),
                    ],
                ),
            ),
        ),
        // --- hostup_vps_backup_schedule, at plan and after.
        case(
            "Backup schedule while HostUp does not allow one",
            "a backup schedule planned on a VPS whose order is still pending (the schedule gate \
             closed)",
            &["canCreateSchedule", "schedule gate"],
            plan_of(VpsBackupSchedule, backup_schedule_config(VPS_PENDING, &[])),
        ),
        case(
            "A backup schedule of that frequency exists",
            "a new daily `hostup_vps_backup_schedule` on a VPS that has a daily schedule",
            &[],
            plan_of(VpsBackupSchedule, backup_schedule_config(VPS_FULL, &[("retention_count", n(2.0))])),
        ),
        case(
            "Another backup schedule is active",
            "a new weekly `hostup_vps_backup_schedule` on a VPS whose daily schedule is active",
            &[],
            plan_of(
                VpsBackupSchedule,
                backup_schedule_config(
                    VPS_FULL,
                    &[
                        ("frequency", s("weekly")),
                        ("day_of_week", n(0.0)),
                        ("retention_count", n(2.0)),
                    ],
                ),
            ),
        ),
        case(
            "A backup schedule keeps more than the backup limit",
            "`retention_count = 7` on a VPS whose backup limit is 3",
            &[],
            plan_of(VpsBackupSchedule, backup_schedule_config(VPS_APP, &[])),
        ),
        case(
            "A backup schedule changed to keep more than the backup limit",
            "an imported schedule (keeps 2, limit 2) changed to `retention_count = 5`",
            &[],
            plan_change(
                VpsBackupSchedule,
                db_schedule,
                backup_schedule_config(VPS_FULL, &[("retention_count", n(5.0))]),
            ),
        ),
        case(
            "Two backup schedules for one VPS",
            "two `hostup_vps_backup_schedule` resources with the same `vps_id`",
            &[],
            planned_twice(
                VpsBackupSchedule,
                backup_schedule_config(VPS_APP, &[("retention_count", n(3.0))]),
            ),
        ),
        case(
            "Backup schedules checked with a key that cannot read",
            "a backup schedule planned with a key that has only `backup:vm`",
            &["write:vm"],
            plan_with_key(
                VpsBackupSchedule,
                backup_schedule_config(VPS_APP, &[("retention_count", n(3.0))]),
                fixture::KEY_BACKUP_ONLY,
            ),
        ),
        case(
            "Backup schedule set with a key without write:vm",
            "a backup schedule applied with a key that has `read:vm` and `backup:vm` only",
            &["backup:vm", "read:vm"],
            create_without_write(
                VpsBackupSchedule,
                backup_schedule_config(VPS_APP, &[("retention_count", n(3.0))]),
            ),
        ),
        case(
            "Backup schedule deleted with a key without write:vm",
            "`terraform destroy` of a backup schedule with a key that has `read:vm` and \
             `backup:vm` only",
            &["backup:vm", "read:vm"],
            delete_without_write(VpsBackupSchedule, db_schedule),
        ),
        case(
            "A backup schedule deleted outside Terraform",
            "refresh of a backup schedule HostUp no longer lists",
            &[],
            refresh(
                VpsBackupSchedule,
                attrs_with(
                    &backup_schedule_attrs(VPS_APP, &[]),
                    &[
                        ("enabled", Value::from(true)),
                        ("id", s("bks_01hxa3b4c5d6e7f8g9h0j1k2zz")),
                    ],
                ),
            ),
        ),
        case(
            "Import id of the wrong form (backup schedule)",
            "`terraform import hostup_vps_backup_schedule.x app-01/bks_01hxa3b4c5d6e7f8g9h0j1k2n1`",
            &[],
            import(&VpsBackupSchedule, "app-01/bks_01hxa3b4c5d6e7f8g9h0j1k2n1"),
        ),
        case(
            "Import of a backup schedule from a VPS without one",
            "`terraform import hostup_vps_backup_schedule.x vps_…` for a VPS without backup \
             schedules",
            &[],
            import(&VpsBackupSchedule, VPS_APP),
        ),
        case(
            "Import of a backup schedule the VPS does not have",
            "`terraform import hostup_vps_backup_schedule.x vps_…/bks_…` with an id that is not \
             one of the VPS's schedules",
            &[],
            import(
                &VpsBackupSchedule,
                "vps_01hxa3b4c5d6e7f8g9h0j1k2m5/bks_01hxa3b4c5d6e7f8g9h0j1k2zz",
            ),
        ),
        case(
            "Destroying a backup schedule",
            "`terraform destroy` of a backup schedule: the destroy plan's warning",
            &[],
            destroy_plan(VpsBackupSchedule, db_schedule),
        ),
        // --- hostup_vps_backup_settings.
        case(
            "Backup settings without a setting",
            "a `hostup_vps_backup_settings` with neither `max_total_backups` nor \
             `auto_delete_oldest`",
            &[],
            validate(&VpsBackupSettings, vec![("vps_id", s(VPS_APP))]),
        ),
        case(
            "max_total_backups below 1",
            "`max_total_backups = 0`",
            &[],
            validate(
                &VpsBackupSettings,
                vec![("vps_id", s(VPS_APP)), ("max_total_backups", n(0.0))],
            ),
        ),
        case(
            "max_total_backups not whole",
            "`max_total_backups = 2.5`",
            &[],
            validate(
                &VpsBackupSettings,
                vec![("vps_id", s(VPS_APP)), ("max_total_backups", n(2.5))],
            ),
        ),
        case(
            "max_total_backups above the plan's limit",
            "`max_total_backups = 10` applied on a VPS whose plan allows 3 backups (HostUp \
             refuses it)",
            &[],
            async {
                let env = Env::start(fast()).await;
                let cfg = backup_settings_config(VPS_APP, Some(10.0), None);
                let r = create(&VpsBackupSettings, &Ctx::background(), &env.data(fixture::KEY_TEST), &cfg)
                    .await;
                Outcome::of(&r.diagnostics, Some(&env))
            },
        ),
        case(
            "Two backup settings for one VPS",
            "two `hostup_vps_backup_settings` resources with the same `vps_id`",
            &[],
            planned_twice(VpsBackupSettings, backup_settings_config(VPS_APP, Some(3.0), None)),
        ),
        case(
            "Backup settings set with a key without write:vm",
            "backup settings applied with a key that has `read:vm` and `backup:vm` only",
            &["backup:vm", "read:vm"],
            create_without_write(
                VpsBackupSettings,
                backup_settings_config(VPS_APP, None, Some(true)),
            ),
        ),
        case(
            "Import id of the wrong form (backup settings)",
            "`terraform import hostup_vps_backup_settings.x 192.0.2.10`",
            &[],
            import(&VpsBackupSettings, "192.0.2.10"),
        ),
        case(
            "Destroying backup settings",
            "`terraform destroy` of backup settings: the destroy plan's warning",
            &[],
            destroy_plan(VpsBackupSettings, VPS_APP),
        ),
    ]
}

/// `hostup_vps_backup_restore` and `hostup_vps_restore_sources` (fixture, docs/hostup-sim.md
/// §5.1 and §3.11: app-01 has one backup, db-01 two, web-01 none and staging-01 is pending;
/// the restore sources of a VPS are the other VPSs with backups).
fn restore_cases() -> Vec<Case> {
    use fixture::{BACKUP_APP, VPS_APP, VPS_FULL, VPS_NO_SNAPSHOTS, VPS_PENDING};
    let in_place = || backup_restore_config(VPS_APP, BACKUP_APP, None);
    let from_app = |vps: &str| backup_restore_config(vps, BACKUP_APP, Some(VPS_APP));
    vec![
        case(
            "backup_id that is a storage key",
            "`backup_id = \"vzdump-qemu-101-2026_11_20-02_00_00.vma.zst\"` (the backup's \
             `storage_key`)",
            &[],
            validate(
                &VpsBackupRestore,
                vec![
                    ("vps_id", s(VPS_APP)),
                    (
                        "backup_id",
                        s("vzdump-qemu-101-2026_11_20-02_00_00.vma.zst"),
                    ),
                ],
            ),
        ),
        case(
            "backup_id with surrounding spaces",
            "`backup_id = \" bkp_01hxa3b4c5d6e7f8g9h0j1k2m3\"`",
            &[],
            validate(
                &VpsBackupRestore,
                vec![
                    ("vps_id", s(VPS_APP)),
                    ("backup_id", s(" bkp_01hxa3b4c5d6e7f8g9h0j1k2m3")),
                ],
            ),
        ),
        case(
            "source_vps_id is the VPS itself",
            "`source_vps_id` equal to `vps_id`",
            &[],
            validate(
                &VpsBackupRestore,
                vec![
                    ("vps_id", s(VPS_APP)),
                    ("backup_id", s(BACKUP_APP)),
                    ("source_vps_id", s(VPS_APP)),
                ],
            ),
        ),
        case(
            "source_vps_id is a name",
            "`source_vps_id = \"db-01\"`",
            &[],
            validate(
                &VpsBackupRestore,
                vec![
                    ("vps_id", s(VPS_APP)),
                    ("backup_id", s(BACKUP_APP)),
                    ("source_vps_id", s("db-01")),
                ],
            ),
        ),
        case(
            "A backup restore planned",
            "a restore of one of the VPS's backups (the warning every plan that runs it shows)",
            &[],
            plan_of(VpsBackupRestore, in_place()),
        ),
        case(
            "A backup restore from another VPS planned",
            "a restore onto web-01 of a backup of app-01 (`source_vps_id`)",
            &[],
            plan_of(VpsBackupRestore, from_app(VPS_NO_SNAPSHOTS)),
        ),
        case(
            "Restore of a backup the VPS does not have",
            "`backup_id` of a backup that is not the VPS's",
            &[],
            plan_of(
                VpsBackupRestore,
                backup_restore_config(VPS_APP, "bkp_01hxa3b4c5d6e7f8g9h0j1k2zz", None),
            ),
        ),
        case(
            "Restore on a VPS without backups",
            "a backup restore on a VPS that has none (the id is app-01's backup: \
             `source_vps_id` is missing)",
            &[],
            plan_of(
                VpsBackupRestore,
                backup_restore_config(VPS_NO_SNAPSHOTS, BACKUP_APP, None),
            ),
        ),
        case(
            "Restore from a VPS HostUp does not offer",
            "`source_vps_id` of a VPS without backups (not among the restore sources)",
            &[],
            plan_of(
                VpsBackupRestore,
                backup_restore_config(VPS_APP, BACKUP_APP, Some(VPS_NO_SNAPSHOTS)),
            ),
        ),
        case(
            "Restore of a backup the source does not have",
            "`source_vps_id` of db-01 with a `backup_id` of app-01's",
            &[],
            plan_of(
                VpsBackupRestore,
                backup_restore_config(VPS_NO_SNAPSHOTS, BACKUP_APP, Some(VPS_FULL)),
            ),
        ),
        case(
            "Backup restore while HostUp does not allow it",
            "a backup restore planned on a VPS whose order is still pending (`canRestore` closed)",
            &["canRestore"],
            plan_of(
                VpsBackupRestore,
                backup_restore_config(VPS_PENDING, BACKUP_APP, None),
            ),
        ),
        case(
            "Restore from another VPS while HostUp does not allow it",
            "a restore from app-01 planned onto a VPS whose order is still pending \
             (`canRestoreFromAnotherVps` closed)",
            &["canRestore"],
            plan_of(VpsBackupRestore, from_app(VPS_PENDING)),
        ),
        case(
            "Backup restore with a key without backup:vm",
            "a backup restore applied with a read-only key",
            &["write:vm"],
            create_backup_restore(in_place(), fixture::KEY_READ_ONLY, json!(null)),
        ),
        case(
            "A backup restore job that fails",
            "HostUp reports the restore job failed",
            &["untaint"],
            create_backup_restore(
                in_place(),
                fixture::KEY_TEST,
                json!({"jobs":{"failNext":1,"failMessage":"Backup storage unavailable"}}),
            ),
        ),
        case(
            "The answer to a restore-from-VPS POST is lost",
            "HostUp queues the restore from app-01, then the connection is reset before its answer",
            &["refused"],
            create_backup_restore(
                from_app(VPS_NO_SNAPSHOTS),
                fixture::KEY_TEST,
                json!({"rules":[{"kind":"reset","method":"POST","after":true,"count":1}]}),
            ),
        ),
        case(
            "Terraform stopped during a backup restore",
            "Ctrl-C while the backup restore job runs",
            &[],
            stopped(VpsBackupRestore, in_place()),
        ),
        case(
            "Import id of the wrong form (backup restore)",
            "`terraform import hostup_vps_backup_restore.x vps_…`, without the job id",
            &[],
            import(&VpsBackupRestore, VPS_APP),
        ),
        case(
            "Import of a job that is no backup restore",
            "`terraform import hostup_vps_backup_restore.x vps_…/job_…` with the job of a backup",
            &[],
            async {
                let env = Env::start(fast()).await;
                let data = env.data(fixture::KEY_TEST);
                let r = create(
                    &VpsBackup,
                    &Ctx::background(),
                    &data,
                    &backup_config(VPS_APP),
                )
                .await;
                let job = r.state.string("job_id").unwrap_or("job_none").to_owned();
                let resp = imported(&VpsBackupRestore, &format!("{VPS_APP}/{job}"), data).await;
                Outcome::of(&resp.diagnostics, Some(&env))
            },
        ),
        case(
            "Destroying a backup restore",
            "`terraform destroy` of a backup restore: the destroy plan's warning",
            &[],
            async move {
                let env = Env::start(fast()).await;
                let mut state = in_place();
                state.set_attr("job_id", s("job_01m8ymdmecn50fdf56zdentxbx"));
                let mut resp = PlanDestroyResponse {
                    planned_private: Private::new(),
                    diagnostics: Diagnostics::new(),
                };
                let req = PlanDestroyRequest {
                    prior_state: state,
                    prior_private: Private::new(),
                    provider: env.data(fixture::KEY_TEST),
                };
                VpsBackupRestore
                    .plan_destroy(&Ctx::background(), req, &mut resp)
                    .await;
                Outcome::of(&resp.diagnostics, Some(&env))
            },
        ),
        case(
            "Restore sources read with a key without backup:vm",
            "`data \"hostup_vps_restore_sources\"` read with a read-only key",
            &["write:vm"],
            async {
                let env = Env::start(fast()).await;
                let d = read_data(
                    &VpsRestoreSources,
                    env.data(fixture::KEY_READ_ONLY),
                    &[("vps_id", s(VPS_APP))],
                )
                .await;
                Outcome::of(&d, Some(&env))
            },
        ),
        case(
            "Restore sources of an unknown VPS",
            "`data \"hostup_vps_restore_sources\"` with a `vps_id` the account does not have",
            &[],
            async {
                let env = Env::start(fast()).await;
                let d = read_data(
                    &VpsRestoreSources,
                    env.data(fixture::KEY_TEST),
                    &[("vps_id", s(VPS_UNKNOWN))],
                )
                .await;
                Outcome::of(&d, Some(&env))
            },
        ),
    ]
}

/// Replaces what changes from run to run (ports, generated ids, measured times) with a
/// placeholder, so that the page changes only when a text does.
fn mask(text: &str, base_url: Option<&str>) -> String {
    let mut t = text.to_owned();
    if let Some(url) = base_url {
        let port = url
            .rsplit(':')
            .next()
            .unwrap_or_default()
            .trim_end_matches('/');
        t = t.replace(url, "http://127.0.0.1:PORT");
        t = t.replace(&format!("127.0.0.1:{port}"), "127.0.0.1:PORT");
    }
    for prefix in ["job_", "req_", "bkp_"] {
        t = mask_after(&t, prefix);
    }
    mask_seen(&mask_elapsed(&t))
}

/// A job's last progress (`last seen 50% (in_progress), "Creating backup"`) depends on when the
/// case stopped waiting: it becomes `last seen N% (…), "…"`.
fn mask_seen(text: &str) -> String {
    let key = "last seen ";
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(key) {
        out.push_str(&rest[..i + key.len()]);
        rest = &rest[i + key.len()..];
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let quoted = rest[digits..]
            .strip_prefix("% (")
            .and_then(|r| r.find("), \"").map(|j| digits + 3 + j + 4))
            .and_then(|open| rest[open..].find('"').map(|k| open + k + 1));
        if let (true, Some(end)) = (digits > 0, quoted) {
            out.push_str("N% (…), \"…\"");
            rest = &rest[end..];
        }
    }
    out.push_str(rest);
    out
}

/// `prefix` followed by an id of letters and digits becomes `prefix…` (the fixture's fixed ids
/// too, so that generated and fixed ids read alike).
fn mask_after(text: &str, prefix: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(prefix) {
        out.push_str(&rest[..i + prefix.len()]);
        rest = &rest[i + prefix.len()..];
        let n = rest
            .find(|c: char| !c.is_ascii_alphanumeric())
            .unwrap_or(rest.len());
        if n >= 6 {
            out.push('…');
            rest = &rest[n..];
        }
    }
    out.push_str(rest);
    out
}

/// Measured durations (`(7.53s in all)`) become `N`.
fn mask_elapsed(text: &str) -> String {
    let mut t = text.to_owned();
    for (before, after) in [
        ("(", " in all)"),
        ("after ", " "),
        ("waited ", " "),
        ("waited ", ")"),
        ("busy for ", ", then"),
        (", ", " of which passed"),
    ] {
        let mut out = String::new();
        let mut rest = t.as_str();
        while let Some(i) = rest.find(before) {
            let head = i + before.len();
            let tail = &rest[head..];
            let n = tail
                .find(|c: char| !(c.is_ascii_digit() || matches!(c, '.' | 'm' | 's' | 'h')))
                .unwrap_or(tail.len());
            if n > 0
                && tail[n..].starts_with(after)
                && tail[..n].starts_with(|c: char| c.is_ascii_digit())
            {
                out.push_str(&rest[..head]);
                out.push('N');
                rest = &tail[n..];
            } else {
                out.push_str(&rest[..head]);
                rest = tail;
            }
        }
        out.push_str(rest);
        t = out;
    }
    t
}

/// Where a diagnostic breaks the message style (docs/MESSAGES.md); empty = none.
fn style_faults(d: &Diagnostic, forbid: &[&str]) -> Vec<String> {
    let all = format!("{}\n{}", d.summary, d.detail);
    let mut faults = Vec::new();
    // What HostUp sent, quoted, may name anything; our own words may not.
    let ours = unquoted(&all);
    const NEVER: &[&str] = &[
        // Library error chains and their debug forms.
        "client error (",
        "os error",
        "error sending request",
        "hyper::",
        "reqwest::",
        "Some(",
        "None)",
        // A code that is not there.
        "(code none)",
        "(code )",
        "code: none",
        // API jargon where a Terraform user acts.
        "data[]",
        "actions.",
        "canCreate",
        "canRestore",
        "GET /api/v2/vps (",
        "relative URL",
    ];
    for p in NEVER {
        if ours.contains(p) {
            faults.push(format!("contains {p:?}"));
        }
    }
    // What a case forbids (a secret, a variable that was not the source) is looked for everywhere.
    for p in forbid {
        if all.contains(p) {
            faults.push(format!("contains {p:?}"));
        }
    }
    if d.summary.trim().is_empty() {
        faults.push("has no summary".into());
    }
    if d.detail.trim().is_empty() {
        faults.push("has no detail".into());
    }
    if all.matches("req_").count() > 1 {
        faults.push("names a request id more than once".into());
    }
    if let Some(s) = repeated_sentence(&all) {
        faults.push(format!("says {s:?} twice"));
    }
    faults
}

/// `text` without what stands between double quotes.
fn unquoted(text: &str) -> String {
    text.split('"').step_by(2).collect::<Vec<_>>().join("\"\"")
}

/// A sentence (of some length) said twice, case and punctuation aside.
fn repeated_sentence(text: &str) -> Option<String> {
    let mut seen = std::collections::HashSet::new();
    for s in text.split(['.', ';', '\n', ':']) {
        let norm: String = s
            .chars()
            .filter(|c| c.is_alphanumeric() || *c == ' ')
            .collect::<String>()
            .to_lowercase()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        if norm.len() >= 16 && !seen.insert(norm.clone()) {
            return Some(norm);
        }
    }
    None
}

fn render(entries: &[(&Case, Vec<Diagnostic>, Option<String>)]) -> String {
    let mut page = String::new();
    for (c, diags, base) in entries {
        page.push_str(&format!("\n### {}\n\n{}.\n\n```text\n", c.name, c.trigger));
        if diags.is_empty() {
            page.push_str("(no diagnostic)\n");
        }
        for (k, d) in diags.iter().enumerate() {
            if k > 0 {
                page.push('\n');
            }
            let severity = match d.severity {
                Severity::Error => "Error",
                Severity::Warning => "Warning",
            };
            let at = d
                .attribute
                .as_ref()
                .map(|a| format!("\n  (at {a})"))
                .unwrap_or_default();
            page.push_str(&format!(
                "{severity}: {}{at}\n\n{}\n",
                mask(&d.summary, base.as_deref()),
                mask(&d.detail, base.as_deref())
            ));
        }
        page.push_str("```\n");
    }
    page
}

fn write_doc(page: &str) -> Result<(), String> {
    let doc = std::fs::read_to_string(DOC).map_err(|e| format!("read {DOC}: {e}"))?;
    let (Some(b), Some(e)) = (doc.find(BEGIN), doc.find(END)) else {
        return Err(format!("{DOC} lacks the markers {BEGIN} / {END}"));
    };
    if e < b {
        return Err(format!("{DOC}: {END} comes before {BEGIN}"));
    }
    let new = format!("{}{BEGIN}\n{page}\n{}", &doc[..b], &doc[e..]);
    if new != doc {
        // A read-only checkout must not fail the test: the page is also on stderr.
        if let Err(e) = std::fs::write(DOC, new) {
            eprintln!("warning: could not update {DOC}: {e}");
        }
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_message_follows_the_style_and_is_in_the_catalogue() {
    let cases = cases();
    let mut set = tokio::task::JoinSet::new();
    let mut slots: Vec<Option<(Vec<Diagnostic>, Option<String>)>> = Vec::new();
    let mut meta = Vec::new();
    for (i, mut c) in cases.into_iter().enumerate() {
        let run = std::mem::replace(&mut c.run, Box::pin(async { direct_none() }));
        set.spawn(async move {
            let bounded = tokio::time::timeout(Duration::from_secs(120), run).await;
            (
                i,
                bounded.map_err(|_| "did not end within 120 s".to_owned()),
            )
        });
        slots.push(None);
        meta.push(c);
    }
    let mut hung = Vec::new();
    while let Some(done) = set.join_next().await {
        let (i, out) = done.expect("case task");
        match out {
            Ok(o) => slots[i] = Some((o.diags, o.base_url)),
            Err(e) => hung.push(format!("{}: {e}", meta[i].name)),
        }
    }
    assert!(hung.is_empty(), "{hung:?}");
    let entries: Vec<(&Case, Vec<Diagnostic>, Option<String>)> = meta
        .iter()
        .zip(slots)
        .map(|(c, s)| {
            let (d, b) = s.expect("every case ran");
            (c, d, b)
        })
        .collect();
    let page = render(&entries);
    eprintln!("{page}");
    write_doc(&page).expect("docs/MESSAGES.md");
    let mut faults = Vec::new();
    for (c, diags, _) in &entries {
        for d in diags {
            for f in style_faults(d, c.forbid) {
                faults.push(format!("{}: {:?} {f}", c.name, d.summary));
            }
        }
    }
    assert!(faults.is_empty(), "{}", faults.join("\n"));
}

/// An action's validation of `attrs`.
async fn validate_action<A: Action<HostupData>>(a: &A, attrs: Vec<(&str, Value)>) -> Outcome {
    let mut resp = ValidateResponse::default();
    let req = ValidateRequest {
        config: config_of(a.schema(), &attrs),
    };
    a.validate(&Ctx::background(), req, &mut resp).await;
    Outcome::of(&resp.diagnostics, None)
}

/// An action's PlanAction for `attrs`, with the test key.
async fn plan_action<A: Action<HostupData>>(a: A, attrs: Vec<(&str, Value)>) -> Outcome {
    let env = Env::start(fast()).await;
    let req = PlanActionRequest {
        config: config_of(a.schema(), &attrs),
        provider: env.data(fixture::KEY_TEST),
    };
    let mut resp = PlanActionResponse::default();
    a.plan(&Ctx::background(), req, &mut resp).await;
    Outcome::of(&resp.diagnostics, Some(&env))
}

/// An action's invocation for `attrs` while the sim has `faults`; Stop is sent once the job
/// has been polled when `stop` is set.
async fn invoke_action<A: Action<HostupData>>(
    a: A,
    attrs: Vec<(&'static str, Value)>,
    faults: serde_json::Value,
    stop: bool,
) -> Outcome {
    let env = Env::start(fast()).await;
    env.faults(faults).await;
    let req = InvokeActionRequest {
        config: config_of(a.schema(), &attrs),
        provider: env.data(fixture::KEY_TEST),
    };
    let token = CancellationToken::new();
    let ctx = Ctx::new(token.clone(), None);
    let task = tokio::spawn(async move {
        let mut resp = InvokeActionResponse::new(Progress::discard());
        a.invoke(&ctx, req, &mut resp).await;
        resp.diagnostics
    });
    if stop {
        // Two answered polls: the client sent the second only after reading the first, so
        // the error says what the job was last seen doing (one answered poll may still be
        // unread when Stop comes, and the text then depends on timing).
        until_polled(&env, 2).await;
        token.cancel();
    }
    let d = task.await.expect("invoke task");
    Outcome::of(&d, Some(&env))
}

/// The actions (Terraform 1.14+): their own texts, and the shared ones worded for an action.
fn action_cases() -> Vec<Case> {
    use fixture::{BACKUP_APP, SNAPSHOT_APP, VPS_APP, VPS_FULL};
    vec![
        case(
            "Action timeout that is not a duration",
            "`action \"hostup_vps_backup\"` with `timeout = \"soon\"`",
            &[],
            validate_action(
                &VpsBackupAction,
                vec![("vps_id", s(VPS_APP)), ("timeout", s("soon"))],
            ),
        ),
        case(
            "Backup action planned while the gate is closed",
            "a plan that triggers `action.hostup_vps_backup` on a VPS whose backup quota is used up",
            &[],
            plan_action(VpsBackupAction, vec![("vps_id", s(VPS_FULL))]),
        ),
        case(
            "Snapshot action with a name the VPS already has",
            "`action \"hostup_vps_snapshot\"` with `name = \"before-upgrade\"` on app-01",
            &[],
            plan_action(
                VpsSnapshotAction,
                vec![("vps_id", s(VPS_APP)), ("name", s(SNAPSHOT_APP))],
            ),
        ),
        case(
            "Snapshot action with a name a resource of the plan takes",
            "`action \"hostup_vps_snapshot\"` and `resource \"hostup_vps_snapshot\"` both with \
             `name = \"release-1\"` on one VPS",
            &[],
            async {
                let env = Env::start(fast()).await;
                let data = env.data(fixture::KEY_TEST);
                let attrs = || vec![("vps_id", s(fixture::VPS_PAYG)), ("name", s("release-1"))];
                let cfg = config_of(VpsSnapshot.schema(), &attrs());
                let planned = plan(&VpsSnapshot, &data, &cfg).await;
                assert!(!planned.diagnostics.has_errors());
                let req = PlanActionRequest {
                    config: config_of(VpsSnapshotAction.schema(), &attrs()),
                    provider: data,
                };
                let mut resp = PlanActionResponse::default();
                VpsSnapshotAction
                    .plan(&Ctx::background(), req, &mut resp)
                    .await;
                Outcome::of(&resp.diagnostics, Some(&env))
            },
        ),
        case(
            "Snapshot restore action planned",
            "a plan that includes `action.hostup_vps_snapshot_restore`",
            &[],
            plan_action(
                VpsSnapshotRestoreAction,
                vec![("vps_id", s(VPS_APP)), ("snapshot_name", s(SNAPSHOT_APP))],
            ),
        ),
        case(
            "Snapshot restore action of a snapshot that does not exist",
            "`snapshot_name = \"nope\"` in `action \"hostup_vps_snapshot_restore\"`",
            &[],
            plan_action(
                VpsSnapshotRestoreAction,
                vec![("vps_id", s(VPS_APP)), ("snapshot_name", s("nope"))],
            ),
        ),
        case(
            "Backup restore action planned",
            "a plan that includes `action.hostup_vps_backup_restore`",
            &[],
            plan_action(
                VpsBackupRestoreAction,
                vec![("vps_id", s(VPS_APP)), ("backup_id", s(BACKUP_APP))],
            ),
        ),
        case(
            "Backup action whose job fails",
            "`terraform apply -invoke=action.hostup_vps_backup.x` while HostUp fails the job",
            &["tainted", "timeouts"],
            invoke_action(
                VpsBackupAction,
                vec![("vps_id", s(VPS_APP))],
                json!({"jobs":{"failNext":1,"failMessage":"Backup storage unavailable"}}),
                false,
            ),
        ),
        case(
            "Backup action interrupted",
            "Ctrl-C while `action.hostup_vps_backup` waits for its job",
            &["tainted", "timeouts"],
            invoke_action(
                VpsBackupAction,
                vec![("vps_id", s(VPS_APP))],
                json!({"jobs":{"stuckNext":1}}),
                true,
            ),
        ),
        case(
            "Backup action past its timeout",
            "`timeout = \"2s\"` in `action \"hostup_vps_backup\"` and a job that takes longer",
            &["tainted", "timeouts"],
            invoke_action(
                VpsBackupAction,
                vec![("vps_id", s(VPS_APP)), ("timeout", s("2s"))],
                json!({"jobs":{"stuckNext":1}}),
                false,
            ),
        ),
        case(
            "Restore action whose job fails",
            "`terraform apply -invoke=action.hostup_vps_snapshot_restore.x` while HostUp fails the job",
            &["tainted", "timeouts"],
            invoke_action(
                VpsSnapshotRestoreAction,
                vec![("vps_id", s(VPS_APP)), ("snapshot_name", s(SNAPSHOT_APP))],
                json!({"jobs":{"failNext":1,"failMessage":"Storage node offline"}}),
                false,
            ),
        ),
    ]
}

fn direct_none() -> Outcome {
    Outcome {
        diags: Vec::new(),
        base_url: None,
    }
}

#[test]
fn the_style_test_catches_the_old_texts() {
    // Texts as the provider wrote them before the catalogue (seen with 4b58986).
    let old = [
        "Could not reach HostUp: client error (Connect): tcp connect error: Connection refused \
         (os error 111) (the request was not sent).",
        "HostUp did not answer GET /api/v2/vps within 30.0s. HostUp did not answer within \
         30.0s; it may be slow or unreachable, retry later. HostUp did not answer within 30.0s.",
        "HostUp's gate canCreateBackup is closed (code none).",
        "Use an id from GET /api/v2/vps (data[].id, …).",
        "Check the gate (actions.canCreate / canCreateBackup / canRestore).",
        "HTTP 503. Request id: req_01. If it persists, give HostUp support the request id req_01.",
    ];
    for text in old {
        let d = Diagnostic::error("Could not create a backup", text);
        assert!(!style_faults(&d, &[]).is_empty(), "not caught: {text}");
    }
    let no_detail = Diagnostic::error("Could not create a backup", "");
    assert_eq!(
        style_faults(&no_detail, &[]),
        vec!["has no detail".to_owned()]
    );
    let mut env_named = Diagnostic::error("Insecure endpoint", "Fix HOSTUP_ENDPOINT.");
    env_named.attribute = Some(AttributePath::root("endpoint"));
    assert!(!style_faults(&env_named, &["HOSTUP_ENDPOINT"]).is_empty());
}

#[test]
fn masks_keep_fixed_text_and_hide_what_varies() {
    let t = mask(
        "job job_01abcdefgh at http://127.0.0.1:4567 (req_01m8xp8z) (7.53s in all), waited 2s.",
        Some("http://127.0.0.1:4567"),
    );
    assert_eq!(
        t,
        "job job_… at http://127.0.0.1:PORT (req_…) (N in all), waited 2s."
    );
}
