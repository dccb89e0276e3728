//! The `provider "hostup" {}` block: its schema, validation and configuration.
//!
//! Kept apart from the resources because every resource depends on what it produces
//! ([`HostupConfig`]) and because it is where the API key enters the process: the one place to
//! make sure it is sensitive in the schema and never printed.

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use serde::Deserialize;
use url::{Host, Url};

use crate::plugin::diag::{AttributePath, Diagnostics};
use crate::plugin::framework::{Field, ObjectValue};
use crate::plugin::schema::{Attribute, Block, Schema};

use super::plan_checks::{self, PlanChecks};

/// The HostUp API used when neither `endpoint` nor `HOSTUP_ENDPOINT` is set.
pub const DEFAULT_ENDPOINT: &str = "https://cloud.hostup.se";
/// Environment variable read when `api_key` is not set in the provider block.
pub const ENV_API_KEY: &str = "HOSTUP_API_KEY";
/// Environment variable read when `endpoint` is not set in the provider block.
pub const ENV_ENDPOINT: &str = "HOSTUP_ENDPOINT";
/// Environment variable overriding the per-attempt HTTP request timeout (a Go-style duration,
/// default 30s). Exists for networks or proxies slower than HostUp itself, and so that the
/// fault-matrix test (tests/fault_matrix/) can exercise "HostUp answers slower than the
/// request timeout" in seconds instead of minutes. Not a schema attribute: it tunes the
/// transport, not the infrastructure, so it stays out of plans and state.
pub const ENV_REQUEST_TIMEOUT: &str = "HOSTUP_REQUEST_TIMEOUT";

/// The request timeout from [`ENV_REQUEST_TIMEOUT`]: `Ok(None)` when unset or blank, an error
/// message naming the variable when it is not a positive Go-style duration.
pub fn request_timeout(env: &dyn Fn(&str) -> Option<String>) -> Result<Option<Duration>, String> {
    match env(ENV_REQUEST_TIMEOUT).filter(|s| !s.trim().is_empty()) {
        None => Ok(None),
        Some(s) => crate::plugin::framework::timeouts::parse_duration(&s)
            .map(Some)
            .map_err(|e| {
                format!(
                    "The {ENV_REQUEST_TIMEOUT} environment variable is not a usable timeout: \
                     {e}. Set it to a positive duration such as \"30s\" or \"2m\", or unset it."
                )
            }),
    }
}

/// What configure produces and every resource receives. The HostUp HTTP client will be built
/// from it.
#[derive(Clone)]
pub struct HostupConfig {
    /// The API key (sent as a bearer token). Never logged: `Debug` redacts it.
    pub api_key: String,
    /// The API origin, e.g. `https://cloud.hostup.se` (https, or http to a loopback host).
    pub endpoint: Url,
    /// The Terraform CLI version, for the User-Agent.
    pub terraform_version: String,
    /// How plan-time checks report what they find (`plan_checks`, `HOSTUP_PLAN_CHECKS`).
    pub plan_checks: PlanChecks,
    /// The per-attempt HTTP timeout from [`ENV_REQUEST_TIMEOUT`]; `None` keeps the client's.
    pub request_timeout: Option<Duration>,
    /// Where the endpoint and the key came from, so that advice names what the user set.
    pub sources: Sources,
}

/// Where one setting came from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Source {
    /// The provider block.
    #[default]
    Block,
    /// Its environment variable.
    Environment,
    /// Neither: the provider's default.
    Default,
}

/// Where the endpoint and the API key came from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sources {
    /// `endpoint`, [`ENV_ENDPOINT`] or the default.
    pub endpoint: Source,
    /// `api_key` or [`ENV_API_KEY`] (never a default).
    pub api_key: Source,
}

impl fmt::Debug for HostupConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HostupConfig")
            .field("api_key", &"<redacted>")
            .field("endpoint", &self.endpoint.as_str())
            .field("terraform_version", &self.terraform_version)
            .field("plan_checks", &self.plan_checks)
            .field("request_timeout", &self.request_timeout)
            .finish()
    }
}

/// The provider block schema.
pub fn schema() -> Schema {
    Schema::new(
        Block::new()
            .description(
                "The HostUp provider manages snapshots and backups of HostUp VPSs through the \
                 HostUp API.\n\nConfigure it with an API key, either in the provider block \
                 (from a sensitive variable) or in the `HOSTUP_API_KEY` environment \
                 variable.\n\nWith Terraform 1.14 and later, backups, snapshots and restores \
                 are also actions (`action \"hostup_vps_backup\"`, run from an \
                 `action_trigger` or with `terraform apply -invoke`); the resources of the \
                 same names stay for earlier Terraform and OpenTofu. With Terraform 1.12 and \
                 later, every resource has an identity and can be imported with `import { \
                 identity = { … } }`.",
            )
            .attribute(
                Attribute::string("api_key")
                    .optional()
                    .sensitive()
                    .description(
                        "HostUp API key. Falls back to the `HOSTUP_API_KEY` environment \
                         variable. The key needs the scopes `read:vm` (to read snapshots), \
                         `backup:vm` (to queue backups and restores) and, for the schedules \
                         and backup settings, `write:vm`. Sensitive: it never appears in \
                         plans, state or logs.",
                    ),
            )
            .attribute(Attribute::string("endpoint").optional().description(
                "Base URL of the HostUp API. Falls back to the `HOSTUP_ENDPOINT` \
                     environment variable, then to `https://cloud.hostup.se`. Must be an \
                     absolute `https://` URL; `http://` is accepted only for loopback hosts \
                     (`127.0.0.1`, `::1`, `localhost`), e.g. a local `hostup-sim`.",
            ))
            .attribute(
                Attribute::string(plan_checks::ATTRIBUTE)
                    .optional()
                    .description(
                        "How `terraform plan` reports a check that fails for a resource it would \
                         create (a closed HostUp gate, a snapshot that does not exist, more new \
                         snapshots than free slots): `\"error\"` (default) fails the plan, \
                         `\"warn\"` shows a warning and leaves it to apply, which checks again \
                         before queuing anything. Falls back to the `HOSTUP_PLAN_CHECKS` \
                         environment variable. Terraform runs such a plan before every \
                         `terraform destroy` too, so with `\"error\"` a configuration holding \
                         such a resource is destroyed with `terraform destroy -refresh=false` \
                         (safe with this provider). The same holds for the checks of actions \
                         (Terraform 1.14 and later): the plan before a destroy plans the \
                         actions that pending creates and updates trigger.",
                    ),
            ),
    )
}

/// Checks an endpoint URL: absolute http(s), no credentials/query/fragment, and plain http
/// only to a loopback host (anything else would send the API key in clear text).
pub fn parse_endpoint(text: &str) -> Result<Url, EndpointError> {
    let text = text.trim();
    // `localhost:8080` parses as the scheme "localhost", `127.0.0.1:8080` not at all: both
    // are a host and port written without their scheme.
    if text.starts_with('/') {
        return Err(EndpointError::NotAUrl(format!(
            "{text:?} is a path, not the address of a server"
        )));
    }
    if !text.contains("://") {
        // Suggest the scheme this host would be allowed with: http:// only for loopback.
        let scheme = match Url::parse(&format!("http://{text}")) {
            Ok(url) if is_loopback(&url) => "http",
            _ => "https",
        };
        return Err(EndpointError::NoScheme {
            text: text.to_owned(),
            written: format!("{scheme}://{text}"),
        });
    }
    let url = Url::parse(text).map_err(|e| EndpointError::NotAUrl(e.to_string()))?;
    match url.scheme() {
        "https" => {}
        "http" => {
            if !is_loopback(&url) {
                return Err(EndpointError::HttpNotLoopback);
            }
        }
        other => return Err(EndpointError::Scheme(other.to_owned())),
    }
    if url.host().is_none() {
        return Err(EndpointError::NotAUrl("it has no host".into()));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(EndpointError::Credentials);
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(EndpointError::QueryOrFragment);
    }
    Ok(url)
}

/// Why an endpoint was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EndpointError {
    /// A host (and port) without `http://` or `https://`.
    #[error("{text:?} has no scheme; write it with https:// (http:// only for a local simulator): {written}")]
    NoScheme {
        /// What was written.
        text: String,
        /// The same with the scheme it would be allowed with.
        written: String,
    },
    /// Not an absolute URL.
    #[error("is not an absolute URL ({0}); write it like https://cloud.hostup.se")]
    NotAUrl(String),
    /// A scheme other than http/https.
    #[error("uses the scheme {0:?}; only https:// (or http:// to a loopback host) is allowed")]
    Scheme(String),
    /// http:// to a remote host.
    #[error(
        "uses http:// with a non-loopback host; plain HTTP would send the API key unencrypted. \
         Use https://, or http:// only with 127.0.0.1, ::1 or localhost (e.g. hostup-sim)"
    )]
    HttpNotLoopback,
    /// user:password@ in the URL.
    #[error("contains credentials; put the key in api_key or HOSTUP_API_KEY instead")]
    Credentials,
    /// ?query or #fragment.
    #[error("has a query or fragment; give only the scheme, host, port and optional path")]
    QueryOrFragment,
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

fn endpoint_summary(err: &EndpointError) -> &'static str {
    match err {
        EndpointError::HttpNotLoopback => "Insecure endpoint",
        _ => "Invalid endpoint",
    }
}

/// The provider block's typed model.
#[derive(Deserialize)]
struct Model {
    api_key: Field<String>,
    endpoint: Field<String>,
    plan_checks: Field<String>,
}

/// A setting of the block, when set: an empty or blank string counts as unset, so that
/// `variable "endpoint" { default = "" }` falls back to the environment like an absent one.
fn set(field: &Field<String>) -> Option<&str> {
    field.as_deref().filter(|s| !s.trim().is_empty())
}

/// Validation of the provider block (PrepareProviderConfig): only known values are checked;
/// unknown ones (from variables in `terraform validate`, or other resources) are skipped.
pub fn validate(config: &ObjectValue, diags: &mut Diagnostics) {
    let Some(m) = config.model::<Model>(diags) else {
        return;
    };
    if let Some(s) = set(&m.endpoint) {
        if let Err(e) = parse_endpoint(s) {
            diags
                .error(endpoint_summary(&e), format!("The endpoint {e}."))
                .at(AttributePath::root("endpoint"));
        }
    }
    if let Err(d) = PlanChecks::from_config(m.plan_checks.as_deref(), &|_| None) {
        diags.push(d);
    }
}

/// Builds [`HostupConfig`] from the provider block, falling back to the environment (`env` is
/// `std::env::var` in production, a map in tests). Returns `None` with diagnostics when a
/// value is missing or invalid, and `None` without diagnostics when a value is unknown (the
/// provider config depends on something not yet created; resources then report it).
pub fn configure(
    config: &ObjectValue,
    terraform_version: &str,
    env: &dyn Fn(&str) -> Option<String>,
    diags: &mut Diagnostics,
) -> Option<HostupConfig> {
    // Also covers a wholly unknown block, whose attributes read as null (not unknown).
    if !config.is_wholly_known() {
        return None;
    }
    let m = config.model::<Model>(diags)?;
    let nonempty = |v: Option<String>| v.filter(|s| !s.trim().is_empty());
    let sources = Sources {
        endpoint: match (set(&m.endpoint), nonempty(env(ENV_ENDPOINT))) {
            (Some(_), _) => Source::Block,
            (None, Some(_)) => Source::Environment,
            (None, None) => Source::Default,
        },
        api_key: match set(&m.api_key) {
            Some(_) => Source::Block,
            None => Source::Environment,
        },
    };
    let endpoint = match set(&m.endpoint) {
        Some(s) => match parse_endpoint(s) {
            Ok(u) => Some(u),
            Err(e) => {
                diags
                    .error(endpoint_summary(&e), format!("The endpoint {e}."))
                    .at(AttributePath::root("endpoint"));
                None
            }
        },
        None => match nonempty(env(ENV_ENDPOINT)) {
            Some(s) => match parse_endpoint(&s) {
                Ok(u) => Some(u),
                Err(e) => {
                    diags.error(
                        endpoint_summary(&e),
                        format!(
                            "The endpoint from the {ENV_ENDPOINT} environment variable {e}. \
                             Fix or unset {ENV_ENDPOINT}, or set `endpoint` in the provider \
                             block."
                        ),
                    );
                    None
                }
            },
            None => Url::parse(DEFAULT_ENDPOINT).ok(),
        },
    };
    let api_key = match set(&m.api_key) {
        Some(k) => Some(k.trim().to_owned()),
        None => match nonempty(env(ENV_API_KEY)) {
            Some(k) => Some(k.trim().to_owned()),
            None => {
                diags
                    .error(
                        "Missing HostUp API key",
                        "The provider needs a HostUp API key: set `api_key` in the provider \
                         block (from a sensitive variable) or the HOSTUP_API_KEY environment \
                         variable.",
                    )
                    .at(AttributePath::root("api_key"));
                None
            }
        },
    };
    let plan_checks = match PlanChecks::from_config(m.plan_checks.as_deref(), env) {
        Ok(m) => Some(m),
        Err(d) => {
            diags.push(d);
            None
        }
    };
    let request_timeout = match request_timeout(env) {
        Ok(t) => Some(t),
        Err(e) => {
            diags.error(format!("Invalid {ENV_REQUEST_TIMEOUT}"), e);
            None
        }
    };
    Some(HostupConfig {
        request_timeout: request_timeout?,
        api_key: api_key?,
        endpoint: endpoint?,
        terraform_version: terraform_version.to_owned(),
        plan_checks: plan_checks?,
        sources,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugin::framework::SchemaInfo;
    use crate::plugin::value::Value;
    use std::collections::HashMap;

    fn cfg(api_key: Value, endpoint: Value) -> ObjectValue {
        let mut o = ObjectValue::empty(SchemaInfo::new(schema()));
        o.set_attr("api_key", api_key)
            .set_attr("endpoint", endpoint);
        o
    }

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |k| m.get(k).cloned()
    }

    #[test]
    fn endpoint_rules() {
        for ok in [
            "https://cloud.hostup.se",
            "https://example.com:8443/base",
            "http://127.0.0.1:9",
            "http://127.10.0.1",
            "http://[::1]:8080",
            "http://localhost:1234",
            "http://LOCALHOST",
        ] {
            assert!(parse_endpoint(ok).is_ok(), "{ok}");
        }
        assert_eq!(
            parse_endpoint("http://example.com"),
            Err(EndpointError::HttpNotLoopback)
        );
        for (bare, fix) in [
            ("localhost:8080", "http://localhost:8080"),
            ("127.0.0.1:8080", "http://127.0.0.1:8080"),
        ] {
            let e = parse_endpoint(bare).expect_err(bare).to_string();
            assert!(e.contains(fix) && !e.contains("relative URL"), "{e}");
        }
        let e = parse_endpoint("/foo").expect_err("a path").to_string();
        assert!(
            e.contains("is a path") && e.contains("https://cloud.hostup.se"),
            "{e}"
        );
        assert_eq!(
            parse_endpoint("http://10.0.0.1"),
            Err(EndpointError::HttpNotLoopback)
        );
        let e = parse_endpoint("cloud.hostup.se")
            .expect_err("no scheme")
            .to_string();
        assert!(e.ends_with(": https://cloud.hostup.se"), "{e}");
        assert!(matches!(
            parse_endpoint("ftp://x"),
            Err(EndpointError::Scheme(_))
        ));
        assert_eq!(
            parse_endpoint("https://u:p@x.se"),
            Err(EndpointError::Credentials)
        );
        assert_eq!(
            parse_endpoint("https://x.se/?a=1"),
            Err(EndpointError::QueryOrFragment)
        );
    }

    #[test]
    fn validate_points_at_endpoint_and_tolerates_unknowns() {
        let mut d = Diagnostics::new();
        validate(&cfg("k".into(), "http://example.com".into()), &mut d);
        assert_eq!(d.len(), 1);
        assert_eq!(d.0[0].attribute, Some(AttributePath::root("endpoint")));
        assert!(d.0[0].detail.contains("non-loopback"));
        let mut d = Diagnostics::new();
        validate(&cfg(Value::unknown(), Value::unknown()), &mut d);
        assert!(d.is_empty());
    }

    #[test]
    fn configure_falls_back_to_env_and_default() {
        let mut d = Diagnostics::new();
        let c = configure(
            &cfg(Value::Null, Value::Null),
            "1.11.4",
            &env(&[(ENV_API_KEY, "envkey")]),
            &mut d,
        );
        assert!(d.is_empty(), "{d:?}");
        let c = c.expect("configured");
        assert_eq!(c.api_key, "envkey");
        assert_eq!(c.endpoint.as_str(), "https://cloud.hostup.se/");
        assert_eq!(c.terraform_version, "1.11.4");
        let dbg = format!("{c:?}");
        assert!(!dbg.contains("envkey") && dbg.contains("redacted"), "{dbg}");

        let mut d = Diagnostics::new();
        let c = configure(
            &cfg("cfgkey".into(), Value::Null),
            "1.11.4",
            &env(&[
                (ENV_API_KEY, "envkey"),
                (ENV_ENDPOINT, "http://127.0.0.1:9"),
            ]),
            &mut d,
        )
        .expect("configured");
        assert_eq!(c.api_key, "cfgkey");
        assert_eq!(c.endpoint.as_str(), "http://127.0.0.1:9/");
    }

    #[test]
    fn request_timeout_from_env() {
        assert_eq!(request_timeout(&env(&[])), Ok(None));
        assert_eq!(
            request_timeout(&env(&[(ENV_REQUEST_TIMEOUT, " ")])),
            Ok(None)
        );
        assert_eq!(
            request_timeout(&env(&[(ENV_REQUEST_TIMEOUT, "1500ms")])),
            Ok(Some(Duration::from_millis(1500)))
        );
        for bad in ["soon", "0s", "-1s"] {
            let e = request_timeout(&env(&[(ENV_REQUEST_TIMEOUT, bad)])).unwrap_err();
            assert!(e.contains(ENV_REQUEST_TIMEOUT), "{e}");
        }
    }

    #[test]
    fn configure_errors_name_the_attribute_and_env() {
        let mut d = Diagnostics::new();
        assert!(configure(&cfg(Value::Null, Value::Null), "1", &env(&[]), &mut d).is_none());
        assert_eq!(d.len(), 1);
        assert_eq!(d.0[0].attribute, Some(AttributePath::root("api_key")));
        assert!(d.0[0].detail.contains("api_key") && d.0[0].detail.contains("HOSTUP_API_KEY"));

        let mut d = Diagnostics::new();
        let none = configure(
            &cfg("k".into(), Value::Null),
            "1",
            &env(&[(ENV_ENDPOINT, "http://example.com")]),
            &mut d,
        );
        assert!(none.is_none());
        assert!(d.0[0].detail.contains(ENV_ENDPOINT), "{d:?}");

        let mut d = Diagnostics::new();
        assert!(configure(&cfg(Value::unknown(), Value::Null), "1", &env(&[]), &mut d).is_none());
        assert!(d.is_empty());
    }
}
