//! The upgrade request, as `accept` and every `Connection` see it.

use std::{borrow::Cow, net::SocketAddr};

use http::{HeaderMap, Uri};

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
    headers: HeaderMap,
    peer_addr: SocketAddr,
    server: ServerHandle,
    protocol: Option<&'static str>,
}

impl Request {
    pub(crate) fn new(
        parts: http::request::Parts,
        peer_addr: SocketAddr,
        server: ServerHandle,
    ) -> Request {
        Request {
            uri: parts.uri,
            headers: parts.headers,
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

    /// The request headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// A header's value if it is present and visible ASCII.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }

    /// The address of the TCP peer.
    pub fn peer_addr(&self) -> SocketAddr {
        self.peer_addr
    }
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
        Request::new(parts, ([127, 0, 0, 1], 4000).into(), server)
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
}
