//! The provider driven by the real `terraform` CLI: validate, plan and schema through
//! dev_overrides, and through debug mode (`-debug` + TF_REATTACH_PROVIDERS). Also checks that
//! the API key never shows in Terraform's output or its trace logs.
//!
//! While the hostup provider has no resource or data source, Terraform prunes it from the plan
//! graph (only GetSchema is called), so provider-block errors cannot surface here yet; the
//! value paths are covered by tests/e2e_codec.rs with a toy provider.
//!
//! Every external process runs under a bounded deadline and is killed when it passes it.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_terraform-provider-hostup");
/// A bound for one terraform command (each starts the provider 2–3 times); generous for CI.
const TF_DEADLINE: Duration = Duration::from_secs(180);
/// A key that must never be printed; unique so a match cannot be a coincidence.
const SECRET: &str = "hk_test_e2e_5b1f0c9a7d3e4f21";

struct Output {
    success: bool,
    stdout: String,
    stderr: String,
}

impl Output {
    fn all(&self) -> String {
        format!("--- stdout\n{}\n--- stderr\n{}", self.stdout, self.stderr)
    }
}

/// A working directory with a CLI config whose dev_overrides point at the built binary.
struct Workdir {
    dir: tempfile::TempDir,
    cli_config: PathBuf,
}

impl Workdir {
    fn new(main_tf: &str) -> Workdir {
        let dir = tempfile::tempdir().expect("tempdir");
        // A directory holding only the provider: target/debug also holds
        // `terraform-provider-hostup.d`, which dev_overrides could pick instead of the binary.
        let bin_dir = dir.path().join("plugins");
        std::fs::create_dir_all(&bin_dir).expect("plugin dir");
        std::os::unix::fs::symlink(Path::new(BIN), bin_dir.join("terraform-provider-hostup"))
            .expect("symlink the provider");
        let cli_config = dir.path().join("cli.tfrc");
        std::fs::write(
            &cli_config,
            format!(
                "provider_installation {{\n  dev_overrides {{\n    \"hostup/hostup\" = {:?}\n  }}\n}}\n",
                bin_dir.display().to_string()
            ),
        )
        .expect("write cli config");
        std::fs::write(dir.path().join("main.tf"), main_tf).expect("write main.tf");
        Workdir { dir, cli_config }
    }

    fn terraform(&self, args: &[&str], extra_env: &[(&str, &str)]) -> Output {
        let mut cmd = Command::new("terraform");
        cmd.args(args)
            .current_dir(self.dir.path())
            .env("TF_CLI_CONFIG_FILE", &self.cli_config)
            .env("CHECKPOINT_DISABLE", "1")
            .env("TF_IN_AUTOMATION", "1")
            .env("TF_INPUT", "0")
            .env_remove("TF_LOG")
            .env_remove("TF_LOG_PATH")
            .env_remove("TF_LOG_PROVIDER")
            .env_remove("TF_LOG_CORE")
            .env_remove("TF_REATTACH_PROVIDERS")
            .env_remove("HOSTUP_API_KEY")
            .env_remove("HOSTUP_ENDPOINT")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in extra_env {
            cmd.env(k, v);
        }
        let child = cmd
            .spawn()
            .expect("`terraform` must be on PATH for the end-to-end tests");
        run_bounded(child, TF_DEADLINE)
    }
}

/// Collects a child's output, killing it if it outlives `deadline`.
fn run_bounded(mut child: Child, deadline: Duration) -> Output {
    let mut out = child.stdout.take().expect("piped stdout");
    let mut err = child.stderr.take().expect("piped stderr");
    let t_out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let t_err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let start = Instant::now();
    let status = loop {
        match child.try_wait().expect("try_wait") {
            Some(status) => break Some(status),
            None if start.elapsed() > deadline => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            None => std::thread::sleep(Duration::from_millis(20)),
        }
    };
    let stdout = t_out.join().unwrap_or_default();
    let stderr = t_err.join().unwrap_or_default();
    assert!(
        status.is_some(),
        "terraform did not finish within {deadline:?}\n{stdout}\n{stderr}"
    );
    Output {
        success: status.is_some_and(|s| s.success()),
        stdout,
        stderr,
    }
}

fn config(endpoint: &str) -> String {
    format!(
        r#"terraform {{
  required_providers {{
    hostup = {{ source = "hostup/hostup" }}
  }}
}}

provider "hostup" {{
  api_key  = "{SECRET}"
  endpoint = "{endpoint}"
}}
"#
    )
}

fn assert_no_secret(what: &str, text: &str) {
    assert!(
        !text.contains(SECRET),
        "the API key appeared in {what}:\n{text}"
    );
}

#[test]
fn validate_plan_and_schema_with_dev_overrides() {
    let wd = Workdir::new(&config("http://127.0.0.1:9"));

    let v = wd.terraform(&["validate", "-no-color"], &[]);
    assert!(v.success, "validate failed\n{}", v.all());
    assert!(v.stdout.contains("configuration is valid"), "{}", v.all());
    assert_no_secret("validate output", &v.all());

    let log = wd.dir.path().join("trace.log");
    let log_str = log.to_str().expect("utf-8 temp path");
    let p = wd.terraform(
        &["plan", "-no-color", "-input=false"],
        &[("TF_LOG", "trace"), ("TF_LOG_PATH", log_str)],
    );
    assert!(p.success, "plan failed\n{}", p.all());
    assert!(p.stdout.contains("No changes"), "{}", p.all());
    assert_no_secret("plan output", &p.all());
    let trace = std::fs::read_to_string(&log).expect("TF_LOG_PATH file written");
    assert!(
        trace.contains("terraform-provider-hostup"),
        "the trace log should show the provider being launched"
    );
    assert_no_secret("TF_LOG=trace logs", &trace);

    let s = wd.terraform(&["providers", "schema", "-json"], &[]);
    assert!(s.success, "providers schema failed\n{}", s.all());
    assert_api_key_sensitive(&s);
}

/// `terraform providers schema -json` shows our provider block with `api_key` sensitive.
fn assert_api_key_sensitive(s: &Output) {
    let json: serde_json::Value = serde_json::from_str(s.stdout.trim()).unwrap_or_else(|e| {
        panic!("schema output is not JSON ({e}):\n{}", s.all());
    });
    let provider = &json["provider_schemas"]["registry.terraform.io/hostup/hostup"]["provider"];
    let attrs = &provider["block"]["attributes"];
    assert_eq!(attrs["api_key"]["sensitive"], true, "{provider:#}");
    assert_eq!(attrs["api_key"]["optional"], true, "{provider:#}");
    assert_eq!(attrs["endpoint"]["type"], "string", "{provider:#}");
    assert_eq!(
        attrs["endpoint"]["description_kind"], "markdown",
        "{provider:#}"
    );
}

/// A provider started with `-debug`, killed when dropped.
struct DebugProvider {
    child: Child,
}

impl Drop for DebugProvider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the binary in debug mode and returns it with the TF_REATTACH_PROVIDERS value it
/// printed.
fn start_debug_provider() -> (DebugProvider, String) {
    let mut child = Command::new(BIN)
        .arg("-debug")
        .env_remove("TF_PLUGIN_MAGIC_COOKIE")
        .env_remove("PLUGIN_CLIENT_CERT")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start provider in debug mode");
    let stdout = child.stdout.take().expect("piped stdout");
    let provider = DebugProvider { child };
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(rest) = line.trim().strip_prefix("TF_REATTACH_PROVIDERS='") {
                let _ = tx.send(rest.trim_end_matches('\'').to_owned());
            }
            // Keep draining so the provider never blocks on a full pipe.
        }
    });
    let reattach = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("the debug provider printed TF_REATTACH_PROVIDERS within 30 s");
    (provider, reattach)
}

#[test]
fn validate_and_plan_through_debug_reattach() {
    let (provider, reattach) = start_debug_provider();
    let parsed: serde_json::Value = serde_json::from_str(&reattach).expect("reattach JSON");
    assert!(
        parsed.get("registry.terraform.io/hostup/hostup").is_some(),
        "{parsed:#}"
    );

    let wd = Workdir::new(&config("http://127.0.0.1:9"));
    let env = [("TF_REATTACH_PROVIDERS", reattach.as_str())];
    let v = wd.terraform(&["validate", "-no-color"], &env);
    assert!(v.success, "validate failed\n{}", v.all());
    let p = wd.terraform(&["plan", "-no-color", "-input=false"], &env);
    assert!(p.success, "plan failed\n{}", p.all());
    assert!(p.stdout.contains("No changes"), "{}", p.all());
    assert_no_secret("plan output", &p.all());

    let sch = wd.terraform(&["providers", "schema", "-json"], &env);
    assert!(sch.success, "providers schema failed\n{}", sch.all());
    assert_api_key_sensitive(&sch);

    // The same long-lived process serves a second run.
    let wd = Workdir::new(&config("http://127.0.0.1:10"));
    let v = wd.terraform(&["validate", "-no-color"], &env);
    assert!(v.success, "second validate failed\n{}", v.all());
    drop(provider);
}
