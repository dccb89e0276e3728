//! The value codec and the server against the real `terraform` CLI, with a toy provider served
//! from this test process through TF_REATTACH_PROVIDERS (plaintext h2c, as debug mode does).
//!
//! The hostup provider has no resources yet, so Terraform prunes it before Configure and never
//! sends it a value; this toy provider makes Terraform exercise every value path instead:
//! PrepareProviderConfig, Configure, Validate*, PlanResourceChange, ApplyResourceChange,
//! ReadDataSource deferred to apply, and — on the second plan — UpgradeResourceState from the
//! JSON state Terraform itself wrote, then ReadResource. Values cover big and fractional
//! numbers, maps, sets, a LIST block, a `dynamic` attribute and unknowns at plan time.

mod support;

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use hostup_provider::plugin::diag::AttributePath;
use hostup_provider::plugin::framework::{
    ConfigureRequest, ConfigureResponse, CreateRequest, CreateResponse, Ctx, DataSource,
    DeleteRequest, DeleteResponse, Provider, ReadDataSourceRequest, ReadDataSourceResponse,
    ReadRequest, ReadResponse, Resource,
};
use hostup_provider::plugin::proto::tfplugin5::provider_server::ProviderServer;
use hostup_provider::plugin::rpc::ProviderService;
use hostup_provider::plugin::schema::{Attribute, Block, NestedBlock, Schema};
use hostup_provider::plugin::value::{from_value, to_value, Type};

use support::TF_DEADLINE;

/// Creates of `name = "slow"` that have started waiting (they end only when cancelled).
static SLOW_STARTED: AtomicUsize = AtomicUsize::new(0);

struct Toy;

/// What configure produces: the provider block's `prefix`.
struct ToyData {
    prefix: String,
}

#[async_trait]
impl Provider for Toy {
    type Data = ToyData;

    fn type_name_prefix(&self) -> &str {
        "toy"
    }

    fn schema(&self) -> Schema {
        Schema::new(
            Block::new().attribute(
                Attribute::string("prefix")
                    .optional()
                    .description("Prepended to echoes."),
            ),
        )
    }

    async fn configure(
        &self,
        _ctx: &Ctx,
        req: ConfigureRequest,
        resp: &mut ConfigureResponse<ToyData>,
    ) {
        #[derive(serde::Deserialize)]
        struct Config {
            prefix: Option<String>,
        }
        match from_value::<Config>(req.config.value()) {
            Ok(c) => {
                resp.data = Some(ToyData {
                    prefix: c.prefix.unwrap_or_default(),
                })
            }
            Err(e) => {
                resp.diagnostics.error("Bad provider config", e.to_string());
            }
        }
    }

    fn resources(&self) -> Vec<Arc<dyn Resource<ToyData>>> {
        vec![Arc::new(Item)]
    }

    fn data_sources(&self) -> Vec<Arc<dyn DataSource<ToyData>>> {
        vec![Arc::new(Info)]
    }
}

struct Item;

#[async_trait]
impl Resource<ToyData> for Item {
    fn type_name(&self) -> &str {
        "toy_item"
    }

    fn schema(&self) -> Schema {
        Schema::new(
            Block::new()
                .attribute(Attribute::string("id").computed().description("Id."))
                .attribute(
                    Attribute::string("name")
                        .required()
                        .requires_replace()
                        .description("Name."),
                )
                .attribute(Attribute::number("size").optional().description("Size."))
                .attribute(Attribute::number("ratio").optional().description("Ratio."))
                .attribute(
                    Attribute::map("tags", Type::String)
                        .optional()
                        .description("Tags."),
                )
                .attribute(
                    Attribute::set("labels", Type::String)
                        .optional()
                        .description("Labels."),
                )
                .attribute(
                    Attribute::new("anything", Type::Dynamic)
                        .optional()
                        .description("Any value."),
                )
                .attribute(Attribute::string("echo").computed().description("Echo."))
                .block(NestedBlock::list(
                    "rule",
                    Block::new()
                        .description("Rules.")
                        .attribute(Attribute::number("port").required().description("Port."))
                        .attribute(Attribute::string("proto").optional().description("Proto.")),
                )),
        )
    }

    async fn create(&self, ctx: &Ctx, req: CreateRequest<ToyData>, resp: &mut CreateResponse) {
        let Some(data) = req.provider.require(&mut resp.diagnostics) else {
            return;
        };
        let name = req
            .planned_state
            .string("name")
            .unwrap_or_default()
            .to_owned();
        let mut state = req.planned_state.clone();
        state.set_attr("id", format!("item-{name}"));
        state.set_attr("echo", format!("{}{name}", data.prefix));
        resp.state = state;
        if name == "slow" {
            // The id is in the state already; wait like a job wait does, until Stop.
            SLOW_STARTED.fetch_add(1, Ordering::SeqCst);
            let why = ctx.cancelled().await;
            resp.diagnostics.error(
                "Item not finished",
                format!("item-{name} may still be running: {why}"),
            );
        }
    }

    async fn read(&self, _ctx: &Ctx, _req: ReadRequest<ToyData>, _resp: &mut ReadResponse) {}

    async fn delete(&self, _ctx: &Ctx, _req: DeleteRequest<ToyData>, _resp: &mut DeleteResponse) {}
}

struct Info;

#[async_trait]
impl DataSource<ToyData> for Info {
    fn type_name(&self) -> &str {
        "toy_info"
    }

    fn schema(&self) -> Schema {
        Schema::new(
            Block::new()
                .attribute(Attribute::string("key").required().description("Key."))
                .attribute(Attribute::string("upper").computed().description("Upper."))
                .attribute(
                    Attribute::number("length")
                        .computed()
                        .description("Length."),
                ),
        )
    }

    async fn read(
        &self,
        _ctx: &Ctx,
        req: ReadDataSourceRequest<ToyData>,
        resp: &mut ReadDataSourceResponse,
    ) {
        #[derive(serde::Serialize, serde::Deserialize)]
        struct Data {
            key: String,
            upper: Option<String>,
            length: Option<u64>,
        }
        let mut d: Data = match from_value(req.config.value()) {
            Ok(d) => d,
            Err(e) => {
                resp.diagnostics
                    .error("Bad config", e.to_string())
                    .at(AttributePath::root("key"));
                return;
            }
        };
        d.upper = Some(d.key.to_uppercase());
        d.length = Some(d.key.len() as u64);
        match to_value(&d, resp.state.ty()) {
            Ok(v) => {
                resp.state.set_value(v);
            }
            Err(e) => {
                resp.diagnostics.error("Bad state", e.to_string());
            }
        }
    }
}

/// The toy provider served on 127.0.0.1 from this process; the TF_REATTACH_PROVIDERS value.
fn serve_toy(rt: &tokio::runtime::Runtime) -> String {
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let svc = ProviderServer::new(ProviderService::new(Toy));
    rt.spawn(async move {
        let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
        let _ = tonic::transport::Server::builder()
            .add_service(svc)
            .serve_with_incoming(incoming)
            .await;
    });
    serde_json::json!({
        "registry.terraform.io/example/toy": {
            "Protocol": "grpc",
            "ProtocolVersion": 5,
            "Pid": std::process::id(),
            "Test": true,
            "Addr": {"Network": "tcp", "String": addr.to_string()},
        }
    })
    .to_string()
}

/// What a terraform run printed (the shared harness's type).
type Out = support::TfOutput;

fn terraform(dir: &Path, reattach: &str, args: &[&str]) -> Out {
    let child = spawn_terraform(dir, reattach, args);
    wait_terraform(child, args)
}

fn spawn_terraform(dir: &Path, reattach: &str, args: &[&str]) -> std::process::Child {
    let cli_config = dir.join("cli.tfrc");
    if !cli_config.exists() {
        std::fs::write(&cli_config, "").expect("write cli config");
    }
    Command::new("terraform")
        .args(args)
        .current_dir(dir)
        .env("TF_CLI_CONFIG_FILE", &cli_config)
        .env("TF_REATTACH_PROVIDERS", reattach)
        .env("CHECKPOINT_DISABLE", "1")
        .env("TF_IN_AUTOMATION", "1")
        .env("TF_INPUT", "0")
        .env_remove("TF_LOG")
        .env_remove("TF_LOG_PATH")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("`terraform` must be on PATH for the end-to-end tests")
}

fn wait_terraform(child: std::process::Child, _args: &[&str]) -> Out {
    support::finish(child, TF_DEADLINE)
}

const CONFIG: &str = r#"
terraform {
  required_providers {
    toy = { source = "example/toy" }
  }
}

provider "toy" {
  prefix = "p-"
}

resource "toy_item" "a" {
  name     = "alpha"
  size     = 12345678901234567890123
  ratio    = 0.1
  tags     = { env = "prod", "with space" = "x" }
  labels   = ["b", "a"]
  anything = { list = [1, "two", true], nested = { k = "v" } }

  rule {
    port = 22
  }
  rule {
    port  = 443
    proto = "tcp"
  }
}

data "toy_info" "i" {
  key = toy_item.a.id
}

output "echo" {
  value = toy_item.a.echo
}

output "upper" {
  value = data.toy_info.i.upper
}

output "length" {
  value = data.toy_info.i.length
}

output "anything" {
  value = toy_item.a.anything
}
"#;

#[test]
fn terraform_drives_every_value_path_of_a_toy_provider() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let reattach = serve_toy(&rt);
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("main.tf"), CONFIG).expect("main.tf");

    let v = terraform(dir.path(), &reattach, &["validate", "-no-color"]);
    assert_eq!(v.code, Some(0), "validate\n{}", v.all());

    // Plan: computed values unknown, data source deferred to apply.
    let p = terraform(
        dir.path(),
        &reattach,
        &["plan", "-no-color", "-input=false"],
    );
    assert_eq!(p.code, Some(0), "plan\n{}", p.all());
    assert!(p.stdout.contains("1 to add"), "{}", p.all());
    assert!(p.stdout.contains("(known after apply)"), "{}", p.all());

    let a = terraform(
        dir.path(),
        &reattach,
        &["apply", "-auto-approve", "-no-color", "-input=false"],
    );
    assert_eq!(a.code, Some(0), "apply\n{}", a.all());

    let o = terraform(dir.path(), &reattach, &["output", "-json"]);
    assert_eq!(o.code, Some(0), "output\n{}", o.all());
    let outputs: serde_json::Value = serde_json::from_str(&o.stdout).expect("output JSON");
    assert_eq!(outputs["echo"]["value"], "p-alpha", "{outputs:#}");
    assert_eq!(outputs["upper"]["value"], "ITEM-ALPHA", "{outputs:#}");
    assert_eq!(outputs["length"]["value"], 10, "{outputs:#}");
    assert_eq!(
        outputs["anything"]["value"],
        serde_json::json!({"list": [1, "two", true], "nested": {"k": "v"}}),
        "{outputs:#}"
    );

    // The state Terraform wrote from our msgpack keeps every number exactly.
    let state = std::fs::read_to_string(dir.path().join("terraform.tfstate")).expect("state");
    assert!(
        state.contains("12345678901234567890123"),
        "big integer lost:\n{state}"
    );
    assert!(state.contains("\"ratio\": 0.1,"), "0.1 not exact:\n{state}");

    // A second plan: UpgradeResourceState from that JSON state, ReadResource, then a plan
    // that must find nothing to change (any codec drift would show as a diff here).
    let p = terraform(
        dir.path(),
        &reattach,
        &["plan", "-no-color", "-input=false", "-detailed-exitcode"],
    );
    assert_eq!(p.code, Some(0), "second plan should be empty\n{}", p.all());
    assert!(p.stdout.contains("No changes"), "{}", p.all());

    // Changing a requires_replace argument plans a replacement.
    std::fs::write(
        dir.path().join("main.tf"),
        CONFIG.replace("name     = \"alpha\"", "name     = \"beta\""),
    )
    .expect("main.tf");
    let p = terraform(
        dir.path(),
        &reattach,
        &["plan", "-no-color", "-input=false", "-detailed-exitcode"],
    );
    assert_eq!(p.code, Some(2), "replacement plan\n{}", p.all());
    assert!(p.stdout.contains("must be replaced"), "{}", p.all());

    let d = terraform(
        dir.path(),
        &reattach,
        &["destroy", "-auto-approve", "-no-color", "-input=false"],
    );
    assert_eq!(d.code, Some(0), "destroy\n{}", d.all());
    assert!(d.stdout.contains("1 destroyed"), "{}", d.all());
}

#[test]
fn ctrl_c_during_apply_reaches_the_provider_as_stop() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let reattach = serve_toy(&rt);
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("main.tf"),
        r#"
terraform {
  required_providers {
    toy = { source = "example/toy" }
  }
}

resource "toy_item" "slow" {
  name = "slow"
}
"#,
    )
    .expect("main.tf");
    let before = SLOW_STARTED.load(Ordering::SeqCst);
    let child = spawn_terraform(
        dir.path(),
        &reattach,
        &["apply", "-auto-approve", "-no-color", "-input=false"],
    );
    // Wait (bounded) until the create is blocked inside the provider, then press Ctrl-C.
    let deadline = Instant::now() + TF_DEADLINE;
    while SLOW_STARTED.load(Ordering::SeqCst) == before {
        assert!(Instant::now() < deadline, "the create never started");
        std::thread::sleep(Duration::from_millis(10));
    }
    let pid = libc::pid_t::try_from(child.id()).expect("pid fits");
    // SAFETY: sending a signal to our own child process, which is still running (it cannot
    // finish before the create we are holding ends).
    let rc = unsafe { libc::kill(pid, libc::SIGINT) };
    assert_eq!(rc, 0, "kill(SIGINT)");
    let out = wait_terraform(child, &["apply"]);
    assert_ne!(
        out.code,
        Some(0),
        "apply should fail after Ctrl-C\n{}",
        out.all()
    );
    // Terraform reports the halt itself (it does not show the provider's diagnostics after
    // an interrupt); that it exits at all shows Stop reached the create: the create only
    // ends when its context is cancelled.
    assert!(
        out.stderr.contains("execution halted") || out.stdout.contains("Stopping operation"),
        "{}",
        out.all()
    );
    // The id saved before the wait is in state, tainted: nothing is orphaned.
    let state = std::fs::read_to_string(dir.path().join("terraform.tfstate")).expect("state");
    assert!(state.contains("item-slow"), "{state}");
    assert!(state.contains("\"status\": \"tainted\""), "{state}");
}
