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
        while let Some((header_len, payload_len)) = frame_at(&buf[at..len]) {
            let payload = at + header_len;
            let end = payload + payload_len;
            if end > len {
                break;
            }
            let mask: [u8; 4] = buf[payload - 4..payload].try_into().expect("4 bytes");
            unmask(&mut buf[payload..end], mask);
            // The answer's header is shorter than the request's (no mask): it goes right
            // before the payload, over the bytes already read.
            let first_byte = buf[at];
            let start = write_header(&mut buf[..payload], first_byte, payload_len);
            stream.write_all(&buf[start..end]).await?;
            at = end;
        }
        buf.copy_within(at..len, 0);
        len -= at;
        if let Some((header_len, payload_len)) = frame_at(&buf[..len])
            && header_len + payload_len > buf.len()
        {
            buf.resize(header_len + payload_len, 0);
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

/// The lengths of the masked frame's header and payload at the start of `bytes`, once
/// the header has arrived.
fn frame_at(bytes: &[u8]) -> Option<(usize, usize)> {
    let short = usize::from(*bytes.get(1)? & 0x7f);
    let (extended, payload_len) = match short {
        126 => (
            2,
            usize::from(u16::from_be_bytes(bytes.get(2..4)?.try_into().ok()?)),
        ),
        127 => (
            8,
            usize::try_from(u64::from_be_bytes(bytes.get(2..10)?.try_into().ok()?)).ok()?,
        ),
        len => (0, len),
    };
    Some((2 + extended + 4, payload_len))
}

/// Unmasks `payload` in place, eight bytes at a time (which the compiler vectorizes).
fn unmask(payload: &mut [u8], mask: [u8; 4]) {
    let wide = u64::from_ne_bytes([
        mask[0], mask[1], mask[2], mask[3], mask[0], mask[1], mask[2], mask[3],
    ]);
    let mut words = payload.chunks_exact_mut(8);
    for word in &mut words {
        let unmasked = u64::from_ne_bytes((&*word).try_into().expect("8 bytes")) ^ wide;
        word.copy_from_slice(&unmasked.to_ne_bytes());
    }
    // A multiple of 8 bytes in, the mask starts over.
    for (i, byte) in words.into_remainder().iter_mut().enumerate() {
        *byte ^= mask[i % 4];
    }
}

/// Writes an unmasked header for `payload_len` bytes at the end of `before`; returns where
/// it starts.
fn write_header(before: &mut [u8], first_byte: u8, payload_len: usize) -> usize {
    let mut header = [first_byte, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    let header_len = if payload_len < 126 {
        header[1] = payload_len as u8;
        2
    } else if let Ok(len) = u16::try_from(payload_len) {
        header[1] = 126;
        header[2..4].copy_from_slice(&len.to_be_bytes());
        4
    } else {
        header[1] = 127;
        header[2..10].copy_from_slice(&(payload_len as u64).to_be_bytes());
        10
    };
    let start = before.len() - header_len;
    before[start..].copy_from_slice(&header[..header_len]);
    start
}
