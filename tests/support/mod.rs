//! Shared by the end-to-end tests: a server on 127.0.0.1 port 0, tokio-tungstenite as the
//! client, a raw-socket client for malformed input, and a recording resource.
#![allow(dead_code)]

pub(crate) mod counting;
pub(crate) mod deflate;
mod echo;
pub(crate) mod example;
pub(crate) mod h2;
mod recorder;
pub(crate) mod redis_server;
mod wire;

use std::{net::SocketAddr, time::Duration};

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::{
    MaybeTlsStream, WebSocketStream,
    tungstenite::{
        Message,
        protocol::frame::{
            Frame,
            coding::{Data, OpCode},
        },
    },
};
use ws_server::{Builder, ServerHandle};

#[allow(unused_imports)]
pub(crate) use recorder::{Recorder, events, record, unique_tag, wait_for};
#[allow(unused_imports)]
pub(crate) use wire::{
    close_frame_of, deflate_upgrade, http_head, masked, raw_upgrade, read_frame, stalled_client,
    status_of, try_upgrade,
};

/// How long any single step of a test may take.
pub(crate) const STEP: Duration = Duration::from_secs(5);

pub(crate) type Client = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Binds `builder` on a free loopback port and runs it in the background.
pub(crate) async fn start(builder: Builder) -> SocketAddr {
    start_with_handle(builder).await.0
}

/// Like [`start`], and returns the server's handle too.
pub(crate) async fn start_with_handle(builder: Builder) -> (SocketAddr, ServerHandle) {
    let (addr, handle, _running) = start_running(builder).await;
    (addr, handle)
}

/// Like [`start_with_handle`], and returns the server's task too, which ends when the
/// server has shut down.
pub(crate) async fn start_running(
    builder: Builder,
) -> (
    SocketAddr,
    ServerHandle,
    tokio::task::JoinHandle<std::io::Result<()>>,
) {
    let server = builder.bind("127.0.0.1:0").await.expect("bind");
    let addr = server.local_addr().expect("local addr");
    let handle = server.handle();
    (addr, handle, tokio::spawn(server.run()))
}

/// Waits until `done` holds, polling.
pub(crate) async fn eventually(what: &str, done: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + STEP;
    while !done() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "never happened: {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Opens a WebSocket to `path` (which may carry a query).
pub(crate) async fn connect(addr: SocketAddr, path: &str) -> Client {
    let url = format!("ws://{addr}{path}");
    let (client, response) = tokio::time::timeout(STEP, tokio_tungstenite::connect_async(url))
        .await
        .expect("handshake timed out")
        .expect("handshake failed");
    assert_eq!(response.status(), 101);
    client
}

/// The next data or close message, skipping pings and pongs, over any transport (TCP, an
/// HTTP/2 stream).
pub(crate) async fn next<S>(client: &mut WebSocketStream<S>) -> Message
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    loop {
        let message = tokio::time::timeout(STEP, client.next())
            .await
            .expect("no message in time")
            .expect("stream ended")
            .expect("read error");
        if !matches!(message, Message::Ping(_) | Message::Pong(_)) {
            return message;
        }
    }
}

/// Sends one message as several frames: `parts[0]` as a `kind` frame, the rest as
/// continuations, FIN on the last.
pub(crate) async fn send_fragments<P: AsRef<[u8]>>(client: &mut Client, kind: Data, parts: &[P]) {
    for (i, part) in parts.iter().enumerate() {
        let opcode = if i == 0 {
            OpCode::Data(kind)
        } else {
            OpCode::Data(Data::Continue)
        };
        let frame = Frame::message(
            Bytes::copy_from_slice(part.as_ref()),
            opcode,
            i + 1 == parts.len(),
        );
        client
            .send(Message::Frame(frame))
            .await
            .expect("send fragment");
    }
}

/// Sends a text message and returns the text echoed back.
pub(crate) async fn round_trip(client: &mut Client, text: &str) -> String {
    client.send(Message::text(text)).await.expect("send");
    match next(client).await {
        Message::Text(echo) => echo.to_string(),
        other => panic!("expected text, got {other:?}"),
    }
}

/// Reads until the server's close frame and returns its code and reason, then keeps
/// reading (which sends tungstenite's reply) until the server ends the connection.
pub(crate) async fn expect_close(client: &mut Client) -> (u16, String) {
    let status = read_close(client).await;
    let drain = async { while let Some(Ok(_)) = client.next().await {} };
    tokio::time::timeout(STEP, drain)
        .await
        .expect("the server ended the connection after the close handshake");
    status
}

/// Reads until the server's close frame; returns its code and reason.
pub(crate) async fn read_close(client: &mut Client) -> (u16, String) {
    loop {
        match next(client).await {
            Message::Close(Some(frame)) => {
                return (u16::from(frame.code), frame.reason.to_string());
            }
            Message::Close(None) => return (1005, String::new()),
            _ => continue,
        }
    }
}
