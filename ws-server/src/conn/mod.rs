//! Live connections: the [`Connection`] handle and the task behind each one.
//!
//! A handle queues frames in the connection's [`outbox`]; the connection's [`task`] reads,
//! runs the handler's callbacks, and writes what is queued ([`writer`]).

mod connection;
mod outbox;
mod outgoing;
mod reader;
mod send;
mod task;
mod timers;
mod writer;

use std::fmt;

pub use connection::Connection;
pub(crate) use outgoing::{Outgoing, SendDeflate};
pub(crate) use task::{Settings, run};

/// A connection's identifier, unique within a server process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(u64);

impl ConnId {
    pub(crate) fn new(id: u64) -> ConnId {
        ConnId(id)
    }

    /// The numeric value.
    pub fn as_u64(self) -> u64 {
        self.0
    }
}

impl fmt::Display for ConnId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}
