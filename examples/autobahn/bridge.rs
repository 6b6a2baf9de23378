//! `--over-http2`: the Autobahn testsuite's client speaks HTTP/1.1 only, so each of its
//! connections is carried into one stream of an HTTP/2 connection to the server, opened
//! with an extended CONNECT (RFC 8441). The bridge answers wstest's upgrade itself (with the
//! extensions the server agreed on that stream), then copies bytes both ways untouched:
//! every frame of every case crosses HTTP/2, and the server's verdicts are its own.

use std::{io, net::SocketAddr, sync::Arc};

use bytes::Bytes;
use http::{Method, Request, StatusCode, Version};
use http_body_util::Empty;
use hyper::{client::conn::http2::SendRequest, ext::Protocol};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt, copy_bidirectional},
    net::{TcpListener, TcpStream},
    sync::Mutex,
};
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tracing::{info, warn};

/// The HTTP/2 connection to the server that every bridged WebSocket is a stream of,
/// made again if it ends.
struct Upstream {
    server: SocketAddr,
    sender: Mutex<Option<SendRequest<Empty<Bytes>>>>,
}

impl Upstream {
    async fn sender(&self) -> io::Result<SendRequest<Empty<Bytes>>> {
        let mut sender = self.sender.lock().await;
        if let Some(live) = sender.as_ref().filter(|sender| !sender.is_closed()) {
            return Ok(live.clone());
        }
        let tcp = TcpStream::connect(self.server).await?;
        tcp.set_nodelay(true)?;
        let (new, connection) =
            hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tcp))
                .await
                .map_err(io::Error::other)?;
        tokio::spawn(connection);
        *sender = Some(new.clone());
        Ok(new)
    }
}

/// Listens on `listen` for HTTP/1.1 WebSocket clients and carries each into a stream to
/// `server`.
pub(crate) async fn run(listen: &str, server: SocketAddr) -> io::Result<()> {
    let listener = TcpListener::bind(listen).await?;
    info!(addr = %listener.local_addr()?, %server, "bridging HTTP/1.1 WebSockets into HTTP/2 streams");
    let upstream = Arc::new(Upstream {
        server,
        sender: Mutex::new(None),
    });
    loop {
        let (client, peer) = listener.accept().await?;
        let upstream = upstream.clone();
        tokio::spawn(async move {
            if let Err(error) = bridge(client, &upstream).await {
                warn!(%peer, %error, "bridge failed");
            }
        });
    }
}

/// The request head of an HTTP/1.1 upgrade: its target and the headers that matter.
struct Upgrade {
    target: String,
    key: String,
    /// `Sec-WebSocket-Extensions` and `Sec-WebSocket-Protocol`, passed on as they are.
    negotiated: Vec<(String, String)>,
}

fn parse(head: &str) -> io::Result<Upgrade> {
    let invalid = |what: &str| io::Error::new(io::ErrorKind::InvalidData, what.to_owned());
    let mut lines = head.split("\r\n");
    let target = lines
        .next()
        .and_then(|line| line.split(' ').nth(1))
        .ok_or_else(|| invalid("no request line"))?
        .to_owned();
    let mut key = None;
    let mut negotiated = Vec::new();
    for line in lines.filter(|line| !line.is_empty()) {
        let (name, value) = line.split_once(':').ok_or_else(|| invalid("bad header"))?;
        let (name, value) = (name.trim().to_ascii_lowercase(), value.trim().to_owned());
        match name.as_str() {
            "sec-websocket-key" => key = Some(value),
            "sec-websocket-extensions" | "sec-websocket-protocol" => {
                negotiated.push((name, value));
            }
            _ => {}
        }
    }
    let key = key.ok_or_else(|| invalid("no Sec-WebSocket-Key"))?;
    Ok(Upgrade {
        target,
        key,
        negotiated,
    })
}

async fn bridge(mut client: TcpStream, upstream: &Upstream) -> io::Result<()> {
    client.set_nodelay(true)?;
    // wstest sends nothing past its request head before the 101; keep it anyway.
    let mut buf = Vec::with_capacity(4096);
    let end = loop {
        if let Some(at) = buf.windows(4).position(|window| window == b"\r\n\r\n") {
            break at + 4;
        }
        if buf.len() > 64 * 1024 || client.read_buf(&mut buf).await? == 0 {
            return Ok(());
        }
    };
    let upgrade = parse(&String::from_utf8_lossy(&buf[..end]))?;
    let early = buf.split_off(end);

    let mut request = Request::builder()
        .method(Method::CONNECT)
        .version(Version::HTTP_2)
        .uri(format!("http://{}{}", upstream.server, upgrade.target))
        .header("sec-websocket-version", "13");
    for (name, value) in &upgrade.negotiated {
        request = request.header(name, value);
    }
    let mut request = request.body(Empty::new()).map_err(io::Error::other)?;
    request
        .extensions_mut()
        .insert(Protocol::from_static("websocket"));
    let mut sender = upstream.sender().await?;
    sender.ready().await.map_err(io::Error::other)?;
    let mut response = sender
        .send_request(request)
        .await
        .map_err(io::Error::other)?;
    if response.status() != StatusCode::OK {
        let status = response.status();
        client
            .write_all(format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\n\r\n").as_bytes())
            .await?;
        return Ok(());
    }
    let mut answer = format!(
        "HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\n\
         sec-websocket-accept: {}\r\n",
        derive_accept_key(upgrade.key.as_bytes())
    );
    for name in ["sec-websocket-extensions", "sec-websocket-protocol"] {
        if let Some(value) = response.headers().get(name).and_then(|v| v.to_str().ok()) {
            answer.push_str(&format!("{name}: {value}\r\n"));
        }
    }
    answer.push_str("\r\n");
    let stream = hyper::upgrade::on(&mut response)
        .await
        .map_err(io::Error::other)?;
    let mut stream = TokioIo::new(stream);
    client.write_all(answer.as_bytes()).await?;
    stream.write_all(&early).await?;
    // Either side's end of stream is passed on as the other's (FIN, END_STREAM).
    let _ = copy_bidirectional(&mut client, &mut stream).await;
    Ok(())
}
