//! The task behind one connection: reads and decodes frames, runs the handler's callbacks
//! in order, answers pings, runs the close handshake and writes queued frames.

use std::{
    collections::VecDeque,
    future::{Future, pending},
    io,
    panic::AssertUnwindSafe,
    time::Duration,
};

use bytes::{Bytes, BytesMut};
use futures_util::FutureExt;
use tokio::{
    io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt},
    time::{Instant, sleep_until, timeout, timeout_at},
};
use tracing::{debug, error, info};

use super::{Connection, outbox::CloseStatus, writer::write_frames};
use crate::{
    CloseCode, Handler, Limits, Message,
    proto::{CloseFrame, Decoder, Event, OutFrame, ProtocolError},
};

/// Free space kept in the read buffer before each read.
const READ_CHUNK: usize = 8 * 1024;

/// What a connection task needs to know besides its handler.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Settings {
    pub(crate) limits: Limits,
    /// How long to wait for the peer's close frame once ours is sent.
    pub(crate) close_timeout: Duration,
}

/// Runs a connection from the completed handshake to `on_close`.
///
/// `read_buf` holds bytes the client sent right after its handshake, which the HTTP layer
/// had already read.
pub(crate) async fn run<H, S>(
    io: S,
    read_buf: Bytes,
    mut handler: H,
    conn: Connection,
    settings: Settings,
) where
    H: Handler,
    S: AsyncRead + AsyncWrite + Unpin + Send,
{
    info!(conn = %conn.id(), path = conn.path(), peer = %conn.peer_addr(), "connection opened");
    let mut driver = Driver {
        io,
        rbuf: BytesMut::from(&read_buf[..]),
        decoder: Decoder::new(settings.limits),
        pending: VecDeque::new(),
        conn: conn.clone(),
        close_timeout: settings.close_timeout,
        ending: None,
        close_deadline: None,
        done_reading: false,
    };
    conn.outbox().set_busy();
    if guarded(handler.on_open(&conn)).await.is_err() {
        driver.handler_panicked("on_open");
    }
    let (code, reason) = driver.drive(&mut handler).await;
    drop(driver);
    conn.outbox().shut();
    info!(conn = %conn.id(), %code, reason, "connection closed");
    if guarded(handler.on_close(&conn, code, &reason))
        .await
        .is_err()
    {
        error!(conn = %conn.id(), "handler panicked in on_close");
    }
}

/// A callback panicked.
struct Panicked;

/// Awaits a callback, turning a panic into an error: a bug in one handler fails its own
/// connection (with 1011) instead of silently killing the task behind it.
async fn guarded(callback: impl Future<Output = ()>) -> Result<(), Panicked> {
    AssertUnwindSafe(callback)
        .catch_unwind()
        .await
        .map_err(|_| Panicked)
}

struct Driver<S> {
    io: S,
    rbuf: BytesMut,
    decoder: Decoder,
    /// Frames taken from the outbox and being written.
    pending: VecDeque<OutFrame>,
    conn: Connection,
    close_timeout: Duration,
    /// How the connection ends: the first close sent or received.
    ending: Option<CloseStatus>,
    /// Once this side has sent a close: when to stop waiting for the reply.
    close_deadline: Option<Instant>,
    /// The peer's close arrived, or its stream can no longer be parsed.
    done_reading: bool,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Driver<S> {
    async fn drive<H: Handler>(&mut self, handler: &mut H) -> CloseStatus {
        loop {
            self.dispatch(handler).await;
            if let Err(error) = self.flush().await {
                debug!(conn = %self.conn.id(), %error, "write failed");
                return self.ended();
            }
            self.notice_close();
            if self.done_reading {
                let _ = timeout(self.close_timeout, self.io.shutdown()).await;
                return self.ended();
            }
            if self.rbuf.capacity() - self.rbuf.len() < READ_CHUNK / 2 {
                self.rbuf.reserve(READ_CHUNK);
            }
            tokio::select! {
                () = self.conn.outbox().queued() => {}
                read = self.io.read_buf(&mut self.rbuf) => match read {
                    Ok(0) => {
                        debug!(conn = %self.conn.id(), "peer closed the socket");
                        return self.ended();
                    }
                    Ok(_) => {}
                    Err(error) => {
                        debug!(conn = %self.conn.id(), %error, "read failed");
                        return self.ended();
                    }
                },
                () = sleep_until_some(self.close_deadline) => {
                    debug!(conn = %self.conn.id(), "no close frame from the peer in time");
                    return self.ended();
                }
            }
            self.conn.outbox().set_busy();
        }
    }

    /// Decodes what has been read and handles each event, awaiting every callback.
    async fn dispatch<H: Handler>(&mut self, handler: &mut H) {
        while !self.done_reading {
            self.notice_close();
            let event = match self.decoder.decode(&mut self.rbuf) {
                Ok(Some(event)) => event,
                Ok(None) => return,
                Err(error) => {
                    self.fail(&error);
                    continue;
                }
            };
            let outcome = match event {
                Event::Message(Message::Text(text)) => {
                    guarded(handler.on_text(&self.conn, text)).await
                }
                Event::Message(Message::Binary(data)) => {
                    guarded(handler.on_binary(&self.conn, data)).await
                }
                Event::Ping(payload) => {
                    // Refused only once closing, when no pong is owed any more.
                    let _ = self.conn.outbox().push(OutFrame::pong(payload));
                    Ok(())
                }
                Event::Pong(_) => Ok(()),
                Event::Close(frame) => {
                    self.on_peer_close(frame);
                    Ok(())
                }
            };
            if outcome.is_err() {
                self.handler_panicked("a message callback");
            }
        }
    }

    /// Fails the connection with 1011 after a callback panicked.
    fn handler_panicked(&mut self, callback: &str) {
        error!(conn = %self.conn.id(), callback, "handler panicked; closing the connection with 1011");
        self.conn.outbox().push_close(Some((
            CloseCode::INTERNAL_ERROR,
            "internal error".to_owned(),
        )));
        self.notice_close();
    }

    /// Fails the connection with the close code the error calls for.
    fn fail(&mut self, error: &ProtocolError) {
        if self.ending.is_some() {
            // Already closing, so the decoder was only skipping frames, and even their
            // headers make no sense: give up on the peer's close.
            debug!(conn = %self.conn.id(), %error, "unparseable data while closing");
            self.done_reading = true;
            return;
        }
        let code = error.close_code();
        info!(conn = %self.conn.id(), %code, %error, "failing the connection");
        self.conn
            .outbox()
            .push_close(Some((code, error.to_string())));
        if error.is_in_close_frame() {
            // That was the peer's close frame, bad as it was: no other is coming.
            self.done_reading = true;
        }
        self.notice_close();
    }

    /// Answers the peer's close, or completes the handshake this side started.
    fn on_peer_close(&mut self, frame: Option<CloseFrame>) {
        self.done_reading = true;
        if self.ending.is_some() {
            return;
        }
        let (code, reason) = match &frame {
            Some(frame) => (frame.code, frame.reason.to_string()),
            None => (CloseCode::NO_STATUS, String::new()),
        };
        debug!(conn = %self.conn.id(), %code, reason, "close frame received");
        self.ending = Some((code, reason));
        // Echo the code (without the reason), or an empty close for an empty one.
        self.conn
            .outbox()
            .push_close(frame.map(|frame| (frame.code, String::new())));
    }

    /// Once this side has queued a close (by the handler, another task or an error): stop
    /// delivering messages and start the timer for the peer's reply.
    fn notice_close(&mut self) {
        if self.ending.is_none() && self.conn.outbox().is_closing() {
            self.ending = self.conn.outbox().close_status();
            self.decoder.discard();
            self.close_deadline = Some(Instant::now() + self.close_timeout);
        }
    }

    async fn flush(&mut self) -> io::Result<()> {
        self.conn.outbox().take(&mut self.pending);
        if self.pending.is_empty() {
            return Ok(());
        }
        let write = write_frames(&mut self.io, &mut self.pending);
        match self.close_deadline {
            // A peer that stops reading must not hold a closing connection open.
            Some(deadline) => timeout_at(deadline, write)
                .await
                .unwrap_or_else(|_| Err(io::ErrorKind::TimedOut.into())),
            None => write.await,
        }
    }

    fn ended(&mut self) -> CloseStatus {
        self.ending
            .take()
            .unwrap_or((CloseCode::ABNORMAL, String::new()))
    }
}

async fn sleep_until_some(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => sleep_until(deadline).await,
        None => pending().await,
    }
}
