//! Stop during every long-running RPC and while idle.

use std::time::Duration;

use hostup_provider::plugin::proto::tfplugin5 as pb;
use hostup_provider::plugin::value::{decode_msgpack, Type, Value};

use crate::black_hole::{after_stop, mentions_stop, BlackHole, InFlight};
use crate::plugin_client::{Sim, DEADLINE};
use crate::under::Under;
use crate::values::{describe, dv, expect_error, first_error, null_dv, object, record};
use crate::{BACKUP, DATA_SNAPSHOTS, KEY, RESTORE, SNAPSHOT, SNAPSHOT_APP, VPS_APP, VPS_PAYG};

/// Stop during each RPC that waits on HostUp: ApplyResourceChange of each action resource
/// against a sim whose jobs take an hour, and Plan, ReadResource, ReadDataSource, Import and
/// Apply against an API that never answers. Each returns within the bound with an error
/// diagnostic; operations after a Stop are not cancelled by it.
#[tokio::test]
async fn stop_ends_every_long_running_rpc() {
    // --- Apply of each action resource while HostUp's job runs (job wait). One sim each:
    // a job left running by the previous case would close the next one's gate.
    let mut u = Under::launch(&[]).await;
    // (resource type, VPS, arguments besides vps_id, the sim route that queues the job)
    type Create = (
        &'static str,
        &'static str,
        Vec<(&'static str, Value)>,
        &'static str,
    );
    let creates: [Create; 3] = [
        (BACKUP, VPS_APP, vec![], "POST /api/v2/vps/{id}/backups"),
        (
            RESTORE,
            VPS_APP,
            vec![("snapshot_name", SNAPSHOT_APP.into())],
            "POST /api/v2/vps/{id}/snapshots/{snapshotId}/actions/restore",
        ),
        (
            SNAPSHOT,
            VPS_PAYG,
            vec![("name", "stop-test".into())],
            "POST /api/v2/vps/{id}/snapshots",
        ),
    ];
    for (type_name, vps, extra, route) in creates {
        let sim = Sim::start(&["--job-duration", "1h"]).await;
        let d = u.configure(&sim.url, KEY.into()).await;
        assert!(first_error(&d).is_none(), "{:?}", describe(&d));
        let ty = u.rt(type_name);
        let Type::Object(attrs) = &ty else {
            panic!("object")
        };
        let mut set = vec![("vps_id", Value::from(vps))];
        set.extend(extra);
        let cfg = object(&ty, &set);
        let mut planned = cfg.clone();
        if let Value::Object(m) = &mut planned {
            for k in [
                "id",
                "job_id",
                "status",
                "completed_at",
                "display_id",
                "created_at",
                "expires_at",
                "includes_memory_state",
                "parent_name",
            ] {
                if attrs.contains_key(k) {
                    m.insert(k.into(), Value::unknown());
                }
            }
        }
        // The plan (which checks the gate) first, as Terraform does; then apply it.
        let r = u
            .plan(type_name, null_dv(), dv(&cfg, &ty), dv(&cfg, &ty))
            .await
            .expect("plan");
        assert!(
            first_error(&r.diagnostics).is_none(),
            "{type_name} plan: {:?}",
            describe(&r.diagnostics)
        );
        let planned_dv = r.planned_state.clone().or_else(|| dv(&planned, &ty));
        let before = sim.count(route).await;
        let client = u.plugin.client();
        let (cfg_dv, tn) = (dv(&cfg, &ty), type_name.to_owned());
        let h: InFlight<pb::apply_resource_change::Response> = tokio::spawn(async move {
            client
                .clone()
                .apply_resource_change(pb::apply_resource_change::Request {
                    type_name: tn,
                    prior_state: null_dv(),
                    planned_state: planned_dv,
                    config: cfg_dv,
                    ..Default::default()
                })
                .await
                .map(tonic::Response::into_inner)
        });
        // Wait (bounded) until HostUp accepted the job: the apply is now waiting on it.
        let deadline = tokio::time::Instant::now() + DEADLINE;
        while sim.count(route).await == before {
            assert!(
                tokio::time::Instant::now() < deadline,
                "{type_name}: the job was never queued"
            );
            assert!(!h.is_finished(), "{type_name}: apply ended before Stop");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(u.stop().await, "", "Stop answers with an empty error");
        let c = format!("Stop during ApplyResourceChange of {type_name} (job running)");
        let r = after_stop(&c, h).await;
        let e = expect_error(&c, &r.diagnostics);
        assert!(
            mentions_stop(&r.diagnostics),
            "{c}: {:?}",
            describe(&r.diagnostics)
        );
        let state = r.new_state.as_ref().expect("a new state");
        let v = decode_msgpack(&state.msgpack, &ty).expect("new_state fits the schema");
        assert!(v.is_wholly_known(), "{c}: no unknowns");
        assert!(
            v.attr("job_id")
                .and_then(Value::as_str)
                .is_some_and(|j| !j.is_empty()),
            "{c}: the job id is kept in state: {v:?}"
        );
        record(&c, &format!("{e} (job id kept in new_state)"));
        u.plugin.assert_healthy(&c).await;
    }

    // --- A second backup of the same VPS waits for the first (per-VPS lock); Stop ends both
    // the job wait and the lock wait, and the second never queues anything.
    let sim = Sim::start(&["--job-duration", "1h"]).await;
    let d = u.configure(&sim.url, KEY.into()).await;
    assert!(first_error(&d).is_none(), "{:?}", describe(&d));
    let bt = u.rt(BACKUP);
    let cfg = object(&bt, &[("vps_id", VPS_APP.into())]);
    let mut planned = cfg.clone();
    if let Value::Object(m) = &mut planned {
        for k in ["id", "job_id", "status", "completed_at"] {
            m.insert(k.into(), Value::unknown());
        }
    }
    let apply_fut = || {
        let mut client = u.plugin.client();
        let (planned_dv, cfg_dv) = (dv(&planned, &bt), dv(&cfg, &bt));
        async move {
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
        }
    };
    let first: InFlight<pb::apply_resource_change::Response> = tokio::spawn(apply_fut());
    let route = "POST /api/v2/vps/{id}/backups";
    let deadline = tokio::time::Instant::now() + DEADLINE;
    while sim.count(route).await == 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the first backup was never queued"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // An ordering barrier rather than a sleep: poll the second call once, which queues its
    // request on the connection ahead of anything sent later, then make a GetSchema round
    // trip. The server takes the streams of one connection in order on its single thread, so
    // once GetSchema is answered the second apply has started and waits for the VPS lock.
    let mut second = Box::pin(apply_fut());
    tokio::select! {
        biased;
        r = &mut second => panic!("the second apply answered at once: {r:?}"),
        () = std::future::ready(()) => {}
    }
    let second: InFlight<pb::apply_resource_change::Response> = tokio::spawn(second);
    u.plugin.assert_healthy("the second apply was sent").await;
    assert!(
        !second.is_finished(),
        "the second apply waits for the first"
    );
    assert_eq!(u.stop().await, "");
    let c = "Stop during two ApplyResourceChange of one VPS (job wait + lock wait)";
    let r1 = after_stop("the first apply", first).await;
    let r2 = after_stop("the second apply (waiting for the VPS lock)", second).await;
    assert!(
        mentions_stop(&r1.diagnostics),
        "{:?}",
        describe(&r1.diagnostics)
    );
    let e2 = expect_error(c, &r2.diagnostics);
    assert!(
        mentions_stop(&r2.diagnostics),
        "{:?}",
        describe(&r2.diagnostics)
    );
    assert_eq!(
        sim.count(route).await,
        1,
        "the second backup was never queued"
    );
    record(c, &format!("both end; the waiting one with: {e2}"));
    u.plugin.assert_healthy(c).await;
    u.plugin.shutdown().await;

    // --- RPCs blocked on an API that never answers.
    let mut hole = BlackHole::start().await;
    let mut u = Under::launch(&[]).await;
    let d = u.configure(&hole.url, KEY.into()).await;
    assert!(first_error(&d).is_none(), "{:?}", describe(&d));
    let bt = u.rt(BACKUP);
    let st = u.dt(DATA_SNAPSHOTS);
    let snt = u.rt(SNAPSHOT);
    let cfg = object(&bt, &[("vps_id", VPS_APP.into())]);
    let snap_state = object(
        &snt,
        &[
            ("vps_id", VPS_APP.into()),
            ("name", SNAPSHOT_APP.into()),
            ("id", SNAPSHOT_APP.into()),
        ],
    );
    let mut planned = cfg.clone();
    if let Value::Object(m) = &mut planned {
        for k in ["id", "job_id", "status", "completed_at"] {
            m.insert(k.into(), Value::unknown());
        }
    }
    for kind in [
        "PlanResourceChange",
        "ReadResource",
        "ReadDataSource",
        "ImportResourceState",
        "ApplyResourceChange",
    ] {
        let client = u.plugin.client();
        let (bt, st, snt) = (bt.clone(), st.clone(), snt.clone());
        let (cfg, planned, snap_state) = (cfg.clone(), planned.clone(), snap_state.clone());
        let h: InFlight<Vec<pb::Diagnostic>> = tokio::spawn(async move {
            let mut client = client;
            match kind {
                "PlanResourceChange" => client
                    .plan_resource_change(pb::plan_resource_change::Request {
                        type_name: BACKUP.into(),
                        prior_state: null_dv(),
                        proposed_new_state: dv(&cfg, &bt),
                        config: dv(&cfg, &bt),
                        ..Default::default()
                    })
                    .await
                    .map(|r| r.into_inner().diagnostics),
                "ReadResource" => client
                    .read_resource(pb::read_resource::Request {
                        type_name: SNAPSHOT.into(),
                        current_state: dv(&snap_state, &snt),
                        ..Default::default()
                    })
                    .await
                    .map(|r| r.into_inner().diagnostics),
                "ReadDataSource" => client
                    .read_data_source(pb::read_data_source::Request {
                        type_name: DATA_SNAPSHOTS.into(),
                        config: dv(&object(&st, &[("vps_id", VPS_APP.into())]), &st),
                        ..Default::default()
                    })
                    .await
                    .map(|r| r.into_inner().diagnostics),
                "ImportResourceState" => client
                    .import_resource_state(pb::import_resource_state::Request {
                        type_name: BACKUP.into(),
                        id: format!("{VPS_APP}/job_01"),
                        ..Default::default()
                    })
                    .await
                    .map(|r| r.into_inner().diagnostics),
                _ => client
                    .apply_resource_change(pb::apply_resource_change::Request {
                        type_name: BACKUP.into(),
                        prior_state: null_dv(),
                        planned_state: dv(&planned, &bt),
                        config: dv(&cfg, &bt),
                        ..Default::default()
                    })
                    .await
                    .map(|r| r.into_inner().diagnostics),
            }
        });
        hole.hit(kind).await;
        assert!(!h.is_finished(), "{kind} ended before Stop");
        assert_eq!(u.stop().await, "");
        let c = format!("Stop during {kind} (HostUp not answering)");
        let d = after_stop(&c, h).await;
        let e = expect_error(&c, &d);
        assert!(mentions_stop(&d), "{c}: {:?}", describe(&d));
        record(&c, &e);
        u.plugin.assert_healthy(&c).await;
    }

    // --- One Stop ends several RPCs at once; the next RPC gets a fresh context.
    let mut handles = Vec::new();
    for _ in 0..3 {
        let client = u.plugin.client();
        let (bt, cfg) = (bt.clone(), cfg.clone());
        handles.push(tokio::spawn(async move {
            let mut client = client;
            client
                .plan_resource_change(pb::plan_resource_change::Request {
                    type_name: BACKUP.into(),
                    prior_state: null_dv(),
                    proposed_new_state: dv(&cfg, &bt),
                    config: dv(&cfg, &bt),
                    ..Default::default()
                })
                .await
                .map(|r| r.into_inner().diagnostics)
        }));
    }
    for _ in 0..3 {
        hole.hit("three concurrent plans").await;
    }
    assert_eq!(u.stop().await, "");
    for h in handles {
        let d = after_stop("one of three plans", h).await;
        assert!(mentions_stop(&d), "{:?}", describe(&d));
    }
    record(
        "one Stop during 3 concurrent PlanResourceChange",
        "all 3 end with the cancellation error",
    );
    // A plan started after the Stop is not pre-cancelled: it waits on the API again.
    let client = u.plugin.client();
    let (bt2, cfg2) = (bt.clone(), cfg.clone());
    let later: InFlight<Vec<pb::Diagnostic>> = tokio::spawn(async move {
        let mut client = client;
        client
            .plan_resource_change(pb::plan_resource_change::Request {
                type_name: BACKUP.into(),
                prior_state: null_dv(),
                proposed_new_state: dv(&cfg2, &bt2),
                config: dv(&cfg2, &bt2),
                ..Default::default()
            })
            .await
            .map(|r| r.into_inner().diagnostics)
    });
    hole.hit("a plan after Stop").await;
    assert!(
        !later.is_finished(),
        "a plan after Stop must not be cancelled by it"
    );
    assert_eq!(u.stop().await, "");
    after_stop("the plan after the first Stop", later).await;
    u.plugin.assert_healthy("Stops").await;
    u.plugin.shutdown().await;
}

/// Stop with nothing in flight (before Configure, twice in a row, after Configure) answers at
/// once with an empty error and cancels nothing that starts later: a plan and an apply against
/// a sim with instant jobs then succeed.
#[tokio::test]
async fn stop_while_idle_answers_and_cancels_nothing_later() {
    let sim = Sim::start(&["--job-duration", "0s"]).await;
    let mut u = Under::launch(&[]).await;
    assert_eq!(u.stop().await, "", "Stop before Configure");
    u.plugin.assert_healthy("Stop before Configure").await;
    let d = u.configure(&sim.url, KEY.into()).await;
    assert!(first_error(&d).is_none(), "{:?}", describe(&d));
    assert_eq!(u.stop().await, "", "Stop after Configure");
    assert_eq!(u.stop().await, "", "a second Stop");
    u.plugin.assert_healthy("idle Stops").await;

    let bt = u.rt(BACKUP);
    let cfg = object(&bt, &[("vps_id", VPS_APP.into())]);
    let plan = u
        .plan(BACKUP, null_dv(), dv(&cfg, &bt), dv(&cfg, &bt))
        .await
        .expect("plan");
    assert!(
        plan.diagnostics.is_empty(),
        "{:?}",
        describe(&plan.diagnostics)
    );
    let r = u
        .apply(BACKUP, null_dv(), plan.planned_state, dv(&cfg, &bt))
        .await
        .expect("apply");
    assert!(r.diagnostics.is_empty(), "{:?}", describe(&r.diagnostics));
    let v = decode_msgpack(&r.new_state.expect("state").msgpack, &bt).expect("state");
    assert_eq!(v.attr("status").and_then(Value::as_str), Some("completed"));
    assert_eq!(sim.count("POST /api/v2/vps/{id}/backups").await, 1);
    record(
        "Stop while idle (before/after Configure, twice)",
        "empty Stop.Response.Error; later plan and apply succeed",
    );
    u.plugin.assert_healthy("apply after idle Stops").await;
    u.plugin.shutdown().await;
}
