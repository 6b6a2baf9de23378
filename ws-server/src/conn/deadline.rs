//! Where a connection's timer lives: on a timerfd that the connection's own runtime polls
//! (Linux, see [`fd_clock`](super::fd_clock)), else on one timer thread for the whole
//! process; on the connection's runtime only if its clock is paused.
//!
//! A runtime that holds a timer parks with a timeout: it looks through its timer wheel, and
//! the kernel arms and cancels a timeout every time it parks. With one connection, where
//! the server parks after every message, that cost fastwebsockets' echo 6.5% more server
//! CPU per message as soon as one idle `sleep` was pending on its runtime (60 paired rounds
//! of 16 B messages). A connection's deadlines come every 30 seconds or so, so they are
//! kept apart from the runtime's timer, and the connections' runtime parks without a
//! timeout.
//!
//! Under `tokio::time::pause` (tokio's `test-util`) that runtime's clock is not the real
//! one, and deadlines must follow it, so that a test's paused clock fires an idle timeout at
//! once: connections opened then keep their timer on their own runtime.

use std::{
    future::Future,
    pin::Pin,
    sync::OnceLock,
    task::{Context, Poll},
};

use tokio::{
    runtime::{self, Handle},
    time::{Instant, Sleep, sleep_until},
};

/// One deadline at a time, wherever it is kept.
pub(super) enum Deadline {
    /// On the timerfd clock of the runtime it was made on.
    #[cfg(target_os = "linux")]
    Fd(super::fd_clock::Alarm),
    /// A tokio timer, on the timer thread or the connection's runtime.
    Sleep(Pin<Box<Sleep>>),
}

impl Deadline {
    /// A deadline at `at`, kept where the module's docs say. Called in a runtime with I/O
    /// enabled, as every connection's is (it accepted the socket).
    pub(super) fn new(at: Instant) -> Deadline {
        if !clock_is_real() {
            return Deadline::Sleep(Box::pin(sleep_until(at)));
        }
        #[cfg(target_os = "linux")]
        if let Some(alarm) = super::fd_clock::Alarm::new(at) {
            return Deadline::Fd(alarm);
        }
        let _timer_context = timer_thread().map(Handle::enter);
        Deadline::Sleep(Box::pin(sleep_until(at)))
    }

    /// Moves the deadline to `at`.
    pub(super) fn reset(&mut self, at: Instant) {
        match self {
            #[cfg(target_os = "linux")]
            Deadline::Fd(alarm) => alarm.reset(at),
            Deadline::Sleep(sleep) => sleep.as_mut().reset(at),
        }
    }

    /// The deadline has passed, as far as is known without polling.
    #[inline]
    pub(super) fn is_elapsed(&self) -> bool {
        match self {
            #[cfg(target_os = "linux")]
            Deadline::Fd(alarm) => alarm.is_elapsed(),
            Deadline::Sleep(sleep) => sleep.is_elapsed(),
        }
    }

    /// Ready once the deadline has passed; until then the task is woken when it does.
    pub(super) fn poll(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        match self {
            #[cfg(target_os = "linux")]
            Deadline::Fd(alarm) => alarm.poll(cx),
            Deadline::Sleep(sleep) => sleep.as_mut().poll(cx),
        }
    }
}

/// Whether the current runtime's clock reads what the system's does: not paused or
/// advanced. Read between two readings of the system's clock, the real one falls between
/// them; a paused one stands still at the time it was paused or advanced to.
fn clock_is_real() -> bool {
    let before = std::time::Instant::now();
    let runtime_now = Instant::now().into_std();
    let after = std::time::Instant::now();
    before <= runtime_now && runtime_now <= after
}

/// A runtime with only a timer, running on a thread of its own for the rest of the
/// process; `None` if it could not be started (each connection's runtime keeps its timer).
fn timer_thread() -> Option<&'static Handle> {
    static TIMERS: OnceLock<Option<Handle>> = OnceLock::new();
    TIMERS
        .get_or_init(|| {
            let timers = runtime::Builder::new_current_thread()
                .enable_time()
                .build()
                .ok()?;
            let handle = timers.handle().clone();
            std::thread::Builder::new()
                .name("ws-server-timers".to_owned())
                .spawn(move || timers.block_on(std::future::pending::<()>()))
                .ok()?;
            Some(handle)
        })
        .as_ref()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    async fn wait(deadline: &mut Deadline) {
        std::future::poll_fn(|cx| deadline.poll(cx)).await;
    }

    /// A runtime without a timer of its own would panic on a `sleep`: with a real clock,
    /// the deadline is kept elsewhere, on the runtime's timerfd on Linux.
    #[test]
    fn a_real_clock_keeps_deadlines_off_the_runtime_timer() {
        let no_timers = runtime::Builder::new_current_thread()
            .enable_io()
            .build()
            .expect("runtime");
        no_timers.block_on(async {
            assert!(clock_is_real());
            let begun = std::time::Instant::now();
            let mut deadline = Deadline::new(Instant::now() + Duration::from_millis(20));
            assert_eq!(
                matches!(deadline, Deadline::Sleep(_)),
                !cfg!(target_os = "linux")
            );
            wait(&mut deadline).await;
            assert!(begun.elapsed() >= Duration::from_millis(20));
        });
    }

    #[test]
    fn a_paused_clock_keeps_deadlines_on_its_runtime() {
        let paused = runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .expect("runtime");
        paused.block_on(async {
            assert!(!clock_is_real(), "a clock paused at start");
            let begun = std::time::Instant::now();
            // On the timer thread, this would take an hour.
            let mut deadline = Deadline::new(Instant::now() + Duration::from_secs(3600));
            assert!(matches!(deadline, Deadline::Sleep(_)));
            wait(&mut deadline).await;
            assert!(begun.elapsed() < Duration::from_secs(60));
            assert!(!clock_is_real(), "a paused clock, advanced");
            tokio::time::resume();
            assert!(!clock_is_real(), "running again, an hour ahead");
        });
    }
}
