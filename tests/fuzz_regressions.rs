//! Every input a fuzz target (fuzz/, scripts/fuzz) ever crashed on, replayed by plain
//! `cargo test` so the bug stays fixed without a fuzzer on the machine.

use std::time::{Duration, SystemTime};

use hostup_provider::hostup::wire;
use hostup_provider::plugin::serve::parse_client_cert;

/// hostup_bodies, crash-b5b9acfa: an `X-RateLimit-Reset` of 76 digits read as epoch seconds
/// overflowed `Duration::from_secs_f64` (a panic in the client on a header from the network).
/// Far-future resets are now clamped to a day ahead.
#[test]
fn huge_rate_limit_reset_is_clamped_not_a_panic() {
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_790_000_000);
    let huge = format!("4444444{}286", "1".repeat(66));
    for value in [
        huge.as_str(),
        "1e300",
        "9999-12-31T23:59:59Z",
        "18446744073709551616",
    ] {
        let at = wire::rate_limit_reset(value, now).expect("a far-future reset still parses");
        assert!(at > now, "{value}");
        assert!(
            at <= now + Duration::from_secs(86_400),
            "{value}: clamped to a day ahead"
        );
    }
    // Ordinary values are untouched.
    assert_eq!(
        wire::rate_limit_reset("30", now),
        Some(now + Duration::from_secs(30))
    );
    assert_eq!(
        wire::rate_limit_reset("1790000060", now),
        Some(now + Duration::from_secs(60))
    );
}

/// handshake_env (found by a parallel fuzzing run): a `PLUGIN_CLIENT_CERT` whose CERTIFICATE
/// block is empty was accepted and zero bytes pinned, so every TLS connection from Terraform
/// failed later with an obscure handshake error. It is now refused at start-up.
#[test]
fn empty_pem_certificate_block_is_refused_not_pinned() {
    let err = parse_client_cert("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n")
        .expect_err("an empty certificate must be refused");
    assert!(err.to_string().contains("empty"), "{err}");
}
