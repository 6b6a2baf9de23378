//! The echo service: every text or binary message on `/echo` comes back unchanged.
//!
//! ```text
//! cargo run --release --example echo [-- --addr 127.0.0.1:9001] [--tls-cert cert.pem --tls-key key.pem]
//! ```
//!
//! With `--tls-cert` and `--tls-key`, it serves `wss://`, over HTTP/1.1 or on the streams
//! of an HTTP/2 connection, whichever the client opens.

#[path = "../common/mod.rs"]
mod common;
mod resource;

use ws_server::serve;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    common::init_logging();
    let tls = common::tls()?;
    serve!(common::addr())
        .configure(|builder| match tls {
            Some(tls) => builder.tls(tls),
            None => builder,
        })
        .await
}
