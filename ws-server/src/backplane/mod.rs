//! Carrying broadcasts and publishes to the other server processes that act as one.
//!
//! The default is in-process: nothing leaves the process. With the `redis` feature,
//! [`Builder::redis_backplane`](crate::Builder::redis_backplane) sends every broadcast and
//! publish through Redis pub/sub, and delivers what other processes sent to the local
//! connections.

#[cfg(feature = "redis")]
mod presence;
#[cfg(feature = "redis")]
mod redis;
#[cfg(feature = "redis")]
mod streams;
mod wire;

#[cfg(feature = "redis")]
pub(crate) use self::redis::RedisBackplane;
#[cfg(feature = "redis")]
pub(crate) use wire::Recorded;
pub(crate) use wire::{Command, Order, Record, Scope};

use std::{future::Future, io, pin::Pin, sync::Arc};

use crate::Message;

/// A future a backplane returns, boxed so that the traits stay object-safe.
pub(crate) type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Where a backplane hands what other processes published, and which topics it follows:
/// the hub, seen from here.
#[cfg_attr(not(feature = "redis"), allow(dead_code))]
pub(crate) trait Inbound: Send + Sync + 'static {
    /// Delivers `message` to the local connections `scope` names, without waiting;
    /// returns how many of them missed it.
    fn deliver(&self, scope: Scope<'_>, message: Message) -> usize;

    /// The topics that have local subscribers now.
    fn topics(&self) -> Vec<Arc<str>>;

    /// Carries out another node's order for local connection `order.conn`, if it is
    /// still here.
    fn execute(&self, order: Order);

    /// Every local connection, to register them all again (after Redis came back).
    fn records(&self) -> Vec<Record>;

    /// Every name a local connection holds a claim on, with its holder.
    fn claims(&self) -> Vec<(String, u64)>;

    /// Delivers `message` of `topic`, a topic with history, to its local subscribers
    /// (and to the connections catching up on it), without waiting; returns how many
    /// missed it.
    #[cfg(feature = "redis")]
    fn deliver_recorded(&self, topic: &str, recorded: Recorded, message: Message) -> usize;

    /// For each topic with history that this node follows: the last message it delivered,
    /// and how many messages the history keeps.
    #[cfg(feature = "redis")]
    fn positions(&self) -> Vec<(Arc<str>, crate::Offset, usize)>;

    /// This node no longer follows `topic`: forget where it was.
    #[cfg(feature = "redis")]
    fn stopped_following(&self, topic: &str);
}

/// Where broadcasts and publishes go beyond this process.
pub(crate) trait Backplane: Send + Sync + std::fmt::Debug {
    /// Sends `message` to the other processes, without waiting: a backplane that cannot
    /// keep up or is disconnected counts the message as dropped.
    fn publish(&self, scope: Scope<'_>, message: &Message);

    /// A topic got its first local subscriber or lost its last: the backplane follows the
    /// hub's topics as they are when it gets to it.
    fn topics_changed(&self);

    /// The counters.
    fn stats(&self) -> BackplaneStats;

    /// A local connection opened: the other nodes will list it.
    fn opened(&self, record: Record);

    /// Local connection `id` ended.
    fn closed(&self, id: u64);

    /// The connections of every other live node, with their node.
    fn others(&self) -> BoxFuture<'_, io::Result<Vec<(u64, Record)>>>;

    /// How many connections the other live nodes have.
    fn count_others(&self) -> BoxFuture<'_, io::Result<usize>>;

    /// Sends `order` to node `node`, without waiting; `false` if it could not be queued.
    fn order(&self, node: u64, order: Order) -> bool;

    /// Claims `name` for local connection `conn` across the cluster: `true` if no live
    /// connection anywhere holds it (or `conn` does already).
    fn claim<'a>(&'a self, name: &'a str, conn: u64) -> BoxFuture<'a, io::Result<bool>>;

    /// Gives up `conn`'s claim on `name`, if it holds it, without waiting.
    fn release(&self, name: &str, conn: u64);

    /// Adds `message` to `topic`'s history and sends it to every node, this one
    /// included, with its offset; not to local connection `except`.
    #[cfg(feature = "redis")]
    fn append<'a>(
        &'a self,
        topic: &'a str,
        history: &'a crate::History,
        message: &'a Message,
        except: Option<u64>,
    ) -> BoxFuture<'a, io::Result<crate::Offset>>;

    /// Waits until this node receives what is published on `topic` (which must have a
    /// local subscriber or a connection catching up on it).
    #[cfg(feature = "redis")]
    fn following<'a>(&'a self, topic: &'a str) -> BoxFuture<'a, io::Result<()>>;

    /// `topic`'s history from `from` on, at most `count` entries (none without `from`),
    /// with its epoch and last entry, read for local connection `conn`; afterwards the
    /// [`Inbound`] gets the order [`Command::CaughtUp`] for `conn`, after every message
    /// of `topic` that the reading saw.
    #[cfg(feature = "redis")]
    fn range<'a>(
        &'a self,
        topic: &'a str,
        from: Option<crate::history::StreamId>,
        count: usize,
        conn: u64,
    ) -> BoxFuture<'a, io::Result<crate::history::Span>>;
}

/// What a backplane has done, for monitoring.
///
/// ```no_run
/// # fn demo(server: ws_server::ServerHandle) {
/// if let Some(stats) = server.backplane_stats() {
///     tracing::info!(?stats, "backplane");
/// }
/// # }
/// # let _ = demo;
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct BackplaneStats {
    /// Messages sent to the other processes.
    pub published: u64,
    /// Messages from other processes delivered here.
    pub received: u64,
    /// Messages that could not be sent (backplane down or too slow).
    pub dropped: u64,
    /// Whether the backplane is connected right now.
    pub connected: bool,
}
