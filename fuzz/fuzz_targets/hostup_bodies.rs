//! Everything HostUp (or a proxy in front of it) can send back: error bodies, operation and job
//! envelopes, snapshot/backup/VPS lists, rate-limit headers. The first byte picks the parser
//! (and, for errors, the status); none may panic, and the quoted snippet of any body is valid
//! text no longer than the limit.
#![no_main]

use std::time::{Duration, SystemTime};

use hostup_provider::hostup::wire;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_790_000_000);
    match pick % 9 {
        0 => {
            let status = 400 + u16::from(pick / 9) % 200;
            if let Some(p) = wire::problem(status, body) {
                // Hints and scope detection run on every problem the client builds.
                let _ = p.named_scope();
            }
        }
        1 => drop(wire::operation(body)),
        2 => {
            if let Ok(job) = wire::job(body) {
                let _ = job.describe();
            }
        }
        3 => drop(wire::snapshot_list(body)),
        4 => drop(wire::backup_list(body)),
        5 => drop(wire::vps_page(body)),
        6 => drop(wire::vps(body)),
        7 => {
            let text = String::from_utf8_lossy(body);
            let _ = wire::retry_after(&text, now);
            let _ = wire::rate_limit_reset(&text, now);
        }
        _ => {
            let s = wire::snippet(body);
            assert!(s.len() <= 4 * 1024, "snippet too long: {}", s.len());
        }
    }
});
