//! The fault matrix (issue 5): every fault hostup-sim can inject, crossed with every target
//! (`hostup_vps_backup`, `hostup_vps_snapshot_restore`, the `hostup_vps_snapshots` data
//! source), driven through the real `terraform` CLI against the real `hostup-sim` binary.
//!
//! Each cell gets its own simulator (port 0) and its own terraform working directory, runs one
//! `terraform apply`, and records terraform's exit status, the first error summary, the state
//! afterwards and the POSTs the simulator saw. The cell then checks the docs/ARCHITECTURE.md,
//! "Contracts" contract for its fault. The table is written to docs/RELIABILITY.md (between the
//! `fault-matrix` markers) before the test fails on any broken contract, so the document always
//! shows the last run.
//!
//! Cells run in parallel threads; nothing sleeps for synchronisation (conditions are polled
//! with deadlines), and every terraform run is killed if it outlives its deadline.

#[path = "../support/mod.rs"]
mod support;

mod contracts;
mod faults;
mod run;
mod spec;
mod table;
mod terraform_output;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use crate::faults::{Fault, Target};
use crate::run::cell;
use crate::table::{render, write_doc, Row};

/// Bound for one `terraform apply` (a hang fails the cell instead of blocking the suite).
const TF_DEADLINE: Duration = Duration::from_secs(120);
/// Job duration of every simulator: short, but long enough for a few polls.
const JOB_DURATION: &str = "300ms";
/// Job duration of the cells that interrupt or lose a job that never finishes: its `queued`
/// phase (the first 10 %) then outlasts the cell, so the status in the table does not depend
/// on timing.
const STUCK_JOB_DURATION: &str = "60s";
/// HostUp's failure message in the job-failed cells.
const FAIL_MESSAGE: &str = "Disk array degraded (fault matrix)";
/// `timeouts.create` of the stuck-job cells.
const STUCK_TIMEOUT: &str = "3s";
/// `HOSTUP_REQUEST_TIMEOUT` of the slow-response cells.
const REQUEST_TIMEOUT: &str = "2s";
/// Latency of the slow answer: well past [`REQUEST_TIMEOUT`].
const SLOW_MS: u64 = 5000;
/// docs/ARCHITECTURE.md, "Contracts": after Ctrl-C terraform must be gone within this (the contract
/// says the provider's waits end within a second; terraform then saves state and exits).
const SIGINT_LIMIT: Duration = Duration::from_secs(5);
/// After SIGINT, terraform is killed (and the cell fails) if it is still running after this.
const AFTER_SIGINT_DEADLINE: Duration = Duration::from_secs(30);
/// A GET that hangs this long can only end by cancellation (SIGINT cells).
const HANG_MS: u64 = 600_000;
/// The file the table is written into, and its markers.
const DOC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/RELIABILITY.md");
const BEGIN: &str = "<!-- fault-matrix:begin -->";
const END: &str = "<!-- fault-matrix:end -->";

#[test]
fn fault_matrix() {
    let mut cells: Vec<(usize, Fault, Target)> = Vec::new();
    for f in Fault::ALL {
        for t in Target::ALL {
            cells.push((cells.len(), f, t));
        }
    }
    // Slowest first, so the long waits overlap with the quick cells.
    let mut order = cells.clone();
    order.sort_by_key(|(i, f, _)| (std::cmp::Reverse(f.cost()), *i));
    let threads = std::env::var("FAULT_MATRIX_THREADS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|n| *n > 0)
        .unwrap_or(8);
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<(usize, Row)>> = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| loop {
                let k = next.fetch_add(1, Ordering::SeqCst);
                let Some(&(i, f, t)) = order.get(k) else {
                    break;
                };
                let row = cell(f, t);
                results
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push((i, row));
            });
        }
    });
    let mut rows = results.into_inner().unwrap_or_else(|p| p.into_inner());
    rows.sort_by_key(|(i, _)| *i);
    let rows: Vec<Row> = rows.into_iter().map(|(_, r)| r).collect();
    assert_eq!(rows.len(), Fault::ALL.len() * Target::ALL.len());

    let table = render(&rows);
    eprintln!("{table}");
    if let Err(e) = write_doc(&table) {
        panic!("{e}");
    }
    let broken: Vec<String> = rows
        .iter()
        .filter_map(|r| match &r.violations {
            Some(v) if !v.is_empty() => Some(format!(
                "{} × {}: {}",
                r.fault.label(),
                r.target.label(),
                v.join("; ")
            )),
            _ => None,
        })
        .collect();
    assert!(
        broken.is_empty(),
        "broken contracts:\n{}",
        broken.join("\n")
    );
}
