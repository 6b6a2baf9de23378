//! Queuing one encoded frame to many connections.

use futures_util::future::join_all;

use super::Connection;
use crate::{SendError, outbox::Outgoing};

/// What became of a message sent to many connections (a broadcast or a publish).
///
/// ```no_run
/// # async fn demo(server: ws_server::ServerHandle) {
/// let delivery = server.broadcast_all("maintenance in 5 minutes").await;
/// tracing::info!(queued = delivery.queued(), missed = delivery.missed(), "announced");
/// # }
/// # let _ = demo;
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[must_use = "a delivery says how many connections the message reached"]
pub struct Delivery {
    queued: usize,
    dropped: usize,
    slow: usize,
    closed: usize,
    #[cfg(feature = "redis")]
    offset: Option<crate::Offset>,
}

impl Delivery {
    /// Connections the message was queued to.
    pub fn queued(&self) -> usize {
        self.queued
    }

    /// Connections under [`SlowConsumer::Drop`](crate::SlowConsumer::Drop) whose full queue
    /// dropped the message.
    pub fn dropped(&self) -> usize {
        self.dropped
    }

    /// Connections under [`SlowConsumer::Close`](crate::SlowConsumer::Close) that are being
    /// closed for reading too slowly.
    pub fn slow(&self) -> usize {
        self.slow
    }

    /// Connections that were closing already.
    pub fn closed(&self) -> usize {
        self.closed
    }

    /// Connections the message did not reach, for whatever reason.
    pub fn missed(&self) -> usize {
        self.dropped + self.slow + self.closed
    }

    /// On a topic with [history](crate::Builder::topic_history), where the message is in
    /// it (`None` if it could not be recorded, and then nobody received it). Its
    /// subscribers, local ones included, receive it through Redis, so the counts above
    /// stay at zero.
    #[cfg(feature = "redis")]
    pub fn offset(&self) -> Option<crate::Offset> {
        self.offset
    }

    #[cfg(feature = "redis")]
    pub(super) fn recorded(offset: crate::Offset) -> Delivery {
        Delivery {
            offset: Some(offset),
            ..Delivery::default()
        }
    }

    pub(super) fn count(&mut self, outcome: Result<(), SendError>) {
        match outcome {
            Ok(()) => self.queued += 1,
            Err(SendError::Dropped) => self.dropped += 1,
            Err(SendError::SlowConsumer) => self.slow += 1,
            Err(_) => self.closed += 1,
        }
    }
}

/// Collects the outcome of offering one frame to many connections. Offers never wait;
/// connections whose queue is full under the wait policy are kept for [`finish`].
///
/// [`finish`]: Fanout::finish
#[derive(Default)]
pub(crate) struct Fanout {
    delivery: Delivery,
    waiting: Vec<Connection>,
}

impl Fanout {
    /// Offers the message to `conn`; its encoded bytes are shared between recipients.
    pub(crate) fn offer(&mut self, conn: &Connection, out: &Outgoing) {
        match conn.outbox().try_push(out) {
            Err(SendError::Full) => self.waiting.push(conn.clone()),
            outcome => self.delivery.count(outcome),
        }
    }

    /// Waits, side by side, for room in the queues that were full.
    pub(crate) async fn finish(mut self, out: &Outgoing) -> Delivery {
        let waits = self.waiting.iter().map(|conn| conn.outbox().push(out));
        for outcome in join_all(waits).await {
            self.delivery.count(outcome);
        }
        self.delivery
    }
}
