//! What a WebSocket endpoint is: a [`Resource`] (from `#[ws_resource]`) and a [`Handler`].

use std::future::{Future, ready};

use bytes::Bytes;

use crate::{CloseCode, Connection, Rejection, Request, ResourceConfig, Text};

/// A WebSocket endpoint's path and settings. `#[ws_resource]` implements it; you don't.
///
/// ```
/// use ws_server::{Handler, Resource, ws_resource};
///
/// #[ws_resource("/echo", max_frames = 16)]
/// #[derive(Default)]
/// struct Echo;
/// impl Handler for Echo {}
///
/// assert_eq!(Echo::PATH, "/echo");
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a WebSocket resource",
    note = "add `#[ws_resource(\"/path\")]` to the definition of `{Self}`"
)]
pub trait Resource: Sized + Send + 'static {
    /// The path the resource is served at.
    const PATH: &'static str;
    /// The resource's own limits; unset values fall back to the server's.
    const CONFIG: ResourceConfig;

    /// Builds a value through `Default`, if the type implements it.
    #[doc(hidden)]
    fn __construct() -> Option<Self>;
}

/// The callbacks of a WebSocket endpoint, one value per connection.
///
/// Every method has a default, so implement only what you need. Methods are `async`; the
/// callbacks of one connection run one at a time, in the order the events happened, so
/// `&mut self` needs no lock. Shared state belongs in an `Arc` held by the value.
///
/// ```
/// use ws_server::{CloseCode, Connection, Handler, Text, ws_resource};
///
/// #[ws_resource("/echo")]
/// #[derive(Default)]
/// struct Echo {
///     received: usize,
/// }
///
/// impl Handler for Echo {
///     async fn on_text(&mut self, conn: &Connection, text: Text) {
///         self.received += 1;
///         let _ = conn.send_text(text).await;
///     }
///
///     async fn on_close(&mut self, _conn: &Connection, code: CloseCode, _reason: &str) {
///         tracing::info!(%code, received = self.received, "echo finished");
///     }
/// }
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` does not implement `ws_server::Handler`",
    note = "add `impl ws_server::Handler for {Self} {{}}` and override the callbacks you need"
)]
pub trait Handler: Resource {
    /// Runs on the upgrade request before the handshake completes: builds the connection's
    /// value, or refuses the upgrade with an HTTP status (the place for authentication).
    ///
    /// The default builds the value with `Default`; a type that is not `Default` must
    /// implement `accept`, or every upgrade is refused with 500 and an error is logged.
    ///
    /// ```
    /// use ws_server::{Connection, Handler, Rejection, Request, http::StatusCode, ws_resource};
    ///
    /// #[ws_resource("/private")]
    /// struct Private {
    ///     user: String,
    /// }
    ///
    /// impl Handler for Private {
    ///     async fn accept(request: &Request) -> Result<Self, Rejection> {
    ///         match request.query("token") {
    ///             Some(token) if token == "s3cret" => Ok(Private { user: "alice".into() }),
    ///             _ => Err(Rejection::new(StatusCode::UNAUTHORIZED, "bad token")),
    ///         }
    ///     }
    ///
    ///     async fn on_open(&mut self, conn: &Connection) {
    ///         let _ = conn.send_text(format!("hello {}", self.user)).await;
    ///     }
    /// }
    /// ```
    fn accept(request: &Request) -> impl Future<Output = Result<Self, Rejection>> + Send {
        let _ = request;
        ready(Self::__construct().ok_or_else(Rejection::no_constructor::<Self>))
    }

    /// The connection is open; messages can be sent.
    fn on_open(&mut self, conn: &Connection) -> impl Future<Output = ()> + Send {
        let _ = conn;
        ready(())
    }

    /// A complete text message arrived (reassembled and validated as UTF-8).
    fn on_text(&mut self, conn: &Connection, text: Text) -> impl Future<Output = ()> + Send {
        let _ = (conn, text);
        ready(())
    }

    /// A complete binary message arrived.
    fn on_binary(&mut self, conn: &Connection, data: Bytes) -> impl Future<Output = ()> + Send {
        let _ = (conn, data);
        ready(())
    }

    /// The connection ended. Runs exactly once per opened connection, whatever ended it,
    /// with the close code received from the peer (1005 if its close frame had none), or
    /// the code this side sent, or 1006 if the connection ended without a close frame.
    ///
    /// A panic in any callback fails that connection alone with 1011 (internal error);
    /// `on_close` still runs.
    fn on_close(
        &mut self,
        conn: &Connection,
        code: CloseCode,
        reason: &str,
    ) -> impl Future<Output = ()> + Send {
        let _ = (conn, code, reason);
        ready(())
    }
}

impl Rejection {
    fn no_constructor<H>() -> Rejection {
        let name = std::any::type_name::<H>();
        tracing::error!(
            resource = name,
            "refusing upgrade: the handler implements neither `Default` nor `Handler::accept`"
        );
        Rejection::new(
            http::StatusCode::INTERNAL_SERVER_ERROR,
            "resource cannot be constructed",
        )
    }
}
