//! Shared harness for end-to-end tests: a real `hostup-sim` process on 127.0.0.1 and a terraform
//! working directory wired to the freshly built provider through `dev_overrides`.
//!
//! Nothing here mocks our own code: the provider binary is the one cargo built, terraform is the
//! real CLI on PATH, and the simulator is the real binary speaking HTTP.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The API key the simulator's default fixture accepts with read:vm and backup:vm.
pub const KEY: &str = "test-key";

/// A bound for one terraform command (each starts the provider several times); generous for CI.
pub const TF_DEADLINE: Duration = Duration::from_secs(180);

/// A running hostup-sim process, killed when dropped.
pub struct Sim {
    child: Child,
    /// Origin of the simulator, e.g. `http://127.0.0.1:41234`.
    pub url: String,
    http: reqwest::blocking::Client,
}

impl Sim {
    /// Starts hostup-sim on an ephemeral port with extra CLI arguments.
    pub fn start(args: &[&str]) -> Sim {
        let mut child = Command::new(env!("CARGO_BIN_EXE_hostup-sim"))
            .args(["--port", "0"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn hostup-sim");
        let stdout = child.stdout.take().expect("sim stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read sim address");
        let url = line
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap_or_else(|| panic!("no address in sim's first line: {line:?}"))
            .trim_end_matches('/')
            .to_string();
        Sim {
            child,
            url,
            http: reqwest::blocking::Client::new(),
        }
    }

    /// GET an admin endpoint (`/_sim/...`) and parse its JSON.
    pub fn admin_get(&self, path: &str) -> serde_json::Value {
        self.http
            .get(format!("{}{path}", self.url))
            .send()
            .and_then(|r| r.error_for_status())
            .and_then(|r| r.json())
            .unwrap_or_else(|e| panic!("admin GET {path}: {e}"))
    }

    /// DELETE an admin resource (e.g. `/_sim/jobs/{id}`: forget a job).
    pub fn admin_delete(&self, path: &str) {
        self.http
            .delete(format!("{}{path}", self.url))
            .send()
            .and_then(|r| r.error_for_status())
            .unwrap_or_else(|e| panic!("admin DELETE {path}: {e}"));
    }

    /// POST JSON to an admin endpoint.
    pub fn admin_post(&self, path: &str, body: serde_json::Value) -> serde_json::Value {
        let resp = self
            .http
            .post(format!("{}{path}", self.url))
            .json(&body)
            .send()
            .and_then(|r| r.error_for_status())
            .unwrap_or_else(|e| panic!("admin POST {path}: {e}"));
        resp.json().unwrap_or(serde_json::Value::Null)
    }

    /// Names of the snapshots the sim holds for `vps` (from `GET /_sim/state`).
    pub fn snapshot_names(&self, vps: &str) -> Vec<String> {
        let st = self.admin_get("/_sim/state");
        st["vps"]
            .as_array()
            .and_then(|vs| vs.iter().find(|v| v["id"] == vps))
            .and_then(|v| v["snapshots"].as_array())
            .map(|ss| {
                ss.iter()
                    .filter_map(|s| s["name"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// PATCH JSON to an admin endpoint (e.g. `/_sim/vps/{id}`: power state, service status).
    pub fn admin_patch(&self, path: &str, body: serde_json::Value) -> serde_json::Value {
        let resp = self
            .http
            .patch(format!("{}{path}", self.url))
            .json(&body)
            .send()
            .and_then(|r| r.error_for_status())
            .unwrap_or_else(|e| panic!("admin PATCH {path}: {e}"));
        resp.json().unwrap_or(serde_json::Value::Null)
    }

    /// GET from the HostUp API with `key`, as a client outside Terraform would; returns the
    /// body. Not counted out of the sim's log: tests that count reads must take it into
    /// account.
    pub fn api_get(&self, path: &str, key: &str) -> serde_json::Value {
        self.http
            .get(format!("{}{path}", self.url))
            .bearer_auth(key)
            .send()
            .and_then(|r| r.error_for_status())
            .and_then(|r| r.json())
            .unwrap_or_else(|e| panic!("API GET {path}: {e}"))
    }

    /// POST JSON to the HostUp API with `key`, as a client outside Terraform would (the
    /// dashboard, a script); returns the body.
    pub fn api_post(&self, path: &str, key: &str, body: serde_json::Value) -> serde_json::Value {
        self.http
            .post(format!("{}{path}", self.url))
            .bearer_auth(key)
            .json(&body)
            .send()
            .and_then(|r| r.error_for_status())
            .and_then(|r| r.json())
            .unwrap_or_else(|e| panic!("API POST {path}: {e}"))
    }

    /// DELETE on the HostUp API with `key`, as a client outside Terraform would.
    pub fn api_delete(&self, path: &str, key: &str) {
        self.http
            .delete(format!("{}{path}", self.url))
            .bearer_auth(key)
            .send()
            .and_then(|r| r.error_for_status())
            .unwrap_or_else(|e| panic!("API DELETE {path}: {e}"));
    }

    /// Number of requests the sim counted for `"METHOD /route/{template}"`.
    pub fn count(&self, route: &str) -> u64 {
        self.admin_get("/_sim/counters")
            .get(route)
            .and_then(|v| v.as_u64())
            .unwrap_or(0)
    }

    /// The request log (`GET /_sim/requests`): one JSON object per API request, with
    /// `method`, `route`, `status` and `fault` (null when no fault answered it).
    pub fn requests(&self) -> Vec<serde_json::Value> {
        self.admin_get("/_sim/requests")["requests"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// The jobs the sim holds (`GET /_sim/state`), each with `jobId`, `type`, `status`.
    pub fn jobs(&self) -> Vec<serde_json::Value> {
        self.admin_get("/_sim/state")["jobs"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// Requests whose method is not GET (mutations), excluding the admin API.
    pub fn mutations(&self) -> u64 {
        let counters = self.admin_get("/_sim/counters");
        counters
            .as_object()
            .map(|m| {
                m.iter()
                    .filter(|(k, _)| !k.starts_with("GET ") && !k.contains("/_sim/"))
                    .filter_map(|(_, v)| v.as_u64())
                    .sum()
            })
            .unwrap_or(0)
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A terraform working directory using the built provider through dev_overrides.
pub struct Tf {
    /// Holds the config, the state and the CLI config; removed on drop.
    pub dir: tempfile::TempDir,
    env: Vec<(String, String)>,
}

impl Tf {
    /// A working directory whose `main.tf` is `config`.
    pub fn new(config: &str) -> Tf {
        let dir = tempfile::tempdir().expect("tempdir");
        // A directory holding only the provider binary: target/debug also holds
        // `terraform-provider-hostup.d`, which dev_overrides could pick up instead.
        let plugin_dir = dir.path().join("plugins");
        std::fs::create_dir_all(&plugin_dir).expect("plugin dir");
        let bin = PathBuf::from(env!("CARGO_BIN_EXE_terraform-provider-hostup"));
        std::os::unix::fs::symlink(&bin, plugin_dir.join("terraform-provider-hostup"))
            .expect("symlink provider");
        let rc = dir.path().join("terraform.rc");
        std::fs::write(
            &rc,
            format!(
                "provider_installation {{\n  dev_overrides {{\n    \"hostup/hostup\" = \"{}\"\n  }}\n  direct {{}}\n}}\n",
                plugin_dir.display()
            ),
        )
        .expect("write cli config");
        let work = dir.path().join("work");
        std::fs::create_dir_all(&work).expect("work dir");
        std::fs::write(work.join("main.tf"), config).expect("write main.tf");
        let env = vec![
            ("TF_CLI_CONFIG_FILE".into(), rc.display().to_string()),
            ("CHECKPOINT_DISABLE".into(), "1".into()),
            ("TF_IN_AUTOMATION".into(), "1".into()),
            ("TF_INPUT".into(), "0".into()),
            // The provider keeps its memory of shown warnings under the temp directory.
            ("TMPDIR".into(), dir.path().display().to_string()),
        ];
        Tf { dir, env }
    }

    /// The directory terraform runs in (holds main.tf and terraform.tfstate).
    pub fn work(&self) -> PathBuf {
        self.dir.path().join("work")
    }

    /// Replaces main.tf.
    pub fn write_config(&self, config: &str) {
        std::fs::write(self.work().join("main.tf"), config).expect("write main.tf");
    }

    /// Adds an environment variable for every later terraform run.
    pub fn env(&mut self, k: &str, v: &str) -> &mut Self {
        self.env.push((k.into(), v.into()));
        self
    }

    /// A terraform command ready to run in the working directory.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("terraform");
        cmd.args(args).current_dir(self.work());
        // Nothing from the developer's shell may change what a test sees.
        for k in [
            "TF_LOG",
            "TF_LOG_PATH",
            "TF_LOG_PROVIDER",
            "TF_LOG_CORE",
            "TF_REATTACH_PROVIDERS",
            "HOSTUP_API_KEY",
            "HOSTUP_ENDPOINT",
        ] {
            cmd.env_remove(k);
        }
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd
    }

    /// Starts terraform with `args` (adding -no-color), its output piped, for a test that
    /// acts while it runs; collect it with [`finish`].
    pub fn spawn(&self, args: &[&str]) -> Child {
        let mut full: Vec<&str> = args.to_vec();
        full.push("-no-color");
        self.command(&full)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("`terraform` must be on PATH for the end-to-end tests")
    }

    /// Runs terraform with `args` (adding -no-color) under [`TF_DEADLINE`] and returns its
    /// output; a run that outlives the deadline is killed and fails the test.
    pub fn run(&self, args: &[&str]) -> TfOutput {
        finish(self.spawn(args), TF_DEADLINE)
    }

    /// Runs terraform and panics with its output if it exits 0.
    pub fn fails(&self, args: &[&str]) -> TfOutput {
        let out = self.run(args);
        assert_ne!(
            out.code,
            Some(0),
            "terraform {args:?} should fail:\n{}",
            out.all()
        );
        out
    }

    /// Runs terraform and panics with its output unless it exits 0.
    pub fn ok(&self, args: &[&str]) -> TfOutput {
        let out = self.run(args);
        assert!(
            out.code == Some(0),
            "terraform {args:?} failed ({:?}):\n{}",
            out.code,
            out.all()
        );
        out
    }

    /// The first instance of managed resource `ty.name` in the state file (Null when absent).
    pub fn instance(&self, ty: &str, name: &str) -> serde_json::Value {
        let state: serde_json::Value =
            serde_json::from_str(&self.state_file()).unwrap_or(serde_json::Value::Null);
        state["resources"]
            .as_array()
            .and_then(|rs| {
                rs.iter()
                    .find(|r| r["type"] == ty && r["name"] == name && r["mode"] == "managed")
            })
            .and_then(|r| r["instances"].get(0).cloned())
            .unwrap_or(serde_json::Value::Null)
    }

    /// The state as JSON (`terraform show -json`).
    pub fn state_json(&self) -> serde_json::Value {
        let out = self.ok(&["show", "-json"]);
        serde_json::from_str(&out.stdout).expect("show -json output")
    }

    /// The raw state file text (empty when there is none).
    pub fn state_file(&self) -> String {
        std::fs::read_to_string(self.work().join("terraform.tfstate")).unwrap_or_default()
    }
}

/// What a terraform run printed, and how it exited.
pub struct TfOutput {
    /// Exit status (None when killed by a signal).
    pub code: Option<i32>,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl TfOutput {
    /// stdout and stderr together, for assertions on diagnostics wherever they went.
    pub fn all(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }
}

impl From<Output> for TfOutput {
    fn from(o: Output) -> Self {
        TfOutput {
            code: o.status.code(),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

/// Waits for `child` (killing it after `limit`) and collects its output; panics, with what it
/// printed, if it had to be killed, so a hang fails the test instead of blocking the suite.
pub fn finish(child: Child, limit: Duration) -> TfOutput {
    let (o, done) = finish_within(child, limit);
    assert!(
        done,
        "terraform did not finish within {limit:?}:\n{}",
        o.all()
    );
    o
}

/// Polls `cond` until it holds or `limit` passes; returns whether it held.
pub fn wait_until(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    cond()
}

/// The provider block every test configuration starts with.
pub fn provider_block(url: &str, key: &str) -> String {
    format!(
        "terraform {{\n  required_providers {{\n    hostup = {{ source = \"hostup/hostup\" }}\n  }}\n}}\n\nprovider \"hostup\" {{\n  api_key  = \"{key}\"\n  endpoint = \"{url}\"\n}}\n"
    )
}

/// True when `haystack` mentions `path` (used to check secrets never leak into files).
pub fn file_contains(path: &Path, needle: &str) -> bool {
    std::fs::read_to_string(path)
        .map(|s| s.contains(needle))
        .unwrap_or(false)
}

/// Waits for a spawned `child` whose stdout and stderr are piped, killing it once `limit` has
/// passed; returns its output and whether it exited by itself. Exists so a hung terraform run
/// fails a test with its output instead of blocking the suite.
pub fn finish_within(mut child: Child, limit: Duration) -> (TfOutput, bool) {
    use std::io::Read;
    let out = child.stdout.take();
    let err = child.stderr.take();
    let read = |r: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut s = String::new();
            if let Some(mut r) = r {
                let _ = r.read_to_string(&mut s);
            }
            s
        })
    };
    let t_out = read(out.map(|o| Box::new(o) as Box<dyn Read + Send>));
    let t_err = read(err.map(|e| Box::new(e) as Box<dyn Read + Send>));
    let mut status = None;
    let done = wait_until(limit, || {
        status = child.try_wait().ok().flatten();
        status.is_some()
    });
    if !done {
        let _ = child.kill();
        status = child.wait().ok();
    }
    let o = TfOutput {
        code: status.and_then(|s| s.code()),
        stdout: t_out.join().unwrap_or_default(),
        stderr: t_err.join().unwrap_or_default(),
    };
    (o, done)
}

/// Terraform wraps details to its width: the text with every run of whitespace made one space.
pub fn flat(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `terraform validate` of each configuration fails saying its text, and none of them sends a
/// request to `sim` (validation is offline).
pub fn validate_refuses(sim: &Sim, cases: &[(String, &str)]) {
    let before = sim.requests().len();
    for (config, says) in cases {
        let out = flat(&Tf::new(config).fails(&["validate"]).all());
        assert!(out.contains(says), "{says:?} missing in:\n{out}");
    }
    assert_eq!(sim.requests().len(), before, "validate reached HostUp");
}
