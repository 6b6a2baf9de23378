//! [`Connection`]: the handle to one live connection, and everything it does.

use std::{borrow::Cow, fmt, net::SocketAddr, sync::Arc};

use bytes::Bytes;
use http::HeaderMap;

use super::{Delivery, Members, Request, ServerHandle};
use crate::{
    Backpressure, CloseCode, Message, SendError, Text,
    backplane::Scope,
    outbox::{Outbox, SendDeflate, Single},
};

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

/// A handle to one live WebSocket connection: cheap to clone, `Send + Sync`, usable from
/// the connection's own callbacks, another connection's, or any task.
///
/// Sending queues the encoded frame; the connection's task writes it, also while a
/// callback runs. The queue is bounded in bytes; what happens when it is full is the
/// resource's [`SlowConsumer`](crate::SlowConsumer) policy. Once a close frame is queued or
/// received, sending fails with [`SendError::Closed`].
///
/// ```
/// # use ws_server::{Connection, Handler, ws_resource};
/// # #[ws_resource("/room")] #[derive(Default)] struct Room;
/// impl Handler for Room {
///     async fn on_open(&mut self, conn: &Connection) {
///         let conn = conn.clone();
///         // Keep a clone anywhere; it stays valid (and sending fails) after the close.
///         tokio::spawn(async move {
///             let _ = conn.send_text("welcome").await;
///         });
///     }
/// }
/// ```
#[derive(Clone)]
pub struct Connection {
    inner: Arc<Shared>,
}

struct Shared {
    outbox: Outbox,
    id: ConnId,
    request: Request,
    /// The connections of its resource, itself among them while it is open.
    members: Arc<Members>,
}

impl Connection {
    pub(crate) fn new(
        id: ConnId,
        request: Request,
        members: Arc<Members>,
        backpressure: Backpressure,
        deflate: Option<SendDeflate>,
    ) -> Connection {
        Connection {
            inner: Arc::new(Shared {
                outbox: Outbox::new(members.path(), backpressure, deflate),
                id,
                request,
                members,
            }),
        }
    }

    pub(crate) fn outbox(&self) -> &Outbox {
        &self.inner.outbox
    }

    pub(crate) fn members(&self) -> &Arc<Members> {
        &self.inner.members
    }

    /// The server this connection belongs to: every live connection, broadcasts, topics,
    /// state, shutdown.
    pub fn server(&self) -> &ServerHandle {
        self.inner.request.server()
    }

    /// The server-wide state value of type `T`, as given to
    /// [`Builder::state`](crate::Builder::state); `None` if none was.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicU64, Ordering};
    /// use ws_server::{Connection, Handler, ws_resource};
    ///
    /// #[derive(Default)]
    /// struct Stats {
    ///     messages: AtomicU64,
    /// }
    ///
    /// #[ws_resource("/count")]
    /// #[derive(Default)]
    /// struct Count;
    ///
    /// impl Handler for Count {
    ///     async fn on_text(&mut self, conn: &Connection, _text: ws_server::Text) {
    ///         if let Some(stats) = conn.state::<Stats>() {
    ///             stats.messages.fetch_add(1, Ordering::Relaxed);
    ///         }
    ///     }
    /// }
    /// ```
    pub fn state<T: Send + Sync + 'static>(&self) -> Option<&T> {
        self.server().state()
    }

    /// The connection's identifier.
    pub fn id(&self) -> ConnId {
        self.inner.id
    }

    /// The upgrade request that opened the connection.
    pub fn request(&self) -> &Request {
        &self.inner.request
    }

    /// The subprotocol agreed in the handshake, if any: one of the resource's `protocols`.
    pub fn protocol(&self) -> Option<&'static str> {
        self.inner.request.protocol()
    }

    /// The request path.
    pub fn path(&self) -> &str {
        self.inner.request.path()
    }

    /// The first value of query parameter `name`, percent-decoded.
    pub fn query(&self, name: &str) -> Option<Cow<'_, str>> {
        self.inner.request.query(name)
    }

    /// The request headers.
    pub fn headers(&self) -> &HeaderMap {
        self.inner.request.headers()
    }

    /// The address of the TCP peer, where known (see [`Request::peer_addr`]).
    pub fn peer_addr(&self) -> Option<SocketAddr> {
        self.inner.request.peer_addr()
    }

    /// Whether the connection is closing or closed: a close frame was queued or received,
    /// or the connection ended. Nothing more can be sent.
    pub fn is_closing(&self) -> bool {
        self.inner.outbox.is_closing()
    }

    /// Sends a text message; under [`SlowConsumer::Wait`](crate::SlowConsumer::Wait),
    /// waits for room in the queue first.
    ///
    /// # Errors
    /// [`SendError::Closed`] once the connection is closing; [`SendError::Dropped`] or
    /// [`SendError::SlowConsumer`] when the queue is full under those policies.
    ///
    /// # Cancel safety
    /// Cancel safe: the message is either queued whole or not at all.
    pub fn send_text(
        &self,
        text: impl Into<Text>,
    ) -> impl Future<Output = Result<(), SendError>> + Send + '_ {
        self.send(Message::Text(text.into()))
    }

    /// Sends a binary message; see [`send_text`](Connection::send_text).
    ///
    /// # Errors
    /// As [`send_text`](Connection::send_text).
    ///
    /// # Cancel safety
    /// Cancel safe: the message is either queued whole or not at all.
    pub fn send_binary(
        &self,
        data: impl Into<Bytes>,
    ) -> impl Future<Output = Result<(), SendError>> + Send + '_ {
        self.send(Message::Binary(data.into()))
    }

    /// Sends a text or binary message; see [`send_text`](Connection::send_text).
    ///
    /// # Errors
    /// As [`send_text`](Connection::send_text).
    ///
    /// # Cancel safety
    /// Cancel safe: the message is either queued whole or not at all.
    pub fn send(
        &self,
        message: impl Into<Message>,
    ) -> impl Future<Output = Result<(), SendError>> + Send + '_ {
        // A plain function around one future: each layer of `async fn` would hold its own
        // copy of the message in every callback that sends.
        self.inner.outbox.push(Single(message.into()))
    }

    /// Queues a message if it fits, without waiting, and says what happened.
    ///
    /// ```
    /// # use ws_server::{Connection, SendError};
    /// fn offer(conn: &Connection, update: &str) {
    ///     match conn.try_send(update.to_owned()) {
    ///         Ok(()) => {}
    ///         Err(SendError::Full) => tracing::debug!("queue full, try later"),
    ///         Err(error) => tracing::debug!(%error, "not sent"),
    ///     }
    /// }
    /// # let _ = offer;
    /// ```
    ///
    /// # Errors
    /// [`SendError::Full`] under [`SlowConsumer::Wait`](crate::SlowConsumer::Wait) when
    /// the queue has no room; otherwise as [`send_text`](Connection::send_text).
    pub fn try_send(&self, message: impl Into<Message>) -> Result<(), SendError> {
        self.inner.outbox.try_push(Single(message.into()))
    }

    /// Bytes queued for this connection and not yet written to the socket.
    pub fn queued_bytes(&self) -> usize {
        self.inner.outbox.queued_bytes()
    }

    /// Starts the close handshake: messages already queued are sent, then a close frame
    /// with `code` and `reason` (cut to 123 bytes). The peer's reply is awaited for the
    /// server's close timeout, then the socket is closed and `on_close` runs with `code`.
    /// Waiting senders return [`SendError::Closed`].
    ///
    /// # Errors
    /// [`SendError::InvalidCloseCode`] for a code that may not be sent (see
    /// [`CloseCode::is_sendable`]); [`SendError::Closed`] if a close was already queued.
    pub fn close(&self, code: CloseCode, reason: &str) -> Result<(), SendError> {
        if !code.is_sendable() {
            return Err(SendError::InvalidCloseCode(code.as_u16()));
        }
        if self
            .inner
            .outbox
            .push_close(Some((code, reason.to_owned())))
        {
            Ok(())
        } else {
            Err(SendError::Closed)
        }
    }
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("id", &self.inner.id)
            .field("path", &self.path())
            .field("peer_addr", &self.peer_addr())
            .field("closing", &self.is_closing())
            .finish()
    }
}

impl Connection {
    /// The other live connections of this connection's resource (a snapshot).
    ///
    /// ```
    /// use ws_server::{Connection, Handler, ws_resource};
    ///
    /// #[ws_resource("/lobby")]
    /// #[derive(Default)]
    /// struct Lobby;
    ///
    /// impl Handler for Lobby {
    ///     async fn on_open(&mut self, conn: &Connection) {
    ///         let here = conn.peers().len();
    ///         let _ = conn.send_text(format!("{here} others are here")).await;
    ///     }
    /// }
    /// ```
    pub fn peers(&self) -> Vec<Connection> {
        let mut peers = Vec::new();
        self.members().snapshot(Some(self.id()), &mut peers);
        peers
    }

    /// The other live connections of this resource on every node of the cluster (see
    /// [`ServerHandle::cluster_connections`]); without a backplane, its
    /// [`peers`](Connection::peers).
    ///
    /// # Errors
    /// If Redis cannot be read.
    pub async fn cluster_peers(&self) -> std::io::Result<Vec<super::ClusterConnection>> {
        let path = self.members().path();
        self.server().cluster(Some(path), Some(self.id())).await
    }

    /// Claims `name` for this connection across the cluster: `true` if no other live
    /// connection on any node holds it (or this one does already), and then it is this
    /// connection's until [`release`](Connection::release), its end, or its node's death
    /// (within the presence TTL). Two connections racing for one name: exactly one wins.
    /// Without a backplane, the claim holds within this process.
    ///
    /// ```
    /// use ws_server::{CloseCode, Connection, Handler, ws_resource};
    ///
    /// #[ws_resource("/chat")]
    /// #[derive(Default)]
    /// struct Chat;
    ///
    /// impl Handler for Chat {
    ///     async fn on_open(&mut self, conn: &Connection) {
    ///         let name = conn.query("name").unwrap_or_default().into_owned();
    ///         if !conn.claim(&format!("chat:{name}")).await.unwrap_or(false) {
    ///             let _ = conn.close(CloseCode::new(4001), "that name is taken");
    ///         }
    ///     }
    /// }
    /// ```
    ///
    /// # Errors
    /// If Redis cannot be reached: the claim is then not made.
    pub async fn claim(&self, name: &str) -> std::io::Result<bool> {
        self.server().hub().claim(self.id(), name).await
    }

    /// Gives up this connection's claim on `name`; `false` if it held none.
    pub fn release(&self, name: &str) -> bool {
        self.server().hub().release(self.id(), name)
    }

    /// Sends `message` to the other live connections of this resource (its
    /// [`peers`](Connection::peers)), encoding it once. To reach this connection too, use
    /// the server's [`broadcast_at`](ServerHandle::broadcast_at) with [`path`](Connection::path).
    ///
    /// ```
    /// use ws_server::{Connection, Handler, Text, ws_resource};
    ///
    /// #[ws_resource("/relay")]
    /// #[derive(Default)]
    /// struct Relay;
    ///
    /// impl Handler for Relay {
    ///     async fn on_text(&mut self, conn: &Connection, text: Text) {
    ///         let _ = conn.broadcast_peers(text).await;
    ///     }
    /// }
    /// ```
    pub async fn broadcast_peers(&self, message: impl Into<Message>) -> Delivery {
        let scope = Scope::Path(self.members().path());
        let hub = self.server().hub();
        hub.fan_out(scope, message.into(), Some(self.id())).await
    }
}

impl Connection {
    /// Subscribes this connection to `topic`, so that it receives what is published there.
    /// Returns `false` if it was subscribed already or has ended. A connection leaves all
    /// its topics when it ends.
    ///
    /// ```
    /// use ws_server::{Connection, Handler, Text, ws_resource};
    ///
    /// #[ws_resource("/prices")]
    /// #[derive(Default)]
    /// struct Prices;
    ///
    /// impl Handler for Prices {
    ///     async fn on_text(&mut self, conn: &Connection, symbol: Text) {
    ///         conn.subscribe(&format!("price:{symbol}"));
    ///     }
    /// }
    ///
    /// // Elsewhere: `server.publish("price:ACME", "101.5").await;`
    /// ```
    pub fn subscribe(&self, topic: &str) -> bool {
        self.server().hub().subscribe(self, topic)
    }

    /// Subscribes this connection to `topic`, a topic with
    /// [history](crate::Builder::topic_history), sending first what was published after
    /// `since` (the offset of the last message the client saw, from before it reconnected,
    /// to this node or another). Then it receives every later message once, in order, as
    /// a subscriber does. Without `since`, or if what followed it is gone, it only
    /// subscribes, and [`Recovery`](crate::Recovery) says from which offset on, for the
    /// app to resync the client up to there.
    ///
    /// ```
    /// use ws_server::{Connection, Handler, Offset, Recovery, ws_resource};
    ///
    /// #[ws_resource("/news")]
    /// #[derive(Default)]
    /// struct News;
    ///
    /// impl Handler for News {
    ///     async fn on_open(&mut self, conn: &Connection) {
    ///         // The page reconnects to `/news?since=<offset of the last message it saw>`.
    ///         let since: Option<Offset> = conn.query("since").and_then(|s| s.parse().ok());
    ///         match conn.subscribe_since("news", since.as_ref()).await {
    ///             Ok(Recovery::Recovered { .. }) => {}
    ///             Ok(_) => { let _ = conn.send_text("resync").await; }
    ///             Err(error) => tracing::warn!(%error, "news unavailable"),
    ///         }
    ///     }
    /// }
    /// ```
    ///
    /// # Errors
    /// `InvalidInput` if `topic` has no history, `AlreadyExists` if this connection
    /// subscribes to it already; otherwise, Redis could not be reached or did not answer
    /// (then it is not subscribed).
    #[cfg(feature = "redis")]
    pub async fn subscribe_since(
        &self,
        topic: &str,
        since: Option<&crate::Offset>,
    ) -> std::io::Result<crate::Recovery> {
        self.server()
            .hub()
            .subscribe_since(self, topic, since)
            .await
    }

    /// Unsubscribes this connection from `topic`; returns `false` if it was not subscribed.
    pub fn unsubscribe(&self, topic: &str) -> bool {
        self.server().hub().unsubscribe(self.id(), topic)
    }

    /// The topics this connection subscribes to.
    pub fn topics(&self) -> Vec<String> {
        self.server().hub().topics_of(self.id())
    }

    /// Sends `message` to the other subscribers of `topic`, encoding it once. To reach
    /// every subscriber, this connection too, use the server's
    /// [`publish`](ServerHandle::publish).
    pub async fn publish_peers(&self, topic: &str, message: impl Into<Message>) -> Delivery {
        let hub = self.server().hub();
        hub.fan_out(Scope::Topic(topic), message.into(), Some(self.id()))
            .await
    }
}
