//! Echo and fan-out servers for the benchmarks: ws-server and its peers, each written the
//! way its documentation shows, on a single-threaded tokio runtime (the runner pins each
//! to one core), or with `WORKERS`, on a multi-threaded runtime of that many workers.
//!
//! ```text
//! bench-server <ws-server | tokio-tungstenite | fastwebsockets | tokio-websockets | raw-tcp | ws-floor | ws-server-again | ws-server-metrics> [WORKERS]
//! ```
//!
//! Every WebSocket server answers `/echo` (each message comes back), `/sub` (receives what
//! is published) and `/pub` (each message is sent to every subscriber); the `ws-floor`
//! anchor echoes on any path and does nothing else. The server prints `listening on ADDR`
//! once it accepts connections.

mod fastws;
mod hub;
mod raw_tcp;
mod stream_server;
mod tokio_ws;
mod tungstenite;
mod ws_floor;
mod ws_server;

use std::{io, io::Write, net::SocketAddr};

use metrics_exporter_prometheus::PrometheusBuilder;
use tokio::net::{TcpListener, TcpStream};
use ws_bench::kind::Kind;

fn main() -> io::Result<()> {
    let mut args = std::env::args().skip(1);
    let kind: Kind = args
        .next()
        .unwrap_or_default()
        .parse()
        .map_err(io::Error::other)?;
    let workers: Option<usize> = match args.next() {
        Some(workers) => Some(workers.parse().map_err(io::Error::other)?),
        None => None,
    };
    let runtime = match workers {
        Some(workers) => tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers)
            .enable_all()
            .build()?,
        None => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?,
    };
    runtime.block_on(async {
        match kind {
            // An older build plays ws-server-before by running as ws-server.
            Kind::WsServer | Kind::WsServerControl | Kind::WsServerBefore => ws_server::run().await,
            Kind::WsServerMetrics => {
                // As a deployment would: the exporter's own listener, scraped or not.
                PrometheusBuilder::new()
                    .with_http_listener(SocketAddr::from(([127, 0, 0, 1], 0)))
                    .install()
                    .map_err(io::Error::other)?;
                ws_server::run().await
            }
            Kind::Tungstenite => tungstenite::run(listen().await?).await,
            Kind::FastWebSockets => fastws::run(listen().await?).await,
            Kind::TokioWebSockets => tokio_ws::run(listen().await?).await,
            Kind::RawTcp => raw_tcp::run(listen().await?).await,
            Kind::WsFloor => ws_floor::run(listen().await?).await,
        }
    })
}

/// A listener on an ephemeral loopback port, announced on stdout.
async fn listen() -> io::Result<TcpListener> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    announce(listener.local_addr()?)?;
    Ok(listener)
}

/// Accepts connections for ever, each with Nagle off, served by its own task.
async fn accept_each<F, Fut>(listener: TcpListener, serve: F) -> io::Result<()>
where
    F: Fn(TcpStream) -> Fut,
    Fut: Future + Send + 'static,
    Fut::Output: Send,
{
    loop {
        let (stream, _) = listener.accept().await?;
        stream.set_nodelay(true)?;
        tokio::spawn(serve(stream));
    }
}

/// Tells the runner where the server listens.
fn announce(addr: SocketAddr) -> io::Result<()> {
    let mut stdout = io::stdout().lock();
    writeln!(stdout, "listening on {addr}")?;
    stdout.flush()
}
