//! A WebSocket server where an endpoint is a plain struct with one attribute.
//!
//! ```no_run
//! use ws_server::{Connection, Handler, Text, serve, ws_resource};
//!
//! #[ws_resource("/echo", max_payload = 65536, max_frames = 16)]
//! #[derive(Default)]
//! struct Echo;
//!
//! impl Handler for Echo {
//!     async fn on_text(&mut self, conn: &Connection, text: Text) {
//!         let _ = conn.send_text(text).await;
//!     }
//! }
//!
//! #[tokio::main]
//! async fn main() -> std::io::Result<()> {
//!     serve!("127.0.0.1:9001").await
//! }
//! ```
//!
//! # How it works
//!
//! - [`#[ws_resource]`](ws_resource) implements [`Resource`] for the struct (its path and
//!   limits) and registers it in a link-time table, so [`serve!`] finds every resource in
//!   the program, whichever module or crate defines it. [`Server::builder`] takes explicit
//!   routes instead.
//! - The server speaks HTTP/1.1 and HTTP/2 (hyper). A request to a registered path is
//!   checked as a WebSocket handshake, an HTTP/1.1 upgrade or an HTTP/2 extended CONNECT
//!   (RFC 8441; 400 if malformed, 426 for versions other than 13), passed to
//!   [`Handler::accept`], which builds the per-connection value or refuses with a status,
//!   and then answered with 101 (or 200 on an HTTP/2 stream). Other paths get 404.
//! - Each connection runs in one task that owns the handler value. Its callbacks run one
//!   at a time, in order. The protocol engine ([`proto`]) validates every frame; a
//!   violation closes that connection alone with the RFC's code (1002, 1007, 1009...).
//! - A [`Connection`] handle sends messages and closes from anywhere; its queue is bounded
//!   ([`Backpressure`]), and the task writes it while callbacks run.
//! - Live connections are in a sharded registry: [`ServerHandle`] (from
//!   [`Server::handle`], [`Serve::handle`] or [`Connection::server`]) iterates them,
//!   broadcasts (encoding once), publishes to topics, and shuts down gracefully.
//! - permessage-deflate ([`Compression`]) is negotiated with clients that offer it.
//! - A [`Heartbeat`] pings peers and closes those that stop answering.
//! - With the `redis` feature, several servers act as one
//!   (`Builder::redis_backplane`): broadcasts and publishes reach every node, every node
//!   lists and reaches every connection (`ClusterConnection`), names can be claimed
//!   cluster-wide, and topics can keep a history (`Builder::topic_history`) from which a
//!   reconnecting client gets what it missed (`Connection::subscribe_since`).
//!
//! # Limits
//!
//! | limit | default | breach |
//! | --- | --- | --- |
//! | `max_payload`: bytes in one frame | `max_message` and an eighth | 1009, before the payload is read |
//! | `max_frames`: frames in one message | 1024 | 1009 |
//! | `max_message`: bytes in one message (inflated, if compressed) | 4 MiB | 1009 |
//! | `max_queue`: bytes queued to send | 1 MiB | [`SlowConsumer`] policy (1008 by default) |
//! | `pong_timeout`, `idle_timeout` | 20 s, off | 1001 |
//!
//! Invalid UTF-8 in text closes with 1007 as soon as the offending byte arrives.
//!
//! # Logging
//!
//! Events go to [`tracing`]: connections opened and closed (with the code) and protocol
//! violations at `INFO`, refused handshakes at `INFO`, I/O details at `DEBUG`. A
//! connection's lines, its handler's included, are inside the span `conn` with its `id`,
//! `path` and `peer`.

//!
//! # Metrics
//!
//! The server counts through the [`metrics`](https://docs.rs/metrics) facade: nothing is
//! recorded, at next to no cost, until the program installs a recorder, such as
//! `metrics-exporter-prometheus`'s (the chat example's `--metrics`). Each series of a
//! resource carries the label `resource` with its path.
//!
//! | name | kind | more labels |
//! | --- | --- | --- |
//! | `ws_connections` | gauge: open now | |
//! | `ws_connections_opened_total` | counter | |
//! | `ws_connections_closed_total` | counter | `code`: the close code (1005 for a close frame without one, 1006 for no close handshake) |
//! | `ws_handshakes_rejected_total` | counter | `status`: the HTTP status, or the close code of [`Rejection::close`] |
//! | `ws_messages_received_total`, `ws_messages_sent_total` | counter | |
//! | `ws_bytes_received_total`, `ws_bytes_sent_total` | counter: bytes on the wire, frame headers included | |
//! | `ws_slow_consumers_total` | counter: messages that found the queue full | `policy`: `close`, `drop` or `wait` |
//! | `ws_backplane_published_total`, `ws_backplane_received_total`, `ws_backplane_dropped_total` | counter, no `resource` | |
//! | `ws_backplane_connected` | gauge, no `resource`: 1 while subscribed to Redis | |
//!
//! Messages sent count each message queued on a connection, so a broadcast to 100
//! connections counts 100. A connection adds its message and byte counts to the series
//! within a second of counting them (and when it ends), not one by one: the counters are
//! shared by every connection, and the worker threads would otherwise take turns owning
//! their cache lines on every message.

#![doc(test(attr(deny(warnings))))]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod backplane;
mod builder;
mod config;
mod error;
mod handler;
#[cfg(feature = "redis")]
mod history;
mod hub;
mod in_use;
mod lock;
mod message;
mod metrics;
mod outbox;
pub mod proto;
mod rejection;
mod routing;
mod serve;
mod server;
mod service;
mod state;
mod task;
#[cfg(feature = "tls")]
mod tls;
mod upgrade;

pub use backplane::BackplaneStats;
pub use builder::Builder;
pub use bytes::Bytes;
pub use config::{
    Backpressure, Compression, Heartbeat, Limits, NoCommonProtocol, Origins, ResourceConfig,
    ShutdownMode, SlowConsumer, Subprotocols,
};
pub use error::SendError;
pub use handler::{Handler, Resource};
#[cfg(feature = "redis")]
pub use history::{History, InvalidOffset, Offset, Recovery};
pub use http;
pub use hub::{ClusterConnection, ConnId, Connection, Delivery, NodeId, Request, ServerHandle};
pub use message::{Message, Text};
pub use proto::CloseCode;
pub use rejection::Rejection;
pub use serve::Serve;
pub use server::Server;
pub use service::WsService;
#[cfg(feature = "tls")]
pub use tls::TlsConfig;
/// The rustls crate this server uses, to build a [`TlsConfig::from_rustls`] configuration.
#[cfg(feature = "tls")]
pub use tokio_rustls::rustls;
/// Serves every `#[ws_resource]` of the program on an address.
///
/// `serve!(addr)` returns a [`Serve`]: awaiting it binds
/// `Server::builder().registered_routes()` to `addr` and runs it until Ctrl-C or SIGTERM,
/// then shuts down gracefully (close 1001 to everyone, unless
/// [`Builder::shutdown_mode`] says otherwise). Before awaiting, [`Serve::state`] adds
/// server-wide state, [`Serve::handle`] gives a [`ServerHandle`], and
/// [`Serve::with_graceful_shutdown`] replaces the signals. The address is anything
/// [`tokio::net::ToSocketAddrs`] takes; a string literal is checked at compile time.
///
/// ```no_run
/// #[tokio::main]
/// async fn main() -> std::io::Result<()> {
///     ws_server::serve!("127.0.0.1:9001").await
/// }
/// ```
pub use ws_macros::serve;
/// Makes a struct a WebSocket resource served at a path.
///
/// ```
/// use ws_server::{Handler, ws_resource};
///
/// #[ws_resource("/chat", max_payload = 65536, max_frames = 16, max_message = 1048576)]
/// #[derive(Default)]
/// struct Chat;
///
/// impl Handler for Chat {}
/// ```
///
/// The path must start with `/`. Options, each optional and given at most once; what is
/// left out comes from the server-wide settings of the [`Builder`]:
///
/// | option | value | see |
/// | --- | --- | --- |
/// | `max_payload` | positive integer (bytes) | [`Limits::with_max_payload`] |
/// | `max_frames` | positive integer | [`Limits::with_max_frames`] |
/// | `max_message` | positive integer (bytes) | [`Limits::with_max_message`] |
/// | `max_queue` | positive integer (bytes) | [`Backpressure::with_max_queue`] |
/// | `slow_consumer` | `"close"`, `"drop"` or `"wait"` | [`SlowConsumer`] |
/// | `ping_interval` | duration like `"250ms"`, `"30s"`, `"5m"`, `"1h"`, or `"off"` | [`Heartbeat::with_ping_interval`] |
/// | `pong_timeout` | duration | [`Heartbeat::with_pong_timeout`] |
/// | `idle_timeout` | duration, or `"off"` | [`Heartbeat::with_idle_timeout`] |
/// | `compression` | `"on"`, `"off"` or `"client-takeover"` | [`Compression`] |
/// | `compress_threshold` | integer (bytes) | [`Compression::with_threshold`] |
/// | `window_bits` | 9 to 15 | [`Compression::with_window_bits`] |
/// | `origins` | `"same-host"`, `"any"` or a list like `["https://app.example.com"]` | [`Origins`] |
/// | `protocols` | a list like `["chat.v2", "chat.v1"]`, preferred first | [`Subprotocols`] |
/// | `allow_no_protocol` | `true` or `false` | [`Subprotocols::with_allow_none`] |
/// | `max_connections` | positive integer (over it: 503) | [`Builder::max_connections`] |
///
/// ```
/// use ws_server::{Handler, ws_resource};
///
/// #[ws_resource("/ticker", max_queue = 262144, slow_consumer = "drop", ping_interval = "15s")]
/// #[derive(Default)]
/// struct Ticker;
///
/// impl Handler for Ticker {}
///
/// #[ws_resource(
///     "/game",
///     origins = ["https://play.example.com", "https://*.example.com"],
///     protocols = ["game.v2", "game.v1"],
///     max_connections = 10000
/// )]
/// #[derive(Default)]
/// struct Game;
///
/// impl Handler for Game {}
/// ```
///
/// The struct must implement [`Handler`]; unless it is `Default`, it must implement
/// [`Handler::accept`]. Generic structs cannot be resources.
pub use ws_macros::ws_resource;

#[doc(hidden)]
pub mod __private {
    //! Used by the code the macros generate; not a public API.

    pub use inventory;

    pub use crate::routing::Route;

    /// Start of autoref specialisation: `(&&Probe::<T>::new()).construct()` builds `T`
    /// through `Default` when it has one and returns `None` otherwise.
    #[derive(Debug)]
    pub struct Probe<T>(std::marker::PhantomData<T>);

    impl<T> Probe<T> {
        #[allow(clippy::new_without_default)]
        pub const fn new() -> Probe<T> {
            Probe(std::marker::PhantomData)
        }
    }

    pub trait ViaDefault<T> {
        fn construct(&self) -> Option<T>;
    }

    impl<T: Default> ViaDefault<T> for &Probe<T> {
        fn construct(&self) -> Option<T> {
            Some(T::default())
        }
    }

    pub trait WithoutDefault<T> {
        fn construct(&self) -> Option<T>;
    }

    impl<T> WithoutDefault<T> for Probe<T> {
        fn construct(&self) -> Option<T> {
            None
        }
    }

    /// What `serve!(addr)` expands to.
    pub fn serve<A: tokio::net::ToSocketAddrs + Send + 'static>(addr: A) -> crate::Serve<A> {
        crate::Serve::new(addr)
    }
}

/// The crate README's examples, compiled as doctests so that they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
