//! What all connections of a server share: who is connected (by path and by topic), the
//! fan-out of broadcasts and publishes, state, and the shutdown; and the handles users hold
//! onto all that: [`Connection`], [`ServerHandle`], [`Request`], which refer to each other
//! as the public API does (a connection's server, a server's connections).

mod cluster;
mod connection;
mod fanout;
mod handle;
#[cfg(feature = "redis")]
mod history;
mod inbound;
mod members;
mod request;
mod sharded;
mod shutdown;
mod topics;

#[cfg(test)]
mod tests;

pub use cluster::{ClusterConnection, NodeId};
pub use connection::{ConnId, Connection};
pub use fanout::Delivery;
pub use handle::ServerHandle;
pub(crate) use members::{Members, Registry};
pub use request::Request;
pub(crate) use shutdown::{DEFAULT_SHUTDOWN_TIMEOUT, SHUTDOWN_REASON};

use std::{
    sync::{
        OnceLock,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use fanout::Fanout;
use shutdown::Shutdown;
use topics::{Change, Topics};

use crate::{
    Message, ShutdownMode,
    backplane::{Backplane, BackplaneStats, Scope},
    outbox::Outgoing,
    state::StateMap,
};

/// What is fixed when the server binds.
#[derive(Debug)]
pub(crate) struct Bound {
    pub(crate) state: StateMap,
    pub(crate) shutdown_timeout: Duration,
    pub(crate) shutdown_mode: ShutdownMode,
    /// Topic prefixes with the history their topics keep.
    #[cfg(feature = "redis")]
    pub(crate) histories: Vec<(String, crate::History)>,
}

#[derive(Debug)]
pub(crate) struct Hub {
    pub(crate) registry: Registry,
    topics: Topics,
    bound: OnceLock<Bound>,
    next_id: AtomicU64,
    shutdown: Shutdown,
    backplane: OnceLock<Box<dyn Backplane>>,
    /// This server's identity among the cluster's nodes (so that it skips its own
    /// messages on the backplane).
    origin: u64,
    claims: cluster::Claims,
    backlogs: inbound::Backlogs,
    #[cfg(feature = "redis")]
    catch_ups: std::sync::Mutex<history::CatchUps>,
    /// For each topic with history this node follows, the last message it delivered.
    #[cfg(feature = "redis")]
    positions: std::sync::Mutex<std::collections::HashMap<std::sync::Arc<str>, crate::Offset>>,
}

impl Hub {
    pub(crate) fn new() -> Hub {
        Hub {
            registry: Registry::default(),
            topics: Topics::new(),
            bound: OnceLock::new(),
            next_id: AtomicU64::new(1),
            shutdown: Shutdown::new(),
            backplane: OnceLock::new(),
            origin: std::hash::BuildHasher::hash_one(&std::hash::RandomState::new(), 0u8),
            claims: cluster::Claims::default(),
            backlogs: inbound::Backlogs::default(),
            #[cfg(feature = "redis")]
            catch_ups: std::sync::Mutex::default(),
            #[cfg(feature = "redis")]
            positions: std::sync::Mutex::default(),
        }
    }

    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) fn origin(&self) -> u64 {
        self.origin
    }

    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) fn set_backplane(&self, backplane: Box<dyn Backplane>) {
        let _ = self.backplane.set(backplane);
    }

    pub(crate) fn backplane_stats(&self) -> Option<BackplaneStats> {
        self.backplane.get().map(|backplane| backplane.stats())
    }

    /// Sends `message` to the connections `scope` names here (all but `except`), and
    /// through the backplane to the other processes.
    pub(crate) async fn fan_out(
        &self,
        scope: Scope<'_>,
        message: Message,
        except: Option<ConnId>,
    ) -> Delivery {
        #[cfg(feature = "redis")]
        if let Scope::Topic(topic) = scope
            && let Some(history) = self.history_of(topic)
        {
            return self.record(topic, history, message, except).await;
        }
        if let Some(backplane) = self.backplane.get() {
            backplane.publish(scope, &message);
        }
        self.deliver(scope, message, except).await
    }

    /// Sends `message` to the local connections `scope` names, all but `except`.
    pub(crate) async fn deliver(
        &self,
        scope: Scope<'_>,
        message: Message,
        except: Option<ConnId>,
    ) -> Delivery {
        let out = Outgoing::new(message);
        self.offer(scope, &out, except).finish(&out).await
    }

    /// Offers `out` to the local connections `scope` names, all but `except`, without
    /// waiting for room in any queue.
    fn offer(&self, scope: Scope<'_>, out: &Outgoing, except: Option<ConnId>) -> Fanout {
        let mut fanout = Fanout::default();
        for conn in &self.recipients(scope, except) {
            fanout.offer(conn, out);
        }
        fanout
    }

    /// The local connections `scope` names, all but `except`, taken out of the registry
    /// first: encoding (and compressing) a message must not hold a shard's lock, which
    /// opens, closes and listings on other threads wait for.
    fn recipients(&self, scope: Scope<'_>, except: Option<ConnId>) -> Vec<Connection> {
        let mut recipients = Vec::new();
        match scope {
            Scope::All => {
                for members in self.registry.routes() {
                    members.snapshot(except, &mut recipients);
                }
            }
            Scope::Path(path) => {
                if let Some(members) = self.registry.at(path) {
                    members.snapshot(except, &mut recipients);
                }
            }
            Scope::Topic(topic) => self.topics.snapshot(topic, except, &mut recipients),
        }
        recipients
    }

    /// Subscribes `conn` to `topic`; `false` if it was already, or has ended.
    pub(crate) fn subscribe(&self, conn: &Connection, topic: &str) -> bool {
        let change = self.topics.subscribe(conn, topic);
        self.topics_changed(change);
        change != Change::None
    }

    /// Unsubscribes connection `id` from `topic`; `false` if it was not subscribed.
    pub(crate) fn unsubscribe(&self, id: ConnId, topic: &str) -> bool {
        let change = self.topics.unsubscribe(id, topic);
        self.topics_changed(change);
        change != Change::None
    }

    /// The topics connection `id` subscribes to.
    pub(crate) fn topics_of(&self, id: ConnId) -> Vec<String> {
        self.topics.of(id)
    }

    pub(crate) fn subscriber_count(&self, topic: &str) -> usize {
        self.topics.subscriber_count(topic)
    }

    /// The backplane follows the set of topics with local subscribers: it reads the set
    /// afresh after every change, so concurrent changes cannot leave it behind.
    fn topics_changed(&self, change: Change) {
        if change == Change::Topic {
            self.follow_topics();
        }
    }

    /// Tells the backplane to bring its subscriptions in line with the topics.
    fn follow_topics(&self) {
        if let Some(backplane) = self.backplane.get() {
            backplane.topics_changed();
        }
    }

    pub(crate) fn bind(&self, bound: Bound) {
        let _ = self.bound.set(bound);
    }

    pub(crate) fn state<T: Send + Sync + 'static>(&self) -> Option<&T> {
        self.bound.get()?.state.get()
    }

    pub(crate) fn next_conn_id(&self) -> ConnId {
        ConnId::new(self.next_id.fetch_add(1, Ordering::Relaxed))
    }

    /// Adds a connection to its path's members (and lets it subscribe); during a
    /// shutdown, also closes it.
    pub(crate) fn register(&self, conn: &Connection) {
        self.topics.open(conn.id());
        conn.members().insert(conn);
        if let Some(backplane) = self.backplane.get() {
            backplane.opened(cluster::record_of(conn));
        }
        if let Some(mode) = self.shutdown.mode() {
            let (code, reason) = mode.close_frame();
            let _ = conn.close(code, reason);
        }
    }

    /// Removes an ended connection from its path's members and from every topic.
    pub(crate) fn unregister(&self, conn: &Connection) {
        conn.members().remove(conn.id());
        let change = self.topics.close(conn.id());
        self.topics_changed(change);
        self.release_all(conn.id());
        if let Some(backplane) = self.backplane.get() {
            backplane.closed(conn.id().as_u64());
        }
    }

    /// A snapshot of every live connection.
    pub(crate) fn connections(&self) -> Vec<Connection> {
        let mut conns = Vec::new();
        for members in self.registry.routes() {
            members.snapshot(None, &mut conns);
        }
        conns
    }

    pub(crate) fn connection_count(&self) -> usize {
        self.registry
            .routes()
            .iter()
            .map(|members| members.len())
            .sum()
    }
}
