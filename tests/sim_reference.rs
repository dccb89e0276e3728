//! Holds hostup-sim to HostUp's public API reference (and docs/hostup-sim.md where the
//! reference is silent), independently of the client in src/hostup: every test talks plain HTTP
//! to a simulator on 127.0.0.1 and compares bodies with the reference's examples field for field.

use std::time::{Duration, Instant};

use hostup_provider::sim::fixture::{
    BACKUP_APP, BACKUP_SCHEDULE_DB, KEY_ADMIN, KEY_BACKUP_ONLY, KEY_READ_ONLY, KEY_TEST,
    SNAPSHOT_APP, VPS_APP, VPS_FULL, VPS_NO_SNAPSHOTS, VPS_PAYG, VPS_PENDING,
};
use hostup_provider::sim::{
    self, ApiKey, GateCodeKey, JobInitialStatus, JobShape, JobTypes, SimConfig, SimHandle,
    SnapshotDeleteMode, SnapshotVisibility, VmIdForm,
};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

const NO_SNAPSHOTS: &str =
    "Snapshots are not included in this VPS plan. Add snapshot slots to enable snapshots.";

/// A simulator plus an HTTP client pointed at it.
struct T {
    sim: SimHandle,
    http: reqwest::Client,
}

/// One answer, read fully.
struct Resp {
    status: StatusCode,
    headers: reqwest::header::HeaderMap,
    text: String,
}

impl Resp {
    fn json(&self) -> Value {
        serde_json::from_str(&self.text)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.text))
    }
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

async fn start(config: SimConfig) -> T {
    let sim = sim::start(config).await.expect("start sim");
    let http = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client");
    T { sim, http }
}

impl T {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.sim.base_url())
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        key: Option<&str>,
        body: Option<Value>,
    ) -> Result<Resp, reqwest::Error> {
        let mut rb = self
            .http
            .request(method, self.url(path))
            .header("Accept", "application/json");
        if let Some(k) = key {
            rb = rb.bearer_auth(k);
        }
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let r = rb.send().await?;
        let status = r.status();
        let headers = r.headers().clone();
        let text = r.text().await?;
        Ok(Resp {
            status,
            headers,
            text,
        })
    }

    async fn get(&self, path: &str) -> Resp {
        self.send(Method::GET, path, Some(KEY_TEST), None)
            .await
            .expect("GET")
    }

    async fn post(&self, path: &str, body: Option<Value>) -> Resp {
        self.send(Method::POST, path, Some(KEY_TEST), body)
            .await
            .expect("POST")
    }

    async fn admin(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        let r = self.send(method, path, None, body).await.expect("admin");
        assert!(
            r.status.is_success(),
            "admin {path}: {} {}",
            r.status,
            r.text
        );
        r.json()
    }

    /// Polls a job until it is terminal (bounded), returning every body seen.
    async fn poll_until_terminal(&self, poll_url: &str, limit: Duration) -> Vec<Value> {
        let start = Instant::now();
        let mut seen = Vec::new();
        loop {
            let body = self.get(poll_url).await.json();
            let status = body["data"]["status"].as_str().unwrap_or("").to_string();
            seen.push(body);
            if status == "completed" || status == "failed" {
                return seen;
            }
            assert!(start.elapsed() < limit, "job not terminal: {seen:?}");
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

fn cfg() -> SimConfig {
    SimConfig::default()
}

fn keys_of(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v.as_object().expect("object").keys().cloned().collect();
    k.sort();
    k
}

fn sorted(list: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = list.iter().map(|s| s.to_string()).collect();
    v.sort();
    v
}

fn is_public_id(prefix: &str, id: &str) -> bool {
    id.strip_prefix(prefix).is_some_and(|rest| {
        rest.len() == 26
            && rest
                .bytes()
                .all(|b| b"0123456789abcdefghjkmnpqrstvwxyz".contains(&b))
    })
}

fn parse_iso(s: &str) -> time::OffsetDateTime {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|e| panic!("not ISO-8601: {s:?}: {e}"))
}

/// `2026-04-27T12:34:56.000Z`: the reference's timestamp form (UTC, milliseconds, `Z`).
fn assert_iso_ms(s: &str) {
    parse_iso(s);
    assert_eq!(s.len(), 24, "{s}");
    assert!(s.ends_with('Z') && &s[19..20] == ".", "{s}");
}

/// Checks a Problem Details body against reference §1.7 and returns it.
fn assert_problem(r: &Resp, status: u16, code: &str, title: &str, instance: &str) -> Value {
    assert_eq!(r.status.as_u16(), status, "{}", r.text);
    assert_eq!(
        r.header("content-type"),
        Some("application/problem+json"),
        "{}",
        r.text
    );
    let p = r.json();
    let mut expected = vec![
        "type",
        "title",
        "status",
        "detail",
        "code",
        "instance",
        "requestId",
        "timestamp",
    ];
    if code == "invalid_request" {
        expected.push("errors");
    }
    assert_eq!(keys_of(&p), sorted(&expected), "{p}");
    assert_eq!(
        p["type"],
        format!("https://developer.hostup.se/errors/{code}")
    );
    assert_eq!(p["title"], title);
    assert_eq!(p["status"], status);
    assert_eq!(p["code"], code);
    assert_eq!(p["instance"], instance);
    assert!(p["detail"].as_str().is_some_and(|d| !d.is_empty()));
    let rid = p["requestId"].as_str().expect("requestId");
    assert!(is_public_id("req_", rid), "{rid}");
    assert_eq!(r.header("x-request-id"), Some(rid));
    assert_iso_ms(p["timestamp"].as_str().expect("timestamp"));
    p
}

fn op_of(r: &Resp) -> (String, String) {
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text);
    let body = r.json();
    assert_eq!(keys_of(&body), sorted(&["operation"]));
    let op = &body["operation"];
    assert_eq!(
        keys_of(op),
        sorted(&["status", "jobId", "pollUrl", "result"])
    );
    assert_eq!(op["status"], "queued");
    assert_eq!(op["result"], Value::Null);
    let job = op["jobId"].as_str().expect("jobId").to_string();
    assert!(is_public_id("job_", &job), "{job}");
    let poll = op["pollUrl"].as_str().expect("pollUrl").to_string();
    assert_eq!(poll, format!("/api/jobs/{job}"));
    (job, poll)
}

// ---------------------------------------------------------------------------------------------
// Snapshots (reference §4)

#[tokio::test]
async fn snapshot_list_of_a_plan_without_snapshots_matches_reference() {
    let t = start(cfg()).await;
    let r = t
        .get(&format!("/api/v2/vps/{VPS_NO_SNAPSHOTS}/snapshots"))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header("content-type"), Some("application/json"));
    let closed = json!({"allowed": false, "reason": NO_SNAPSHOTS, "code": "feature_not_in_plan"});
    assert_eq!(
        r.json(),
        json!({
            "data": [],
            "available": false,
            "reason": NO_SNAPSHOTS,
            "limits": {"totalSnapshots": 0, "usedSnapshots": 0},
            "actions": {"canCreate": closed, "canRestore": closed},
        })
    );
}

#[tokio::test]
async fn snapshot_list_items_match_reference() {
    let t = start(cfg()).await;
    let body = t
        .get(&format!("/api/v2/vps/{VPS_APP}/snapshots"))
        .await
        .json();
    assert_eq!(
        keys_of(&body),
        sorted(&["data", "available", "reason", "limits", "actions"])
    );
    assert_eq!(body["available"], true);
    assert_eq!(body["reason"], Value::Null);
    assert_eq!(
        body["limits"],
        json!({"totalSnapshots": 3, "usedSnapshots": 1})
    );
    let open = json!({"allowed": true, "reason": null, "code": null});
    assert_eq!(
        body["actions"],
        json!({"canCreate": open, "canRestore": open})
    );
    let items = body["data"].as_array().expect("data");
    assert_eq!(items.len(), 1);
    let s = &items[0];
    assert_eq!(
        keys_of(s),
        sorted(&[
            "displayId",
            "name",
            "description",
            "createdAt",
            "expiresAt",
            "includesMemoryState",
            "parentName"
        ])
    );
    assert_eq!(s["displayId"], SNAPSHOT_APP);
    assert_eq!(s["name"], SNAPSHOT_APP);
    assert_eq!(s["description"], "Before package upgrade");
    assert_eq!(s["includesMemoryState"], false);
    assert_eq!(s["parentName"], Value::Null);
    let created = s["createdAt"].as_str().expect("createdAt");
    let expires = s["expiresAt"].as_str().expect("expiresAt");
    assert_iso_ms(created);
    assert_iso_ms(expires);
    assert_eq!(
        parse_iso(expires) - parse_iso(created),
        time::Duration::hours(24)
    );
}

#[tokio::test]
async fn snapshot_gates_close_for_full_slots_and_pending_orders() {
    let t = start(cfg()).await;
    let full = t
        .get(&format!("/api/v2/vps/{VPS_FULL}/snapshots"))
        .await
        .json();
    assert_eq!(full["available"], true);
    assert_eq!(full["limits"]["totalSnapshots"], 2);
    assert_eq!(full["data"].as_array().map(Vec::len), Some(2));
    assert_eq!(full["actions"]["canCreate"]["allowed"], false);
    assert_eq!(
        full["actions"]["canCreate"]["code"],
        "snapshot_limit_reached"
    );
    assert_eq!(full["actions"]["canRestore"]["allowed"], true);
    assert_eq!(full["data"][1]["parentName"], "pre-migration");

    let pending = t
        .get(&format!("/api/v2/vps/{VPS_PENDING}/snapshots"))
        .await
        .json();
    for gate in ["canCreate", "canRestore"] {
        assert_eq!(pending["actions"][gate]["allowed"], false);
        assert_eq!(pending["actions"][gate]["code"], "pending_order");
        assert!(pending["actions"][gate]["reason"].is_string());
    }
}

#[tokio::test]
async fn snapshot_create_queues_a_job_and_appears_when_it_completes() {
    let t = start(cfg().with_job_duration(Duration::from_secs(600))).await;
    let path = format!("/api/v2/vps/{VPS_APP}/snapshots");
    let r = t
        .post(
            &path,
            Some(json!({"name": "pre-deploy", "description": "Before deploy"})),
        )
        .await;
    let (job, poll) = op_of(&r);

    // Not listed yet; both gates closed while the job runs.
    let list = t.get(&path).await.json();
    assert_eq!(list["data"].as_array().map(Vec::len), Some(1));
    for gate in ["canCreate", "canRestore"] {
        assert_eq!(list["actions"][gate]["allowed"], false);
        assert_eq!(list["actions"][gate]["code"], "job_in_progress");
    }
    // A second job on the same VPS is refused with the gate's code.
    let again = t.post(&path, Some(json!({"name": "other"}))).await;
    let p = assert_problem(&again, 409, "job_in_progress", "Job in progress", &path);
    assert_eq!(p["detail"], list["actions"]["canCreate"]["reason"]);

    t.admin(Method::POST, &format!("/_sim/jobs/{job}/complete"), None)
        .await;
    let done = t.get(&poll).await.json();
    assert_eq!(done["data"]["status"], "completed");
    let snap = &done["data"]["result"]["snapshot"];
    assert_eq!(snap["name"], "pre-deploy");

    let list = t.get(&path).await.json();
    let items = list["data"].as_array().expect("data");
    assert_eq!(items.len(), 2);
    assert_eq!(&items[1], snap);
    assert_eq!(items[1]["description"], "Before deploy");
    assert_eq!(items[1]["parentName"], SNAPSHOT_APP);
    assert_eq!(list["actions"]["canCreate"]["allowed"], true);
}

#[tokio::test]
async fn snapshot_create_validation_and_conflicts() {
    let t = start(cfg()).await;
    let path = format!("/api/v2/vps/{VPS_APP}/snapshots");
    for (body, pointer, code) in [
        (json!({}), "/name", "missing_required"),
        (json!({"name": "has space"}), "/name", "invalid_format"),
        (json!({"name": "a".repeat(41)}), "/name", "invalid_format"),
        (json!({"name": 5}), "/name", "invalid_type"),
        (
            json!({"name": "ok", "description": "d".repeat(256)}),
            "/description",
            "too_long",
        ),
    ] {
        let r = t.post(&path, Some(body.clone())).await;
        let p = assert_problem(&r, 400, "invalid_request", "Validation failed", &path);
        let errors = p["errors"].as_array().expect("errors");
        assert_eq!(errors.len(), 1, "{body}: {p}");
        assert_eq!(keys_of(&errors[0]), sorted(&["pointer", "detail", "code"]));
        assert_eq!(errors[0]["pointer"], pointer, "{body}");
        assert_eq!(errors[0]["code"], code, "{body}");
    }
    let r = t
        .send(Method::POST, &path, Some(KEY_TEST), None)
        .await
        .expect("post");
    assert_problem(&r, 400, "invalid_request", "Validation failed", &path);

    let r = t.post(&path, Some(json!({"name": SNAPSHOT_APP}))).await;
    assert_problem(&r, 409, "snapshot_exists", "Snapshot already exists", &path);

    let full = format!("/api/v2/vps/{VPS_FULL}/snapshots");
    let r = t.post(&full, Some(json!({"name": "new"}))).await;
    assert_problem(
        &r,
        409,
        "snapshot_limit_reached",
        "Snapshot limit reached",
        &full,
    );

    let none = format!("/api/v2/vps/{VPS_NO_SNAPSHOTS}/snapshots");
    let r = t.post(&none, Some(json!({"name": "new"}))).await;
    let p = assert_problem(&r, 409, "feature_not_in_plan", "Feature not in plan", &none);
    assert_eq!(p["detail"], NO_SNAPSHOTS);

    let pending = format!("/api/v2/vps/{VPS_PENDING}/snapshots");
    let r = t.post(&pending, Some(json!({"name": "new"}))).await;
    assert_problem(&r, 409, "pending_order", "Pending order", &pending);
}

#[tokio::test]
async fn snapshot_restore_and_delete() {
    let t = start(cfg().with_job_duration(Duration::ZERO)).await;
    let restore = format!("/api/v2/vps/{VPS_APP}/snapshots/{SNAPSHOT_APP}/actions/restore");
    let r = t.post(&restore, None).await;
    let (_, poll) = op_of(&r);
    let done = t.get(&poll).await.json();
    assert_eq!(done["data"]["status"], "completed");
    assert_eq!(done["data"]["type"], "snapshot_restore");
    assert_eq!(done["data"]["result"]["snapshotName"], SNAPSHOT_APP);

    let missing = format!("/api/v2/vps/{VPS_APP}/snapshots/nope/actions/restore");
    let r = t.post(&missing, None).await;
    assert_problem(
        &r,
        404,
        "snapshot_not_found",
        "Snapshot not found",
        &missing,
    );

    let del = format!("/api/v2/vps/{VPS_APP}/snapshots/{SNAPSHOT_APP}");
    let r = t
        .send(Method::DELETE, &del, Some(KEY_TEST), None)
        .await
        .expect("delete");
    let (_, poll) = op_of(&r);
    assert_eq!(t.get(&poll).await.json()["data"]["status"], "completed");
    let list = t
        .get(&format!("/api/v2/vps/{VPS_APP}/snapshots"))
        .await
        .json();
    assert_eq!(list["data"], json!([]));
    let r = t
        .send(Method::DELETE, &del, Some(KEY_TEST), None)
        .await
        .expect("delete");
    assert_problem(&r, 404, "snapshot_not_found", "Snapshot not found", &del);
}

#[tokio::test]
async fn snapshot_delete_sync_mode_answers_204() {
    let t = start(cfg().with_snapshot_delete(SnapshotDeleteMode::Sync)).await;
    let del = format!("/api/v2/vps/{VPS_FULL}/snapshots/nightly-1");
    let r = t
        .send(Method::DELETE, &del, Some(KEY_TEST), None)
        .await
        .expect("delete");
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(r.text, "");
    let list = t
        .get(&format!("/api/v2/vps/{VPS_FULL}/snapshots"))
        .await
        .json();
    assert_eq!(list["data"].as_array().map(Vec::len), Some(1));
    assert_eq!(list["actions"]["canCreate"]["allowed"], true);
}

#[tokio::test]
async fn snapshots_expire_after_their_ttl() {
    let t = start(cfg().with_snapshot_ttl(Duration::from_secs(2))).await;
    let path = format!("/api/v2/vps/{VPS_APP}/snapshots");
    let first = t.get(&path).await.json();
    let s = &first["data"][0];
    assert_eq!(
        parse_iso(s["expiresAt"].as_str().expect("expiresAt"))
            - parse_iso(s["createdAt"].as_str().expect("createdAt")),
        time::Duration::seconds(2)
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let list = t.get(&path).await.json();
        if list["data"] == json!([]) {
            break;
        }
        assert!(Instant::now() < deadline, "snapshot never expired: {list}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

// ---------------------------------------------------------------------------------------------
// Backups (reference §5)

#[tokio::test]
async fn backup_list_with_quota_info_matches_reference() {
    let t = start(cfg()).await;
    let r = t.get(&format!("/api/v2/vps/{VPS_APP}/backups")).await;
    assert_eq!(r.status, StatusCode::OK);
    let body = r.json();
    assert_eq!(keys_of(&body), sorted(&["backups", "quotaInfo", "actions"]));
    let b = &body["backups"][0];
    assert_eq!(
        keys_of(b),
        sorted(&[
            "id",
            "displayId",
            "storageKey",
            "createdAt",
            "sizeGb",
            "backupType",
            "note"
        ])
    );
    assert_eq!(b["id"], BACKUP_APP);
    assert_eq!(b["createdAt"], "2026-11-20T02:00:00.000Z");
    assert_eq!(b["sizeGb"], 12.4);
    assert_eq!(b["backupType"], "scheduled");
    assert_eq!(b["note"], Value::Null);
    let key = b["storageKey"].as_str().expect("storageKey");
    let vmid = key
        .strip_prefix("vzdump-qemu-")
        .and_then(|k| k.strip_suffix("-2026_11_20-02_00_00.vma.zst"))
        .expect("vzdump storage key");
    assert!(vmid.parse::<u32>().is_ok(), "{key}");
    assert_eq!(b["displayId"], format!("2026-11-20T02:00:00.000Z ({key})"));
    assert_eq!(
        body["quotaInfo"],
        json!({"used": 1, "limit": 3, "remaining": 2})
    );
    let open = json!({"allowed": true, "reason": null, "code": null});
    assert_eq!(
        body["actions"],
        json!({"canCreateBackup": open, "canRestore": open, "canRestoreFromAnotherVps": open})
    );
}

#[tokio::test]
async fn backup_quota_exhausted_unlimited_and_pending() {
    let t = start(cfg()).await;
    let full = t
        .get(&format!("/api/v2/vps/{VPS_FULL}/backups"))
        .await
        .json();
    assert_eq!(
        full["quotaInfo"],
        json!({"used": 2, "limit": 2, "remaining": 0})
    );
    assert_eq!(full["actions"]["canCreateBackup"]["allowed"], false);
    assert_eq!(
        full["actions"]["canCreateBackup"]["code"],
        "backup_quota_exceeded"
    );
    assert_eq!(full["backups"][1]["note"], "Before upgrade");
    assert_eq!(full["backups"][1]["backupType"], "manual");

    let path = format!("/api/v2/vps/{VPS_FULL}/backups");
    let r = t.post(&path, None).await;
    let p = assert_problem(
        &r,
        409,
        "backup_quota_exceeded",
        "Backup quota exceeded",
        &path,
    );
    assert_eq!(p["detail"], full["actions"]["canCreateBackup"]["reason"]);

    let payg = t
        .get(&format!("/api/v2/vps/{VPS_PAYG}/backups"))
        .await
        .json();
    assert_eq!(
        payg["quotaInfo"],
        json!({"used": 0, "limit": null, "remaining": null})
    );
    assert_eq!(payg["backups"], json!([]));

    let pending = format!("/api/v2/vps/{VPS_PENDING}/backups");
    let r = t.post(&pending, Some(json!({"note": "x"}))).await;
    assert_problem(&r, 409, "pending_order", "Pending order", &pending);
}

#[tokio::test]
async fn backup_create_validation_and_optional_body() {
    let t = start(cfg().with_job_duration(Duration::ZERO)).await;
    let path = format!("/api/v2/vps/{VPS_PAYG}/backups");
    let r = t.post(&path, Some(json!({"note": 5}))).await;
    let p = assert_problem(&r, 400, "invalid_request", "Validation failed", &path);
    assert_eq!(p["errors"][0]["pointer"], "/note");
    let r = t
        .send(Method::POST, &path, Some(KEY_TEST), None)
        .await
        .expect("post");
    let (_, poll) = op_of(&r);
    let done = t.get(&poll).await.json();
    assert_eq!(done["data"]["status"], "completed");
    let backup = &done["data"]["result"]["backup"];
    assert!(is_public_id("bkp_", backup["id"].as_str().unwrap_or("")));
    assert_eq!(backup["backupType"], "manual");
    assert_eq!(backup["note"], Value::Null);
    let list = t.get(&path).await.json();
    assert_eq!(&list["backups"][0], backup);
    assert_eq!(list["quotaInfo"]["used"], 1);
}

#[tokio::test]
async fn backup_delete_is_synchronous() {
    let t = start(cfg()).await;
    let path = format!("/api/v2/vps/{VPS_FULL}/backups/bkp_01hxa3b4c5d6e7f8g9h0j1k2n1");
    let r = t
        .send(Method::DELETE, &path, Some(KEY_TEST), None)
        .await
        .expect("delete");
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(r.text, "");
    let r = t
        .send(Method::DELETE, &path, Some(KEY_TEST), None)
        .await
        .expect("delete");
    assert_problem(&r, 404, "backup_not_found", "Backup not found", &path);
    let list = t
        .get(&format!("/api/v2/vps/{VPS_FULL}/backups"))
        .await
        .json();
    assert_eq!(list["quotaInfo"]["remaining"], 1);
    assert_eq!(list["actions"]["canCreateBackup"]["allowed"], true);
}

// ---------------------------------------------------------------------------------------------
// Jobs (reference §1.9, §2)

#[tokio::test]
async fn job_moves_queued_in_progress_completed_with_progress() {
    let t = start(cfg().with_job_duration(Duration::from_secs(3))).await;
    let backups = format!("/api/v2/vps/{VPS_APP}/backups");
    let posted = Instant::now();
    let r = t
        .post(&backups, Some(json!({"note": "Before upgrade"})))
        .await;
    let (job, poll) = op_of(&r);
    let first_poll = t.get(&poll).await.json();
    let first_poll_after = posted.elapsed();
    let during = t.get(&backups).await.json();
    assert_eq!(during["backups"].as_array().map(Vec::len), Some(1));
    assert_eq!(
        during["actions"]["canCreateBackup"]["code"],
        "job_in_progress"
    );

    let mut seen = vec![first_poll];
    seen.extend(t.poll_until_terminal(&poll, Duration::from_secs(30)).await);
    let first = &seen[0];
    assert_eq!(
        keys_of(first),
        sorted(&["success", "timestamp", "requestId", "data"])
    );
    assert_eq!(first["success"], true);
    assert!(is_public_id(
        "req_",
        first["requestId"].as_str().unwrap_or("")
    ));
    assert_eq!(
        keys_of(&first["data"]),
        sorted(&[
            "jobId",
            "queueType",
            "type",
            "jobName",
            "state",
            "status",
            "statusKey",
            "progress",
            "progressTextKey",
            "progressDetails",
            "progressMessage",
            "result",
            "failedReason",
            "isCompleted",
            "isFailed",
            "isRunning",
            "isWaiting",
            "isScheduled",
            "delay",
            "createdAt",
            "finishedAt",
            "vmId",
            "hostbillAccountId"
        ])
    );
    assert_eq!(first["data"]["jobId"], job.as_str());
    assert_eq!(first["data"]["vmId"], VPS_APP);
    assert_eq!(first["data"]["type"], "backup_create");
    // The job is queued for its first 10 % (300 ms); only a first poll that surely fell in that
    // span can be held to it (a loaded machine may take longer to get there).
    if first_poll_after < Duration::from_millis(250) {
        assert_eq!(first["data"]["status"], "queued");
        assert_eq!(first["data"]["state"], "waiting");
        assert_eq!(first["data"]["isWaiting"], true);
    }

    let order = ["queued", "in_progress", "completed"];
    let mut last_rank = 0;
    let mut last_progress = 0;
    let mut mid_progress = false;
    for b in &seen {
        let d = &b["data"];
        let status = d["status"].as_str().expect("status");
        let rank = order
            .iter()
            .position(|s| *s == status)
            .expect("known status");
        assert!(rank >= last_rank, "status went back: {seen:?}");
        last_rank = rank;
        let p = d["progress"].as_u64().expect("progress");
        assert!(p >= last_progress, "progress went back: {seen:?}");
        last_progress = p;
        assert_eq!(d["progressDetails"]["percentage"], p);
        assert_eq!(d["isRunning"], status == "in_progress");
        assert_eq!(d["isCompleted"], status == "completed");
        assert_eq!(d["isFailed"], false);
        let state = d["state"].as_str().expect("state");
        let want = match status {
            "queued" => "waiting",
            "in_progress" => "active",
            _ => "completed",
        };
        assert_eq!(state, want);
        if status == "in_progress" && p > 0 && p < 100 {
            mid_progress = true;
        }
    }
    assert!(mid_progress, "no in_progress poll with progress: {seen:?}");
    let last = &seen[seen.len() - 1]["data"];
    assert_eq!(last["status"], "completed");
    assert_eq!(last["progress"], 100);
    assert_iso_ms(last["finishedAt"].as_str().expect("finishedAt"));
    assert_eq!(last["result"]["success"], true);
    assert_eq!(last["result"]["backup"]["note"], "Before upgrade");
    let after = t.get(&backups).await.json();
    assert_eq!(after["backups"].as_array().map(Vec::len), Some(2));
    assert_eq!(
        after["quotaInfo"],
        json!({"used": 2, "limit": 3, "remaining": 1})
    );
}

#[tokio::test]
async fn failing_job_reports_failure_message() {
    let mut c = cfg().with_job_duration(Duration::from_millis(200));
    c.faults.jobs.fail_next = 1;
    c.faults.jobs.fail_message = Some("Backup storage unavailable".into());
    let t = start(c).await;
    let r = t
        .post(&format!("/api/v2/vps/{VPS_APP}/backups"), None)
        .await;
    let (_, poll) = op_of(&r);
    let seen = t.poll_until_terminal(&poll, Duration::from_secs(30)).await;
    let d = &seen[seen.len() - 1]["data"];
    assert_eq!(d["status"], "failed");
    assert_eq!(d["state"], "failed");
    assert_eq!(d["isFailed"], true);
    assert_eq!(d["isCompleted"], false);
    assert_eq!(d["failedReason"], "Backup storage unavailable");
    assert_eq!(d["progressMessage"], "Backup storage unavailable");
    assert_eq!(d["result"]["error"], "Backup storage unavailable");
    assert!(d["progress"].as_u64().is_some_and(|p| p < 100));
    // The failed backup is not listed; the next job is normal.
    let list = t
        .get(&format!("/api/v2/vps/{VPS_APP}/backups"))
        .await
        .json();
    assert_eq!(list["quotaInfo"]["used"], 1);
    let r = t
        .post(&format!("/api/v2/vps/{VPS_APP}/backups"), None)
        .await;
    let (_, poll) = op_of(&r);
    let seen = t.poll_until_terminal(&poll, Duration::from_secs(30)).await;
    assert_eq!(seen[seen.len() - 1]["data"]["status"], "completed");
}

#[tokio::test]
async fn stuck_job_never_finishes_until_forced() {
    let t = start(cfg().with_job_duration(Duration::from_millis(200))).await;
    t.admin(
        Method::POST,
        "/_sim/faults",
        Some(json!({"jobs": {"stuckNext": 1}})),
    )
    .await;
    let stuck = op_of(
        &t.post(&format!("/api/v2/vps/{VPS_APP}/backups"), None)
            .await,
    );
    let normal = op_of(
        &t.post(&format!("/api/v2/vps/{VPS_PAYG}/backups"), None)
            .await,
    );
    // Once a job created after it with the same duration is done, the stuck one is overdue.
    let seen = t
        .poll_until_terminal(&normal.1, Duration::from_secs(30))
        .await;
    assert_eq!(seen[seen.len() - 1]["data"]["status"], "completed");
    let d = t.get(&stuck.1).await.json();
    assert_eq!(d["data"]["status"], "in_progress");
    assert!(d["data"]["progress"].as_u64().is_some_and(|p| p <= 50));

    let forced = t
        .admin(
            Method::POST,
            &format!("/_sim/jobs/{}/fail", stuck.0),
            Some(json!({"message": "Node lost"})),
        )
        .await;
    assert_eq!(forced["status"], "failed");
    let d = t.get(&stuck.1).await.json();
    assert_eq!(d["data"]["failedReason"], "Node lost");
    let r = t
        .send(
            Method::POST,
            &format!("/_sim/jobs/{}/complete", stuck.0),
            None,
            None,
        )
        .await
        .expect("admin");
    assert_eq!(r.status.as_u16(), 409);
}

#[tokio::test]
async fn job_shapes_and_unknown_jobs() {
    let t = start(
        cfg()
            .with_job_duration(Duration::ZERO)
            .with_job_shape(JobShape::Operation),
    )
    .await;
    let (job, poll) = op_of(
        &t.post(&format!("/api/v2/vps/{VPS_PAYG}/backups"), None)
            .await,
    );
    let body = t.get(&poll).await.json();
    assert_eq!(keys_of(&body), sorted(&["operation"]));
    assert_eq!(
        keys_of(&body["operation"]),
        sorted(&["status", "jobId", "pollUrl", "result", "progress"])
    );
    assert_eq!(body["operation"]["status"], "completed");
    assert_eq!(body["operation"]["jobId"], job.as_str());
    assert_eq!(body["operation"]["progress"], 100);

    t.admin(
        Method::PATCH,
        "/_sim/config",
        Some(json!({"jobShape": "bare"})),
    )
    .await;
    let body = t.get(&poll).await.json();
    assert_eq!(body["jobId"], job.as_str());
    assert_eq!(body["isCompleted"], true);

    let missing = "/api/jobs/job_01hxa3b4c5d6e7f8g9h0j1k2zz";
    let r = t.get(missing).await;
    assert_problem(&r, 404, "job_not_found", "Job not found", missing);
    // Job polls need a valid key but no scope.
    let r = t
        .send(Method::GET, &poll, Some(KEY_BACKUP_ONLY), None)
        .await
        .expect("poll");
    assert_eq!(r.status, StatusCode::OK);
    let r = t.send(Method::GET, &poll, None, None).await.expect("poll");
    assert_problem(&r, 401, "unauthorized", "Unauthorized", &poll);
}

// ---------------------------------------------------------------------------------------------
// Errors, auth and scopes (reference §1.2, §1.3, §1.7)

#[tokio::test]
async fn error_shapes_match_reference() {
    let t = start(cfg()).await;
    let list = "/api/v2/vps";
    let r = t.send(Method::GET, list, None, None).await.expect("get");
    let p = assert_problem(&r, 401, "unauthorized", "Unauthorized", list);
    assert_eq!(p["detail"], "Authentication required.");

    let r = t
        .send(Method::GET, list, Some("wrong-key"), None)
        .await
        .expect("get");
    assert_problem(&r, 401, "unauthorized", "Unauthorized", list);

    let backups = format!("/api/v2/vps/{VPS_APP}/backups");
    let r = t
        .send(Method::POST, &backups, Some(KEY_READ_ONLY), None)
        .await
        .expect("post");
    let p = assert_problem(&r, 403, "forbidden", "Forbidden", &backups);
    assert_eq!(p["detail"], "This API key lacks the scope backup:vm.");
    let r = t
        .send(Method::GET, &backups, Some(KEY_BACKUP_ONLY), None)
        .await
        .expect("get");
    let p = assert_problem(&r, 403, "forbidden", "Forbidden", &backups);
    assert_eq!(p["detail"], "This API key lacks the scope read:vm.");

    // The reference's own 404 example.
    let r = t.get("/api/v2/vps/vps_abc123").await;
    let p = assert_problem(
        &r,
        404,
        "vps_not_found",
        "VPS not found",
        "/api/v2/vps/vps_abc123",
    );
    assert_eq!(p["detail"], "No VPS matching the given ID was found.");
    for sub in ["snapshots", "backups"] {
        let path = format!("/api/v2/vps/vps_01hxa3b4c5d6e7f8g9h0j1k2zz/{sub}");
        let r = t.get(&path).await;
        assert_problem(&r, 404, "vps_not_found", "VPS not found", &path);
        // 404 wins over body validation.
        let r = t.post(&path, Some(json!({"name": "bad name"}))).await;
        assert_problem(&r, 404, "vps_not_found", "VPS not found", &path);
    }

    let r = t.get("/api/v2/nothing-here").await;
    assert_problem(&r, 404, "not_found", "Not found", "/api/v2/nothing-here");
    let r = t
        .send(Method::PUT, &backups, Some(KEY_TEST), None)
        .await
        .expect("put");
    assert_problem(
        &r,
        405,
        "method_not_allowed",
        "Method not allowed",
        &backups,
    );
    assert_eq!(r.header("allow"), Some("GET, POST"));

    // Malformed JSON body.
    let r = t
        .http
        .post(t.url(&format!("/api/v2/vps/{VPS_APP}/snapshots")))
        .bearer_auth(KEY_TEST)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .expect("post");
    assert_eq!(r.status().as_u16(), 400);
}

#[tokio::test]
async fn legacy_header_and_scope_hierarchy() {
    let t = start(cfg().with_key(ApiKey::new("ci-secret-123", &["read:vm"]))).await;
    let r = t
        .http
        .get(t.url("/api/v2/vps"))
        .header("X-API-Key", KEY_TEST)
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), StatusCode::OK);
    // admin-key has read:all + write:all.
    let r = t
        .send(
            Method::POST,
            &format!("/api/v2/vps/{VPS_PAYG}/backups"),
            Some(KEY_ADMIN),
            None,
        )
        .await
        .expect("post");
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text);
    let r = t
        .send(Method::GET, "/api/v2/vps", Some("ci-secret-123"), None)
        .await
        .expect("get");
    assert_eq!(r.status, StatusCode::OK);
    // The request log names keys by label, never the secret.
    let log = t.admin(Method::GET, "/_sim/requests", None).await;
    let text = log.to_string();
    assert!(!text.contains("ci-secret-123"), "{text}");
    let last = log["requests"].as_array().and_then(|l| l.last()).cloned();
    let last = last.expect("log entry");
    assert_eq!(last["route"], "/api/v2/vps");
    assert_eq!(last["status"], 200);
    assert!(last["key"].as_str().is_some_and(|k| k.starts_with("key-")));
}

// ---------------------------------------------------------------------------------------------
// VPS inventory and pagination (reference §1.5, §3)

#[tokio::test]
async fn vps_list_paginates_with_cursor() {
    let t = start(cfg()).await;
    let mut ids = Vec::new();
    let mut path = "/api/v2/vps?limit=2".to_string();
    let mut pages = Vec::new();
    loop {
        let body = t.get(&path).await.json();
        assert_eq!(keys_of(&body), sorted(&["data", "nextCursor", "hasMore"]));
        assert_eq!(body["hasMore"], body["nextCursor"].is_string(), "{body}");
        let data = body["data"].as_array().expect("data").clone();
        pages.push(data.len());
        for v in &data {
            ids.push(v["id"].as_str().expect("id").to_string());
        }
        match body["nextCursor"].as_str() {
            Some(c) => path = format!("/api/v2/vps?limit=2&cursor={c}"),
            None => {
                assert_eq!(body["nextCursor"], Value::Null);
                break;
            }
        }
    }
    assert_eq!(pages, vec![2, 2, 1]);
    assert_eq!(
        ids,
        vec![VPS_APP, VPS_NO_SNAPSHOTS, VPS_FULL, VPS_PENDING, VPS_PAYG]
    );

    let all = t.get("/api/v2/vps").await.json();
    assert_eq!(all["data"].as_array().map(Vec::len), Some(5));
    assert_eq!(all["nextCursor"], Value::Null);
    assert_eq!(all["hasMore"], false);

    let r = t.get("/api/v2/vps?cursor=not-a-cursor").await;
    let p = assert_problem(
        &r,
        400,
        "invalid_cursor",
        "Validation failed",
        "/api/v2/vps",
    );
    assert_eq!(p["detail"], "Cursor is invalid or malformed.");
    for bad in ["0", "101", "x"] {
        let r = t.get(&format!("/api/v2/vps?limit={bad}")).await;
        let p = assert_problem(
            &r,
            400,
            "invalid_request",
            "Validation failed",
            "/api/v2/vps",
        );
        assert_eq!(p["errors"][0]["pointer"], "/limit");
    }
}

#[tokio::test]
async fn vps_objects_and_filters_match_reference() {
    let t = start(cfg()).await;
    let v = t.get(&format!("/api/v2/vps/{VPS_APP}")).await.json();
    assert_eq!(
        v,
        json!({"id": VPS_APP, "name": "app-01", "primaryIp": "192.0.2.10",
               "serviceStatus": "active", "powerState": "running",
               "operatingSystem": {"displayName": "Ubuntu 24.04", "family": "ubuntu", "version": "24.04", "variant": null},
               "billing": {"amount": 199, "currencyCode": "SEK", "billingCycle": "monthly", "isPayg": false, "periodYears": null},
               "resources": {"cpuCores": 2, "memoryGb": 4, "storageGb": 80}})
    );
    let by_name = t.get("/api/v2/vps?name=APP-01").await.json();
    assert_eq!(by_name["data"], json!([v]));
    let by_ip = t.get("/api/v2/vps?primaryIp=192.0.2.11").await.json();
    assert_eq!(by_ip["data"][0]["id"], VPS_NO_SNAPSHOTS);
    assert_eq!(by_ip["data"].as_array().map(Vec::len), Some(1));
    let payg = t.get(&format!("/api/v2/vps/{VPS_PAYG}")).await.json();
    assert_eq!(payg["billing"]["isPayg"], true);
    let inc = t
        .get("/api/v2/vps?include=pendingMaintenance&limit=1")
        .await
        .json();
    assert_eq!(inc["data"][0]["pendingMaintenance"], Value::Null);
    assert_eq!(inc["data"][0]["pendingMaintenanceHasDeadline"], false);
}

// ---------------------------------------------------------------------------------------------
// Rate limiting (reference §1.8)

#[tokio::test]
async fn rate_limit_headers_and_429() {
    let t = start(
        cfg()
            .with_rate_limit(3)
            .with_rate_window(Duration::from_secs(3600)),
    )
    .await;
    for expected in [2, 1, 0] {
        let r = t.get("/api/v2/vps").await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.header("x-ratelimit-limit"), Some("3"));
        assert_eq!(
            r.header("x-ratelimit-remaining"),
            Some(expected.to_string().as_str())
        );
        assert_iso_ms(r.header("x-ratelimit-reset").expect("reset"));
    }
    let r = t.get("/api/v2/vps").await;
    let p = assert_problem(
        &r,
        429,
        "rate_limit_exceeded",
        "Too many requests",
        "/api/v2/vps",
    );
    assert!(p["detail"].is_string());
    let retry: u64 = r
        .header("retry-after")
        .and_then(|v| v.parse().ok())
        .expect("Retry-After seconds");
    assert!((1..=3600).contains(&retry));
    assert_eq!(r.header("x-ratelimit-remaining"), Some("0"));
    assert_eq!(r.header("x-ratelimit-limit"), Some("3"));
    let reset = parse_iso(r.header("x-ratelimit-reset").expect("reset"));
    assert!(reset > time::OffsetDateTime::now_utc());
    // Another key has its own window.
    let r = t
        .send(Method::GET, "/api/v2/vps", Some(KEY_READ_ONLY), None)
        .await
        .expect("get");
    assert_eq!(r.status, StatusCode::OK);
    // Off: no headers.
    t.admin(Method::PATCH, "/_sim/config", Some(json!({"rateLimit": 0})))
        .await;
    let r = t.get("/api/v2/vps").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header("x-ratelimit-limit"), None);
}

// ---------------------------------------------------------------------------------------------
// Faults and the admin API (docs/hostup-sim.md §4, §6)

#[tokio::test]
async fn injected_faults() {
    let t = start(cfg().with_job_duration(Duration::ZERO)).await;
    let path = format!("/api/v2/vps/{VPS_APP}/snapshots");
    let normal = t.get(&path).await;

    t.admin(
        Method::POST,
        "/_sim/faults",
        Some(json!({"rules": [
            {"kind": "error", "status": 503, "count": 1},
            {"kind": "html502", "count": 1},
            {"kind": "rateLimit", "count": 1, "retryAfter": 2},
            {"kind": "truncate", "count": 1},
            {"kind": "reset", "count": 1},
        ]})),
    )
    .await;
    let r = t.get(&path).await;
    assert_problem(&r, 503, "upstream_failed", "Upstream failure", &path);
    let r = t.get(&path).await;
    assert_eq!(r.status, StatusCode::BAD_GATEWAY);
    assert_eq!(r.header("content-type"), Some("text/html"));
    assert!(r.text.starts_with("<html>") && r.text.contains("502 Bad Gateway"));
    let r = t.get(&path).await;
    assert_problem(&r, 429, "rate_limit_exceeded", "Too many requests", &path);
    assert_eq!(r.header("retry-after"), Some("2"));
    let r = t.get(&path).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.text.len(), normal.text.len() / 2);
    assert!(serde_json::from_str::<Value>(&r.text).is_err());
    assert_eq!(
        r.header("content-length"),
        Some(r.text.len().to_string().as_str())
    );
    let e = t.send(Method::GET, &path, Some(KEY_TEST), None).await;
    assert!(e.is_err(), "reset must not answer");
    // All rules used up: normal again.
    let r = t.get(&path).await;
    assert_eq!(r.text, normal.text);

    let faults = t.admin(Method::GET, "/_sim/faults", None).await;
    for rule in faults["rules"].as_array().expect("rules") {
        assert_eq!(rule["count"], 0, "{rule}");
        assert_eq!(rule["fired"], 1, "{rule}");
    }
    let log = t.admin(Method::GET, "/_sim/requests", None).await;
    let kinds: Vec<Value> = log["requests"]
        .as_array()
        .expect("requests")
        .iter()
        .map(|e| json!([e["fault"], e["status"]]))
        .collect();
    assert_eq!(
        kinds,
        vec![
            json!([null, 200]),
            json!(["error", 503]),
            json!(["html502", 502]),
            json!(["rateLimit", 429]),
            json!(["truncate", 200]),
            json!(["reset", 0]),
            json!([null, 200]),
        ]
    );
    assert_eq!(
        t.admin(Method::GET, "/_sim/counters", None).await,
        json!({"GET /api/v2/vps/{id}/snapshots": 7})
    );
}

#[tokio::test]
async fn reset_after_the_server_acted_still_creates_the_job() {
    let t = start(cfg().with_job_duration(Duration::from_secs(600))).await;
    t.admin(
        Method::POST,
        "/_sim/faults",
        Some(json!({"rules": [{"kind": "reset", "count": 1, "method": "POST", "after": true}]})),
    )
    .await;
    let path = format!("/api/v2/vps/{VPS_APP}/backups");
    let r = t.send(Method::POST, &path, Some(KEY_TEST), None).await;
    assert!(r.is_err(), "the client must see a reset");
    let state = t.admin(Method::GET, "/_sim/state", None).await;
    let jobs = state["jobs"].as_array().expect("jobs");
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0]["type"], "backup_create");
    let counters = t.admin(Method::GET, "/_sim/counters", None).await;
    assert_eq!(counters["POST /api/v2/vps/{id}/backups"], 1);
    // The gate now says a job is running: a retry would be refused.
    let r = t.post(&path, None).await;
    assert_problem(&r, 409, "job_in_progress", "Job in progress", &path);
}

#[tokio::test]
async fn rate_and_route_patterns_and_latency() {
    let t = start(cfg()).await;
    t.admin(
        Method::POST,
        "/_sim/faults",
        Some(json!({"rules": [
            {"kind": "latency", "ms": 150, "route": "/api/v2/vps/{id}"},
            {"kind": "error", "status": 500, "rate": 0.5, "route": "/api/v2/vps"},
        ]})),
    )
    .await;
    let statuses: Vec<u16> = {
        let mut v = Vec::new();
        for _ in 0..4 {
            v.push(t.get("/api/v2/vps").await.status.as_u16());
        }
        v
    };
    assert_eq!(statuses, vec![200, 500, 200, 500]);
    let r = t.get(&format!("/api/v2/vps/{VPS_APP}")).await;
    assert_eq!(r.status, StatusCode::OK);
    let log = t.admin(Method::GET, "/_sim/requests?since=4", None).await;
    let entries = log["requests"].as_array().expect("requests");
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["route"], "/api/v2/vps/{id}");
    assert!(entries[0]["durationMs"].as_u64().is_some_and(|d| d >= 150));

    t.admin(Method::DELETE, "/_sim/faults", None).await;
    assert_eq!(
        t.admin(Method::GET, "/_sim/faults", None).await["rules"],
        json!([])
    );
    // Bad rules are refused.
    let r = t
        .send(
            Method::POST,
            "/_sim/faults",
            None,
            Some(json!({"rules": [{"kind": "error", "rate": 2}]})),
        )
        .await
        .expect("post");
    assert_eq!(r.status.as_u16(), 400);
}

#[tokio::test]
async fn admin_reset_state_and_expire() {
    let t = start(cfg().with_job_duration(Duration::ZERO)).await;
    op_of(
        &t.post(&format!("/api/v2/vps/{VPS_PAYG}/backups"), None)
            .await,
    );
    t.admin(
        Method::POST,
        &format!("/_sim/vps/{VPS_APP}/snapshots/{SNAPSHOT_APP}/expire"),
        None,
    )
    .await;
    let snaps = t
        .get(&format!("/api/v2/vps/{VPS_APP}/snapshots"))
        .await
        .json();
    assert_eq!(snaps["data"], json!([]));
    let state = t.admin(Method::GET, "/_sim/state", None).await;
    assert_eq!(state["vps"].as_array().map(Vec::len), Some(5));
    assert_eq!(state["jobs"][0]["status"], "completed");
    let cfg_now = t.admin(Method::GET, "/_sim/config", None).await;
    assert_eq!(cfg_now["jobDurationMs"], 0);
    assert_eq!(cfg_now["jobShape"], "legacy");
    t.admin(
        Method::PATCH,
        "/_sim/config",
        Some(json!({"jobDurationMs": 5000})),
    )
    .await;

    t.admin(Method::POST, "/_sim/reset", None).await;
    let snaps = t
        .get(&format!("/api/v2/vps/{VPS_APP}/snapshots"))
        .await
        .json();
    assert_eq!(snaps["data"][0]["name"], SNAPSHOT_APP);
    let payg = t
        .get(&format!("/api/v2/vps/{VPS_PAYG}/backups"))
        .await
        .json();
    assert_eq!(payg["backups"], json!([]));
    let state = t.admin(Method::GET, "/_sim/state", None).await;
    assert_eq!(state["jobs"], json!([]));
    assert_eq!(
        t.admin(Method::GET, "/_sim/config", None).await["jobDurationMs"],
        0
    );
    let counters = t.admin(Method::GET, "/_sim/counters", None).await;
    assert_eq!(
        counters,
        json!({"GET /api/v2/vps/{id}/snapshots": 1, "GET /api/v2/vps/{id}/backups": 1})
    );
    assert_eq!(
        t.admin(Method::GET, "/_sim/health", None).await,
        json!({"ok": true})
    );
}

#[tokio::test]
async fn concurrent_requests_respect_the_rate_limit_and_the_job_gate() {
    let c = cfg()
        .with_rate_limit(10)
        .with_rate_window(Duration::from_secs(3600))
        .with_job_duration(Duration::from_secs(600));
    let t = std::sync::Arc::new(start(c).await);
    let mut tasks = Vec::new();
    for _ in 0..100 {
        let t = t.clone();
        tasks.push(tokio::spawn(
            async move { t.get("/api/v2/vps?limit=1").await },
        ));
    }
    let mut ok = 0;
    let mut limited = 0;
    for task in tasks {
        let r = task.await.expect("task");
        match r.status.as_u16() {
            200 => ok += 1,
            429 => {
                limited += 1;
                assert!(r.header("retry-after").is_some());
            }
            other => panic!("unexpected {other}: {}", r.text),
        }
    }
    assert_eq!((ok, limited), (10, 90));

    // 20 concurrent backup POSTs on one VPS (another key, its own window): exactly one job.
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let t = t.clone();
        tasks.push(tokio::spawn(async move {
            t.send(
                Method::POST,
                &format!("/api/v2/vps/{VPS_PAYG}/backups"),
                Some(KEY_ADMIN),
                None,
            )
            .await
            .expect("post")
        }));
    }
    let mut codes = Vec::new();
    for task in tasks {
        let r = task.await.expect("task");
        if r.status.as_u16() == 409 {
            assert_eq!(r.json()["code"], "job_in_progress");
        }
        codes.push(r.status.as_u16());
    }
    assert_eq!(codes.iter().filter(|c| **c == 202).count(), 1, "{codes:?}");
    assert_eq!(
        codes.iter().filter(|c| **c == 409).count(),
        10 - 1,
        "{codes:?}"
    );
    assert_eq!(codes.iter().filter(|c| **c == 429).count(), 10, "{codes:?}");
    let state = t.admin(Method::GET, "/_sim/state", None).await;
    assert_eq!(state["jobs"].as_array().map(Vec::len), Some(1));
}

// ---------------------------------------------------------------------------------------------
// Facts the reference allows but does not pin down (docs/hostup-sim.md, "Choices for
// undocumented behaviour"): each default, and each switch.

/// `op_of` for a 202 whose status may be `pending` (jobInitialStatus = pending).
fn op_status(r: &Resp) -> (String, String, String) {
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text);
    let op = &r.json()["operation"];
    (
        op["status"].as_str().expect("status").to_string(),
        op["jobId"].as_str().expect("jobId").to_string(),
        op["pollUrl"].as_str().expect("pollUrl").to_string(),
    )
}

#[tokio::test]
async fn snapshot_limits_count_used_slots() {
    let t = start(cfg().with_snapshot_delete(SnapshotDeleteMode::Sync)).await;
    let limits = |v: &Value| v["limits"].clone();
    let full = t
        .get(&format!("/api/v2/vps/{VPS_FULL}/snapshots"))
        .await
        .json();
    assert_eq!(
        limits(&full),
        json!({"totalSnapshots": 2, "usedSnapshots": 2})
    );
    let payg = t
        .get(&format!("/api/v2/vps/{VPS_PAYG}/snapshots"))
        .await
        .json();
    assert_eq!(
        limits(&payg),
        json!({"totalSnapshots": 5, "usedSnapshots": 0})
    );
    let del = format!("/api/v2/vps/{VPS_FULL}/snapshots/nightly-1");
    let r = t
        .send(Method::DELETE, &del, Some(KEY_TEST), None)
        .await
        .expect("delete");
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let full = t
        .get(&format!("/api/v2/vps/{VPS_FULL}/snapshots"))
        .await
        .json();
    assert_eq!(
        limits(&full),
        json!({"totalSnapshots": 2, "usedSnapshots": 1})
    );
    assert_eq!(
        full["limits"]["usedSnapshots"],
        full["data"].as_array().map(Vec::len).unwrap_or(99)
    );
}

#[tokio::test]
async fn jobs_may_start_pending_before_queued() {
    // Default: the 202 says queued (op_of asserts it).
    let t = start(cfg().with_job_duration(Duration::from_secs(600))).await;
    let (job, poll) = op_of(
        &t.post(&format!("/api/v2/vps/{VPS_PAYG}/backups"), None)
            .await,
    );
    assert_eq!(t.get(&poll).await.json()["data"]["status"], "queued");
    t.admin(Method::POST, &format!("/_sim/jobs/{job}/complete"), None)
        .await;

    // Switched at run time: new jobs start pending (600 s: pending for the first 30 s).
    let c = t
        .admin(
            Method::PATCH,
            "/_sim/config",
            Some(json!({"jobInitialStatus": "pending"})),
        )
        .await;
    assert_eq!(c["jobInitialStatus"], "pending");
    let r = t
        .post(&format!("/api/v2/vps/{VPS_APP}/backups"), None)
        .await;
    let (status, job, poll) = op_status(&r);
    assert_eq!(status, "pending");
    assert_eq!(poll, format!("/api/jobs/{job}"));
    let d = t.get(&poll).await.json()["data"].clone();
    assert_eq!(d["status"], "pending");
    assert_eq!(d["state"], "waiting");
    assert_eq!(d["statusKey"], "jobs.status.pending");
    assert_eq!(d["isWaiting"], true);
    assert_eq!(d["isRunning"], false);
    assert_eq!(d["progress"], 0);
    t.admin(
        Method::PATCH,
        "/_sim/config",
        Some(json!({"jobShape": "operation"})),
    )
    .await;
    let op = t.get(&poll).await.json();
    assert_eq!(op["operation"]["status"], "pending");
    t.admin(Method::POST, &format!("/_sim/jobs/{job}/complete"), None)
        .await;
    assert_eq!(
        t.get(&poll).await.json()["operation"]["status"],
        "completed"
    );

    // Through the whole lifecycle: statuses only move forward through the enum.
    let t = start(
        cfg()
            .with_job_duration(Duration::from_millis(1500))
            .with_job_initial_status(JobInitialStatus::Pending),
    )
    .await;
    let posted = Instant::now();
    let (status, _, poll) = op_status(
        &t.post(&format!("/api/v2/vps/{VPS_PAYG}/backups"), None)
            .await,
    );
    assert_eq!(status, "pending");
    let first = t.get(&poll).await.json();
    let fast = posted.elapsed() < Duration::from_millis(60);
    let mut seen = vec![first];
    seen.extend(t.poll_until_terminal(&poll, Duration::from_secs(30)).await);
    let order = ["pending", "queued", "in_progress", "completed"];
    let ranks: Vec<usize> = seen
        .iter()
        .map(|b| {
            let st = b["data"]["status"].as_str().expect("status");
            order.iter().position(|o| *o == st).expect("known status")
        })
        .collect();
    assert!(ranks.windows(2).all(|w| w[0] <= w[1]), "{seen:?}");
    assert_eq!(ranks.last(), Some(&3));
    if fast {
        assert_eq!(
            ranks[0], 0,
            "first poll within 5 % of the duration: {seen:?}"
        );
    }
}

#[tokio::test]
async fn restore_and_backup_results_name_what_they_made() {
    let t = start(cfg().with_job_duration(Duration::ZERO)).await;
    let restore = format!("/api/v2/vps/{VPS_APP}/snapshots/{SNAPSHOT_APP}/actions/restore");
    let (_, poll) = op_of(&t.post(&restore, None).await);
    let d = t.get(&poll).await.json();
    assert_eq!(d["data"]["result"]["snapshotName"], SNAPSHOT_APP);
    assert_eq!(d["data"]["result"]["success"], true);

    let (_, bpoll) = op_of(
        &t.post(&format!("/api/v2/vps/{VPS_PAYG}/backups"), None)
            .await,
    );
    let d = t.get(&bpoll).await.json();
    let result = &d["data"]["result"];
    let id = result["backupId"].as_str().expect("backupId");
    assert!(is_public_id("bkp_", id), "{id}");
    assert_eq!(result["backup"]["id"], id);
    let list = t
        .get(&format!("/api/v2/vps/{VPS_PAYG}/backups"))
        .await
        .json();
    assert_eq!(list["backups"][0]["id"], id);

    // The operation shape carries the same result.
    t.admin(
        Method::PATCH,
        "/_sim/config",
        Some(json!({"jobShape": "operation"})),
    )
    .await;
    let op = t.get(&poll).await.json();
    assert_eq!(op["operation"]["result"]["snapshotName"], SNAPSHOT_APP);
    let op = t.get(&bpoll).await.json();
    assert_eq!(op["operation"]["result"]["backupId"], id);

    // Before the backup exists, there is no result.
    t.admin(
        Method::PATCH,
        "/_sim/config",
        Some(json!({"jobDurationMs": 600_000})),
    )
    .await;
    let (_, poll) = op_of(
        &t.post(&format!("/api/v2/vps/{VPS_APP}/backups"), None)
            .await,
    );
    assert_eq!(
        t.get(&poll).await.json()["operation"]["result"],
        Value::Null
    );
}

#[tokio::test]
async fn vps_list_has_more_can_be_switched_off() {
    let t = start(cfg().with_has_more(false)).await;
    let body = t.get("/api/v2/vps?limit=2").await.json();
    assert_eq!(keys_of(&body), sorted(&["data", "nextCursor"]));
    assert!(body["nextCursor"].is_string());
    t.admin(
        Method::PATCH,
        "/_sim/config",
        Some(json!({"hasMore": true})),
    )
    .await;
    let body = t.get("/api/v2/vps?limit=2").await.json();
    assert_eq!(body["hasMore"], true);
    let last = t.get("/api/v2/vps?limit=100").await.json();
    assert_eq!(
        (last["hasMore"].clone(), last["nextCursor"].clone()),
        (json!(false), Value::Null)
    );
}

#[tokio::test]
async fn gates_without_a_code_show_null_or_no_code_key() {
    // Default: "code": null (the other tests compare whole gates with it).
    let t = start(cfg()).await;
    let snaps = t
        .get(&format!("/api/v2/vps/{VPS_APP}/snapshots"))
        .await
        .json();
    assert_eq!(
        keys_of(&snaps["actions"]["canCreate"]),
        sorted(&["allowed", "reason", "code"])
    );
    assert_eq!(snaps["actions"]["canCreate"]["code"], Value::Null);

    let t = start(cfg().with_gate_code_key(GateCodeKey::Omit)).await;
    let open = json!({"allowed": true, "reason": null});
    let snaps = t
        .get(&format!("/api/v2/vps/{VPS_APP}/snapshots"))
        .await
        .json();
    assert_eq!(
        snaps["actions"],
        json!({"canCreate": open, "canRestore": open})
    );
    let backups = t
        .get(&format!("/api/v2/vps/{VPS_APP}/backups"))
        .await
        .json();
    assert_eq!(
        backups["actions"],
        json!({"canCreateBackup": open, "canRestore": open, "canRestoreFromAnotherVps": open})
    );
    // A closed gate keeps its code.
    let full = t
        .get(&format!("/api/v2/vps/{VPS_FULL}/snapshots"))
        .await
        .json();
    assert_eq!(
        full["actions"]["canCreate"]["code"],
        "snapshot_limit_reached"
    );
    assert_eq!(full["actions"]["canRestore"], open);
    // And back at run time.
    let c = t
        .admin(
            Method::PATCH,
            "/_sim/config",
            Some(json!({"gateCodeKey": "null"})),
        )
        .await;
    assert_eq!(c["gateCodeKey"], "null");
    let snaps = t
        .get(&format!("/api/v2/vps/{VPS_APP}/snapshots"))
        .await
        .json();
    assert_eq!(snaps["actions"]["canRestore"]["code"], Value::Null);
}

#[tokio::test]
async fn a_snapshot_being_taken_may_be_listed_without_times() {
    let t = start(
        cfg()
            .with_job_duration(Duration::from_secs(600))
            .with_snapshot_visibility(SnapshotVisibility::Immediate),
    )
    .await;
    let path = format!("/api/v2/vps/{VPS_APP}/snapshots");
    let (job, poll) = op_of(
        &t.post(
            &path,
            Some(json!({"name": "pre-deploy", "description": "Before deploy"})),
        )
        .await,
    );
    let list = t.get(&path).await.json();
    let items = list["data"].as_array().expect("data");
    assert_eq!(items.len(), 2);
    assert_eq!(
        items[1],
        json!({"displayId": "pre-deploy", "name": "pre-deploy", "description": "Before deploy",
               "createdAt": null, "expiresAt": null, "includesMemoryState": false,
               "parentName": SNAPSHOT_APP})
    );
    assert_eq!(
        list["limits"],
        json!({"totalSnapshots": 3, "usedSnapshots": 2})
    );
    assert_eq!(list["actions"]["canRestore"]["code"], "job_in_progress");

    t.admin(Method::POST, &format!("/_sim/jobs/{job}/complete"), None)
        .await;
    let done = t.get(&poll).await.json();
    let list = t.get(&path).await.json();
    let item = &list["data"][1];
    assert_eq!(item, &done["data"]["result"]["snapshot"]);
    let created = item["createdAt"].as_str().expect("createdAt");
    let expires = item["expiresAt"].as_str().expect("expiresAt");
    assert_iso_ms(created);
    assert_eq!(
        parse_iso(expires) - parse_iso(created),
        time::Duration::hours(24)
    );
    assert_eq!(list["limits"]["usedSnapshots"], 2);

    // A create that fails leaves nothing behind.
    let (job, _) = op_of(&t.post(&path, Some(json!({"name": "doomed"}))).await);
    let list = t.get(&path).await.json();
    assert_eq!(list["data"][2]["name"], "doomed");
    t.admin(Method::POST, &format!("/_sim/jobs/{job}/fail"), None)
        .await;
    let list = t.get(&path).await.json();
    assert_eq!(list["data"].as_array().map(Vec::len), Some(2));
    assert_eq!(list["limits"]["usedSnapshots"], 2);

    // Default (completed): hidden until then, as snapshot_create_queues_a_job… shows; switchable.
    let c = t
        .admin(
            Method::PATCH,
            "/_sim/config",
            Some(json!({"snapshotVisibility": "completed"})),
        )
        .await;
    assert_eq!(c["snapshotVisibility"], "completed");
    op_of(&t.post(&path, Some(json!({"name": "hidden"}))).await);
    let list = t.get(&path).await.json();
    assert_eq!(list["data"].as_array().map(Vec::len), Some(2));
    assert_eq!(list["limits"]["usedSnapshots"], 2);
}

#[tokio::test]
async fn backup_list_gates_restores_from_another_vps() {
    let t = start(cfg().with_job_duration(Duration::from_secs(600))).await;
    let gate = |v: &Value| v["actions"]["canRestoreFromAnotherVps"].clone();
    let open = json!({"allowed": true, "reason": null, "code": null});
    for vps in [VPS_APP, VPS_NO_SNAPSHOTS, VPS_FULL, VPS_PAYG] {
        let b = t.get(&format!("/api/v2/vps/{vps}/backups")).await.json();
        assert_eq!(gate(&b), open, "{vps}: {b}");
    }
    let pending = t
        .get(&format!("/api/v2/vps/{VPS_PENDING}/backups"))
        .await
        .json();
    let g = gate(&pending);
    assert_eq!(g["allowed"], false);
    assert_eq!(g["code"], "pending_order");
    assert!(g["reason"].as_str().is_some_and(|r| !r.is_empty()));

    t.admin(
        Method::PATCH,
        &format!("/_sim/vps/{VPS_NO_SNAPSHOTS}"),
        Some(json!({"serviceStatus": "suspended"})),
    )
    .await;
    let b = t
        .get(&format!("/api/v2/vps/{VPS_NO_SNAPSHOTS}/backups"))
        .await
        .json();
    assert_eq!(gate(&b)["code"], "service_suspended");

    // While a job runs on the VPS.
    op_of(
        &t.post(
            &format!("/api/v2/vps/{VPS_FULL}/snapshots/nightly-1/actions/restore"),
            None,
        )
        .await,
    );
    let b = t
        .get(&format!("/api/v2/vps/{VPS_FULL}/backups"))
        .await
        .json();
    assert_eq!(gate(&b)["code"], "job_in_progress");
}

#[tokio::test]
async fn busy_faults_answer_each_vps_busy_signal() {
    let t = start(cfg().with_job_duration(Duration::ZERO)).await;
    let backups = format!("/api/v2/vps/{VPS_PAYG}/backups");
    let snapshots = format!("/api/v2/vps/{VPS_PAYG}/snapshots");
    t.admin(
        Method::POST,
        "/_sim/faults",
        Some(json!({"rules": [
            {"kind": "busy", "count": 1, "method": "POST"},
            {"kind": "busy", "code": "vps_not_ready", "count": 1, "method": "POST"},
            {"kind": "busy", "code": "operation_in_progress", "count": 1, "method": "POST"},
        ]})),
    )
    .await;
    let r = t.post(&backups, None).await;
    let p = assert_problem(&r, 409, "job_in_progress", "Job in progress", &backups);
    assert!(p["detail"].as_str().is_some_and(|d| !d.is_empty()));
    let r = t.post(&backups, None).await;
    let p = assert_problem(&r, 409, "vps_not_ready", "VPS not ready", &backups);
    assert!(p["detail"]
        .as_str()
        .is_some_and(|d| d.contains("not ready")));
    let r = t.post(&backups, None).await;
    assert_problem(&r, 409, "operation_in_progress", "Conflict", &backups);
    op_of(&t.post(&backups, None).await);

    // With `gates`, a gate read is answered with its gates closed with the code; the same rule
    // refuses a write with it.
    t.admin(
        Method::POST,
        "/_sim/faults",
        Some(json!({"rules": [
            {"kind": "busy", "code": "vps_not_ready", "gates": true, "route": "/api/v2/vps/{id}/*", "count": 4},
        ]})),
    )
    .await;
    for path in [&snapshots, &backups] {
        let r = t.get(path).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let actions = r.json()["actions"].clone();
        for (name, g) in actions.as_object().expect("actions") {
            assert_eq!(g["allowed"], false, "{name}");
            assert_eq!(g["code"], "vps_not_ready", "{name}");
            assert!(g["reason"].is_string(), "{name}");
        }
    }
    let r = t.post(&snapshots, Some(json!({"name": "x"}))).await;
    assert_problem(&r, 409, "vps_not_ready", "VPS not ready", &snapshots);
    // A pending order still wins over a busy gate, as over a job in flight.
    let r = t.get(&format!("/api/v2/vps/{VPS_PENDING}/snapshots")).await;
    assert_eq!(r.json()["actions"]["canCreate"]["code"], "pending_order");
    let faults = t.admin(Method::GET, "/_sim/faults", None).await;
    assert_eq!(faults["rules"][0]["fired"], 4);
    assert_eq!(faults["rules"][0]["gates"], true);
    let snaps = t.get(&snapshots).await.json();
    assert_eq!(snaps["actions"]["canCreate"]["allowed"], true);

    // Bad busy rules are refused.
    for rule in [
        json!({"kind": "busy", "code": "Not A Code"}),
        json!({"kind": "error", "code": "vps_not_ready"}),
        json!({"kind": "reset", "gates": true}),
    ] {
        let r = t
            .send(
                Method::POST,
                "/_sim/faults",
                None,
                Some(json!({"rules": [rule]})),
            )
            .await
            .expect("post");
        assert_eq!(r.status.as_u16(), 400, "{rule}: {}", r.text);
    }
}

#[tokio::test]
async fn a_vps_not_ready_closes_its_gates_with_vps_not_ready() {
    let t = start(cfg().with_job_duration(Duration::ZERO)).await;
    let snapshots = format!("/api/v2/vps/{VPS_APP}/snapshots");
    let backups = format!("/api/v2/vps/{VPS_APP}/backups");
    let dump = t
        .admin(
            Method::PATCH,
            &format!("/_sim/vps/{VPS_APP}"),
            Some(json!({"powerState": "starting", "revertAfterMs": 400})),
        )
        .await;
    assert_eq!(dump["powerState"], "starting");
    assert!(dump["powerRevert"]["at"].is_string());
    assert_eq!(dump["powerRevert"]["to"], "running");
    assert_eq!(
        t.get(&format!("/api/v2/vps/{VPS_APP}")).await.json()["powerState"],
        "starting"
    );
    let s = t.get(&snapshots).await.json();
    let b = t.get(&backups).await.json();
    for g in [
        &s["actions"]["canCreate"],
        &s["actions"]["canRestore"],
        &b["actions"]["canCreateBackup"],
        &b["actions"]["canRestore"],
        &b["actions"]["canRestoreFromAnotherVps"],
    ] {
        assert_eq!(g["allowed"], false, "{g}");
        assert_eq!(g["code"], "vps_not_ready", "{g}");
    }
    let r = t.post(&backups, None).await;
    let p = assert_problem(&r, 409, "vps_not_ready", "VPS not ready", &backups);
    assert_eq!(p["detail"], b["actions"]["canCreateBackup"]["reason"]);
    let del = format!("{backups}/{BACKUP_APP}");
    let r = t
        .send(Method::DELETE, &del, Some(KEY_TEST), None)
        .await
        .expect("delete");
    assert_problem(&r, 409, "vps_not_ready", "VPS not ready", &del);

    // The power operation ends by itself.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let v = t.get(&format!("/api/v2/vps/{VPS_APP}")).await.json();
        if v["powerState"] == "running" {
            break;
        }
        assert!(Instant::now() < deadline, "power state never reverted: {v}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(
        t.get(&snapshots).await.json()["actions"]["canCreate"]["allowed"],
        true
    );
    // Without revertAfterMs it stays until changed; provisioning counts too.
    t.admin(
        Method::PATCH,
        &format!("/_sim/vps/{VPS_APP}"),
        Some(json!({"powerState": "provisioning"})),
    )
    .await;
    assert_eq!(
        t.get(&snapshots).await.json()["actions"]["canCreate"]["code"],
        "vps_not_ready"
    );
    let dump = t
        .admin(
            Method::PATCH,
            &format!("/_sim/vps/{VPS_APP}"),
            Some(json!({"powerState": "stopped"})),
        )
        .await;
    assert_eq!(dump["powerRevert"], Value::Null);
    assert_eq!(
        t.get(&snapshots).await.json()["actions"]["canCreate"]["allowed"],
        true
    );
    // Bad patches are refused.
    for body in [
        json!({"powerState": "warp"}),
        json!({"serviceStatus": "gone"}),
        json!({"revertAfterMs": 5}),
        json!({"other": 1}),
    ] {
        let r = t
            .send(
                Method::PATCH,
                &format!("/_sim/vps/{VPS_APP}"),
                None,
                Some(body.clone()),
            )
            .await
            .expect("patch");
        assert_eq!(r.status.as_u16(), 400, "{body}: {}", r.text);
    }
}

#[tokio::test]
async fn job_type_vocabulary_and_vm_id_form_are_selectable() {
    let t = start(cfg().with_job_duration(Duration::ZERO)).await;
    let restore = format!("/api/v2/vps/{VPS_APP}/snapshots/{SNAPSHOT_APP}/actions/restore");
    // Defaults: current names, public vmId.
    let (_, poll) = op_of(&t.post(&restore, None).await);
    let d = t.get(&poll).await.json()["data"].clone();
    assert_eq!(d["type"], "snapshot_restore");
    assert_eq!(d["vmId"], VPS_APP);

    let t = start(
        cfg()
            .with_job_duration(Duration::ZERO)
            .with_job_types(JobTypes::Legacy)
            .with_vm_id(VmIdForm::Numeric),
    )
    .await;
    let (job, poll) = op_of(&t.post(&restore, None).await);
    let d = t.get(&poll).await.json()["data"].clone();
    assert_eq!(d["type"], "snapshot_rollback");
    assert_eq!(d["jobName"], "snapshot_rollback");
    assert_eq!(d["progressTextKey"], "jobs.progress.snapshot_rollback");
    assert_eq!(d["result"]["type"], "snapshot_rollback");
    let vmid = d["vmId"].as_str().expect("vmId is a string").to_string();
    assert!(vmid.parse::<u32>().is_ok(), "{vmid}");
    // The number is the one in the VPS's backup storage keys.
    let b = t
        .get(&format!("/api/v2/vps/{VPS_APP}/backups"))
        .await
        .json();
    let key = b["backups"][0]["storageKey"].as_str().expect("storageKey");
    assert!(
        key.starts_with(&format!("vzdump-qemu-{vmid}-")),
        "{key} / {vmid}"
    );
    // The admin API keeps the internal names.
    let state = t.admin(Method::GET, "/_sim/state", None).await;
    let j = state["jobs"]
        .as_array()
        .and_then(|l| l.iter().find(|j| j["jobId"] == job.as_str()))
        .cloned()
        .expect("job");
    assert_eq!(j["type"], "snapshot_restore");
    assert_eq!(j["vpsId"], VPS_APP);
    // A job fault's type filter takes any vocabulary's name.
    t.admin(
        Method::POST,
        "/_sim/faults",
        Some(json!({"jobs": {"failNext": 1, "type": "snapshot_rollback"}})),
    )
    .await;
    op_of(
        &t.post(&format!("/api/v2/vps/{VPS_PAYG}/backups"), None)
            .await,
    );
    let (_, poll) = op_of(&t.post(&restore, None).await);
    assert_eq!(t.get(&poll).await.json()["data"]["status"], "failed");

    // Proxmox task names, switched at run time.
    let c = t
        .admin(
            Method::PATCH,
            "/_sim/config",
            Some(json!({"jobTypes": "proxmox", "vmId": "public"})),
        )
        .await;
    assert_eq!(
        (c["jobTypes"].clone(), c["vmId"].clone()),
        (json!("proxmox"), json!("public"))
    );
    let (_, poll) = op_of(
        &t.post(&format!("/api/v2/vps/{VPS_PAYG}/backups"), None)
            .await,
    );
    let d = t.get(&poll).await.json()["data"].clone();
    assert_eq!(d["type"], "vzdump");
    assert_eq!(d["result"]["type"], "vzdump");
    assert_eq!(d["vmId"], VPS_PAYG);
    let r = t
        .send(
            Method::PATCH,
            "/_sim/config",
            None,
            Some(json!({"jobTypes": "klingon"})),
        )
        .await
        .expect("patch");
    assert_eq!(r.status.as_u16(), 400);
}

#[tokio::test]
async fn a_terminated_vps_has_no_snapshots_or_backups() {
    let t = start(cfg().with_job_duration(Duration::from_secs(600))).await;
    let snapshots = format!("/api/v2/vps/{VPS_APP}/snapshots");
    let backups = format!("/api/v2/vps/{VPS_APP}/backups");
    assert_eq!(t.get(&snapshots).await.status, StatusCode::OK);
    let (_, poll) = op_of(&t.post(&backups, None).await);

    let dump = t
        .admin(
            Method::POST,
            &format!("/_sim/vps/{VPS_APP}/terminate"),
            None,
        )
        .await;
    assert_eq!(dump["serviceStatus"], "terminated");
    assert_eq!(dump["powerState"], "stopped");
    // Its job in flight fails.
    let d = t.get(&poll).await.json()["data"].clone();
    assert_eq!(d["status"], "failed");
    assert_eq!(d["failedReason"], "The VPS was terminated.");
    // Still in the inventory, with its status…
    let v = t.get(&format!("/api/v2/vps/{VPS_APP}")).await.json();
    assert_eq!(v["serviceStatus"], "terminated");
    let by_name = t.get("/api/v2/vps?name=app-01").await.json();
    assert_eq!(by_name["data"][0]["id"], VPS_APP);
    // …but its snapshots and backups are gone.
    for path in [
        snapshots.clone(),
        backups.clone(),
        format!("{snapshots}/{SNAPSHOT_APP}/actions/restore"),
        format!("{backups}/{BACKUP_APP}/actions/restore"),
    ] {
        let r = if path.ends_with("restore") {
            t.post(&path, None).await
        } else {
            t.get(&path).await
        };
        assert_problem(&r, 404, "vps_not_found", "VPS not found", &path);
    }
    let r = t.post(&snapshots, Some(json!({"name": "late"}))).await;
    assert_problem(&r, 404, "vps_not_found", "VPS not found", &snapshots);
    let del = format!("{backups}/{BACKUP_APP}");
    let r = t
        .send(Method::DELETE, &del, Some(KEY_TEST), None)
        .await
        .expect("delete");
    assert_problem(&r, 404, "vps_not_found", "VPS not found", &del);

    // Removed outright: every endpoint 404s and the list drops it.
    let r = t
        .send(Method::DELETE, &format!("/_sim/vps/{VPS_PAYG}"), None, None)
        .await
        .expect("delete");
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let path = format!("/api/v2/vps/{VPS_PAYG}");
    assert_problem(
        &t.get(&path).await,
        404,
        "vps_not_found",
        "VPS not found",
        &path,
    );
    let all = t.get("/api/v2/vps").await.json();
    assert_eq!(all["data"].as_array().map(Vec::len), Some(4));
    let r = t
        .send(
            Method::POST,
            &format!("/_sim/vps/{VPS_PAYG}/terminate"),
            None,
            None,
        )
        .await
        .expect("post");
    assert_eq!(r.status.as_u16(), 404);
    assert_eq!(r.json()["code"], "vps_not_found");

    // A reset brings both back.
    t.admin(Method::POST, "/_sim/reset", None).await;
    assert_eq!(t.get(&snapshots).await.status, StatusCode::OK);
    assert_eq!(t.get(&path).await.status, StatusCode::OK);
}

// ---------------------------------------------------------------------------------------------
// Snapshot schedules (reference §4.5; docs/hostup-sim.md §3.9)

fn open_gate() -> Value {
    json!({"allowed": true, "reason": null, "code": null})
}

async fn send_as(t: &T, method: Method, path: &str, key: &str, body: Option<Value>) -> Resp {
    t.send(method, path, Some(key), body)
        .await
        .expect("request")
}

#[tokio::test]
async fn snapshot_schedule_reads_match_reference() {
    let t = start(cfg()).await;
    let none = t
        .get(&format!("/api/v2/vps/{VPS_APP}/snapshot-schedules"))
        .await;
    assert_eq!(none.status, StatusCode::OK);
    assert_eq!(none.header("content-type"), Some("application/json"));
    assert_eq!(
        none.json(),
        json!({
            "schedule": null,
            "limits": {"totalSnapshots": 3},
            "available": true,
            "reason": null,
            "actions": {"canEnable": open_gate()},
        })
    );
    let closed = json!({"allowed": false, "reason": NO_SNAPSHOTS, "code": "feature_not_in_plan"});
    assert_eq!(
        t.get(&format!(
            "/api/v2/vps/{VPS_NO_SNAPSHOTS}/snapshot-schedules"
        ))
        .await
        .json(),
        json!({
            "schedule": null,
            "limits": {"totalSnapshots": 0},
            "available": false,
            "reason": NO_SNAPSHOTS,
            "actions": {"canEnable": closed},
        })
    );
    let pending = t
        .get(&format!("/api/v2/vps/{VPS_PENDING}/snapshot-schedules"))
        .await
        .json();
    assert_eq!(pending["available"], true);
    assert_eq!(pending["actions"]["canEnable"]["allowed"], false);
    assert_eq!(pending["actions"]["canEnable"]["code"], "pending_order");

    // cloud-01 has a schedule in the fixture.
    let cloud = t
        .get(&format!("/api/v2/vps/{VPS_PAYG}/snapshot-schedules"))
        .await
        .json();
    let s = &cloud["schedule"];
    assert_eq!(
        keys_of(s),
        sorted(&[
            "enabled",
            "intervalHours",
            "lastRun",
            "nextRun",
            "createdAt"
        ])
    );
    assert_eq!(s["enabled"], true);
    assert_eq!(s["intervalHours"], 12);
    assert_eq!(s["lastRun"], Value::Null);
    let created = s["createdAt"].as_str().expect("createdAt");
    let next = s["nextRun"].as_str().expect("nextRun");
    assert_iso_ms(created);
    assert_iso_ms(next);
    assert_eq!(
        parse_iso(next) - parse_iso(created),
        time::Duration::hours(12)
    );
    assert_eq!(cloud["limits"], json!({"totalSnapshots": 5}));
}

#[tokio::test]
async fn snapshot_schedule_post_floors_and_clamps_the_interval() {
    let t = start(cfg()).await;
    let path = format!("/api/v2/vps/{VPS_APP}/snapshot-schedules");
    let mut created_at = None;
    for (given, taken) in [
        (json!(3), 4),
        (json!(25), 24),
        (json!(6.7), 6),
        (json!(4), 4),
    ] {
        let r = t
            .post(
                &path,
                Some(json!({"enabled": true, "intervalHours": given})),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let body = r.json();
        assert_eq!(
            keys_of(&body),
            sorted(&["schedule", "limits", "available", "reason", "actions"])
        );
        assert_eq!(body["schedule"]["intervalHours"], taken, "{given}");
        assert_eq!(body["schedule"]["enabled"], true);
        // Replacing keeps the singleton's creation time.
        let c = body["schedule"]["createdAt"].clone();
        assert_eq!(*created_at.get_or_insert(c.clone()), c);
        assert_eq!(t.get(&path).await.json(), body);
    }
    let off = t
        .post(&path, Some(json!({"enabled": false, "intervalHours": 12})))
        .await
        .json();
    assert_eq!(off["schedule"]["enabled"], false);
    assert_eq!(off["schedule"]["nextRun"], Value::Null);
    assert_eq!(off["schedule"]["intervalHours"], 12);
}

#[tokio::test]
async fn snapshot_schedule_refusals() {
    let t = start(cfg().with_job_duration(Duration::from_secs(600))).await;
    let path = format!("/api/v2/vps/{VPS_APP}/snapshot-schedules");
    let good = json!({"enabled": true, "intervalHours": 6});
    // Scopes: reading needs read:vm, changing needs write:vm.
    for (m, key) in [
        (Method::POST, KEY_READ_ONLY),
        (Method::POST, KEY_BACKUP_ONLY),
        (Method::DELETE, KEY_BACKUP_ONLY),
    ] {
        let r = send_as(&t, m, &path, key, Some(good.clone())).await;
        let p = assert_problem(&r, 403, "forbidden", "Forbidden", &path);
        assert_eq!(p["detail"], "This API key lacks the scope write:vm.");
    }
    let r = send_as(&t, Method::GET, &path, KEY_BACKUP_ONLY, None).await;
    assert_eq!(
        assert_problem(&r, 403, "forbidden", "Forbidden", &path)["detail"],
        "This API key lacks the scope read:vm."
    );
    assert_eq!(
        send_as(&t, Method::GET, &path, KEY_READ_ONLY, None)
            .await
            .status,
        StatusCode::OK
    );
    let r = send_as(&t, Method::POST, &path, KEY_ADMIN, Some(good.clone())).await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "write:all implies write:vm: {}",
        r.text
    );

    // Validation.
    let r = t.post(&path, Some(json!({}))).await;
    let p = assert_problem(&r, 400, "invalid_request", "Validation failed", &path);
    assert_eq!(
        p["errors"],
        json!([
            {"pointer": "/enabled", "detail": "`enabled` is required.", "code": "missing_required"},
            {"pointer": "/intervalHours", "detail": "`intervalHours` is required.", "code": "missing_required"},
        ])
    );
    let r = t
        .post(&path, Some(json!({"enabled": "yes", "intervalHours": "6"})))
        .await;
    let p = assert_problem(&r, 400, "invalid_request", "Validation failed", &path);
    let pointers: Vec<(&str, &str)> = p["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| {
            (
                e["pointer"].as_str().unwrap_or(""),
                e["code"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        pointers,
        [
            ("/enabled", "invalid_type"),
            ("/intervalHours", "invalid_type")
        ]
    );
    let r = t
        .send(Method::POST, &path, Some(KEY_TEST), None)
        .await
        .expect("post");
    let p = assert_problem(&r, 400, "invalid_request", "Validation failed", &path);
    assert_eq!(p["errors"][0]["pointer"], "");
    let raw = t
        .http
        .post(t.url(&path))
        .bearer_auth(KEY_TEST)
        .body("{not json")
        .send()
        .await
        .expect("post");
    assert_eq!(raw.status().as_u16(), 400);
    let p: Value = raw.json().await.expect("json");
    assert_eq!(p["errors"][0]["code"], "invalid_json");

    // Gates: a plan without slots and a pending order; a job in flight does not close it.
    for (vps, code) in [
        (VPS_NO_SNAPSHOTS, "feature_not_in_plan"),
        (VPS_PENDING, "pending_order"),
    ] {
        let p = format!("/api/v2/vps/{vps}/snapshot-schedules");
        let r = t.post(&p, Some(good.clone())).await;
        assert_eq!(r.status.as_u16(), 409, "{}", r.text);
        assert_eq!(r.json()["code"], code);
    }
    op_of(
        &t.post(&format!("/api/v2/vps/{VPS_APP}/backups"), None)
            .await,
    );
    let body = t.get(&path).await.json();
    assert_eq!(body["actions"]["canEnable"], open_gate());
    assert_eq!(
        t.post(&path, Some(good.clone())).await.status,
        StatusCode::OK
    );

    // Unknown and terminated VPSs.
    let unknown = "/api/v2/vps/vps_00000000000000000000000000/snapshot-schedules";
    for m in [Method::GET, Method::POST, Method::DELETE] {
        let r = t
            .send(m, unknown, Some(KEY_TEST), Some(good.clone()))
            .await
            .expect("send");
        assert_problem(&r, 404, "vps_not_found", "VPS not found", unknown);
    }
    t.admin(
        Method::POST,
        &format!("/_sim/vps/{VPS_FULL}/terminate"),
        None,
    )
    .await;
    let gone = format!("/api/v2/vps/{VPS_FULL}/snapshot-schedules");
    assert_problem(
        &t.get(&gone).await,
        404,
        "vps_not_found",
        "VPS not found",
        &gone,
    );
    // Methods.
    let r = t
        .send(Method::PATCH, &path, Some(KEY_TEST), None)
        .await
        .expect("patch");
    assert_eq!(r.status.as_u16(), 405);
    assert_eq!(r.header("allow"), Some("GET, POST, DELETE"));
}

#[tokio::test]
async fn snapshot_schedule_delete_answers_204_or_the_body() {
    let t = start(cfg()).await;
    let path = format!("/api/v2/vps/{VPS_PAYG}/snapshot-schedules");
    let del = || t.send(Method::DELETE, &path, Some(KEY_TEST), None);
    let r = del().await.expect("delete");
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    assert_eq!(r.text, "");
    assert_eq!(t.get(&path).await.json()["schedule"], Value::Null);
    let r = del().await.expect("delete");
    assert_problem(
        &r,
        404,
        "snapshot_schedule_not_found",
        "Snapshot schedule not found",
        &path,
    );

    t.admin(
        Method::PATCH,
        "/_sim/config",
        Some(json!({"snapshotScheduleDelete": "body"})),
    )
    .await;
    t.post(&path, Some(json!({"enabled": true, "intervalHours": 8})))
        .await;
    let r = del().await.expect("delete");
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json(), t.get(&path).await.json());
    assert_eq!(r.json()["schedule"], Value::Null);
}

#[tokio::test]
async fn snapshot_schedule_legacy_shape_is_selectable() {
    let t = start(cfg()).await;
    let c = t
        .admin(
            Method::PATCH,
            "/_sim/config",
            Some(json!({"snapshotScheduleShape": "legacy"})),
        )
        .await;
    assert_eq!(c["snapshotScheduleShape"], "legacy");
    let path = format!("/api/v2/vps/{VPS_PAYG}/snapshot-schedules");
    let body = t.get(&path).await.json();
    let s = &body["schedule"];
    assert_eq!(
        keys_of(s),
        sorted(&[
            "id",
            "vm_id",
            "enabled",
            "interval_hours",
            "retention_days",
            "last_run",
            "next_run",
            "created_at"
        ])
    );
    assert_eq!(s["interval_hours"], 12);
    assert!(s["id"].is_u64() && s["vm_id"].is_u64(), "{s}");
    // The envelope stays camelCase.
    assert_eq!(body["limits"], json!({"totalSnapshots": 5}));
    let r = t
        .send(
            Method::PATCH,
            "/_sim/config",
            None,
            Some(json!({"snapshotScheduleShape": "snake"})),
        )
        .await
        .expect("patch");
    assert_eq!(r.status.as_u16(), 400);
}

#[tokio::test]
async fn scheduled_snapshots_take_the_same_slots_as_manual_ones() {
    let t = start(cfg().with_job_duration(Duration::from_secs(600))).await;
    let schedule = format!("/api/v2/vps/{VPS_APP}/snapshot-schedules");
    let snapshots = format!("/api/v2/vps/{VPS_APP}/snapshots");
    let run = format!("/_sim/vps/{VPS_APP}/snapshot-schedule/run");
    let r = t.send(Method::POST, &run, None, None).await.expect("run");
    assert_eq!(r.status.as_u16(), 404);
    assert_eq!(r.json()["code"], "snapshot_schedule_not_found");

    t.post(
        &schedule,
        Some(json!({"enabled": true, "intervalHours": 4})),
    )
    .await;
    // app-01: 3 slots, `before-upgrade` holds one, a manual snapshot being taken another.
    let (_, poll) = op_of(&t.post(&snapshots, Some(json!({"name": "manual"}))).await);
    let ran = t.admin(Method::POST, &run, None).await;
    let name = ran["snapshot"]["name"].as_str().expect("name").to_string();
    assert!(name.starts_with("auto-"), "{name}");
    assert_eq!(ran["snapshot"]["description"], "Scheduled snapshot");
    assert_eq!(ran["snapshot"]["parentName"], SNAPSHOT_APP);
    let last = ran["schedule"]["lastRun"].as_str().expect("lastRun");
    assert_eq!(ran["snapshot"]["createdAt"], last);
    assert_eq!(
        parse_iso(ran["schedule"]["nextRun"].as_str().expect("nextRun")) - parse_iso(last),
        time::Duration::hours(4)
    );
    assert_eq!(t.get(&schedule).await.json()["schedule"], ran["schedule"]);
    // Every slot is held now: the next run is refused and changes nothing.
    let r = t.send(Method::POST, &run, None, None).await.expect("run");
    assert_eq!(r.status.as_u16(), 409, "{}", r.text);
    assert_eq!(r.json()["code"], "snapshot_limit_reached");
    let poll_id = poll.rsplit('/').next().expect("id").to_string();
    t.admin(
        Method::POST,
        &format!("/_sim/jobs/{poll_id}/complete"),
        None,
    )
    .await;
    let list = t.get(&snapshots).await.json();
    let names: Vec<&str> = list["data"]
        .as_array()
        .expect("data")
        .iter()
        .filter_map(|s| s["name"].as_str())
        .collect();
    assert_eq!(names, [SNAPSHOT_APP, name.as_str(), "manual"]);
    assert_eq!(
        list["limits"],
        json!({"totalSnapshots": 3, "usedSnapshots": 3})
    );
    assert_eq!(
        list["actions"]["canCreate"]["code"],
        "snapshot_limit_reached"
    );
    let r = t.post(&snapshots, Some(json!({"name": "one-more"}))).await;
    assert_eq!(r.json()["code"], "snapshot_limit_reached");
    // A scheduled snapshot is an ordinary one: it can be deleted to free its slot.
    t.admin(
        Method::PATCH,
        "/_sim/config",
        Some(json!({"snapshotDelete": "sync"})),
    )
    .await;
    let r = t
        .send(
            Method::DELETE,
            &format!("{snapshots}/{name}"),
            Some(KEY_TEST),
            None,
        )
        .await
        .expect("delete");
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    t.admin(Method::POST, &run, None).await;
    // A disabled schedule does not run.
    t.post(
        &schedule,
        Some(json!({"enabled": false, "intervalHours": 4})),
    )
    .await;
    let r = t.send(Method::POST, &run, None, None).await.expect("run");
    assert_eq!(r.json()["code"], "schedule_disabled");
    let state = t.admin(Method::GET, "/_sim/state", None).await;
    let app = state["vps"]
        .as_array()
        .and_then(|l| l.iter().find(|v| v["id"] == VPS_APP))
        .expect("app");
    assert_eq!(app["snapshotSchedule"]["enabled"], false);
}

// ---------------------------------------------------------------------------------------------
// Backup schedules and settings (reference §5.5; docs/hostup-sim.md §3.10)

/// `(pointer, code)` of each `errors[]` entry of a 400 at `path`.
fn pointers(r: &Resp, path: &str) -> Vec<(String, String)> {
    let p = assert_problem(r, 400, "invalid_request", "Validation failed", path);
    p["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| {
            assert!(e["detail"].as_str().is_some_and(|d| !d.is_empty()), "{e}");
            (
                e["pointer"].as_str().unwrap_or("?").to_string(),
                e["code"].as_str().unwrap_or("?").to_string(),
            )
        })
        .collect()
}

fn pc(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(p, c)| (p.to_string(), c.to_string()))
        .collect()
}

#[tokio::test]
async fn backup_schedule_reads_match_reference() {
    let t = start(cfg()).await;
    let r = t
        .get(&format!("/api/v2/vps/{VPS_FULL}/backup-schedules"))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(
        r.json(),
        json!({
            "schedules": [{
                "id": BACKUP_SCHEDULE_DB,
                "name": "Nightly backup",
                "frequency": "daily",
                "time": "02:00",
                "daySpecifier": null,
                "retentionCount": 2,
                "enabled": true,
                "lastRun": "2026-11-18T02:00:00.000Z",
            }],
            "settings": {
                "totalBackupLimit": 2,
                "manualBackupsActive": 1,
                "scheduledBackupsActive": 1,
                "availableScheduledSlots": 1,
                "autoDeleteOldest": true,
            },
            "limits": {"maxActiveSchedules": 1, "minRetentionCount": 1},
            "actions": {"canCreateSchedule": open_gate()},
        })
    );
    let app = t
        .get(&format!("/api/v2/vps/{VPS_APP}/backup-schedules"))
        .await
        .json();
    assert_eq!(app["schedules"], json!([]));
    assert_eq!(
        app["settings"],
        json!({"totalBackupLimit": 3, "manualBackupsActive": 0, "scheduledBackupsActive": 1,
               "availableScheduledSlots": 3, "autoDeleteOldest": false})
    );
    let payg = t
        .get(&format!("/api/v2/vps/{VPS_PAYG}/backup-schedules"))
        .await
        .json();
    assert_eq!(payg["settings"]["totalBackupLimit"], Value::Null);
    assert_eq!(payg["settings"]["availableScheduledSlots"], Value::Null);
    let pending = t
        .get(&format!("/api/v2/vps/{VPS_PENDING}/backup-schedules"))
        .await
        .json();
    let g = &pending["actions"]["canCreateSchedule"];
    assert_eq!(
        (g["allowed"].clone(), g["code"].clone()),
        (json!(false), json!("pending_order"))
    );
    // Reading needs read:vm only.
    let path = format!("/api/v2/vps/{VPS_FULL}/backup-schedules");
    assert_eq!(
        send_as(&t, Method::GET, &path, KEY_READ_ONLY, None)
            .await
            .status,
        StatusCode::OK
    );
    let r = send_as(&t, Method::GET, &path, KEY_BACKUP_ONLY, None).await;
    assert_problem(&r, 403, "forbidden", "Forbidden", &path);
}

#[tokio::test]
async fn backup_schedules_are_created_replaced_and_one_is_active() {
    let t = start(cfg()).await;
    let path = format!("/api/v2/vps/{VPS_APP}/backup-schedules");
    let weekly = json!({"frequency": "weekly", "hour": 3, "dayOfWeek": 1, "retentionCount": 7,
                        "enabled": true, "name": "Weekly full"});
    let r = t.post(&path, Some(weekly)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let body = r.json();
    assert_eq!(keys_of(&body), sorted(&["schedule"]));
    let w = &body["schedule"];
    let wid = w["id"].as_str().expect("id").to_string();
    assert!(is_public_id("bks_", &wid), "{wid}");
    assert_eq!(
        *w,
        json!({"id": wid, "name": "Weekly full", "frequency": "weekly", "time": "03:00",
               "daySpecifier": "monday", "retentionCount": 7, "enabled": true, "lastRun": null})
    );
    // The same frequency again updates that schedule (name kept when not given).
    let r = t
        .post(
            &path,
            Some(
                json!({"frequency": "weekly", "hour": 23, "dayOfWeek": 0, "retentionCount": 2,
                        "enabled": true}),
            ),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let w = r.json()["schedule"].clone();
    assert_eq!(w["id"], wid.as_str());
    assert_eq!(w["name"], "Weekly full");
    assert_eq!(
        (w["time"].clone(), w["daySpecifier"].clone()),
        (json!("23:00"), json!("sunday"))
    );
    // Another frequency, enabled: a new schedule, and the weekly one is switched off.
    let r = t
        .post(
            &path,
            Some(json!({"frequency": "daily", "hour": 0, "retentionCount": 3, "enabled": true})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let d = r.json()["schedule"].clone();
    assert_eq!(d["name"], "Daily backup");
    assert_eq!(d["time"], "00:00");
    assert_eq!(d["daySpecifier"], Value::Null);
    // A disabled monthly one leaves the daily one active.
    let r = t
        .post(
            &path,
            Some(json!({"frequency": "monthly", "hour": 12, "dayOfMonth": 31,
                        "retentionCount": 1, "enabled": false})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.json()["schedule"]["daySpecifier"], "31");
    let list = t.get(&path).await.json();
    let state: Vec<(String, bool)> = list["schedules"]
        .as_array()
        .expect("schedules")
        .iter()
        .map(|s| {
            (
                s["frequency"].as_str().unwrap_or("").to_string(),
                s["enabled"] == true,
            )
        })
        .collect();
    assert_eq!(
        state,
        [
            ("weekly".into(), false),
            ("daily".into(), true),
            ("monthly".into(), false)
        ]
    );

    // daySpecifier may be a number instead.
    t.admin(
        Method::PATCH,
        "/_sim/config",
        Some(json!({"daySpecifier": "number"})),
    )
    .await;
    let list = t.get(&path).await.json();
    assert_eq!(list["schedules"][0]["daySpecifier"], "0");
    assert_eq!(list["schedules"][2]["daySpecifier"], "31");

    // Delete.
    let one = format!("{path}/{wid}");
    let r = t
        .send(Method::DELETE, &one, Some(KEY_TEST), None)
        .await
        .expect("delete");
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    assert_eq!(
        t.get(&path).await.json()["schedules"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );
    let r = t
        .send(Method::DELETE, &one, Some(KEY_TEST), None)
        .await
        .expect("delete");
    assert_problem(
        &r,
        404,
        "backup_schedule_not_found",
        "Backup schedule not found",
        &one,
    );
    let other = format!(
        "/api/v2/vps/{VPS_FULL}/backup-schedules/{}",
        d["id"].as_str().unwrap_or("")
    );
    let r = t
        .send(Method::DELETE, &other, Some(KEY_TEST), None)
        .await
        .expect("delete");
    assert_problem(
        &r,
        404,
        "backup_schedule_not_found",
        "Backup schedule not found",
        &other,
    );
    let r = send_as(&t, Method::DELETE, &one, KEY_BACKUP_ONLY, None).await;
    assert_eq!(
        assert_problem(&r, 403, "forbidden", "Forbidden", &one)["detail"],
        "This API key lacks the scope write:vm."
    );
    let r = t
        .send(Method::GET, &one, Some(KEY_TEST), None)
        .await
        .expect("get");
    assert_eq!(r.status.as_u16(), 405);
    assert_eq!(r.header("allow"), Some("DELETE"));
}

#[tokio::test]
async fn backup_schedule_validation_scopes_and_gates() {
    let t = start(cfg()).await;
    let path = format!("/api/v2/vps/{VPS_APP}/backup-schedules");
    let r = t.post(&path, Some(json!({}))).await;
    assert_eq!(
        pointers(&r, &path),
        pc(&[
            ("/frequency", "missing_required"),
            ("/hour", "missing_required"),
            ("/retentionCount", "missing_required"),
            ("/enabled", "missing_required"),
        ])
    );
    let base = json!({"frequency": "daily", "hour": 2, "retentionCount": 7, "enabled": true});
    let with = |extra: Value| {
        let mut b = base.clone();
        for (k, v) in extra.as_object().expect("object") {
            b[k] = v.clone();
        }
        Some(b)
    };
    for (extra, expected) in [
        (
            json!({"frequency": "weekly"}),
            vec![("/dayOfWeek", "missing_required")],
        ),
        (
            json!({"frequency": "monthly"}),
            vec![("/dayOfMonth", "missing_required")],
        ),
        (json!({"dayOfWeek": 1}), vec![("/dayOfWeek", "not_allowed")]),
        (
            json!({"dayOfMonth": 1}),
            vec![("/dayOfMonth", "not_allowed")],
        ),
        (
            json!({"frequency": "monthly", "dayOfMonth": 2, "dayOfWeek": 1}),
            vec![("/dayOfWeek", "not_allowed")],
        ),
        (
            json!({"frequency": "weekly", "dayOfWeek": 7}),
            vec![("/dayOfWeek", "out_of_range")],
        ),
        (
            json!({"frequency": "monthly", "dayOfMonth": 0}),
            vec![("/dayOfMonth", "out_of_range")],
        ),
        (
            json!({"frequency": "monthly", "dayOfMonth": 32}),
            vec![("/dayOfMonth", "out_of_range")],
        ),
        (
            json!({"frequency": "hourly"}),
            vec![("/frequency", "invalid_enum")],
        ),
        (
            json!({"frequency": 1}),
            vec![("/frequency", "invalid_type")],
        ),
        (json!({"hour": 24}), vec![("/hour", "out_of_range")]),
        (json!({"hour": -1}), vec![("/hour", "out_of_range")]),
        (json!({"hour": 2.5}), vec![("/hour", "invalid_type")]),
        (json!({"hour": "2"}), vec![("/hour", "invalid_type")]),
        (
            json!({"retentionCount": 0}),
            vec![("/retentionCount", "out_of_range")],
        ),
        (
            json!({"enabled": "true"}),
            vec![("/enabled", "invalid_type")],
        ),
        (
            json!({"name": "n".repeat(101)}),
            vec![("/name", "too_long")],
        ),
    ] {
        let r = t.post(&path, with(extra.clone())).await;
        assert_eq!(pointers(&r, &path), pc(&expected), "{extra}");
    }
    // `dayOfWeek: null` is as good as absent; 2.0 is a whole number.
    let r = t
        .post(&path, with(json!({"dayOfWeek": null, "hour": 2.0})))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);

    // Scopes: write:vm (backup:vm is not enough; write:all is).
    for key in [KEY_READ_ONLY, KEY_BACKUP_ONLY] {
        for m in [Method::POST, Method::PATCH] {
            let r = send_as(&t, m, &path, key, with(json!({}))).await;
            assert_eq!(
                assert_problem(&r, 403, "forbidden", "Forbidden", &path)["detail"],
                "This API key lacks the scope write:vm."
            );
        }
    }
    let r = send_as(&t, Method::POST, &path, KEY_ADMIN, with(json!({}))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    // Gate: a pending order refuses schedules and settings.
    let pending = format!("/api/v2/vps/{VPS_PENDING}/backup-schedules");
    for (m, body) in [
        (Method::POST, with(json!({}))),
        (Method::PATCH, Some(json!({"autoDeleteOldest": true}))),
    ] {
        let r = t
            .send(m, &pending, Some(KEY_TEST), body)
            .await
            .expect("send");
        assert_eq!(r.status.as_u16(), 409, "{}", r.text);
        assert_eq!(r.json()["code"], "pending_order");
    }
    // A job in flight does not close it.
    let slow = start(cfg().with_job_duration(Duration::from_secs(600))).await;
    op_of(
        &slow
            .post(&format!("/api/v2/vps/{VPS_APP}/backups"), None)
            .await,
    );
    let r = slow.post(&path, with(json!({}))).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    // Unknown VPS before validation; unknown method.
    let unknown = "/api/v2/vps/vps_00000000000000000000000000/backup-schedules";
    let r = t.post(unknown, Some(json!({}))).await;
    assert_problem(&r, 404, "vps_not_found", "VPS not found", unknown);
    let r = t
        .send(Method::PUT, &path, Some(KEY_TEST), None)
        .await
        .expect("put");
    assert_eq!(r.status.as_u16(), 405);
    assert_eq!(r.header("allow"), Some("GET, POST, PATCH"));
}

#[tokio::test]
async fn backup_settings_patch_needs_one_field_and_bounds_the_quota() {
    let t = start(cfg()).await;
    let path = format!("/api/v2/vps/{VPS_APP}/backup-schedules");
    let patch = |body: Option<Value>| t.send(Method::PATCH, &path, Some(KEY_TEST), body);
    let r = patch(Some(json!({}))).await.expect("patch");
    assert_eq!(pointers(&r, &path), pc(&[("", "missing_required")]));
    let r = patch(Some(json!({"maxTotalBackups": null, "other": 1})))
        .await
        .expect("patch");
    assert_eq!(pointers(&r, &path), pc(&[("", "missing_required")]));
    let r = patch(None).await.expect("patch");
    assert_eq!(pointers(&r, &path), pc(&[("", "missing_required")]));
    for (body, expected) in [
        (
            json!({"maxTotalBackups": 0}),
            ("/maxTotalBackups", "out_of_range"),
        ),
        (
            json!({"maxTotalBackups": 4}),
            ("/maxTotalBackups", "out_of_range"),
        ),
        (
            json!({"maxTotalBackups": 1.5}),
            ("/maxTotalBackups", "invalid_type"),
        ),
        (
            json!({"autoDeleteOldest": "yes"}),
            ("/autoDeleteOldest", "invalid_type"),
        ),
    ] {
        let r = patch(Some(body.clone())).await.expect("patch");
        assert_eq!(pointers(&r, &path), pc(&[expected]), "{body}");
    }
    let r = patch(Some(json!({"maxTotalBackups": 1})))
        .await
        .expect("patch");
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let settings = json!({"totalBackupLimit": 1, "manualBackupsActive": 0,
        "scheduledBackupsActive": 1, "availableScheduledSlots": 1, "autoDeleteOldest": false});
    assert_eq!(r.json(), json!({"settings": settings}));
    assert_eq!(t.get(&path).await.json()["settings"], settings);
    // The backup list's quota follows it.
    let b = t
        .get(&format!("/api/v2/vps/{VPS_APP}/backups"))
        .await
        .json();
    assert_eq!(
        b["quotaInfo"],
        json!({"used": 1, "limit": 1, "remaining": 0})
    );
    assert_eq!(
        b["actions"]["canCreateBackup"]["code"],
        "backup_quota_exceeded"
    );
    let r = patch(Some(json!({"autoDeleteOldest": true})))
        .await
        .expect("patch");
    assert_eq!(r.json()["settings"]["autoDeleteOldest"], true);
    assert_eq!(r.json()["settings"]["totalBackupLimit"], 1);

    // An unlimited plan takes any limit.
    let payg = format!("/api/v2/vps/{VPS_PAYG}/backup-schedules");
    let r = t
        .send(
            Method::PATCH,
            &payg,
            Some(KEY_TEST),
            Some(json!({"maxTotalBackups": 10})),
        )
        .await
        .expect("patch");
    assert_eq!(r.json()["settings"]["totalBackupLimit"], 10);
    assert_eq!(r.json()["settings"]["availableScheduledSlots"], 10);
    let b = t
        .get(&format!("/api/v2/vps/{VPS_PAYG}/backups"))
        .await
        .json();
    assert_eq!(
        b["quotaInfo"],
        json!({"used": 0, "limit": 10, "remaining": 10})
    );
}

#[tokio::test]
async fn a_backup_schedule_run_keeps_retention_within_the_limit() {
    let t = start(cfg()).await;
    let schedules = format!("/api/v2/vps/{VPS_FULL}/backup-schedules");
    let run = format!("/_sim/vps/{VPS_FULL}/backup-schedules/{BACKUP_SCHEDULE_DB}/run");
    // db-01: limit 2 used up, autoDeleteOldest: the oldest backup makes room.
    let ran = t.admin(Method::POST, &run, None).await;
    assert_eq!(ran["backup"]["backupType"], "scheduled");
    assert_eq!(ran["schedule"]["lastRun"], ran["backup"]["createdAt"]);
    let b = t
        .get(&format!("/api/v2/vps/{VPS_FULL}/backups"))
        .await
        .json();
    let ids: Vec<&str> = b["backups"]
        .as_array()
        .expect("backups")
        .iter()
        .filter_map(|x| x["id"].as_str())
        .collect();
    assert_eq!(
        ids,
        [
            "bkp_01hxa3b4c5d6e7f8g9h0j1k2n2",
            ran["backup"]["id"].as_str().unwrap_or("")
        ]
    );
    let s = t.get(&schedules).await.json();
    assert_eq!(s["schedules"][0]["lastRun"], ran["schedule"]["lastRun"]);
    assert_eq!(s["settings"]["scheduledBackupsActive"], 1);
    // Without autoDeleteOldest the run is refused; a disabled schedule does not run.
    t.send(
        Method::PATCH,
        &schedules,
        Some(KEY_TEST),
        Some(json!({"autoDeleteOldest": false})),
    )
    .await
    .expect("patch");
    let r = t.send(Method::POST, &run, None, None).await.expect("run");
    assert_eq!(r.status.as_u16(), 409, "{}", r.text);
    assert_eq!(r.json()["code"], "backup_quota_exceeded");
    t.post(
        &schedules,
        Some(json!({"frequency": "daily", "hour": 2, "retentionCount": 2, "enabled": false})),
    )
    .await;
    let r = t.send(Method::POST, &run, None, None).await.expect("run");
    assert_eq!(r.json()["code"], "schedule_disabled");
    let r = t
        .send(
            Method::POST,
            &format!("/_sim/vps/{VPS_FULL}/backup-schedules/bks_x/run"),
            None,
            None,
        )
        .await
        .expect("run");
    assert_eq!(r.json()["code"], "backup_schedule_not_found");
}

// ---------------------------------------------------------------------------------------------
// Backup restores: in place, from another VPS, restore sources (reference §5.3, §5.5;
// docs/hostup-sim.md §3.4, §3.11)

fn job_id_of(poll: &str) -> String {
    poll.rsplit('/').next().expect("job id").to_string()
}

#[tokio::test]
async fn backup_restore_in_place_is_a_job_that_holds_the_vps() {
    let t = start(cfg().with_job_duration(Duration::from_secs(600))).await;
    let backups = format!("/api/v2/vps/{VPS_APP}/backups");
    let restore = format!("{backups}/{BACKUP_APP}/actions/restore");
    // Scope backup:vm.
    let r = send_as(&t, Method::POST, &restore, KEY_READ_ONLY, None).await;
    assert_eq!(
        assert_problem(&r, 403, "forbidden", "Forbidden", &restore)["detail"],
        "This API key lacks the scope backup:vm."
    );
    // Unknown backup, and another VPS's backup through this VPS.
    for bid in [
        "bkp_00000000000000000000000000",
        "bkp_01hxa3b4c5d6e7f8g9h0j1k2n1",
    ] {
        let p = format!("{backups}/{bid}/actions/restore");
        let r = t.post(&p, None).await;
        assert_problem(&r, 404, "backup_not_found", "Backup not found", &p);
    }
    let (_, poll) = op_of(&t.post(&restore, None).await);
    let d = t.get(&poll).await.json()["data"].clone();
    assert_eq!(d["type"], "backup_restore");
    assert_eq!(d["vmId"], VPS_APP);
    // The VPS is busy: gates closed, other jobs refused.
    let list = t.get(&backups).await.json();
    for gate in ["canCreateBackup", "canRestore", "canRestoreFromAnotherVps"] {
        assert_eq!(list["actions"][gate]["code"], "job_in_progress", "{gate}");
    }
    for (path, body) in [
        (restore.clone(), None),
        (backups.clone(), None),
        (
            format!("/api/v2/vps/{VPS_APP}/snapshots"),
            Some(json!({"name": "x"})),
        ),
    ] {
        let r = t.post(&path, body).await;
        assert_eq!(r.status.as_u16(), 409, "{path}: {}", r.text);
        assert_eq!(r.json()["code"], "job_in_progress");
    }
    t.admin(
        Method::POST,
        &format!("/_sim/jobs/{}/complete", job_id_of(&poll)),
        None,
    )
    .await;
    let done = t.get(&poll).await.json()["data"].clone();
    assert_eq!(done["status"], "completed");
    assert_eq!(
        done["result"],
        json!({"success": true, "type": "backup_restore", "backupId": BACKUP_APP})
    );
    assert_eq!(
        t.get(&backups).await.json()["actions"]["canRestore"],
        open_gate()
    );
    // The job faults apply: the next restore fails, the one after sticks.
    t.admin(
        Method::POST,
        "/_sim/faults",
        Some(json!({"jobs": {"failNext": 1, "type": "backup_restore"}})),
    )
    .await;
    t.admin(
        Method::PATCH,
        "/_sim/config",
        Some(json!({"jobDurationMs": 0})),
    )
    .await;
    let (_, poll) = op_of(&t.post(&restore, None).await);
    let d = t.get(&poll).await.json()["data"].clone();
    assert_eq!(d["status"], "failed");
    assert_eq!(d["failedReason"], "Backup storage unavailable");
    t.admin(
        Method::POST,
        "/_sim/faults",
        Some(json!({"jobs": {"stuckNext": 1}})),
    )
    .await;
    let (_, poll) = op_of(&t.post(&restore, None).await);
    assert_eq!(t.get(&poll).await.json()["data"]["status"], "in_progress");
    // A pending order closes canRestore.
    let p = format!("/api/v2/vps/{VPS_PENDING}/backups/{BACKUP_APP}/actions/restore");
    let r = t.post(&p, None).await;
    assert_eq!(r.status.as_u16(), 409, "{}", r.text);
    assert_eq!(r.json()["code"], "pending_order");
}

#[tokio::test]
async fn restore_from_another_vps_runs_on_the_target() {
    let t = start(cfg().with_job_duration(Duration::from_millis(300))).await;
    let path = format!("/api/v2/vps/{VPS_PAYG}/backups/actions/restore-from-vps");
    let good = json!({"sourceVpsId": VPS_APP, "backupId": BACKUP_APP});
    // Validation.
    let r = t.post(&path, Some(json!({}))).await;
    assert_eq!(
        pointers(&r, &path),
        pc(&[
            ("/sourceVpsId", "missing_required"),
            ("/backupId", "missing_required")
        ])
    );
    let r = t
        .post(
            &path,
            Some(json!({"sourceVpsId": "192.0.2.10", "backupId": 7})),
        )
        .await;
    assert_eq!(
        pointers(&r, &path),
        pc(&[
            ("/sourceVpsId", "invalid_format"),
            ("/backupId", "invalid_type")
        ])
    );
    let r = t
        .post(
            &path,
            Some(json!({"sourceVpsId": VPS_PAYG, "backupId": BACKUP_APP})),
        )
        .await;
    assert_eq!(
        pointers(&r, &path),
        pc(&[("/sourceVpsId", "same_as_target")])
    );
    // Unknown source; a backup that is not the source's.
    let r = t
        .post(
            &path,
            Some(json!({"sourceVpsId": "vps_00000000000000000000000000", "backupId": BACKUP_APP})),
        )
        .await;
    assert_problem(&r, 404, "vps_not_found", "VPS not found", &path);
    let r = t
        .post(
            &path,
            Some(json!({"sourceVpsId": VPS_FULL, "backupId": BACKUP_APP})),
        )
        .await;
    assert_problem(&r, 404, "backup_not_found", "Backup not found", &path);
    // Scope backup:vm; the target's gate.
    let r = send_as(&t, Method::POST, &path, KEY_READ_ONLY, Some(good.clone())).await;
    assert_problem(&r, 403, "forbidden", "Forbidden", &path);
    let pending = format!("/api/v2/vps/{VPS_PENDING}/backups/actions/restore-from-vps");
    let r = t.post(&pending, Some(good.clone())).await;
    assert_eq!(r.status.as_u16(), 409, "{}", r.text);
    assert_eq!(r.json()["code"], "pending_order");
    let unknown = "/api/v2/vps/vps_00000000000000000000000000/backups/actions/restore-from-vps";
    let r = t.post(unknown, Some(json!({}))).await;
    assert_problem(&r, 404, "vps_not_found", "VPS not found", unknown);

    // The job: on the target (busy), not on the source.
    let (_, poll) = op_of(&t.post(&path, Some(good.clone())).await);
    let target = t
        .get(&format!("/api/v2/vps/{VPS_PAYG}/backups"))
        .await
        .json();
    assert_eq!(
        target["actions"]["canRestoreFromAnotherVps"]["code"],
        "job_in_progress"
    );
    let r = t.post(&path, Some(good.clone())).await;
    assert_eq!(r.json()["code"], "job_in_progress");
    let source = t
        .get(&format!("/api/v2/vps/{VPS_APP}/backups"))
        .await
        .json();
    assert_eq!(source["actions"]["canRestore"], open_gate());
    let seen = t.poll_until_terminal(&poll, Duration::from_secs(10)).await;
    let d = &seen.last().expect("polls")["data"];
    assert_eq!(d["status"], "completed");
    assert_eq!(d["vmId"], VPS_PAYG);
    assert_eq!(
        d["result"],
        json!({"success": true, "type": "backup_restore", "backupId": BACKUP_APP,
               "sourceVpsId": VPS_APP})
    );
    let state = t.admin(Method::GET, "/_sim/state", None).await;
    let payg = state["vps"]
        .as_array()
        .and_then(|l| l.iter().find(|v| v["id"] == VPS_PAYG))
        .expect("payg");
    assert_eq!(payg["lastRestore"]["sourceVpsId"], VPS_APP);
    let r = t
        .send(Method::GET, &path, Some(KEY_TEST), None)
        .await
        .expect("get");
    assert_eq!(r.status.as_u16(), 405);
}

#[tokio::test]
async fn restore_sources_list_other_vps_and_retained_backups() {
    let t = start(cfg()).await;
    let path = format!("/api/v2/vps/{VPS_PAYG}/backups/restore-sources");
    // Scope backup:vm (read:vm is not enough).
    let r = send_as(&t, Method::GET, &path, KEY_READ_ONLY, None).await;
    assert_eq!(
        assert_problem(&r, 403, "forbidden", "Forbidden", &path)["detail"],
        "This API key lacks the scope backup:vm."
    );
    let r = send_as(&t, Method::GET, &path, KEY_BACKUP_ONLY, None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.header("content-type"), Some("application/json"));
    let item = |id: &str, at: &str, size: i64, kind: &str, note: Value| {
        (id.to_string(), at.to_string(), size, kind.to_string(), note)
    };
    let body = r.json();
    assert_eq!(keys_of(&body), sorted(&["sources"]));
    let sources = body["sources"].as_array().expect("sources");
    let heads: Vec<Value> = sources
        .iter()
        .map(|s| {
            json!({"id": s["id"], "name": s["name"], "serviceStatus": s["serviceStatus"],
                   "sourceType": s["sourceType"]})
        })
        .collect();
    assert_eq!(
        heads,
        [
            json!({"id": VPS_APP, "name": "app-01", "serviceStatus": "active", "sourceType": "server"}),
            json!({"id": VPS_FULL, "name": "db-01", "serviceStatus": "active", "sourceType": "server"}),
        ]
    );
    for s in sources {
        assert_eq!(
            keys_of(s),
            sorted(&["id", "name", "serviceStatus", "sourceType", "backups"])
        );
    }
    let got: Vec<_> = sources
        .iter()
        .flat_map(|s| s["backups"].as_array().cloned().unwrap_or_default())
        .map(|b| {
            assert_eq!(
                keys_of(&b),
                sorted(&[
                    "id",
                    "displayId",
                    "storageKey",
                    "createdAt",
                    "sizeGb",
                    "backupType",
                    "note"
                ])
            );
            let key = b["storageKey"].as_str().expect("storageKey");
            assert_eq!(
                b["displayId"],
                format!("{} ({key})", b["createdAt"].as_str().unwrap_or(""))
            );
            assert!(b["sizeGb"].is_i64(), "sizeGb is an integer here: {b}");
            item(
                b["id"].as_str().unwrap_or(""),
                b["createdAt"].as_str().unwrap_or(""),
                b["sizeGb"].as_i64().unwrap_or(-1),
                b["backupType"].as_str().unwrap_or(""),
                b["note"].clone(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            item(
                BACKUP_APP,
                "2026-11-20T02:00:00.000Z",
                12,
                "scheduled",
                Value::Null
            ),
            item(
                "bkp_01hxa3b4c5d6e7f8g9h0j1k2n1",
                "2026-11-18T02:00:00.000Z",
                48,
                "scheduled",
                Value::Null
            ),
            item(
                "bkp_01hxa3b4c5d6e7f8g9h0j1k2n2",
                "2026-11-19T09:30:00.000Z",
                48,
                "manual",
                json!("Before upgrade")
            ),
        ]
    );
    // The VPS itself is never its own source.
    let own = t
        .get(&format!("/api/v2/vps/{VPS_APP}/backups/restore-sources"))
        .await
        .json();
    let ids: Vec<&str> = own["sources"]
        .as_array()
        .expect("sources")
        .iter()
        .filter_map(|s| s["id"].as_str())
        .collect();
    assert_eq!(ids, [VPS_FULL]);

    // A terminated VPS's backups are retained: listed, and restorable.
    t.admin(
        Method::POST,
        &format!("/_sim/vps/{VPS_FULL}/terminate"),
        None,
    )
    .await;
    let own = t
        .get(&format!("/api/v2/vps/{VPS_APP}/backups/restore-sources"))
        .await
        .json();
    assert_eq!(own["sources"][0]["id"], VPS_FULL);
    assert_eq!(own["sources"][0]["sourceType"], "retained");
    assert_eq!(own["sources"][0]["serviceStatus"], "terminated");
    assert_eq!(
        own["sources"][0]["backups"].as_array().map(Vec::len),
        Some(2)
    );
    let gone = format!("/api/v2/vps/{VPS_FULL}/backups/restore-sources");
    assert_problem(
        &t.get(&gone).await,
        404,
        "vps_not_found",
        "VPS not found",
        &gone,
    );
    let r = t
        .post(
            &format!("/api/v2/vps/{VPS_APP}/backups/actions/restore-from-vps"),
            Some(json!({"sourceVpsId": VPS_FULL, "backupId": "bkp_01hxa3b4c5d6e7f8g9h0j1k2n2"})),
        )
        .await;
    op_of(&r);
    // A removed VPS leaves no backups behind.
    t.send(Method::DELETE, &format!("/_sim/vps/{VPS_FULL}"), None, None)
        .await
        .expect("delete");
    let own = t
        .get(&format!("/api/v2/vps/{VPS_PAYG}/backups/restore-sources"))
        .await
        .json();
    assert_eq!(own["sources"].as_array().map(Vec::len), Some(1));
    let r = t
        .send(Method::POST, &path, Some(KEY_TEST), None)
        .await
        .expect("post");
    assert_eq!(r.status.as_u16(), 405);
}
