//! A chat room for browsers: the page at `/`, the WebSocket at `/chat?name=NICK`.
//!
//! ```text
//! cargo run --release --example chat [-- --addr 127.0.0.1:9001] [--redis redis://127.0.0.1:6379] [--metrics 127.0.0.1:9090]
//! ```
//!
//! Open http://127.0.0.1:9001/ in two windows, pick two names, and talk. Ctrl-C closes
//! every connection with 1001 and stops the server. With `--redis`, several chat servers
//! (on different ports) sharing one Redis form one room. With `--metrics`, Prometheus
//! reads the server's metrics at `http://HOST:PORT/metrics`.

#[path = "../common/mod.rs"]
mod common;
mod room;

use std::{io, net::SocketAddr};

use metrics_exporter_prometheus::PrometheusBuilder;
use ws_server::serve;

#[tokio::main]
async fn main() -> io::Result<()> {
    common::init_logging();
    if let Some(addr) = common::option("--metrics") {
        serve_metrics(&addr)?;
    }
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

/// Installs the Prometheus recorder, which serves its text at `/metrics` on `addr`.
fn serve_metrics(addr: &str) -> io::Result<()> {
    let addr: SocketAddr = addr.parse().map_err(|error| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("--metrics {addr}: {error}"),
        )
    })?;
    PrometheusBuilder::new()
        .with_http_listener(addr)
        .install()
        .map_err(io::Error::other)?;
    tracing::info!(%addr, "metrics at /metrics");
    Ok(())
}
