//! The upgrade request, as `accept` and every `Connection` see it.

use std::{borrow::Cow, net::SocketAddr};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Uri, Version};

use crate::ServerHandle;

/// The HTTP request that opened a WebSocket connection: path, query, headers, peer.
///
/// ```
/// # use ws_server::Request;
/// fn nickname(request: &Request) -> String {
///     request.query("name").map(|name| name.into_owned()).unwrap_or_else(|| "anonymous".into())
/// }
/// # let _ = nickname;
/// ```
#[derive(Debug, Clone)]
pub struct Request {
    uri: Uri,
    version: Version,
    headers: HeaderMap,
    extensions: http::Extensions,
    peer_addr: Option<SocketAddr>,
    server: ServerHandle,
    protocol: Option<&'static str>,
}

impl Request {
    pub(crate) fn new(
        parts: http::request::Parts,
        peer_addr: Option<SocketAddr>,
        server: ServerHandle,
    ) -> Request {
        let (uri, headers) = detach(&parts.uri, &parts.headers);
        Request {
            uri,
            version: parts.version,
            headers,
            extensions: parts.extensions,
            peer_addr,
            server,
            protocol: None,
        }
    }

    pub(crate) fn with_protocol(mut self, protocol: Option<&'static str>) -> Request {
        self.protocol = protocol;
        self
    }

    /// The subprotocol agreed with the client (`Sec-WebSocket-Protocol`), if any: one of
    /// the resource's `protocols`.
    pub fn protocol(&self) -> Option<&'static str> {
        self.protocol
    }

    /// The server the request came to.
    pub fn server(&self) -> &ServerHandle {
        &self.server
    }

    /// The server-wide state value of type `T`, as given to
    /// [`Builder::state`](crate::Builder::state); `None` if none was. Available in
    /// [`Handler::accept`](crate::Handler::accept), for example to check a token against
    /// a store.
    pub fn state<T: Send + Sync + 'static>(&self) -> Option<&T> {
        self.server.state()
    }

    /// The request path, without the query.
    pub fn path(&self) -> &str {
        self.uri.path()
    }

    /// The full request target.
    pub fn uri(&self) -> &Uri {
        &self.uri
    }

    /// The first value of query parameter `name`, percent-decoded; `None` if absent.
    ///
    /// For `/chat?name=J%C3%BCrgen&room=1`, `query("name")` is `Some("Jürgen")`.
    pub fn query(&self, name: &str) -> Option<Cow<'_, str>> {
        self.query_pairs()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value)
    }

    /// Every query parameter in order, percent-decoded.
    pub fn query_pairs(&self) -> impl Iterator<Item = (Cow<'_, str>, Cow<'_, str>)> {
        form_urlencoded::parse(self.uri.query().unwrap_or("").as_bytes())
    }

    /// The HTTP version of the handshake: `HTTP_11` for a WebSocket on a connection of its
    /// own, `HTTP_2` for one on a stream of a shared HTTP/2 connection (RFC 8441).
    pub fn version(&self) -> Version {
        self.version
    }

    /// The request headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// A header's value if it is present and visible ASCII.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }

    /// The address of the TCP peer, where known: always on the standalone server; inside
    /// another server (see [`WsService`](crate::WsService)), where the request carries it
    /// as an extension (axum's `ConnectInfo<SocketAddr>`, or a `SocketAddr`).
    pub fn peer_addr(&self) -> Option<SocketAddr> {
        self.peer_addr
    }

    /// The request's extensions: what tower middleware in front of the resource put there
    /// (an authentication layer's user, say).
    ///
    /// ```
    /// # use ws_server::Request;
    /// #[derive(Clone)]
    /// struct User(String);
    ///
    /// fn user(request: &Request) -> Option<&str> {
    ///     request.extensions().get::<User>().map(|user| user.0.as_str())
    /// }
    /// # let _ = user;
    /// ```
    pub fn extensions(&self) -> &http::Extensions {
        &self.extensions
    }
}

/// Copies the request target and the header values into one allocation of their own.
/// hyper's values are slices of its read buffer, which would otherwise stay alive (8 KiB
/// or more) for as long as the connection does.
fn detach(uri: &Uri, headers: &HeaderMap) -> (Uri, HeaderMap) {
    // The usual origin-form target (`/path?query`); an absolute-form one keeps its own.
    let target = match (uri.scheme(), uri.path_and_query()) {
        (None, Some(target)) => target.as_str(),
        _ => "",
    };
    let size = target.len() + headers.values().map(|value| value.len()).sum::<usize>();
    let mut joined = Vec::with_capacity(size);
    joined.extend_from_slice(target.as_bytes());
    for value in headers.values() {
        joined.extend_from_slice(value.as_bytes());
    }
    let joined = Bytes::from(joined);
    let uri = match target {
        "" => uri.clone(),
        _ => Uri::from_maybe_shared(joined.slice(..target.len())).unwrap_or_else(|_| uri.clone()),
    };
    let mut copy = HeaderMap::with_capacity(headers.len());
    let mut start = target.len();
    for (name, value) in headers {
        let end = start + value.len();
        let mut detached = HeaderValue::from_maybe_shared(joined.slice(start..end))
            .unwrap_or_else(|_| value.clone());
        detached.set_sensitive(value.is_sensitive());
        copy.append(name.clone(), detached);
        start = end;
    }
    (uri, copy)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(target: &str) -> Request {
        let (parts, ()) = http::Request::get(target)
            .body(())
            .expect("request")
            .into_parts();
        let server = ServerHandle::new(std::sync::Arc::new(crate::hub::Hub::new()));
        Request::new(parts, Some(([127, 0, 0, 1], 4000).into()), server)
    }

    #[test]
    fn query_parameters_are_decoded() {
        let request = request("/chat?name=J%C3%BCrgen+M&room=1&room=2&flag");
        assert_eq!(request.path(), "/chat");
        assert_eq!(request.query("name").as_deref(), Some("Jürgen M"));
        assert_eq!(request.query("room").as_deref(), Some("1"));
        assert_eq!(request.query("flag").as_deref(), Some(""));
        assert_eq!(request.query("missing"), None);
        assert_eq!(request.query_pairs().count(), 4);
    }

    #[test]
    fn detached_headers_and_target_read_the_same() {
        let mut headers = HeaderMap::new();
        headers.insert("host", HeaderValue::from_static("example.com"));
        headers.append("x-token", HeaderValue::from_static("a"));
        headers.append("x-token", HeaderValue::from_static("b"));
        let mut secret = HeaderValue::from_static("Bearer t");
        secret.set_sensitive(true);
        headers.insert("authorization", secret);
        let uri: Uri = "/chat?name=J%C3%BCrgen".parse().unwrap();
        let (copy_uri, copy) = detach(&uri, &headers);
        assert_eq!(copy_uri, uri);
        assert_eq!(copy, headers);
        assert!(copy["authorization"].is_sensitive());
        let absolute: Uri = "http://example.com/chat?room=1".parse().unwrap();
        assert_eq!(detach(&absolute, &headers).0, absolute);
        let tokens: Vec<_> = copy.get_all("x-token").iter().collect();
        assert_eq!(tokens, ["a", "b"]);
    }
}
