//! The origin check: may a page from `Origin` open a connection here?

use http::{HeaderMap, header};

use crate::Origins;

/// The host a request was sent to: its `Host` over HTTP/1.1, its `:authority` over HTTP/2
/// (where a `Host`, if a client adds one, must agree with it).
pub(crate) fn host_of(request: &http::request::Parts) -> Option<&str> {
    match request.uri.authority() {
        Some(authority) => Some(authority.as_str()),
        None => request
            .headers
            .get(header::HOST)
            .and_then(|host| host.to_str().ok()),
    }
}

/// Whether the request's `Origin` passes `policy`, for a request sent to `host`. A request
/// without `Origin` passes (browsers always send it on WebSocket requests); one with an
/// unreadable `Origin`, or `null` (sandboxed pages, files), passes only [`Origins::Any`].
pub(crate) fn allowed(policy: Origins, headers: &HeaderMap, host: Option<&str>) -> bool {
    let mut values = headers.get_all(header::ORIGIN).iter();
    let Some(value) = values.next() else {
        return true;
    };
    if policy == Origins::Any {
        return true;
    }
    if values.next().is_some() {
        return false;
    }
    let Some(origin) = value.to_str().ok().and_then(Origin::parse) else {
        return false;
    };
    match policy {
        Origins::Any => true,
        Origins::SameHost => host.is_some_and(|host| origin.is_host(host)),
        Origins::Only(list) => list
            .iter()
            .filter_map(|pattern| Origin::parse(pattern))
            .any(|pattern| pattern.matches(&origin)),
    }
}

/// `scheme://host[:port]`, the port filled in from the scheme when left out.
#[derive(Debug, PartialEq, Eq)]
struct Origin<'a> {
    scheme: &'a str,
    host: &'a str,
    port: Option<&'a str>,
}

impl<'a> Origin<'a> {
    fn parse(text: &'a str) -> Option<Origin<'a>> {
        let (scheme, authority) = text.split_once("://")?;
        if authority.is_empty() || authority.contains(['/', '?', '#', '@']) {
            return None;
        }
        let (host, port) = split_port(authority);
        let port = port.or(match scheme.to_ascii_lowercase().as_str() {
            "http" | "ws" => Some("80"),
            "https" | "wss" => Some("443"),
            _ => None,
        });
        Some(Origin { scheme, host, port })
    }

    /// Whether this origin is the server's own `Host`.
    fn is_host(&self, host: &str) -> bool {
        let (name, port) = split_port(host);
        // A `Host` without a port names the default port of the page's scheme.
        name.eq_ignore_ascii_case(self.host) && (port.is_none() || port == self.port)
    }

    /// Whether `origin` matches this allow-list pattern.
    fn matches(&self, origin: &Origin<'_>) -> bool {
        let host = match self.host.strip_prefix("*.") {
            Some(domain) => origin
                .host
                .len()
                .checked_sub(domain.len() + 1)
                .and_then(|dot| origin.host.get(dot..))
                .is_some_and(|tail| {
                    tail.as_bytes()[0] == b'.' && tail[1..].eq_ignore_ascii_case(domain)
                }),
            None => self.host.eq_ignore_ascii_case(origin.host),
        };
        host && self.scheme.eq_ignore_ascii_case(origin.scheme) && self.port == origin.port
    }
}

/// `host[:port]`, with IPv6 literals in brackets.
fn split_port(authority: &str) -> (&str, Option<&str>) {
    let port_at = match authority.rfind(':') {
        Some(colon) if !authority[colon..].contains(']') => colon,
        _ => return (authority, None),
    };
    (&authority[..port_at], Some(&authority[port_at + 1..]))
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    fn headers(origin: Option<&str>, host: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_str(host).expect("host"));
        if let Some(origin) = origin {
            headers.insert(
                header::ORIGIN,
                HeaderValue::from_str(origin).expect("origin"),
            );
        }
        headers
    }

    #[test]
    fn same_host_allows_the_servers_own_pages_and_non_browsers() {
        let allow = |origin, host| allowed(Origins::SameHost, &headers(origin, host), Some(host));
        assert!(allow(None, "example.com"));
        assert!(allow(Some("https://example.com"), "example.com"));
        assert!(allow(Some("http://EXAMPLE.com:8080"), "example.com:8080"));
        assert!(allow(Some("http://example.com"), "example.com:80"));
        assert!(allow(Some("http://[::1]:9001"), "[::1]:9001"));
        assert!(!allow(Some("https://evil.com"), "example.com"));
        assert!(!allow(Some("http://example.com:8081"), "example.com:8080"));
        assert!(!allow(Some("https://example.com"), "example.com:80"));
        assert!(!allow(Some("null"), "example.com"));
        assert!(!allow(Some("https://example.com.evil.com"), "example.com"));
    }

    #[test]
    fn allow_lists_match_scheme_host_and_port_with_wildcard_subdomains() {
        let list = Origins::Only(&["https://app.example.com", "http://*.example.org:8080"]);
        let host = Some("api.example.com");
        let allow = |origin| allowed(list, &headers(Some(origin), "api.example.com"), host);
        assert!(allow("https://app.example.com"));
        assert!(allow("https://APP.example.com:443"));
        assert!(allow("http://a.b.example.org:8080"));
        assert!(!allow("http://app.example.com"));
        assert!(!allow("http://example.org:8080"));
        assert!(!allow("http://badexample.org:8080"));
        assert!(!allow("http://a.example.org"));
        assert!(!allow("https://api.example.com"));
    }

    #[test]
    fn any_allows_everything_and_two_origins_are_refused() {
        let host = Some("example.com");
        assert!(allowed(
            Origins::Any,
            &headers(Some("null"), "example.com"),
            host
        ));
        let mut twice = headers(Some("https://example.com"), "example.com");
        twice.append(
            header::ORIGIN,
            HeaderValue::from_static("https://example.com"),
        );
        assert!(!allowed(Origins::SameHost, &twice, host));
    }

    #[test]
    fn the_host_is_the_authority_over_http2_and_the_host_header_over_http11() {
        let http2 = http::Request::connect("https://example.com:8443/chat")
            .version(http::Version::HTTP_2)
            .body(())
            .expect("request")
            .into_parts()
            .0;
        assert_eq!(host_of(&http2), Some("example.com:8443"));
        let http11 = http::Request::get("/chat")
            .header("host", "example.org")
            .body(())
            .expect("request")
            .into_parts()
            .0;
        assert_eq!(host_of(&http11), Some("example.org"));
    }
}
