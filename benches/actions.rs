//! Action benchmarks (Terraform 1.14 actions, driven at the protocol level as
//! tests/protocol_actions.rs does, since no Terraform here runs actions):
//!
//! * `stop`: InvokeAction of `hostup_vps_backup` on an hour-long job, Stop sent once the first
//!   progress event (the job accepted) has arrived; the time from Stop's answer to the stream's
//!   Completed event, over `--runs` invocations.
//! * `invoke`: InvokeAction of `hostup_vps_backup` on an instant job (`--job-duration 0s`): the
//!   wall time from the call to Completed, and the requests HostUp got per invocation (from
//!   the simulator's counters), after the PlanAction Terraform sends first.
//!
//! `cargo bench --locked --bench actions` runs both (20 runs each). Nothing here asserts a
//! speed; it prints a markdown table (docs/PERFORMANCE.md, "Actions").

#[path = "../tests/plugin_client/mod.rs"]
mod plugin_client;

use std::time::{Duration, Instant};

use hostup_provider::plugin::proto::tfplugin5 as pb;
use hostup_provider::plugin::value::Value;
use plugin_client::{block_type, bounded, dynamic, object, provider_schema, Plugin, Sim, DEADLINE};

const VPS_APP: &str = "vps_01hxa3b4c5d6e7f8g9h0j1k2m3";
const BACKUP: &str = "hostup_vps_backup";

fn config_of(block: &pb::schema::Block, set: &[(&str, Value)]) -> Option<pb::DynamicValue> {
    let ty = block_type(block);
    dynamic(&object(&ty, set), &ty)
}

/// A configured provider process and the backup action's config.
struct Session {
    plugin: Plugin,
    action: Option<pb::DynamicValue>,
}

async fn session(sim: &Sim) -> Session {
    let plugin = Plugin::launch(&[]).await;
    let schema = provider_schema(&plugin).await;
    let provider = schema.provider.and_then(|s| s.block).expect("provider");
    let cfg = config_of(
        &provider,
        &[
            ("endpoint", sim.url.as_str().into()),
            ("api_key", "test-key".into()),
        ],
    );
    bounded(
        "Configure",
        plugin.client().configure(pb::configure::Request {
            terraform_version: "1.15.9".into(),
            config: cfg,
            client_capabilities: None,
        }),
    )
    .await
    .expect("Configure");
    let block = schema.action_schemas[BACKUP]
        .schema
        .clone()
        .and_then(|s| s.block)
        .expect("action block");
    let action = config_of(&block, &[("vps_id", VPS_APP.into())]);
    Session { plugin, action }
}

async fn invoke(s: &Session) -> tonic::Streaming<pb::invoke_action::Event> {
    bounded(
        "InvokeAction",
        s.plugin.client().invoke_action(pb::invoke_action::Request {
            action_type: BACKUP.into(),
            config: s.action.clone(),
            client_capabilities: None,
        }),
    )
    .await
    .expect("stream")
    .into_inner()
}

/// Reads to the Completed event; returns whether it carried an error.
async fn until_completed(stream: &mut tonic::Streaming<pb::invoke_action::Event>) -> bool {
    use pb::invoke_action::event::Type as T;
    loop {
        let ev = bounded("event", stream.message())
            .await
            .expect("no gRPC error")
            .expect("a Completed event before the end");
        if let Some(T::Completed(c)) = ev.r#type {
            return c.diagnostics.iter().any(|d| d.severity == 1);
        }
    }
}

fn stats(mut v: Vec<Duration>) -> String {
    v.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    format!(
        "{:.1} ({:.1}–{:.1})",
        ms(v[v.len() / 2]),
        ms(v[0]),
        ms(v[v.len() - 1])
    )
}

async fn stop_runs(runs: usize) -> String {
    let mut took = Vec::new();
    for _ in 0..runs {
        let sim = Sim::start(&["--job-duration", "1h"]).await;
        let s = session(&sim).await;
        let mut stream = invoke(&s).await;
        bounded("first progress", stream.message())
            .await
            .expect("ok")
            .expect("a progress event");
        bounded("Stop", s.plugin.client().stop(pb::stop::Request {}))
            .await
            .expect("Stop");
        let t = Instant::now();
        let failed = tokio::time::timeout(DEADLINE, until_completed(&mut stream))
            .await
            .expect("Completed after Stop");
        took.push(t.elapsed());
        assert!(failed, "a stopped invocation ends with an error");
        s.plugin.shutdown().await;
    }
    stats(took)
}

async fn invoke_runs(runs: usize) -> (String, String) {
    let mut took = Vec::new();
    let mut requests = String::new();
    for i in 0..runs {
        let sim = Sim::start(&["--job-duration", "0s"]).await;
        let s = session(&sim).await;
        let plan = bounded(
            "PlanAction",
            s.plugin.client().plan_action(pb::plan_action::Request {
                action_type: BACKUP.into(),
                config: s.action.clone(),
                client_capabilities: None,
            }),
        )
        .await
        .expect("PlanAction")
        .into_inner();
        assert!(plan.diagnostics.is_empty());
        let before = (
            sim.count("GET /api/v2/vps/{id}/backups").await,
            sim.count("GET /api/jobs/{jobId}").await,
        );
        let t = Instant::now();
        let mut stream = invoke(&s).await;
        let failed = until_completed(&mut stream).await;
        took.push(t.elapsed());
        assert!(!failed);
        if i == 0 {
            let lists = sim.count("GET /api/v2/vps/{id}/backups").await - before.0;
            let polls = sim.count("GET /api/jobs/{jobId}").await - before.1;
            let posts = sim.count("POST /api/v2/vps/{id}/backups").await;
            requests = format!(
                "plan: 1 backup list; invoke: {lists} backup list, {posts} POST, {polls} job poll"
            );
        }
        s.plugin.shutdown().await;
    }
    (stats(took), requests)
}

#[tokio::main]
async fn main() {
    let runs = std::env::args()
        .skip_while(|a| a != "--runs")
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(20);
    let stop = stop_runs(runs).await;
    let (invoke, requests) = invoke_runs(runs).await;
    println!("| what | ms, median (min–max) over {runs} runs |");
    println!("|---|---|");
    println!("| Stop's answer → Completed (job running) | {stop} |");
    println!("| InvokeAction → Completed, instant job | {invoke} |");
    println!();
    println!("Requests per invocation (first run): {requests}");
}
