//! A connection's view of the other connections of its resource (cl-websocket's "same
//! resource" iteration).

use super::Connection;
use crate::{Message, backplane::Scope, registry::Delivery};

impl Connection {
    /// The other live connections of this connection's resource (a snapshot).
    ///
    /// ```
    /// use ws_server::{Connection, Handler, ws_resource};
    ///
    /// #[ws_resource("/lobby")]
    /// #[derive(Default)]
    /// struct Lobby;
    ///
    /// impl Handler for Lobby {
    ///     async fn on_open(&mut self, conn: &Connection) {
    ///         let here = conn.peers().len();
    ///         let _ = conn.send_text(format!("{here} others are here")).await;
    ///     }
    /// }
    /// ```
    pub fn peers(&self) -> Vec<Connection> {
        let mut peers = Vec::new();
        self.members().snapshot(Some(self.id()), &mut peers);
        peers
    }

    /// Sends `message` to every live connection of this resource, this one included,
    /// encoding it once.
    pub async fn broadcast(&self, message: impl Into<Message>) -> Delivery {
        self.broadcast_except(message.into(), None).await
    }

    /// Sends `message` to every other live connection of this resource, encoding it once.
    ///
    /// ```
    /// use ws_server::{Connection, Handler, Text, ws_resource};
    ///
    /// #[ws_resource("/relay")]
    /// #[derive(Default)]
    /// struct Relay;
    ///
    /// impl Handler for Relay {
    ///     async fn on_text(&mut self, conn: &Connection, text: Text) {
    ///         let _ = conn.broadcast_to_peers(text).await;
    ///     }
    /// }
    /// ```
    pub async fn broadcast_to_peers(&self, message: impl Into<Message>) -> Delivery {
        self.broadcast_except(message.into(), Some(self)).await
    }

    async fn broadcast_except(&self, message: Message, except: Option<&Connection>) -> Delivery {
        self.server()
            .hub()
            .fan_out(
                Scope::Path(self.members().path()),
                message,
                except.map(Connection::id),
            )
            .await
    }
}
