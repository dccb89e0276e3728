//! The simulator's run-time state, shared by all connections: the account, the run-time
//! settings, the fault engine, the request log and counters, the rate-limit windows, behind one
//! lock, with what start-up fixed (configuration, fixture, keys) beside it.
//!
//! A room of its own so the request pipeline, the HostUp API and the admin API all reach it
//! without importing each other.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard};

use serde::{Deserialize, Serialize};

use super::clock::now_ms;
use super::config::{
    DaySpecifier, GateCodeKey, JobInitialStatus, JobShape, JobTypes, SimConfig, SnapshotDeleteMode,
    SnapshotScheduleDelete, SnapshotScheduleShape, SnapshotVisibility, VmIdForm,
};
use super::faults::FaultEngine;
use super::fixture::Fixture;
use super::keys::ApiKey;
use super::persist::{load_state, save_state};
use super::state::State;

/// Settings that can change at run time (`PATCH /_sim/config`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Runtime {
    pub job_duration_ms: i64,
    pub snapshot_ttl_ms: i64,
    pub job_shape: JobShape,
    pub snapshot_delete: SnapshotDeleteMode,
    pub rate_limit: u32,
    pub rate_window_ms: i64,
    pub job_initial_status: JobInitialStatus,
    pub gate_code_key: GateCodeKey,
    pub snapshot_visibility: SnapshotVisibility,
    pub job_types: JobTypes,
    pub vm_id: VmIdForm,
    pub has_more: bool,
    pub snapshot_schedule_shape: SnapshotScheduleShape,
    pub snapshot_schedule_delete: SnapshotScheduleDelete,
    pub day_specifier: DaySpecifier,
}

impl Runtime {
    fn from_config(c: &SimConfig) -> Self {
        Self {
            job_duration_ms: c.job_duration.as_millis().min(i64::MAX as u128) as i64,
            snapshot_ttl_ms: c.snapshot_ttl.as_millis().min(i64::MAX as u128) as i64,
            job_shape: c.job_shape,
            snapshot_delete: c.snapshot_delete,
            rate_limit: c.rate_limit,
            rate_window_ms: (c.rate_window.as_millis().min(i64::MAX as u128) as i64).max(1),
            job_initial_status: c.job_initial_status,
            gate_code_key: c.gate_code_key,
            snapshot_visibility: c.snapshot_visibility,
            job_types: c.job_types,
            vm_id: c.vm_id,
            has_more: c.has_more,
            // Run-time only (`PATCH /_sim/config`): the CLI builds `SimConfig` field by field.
            snapshot_schedule_shape: SnapshotScheduleShape::default(),
            snapshot_schedule_delete: SnapshotScheduleDelete::default(),
            day_specifier: DaySpecifier::default(),
        }
    }
}

/// One entry of the request log.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct LogEntry {
    pub seq: u64,
    pub time: String,
    pub method: String,
    pub path: String,
    pub route: String,
    pub status: u16,
    pub duration_ms: u64,
    pub request_id: String,
    pub key: Option<String>,
    pub fault: Option<String>,
}

/// Everything that changes while the simulator runs.
pub(crate) struct Inner {
    pub state: State,
    pub rt: Runtime,
    pub faults: FaultEngine,
    pub log: VecDeque<LogEntry>,
    pub next_seq: u64,
    pub counters: BTreeMap<String, u64>,
    /// Rate-limit windows per presented key: (window start ms, requests in it).
    pub windows: HashMap<String, (i64, u32)>,
}

/// The simulator shared by all connections.
pub(crate) struct Shared {
    inner: Mutex<Inner>,
    /// Start-up configuration, for `POST /_sim/reset`.
    pub config: SimConfig,
    /// The loaded fixture (after `--extra-vps`), for reset.
    pub fixture: Fixture,
    /// Accepted keys by secret.
    pub keys: HashMap<String, ApiKey>,
}

impl Shared {
    /// The simulator at start-up: a fresh runtime from `config` and `fixture`, whose account
    /// is the state file's when one is configured and exists.
    pub fn new(
        config: SimConfig,
        fixture: Fixture,
        keys: HashMap<String, ApiKey>,
    ) -> Result<Self, String> {
        let mut inner = fresh_inner(&config, &fixture)?;
        if let Some(path) = &config.state_file {
            if let Some(state) = load_state(path)? {
                inner.state = state;
            }
        }
        Ok(Self {
            inner: Mutex::new(inner),
            config,
            fixture,
            keys,
        })
    }

    /// Locks the runtime state; a poisoned lock (a panic elsewhere) is recovered, since the
    /// state is plain data and a test server must keep answering.
    pub fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Brings state up to now; saves the state file when something changed.
    pub fn advance(&self, inner: &mut Inner) {
        let ttl = inner.rt.snapshot_ttl_ms;
        if inner.state.advance(now_ms(), ttl) {
            self.save(inner);
        }
    }

    /// Writes the state file, if one is configured (errors go to stderr: losing a demo's
    /// state must not take the API down).
    pub fn save(&self, inner: &Inner) {
        if let Some(path) = &self.config.state_file {
            if let Err(e) = save_state(path, &inner.state) {
                eprintln!("hostup-sim: cannot save state to {}: {e}", path.display());
            }
        }
    }

    /// A fresh runtime from the start-up configuration and fixture.
    pub fn fresh_inner(&self) -> Result<Inner, String> {
        fresh_inner(&self.config, &self.fixture)
    }
}

/// A fresh runtime from a start-up configuration and fixture.
fn fresh_inner(config: &SimConfig, fixture: &Fixture) -> Result<Inner, String> {
    let rt = Runtime::from_config(config);
    let state = State::from_fixture(fixture, now_ms(), rt.snapshot_ttl_ms)?;
    Ok(Inner {
        state,
        rt,
        faults: FaultEngine::new(config.faults.clone()),
        log: VecDeque::new(),
        next_seq: 1,
        counters: BTreeMap::new(),
        windows: HashMap::new(),
    })
}
