//! The poll schedule of a job wait: when to ask HostUp about a job next.
//!
//! Exists apart from the wait loop so that the schedule is pure (no clock, no HTTP, no
//! randomness of its own): unit tests and benchmarks replay it with [`simulate_wait`], and
//! what they measure is what [`crate::hostup::Client::wait_for_job`] runs.

use std::time::Duration;

/// The poll schedule: a pure description, so it can be unit-tested and benchmarked.
///
/// Delays: poll 0 after `first_delay` (0: an instant job costs one round trip), then
/// `floor · factor^(n-1)` stretched by up to `jitter` (never beyond `cap`), then exactly `cap`.
/// The defaults (0 s, 0.5 s ×4, cap 60 s) poll a 30-minute job without progress 35 times,
/// one fewer than hcloud's 0.5 s doubling (36), because every ramp step below the cap costs a
/// poll. When the job reports progress, [`PollPlanner`] aims at the estimated end instead,
/// which detects completion within seconds for the same number of polls.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PollSchedule {
    /// Delay before the first poll.
    pub first_delay: Duration,
    /// The first backoff delay and the smallest delay ever used after the first poll.
    pub floor: Duration,
    /// Growth per poll (≥ 1).
    pub factor: f64,
    /// Largest delay between two polls (Retry-After excepted).
    pub cap: Duration,
    /// Ramp delays are stretched by a random share in `[0, jitter)` to desynchronise pollers.
    pub jitter: f64,
    /// Progress (percent) at which a job is expected to complete; HostUp-style progress often
    /// stops at 99 until the job is done.
    pub eta_target_percent: f64,
    /// Added to the estimated end before polling.
    pub eta_margin: Duration,
}

impl Default for PollSchedule {
    fn default() -> Self {
        PollSchedule {
            first_delay: Duration::ZERO,
            floor: Duration::from_millis(500),
            factor: 4.0,
            cap: Duration::from_secs(60),
            jitter: 0.2,
            eta_target_percent: 99.0,
            eta_margin: Duration::from_millis(150),
        }
    }
}

impl PollSchedule {
    /// The plain backoff delay after `polls` polls (0 → `first_delay`); `jitter` in `[0,1)`.
    pub fn backoff(&self, polls: u32, jitter: f64) -> Duration {
        if polls == 0 {
            return self.first_delay.min(self.cap);
        }
        let cap = self.cap.as_secs_f64();
        let nominal = self.floor.as_secs_f64()
            * self
                .factor
                .max(1.0)
                .powi(polls.saturating_sub(1).min(64) as i32);
        if !nominal.is_finite() || nominal >= cap {
            return self.cap;
        }
        let stretched = nominal * (1.0 + self.jitter.max(0.0) * jitter.clamp(0.0, 1.0));
        Duration::from_secs_f64(stretched.min(cap))
    }
}

/// Estimates when a job reaches its target progress from the progress it reported.
///
/// Progress is assumed roughly linear once it moves. The rate comes from the first and the
/// latest moving observations; the end is then bracketed by intersecting what each recent
/// observation allows: whole-number progress `p` seen at `t` means the true value was in
/// `[p, p + 1)`, so the end lies in `(t + (target − p − 1)·u, t + (target − p)·u]` for `u`
/// seconds per percent. Polls at different phases narrow that window to a few seconds.
#[derive(Debug, Clone, Default)]
pub struct ProgressTracker {
    first: Option<(f64, f64)>,
    first_moving: Option<(f64, f64)>,
    latest: Option<(f64, f64)>,
    recent: std::collections::VecDeque<(f64, f64)>,
}

/// Observations kept for bracketing the end.
const RECENT: usize = 8;

impl ProgressTracker {
    /// Records progress `p` (percent) observed at `t` (time since the wait began).
    pub fn observe(&mut self, t: Duration, p: Option<f64>) {
        let Some(p) = p else { return };
        let t = t.as_secs_f64();
        match self.latest {
            None => {
                self.first = Some((t, p));
                self.latest = Some((t, p));
            }
            Some((_, lp)) if p < lp - 0.5 => {
                // Progress went back (a new phase): start over.
                *self = ProgressTracker::default();
                self.observe(Duration::from_secs_f64(t), Some(p));
            }
            Some((_, lp)) if p > lp => {
                if self.first_moving.is_none() {
                    self.first_moving = Some((t, p));
                }
                self.latest = Some((t, p));
                self.push(t, p);
            }
            Some(_) => {
                if self.first_moving.is_none() {
                    // Still at the first value: the move starts after the latest such
                    // sighting, so measuring from it does not count a queueing phase as
                    // slow progress.
                    self.first = Some((t, p));
                } else {
                    self.push(t, p);
                }
            }
        }
    }

    fn push(&mut self, t: f64, p: f64) {
        if self.recent.len() == RECENT {
            self.recent.pop_front();
        }
        self.recent.push_back((t, p));
    }

    /// Seconds per percent, from the first and latest moving observations (or the last
    /// sighting of the starting value).
    fn unit(&self) -> Option<f64> {
        let (t2, p2) = self.latest?;
        let (t1, p1) = match self.first_moving {
            Some(fm) if fm.0 < t2 => fm,
            _ => self.first?,
        };
        if p2 <= p1 || t2 <= t1 {
            return None;
        }
        Some(((t2 - t1) / (p2 - p1)).min(1.0e7))
    }

    /// The window in which progress is expected to reach `target`, as `(earliest, latest,
    /// unit)`: seconds from `now` (negative once passed) and seconds per percent. None
    /// without a rate (fewer than two distinct progress values).
    pub fn estimate(&self, now: Duration, target: f64) -> Option<(f64, f64, f64)> {
        let u = self.unit()?;
        let now = now.as_secs_f64();
        let (mut lo, mut hi) = (f64::NEG_INFINITY, f64::INFINITY);
        for &(t, p) in &self.recent {
            let quantum = if p.fract() == 0.0 { 1.0 } else { 0.0 };
            lo = lo.max(t + (target - p - quantum) * u);
            hi = hi.min(t + (target - p) * u);
        }
        if !(lo.is_finite() && hi.is_finite()) {
            return None;
        }
        if lo > hi + 0.5 * u {
            // The observations disagree with a steady rate (stuck or slowed down): no
            // estimate until progress moves again.
            return None;
        }
        if lo > hi {
            std::mem::swap(&mut lo, &mut hi);
        }
        let rel = |x: f64| (x - now).clamp(-1.0e7, 1.0e7);
        Some((rel(lo), rel(hi), u))
    }

    /// Estimated time from `now` until progress reaches `target` (the middle of the window);
    /// None without a rate.
    pub fn remaining(&self, now: Duration, target: f64) -> Option<Duration> {
        self.estimate(now, target)
            .map(|(lo, hi, _)| Duration::from_secs_f64(((lo + hi) / 2.0).max(0.0)))
    }
}

/// Longest gap between probes inside the window where a progress-reporting job is expected
/// to end: it bounds the detection latency.
const PROBE_GAP_MAX: Duration = Duration::from_secs(8);

/// The stateful side of the schedule: feeds observations in, gets the next delay out. Both
/// [`crate::hostup::Client::wait_for_job`] and [`simulate_wait`] use it, so what is benchmarked is
/// what runs.
///
/// With progress, the end of the job is bracketed ([`ProgressTracker::estimate`]): the planner
/// polls at the start of that window, then probes it every window-width (at most
/// [`PROBE_GAP_MAX`]); once past the window (progress stuck), the gaps grow with how overdue
/// the job is, back to the plain backoff. A job whose progress sits at the target (99 %) until
/// it is done is polled once more at the latest moment progress could have reached 100 %.
#[derive(Debug, Clone)]
pub struct PollPlanner {
    schedule: PollSchedule,
    tracker: ProgressTracker,
    polls: u32,
}

impl PollPlanner {
    /// A planner for one wait.
    pub fn new(schedule: PollSchedule) -> Self {
        PollPlanner {
            schedule,
            tracker: ProgressTracker::default(),
            polls: 0,
        }
    }

    /// Polls recorded so far.
    pub fn polls(&self) -> u32 {
        self.polls
    }

    /// Records a poll made at `at` (since the wait began) and what it saw.
    pub fn record(&mut self, at: Duration, progress: Option<f64>) {
        self.polls += 1;
        self.tracker.observe(at, progress);
    }

    /// Records a poll that failed (no observation).
    pub fn record_failure(&mut self) {
        self.polls += 1;
    }

    /// The delay before the next poll, computed at `now` (since the wait began). A
    /// `retry_after` from HostUp is a lower bound. `jitter` in `[0,1)`.
    pub fn next_delay(
        &mut self,
        now: Duration,
        retry_after: Option<Duration>,
        jitter: f64,
    ) -> Duration {
        let s = &self.schedule;
        let backoff = s.backoff(self.polls, jitter);
        let mut delay = backoff;
        if self.polls > 0 {
            // Some jobs complete as progress reaches the target (99); others sit there until
            // the work is done. Once progress sits at the target, aim at the latest moment it
            // could reach 100 instead: one poll there, rather than probing and backing off as
            // if the job were overdue.
            let sitting = s.eta_target_percent < 100.0
                && self
                    .tracker
                    .latest
                    .is_some_and(|(_, p)| p >= s.eta_target_percent);
            let target = if sitting { 100.0 } else { s.eta_target_percent };
            if let Some((lo, hi, unit)) = self.tracker.estimate(now, target) {
                let lo = if sitting { hi } else { lo };
                // The rate itself is an estimate: leave a tenth of a percent's time for it.
                let margin = s.eta_margin.as_secs_f64() + 0.1 * unit;
                let floor = s.floor.as_secs_f64();
                let probe = (hi - lo).clamp(floor, PROBE_GAP_MAX.as_secs_f64().max(floor));
                let overdue = -(hi + margin);
                let guided = if lo + margin > probe {
                    lo + margin
                } else if overdue <= 0.0 {
                    probe
                } else {
                    // Past the window: progress is stuck or slower than it was; back off
                    // geometrically from the expected end.
                    probe.max(2.0 * overdue)
                };
                if guided.is_finite() && guided < delay.as_secs_f64() {
                    delay = Duration::from_secs_f64(guided.max(0.0));
                }
            }
        }
        if let Some(ra) = retry_after {
            delay = delay.max(ra);
        }
        delay
    }
}

/// What [`simulate_wait`] observed.
#[derive(Debug, Clone, PartialEq)]
pub struct SimulatedWait {
    /// Times of the polls, since the wait began.
    pub poll_times: Vec<Duration>,
    /// When completion was detected (None: deadline first).
    pub detected_at: Option<Duration>,
}

impl SimulatedWait {
    /// Number of polls.
    pub fn polls(&self) -> usize {
        self.poll_times.len()
    }
}

/// Replays the schedule against a model job: `job(t)` returns (terminal?, progress) at `t`.
/// Polls take no time; `jitter()` supplies samples in `[0,1)`; a `deadline` stops the wait
/// (the last poll is made at the deadline, never after it). For tests and benchmarks.
pub fn simulate_wait(
    schedule: &PollSchedule,
    mut job: impl FnMut(Duration) -> (bool, Option<f64>),
    deadline: Option<Duration>,
    mut jitter: impl FnMut() -> f64,
) -> SimulatedWait {
    let mut planner = PollPlanner::new(*schedule);
    let mut now = Duration::ZERO;
    let mut poll_times = Vec::new();
    let mut delay = planner.next_delay(now, None, jitter());
    loop {
        let mut at = now + delay;
        let last = deadline.is_some_and(|d| at >= d);
        if let Some(d) = deadline {
            at = at.min(d);
        }
        now = at;
        let (done, progress) = job(now);
        poll_times.push(now);
        planner.record(now, progress);
        if done {
            return SimulatedWait {
                poll_times,
                detected_at: Some(now),
            };
        }
        if last || poll_times.len() > 100_000 {
            return SimulatedWait {
                poll_times,
                detected_at: None,
            };
        }
        delay = planner.next_delay(now, None, jitter());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A job of `d` seconds: queued (0 %) for a tenth, then `progress(t, d)`, done at `d`.
    fn job_model(
        d: f64,
        progress: fn(f64, f64) -> f64,
    ) -> impl FnMut(Duration) -> (bool, Option<f64>) {
        move |t: Duration| {
            let t = t.as_secs_f64();
            if t >= d {
                (true, Some(100.0))
            } else if t < 0.1 * d {
                (false, Some(0.0))
            } else {
                (false, Some(progress(t, d)))
            }
        }
    }

    /// The sim's job model: queued for 10 %, then progress linear to 99, done at `d`.
    fn sim_job(d: f64) -> impl FnMut(Duration) -> (bool, Option<f64>) {
        job_model(d, |t, d| (99.0 * (t - 0.1 * d) / (0.9 * d)).floor())
    }

    /// hostup-sim's job: queued (0 %) for a tenth, then `floor(100 t / d)` held at 99 until
    /// the job ends at `d`.
    fn plateau_job(d: f64) -> impl FnMut(Duration) -> (bool, Option<f64>) {
        job_model(d, |t, d| (100.0 * t / d).floor().min(99.0))
    }

    #[test]
    fn jobs_that_sit_at_99_percent_are_detected_promptly_too() {
        let s = PollSchedule::default();
        for d in [30.0, 300.0, 1800.0, 3600.0] {
            let mut lat = Vec::new();
            let mut polls = Vec::new();
            for seed in 0..41 {
                let w = simulate_wait(&s, plateau_job(d), None, rng(seed));
                lat.push(w.detected_at.unwrap().as_secs_f64() - d);
                polls.push(w.polls());
            }
            lat.sort_by(f64::total_cmp);
            polls.sort_unstable();
            // docs/ARCHITECTURE.md, "Targets" asks for 5 s at 30 minutes; an hour-long job sits at
            // 99 % for 36 s and its end is bracketed less tightly.
            let bound = if d > 1800.0 { 10.0 } else { 5.0 };
            assert!(lat[20] < bound, "{d}s: median detection {:.2}s", lat[20]);
            // docs/ARCHITECTURE.md, "Targets": no more polls than hcloud for a 30-minute job; at
            // most one more for the others (as for jobs that complete at 99 %), for far quicker
            // detection.
            let allowed = hcloud_polls(d) + usize::from(d != 1800.0);
            assert!(polls[20] <= allowed, "{d}s: median polls {}", polls[20]);
        }
    }

    fn no_progress(d: f64) -> impl FnMut(Duration) -> (bool, Option<f64>) {
        move |t: Duration| (t.as_secs_f64() >= d, None)
    }

    fn rng(seed: u64) -> impl FnMut() -> f64 {
        let mut x = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407)
            | 1;
        move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 11) as f64 / (1u64 << 53) as f64
        }
    }

    /// Polls hcloud's schedule makes for a job of `d` seconds: sleep 0.5 s doubling to 60 s,
    /// then poll, until a poll lands at or after the end.
    fn hcloud_polls(d: f64) -> usize {
        let (mut t, mut gap, mut n) = (0.0, 0.5, 0);
        loop {
            t += gap;
            n += 1;
            if t >= d {
                return n;
            }
            gap = (gap * 2.0f64).min(60.0);
        }
    }

    #[test]
    fn never_more_polls_than_hclouds_schedule() {
        assert_eq!(hcloud_polls(1800.0), 36);
        let s = PollSchedule::default();
        let mut with_progress = Vec::new();
        for seed in 0..200 {
            let w = simulate_wait(&s, no_progress(1800.0), None, rng(seed));
            assert!(
                w.polls() <= 35,
                "no progress, seed {seed}: {} polls",
                w.polls()
            );
            let w = simulate_wait(&s, sim_job(1800.0), None, rng(seed));
            // Probing the estimated end costs at most two polls more than the plain schedule.
            assert!(
                w.polls() <= hcloud_polls(1800.0) + 2,
                "progress, seed {seed}: {}",
                w.polls()
            );
            with_progress.push(w.polls());
        }
        with_progress.sort_unstable();
        assert!(
            with_progress[100] <= hcloud_polls(1800.0),
            "median {}",
            with_progress[100]
        );
        // Worst and best jitter too.
        for j in [0.0, 0.999_999] {
            assert!(simulate_wait(&s, no_progress(1800.0), None, || j).polls() <= 35);
        }
        // Other lengths: at most two probes more than hcloud, for far quicker detection.
        for d in [5.0, 30.0, 120.0, 600.0, 3600.0, 7200.0] {
            for seed in 0..50 {
                let w = simulate_wait(&s, sim_job(d), None, rng(seed));
                assert!(
                    w.polls() <= hcloud_polls(d) + 1,
                    "{d}s, seed {seed}: {} polls",
                    w.polls()
                );
                let w = simulate_wait(&s, no_progress(d), None, rng(seed));
                assert!(
                    w.polls() <= hcloud_polls(d),
                    "{d}s, no progress, seed {seed}"
                );
            }
        }
    }

    #[test]
    fn delays_respect_floor_cap_and_jitter_bounds() {
        let s = PollSchedule::default();
        assert_eq!(s.backoff(0, 0.5), Duration::ZERO);
        assert_eq!(s.backoff(1, 0.0), Duration::from_millis(500));
        assert_eq!(s.backoff(1, 0.999_999).as_millis(), 599);
        assert_eq!(s.backoff(5, 0.0), Duration::from_secs(60));
        assert_eq!(s.backoff(4, 0.0), Duration::from_secs(32));
        assert_eq!(s.backoff(1000, 0.9), s.cap);
        for seed in 0..50 {
            let w = simulate_wait(&s, sim_job(900.0), None, rng(seed));
            for pair in w.poll_times.windows(2) {
                let gap = pair[1] - pair[0];
                assert!(gap <= s.cap, "gap {gap:?}");
                assert!(
                    gap >= s.floor.min(Duration::from_millis(500)),
                    "gap {gap:?}"
                );
            }
        }
    }

    #[test]
    fn progress_brings_detection_close_to_the_end() {
        let s = PollSchedule::default();
        for d in [10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0] {
            let mut lat: Vec<f64> = (0..41)
                .map(|seed| {
                    let w = simulate_wait(&s, sim_job(d), None, rng(seed));
                    w.detected_at.unwrap().as_secs_f64() - d
                })
                .collect();
            lat.sort_by(f64::total_cmp);
            let median = lat[lat.len() / 2];
            assert!(
                median < 5.0,
                "job of {d}s: median detection latency {median:.2}s"
            );
            assert!(lat[0] >= 0.0);
        }
    }

    #[test]
    fn instant_job_is_seen_on_the_first_poll() {
        let w = simulate_wait(&PollSchedule::default(), |_| (true, None), None, || 0.5);
        assert_eq!(w.poll_times, vec![Duration::ZERO]);
    }

    #[test]
    fn deadline_is_respected() {
        let s = PollSchedule::default();
        for dl in [0.3, 1.0, 7.0, 100.0, 1000.0] {
            let deadline = Duration::from_secs_f64(dl);
            let w = simulate_wait(&s, no_progress(1.0e9), Some(deadline), rng(7));
            assert_eq!(w.detected_at, None);
            assert!(w.poll_times.iter().all(|t| *t <= deadline));
            assert_eq!(
                *w.poll_times.last().unwrap(),
                deadline,
                "a last look at the deadline"
            );
        }
    }

    #[test]
    fn stuck_progress_does_not_cause_a_poll_storm() {
        // Progress rises to 50 within 20 s, then stays there for an hour.
        let s = PollSchedule::default();
        let w = simulate_wait(
            &s,
            |t: Duration| {
                (
                    t.as_secs_f64() >= 3600.0,
                    Some((t.as_secs_f64() * 2.5).min(50.0)),
                )
            },
            None,
            rng(1),
        );
        assert!(w.polls() <= hcloud_polls(3600.0) + 8, "{} polls", w.polls());
    }

    #[test]
    fn retry_after_is_a_lower_bound() {
        let mut p = PollPlanner::new(PollSchedule::default());
        p.record(Duration::ZERO, None);
        assert_eq!(
            p.next_delay(Duration::ZERO, Some(Duration::from_secs(5)), 0.0),
            Duration::from_secs(5)
        );
        assert_eq!(
            p.next_delay(Duration::ZERO, None, 0.0),
            Duration::from_millis(500)
        );
    }
}
