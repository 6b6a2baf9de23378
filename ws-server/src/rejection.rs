//! Refusing a WebSocket upgrade with an HTTP status.

use std::borrow::Cow;

use bytes::Bytes;

use crate::CloseCode;
use http::{HeaderValue, Response, StatusCode, header};
use http_body_util::Full;

/// The HTTP response body type of refusals.
pub(crate) type Body = Full<Bytes>;

/// A refused connection: what [`Handler::accept`](crate::Handler::accept) returns to refuse
/// one (authentication, capacity, bad parameters).
///
/// Most refusals are an HTTP status and a short body ([`Rejection::new`]). A browser's
/// `WebSocket` never sees those: it reports only that the connection failed (1006). For
/// browser clients, [`Rejection::close`] completes the handshake and closes at once with an
/// application close code and a reason, which the page's `onclose` does see.
///
/// ```
/// use ws_server::{CloseCode, Rejection, http::StatusCode};
/// let no_token = Rejection::new(StatusCode::UNAUTHORIZED, "a token is required");
/// assert_eq!(no_token.status(), StatusCode::UNAUTHORIZED);
/// let forbidden: Rejection = StatusCode::FORBIDDEN.into();
/// assert_eq!(forbidden.body(), "Forbidden");
/// let taken = Rejection::close(CloseCode::new(4009), "that name is taken");
/// assert_eq!(taken.close_code(), Some(CloseCode::new(4009)));
/// ```
#[derive(Debug, Clone)]
pub struct Rejection {
    kind: Kind,
    body: Cow<'static, str>,
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    Status(StatusCode),
    Close(CloseCode),
}

impl Rejection {
    /// Refuses with `status` and a short plain-text `body`.
    pub fn new(status: StatusCode, body: impl Into<Cow<'static, str>>) -> Rejection {
        Rejection {
            kind: Kind::Status(status),
            body: body.into(),
        }
    }

    /// Refuses by completing the handshake (101) and closing at once with `code` and
    /// `reason` (cut to 123 bytes): an application code, 4000 to 4999, or a library's, 3000
    /// to 3999. Any other code is sent as 1008 (policy violation). The handler is not
    /// built, so no callback runs for the connection.
    pub fn close(code: CloseCode, reason: impl Into<Cow<'static, str>>) -> Rejection {
        let code = match code.as_u16() {
            3000..=4999 => code,
            _ => CloseCode::POLICY,
        };
        Rejection {
            kind: Kind::Close(code),
            body: body_of(reason.into()),
        }
    }

    /// The HTTP status sent: 101 Switching Protocols for [`close`](Rejection::close).
    pub fn status(&self) -> StatusCode {
        match self.kind {
            Kind::Status(status) => status,
            Kind::Close(_) => StatusCode::SWITCHING_PROTOCOLS,
        }
    }

    /// The body sent, or the close reason.
    pub fn body(&self) -> &str {
        &self.body
    }

    /// The close code, for a [`close`](Rejection::close).
    pub fn close_code(&self) -> Option<CloseCode> {
        match self.kind {
            Kind::Close(code) => Some(code),
            Kind::Status(_) => None,
        }
    }

    /// The HTTP answer of a status refusal.
    pub(crate) fn into_response(self) -> Response<Body> {
        plain_response(self.status(), self.body.into_owned())
    }
}

/// A close reason, cut to what a close frame holds.
fn body_of(reason: Cow<'static, str>) -> Cow<'static, str> {
    if reason.len() <= crate::proto::MAX_CLOSE_REASON {
        return reason;
    }
    Cow::Owned(crate::proto::truncate_reason(&reason).to_owned())
}

impl From<StatusCode> for Rejection {
    fn from(status: StatusCode) -> Rejection {
        Rejection::new(status, status.canonical_reason().unwrap_or(""))
    }
}

/// A plain-text response.
pub(crate) fn plain_response(status: StatusCode, body: impl Into<Bytes>) -> Response<Body> {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}
