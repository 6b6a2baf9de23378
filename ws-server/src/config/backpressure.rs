//! The bound on a connection's outbound queue and what happens when a peer reads too slowly.

use std::time::Duration;

/// What happens to a message that does not fit in a connection's outbound queue.
///
/// Whatever the policy, a message is queued whole or not at all, and the queue of one
/// connection never holds more than [`Backpressure::max_queue`] bytes (a single message
/// larger than the bound is still accepted into an empty queue).
///
/// ```
/// use ws_server::{Backpressure, SlowConsumer};
/// let policy = Backpressure::DEFAULT.with_slow_consumer(SlowConsumer::Drop);
/// assert_eq!(policy.slow_consumer(), SlowConsumer::Drop);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SlowConsumer {
    /// The default. The message is not queued and the connection is marked slow: nothing
    /// more is queued for it, what was queued keeps flowing, and once it has drained (or
    /// the grace period has passed, whichever comes first) the connection is closed with
    /// 1008 "slow consumer". The peer sees an unbroken prefix of the stream, then the close.
    Close,
    /// The message is dropped for this connection, which stays open; later messages that
    /// fit are queued. For streams where only the latest value matters.
    Drop,
    /// `send(...).await` and broadcasts wait until the message fits; `try_send` refuses it.
    /// The producer slows down to the pace of the slowest consumer, so pair it with a
    /// heartbeat, which closes a peer that stops reading altogether.
    Wait,
}

/// A connection's outbound queue: its bound in bytes, the [`SlowConsumer`] policy, and the
/// grace period of [`SlowConsumer::Close`].
///
/// The bound counts what the connection itself queues too: pongs and the heartbeat's
/// pings. At most 16 pongs wait at a time (past that, the last one answers the latest ping
/// instead), and a connection whose socket takes no more stops reading until it does, so a
/// peer that sends without reading meets TCP's push-back, whatever it sends.
///
/// Set per resource in `#[ws_resource("/path", max_queue = N, slow_consumer = "drop")]`,
/// or server-wide with [`Builder::backpressure`](crate::Builder::backpressure).
///
/// ```
/// use std::time::Duration;
/// use ws_server::{Backpressure, SlowConsumer};
///
/// let backpressure = Backpressure::DEFAULT
///     .with_max_queue(256 * 1024)
///     .with_grace(Duration::from_secs(1));
/// assert_eq!(backpressure.max_queue(), 262144);
/// assert_eq!(backpressure.slow_consumer(), SlowConsumer::Close);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backpressure {
    max_queue: usize,
    policy: SlowConsumer,
    grace: Duration,
}

impl Backpressure {
    /// The defaults: 1 MiB per connection, [`SlowConsumer::Close`], 5 seconds of grace.
    pub const DEFAULT: Backpressure = Backpressure {
        max_queue: 1 << 20,
        policy: SlowConsumer::Close,
        grace: Duration::from_secs(5),
    };

    /// The most bytes (frame headers included) queued for one connection. Default 1 MiB.
    pub const fn with_max_queue(mut self, bytes: usize) -> Backpressure {
        self.max_queue = bytes;
        self
    }

    /// What happens to a message that does not fit. Default [`SlowConsumer::Close`].
    pub const fn with_slow_consumer(mut self, policy: SlowConsumer) -> Backpressure {
        self.policy = policy;
        self
    }

    /// Under [`SlowConsumer::Close`], how long a slow connection's queue may take to drain
    /// before the queue is dropped and the close is sent. Default 5 seconds.
    pub const fn with_grace(mut self, grace: Duration) -> Backpressure {
        self.grace = grace;
        self
    }

    /// The queue bound in bytes.
    pub const fn max_queue(&self) -> usize {
        self.max_queue
    }

    /// The policy.
    pub const fn slow_consumer(&self) -> SlowConsumer {
        self.policy
    }

    /// The grace period.
    pub const fn grace(&self) -> Duration {
        self.grace
    }
}

impl Default for Backpressure {
    fn default() -> Backpressure {
        Backpressure::DEFAULT
    }
}
