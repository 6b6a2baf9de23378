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
/// one tokio timer per connection, set for the earliest; a connection without any (no
/// pings, no idle timeout) has none. Under `tokio::time::pause` (in tests) they follow the
/// paused clock, so a 10-minute idle timeout fires as soon as the runtime is idle.
///
/// ```
/// use std::time::Duration;
/// use ws_server::Heartbeat;
///
/// let heartbeat = Heartbeat::DEFAULT.with_idle_timeout(Some(Duration::from_secs(600)));
/// assert_eq!(heartbeat.ping_interval(), Some(Duration::from_secs(30)));
/// assert_eq!(heartbeat.idle_timeout(), Some(Duration::from_secs(600)));
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
    pub const fn with_ping_interval(mut self, interval: Option<Duration>) -> Heartbeat {
        self.ping_interval = interval;
        self
    }

    /// How long a ping may wait for its pong. Default 20 seconds.
    pub const fn with_pong_timeout(mut self, timeout: Duration) -> Heartbeat {
        self.pong_timeout = timeout;
        self
    }

    /// How long the peer may send no message; `None` (the default) for no limit.
    pub const fn with_idle_timeout(mut self, timeout: Option<Duration>) -> Heartbeat {
        self.idle_timeout = timeout;
        self
    }

    /// The ping interval.
    pub const fn ping_interval(&self) -> Option<Duration> {
        self.ping_interval
    }

    /// The pong deadline.
    pub const fn pong_timeout(&self) -> Duration {
        self.pong_timeout
    }

    /// The idle timeout.
    pub const fn idle_timeout(&self) -> Option<Duration> {
        self.idle_timeout
    }
}

impl Default for Heartbeat {
    fn default() -> Heartbeat {
        Heartbeat::DEFAULT
    }
}
