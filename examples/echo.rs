//! The echo service: every text or binary message on `/echo` comes back unchanged.
//!
//! ```text
//! cargo run --release --example echo [-- --addr 127.0.0.1:9001]
//! ```

mod common;

use ws_server::{Bytes, Connection, Handler, Text, serve, ws_resource};

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

#[tokio::main]
async fn main() -> std::io::Result<()> {
    common::init_logging();
    serve!(common::addr()).await
}
