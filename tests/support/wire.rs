//! Hand-made bytes: upgrade requests, masked client frames, HTTP exchanges.

use std::net::SocketAddr;

use tokio::{
    io::{AsyncRead, AsyncReadExt, AsyncWriteExt},
    net::{TcpSocket, TcpStream},
};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, tungstenite::protocol::Role};

use super::STEP;

/// A client frame with a fixed masking key, built here independently of the server's code.
pub(crate) fn masked(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
    let key = [0x12, 0x34, 0x56, 0x78];
    let mut out = vec![(u8::from(fin) << 7) | opcode];
    match payload.len() {
        n @ 0..=125 => out.push(0x80 | n as u8),
        n @ 126..=0xFFFF => {
            out.push(0x80 | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(0x80 | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(&key);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    out
}

/// Performs an upgrade by hand, sending `extra` in the same write as the request, and
/// returns the socket positioned after the 101 response.
pub(crate) async fn raw_upgrade(addr: SocketAddr, path: &str, extra: &[u8]) -> TcpStream {
    let stream = TcpStream::connect(addr).await.expect("connect");
    upgrade_on(stream, addr, path, "", extra).await.0
}

/// An upgrade by hand offering permessage-deflate as `offer`; returns the socket and the
/// response head.
pub(crate) async fn deflate_upgrade(
    addr: SocketAddr,
    path: &str,
    offer: &str,
) -> (TcpStream, String) {
    let stream = TcpStream::connect(addr).await.expect("connect");
    let header = format!("Sec-WebSocket-Extensions: {offer}\r\n");
    upgrade_on(stream, addr, path, &header, b"").await
}

/// A client that upgrades and then reads nothing: its socket's receive buffer is made
/// small, so the server's writes back up quickly.
pub(crate) async fn stalled_client(addr: SocketAddr, path: &str) -> TcpStream {
    let socket = TcpSocket::new_v4().expect("socket");
    socket.set_recv_buffer_size(4096).expect("SO_RCVBUF");
    let stream = socket.connect(addr).await.expect("connect");
    upgrade_on(stream, addr, path, "", b"").await.0
}

/// Reads one server frame (unmasked, as the server must send): FIN+opcode byte and payload.
pub(crate) async fn read_frame(stream: &mut (impl AsyncRead + Unpin)) -> (u8, Vec<u8>) {
    let read = async {
        let mut head = [0u8; 2];
        stream.read_exact(&mut head).await.expect("frame header");
        assert_eq!(head[1] & 0x80, 0, "server frames are not masked");
        let len = match head[1] & 0x7F {
            126 => u64::from(stream.read_u16().await.expect("length")),
            127 => stream.read_u64().await.expect("length"),
            n => u64::from(n),
        };
        let mut payload = vec![0u8; len as usize];
        stream.read_exact(&mut payload).await.expect("payload");
        (head[0], payload)
    };
    tokio::time::timeout(STEP, read)
        .await
        .expect("no frame in time")
}

/// Sends an upgrade request with extra `headers` (each ending in CRLF) from a socket
/// bound to `local` (any loopback address), and returns the socket and the response
/// head, whatever the status.
pub(crate) async fn try_upgrade(
    local: std::net::IpAddr,
    addr: SocketAddr,
    path: &str,
    headers: &str,
) -> (TcpStream, String) {
    let socket = TcpSocket::new_v4().expect("socket");
    socket.bind(SocketAddr::new(local, 0)).expect("bind");
    let stream = socket.connect(addr).await.expect("connect");
    send_upgrade(stream, addr, path, headers, b"").await
}

/// The status code of an HTTP response head.
pub(crate) fn status_of(head: &str) -> u16 {
    head.get(9..12)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status in {head:?}"))
}

async fn upgrade_on(
    stream: TcpStream,
    addr: SocketAddr,
    path: &str,
    headers: &str,
    extra: &[u8],
) -> (TcpStream, String) {
    let (stream, head) = send_upgrade(stream, addr, path, headers, extra).await;
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    assert!(head.contains("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="), "{head}");
    (stream, head)
}

async fn send_upgrade(
    mut stream: TcpStream,
    addr: SocketAddr,
    path: &str,
    headers: &str,
    extra: &[u8],
) -> (TcpStream, String) {
    let mut request = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{headers}\r\n"
    )
    .into_bytes();
    request.extend_from_slice(extra);
    stream.write_all(&request).await.expect("write");
    let head = read_head(&mut stream).await;
    (stream, head)
}

/// Reads the server's close frame with an independent client (tokio-tungstenite). The
/// reply is not awaited: after a breach found on a frame header the server is still
/// skipping that frame's payload.
pub(crate) async fn close_frame_of(stream: TcpStream) -> (u16, String) {
    let mut client =
        WebSocketStream::from_raw_socket(MaybeTlsStream::Plain(stream), Role::Client, None).await;
    super::read_close(&mut client).await
}

/// Sends a raw HTTP request and returns the response head.
pub(crate) async fn http_head(addr: SocketAddr, request: &str) -> String {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.write_all(request.as_bytes()).await.expect("write");
    read_head(&mut stream).await
}

async fn read_head(stream: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let read = async {
        while !head.ends_with(b"\r\n\r\n") {
            let mut byte = [0u8];
            if stream.read(&mut byte).await.expect("read") == 0 {
                break;
            }
            head.push(byte[0]);
        }
    };
    tokio::time::timeout(STEP, read)
        .await
        .expect("no response head in time");
    String::from_utf8_lossy(&head).into_owned()
}
