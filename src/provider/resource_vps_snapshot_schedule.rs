//! Resource `hostup_vps_snapshot_schedule`: the snapshot schedule of a VPS (HostUp keeps at
//! most one per VPS, without an id of its own).
//!
//! A setting, not a job: create and update send the schedule (HostUp creates or replaces it
//! and answers at once), destroy deletes it, refresh reads it back so a change made in the
//! dashboard shows as drift. HostUp floors and clamps `intervalHours` to 4–24; validation
//! holds the argument to whole hours in that range, so HostUp never stores another value than
//! the configuration's and no plan shows a diff that apply cannot remove.
//!
//! Scheduled snapshots take the same slots as manual ones, so the plan that creates or changes
//! a schedule says how many it keeps against the VPS's slots.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::hostup::{SetSnapshotSchedule, SnapshotScheduleInfo};
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
use super::values::{import_vps_id, known, required, validate_vps_id};

/// Type name.
pub const TYPE_NAME: &str = "hostup_vps_snapshot_schedule";
/// The interval HostUp keeps (it floors and clamps to this range).
const HOURS: std::ops::RangeInclusive<i64> = 4..=24;
/// About how long HostUp keeps a snapshot (each has its `expiresAt`).
const KEPT_HOURS: i64 = 24;

/// The `hostup_vps_snapshot_schedule` resource.
#[derive(Debug, Default)]
pub struct VpsSnapshotSchedule;

/// The resource's typed model: its arguments as config, plan and state hold them.
#[derive(Debug, Deserialize)]
struct Model {
    vps_id: Field<String>,
    enabled: Field<bool>,
    interval_hours: Field<f64>,
}

/// The arguments as the plan settles them (`enabled` defaults to true).
#[derive(Serialize)]
struct Arguments<'a> {
    vps_id: &'a str,
    enabled: bool,
    interval_hours: i64,
}

/// What HostUp reports of the schedule beyond the arguments.
#[derive(Serialize)]
struct Reported<'a> {
    id: &'a str,
    last_run: Option<&'a str>,
    next_run: Option<&'a str>,
}

impl<'a> Reported<'a> {
    fn of(vps_id: &'a str, info: Option<&'a SnapshotScheduleInfo>) -> Self {
        let s = info.and_then(|i| i.schedule.as_ref());
        Reported {
            id: vps_id,
            last_run: s.and_then(|s| s.last_run.as_deref()),
            next_run: s.and_then(|s| s.next_run.as_deref()),
        }
    }
}

fn subject(vps_id: &str) -> Subject {
    Subject::new(TYPE_NAME, vps_id, "snapshot schedule")
}

/// `interval_hours` as whole hours in HostUp's range, or the validation error.
fn interval(hours: f64) -> Result<i64, Diagnostic> {
    let at = AttributePath::root("interval_hours");
    let (lo, hi) = (*HOURS.start(), *HOURS.end());
    if hours.fract() != 0.0 || !(lo as f64..=hi as f64).contains(&hours) {
        let why = if hours.fract() != 0.0 {
            format!("{hours} is not a whole number of hours")
        } else {
            format!("{hours} is outside {lo}–{hi}")
        };
        return Err(Diagnostic::error(
            "Invalid interval_hours",
            format!(
                "HostUp takes snapshots every {lo} to {hi} whole hours, and {why}. HostUp would \
                 round it to another value, which every plan would then try to change back."
            ),
        )
        .with_path(at));
    }
    Ok(hours as i64)
}

/// The settled arguments of a known configuration (`None` while something is unknown or
/// invalid: validation reports the latter).
fn settle(m: &Model) -> Option<(&str, bool, i64)> {
    let vps_id = known(&m.vps_id)?;
    let enabled = match &m.enabled {
        Field::Unknown => return None,
        f => f.get().copied().unwrap_or(true),
    };
    let hours = interval(*m.interval_hours.get()?).ok()?;
    Some((vps_id, enabled, hours))
}

/// Plan's checks of a schedule to create or change: HostUp refuses one on a VPS without
/// snapshot slots or with `canEnable` closed; and scheduled snapshots use the slots manual ones
/// need, which the plan says.
fn check(
    info: &SnapshotScheduleInfo,
    vps_id: &str,
    enabled: bool,
    hours: i64,
    creating: bool,
) -> (Vec<Diagnostic>, Vec<Diagnostic>) {
    let (mut problems, mut notes) = (Vec::new(), Vec::new());
    let total = info.total_snapshots();
    if info.available == Some(false) || total == Some(0) {
        let detail = match info.reason.as_deref().filter(|r| !r.trim().is_empty()) {
            Some(r) => format!(
                "HostUp says: {}. A snapshot schedule needs at least one slot; once the VPS plan \
                 has one, run `terraform apply` again. Nothing was sent to HostUp.",
                r.trim().trim_end_matches('.')
            ),
            None => "Its plan includes no snapshot slots, and a snapshot schedule needs at least \
                     one: add snapshot slots to the VPS plan on HostUp, then run `terraform \
                     apply` again. Nothing was sent to HostUp."
                .to_owned(),
        };
        problems.push(
            Diagnostic::error(
                format!("VPS {vps_id} has no snapshot slots for a schedule"),
                detail,
            )
            .with_path(AttributePath::root("vps_id")),
        );
        return (problems, notes);
    }
    if let Some(g) = info.can_enable().filter(|g| !g.allowed && !g.is_busy()) {
        let path = AttributePath::root("vps_id");
        problems.push(gate_closed(&subject(vps_id), "canEnable", g, path, false));
        return (problems, notes);
    }
    if let (true, Some(existing)) = (creating, info.schedule.as_ref()) {
        let every = existing
            .interval_hours
            .map(|h| format!("every {h} hours"))
            .unwrap_or_else(|| "at an interval it does not report".to_owned());
        let state = match existing.enabled {
            Some(false) => ", disabled",
            _ => "",
        };
        notes.push(
            Diagnostic::warning(
                format!("VPS {vps_id} already has a snapshot schedule"),
                format!(
                    "HostUp takes snapshots {every}{state}. Applying replaces that schedule \
                     with this one. To manage the existing schedule as it is, import it \
                     instead: `terraform import {TYPE_NAME}.NAME {vps_id}`."
                ),
            )
            .with_path(AttributePath::root("vps_id")),
        );
    }
    if let (true, Some(total)) = (enabled, total) {
        let at_once = (KEPT_HOURS + hours - 1) / hours;
        let used = info
            .limits
            .as_ref()
            .and_then(|l| l.used_snapshots)
            .map(|u| format!(" ({u} in use now)"))
            .unwrap_or_default();
        let kept = at_once.min(total);
        let room = if at_once >= total {
            "that is every slot, so a `hostup_vps_snapshot` or a manual snapshot of this VPS \
             may find none free. Raise `interval_hours`, or add snapshot slots to the VPS plan"
                .to_owned()
        } else if total - at_once == 1 {
            "1 slot stays free for other snapshots".to_owned()
        } else {
            format!("{} slots stay free for other snapshots", total - at_once)
        };
        notes.push(
            Diagnostic::warning(
                format!(
                    "Scheduled snapshots of VPS {vps_id} keep up to {kept} of its {total} \
                     snapshot slots"
                ),
                format!(
                    "They share the slots with manual snapshots{used}. HostUp keeps a snapshot \
                     about {KEPT_HOURS} hours, so one every {hours} hours keeps up to \
                     {at_once} at a time: {room}."
                ),
            )
            .with_path(AttributePath::root("interval_hours")),
        );
    }
    (problems, notes)
}

/// Sends the schedule (create and update): HostUp creates or replaces it. What HostUp
/// answered, or read back when its answer held no schedule.
async fn send(
    data: &HostupData,
    ctx: &Ctx,
    vps_id: &str,
    enabled: bool,
    hours: i64,
    diags: &mut Diagnostics,
) -> Option<SnapshotScheduleInfo> {
    let client = data.client(ctx);
    let body = SetSnapshotSchedule {
        enabled,
        interval_hours: hours,
    };
    let paths = Paths::vps().with_pointers(&[
        ("/intervalHours", "interval_hours"),
        ("/enabled", "enabled"),
    ]);
    let answer = match client.set_snapshot_schedule(vps_id, &body).await {
        Ok(Some(info)) => info,
        Ok(None) => match client.snapshot_schedule(vps_id).await {
            Ok(info) => info,
            Err(e) => {
                diags.push(api_error(
                    format!("Could not read the snapshot schedule of VPS {vps_id} back"),
                    &e,
                    &paths,
                    &data.config.sources,
                ));
                return None;
            }
        },
        Err(e) => {
            diags.push(api_error(
                format!("Could not set the snapshot schedule of VPS {vps_id}"),
                &e,
                &paths,
                &data.config.sources,
            ));
            return None;
        }
    };
    tracing::info!(vps_id = %vps_id, enabled, interval_hours = hours, "snapshot schedule set");
    Some(answer)
}

/// The state of a schedule HostUp lists: arguments as HostUp has them, and what it reports.
fn record(state: &mut ObjectValue, vps_id: &str, info: &SnapshotScheduleInfo, prior: &Model) {
    let s = info.schedule.as_ref();
    let enabled = s
        .and_then(|s| s.enabled)
        .or(prior.enabled.get().copied())
        .unwrap_or(true);
    let hours = s
        .and_then(|s| s.interval_hours)
        .or(prior.interval_hours.get().map(|h| *h as i64));
    if let Some(interval_hours) = hours {
        state.set_fields(&Arguments {
            vps_id,
            enabled,
            interval_hours,
        });
    }
    state.set_fields(&Reported::of(vps_id, Some(info)));
}

#[async_trait]
impl Resource<HostupData> for VpsSnapshotSchedule {
    fn type_name(&self) -> &str {
        TYPE_NAME
    }

    fn identity(&self) -> Option<crate::plugin::framework::IdentitySchema> {
        Some(super::schema_parts::vps_identity(
            "whose snapshots the schedule takes",
        ))
    }

    fn schema(&self) -> Schema {
        Schema::new(
            Block::new()
                .description(
                    "The snapshot schedule of a HostUp VPS: HostUp takes a snapshot every \
                    `interval_hours` hours. A VPS has at most one schedule; creating this \
                    resource sets it (replacing one made in the dashboard), changing it \
                    updates it in place, destroying it deletes the schedule on HostUp (the \
                    snapshots it took stay until they expire).\n\n\
                    Scheduled snapshots use the same slots as manual ones (`hostup_vps_snapshot`) \
                    and, like them, expire after about 24 hours: one every 4 hours keeps up to \
                    6 at a time. The plan that creates or changes a schedule says how that \
                    compares with the VPS's slots. Plan checks that the VPS has snapshot slots \
                    and that HostUp allows a schedule (`canEnable`); refresh shows a schedule \
                    changed or deleted outside Terraform.\n\n\
                    Needs an API key with scopes `read:vm` and `write:vm`.\n\n\
                    Import an existing schedule with `terraform import \
                    hostup_vps_snapshot_schedule.NAME <vps_id>`.",
                )
                .attribute(vps_id_argument("whose snapshots to schedule"))
                .attribute(
                    Attribute::bool("enabled")
                        .optional()
                        .computed()
                        .description(
                            "Whether the schedule takes snapshots (default `true`). `false` \
                            keeps the schedule on HostUp without taking snapshots.",
                        ),
                )
                .attribute(Attribute::number("interval_hours").required().description(
                    "Hours between two snapshots: a whole number from 4 to 24 (HostUp \
                        keeps no other values). Changing it updates the schedule in place.",
                ))
                .attribute(
                    Attribute::string("id")
                        .computed()
                        .use_state_for_unknown()
                        .description("The VPS id: a VPS has one snapshot schedule."),
                )
                .attribute(Attribute::string("last_run").computed().description(
                    "When the schedule last took a snapshot (RFC 3339), or null if HostUp does \
                    not say.",
                ))
                .attribute(Attribute::string("next_run").computed().description(
                    "When the schedule takes the next snapshot (RFC 3339), or null if HostUp \
                    does not say.",
                )),
        )
    }

    async fn validate(&self, _ctx: &Ctx, req: ValidateRequest, resp: &mut ValidateResponse) {
        let diags = &mut resp.diagnostics;
        let Some(m) = req.config.model::<Model>(diags) else {
            return;
        };
        validate_vps_id(&m.vps_id, diags);
        if let Some(h) = m.interval_hours.get() {
            if let Err(d) = interval(*h) {
                diags.push(d);
            }
        }
    }

    async fn plan(&self, ctx: &Ctx, req: PlanRequest<HostupData>, resp: &mut PlanResponse) {
        let diags = &mut resp.diagnostics;
        let Some(m) = req.config.model::<Model>(diags) else {
            return;
        };
        let Some((vps_id, enabled, hours)) = settle(&m) else {
            return;
        };
        let args = Arguments {
            vps_id,
            enabled,
            interval_hours: hours,
        };
        resp.planned_state.set_fields(&args);
        let Some(data) = req.provider.get() else {
            return;
        };
        let prior = match &req.prior_state {
            Some(p) => match p.model::<Model>(diags) {
                Some(p) => Some(p),
                None => return,
            },
            None => None,
        };
        let replaced = !resp.requires_replace.is_empty();
        if !replacement::claim_singleton(&data.run, TYPE_NAME, vps_id, &req, resp) {
            resp.diagnostics.push(
                Diagnostic::error(
                    format!("Two snapshot schedules for VPS {vps_id}"),
                    "Another hostup_vps_snapshot_schedule in this configuration has the same \
                     vps_id; HostUp keeps one schedule per VPS. Keep one of them.",
                )
                .with_path(AttributePath::root("vps_id")),
            );
            return;
        }
        let diags = &mut resp.diagnostics;
        let unchanged = prior.as_ref().is_some_and(|p| {
            p.enabled.get() == Some(&enabled)
                && p.interval_hours.get().map(|h| *h as i64) == Some(hours)
        });
        if replaced || unchanged {
            // A replacement is checked by its create half; an unchanged schedule needs no read.
            return;
        }
        let info = match data.client(ctx).snapshot_schedule(vps_id).await {
            Ok(info) => info,
            Err(e) => {
                let d = api_error(
                    format!("Could not check the snapshot schedule of VPS {vps_id}"),
                    &e,
                    &Paths::vps(),
                    &data.config.sources,
                );
                diags.push(data.config.plan_checks.show(d));
                return;
            }
        };
        let (problems, notes) = check(&info, vps_id, enabled, hours, prior.is_none());
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
                "Destroying deletes the snapshot schedule of VPS {} on HostUp",
                prior.vps_id.as_deref().unwrap_or("?")
            ),
            "HostUp takes no more scheduled snapshots of the VPS; those it took stay until they \
             expire.",
        ));
    }

    async fn create(&self, ctx: &Ctx, req: CreateRequest<HostupData>, resp: &mut CreateResponse) {
        let diags = &mut resp.diagnostics;
        let Some(data) = req.provider.require(diags) else {
            return;
        };
        let planned = &req.planned_state;
        let Some(m) = planned.model::<Model>(diags) else {
            return;
        };
        let Some(vps_id) = required(&m.vps_id, "vps_id", diags) else {
            return;
        };
        let Some((_, enabled, hours)) = settle(&m) else {
            diags.error(
                "Missing snapshot schedule arguments",
                "`enabled` and `interval_hours` must be known at apply.",
            );
            return;
        };
        let Some(info) = send(data, ctx, vps_id, enabled, hours, diags).await else {
            return;
        };
        let mut state = planned.clone();
        state.set_fields(&Reported::of(vps_id, Some(&info)));
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
        let Some(vps_id) = cur.vps_id.as_deref() else {
            return;
        };
        match data.client(ctx).snapshot_schedule(vps_id).await {
            Ok(info) if info.schedule.is_none() => {
                resp.diagnostics.warning(
                    format!("The snapshot schedule of VPS {vps_id} is gone"),
                    "HostUp lists no snapshot schedule for the VPS (it was deleted outside \
                     Terraform). Terraform will plan to create it again; to keep none, remove \
                     the resource from the configuration.",
                );
                resp.remove();
            }
            Ok(info) => {
                if let Some(st) = resp.state.as_mut() {
                    record(st, vps_id, &info, &cur);
                }
            }
            Err(e) if e.is_vps_gone() => {
                tracing::info!(vps_id = %vps_id, "VPS is gone; dropping its snapshot schedule");
                resp.remove();
            }
            Err(e) => {
                resp.diagnostics.push(api_error(
                    format!("Could not refresh the snapshot schedule of VPS {vps_id}"),
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
        let Some((vps_id, enabled, hours)) = settle(&m) else {
            diags.error(
                "Missing snapshot schedule arguments",
                "`vps_id`, `enabled` and `interval_hours` must be known at apply.",
            );
            return;
        };
        let Some(info) = send(data, ctx, vps_id, enabled, hours, diags).await else {
            resp.state = req.prior_state.clone();
            return;
        };
        resp.state.set_fields(&Reported::of(vps_id, Some(&info)));
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
        let Some(vps_id) = required(&m.vps_id, "vps_id", diags) else {
            return;
        };
        match data.client(ctx).delete_snapshot_schedule(vps_id).await {
            Ok(()) => tracing::info!(vps_id = %vps_id, "snapshot schedule deleted"),
            Err(e) if e.is_not_found() => {
                tracing::info!(vps_id = %vps_id, "snapshot schedule already gone");
            }
            Err(e) => {
                diags.push(api_error(
                    format!("Could not delete the snapshot schedule of VPS {vps_id}"),
                    &e,
                    &Paths::vps(),
                    &data.config.sources,
                ));
            }
        }
    }

    async fn import(&self, ctx: &Ctx, req: ImportRequest<HostupData>, resp: &mut ImportResponse) {
        let vps_id = match import_vps_id(&req.id) {
            Ok(id) => id,
            Err(d) => {
                resp.diagnostics.push(d);
                return;
            }
        };
        let Some(data) = req.provider.require(&mut resp.diagnostics) else {
            return;
        };
        match data.client(ctx).snapshot_schedule(vps_id).await {
            Ok(info) if info.schedule.is_none() => {
                resp.diagnostics.error(
                    format!("VPS {vps_id} has no snapshot schedule"),
                    "HostUp lists none to import. To create one, add the resource to the \
                     configuration and run `terraform apply`.",
                );
            }
            Ok(info) => {
                let none = Model {
                    vps_id: Field::Null,
                    enabled: Field::Null,
                    interval_hours: Field::Null,
                };
                record(&mut resp.state, vps_id, &info, &none);
                if resp.state.string("vps_id").is_none() {
                    resp.diagnostics.error(
                        format!("HostUp does not say how often VPS {vps_id} is snapshotted"),
                        "Its snapshot schedule has no interval, so it cannot be imported. Add \
                         the resource to the configuration with `interval_hours` and run \
                         `terraform apply`, which sets the schedule.",
                    );
                }
            }
            Err(e) => {
                resp.diagnostics.push(api_error(
                    format!("Could not import the snapshot schedule of VPS {vps_id}"),
                    &e,
                    &Paths::default(),
                    &data.config.sources,
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hostup::{Gate, SnapshotLimits, SnapshotSchedule};
    use crate::plugin::framework::SchemaInfo;

    #[test]
    fn the_model_fits_the_schema() {
        let mut o = ObjectValue::empty(SchemaInfo::new(VpsSnapshotSchedule.schema()));
        o.set_fields(&Arguments {
            vps_id: "vps_1",
            enabled: true,
            interval_hours: 6,
        })
        .set_fields(&Reported::of("vps_1", None));
        assert!(o.take_misuse().is_empty());
        let m: Model = o.decode().expect("decodes");
        assert_eq!(settle(&m), Some(("vps_1", true, 6)));
    }

    #[test]
    fn the_interval_is_whole_hours_in_hostups_range() {
        for ok in [4.0, 6.0, 24.0] {
            assert_eq!(interval(ok).ok(), Some(ok as i64));
        }
        for bad in [3.0, 25.0, 6.5, 0.0, -4.0] {
            let e = interval(bad).unwrap_err();
            assert_eq!(e.attribute, Some(AttributePath::root("interval_hours")));
        }
    }

    fn info(total: Option<i64>, schedule: Option<SnapshotSchedule>) -> SnapshotScheduleInfo {
        SnapshotScheduleInfo {
            schedule,
            limits: Some(SnapshotLimits {
                total_snapshots: total,
                used_snapshots: Some(1),
            }),
            available: total.map(|t| t > 0),
            ..Default::default()
        }
    }

    #[test]
    fn the_checks_refuse_a_vps_without_slots_and_count_the_slots() {
        let (p, _) = check(&info(Some(0), None), "vps_1", true, 6, true);
        assert!(p[0].summary.contains("no snapshot slots"), "{p:?}");
        let (p, n) = check(&info(Some(3), None), "vps_1", true, 6, true);
        assert!(p.is_empty());
        assert!(n[0].detail.contains("up to 4 at a time"), "{n:?}");
        assert!(n[0].detail.contains("every slot"), "{n:?}");
        let (_, n) = check(&info(Some(10), None), "vps_1", true, 12, true);
        assert!(n[0].detail.contains("8 slots stay free"), "{n:?}");
        let (_, n) = check(&info(Some(10), None), "vps_1", false, 12, true);
        assert!(n.is_empty(), "a disabled schedule takes no slots");
        let existing = SnapshotSchedule {
            enabled: Some(false),
            interval_hours: Some(8),
            ..Default::default()
        };
        let (_, n) = check(&info(Some(10), Some(existing)), "vps_1", false, 12, true);
        assert!(n[0].detail.contains("every 8 hours, disabled"), "{n:?}");
        let mut closed = info(Some(3), None);
        closed.actions = Some(crate::hostup::SnapshotScheduleActions {
            can_enable: Some(Gate {
                allowed: false,
                reason: Some("Service suspended".into()),
                code: Some("service_suspended".into()),
            }),
        });
        let (p, _) = check(&closed, "vps_1", true, 6, true);
        assert!(p[0].detail.contains("Service suspended"), "{p:?}");
    }
}
