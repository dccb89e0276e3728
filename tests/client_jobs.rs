//! The one job waiter against hostup-sim over real HTTP: completion with progress, failure
//! with HostUp's message, deadline, cancellation within a second, unknown jobs, and the
//! per-VPS lock that serialises operations on one VPS.

mod client_util;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use client_util::*;
use hostup_provider::hostup::{
    Client, CreateBackup, JobRef, JobSnapshot, PollSchedule, TerminalState, WaitError, WaitOptions,
};
use hostup_provider::provider::config::Sources;
use hostup_provider::provider::errors::{wait_error, Limit, Subject};
use hostup_provider::sim::SimConfig;
use serde_json::json;
use tokio_util::sync::CancellationToken;

fn sim_with_jobs(ms: u64) -> SimConfig {
    SimConfig::default().with_job_duration(Duration::from_millis(ms))
}

/// A stuck job on app-01, seen at least once in progress by the returned client.
async fn stuck_job(sim: &TestSim, c: &Client) -> JobRef {
    sim.faults(json!({"jobs":{"stuckNext":1}})).await;
    c.create_backup(VPS_APP, &CreateBackup::default())
        .await
        .unwrap()
        .job_ref()
}

#[tokio::test]
async fn completes_with_progress_reports() {
    let sim = start(sim_with_jobs(1500)).await;
    let c = sim.client(KEY_TEST);
    let op = c
        .create_backup(VPS_APP, &CreateBackup::default())
        .await
        .unwrap();
    let seen: Arc<Mutex<Vec<JobSnapshot>>> = Arc::default();
    let sink = seen.clone();
    let opts = WaitOptions {
        deadline: Some(Instant::now() + Duration::from_secs(30)),
        on_progress: Some(Arc::new(move |s: &JobSnapshot| {
            sink.lock().unwrap().push(s.clone())
        })),
        ..WaitOptions::default()
    };
    let out = c.wait_for_job(&op.job_ref(), opts).await.unwrap();
    assert_eq!(out.terminal, TerminalState::Completed);
    assert_eq!(out.job_id, op.job_id);
    assert_eq!(out.status(), "completed");
    assert_eq!(out.last.progress, Some(100.0));
    assert!(out.last.result.is_some(), "the result of the job is kept");
    let seen = seen.lock().unwrap().clone();
    let progress: Vec<f64> = seen.iter().filter_map(|s| s.progress).collect();
    assert!(progress.windows(2).all(|w| w[0] <= w[1]), "{progress:?}");
    assert!(
        progress.iter().any(|p| *p > 0.0 && *p < 100.0),
        "intermediate progress: {progress:?}"
    );
    assert!(
        seen.iter().any(|s| s.message.is_some()),
        "HostUp's progress message is passed on"
    );
    // Every poll is counted by the sim, and the waiter's count agrees.
    assert_eq!(
        sim.count("GET /api/jobs/{jobId}").await,
        u64::from(out.polls)
    );
}

#[tokio::test]
async fn instant_job_costs_one_poll() {
    let sim = start(sim_with_jobs(0)).await;
    let c = sim.client(KEY_TEST);
    let op = c
        .create_backup(VPS_APP, &CreateBackup::default())
        .await
        .unwrap();
    let out = c
        .wait_for_job(&op.job_ref(), WaitOptions::default())
        .await
        .unwrap();
    assert!(out.is_success());
    assert_eq!(out.polls, 1);
}

#[tokio::test]
async fn failure_carries_hostups_message() {
    let sim = start(sim_with_jobs(300)).await;
    sim.faults(json!({"jobs":{"failNext":1,"failMessage":"Backup storage unavailable"}}))
        .await;
    let c = sim.client(KEY_TEST);
    let op = c
        .create_backup(VPS_APP, &CreateBackup::default())
        .await
        .unwrap();
    let out = c
        .wait_for_job(&op.job_ref(), WaitOptions::default())
        .await
        .unwrap();
    assert_eq!(out.terminal, TerminalState::Failed);
    assert!(!out.is_success());
    assert_eq!(out.failure_message(), Some("Backup storage unavailable"));
    assert_eq!(out.status(), "failed");
}

#[tokio::test]
async fn deadline_ends_the_wait_with_the_last_status() {
    let sim = start(sim_with_jobs(200)).await;
    let c = sim.client(KEY_TEST);
    let job = stuck_job(&sim, &c).await;
    let started = Instant::now();
    let deadline = started + Duration::from_millis(1200);
    let err = c
        .wait_for_job(
            &job,
            WaitOptions {
                deadline: Some(deadline),
                ..WaitOptions::default()
            },
        )
        .await
        .unwrap_err();
    let WaitError::Deadline { job_id, last, .. } = &err else {
        panic!("{err}")
    };
    assert_eq!(job_id, &job.job_id);
    let last = last.as_ref().expect("observed before the deadline");
    assert_eq!(last.status.as_deref(), Some("in_progress"));
    assert_eq!(last.progress, Some(50.0));
    assert_eq!(err.vps_id(), Some(VPS_APP));
    let msg = err.to_string();
    assert!(msg.contains(&format!("on VPS {VPS_APP}")), "{msg}");
    assert!(
        msg.contains(&job.job_id) && msg.contains("50% (in_progress)"),
        "{msg}"
    );
    assert!(msg.contains("may still be running on HostUp"), "{msg}");
    assert!(err.hint().contains("later deadline"), "{}", err.hint());
    // The provider's diagnostic names the deadline's setting.
    let subject = Subject::new("hostup_vps_backup", VPS_APP, "backup");
    let d = wait_error(
        &subject,
        &err,
        Limit::whole(Duration::from_millis(1200)),
        &Sources::default(),
    );
    assert!(d.detail.contains("timeouts.create"), "{}", d.detail);
    // It stopped at the deadline, not at some later poll.
    assert!(Instant::now() < deadline + Duration::from_secs(1));
}

#[tokio::test]
async fn cancellation_ends_a_wait_within_a_second() {
    let sim = start(sim_with_jobs(200)).await;
    let c = sim.client(KEY_TEST);
    let job = stuck_job(&sim, &c).await;
    let token = CancellationToken::new();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let opts = WaitOptions {
        cancel: Some(token.clone()),
        on_progress: Some(Arc::new(move |s: &JobSnapshot| {
            let _ = tx.send(s.progress);
        })),
        // Long gaps: cancellation must not wait for the next poll.
        schedule: Some(PollSchedule {
            first_delay: Duration::ZERO,
            ..PollSchedule::default()
        }),
        ..WaitOptions::default()
    };
    let waiter = tokio::spawn({
        let c = c.clone();
        let job = job.clone();
        async move { c.wait_for_job(&job, opts).await }
    });
    // Wait until the job has been seen stuck at 50 %.
    while let Some(p) = rx.recv().await {
        if p == Some(50.0) {
            break;
        }
    }
    let cancelled_at = Instant::now();
    token.cancel();
    let err = waiter.await.unwrap().unwrap_err();
    assert!(
        cancelled_at.elapsed() < Duration::from_secs(1),
        "{:?}",
        cancelled_at.elapsed()
    );
    let WaitError::Cancelled { last, .. } = &err else {
        panic!("{err}")
    };
    assert_eq!(last.as_ref().and_then(|s| s.progress), Some(50.0));
    assert!(
        err.to_string().contains("may still be running on HostUp"),
        "{err}"
    );
}

#[tokio::test]
async fn cancellation_ends_a_request_in_flight_within_a_second() {
    // A server that reads the poll and never answers: the request is certainly in flight.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let (got_request, mut request_seen) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        use tokio::io::AsyncReadExt;
        let (mut sock, _) = listener.accept().await.unwrap();
        let mut buf = Vec::new();
        let mut chunk = [0u8; 1024];
        while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = sock.read(&mut chunk).await.unwrap();
            if n == 0 {
                return;
            }
            buf.extend_from_slice(&chunk[..n]);
        }
        let _ = got_request.send(());
        // Hold the connection open without answering until the client gives up.
        let _ = sock.read(&mut chunk).await;
    });
    // The client-wide token (the plugin's Stop) cancels every wait of every handle.
    let mut cfg = hostup_provider::hostup::ClientConfig::new(&origin, KEY_TEST).unwrap();
    let stop = CancellationToken::new();
    cfg.cancel = stop.clone();
    let c = Client::new(cfg).unwrap();
    let waiter = tokio::spawn(async move {
        c.wait_for_job(
            &JobRef::new("job_01hxa3b4c5d6e7f8g9h0j1k2m3"),
            WaitOptions::default(),
        )
        .await
    });
    tokio::time::timeout(Duration::from_secs(10), &mut request_seen)
        .await
        .expect("the poll reached the server")
        .unwrap();
    let cancelled_at = Instant::now();
    stop.cancel();
    let err = waiter.await.unwrap().unwrap_err();
    assert!(
        cancelled_at.elapsed() < Duration::from_secs(1),
        "{:?}",
        cancelled_at.elapsed()
    );
    assert!(
        matches!(err, WaitError::Cancelled { last: None, .. }),
        "{err}"
    );
    server.abort();
}

#[tokio::test]
async fn unknown_job_is_reported_not_waited_on_forever() {
    let sim = start(SimConfig::default()).await;
    let c = sim.client(KEY_TEST);
    let err = c
        .wait_for_job(
            &JobRef::new("job_01hxa3b4c5d6e7f8g9h0j1k2zz"),
            WaitOptions::default(),
        )
        .await
        .unwrap_err();
    let WaitError::JobNotFound { source, .. } = &err else {
        panic!("{err}")
    };
    assert_eq!(source.code(), Some("job_not_found"));
    assert!(err.hint().contains("no longer knows"), "{}", err.hint());
}

#[tokio::test]
async fn a_job_forgotten_mid_wait_ends_the_wait_after_one_more_look() {
    let sim = start(sim_with_jobs(200)).await;
    let c = sim.client(KEY_TEST);
    let job = stuck_job(&sim, &c).await;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let opts = WaitOptions {
        on_progress: Some(Arc::new(move |s: &JobSnapshot| {
            let _ = tx.send(s.progress);
        })),
        ..WaitOptions::default()
    };
    let waiter = tokio::spawn({
        let c = c.clone();
        let job = job.clone();
        async move { c.wait_for_job(&job, opts).await }
    });
    // Seen in progress: HostUp then forgets it (as it does once a job has expired).
    assert!(rx.recv().await.is_some(), "the job was seen");
    let forgot = reqwest::Client::new()
        .delete(format!("{}/_sim/jobs/{}", sim.url(), job.job_id))
        .send()
        .await
        .expect("forget");
    assert!(forgot.status().is_success(), "{}", forgot.status());
    let t0 = Instant::now();
    let err = waiter.await.unwrap().unwrap_err();
    let WaitError::JobNotFound { last, .. } = &err else {
        panic!("{err}")
    };
    assert!(
        last.is_some(),
        "the last answer before HostUp forgot it is kept"
    );
    // Two 404s: the first, and the one look that rules out a node lagging behind; not the three
    // (with the backoff of a long job between them) a job never seen gets.
    let not_found = sim
        .requests()
        .await
        .iter()
        .filter(|r| r["route"] == "/api/jobs/{jobId}" && r["status"] == 404)
        .count();
    assert_eq!(not_found, 2);
    eprintln!("gave up {:?} after HostUp forgot the job", t0.elapsed());
}

#[tokio::test]
async fn polls_survive_transient_faults() {
    let sim = start(sim_with_jobs(600)).await;
    let c = sim.client(KEY_TEST);
    let op = c
        .create_backup(VPS_APP, &CreateBackup::default())
        .await
        .unwrap();
    sim.faults(json!({"rules":[
        {"kind":"error","status":503,"rate":0.5,"route":"/api/jobs/*"},
        {"kind":"html502","count":1,"route":"/api/jobs/*"},
        {"kind":"truncate","count":1,"route":"/api/jobs/*"},
        {"kind":"reset","count":1,"route":"/api/jobs/*"}]}))
        .await;
    let out = c
        .wait_for_job(&op.job_ref(), WaitOptions::default())
        .await
        .unwrap();
    assert!(out.is_success());
}

#[tokio::test]
async fn one_vps_lock_serialises_operations() {
    let sim = start(sim_with_jobs(300)).await;
    let c = sim.client(KEY_TEST);
    // Two backups of one VPS at once: HostUp would refuse the second (job_in_progress)
    // unless the first has finished; the lock makes them queue instead.
    let run = |c: Client| async move {
        let _guard = c.vps_lock(VPS_PAYG).await.unwrap();
        let op = c.create_backup(VPS_PAYG, &CreateBackup::default()).await?;
        let out = c
            .wait_for_job(&op.job_ref(), WaitOptions::default())
            .await
            .unwrap();
        Ok::<_, hostup_provider::hostup::Error>(out.is_success())
    };
    let (a, b) = tokio::join!(run(c.clone()), run(c.clone()));
    assert!(a.unwrap() && b.unwrap());
    assert_eq!(sim.count("POST /api/v2/vps/{id}/backups").await, 2);

    // Without the lock the second is refused: the lock is what made the difference.
    let op = c
        .create_backup(VPS_PAYG, &CreateBackup::default())
        .await
        .unwrap();
    let e = c
        .create_backup(VPS_PAYG, &CreateBackup::default())
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("job_in_progress"));
    c.wait_for_job(&op.job_ref(), WaitOptions::default())
        .await
        .unwrap();

    // Another VPS is not blocked by a held lock.
    let held = c.vps_lock(VPS_PAYG).await.unwrap();
    let other = tokio::time::timeout(Duration::from_secs(5), c.vps_lock(VPS_APP)).await;
    assert!(other.is_ok());
    drop(held);
}

#[tokio::test]
async fn polls_honour_retry_after() {
    let sim = start(sim_with_jobs(300)).await;
    let c = sim.client(KEY_TEST);
    let op = c
        .create_backup(VPS_APP, &CreateBackup::default())
        .await
        .unwrap();
    sim.faults(
        json!({"rules":[{"kind":"rateLimit","count":1,"retryAfter":1,"route":"/api/jobs/*"}]}),
    )
    .await;
    sim.clear_log().await;
    let out = c
        .wait_for_job(&op.job_ref(), WaitOptions::default())
        .await
        .unwrap();
    assert!(out.is_success());
    let log = sim.requests().await;
    assert_eq!(log[0]["status"], 429, "{log:?}");
    assert!(log.len() >= 2);
    let gap = log_time_ms(&log[1]) - log_time_ms(&log[0]);
    assert!(
        gap >= 1000,
        "next poll {gap} ms after a 429 with Retry-After: 1"
    );
}
