//! Refusing a WebSocket upgrade with an HTTP status.

use std::borrow::Cow;

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use http_body_util::Full;

/// The HTTP response body type of refusals.
pub(crate) type Body = Full<Bytes>;

/// An HTTP answer instead of an upgrade: what [`Handler::accept`](crate::Handler::accept)
/// returns to refuse a connection (authentication, capacity, bad parameters).
///
/// ```
/// use ws_server::{Rejection, http::StatusCode};
/// let no_token = Rejection::new(StatusCode::UNAUTHORIZED, "a token is required");
/// assert_eq!(no_token.status(), StatusCode::UNAUTHORIZED);
/// let forbidden: Rejection = StatusCode::FORBIDDEN.into();
/// assert_eq!(forbidden.body(), "Forbidden");
/// ```
#[derive(Debug, Clone)]
pub struct Rejection {
    status: StatusCode,
    body: Cow<'static, str>,
}

impl Rejection {
    /// Refuses with `status` and a short plain-text `body`.
    pub fn new(status: StatusCode, body: impl Into<Cow<'static, str>>) -> Rejection {
        Rejection {
            status,
            body: body.into(),
        }
    }

    /// The status sent.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The body sent.
    pub fn body(&self) -> &str {
        &self.body
    }

    pub(crate) fn into_response(self) -> Response<Body> {
        plain_response(self.status, self.body.into_owned())
    }
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
