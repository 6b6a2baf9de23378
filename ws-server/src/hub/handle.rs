//! [`ServerHandle`]: the server's live connections and topics, from anywhere.

use std::{fmt, io, sync::Arc};

use crate::{
    ClusterConnection, ConnId, Connection, Message, NodeId, ShutdownMode,
    backplane::{BackplaneStats, Scope},
    hub::{Delivery, Hub},
};

/// A handle to a running server: its live connections, broadcast, topics, state and
/// shutdown. Cheap to clone, `Send + Sync`.
///
/// Get one from [`Server::handle`](crate::Server::handle),
/// [`Serve::handle`](crate::Serve::handle) (what `serve!` returns), or
/// [`Connection::server`] inside a handler.
///
/// A broadcast encodes the message once: every recipient's queue holds the same bytes.
/// With a backplane (`Builder::redis_backplane`, under the feature `redis`), broadcasts
/// and publishes also reach the connections of the other server processes.
/// Offers never wait, except for recipients under
/// [`SlowConsumer::Wait`](crate::SlowConsumer::Wait) whose queue is full; those are waited
/// for side by side.
///
/// ```no_run
/// use std::time::Duration;
/// use ws_server::{Handler, Server, ws_resource};
///
/// #[ws_resource("/clock")]
/// #[derive(Default)]
/// struct Clock;
/// impl Handler for Clock {}
///
/// # async fn run() -> std::io::Result<()> {
/// let server = Server::builder().route::<Clock>().bind("127.0.0.1:9001").await?;
/// let handle = server.handle();
/// tokio::spawn(async move {
///     let mut tick = tokio::time::interval(Duration::from_secs(1));
///     loop {
///         tick.tick().await;
///         let _ = handle.broadcast_at("/clock", "tick").await;
///     }
/// });
/// server.run().await
/// # }
/// # let _ = run;
/// ```
#[derive(Clone)]
pub struct ServerHandle {
    hub: Arc<Hub>,
}

impl ServerHandle {
    pub(crate) fn new(hub: Arc<Hub>) -> ServerHandle {
        ServerHandle { hub }
    }

    pub(crate) fn hub(&self) -> &Arc<Hub> {
        &self.hub
    }

    /// Every live connection (a snapshot).
    pub fn connections(&self) -> Vec<Connection> {
        self.hub.connections()
    }

    /// The live connections of the resource at `path` (a snapshot; empty for a path no
    /// resource is served at).
    pub fn connections_at(&self, path: &str) -> Vec<Connection> {
        let mut conns = Vec::new();
        if let Some(members) = self.hub.registry.at(path) {
            members.snapshot(None, &mut conns);
        }
        conns
    }

    /// How many connections are live.
    pub fn connection_count(&self) -> usize {
        self.hub.connection_count()
    }

    /// This process among the nodes of a cluster (the servers sharing a Redis backplane).
    pub fn node_id(&self) -> NodeId {
        self.hub.node_id()
    }

    /// Every live connection of the cluster: this process's, and with a Redis backplane
    /// every other live node's, from their presence records (a node that died without a
    /// goodbye drops out within the presence TTL). Without a backplane, this process's.
    ///
    /// # Errors
    /// If Redis cannot be read.
    pub async fn cluster_connections(&self) -> io::Result<Vec<ClusterConnection>> {
        self.cluster(None, None).await
    }

    /// The live connections of the resource at `path` on every node, as
    /// [`cluster_connections`](ServerHandle::cluster_connections) lists them.
    ///
    /// # Errors
    /// If Redis cannot be read.
    pub async fn cluster_connections_at(&self, path: &str) -> io::Result<Vec<ClusterConnection>> {
        self.cluster(Some(path), None).await
    }

    /// How many connections are live on every node, without listing them.
    ///
    /// # Errors
    /// If Redis cannot be read.
    pub async fn cluster_connection_count(&self) -> io::Result<usize> {
        Ok(self.connection_count() + self.hub.remote_count().await?)
    }

    /// The cluster's connections at `path` (or all), but `except`.
    pub(crate) async fn cluster(
        &self,
        path: Option<&str>,
        except: Option<ConnId>,
    ) -> io::Result<Vec<ClusterConnection>> {
        let node = self.node_id();
        let local = match path {
            Some(path) => self.connections_at(path),
            None => self.connections(),
        };
        let mut all: Vec<ClusterConnection> = local
            .into_iter()
            .filter(|conn| Some(conn.id()) != except)
            .map(|conn| ClusterConnection::local(node, conn))
            .collect();
        for (other, record) in self.hub.remote_records().await? {
            if path.is_none_or(|path| record.path == path) {
                all.push(ClusterConnection::remote(
                    NodeId::new(other),
                    record,
                    self.clone(),
                ));
            }
        }
        Ok(all)
    }

    /// Sends `message` to every live connection.
    pub async fn broadcast_all(&self, message: impl Into<Message>) -> Delivery {
        self.hub.fan_out(Scope::All, message.into(), None).await
    }

    /// Sends `message` to every live connection of the resource at `path`
    /// ([`Connection::broadcast_peers`] leaves out the sender).
    pub async fn broadcast_at(&self, path: &str, message: impl Into<Message>) -> Delivery {
        self.hub
            .fan_out(Scope::Path(path), message.into(), None)
            .await
    }

    /// Sends `message` to every subscriber of `topic` (see [`Connection::subscribe`];
    /// [`Connection::publish_peers`] leaves out the sender).
    pub async fn publish(&self, topic: &str, message: impl Into<Message>) -> Delivery {
        self.hub
            .fan_out(Scope::Topic(topic), message.into(), None)
            .await
    }

    /// How many connections subscribe to `topic`.
    pub fn subscriber_count(&self, topic: &str) -> usize {
        self.hub.subscriber_count(topic)
    }

    /// The server-wide state value of type `T`, as given to
    /// [`Builder::state`](crate::Builder::state); `None` if none was.
    pub fn state<T: Send + Sync + 'static>(&self) -> Option<&T> {
        self.hub.state()
    }

    /// The backplane's counters, if the server has one besides the in-process default.
    pub fn backplane_stats(&self) -> Option<BackplaneStats> {
        self.hub.backplane_stats()
    }

    /// Shuts the server down gracefully: stops accepting, closes every connection as the
    /// [`Builder::shutdown_mode`](crate::Builder::shutdown_mode) says (by default at once
    /// with 1001 "server shutting down"), waits for the close handshakes and every
    /// `on_close` up to the shutdown timeout
    /// ([`Builder::shutdown_timeout`](crate::Builder::shutdown_timeout)), then stops what is
    /// left, whose `on_close` still runs. Resolves when done; calling it again, or from
    /// several places, waits for the same shutdown.
    pub async fn shutdown(&self) {
        self.hub.shutdown(self.hub.shutdown_mode()).await;
    }

    /// Shuts the server down gracefully as [`shutdown`](ServerHandle::shutdown) does, in
    /// `mode` whatever the builder set: say, a rolling restart on a deploy's signal and
    /// 1001 at once otherwise. A shutdown already under way keeps its mode.
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use ws_server::{ServerHandle, ShutdownMode};
    ///
    /// async fn deploy(server: ServerHandle) {
    ///     server
    ///         .shutdown_with(ShutdownMode::Restart { window: Duration::from_secs(30) })
    ///         .await;
    /// }
    /// # let _ = deploy;
    /// ```
    pub async fn shutdown_with(&self, mode: ShutdownMode) {
        self.hub.shutdown(mode).await;
    }

    /// Whether a shutdown has started.
    pub fn is_shutting_down(&self) -> bool {
        self.hub.is_shutting_down()
    }
}

impl fmt::Debug for ServerHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerHandle")
            .field("connections", &self.connection_count())
            .field("shutting_down", &self.is_shutting_down())
            .finish()
    }
}
