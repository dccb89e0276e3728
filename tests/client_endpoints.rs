//! The HostUp client against hostup-sim over real HTTP: every endpoint, its typed model, and
//! the headers every request carries.

mod client_util;

use std::time::Duration;

use client_util::*;
use hostup_provider::hostup::{
    Client, ClientConfig, CreateBackup, CreateSnapshot, JobRef, JobState, OperationStatus,
    ServiceStatus, VpsListQuery, WaitOptions,
};
use hostup_provider::sim::{JobShape, SimConfig, SnapshotDeleteMode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn quick_jobs() -> SimConfig {
    SimConfig::default().with_job_duration(Duration::from_millis(150))
}

#[tokio::test]
async fn vps_list_pages_with_cursor_and_filters() {
    let sim = start(SimConfig::default().with_extra_vps(7)).await;
    let c = sim.client(KEY_TEST);
    let page = c
        .list_vps_page(&VpsListQuery {
            limit: Some(5),
            ..VpsListQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(page.data.len(), 5);
    assert!(page.next_cursor.is_some());
    let all = c
        .list_all_vps(&VpsListQuery {
            limit: Some(5),
            ..VpsListQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(all.len(), 12, "5 fixture VPSs + 7 extra");
    let mut ids: Vec<&str> = all.iter().map(|v| v.id.as_str()).collect();
    ids.dedup();
    assert_eq!(ids.len(), 12, "no VPS twice across pages");
    // Three pages of 5 were walked.
    assert_eq!(sim.count("GET /api/v2/vps").await, 1 + 3);

    let app = all.iter().find(|v| v.id == VPS_APP).unwrap();
    assert_eq!(app.name.as_deref(), Some("app-01"));
    assert_eq!(app.primary_ip.as_deref(), Some("192.0.2.10"));
    assert_eq!(app.service_status, Some(ServiceStatus::Active));
    assert_eq!(
        app.billing.as_ref().unwrap().currency_code.as_deref(),
        Some("SEK")
    );
    assert_eq!(app.resources.as_ref().unwrap().storage_gb, Some(80.0));

    let by_name = c.find_vps_by_name("WEB-01").await.unwrap();
    assert_eq!(by_name.len(), 1);
    assert_eq!(by_name[0].id, VPS_NO_SNAPSHOTS);
    let by_ip = c
        .list_vps_page(&VpsListQuery {
            primary_ip: Some("192.0.2.12".into()),
            ..VpsListQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(by_ip.data.len(), 1);
    assert_eq!(by_ip.data[0].id, VPS_FULL);
    assert!(c.find_vps_by_name("no-such-vps").await.unwrap().is_empty());
}

#[tokio::test]
async fn get_vps_and_pending_status() {
    let sim = start(SimConfig::default()).await;
    let c = sim.client(KEY_TEST);
    let v = c.get_vps(VPS_APP).await.unwrap();
    assert_eq!(v.id, VPS_APP);
    assert_eq!(
        v.operating_system.unwrap().display_name.as_deref(),
        Some("Ubuntu 24.04")
    );
    let p = c.get_vps(VPS_PENDING).await.unwrap();
    assert_eq!(p.service_status, Some(ServiceStatus::Pending));
}

#[tokio::test]
async fn snapshot_lists_with_gates_and_quota() {
    let sim = start(SimConfig::default()).await;
    let c = sim.client(KEY_TEST);
    let s = c.list_snapshots(VPS_APP).await.unwrap();
    assert_eq!(s.available, Some(true));
    assert_eq!(s.total_snapshots(), Some(3));
    assert_eq!(s.used_snapshots(), 1);
    let snap = s.find(SNAPSHOT_APP).unwrap();
    assert!(snap.expires_at.is_some() && snap.created_at.is_some());
    assert_eq!(snap.includes_memory_state, Some(false));
    let gates = s.actions.unwrap();
    assert!(gates.can_create.unwrap().allowed);
    assert!(gates.can_restore.unwrap().allowed);

    // A plan without snapshots: unavailable, gates closed with reason and code.
    let none = c.list_snapshots(VPS_NO_SNAPSHOTS).await.unwrap();
    assert_eq!(none.available, Some(false));
    assert!(none.data.is_empty());
    assert_eq!(none.total_snapshots(), Some(0));
    assert!(none.reason.as_deref().unwrap().contains("not included"));
    let create = none.actions.unwrap().can_create.unwrap();
    assert!(!create.allowed);
    assert_eq!(create.code.as_deref(), Some("feature_not_in_plan"));

    // Full slots close canCreate only.
    let full = c.list_snapshots(VPS_FULL).await.unwrap();
    let gates = full.actions.unwrap();
    assert_eq!(
        gates.can_create.unwrap().code.as_deref(),
        Some("snapshot_limit_reached")
    );
    assert!(gates.can_restore.unwrap().allowed);
}

#[tokio::test]
async fn snapshot_create_restore_delete_round_trip() {
    let sim = start(quick_jobs()).await;
    let c = sim.client(KEY_TEST);
    let op = c
        .create_snapshot(
            VPS_APP,
            &CreateSnapshot {
                name: "pre-deploy".into(),
                description: Some("Before deploy".into()),
            },
        )
        .await
        .unwrap();
    assert!(op.job_id.starts_with("job_"));
    assert_eq!(op.status, Some(OperationStatus::Queued));
    assert_eq!(
        op.poll_url.as_deref(),
        Some(format!("/api/jobs/{}", op.job_id).as_str())
    );
    let out = c
        .wait_for_job(&op.job_ref(), WaitOptions::default())
        .await
        .unwrap();
    assert!(out.is_success(), "{out:?}");
    let list = c.list_snapshots(VPS_APP).await.unwrap();
    let s = list
        .find("pre-deploy")
        .expect("snapshot listed after its job completed");
    assert_eq!(s.description.as_deref(), Some("Before deploy"));
    assert_eq!(list.used_snapshots(), 2);

    let op = c.restore_snapshot(VPS_APP, "pre-deploy").await.unwrap();
    let out = c
        .wait_for_job(&op.job_ref(), WaitOptions::default())
        .await
        .unwrap();
    assert!(out.is_success());
    assert_eq!(out.status(), "completed");
    assert!(out.finished_at().is_some());

    let op = c
        .delete_snapshot(VPS_APP, "pre-deploy")
        .await
        .unwrap()
        .expect("async delete");
    c.wait_for_job(&op.job_ref(), WaitOptions::default())
        .await
        .unwrap();
    assert!(c
        .list_snapshots(VPS_APP)
        .await
        .unwrap()
        .find("pre-deploy")
        .is_none());

    assert_eq!(sim.count("POST /api/v2/vps/{id}/snapshots").await, 1);
    assert_eq!(
        sim.count("POST /api/v2/vps/{id}/snapshots/{snapshotId}/actions/restore")
            .await,
        1
    );
    assert_eq!(
        sim.count("DELETE /api/v2/vps/{id}/snapshots/{snapshotId}")
            .await,
        1
    );
}

#[tokio::test]
async fn synchronous_snapshot_delete_is_none() {
    let sim = start(quick_jobs().with_snapshot_delete(SnapshotDeleteMode::Sync)).await;
    let c = sim.client(KEY_TEST);
    assert!(c
        .delete_snapshot(VPS_APP, SNAPSHOT_APP)
        .await
        .unwrap()
        .is_none());
    assert!(c.list_snapshots(VPS_APP).await.unwrap().data.is_empty());
}

#[tokio::test]
async fn backup_delete_is_synchronous() {
    let sim = start(quick_jobs()).await;
    let c = sim.client(KEY_TEST);
    let before = c.vps_changes(VPS_APP);
    assert!(c
        .delete_backup(VPS_APP, BACKUP_APP)
        .await
        .unwrap()
        .is_none());
    assert!(c.list_backups(VPS_APP).await.unwrap().backups.is_empty());
    // A write changes the VPS, as far as this process's gate reads can tell.
    assert_eq!(c.vps_changes(VPS_APP), before + 1);
    // Once gone, HostUp says so.
    let e = c.delete_backup(VPS_APP, BACKUP_APP).await.unwrap_err();
    assert!(e.is_not_found(), "{e}");
    assert_eq!(e.code(), Some("backup_not_found"));
    assert!(!e.may_have_been_applied(), "{e}");
}

#[tokio::test]
async fn backups_list_and_create_with_and_without_note() {
    let sim = start(quick_jobs()).await;
    let c = sim.client(KEY_TEST);
    let b = c.list_backups(VPS_APP).await.unwrap();
    assert_eq!(b.backups.len(), 1);
    assert_eq!(b.backups[0].id, BACKUP_APP);
    assert_eq!(b.backups[0].size_gb, Some(12.4));
    let q = b.quota_info.unwrap();
    assert_eq!((q.used, q.limit, q.remaining), (Some(1), Some(3), Some(2)));
    assert!(b.actions.unwrap().can_create_backup.unwrap().allowed);

    let op = c
        .create_backup(
            VPS_APP,
            &CreateBackup {
                note: Some("Before upgrade".into()),
            },
        )
        .await
        .unwrap();
    let out = c
        .wait_for_job(&op.job_ref(), WaitOptions::default())
        .await
        .unwrap();
    assert!(out.is_success());
    let op = c
        .create_backup(VPS_PAYG, &CreateBackup::default())
        .await
        .unwrap();
    c.wait_for_job(&op.job_ref(), WaitOptions::default())
        .await
        .unwrap();

    let b = c.list_backups(VPS_APP).await.unwrap();
    assert_eq!(b.backups.len(), 2);
    assert!(b
        .backups
        .iter()
        .any(|x| x.note.as_deref() == Some("Before upgrade")
            && x.backup_type.as_deref() == Some("manual")));
    assert_eq!(b.quota_info.unwrap().remaining, Some(1));
    // Unlimited plan: null limit and remaining are tolerated.
    let payg = c.list_backups(VPS_PAYG).await.unwrap();
    assert_eq!(payg.backups.len(), 1);
    assert_eq!(payg.quota_info.unwrap().limit, None);
}

#[tokio::test]
async fn get_job_in_every_shape() {
    let sim = start(SimConfig::default().with_job_duration(Duration::from_secs(600))).await;
    let c = sim.client(KEY_TEST);
    let op = c
        .create_backup(VPS_APP, &CreateBackup::default())
        .await
        .unwrap();
    for shape in ["legacy", "operation", "bare"] {
        sim.set_config(serde_json::json!({"jobShape": shape})).await;
        let j = c.get_job(&op.job_ref()).await.unwrap();
        assert!(
            matches!(j.job_state(), JobState::Pending | JobState::Running),
            "{shape}: {j:?}"
        );
    }
    sim.complete_job(&op.job_id).await;
    for shape in ["legacy", "operation", "bare"] {
        sim.set_config(serde_json::json!({"jobShape": shape})).await;
        let j = c.get_job(&JobRef::new(op.job_id.clone())).await.unwrap();
        assert_eq!(j.job_state(), JobState::Completed, "{shape}: {j:?}");
    }
    // A sim started in a non-default shape works end to end too.
    let sim = start(quick_jobs().with_job_shape(JobShape::Bare)).await;
    let c = sim.client(KEY_TEST);
    let op = c
        .create_backup(VPS_APP, &CreateBackup::default())
        .await
        .unwrap();
    assert!(c
        .wait_for_job(&op.job_ref(), WaitOptions::default())
        .await
        .unwrap()
        .is_success());
}

#[tokio::test]
async fn poll_url_is_resolved_against_the_origin() {
    let sim = start(SimConfig::default()).await;
    // The endpoint is given with /api/v2, as copied from HostUp's docs.
    let c = Client::new(ClientConfig::new(&format!("{}/api/v2", sim.url()), KEY_TEST).unwrap())
        .unwrap();
    let op = c
        .create_backup(VPS_APP, &CreateBackup::default())
        .await
        .unwrap();
    let url = c.job_url(&op.job_ref()).unwrap();
    assert_eq!(
        url.as_str(),
        format!("{}/api/jobs/{}", sim.url(), op.job_id)
    );
    // A pollUrl on another origin is never followed (the key would go there).
    let foreign = JobRef {
        job_id: op.job_id.clone(),
        poll_url: Some("https://evil.example/api/jobs/x".into()),
        initial_status: None,
        vps_id: None,
    };
    assert_eq!(c.job_url(&foreign).unwrap().as_str(), url.as_str());
    c.get_job(&op.job_ref()).await.unwrap();
    assert_eq!(sim.count("GET /api/jobs/{jobId}").await, 1);
}

/// Reads one HTTP request from a raw socket and answers `{}`, returning the request head.
async fn capture_one_request(listener: tokio::net::TcpListener) -> String {
    let (mut sock, _) = listener.accept().await.unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = sock.read(&mut chunk).await.unwrap();
        assert!(n > 0, "connection closed before the request head");
        buf.extend_from_slice(&chunk[..n]);
    }
    let body = br#"{"data":[],"nextCursor":null}"#;
    let head = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    sock.write_all(head.as_bytes()).await.unwrap();
    sock.write_all(body).await.unwrap();
    String::from_utf8_lossy(&buf).to_ascii_lowercase()
}

#[tokio::test]
async fn every_request_carries_bearer_accept_and_user_agent() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(capture_one_request(listener));
    let c = Client::new(
        ClientConfig::new(&origin, "secret-key-123")
            .unwrap()
            .with_terraform_version("1.11.4"),
    )
    .unwrap();
    c.list_vps_page(&VpsListQuery::default()).await.unwrap();
    let head = server.await.unwrap();
    assert!(head.starts_with("get /api/v2/vps http/1.1\r\n"), "{head}");
    assert!(
        head.contains("\r\nauthorization: bearer secret-key-123\r\n"),
        "{head}"
    );
    assert!(head.contains("\r\naccept: application/json\r\n"), "{head}");
    let ua = format!(
        "\r\nuser-agent: terraform-provider-hostup/{} terraform/1.11.4\r\n",
        env!("CARGO_PKG_VERSION")
    );
    assert!(head.contains(&ua), "{head}");
    // The key never shows in Debug output.
    assert!(!format!("{c:?}").contains("secret-key-123"));
}
