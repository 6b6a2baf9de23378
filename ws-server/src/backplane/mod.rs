//! Carrying broadcasts and publishes to the other server processes that act as one.
//!
//! The default is in-process: nothing leaves the process. With the `redis` feature,
//! [`Builder::redis_backplane`](crate::Builder::redis_backplane) sends every broadcast and
//! publish through Redis pub/sub, and delivers what other processes sent to the local
//! connections.

#[cfg(feature = "redis")]
mod redis;
mod wire;

#[cfg(feature = "redis")]
pub(crate) use self::redis::RedisBackplane;
pub(crate) use wire::Scope;

use std::{future::Future, pin::Pin, sync::Arc};

use crate::Message;

/// Where a backplane hands what other processes published, and which topics it follows:
/// the hub, seen from here.
#[cfg_attr(not(feature = "redis"), allow(dead_code))]
pub(crate) trait Inbound: Send + Sync + 'static {
    /// Delivers `message` to the local connections `scope` names.
    fn deliver<'a>(
        &'a self,
        scope: Scope<'a>,
        message: Message,
    ) -> Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

    /// The topics that have local subscribers now.
    fn topics(&self) -> Vec<Arc<str>>;
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
