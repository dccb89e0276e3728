//! The resources and data sources driven directly (no Terraform, no codec) against the
//! in-process hostup-sim over real HTTP on 127.0.0.1: gates, job ids in state before the wait
//! ends, Stop within a second, timeouts, failed jobs, scopes, serialisation, snapshots.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::plugin::diag::{AttributePath, Diagnostics, Severity};
use crate::plugin::framework::{
    CreateRequest, CreateResponse, Ctx, DataSource, DeleteRequest, DeleteResponse, ImportRequest,
    ImportResponse, ObjectValue, PlanRequest, PlanResponse, Private, ProviderData,
    ReadDataSourceRequest, ReadDataSourceResponse, ReadRequest, ReadResponse, Resource, SchemaInfo,
};
use crate::plugin::value::Value;
use crate::sim::{self, fixture, SimConfig, SimHandle};

use super::config::HostupConfig;
use super::data::HostupData;
use super::data_vps::VpsData;
use super::data_vps_snapshots::VpsSnapshots;
use super::resource_vps_backup::VpsBackup;
use super::resource_vps_snapshot::VpsSnapshot;
use super::resource_vps_snapshot_restore::VpsSnapshotRestore;

pub(super) struct Env {
    pub(super) sim: SimHandle,
    http: reqwest::Client,
}

impl Env {
    pub(super) async fn start(cfg: SimConfig) -> Env {
        let sim = match sim::start(cfg).await {
            Ok(s) => s,
            Err(e) => panic!("sim start: {e}"),
        };
        Env {
            sim,
            http: reqwest::Client::new(),
        }
    }

    pub(super) fn data(&self, key: &str) -> ProviderData<HostupData> {
        let config = HostupConfig {
            api_key: key.to_owned(),
            endpoint: url::Url::parse(&self.sim.base_url()).expect("sim url"),
            terraform_version: "test".into(),
            plan_checks: Default::default(),
            request_timeout: None,
            sources: Default::default(),
        };
        let client = super::build_client(&config).expect("client");
        ProviderData::new(Some(Arc::new(HostupData {
            config,
            client,
            run: Default::default(),
        })))
    }

    pub(super) async fn admin(
        &self,
        method: reqwest::Method,
        path: &str,
        body: serde_json::Value,
    ) -> serde_json::Value {
        let r = self
            .http
            .request(method, format!("{}{path}", self.sim.base_url()))
            .json(&body)
            .send()
            .await
            .expect("admin request");
        r.json().await.unwrap_or(serde_json::Value::Null)
    }

    pub(super) async fn count(&self, route: &str) -> u64 {
        self.admin(reqwest::Method::GET, "/_sim/counters", json!(null))
            .await
            .get(route)
            .and_then(|v| v.as_u64())
            .unwrap_or(0)
    }

    pub(super) async fn faults(&self, body: serde_json::Value) {
        self.admin(reqwest::Method::POST, "/_sim/faults", body)
            .await;
    }
}

pub(super) fn fast() -> SimConfig {
    SimConfig::default().with_job_duration(Duration::from_millis(300))
}

/// A config object of `schema` with `attrs` set.
pub(super) fn config_of(
    schema: crate::plugin::schema::Schema,
    attrs: &[(&str, Value)],
) -> ObjectValue {
    let mut o = ObjectValue::empty(SchemaInfo::new(schema));
    for (k, v) in attrs {
        o.set_attr(k, v.clone());
    }
    o
}

/// The plan of a create: config with every computed-only attribute unknown.
pub(super) fn planned_of(config: &ObjectValue) -> ObjectValue {
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
        p.set_attr(&c, Value::unknown());
    }
    p
}

pub(super) async fn plan<R: Resource<HostupData>>(
    r: &R,
    data: &ProviderData<HostupData>,
    config: &ObjectValue,
) -> PlanResponse {
    let planned = planned_of(config);
    let mut resp = PlanResponse {
        planned_state: planned.clone(),
        requires_replace: Vec::new(),
        planned_private: Private::new(),
        diagnostics: Diagnostics::new(),
    };
    let req = PlanRequest {
        prior_state: None,
        proposed_new_state: planned,
        config: config.clone(),
        prior_private: Private::new(),
        provider: data.clone(),
    };
    r.plan(&Ctx::background(), req, &mut resp).await;
    resp
}

pub(super) async fn create<R: Resource<HostupData>>(
    r: &R,
    ctx: &Ctx,
    data: &ProviderData<HostupData>,
    config: &ObjectValue,
) -> CreateResponse {
    let planned = planned_of(config);
    let mut resp = CreateResponse {
        state: ObjectValue::null(SchemaInfo::new(r.schema())),
        private: Private::new(),
        diagnostics: Diagnostics::new(),
    };
    let req = CreateRequest {
        planned_state: planned,
        config: config.clone(),
        planned_private: Private::new(),
        provider: data.clone(),
    };
    r.create(ctx, req, &mut resp).await;
    resp
}

pub(super) fn errors(d: &Diagnostics) -> String {
    d.iter()
        .filter(|x| x.severity == Severity::Error)
        .map(|x| format!("{} | {} | {:?}", x.summary, x.detail, x.attribute))
        .collect::<Vec<_>>()
        .join("\n")
}

pub(super) fn backup_config(vps: &str) -> ObjectValue {
    config_of(
        VpsBackup.schema(),
        &[("vps_id", vps.into()), ("note", "Before upgrade".into())],
    )
}

/// The config with `timeouts.create = t` (the block's other operations null).
pub(super) fn with_timeout(mut c: ObjectValue, t: &str) -> ObjectValue {
    let block = c
        .schema()
        .block
        .blocks
        .iter()
        .find(|b| b.type_name == "timeouts");
    let ops: Vec<String> = block.map_or_else(Vec::new, |b| {
        b.block.attributes.iter().map(|a| a.name.clone()).collect()
    });
    let value = Value::Object(
        ops.into_iter()
            .map(|op| {
                let v = if op == "create" {
                    Value::from(t)
                } else {
                    Value::Null
                };
                (op, v)
            })
            .collect(),
    );
    c.set_attr("timeouts", value);
    c
}

#[tokio::test]
async fn backup_runs_one_job_and_saves_it() {
    let env = Env::start(fast()).await;
    let data = env.data(fixture::KEY_TEST);
    let cfg = backup_config(fixture::VPS_APP);
    let p = plan(&VpsBackup, &data, &cfg).await;
    assert!(!p.diagnostics.has_errors(), "{}", errors(&p.diagnostics));
    let r = create(&VpsBackup, &Ctx::background(), &data, &cfg).await;
    assert!(!r.diagnostics.has_errors(), "{}", errors(&r.diagnostics));
    let job = r.state.string("job_id").unwrap_or_default().to_owned();
    assert!(job.starts_with("job_"), "{job}");
    assert_eq!(r.state.string("id"), Some(job.as_str()));
    assert_eq!(r.state.string("status"), Some("completed"));
    assert!(r.state.string("completed_at").is_some());
    assert!(r.state.is_wholly_known());
    assert_eq!(env.count("POST /api/v2/vps/{id}/backups").await, 1);
    // The sim ran exactly that job, and the backup carries the note.
    let st = env
        .admin(reqwest::Method::GET, "/_sim/state", json!(null))
        .await;
    let jobs = st["jobs"].as_array().cloned().unwrap_or_default();
    assert!(jobs.iter().any(|j| j.to_string().contains(&job)), "{st}");
    assert!(st.to_string().contains("Before upgrade"));
}

#[tokio::test]
async fn backup_gate_closed_fails_plan_and_apply_without_post() {
    let env = Env::start(fast()).await;
    let data = env.data(fixture::KEY_TEST);
    let cfg = backup_config(fixture::VPS_FULL);
    let p = plan(&VpsBackup, &data, &cfg).await;
    let e = errors(&p.diagnostics);
    assert!(e.contains("backup_quota_exceeded"), "{e}");
    assert_eq!(
        p.diagnostics
            .iter()
            .find(|d| d.is_error())
            .and_then(|d| d.attribute.clone()),
        Some(AttributePath::root("vps_id"))
    );
    let r = create(&VpsBackup, &Ctx::background(), &data, &cfg).await;
    assert!(errors(&r.diagnostics).contains("backup_quota_exceeded"));
    assert!(r.state.is_null());
    assert_eq!(env.count("POST /api/v2/vps/{id}/backups").await, 0);
}

#[tokio::test]
async fn unknown_vps_points_at_vps_id() {
    let env = Env::start(fast()).await;
    let data = env.data(fixture::KEY_TEST);
    let cfg = backup_config("vps_01hxa3b4c5d6e7f8g9h0j1kzzz");
    let p = plan(&VpsBackup, &data, &cfg).await;
    let e = errors(&p.diagnostics);
    assert!(
        e.contains("vps_not_found") && e.contains("lists no VPS"),
        "{e}"
    );
    assert_eq!(
        p.diagnostics
            .iter()
            .find(|d| d.is_error())
            .and_then(|d| d.attribute.clone()),
        Some(AttributePath::root("vps_id"))
    );
}

#[tokio::test]
async fn restore_plan_checks_snapshot_and_gate_and_warns() {
    let env = Env::start(fast()).await;
    let data = env.data(fixture::KEY_TEST);
    let cfg = config_of(
        VpsSnapshotRestore.schema(),
        &[
            ("vps_id", fixture::VPS_APP.into()),
            ("snapshot_name", "nope".into()),
        ],
    );
    let p = plan(&VpsSnapshotRestore, &data, &cfg).await;
    let e = errors(&p.diagnostics);
    assert!(
        e.contains("\"before-upgrade\"") && e.contains("snapshot_name"),
        "{e}"
    );
    assert!(p
        .diagnostics
        .iter()
        .any(|d| d.severity == Severity::Warning && d.summary.contains("replaces the disk")));
    let cfg = config_of(
        VpsSnapshotRestore.schema(),
        &[
            ("vps_id", fixture::VPS_NO_SNAPSHOTS.into()),
            ("snapshot_name", "x".into()),
        ],
    );
    let e = errors(&plan(&VpsSnapshotRestore, &data, &cfg).await.diagnostics);
    assert!(e.contains("feature_not_in_plan"), "{e}");
    // Apply re-checks and sends nothing.
    let r = create(&VpsSnapshotRestore, &Ctx::background(), &data, &cfg).await;
    assert!(r.diagnostics.has_errors());
    assert_eq!(
        env.count("POST /api/v2/vps/{id}/snapshots/{snapshotId}/actions/restore")
            .await,
        0
    );
    // A good restore.
    let cfg = config_of(
        VpsSnapshotRestore.schema(),
        &[
            ("vps_id", fixture::VPS_APP.into()),
            ("snapshot_name", fixture::SNAPSHOT_APP.into()),
        ],
    );
    assert!(!plan(&VpsSnapshotRestore, &data, &cfg)
        .await
        .diagnostics
        .has_errors());
    let r = create(&VpsSnapshotRestore, &Ctx::background(), &data, &cfg).await;
    assert!(!r.diagnostics.has_errors(), "{}", errors(&r.diagnostics));
    assert_eq!(r.state.string("status"), Some("completed"));
}

#[tokio::test]
async fn failed_job_keeps_job_id_and_quotes_hostup() {
    let env = Env::start(fast()).await;
    env.faults(json!({"jobs":{"failNext":1,"failMessage":"Backup storage unavailable"}}))
        .await;
    let data = env.data(fixture::KEY_TEST);
    let r = create(
        &VpsBackup,
        &Ctx::background(),
        &data,
        &backup_config(fixture::VPS_APP),
    )
    .await;
    let e = errors(&r.diagnostics);
    let job = r.state.string("job_id").unwrap_or_default().to_owned();
    assert!(job.starts_with("job_"), "{job}");
    assert!(
        e.contains(&job) && e.contains("Backup storage unavailable"),
        "{e}"
    );
    assert!(e.contains(fixture::VPS_APP) && e.contains("tainted"), "{e}");
    assert_eq!(r.state.string("status"), Some("failed"));
}

/// Runs a backup create of VPS_APP and sends Stop once the sim has counted `n` requests of
/// `route`; returns the response and how long create took to end after Stop.
async fn backup_stopped_after(env: &Env, route: &str, n: u64) -> (CreateResponse, Duration) {
    let data = env.data(fixture::KEY_TEST);
    let token = CancellationToken::new();
    let ctx = Ctx::new(token.clone(), None);
    let cfg = backup_config(fixture::VPS_APP);
    let task = tokio::spawn(async move { create(&VpsBackup, &ctx, &data, &cfg).await });
    let deadline = Instant::now() + Duration::from_secs(20);
    while env.count(route).await < n && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let t0 = Instant::now();
    token.cancel();
    let r = tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("create ended after Stop")
        .expect("create task");
    (r, t0.elapsed())
}

#[tokio::test]
async fn stop_ends_the_wait_within_a_second() {
    let env = Env::start(fast()).await;
    env.faults(json!({"jobs":{"stuckNext":1}})).await;
    // Cancel once the job has been polled three times: the next poll is seconds away, so
    // ending promptly can only come from the cancellation itself.
    let (r, took) = backup_stopped_after(&env, "GET /api/jobs/{jobId}", 3).await;
    assert!(took < Duration::from_secs(2), "{took:?}");
    let e = errors(&r.diagnostics);
    assert!(e.contains("may still be running on HostUp"), "{e}");
    let job = r.state.string("job_id").unwrap_or_default();
    assert!(job.starts_with("job_") && e.contains(job), "{e}");
}

#[tokio::test]
async fn stop_ends_the_wait_for_a_busy_vps_and_nothing_is_queued() {
    let env = Env::start(fast()).await;
    env.faults(json!({"jobs":{"stuckNext":1}})).await;
    // A job from elsewhere that never ends keeps the VPS busy.
    let foreign = env
        .http
        .post(format!(
            "{}/api/v2/vps/{}/backups",
            env.sim.base_url(),
            fixture::VPS_APP
        ))
        .bearer_auth(fixture::KEY_TEST)
        .json(&json!({"note": "from the dashboard"}))
        .send()
        .await
        .expect("foreign backup");
    assert_eq!(foreign.status(), 202);
    // Two gate reads: the VPS was found busy twice, and the pause now in progress is 2 s long,
    // so ending sooner can only come from the cancellation.
    let (r, took) = backup_stopped_after(&env, "GET /api/v2/vps/{id}/backups", 2).await;
    assert!(took < Duration::from_secs(2), "{took:?}");
    let e = errors(&r.diagnostics);
    assert!(
        e.contains("was not queued: another job kept the VPS busy"),
        "{e}"
    );
    assert!(e.contains("Terraform was interrupted"), "{e}");
    assert_eq!(
        env.count("POST /api/v2/vps/{id}/backups").await,
        1,
        "only the foreign one"
    );
    assert!(r.state.string("job_id").is_none(), "no job of ours");
}

#[tokio::test]
async fn stuck_job_hits_timeouts_create() {
    let env = Env::start(fast()).await;
    env.faults(json!({"jobs":{"stuckNext":1}})).await;
    let data = env.data(fixture::KEY_TEST);
    let cfg = with_timeout(backup_config(fixture::VPS_APP), "2s");
    let r = create(&VpsBackup, &Ctx::background(), &data, &cfg).await;
    let e = errors(&r.diagnostics);
    let job = r.state.string("job_id").unwrap_or_default();
    assert!(
        e.contains("Timed out") && e.contains(job) && job.starts_with("job_"),
        "{e}"
    );
    assert!(e.contains("2s") && e.contains("in_progress"), "{e}");
}

#[tokio::test]
async fn missing_scopes_are_named() {
    let env = Env::start(fast()).await;
    let ro = env.data(fixture::KEY_READ_ONLY);
    let r = create(
        &VpsBackup,
        &Ctx::background(),
        &ro,
        &backup_config(fixture::VPS_APP),
    )
    .await;
    let e = errors(&r.diagnostics);
    assert!(
        e.contains("backup:vm") && e.contains("lacks the scope"),
        "{e}"
    );
    let bo = env.data(fixture::KEY_BACKUP_ONLY);
    let e = errors(
        &plan(&VpsBackup, &bo, &backup_config(fixture::VPS_APP))
            .await
            .diagnostics,
    );
    assert!(e.contains("read:vm"), "{e}");
    for (k, d) in [("ro", &ro), ("bo", &bo)] {
        let dbg = format!("{:?}", d.get());
        assert!(
            !dbg.contains(fixture::KEY_READ_ONLY) && !dbg.contains(fixture::KEY_BACKUP_ONLY),
            "{k}: {dbg}"
        );
    }
}

#[tokio::test]
async fn operations_on_one_vps_are_serialised() {
    let env = Env::start(fast()).await;
    let data = env.data(fixture::KEY_TEST);
    let mut tasks = Vec::new();
    for i in 0..3 {
        let data = data.clone();
        let cfg = config_of(
            VpsBackup.schema(),
            &[
                ("vps_id", fixture::VPS_PAYG.into()),
                ("note", format!("n{i}").into()),
            ],
        );
        tasks.push(tokio::spawn(async move {
            create(&VpsBackup, &Ctx::background(), &data, &cfg).await
        }));
    }
    for t in tasks {
        let r = t.await.expect("task");
        assert!(!r.diagnostics.has_errors(), "{}", errors(&r.diagnostics));
    }
    assert_eq!(env.count("POST /api/v2/vps/{id}/backups").await, 3);
}

#[tokio::test]
async fn snapshot_create_refresh_after_expiry_and_delete() {
    let env = Env::start(fast()).await;
    let data = env.data(fixture::KEY_TEST);
    let cfg = config_of(
        VpsSnapshot.schema(),
        &[
            ("vps_id", fixture::VPS_APP.into()),
            ("name", "pre-deploy".into()),
            ("description", "d".into()),
        ],
    );
    assert!(!plan(&VpsSnapshot, &data, &cfg)
        .await
        .diagnostics
        .has_errors());
    let r = create(&VpsSnapshot, &Ctx::background(), &data, &cfg).await;
    assert!(!r.diagnostics.has_errors(), "{}", errors(&r.diagnostics));
    assert!(r.state.is_wholly_known());
    assert_eq!(
        r.state.string("id"),
        Some(format!("{}/pre-deploy", fixture::VPS_APP).as_str())
    );
    assert!(r.state.string("expires_at").is_some());
    // A second one with the same name fails at plan (in a new run: in this one, the name is
    // already claimed by the first plan).
    let later = env.data(fixture::KEY_TEST);
    let e = errors(&plan(&VpsSnapshot, &later, &cfg).await.diagnostics);
    assert!(e.contains("already has a snapshot"), "{e}");

    let read = |state: ObjectValue, data: ProviderData<HostupData>| async move {
        let mut resp = ReadResponse {
            state: Some(state.clone()),
            private: Private::new(),
            diagnostics: Diagnostics::new(),
        };
        VpsSnapshot
            .read(
                &Ctx::background(),
                ReadRequest {
                    current_state: state,
                    private: Private::new(),
                    provider: data,
                },
                &mut resp,
            )
            .await;
        resp
    };
    let still = read(r.state.clone(), data.clone()).await;
    assert!(still.state.is_some() && !still.diagnostics.has_errors());

    // Delete it.
    let mut del = DeleteResponse::default();
    VpsSnapshot
        .delete(
            &Ctx::background(),
            DeleteRequest {
                prior_state: r.state.clone(),
                prior_private: Private::new(),
                provider: data.clone(),
            },
            &mut del,
        )
        .await;
    assert!(
        !del.diagnostics.has_errors(),
        "{}",
        errors(&del.diagnostics)
    );
    let gone = read(r.state.clone(), data.clone()).await;
    assert!(gone.state.is_none());

    // The fixture snapshot, imported, then expired: refresh drops it.
    let mut imp = ImportResponse {
        state: ObjectValue::empty(SchemaInfo::new(VpsSnapshot.schema())),
        private: Private::new(),
        diagnostics: Diagnostics::new(),
    };
    VpsSnapshot
        .import(
            &Ctx::background(),
            ImportRequest {
                id: format!("{}/{}", fixture::VPS_APP, fixture::SNAPSHOT_APP),
                provider: data.clone(),
            },
            &mut imp,
        )
        .await;
    assert!(
        !imp.diagnostics.has_errors(),
        "{}",
        errors(&imp.diagnostics)
    );
    assert!(imp.state.is_wholly_known());
    env.admin(
        reqwest::Method::POST,
        &format!(
            "/_sim/vps/{}/snapshots/{}/expire",
            fixture::VPS_APP,
            fixture::SNAPSHOT_APP
        ),
        json!({}),
    )
    .await;
    let expired = read(imp.state.clone(), data.clone()).await;
    assert!(expired.state.is_none());
}

#[tokio::test]
async fn backup_import_reads_the_job() {
    let env = Env::start(fast()).await;
    let data = env.data(fixture::KEY_TEST);
    let r = create(
        &VpsBackup,
        &Ctx::background(),
        &data,
        &backup_config(fixture::VPS_APP),
    )
    .await;
    let job = r.state.string("job_id").unwrap_or_default().to_owned();
    let mut imp = ImportResponse {
        state: ObjectValue::empty(SchemaInfo::new(VpsBackup.schema())),
        private: Private::new(),
        diagnostics: Diagnostics::new(),
    };
    VpsBackup
        .import(
            &Ctx::background(),
            ImportRequest {
                id: format!("{}/{job}", fixture::VPS_APP),
                provider: data.clone(),
            },
            &mut imp,
        )
        .await;
    assert!(
        !imp.diagnostics.has_errors(),
        "{}",
        errors(&imp.diagnostics)
    );
    assert_eq!(imp.state.string("job_id"), Some(job.as_str()));
    assert_eq!(imp.state.string("status"), Some("completed"));
    assert_eq!(imp.state.string("note"), Some("Before upgrade"));
    assert!(imp.private.get::<bool>("imported").unwrap_or(false));
    let mut bad = ImportResponse {
        state: ObjectValue::empty(SchemaInfo::new(VpsBackup.schema())),
        private: Private::new(),
        diagnostics: Diagnostics::new(),
    };
    VpsBackup
        .import(
            &Ctx::background(),
            ImportRequest {
                id: format!("{}/job_nope", fixture::VPS_APP),
                provider: data,
            },
            &mut bad,
        )
        .await;
    assert!(
        errors(&bad.diagnostics).contains("job_nope"),
        "{}",
        errors(&bad.diagnostics)
    );
}

#[tokio::test]
async fn data_sources_read_the_sim() {
    let env = Env::start(fast()).await;
    let data = env.data(fixture::KEY_TEST);
    let cfg = config_of(VpsData.schema(), &[("name", "APP-01".into())]);
    let mut resp = ReadDataSourceResponse {
        state: cfg.clone(),
        diagnostics: Diagnostics::new(),
    };
    VpsData
        .read(
            &Ctx::background(),
            ReadDataSourceRequest {
                config: cfg,
                provider: data.clone(),
            },
            &mut resp,
        )
        .await;
    assert!(
        !resp.diagnostics.has_errors(),
        "{}",
        errors(&resp.diagnostics)
    );
    assert_eq!(resp.state.string("id"), Some(fixture::VPS_APP));
    assert_eq!(resp.state.string("primary_ip"), Some("192.0.2.10"));
    let cfg = config_of(
        VpsSnapshots.schema(),
        &[("vps_id", fixture::VPS_APP.into())],
    );
    let mut resp = ReadDataSourceResponse {
        state: cfg.clone(),
        diagnostics: Diagnostics::new(),
    };
    VpsSnapshots
        .read(
            &Ctx::background(),
            ReadDataSourceRequest {
                config: cfg,
                provider: data.clone(),
            },
            &mut resp,
        )
        .await;
    assert!(
        !resp.diagnostics.has_errors(),
        "{}",
        errors(&resp.diagnostics)
    );
    assert!(resp.state.is_wholly_known());
    assert_eq!(resp.state.i64("total_snapshots"), Some(3));
    let cfg = config_of(VpsData.schema(), &[("name", "no-such-vps".into())]);
    let mut resp = ReadDataSourceResponse {
        state: cfg.clone(),
        diagnostics: Diagnostics::new(),
    };
    VpsData
        .read(
            &Ctx::background(),
            ReadDataSourceRequest {
                config: cfg,
                provider: data,
            },
            &mut resp,
        )
        .await;
    assert!(errors(&resp.diagnostics).contains("No VPS named"));
}
