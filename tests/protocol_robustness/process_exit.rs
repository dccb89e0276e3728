//! The process ending: Shutdown with an RPC in flight, SIGINT as Stop, Terraform killed
//! without Shutdown.

use std::time::Duration;

use hostup_provider::plugin::proto::tfplugin5 as pb;

use crate::black_hole::{after_stop, mentions_stop, BlackHole, InFlight};
use crate::plugin_client::{bounded, Sim, DEADLINE};
use crate::under::Under;
use crate::values::{describe, dv, expect_error, first_error, null_dv, object, record};
use crate::{BACKUP, DATA_SNAPSHOTS, KEY, VPS_APP};

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
