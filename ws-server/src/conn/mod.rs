//! Live connections: the [`Connection`] handle and the task behind each one.

mod deadline;
mod direct;
mod driver;
#[cfg(target_os = "linux")]
mod fd_clock;
mod outbox;
mod outgoing;
mod peers;
mod push;
mod read_sizing;
mod timers;
mod topics;
mod writer;

use std::{
    borrow::Cow,
    fmt,
    net::SocketAddr,
    sync::{Arc, Mutex},
};

use bytes::Bytes;
use http::HeaderMap;

pub(crate) use driver::{Settings, run};
use outbox::Outbox;
use outgoing::Single;
pub(crate) use outgoing::{Outgoing, SendDeflate};
use topics::Subscriptions;

use crate::{
    Backpressure, CloseCode, Message, Request, SendError, ServerHandle, Text, registry::Members,
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

#[repr(C)] // The outbox's first cache line is the one a message touches.
struct Shared {
    outbox: Outbox,
    id: ConnId,
    request: Request,
    members: Arc<Members>,
    subscriptions: Mutex<Subscriptions>,
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
                outbox: Outbox::new(backpressure, deflate),
                id,
                request,
                members,
                subscriptions: Mutex::default(),
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

    /// The address of the TCP peer.
    pub fn peer_addr(&self) -> SocketAddr {
        self.inner.request.peer_addr()
    }

    /// Whether a close frame has been queued (by either side); nothing more can be sent.
    pub fn is_closed(&self) -> bool {
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
            .field("closed", &self.is_closed())
            .finish()
    }
}
