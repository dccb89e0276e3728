//! A cell's simulator: what it holds (jobs, VPSs, snapshots), acting on it as a client outside
//! Terraform would, and steering it through its admin API.

use serde_json::{json, Value};

use super::{Cell, Step, Stop, SIM_DEADLINE};
use crate::support::{wait_until, Sim, KEY};

impl Cell<'_> {
    /// Ids of the sim's jobs of this cell's create type, oldest first.
    pub fn job_ids(&self) -> Vec<String> {
        self.sim
            .jobs()
            .iter()
            .filter(|j| j["type"] == self.kind.job_type())
            .filter_map(|j| j["jobId"].as_str().map(str::to_owned))
            .collect()
    }

    /// The sim's job `id` (Null if unknown).
    pub fn job(&self, id: &str) -> Value {
        self.sim
            .jobs()
            .into_iter()
            .find(|j| j["jobId"] == id)
            .unwrap_or(Value::Null)
    }

    /// The sim's VPS `id` as its state dump shows it (Null if gone).
    pub fn vps(&self, id: &str) -> Value {
        self.sim.admin_get("/_sim/state")["vps"]
            .as_array()
            .and_then(|vs| vs.iter().find(|v| v["id"] == id).cloned())
            .unwrap_or(Value::Null)
    }

    /// Names of the snapshots the sim holds for `vps`.
    pub fn snapshots(&self, vps: &str) -> Vec<String> {
        self.vps(vps)["snapshots"]
            .as_array()
            .map(|ss| {
                ss.iter()
                    .filter_map(|s| s["name"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Waits until no job runs on the sim (a job started outside Terraform has ended).
    pub fn wait_idle(&mut self, what: &str) -> Step {
        let sim = &self.sim;
        let idle = wait_until(SIM_DEADLINE, || {
            sim.jobs()
                .iter()
                .all(|j| j["status"] == "completed" || j["status"] == "failed")
        });
        self.need(
            idle,
            format!("{what}: a job never ended on the sim"),
            format!(
                "{what}: jobs still running after {SIM_DEADLINE:?}: {:?}",
                self.sim.jobs()
            ),
        )
    }

    /// Sends a HostUp API request as a client outside Terraform would (the dashboard); the
    /// answer's body (Null when empty).
    pub fn api(&mut self, method: &str, path: &str, body: Option<Value>) -> Step<Value> {
        let m = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut req = self
            .http
            .request(m, format!("{}{path}", self.sim.url))
            .bearer_auth(KEY);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().and_then(|r| r.error_for_status());
        match resp {
            Ok(r) => Ok(r.json().unwrap_or(Value::Null)),
            Err(e) => {
                self.miss(
                    format!("set-up: {method} {path} failed"),
                    format!("{method} {path}: {e}"),
                );
                Err(Stop)
            }
        }
    }

    /// Queues a job through the API outside Terraform and waits for it to end; its id.
    pub fn api_job(&mut self, path: &str, body: Option<Value>) -> Step<String> {
        let op = self.api("POST", path, body)?;
        let id = op["operation"]["jobId"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        self.need(
            !id.is_empty(),
            format!("set-up: no job id from POST {path}"),
            format!("POST {path} answered {op}"),
        )?;
        self.wait_idle("set-up")?;
        Ok(id)
    }

    /// Changes the sim's run-time config (e.g. `{"jobDurationMs": 6000}`).
    pub fn sim_config(&self, patch: Value) {
        self.sim.admin_post("/_sim/config", patch);
    }

    /// The VPS `id` is gone from HostUp (terminated): the sim is restarted from its state file
    /// without it, on a new port, and main.tf is rewritten for the new endpoint.
    pub fn remove_vps(&mut self, id: &str) -> Step {
        self.wait_idle("VPS removal")?;
        let path = self.scratch.path().join("sim-state.json");
        let mut saved: Value = std::fs::read_to_string(&path)
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or(Value::Null);
        let removed = saved["state"]["vps"]
            .as_object_mut()
            .and_then(|m| m.remove(id))
            .is_some();
        self.need(
            removed,
            "set-up: VPS not in the sim's state file",
            format!("{id} not in {}", path.display()),
        )?;
        std::fs::write(&path, saved.to_string()).expect("write sim state");
        let refs: Vec<&str> = self.sim_args.iter().map(String::as_str).collect();
        // The old simulator is idle (no job runs), so it writes its state file no more.
        self.sim = Sim::start(&refs);
        self.write_config();
        let gone = self.vps(id).is_null();
        self.need(
            gone,
            "set-up: VPS still on the sim",
            format!("{id} still listed"),
        )
    }

    /// Forces job `id` to complete now on the sim.
    pub fn complete_job(&self, id: &str) {
        self.sim
            .admin_post(&format!("/_sim/jobs/{id}/complete"), json!({}));
    }
}
