//! The echo resource: every text or binary message on `/echo` comes back unchanged
//! (compressed when the client negotiated permessage-deflate).

use ws_server::{Bytes, Connection, Handler, Text, ws_resource};

#[ws_resource("/echo")]
#[derive(Default)]
pub(crate) struct Echo;

impl Handler for Echo {
    async fn on_text(&mut self, conn: &Connection, text: Text) {
        let _ = conn.send_text(text).await;
    }

    async fn on_binary(&mut self, conn: &Connection, data: Bytes) {
        let _ = conn.send_binary(data).await;
    }
}
