//! Keeping track of whether the peer is still there.

use std::time::Duration;

/// Pings, the deadline for their pongs, and the idle timeout.
///
/// Every `ping_interval` the server pings the peer; if no pong arrives within
/// `pong_timeout`, the connection is closed with 1001 "ping timeout". With an idle timeout,
/// a peer that sends no message (text or binary) for that long is closed with 1001 "idle
/// timeout". In both cases `on_close` runs with 1001.
///
/// Set per resource in `#[ws_resource("/path", ping_interval = "15s", pong_timeout = "5s",
/// idle_timeout = "10m")]` (`"off"` turns pings or the idle timeout off), or server-wide
/// with [`Builder::heartbeat`](crate::Builder::heartbeat).
///
/// A connection's deadlines (these, the close handshake's and a slow consumer's grace) are
/// kept apart from the runtime's own timer, so that the runtime serving the connections
/// parks without a timeout when it has nothing to do: on Linux on a timerfd that the runtime
/// polls like a socket (one per thread that runs connections, watched by a task on it),
/// elsewhere on one timer thread for the whole process. A connection opened while its
/// runtime's clock is paused (`tokio::time::pause`, in tests) keeps them on that runtime's
/// timer instead: they follow the paused clock, and a 10-minute idle timeout fires as soon
/// as the runtime is idle.
///
/// ```
/// use std::time::Duration;
/// use ws_server::Heartbeat;
///
/// let heartbeat = Heartbeat::DEFAULT.idle_timeout(Some(Duration::from_secs(600)));
/// assert_eq!(heartbeat.ping_every(), Some(Duration::from_secs(30)));
/// assert_eq!(heartbeat.idle_after(), Some(Duration::from_secs(600)));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Heartbeat {
    ping_interval: Option<Duration>,
    pong_timeout: Duration,
    idle_timeout: Option<Duration>,
}

impl Heartbeat {
    /// The defaults: a ping every 30 seconds, 20 seconds for its pong, no idle timeout.
    pub const DEFAULT: Heartbeat = Heartbeat {
        ping_interval: Some(Duration::from_secs(30)),
        pong_timeout: Duration::from_secs(20),
        idle_timeout: None,
    };

    /// How often to ping; `None` sends no pings. Default 30 seconds.
    pub const fn ping_interval(mut self, interval: Option<Duration>) -> Heartbeat {
        self.ping_interval = interval;
        self
    }

    /// How long a ping may wait for its pong. Default 20 seconds.
    pub const fn pong_timeout(mut self, timeout: Duration) -> Heartbeat {
        self.pong_timeout = timeout;
        self
    }

    /// How long the peer may send no message; `None` (the default) for no limit.
    pub const fn idle_timeout(mut self, timeout: Option<Duration>) -> Heartbeat {
        self.idle_timeout = timeout;
        self
    }

    /// The ping interval.
    pub const fn ping_every(&self) -> Option<Duration> {
        self.ping_interval
    }

    /// The pong deadline.
    pub const fn pong_deadline(&self) -> Duration {
        self.pong_timeout
    }

    /// The idle timeout.
    pub const fn idle_after(&self) -> Option<Duration> {
        self.idle_timeout
    }
}

impl Default for Heartbeat {
    fn default() -> Heartbeat {
        Heartbeat::DEFAULT
    }
}
