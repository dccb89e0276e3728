//! Retries against hostup-sim, with the sim's own request counters as the witness: reads are
//! retried on 5xx, resets and cut bodies; a job-creating POST is sent again only after a 429;
//! no fault ever makes the client send a job-creating POST twice; a synchronous DELETE is sent
//! again until HostUp's answer begins; Retry-After is honoured.

mod client_util;

use std::time::{Duration, Instant};

use client_util::*;
use hostup_provider::hostup::{Client, CreateBackup, ErrorKind, Timeouts};
use hostup_provider::sim::SimConfig;
use serde_json::{json, Value};

const POST_BACKUPS: &str = "POST /api/v2/vps/{id}/backups";
const GET_SNAPSHOTS: &str = "GET /api/v2/vps/{id}/snapshots";
const DELETE_BACKUP: &str = "DELETE /api/v2/vps/{id}/backups/{backupId}";

#[tokio::test]
async fn reads_are_retried_on_server_errors_and_resets() {
    let sim = start(SimConfig::default()).await;
    let c = sim.client(KEY_TEST);
    for (rule, expected) in [
        (json!({"kind":"error","status":503,"count":2}), 3),
        (json!({"kind":"error","status":500,"count":1}), 2),
        (json!({"kind":"html502","count":2}), 3),
        (json!({"kind":"reset","count":1}), 2),
        (json!({"kind":"truncate","count":1}), 2),
    ] {
        sim.clear_log().await;
        sim.faults(json!({ "rules": [rule.clone()] })).await;
        let s = c
            .list_snapshots(VPS_APP)
            .await
            .unwrap_or_else(|e| panic!("{rule}: {e}"));
        assert_eq!(s.data.len(), 1);
        assert_eq!(sim.count(GET_SNAPSHOTS).await, expected, "{rule}");
    }
}

#[tokio::test]
async fn reads_give_up_after_the_attempt_limit() {
    let sim = start(SimConfig::default()).await;
    sim.faults(json!({"rules":[{"kind":"error","status":502}]}))
        .await;
    let e = sim
        .client(KEY_TEST)
        .list_snapshots(VPS_APP)
        .await
        .unwrap_err();
    assert_eq!((e.status(), e.code()), (Some(502), Some("upstream_failed")));
    assert_eq!(e.request().unwrap().attempts, fast_retry().max_attempts);
    assert_eq!(
        sim.count(GET_SNAPSHOTS).await,
        u64::from(fast_retry().max_attempts)
    );
}

/// Every fault the sim can inject on the backup POST, once.
fn post_faults() -> Vec<Value> {
    let mut v = Vec::new();
    for after in [false, true] {
        for status in [500, 502, 503] {
            v.push(json!({"kind":"error","status":status,"after":after}));
        }
        v.push(json!({"kind":"html502","after":after}));
        v.push(json!({"kind":"reset","after":after}));
    }
    v.push(json!({"kind":"truncate"}));
    v.push(json!({"kind":"latency","ms":1500}));
    v
}

#[tokio::test]
async fn no_fault_makes_a_job_creating_post_go_twice() {
    let sim = start(SimConfig::default().with_job_duration(Duration::from_secs(60))).await;
    let mut cfg = sim.config(KEY_TEST);
    cfg.timeouts = Timeouts {
        request: Duration::from_millis(500),
        connect: Duration::from_secs(2),
    };
    let c = Client::new(cfg).unwrap();
    for mut rule in post_faults() {
        sim.reset().await;
        rule["count"] = json!(1);
        rule["method"] = json!("POST");
        sim.faults(json!({ "rules": [rule.clone()] })).await;
        let result = c.create_backup(VPS_PAYG, &CreateBackup::default()).await;
        let e = result.expect_err(&format!("{rule}: the fault must surface"));
        assert_ne!(e.kind(), ErrorKind::InvalidInput, "{rule}");
        assert_eq!(e.request().map(|r| r.attempts), Some(1), "{rule}: {e}");
        // A request the client timed out on is dropped by the sim unanswered (not logged).
        let posts = sim.count(POST_BACKUPS).await;
        if rule["kind"] == "latency" {
            assert!(posts <= 1, "{rule}: {posts} POSTs");
            assert!(
                e.may_have_been_applied(),
                "a timed-out POST may have been applied"
            );
        } else {
            assert_eq!(posts, 1, "{rule}: {e}");
        }
        let jobs = sim.job_count().await;
        assert!(jobs <= 1, "{rule}: {jobs} jobs");
        // Whenever the sim acted, the error says the job may exist.
        if jobs == 1 {
            assert!(e.may_have_been_applied(), "{rule}: {e}");
            assert!(e.hint().contains("may have queued"), "{rule}: {}", e.hint());
        }
    }
}

#[tokio::test]
async fn a_backup_delete_is_sent_again_until_hostup_answers() {
    let sim = start(SimConfig::default()).await;
    let mut cfg = sim.config(KEY_TEST);
    cfg.timeouts = Timeouts {
        request: Duration::from_millis(500),
        connect: Duration::from_secs(2),
    };
    let c = Client::new(cfg).unwrap();
    let gone = |sim: &client_util::TestSim| {
        let c = sim.client(KEY_TEST);
        async move { c.list_backups(VPS_APP).await.unwrap().backups.is_empty() }
    };
    // No answer came (a reset before HostUp acted, a 429, an answer slower than the request
    // timeout): sent again, and the backup is deleted once.
    for rule in [
        json!({"kind":"reset"}),
        json!({"kind":"rateLimit","retryAfter":1}),
        json!({"kind":"latency","ms":1500}),
    ] {
        sim.reset().await;
        let mut rule = rule;
        rule["count"] = json!(1);
        rule["method"] = json!("DELETE");
        sim.faults(json!({ "rules": [rule.clone()] })).await;
        let r = c.delete_backup(VPS_APP, BACKUP_APP).await;
        assert!(r.unwrap_or_else(|e| panic!("{rule}: {e}")).is_none());
        assert!(gone(&sim).await, "{rule}");
        if rule["kind"] != "latency" {
            // (A request the client timed out on is dropped by the sim unlogged.)
            assert_eq!(sim.count(DELETE_BACKUP).await, 2, "{rule}");
        }
    }
    // HostUp deleted it but the answer was lost: the repeat finds nothing, which the caller
    // takes as done (the provider's destroy does).
    sim.reset().await;
    sim.faults(json!({"rules":[{"kind":"reset","after":true,"count":1,"method":"DELETE"}]}))
        .await;
    let e = c.delete_backup(VPS_APP, BACKUP_APP).await.unwrap_err();
    assert!(e.is_not_found(), "{e}");
    assert_eq!(sim.count(DELETE_BACKUP).await, 2);
    assert!(gone(&sim).await);
    // HostUp answered with an error: not sent again.
    sim.reset().await;
    sim.faults(json!({"rules":[{"kind":"error","status":502,"count":1,"method":"DELETE"}]}))
        .await;
    let e = c.delete_backup(VPS_APP, BACKUP_APP).await.unwrap_err();
    assert_eq!(e.status(), Some(502), "{e}");
    assert_eq!(e.request().map(|r| r.attempts), Some(1));
    assert_eq!(sim.count(DELETE_BACKUP).await, 1);
    assert!(!gone(&sim).await);
}

#[tokio::test]
async fn a_post_answered_429_is_sent_again_and_creates_one_job() {
    let sim = start(SimConfig::default().with_job_duration(Duration::from_secs(60))).await;
    sim.faults(json!({"rules":[{"kind":"rateLimit","count":2,"retryAfter":1,"method":"POST"}]}))
        .await;
    let c = sim.client(KEY_TEST);
    let op = c
        .create_backup(VPS_PAYG, &CreateBackup::default())
        .await
        .unwrap();
    assert!(op.job_id.starts_with("job_"));
    assert_eq!(sim.count(POST_BACKUPS).await, 3);
    assert_eq!(sim.job_count().await, 1);
}

#[tokio::test]
async fn retry_after_is_honoured() {
    let sim = start(SimConfig::default()).await;
    sim.faults(json!({"rules":[{"kind":"rateLimit","count":1,"retryAfter":2,"route":"/api/v2/vps/{id}/snapshots"}]}))
        .await;
    let c = sim.client(KEY_TEST);
    let t0 = Instant::now();
    c.list_snapshots(VPS_APP).await.unwrap();
    assert!(t0.elapsed() >= Duration::from_secs(2), "{:?}", t0.elapsed());
    // The sim's own clock: the retry came at least Retry-After after the 429.
    let log: Vec<Value> = sim.requests().await;
    assert_eq!(log.len(), 2, "{log:?}");
    assert_eq!(log[0]["status"], 429);
    assert_eq!(log[1]["status"], 200);
    let gap = log_time_ms(&log[1]) - log_time_ms(&log[0]);
    assert!(gap >= 2000, "gap {gap} ms");
}

#[tokio::test]
async fn a_429_pauses_every_concurrent_request() {
    let sim = start(SimConfig::default()).await;
    let c = sim.client(KEY_TEST);
    // Learn the (generous) limits first.
    c.get_vps(VPS_APP).await.unwrap();
    sim.faults(json!({"rules":[{"kind":"rateLimit","count":1,"retryAfter":1}]}))
        .await;
    sim.clear_log().await;
    let first = c.list_snapshots(VPS_APP);
    let others = async {
        // Start the others once the 429 has been answered.
        let until = Instant::now() + Duration::from_secs(5);
        while sim.requests().await.is_empty() && Instant::now() < until {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let (a, b) = tokio::join!(c.list_backups(VPS_APP), c.get_vps(VPS_PAYG));
        a.unwrap();
        b.unwrap();
    };
    let (r, ()) = tokio::join!(first, others);
    r.unwrap();
    let log = sim.requests().await;
    assert_eq!(log.len(), 4, "no other request was answered 429: {log:?}");
    let t429 = log_time_ms(&log[0]);
    assert_eq!(log[0]["status"], 429);
    for entry in &log[1..] {
        assert_eq!(entry["status"], 200);
        assert!(
            log_time_ms(entry) - t429 >= 1000,
            "sent during the pause: {entry}"
        );
    }
}

#[tokio::test]
async fn rate_limit_headers_keep_sequential_requests_under_the_limit() {
    let sim = start(SimConfig::default().with_rate_limit(3)).await;
    sim.set_config(json!({"rateWindowMs": 400})).await;
    let c = sim.client(KEY_TEST);
    for _ in 0..10 {
        c.list_snapshots(VPS_APP).await.unwrap();
    }
    let log = sim.requests().await;
    let limited = log.iter().filter(|e| e["status"] == 429).count();
    assert_eq!(
        limited, 0,
        "X-RateLimit-* headers should have kept us under the limit: {log:?}"
    );
    assert_eq!(log.len(), 10);
}
