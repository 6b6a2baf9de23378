//! The task behind one connection: reads and decodes frames, runs the handler's callbacks
//! in order, answers pings, sends heartbeats, runs the close handshake, and writes queued
//! frames all along, also while a callback runs.

use std::{
    collections::VecDeque,
    future::{Future, poll_fn},
    io,
    panic::{AssertUnwindSafe, catch_unwind},
    pin::{Pin, pin},
    task::{Context, Poll, Waker, ready},
    time::Duration,
};

use bytes::{Bytes, BytesMut};
use tokio::{
    io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt},
    time::{timeout, timeout_at},
};
use tracing::{debug, error, info};

use super::{
    Connection, direct,
    outbox::CloseStatus,
    read_sizing::{
        KEEP_READ_AT, READ_CHUNK, first_buffer_len, poll_read_into, with_first_read_buffer,
    },
    timers::{Expired, Timers},
    writer::Writer,
};
use crate::{
    Backpressure, CloseCode, Compression, Handler, Heartbeat, Limits, Message,
    hub::SHUTDOWN_REASON,
    proto::{CloseFrame, Decoder, DeflateParams, Event, MAX_HEADER_LEN, OutFrame, ProtocolError},
};

/// What a connection task needs to know besides its handler.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Settings {
    pub(crate) limits: Limits,
    /// How long to wait for the peer's close frame once ours is sent.
    pub(crate) close_timeout: Duration,
    pub(crate) backpressure: Backpressure,
    pub(crate) heartbeat: Heartbeat,
    pub(crate) compression: Compression,
}

/// Runs a connection from the completed handshake to `on_close`.
///
/// `read_buf` holds bytes the client sent right after its handshake, which the HTTP layer
/// had already read; it is copied out here, so that the HTTP layer's buffer is freed.
/// `keep` (such as the counts of open connections) is dropped once `on_close` has run.
///
/// Everything is set up before the future is made, so that the future holds each piece
/// once: it is most of what an idle connection costs.
pub(crate) fn run<H, S, K>(
    io: S,
    read_buf: Bytes,
    mut handler: H,
    conn: Connection,
    settings: Settings,
    deflate: Option<DeflateParams>,
    keep: K,
) -> impl Future<Output = ()> + Send
where
    H: Handler,
    S: AsyncRead + AsyncWrite + Unpin + Send,
    K: Send,
{
    info!(conn = %conn.id(), path = conn.path(), peer = %conn.peer_addr(), "connection opened");
    conn.server().hub().register(&conn);
    let rbuf = if read_buf.is_empty() {
        BytesMut::new()
    } else {
        BytesMut::from(&read_buf[..])
    };
    drop(read_buf);
    let mut driver = Driver {
        io,
        rbuf,
        decoder: Decoder::new(settings.limits).with_deflate(deflate),
        writer: Writer::default(),
        conn,
        close_timeout: settings.close_timeout,
        timers: Timers::new(settings.heartbeat),
        ending: None,
        done_reading: false,
        lingering: false,
        slow: false,
        registered: None,
        parked: true,
    };
    async move {
        let (code, reason) = driver.drive(&mut handler).await;
        let conn = driver.conn.clone();
        drop(driver);
        conn.outbox().shut();
        conn.members().remove(conn.id());
        conn.leave_topics();
        info!(conn = %conn.id(), %code, reason, "connection closed");
        let mut on_close = pin!(handler.on_close(&conn, code, &reason));
        if poll_fn(|cx| poll_guarded(on_close.as_mut(), cx))
            .await
            .is_err()
        {
            error!(conn = %conn.id(), "handler panicked in on_close");
        }
        drop(keep);
    }
}

/// Reads and drops what arrives until the peer ends its side of the socket.
async fn discard_until_end<S: AsyncRead + Unpin>(io: &mut S) {
    // On the heap: a buffer in the future would grow every connection's task.
    let mut sink = vec![0; 4096];
    while let Ok(1..) = io.read(&mut sink).await {}
}

/// A callback panicked.
struct Panicked;

/// Polls a callback, turning a panic into an error: a bug in one handler fails its own
/// connection (with 1011) instead of silently killing the task behind it. A callback that
/// panicked must not be polled again.
fn poll_guarded<F: Future<Output = ()> + ?Sized>(
    callback: Pin<&mut F>,
    cx: &mut Context<'_>,
) -> Poll<Result<(), Panicked>> {
    match catch_unwind(AssertUnwindSafe(|| callback.poll(cx))) {
        Ok(Poll::Pending) => Poll::Pending,
        Ok(Poll::Ready(())) => Poll::Ready(Ok(())),
        Err(_) => Poll::Ready(Err(Panicked)),
    }
}

/// A running callback, pinned where its caller keeps it: passed on by reference, it is
/// stored once in the connection's future, not once per layer.
type Callback<'a> = Pin<&'a mut (dyn Future<Output = ()> + Send + 'a)>;

/// The connection is over: stop now and run `on_close`.
struct Ended;

/// Something that needs the driver's attention.
enum Step {
    Read(io::Result<usize>),
    /// A message arrived whole in one read, with nothing buffered before it.
    Arrived(Message),
    WriteFailed(io::Error),
    /// A close or a slow consumer was flagged on the outbox.
    Outbox,
    /// Everything queued is written and reading is over.
    Drained,
    /// A slow consumer's queue drained: time for its close.
    SlowDrained,
    Timer,
    Aborted,
}

/// The fields a message touches come first, declared in order (`repr(C)`): with many
/// connections, each message finds its connection's state out of cache, and fewer cache
/// lines to fetch make it cheaper.
#[repr(C)]
struct Driver<S> {
    io: S,
    rbuf: BytesMut,
    writer: Writer,
    conn: Connection,
    /// The waker given to the outbox, to register again only if it changes.
    registered: Option<Waker>,
    /// How the connection ends: the first close sent or received.
    ending: Option<CloseStatus>,
    /// The peer's close arrived, or its stream can no longer be parsed.
    done_reading: bool,
    /// The stream can no longer be parsed: after the close, wait for the peer to end it.
    lingering: bool,
    /// The queue overflowed under the close policy and the grace period runs.
    slow: bool,
    /// The last step told the outbox that the task sleeps.
    parked: bool,
    timers: Timers,
    decoder: Decoder,
    close_timeout: Duration,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Driver<S> {
    async fn drive<H: Handler>(&mut self, handler: &mut H) -> CloseStatus {
        match self.run(handler).await {
            Ok(()) | Err(Ended) => self
                .ending
                .take()
                .unwrap_or((CloseCode::ABNORMAL, String::new())),
        }
    }

    async fn run<H: Handler>(&mut self, handler: &mut H) -> Result<(), Ended> {
        // The callbacks' handle: a clone, as the driver is borrowed mutably meanwhile.
        let conn = &self.conn.clone();
        if self.callback(pin!(handler.on_open(conn))).await?.is_err() {
            self.handler_panicked("on_open");
        }
        loop {
            if !self.rbuf.is_empty() || self.decoder.is_in_frame() {
                self.dispatch(handler, conn).await?;
            }
            let reading = !self.done_reading;
            let step = poll_fn(|cx| self.poll_step(cx, reading)).await;
            match step {
                Step::Read(Ok(read)) if read > 0 => {}
                Step::Arrived(message) => {
                    // A close queued meanwhile stops delivery, as in `dispatch`.
                    self.notice_close();
                    if self.ending.is_none() {
                        self.deliver(handler, conn, message).await?;
                    }
                }
                Step::Drained => {
                    let _ = timeout(self.close_timeout, self.io.shutdown()).await;
                    if self.lingering {
                        let until = self.timers.close_deadline();
                        let _ = timeout_at(until, discard_until_end(&mut self.io)).await;
                    }
                    return Err(Ended);
                }
                step => self.handle(step)?,
            }
        }
    }

    /// Decodes what has been read and handles each event, running callbacks in order.
    async fn dispatch<H: Handler>(
        &mut self,
        handler: &mut H,
        conn: &Connection,
    ) -> Result<(), Ended> {
        while !self.done_reading {
            self.notice_close();
            let event = match self.decoder.decode(&mut self.rbuf) {
                Ok(Some(event)) => event,
                Ok(None) => return Ok(()),
                Err(error) => {
                    self.fail(&error);
                    continue;
                }
            };
            match event {
                Event::Message(message) => self.deliver(handler, conn, message).await?,
                Event::Ping(payload) => {
                    // Refused only once closing, when no pong is owed any more.
                    conn.outbox().push_pong(payload);
                }
                Event::Pong(_) => self.timers.pong_received(),
                Event::Close(frame) => self.on_peer_close(frame),
            }
        }
        Ok(())
    }

    /// Runs the handler's callback for a message.
    async fn deliver<H: Handler>(
        &mut self,
        handler: &mut H,
        conn: &Connection,
        message: Message,
    ) -> Result<(), Ended> {
        if self.timers.tracks_idle() {
            self.timers.message_received();
        }
        let outcome = match message {
            Message::Text(text) => self.callback(pin!(handler.on_text(conn, text))).await?,
            Message::Binary(data) => self.callback(pin!(handler.on_binary(conn, data))).await?,
        };
        if outcome.is_err() {
            self.handler_panicked("a message callback");
        }
        Ok(())
    }

    /// Runs a callback while writing queued frames and keeping the timers; reading waits,
    /// so callbacks stay in order. If the connection has to end meanwhile (close handshake
    /// timed out, shutdown deadline, broken socket), the callback is dropped.
    fn callback<'a>(
        &'a mut self,
        mut callback: Callback<'a>,
    ) -> impl Future<Output = Result<Result<(), Panicked>, Ended>> + 'a {
        poll_fn(move |cx| {
            self.awaken(cx);
            // What the callback sends to this connection, with nothing queued before it, is
            // written straight from the thread's slot.
            let direct = direct::begin(self.conn.outbox(), self.writer.is_idle());
            let polled = poll_guarded(callback.as_mut(), cx);
            let written =
                direct.end(|first, rest, counted| self.write_first(first, rest, counted, cx));
            if let Some(Err(error)) = written
                && let Err(ended) = self.handle(Step::WriteFailed(error))
            {
                return Poll::Ready(Err(ended));
            }
            if let Poll::Ready(outcome) = polled {
                return Poll::Ready(Ok(outcome));
            }
            loop {
                match self.poll_step(cx, false) {
                    Poll::Pending => return Poll::Pending,
                    // Finishing the handshake waits for the callback.
                    Poll::Ready(Step::Drained) => return Poll::Pending,
                    Poll::Ready(step) => {
                        if let Err(ended) = self.handle(step) {
                            return Poll::Ready(Err(ended));
                        }
                    }
                }
            }
        })
    }

    /// Makes what progress it can: writes, checks the outbox's flags and the timers, and
    /// (if `reading`) reads; returns what the driver must look at.
    fn poll_step(&mut self, cx: &mut Context<'_>, reading: bool) -> Poll<Step> {
        self.awaken(cx);
        let outbox = self.conn.outbox();
        if outbox.is_aborted() {
            return Poll::Ready(Step::Aborted);
        }
        if (self.ending.is_none() && outbox.is_closing()) || (!self.slow && outbox.is_slow()) {
            return Poll::Ready(Step::Outbox);
        }
        loop {
            if let Some(step) = self.poll_writes(cx) {
                return Poll::Ready(step);
            }
            if self.timers.poll_due(cx).is_ready() {
                return Poll::Ready(Step::Timer);
            }
            // While the socket takes no more of what is owed to the peer, nothing more is
            // read (TCP pushes back on the peer): whatever it sends, a peer that does not
            // read cannot make the server queue without end.
            if !self.writer.is_idle() {
                return Poll::Pending;
            }
            if reading && let Poll::Ready(step) = self.poll_read(cx) {
                return Poll::Ready(step);
            }
            // Going to sleep: unless frames were queued meanwhile, a push wakes the task.
            if self.conn.outbox().park() {
                self.parked = true;
                return Poll::Pending;
            }
        }
    }

    /// Tells the outbox that the task runs (so that sends from its callbacks need not wake
    /// it) and how to wake it, which is needed again only if the waker changed.
    fn awaken(&mut self, cx: &Context<'_>) {
        if !self
            .registered
            .as_ref()
            .is_some_and(|waker| waker.will_wake(cx.waker()))
        {
            self.conn.outbox().register(cx.waker());
            self.registered = Some(cx.waker().clone());
        }
        if self.parked {
            self.conn.outbox().unpark();
            self.parked = false;
        }
    }

    /// Reads what the socket has. With nothing buffered, it reads into a buffer of the
    /// thread's and keeps only what arrived, so that an idle connection owns no read buffer;
    /// a message that arrived whole is taken from there in one step, without a copy if it
    /// is large.
    fn poll_read(&mut self, cx: &mut Context<'_>) -> Poll<Step> {
        if !self.rbuf.is_empty() {
            // The decoder makes room for the rest of a frame it has begun; a header still
            // needs room of its own.
            if self.rbuf.capacity() - self.rbuf.len() < MAX_HEADER_LEN {
                self.rbuf.reserve(READ_CHUNK);
            }
            return poll_read_into(&mut self.io, &mut self.rbuf, cx).map(Step::Read);
        }
        if self.rbuf.capacity() > 0 {
            // Consumed, and its memory not needed while the connection waits.
            self.rbuf = BytesMut::new();
        }
        with_first_read_buffer(|read| {
            if let Err(error) = ready!(poll_read_into(&mut self.io, read, cx)) {
                return Poll::Ready(Step::Read(Err(error)));
            }
            if read.len() >= KEEP_READ_AT
                && let Some(message) = self.decoder.take_whole(read)
            {
                return Poll::Ready(Step::Arrived(message));
            }
            let (arrived, used) = match self.decoder.decode_whole_from(read) {
                Some((message, used)) => (Some(message), used),
                None => (None, 0),
            };
            let rest = &read[used..];
            if !rest.is_empty() {
                self.rbuf = BytesMut::with_capacity(first_buffer_len(rest));
                self.rbuf.extend_from_slice(rest);
            }
            Poll::Ready(match arrived {
                Some(message) => Step::Arrived(message),
                None => Step::Read(Ok(read.len())),
            })
        })
    }

    /// Writes the frames a callback sent directly (see [`direct`]), while nothing else is
    /// waiting to be written; what the socket does not take now waits with the writer.
    #[inline]
    fn write_first(
        &mut self,
        first: OutFrame,
        rest: &mut VecDeque<OutFrame>,
        counted: bool,
        cx: &mut Context<'_>,
    ) -> io::Result<()> {
        let progress = self.writer.poll_write_first(first, rest, &mut self.io, cx);
        let outbox = self.conn.outbox();
        if counted {
            if progress.completed > 0 {
                outbox.written(progress.completed);
            }
        } else if !self.writer.is_idle() {
            // From now on the rest counts as queued, as if it had gone through the outbox.
            outbox.count(self.writer.held_bytes());
        }
        match progress.state {
            Poll::Ready(Err(error)) => Err(error),
            _ => Ok(()),
        }
    }

    /// Writes what is queued until everything is written or the socket is full.
    fn poll_writes(&mut self, cx: &mut Context<'_>) -> Option<Step> {
        let outbox = self.conn.outbox();
        loop {
            if !self.writer.is_idle() {
                let progress = self.writer.poll_write(&mut self.io, cx);
                if progress.completed > 0 {
                    outbox.written(progress.completed);
                }
                match progress.state {
                    Poll::Ready(Ok(())) => {}
                    Poll::Ready(Err(error)) => return Some(Step::WriteFailed(error)),
                    Poll::Pending => return None,
                }
            }
            if !outbox.take(self.writer.frames()) {
                if self.done_reading && self.ending.is_some() {
                    return Some(Step::Drained);
                }
                if self.slow && self.ending.is_none() {
                    return Some(Step::SlowDrained);
                }
                return None;
            }
        }
    }

    fn handle(&mut self, step: Step) -> Result<(), Ended> {
        let id = self.conn.id();
        match step {
            Step::Read(Ok(0)) => {
                debug!(conn = %id, "peer closed the socket");
                Err(Ended)
            }
            Step::Read(Ok(_)) => Ok(()),
            // Only a reading step takes messages, and `run` delivers them.
            Step::Arrived(_) => unreachable!("a message outside the read loop"),
            Step::Read(Err(error)) => {
                debug!(conn = %id, %error, "read failed");
                Err(Ended)
            }
            Step::WriteFailed(error) => {
                debug!(conn = %id, %error, "write failed");
                Err(Ended)
            }
            Step::Outbox => {
                self.notice_close();
                if !self.slow && self.conn.outbox().is_slow() {
                    self.slow = true;
                    if self.ending.is_none() {
                        let grace = self.conn.outbox().grace();
                        info!(conn = %id, queued = self.conn.queued_bytes(), ?grace, "slow consumer: its queue is full");
                        self.timers.start_grace(tokio::time::Instant::now() + grace);
                    }
                }
                Ok(())
            }
            Step::SlowDrained => {
                self.close_slow_consumer();
                Ok(())
            }
            Step::Drained => Err(Ended),
            Step::Timer => self.on_timer(),
            Step::Aborted => {
                debug!(conn = %id, "stopped by the server");
                if self.ending.is_none() {
                    self.ending = Some((CloseCode::GOING_AWAY, SHUTDOWN_REASON.to_owned()));
                }
                Err(Ended)
            }
        }
    }

    fn on_timer(&mut self) -> Result<(), Ended> {
        let id = self.conn.id();
        let (expired, ping_due) = self.timers.fire();
        if ping_due {
            self.conn.outbox().push_ping();
        }
        match expired {
            None => Ok(()),
            Some(Expired::CloseHandshake) => {
                debug!(conn = %id, "no close frame from the peer in time");
                Err(Ended)
            }
            Some(Expired::Grace) => {
                let dropped = self.conn.queued_bytes();
                self.writer.keep_partial();
                self.conn.outbox().drop_queued(self.writer.held_bytes());
                info!(conn = %id, dropped, "slow consumer: queue not drained in the grace period");
                self.close_slow_consumer();
                Ok(())
            }
            Some(Expired::Pong) => {
                info!(conn = %id, "no pong in time; closing with 1001");
                self.close_with(CloseCode::GOING_AWAY, "ping timeout");
                Ok(())
            }
            Some(Expired::Idle) => {
                info!(conn = %id, "idle too long; closing with 1001");
                self.close_with(CloseCode::GOING_AWAY, "idle timeout");
                Ok(())
            }
        }
    }

    fn close_slow_consumer(&mut self) {
        self.close_with(CloseCode::POLICY, "slow consumer");
    }

    fn close_with(&mut self, code: CloseCode, reason: &str) {
        self.conn
            .outbox()
            .push_close(Some((code, reason.to_owned())));
        self.notice_close();
    }

    /// Fails the connection with 1011 after a callback panicked.
    fn handler_panicked(&mut self, callback: &str) {
        error!(conn = %self.conn.id(), callback, "handler panicked; closing the connection with 1011");
        self.close_with(CloseCode::INTERNAL_ERROR, "internal error");
    }

    /// Fails the connection with the close code the error calls for.
    fn fail(&mut self, error: &ProtocolError) {
        if self.ending.is_some() {
            // Already closing, so the decoder was only skipping frames, and even their
            // headers make no sense: give up on the peer's close.
            debug!(conn = %self.conn.id(), %error, "unparseable data while closing");
            self.give_up_reading();
            return;
        }
        let code = error.close_code();
        info!(conn = %self.conn.id(), %code, %error, "failing the connection");
        self.close_with(code, &error.to_string());
        if error.is_in_close_frame() {
            // That was the peer's close frame, bad as it was: no other is coming.
            self.done_reading = true;
        } else if error.loses_framing() {
            // The peer's close could not be told from the payload it announced.
            self.give_up_reading();
        }
    }

    /// Stops parsing what the peer sends: once the close is written, the socket is shut
    /// for writing and what arrives is discarded until the peer closes its side (as it
    /// does on reading the close) or the close timeout passes.
    fn give_up_reading(&mut self) {
        self.done_reading = true;
        self.lingering = true;
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
        self.timers.closing(self.close_timeout);
    }

    /// Once this side has queued a close (by the handler, another task, the server or an
    /// error): stop delivering messages and start the timer for the peer's reply.
    fn notice_close(&mut self) {
        if self.ending.is_none() && self.conn.outbox().is_closing() {
            self.ending = self.conn.outbox().close_status();
            self.decoder.discard();
            self.timers.closing(self.close_timeout);
        }
    }
}
