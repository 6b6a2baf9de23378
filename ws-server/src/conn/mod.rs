//! Live connections: the [`Connection`] handle and the task behind each one.

mod driver;
mod outbox;
mod writer;

use std::{borrow::Cow, fmt, net::SocketAddr, sync::Arc};

use bytes::Bytes;
use http::HeaderMap;

pub(crate) use driver::{Settings, run};
use outbox::Outbox;

use crate::{CloseCode, Message, Request, SendError, Text, proto::OutFrame};

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
/// Sending queues the encoded frame; the connection's task writes it. Once a close frame
/// is queued or received, sending fails with [`SendError::Closed`].
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
    id: ConnId,
    request: Request,
    outbox: Outbox,
}

impl Connection {
    pub(crate) fn new(id: ConnId, request: Request) -> Connection {
        Connection {
            inner: Arc::new(Shared {
                id,
                request,
                outbox: Outbox::default(),
            }),
        }
    }

    pub(crate) fn outbox(&self) -> &Outbox {
        &self.inner.outbox
    }

    /// The connection's identifier.
    pub fn id(&self) -> ConnId {
        self.inner.id
    }

    /// The upgrade request that opened the connection.
    pub fn request(&self) -> &Request {
        &self.inner.request
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

    /// Sends a text message.
    ///
    /// # Errors
    /// [`SendError::Closed`] once the connection is closing.
    ///
    /// # Cancel safety
    /// Cancel safe: the message is either queued whole or not at all.
    pub async fn send_text(&self, text: impl Into<Text>) -> Result<(), SendError> {
        self.send_frame(OutFrame::text(text.into()))
    }

    /// Sends a binary message.
    ///
    /// # Errors
    /// [`SendError::Closed`] once the connection is closing.
    ///
    /// # Cancel safety
    /// Cancel safe: the message is either queued whole or not at all.
    pub async fn send_binary(&self, data: impl Into<Bytes>) -> Result<(), SendError> {
        self.send_frame(OutFrame::binary(data.into()))
    }

    /// Sends a text or binary message.
    ///
    /// # Errors
    /// [`SendError::Closed`] once the connection is closing.
    ///
    /// # Cancel safety
    /// Cancel safe: the message is either queued whole or not at all.
    pub async fn send(&self, message: impl Into<Message>) -> Result<(), SendError> {
        self.send_frame(OutFrame::message(message.into()))
    }

    fn send_frame(&self, frame: OutFrame) -> Result<(), SendError> {
        self.inner.outbox.push(frame)
    }

    /// Starts the close handshake: messages already queued are sent, then a close frame
    /// with `code` and `reason` (cut to 123 bytes). The peer's reply is awaited for the
    /// server's close timeout, then the socket is closed and `on_close` runs with `code`.
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
