//! One cell's world: its own hostup-sim (with the matrix fixture and a state file), its own
//! terraform working directory on one Terraform version, and the steps the workflows are made
//! of. A step checks what it saw and records each difference from what was expected as a
//! [`Miss`]; a step after which the rest of the cell would be meaningless (a command that
//! exited otherwise than expected) also returns [`Stop`].

use std::collections::BTreeMap;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::kinds::{fixture, Kind, Res};
use crate::support::{finish_within, provider_block, Sim, Tf, TfOutput, KEY};

mod sim;
mod text;

use text::{actions_text, json_diagnostics, redact, requests_text};
pub use text::{clip, first_error, flat};

/// Job duration of every simulator: short, but long enough for a poll or two.
pub const JOB_DURATION_MS: u64 = 200;
/// Bound for one terraform command; a hang kills it (and its process group) and fails the cell.
const TF_DEADLINE: Duration = Duration::from_secs(120);
/// Bound for waiting on the simulator's state (a job to end, a snapshot to go).
pub const SIM_DEADLINE: Duration = Duration::from_secs(60);

/// A terraform binary of the matrix.
pub struct TfBin {
    /// E.g. `1.11.4`.
    pub version: String,
    parsed: (u32, u32),
    /// None: the `terraform` on PATH.
    path: Option<PathBuf>,
}

impl TfBin {
    /// The `terraform` on PATH, then the binaries listed in HOSTUP_EXTRA_TERRAFORM.
    pub fn discover() -> Vec<TfBin> {
        let mut bins = vec![TfBin::probe(None)];
        if let Some(v) = std::env::var_os("HOSTUP_EXTRA_TERRAFORM") {
            for p in std::env::split_paths(&v).filter(|p| !p.as_os_str().is_empty()) {
                let abs = std::fs::canonicalize(&p)
                    .unwrap_or_else(|e| panic!("HOSTUP_EXTRA_TERRAFORM: {}: {e}", p.display()));
                bins.push(TfBin::probe(Some(abs)));
            }
        }
        bins
    }

    fn probe(path: Option<PathBuf>) -> TfBin {
        let bin = path.clone().unwrap_or_else(|| PathBuf::from("terraform"));
        let out = std::process::Command::new(&bin)
            .args(["version", "-json"])
            .env("CHECKPOINT_DISABLE", "1")
            .output()
            .unwrap_or_else(|e| panic!("run {} version: {e}", bin.display()));
        let v: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{} version -json: {e}", bin.display()));
        let version = v["terraform_version"].as_str().unwrap_or("?").to_owned();
        let mut parts = version.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
        let parsed = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
        TfBin {
            version,
            parsed,
            path,
        }
    }

    /// Whether this is Terraform `major.minor` or newer.
    pub fn at_least(&self, major: u32, minor: u32) -> bool {
        self.parsed >= (major, minor)
    }
}

/// Something a cell expected and did not see.
#[derive(Clone, Debug)]
pub struct Miss {
    /// A few words for the table; the same on every run (no job ids, ports or times).
    pub short: String,
    /// What was expected and what was seen, with the output, for the test's failure message.
    pub detail: String,
}

/// The rest of the cell cannot run (the reason is already recorded as a [`Miss`]).
pub struct Stop;

/// The result of a step.
pub type Step<T = ()> = Result<T, Stop>;

/// One planned resource change (`terraform show -json` `resource_changes[]`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    pub address: String,
    pub actions: Vec<String>,
    pub previous_address: Option<String>,
    pub importing: bool,
}

/// What a plan must show.
#[derive(Default)]
pub struct PlanWant<'w> {
    /// Exit status with `-detailed-exitcode`: 0 nothing to do, 2 changes, 1 error.
    pub exit: i32,
    /// Every managed resource change, by address (order does not matter).
    pub actions: Vec<(String, &'static [&'static str])>,
    /// Each must appear (case-insensitively) in one of the plan's warnings.
    pub warn: Vec<&'w str>,
    /// None may appear in any warning.
    pub no_warn: Vec<&'w str>,
    /// Each must appear in the plan's errors (exit 1).
    pub error: Vec<&'w str>,
    /// None may appear in the plan's errors.
    pub no_error: Vec<&'w str>,
}

/// The mutating requests the sim received during a step: accepted (2xx) per
/// `METHOD route-template`, and the refused ones as (route, status).
struct Mutations {
    accepted: BTreeMap<String, u64>,
    refused: Vec<(String, u64)>,
}

/// One cell's simulator, working directory and findings.
pub struct Cell<'a> {
    pub kind: Kind,
    pub bin: &'a TfBin,
    scratch: tempfile::TempDir,
    sim_args: Vec<String>,
    pub sim: Sim,
    pub tf: Tf,
    config: (Vec<Res>, String),
    pub misses: Vec<Miss>,
    /// Request-log sequence number at the start of the current step.
    mark: u64,
    /// 409 answers to mutating requests are expected (a job kept the VPS busy).
    pub tolerate_busy: bool,
    http: reqwest::blocking::Client,
}

impl<'a> Cell<'a> {
    /// A fresh simulator (the matrix fixture, fast jobs, `extra` arguments) and an empty
    /// working directory on `bin`.
    pub fn new(kind: Kind, bin: &'a TfBin, extra: &[&str]) -> Cell<'a> {
        let scratch = tempfile::tempdir().expect("scratch dir");
        let fixture_path = scratch.path().join("fixture.json");
        std::fs::write(&fixture_path, fixture().to_string()).expect("write fixture");
        let mut sim_args: Vec<String> = vec![
            "--fixture".into(),
            fixture_path.display().to_string(),
            "--state-file".into(),
            scratch.path().join("sim-state.json").display().to_string(),
            "--job-duration".into(),
            format!("{JOB_DURATION_MS}ms"),
        ];
        sim_args.extend(extra.iter().map(|s| s.to_string()));
        let refs: Vec<&str> = sim_args.iter().map(String::as_str).collect();
        let sim = Sim::start(&refs);
        let mut tf = Tf::new(&provider_block(&sim.url, KEY));
        if let Some(path) = &bin.path {
            // A directory holding only this binary, as `terraform`, first on the PATH.
            let dir = tf.dir.path().join("tfbin");
            std::fs::create_dir_all(&dir).expect("tfbin dir");
            std::os::unix::fs::symlink(path, dir.join("terraform")).expect("symlink terraform");
            let old = std::env::var("PATH").unwrap_or_default();
            tf.env("PATH", &format!("{}:{old}", dir.display()));
        }
        Cell {
            kind,
            bin,
            scratch,
            sim_args,
            sim,
            tf,
            config: (Vec::new(), String::new()),
            misses: Vec::new(),
            mark: 0,
            tolerate_busy: false,
            http: reqwest::blocking::Client::new(),
        }
    }

    // ------------------------------------------------------------------ findings

    /// Records a miss.
    pub fn miss(&mut self, short: impl Into<String>, detail: impl Into<String>) {
        self.misses.push(Miss {
            short: redact(&short.into()),
            detail: detail.into(),
        });
    }

    /// Records a miss unless `ok`; returns `ok`.
    pub fn expect(
        &mut self,
        ok: bool,
        short: impl Into<String>,
        detail: impl Into<String>,
    ) -> bool {
        if !ok {
            self.miss(short, detail);
        }
        ok
    }

    /// Like [`expect`](Self::expect), but a miss stops the cell.
    pub fn need(&mut self, ok: bool, short: impl Into<String>, detail: impl Into<String>) -> Step {
        if self.expect(ok, short, detail) {
            Ok(())
        } else {
            Err(Stop)
        }
    }

    // ------------------------------------------------------------------ configuration

    /// Writes main.tf: the provider block, `res` and `extra` HCL.
    pub fn set_config(&mut self, res: &[Res], extra: &str) {
        self.config = (res.to_vec(), extra.to_owned());
        self.write_config();
    }

    fn write_config(&self) {
        let mut s = provider_block(&self.sim.url, KEY);
        for r in &self.config.0 {
            s.push('\n');
            s.push_str(&r.hcl());
        }
        s.push('\n');
        s.push_str(&self.config.1);
        self.tf.write_config(&s);
    }

    // ------------------------------------------------------------------ running terraform

    /// Runs terraform (its own process group, `-no-color` after the subcommand) with extra
    /// environment; a run past the deadline is killed with its group (exit status None).
    pub fn run_env(&self, args: &[&str], env: &[(&str, &str)]) -> TfOutput {
        let child = self.spawn_env(args, env);
        let pid = child.id() as libc::pid_t;
        let (out, done) = finish_within(child, TF_DEADLINE);
        if !done {
            // SAFETY: kill(2) on the process group this cell created for terraform.
            unsafe { libc::kill(-pid, libc::SIGKILL) };
        }
        out
    }

    pub fn run(&self, args: &[&str]) -> TfOutput {
        self.run_env(args, &[])
    }

    /// Starts terraform in its own process group, output piped.
    pub fn spawn_env(&self, args: &[&str], env: &[(&str, &str)]) -> Child {
        let mut full: Vec<&str> = args.to_vec();
        if !full.contains(&"-json") {
            full.insert(1.min(full.len()), "-no-color");
        }
        let mut cmd = self.tf.command(&full);
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("`terraform` must be on PATH for the lifecycle matrix")
    }

    // ------------------------------------------------------------------ steps

    /// Starts a step: requests from now on are the step's.
    pub fn begin(&mut self) {
        self.mark = self
            .sim
            .requests()
            .iter()
            .filter_map(|r| r["seq"].as_u64())
            .max()
            .unwrap_or(self.mark);
    }

    /// Runs a terraform command as a step: it must exit with `exit` (else the cell stops) and
    /// send exactly the mutating requests `requests`.
    pub fn cmd(
        &mut self,
        what: &str,
        args: &[&str],
        env: &[(&str, &str)],
        exit: i32,
        requests: &[(&str, u64)],
    ) -> Step<TfOutput> {
        self.begin();
        let out = self.run_env(args, env);
        self.check_exit(what, &out, exit)?;
        self.check_requests(what, requests);
        Ok(out)
    }

    /// Checks an exit status; a wrong one stops the cell.
    pub fn check_exit(&mut self, what: &str, out: &TfOutput, exit: i32) -> Step {
        if out.code == Some(exit) {
            return Ok(());
        }
        let seen = match out.code {
            Some(c) => format!("exit {c}"),
            None => "killed at the deadline".to_owned(),
        };
        let why = match out.code {
            Some(c) if c != 0 => format!(": {}", clip(&first_error(out), 90)),
            _ => String::new(),
        };
        self.miss(
            format!("{what}: {seen}, expected {exit}{why}"),
            format!(
                "{what}: {seen}, expected exit {exit}. Output:\n{}",
                out.all()
            ),
        );
        Err(Stop)
    }

    /// Checks the mutating requests since [`begin`](Self::begin).
    pub fn check_requests(&mut self, what: &str, want: &[(&str, u64)]) {
        let seen = self.mutations();
        let want: BTreeMap<String, u64> = want
            .iter()
            .filter(|(_, n)| *n > 0)
            .map(|(r, n)| (r.to_string(), *n))
            .collect();
        if seen.accepted != want {
            self.miss(
                format!(
                    "{what}: sent {}, expected {}",
                    requests_text(&seen.accepted),
                    requests_text(&want)
                ),
                format!(
                    "{what}: mutating requests HostUp accepted: {:?}, expected {want:?}",
                    seen.accepted
                ),
            );
        }
        let refused: Vec<&(String, u64)> = seen
            .refused
            .iter()
            .filter(|(_, status)| !(self.tolerate_busy && *status == 409))
            .collect();
        if !refused.is_empty() {
            let text: Vec<String> = refused.iter().map(|(r, s)| format!("{r} → {s}")).collect();
            self.miss(
                format!("{what}: {} refused request(s)", refused.len()),
                format!(
                    "{what}: mutating requests HostUp refused: {}",
                    text.join(", ")
                ),
            );
        }
    }

    fn mutations(&self) -> Mutations {
        let mut m = Mutations {
            accepted: BTreeMap::new(),
            refused: Vec::new(),
        };
        for r in self.sim.requests() {
            if r["seq"].as_u64().unwrap_or(0) <= self.mark || r["method"] == "GET" {
                continue;
            }
            let route = format!(
                "{} {}",
                r["method"].as_str().unwrap_or("?"),
                r["route"].as_str().unwrap_or("?")
            );
            let status = r["status"].as_u64().unwrap_or(0);
            if (200..300).contains(&status) {
                *m.accepted.entry(route).or_default() += 1;
            } else {
                m.refused.push((route, status));
            }
        }
        m
    }

    /// `terraform plan -json -detailed-exitcode -out=tfplan ARGS` as a step: checks the exit
    /// status, the planned actions (from `terraform show -json tfplan`), the warnings and
    /// errors, and that the plan sent no mutating request. Leaves `tfplan` for an apply.
    pub fn plan(&mut self, what: &str, args: &[&str], want: PlanWant) -> Step<Vec<Change>> {
        self.begin();
        let mut full = vec!["plan", "-json", "-detailed-exitcode", "-out=tfplan"];
        full.extend_from_slice(args);
        let out = self.run(&full);
        let diags = json_diagnostics(&out);
        self.check_exit(what, &out, want.exit)?;
        self.check_requests(what, &[]);
        let text_of = |severity: &str| -> Vec<String> {
            diags
                .iter()
                .filter(|(s, _)| s == severity)
                .map(|(_, t)| t.to_lowercase())
                .collect()
        };
        let warnings = text_of("warning");
        let errors = text_of("error").join("\n");
        for w in &want.warn {
            let needle = w.to_lowercase();
            self.expect(
                warnings.iter().any(|t| t.contains(&needle)),
                format!("{what}: no warning \"{w}\""),
                format!("{what}: no warning containing {w:?}; warnings: {warnings:#?}"),
            );
        }
        for w in &want.no_warn {
            let needle = w.to_lowercase();
            self.expect(
                !warnings.iter().any(|t| t.contains(&needle)),
                format!("{what}: unexpected warning \"{w}\""),
                format!("{what}: a warning contains {w:?}; warnings: {warnings:#?}"),
            );
        }
        for e in &want.error {
            self.expect(
                errors.contains(&e.to_lowercase()),
                format!("{what}: error does not name \"{e}\""),
                format!("{what}: no error containing {e:?}; errors:\n{errors}"),
            );
        }
        for e in &want.no_error {
            self.expect(
                !errors.contains(&e.to_lowercase()),
                format!("{what}: error mentions \"{e}\""),
                format!("{what}: an error contains {e:?}; errors:\n{errors}"),
            );
        }
        if want.exit == 1 {
            return Ok(Vec::new());
        }
        let changes = self.show_plan(what)?;
        let mut seen: Vec<(String, Vec<String>)> = changes
            .iter()
            .map(|c| (c.address.clone(), c.actions.clone()))
            .collect();
        let mut expected: Vec<(String, Vec<String>)> = want
            .actions
            .iter()
            .map(|(a, acts)| (a.clone(), acts.iter().map(|s| s.to_string()).collect()))
            .collect();
        seen.sort();
        expected.sort();
        self.expect(
            seen == expected,
            format!(
                "{what}: {}, expected {}",
                actions_text(&seen),
                actions_text(&expected)
            ),
            format!(
                "{what}: planned {seen:?}, expected {expected:?}. Plan output:\n{}",
                out.all()
            ),
        );
        Ok(changes)
    }

    /// The managed resource changes of `tfplan`.
    fn show_plan(&mut self, what: &str) -> Step<Vec<Change>> {
        let out = self.run(&["show", "-json", "tfplan"]);
        let parsed: Option<Value> = serde_json::from_str(&out.stdout).ok();
        let Some(plan) = parsed.filter(|_| out.code == Some(0)) else {
            self.miss(
                format!("{what}: `show -json` failed"),
                format!("terraform show -json tfplan:\n{}", out.all()),
            );
            return Err(Stop);
        };
        let changes = plan["resource_changes"]
            .as_array()
            .map(|rs| {
                rs.iter()
                    .filter(|r| r["mode"] == "managed")
                    .map(|r| Change {
                        address: r["address"].as_str().unwrap_or("?").to_owned(),
                        actions: r["change"]["actions"]
                            .as_array()
                            .map(|a| {
                                a.iter()
                                    .filter_map(|s| s.as_str().map(str::to_owned))
                                    .collect()
                            })
                            .unwrap_or_default(),
                        previous_address: r["previous_address"].as_str().map(str::to_owned),
                        importing: !r["change"]["importing"].is_null(),
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok(changes)
    }

    /// Applies `tfplan` as a step: exit 0 and exactly `requests`.
    pub fn apply_plan(&mut self, what: &str, requests: &[(&str, u64)]) -> Step<TfOutput> {
        self.cmd(
            what,
            &["apply", "-auto-approve", "tfplan"],
            &[],
            0,
            requests,
        )
    }

    // ------------------------------------------------------------------ state

    /// The state file as JSON (Null when absent).
    pub fn state(&self) -> Value {
        serde_json::from_str(&self.tf.state_file()).unwrap_or(Value::Null)
    }

    /// The instance at `addr` (`type.name`) in the state file, or Null.
    pub fn instance(&self, addr: &str) -> Value {
        let (ty, name) = addr.split_once('.').unwrap_or((addr, ""));
        self.state()["resources"]
            .as_array()
            .and_then(|rs| {
                rs.iter()
                    .find(|r| r["mode"] == "managed" && r["type"] == ty && r["name"] == name)
            })
            .and_then(|r| r["instances"].get(0).cloned())
            .unwrap_or(Value::Null)
    }

    /// Addresses of the managed resources in the state file.
    pub fn state_addresses(&self) -> Vec<String> {
        self.state()["resources"]
            .as_array()
            .map(|rs| {
                rs.iter()
                    .filter(|r| r["mode"] == "managed" && !r["instances"][0].is_null())
                    .map(|r| {
                        format!(
                            "{}.{}",
                            r["type"].as_str().unwrap_or("?"),
                            r["name"].as_str().unwrap_or("?")
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Checks the state holds exactly `addrs` (order does not matter).
    pub fn check_state_holds(&mut self, what: &str, addrs: &[String]) {
        let mut seen = self.state_addresses();
        let mut want = addrs.to_vec();
        seen.sort();
        want.sort();
        let show = |v: &[String]| {
            if v.is_empty() {
                "nothing".to_owned()
            } else {
                v.join(", ")
            }
        };
        self.expect(
            seen == want,
            format!(
                "{what}: state holds {}, expected {}",
                show(&seen),
                show(&want)
            ),
            format!(
                "{what}: state holds {seen:?}, expected {want:?}:\n{}",
                self.tf.state_file()
            ),
        );
    }
}
