//! Size, load and the edges of validation: a 100 MiB message, 500 RPCs at once, extreme
//! timeouts.

use std::time::Duration;

use hostup_provider::plugin::proto::tfplugin5 as pb;
use hostup_provider::plugin::value::{decode_msgpack, Type, Value};

use crate::plugin_client::{within, Sim};
use crate::under::{raw_json, Under};
use crate::values::{
    describe, dv, expect_error, first_error, msgpack, noise, null_dv, object, record, well_formed,
};
use crate::{BACKUP, DATA_SNAPSHOTS, KEY, VPS_APP, VPS_PAYG};

/// A 100 MiB message (well under the server's 256 MiB limit) is answered, and one above the
/// limit gets a clean status; the process stays healthy.
#[tokio::test]
async fn hundred_mib_messages_are_answered() {
    let mut u = Under::launch(&[]).await;
    let bt = u.rt(BACKUP);
    const MIB100: usize = 100 << 20;

    let c = "ValidateResourceTypeConfig with 100 MiB of garbage msgpack";
    let mut garbage = vec![0xc1u8];
    garbage.resize(MIB100, 0x5a);
    let d = u
        .validate_resource_within(Duration::from_secs(120), BACKUP, msgpack(garbage))
        .await
        .expect(c);
    record(c, &expect_error(c, &d));
    u.plugin.assert_healthy(c).await;

    let c = "ValidateResourceTypeConfig with a 100 MiB note";
    let note = "n".repeat(MIB100);
    let cfg = object(
        &bt,
        &[("vps_id", VPS_APP.into()), ("note", note.clone().into())],
    );
    let d = u
        .validate_resource_within(Duration::from_secs(120), BACKUP, dv(&cfg, &bt))
        .await
        .expect(c);
    let e = expect_error(c, &d);
    assert_eq!(e, "Note too long", "{:?}", describe(&d));
    record(c, &e);
    u.plugin.assert_healthy(c).await;

    let c = "UpgradeResourceState with a 100 MiB raw JSON state";
    let raw = format!(r#"{{"vps_id":"{VPS_APP}","id":"job_1","note":"{note}"}}"#);
    drop(note);
    let r = u
        .upgrade_within(
            Duration::from_secs(120),
            BACKUP,
            0,
            raw_json(raw.as_bytes()),
        )
        .await
        .expect(c);
    drop(raw);
    well_formed(c, &r.diagnostics);
    let s = r.upgraded_state.as_ref().expect("an upgraded state");
    let v = decode_msgpack(&s.msgpack, &bt).expect("fits the schema");
    assert_eq!(
        v.attr("note").and_then(Value::as_str).map(str::len),
        Some(MIB100)
    );
    record(c, "the upgraded 100 MiB state (msgpack), no diagnostics");
    u.plugin.assert_healthy(c).await;

    let c = "ValidateResourceTypeConfig with a 300 MiB message (over the 256 MiB limit)";
    let mut over = vec![0xc1u8];
    over.resize(300 << 20, 0);
    let r = u
        .validate_resource_within(Duration::from_secs(120), BACKUP, msgpack(over))
        .await;
    let status = r.expect_err("a message over the limit is refused");
    assert!(
        matches!(
            status.code(),
            tonic::Code::ResourceExhausted | tonic::Code::OutOfRange | tonic::Code::Internal
        ),
        "{c}: {status:?}"
    );
    record(
        c,
        &format!("status {:?}: {}", status.code(), status.message()),
    );
    u.plugin.assert_healthy(c).await;
    u.plugin.shutdown().await;
}

/// 500 RPCs in flight at once on Terraform's single connection: all answered.
#[tokio::test]
async fn five_hundred_concurrent_rpcs_are_all_answered() {
    let sim = Sim::start(&["--job-duration", "0s", "--rate-limit", "0"]).await;
    let mut u = Under::launch(&[]).await;
    let d = u.configure(&sim.url, KEY.into()).await;
    assert!(first_error(&d).is_none(), "{:?}", describe(&d));
    let bt = u.rt(BACKUP);
    let st = u.dt(DATA_SNAPSHOTS);
    let cfg = object(&bt, &[("vps_id", VPS_APP.into())]);
    let data = object(&st, &[("vps_id", VPS_APP.into())]);
    let mut calls = Vec::with_capacity(500);
    for i in 0..500usize {
        let u = &u;
        let (cfg, data, bt, st) = (&cfg, &data, &bt, &st);
        calls.push(async move {
            let what = format!("concurrent call {i} (kind {})", i % 5);
            let ok = match i % 5 {
                0 => u
                    .plugin
                    .client()
                    .get_schema(pb::get_provider_schema::Request {})
                    .await
                    .map(|r| r.into_inner().provider.is_some()),
                1 => u
                    .validate_resource(BACKUP, msgpack(noise(64, i as u64)))
                    .await
                    .map(|d| first_error(&d).is_some()),
                2 => u
                    .validate_resource(BACKUP, dv(cfg, bt))
                    .await
                    .map(|d| first_error(&d).is_none()),
                3 => u
                    .plan(BACKUP, null_dv(), dv(cfg, bt), dv(cfg, bt))
                    .await
                    .map(|r| first_error(&r.diagnostics).is_none() && r.planned_state.is_some()),
                _ => u
                    .read_data(DATA_SNAPSHOTS, dv(data, st))
                    .await
                    .map(|r| first_error(&r.diagnostics).is_none() && r.state.is_some()),
            };
            (what, ok)
        });
    }
    let results = within(
        Duration::from_secs(30),
        "500 concurrent RPCs",
        futures_util::future::join_all(calls),
    )
    .await;
    let failed: Vec<String> = results
        .into_iter()
        .filter(|(_, r)| !matches!(r, Ok(true)))
        .map(|(w, r)| format!("{w}: {r:?}"))
        .collect();
    assert!(
        failed.is_empty(),
        "{} calls failed: {:#?}",
        failed.len(),
        &failed[..failed.len().min(5)]
    );
    record(
        "500 concurrent RPCs (GetSchema, Validate good/bad, Plan, ReadDataSource)",
        "all 500 answered as when alone",
    );
    u.plugin.assert_healthy("500 concurrent RPCs").await;
    u.plugin.shutdown().await;
}

/// Timeouts at the edges of what validation accepts reach the job wait without harm: the
/// longest accepted (999 999 999 s, about 31 years) and the shortest (1 ns) both end in a
/// well-formed answer with the job id in state (an instant job is seen complete on the first
/// poll even with 1 ns), and values past the limits are refused by validation.
#[tokio::test]
async fn extreme_timeouts_reach_the_job_wait_safely() {
    let sim = Sim::start(&["--job-duration", "0s"]).await;
    let mut u = Under::launch(&[]).await;
    let d = u.configure(&sim.url, KEY.into()).await;
    assert!(first_error(&d).is_none(), "{:?}", describe(&d));
    let bt = u.rt(BACKUP);
    let Type::Object(attrs) = &bt else {
        panic!("object")
    };
    let timeouts_ty = attrs.get("timeouts").expect("timeouts block").clone();
    for (create, vps) in [("999999999s", VPS_APP), ("1ns", VPS_PAYG)] {
        let timeouts = object(&timeouts_ty, &[("create", create.into())]);
        let cfg = object(&bt, &[("vps_id", vps.into()), ("timeouts", timeouts)]);
        let c = format!("ValidateResourceTypeConfig timeouts.create = {create:?}");
        let d = u.validate_resource(BACKUP, dv(&cfg, &bt)).await.expect(&c);
        assert!(d.is_empty(), "{c}: {:?}", describe(&d));
        let plan = u
            .plan(BACKUP, null_dv(), dv(&cfg, &bt), dv(&cfg, &bt))
            .await
            .expect("plan");
        assert!(
            plan.diagnostics.is_empty(),
            "{:?}",
            describe(&plan.diagnostics)
        );
        let c = format!("ApplyResourceChange with timeouts.create = {create:?}");
        let r = u
            .apply(BACKUP, null_dv(), plan.planned_state, dv(&cfg, &bt))
            .await
            .expect(&c);
        well_formed(&c, &r.diagnostics);
        let v = decode_msgpack(&r.new_state.expect("state").msgpack, &bt).expect("state");
        assert!(v.is_wholly_known(), "{c}");
        assert!(
            v.attr("job_id").and_then(Value::as_str).is_some(),
            "{c}: {v:?}"
        );
        let answer = match first_error(&r.diagnostics) {
            None => format!(
                "created, status {}",
                v.attr("status").and_then(Value::as_str).unwrap_or("?")
            ),
            Some(e) => format!("{} (job id in state)", e.summary),
        };
        if create == "999999999s" {
            assert!(
                r.diagnostics.is_empty(),
                "{c}: {:?}",
                describe(&r.diagnostics)
            );
        }
        record(&c, &answer);
        u.plugin.assert_healthy(&c).await;
    }
    for bad in ["1000000001s", "99999999999999999999h", "1e9s", "-1s", "0s"] {
        let timeouts = object(&timeouts_ty, &[("create", bad.into())]);
        let cfg = object(&bt, &[("vps_id", VPS_APP.into()), ("timeouts", timeouts)]);
        let c = format!("ValidateResourceTypeConfig timeouts.create = {bad:?}");
        let d = u.validate_resource(BACKUP, dv(&cfg, &bt)).await.expect(&c);
        record(&c, &expect_error(&c, &d));
    }
    u.plugin.assert_healthy("extreme timeouts").await;
    u.plugin.shutdown().await;
}
