//! What other nodes send, delivered here: without ever waiting on one connection, yet in
//! order and without loss for a connection whose queue is full under the wait policy
//! (up to a backlog of its own).

use std::{
    collections::{HashMap, VecDeque},
    sync::{Arc, Mutex},
};

use tracing::debug;

use super::{ConnId, Connection, Delivery, Hub, cluster};
#[cfg(feature = "redis")]
use crate::backplane::Recorded;
use crate::{
    Message, SendError,
    backplane::{Inbound, Order, Record, Scope},
    lock::lock,
    outbox::Outgoing,
};

/// Messages from other nodes that one connection waits for room for, at most.
pub(super) const MAX_BACKLOG: usize = 1024;

/// Per connection whose queue was full under the wait policy: the messages from other
/// nodes that came since, in order. A task per backlog pushes them as room comes, and
/// removes the backlog once it is empty; while it exists, new messages join it, so that
/// none overtakes another.
#[derive(Default)]
pub(super) struct Backlogs(Arc<Mutex<HashMap<ConnId, VecDeque<Arc<Outgoing>>>>>);

impl std::fmt::Debug for Backlogs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Backlogs")
            .field("connections", &lock(&self.0).len())
            .finish()
    }
}

impl Backlogs {
    /// Queues `out` for `conn` behind its backlog, if it has one.
    fn join(&self, conn: ConnId, out: &Arc<Outgoing>) -> Option<Result<(), SendError>> {
        let mut backlogs = lock(&self.0);
        let backlog = backlogs.get_mut(&conn)?;
        if backlog.len() >= MAX_BACKLOG {
            return Some(Err(SendError::Dropped));
        }
        backlog.push_back(out.clone());
        Some(Ok(()))
    }

    /// Starts a backlog for `conn`, whose queue is full, with `out`.
    fn start(&self, conn: Connection, out: Arc<Outgoing>) {
        lock(&self.0).insert(conn.id(), VecDeque::from([out]));
        let backlogs = self.0.clone();
        tokio::spawn(async move {
            loop {
                let next = {
                    let mut backlogs = lock(&backlogs);
                    match backlogs.get_mut(&conn.id()).and_then(VecDeque::pop_front) {
                        Some(next) => next,
                        None => {
                            backlogs.remove(&conn.id());
                            return;
                        }
                    }
                };
                if conn.outbox().push(&*next).await.is_err() {
                    // Closed: what is left goes with it.
                    lock(&backlogs).remove(&conn.id());
                    return;
                }
            }
        });
    }
}

impl Hub {
    /// Queues `out` to `conn` without waiting, behind what `conn` already waits for:
    /// a full queue under the wait policy starts a backlog.
    pub(super) fn push_in_order(
        &self,
        conn: &Connection,
        out: &Arc<Outgoing>,
    ) -> Result<(), SendError> {
        if let Some(outcome) = self.backlogs.join(conn.id(), out) {
            return outcome;
        }
        match conn.outbox().try_push(&**out) {
            Err(SendError::Full) => {
                debug!(conn = %conn.id(), "queue full: messages from other nodes wait in a backlog");
                self.backlogs.start(conn.clone(), out.clone());
                Ok(())
            }
            outcome => outcome,
        }
    }
}

impl Inbound for Hub {
    fn deliver(&self, scope: Scope<'_>, message: Message) -> usize {
        let out = Arc::new(Outgoing::new(message));
        let mut delivery = Delivery::default();
        for conn in self.recipients(scope, None) {
            delivery.count(self.push_in_order(&conn, &out));
        }
        delivery.missed()
    }

    #[cfg(feature = "redis")]
    fn deliver_recorded(&self, topic: &str, recorded: Recorded, message: Message) -> usize {
        self.deliver_recorded_here(topic, recorded, message)
    }

    #[cfg(feature = "redis")]
    fn positions(&self) -> Vec<(Arc<str>, crate::Offset, usize)> {
        self.history_positions()
    }

    #[cfg(feature = "redis")]
    fn stopped_following(&self, topic: &str) {
        lock(&self.positions).remove(topic);
    }

    fn topics(&self) -> Vec<Arc<str>> {
        #[allow(unused_mut)]
        let mut topics = self.topics.names();
        #[cfg(feature = "redis")]
        topics.extend(self.catch_up_topics());
        topics
    }

    fn execute(&self, order: Order) {
        self.execute_order(order);
    }

    fn records(&self) -> Vec<Record> {
        self.connections().iter().map(cluster::record_of).collect()
    }

    fn claims(&self) -> Vec<(String, u64)> {
        Hub::claims(self)
    }
}
