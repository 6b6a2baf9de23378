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
