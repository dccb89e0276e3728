//! Terraform actions (Terraform 1.14 and later) at the protocol level: no Terraform that runs
//! actions can be installed here, so these tests replay what Terraform's client sends, in its
//! order, and check what it checks (../docs/ARCHITECTURE.md, "Actions").
//!
//! What is replayed, from Terraform v1.15.9:
//! - the schema: GetProviderSchema's `action_schemas` (internal/plugin/grpc_provider.go
//!   l.176-178, `convert.ProtoToActionSchema`), after which Terraform 1.12+ asks
//!   GetResourceIdentitySchemas (l.133);
//! - the validate walk: ValidateActionConfig with the configuration as evaluated, unknowns
//!   included (internal/terraform/node_action_validate.go l.118-123; grpc_provider.go
//!   l.1595-1630);
//! - the plan walk: PlanAction with the configuration (node_action_trigger_instance_plan.go
//!   l.161 for an `action_trigger`, where values may still be unknown; node_action_invoke.go
//!   l.169-186 for `-invoke`, which refuses unknowns itself first); its error diagnostics stop
//!   the plan (grpc_provider.go l.1504-1517);
//! - the apply walk: InvokeAction with the wholly known configuration
//!   (node_action_trigger_instance_apply.go l.125-150), the stream read until it ends: Progress
//!   events to the UI, a Completed event's diagnostics to the apply (l.166-190;
//!   grpc_provider.go l.1555-1590). Ctrl-C reaches the provider as Stop, as for every RPC.

#[path = "plugin_client/mod.rs"]
mod plugin_client;

use hostup_provider::plugin::proto::tfplugin5 as pb;
use hostup_provider::plugin::value::{Type, Value};
use plugin_client::{block_type, bounded, dynamic, object, provider_schema, Plugin, Sim, DEADLINE};

const VPS_APP: &str = "vps_01hxa3b4c5d6e7f8g9h0j1k2m3";
/// db-01: its backup quota is used up (`canCreateBackup` closed, `backup_quota_exceeded`).
const VPS_FULL: &str = "vps_01hxa3b4c5d6e7f8g9h0j1k2m5";
const KEY: &str = "test-key";
const BACKUP: &str = "hostup_vps_backup";
const POST_BACKUP: &str = "POST /api/v2/vps/{id}/backups";
const LIST_BACKUPS: &str = "GET /api/v2/vps/{id}/backups";
/// The Terraform these tests stand in for.
const TERRAFORM: &str = "1.15.9";

/// The provider process with what GetProviderSchema announced.
struct Provider {
    plugin: Plugin,
    schema: pb::get_provider_schema::Response,
}

impl Provider {
    /// Launches the binary and asks for the schema, as Terraform does first in every process.
    async fn launch() -> Provider {
        let plugin = Plugin::launch(&[]).await;
        let schema = provider_schema(&plugin).await;
        Provider { plugin, schema }
    }

    fn action_type(&self, name: &str) -> Type {
        let s = self
            .schema
            .action_schemas
            .get(name)
            .unwrap_or_else(|| panic!("no action schema {name}"));
        block_type(
            s.schema
                .as_ref()
                .and_then(|s| s.block.as_ref())
                .expect("action schema has a block"),
        )
    }

    /// `set` as the msgpack Terraform sends for action `name` (everything else null).
    fn config(&self, name: &str, set: &[(&str, Value)]) -> Option<pb::DynamicValue> {
        let ty = self.action_type(name);
        dynamic(&object(&ty, set), &ty)
    }

    async fn configure(&self, endpoint: &str) {
        let ty = block_type(
            self.schema
                .provider
                .as_ref()
                .and_then(|s| s.block.as_ref())
                .expect("provider schema"),
        );
        let set = [("endpoint", endpoint.into()), ("api_key", KEY.into())];
        let config = dynamic(&object(&ty, &set), &ty);
        let d = bounded(
            "Configure",
            self.plugin.client().configure(pb::configure::Request {
                terraform_version: TERRAFORM.into(),
                config,
                client_capabilities: Some(capabilities()),
            }),
        )
        .await
        .expect("Configure answers")
        .into_inner()
        .diagnostics;
        assert!(errors(&d).is_empty(), "configure: {}", describe(&d));
    }

    async fn validate(&self, name: &str, set: &[(&str, Value)]) -> Vec<pb::Diagnostic> {
        bounded(
            "ValidateActionConfig",
            self.plugin
                .client()
                .validate_action_config(pb::validate_action_config::Request {
                    type_name: name.into(),
                    config: self.config(name, set),
                }),
        )
        .await
        .expect("ValidateActionConfig answers OK")
        .into_inner()
        .diagnostics
    }

    async fn plan(&self, name: &str, set: &[(&str, Value)]) -> pb::plan_action::Response {
        bounded(
            "PlanAction",
            self.plugin.client().plan_action(pb::plan_action::Request {
                action_type: name.into(),
                config: self.config(name, set),
                client_capabilities: Some(capabilities()),
            }),
        )
        .await
        .expect("PlanAction answers OK")
        .into_inner()
    }

    /// Starts InvokeAction; the stream is read with [`Events::next`].
    async fn invoke(&self, name: &str, set: &[(&str, Value)]) -> Events {
        let stream = bounded(
            "InvokeAction",
            self.plugin
                .client()
                .invoke_action(pb::invoke_action::Request {
                    action_type: name.into(),
                    config: self.config(name, set),
                    client_capabilities: Some(capabilities()),
                }),
        )
        .await
        .expect("InvokeAction starts its stream")
        .into_inner();
        Events { stream }
    }

    /// PlanResourceChange of a create of resource `type_name` with `set` (config = proposal),
    /// as Terraform plans a new instance.
    async fn plan_create(
        &self,
        type_name: &str,
        set: &[(&str, Value)],
    ) -> pb::plan_resource_change::Response {
        let block = self.schema.resource_schemas[type_name]
            .block
            .as_ref()
            .expect("resource block");
        let ty = block_type(block);
        let cfg = dynamic(&object(&ty, set), &ty);
        let null = Some(pb::DynamicValue {
            msgpack: vec![0xc0],
            json: Vec::new(),
        });
        bounded(
            "PlanResourceChange",
            self.plugin
                .client()
                .plan_resource_change(pb::plan_resource_change::Request {
                    type_name: type_name.into(),
                    prior_state: null,
                    proposed_new_state: cfg.clone(),
                    config: cfg,
                    ..Default::default()
                }),
        )
        .await
        .expect("PlanResourceChange")
        .into_inner()
    }

    async fn stop(&self) {
        let r = bounded("Stop", self.plugin.client().stop(pb::stop::Request {}))
            .await
            .expect("Stop answers");
        assert_eq!(r.into_inner().error, "");
    }
}

/// What Terraform 1.15 announces (internal/terraform/eval_context_builtin.go l.657-663:
/// write-only attributes always, deferral only when `-allow-deferral` is on, which it is not
/// here).
fn capabilities() -> pb::ClientCapabilities {
    pb::ClientCapabilities {
        deferral_allowed: false,
        write_only_attributes_allowed: true,
    }
}

/// An InvokeAction stream, read as Terraform reads it.
struct Events {
    stream: tonic::Streaming<pb::invoke_action::Event>,
}

/// One event, as Terraform tells them apart (grpc_provider.go l.1573-1588).
#[derive(Debug)]
enum Event {
    Progress(String),
    Completed(Vec<pb::Diagnostic>),
}

impl Events {
    /// The next event, `None` at the end of the stream; a gRPC error fails the test
    /// (Terraform would show it as a bare transport error).
    async fn next(&mut self) -> Option<Event> {
        use pb::invoke_action::event::Type as T;
        let ev = bounded("the next InvokeAction event", self.stream.message())
            .await
            .expect("the stream carries no gRPC error")?;
        match ev
            .r#type
            .expect("every event has its type set (Terraform panics otherwise)")
        {
            T::Progress(p) => Some(Event::Progress(p.message)),
            T::Completed(c) => Some(Event::Completed(c.diagnostics)),
        }
    }

    /// Every event to the end of the stream: the progress messages, then the diagnostics of
    /// the one Completed event, which must be the last.
    async fn all(&mut self) -> (Vec<String>, Vec<pb::Diagnostic>) {
        let mut progress = Vec::new();
        let mut completed = None;
        while let Some(ev) = self.next().await {
            assert!(completed.is_none(), "an event after Completed: {ev:?}");
            match ev {
                Event::Progress(m) => progress.push(m),
                Event::Completed(d) => completed = Some(d),
            }
        }
        (
            progress,
            completed.expect("the stream ends with a Completed event"),
        )
    }
}

fn errors(d: &[pb::Diagnostic]) -> Vec<&pb::Diagnostic> {
    d.iter().filter(|d| d.severity == 1).collect()
}

fn describe(d: &[pb::Diagnostic]) -> String {
    d.iter()
        .map(|d| format!("[{}] {}: {}", d.severity, d.summary, d.detail))
        .collect::<Vec<_>>()
        .join("\n")
}

fn attribute_of(d: &pb::Diagnostic) -> Option<String> {
    use pb::attribute_path::step::Selector;
    let steps = &d.attribute.as_ref()?.steps;
    match steps.first()?.selector.as_ref()? {
        Selector::AttributeName(n) => Some(n.clone()),
        _ => None,
    }
}

#[tokio::test]
async fn the_schema_announces_the_four_actions_with_arguments_only() {
    let p = Provider::launch().await;
    let mut names: Vec<_> = p.schema.action_schemas.keys().cloned().collect();
    names.sort();
    assert_eq!(
        names,
        [
            "hostup_vps_backup",
            "hostup_vps_backup_restore",
            "hostup_vps_snapshot",
            "hostup_vps_snapshot_restore"
        ]
    );
    for (name, s) in &p.schema.action_schemas {
        let block = s.schema.as_ref().and_then(|s| s.block.as_ref()).unwrap();
        assert!(!block.description.is_empty(), "{name} has a description");
        for a in &block.attributes {
            assert!(
                !a.computed,
                "{name}.{}: an action has nothing computed",
                a.name
            );
            assert!(a.required || a.optional, "{name}.{}", a.name);
            assert_ne!(a.name, "triggers", "{name}: actions run when invoked");
        }
        assert!(
            block.attributes.iter().any(|a| a.name == "timeout"),
            "{name} has a timeout argument"
        );
        assert!(block.block_types.is_empty(), "{name}: no timeouts block");
    }
    assert!(errors(&p.schema.diagnostics).is_empty());
    // GetMetadata lists them too (field 8, as Terraform's own proto numbers it).
    let m = bounded(
        "GetMetadata",
        p.plugin.client().get_metadata(pb::get_metadata::Request {}),
    )
    .await
    .expect("GetMetadata")
    .into_inner();
    let mut listed: Vec<_> = m.actions.into_iter().map(|a| a.type_name).collect();
    listed.sort();
    assert_eq!(listed, names);
}

/// ValidateActionConfig and PlanAction with unknown values (an `action_trigger` whose
/// configuration refers to a resource the plan creates) check what is known and send nothing
/// to HostUp for what is not.
#[tokio::test]
async fn validate_and_plan_tolerate_unknown_configuration() {
    let sim = Sim::start(&["--job-duration", "1s"]).await;
    let p = Provider::launch().await;
    let unknown = [("vps_id", Value::unknown()), ("note", Value::unknown())];
    let d = p.validate(BACKUP, &unknown).await;
    assert!(d.is_empty(), "{}", describe(&d));
    // A known bad value next to unknown ones is reported at its attribute.
    let d = p
        .validate(
            BACKUP,
            &[("vps_id", Value::unknown()), ("timeout", "soon".into())],
        )
        .await;
    assert_eq!(errors(&d).len(), 1, "{}", describe(&d));
    assert_eq!(attribute_of(&d[0]).as_deref(), Some("timeout"));
    let d = p.validate(BACKUP, &[("vps_id", "app-01".into())]).await;
    assert_eq!(errors(&d).len(), 1, "{}", describe(&d));
    assert_eq!(attribute_of(&d[0]).as_deref(), Some("vps_id"));

    p.configure(&sim.url).await;
    let r = p.plan(BACKUP, &unknown).await;
    assert!(r.diagnostics.is_empty(), "{}", describe(&r.diagnostics));
    assert!(r.deferred.is_none());
    assert_eq!(
        sim.count(LIST_BACKUPS).await,
        0,
        "nothing read for an unknown VPS"
    );
    // Known: the gate is read once, and is open.
    let r = p.plan(BACKUP, &[("vps_id", VPS_APP.into())]).await;
    assert!(r.diagnostics.is_empty(), "{}", describe(&r.diagnostics));
    assert_eq!(sim.count(LIST_BACKUPS).await, 1);
    assert_eq!(sim.count(POST_BACKUP).await, 0, "plan queues nothing");
}

/// A closed backup gate fails PlanAction with the diagnostic the resource's plan shows: the
/// same summary, attribute and detail, the way out of a blocked `terraform destroy` included
/// (the normal plan Terraform runs before a destroy plans the actions that pending changes
/// trigger: internal/terraform/context_plan.go of v1.15.9, l.561-588).
#[tokio::test]
async fn a_closed_gate_fails_plan_action_as_it_fails_the_resource_plan() {
    let sim = Sim::start(&["--job-duration", "1s"]).await;
    let p = Provider::launch().await;
    p.configure(&sim.url).await;
    let r = p.plan(BACKUP, &[("vps_id", VPS_FULL.into())]).await;
    let action_errors = errors(&r.diagnostics);
    assert_eq!(action_errors.len(), 1, "{}", describe(&r.diagnostics));
    let a = action_errors[0];
    assert!(a.detail.contains("backup_quota_exceeded"), "{}", a.detail);

    // The resource's plan of the same backup (PlanResourceChange for a create).
    let rr = p.plan_create(BACKUP, &[("vps_id", VPS_FULL.into())]).await;
    let resource_errors = errors(&rr.diagnostics);
    assert_eq!(resource_errors.len(), 1, "{}", describe(&rr.diagnostics));
    let r = resource_errors[0];
    assert_eq!(a.summary, r.summary);
    assert_eq!(attribute_of(a), attribute_of(r));
    assert_eq!(attribute_of(a).as_deref(), Some("vps_id"));
    assert_eq!(a.detail, r.detail);
    assert!(
        a.detail.contains("terraform destroy -refresh=false"),
        "{}",
        a.detail
    );
    assert_eq!(sim.count(POST_BACKUP).await, 0);
}

/// InvokeAction of a backup streams the job's progress, then one Completed event without
/// errors; HostUp got exactly one POST.
#[tokio::test]
async fn invoking_a_backup_streams_progress_and_completes_with_one_post() {
    let sim = Sim::start(&["--job-duration", "1s"]).await;
    let p = Provider::launch().await;
    p.configure(&sim.url).await;
    let set = [
        ("vps_id", VPS_APP.into()),
        ("note", "before upgrade".into()),
    ];
    let r = p.plan(BACKUP, &set).await;
    assert!(r.diagnostics.is_empty(), "{}", describe(&r.diagnostics));
    let (progress, completed) = p.invoke(BACKUP, &set).await.all().await;
    assert!(errors(&completed).is_empty(), "{}", describe(&completed));
    assert!(
        !progress.is_empty(),
        "at least one Progress before Completed"
    );
    assert!(
        progress[0].contains(VPS_APP) && progress[0].contains("job "),
        "the first progress names the VPS and the job: {progress:?}"
    );
    assert!(
        progress.iter().any(|m| m.contains("completed")),
        "the job's end is shown: {progress:?}"
    );
    assert_eq!(sim.count(POST_BACKUP).await, 1, "exactly one POST");
}

/// A job HostUp fails ends the stream with a Completed error that names the job.
#[tokio::test]
async fn a_failed_job_completes_with_an_error_naming_the_job() {
    let sim = Sim::start(&["--job-duration", "1s", "--fail-next-jobs", "1"]).await;
    let p = Provider::launch().await;
    p.configure(&sim.url).await;
    let (progress, completed) = p
        .invoke(BACKUP, &[("vps_id", VPS_APP.into())])
        .await
        .all()
        .await;
    let job = job_id_in(&progress);
    let e = errors(&completed);
    assert_eq!(e.len(), 1, "{}", describe(&completed));
    assert!(
        e[0].summary.contains(&job),
        "names job {job}: {}",
        e[0].summary
    );
    assert!(e[0].summary.contains("failed"), "{}", e[0].summary);
    assert!(
        e[0].detail.contains("-invoke=action.hostup_vps_backup"),
        "the next step is worded for an action: {}",
        e[0].detail
    );
    assert!(!e[0].detail.contains("tainted"), "{}", e[0].detail);
    assert_eq!(sim.count(POST_BACKUP).await, 1);
}

/// Stop (Ctrl-C) while the job runs ends the stream with a Completed error that names the
/// job and says it may still be running.
#[tokio::test]
async fn stop_ends_the_stream_with_an_error_naming_the_job() {
    let sim = Sim::start(&["--job-duration", "1h"]).await;
    let mut p = Provider::launch().await;
    p.configure(&sim.url).await;
    let mut events = p.invoke(BACKUP, &[("vps_id", VPS_APP.into())]).await;
    // The first progress event says HostUp accepted the job: the action is now waiting.
    let first = match events.next().await {
        Some(Event::Progress(m)) => m,
        other => panic!("expected the job's first progress, got {other:?}"),
    };
    let job = job_id_in(std::slice::from_ref(&first));
    p.stop().await;
    // Bounded by DEADLINE: the wait ends on Stop, not when the hour-long job does.
    let (_, completed) = tokio::time::timeout(DEADLINE, events.all())
        .await
        .expect("HANG: the stream did not end after Stop");
    let e = errors(&completed);
    assert_eq!(e.len(), 1, "{}", describe(&completed));
    assert!(
        e[0].summary.contains(&job),
        "names job {job}: {}",
        e[0].summary
    );
    assert!(
        e[0].detail.contains("may still be running"),
        "{}",
        e[0].detail
    );
    assert_eq!(sim.count(POST_BACKUP).await, 1);
    // The process still serves after the Stop.
    p.plugin.assert_healthy("Stop during InvokeAction").await;
}

/// The job id in the first progress message ("… job job_…").
fn job_id_in(progress: &[String]) -> String {
    let first = progress.first().expect("a progress message");
    first
        .split_whitespace()
        .last()
        .unwrap_or_else(|| panic!("no job id in {first:?}"))
        .to_owned()
}

/// Each action, planned then invoked as Terraform does, sends exactly one job-creating request
/// to its route, streams progress and completes; the destructive ones warn at plan.
#[tokio::test]
async fn every_action_plans_then_invokes_one_job() {
    const VPS_PAYG: &str = "vps_01hxa3b4c5d6e7f8g9h0j1k2m7";
    const BACKUP_APP: &str = "bkp_01hxa3b4c5d6e7f8g9h0j1k2m3";
    type Case = (&'static str, Vec<(&'static str, Value)>, &'static str, bool);
    let cases: Vec<Case> = vec![
        (
            "hostup_vps_snapshot",
            vec![("vps_id", VPS_PAYG.into()), ("name", "by-action".into())],
            "POST /api/v2/vps/{id}/snapshots",
            false,
        ),
        (
            "hostup_vps_snapshot_restore",
            vec![
                ("vps_id", VPS_APP.into()),
                ("snapshot_name", "before-upgrade".into()),
            ],
            "POST /api/v2/vps/{id}/snapshots/{snapshotId}/actions/restore",
            true,
        ),
        (
            "hostup_vps_backup_restore",
            vec![("vps_id", VPS_APP.into()), ("backup_id", BACKUP_APP.into())],
            "POST /api/v2/vps/{id}/backups/{backupId}/actions/restore",
            true,
        ),
        (
            "hostup_vps_backup_restore",
            vec![
                ("vps_id", VPS_PAYG.into()),
                ("backup_id", BACKUP_APP.into()),
                ("source_vps_id", VPS_APP.into()),
            ],
            "POST /api/v2/vps/{id}/backups/actions/restore-from-vps",
            true,
        ),
    ];
    for (name, set, route, destructive) in cases {
        // One sim per case: a finished restore changes what the next case would see.
        let sim = Sim::start(&["--job-duration", "0s"]).await;
        let p = Provider::launch().await;
        let d = p.validate(name, &set).await;
        assert!(d.is_empty(), "{name} validate: {}", describe(&d));
        p.configure(&sim.url).await;
        let r = p.plan(name, &set).await;
        assert!(
            errors(&r.diagnostics).is_empty(),
            "{name}: {}",
            describe(&r.diagnostics)
        );
        let warned = r
            .diagnostics
            .iter()
            .any(|d| d.severity == 2 && d.summary.contains("replaces the disk"));
        assert_eq!(warned, destructive, "{name}: {}", describe(&r.diagnostics));
        assert_eq!(sim.count(route).await, 0, "{name}: plan queues nothing");
        let (progress, completed) = p.invoke(name, &set).await.all().await;
        assert!(
            errors(&completed).is_empty(),
            "{name}: {}",
            describe(&completed)
        );
        assert!(!progress.is_empty(), "{name}: progress before Completed");
        assert_eq!(
            sim.count(route).await,
            1,
            "{name}: exactly one request to {route}"
        );
    }
}

/// What cannot run is answered on the stream, in Terraform's terms, never with a gRPC error:
/// an unknown action type, and a configuration with unknown values (Terraform never sends
/// one to InvokeAction; a tool that does gets an error and nothing is queued).
#[tokio::test]
async fn invoke_refuses_unknown_types_and_unknown_values_on_the_stream() {
    let sim = Sim::start(&["--job-duration", "0s"]).await;
    let p = Provider::launch().await;
    p.configure(&sim.url).await;
    let stream = bounded(
        "InvokeAction",
        p.plugin.client().invoke_action(pb::invoke_action::Request {
            action_type: "hostup_vps_reboot".into(),
            config: None,
            client_capabilities: None,
        }),
    )
    .await
    .expect("a stream, not a gRPC error")
    .into_inner();
    let (progress, completed) = Events { stream }.all().await;
    assert!(progress.is_empty());
    assert_eq!(errors(&completed).len(), 1, "{}", describe(&completed));
    assert!(
        completed[0].detail.contains("hostup_vps_backup"),
        "{}",
        completed[0].detail
    );

    let (_, completed) = p
        .invoke(BACKUP, &[("vps_id", Value::unknown())])
        .await
        .all()
        .await;
    assert_eq!(errors(&completed).len(), 1, "{}", describe(&completed));
    assert_eq!(attribute_of(&completed[0]).as_deref(), Some("vps_id"));
    assert_eq!(sim.count(POST_BACKUP).await, 0);
}

/// Ctrl-C in a terminal sends SIGINT to the whole process group, the provider included, often
/// before Terraform's Stop: the provider treats its own SIGINT as Stop, so a running
/// invocation ends the same way.
#[tokio::test]
async fn sigint_ends_a_running_invocation_like_stop() {
    let sim = Sim::start(&["--job-duration", "1h"]).await;
    let mut p = Provider::launch().await;
    p.configure(&sim.url).await;
    let mut events = p.invoke(BACKUP, &[("vps_id", VPS_APP.into())]).await;
    let first = match events.next().await {
        Some(Event::Progress(m)) => m,
        other => panic!("expected the job's first progress, got {other:?}"),
    };
    let job = job_id_in(std::slice::from_ref(&first));
    let pid = i32::try_from(p.plugin.pid()).expect("pid fits");
    // SAFETY: sending a signal to the child process this test started.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGINT) }, 0);
    let (_, completed) = tokio::time::timeout(DEADLINE, events.all())
        .await
        .expect("HANG: the stream did not end after SIGINT");
    let e = errors(&completed);
    assert_eq!(e.len(), 1, "{}", describe(&completed));
    assert!(
        e[0].summary.contains(&job),
        "names job {job}: {}",
        e[0].summary
    );
    p.plugin.assert_healthy("SIGINT during InvokeAction").await;
}

/// A job started outside Terraform (the dashboard) keeps the VPS busy: the invocation says so
/// in a progress event, waits for that job instead of sending a POST HostUp would refuse, and
/// queues its own once the VPS is free.
#[tokio::test]
async fn a_busy_vps_is_shown_as_progress_and_waited_for() {
    let sim = Sim::start(&["--job-duration", "1s", "--stuck-next-jobs", "1"]).await;
    let foreign = sim
        .post(
            &format!("/api/v2/vps/{VPS_APP}/backups"),
            Some(KEY),
            serde_json::json!({"note": "from the dashboard"}),
        )
        .await;
    let foreign_id = foreign["operation"]["jobId"]
        .as_str()
        .unwrap_or_else(|| panic!("no jobId in {foreign}"))
        .to_owned();
    let p = Provider::launch().await;
    p.configure(&sim.url).await;
    let mut events = p.invoke(BACKUP, &[("vps_id", VPS_APP.into())]).await;
    let first = match events.next().await {
        Some(Event::Progress(m)) => m,
        other => panic!("expected a progress event, got {other:?}"),
    };
    assert!(
        first.contains("job_in_progress") && first.contains("Waiting for it, within `timeout`"),
        "{first}"
    );
    assert_eq!(
        sim.count(POST_BACKUP).await,
        1,
        "only the foreign job so far"
    );
    sim.post(
        &format!("/_sim/jobs/{foreign_id}/complete"),
        None,
        serde_json::json!({}),
    )
    .await;
    let (progress, completed) = events.all().await;
    assert!(errors(&completed).is_empty(), "{}", describe(&completed));
    assert!(
        progress.iter().any(|m| m.starts_with("HostUp accepted")),
        "{progress:?}"
    );
    assert_eq!(sim.count(POST_BACKUP).await, 2, "the foreign job and ours");
}

/// A snapshot name is claimed at PlanAction as a resource's create claims it: a
/// `hostup_vps_snapshot` of this plan with the same name, or a second invocation of the action
/// with it, fails the plan (HostUp would refuse the second at apply), before any request.
#[tokio::test]
async fn a_snapshot_name_twice_in_one_plan_fails_plan_action() {
    const VPS_PAYG: &str = "vps_01hxa3b4c5d6e7f8g9h0j1k2m7";
    const SNAPSHOT: &str = "hostup_vps_snapshot";
    let sim = Sim::start(&["--job-duration", "0s"]).await;
    let p = Provider::launch().await;
    p.configure(&sim.url).await;
    let set = [("vps_id", VPS_PAYG.into()), ("name", "twice".into())];
    let r = p.plan(SNAPSHOT, &set).await;
    assert!(
        errors(&r.diagnostics).is_empty(),
        "{}",
        describe(&r.diagnostics)
    );
    let r = p.plan(SNAPSHOT, &set).await;
    let e = errors(&r.diagnostics);
    assert_eq!(e.len(), 1, "{}", describe(&r.diagnostics));
    assert!(e[0].summary.contains("\"twice\""), "{}", e[0].summary);

    // A resource planned first with the same name, in another process's run.
    let p = Provider::launch().await;
    p.configure(&sim.url).await;
    let rr = p.plan_create(SNAPSHOT, &set).await;
    assert!(
        errors(&rr.diagnostics).is_empty(),
        "{}",
        describe(&rr.diagnostics)
    );
    let r = p.plan(SNAPSHOT, &set).await;
    assert_eq!(
        errors(&r.diagnostics).len(),
        1,
        "{}",
        describe(&r.diagnostics)
    );
    assert_eq!(sim.count("POST /api/v2/vps/{id}/snapshots").await, 0);
}
