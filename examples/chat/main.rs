//! A chat room for browsers: the page at `/`, the WebSocket at `/chat?name=NICK`.
//!
//! ```text
//! cargo run --release --example chat [-- --addr 127.0.0.1:9001] [--redis redis://127.0.0.1:6379]
//! ```
//!
//! Open http://127.0.0.1:9001/ in two windows, pick two names, and talk. Ctrl-C closes
//! every connection with 1001 and stops the server. With `--redis`, several chat servers
//! (on different ports) sharing one Redis form one room.

#[path = "../common/mod.rs"]
mod common;
mod room;

use ws_server::serve;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    common::init_logging();
    let redis = common::option("--redis");
    serve!(common::addr())
        .configure(|builder| {
            let builder = builder.fallback(room::page());
            match redis {
                Some(url) => builder.redis_backplane(url),
                None => builder,
            }
        })
        .await
}
