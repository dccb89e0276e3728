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
