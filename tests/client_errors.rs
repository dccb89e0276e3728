//! Every error kind of the HostUp client, produced by hostup-sim over real HTTP, with the hint a
//! user can act on (the client's, and the diagnostic the provider makes of it); and the API key
//! never in any text.

mod client_util;

use std::time::Duration;

use client_util::*;
use hostup_provider::hostup::{Client, CreateBackup, CreateSnapshot, Error, ErrorKind, Timeouts};
use hostup_provider::provider::config::{Source, Sources};
use hostup_provider::provider::errors::{api_error, Paths};
use hostup_provider::sim::SimConfig;
use serde_json::json;

/// Display and hint together, and the diagnostic the provider shows for them (which adds where
/// Terraform sets what the hint asks to change); never containing `key`.
fn text(e: &Error, key: &str) -> String {
    let d = api_error(
        "Could not call HostUp",
        e,
        &Paths::vps(),
        &Sources::default(),
    );
    let t = format!("{e} | {} | {} | {}", e.hint(), d.summary, d.detail);
    assert!(!t.contains(key), "the API key leaked: {t}");
    assert!(
        !format!("{e:?}").contains(key),
        "the API key leaked into Debug: {e:?}"
    );
    t
}

#[tokio::test]
async fn unauthorized_points_at_the_api_key() {
    let sim = start(SimConfig::default()).await;
    let key = "wrong-key-0123456789";
    let e = sim.client(key).list_snapshots(VPS_APP).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Problem);
    assert_eq!(e.status(), Some(401));
    assert_eq!(e.code(), Some("unauthorized"));
    assert!(e.request_id().is_some_and(|r| r.starts_with("req_")));
    // The advice names where this run's key came from, and only that.
    let t = text(&e, key);
    assert!(
        t.contains("`api_key`") && !t.contains("HOSTUP_API_KEY"),
        "{t}"
    );
    let from_env = Sources {
        api_key: Source::Environment,
        ..Sources::default()
    };
    let d = api_error("Could not call HostUp", &e, &Paths::vps(), &from_env);
    assert!(
        d.detail.contains("HOSTUP_API_KEY") && !d.detail.contains("`api_key`"),
        "{}",
        d.detail
    );
    // Not retried.
    assert_eq!(sim.count("GET /api/v2/vps/{id}/snapshots").await, 1);
}

#[tokio::test]
async fn forbidden_names_the_missing_scope() {
    let sim = start(SimConfig::default()).await;
    let e = sim
        .client(KEY_READ_ONLY)
        .create_backup(VPS_APP, &CreateBackup::default())
        .await
        .unwrap_err();
    assert_eq!((e.status(), e.code()), (Some(403), Some("forbidden")));
    let t = text(&e, KEY_READ_ONLY);
    assert!(e.hint().contains("backup:vm"), "{t}");
    assert!(!e.may_have_been_applied());

    let e = sim
        .client(KEY_BACKUP_ONLY)
        .list_backups(VPS_APP)
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(403));
    assert!(e.hint().contains("read:vm"), "{}", e.hint());
}

#[tokio::test]
async fn not_found_kinds_say_which_id_is_wrong() {
    let sim = start(SimConfig::default()).await;
    let c = sim.client(KEY_TEST);
    let e = c.list_snapshots("vps_nope").await.unwrap_err();
    assert_eq!((e.status(), e.code()), (Some(404), Some("vps_not_found")));
    assert!(e.is_not_found());
    let t = text(&e, KEY_TEST);
    assert!(
        t.contains("vps_nope") && t.contains("GET /api/v2/vps"),
        "{t}"
    );
    assert!(
        e.detail().is_some_and(|d| d.contains("No VPS matching")),
        "{t}"
    );

    let e = c
        .restore_snapshot(VPS_APP, "no-such-snapshot")
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("snapshot_not_found"));
    assert!(e.hint().contains("no-such-snapshot"), "{}", e.hint());
    assert!(!e.may_have_been_applied());

    let e = c
        .get_job(&hostup_provider::hostup::JobRef::new("job_unknown"))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("job_not_found"));
}

#[tokio::test]
async fn conflicts_carry_the_gate_reason_and_code() {
    let sim = start(SimConfig::default()).await;
    let c = sim.client(KEY_TEST);
    let snap = CreateSnapshot {
        name: "x1".into(),
        description: None,
    };
    let cases = [
        (VPS_NO_SNAPSHOTS, "feature_not_in_plan"),
        (VPS_FULL, "snapshot_limit_reached"),
        (VPS_PENDING, "pending_order"),
    ];
    for (vps, code) in cases {
        let e = c.create_snapshot(vps, &snap).await.unwrap_err();
        assert_eq!((e.status(), e.code()), (Some(409), Some(code)), "{e}");
        let t = text(&e, KEY_TEST);
        // HostUp's code, once; the gate's API name stays out of what the user reads.
        assert!(t.contains(code) && !t.contains("canCreate"), "{t}");
        assert!(!e.may_have_been_applied());
    }
    let e = c
        .create_snapshot(
            VPS_APP,
            &CreateSnapshot {
                name: SNAPSHOT_APP.into(),
                description: None,
            },
        )
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("snapshot_exists"));
    let e = c
        .create_backup(VPS_FULL, &CreateBackup::default())
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("backup_quota_exceeded"));
    // 409s are never retried.
    assert_eq!(sim.count("POST /api/v2/vps/{id}/snapshots").await, 4);
}

#[tokio::test]
async fn validation_errors_point_at_the_field() {
    let sim = start(SimConfig::default()).await;
    let e = sim
        .client(KEY_TEST)
        .create_snapshot(
            VPS_APP,
            &CreateSnapshot {
                name: "not valid!".into(),
                description: None,
            },
        )
        .await
        .unwrap_err();
    assert_eq!((e.status(), e.code()), (Some(400), Some("invalid_request")));
    let f = e.field_errors();
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0].pointer.as_deref(), Some("/name"));
    assert!(e.hint().contains("/name"), "{}", e.hint());
}

#[tokio::test]
async fn still_rate_limited_after_retries() {
    let sim = start(SimConfig::default()).await;
    sim.faults(json!({"rules":[{"kind":"rateLimit","retryAfter":1}]}))
        .await;
    let mut cfg = sim.config(KEY_TEST);
    cfg.retry.max_rate_limited_attempts = 2;
    let c = Client::new(cfg).unwrap();
    let e = c.list_backups(VPS_APP).await.unwrap_err();
    assert_eq!(
        (e.status(), e.code()),
        (Some(429), Some("rate_limit_exceeded"))
    );
    assert!(e.is_rate_limited());
    assert_eq!(e.retry_after(), Some(Duration::from_secs(1)));
    let t = text(&e, KEY_TEST);
    assert!(
        t.contains("after 2 attempts") && t.contains("-parallelism"),
        "{t}"
    );
    assert_eq!(sim.count("GET /api/v2/vps/{id}/backups").await, 2);
}

#[tokio::test]
async fn html_error_page_is_quoted_not_parsed() {
    let sim = start(SimConfig::default()).await;
    sim.faults(json!({"rules":[{"kind":"html502"}]})).await;
    let e = sim
        .client(KEY_TEST)
        .list_snapshots(VPS_APP)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NonJson);
    assert_eq!(e.status(), Some(502));
    let t = text(&e, KEY_TEST);
    // The page's title, not its markup.
    assert!(t.contains("\"502 Bad Gateway\""), "{t}");
    assert!(!t.contains("<html") && !t.contains('\r'), "{t}");
    assert!(t.contains("error page instead of JSON"), "{t}");
    let Error::NonJson { snippet, .. } = &e else {
        unreachable!()
    };
    assert!(
        snippet.len() <= 200 + '…'.len_utf8(),
        "quotes at most 200 bytes: {}",
        snippet.len()
    );
    // A GET is retried on 5xx: every attempt was made.
    assert_eq!(sim.count("GET /api/v2/vps/{id}/snapshots").await, 4);
}

#[tokio::test]
async fn truncated_body_is_a_decode_error_quoting_it() {
    let sim = start(SimConfig::default()).await;
    sim.faults(json!({"rules":[{"kind":"truncate","route":"/api/v2/vps/{id}/backups"}]}))
        .await;
    let e = sim
        .client(KEY_TEST)
        .list_backups(VPS_APP)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Decode, "{e}");
    let t = text(&e, KEY_TEST);
    // Said in our words; the cut body stays on the error (and in the debug log), not in the text.
    assert!(t.contains("cut off") && !t.contains("EOF while"), "{t}");
    let Error::Decode { snippet, .. } = &e else {
        unreachable!()
    };
    assert!(snippet.contains("canCreateBackup"), "{snippet}");
    // Reads with a cut body are retried; the last answer is reported.
    assert_eq!(sim.count("GET /api/v2/vps/{id}/backups").await, 4);

    // One cut answer, then a good one: the read succeeds.
    sim.faults(json!({"rules":[{"kind":"truncate","count":1}]}))
        .await;
    sim.clear_log().await;
    let b = sim.client(KEY_TEST).list_backups(VPS_APP).await.unwrap();
    assert_eq!(b.backups.len(), 1);
    assert_eq!(sim.count("GET /api/v2/vps/{id}/backups").await, 2);
}

#[tokio::test]
async fn connection_refused_is_a_network_error_nothing_sent() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut cfg =
        hostup_provider::hostup::ClientConfig::new(&format!("http://127.0.0.1:{port}"), KEY_TEST)
            .unwrap();
    cfg.retry = fast_retry();
    let c = Client::new(cfg).unwrap();
    let e = c
        .create_backup(VPS_APP, &CreateBackup::default())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Network, "{e}");
    assert!(matches!(e, Error::Network { not_sent: true, .. }));
    assert!(!e.may_have_been_applied());
    // Refused before sending: even a job-creating POST was tried again.
    assert_eq!(e.request().unwrap().attempts, fast_retry().max_attempts);
    let t = text(&e, KEY_TEST);
    assert!(
        t.contains("nothing was sent")
            && t.contains("`endpoint`")
            && !t.contains("HOSTUP_ENDPOINT"),
        "{t}"
    );
    for (endpoint, says) in [
        (Source::Environment, "HOSTUP_ENDPOINT"),
        (Source::Default, "https://cloud.hostup.se"),
    ] {
        let sources = Sources {
            endpoint,
            ..Sources::default()
        };
        let d = api_error("Could not call HostUp", &e, &Paths::vps(), &sources);
        assert!(d.detail.contains(says), "{}", d.detail);
    }
}

#[tokio::test]
async fn connection_reset_after_sending_is_a_network_error() {
    let sim = start(SimConfig::default()).await;
    sim.faults(json!({"rules":[{"kind":"reset","method":"POST","after":true}]}))
        .await;
    let e = sim
        .client(KEY_TEST)
        .create_backup(VPS_APP, &CreateBackup::default())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Network, "{e}");
    assert!(e.may_have_been_applied());
    let t = text(&e, KEY_TEST);
    assert!(t.contains("may have queued"), "{t}");
    assert_eq!(sim.count("POST /api/v2/vps/{id}/backups").await, 1);
    assert_eq!(sim.job_count().await, 1, "the sim did act on it");
}

#[tokio::test]
async fn slow_answer_is_a_timeout() {
    let sim = start(SimConfig::default()).await;
    sim.faults(json!({"rules":[{"kind":"latency","ms":3000,"route":"/api/v2/vps/{id}"}]}))
        .await;
    let mut cfg = sim.config(KEY_TEST);
    cfg.timeouts = Timeouts {
        request: Duration::from_millis(250),
        connect: Duration::from_secs(2),
    };
    cfg.retry.max_attempts = 2;
    let c = Client::new(cfg).unwrap();
    let e = c.get_vps(VPS_APP).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
    let t = text(&e, KEY_TEST);
    // The true numbers: both attempts, each bounded by the 250 ms request timeout.
    assert!(t.contains("in 2 attempts of 250ms each ("), "{t}");
    assert_eq!(e.request().unwrap().attempts, 2);
}

#[tokio::test]
async fn invalid_input_is_refused_before_any_request() {
    let sim = start(SimConfig::default()).await;
    let c = sim.client(KEY_TEST);
    for bad in ["", "  ", "..", "a\nb"] {
        let e = c.list_snapshots(bad).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{bad:?}");
    }
    assert!(sim.counters().await.is_empty());
}
