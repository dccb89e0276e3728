//! `hostup-sim`: a local HostUp API (VPS inventory, snapshots, backups, job polling) with an
//! admin API and fault injection.
//!
//! It exists so the provider can be planned, applied, tested, demonstrated and benchmarked offline,
//! and so every error path the client claims to handle can be produced on demand. It is written
//! from HostUp's public API reference (developer.hostup.se; docs/hostup-sim.md), never from
//! `crate::hostup`, so a wrong model of the API cannot hide on both sides of a test. The behaviour
//! contract is docs/hostup-sim.md.

mod admin;
mod api;
mod body;
mod clock;
mod config;
mod faults;
pub mod fixture;
mod http;
mod ids;
mod keys;
mod net;
mod persist;
mod problem;
mod restores;
mod schedules;
mod server;
mod shared;
mod state;

use std::net::SocketAddr;

pub use config::{
    parse_duration, DaySpecifier, FixtureSource, GateCodeKey, JobInitialStatus, JobShape, JobTypes,
    SimConfig, SnapshotDeleteMode, SnapshotScheduleDelete, SnapshotScheduleShape,
    SnapshotVisibility, VmIdForm,
};
pub use faults::{FaultKind, FaultRule, Faults, JobFaults};
pub use fixture::Fixture;
pub use keys::ApiKey;

/// A running simulator.
///
/// Owning the handle keeps the simulator alive; dropping it (or [`SimHandle::shutdown`]) stops
/// it, so a test cannot leak a server past its own end.
pub struct SimHandle {
    addr: SocketAddr,
    inner: Option<server::Running>,
}

impl SimHandle {
    /// The origin to point a client at: `http://127.0.0.1:PORT` (API under `/api/v2`, jobs under
    /// `/api/jobs`, admin under `/_sim`).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The bound socket address (useful with port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting, lets in-flight answers finish (bounded), and saves the state file if one
    /// is configured.
    pub async fn shutdown(mut self) {
        if let Some(inner) = self.inner.take() {
            inner.shutdown().await;
        }
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        if let Some(inner) = self.inner.take() {
            inner.abort();
        }
    }
}

/// Starts a simulator on `config.host:config.port` (port 0 = any free port).
///
/// Fails when the fixture or state file cannot be read or parsed, or the address cannot be
/// bound.
pub async fn start(config: SimConfig) -> std::io::Result<SimHandle> {
    let running = server::start(config).await?;
    Ok(SimHandle {
        addr: running.addr,
        inner: Some(running),
    })
}
