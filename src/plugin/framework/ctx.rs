//! Cancellation context handed to every provider operation.
//!
//! Terraform sends `Stop` on Ctrl-C and then waits for in-flight RPCs to finish; a provider
//! that ignores it keeps the user waiting for a 60-minute job wait to time out. Every operation
//! therefore gets a [`Ctx`] whose [`Ctx::cancelled`] resolves on Stop (and on an optional
//! deadline, for `timeouts`), and waits written with [`Ctx::run`] / [`Ctx::sleep`] end at once.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Why an operation was cut short; the error text differs (Ctrl-C vs timeout) so both are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cancelled {
    /// Terraform sent Stop (the user pressed Ctrl-C).
    Stopped,
    /// The deadline from [`Ctx::with_timeout`] passed.
    DeadlineExceeded,
}

impl fmt::Display for Cancelled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cancelled::Stopped => f.write_str("cancelled: Terraform asked the provider to stop"),
            Cancelled::DeadlineExceeded => f.write_str("timed out"),
        }
    }
}

impl std::error::Error for Cancelled {}

/// The context of one provider operation: cancellation on Stop, an optional deadline, and what
/// the server knows about the calling Terraform.
///
/// Cheap to clone; clones share the same cancellation.
#[derive(Debug, Clone)]
pub struct Ctx {
    stop: CancellationToken,
    deadline: Option<Instant>,
    terraform_version: Option<Arc<str>>,
}

impl Ctx {
    /// A context cancelled by `stop` (the server builds these; tests use it too).
    pub fn new(stop: CancellationToken, terraform_version: Option<Arc<str>>) -> Self {
        Ctx {
            stop,
            deadline: None,
            terraform_version,
        }
    }

    /// A context nobody cancels, for tests and tools outside a Terraform run.
    pub fn background() -> Self {
        Ctx::new(CancellationToken::new(), None)
    }

    /// The Stop token itself, to hand to code that takes a `CancellationToken` (e.g. an HTTP
    /// client's wait loop). It does not carry the deadline; use [`Ctx::run`] for that.
    pub fn token(&self) -> &CancellationToken {
        &self.stop
    }

    /// A child context that is also cancelled after `timeout` (the earlier deadline wins).
    /// This is how `timeouts { create = "60m" }` is applied.
    pub fn with_timeout(&self, timeout: Duration) -> Ctx {
        let new = Instant::now().checked_add(timeout);
        let deadline = match (self.deadline, new) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        Ctx {
            stop: self.stop.clone(),
            deadline,
            terraform_version: self.terraform_version.clone(),
        }
    }

    /// The deadline, if [`Ctx::with_timeout`] set one.
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// The Terraform CLI version from Configure (e.g. `1.11.4`), for the User-Agent; `None`
    /// before Configure (validate runs never configure).
    pub fn terraform_version(&self) -> Option<&str> {
        self.terraform_version.as_deref()
    }

    /// Why the context is cancelled, if it is. Stop wins over the deadline.
    pub fn cancel_reason(&self) -> Option<Cancelled> {
        if self.stop.is_cancelled() {
            Some(Cancelled::Stopped)
        } else if self.deadline.is_some_and(|d| Instant::now() >= d) {
            Some(Cancelled::DeadlineExceeded)
        } else {
            None
        }
    }

    /// True once Stop arrived or the deadline passed.
    pub fn is_cancelled(&self) -> bool {
        self.cancel_reason().is_some()
    }

    /// Resolves when Stop arrives or the deadline passes, with the reason.
    pub async fn cancelled(&self) -> Cancelled {
        match self.deadline {
            Some(d) => {
                tokio::select! {
                    biased;
                    _ = self.stop.cancelled() => Cancelled::Stopped,
                    _ = tokio::time::sleep_until(d) => Cancelled::DeadlineExceeded,
                }
            }
            None => {
                self.stop.cancelled().await;
                Cancelled::Stopped
            }
        }
    }

    /// Runs `fut` unless cancelled first; on cancellation `fut` is dropped (so an HTTP request
    /// in flight is aborted) and the reason returned.
    pub async fn run<F: Future>(&self, fut: F) -> Result<F::Output, Cancelled> {
        if let Some(r) = self.cancel_reason() {
            return Err(r);
        }
        tokio::select! {
            biased;
            r = self.cancelled() => Err(r),
            v = fut => Ok(v),
        }
    }

    /// Sleeps for `duration` unless cancelled first: the building block of poll loops.
    pub async fn sleep(&self, duration: Duration) -> Result<(), Cancelled> {
        self.run(tokio::time::sleep(duration)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn stop_cancels_run_and_sleep() {
        let token = CancellationToken::new();
        let ctx = Ctx::new(token.clone(), None);
        let waiter = tokio::spawn({
            let ctx = ctx.clone();
            async move { ctx.sleep(Duration::from_secs(3600)).await }
        });
        token.cancel();
        let res = tokio::time::timeout(Duration::from_secs(5), waiter).await;
        assert_eq!(res.ok().and_then(|r| r.ok()), Some(Err(Cancelled::Stopped)));
        assert_eq!(ctx.run(async { 1 }).await, Err(Cancelled::Stopped));
    }

    #[tokio::test(start_paused = true)]
    async fn deadline_cancels() {
        let ctx = Ctx::background().with_timeout(Duration::from_secs(10));
        assert_eq!(
            ctx.sleep(Duration::from_secs(3600)).await,
            Err(Cancelled::DeadlineExceeded)
        );
        assert_eq!(ctx.cancel_reason(), Some(Cancelled::DeadlineExceeded));
        let longer = ctx.with_timeout(Duration::from_secs(100));
        assert_eq!(longer.deadline(), ctx.deadline());
        assert_eq!(Ctx::background().run(async { 7 }).await, Ok(7));
    }
}
