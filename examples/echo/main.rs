//! The echo service: every text or binary message on `/echo` comes back unchanged.
//!
//! ```text
//! cargo run --release --example echo [-- --addr 127.0.0.1:9001]
//! ```

#[path = "../common/mod.rs"]
mod common;
mod resource;

use ws_server::serve;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    common::init_logging();
    serve!(common::addr()).await
}
