//! Slow consumers: a client that stops reading, under each policy, beside a fast client.
//!
//! The producer paces itself on the fast client's queue (as a real producer would), so the
//! fast client never overflows; the stalled one does. The figures printed are quoted in
//! the project's notes.

mod support;

use std::sync::{
    Arc,
    atomic::{AtomicUsize, Ordering},
};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use tokio::net::TcpStream;
use tokio_tungstenite::{
    MaybeTlsStream, WebSocketStream,
    tungstenite::{Message, protocol::Role},
};
use ws_server::{
    Backpressure, CloseCode, Connection, Handler, Heartbeat, Rejection, Request, SendError, Server,
    ServerHandle, ws_resource,
};

use support::{
    STEP, connect, eventually, next, record, stalled_client, start_with_handle, unique_tag,
    wait_for,
};

const BOUND: usize = 64 * 1024;
const MESSAGES: usize = 4000;
const SIZE: usize = 1024;

macro_rules! feed {
    ($name:ident, $path:literal, $policy:literal) => {
        #[ws_resource($path, max_queue = 65536, slow_consumer = $policy)]
        struct $name {
            tag: String,
        }

        impl Handler for $name {
            async fn accept(request: &Request) -> Result<Self, Rejection> {
                let tag = request.query("tag").unwrap_or_default().into_owned();
                Ok($name { tag })
            }

            async fn on_close(&mut self, _conn: &Connection, code: CloseCode, reason: &str) {
                record(&self.tag, format!("close:{}:{reason}", code.as_u16()));
            }
        }
    };
}

feed!(CloseFeed, "/close", "close");
feed!(DropFeed, "/drop", "drop");
feed!(WaitFeed, "/wait", "wait");

async fn server() -> (std::net::SocketAddr, ServerHandle) {
    start_with_handle(
        Server::builder()
            .route::<CloseFeed>()
            .route::<DropFeed>()
            .route::<WaitFeed>()
            .backpressure(Backpressure::DEFAULT.with_grace(Duration::from_millis(500)))
            .heartbeat(Heartbeat::DEFAULT.with_ping_interval(None))
            .close_timeout(Duration::from_secs(1)),
    )
    .await
}

/// Message `i`: its number, padded to `SIZE` bytes.
fn message(i: usize) -> String {
    format!("{i:08}{}", "x".repeat(SIZE - 8))
}

fn number(message: &Message) -> usize {
    match message {
        Message::Text(text) => text[..8].parse().expect("numbered message"),
        other => panic!("expected a numbered text message, got {other:?}"),
    }
}

/// The server side of the connections at `path`: (fast, stalled), told apart by `who`.
async fn sides(server: &ServerHandle, path: &str) -> (Connection, Connection) {
    eventually("both clients connected", || {
        server.connections_at(path).len() == 2
    })
    .await;
    let conns = server.connections_at(path);
    let fast = conns
        .iter()
        .find(|conn| conn.query("who").as_deref() == Some("fast"))
        .expect("fast client")
        .clone();
    let slow = conns
        .into_iter()
        .find(|conn| conn.query("who").as_deref() == Some("slow"))
        .expect("stalled client");
    (fast, slow)
}

/// What the producer saw.
#[derive(Debug, Default)]
struct Produced {
    max_stalled_queue: usize,
    missed_by_stalled: usize,
    first_miss: Option<usize>,
}

/// Broadcasts `MESSAGES` numbered messages at `path`, pacing on the fast connection.
async fn produce(
    server: &ServerHandle,
    path: &str,
    fast: &Connection,
    slow: &Connection,
) -> Produced {
    let mut produced = Produced::default();
    for i in 0..MESSAGES {
        while fast.queued_bytes() > BOUND / 4 {
            tokio::time::sleep(Duration::from_micros(200)).await;
        }
        let delivery = server.broadcast_at(path, message(i)).await;
        assert!(delivery.queued() >= 1, "the fast client missed message {i}");
        if delivery.missed() > 0 {
            produced.missed_by_stalled += 1;
            produced.first_miss.get_or_insert(i);
        }
        produced.max_stalled_queue = produced.max_stalled_queue.max(slow.queued_bytes());
    }
    produced
}

/// Reads every numbered message in order; returns how long that took.
async fn read_all(mut client: support::Client) -> (Duration, support::Client) {
    let started = Instant::now();
    for i in 0..MESSAGES {
        assert_eq!(
            number(&next(&mut client).await),
            i,
            "fast client out of order"
        );
    }
    (started.elapsed(), client)
}

/// A fast and a stalled client at `path` while `MESSAGES` are broadcast there.
struct Race {
    server: ServerHandle,
    tag: String,
    slow: Connection,
    stalled: TcpStream,
    produced: Produced,
    /// Kept open to the end of the test.
    fast_client: support::Client,
}

async fn race(path: &str) -> Race {
    let (addr, server) = server().await;
    let tag = unique_tag();
    let fast_client = connect(addr, &format!("{path}?tag={tag}&who=fast")).await;
    let stalled = stalled_client(addr, &format!("{path}?tag={tag}&who=slow")).await;
    let (fast, slow) = sides(&server, path).await;
    let reader = tokio::spawn(read_all(fast_client));
    let produced = produce(&server, path, &fast, &slow).await;
    let (elapsed, fast_client) = reader.await.expect("fast reader");
    eprintln!(
        "{path}: fast client got {MESSAGES} x {SIZE} B in {elapsed:?} ({:.0} msg/s); stalled \
         queue peaked at {} B (bound {BOUND}); {} messages missed it, from message {:?} on",
        MESSAGES as f64 / elapsed.as_secs_f64(),
        produced.max_stalled_queue,
        produced.missed_by_stalled,
        produced.first_miss,
    );
    Race {
        server,
        tag,
        slow,
        stalled,
        produced,
        fast_client,
    }
}

fn websocket(stream: TcpStream) -> impl std::future::Future<Output = support::Client> {
    WebSocketStream::from_raw_socket(MaybeTlsStream::Plain(stream), Role::Client, None)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_policy_closes_the_stalled_client_with_1008_and_spares_the_fast_one() {
    let Race {
        server,
        tag,
        slow,
        produced,
        fast_client: _fast_client,
        stalled: _stalled,
    } = race("/close").await;
    assert!(produced.max_stalled_queue <= BOUND);
    let first_miss = produced
        .first_miss
        .expect("the stalled client never overflowed");
    assert_eq!(
        produced.missed_by_stalled,
        MESSAGES - first_miss,
        "after the overflow nothing more may be queued to the stalled client"
    );
    assert!(matches!(
        slow.try_send("more"),
        Err(SendError::SlowConsumer | SendError::Closed)
    ));
    wait_for(&tag, |events| {
        events.iter().any(|e| e == "close:1008:slow consumer")
    })
    .await;
    eventually("the stalled connection left", || {
        server.connections_at("/close").len() == 1
    })
    .await;
    assert_eq!(slow.queued_bytes(), 0, "its queue was not freed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drop_policy_drops_for_the_stalled_client_which_stays_open() {
    let Race {
        server,
        tag,
        slow,
        stalled,
        produced,
        fast_client: _fast_client,
    } = race("/drop").await;
    assert!(produced.max_stalled_queue <= BOUND);
    assert!(produced.missed_by_stalled > 0, "nothing was dropped");
    assert!(matches!(
        slow.try_send("x"),
        Ok(()) | Err(SendError::Dropped)
    ));

    // The stalled client wakes up: it gets an ordered subset, and the connection works.
    let woken = websocket(stalled).await;
    let reader = tokio::spawn(async move {
        let mut woken = woken;
        let mut last = None;
        let mut received = 0;
        loop {
            match next(&mut woken).await {
                Message::Text(text) if text.as_str() == "the end" => break,
                Message::Text(text) if text.as_str() == "x" => {}
                message => {
                    let n = number(&message);
                    assert!(last < Some(n), "out of order: {n} after {last:?}");
                    last = Some(n);
                    received += 1;
                }
            }
        }
        (received, woken)
    });
    eventually("the stalled queue drained", || slow.queued_bytes() == 0).await;
    let delivery = server.broadcast_at("/drop", "the end").await;
    assert_eq!(delivery.queued(), 2);
    let (received, _woken) = reader.await.expect("woken reader");
    assert_eq!(received, MESSAGES - produced.missed_by_stalled);
    assert!(!slow.is_closing());
    assert!(
        support::events(&tag)
            .iter()
            .all(|e| !e.starts_with("close"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_policy_makes_the_sender_wait_and_loses_nothing() {
    let (addr, server) = server().await;
    let tag = unique_tag();
    let stalled = stalled_client(addr, &format!("/wait?tag={tag}&who=slow")).await;
    eventually("connected", || server.connections_at("/wait").len() == 1).await;
    let slow = server.connections_at("/wait").remove(0);

    let sent = Arc::new(AtomicUsize::new(0));
    let producer = {
        let (server, sent) = (server.clone(), sent.clone());
        tokio::spawn(async move {
            for i in 0..MESSAGES {
                let delivery = server.broadcast_at("/wait", message(i)).await;
                assert_eq!(delivery.queued(), 1, "message {i} was not queued");
                sent.fetch_add(1, Ordering::Relaxed);
            }
        })
    };
    // The producer fills the queue and then waits. The writer may still be filling the
    // kernel's socket buffers, freeing room the producer takes back at once; only once the
    // producer has stopped with the queue full has the writer stopped too, so no freed room
    // can race the check below.
    let full = || slow.queued_bytes() + SIZE + 4 > BOUND;
    let deadline = Instant::now() + STEP;
    loop {
        eventually("the queue filled up", full).await;
        let before = sent.load(Ordering::Relaxed);
        tokio::time::sleep(Duration::from_millis(100)).await;
        if full() && sent.load(Ordering::Relaxed) == before {
            break;
        }
        assert!(Instant::now() < deadline, "the producer never stopped");
    }
    assert_eq!(slow.try_send(message(MESSAGES)), Err(SendError::Full));
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!producer.is_finished(), "the producer did not wait");
    assert!(slow.queued_bytes() <= BOUND);

    // Reading resumes: everything arrives, in order, and the producer finishes.
    let mut woken = websocket(stalled).await;
    for i in 0..MESSAGES {
        assert_eq!(number(&next(&mut woken).await), i);
    }
    tokio::time::timeout(STEP, producer)
        .await
        .expect("producer finished")
        .expect("producer");
    assert!(!slow.is_closing());
    drop(woken.next());
}
