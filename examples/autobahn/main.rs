//! An echo server for the Autobahn testsuite's fuzzing client, on `/`, with limits large
//! enough for its 16 MiB messages and 65,536-fragment messages (cases 9.*), and
//! permessage-deflate on every message, with the client's context kept between messages
//! (cases 12.* and 13.*).
//!
//! ```text
//! cargo run --release --example autobahn -- --addr 127.0.0.1:9002 [--axum | --over-http2]
//! ```
//!
//! With `--axum`, the resource is served inside an axum app through `WsService` (as the
//! router's fallback service) instead of by ws-server's own server: the same conformance
//! through the embedded path. With `--over-http2`, the server listens on a port of its own
//! and `--addr` is a bridge that carries each HTTP/1.1 client into a stream of one HTTP/2
//! connection to it (see `bridge.rs`): the same conformance over RFC 8441.

mod bridge;
#[path = "../common/mod.rs"]
mod common;

use ws_server::{Bytes, Connection, Handler, Text, serve, ws_resource};

#[ws_resource(
    "/",
    max_payload = 33554432,
    max_message = 33554432,
    max_frames = 1000000,
    compression = "client-takeover",
    compress_threshold = 0
)]
#[derive(Default)]
struct AutobahnEcho;

impl Handler for AutobahnEcho {
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
    if common::flag("--axum") {
        let ws = ws_server::Server::builder()
            .registered_routes()
            .into_service()?;
        let app = axum::Router::new().fallback_service(ws.clone());
        let listener = tokio::net::TcpListener::bind(common::addr()).await?;
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await?;
        ws.handle().shutdown().await;
        return Ok(());
    }
    if common::flag("--over-http2") {
        let server = ws_server::Server::builder()
            .registered_routes()
            .bind("127.0.0.1:0")
            .await?;
        let addr = server.local_addr()?;
        tokio::spawn(server.run());
        return bridge::run(&common::addr(), addr).await;
    }
    serve!(common::addr()).await
}
