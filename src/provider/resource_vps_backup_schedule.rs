//! Resource `hostup_vps_backup_schedule`: a VPS's backup schedule (HostUp keeps one active per
//! VPS; each has its own id, `bks_…`).
//!
//! A setting, not a job: create and update send the schedule (HostUp creates it, or updates
//! the one of the same frequency, and answers at once), destroy deletes it, refresh reads it
//! back so a change made in the dashboard shows as drift. Every range and combination HostUp
//! documents is checked at `terraform validate` (the day only with the frequency it belongs
//! to), so HostUp never stores other values than the configuration's. A change of `frequency`
//! replaces the schedule: HostUp updates in place only a schedule of the same frequency.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::hostup::{BackupFrequency, BackupSchedule, BackupSchedules, Client, SetBackupSchedule};
use crate::plugin::diag::{AttributePath, Diagnostic, Diagnostics};
use crate::plugin::framework::{
    CreateRequest, CreateResponse, Ctx, DeleteRequest, DeleteResponse, Field, ImportRequest,
    ImportResponse, ObjectValue, PlanDestroyRequest, PlanDestroyResponse, PlanRequest,
    PlanResponse, ReadRequest, ReadResponse, Resource, UpdateRequest, UpdateResponse,
    ValidateRequest, ValidateResponse,
};
use crate::plugin::schema::{Attribute, Block, Schema};

use super::data::HostupData;
use super::errors::{api_error, gate_closed, Paths, Subject};
use super::replacement;
use super::schema_parts::vps_id_argument;
use super::values::{import_vps_id, known, split_import_id, validate_vps_id};

/// Type name.
pub const TYPE_NAME: &str = "hostup_vps_backup_schedule";

/// The `hostup_vps_backup_schedule` resource.
#[derive(Debug, Default)]
pub struct VpsBackupSchedule;

/// The resource's typed model.
#[derive(Debug, Deserialize)]
struct Model {
    vps_id: Field<String>,
    frequency: Field<String>,
    hour: Field<f64>,
    day_of_week: Field<f64>,
    day_of_month: Field<f64>,
    retention_count: Field<f64>,
    enabled: Field<bool>,
    name: Field<String>,
    id: Field<String>,
}

/// The schedule's arguments, settled (`enabled` defaults to true).
#[derive(Debug, Clone, PartialEq, Serialize)]
struct Arguments {
    vps_id: String,
    frequency: String,
    hour: i64,
    day_of_week: Option<i64>,
    day_of_month: Option<i64>,
    retention_count: i64,
    enabled: bool,
}

impl Arguments {
    fn request(&self, name: Option<&str>) -> SetBackupSchedule {
        SetBackupSchedule {
            frequency: BackupFrequency::from(self.frequency.as_str()),
            hour: self.hour,
            day_of_week: self.day_of_week,
            day_of_month: self.day_of_month,
            retention_count: self.retention_count,
            enabled: self.enabled,
            name: name.map(str::to_owned),
        }
    }
}

/// What HostUp reports of a schedule beyond its arguments.
#[derive(Serialize)]
struct Reported<'a> {
    id: &'a str,
    name: Option<&'a str>,
    last_run: Option<&'a str>,
}

/// A whole number in `range` at `attr`, or why not.
fn whole(attr: &str, v: f64, range: std::ops::RangeInclusive<i64>) -> Result<i64, Diagnostic> {
    let (lo, hi) = (*range.start(), *range.end());
    if v.fract() == 0.0 && (lo as f64..=hi as f64).contains(&v) {
        return Ok(v as i64);
    }
    let range = if hi == i64::MAX {
        format!("of {lo} or more")
    } else {
        format!("from {lo} to {hi}")
    };
    Err(Diagnostic::error(
        format!("Invalid {attr}"),
        format!("`{attr}` must be a whole number {range}; {v} is not."),
    )
    .with_path(AttributePath::root(attr)))
}

/// The checks of `terraform validate`, and the settled arguments when all is known and valid.
fn settle(m: &Model, diags: &mut Diagnostics) -> Option<Arguments> {
    let mut ok = true;
    let mut num = |attr: &str, f: &Field<f64>, range: std::ops::RangeInclusive<i64>| match f {
        Field::Value(v) => match whole(attr, *v, range) {
            Ok(n) => Some(n),
            Err(d) => {
                diags.push(d);
                ok = false;
                None
            }
        },
        _ => None,
    };
    let hour = num("hour", &m.hour, 0..=23);
    let dow = num("day_of_week", &m.day_of_week, 0..=6);
    let dom = num("day_of_month", &m.day_of_month, 1..=31);
    let retention = num("retention_count", &m.retention_count, 1..=i64::MAX);
    let frequency = m.frequency.as_deref();
    if let Some(f) = frequency {
        let needs = |attr: &str, set: &Field<f64>, wanted: bool, diags: &mut Diagnostics| {
            let given = !set.is_null();
            if given && !wanted {
                diags.push(
                    Diagnostic::error(
                        format!("{attr} does not go with frequency {f:?}"),
                        format!(
                            "`{attr}` is for {} schedules only; remove it, or change \
                             `frequency`.",
                            if attr == "day_of_week" {
                                "weekly"
                            } else {
                                "monthly"
                            }
                        ),
                    )
                    .with_path(AttributePath::root(attr)),
                );
                return false;
            }
            if !given && wanted {
                diags.push(
                    Diagnostic::error(
                        format!("Missing {attr}"),
                        format!(
                            "A {f} schedule runs on a day: set `{attr}` ({}).",
                            if attr == "day_of_week" {
                                "0 to 6, 0 = Sunday"
                            } else {
                                "1 to 31"
                            }
                        ),
                    )
                    .with_path(AttributePath::root("frequency")),
                );
                return false;
            }
            true
        };
        match f {
            "daily" | "weekly" | "monthly" => {
                ok &= needs("day_of_week", &m.day_of_week, f == "weekly", diags);
                ok &= needs("day_of_month", &m.day_of_month, f == "monthly", diags);
            }
            other => {
                diags.push(
                    Diagnostic::error(
                        "Invalid frequency",
                        format!(
                            "{other:?} is not a frequency HostUp knows: use \"daily\", \
                             \"weekly\" or \"monthly\"."
                        ),
                    )
                    .with_path(AttributePath::root("frequency")),
                );
                ok = false;
            }
        }
    }
    let enabled = match &m.enabled {
        Field::Unknown => return None,
        f => f.get().copied().unwrap_or(true),
    };
    if !ok || m.day_of_week.is_unknown() || m.day_of_month.is_unknown() {
        return None;
    }
    Some(Arguments {
        vps_id: known(&m.vps_id)?.to_owned(),
        frequency: frequency?.to_owned(),
        hour: hour?,
        day_of_week: dow,
        day_of_month: dom,
        retention_count: retention?,
        enabled,
    })
}

fn subject(vps_id: &str) -> Subject {
    Subject::new(TYPE_NAME, vps_id, "backup schedule")
}

/// A gate about schedules, whatever HostUp calls it (its names are not documented).
fn schedule_gate(list: &BackupSchedules) -> Option<(&str, &crate::hostup::Gate)> {
    list.actions.as_ref()?.iter().find_map(|(name, g)| {
        let n = name.to_ascii_lowercase();
        (n.contains("schedule") || n == "canenable").then_some((name.as_str(), g))
    })
}

fn describe(s: &BackupSchedule) -> String {
    let f = s
        .frequency
        .as_ref()
        .map(|f| f.to_string())
        .unwrap_or_else(|| "backup".into());
    format!("{} ({f})", s.id)
}

/// Plan's checks of a schedule to create or change.
fn check(
    list: &BackupSchedules,
    args: &Arguments,
    own_id: Option<&str>,
) -> (Vec<Diagnostic>, Vec<Diagnostic>) {
    let (mut problems, mut notes) = (Vec::new(), Vec::new());
    let vps_id = args.vps_id.as_str();
    if let Some((name, g)) = schedule_gate(list).filter(|(_, g)| !g.allowed && !g.is_busy()) {
        let path = AttributePath::root("vps_id");
        let name: &'static str = if name == "canEnable" {
            "canEnable"
        } else {
            "schedule gate"
        };
        problems.push(gate_closed(&subject(vps_id), name, g, path, false));
        return (problems, notes);
    }
    if own_id.is_none() {
        let same = list
            .schedules
            .iter()
            .find(|s| s.frequency.as_ref().map(|f| f.as_str()) == Some(args.frequency.as_str()));
        let active = list
            .schedules
            .iter()
            .find(|s| s.enabled != Some(false) && Some(*s) != same);
        if let Some(s) = same {
            notes.push(
                Diagnostic::warning(
                    format!(
                        "VPS {vps_id} already has a {} backup schedule",
                        args.frequency
                    ),
                    format!(
                    "HostUp updates schedule {} to this configuration's values instead of adding \
                     one. To manage it as it is, import it instead: `terraform import \
                     {TYPE_NAME}.NAME {vps_id}/{}`.",
                    s.id, s.id
                ),
                )
                .with_path(AttributePath::root("frequency")),
            );
        } else if let (true, Some(s)) = (args.enabled, active) {
            notes.push(
                Diagnostic::warning(
                    format!("VPS {vps_id} has another active backup schedule"),
                    format!(
                        "HostUp keeps one backup schedule active per VPS, and {} is active now: \
                     this one takes its place. Remove it from HostUp, or import it and manage \
                     one schedule.",
                        describe(s)
                    ),
                )
                .with_path(AttributePath::root("frequency")),
            );
        }
    }
    let limit = list.settings.as_ref().and_then(|s| s.total_backup_limit);
    if let Some(limit) = limit.filter(|l| args.retention_count > *l) {
        notes.push(
            Diagnostic::warning(
                format!("The schedule keeps more backups than VPS {vps_id} may hold"),
                format!(
                    "`retention_count` is {}, and the VPS's backup limit is {limit} in all. Lower \
                     `retention_count`, or raise the limit (`max_total_backups` of \
                     `hostup_vps_backup_settings`).",
                    args.retention_count
                ),
            )
            .with_path(AttributePath::root("retention_count")),
        );
    }
    (problems, notes)
}

/// Records what HostUp lists of the schedule in `state` (refresh and import).
fn record(state: &mut ObjectValue, vps_id: &str, s: &BackupSchedule, prior: Option<&Arguments>) {
    let frequency = s
        .frequency
        .as_ref()
        .map(|f| f.as_str().to_owned())
        .or_else(|| prior.map(|p| p.frequency.clone()));
    let Some(frequency) = frequency else {
        return;
    };
    let hour = s.run_hour().or(prior.map(|p| p.hour));
    let retention = s.retention_count.or(prior.map(|p| p.retention_count));
    let (Some(hour), Some(retention_count)) = (hour, retention) else {
        return;
    };
    let day_of_week = (frequency == "weekly")
        .then(|| s.weekday().or(prior.and_then(|p| p.day_of_week)))
        .flatten();
    let day_of_month = (frequency == "monthly")
        .then(|| s.month_day().or(prior.and_then(|p| p.day_of_month)))
        .flatten();
    state.set_fields(&Arguments {
        vps_id: vps_id.to_owned(),
        enabled: s.enabled.or(prior.map(|p| p.enabled)).unwrap_or(true),
        frequency,
        hour,
        day_of_week,
        day_of_month,
        retention_count,
    });
    state.set_fields(&Reported {
        id: &s.id,
        name: s.name.as_deref(),
        last_run: s.last_run.as_deref(),
    });
}

/// Sends the schedule; the schedule HostUp answered with, else the one of this frequency it
/// lists afterwards.
async fn send(
    data: &HostupData,
    client: &Client,
    args: &Arguments,
    name: Option<&str>,
    diags: &mut Diagnostics,
) -> Option<BackupSchedule> {
    let vps_id = args.vps_id.as_str();
    let paths = Paths::vps().with_pointers(&[
        ("/frequency", "frequency"),
        ("/hour", "hour"),
        ("/dayOfWeek", "day_of_week"),
        ("/dayOfMonth", "day_of_month"),
        ("/retentionCount", "retention_count"),
        ("/enabled", "enabled"),
        ("/name", "name"),
    ]);
    let err =
        |what: String, e: &crate::hostup::Error| api_error(what, e, &paths, &data.config.sources);
    match client
        .set_backup_schedule(vps_id, &args.request(name))
        .await
    {
        Ok(Some(s)) => return Some(s),
        Ok(None) => {}
        Err(e) => {
            diags.push(err(
                format!("Could not set the backup schedule of VPS {vps_id}"),
                &e,
            ));
            return None;
        }
    }
    match client.backup_schedules(vps_id).await {
        Ok(list) => {
            let found = list.schedules.into_iter().find(|s| {
                s.frequency.as_ref().map(|f| f.as_str()) == Some(args.frequency.as_str())
            });
            if found.is_none() {
                diags.error(
                    format!("HostUp does not list the backup schedule it set on VPS {vps_id}"),
                    format!(
                        "HostUp accepted the {} schedule but lists none of that frequency. Check \
                         the VPS's backup schedules in HostUp, then run `terraform apply` again.",
                        args.frequency
                    ),
                );
            }
            found
        }
        Err(e) => {
            diags.push(err(
                format!("Could not read the backup schedules of VPS {vps_id} back"),
                &e,
            ));
            None
        }
    }
}

#[async_trait]
impl Resource<HostupData> for VpsBackupSchedule {
    fn type_name(&self) -> &str {
        TYPE_NAME
    }

    fn identity(&self) -> Option<crate::plugin::framework::IdentitySchema> {
        Some(super::schema_parts::vps_identity(
            "whose backups the schedule runs",
        ))
    }

    fn schema(&self) -> Schema {
        let day = |name: &str, text: &str| Attribute::number(name).optional().description(text);
        Schema::new(
            Block::new()
                .description(
                    "A backup schedule of a HostUp VPS: HostUp takes an offsite backup every \
                    day, week or month at `hour` and keeps the last `retention_count` of them. \
                    HostUp keeps one schedule active per VPS. Creating this resource sets the \
                    schedule (a schedule of the same frequency already on HostUp is updated, \
                    and the plan says so), changing it updates it in place (a change of \
                    `frequency` replaces it), destroying it deletes the schedule on HostUp \
                    (the backups it took stay).\n\n\
                    Every range and combination is checked at `terraform validate`: \
                    `day_of_week` only with `weekly`, `day_of_month` only with `monthly`. Plan \
                    checks HostUp's gate and warns when `retention_count` exceeds the VPS's \
                    backup limit; refresh shows a schedule changed or deleted outside \
                    Terraform.\n\n\
                    Needs an API key with scopes `read:vm` and `write:vm`.\n\n\
                    Import with `terraform import hostup_vps_backup_schedule.NAME \
                    <vps_id>/<schedule_id>`, or `<vps_id>` alone for the VPS's active schedule.",
                )
                .attribute(vps_id_argument("to back up"))
                .attribute(
                    Attribute::string("frequency")
                        .required()
                        .requires_replace()
                        .description(
                            "`daily`, `weekly` or `monthly`. Changing it replaces the schedule \
                            (HostUp updates in place only a schedule of the same frequency).",
                        ),
                )
                .attribute(Attribute::number("hour").required().description(
                    "Hour of the day the backup starts, 0 to 23 (HostUp's time zone).",
                ))
                .attribute(day(
                    "day_of_week",
                    "Weekday of a `weekly` schedule, 0 to 6 with 0 = Sunday; required with \
                    `weekly`, not allowed otherwise.",
                ))
                .attribute(day(
                    "day_of_month",
                    "Day of the month of a `monthly` schedule, 1 to 31; required with \
                    `monthly`, not allowed otherwise.",
                ))
                .attribute(Attribute::number("retention_count").required().description(
                    "How many of the schedule's backups HostUp keeps (at least 1); older ones \
                    are deleted.",
                ))
                .attribute(
                    Attribute::bool("enabled")
                        .optional()
                        .computed()
                        .description("Whether the schedule runs (default `true`)."),
                )
                .attribute(
                    Attribute::string("name")
                        .optional()
                        .computed()
                        .description("Display name of the schedule; HostUp picks one when unset."),
                )
                .attribute(
                    Attribute::string("id")
                        .computed()
                        .use_state_for_unknown()
                        .description("HostUp's id of the schedule (`bks_…`)."),
                )
                .attribute(
                    Attribute::string("last_run")
                        .computed()
                        .description("When the schedule last ran (RFC 3339), or null."),
                ),
        )
    }

    async fn validate(&self, _ctx: &Ctx, req: ValidateRequest, resp: &mut ValidateResponse) {
        let diags = &mut resp.diagnostics;
        let Some(m) = req.config.model::<Model>(diags) else {
            return;
        };
        validate_vps_id(&m.vps_id, diags);
        settle(&m, diags);
    }

    async fn plan(&self, ctx: &Ctx, req: PlanRequest<HostupData>, resp: &mut PlanResponse) {
        let mut ignored = Diagnostics::new();
        let diags = &mut resp.diagnostics;
        let Some(m) = req.config.model::<Model>(diags) else {
            return;
        };
        // Validation reported the problems already.
        let Some(args) = settle(&m, &mut ignored) else {
            return;
        };
        resp.planned_state.set_fields(&args);
        let Some(data) = req.provider.get() else {
            return;
        };
        let prior = req
            .prior_state
            .as_ref()
            .and_then(|p| p.model::<Model>(diags));
        let replaced = !resp.requires_replace.is_empty();
        let vps_id = args.vps_id.as_str();
        if !replacement::claim_singleton(&data.run, TYPE_NAME, vps_id, &req, resp) {
            resp.diagnostics.push(
                Diagnostic::error(
                    format!("Two backup schedules for VPS {vps_id}"),
                    "Another hostup_vps_backup_schedule in this configuration has the same \
                     vps_id; HostUp keeps one schedule active per VPS. Keep one of them.",
                )
                .with_path(AttributePath::root("vps_id")),
            );
            return;
        }
        let diags = &mut resp.diagnostics;
        let prior_args = prior.as_ref().and_then(|p| settle(p, &mut ignored));
        let same_name = m.name.is_null() || prior.as_ref().is_some_and(|p| p.name == m.name);
        if replaced || (prior_args.as_ref() == Some(&args) && same_name) {
            return;
        }
        let list = match data.client(ctx).backup_schedules(vps_id).await {
            Ok(l) => l,
            Err(e) => {
                let d = api_error(
                    format!("Could not check the backup schedules of VPS {vps_id}"),
                    &e,
                    &Paths::vps(),
                    &data.config.sources,
                );
                diags.push(data.config.plan_checks.show(d));
                return;
            }
        };
        let own = prior.as_ref().and_then(|p| p.id.as_deref());
        let (problems, notes) = check(&list, &args, own);
        let mode = data.config.plan_checks;
        diags.extend(problems.into_iter().map(|d| mode.show(d)));
        diags.extend(notes);
    }

    async fn plan_destroy(
        &self,
        _ctx: &Ctx,
        req: PlanDestroyRequest<HostupData>,
        resp: &mut PlanDestroyResponse,
    ) {
        let Some(prior) = req.prior_state.model::<Model>(&mut resp.diagnostics) else {
            return;
        };
        resp.diagnostics.push(Diagnostic::warning(
            format!(
                "Destroying deletes backup schedule {} of VPS {} on HostUp",
                prior.id.as_deref().unwrap_or("?"),
                prior.vps_id.as_deref().unwrap_or("?")
            ),
            "HostUp takes no more backups on that schedule; the backups it took stay.",
        ));
    }

    async fn create(&self, ctx: &Ctx, req: CreateRequest<HostupData>, resp: &mut CreateResponse) {
        let diags = &mut resp.diagnostics;
        let Some(data) = req.provider.require(diags) else {
            return;
        };
        let Some(m) = req.planned_state.model::<Model>(diags) else {
            return;
        };
        let Some(args) = settle(&m, diags) else {
            diags.error(
                "Missing backup schedule arguments",
                "Every argument of the schedule must be known at apply.",
            );
            return;
        };
        let client = data.client(ctx);
        let Some(s) = send(data, &client, &args, m.name.as_deref(), diags).await else {
            return;
        };
        tracing::info!(vps_id = %args.vps_id, schedule = %s.id, "backup schedule set");
        let mut state = req.planned_state.clone();
        state.set_fields(&Reported {
            id: &s.id,
            name: m.name.as_deref().or(s.name.as_deref()),
            last_run: s.last_run.as_deref(),
        });
        resp.state = state;
        replacement::forget(&mut resp.private);
    }

    async fn read(&self, ctx: &Ctx, req: ReadRequest<HostupData>, resp: &mut ReadResponse) {
        let Some(data) = req.provider.require(&mut resp.diagnostics) else {
            return;
        };
        let Some(cur) = req.current_state.model::<Model>(&mut resp.diagnostics) else {
            return;
        };
        let (Some(vps_id), Some(id)) = (cur.vps_id.as_deref(), cur.id.as_deref()) else {
            return;
        };
        let prior = settle(&cur, &mut Diagnostics::new());
        match data.client(ctx).backup_schedules(vps_id).await {
            Ok(list) => match list.find(id) {
                Some(s) => {
                    if let Some(st) = resp.state.as_mut() {
                        record(st, vps_id, s, prior.as_ref());
                    }
                }
                None => {
                    resp.diagnostics.warning(
                        format!("Backup schedule {id} of VPS {vps_id} is gone"),
                        "HostUp no longer lists it (it was deleted outside Terraform). Terraform \
                         will plan to create it again; to keep none, remove the resource from \
                         the configuration.",
                    );
                    resp.remove();
                }
            },
            Err(e) if e.is_vps_gone() => resp.remove(),
            Err(e) => {
                resp.diagnostics.push(api_error(
                    format!("Could not refresh backup schedule {id} of VPS {vps_id}"),
                    &e,
                    &Paths::vps(),
                    &data.config.sources,
                ));
            }
        }
    }

    async fn update(&self, ctx: &Ctx, req: UpdateRequest<HostupData>, resp: &mut UpdateResponse) {
        let diags = &mut resp.diagnostics;
        let Some(data) = req.provider.require(diags) else {
            return;
        };
        let Some(m) = req.planned_state.model::<Model>(diags) else {
            return;
        };
        let Some(args) = settle(&m, diags) else {
            diags.error(
                "Missing backup schedule arguments",
                "Every argument of the schedule must be known at apply.",
            );
            return;
        };
        let client = data.client(ctx);
        let Some(s) = send(data, &client, &args, m.name.as_deref(), diags).await else {
            resp.state = req.prior_state.clone();
            return;
        };
        // The id stays the one in state: HostUp updates the schedule of this frequency.
        if m.name.is_unknown() {
            let name = s.name.as_deref();
            #[derive(Serialize)]
            struct Named<'a> {
                name: Option<&'a str>,
            }
            resp.state.set_fields(&Named { name });
        }
        #[derive(Serialize)]
        struct LastRun<'a> {
            last_run: Option<&'a str>,
        }
        resp.state.set_fields(&LastRun {
            last_run: s.last_run.as_deref(),
        });
        replacement::forget(&mut resp.private);
    }

    async fn delete(&self, ctx: &Ctx, req: DeleteRequest<HostupData>, resp: &mut DeleteResponse) {
        let diags = &mut resp.diagnostics;
        let Some(data) = req.provider.require(diags) else {
            return;
        };
        let Some(m) = req.prior_state.model::<Model>(diags) else {
            return;
        };
        let (Some(vps_id), Some(id)) = (m.vps_id.as_deref(), m.id.as_deref()) else {
            return;
        };
        match data.client(ctx).delete_backup_schedule(vps_id, id).await {
            Ok(()) => tracing::info!(vps_id = %vps_id, schedule = %id, "backup schedule deleted"),
            Err(e) if e.is_not_found() => {
                tracing::info!(vps_id = %vps_id, schedule = %id, "backup schedule already gone");
            }
            Err(e) => {
                diags.push(api_error(
                    format!("Could not delete backup schedule {id} of VPS {vps_id}"),
                    &e,
                    &Paths::vps(),
                    &data.config.sources,
                ));
            }
        }
    }

    async fn import(&self, ctx: &Ctx, req: ImportRequest<HostupData>, resp: &mut ImportResponse) {
        let parts = if req.id.contains('/') {
            split_import_id(&req.id, "schedule_id").map(|(v, s)| (v, Some(s)))
        } else {
            import_vps_id(&req.id).map(|v| (v, None))
        };
        let (vps_id, wanted) = match parts {
            Ok(p) => p,
            Err(d) => {
                resp.diagnostics.push(d);
                return;
            }
        };
        let Some(data) = req.provider.require(&mut resp.diagnostics) else {
            return;
        };
        let list = match data.client(ctx).backup_schedules(vps_id).await {
            Ok(l) => l,
            Err(e) => {
                resp.diagnostics.push(api_error(
                    format!("Could not import the backup schedule of VPS {vps_id}"),
                    &e,
                    &Paths::default(),
                    &data.config.sources,
                ));
                return;
            }
        };
        let ids: Vec<String> = list.schedules.iter().map(describe).collect();
        let found = match wanted {
            Some(id) => list.find(id),
            None if list.schedules.len() == 1 => list.schedules.first(),
            None => list.schedules.iter().find(|s| s.enabled == Some(true)),
        };
        let Some(s) = found else {
            let what = wanted.map_or("active backup schedule".to_owned(), |id| {
                format!("backup schedule {id}")
            });
            let listed = if ids.is_empty() {
                "It has no backup schedules. To create one, add the resource to the \
                 configuration and run `terraform apply`."
                    .to_owned()
            } else {
                format!(
                    "Its schedules: {}; import one as `{vps_id}/<schedule_id>`.",
                    ids.join(", ")
                )
            };
            resp.diagnostics
                .error(format!("VPS {vps_id} has no {what}"), listed);
            return;
        };
        record(&mut resp.state, vps_id, s, None);
        if resp.state.string("vps_id").is_none() {
            resp.diagnostics.error(
                format!("HostUp does not say when backup schedule {} runs", s.id),
                "Its frequency, hour or retention is missing from HostUp's answer, so it \
                 cannot be imported. Add the resource to the configuration and run `terraform \
                 apply`, which sets the schedule.",
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugin::framework::SchemaInfo;

    fn model(frequency: &str, dow: Option<f64>, dom: Option<f64>) -> Model {
        Model {
            vps_id: Field::Value("vps_1".into()),
            frequency: Field::Value(frequency.into()),
            hour: Field::Value(2.0),
            day_of_week: dow.into(),
            day_of_month: dom.into(),
            retention_count: Field::Value(7.0),
            enabled: Field::Null,
            name: Field::Null,
            id: Field::Null,
        }
    }

    fn errors(m: &Model) -> Vec<String> {
        let mut d = Diagnostics::new();
        settle(m, &mut d);
        d.iter().map(|d| d.summary.clone()).collect()
    }

    #[test]
    fn the_model_fits_the_schema() {
        let mut o = ObjectValue::empty(SchemaInfo::new(VpsBackupSchedule.schema()));
        o.set_fields(&Arguments {
            vps_id: "vps_1".into(),
            frequency: "weekly".into(),
            hour: 2,
            day_of_week: Some(0),
            day_of_month: None,
            retention_count: 7,
            enabled: true,
        })
        .set_fields(&Reported {
            id: "bks_1",
            name: Some("Nightly"),
            last_run: None,
        });
        assert!(o.take_misuse().is_empty());
        let m: Model = o.decode().expect("decodes");
        let args = settle(&m, &mut Diagnostics::new()).expect("settles");
        assert_eq!((args.day_of_week, args.enabled), (Some(0), true));
    }

    #[test]
    fn the_day_goes_with_its_frequency_only() {
        assert!(errors(&model("daily", None, None)).is_empty());
        assert!(errors(&model("weekly", Some(0.0), None)).is_empty());
        assert!(errors(&model("monthly", None, Some(31.0))).is_empty());
        assert_eq!(
            errors(&model("weekly", None, None)),
            ["Missing day_of_week"]
        );
        assert_eq!(
            errors(&model("monthly", None, None)),
            ["Missing day_of_month"]
        );
        assert_eq!(
            errors(&model("daily", Some(1.0), None)),
            ["day_of_week does not go with frequency \"daily\""]
        );
        assert_eq!(
            errors(&model("weekly", Some(1.0), Some(3.0))),
            ["day_of_month does not go with frequency \"weekly\""]
        );
        assert_eq!(errors(&model("hourly", None, None)), ["Invalid frequency"]);
    }

    #[test]
    fn every_number_is_whole_and_in_range() {
        assert_eq!(
            errors(&model("weekly", Some(7.0), None)),
            ["Invalid day_of_week"]
        );
        assert_eq!(
            errors(&model("monthly", None, Some(0.0))),
            ["Invalid day_of_month"]
        );
        let mut m = model("daily", None, None);
        m.hour = Field::Value(24.0);
        m.retention_count = Field::Value(0.0);
        assert_eq!(errors(&m), ["Invalid hour", "Invalid retention_count"]);
        m.hour = Field::Value(1.5);
        m.retention_count = Field::Value(1.0);
        assert_eq!(errors(&m), ["Invalid hour"]);
    }
}
