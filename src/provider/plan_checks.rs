//! How plan-time checks speak: as errors (the default) or, with `plan_checks = "warn"`, as
//! warnings.
//!
//! Why a switch exists: `terraform destroy` (and `plan -destroy`) first runs a normal plan of
//! the whole configuration to refresh the state, aborts on that plan's errors and drops its
//! warnings, and gives the provider no way to tell that plan from `terraform plan` (Terraform
//! 1.11's `Context.destroyPlan` in internal/terraform/context_plan.go runs `c.plan` in
//! `plans.NormalMode` with `PreDestroyRefresh`, which PlanResourceChange does not carry). So a
//! check that fails the plan of a resource not yet created (a closed gate, a missing snapshot)
//! also blocks destroying everything else. The error says the way out, and the switch turns
//! every such error into a warning for workspaces that prefer to learn at apply.

use crate::plugin::diag::{AttributePath, Diagnostic, Severity};

/// The provider argument that sets the mode.
pub const ATTRIBUTE: &str = "plan_checks";
/// The environment variable read when the argument is not set.
pub const ENV: &str = "HOSTUP_PLAN_CHECKS";

/// How plan-time checks of resources not yet created report what they find.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PlanChecks {
    /// Fail the plan (the value of the check: CI learns before anything changes).
    #[default]
    Error,
    /// Warn; apply checks again before queuing and fails there if the problem still holds.
    Warn,
}

impl PlanChecks {
    /// Parses `error` or `warn` (any case, surrounding blanks ignored; `warning` too).
    pub fn parse(s: &str) -> Option<PlanChecks> {
        match s.trim().to_ascii_lowercase().as_str() {
            "error" => Some(PlanChecks::Error),
            "warn" | "warning" => Some(PlanChecks::Warn),
            _ => None,
        }
    }

    /// The mode from the provider block's value, else the environment, else the default.
    /// A blank value counts as unset, so `variable … { default = "" }` falls through. A value
    /// that is not a mode is an error diagnostic naming where it came from: the argument (and
    /// pointing at it), or the environment variable.
    pub fn from_config(
        value: Option<&str>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<PlanChecks, Diagnostic> {
        const MODES: &str = "\"error\" (the default: a plan-time finding fails the plan) or \
                             \"warn\" (it is a warning, and apply checks again)";
        if let Some(s) = value.filter(|s| !s.trim().is_empty()) {
            return PlanChecks::parse(s).ok_or_else(|| {
                Diagnostic::error(
                    "Invalid plan_checks",
                    format!("`{ATTRIBUTE} = {s:?}` is not a mode. Use {MODES}."),
                )
                .with_path(AttributePath::root(ATTRIBUTE))
            });
        }
        match env(ENV).filter(|s| !s.trim().is_empty()) {
            Some(s) => PlanChecks::parse(&s).ok_or_else(|| {
                Diagnostic::error(
                    format!("Invalid {ENV}"),
                    format!(
                        "The {ENV} environment variable is {s:?}, which is not a mode. Set it to \
                         {MODES}, or unset it."
                    ),
                )
            }),
            None => Ok(PlanChecks::default()),
        }
    }

    /// A plan-time finding as this mode shows it. Errors gain the way to destroy anyway (or,
    /// as warnings, say that apply checks again); warnings pass unchanged.
    pub fn show(self, mut d: Diagnostic) -> Diagnostic {
        if d.severity != Severity::Error {
            return d;
        }
        match self {
            // `terraform destroy` runs this check in its first plan, and the provider cannot
            // tell that plan apart (see the module docs): one sentence says the way out.
            PlanChecks::Error => d.detail.push_str(
                "\n\nIf this stops `terraform destroy`, run `terraform destroy -refresh=false`, \
                 or set `plan_checks = \"warn\"` in the provider block.",
            ),
            PlanChecks::Warn => {
                d.severity = Severity::Warning;
                d.detail.push_str(
                    "\n\nShown as a warning because plan_checks is \"warn\": apply checks again \
                     before queuing anything and fails if this still holds.",
                );
            }
        }
        d
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(v: Option<&str>) -> impl Fn(&str) -> Option<String> {
        let v = v.map(str::to_owned);
        move |k| (k == ENV).then(|| v.clone()).flatten()
    }

    #[test]
    fn block_then_environment_then_default() {
        assert_eq!(
            PlanChecks::from_config(Some("warn"), &env(Some("error"))),
            Ok(PlanChecks::Warn)
        );
        assert_eq!(
            PlanChecks::from_config(None, &env(Some(" WARN "))),
            Ok(PlanChecks::Warn)
        );
        assert_eq!(
            PlanChecks::from_config(Some(""), &env(Some("warn"))),
            Ok(PlanChecks::Warn)
        );
        assert_eq!(
            PlanChecks::from_config(None, &env(None)),
            Ok(PlanChecks::Error)
        );
        let e = PlanChecks::from_config(None, &env(Some("loud"))).unwrap_err();
        assert!(
            e.summary.contains(ENV) && e.detail.contains("\"loud\""),
            "{e}"
        );
        assert_eq!(e.attribute, None, "the block does not hold it");
        let e = PlanChecks::from_config(Some("nope"), &env(Some("loud"))).unwrap_err();
        assert!(e.detail.contains("`plan_checks = \"nope\"`"), "{e}");
        assert!(!e.detail.contains(ENV), "{e}");
        assert_eq!(e.attribute, Some(AttributePath::root(ATTRIBUTE)));
    }

    #[test]
    fn errors_say_the_way_out_or_become_warnings() {
        let d = PlanChecks::Error.show(Diagnostic::error("s", "d"));
        assert!(d.is_error());
        assert!(d.detail.contains("terraform destroy -refresh=false"));
        assert!(d.detail.contains("plan_checks = \"warn\""));
        let w = PlanChecks::Warn.show(Diagnostic::error("s", "d"));
        assert_eq!(w.severity, Severity::Warning);
        assert!(w.detail.starts_with("d\n\n"));
        let kept = PlanChecks::Error.show(Diagnostic::warning("s", "d"));
        assert_eq!(kept.detail, "d");
    }
}
