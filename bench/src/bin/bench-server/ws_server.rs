//! ws-server, with its defaults, as a user writes it.

use std::io;

use ws_server::{Bytes, Connection, Handler, Server, Text, ws_resource};

#[ws_resource("/echo")]
#[derive(Default)]
struct Echo;

impl Handler for Echo {
    async fn on_text(&mut self, conn: &Connection, text: Text) {
        let _ = conn.send_text(text).await;
    }

    async fn on_binary(&mut self, conn: &Connection, data: Bytes) {
        let _ = conn.send_binary(data).await;
    }
}

const TOPIC: &str = "bench";

#[ws_resource("/sub")]
#[derive(Default)]
struct Subscriber;

impl Handler for Subscriber {
    async fn on_open(&mut self, conn: &Connection) {
        conn.subscribe(TOPIC);
    }
}

#[ws_resource("/pub")]
#[derive(Default)]
struct Publisher;

impl Handler for Publisher {
    async fn on_binary(&mut self, conn: &Connection, data: Bytes) {
        let _ = conn.server().publish(TOPIC, data).await;
    }
}

pub(crate) async fn run() -> io::Result<()> {
    let server = Server::builder()
        .registered_routes()
        .bind("127.0.0.1:0")
        .await?;
    super::announce(server.local_addr()?)?;
    server.run().await
}
