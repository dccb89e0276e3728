//! Per-VPS serialisation within one process.
//!
//! Exists because HostUp rejects a job while another one runs on the same VPS
//! (`job_in_progress`), so two operations on one VPS from one Terraform run must queue up
//! behind each other instead of failing (DESIGN §3).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::{Mutex as AsyncMutex, OwnedMutexGuard};

/// Holds the lock of one VPS until dropped.
#[derive(Debug)]
pub struct VpsLockGuard {
    vps_id: String,
    _guard: OwnedMutexGuard<()>,
}

impl VpsLockGuard {
    /// The VPS this guard serialises.
    pub fn vps_id(&self) -> &str {
        &self.vps_id
    }
}

/// A map of async mutexes keyed by VPS id.
#[derive(Debug, Default)]
pub(crate) struct VpsLocks {
    map: Mutex<HashMap<String, Arc<AsyncMutex<()>>>>,
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

    /// Waits (FIFO, tokio's mutex is fair) for the lock of `vps_id`.
    pub(crate) async fn lock(&self, vps_id: &str) -> VpsLockGuard {
        let m = self.entry(vps_id);
        VpsLockGuard {
            vps_id: vps_id.to_string(),
            _guard: m.lock_owned().await,
        }
    }
}
