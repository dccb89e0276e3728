//! The provider driven by the real `terraform` CLI: validate, plan and schema through
//! dev_overrides, and through debug mode (`-debug` + TF_REATTACH_PROVIDERS); the provider
//! block's errors (missing, empty or unauthorised key, insecure or malformed endpoint, from the
//! block or the environment), each pointing at the attribute. Also checks that the API key never
//! shows in Terraform's output or its trace logs.
//!
//! Every external process runs under a bounded deadline and is killed when it passes it.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use hostup_provider::sim::fixture::VPS_APP;
use support::{Sim, Tf, TfOutput};

const BIN: &str = env!("CARGO_BIN_EXE_terraform-provider-hostup");
/// A key that must never be printed; unique so a match cannot be a coincidence.
const SECRET: &str = "hk_test_e2e_5b1f0c9a7d3e4f21";

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
    let mut wd = Tf::new(&config("http://127.0.0.1:9"));

    let v = wd.ok(&["validate"]);
    assert!(v.stdout.contains("configuration is valid"), "{}", v.all());
    assert_no_secret("validate output", &v.all());

    let log = wd.dir.path().join("trace.log");
    let log_str = log.to_str().expect("utf-8 temp path");
    wd.env("TF_LOG", "trace").env("TF_LOG_PATH", log_str);
    let p = wd.ok(&["plan", "-input=false"]);
    assert!(p.stdout.contains("No changes"), "{}", p.all());
    assert_no_secret("plan output", &p.all());
    let trace = std::fs::read_to_string(&log).expect("TF_LOG_PATH file written");
    assert!(
        trace.contains("terraform-provider-hostup"),
        "the trace log should show the provider being launched"
    );
    assert_no_secret("TF_LOG=trace logs", &trace);

    let s = wd.ok(&["providers", "schema", "-json"]);
    assert_api_key_sensitive(&s);
}

/// `terraform providers schema -json` shows our provider block with `api_key` sensitive.
fn assert_api_key_sensitive(s: &TfOutput) {
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

/// Each `terraform validate`, `plan` and `apply` asks the provider for its schema once, however
/// many provider processes it starts, because the provider declares
/// `ServerCapabilities.get_provider_schema_optional`. In Terraform 1.11.4 the first process's
/// answer fills a cache global to the Terraform process (internal/plugin/grpc_provider.go
/// l.164-170, `providers.SchemaCache.Set`; internal/providers/schema_cache.go), and every later
/// process of the command is answered from that cache instead of being sent GetSchema
/// (grpc_provider.go l.83-92), which Terraform trusts only when the capability is set. Without
/// it every process gets its own GetSchema: 2 per validate, 3 per plan, 4 per apply. The number
/// of processes does not change: the schema loader already starts none once the cache is
/// filled (internal/schemarepo/loadschemas/plugins.go l.107-111), and each graph walk still
/// starts its own.
///
/// Counted in the provider's own trace log (one `tf_rpc=…` line per RPC, one "plugin server
/// listening" line per process), which Terraform writes to TF_LOG_PATH under TF_LOG_PROVIDER.
#[test]
fn each_command_asks_for_the_schema_once() {
    let sim = Sim::start(&["--job-duration", "0s"]);
    let mut wd = Tf::new(&format!(
        "{}\nresource \"hostup_vps_backup\" \"b\" {{\n  vps_id = \"{VPS_APP}\"\n}}\n",
        support::provider_block(&sim.url, support::KEY)
    ));
    let log = wd.dir.path().join("provider.log");
    let log_str = log.to_str().expect("utf-8 temp path").to_owned();
    wd.env("TF_LOG_PROVIDER", "trace")
        .env("TF_LOG_PATH", &log_str);
    // (processes launched, GetSchema calls) per command.
    let mut seen = Vec::new();
    for args in [
        &["validate"][..],
        &["plan", "-input=false"][..],
        &["apply", "-auto-approve", "-input=false"][..],
    ] {
        let _ = std::fs::remove_file(&log);
        wd.ok(args);
        let text = std::fs::read_to_string(&log).expect("TF_LOG_PATH file written");
        let count = |needle: &str| text.lines().filter(|l| l.contains(needle)).count();
        // Every RPC is logged the same way: that is what makes the GetSchema count real.
        assert!(
            count("tf_rpc=ValidateResourceTypeConfig") >= 1,
            "{args:?}: no RPC logged:\n{text}"
        );
        seen.push((
            count("provider.terraform-provider-hostup: plugin server listening"),
            count("tf_rpc=GetSchema"),
        ));
    }
    assert_eq!(
        seen,
        [(2, 1), (3, 1), (4, 1)],
        "(processes, GetSchema calls) of validate, plan, apply"
    );
    assert!(
        !wd.instance("hostup_vps_backup", "b").is_null(),
        "the apply worked"
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

    let mut wd = Tf::new(&config("http://127.0.0.1:9"));
    wd.env("TF_REATTACH_PROVIDERS", &reattach);
    wd.ok(&["validate"]);
    let p = wd.ok(&["plan", "-input=false"]);
    assert!(p.stdout.contains("No changes"), "{}", p.all());
    assert_no_secret("plan output", &p.all());

    let sch = wd.ok(&["providers", "schema", "-json"]);
    assert_api_key_sensitive(&sch);

    // The same long-lived process serves a second run.
    let mut wd = Tf::new(&config("http://127.0.0.1:10"));
    wd.env("TF_REATTACH_PROVIDERS", &reattach);
    wd.ok(&["validate"]);
    drop(provider);
}

/// A configuration whose data source makes Terraform configure the provider.
fn with_lookup(provider: &str) -> String {
    format!(
        r#"terraform {{
  required_providers {{
    hostup = {{ source = "hostup/hostup" }}
  }}
}}

provider "hostup" {{
{provider}
}}

data "hostup_vps" "app" {{
  id = "{VPS_APP}"
}}

output "name" {{
  value = data.hostup_vps.app.name
}}
"#
    )
}

/// Terraform printed an error with `summary`, located at the provider block's `attr` line.
fn assert_error_at(out: &TfOutput, summary: &str, attr: &str) {
    let all = out.all();
    assert!(
        all.contains(&format!("Error: {summary}")),
        "expected error {summary:?}:\n{all}"
    );
    assert!(
        all.contains("in provider \"hostup\"") && all.contains(&format!("{attr} ")),
        "the error should point at `{attr}` in the provider block:\n{all}"
    );
    assert!(!all.contains("panic"), "{all}");
}

#[test]
fn insecure_or_malformed_endpoint_fails_validate_at_the_attribute() {
    let wd = Tf::new(&with_lookup(&format!(
        "  api_key  = \"{SECRET}\"\n  endpoint = \"http://cloud.example.com\""
    )));
    let out = wd.fails(&["validate"]);
    assert_error_at(&out, "Insecure endpoint", "endpoint");
    assert!(out.all().contains("loopback"), "{}", out.all());
    assert_no_secret("validate output", &out.all());

    wd.write_config(&with_lookup(
        "  api_key  = \"k\"\n  endpoint = \"ftp://cloud.example.com\"",
    ));
    let out = wd.fails(&["validate"]);
    assert_error_at(&out, "Invalid endpoint", "endpoint");
}

/// `api_key = ""` and `endpoint = ""` (a variable defaulting to "") are unset: the
/// environment supplies them, and without it the error names both places.
#[test]
fn empty_api_key_and_endpoint_are_unset_and_a_missing_key_names_the_variable() {
    let sim = Sim::start(&[]);
    let mut wd = Tf::new(&with_lookup("  api_key  = \"\"\n  endpoint = \"\""));
    wd.ok(&["validate"]);
    wd.env("HOSTUP_API_KEY", support::KEY)
        .env("HOSTUP_ENDPOINT", &sim.url);
    let out = wd.ok(&["plan"]);
    assert!(out.stdout.contains("app-01"), "{}", out.all());

    let wd = Tf::new(&with_lookup(&format!(
        "  api_key  = \"\"\n  endpoint = \"{}\"",
        sim.url
    )));
    let out = wd.fails(&["plan"]);
    let all = out.all();
    assert!(all.contains("Error: Missing HostUp API key"), "{all}");
    assert!(all.contains("HOSTUP_API_KEY"), "{all}");
    assert_eq!(sim.mutations(), 0);
}

/// When HostUp cannot be reached, the advice names where this run's endpoint came from: the
/// provider block, or HOSTUP_ENDPOINT; never the one the user did not set. Said in words of
/// our own, not the network library's.
#[test]
fn connection_advice_names_where_the_endpoint_came_from() {
    let closed = "http://127.0.0.1:1";
    let wd = Tf::new(&with_lookup(&format!(
        "  api_key  = \"k\"\n  endpoint = \"{closed}\""
    )));
    let out = wd.fails(&["plan", "-no-color"]);
    let all = out.all().split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(all.contains("the connection was refused"), "{all}");
    assert!(all.contains("`endpoint` argument"), "{all}");
    for internal in [
        "HOSTUP_ENDPOINT",
        "os error",
        "client error (",
        "tcp connect",
    ] {
        assert!(!all.contains(internal), "{internal}: {all}");
    }

    let mut wd = Tf::new(&with_lookup("  api_key  = \"k\""));
    wd.env("HOSTUP_ENDPOINT", closed);
    let out = wd.fails(&["plan", "-no-color"]);
    let all = out.all().split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(all.contains("the connection was refused"), "{all}");
    assert!(
        all.contains("comes from the HOSTUP_ENDPOINT environment variable"),
        "{all}"
    );
    assert!(!all.contains("`endpoint` argument"), "{all}");
}

/// A `vps_id` that is certainly not one (blank, padded, an IP, a name) fails `terraform
/// validate` at `vps_id`, offline; an unusual `vps_…` form only warns.
#[test]
fn vps_ids_not_of_hostups_form_fail_validate() {
    let config = |vps: &str| {
        format!(
            "{}\nresource \"hostup_vps_backup\" \"b\" {{\n  vps_id = {vps}\n}}\n",
            with_lookup("  api_key  = \"k\"\n  endpoint = \"http://127.0.0.1:1\"")
        )
    };
    for (vps, summary) in [
        ("\"\"", "Empty vps_id"),
        (
            "\" vps_01hxa3b4c5d6e7f8g9h0j1k2m3\\n\"",
            "vps_id has surrounding whitespace",
        ),
        ("\"192.0.2.10\"", "vps_id is an IP address"),
        ("\"app-01\"", "vps_id is not a HostUp VPS id"),
    ] {
        let wd = Tf::new(&config(vps));
        let out = wd.fails(&["validate", "-no-color"]);
        let all = out.all();
        assert!(all.contains(&format!("Error: {summary}")), "{vps}: {all}");
        assert!(all.contains("vps_id = "), "points at vps_id: {all}");
    }
    let wd = Tf::new(&config("\"vps_APP\""));
    let out = wd.ok(&["validate", "-no-color"]);
    assert!(
        out.all()
            .contains("Warning: vps_id \"vps_APP\" does not have the usual form"),
        "{}",
        out.all()
    );
}

/// A host and port without their scheme, and a bare path, fail `terraform validate` at
/// `endpoint` with the fix, not a parser's words.
#[test]
fn an_endpoint_without_scheme_or_a_bare_path_says_how_to_write_it() {
    for (endpoint, needle) in [
        ("localhost:8080", "http://localhost:8080"),
        ("127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("/foo", "https://cloud.hostup.se"),
    ] {
        let wd = Tf::new(&with_lookup(&format!(
            "  api_key  = \"k\"\n  endpoint = \"{endpoint}\""
        )));
        let out = wd.fails(&["validate"]);
        assert_error_at(&out, "Invalid endpoint", "endpoint");
        let all = out.all();
        assert!(all.contains(needle), "{endpoint}: {all}");
        for jargon in ["relative URL", "scheme \"localhost\""] {
            assert!(!all.contains(jargon), "{endpoint}: {all}");
        }
    }
}

#[test]
fn environment_supplies_key_and_endpoint_and_its_errors_name_the_variable() {
    let sim = Sim::start(&[]);
    let mut wd = Tf::new(&with_lookup(""));
    wd.env("HOSTUP_API_KEY", support::KEY)
        .env("HOSTUP_ENDPOINT", &sim.url);
    let out = wd.ok(&["plan"]);
    assert!(out.stdout.contains("app-01"), "{}", out.all());

    let mut wd = Tf::new(&with_lookup(""));
    wd.env("HOSTUP_API_KEY", support::KEY)
        .env("HOSTUP_ENDPOINT", "http://cloud.example.com");
    let out = wd.fails(&["plan"]);
    let all = out.all();
    assert!(all.contains("Error: Insecure endpoint"), "{all}");
    assert!(all.contains("HOSTUP_ENDPOINT"), "{all}");
}

#[test]
fn unknown_key_is_refused_with_a_hint_and_never_printed() {
    let sim = Sim::start(&[]);
    let mut wd = Tf::new(&with_lookup(&format!(
        "  api_key  = \"{SECRET}\"\n  endpoint = \"{}\"",
        sim.url
    )));
    let log = wd.dir.path().join("trace.log");
    let log_str = log.to_str().expect("utf-8 temp path");
    wd.env("TF_LOG", "trace").env("TF_LOG_PATH", log_str);
    let out = wd.fails(&["plan"]);
    let all = out.all();
    assert!(all.contains("401") || all.contains("nauthori"), "{all}");
    assert!(
        all.contains("API key"),
        "the hint should say what to fix:\n{all}"
    );
    assert_no_secret("plan output", &all);
    let trace = std::fs::read_to_string(&log).expect("TF_LOG_PATH file written");
    assert_no_secret("TF_LOG=trace logs", &trace);
}
