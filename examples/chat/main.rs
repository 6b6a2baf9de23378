//! A chat room for browsers: the page at `/`, the WebSocket at `/chat?name=NICK`.
//!
//! ```text
//! cargo run --release --example chat [-- --addr 127.0.0.1:9001] [--redis redis://127.0.0.1:6379] [--metrics 127.0.0.1:9090] [--restart-window 10] [--tls-cert cert.pem --tls-key key.pem] [--presence-ttl 15]
//! ```
//!
//! Open http://127.0.0.1:9001/ in two windows, pick two names, and talk. Ctrl-C or SIGTERM
//! closes every connection with 1001 and stops the server; with `--restart-window SECONDS`,
//! with 1012 spread over that many seconds, as a node of several restarting for a deploy
//! would (the page reconnects after a random back-off). With `--redis`, several chat
//! servers (on different ports) sharing one Redis form one room: the welcome lists everyone
//! on every node, names are unique across them, and a node that dies drops out of the list
//! within `--presence-ttl SECONDS` (default 15). With `--metrics`,
//! Prometheus reads the server's metrics at `http://HOST:PORT/metrics`. With `--tls-cert`
//! and `--tls-key`, the page is at `https://` and the chat at `wss://`; a browser that
//! loads the page over HTTP/2 opens the chat's WebSocket on a stream of that connection.

#[path = "../common/mod.rs"]
mod common;
mod room;

use std::{io, net::SocketAddr, time::Duration};

use metrics_exporter_prometheus::PrometheusBuilder;
use ws_server::{ShutdownMode, serve};

#[tokio::main]
async fn main() -> io::Result<()> {
    common::init_logging();
    if let Some(addr) = common::option("--metrics") {
        serve_metrics(&addr)?;
    }
    let redis = common::option("--redis");
    let tls = common::tls()?;
    let shutdown_mode = match common::option("--restart-window") {
        Some(seconds) => ShutdownMode::Restart {
            window: seconds_option("--restart-window", &seconds)?,
        },
        None => ShutdownMode::GoingAway,
    };
    let presence_ttl = match common::option("--presence-ttl") {
        Some(seconds) => Some(seconds_option("--presence-ttl", &seconds)?),
        None => None,
    };
    serve!(common::addr())
        .configure(|builder| {
            let builder = builder.fallback(room::page()).shutdown_mode(shutdown_mode);
            let builder = match tls {
                Some(tls) => builder.tls(tls),
                None => builder,
            };
            let builder = match presence_ttl {
                Some(ttl) => builder.presence_ttl(ttl),
                None => builder,
            };
            match redis {
                Some(url) => builder.redis_backplane(url),
                None => builder,
            }
        })
        .await
}

/// A duration given in (possibly fractional) seconds.
fn seconds_option(name: &str, value: &str) -> io::Result<Duration> {
    value
        .parse::<f64>()
        .ok()
        .and_then(|seconds| Duration::try_from_secs_f64(seconds).ok())
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{name} {value}: not a number of seconds"),
            )
        })
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
