//! Connection deadlines kept by the connections' own runtime, woken through a timerfd that
//! it polls like a socket (Linux).
//!
//! A tokio timer on the connections' runtime makes it park with a timeout, which the
//! kernel arms and cancels every time: with one connection, where the server parks after
//! every message, that cost a tokio echo server 6.5% more CPU per message. A timer thread
//! avoids that, but a second thread costs every syscall of the process: glibc wraps each
//! `recv`, `send` and `epoll_wait` in cancellation bookkeeping, and the kernel takes a
//! reference on the file for each, both skipped while a process has one thread (one idle
//! extra thread cost a tokio echo server 1.4 to 2.8% more CPU per message; ws-server's 16 B
//! echo took 130 more user-space instructions with its timer thread than without). A
//! timerfd is one more descriptor among the runtime's sockets: the process keeps one thread
//! and the runtime still parks without a timeout.
//!
//! Each runtime that runs connections has one [`Clock`]: its deadlines in a heap, the
//! timerfd set for the earliest, and a task on the runtime that fires what is due when the
//! timerfd turns readable. A deadline that changes is pushed again; the old entry is
//! skipped when its time comes.

use std::{
    cmp::Ordering as CmpOrdering,
    collections::BinaryHeap,
    io,
    os::fd::OwnedFd,
    sync::{
        Arc, Mutex, Weak,
        atomic::{AtomicBool, Ordering},
    },
    task::{Context, Poll, Waker},
    time::Duration,
};

use rustix::time::{
    Itimerspec, TimerfdClockId, TimerfdFlags, TimerfdTimerFlags, Timespec, timerfd_create,
    timerfd_settime,
};
use tokio::{
    io::{Interest, unix::AsyncFd},
    runtime::{self, Handle},
    time::Instant,
};
use tracing::{debug, error};

use crate::lock::lock;

/// The clocks of the runtimes whose connections needed one, while those runtimes run.
static CLOCKS: Mutex<Vec<(runtime::Id, Arc<Clock>)>> = Mutex::new(Vec::new());

/// One deadline at a time, kept by the current runtime's clock.
pub(super) struct Alarm {
    clock: Arc<Clock>,
    shared: Arc<AlarmShared>,
}

/// What an alarm and its clock share.
struct AlarmShared {
    /// Read on every step of the connection, so kept out of the lock.
    fired: AtomicBool,
    slot: Mutex<AlarmSlot>,
}

struct AlarmSlot {
    /// Counts the resets: an entry of the clock's for an older one fires nothing.
    generation: u64,
    waker: Option<Waker>,
}

impl Alarm {
    /// An alarm for `at` on the current runtime's clock, which starts on first use; `None`
    /// outside a runtime, or if the clock cannot start (then deadlines wait elsewhere).
    pub(super) fn new(at: Instant) -> Option<Alarm> {
        let clock = current_clock()?;
        let mut alarm = Alarm {
            clock,
            shared: Arc::new(AlarmShared {
                fired: AtomicBool::new(false),
                slot: Mutex::new(AlarmSlot {
                    generation: 0,
                    waker: None,
                }),
            }),
        };
        alarm.reset(at);
        Some(alarm)
    }

    /// Sets the alarm for `at` instead of any earlier setting.
    pub(super) fn reset(&mut self, at: Instant) {
        let generation = {
            let mut slot = lock(&self.shared.slot);
            self.shared.fired.store(false, Ordering::Release);
            slot.generation += 1;
            slot.generation
        };
        self.clock.schedule(Entry {
            at,
            alarm: Arc::downgrade(&self.shared),
            generation,
        });
    }

    /// The deadline has passed (without registering a waker).
    #[inline]
    pub(super) fn is_elapsed(&self) -> bool {
        self.shared.fired.load(Ordering::Acquire)
    }

    /// Ready once the deadline has passed; until then the task is woken when it does.
    pub(super) fn poll(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if self.is_elapsed() {
            return Poll::Ready(());
        }
        let mut slot = lock(&self.shared.slot);
        // The clock fires under this lock: either it sees this waker or this sees `fired`.
        if self.is_elapsed() {
            return Poll::Ready(());
        }
        if !slot.waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
            slot.waker = Some(cx.waker().clone());
        }
        Poll::Pending
    }
}

impl AlarmShared {
    /// Fires the alarm if it is still set as `generation` says; returns whom to wake.
    fn fire(&self, generation: u64) -> Option<Waker> {
        let mut slot = lock(&self.slot);
        if slot.generation != generation {
            return None;
        }
        self.fired.store(true, Ordering::Release);
        slot.waker.take()
    }
}

/// A runtime's deadlines, its timerfd, and whether the task that watches it still runs.
struct Clock {
    timer: AsyncFd<OwnedFd>,
    state: Mutex<ClockState>,
    /// The task that fires alarms runs; it stops with its runtime.
    running: AtomicBool,
}

struct ClockState {
    /// Earliest first (the order of [`Entry`] is reversed for the max-heap).
    entries: BinaryHeap<Entry>,
    /// What the timerfd is set for.
    armed: Option<Instant>,
}

/// An alarm's deadline as the clock holds it.
struct Entry {
    at: Instant,
    alarm: Weak<AlarmShared>,
    generation: u64,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Entry) -> bool {
        self.at == other.at
    }
}

impl Eq for Entry {}

impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Entry) -> Option<CmpOrdering> {
        Some(self.cmp(other))
    }
}

impl Ord for Entry {
    /// Reversed, so that the heap's top is the earliest deadline.
    fn cmp(&self, other: &Entry) -> CmpOrdering {
        other.at.cmp(&self.at)
    }
}

/// The current runtime's clock, started if it has none (once a connection needs one).
/// Looked up once per connection; a runtime's id is only reused once it has ended, and
/// with it its clock.
fn current_clock() -> Option<Arc<Clock>> {
    let runtime = Handle::try_current().ok()?;
    let id = runtime.id();
    let mut clocks = lock(&CLOCKS);
    clocks.retain(|(_, clock)| clock.running.load(Ordering::Acquire));
    if let Some((_, clock)) = clocks.iter().find(|(owner, _)| *owner == id) {
        return Some(clock.clone());
    }
    match Clock::start(&runtime) {
        Ok(clock) => {
            clocks.push((id, clock.clone()));
            Some(clock)
        }
        Err(error) => {
            debug!(%error, "no timerfd for connection deadlines; using a timer thread");
            None
        }
    }
}

impl Clock {
    /// A clock whose timerfd is watched by a task on `runtime`.
    fn start(runtime: &Handle) -> io::Result<Arc<Clock>> {
        let fd = timerfd_create(
            TimerfdClockId::Monotonic,
            TimerfdFlags::NONBLOCK | TimerfdFlags::CLOEXEC,
        )?;
        // Registered with the current runtime's reactor, which is `runtime`'s.
        // SAFETY: an `OwnedFd` stays open, and names the same timerfd, until the `AsyncFd`
        // that owns it drops it.
        #[allow(unsafe_code)]
        let timer = unsafe { AsyncFd::register_with_interest(fd, Interest::READABLE) }?;
        let clock = Arc::new(Clock {
            timer,
            state: Mutex::new(ClockState {
                entries: BinaryHeap::new(),
                armed: None,
            }),
            running: AtomicBool::new(true),
        });
        runtime.spawn(watch(clock.clone()));
        Ok(clock)
    }

    fn schedule(&self, entry: Entry) {
        let mut state = lock(&self.state);
        if state.armed.is_none_or(|armed| entry.at < armed) {
            self.arm(&mut state, entry.at);
        }
        state.entries.push(entry);
    }

    /// Fires every alarm whose deadline has passed and sets the timerfd for the next.
    fn fire_due(&self) {
        let mut wake = Vec::new();
        {
            let mut state = lock(&self.state);
            state.armed = None;
            let now = Instant::now();
            while state.entries.peek().is_some_and(|entry| entry.at <= now) {
                let Some(entry) = state.entries.pop() else {
                    break;
                };
                if let Some(alarm) = entry.alarm.upgrade() {
                    wake.extend(alarm.fire(entry.generation));
                }
            }
            if let Some(next) = state.entries.peek().map(|entry| entry.at) {
                self.arm(&mut state, next);
            }
        }
        wake.into_iter().for_each(Waker::wake);
    }

    /// Sets the timerfd to expire at `at` (or at once, if that has passed).
    fn arm(&self, state: &mut ClockState, at: Instant) {
        // Zero would disarm the timer.
        let wait = at
            .saturating_duration_since(Instant::now())
            .max(Duration::from_nanos(1));
        let spec = Itimerspec {
            it_interval: Timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
            it_value: Timespec {
                tv_sec: wait.as_secs().try_into().unwrap_or(i64::MAX),
                tv_nsec: wait.subsec_nanos().into(),
            },
        };
        match timerfd_settime(self.timer.get_ref(), TimerfdTimerFlags::empty(), &spec) {
            Ok(_) => state.armed = Some(at),
            Err(error) => error!(%error, "setting the timerfd for connection deadlines failed"),
        }
    }
}

/// Fires the clock's alarms whenever its timerfd expires, until the runtime ends.
async fn watch(clock: Arc<Clock>) {
    /// Marks the clock as stopped however the task ends (with its runtime), so that it is
    /// not handed out again.
    struct Stopped<'a>(&'a Clock);
    impl Drop for Stopped<'_> {
        fn drop(&mut self) {
            self.0.running.store(false, Ordering::Release);
        }
    }
    let _stopped = Stopped(&clock);
    loop {
        let Ok(mut ready) = clock.timer.readable().await else {
            return;
        };
        let mut expirations = [0; 8];
        // Reading resets the timerfd's count; nothing to read means a spurious wake-up.
        let read = ready.try_io(|timer| {
            rustix::io::read(timer.get_ref(), &mut expirations).map_err(io::Error::from)
        });
        if let Ok(Ok(_)) = read {
            clock.fire_due();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::{future::poll_fn, time::Duration};

    use tokio::runtime::Builder;

    use super::*;

    /// A runtime with sockets but no timer: only the timerfd can wake anything.
    fn io_only() -> tokio::runtime::Runtime {
        Builder::new_current_thread()
            .enable_io()
            .build()
            .expect("runtime")
    }

    async fn wait(alarm: &mut Alarm) {
        poll_fn(|cx| alarm.poll(cx)).await;
    }

    #[test]
    fn an_alarm_fires_at_its_deadline_not_before() {
        io_only().block_on(async {
            let begun = Instant::now();
            let mut alarm = Alarm::new(begun + Duration::from_millis(30)).expect("clock");
            assert!(!alarm.is_elapsed());
            wait(&mut alarm).await;
            assert!(alarm.is_elapsed());
            let waited = begun.elapsed();
            assert!(waited >= Duration::from_millis(30), "{waited:?}");
            assert!(waited < Duration::from_secs(5), "{waited:?}");
        });
    }

    #[test]
    fn a_reset_replaces_the_earlier_deadline() {
        io_only().block_on(async {
            let begun = Instant::now();
            let mut alarm = Alarm::new(begun + Duration::from_millis(10)).expect("clock");
            alarm.reset(begun + Duration::from_millis(60));
            wait(&mut alarm).await;
            assert!(begun.elapsed() >= Duration::from_millis(60));
            // And earlier again, after having fired.
            let again = Instant::now();
            alarm.reset(again + Duration::from_secs(3600));
            alarm.reset(again + Duration::from_millis(5));
            wait(&mut alarm).await;
            assert!(again.elapsed() < Duration::from_secs(60));
        });
    }

    #[test]
    fn alarms_fire_in_the_order_of_their_deadlines() {
        io_only().block_on(async {
            let begun = Instant::now();
            let mut alarms: Vec<Alarm> = [40, 10, 30, 20]
                .into_iter()
                .map(|ms| Alarm::new(begun + Duration::from_millis(ms)).expect("clock"))
                .collect();
            let mut order = Vec::new();
            while order.len() < alarms.len() {
                let index = poll_fn(|cx| {
                    for (index, alarm) in alarms.iter_mut().enumerate() {
                        if !order.contains(&index) && alarm.poll(cx).is_ready() {
                            return Poll::Ready(index);
                        }
                    }
                    Poll::Pending
                })
                .await;
                order.push(index);
            }
            assert_eq!(order, [1, 3, 2, 0]);
        });
    }

    /// Two runtimes on one thread, the first idle but alive while the second runs: each
    /// fires its own deadlines.
    #[test]
    fn each_runtime_has_its_own_clock() {
        let first = io_only();
        let kept = first.block_on(async {
            Alarm::new(Instant::now() + Duration::from_secs(3600)).expect("clock")
        });
        io_only().block_on(async {
            let begun = Instant::now();
            let mut alarm = Alarm::new(begun + Duration::from_millis(5)).expect("clock");
            assert!(!Arc::ptr_eq(&alarm.clock, &kept.clock));
            wait(&mut alarm).await;
        });
        drop(kept);
    }

    /// The worker threads of one runtime share its clock.
    #[test]
    fn a_multi_threaded_runtime_has_one_clock() {
        let runtime = Builder::new_multi_thread()
            .worker_threads(2)
            .enable_io()
            .build()
            .expect("runtime");
        let alarms: Vec<Alarm> = runtime.block_on(async {
            let spawned = (0..8).map(|ms| {
                tokio::spawn(async move {
                    let mut alarm =
                        Alarm::new(Instant::now() + Duration::from_millis(ms)).expect("clock");
                    wait(&mut alarm).await;
                    alarm
                })
            });
            let mut alarms = Vec::new();
            for task in spawned.collect::<Vec<_>>() {
                alarms.push(task.await.expect("task"));
            }
            alarms
        });
        assert!(alarms.iter().all(|alarm| alarm.is_elapsed()));
        assert!(
            alarms
                .windows(2)
                .all(|pair| Arc::ptr_eq(&pair[0].clock, &pair[1].clock))
        );
    }

    #[test]
    fn a_thread_gets_a_new_clock_with_its_next_runtime() {
        for _ in 0..3 {
            io_only().block_on(async {
                let begun = Instant::now();
                let mut alarm = Alarm::new(begun + Duration::from_millis(5)).expect("clock");
                wait(&mut alarm).await;
                assert!(begun.elapsed() >= Duration::from_millis(5));
            });
        }
    }

    #[test]
    fn a_dropped_alarm_leaves_the_others_running() {
        io_only().block_on(async {
            let begun = Instant::now();
            let dropped = Alarm::new(begun + Duration::from_millis(5)).expect("clock");
            let mut kept = Alarm::new(begun + Duration::from_millis(15)).expect("clock");
            drop(dropped);
            wait(&mut kept).await;
            assert!(begun.elapsed() >= Duration::from_millis(15));
        });
    }
}
