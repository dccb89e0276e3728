//! The `hostup-sim` binary as terraform tests, the demo and users' CI run it: the address line on
//! stdout, CLI flags, clean exit on SIGTERM/SIGINT, and the state file surviving a restart.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

const BIN: &str = env!("CARGO_BIN_EXE_hostup-sim");
const VPS_PAYG: &str = "vps_01hxa3b4c5d6e7f8g9h0j1k2m7";

struct Proc {
    child: Child,
    url: String,
    stdout: Option<BufReader<ChildStdout>>,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Spawns the binary and reads its first stdout line (bounded).
fn spawn(args: &[&str]) -> (Proc, String) {
    let mut child = Command::new(BIN)
        .args(["--port", "0"])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn hostup-sim");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stdout);
        let mut line = String::new();
        let _ = reader.read_line(&mut line);
        let _ = tx.send((line, reader));
    });
    let (line, reader) = match rx.recv_timeout(Duration::from_secs(30)) {
        Ok(v) => v,
        Err(_) => {
            let _ = child.kill();
            panic!("hostup-sim printed no address line");
        }
    };
    let url = line
        .trim_end()
        .strip_prefix("hostup-sim listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_string();
    (
        Proc {
            child,
            url,
            stdout: Some(reader),
        },
        line,
    )
}

fn signal(p: &Proc, sig: i32) {
    let pid = p.child.id() as i32;
    // SAFETY: plain kill(2) on our own child's pid.
    let rc = unsafe { libc::kill(pid, sig) };
    assert_eq!(rc, 0, "kill failed");
}

fn wait_exit(p: &mut Proc, limit: Duration) -> ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(status) = p.child.try_wait().expect("try_wait") {
            return status;
        }
        assert!(start.elapsed() < limit, "hostup-sim did not exit");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client")
}

async fn get(url: &str, key: Option<&str>) -> (u16, String, reqwest::header::HeaderMap) {
    let mut rb = client().get(url);
    if let Some(k) = key {
        rb = rb.bearer_auth(k);
    }
    let r = rb.send().await.expect("GET");
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    (status, r.text().await.expect("body"), headers)
}

#[test]
fn prints_the_address_and_exits_cleanly_on_sigterm() {
    let (mut p, line) = spawn(&[]);
    let port: u16 = p
        .url
        .strip_prefix("http://127.0.0.1:")
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad address line {line:?}"));
    assert_ne!(port, 0);
    assert!(line.ends_with('\n'));
    let (status, body, _) = rt().block_on(get(&format!("{}/_sim/health", p.url), None));
    assert_eq!((status, body.as_str()), (200, r#"{"ok":true}"#));
    signal(&p, libc::SIGTERM);
    let status = wait_exit(&mut p, Duration::from_secs(10));
    assert_eq!(status.code(), Some(0));
    // Nothing else was printed on stdout.
    let mut rest = String::new();
    let _ = p.stdout.take().expect("stdout").read_to_string(&mut rest);
    assert_eq!(rest, "");
}

#[test]
fn exits_cleanly_on_sigint() {
    let (mut p, _) = spawn(&["--job-duration", "0s"]);
    signal(&p, libc::SIGINT);
    assert_eq!(wait_exit(&mut p, Duration::from_secs(10)).code(), Some(0));
}

#[test]
fn help_documents_every_flag() {
    let out = Command::new(BIN).arg("--help").output().expect("help");
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--host",
        "--port",
        "--fixture",
        "--extra-vps",
        "--key",
        "--no-default-keys",
        "--snapshot-ttl",
        "--job-duration",
        "--job-shape",
        "--snapshot-delete",
        "--rate-limit",
        "--rate-window",
        "--fault ",
        "--faults",
        "--latency-ms",
        "--fail-next-jobs",
        "--stuck-next-jobs",
        "--fail-message",
        "--fault-seed",
        "--state-file",
        "--log-requests",
        "--job-initial-status",
        "--gate-code-key",
        "--snapshot-visibility",
        "--job-types",
        "--vm-id",
        "--has-more",
        "/_sim/faults",
        "/_sim/vps/{id}/terminate",
        "/_sim/counters",
        "test-key",
    ] {
        assert!(help.contains(flag), "--help lacks {flag}:\n{help}");
    }
    assert!(
        help.contains("[default: 5s]"),
        "job duration default:\n{help}"
    );
    assert!(
        help.contains("[default: 1000]"),
        "rate limit default:\n{help}"
    );
}

#[test]
fn bad_flags_fail_with_a_message_and_no_address() {
    for args in [
        &["--fault", "bogus"][..],
        &["--job-duration", "5x"][..],
        &["--key", "no-equals"][..],
        &["--gate-code-key", "maybe"][..],
        &["--job-types", "klingon"][..],
        &["--fault", "busy:Not-A-Code"][..],
    ] {
        let out = Command::new(BIN)
            .args(["--port", "0"])
            .args(args)
            .output()
            .expect("run");
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(out.stdout.is_empty(), "{args:?}");
        assert!(!out.stderr.is_empty(), "{args:?}");
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let bad = dir.path().join("fixture.json");
    std::fs::write(&bad, "{not json").expect("write");
    let out = Command::new(BIN)
        .args(["--port", "0", "--fixture"])
        .arg(&bad)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("fixture"));
}

#[test]
fn cli_faults_keys_and_rate_limit_flags() {
    let (p, _) = spawn(&[
        "--fault",
        "html502,count=1,method=GET",
        "--key",
        "ci=read:vm",
        "--no-default-keys",
        "--rate-limit",
        "0",
    ]);
    rt().block_on(async {
        let url = format!("{}/api/v2/vps", p.url);
        let (status, body, headers) = get(&url, Some("ci")).await;
        assert_eq!(status, 502);
        assert!(body.contains("502 Bad Gateway"));
        assert_eq!(
            headers.get("content-type").and_then(|v| v.to_str().ok()),
            Some("text/html")
        );
        let (status, _, headers) = get(&url, Some("ci")).await;
        assert_eq!(status, 200);
        assert!(headers.get("x-ratelimit-limit").is_none());
        let (status, _, _) = get(&url, Some("test-key")).await;
        assert_eq!(status, 401);
    });
}

#[test]
fn fixture_file_and_extra_vps() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fixture = dir.path().join("fixture.json");
    std::fs::write(
        &fixture,
        json!({"vps": [{"id": "vps_01hxa3b4c5d6e7f8g9h0j1k2aa", "name": "solo",
                        "plan": {"snapshotSlots": 0, "backupLimit": null}}],
               "keys": [{"key": "fixture-key", "scopes": ["read:vm"]}]})
        .to_string(),
    )
    .expect("write");
    let fixture_arg = fixture.display().to_string();
    let (p, _) = spawn(&["--fixture", &fixture_arg, "--extra-vps", "2"]);
    rt().block_on(async {
        let (status, body, _) = get(&format!("{}/api/v2/vps", p.url), Some("fixture-key")).await;
        assert_eq!(status, 200);
        let v: Value = serde_json::from_str(&body).expect("json");
        let names: Vec<&str> = v["data"]
            .as_array()
            .expect("data")
            .iter()
            .filter_map(|x| x["name"].as_str())
            .collect();
        assert_eq!(names, vec!["solo", "load-001", "load-002"]);
        let (_, body, _) = get(
            &format!(
                "{}/api/v2/vps/vps_01hxa3b4c5d6e7f8g9h0j1k2aa/snapshots",
                p.url
            ),
            Some("fixture-key"),
        )
        .await;
        let v: Value = serde_json::from_str(&body).expect("json");
        assert_eq!(v["available"], false);
    });
}

async fn post(url: &str, key: &str) -> Value {
    let r = client()
        .post(url)
        .bearer_auth(key)
        .send()
        .await
        .expect("POST");
    assert_eq!(r.status().as_u16(), 202);
    r.json().await.expect("json")
}

fn state_round(state: &Path) -> (String, usize) {
    let arg = state.display().to_string();
    let (mut p, _) = spawn(&["--state-file", &arg, "--job-duration", "0s"]);
    let out = rt().block_on(async {
        let backups = format!("{}/api/v2/vps/{VPS_PAYG}/backups", p.url);
        let op = post(&backups, "test-key").await;
        let poll = op["operation"]["pollUrl"]
            .as_str()
            .expect("pollUrl")
            .to_string();
        let (_, body, _) = get(&format!("{}{poll}", p.url), Some("test-key")).await;
        let job: Value = serde_json::from_str(&body).expect("json");
        assert_eq!(job["data"]["status"], "completed");
        let (_, body, _) = get(&backups, Some("test-key")).await;
        let list: Value = serde_json::from_str(&body).expect("json");
        (poll, list["backups"].as_array().map(Vec::len).unwrap_or(0))
    });
    signal(&p, libc::SIGTERM);
    assert_eq!(wait_exit(&mut p, Duration::from_secs(10)).code(), Some(0));
    out
}

#[test]
fn state_file_survives_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("sim-state.json");
    let (poll1, n1) = state_round(&state);
    assert_eq!(n1, 1);
    assert!(state.exists());
    let (_, n2) = state_round(&state);
    assert_eq!(n2, 2, "the first run's backup survived");
    // The first run's job is still known after the restarts.
    let arg = state.display().to_string();
    let (p, _) = spawn(&["--state-file", &arg]);
    let (status, body, _) = rt().block_on(get(&format!("{}{poll1}", p.url), Some("test-key")));
    assert_eq!(status, 200, "{body}");
}

#[test]
fn cli_job_faults_faults_file_latency_and_modes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let faults = dir.path().join("faults.json");
    std::fs::write(
        &faults,
        json!({"rules": [{"kind": "truncate", "count": 1, "route": "/api/v2/vps/{id}"}]})
            .to_string(),
    )
    .expect("write");
    let faults_arg = faults.display().to_string();
    let (p, _) = spawn(&[
        "--faults",
        &faults_arg,
        "--latency-ms",
        "120",
        "--fail-next-jobs",
        "1",
        "--fail-message",
        "Disk on fire",
        "--job-duration",
        "0s",
        "--job-shape",
        "bare",
        "--snapshot-delete",
        "sync",
    ]);
    rt().block_on(async {
        let vps = format!("{}/api/v2/vps/{VPS_PAYG}", p.url);
        let (status, body, _) = get(&vps, Some("test-key")).await;
        assert_eq!(status, 200);
        assert!(serde_json::from_str::<Value>(&body).is_err(), "truncated");
        let (_, body, _) = get(&vps, Some("test-key")).await;
        assert!(serde_json::from_str::<Value>(&body).is_ok());

        let op = post(&format!("{vps}/backups"), "test-key").await;
        let poll = op["operation"]["pollUrl"]
            .as_str()
            .expect("pollUrl")
            .to_string();
        let (_, body, _) = get(&format!("{}{poll}", p.url), Some("test-key")).await;
        let job: Value = serde_json::from_str(&body).expect("json");
        assert_eq!(job["status"], "failed", "bare shape: {job}");
        assert_eq!(job["failedReason"], "Disk on fire");

        let r = client()
            .delete(format!(
                "{}/api/v2/vps/vps_01hxa3b4c5d6e7f8g9h0j1k2m3/snapshots/before-upgrade",
                p.url
            ))
            .bearer_auth("test-key")
            .send()
            .await
            .expect("DELETE");
        assert_eq!(r.status().as_u16(), 204);

        let (_, body, _) = get(&format!("{}/_sim/requests", p.url), None).await;
        let log: Value = serde_json::from_str(&body).expect("json");
        let entries = log["requests"].as_array().expect("requests");
        assert_eq!(entries.len(), 5);
        assert_eq!(entries[0]["fault"], "truncate");
        for e in entries {
            assert!(e["durationMs"].as_u64().is_some_and(|d| d >= 120), "{e}");
        }
    });
}

#[test]
fn cli_fact_switches_and_busy_codes() {
    let (p, _) = spawn(&[
        "--job-initial-status",
        "pending",
        "--gate-code-key",
        "omit",
        "--snapshot-visibility",
        "immediate",
        "--job-types",
        "legacy",
        "--vm-id",
        "numeric",
        "--has-more",
        "false",
        "--job-duration",
        "10m",
        "--fault",
        "busy:vps_not_ready,count=1,method=POST",
    ]);
    rt().block_on(async {
        let (_, body, _) = get(&format!("{}/_sim/config", p.url), None).await;
        let c: Value = serde_json::from_str(&body).expect("json");
        for (k, v) in [
            ("jobInitialStatus", json!("pending")),
            ("gateCodeKey", json!("omit")),
            ("snapshotVisibility", json!("immediate")),
            ("jobTypes", json!("legacy")),
            ("vmId", json!("numeric")),
            ("hasMore", json!(false)),
        ] {
            assert_eq!(c[k], v, "{k}: {c}");
        }
        let (_, body, _) = get(&format!("{}/api/v2/vps?limit=1", p.url), Some("test-key")).await;
        let list: Value = serde_json::from_str(&body).expect("json");
        assert!(list.get("hasMore").is_none(), "{list}");

        let snaps = format!("{}/api/v2/vps/{VPS_PAYG}/snapshots", p.url);
        let (_, body, _) = get(&snaps, Some("test-key")).await;
        let v: Value = serde_json::from_str(&body).expect("json");
        assert_eq!(
            v["actions"]["canCreate"],
            json!({"allowed": true, "reason": null})
        );
        // The busy fault answers the first POST with vps_not_ready.
        let r = client()
            .post(&snaps)
            .bearer_auth("test-key")
            .json(&json!({"name": "cli"}))
            .send()
            .await
            .expect("POST");
        assert_eq!(r.status().as_u16(), 409);
        let problem: Value = r.json().await.expect("json");
        assert_eq!(problem["code"], "vps_not_ready");
        let r = client()
            .post(&snaps)
            .bearer_auth("test-key")
            .json(&json!({"name": "cli"}))
            .send()
            .await
            .expect("POST");
        assert_eq!(r.status().as_u16(), 202);
        let op: Value = r.json().await.expect("json");
        assert_eq!(op["operation"]["status"], "pending");
        let (_, body, _) = get(&snaps, Some("test-key")).await;
        let v: Value = serde_json::from_str(&body).expect("json");
        assert_eq!(v["data"][0]["name"], "cli");
        assert_eq!(v["data"][0]["createdAt"], Value::Null);
        let poll = op["operation"]["pollUrl"].as_str().expect("pollUrl");
        let (_, body, _) = get(&format!("{}{poll}", p.url), Some("test-key")).await;
        let job: Value = serde_json::from_str(&body).expect("json");
        assert_eq!(job["data"]["type"], "snapshot_create");
        assert!(job["data"]["vmId"]
            .as_str()
            .is_some_and(|v| v.parse::<u32>().is_ok()));
    });
}
