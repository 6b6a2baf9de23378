//! Validation of an upgrade request and the `Sec-WebSocket-Accept` computation.

use base64::{Engine, engine::general_purpose::STANDARD};
use http::{HeaderMap, HeaderValue, Method, Version, header};
use sha1::{Digest, Sha1};

use super::HandshakeRejection;

/// RFC 6455 section 1.3: appended to the client's key before hashing.
const ACCEPT_GUID: &[u8] = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// Checks an upgrade request (RFC 6455 section 4.2.1) and returns the
/// `Sec-WebSocket-Accept` value to answer with.
pub(crate) fn check(request: &http::request::Parts) -> Result<HeaderValue, HandshakeRejection> {
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
    match single(headers, header::SEC_WEBSOCKET_VERSION) {
        None => return Err(HandshakeRejection::MissingVersion),
        Some(version) if version.as_bytes().trim_ascii() != b"13" => {
            return Err(HandshakeRejection::UnsupportedVersion);
        }
        Some(_) => {}
    }
    let key = single(headers, header::SEC_WEBSOCKET_KEY).ok_or(HandshakeRejection::InvalidKey)?;
    let key = key.as_bytes().trim_ascii();
    match STANDARD.decode(key) {
        Ok(raw) if raw.len() == 16 => Ok(accept_key(key)),
        _ => Err(HandshakeRejection::InvalidKey),
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
        super::check(&parts)
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
}
