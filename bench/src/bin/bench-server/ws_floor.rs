//! The least a WebSocket echo can do: each frame is unmasked and answered in place in the
//! read buffer, with no allocation, no callback and no state beyond the buffer. It shows
//! what WebSocket framing itself costs over the raw TCP echo, and so how much of a
//! server's cost is its framework.
//!
//! An anchor, not a server: it answers only `ws-bench`'s handshake (whose key is fixed)
//! and trusts every frame to be a final, masked data frame.

use std::io;

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
};
use ws_bench::wire;

/// The read buffer's size: a 64 KiB frame and its header fit in one read.
const BUFFER: usize = 128 * 1024;

/// The answer to `ws-bench`'s handshake; the accept value is RFC 6455's example, for the
/// key the generator always sends.
const SWITCHING: &[u8] = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
    Connection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";

pub(crate) async fn run(listener: TcpListener) -> io::Result<()> {
    crate::accept_each(listener, |stream| async move {
        let _ = echo(stream).await;
    })
    .await
}

async fn echo(mut stream: TcpStream) -> io::Result<()> {
    let mut buf = vec![0u8; BUFFER];
    let mut len = skip_request_head(&mut stream, &mut buf).await?;
    stream.write_all(SWITCHING).await?;
    loop {
        let mut at = 0;
        while let Some(head) = wire::parse_head(&buf[at..len]) {
            let payload = at + head.head_len;
            let end = payload + head.payload_len;
            if end > len {
                break;
            }
            let mask: [u8; 4] = buf[payload - 4..payload].try_into().expect("4 bytes");
            wire::apply_mask(&mut buf[payload..end], mask);
            // The answer's head is shorter than the request's (no mask): it goes right
            // before the payload, over the bytes already read.
            let (answer, used) = wire::head(head.first, head.payload_len, false);
            let start = payload - used;
            buf[start..payload].copy_from_slice(&answer[..used]);
            stream.write_all(&buf[start..end]).await?;
            at = end;
        }
        buf.copy_within(at..len, 0);
        len -= at;
        if let Some(head) = wire::parse_head(&buf[..len])
            && head.head_len + head.payload_len > buf.len()
        {
            buf.resize(head.head_len + head.payload_len, 0);
        }
        match stream.read(&mut buf[len..]).await? {
            0 => return Ok(()),
            read => len += read,
        }
    }
}

/// Reads up to the end of the request head; returns how many bytes after it `buf` holds,
/// moved to its start.
async fn skip_request_head(stream: &mut TcpStream, buf: &mut [u8]) -> io::Result<usize> {
    let mut len = 0;
    loop {
        let read = stream.read(&mut buf[len..]).await?;
        if read == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        len += read;
        if let Some(end) = buf[..len].windows(4).position(|w| w == b"\r\n\r\n") {
            buf.copy_within(end + 4..len, 0);
            return Ok(len - end - 4);
        }
    }
}
