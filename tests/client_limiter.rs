//! The process-wide rate limiter against hostup-sim's rate limit: a burst of 100 concurrent
//! tasks, from clients built separately (as the provider's resources would), all succeed.

mod client_util;

use client_util::*;
use hostup_provider::sim::SimConfig;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_burst_of_100_tasks_passes_the_rate_limit_without_failures() {
    let sim = start(SimConfig::default().with_rate_limit(20)).await;
    sim.set_config(json!({"rateWindowMs": 500})).await;
    // Two separately built clients with the same endpoint and key share one limiter.
    let a = sim.client(KEY_TEST);
    let b = sim.client(KEY_TEST);
    let vps = [VPS_APP, VPS_NO_SNAPSHOTS, VPS_FULL, VPS_PAYG];
    let mut tasks = Vec::new();
    for i in 0..100 {
        let c = if i % 2 == 0 { a.clone() } else { b.clone() };
        let id = vps[i % vps.len()];
        tasks.push(tokio::spawn(async move {
            if i % 3 == 0 {
                c.list_backups(id).await.map(|_| ())
            } else {
                c.list_snapshots(id).await.map(|_| ())
            }
        }));
    }
    let mut failures = Vec::new();
    for t in tasks {
        if let Err(e) = t.await.unwrap() {
            failures.push(e.to_string());
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures: {failures:?}",
        failures.len()
    );
    let log = sim.requests().await;
    let ok = log.iter().filter(|e| e["status"] == 200).count();
    let limited = log.iter().filter(|e| e["status"] == 429).count();
    assert_eq!(ok, 100);
    // The limiter follows X-RateLimit-* (0 in practice; a window edge may cost one or two).
    assert!(limited <= 2, "{limited} requests answered 429");
}

/// The provider's apply in miniature: two backups on each of 20 VPSs, 20 at a time, each
/// holding its VPS's lock over POST and wait, under the sim's rate limit.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_backups_over_many_vps_create_each_job_once() {
    use hostup_provider::hostup::{CreateBackup, WaitOptions};
    let sim = start(
        SimConfig::default()
            .with_extra_vps(20)
            .with_rate_limit(20)
            .with_job_duration(std::time::Duration::ZERO),
    )
    .await;
    sim.set_config(json!({"rateWindowMs": 250})).await;
    let c = sim.client(KEY_TEST);
    let ids: Vec<String> = c
        .list_all_vps(&Default::default())
        .await
        .unwrap()
        .into_iter()
        .map(|v| v.id)
        .filter(|id| id.starts_with("vps_01hxextra"))
        .collect();
    assert_eq!(ids.len(), 20);
    sim.clear_log().await;
    let gate = std::sync::Arc::new(tokio::sync::Semaphore::new(20));
    let mut tasks = Vec::new();
    for round in 0..2 {
        for id in &ids {
            let (c, id, gate) = (c.clone(), id.clone(), gate.clone());
            tasks.push(tokio::spawn(async move {
                let _slot = gate.acquire_owned().await.unwrap();
                let _lock = c.vps_lock(&id).await?;
                let note = CreateBackup {
                    note: Some(format!("round {round}")),
                };
                let op = c.create_backup(&id, &note).await?;
                let out = c.wait_for_job(&op.job_ref(), WaitOptions::default()).await;
                Ok::<_, hostup_provider::hostup::Error>(out.map(|o| o.is_success()))
            }));
        }
    }
    for t in tasks {
        assert!(t.await.unwrap().unwrap().unwrap());
    }
    assert_eq!(sim.count("POST /api/v2/vps/{id}/backups").await, 40);
    assert_eq!(sim.job_count().await, 40);
    let limited = sim
        .requests()
        .await
        .iter()
        .filter(|e| e["status"] == 429)
        .count();
    assert!(limited <= 2, "{limited} requests answered 429");
}
