//! The go-plugin environment the provider parses before its handshake line:
//! `PLUGIN_PROTOCOL_VERSIONS` and the PEM in `PLUGIN_CLIENT_CERT`. Input: `VERSIONS \0 PEM`.
//! Neither may panic; protocol 5 is chosen exactly when it is offered (or nothing is); a
//! certificate that is accepted is never empty (it is what every connection is pinned to).
#![no_main]

use hostup_provider::plugin::serve::{negotiate, parse_client_cert};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (versions, pem) = text.split_once('\0').unwrap_or((&text, ""));
    let offered_5 = versions
        .split(',')
        .any(|v| v.trim().parse::<u32>() == Ok(5));
    match negotiate(Some(versions)) {
        Ok(v) => assert!(v == 5 && (offered_5 || versions.trim().is_empty())),
        Err(_) => assert!(!offered_5 && !versions.trim().is_empty()),
    }
    if let Ok(der) = parse_client_cert(pem) {
        assert!(!der.is_empty(), "an empty certificate would be pinned");
    }
});
