//! The client side of the opening handshake, over a raw socket.

use std::{io, net::SocketAddr};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

/// The largest response head accepted.
const MAX_HEAD: usize = 8 * 1024;

/// Connects to `addr` and upgrades to WebSocket on `path` (or, for `raw`, only connects).
/// Returns the stream and any bytes that arrived after the response head.
pub async fn connect(addr: SocketAddr, path: &str, raw: bool) -> io::Result<(TcpStream, Vec<u8>)> {
    let mut stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    // Closed with a reset: thousands of sockets per run left in TIME_WAIT would crowd the
    // port range and the kernel's tables, and slow down the runs that follow.
    stream.set_zero_linger()?;
    if raw {
        return Ok((stream, Vec::new()));
    }
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await?;
    let mut head = Vec::with_capacity(512);
    let end = loop {
        if let Some(end) = head.windows(4).position(|w| w == b"\r\n\r\n") {
            break end + 4;
        }
        if head.len() > MAX_HEAD {
            return Err(io::Error::other("response head too long"));
        }
        let mut chunk = [0u8; 1024];
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        head.extend_from_slice(&chunk[..n]);
    };
    if !head.starts_with(b"HTTP/1.1 101") {
        let line = head.split(|&b| b == b'\r').next().unwrap_or_default();
        return Err(io::Error::other(format!(
            "upgrade refused: {}",
            String::from_utf8_lossy(line)
        )));
    }
    Ok((stream, head.split_off(end)))
}

/// Connections opened at once while setting up.
const CONNECT_AT_ONCE: usize = 64;

/// Opens many connections a few at a time (a burst of thousands overflows the listen
/// backlog), and tells when all of them have either opened or failed.
#[derive(Debug)]
pub struct Setup {
    at_once: tokio::sync::Semaphore,
    settled: std::cell::Cell<usize>,
    changed: tokio::sync::Notify,
}

impl Setup {
    /// No connection attempted yet.
    pub fn new() -> Setup {
        Setup {
            at_once: tokio::sync::Semaphore::new(CONNECT_AT_ONCE),
            settled: std::cell::Cell::new(0),
            changed: tokio::sync::Notify::new(),
        }
    }

    /// [`connect`], counted.
    pub async fn connect(
        &self,
        addr: SocketAddr,
        path: &str,
        raw: bool,
    ) -> io::Result<(TcpStream, Vec<u8>)> {
        let result = match self.at_once.acquire().await {
            Ok(_permit) => connect(addr, path, raw).await,
            Err(error) => Err(io::Error::other(error)),
        };
        self.settled.set(self.settled.get() + 1);
        self.changed.notify_one();
        result
    }

    /// Waits until `count` connections have been attempted.
    pub async fn wait_for(&self, count: usize) {
        while self.settled.get() < count {
            self.changed.notified().await;
        }
    }
}

impl Default for Setup {
    fn default() -> Setup {
        Setup::new()
    }
}
