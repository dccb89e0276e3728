//! Per-VPS serialisation within one process.
//!
//! Exists because HostUp rejects a job while another one runs on the same VPS
//! (`job_in_progress`), so two operations on one VPS from one Terraform run must queue up
//! behind each other instead of failing (docs/ARCHITECTURE.md, "Contracts").

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use tokio::sync::{Mutex as AsyncMutex, OwnedMutexGuard};

/// Holds the lock of one VPS until dropped; dropping it counts as a change of the VPS (the
/// operation it serialised may have changed what HostUp lists for it).
#[derive(Debug)]
pub struct VpsLockGuard {
    vps_id: String,
    changes: Arc<AtomicU64>,
    _guard: OwnedMutexGuard<()>,
}

impl Drop for VpsLockGuard {
    fn drop(&mut self) {
        self.changes.fetch_add(1, Ordering::SeqCst);
    }
}

impl VpsLockGuard {
    /// The VPS this guard serialises.
    pub fn vps_id(&self) -> &str {
        &self.vps_id
    }
}

/// A map of async mutexes keyed by VPS id, and how often this process changed each VPS.
#[derive(Debug, Default)]
pub(crate) struct VpsLocks {
    map: Mutex<HashMap<String, Arc<AsyncMutex<()>>>>,
    /// Per VPS, a count that grows with every mutating request sent and every operation
    /// finished on it; never pruned (a count must not start over).
    changes: Mutex<HashMap<String, Arc<AtomicU64>>>,
}

impl VpsLocks {
    /// The mutex of `vps_id`; unused entries are dropped on the way.
    fn entry(&self, vps_id: &str) -> Arc<AsyncMutex<()>> {
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() > 64 {
            map.retain(|_, m| Arc::strong_count(m) > 1);
        }
        map.entry(vps_id.to_string()).or_default().clone()
    }

    /// Whether an operation holds or waits for the lock of `vps_id` (the map keeps one
    /// reference; every holder and waiter another).
    pub(crate) fn in_use(&self, vps_id: &str) -> bool {
        let map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        map.get(vps_id).is_some_and(|m| Arc::strong_count(m) > 1)
    }

    fn changes_of(&self, vps_id: &str) -> Arc<AtomicU64> {
        let mut map = self.changes.lock().unwrap_or_else(|p| p.into_inner());
        map.entry(vps_id.to_string()).or_default().clone()
    }

    /// How often this process has changed `vps_id` so far (see [`VpsLocks::changed`]).
    pub(crate) fn changes(&self, vps_id: &str) -> u64 {
        self.changes_of(vps_id).load(Ordering::SeqCst)
    }

    /// Counts a change of `vps_id` (a mutating request is about to be sent).
    pub(crate) fn changed(&self, vps_id: &str) {
        self.changes_of(vps_id).fetch_add(1, Ordering::SeqCst);
    }

    /// Waits (FIFO, tokio's mutex is fair) for the lock of `vps_id`.
    pub(crate) async fn lock(&self, vps_id: &str) -> VpsLockGuard {
        let m = self.entry(vps_id);
        VpsLockGuard {
            vps_id: vps_id.to_string(),
            changes: self.changes_of(vps_id),
            _guard: m.lock_owned().await,
        }
    }
}

/// The locks shared by every client of this process talking to `origin`: HostUp refuses a
/// second job on a VPS whatever key or provider alias sent it, so clients built separately
/// (two provider configurations in one run) must queue on the same locks.
pub(crate) fn shared(origin: &str) -> Arc<VpsLocks> {
    static REGISTRY: OnceLock<Mutex<HashMap<String, Arc<VpsLocks>>>> = OnceLock::new();
    let mut map = REGISTRY
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    map.entry(origin.to_string()).or_default().clone()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn one_vps_at_a_time_across_clients_of_one_origin() {
        let a = shared("https://a.example/");
        let b = shared("https://a.example/");
        let other = shared("https://b.example/");
        assert!(!a.in_use("vps_1"));
        let held = a.lock("vps_1").await;
        assert_eq!(held.vps_id(), "vps_1");
        assert!(b.in_use("vps_1") && !b.in_use("vps_2") && !other.in_use("vps_1"));
        // Same VPS through another client of the origin: waits.
        let waiting = tokio::time::timeout(Duration::from_millis(50), b.lock("vps_1")).await;
        assert!(waiting.is_err());
        // Another VPS, or the same id on another origin: free.
        let _v2 = b.lock("vps_2").await;
        let _o = other.lock("vps_1").await;
        let before = a.changes("vps_1");
        drop(held);
        assert_eq!(
            b.changes("vps_1"),
            before + 1,
            "a finished operation counts as a change"
        );
        let again = b.lock("vps_1").await;
        drop(again);
        assert!(!a.in_use("vps_1"), "free once every guard is gone");
        a.changed("vps_2");
        assert_eq!(other.changes("vps_2"), 0, "counted per origin");
    }
}
