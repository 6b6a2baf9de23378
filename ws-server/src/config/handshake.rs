//! Who may open a connection: the origin policy and the subprotocols a resource speaks.

/// Which browser origins may open a connection (the `Origin` header, which browsers send
/// and scripts cannot forge). Requests without `Origin` (non-browser clients) are always
/// allowed: the policy guards against other sites' pages using a visitor's cookies
/// (cross-site WebSocket hijacking), not against clients that can send any header.
///
/// Refused requests get 403 Forbidden.
///
/// ```
/// use ws_server::{Origins, Server};
///
/// let builder = Server::builder()
///     .origins(Origins::Only(&["https://app.example.com", "https://*.example.org"]));
/// # let _ = builder;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Origins {
    /// Only pages served from the same host and port as the request's `Host` (the
    /// default, as gorilla/websocket and Phoenix do).
    #[default]
    SameHost,
    /// Any origin: for public APIs that authenticate otherwise.
    Any,
    /// Only these origins, written `scheme://host[:port]` and compared without regard to
    /// case; a host starting with `*.` matches its subdomains (not the domain itself).
    Only(&'static [&'static str]),
}

/// The subprotocols a resource speaks (`Sec-WebSocket-Protocol`), in its order of
/// preference.
///
/// The server picks the first of its own protocols that the client offers, whatever the
/// client's order. A client that offers protocols, none of them supported, is refused with
/// 400, unless [`allow_none`](Subprotocols::allow_none) lets it proceed without one. A
/// client that offers none proceeds without one. A resource with no protocols ignores
/// the header.
///
/// ```
/// use ws_server::Subprotocols;
///
/// const CHAT: Subprotocols = Subprotocols::new(&["chat.v2", "chat.v1"]);
/// assert_eq!(CHAT.select(["chat.v1", "chat.v2"]), Ok(Some("chat.v2")));
/// assert_eq!(CHAT.select(["chat.v1"]), Ok(Some("chat.v1")));
/// assert_eq!(CHAT.select([]), Ok(None));
/// assert!(CHAT.select(["mqtt"]).is_err());
/// assert_eq!(CHAT.with_allow_none(true).select(["mqtt"]), Ok(None));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Subprotocols {
    supported: &'static [&'static str],
    allow_none: bool,
}

/// A client offered only subprotocols the resource does not speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("none of the offered subprotocols is supported")]
pub struct NoCommonProtocol;

impl Subprotocols {
    /// No subprotocols: the header is ignored.
    pub const NONE: Subprotocols = Subprotocols {
        supported: &[],
        allow_none: false,
    };

    /// These protocols, most preferred first.
    pub const fn new(supported: &'static [&'static str]) -> Subprotocols {
        Subprotocols {
            supported,
            allow_none: false,
        }
    }

    /// Whether a client offering only unsupported protocols may proceed without one.
    pub const fn with_allow_none(mut self, allowed: bool) -> Subprotocols {
        self.allow_none = allowed;
        self
    }

    /// Whether a client offering only unsupported protocols may proceed without one.
    pub const fn allow_none(&self) -> bool {
        self.allow_none
    }

    /// The supported protocols, most preferred first.
    pub const fn supported(&self) -> &'static [&'static str] {
        self.supported
    }

    /// The protocol to answer with, given the client's offers (each a protocol name).
    ///
    /// # Errors
    /// [`NoCommonProtocol`] if the client offered protocols, none supported, and the
    /// resource does not allow proceeding without one.
    pub fn select<'a>(
        &self,
        offered: impl IntoIterator<Item = &'a str>,
    ) -> Result<Option<&'static str>, NoCommonProtocol> {
        if self.supported.is_empty() {
            return Ok(None);
        }
        let offered: Vec<&str> = offered.into_iter().collect();
        let chosen = self
            .supported
            .iter()
            .find(|supported| offered.iter().any(|offer| offer == *supported))
            .copied();
        match chosen {
            Some(protocol) => Ok(Some(protocol)),
            None if offered.is_empty() || self.allow_none => Ok(None),
            None => Err(NoCommonProtocol),
        }
    }
}

/// Who may open a connection to a resource: the origin policy, the subprotocols, and how
/// many connections may be open at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Handshake {
    pub(crate) origins: Origins,
    pub(crate) subprotocols: Subprotocols,
    pub(crate) max_connections: Option<usize>,
}

impl Handshake {
    pub(crate) const DEFAULT: Handshake = Handshake {
        origins: Origins::SameHost,
        subprotocols: Subprotocols::NONE,
        max_connections: None,
    };

    pub(crate) const fn with_origins(mut self, origins: Origins) -> Handshake {
        self.origins = origins;
        self
    }

    /// These protocols, keeping whether a client may proceed without one.
    pub(crate) const fn with_protocols(mut self, list: &'static [&'static str]) -> Handshake {
        let allow_none = self.subprotocols.allow_none();
        self.subprotocols = Subprotocols::new(list).with_allow_none(allow_none);
        self
    }

    pub(crate) const fn with_allow_no_protocol(mut self, allowed: bool) -> Handshake {
        self.subprotocols = self.subprotocols.with_allow_none(allowed);
        self
    }

    pub(crate) const fn with_max_connections(mut self, connections: usize) -> Handshake {
        self.max_connections = Some(connections);
        self
    }
}
