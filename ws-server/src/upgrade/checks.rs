//! Validation of an opening handshake, in either form (RFC 6455's HTTP/1.1 upgrade, RFC
//! 8441's HTTP/2 extended CONNECT), and the `Sec-WebSocket-Accept` computation.

use base64::{Engine, engine::general_purpose::STANDARD};
use http::{HeaderMap, HeaderValue, Method, Version, header};
use sha1::{Digest, Sha1};

use super::HandshakeRejection;

/// RFC 6455 section 1.3: appended to the client's key before hashing.
const ACCEPT_GUID: &[u8] = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// The form of an opening handshake, which decides the form of the answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Form {
    /// RFC 6455: a GET with `Upgrade: websocket` over HTTP/1.1, answered with 101 and
    /// this `Sec-WebSocket-Accept`.
    Upgrade { accept_key: HeaderValue },
    /// RFC 8441: a CONNECT with `:protocol = websocket` on an HTTP/2 stream, answered
    /// with 200; the stream then carries the WebSocket.
    Connect,
}

/// Checks an opening handshake (RFC 6455 section 4.2.1, RFC 8441 section 5) and returns
/// its form.
pub(crate) fn check(request: &http::request::Parts) -> Result<Form, HandshakeRejection> {
    if request.version >= Version::HTTP_2 {
        return check_connect(request);
    }
    if request.method != Method::GET {
        return Err(HandshakeRejection::MethodNotGet);
    }
    if request.version < Version::HTTP_11 {
        return Err(HandshakeRejection::HttpVersion);
    }
    let headers = &request.headers;
    // RFC 9112 section 3.2: exactly one `Host` in an HTTP/1.1 request.
    if request.version == Version::HTTP_11 && single(headers, header::HOST).is_none() {
        return Err(HandshakeRejection::Host);
    }
    if !has_token(headers, header::UPGRADE, "websocket") {
        return Err(HandshakeRejection::MissingUpgrade);
    }
    if !has_token(headers, header::CONNECTION, "upgrade") {
        return Err(HandshakeRejection::MissingConnectionUpgrade);
    }
    check_version(headers)?;
    let key = single(headers, header::SEC_WEBSOCKET_KEY).ok_or(HandshakeRejection::InvalidKey)?;
    let key = key.as_bytes().trim_ascii();
    match STANDARD.decode(key) {
        Ok(raw) if raw.len() == 16 => Ok(Form::Upgrade {
            accept_key: accept_key(key),
        }),
        _ => Err(HandshakeRejection::InvalidKey),
    }
}

/// An HTTP/2 request: an extended CONNECT for `websocket`, with the version header that
/// RFC 8441 keeps from RFC 6455 (there is no key: the stream is the client's own).
fn check_connect(request: &http::request::Parts) -> Result<Form, HandshakeRejection> {
    let protocol = request.extensions.get::<hyper::ext::Protocol>();
    if request.method != Method::CONNECT || protocol.is_none() {
        return Err(HandshakeRejection::NotExtendedConnect);
    }
    if !protocol.is_some_and(|protocol| protocol.as_str().eq_ignore_ascii_case("websocket")) {
        return Err(HandshakeRejection::ProtocolNotWebSocket);
    }
    check_version(&request.headers)?;
    Ok(Form::Connect)
}

fn check_version(headers: &HeaderMap) -> Result<(), HandshakeRejection> {
    match single(headers, header::SEC_WEBSOCKET_VERSION) {
        None => Err(HandshakeRejection::MissingVersion),
        Some(version) if version.as_bytes().trim_ascii() != b"13" => {
            Err(HandshakeRejection::UnsupportedVersion)
        }
        Some(_) => Ok(()),
    }
}

/// `base64(sha1(key + GUID))`.
pub(crate) fn accept_key(key: &[u8]) -> HeaderValue {
    let digest = Sha1::new()
        .chain_update(key)
        .chain_update(ACCEPT_GUID)
        .finalize();
    let encoded = STANDARD.encode(digest);
    HeaderValue::from_str(&encoded).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// Whether any of the header's comma-separated values is `token`, ignoring case.
fn has_token(headers: &HeaderMap, name: header::HeaderName, token: &str) -> bool {
    headers
        .get_all(name)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|item| item.trim().eq_ignore_ascii_case(token))
}

/// The header's value if it occurs exactly once.
fn single(headers: &HeaderMap, name: header::HeaderName) -> Option<&HeaderValue> {
    let mut values = headers.get_all(name).iter();
    let value = values.next()?;
    values.next().is_none().then_some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check<B>(request: &http::Request<B>) -> Result<HeaderValue, HandshakeRejection> {
        let (parts, _) = clone_parts(request);
        super::check(&parts).map(|form| match form {
            Form::Upgrade { accept_key } => accept_key,
            Form::Connect => panic!("an HTTP/1.1 request taken for an HTTP/2 one"),
        })
    }

    fn clone_parts<B>(request: &http::Request<B>) -> (http::request::Parts, ()) {
        let mut builder = http::Request::builder()
            .method(request.method())
            .uri(request.uri())
            .version(request.version());
        for (name, value) in request.headers() {
            builder = builder.header(name, value);
        }
        builder.body(()).expect("request").into_parts()
    }

    fn request() -> http::request::Builder {
        http::Request::get("/chat")
            .header("host", "example.com")
            .header("upgrade", "websocket")
            .header("connection", "Upgrade")
            .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
            .header("sec-websocket-version", "13")
    }

    #[test]
    fn rfc_sample_handshake_is_accepted_with_the_rfc_accept_key() {
        let accept = check(&request().body(()).expect("request"));
        assert_eq!(
            accept,
            Ok(HeaderValue::from_static("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="))
        );
    }

    #[test]
    fn tokens_are_case_insensitive_and_comma_separated() {
        let req = http::Request::get("/")
            .header("host", "example.com")
            .header("upgrade", "WebSocket")
            .header("connection", "keep-alive, UPGRADE")
            .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
            .header("sec-websocket-version", "13")
            .body(())
            .expect("request");
        assert!(check(&req).is_ok());
    }

    #[test]
    fn each_malformation_gets_its_rejection() {
        let cases = [
            (request().method("POST"), HandshakeRejection::MethodNotGet),
            (
                request().version(Version::HTTP_10),
                HandshakeRejection::HttpVersion,
            ),
            (
                request().header("sec-websocket-version", "13"),
                HandshakeRejection::MissingVersion,
            ),
        ];
        for (builder, expected) in cases {
            let req = builder.body(()).expect("request");
            // A repeated version header is as bad as a missing one.
            let got = check(&req);
            assert_eq!(got, Err(expected), "{expected:?}");
        }
        let without = |name: &str| {
            let mut req = request().body(()).expect("request");
            req.headers_mut().remove(name);
            check(&req)
        };
        assert_eq!(without("host"), Err(HandshakeRejection::Host));
        let mut two_hosts = request().body(()).expect("request");
        two_hosts
            .headers_mut()
            .append("host", HeaderValue::from_static("other.example"));
        assert_eq!(check(&two_hosts), Err(HandshakeRejection::Host));
        assert_eq!(without("upgrade"), Err(HandshakeRejection::MissingUpgrade));
        assert_eq!(
            without("connection"),
            Err(HandshakeRejection::MissingConnectionUpgrade)
        );
        assert_eq!(
            without("sec-websocket-key"),
            Err(HandshakeRejection::InvalidKey)
        );
        assert_eq!(
            without("sec-websocket-version"),
            Err(HandshakeRejection::MissingVersion)
        );
        let mut bad_key = request().body(()).expect("request");
        bad_key
            .headers_mut()
            .insert("sec-websocket-key", HeaderValue::from_static("c2hvcnQ="));
        assert_eq!(check(&bad_key), Err(HandshakeRejection::InvalidKey));
        let mut old = request().body(()).expect("request");
        old.headers_mut()
            .insert("sec-websocket-version", HeaderValue::from_static("8"));
        assert_eq!(check(&old), Err(HandshakeRejection::UnsupportedVersion));
    }

    fn connect(protocol: Option<&'static str>) -> http::request::Parts {
        let mut request = http::Request::connect("https://example.com/chat")
            .version(Version::HTTP_2)
            .header("sec-websocket-version", "13")
            .body(())
            .expect("request");
        if let Some(protocol) = protocol {
            request
                .extensions_mut()
                .insert(hyper::ext::Protocol::from_static(protocol));
        }
        request.into_parts().0
    }

    #[test]
    fn an_http2_extended_connect_for_websocket_is_accepted() {
        assert_eq!(super::check(&connect(Some("websocket"))), Ok(Form::Connect));
    }

    #[test]
    fn http2_requests_that_are_no_websocket_connect_are_refused() {
        assert_eq!(
            super::check(&connect(None)),
            Err(HandshakeRejection::NotExtendedConnect)
        );
        assert_eq!(
            super::check(&connect(Some("webtransport"))),
            Err(HandshakeRejection::ProtocolNotWebSocket)
        );
        let mut get = connect(Some("websocket"));
        get.method = Method::GET;
        assert_eq!(
            super::check(&get),
            Err(HandshakeRejection::NotExtendedConnect)
        );
        let mut versionless = connect(Some("websocket"));
        versionless.headers.remove("sec-websocket-version");
        assert_eq!(
            super::check(&versionless),
            Err(HandshakeRejection::MissingVersion)
        );
    }
}
