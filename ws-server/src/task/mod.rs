//! The task behind one connection: reads and decodes frames, runs the handler's callbacks
//! in order, answers pings, sends heartbeats, runs the close handshake, and writes queued
//! frames all along, also while a callback runs.
//!
//! Where the connection is in its life is one [`Phase`], changed only by the methods under
//! "Transitions" below.

mod reader;
mod timers;
mod writer;

use std::{
    future::{Future, poll_fn},
    io,
    panic::{AssertUnwindSafe, catch_unwind},
    pin::{Pin, pin},
    sync::Arc,
    task::{Context, Poll, Wake, Waker},
    time::Duration,
};

use bytes::{Bytes, BytesMut};
use reader::poll_read;
use timers::{Expired, Timers};
use tokio::{
    io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt},
    time::{timeout, timeout_at},
};
use tracing::{Instrument, debug, error, field, info, info_span};
use writer::Writer;

use crate::{
    CloseCode, Connection, Handler, Heartbeat, Limits, Message,
    hub::SHUTDOWN_REASON,
    metrics::Tally,
    outbox::CloseStatus,
    proto::{CloseFrame, Decoder, DeflateParams, Event, ProtocolError},
};

/// What a connection task needs to know besides its handler.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Settings {
    pub(crate) limits: Limits,
    /// How long to wait for the peer's close frame once ours is sent.
    pub(crate) close_timeout: Duration,
    pub(crate) heartbeat: Heartbeat,
}

/// Runs a connection from the completed handshake to `on_close`, over any `io` that
/// carries its bytes. `early` holds bytes the client sent right behind its handshake, which
/// the HTTP layer had read already. `keep` (such as the counts of open connections) is
/// dropped once `on_close` has run.
pub(crate) fn run<H, S, K>(
    io: S,
    early: Bytes,
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
    // Every line this connection logs carries its id, path and peer (where known).
    let peer = conn.peer_addr().map(field::display);
    let span = info_span!("conn", id = %conn.id(), path = conn.path(), peer);
    let http = conn.request().version();
    span.in_scope(|| info!(?http, "connection opened"));
    conn.server().hub().register(&conn);
    conn.outbox().metrics().opened();
    let alarm = Waker::from(Arc::new(Alarm(conn.clone())));
    let mut task = Task {
        io,
        rbuf: BytesMut::from(&early[..]),
        decoder: Decoder::new(settings.limits).with_deflate(deflate),
        writer: Writer::default(),
        conn,
        close_timeout: settings.close_timeout,
        timers: Timers::new(settings.heartbeat, alarm),
        phase: Phase::Open,
        waker: None,
        tally: Tally {
            // Read by the HTTP layer, but sent by the peer all the same.
            bytes_received: early.len() as u64,
            ..Tally::default()
        },
    };
    async move {
        let (code, reason) = task.drive(&mut handler).await;
        task.add_tally();
        let conn = task.conn.clone();
        drop(task);
        conn.outbox().shut();
        conn.server().hub().unregister(&conn);
        conn.outbox().metrics().closed(code);
        info!(%code, reason, "connection closed");
        let mut on_close = pin!(handler.on_close(&conn, code, &reason));
        if poll_fn(|cx| poll_guarded(on_close.as_mut(), cx))
            .await
            .is_err()
        {
            error!("handler panicked in on_close");
        }
        drop(keep);
    }
    .instrument(span)
}

/// Where a connection is in its life.
///
/// ```text
/// Open ──(queue overflows, close policy)──> Slow
/// Open, Slow ──(a close is queued: handler, server, error, timeout)──> Closing
/// Open, Slow ──(the peer's close; we answer it)──> Draining
/// Closing ──(the peer's close, or its stream is lost)──> Draining
/// Draining ──(everything written)──> shut down, on_close
/// ```
///
/// Any phase ends at once when the socket fails or ends, the close handshake times out, or
/// the server aborts the connection.
#[derive(Debug)]
enum Phase {
    /// Messages flow both ways.
    Open,
    /// The queue overflowed under the close policy: nothing more is queued, and once what
    /// is queued has drained (or the grace period has passed) the connection closes with
    /// 1008.
    Slow,
    /// This side's close is queued: incoming data is skipped until the peer's close.
    Closing(CloseStatus),
    /// Reading is over: what is queued drains, then the socket is shut down. `linger`:
    /// the peer's stream could not be followed, so its close never came; what it sends is
    /// discarded until it ends its side.
    Draining { status: CloseStatus, linger: bool },
}

impl Phase {
    /// Messages are delivered to the handler.
    fn delivers(&self) -> bool {
        matches!(self, Phase::Open | Phase::Slow)
    }

    /// The socket is read (in `Closing` for the peer's close).
    fn reads(&self) -> bool {
        !matches!(self, Phase::Draining { .. })
    }
}

/// What a connection's timer wakes: the alarm bit in its outbox, which wakes the task.
struct Alarm(Connection);

impl Wake for Alarm {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.outbox().ring_alarm();
    }
}

/// A callback panicked.
struct Panicked;

/// A running callback, pinned where its caller keeps it.
type Callback<'a> = Pin<&'a mut (dyn Future<Output = ()> + Send + 'a)>;

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

/// The connection is over: stop now and run `on_close`.
enum Ended {
    /// Everything was written after the close handshake (or the peer's stream was lost):
    /// shut the socket down properly.
    Drained { linger: bool },
    /// The socket failed or ended, a deadline passed, or the server aborted.
    Broken,
}

/// Something other than reading that needs the task's attention.
enum Step {
    WriteFailed(io::Error),
    /// The outbox has news: a close queued, a consumer turned slow, or an abort.
    Outbox,
    /// Everything queued is written.
    Flushed,
    Timer,
}

/// What a message touches comes first, in order (`repr(C)`): with many connections, each
/// message finds its task out of cache, and fewer lines to fetch make it cheaper.
#[repr(C)]
struct Task<S> {
    io: S,
    rbuf: BytesMut,
    writer: Writer,
    conn: Connection,
    /// The waker given to the outbox, to register again only if it changes.
    waker: Option<Waker>,
    phase: Phase,
    /// Counted, not yet in the metrics.
    tally: Tally,
    timers: Timers,
    decoder: Decoder,
    close_timeout: Duration,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Task<S> {
    async fn drive<H: Handler>(&mut self, handler: &mut H) -> CloseStatus {
        let ended = self.run(handler).await;
        if let Ended::Drained { linger } = ended {
            let _ = timeout(self.close_timeout, self.io.shutdown()).await;
            if linger {
                let until = self.timers.close_deadline();
                let _ = timeout_at(until, discard_until_end(&mut self.io)).await;
            }
        }
        match std::mem::replace(&mut self.phase, Phase::Open) {
            Phase::Closing(status) | Phase::Draining { status, .. } => status,
            Phase::Open | Phase::Slow => (CloseCode::ABNORMAL, String::new()),
        }
    }

    async fn run<H: Handler>(&mut self, handler: &mut H) -> Ended {
        // The callbacks' handle: a clone, as the task is borrowed mutably meanwhile.
        let conn = &self.conn.clone();
        if let Err(ended) = self.callback(pin!(handler.on_open(conn))).await {
            return ended;
        }
        loop {
            if (!self.rbuf.is_empty() || self.decoder.is_in_frame())
                && let Err(ended) = self.dispatch(handler, conn).await
            {
                return ended;
            }
            let read = poll_fn(|cx| self.poll_read_or_step(cx)).await;
            let handled = match read {
                Ok(Ok(0)) => {
                    debug!("peer closed the socket");
                    Err(Ended::Broken)
                }
                Ok(Ok(read)) => {
                    self.tally.bytes_received += read as u64;
                    self.timers.counted();
                    Ok(())
                }
                Ok(Err(error)) => {
                    debug!(%error, "read failed");
                    Err(Ended::Broken)
                }
                Err(step) => self.handle(step),
            };
            if let Err(ended) = handled {
                return ended;
            }
        }
    }

    /// Writes, reads (if the phase does), and keeps the timers until something arrived or
    /// needs handling.
    fn poll_read_or_step(&mut self, cx: &mut Context<'_>) -> Poll<Result<io::Result<usize>, Step>> {
        self.awaken(cx);
        loop {
            if let Poll::Ready(step) = self.poll_background(cx) {
                return Poll::Ready(Err(step));
            }
            // While the socket takes no more of what is owed to the peer, nothing more is
            // read (TCP pushes back on the peer): whatever it sends, a peer that does not
            // read cannot make the server queue without end.
            if self.phase.reads()
                && self.writer.is_idle()
                && let Poll::Ready(read) = poll_read(&mut self.io, &mut self.rbuf, cx)
            {
                return Poll::Ready(Ok(read));
            }
            // About to sleep. Reads are cooperative (tokio's budget), so even a peer that
            // never stops sending leaves the task to come here now and then.
            if self.poll_timers().is_ready() {
                return Poll::Ready(Err(Step::Timer));
            }
            if self.sleeps() {
                return Poll::Pending;
            }
        }
    }

    /// Decodes what has been read and handles each event, running callbacks in order.
    async fn dispatch<H: Handler>(
        &mut self,
        handler: &mut H,
        conn: &Connection,
    ) -> Result<(), Ended> {
        while self.phase.reads() {
            if self.outbox_has_news() {
                self.notice_outbox();
            }
            let event = match self.decoder.decode(&mut self.rbuf) {
                Ok(Some(event)) => event,
                Ok(None) => return Ok(()),
                Err(error) => {
                    self.fail(&error);
                    continue;
                }
            };
            if let Event::Message(_) = event {
                self.tally.messages_received += 1;
                self.timers.counted();
            }
            match event {
                Event::Message(message) if self.phase.delivers() => {
                    self.timers.message_received();
                    match message {
                        Message::Text(text) => {
                            self.callback(pin!(handler.on_text(conn, text))).await?;
                        }
                        Message::Binary(data) => {
                            self.callback(pin!(handler.on_binary(conn, data))).await?;
                        }
                    }
                }
                // Skipped: a close is under way.
                Event::Message(_) => {}
                Event::Ping(payload) => {
                    // Refused only once closing, when no pong is owed any more.
                    conn.outbox().push_pong(payload);
                }
                Event::Pong(_) => self.timers.pong_received(),
                Event::Close(frame) => self.peer_closed(frame),
            }
        }
        Ok(())
    }

    /// Runs a callback while writing queued frames and keeping the timers; reading waits,
    /// so callbacks stay in order. If the connection has to end meanwhile (close handshake
    /// timed out, shutdown deadline, broken socket), the callback is dropped.
    async fn callback(&mut self, mut callback: Callback<'_>) -> Result<(), Ended> {
        let outcome = poll_fn(|cx| {
            self.awaken(cx);
            let polled = poll_guarded(callback.as_mut(), cx);
            // What the callback queued is written now, in the same poll.
            loop {
                let step = match self.poll_background(cx) {
                    Poll::Ready(step) => step,
                    Poll::Pending if polled.is_ready() => break,
                    Poll::Pending if self.poll_timers().is_ready() => Step::Timer,
                    Poll::Pending if self.sleeps() => break,
                    Poll::Pending => continue,
                };
                if let Err(ended) = self.handle(step) {
                    return Poll::Ready(Err(ended));
                }
            }
            polled.map(Ok)
        })
        .await?;
        if outcome.is_err() {
            error!("handler panicked; closing the connection with 1011");
            self.close_with(CloseCode::INTERNAL_ERROR, "internal error");
        }
        Ok(())
    }

    /// Makes what progress it can without reading: looks at the outbox's news and writes;
    /// returns what needs handling. The timers are for when the task is about to sleep; the
    /// outbox hears from the task ([`awaken`](Task::awaken)) once per poll.
    fn poll_background(&mut self, cx: &mut Context<'_>) -> Poll<Step> {
        if self.outbox_has_news() {
            return Poll::Ready(Step::Outbox);
        }
        match self.poll_writes(cx) {
            Some(step) => Poll::Ready(step),
            None => Poll::Pending,
        }
    }

    /// Whether the outbox says something this phase has not followed yet.
    fn outbox_has_news(&self) -> bool {
        let news = self.conn.outbox().news();
        news.aborted
            || (news.closing && matches!(self.phase, Phase::Open | Phase::Slow))
            || (news.slow && matches!(self.phase, Phase::Open))
    }

    /// The task may sleep now, unless frames were queued meanwhile: a socket that takes no
    /// more wakes it once it does, and a push wakes it otherwise.
    fn sleeps(&self) -> bool {
        !self.writer.is_idle() || self.conn.outbox().park()
    }

    /// Tells the outbox that the task runs (so that sends from its callbacks need not wake
    /// it) and how to wake it, which is needed again only if the waker changed. Once a poll:
    /// a park within the poll is undone by the same poll's next step or ends it.
    fn awaken(&mut self, cx: &Context<'_>) {
        if !self
            .waker
            .as_ref()
            .is_some_and(|waker| waker.will_wake(cx.waker()))
        {
            self.conn.outbox().register(cx.waker());
            self.waker = Some(cx.waker().clone());
        }
        self.conn.outbox().unpark();
    }

    /// Ready when a deadline has come.
    fn poll_timers(&mut self) -> Poll<()> {
        self.timers.poll_due(self.conn.outbox().take_alarm())
    }

    /// Writes what is queued until everything is written or the socket is full; `Flushed`
    /// once everything is written, if the phase waits for that.
    fn poll_writes(&mut self, cx: &mut Context<'_>) -> Option<Step> {
        let outbox = self.conn.outbox();
        loop {
            if !self.writer.is_idle() {
                let progress = self.writer.poll_write(&mut self.io, cx);
                if progress.completed > 0 {
                    outbox.written(progress.completed);
                    self.tally.bytes_sent += progress.completed as u64;
                    self.timers.counted();
                }
                match progress.state {
                    Poll::Ready(Ok(())) => {}
                    Poll::Ready(Err(error)) => return Some(Step::WriteFailed(error)),
                    Poll::Pending => return None,
                }
            }
            if !outbox.take(self.writer.frames()) {
                return matches!(self.phase, Phase::Slow | Phase::Draining { .. })
                    .then_some(Step::Flushed);
            }
        }
    }

    fn handle(&mut self, step: Step) -> Result<(), Ended> {
        match step {
            Step::WriteFailed(error) => {
                debug!(%error, "write failed");
                Err(Ended::Broken)
            }
            Step::Outbox if self.conn.outbox().is_aborted() => {
                debug!("stopped by the server");
                if matches!(self.phase, Phase::Open | Phase::Slow) {
                    self.phase = Phase::Closing((CloseCode::GOING_AWAY, SHUTDOWN_REASON.into()));
                }
                Err(Ended::Broken)
            }
            Step::Outbox => {
                self.notice_outbox();
                Ok(())
            }
            Step::Flushed => match &self.phase {
                Phase::Slow => {
                    self.close_with(CloseCode::POLICY, "slow consumer");
                    Ok(())
                }
                Phase::Draining { linger, .. } => Err(Ended::Drained { linger: *linger }),
                Phase::Open | Phase::Closing(_) => Ok(()),
            },
            Step::Timer => self.timer_fired(),
        }
    }

    /// Adds what this connection counted to the metrics.
    fn add_tally(&mut self) {
        let mut tally = std::mem::take(&mut self.tally);
        tally.messages_sent = self.conn.outbox().take_sent_count();
        self.conn.outbox().metrics().add(&tally);
    }

    fn timer_fired(&mut self) -> Result<(), Ended> {
        let due = self.timers.fire();
        if due.tally {
            self.add_tally();
        }
        if due.ping {
            self.conn.outbox().push_ping();
        }
        match due.expired {
            None => Ok(()),
            Some(Expired::CloseHandshake) => {
                debug!("no close frame from the peer in time");
                Err(Ended::Broken)
            }
            Some(Expired::Grace) => {
                let dropped = self.conn.queued_bytes();
                self.writer.keep_partial();
                self.conn.outbox().drop_queued(self.writer.held_bytes());
                info!(
                    dropped,
                    "slow consumer: queue not drained in the grace period"
                );
                self.close_with(CloseCode::POLICY, "slow consumer");
                Ok(())
            }
            Some(Expired::Pong) => {
                info!("no pong in time; closing with 1001");
                self.close_with(CloseCode::GOING_AWAY, "ping timeout");
                Ok(())
            }
            Some(Expired::Idle) => {
                info!("idle too long; closing with 1001");
                self.close_with(CloseCode::GOING_AWAY, "idle timeout");
                Ok(())
            }
        }
    }

    // Transitions: every change of `self.phase` is in the methods below.

    /// Follows what the outbox says: a close queued (by the handler, another task, the
    /// server or this task) makes an open connection `Closing`; a consumer that overflowed
    /// its queue makes it `Slow`.
    fn notice_outbox(&mut self) {
        let outbox = self.conn.outbox();
        if matches!(self.phase, Phase::Open | Phase::Slow) && outbox.is_closing() {
            let status = outbox
                .close_status()
                .unwrap_or((CloseCode::NO_STATUS, String::new()));
            self.phase = Phase::Closing(status);
            self.decoder.discard();
            self.timers.closing(self.close_timeout);
        } else if matches!(self.phase, Phase::Open) && outbox.is_slow() {
            self.phase = Phase::Slow;
            let grace = outbox.grace();
            info!(
                queued = self.conn.queued_bytes(),
                ?grace,
                "slow consumer: its queue is full"
            );
            self.timers.start_grace(tokio::time::Instant::now() + grace);
        }
    }

    /// Queues a close from this side and follows it.
    fn close_with(&mut self, code: CloseCode, reason: &str) {
        self.conn
            .outbox()
            .push_close(Some((code, reason.to_owned())));
        self.notice_outbox();
    }

    /// Answers the peer's close, or completes the handshake this side started.
    fn peer_closed(&mut self, frame: Option<CloseFrame>) {
        let status = match &self.phase {
            Phase::Closing(status) => status.clone(),
            Phase::Draining { .. } => return,
            Phase::Open | Phase::Slow => {
                let status = match &frame {
                    Some(frame) => (frame.code, frame.reason.to_string()),
                    None => (CloseCode::NO_STATUS, String::new()),
                };
                debug!(code = %status.0, reason = status.1, "close frame received");
                // Echo the code (without the reason), or an empty close for an empty one.
                self.conn
                    .outbox()
                    .push_close(frame.map(|frame| (frame.code, String::new())));
                self.timers.closing(self.close_timeout);
                status
            }
        };
        self.phase = Phase::Draining {
            status,
            linger: false,
        };
    }

    /// Fails the connection with the close code the error calls for.
    fn fail(&mut self, error: &ProtocolError) {
        if let Phase::Closing(status) = &self.phase {
            // Already closing, so the decoder was only skipping frames, and even their
            // headers make no sense: give up on the peer's close.
            debug!(%error, "unparseable data while closing");
            self.phase = Phase::Draining {
                status: status.clone(),
                linger: true,
            };
            return;
        }
        let code = error.close_code();
        info!(%code, %error, "failing the connection");
        self.close_with(code, &error.to_string());
        if let Phase::Closing(status) = &self.phase {
            if error.is_in_close_frame() {
                // That was the peer's close frame, bad as it was: no other is coming.
                self.phase = Phase::Draining {
                    status: status.clone(),
                    linger: false,
                };
            } else if error.loses_framing() {
                // The peer's close could not be told from the payload it announced.
                self.phase = Phase::Draining {
                    status: status.clone(),
                    linger: true,
                };
            }
        }
    }
}

/// Reads and drops what arrives until the peer ends its side of the socket.
pub(crate) async fn discard_until_end<S: AsyncRead + Unpin>(io: &mut S) {
    // On the heap: a buffer in the future would grow every connection's task.
    let mut sink = vec![0; 4096];
    while let Ok(1..) = io.read(&mut sink).await {}
}
