//! Why a handshake request is refused, one variant per failure, each with its status.

use http::{HeaderValue, Response, StatusCode};

use crate::rejection::{Body, plain_response};

/// A malformed or unsupported WebSocket upgrade request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum HandshakeRejection {
    #[error("the upgrade request must use GET")]
    MethodNotGet,
    #[error("the upgrade request must use HTTP/1.1 or later")]
    HttpVersion,
    #[error("an HTTP/1.1 request must have exactly one `Host` header")]
    Host,
    #[error("the `Upgrade` header must name `websocket`")]
    MissingUpgrade,
    #[error("the `Connection` header must include `upgrade`")]
    MissingConnectionUpgrade,
    #[error("the `Sec-WebSocket-Version` header is missing")]
    MissingVersion,
    #[error("only WebSocket version 13 is supported")]
    UnsupportedVersion,
    #[error("the `Sec-WebSocket-Key` header must be 16 bytes in base64")]
    InvalidKey,
    #[error("a WebSocket over HTTP/2 opens with an extended CONNECT (RFC 8441)")]
    NotExtendedConnect,
    #[error("the `:protocol` of an extended CONNECT here must be `websocket`")]
    ProtocolNotWebSocket,
}

impl HandshakeRejection {
    pub(crate) fn status(self) -> StatusCode {
        match self {
            HandshakeRejection::UnsupportedVersion => StatusCode::UPGRADE_REQUIRED,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    pub(crate) fn into_response(self) -> Response<Body> {
        let mut response = plain_response(self.status(), format!("{self}\n"));
        if self == HandshakeRejection::UnsupportedVersion {
            // RFC 6455 section 4.4: name the versions this server speaks.
            response
                .headers_mut()
                .insert("sec-websocket-version", HeaderValue::from_static("13"));
        }
        response
    }
}
