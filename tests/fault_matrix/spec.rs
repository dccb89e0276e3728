//! How each cell's fault is set up: sim arguments, environment, configuration, command.

use crate::faults::{Fault, Kind, Target};
use crate::{FAIL_MESSAGE, HANG_MS, REQUEST_TIMEOUT, SLOW_MS, STUCK_TIMEOUT};

/// How a cell's fault is set up.
pub(crate) struct Spec {
    /// Extra hostup-sim arguments.
    pub(crate) args: Vec<String>,
    /// Extra environment for terraform (and so for the provider).
    pub(crate) env: Vec<(String, String)>,
    /// For the table: how the fault was injected.
    pub(crate) injected: String,
    /// `timeouts.create` in the configuration, if any.
    pub(crate) create_timeout: Option<&'static str>,
    /// The terraform command the cell runs (`apply -auto-approve` unless said otherwise).
    pub(crate) command: &'static [&'static str],
}

/// The set-up of a cell, or why the cell does not apply.
pub(crate) fn spec(fault: Fault, target: Target) -> Result<Spec, &'static str> {
    let kind = target.kind();
    if fault.is_post_fault() && kind == Kind::Data {
        return Err("a data source read sends no POST");
    }
    if fault.is_job_fault() && kind != Kind::Job {
        return Err(match (fault, kind) {
            (Fault::Sigint, Kind::Data) => {
                "a data source read queues no job, so there is no wait to interrupt"
            }
            (_, Kind::Data) => "a data source read queues no job",
            _ => "a synchronous write queues no job",
        });
    }
    let reads =
        fault.is_transient_read() || fault.is_persistent() || fault == Fault::SigintInRequest;
    let Some(route) = target.read_route() else {
        if reads && fault != Fault::RateLimit {
            return Err("creating the backup settings reads nothing from HostUp (one PATCH)");
        }
        return spec_write_only(fault, target);
    };
    let rule = |r: String| {
        (
            vec!["--fault".to_string(), r.clone()],
            format!("`--fault {r}`"),
        )
    };
    let mut env = Vec::new();
    let mut create_timeout = None;
    let command = target.command();
    // The write faults of the synchronous writes are held to the write's route; those of the
    // job resources hit every POST (only the job-creating one is sent).
    let write_rule = |r: &str| match target.write() {
        Some((m, w)) => format!("{r},method={m},route={w}"),
        None => format!("{r},method=POST"),
    };
    let (args, injected) = match fault {
        Fault::Get5xx => rule(format!("error:500,count=2,method=GET,route={route}")),
        Fault::Html502 => rule(format!("html502,count=2,method=GET,route={route}")),
        Fault::Truncated => rule(format!("truncate,count=2,method=GET,route={route}")),
        Fault::Reset => rule(format!("reset,count=2,method=GET,route={route}")),
        Fault::RateLimit => match kind {
            Kind::Data => rule(format!("rate-limit:1,count=3,route={route}")),
            _ => {
                let a = write_rule("rate-limit:1,count=2");
                let b = format!("rate-limit:1,count=2,route={route}");
                (
                    vec!["--fault".into(), a.clone(), "--fault".into(), b.clone()],
                    format!("`--fault {a}` `--fault {b}`"),
                )
            }
        },
        Fault::Slow => {
            env.push((
                "HOSTUP_REQUEST_TIMEOUT".to_string(),
                REQUEST_TIMEOUT.to_string(),
            ));
            let (a, i) = rule(format!(
                "latency:{SLOW_MS},count=1,method=GET,route={route}"
            ));
            (a, format!("`HOSTUP_REQUEST_TIMEOUT={REQUEST_TIMEOUT}` {i}"))
        }
        Fault::JobFailed => (
            vec![
                "--fail-next-jobs".into(),
                "1".into(),
                "--fail-message".into(),
                FAIL_MESSAGE.into(),
            ],
            format!("`--fail-next-jobs 1 --fail-message \"{FAIL_MESSAGE}\"`"),
        ),
        Fault::JobStuck => {
            create_timeout = Some(STUCK_TIMEOUT);
            (
                vec!["--stuck-next-jobs".into(), "1".into()],
                format!("`--stuck-next-jobs 1`, `timeouts {{ create = \"{STUCK_TIMEOUT}\" }}`"),
            )
        }
        Fault::JobUnknown => (
            vec!["--stuck-next-jobs".into(), "1".into()],
            "`--stuck-next-jobs 1`, then `DELETE /_sim/jobs/{id}` once the job is polled (the \
             sim forgets the job, as HostUp does once a job has expired)"
                .to_string(),
        ),
        Fault::Sigint => (
            vec!["--stuck-next-jobs".into(), "1".into()],
            "`--stuck-next-jobs 1`, SIGINT to terraform once the job is polled".to_string(),
        ),
        Fault::SigintInRequest => {
            // The hang is far longer than the whole test may take: only cancellation ends it.
            let hang = format!("latency:{HANG_MS},count=1,method=GET,route={route}");
            let mut args = vec!["--fault".to_string(), hang.clone()];
            let mut injected = format!("`--fault {hang}`");
            if kind == Kind::Job {
                args.extend(["--stuck-next-jobs".to_string(), "1".to_string()]);
                injected.push_str(" `--stuck-next-jobs 1`");
            }
            env.push(("HOSTUP_REQUEST_TIMEOUT".to_string(), "10m".to_string()));
            // SIGINT to terraform's whole process group, as Ctrl-C in a terminal sends it. For
            // the data source the GET hangs while `terraform apply` plans, where Terraform sends
            // no Stop (see docs/RELIABILITY.md): the provider's own SIGINT must end it.
            injected.push_str(
                " `HOSTUP_REQUEST_TIMEOUT=10m`, SIGINT to terraform's process group (a terminal's \
                 Ctrl-C) once the GET reached the sim",
            );
            (args, injected)
        }
        Fault::PersistentHtml502 => rule("html502,method=GET".to_string()),
        Fault::PersistentTruncated => rule("truncate,method=GET".to_string()),
        Fault::PostResetAfter => rule(format!("{},after", write_rule("reset,count=1"))),
        Fault::Post502After => rule(format!("{},after", write_rule("error:502,count=1"))),
        Fault::PostSlow => {
            env.push((
                "HOSTUP_REQUEST_TIMEOUT".to_string(),
                REQUEST_TIMEOUT.to_string(),
            ));
            // The second rule only counts POSTs as they arrive (a request the client gave up
            // on may never be logged: the sim logs answers).
            let slow = write_rule(&format!("latency:{SLOW_MS},count=1"));
            let probe = write_rule("latency:0");
            (
                vec![
                    "--fault".into(),
                    slow.clone(),
                    "--fault".into(),
                    probe.clone(),
                ],
                format!(
                    "`HOSTUP_REQUEST_TIMEOUT={REQUEST_TIMEOUT}` `--fault {slow}` (and `--fault \
                     {probe}` to count arrivals)"
                ),
            )
        }
    };
    Ok(Spec {
        args,
        env,
        injected,
        create_timeout,
        command,
    })
}

/// The set-up of a cell of a target that reads nothing (the backup settings' create: one
/// PATCH): the 429 burst and the write faults.
fn spec_write_only(fault: Fault, target: Target) -> Result<Spec, &'static str> {
    let Some((m, w)) = target.write() else {
        return Err("the target sends nothing");
    };
    let mut env = Vec::new();
    let rules: Vec<String> = match fault {
        Fault::RateLimit => vec![format!("rate-limit:1,count=2,method={m},route={w}")],
        Fault::PostResetAfter => vec![format!("reset,count=1,method={m},route={w},after")],
        Fault::Post502After => vec![format!("error:502,count=1,method={m},route={w},after")],
        Fault::PostSlow => {
            env.push((
                "HOSTUP_REQUEST_TIMEOUT".to_string(),
                REQUEST_TIMEOUT.to_string(),
            ));
            vec![
                format!("latency:{SLOW_MS},count=1,method={m},route={w}"),
                format!("latency:0,method={m},route={w}"),
            ]
        }
        _ => return Err("the target sends nothing this fault hits"),
    };
    let mut injected = rules
        .iter()
        .map(|r| format!("`--fault {r}`"))
        .collect::<Vec<_>>()
        .join(" ");
    if fault == Fault::PostSlow {
        injected = format!(
            "`HOSTUP_REQUEST_TIMEOUT={REQUEST_TIMEOUT}` {injected} (the second counts arrivals)"
        );
    }
    Ok(Spec {
        args: rules
            .into_iter()
            .flat_map(|r| ["--fault".to_string(), r])
            .collect(),
        env,
        injected,
        create_timeout: None,
        command: target.command(),
    })
}
