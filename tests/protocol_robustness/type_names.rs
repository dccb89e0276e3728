//! Type names the provider does not serve, and request bodies that are not protobuf.

use crate::plugin_client::{bounded, raw_call};
use crate::under::{raw_json, Under};
use crate::values::{expect_error, noise, null_dv, record};
use crate::{BACKUP, DATA_SNAPSHOTS};

/// Type names the provider does not serve, in every RPC that takes one.
#[tokio::test]
async fn unknown_type_names_are_error_diagnostics() {
    let mut u = Under::launch(&[]).await;
    let long = "x".repeat(100_000);
    let names = [
        "hostup_nope",
        "",
        DATA_SNAPSHOTS, // a data source name where a resource is expected, and vice versa
        "HOSTUP_VPS_BACKUP",
        "hostup_vps_backup ",
        "héllo_wörld\u{0}",
        long.as_str(),
    ];
    for n in names {
        let shown = if n.len() > 40 { "100 000 × x" } else { n };
        let c = format!("ValidateResourceTypeConfig type {shown:?}");
        let d = u.validate_resource(n, null_dv()).await.expect(&c);
        record(&c, &expect_error(&c, &d));
        let c = format!("PlanResourceChange type {shown:?}");
        let r = u.plan(n, null_dv(), null_dv(), null_dv()).await.expect(&c);
        expect_error(&c, &r.diagnostics);
        let c = format!("ApplyResourceChange type {shown:?}");
        let r = u.apply(n, null_dv(), null_dv(), null_dv()).await.expect(&c);
        expect_error(&c, &r.diagnostics);
        let c = format!("ReadResource type {shown:?}");
        let r = u.read(n, null_dv()).await.expect(&c);
        expect_error(&c, &r.diagnostics);
        let c = format!("ImportResourceState type {shown:?}");
        let r = u.import(n, "vps_x/job_y").await.expect(&c);
        expect_error(&c, &r.diagnostics);
        assert!(r.imported_resources.is_empty(), "{c}");
        let c = format!("UpgradeResourceState type {shown:?}");
        let r = u.upgrade(n, 0, raw_json(b"{}")).await.expect(&c);
        expect_error(&c, &r.diagnostics);
        let dn = if n == DATA_SNAPSHOTS { BACKUP } else { n };
        let c = format!("ValidateDataSourceConfig type {dn:?}");
        let d = u.validate_data(dn, null_dv()).await.expect(&c);
        expect_error(&c, &d);
        let c = format!("ReadDataSource type {dn:?}");
        let r = u.read_data(dn, null_dv()).await.expect(&c);
        expect_error(&c, &r.diagnostics);
        u.plugin.assert_healthy(&c).await;
    }
    u.plugin.shutdown().await;
}

/// Request bodies that are not the protobuf the method expects: a clean gRPC status (or an
/// answer when the bytes happen to decode), never a crash.
#[tokio::test]
async fn undecodable_protobuf_gets_a_clean_status() {
    let mut u = Under::launch(&[]).await;
    let methods = [
        "GetSchema",
        "GetMetadata",
        "PrepareProviderConfig",
        "ValidateResourceTypeConfig",
        "ValidateDataSourceConfig",
        "UpgradeResourceState",
        "Configure",
        "ReadResource",
        "PlanResourceChange",
        "ApplyResourceChange",
        "ImportResourceState",
        "MoveResourceState",
        "ReadDataSource",
        "GetFunctions",
        "CallFunction",
        "ValidateEphemeralResourceConfig",
        "OpenEphemeralResource",
        "Stop",
    ];
    // Field 1 (type_name in most requests) as a length-delimited field holding invalid UTF-8.
    let bad_utf8 = vec![0x0a, 0x02, 0xff, 0xfe];
    let bodies: [(&str, Vec<u8>); 4] = [
        ("invalid varint / wire type 7", vec![0xff; 16]),
        (
            "length prefix past the end",
            vec![0x0a, 0xff, 0xff, 0xff, 0x0f, 0x01],
        ),
        ("string field holding invalid UTF-8", bad_utf8),
        ("256 random bytes", noise(256, 11)),
    ];
    for m in methods {
        for (what, body) in &bodies {
            let c = format!("{m} with {what}");
            let r = bounded(&c, raw_call(&u.plugin.channel, m, body.clone())).await;
            let answer = match &r {
                Ok(bytes) => format!("OK ({} bytes)", bytes.len()),
                Err(s) => format!("status {:?}", s.code()),
            };
            if let Err(s) = &r {
                assert_ne!(
                    s.code(),
                    tonic::Code::Unavailable,
                    "{c}: the connection must survive ({s:?})"
                );
            }
            if m == "ImportResourceState" || m == "ValidateResourceTypeConfig" {
                record(&c, &answer);
            }
        }
        u.plugin.assert_healthy(m).await;
    }
    // A method tfplugin5 does not have.
    let r = bounded(
        "unknown method",
        raw_call(&u.plugin.channel, "NoSuchMethod", Vec::new()),
    )
    .await;
    let code = r.err().map(|s| s.code());
    assert_eq!(code, Some(tonic::Code::Unimplemented));
    record("/tfplugin5.Provider/NoSuchMethod", "status Unimplemented");
    // An import id that is not UTF-8 (prost refuses it before the provider sees it) and ids of
    // the wrong shape.
    for id in [
        "",
        "/",
        "vps_x/",
        "/job_y",
        "a/b/c",
        "vps_x job_y",
        &"z".repeat(1 << 20),
    ] {
        let shown = if id.len() > 40 { "1 MiB of z" } else { id };
        let c = format!("ImportResourceState id {shown:?}");
        let r = u.import(BACKUP, id).await.expect(&c);
        record(&c, &expect_error(&c, &r.diagnostics));
        assert!(r.imported_resources.is_empty(), "{c}");
    }
    u.plugin.assert_healthy("bad import ids").await;
    u.plugin.shutdown().await;
}
