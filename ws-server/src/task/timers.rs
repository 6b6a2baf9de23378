//! A connection's deadlines (close handshake, slow-consumer grace, heartbeat, idle, adding
//! its counts to the metrics) behind one tokio timer, set for the earliest.
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
    /// The waker the timer was polled with since it was set, if any.
    waker: Option<Waker>,
}

pub(crate) struct Timers {
    /// The earliest deadline, kept up to date by every change.
    next: Option<Instant>,
    /// Made when a deadline first comes up (a connection without any owns no timer), and
    /// set for `next`.
    timer: Option<Timer>,
    heartbeat: Heartbeat,
    close: Option<Instant>,
    grace: Option<Instant>,
    /// When to send the next ping.
    ping: Option<Instant>,
    /// When the ping sent last must have been answered.
    pong: Option<Instant>,
    /// When to check for idleness next.
    idle_check: Option<Instant>,
    last_message: Instant,
    /// When the counts not yet added to the metrics must be.
    tally: Option<Instant>,
}

impl Timers {
    pub(crate) fn new(heartbeat: Heartbeat) -> Timers {
        let now = Instant::now();
        let mut timers = Timers {
            next: None,
            timer: None,
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

    /// Recomputes the earliest deadline; called by everything that changes one.
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
    }

    /// Ready when the earliest deadline has come.
    #[inline]
    pub(crate) fn poll_due(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let Some(deadline) = self.next else {
            return Poll::Pending;
        };
        let timer = self.timer.get_or_insert_with(|| Timer {
            sleep: Box::pin(sleep_until(deadline)),
            set_for: deadline,
            waker: None,
        });
        if timer.set_for != deadline {
            timer.sleep.as_mut().reset(deadline);
            timer.set_for = deadline;
            timer.waker = None;
        }
        // Polled with this task's waker since it was set: the timer wakes the task when it
        // fires, and a look at it is enough (polling a timer costs more, on every step).
        if timer
            .waker
            .as_ref()
            .is_some_and(|waker| waker.will_wake(cx.waker()))
        {
            return if timer.sleep.is_elapsed() {
                Poll::Ready(())
            } else {
                Poll::Pending
            };
        }
        let due = timer.sleep.as_mut().poll(cx);
        if due.is_pending() {
            timer.waker = Some(cx.waker().clone());
        }
        due
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
