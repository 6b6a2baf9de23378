//! What all connections of a server share: who is connected (by path and by topic), the
//! fan-out of broadcasts and publishes, state, and the shutdown; and the handles users hold
//! onto all that: [`Connection`], [`ServerHandle`], [`Request`], which refer to each other
//! as the public API does (a connection's server, a server's connections).

mod connection;
mod fanout;
mod handle;
mod members;
mod request;
mod sharded;
mod topics;

#[cfg(test)]
mod tests;

pub use connection::{ConnId, Connection};
pub use fanout::Delivery;
pub use handle::ServerHandle;
pub(crate) use members::{Members, Registry};
pub use request::Request;

use std::{
    sync::{
        Arc, OnceLock,
        atomic::{AtomicU64, AtomicUsize, Ordering},
    },
    time::Duration,
};

use tokio::{
    sync::{Notify, watch},
    time::timeout,
};
use tracing::{info, warn};

use fanout::Fanout;
use topics::{Change, Topics};

use crate::{
    CloseCode, Message,
    backplane::{Backplane, BackplaneStats, Scope},
    outbox::Outgoing,
    state::StateMap,
};

/// The reason of the 1001 close a shutdown sends (and records for stopped connections).
pub(crate) const SHUTDOWN_REASON: &str = "server shutting down";

/// How long a graceful shutdown waits for connections to finish, unless configured.
pub(crate) const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(10);

/// Where a server is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Running,
    Stopping,
    Stopped,
}

/// What is fixed when the server binds.
#[derive(Debug)]
pub(crate) struct Bound {
    pub(crate) state: StateMap,
    pub(crate) shutdown_timeout: Duration,
}

#[derive(Debug)]
pub(crate) struct Hub {
    pub(crate) registry: Registry,
    topics: Topics,
    bound: OnceLock<Bound>,
    next_id: AtomicU64,
    phase: watch::Sender<Phase>,
    /// Connection tasks that have not finished `on_close` yet.
    live_tasks: AtomicUsize,
    all_done: Notify,
    backplane: OnceLock<Box<dyn Backplane>>,
    /// This server's identity on the backplane, so that it skips its own messages.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    origin: u64,
}

impl Hub {
    pub(crate) fn new() -> Hub {
        Hub {
            registry: Registry::default(),
            topics: Topics::new(),
            bound: OnceLock::new(),
            next_id: AtomicU64::new(1),
            phase: watch::Sender::new(Phase::Running),
            live_tasks: AtomicUsize::new(0),
            all_done: Notify::new(),
            backplane: OnceLock::new(),
            origin: std::hash::BuildHasher::hash_one(&std::hash::RandomState::new(), 0u8),
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
        // Taken out of the registry first: encoding (and compressing) the message must not
        // hold a shard's lock, which opens, closes and listings on other threads wait for.
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
        let out = Outgoing::new(message);
        let mut fanout = Fanout::default();
        for conn in &recipients {
            fanout.offer(conn, &out);
        }
        fanout.finish(&out).await
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
        if change == Change::Topic
            && let Some(backplane) = self.backplane.get()
        {
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

    /// Counts a connection task until the guard drops (after its `on_close`).
    pub(crate) fn task_started(self: &Arc<Hub>) -> TaskGuard {
        self.live_tasks.fetch_add(1, Ordering::AcqRel);
        TaskGuard(self.clone())
    }

    /// Adds a connection to its path's members (and lets it subscribe); during a
    /// shutdown, also closes it.
    pub(crate) fn register(&self, conn: &Connection) {
        self.topics.open(conn.id());
        conn.members().insert(conn);
        if self.is_shutting_down() {
            let _ = conn.close(CloseCode::GOING_AWAY, SHUTDOWN_REASON);
        }
    }

    /// Removes an ended connection from its path's members and from every topic.
    pub(crate) fn unregister(&self, conn: &Connection) {
        conn.members().remove(conn.id());
        let change = self.topics.close(conn.id());
        self.topics_changed(change);
    }

    pub(crate) fn is_shutting_down(&self) -> bool {
        *self.phase.borrow() != Phase::Running
    }

    /// Resolves once a shutdown has started.
    pub(crate) async fn stopping(&self) {
        let mut phase = self.phase.subscribe();
        let _ = phase.wait_for(|phase| *phase != Phase::Running).await;
    }

    /// Closes every connection with 1001 and waits for their tasks to finish, up to the
    /// shutdown timeout; then stops the rest. Whoever calls first does the work; every
    /// caller returns once it is done.
    pub(crate) async fn shutdown(&self) {
        let started = self.phase.send_if_modified(|phase| {
            let first = *phase == Phase::Running;
            if first {
                *phase = Phase::Stopping;
            }
            first
        });
        if started {
            self.close_everything().await;
            self.phase.send_replace(Phase::Stopped);
        } else {
            let mut phase = self.phase.subscribe();
            let _ = phase.wait_for(|phase| *phase == Phase::Stopped).await;
        }
    }

    async fn close_everything(&self) {
        let deadline = self
            .bound
            .get()
            .map_or(DEFAULT_SHUTDOWN_TIMEOUT, |bound| bound.shutdown_timeout);
        let conns = self.connections();
        info!(
            connections = conns.len(),
            "shutting down: closing every connection with 1001"
        );
        for conn in &conns {
            let _ = conn.close(CloseCode::GOING_AWAY, SHUTDOWN_REASON);
        }
        drop(conns);
        if timeout(deadline, self.tasks_finished()).await.is_ok() {
            info!("shutdown complete");
            return;
        }
        let stuck = self.connections();
        warn!(
            connections = stuck.len(),
            "shutdown deadline passed; stopping the remaining connections"
        );
        for conn in &stuck {
            conn.outbox().abort();
        }
        drop(stuck);
        // Stopped tasks still run `on_close`; give them a moment, not forever.
        if timeout(Duration::from_secs(1), self.tasks_finished())
            .await
            .is_err()
        {
            warn!("some handlers did not finish on_close in time");
        }
    }

    async fn tasks_finished(&self) {
        loop {
            let done = self.all_done.notified();
            tokio::pin!(done);
            done.as_mut().enable();
            if self.live_tasks.load(Ordering::Acquire) == 0 {
                return;
            }
            done.await;
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

/// Keeps a connection task counted as live.
#[derive(Debug)]
pub(crate) struct TaskGuard(Arc<Hub>);

impl Drop for TaskGuard {
    fn drop(&mut self) {
        if self.0.live_tasks.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.all_done.notify_waiters();
        }
    }
}

impl crate::backplane::Inbound for Hub {
    fn deliver<'a>(
        &'a self,
        scope: Scope<'a>,
        message: Message,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + 'a>> {
        Box::pin(async move {
            let _ = Hub::deliver(self, scope, message, None).await;
        })
    }

    fn topics(&self) -> Vec<Arc<str>> {
        self.topics.names()
    }
}
