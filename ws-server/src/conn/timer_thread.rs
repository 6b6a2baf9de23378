//! Where a connection's timer lives: on one timer thread for the whole process, unless the
//! connection's runtime runs on a paused clock.
//!
//! A runtime that holds a timer parks with a timeout: it looks through its timer wheel, and
//! the kernel arms and cancels a timeout every time it parks. With one connection, where
//! the server parks after every message, that cost fastwebsockets' echo 6.5% more server
//! CPU per message as soon as one idle `sleep` was pending on its runtime (60 paired rounds
//! of 16 B messages). A connection's deadlines come every 30 seconds or so, so they wait on
//! a runtime of their own, and the connections' runtime parks without a timeout.
//!
//! Under `tokio::time::pause` (tokio's `test-util`) that runtime's clock is not the real
//! one, and deadlines must follow it, so that a test's paused clock fires an idle timeout at
//! once: connections opened then keep their timer on their own runtime.

use std::sync::OnceLock;

use tokio::{
    runtime::{self, Handle},
    time::{Instant, Sleep, sleep_until},
};

/// A timer for `at`, kept by the process's timer thread if the current runtime's clock is
/// the real one and the thread could be started, and by the current runtime otherwise.
pub(super) fn deadline_sleep(at: Instant) -> Sleep {
    let _timer_context = timer_thread()
        .filter(|_| clock_is_real())
        .map(Handle::enter);
    sleep_until(at)
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

    /// A runtime without a timer of its own would panic on a `sleep`: with a real clock,
    /// the deadline is kept elsewhere.
    #[test]
    fn a_real_clock_keeps_deadlines_on_the_timer_thread() {
        let no_timers = runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        no_timers.block_on(async {
            assert!(clock_is_real());
            let begun = std::time::Instant::now();
            deadline_sleep(Instant::now() + Duration::from_millis(20)).await;
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
            deadline_sleep(Instant::now() + Duration::from_secs(3600)).await;
            assert!(begun.elapsed() < Duration::from_secs(60));
            assert!(!clock_is_real(), "a paused clock, advanced");
            tokio::time::resume();
            assert!(!clock_is_real(), "running again, an hour ahead");
        });
    }
}
