//! Fan-out for the peers, which have no topics of their own: a list of subscribers'
//! queues, each drained by its connection's task.

use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};

/// The subscribers of the one topic.
pub(crate) struct Hub<M> {
    subscribers: Arc<Mutex<Vec<UnboundedSender<M>>>>,
}

impl<M> Clone for Hub<M> {
    fn clone(&self) -> Hub<M> {
        Hub {
            subscribers: self.subscribers.clone(),
        }
    }
}

impl<M: Clone> Hub<M> {
    pub(crate) fn new() -> Hub<M> {
        Hub {
            subscribers: Arc::default(),
        }
    }

    /// A new subscriber's queue.
    pub(crate) fn subscribe(&self) -> UnboundedReceiver<M> {
        let (tx, rx) = unbounded_channel();
        self.lock().push(tx);
        rx
    }

    /// Queues `message` for every subscriber still there.
    pub(crate) fn publish(&self, message: &M) {
        self.lock().retain(|tx| tx.send(message.clone()).is_ok());
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<UnboundedSender<M>>> {
        self.subscribers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}
