//! Unknowns where Terraform never sends them.

use hostup_provider::plugin::proto::tfplugin5 as pb;
use hostup_provider::plugin::value::{decode_msgpack, encode_msgpack, Value};

use crate::plugin_client::{bounded, Sim};
use crate::under::Under;
use crate::values::{describe, dv, expect_error, first_error, msgpack, null_dv, object, record};
use crate::{BACKUP, DATA_SNAPSHOTS, KEY, VPS_APP};

/// Unknowns where Terraform never sends them: in the provider configuration of Configure, in
/// apply's configuration and plan, in states and in data source configurations.
#[tokio::test]
async fn unknowns_where_none_are_allowed() {
    let sim = Sim::start(&["--job-duration", "0s"]).await;
    let mut u = Under::launch(&[]).await;
    let bt = u.rt(BACKUP);
    let st = u.dt(DATA_SNAPSHOTS);

    // Unknown api_key: Configure answers, and every later operation that needs the API says
    // the provider is not configured instead of calling it.
    let c = "Configure api_key unknown";
    let d = u.configure(&sim.url, Value::unknown()).await;
    assert!(d.is_empty(), "{c}: {:?}", describe(&d));
    record(c, "no diagnostics; the provider stays unconfigured");
    u.plugin.assert_healthy(c).await;
    let cfg = object(&bt, &[("vps_id", VPS_APP.into())]);
    let mut planned = cfg.clone();
    if let Value::Object(m) = &mut planned {
        for k in ["id", "job_id", "status", "completed_at"] {
            m.insert(k.into(), Value::unknown());
        }
    }
    let c = "ApplyResourceChange create after Configure with unknown api_key";
    let r = u
        .apply(BACKUP, null_dv(), dv(&planned, &bt), dv(&cfg, &bt))
        .await
        .expect(c);
    record(c, &expect_error(c, &r.diagnostics));
    let c = "ReadDataSource after Configure with unknown api_key";
    let r = u
        .read_data(
            DATA_SNAPSHOTS,
            dv(&object(&st, &[("vps_id", VPS_APP.into())]), &st),
        )
        .await
        .expect(c);
    record(c, &expect_error(c, &r.diagnostics));
    assert_eq!(
        sim.count("POST /api/v2/vps/{id}/backups").await,
        0,
        "nothing is queued without a configured provider"
    );

    // A wholly unknown provider configuration.
    let c = "Configure config wholly unknown (d4 00 00)";
    let d = bounded(
        c,
        u.plugin.client().configure(pb::configure::Request {
            terraform_version: "1.11.4".into(),
            config: msgpack(vec![0xd4, 0x00, 0x00]),
            client_capabilities: None,
        }),
    )
    .await
    .expect(c)
    .into_inner()
    .diagnostics;
    assert!(d.is_empty(), "{c}: {:?}", describe(&d));
    record(c, "no diagnostics; the provider stays unconfigured");

    // Now configure for real, then send unknowns into apply.
    let d = u.configure(&sim.url, KEY.into()).await;
    assert!(first_error(&d).is_none(), "{:?}", describe(&d));
    let unknown_vps = object(&bt, &[("vps_id", Value::unknown())]);
    let mut planned_unknown_vps = unknown_vps.clone();
    if let Value::Object(m) = &mut planned_unknown_vps {
        for k in ["id", "job_id", "status", "completed_at"] {
            m.insert(k.into(), Value::unknown());
        }
    }
    // The object with these raw msgpack bytes where vps_id's value goes; the rest null.
    let with_vps_id = |raw: &[u8]| {
        let mut b =
            encode_msgpack(&object(&bt, &[("vps_id", "PLACEHOLDER".into())]), &bt).expect("encode");
        let needle = [&[0xabu8][..], b"PLACEHOLDER"].concat();
        let at = b
            .windows(needle.len())
            .position(|w| w == needle.as_slice())
            .expect("placeholder");
        b.splice(at..at + needle.len(), raw.iter().copied());
        msgpack(b)
    };
    // Refined unknown (ext 12, "not null").
    let refined = with_vps_id(&[0xc7, 0x03, 0x0c, 0x81, 0x01, 0xc2]);
    // An extension of code 99 and 4 bytes.
    let odd_ext = with_vps_id(&[0xd6, 0x63, 1, 2, 3, 4]);
    // ext32, code 12, a 4000-byte payload (go-cty refuses more than 1024).
    let mut ext = vec![0xc9, 0x00, 0x00, 0x0f, 0xa0, 0x0c];
    ext.extend(vec![0xc0; 4000]);
    let huge_refinement = with_vps_id(&ext);
    let cases: Vec<(&str, Option<pb::DynamicValue>, Option<pb::DynamicValue>)> = vec![
        (
            "config and planned vps_id unknown",
            dv(&planned_unknown_vps, &bt),
            dv(&unknown_vps, &bt),
        ),
        (
            "planned state wholly unknown",
            msgpack(vec![0xd4, 0x00, 0x00]),
            dv(&cfg, &bt),
        ),
        (
            "config wholly unknown",
            dv(&planned, &bt),
            msgpack(vec![0xd4, 0x00, 0x00]),
        ),
        ("planned vps_id a refined unknown", refined.clone(), refined),
        ("planned vps_id an ext of code 99", odd_ext.clone(), odd_ext),
        (
            "planned vps_id an ext 12 with a 4000-byte payload",
            huge_refinement.clone(),
            huge_refinement,
        ),
    ];
    for (what, planned_dv, config_dv) in cases {
        let c = format!("ApplyResourceChange create, {what}");
        let r = u
            .apply(BACKUP, null_dv(), planned_dv, config_dv)
            .await
            .expect(&c);
        let e = expect_error(&c, &r.diagnostics);
        if what.starts_with("config") {
            assert_eq!(e, "Invalid configuration received from Terraform", "{c}");
        }
        record(&c, &e);
        if let Some(s) = r.new_state.as_ref().filter(|s| !s.msgpack.is_empty()) {
            let v = decode_msgpack(&s.msgpack, &bt)
                .unwrap_or_else(|e| panic!("{c}: new_state does not fit the schema: {e}"));
            assert!(v.is_wholly_known(), "{c}: new_state has unknowns: {v:?}");
        }
        u.plugin.assert_healthy(&c).await;
    }
    assert_eq!(
        sim.count("POST /api/v2/vps/{id}/backups").await,
        0,
        "no backup is queued for an unknown VPS"
    );

    // Unknowns in states (never sent: states are always wholly known) and in a data source
    // read (Terraform defers such reads to apply): an error naming what was wrong, and the
    // provider acts on nothing.
    let mut prior = object(
        &bt,
        &[
            ("vps_id", VPS_APP.into()),
            ("id", "job_1".into()),
            ("job_id", Value::unknown()),
            ("status", "completed".into()),
        ],
    );
    let c = "PlanResourceChange prior_state with unknown job_id";
    let r = u
        .plan(BACKUP, dv(&prior, &bt), dv(&cfg, &bt), dv(&cfg, &bt))
        .await
        .expect(c);
    let e = expect_error(c, &r.diagnostics);
    assert_eq!(e, "Invalid prior state received from Terraform");
    assert!(r.planned_state.is_none(), "{c}: no plan");
    record(c, &e);

    let c = "ReadResource current_state with unknown job_id";
    let r = u.read(BACKUP, dv(&prior, &bt)).await.expect(c);
    let e = expect_error(c, &r.diagnostics);
    assert_eq!(e, "Invalid current state received from Terraform");
    let s = r.new_state.as_ref().expect("new_state");
    let v = decode_msgpack(&s.msgpack, &bt).expect("new_state fits the schema");
    assert!(
        v.is_wholly_known(),
        "{c}: Terraform must get no unknowns back"
    );
    assert_eq!(
        v.attr("id").and_then(Value::as_str),
        Some("job_1"),
        "{c}: known values kept"
    );
    record(
        c,
        &format!("{e}; new_state = the state with the unknowns as null"),
    );

    let c = "ApplyResourceChange delete with unknowns in prior_state";
    if let Value::Object(m) = &mut prior {
        m.insert("vps_id".into(), Value::unknown());
    }
    let r = u
        .apply(BACKUP, dv(&prior, &bt), null_dv(), null_dv())
        .await
        .expect(c);
    let e = expect_error(c, &r.diagnostics);
    assert_eq!(e, "Invalid prior state received from Terraform");
    record(c, &e);

    for (what, v) in [
        (
            "vps_id unknown",
            dv(&object(&st, &[("vps_id", Value::unknown())]), &st),
        ),
        ("config wholly unknown", msgpack(vec![0xd4, 0x00, 0x00])),
    ] {
        let c = format!("ReadDataSource {DATA_SNAPSHOTS}, {what}");
        let r = u.read_data(DATA_SNAPSHOTS, v).await.expect(&c);
        let e = expect_error(&c, &r.diagnostics);
        assert_eq!(e, "Invalid configuration received from Terraform", "{c}");
        assert!(r.state.is_none(), "{c}: no state");
        record(&c, &e);
        u.plugin.assert_healthy(&c).await;
    }
    assert_eq!(
        sim.count("GET /api/v2/vps/{id}/snapshots").await,
        0,
        "no API call for an unknown VPS"
    );
    u.plugin.shutdown().await;
}
