//! The chat resource and its page.

use ws_server::{
    Bytes, CloseCode, Connection, Handler, Rejection, Request, Resource, Text, ws_resource,
};

/// The longest nickname, in characters.
const MAX_NAME: usize = 32;

/// The close code of a refused name (an application code: 4000 to 4999).
pub(crate) const NAME_REFUSED: CloseCode = CloseCode::new(4001);

/// One participant: joins with `?name=`, and everything it says goes to everyone, on every
/// node of the cluster (with `--redis`): names are unique across them, and the welcome
/// lists everyone wherever they are.
#[ws_resource("/chat", max_payload = 4096, max_frames = 4, max_message = 4096)]
pub(crate) struct Chat {
    name: String,
    /// Whether the name was ours: a refused connection leaves without a word.
    joined: bool,
}

impl Handler for Chat {
    async fn accept(request: &Request) -> Result<Self, Rejection> {
        let name = request.query("name").unwrap_or_default().trim().to_owned();
        // Refused with a close the page can show: a browser sees no HTTP status.
        if name.is_empty() || name.chars().count() > MAX_NAME || name.contains(char::is_control) {
            return Err(Rejection::close(
                NAME_REFUSED,
                "pick a name of 1 to 32 characters",
            ));
        }
        // Taken on this node: refused before the handshake completes. Another node's
        // holder is found by the claim in `on_open`.
        let taken = request
            .server()
            .connections_at(Chat::PATH)
            .iter()
            .any(|conn| conn.query("name").is_some_and(|other| other.trim() == name));
        if taken {
            return Err(Rejection::close(NAME_REFUSED, "that name is taken"));
        }
        Ok(Chat {
            name,
            joined: false,
        })
    }

    async fn on_open(&mut self, conn: &Connection) {
        // One name, one participant, across every node: exactly one of two racing wins.
        match conn.claim(&format!("chat:{}", self.name)).await {
            Ok(true) => self.joined = true,
            Ok(false) => {
                let _ = conn.close(NAME_REFUSED, "that name is taken");
                return;
            }
            Err(error) => {
                tracing::warn!(%error, "names cannot be checked");
                let _ = conn.close(CloseCode::TRY_AGAIN_LATER, "try again later");
                return;
            }
        }
        let here: Vec<String> = match conn.cluster_peers().await {
            Ok(peers) => peers
                .iter()
                .filter_map(|peer| peer.query("name").map(|name| name.trim().to_owned()))
                .collect(),
            Err(error) => {
                tracing::warn!(%error, "the cluster cannot be listed: this node's alone");
                conn.peers()
                    .iter()
                    .filter_map(|peer| peer.query("name").map(|name| name.trim().to_owned()))
                    .collect()
            }
        };
        let welcome = match here.len() {
            0 => format!("Welcome, {}! Nobody else is here yet.", self.name),
            _ => format!("Welcome, {}! Here: {}.", self.name, here.join(", ")),
        };
        let _ = conn.send_text(welcome).await;
        let _ = conn
            .broadcast_peers(format!("{} has joined", self.name))
            .await;
    }

    async fn on_text(&mut self, conn: &Connection, text: Text) {
        let _ = conn
            .server()
            .broadcast_at(conn.path(), format!("{}: {text}", self.name))
            .await;
    }

    async fn on_binary(&mut self, conn: &Connection, _data: Bytes) {
        let _ = conn.close(CloseCode::UNSUPPORTED_DATA, "text only");
    }

    async fn on_close(&mut self, conn: &Connection, _code: CloseCode, _reason: &str) {
        if self.joined {
            // This connection has left the room already: its peers are the others.
            let _ = conn
                .broadcast_peers(format!("{} has left", self.name))
                .await;
        }
    }
}

const PAGE: &str = include_str!("page.html");

/// The page at `/`, as an axum app: the server's fallback for everything that is not a
/// WebSocket resource (404 elsewhere).
pub(crate) fn page() -> axum::Router {
    axum::Router::new().route(
        "/",
        axum::routing::get(|| async { axum::response::Html(PAGE) }),
    )
}
