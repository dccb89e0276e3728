//! The provider binary against hostile or broken tfplugin5 traffic, driven over gRPC exactly as
//! Terraform drives it (handshake line, AutoMTLS, the generated tfplugin5 client): malformed
//! DynamicValues, wrong attribute types, unknowns where Terraform never sends them, unknown type
//! names, undecodable protobuf, a 100 MiB message, 500 concurrent RPCs, and Stop during every
//! long-running RPC and while idle.
//!
//! The rule each case checks: an answer — diagnostics or a clean gRPC status — never a crash
//! (after each case the process must still answer GetSchema and must not have written "panic"
//! to stderr) and never a hang (every call is bounded; expiry fails the test with "HANG").
//! docs/RELIABILITY.md ("Protocol robustness") tabulates what the provider answers in each case.

#[path = "../plugin_client/mod.rs"]
mod plugin_client;

mod black_hole;
mod limits;
mod malformed;
mod process_exit;
mod stop;
mod type_names;
mod under;
mod unknowns;
mod values;

use std::time::Duration;

const BACKUP: &str = "hostup_vps_backup";
const RESTORE: &str = "hostup_vps_snapshot_restore";
const SNAPSHOT: &str = "hostup_vps_snapshot";
const DATA_SNAPSHOTS: &str = "hostup_vps_snapshots";
/// A VPS of the sim's default fixture with free backup and snapshot slots.
const VPS_APP: &str = "vps_01hxa3b4c5d6e7f8g9h0j1k2m3";
/// A PAYG VPS of the default fixture: 5 empty snapshot slots.
const VPS_PAYG: &str = "vps_01hxa3b4c5d6e7f8g9h0j1k2m7";
/// The snapshot present on [`VPS_APP`] in the default fixture.
const SNAPSHOT_APP: &str = "before-upgrade";
/// The sim's default key with read:vm and backup:vm.
const KEY: &str = "test-key";
/// Bound on how long an RPC may take to return after Stop. A correctness bound, not a speed
/// assertion (the target asks for one second; this leaves room for slow machines).
const AFTER_STOP: Duration = Duration::from_secs(5);
