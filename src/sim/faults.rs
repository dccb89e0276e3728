//! Fault injection: rules that delay, break or cut answers, and knobs that make jobs fail or hang.
//!
//! Faults are what make the simulator worth more than a mock: every error path the provider
//! claims to handle (5xx, HTML from a proxy, 429, truncated bodies, resets, failed and stuck jobs)
//! can be produced on demand, deterministically, so tests are repeatable.

use std::str::FromStr;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

/// What a fault rule does to a matching request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum FaultKind {
    /// Adds `ms` milliseconds before the request is handled.
    Latency,
    /// Answers a Problem Details 500/502/503 (`status`).
    Error,
    /// Answers an nginx-style text/html 502 page.
    #[serde(alias = "html_502", alias = "html-502")]
    Html502,
    /// Answers 429 `rate_limit_exceeded` with `Retry-After: retryAfter`.
    #[serde(alias = "rate_limit", alias = "rate-limit", alias = "429")]
    RateLimit,
    /// Sends the real answer with its body cut in half.
    Truncate,
    /// Closes the connection with a TCP reset and no answer.
    Reset,
    /// Answers 409 `code` (default `job_in_progress`; e.g. `vps_not_ready`), as HostUp does
    /// when another job runs on the VPS or it is not ready: the answer a client gets when a job
    /// from elsewhere started between its gate check and its request. The request never reaches
    /// the API. With `gates`, a gate read (the snapshot or backup list) is answered normally but
    /// with its gates closed with `code`.
    Busy,
}

impl FaultKind {
    fn parse(s: &str) -> Option<Self> {
        Some(
            match s.to_ascii_lowercase().replace(['_', '-'], "").as_str() {
                "latency" => Self::Latency,
                "error" | "5xx" => Self::Error,
                "html502" => Self::Html502,
                "ratelimit" | "429" => Self::RateLimit,
                "truncate" => Self::Truncate,
                "reset" => Self::Reset,
                "busy" | "409" => Self::Busy,
                _ => return None,
            },
        )
    }
}

/// One fault rule: what it does, which requests it applies to, and how often it fires.
///
/// A rule is data (serde) so the same form travels through `POST /_sim/faults`, `--faults FILE`
/// and `SimConfig::faults`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FaultRule {
    /// What the rule does.
    pub kind: FaultKind,
    /// Pattern matched against the route template and the concrete path (`*` = any run of
    /// characters); absent = every API request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route: Option<String>,
    /// HTTP method (case-insensitive); absent = any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// Fire on at most this many more matching requests (counts down as it fires).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    /// Fire on this share (0..1) of matching requests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<f64>,
    /// Latency in milliseconds (`latency`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ms: Option<u64>,
    /// HTTP status (`error`: 500, 502 or 503; default 503).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Retry-After seconds (`rateLimit`; default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
    /// Handle the request first, then replace the answer (`error`, `html502`, `reset`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub after: bool,
    /// Problem/gate code (`busy`; default `job_in_progress`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// Gate reads answer 200 with their gates closed with `code` instead of a 409 (`busy`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub gates: bool,
    /// How many requests matched so far (reported by `GET /_sim/faults`).
    #[serde(default)]
    pub matched: u64,
    /// How many times the rule fired so far.
    #[serde(default)]
    pub fired: u64,
}

impl FaultRule {
    /// A rule of the given kind that fires on every API request; exists as the base of the
    /// `with_*`/field-update style used in tests.
    pub fn new(kind: FaultKind) -> Self {
        Self {
            kind,
            route: None,
            method: None,
            count: None,
            rate: None,
            ms: None,
            status: None,
            retry_after: None,
            after: false,
            code: None,
            gates: false,
            matched: 0,
            fired: 0,
        }
    }

    /// Checks the parameters, so that a bad rule is rejected when set rather than ignored.
    pub fn validate(&self) -> Result<(), String> {
        if let Some(rate) = self.rate {
            if !(0.0..=1.0).contains(&rate) || rate.is_nan() {
                return Err(format!("rate must be within 0..1, got {rate}"));
            }
        }
        match self.kind {
            FaultKind::Latency if self.ms.is_none() => {
                return Err("a latency rule needs `ms`".into());
            }
            FaultKind::Error => {
                if let Some(s) = self.status {
                    if !(500..=599).contains(&s) {
                        return Err(format!("an error rule needs a 5xx status, got {s}"));
                    }
                }
            }
            _ => {}
        }
        if self.after
            && !matches!(
                self.kind,
                FaultKind::Error | FaultKind::Html502 | FaultKind::Reset
            )
        {
            return Err("`after` only applies to error, html502 and reset".into());
        }
        if self.kind != FaultKind::Busy && (self.code.is_some() || self.gates) {
            return Err("`code` and `gates` only apply to busy".into());
        }
        if let Some(code) = &self.code {
            let ok = code.bytes().next().is_some_and(|b| b.is_ascii_lowercase())
                && code
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
            if !ok {
                return Err(format!(
                    "a busy code is lowercase letters, digits and `_`, got {code:?}"
                ));
            }
        }
        Ok(())
    }

    fn matches(&self, method: &str, path: &str, template: &str) -> bool {
        if let Some(m) = &self.method {
            if !m.eq_ignore_ascii_case(method) {
                return false;
            }
        }
        match &self.route {
            None => true,
            Some(p) => glob(p, template) || glob(p, path),
        }
    }
}

impl FromStr for FaultRule {
    type Err = String;
    /// Parses the compact CLI form
    /// `KIND[:ARG][,count=N][,rate=P][,route=PATTERN][,method=M][,after][,code=C][,gates]`
    /// (`busy:CODE` and `busy:code=CODE` both set the busy code).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut parts = s.split(',');
        let head = parts.next().unwrap_or_default().trim();
        let (kind, arg) = match head.split_once(':') {
            Some((k, a)) => (k, Some(a)),
            None => (head, None),
        };
        let kind = FaultKind::parse(kind).ok_or_else(|| {
            format!("unknown fault kind {kind:?} (latency, error, html502, rate-limit, truncate, reset, busy)")
        })?;
        let mut rule = FaultRule::new(kind);
        let num = |v: &str, what: &str| -> Result<u64, String> {
            v.trim()
                .parse::<u64>()
                .map_err(|_| format!("{what} must be a whole number, got {v:?}"))
        };
        if let Some(arg) = arg {
            match kind {
                FaultKind::Latency => rule.ms = Some(num(arg, "latency")?),
                FaultKind::Error => rule.status = Some(num(arg, "status")? as u16),
                FaultKind::RateLimit => rule.retry_after = Some(num(arg, "retry-after")?),
                FaultKind::Busy => {
                    let code = arg.trim();
                    rule.code = Some(code.strip_prefix("code=").unwrap_or(code).to_string())
                }
                _ => return Err(format!("fault {head:?} takes no argument")),
            }
        }
        for part in parts {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            match part.split_once('=') {
                Some(("count", v)) => rule.count = Some(num(v, "count")?),
                Some(("rate", v)) => {
                    rule.rate = Some(
                        v.trim()
                            .parse::<f64>()
                            .map_err(|_| format!("rate must be a number, got {v:?}"))?,
                    )
                }
                Some(("route", v)) => rule.route = Some(v.to_string()),
                Some(("method", v)) => rule.method = Some(v.to_string()),
                Some(("ms", v)) => rule.ms = Some(num(v, "ms")?),
                Some(("status", v)) => rule.status = Some(num(v, "status")? as u16),
                Some(("retryAfter" | "retry-after", v)) => {
                    rule.retry_after = Some(num(v, "retry-after")?)
                }
                Some(("code", v)) => rule.code = Some(v.trim().to_string()),
                None if part == "after" => rule.after = true,
                None if part == "gates" => rule.gates = true,
                _ => return Err(format!("unknown fault option {part:?}")),
            }
        }
        rule.validate()?;
        Ok(rule)
    }
}

/// Knobs that decide the fate of the next jobs created.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct JobFaults {
    /// The next N jobs (of `type`, if set) fail.
    pub fail_next: u64,
    /// Failure message; absent = a per-type default such as "Backup storage unavailable".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fail_message: Option<String>,
    /// The next N jobs (of `type`, if set) never finish.
    pub stuck_next: u64,
    /// Restricts the two counters above to one job type, e.g. `backup_create` (its name in any
    /// vocabulary: `snapshot_rollback` and `qmrollback` also name `snapshot_restore`).
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub job_type: Option<String>,
}

/// The whole fault set: request rules, job knobs, and an optional RNG seed.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Faults {
    /// Request rules, evaluated in order.
    pub rules: Vec<FaultRule>,
    /// Job fate knobs.
    pub jobs: JobFaults,
    /// With a seed, `rate` rules use a seeded RNG instead of even spreading.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
}

impl Faults {
    /// Checks every rule.
    pub fn validate(&self) -> Result<(), String> {
        for (i, r) in self.rules.iter().enumerate() {
            r.validate().map_err(|e| format!("rules[{i}]: {e}"))?;
        }
        Ok(())
    }
}

/// An answer-replacing fault chosen for one request.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Answer {
    Error { status: u16, after: bool },
    Html502 { after: bool },
    RateLimit { retry_after: u64 },
    Truncate,
    Reset { after: bool },
    Busy { code: String, gates: bool },
}

impl Answer {
    pub(crate) fn label(&self) -> &'static str {
        match self {
            Answer::Error { .. } => "error",
            Answer::Html502 { .. } => "html502",
            Answer::RateLimit { .. } => "rateLimit",
            Answer::Truncate => "truncate",
            Answer::Reset { .. } => "reset",
            Answer::Busy { .. } => "busy",
        }
    }
}

/// What the fault engine decided for one request.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Decision {
    pub latency_ms: u64,
    pub answer: Option<Answer>,
}

/// The fate of a new job.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum JobFate {
    Normal,
    Fail(Option<String>),
    Stuck,
}

/// Runtime holder of the fault set, with the RNG state that goes with it.
pub(crate) struct FaultEngine {
    pub faults: Faults,
    rng: Option<StdRng>,
}

impl FaultEngine {
    pub fn new(faults: Faults) -> Self {
        let rng = faults.seed.map(StdRng::seed_from_u64);
        Self { faults, rng }
    }

    /// Decides latency and at most one answering fault for a request.
    pub fn decide(&mut self, method: &str, path: &str, template: &str) -> Decision {
        let mut d = Decision::default();
        for rule in self.faults.rules.iter_mut() {
            if d.answer.is_some() && rule.kind != FaultKind::Latency {
                continue;
            }
            if !rule.matches(method, path, template) {
                continue;
            }
            if rule.count == Some(0) {
                continue;
            }
            rule.matched += 1;
            let fires = match rule.rate {
                None => true,
                Some(rate) => match self.rng.as_mut() {
                    Some(rng) => rng.random::<f64>() < rate,
                    None => {
                        let k = rule.matched as f64;
                        (k * rate).floor() > ((k - 1.0) * rate).floor()
                    }
                },
            };
            if !fires {
                continue;
            }
            rule.fired += 1;
            if let Some(c) = rule.count.as_mut() {
                *c -= 1;
            }
            match rule.kind {
                FaultKind::Latency => d.latency_ms += rule.ms.unwrap_or(0),
                FaultKind::Error => {
                    d.answer = Some(Answer::Error {
                        status: rule.status.unwrap_or(503),
                        after: rule.after,
                    })
                }
                FaultKind::Html502 => d.answer = Some(Answer::Html502 { after: rule.after }),
                FaultKind::RateLimit => {
                    d.answer = Some(Answer::RateLimit {
                        retry_after: rule.retry_after.unwrap_or(1),
                    })
                }
                FaultKind::Truncate => d.answer = Some(Answer::Truncate),
                FaultKind::Reset => d.answer = Some(Answer::Reset { after: rule.after }),
                FaultKind::Busy => {
                    d.answer = Some(Answer::Busy {
                        code: rule
                            .code
                            .clone()
                            .unwrap_or_else(|| "job_in_progress".into()),
                        gates: rule.gates,
                    })
                }
            }
        }
        d
    }

    /// Decides the fate of a job being created now, whose type is known by `names` (its name
    /// in every vocabulary, so a `type` filter may use any of them).
    pub fn job_fate(&mut self, names: &[&str]) -> JobFate {
        let j = &mut self.faults.jobs;
        if let Some(t) = &j.job_type {
            if !names.contains(&t.as_str()) {
                return JobFate::Normal;
            }
        }
        if j.fail_next > 0 {
            j.fail_next -= 1;
            return JobFate::Fail(j.fail_message.clone());
        }
        if j.stuck_next > 0 {
            j.stuck_next -= 1;
            return JobFate::Stuck;
        }
        JobFate::Normal
    }
}

/// Glob match where `*` matches any run of characters (including `/`).
fn glob(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if pi < p.len() && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globbing() {
        assert!(glob("/api/jobs/*", "/api/jobs/job_1"));
        assert!(glob("/api/v2/vps/{id}/backups", "/api/v2/vps/{id}/backups"));
        assert!(!glob(
            "/api/v2/vps/{id}/backups",
            "/api/v2/vps/{id}/snapshots"
        ));
        assert!(glob(
            "*snapshots*",
            "/api/v2/vps/x/snapshots/a/actions/restore"
        ));
        assert!(glob("*", ""));
        assert!(!glob("/a", "/ab"));
    }

    #[test]
    fn compact_form() {
        let r: FaultRule = "reset,count=1,method=POST,after".parse().unwrap();
        assert_eq!(r.kind, FaultKind::Reset);
        assert_eq!(r.count, Some(1));
        assert_eq!(r.method.as_deref(), Some("POST"));
        assert!(r.after);
        let r: FaultRule = "error:500,rate=0.5,route=/api/jobs/*".parse().unwrap();
        assert_eq!(r.status, Some(500));
        assert_eq!(r.rate, Some(0.5));
        let r: FaultRule = "rate-limit:3,count=2".parse().unwrap();
        assert_eq!((r.kind, r.retry_after), (FaultKind::RateLimit, Some(3)));
        assert!("latency".parse::<FaultRule>().is_err());
        assert!("bogus".parse::<FaultRule>().is_err());
        assert!("error,rate=2".parse::<FaultRule>().is_err());
        assert!("truncate,after".parse::<FaultRule>().is_err());
        let r: FaultRule = "busy,count=2,method=POST".parse().unwrap();
        assert_eq!((r.kind, r.count), (FaultKind::Busy, Some(2)));
        assert!("busy,after".parse::<FaultRule>().is_err());
        for spec in [
            "busy:vps_not_ready",
            "busy:code=vps_not_ready",
            "busy,code=vps_not_ready",
        ] {
            let r: FaultRule = spec.parse().unwrap();
            assert_eq!(r.code.as_deref(), Some("vps_not_ready"), "{spec}");
            assert!(!r.gates);
        }
        let r: FaultRule = "busy:vps_not_ready,gates,route=*/snapshots"
            .parse()
            .unwrap();
        assert!(r.gates);
        assert!("busy:Not-A-Code".parse::<FaultRule>().is_err());
        assert!("error,code=x".parse::<FaultRule>().is_err());
        assert!("reset,gates".parse::<FaultRule>().is_err());
        let mut e = FaultEngine::new(Faults {
            rules: vec!["busy".parse().unwrap()],
            ..Faults::default()
        });
        assert_eq!(
            e.decide("POST", "/x", "/x").answer,
            Some(Answer::Busy {
                code: "job_in_progress".into(),
                gates: false
            })
        );
    }

    #[test]
    fn even_spread_is_deterministic() {
        let mut rule = FaultRule::new(FaultKind::Error);
        rule.rate = Some(0.5);
        let mut e = FaultEngine::new(Faults {
            rules: vec![rule],
            ..Faults::default()
        });
        let fired: Vec<bool> = (0..6)
            .map(|_| e.decide("GET", "/x", "/x").answer.is_some())
            .collect();
        assert_eq!(fired, vec![false, true, false, true, false, true]);
    }

    #[test]
    fn count_runs_out_and_first_answer_wins() {
        let mut a = FaultRule::new(FaultKind::RateLimit);
        a.count = Some(2);
        let b = FaultRule::new(FaultKind::Truncate);
        let mut lat = FaultRule::new(FaultKind::Latency);
        lat.ms = Some(5);
        let mut e = FaultEngine::new(Faults {
            rules: vec![a, b, lat],
            ..Faults::default()
        });
        let d = e.decide("GET", "/x", "/x");
        assert_eq!(d.answer, Some(Answer::RateLimit { retry_after: 1 }));
        assert_eq!(d.latency_ms, 5);
        e.decide("GET", "/x", "/x");
        assert_eq!(e.decide("GET", "/x", "/x").answer, Some(Answer::Truncate));
    }

    #[test]
    fn job_fates() {
        let mut e = FaultEngine::new(Faults {
            jobs: JobFaults {
                fail_next: 1,
                stuck_next: 1,
                job_type: Some("backup_create".into()),
                fail_message: None,
            },
            ..Faults::default()
        });
        assert_eq!(e.job_fate(&["snapshot_create"]), JobFate::Normal);
        assert_eq!(
            e.job_fate(&["backup_create", "vzdump"]),
            JobFate::Fail(None)
        );
        assert_eq!(e.job_fate(&["vzdump", "backup_create"]), JobFate::Stuck);
        assert_eq!(e.job_fate(&["backup_create"]), JobFate::Normal);
    }
}
