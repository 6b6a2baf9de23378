//! A connection's deadlines (close handshake, slow-consumer grace, heartbeat, idle, adding
//! its counts to the metrics) behind one tokio timer, set for the earliest. The timer wakes
//! an alarm rather than the task, and the task looks at its timer only once the alarm rang:
//! the timer lies apart from the task, on a line that is cold by the next message when
//! there are many connections.
//!
//! What the task calls on every message is `#[inline]`: the task is compiled in the user's
//! crate.

use std::{
    future::Future,
    pin::Pin,
    task::{Context, Poll, Waker},
    time::Duration,
};

use tokio::time::{Instant, Sleep, sleep_until};

use crate::{Heartbeat, metrics::TALLY_PERIOD};

/// Why the connection should close, found when the timer fired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Expired {
    /// The peer did not answer our close in time.
    CloseHandshake,
    /// A slow consumer's queue did not drain within the grace period.
    Grace,
    /// No pong within the pong timeout.
    Pong,
    /// No message within the idle timeout.
    Idle,
}

/// What is due when the timer fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Due {
    /// Why the connection should close, if it should.
    pub(crate) expired: Option<Expired>,
    /// A ping should go out.
    pub(crate) ping: bool,
    /// The connection's counts should be added to the metrics.
    pub(crate) tally: bool,
}

/// One tokio timer, set for one deadline at a time.
struct Timer {
    /// Boxed, so that an idle connection's task stays small.
    sleep: Pin<Box<Sleep>>,
    set_for: Instant,
}

/// What every message touches comes first (`repr(C)`), as in the task.
#[repr(C)]
pub(crate) struct Timers {
    /// When the counts not yet added to the metrics must be.
    tally: Option<Instant>,
    /// When to check for idleness next.
    idle_check: Option<Instant>,
    last_message: Instant,
    /// The earliest deadline, kept up to date by every change.
    next: Option<Instant>,
    /// Made when a deadline first comes up (a connection without any owns no timer), and
    /// set for `next`.
    timer: Option<Timer>,
    /// What the timer wakes when it fires.
    alarm: Waker,
    heartbeat: Heartbeat,
    close: Option<Instant>,
    grace: Option<Instant>,
    /// When to send the next ping.
    ping: Option<Instant>,
    /// When the ping sent last must have been answered.
    pong: Option<Instant>,
}

impl Timers {
    pub(crate) fn new(heartbeat: Heartbeat, alarm: Waker) -> Timers {
        let now = Instant::now();
        let mut timers = Timers {
            next: None,
            timer: None,
            alarm,
            heartbeat,
            close: None,
            grace: None,
            ping: heartbeat.ping_interval().map(|every| now + every),
            pong: None,
            idle_check: heartbeat.idle_timeout().map(|after| now + after),
            last_message: now,
            tally: None,
        };
        timers.update();
        timers
    }

    /// A message arrived: the connection is not idle (noted only if that is checked).
    #[inline]
    pub(crate) fn message_received(&mut self) {
        if self.idle_check.is_some() {
            self.last_message = Instant::now();
        }
    }

    /// Something was counted: it reaches the metrics within the tally period.
    #[inline]
    pub(crate) fn counted(&mut self) {
        if self.tally.is_none() {
            self.tally = Some(Instant::now() + TALLY_PERIOD);
            self.update();
        }
    }

    pub(crate) fn pong_received(&mut self) {
        if self.pong.take().is_some() {
            self.update();
        }
    }

    /// Starts the slow consumer's grace period, which ends at `at`.
    pub(crate) fn start_grace(&mut self, at: Instant) {
        self.grace = Some(at);
        self.update();
    }

    /// Once closing, the heartbeat and idle checks no longer matter.
    pub(crate) fn closing(&mut self, close_timeout: Duration) {
        self.close = Some(Instant::now() + close_timeout);
        self.ping = None;
        self.pong = None;
        self.idle_check = None;
        self.grace = None;
        self.update();
    }

    /// When the close handshake must be over: the close timeout after this side's close,
    /// or now if none was sent.
    pub(crate) fn close_deadline(&self) -> Instant {
        self.close.unwrap_or_else(Instant::now)
    }

    /// Recomputes the earliest deadline and sets the timer for it; called by everything
    /// that changes one.
    fn update(&mut self) {
        self.next = [
            self.close,
            self.grace,
            self.ping,
            self.pong,
            self.idle_check,
            self.tally,
        ]
        .into_iter()
        .flatten()
        .min();
        let Some(deadline) = self.next else {
            return;
        };
        match &mut self.timer {
            Some(timer) if timer.set_for == deadline => return,
            Some(timer) => {
                timer.sleep.as_mut().reset(deadline);
                timer.set_for = deadline;
            }
            None => {
                self.timer = Some(Timer {
                    sleep: Box::pin(sleep_until(deadline)),
                    set_for: deadline,
                });
            }
        }
        // Polled now, so that it rings the alarm when it fires; rung at once if the
        // deadline has passed already.
        if self.poll_timer().is_ready() {
            self.alarm.wake_by_ref();
        }
    }

    /// Ready when the earliest deadline has come. `rang`: the alarm rang since the last
    /// call; until it does, no deadline has come.
    #[inline]
    pub(crate) fn poll_due(&mut self, rang: bool) -> Poll<()> {
        if !rang || self.next.is_none() {
            return Poll::Pending;
        }
        self.poll_timer()
    }

    fn poll_timer(&mut self) -> Poll<()> {
        match &mut self.timer {
            Some(timer) => timer
                .sleep
                .as_mut()
                .poll(&mut Context::from_waker(&self.alarm)),
            None => Poll::Pending,
        }
    }

    /// Handles every deadline that has passed: returns what is due.
    pub(crate) fn fire(&mut self) -> Due {
        let now = Instant::now();
        let tally = self.tally.is_some_and(|at| at <= now);
        if tally {
            self.tally = None;
        }
        let (expired, ping) = self.expire(now);
        self.update();
        Due {
            expired,
            ping,
            tally,
        }
    }

    /// What expired (the most serious first), and whether a ping is due now.
    fn expire(&mut self, now: Instant) -> (Option<Expired>, bool) {
        let passed = |deadline: Option<Instant>| deadline.is_some_and(|at| at <= now);
        if passed(self.close) {
            return (Some(Expired::CloseHandshake), false);
        }
        if passed(self.grace) {
            self.grace = None;
            return (Some(Expired::Grace), false);
        }
        if passed(self.pong) {
            self.pong = None;
            return (Some(Expired::Pong), false);
        }
        if let (Some(check), Some(after)) = (self.idle_check, self.heartbeat.idle_timeout())
            && check <= now
        {
            let idle_until = self.last_message + after;
            if idle_until <= now {
                self.idle_check = None;
                return (Some(Expired::Idle), false);
            }
            self.idle_check = Some(idle_until);
        }
        let mut ping_due = false;
        if let (Some(at), Some(every)) = (self.ping, self.heartbeat.ping_interval())
            && at <= now
        {
            self.ping = Some(now + every);
            if self.pong.is_none() {
                self.pong = Some(now + self.heartbeat.pong_timeout());
                ping_due = true;
            }
        }
        (None, ping_due)
    }
}
