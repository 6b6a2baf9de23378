//! Soak with faults: hundreds of clients at once on the example's echo and chat resources.
//! Well-behaved ones send sequence-numbered messages; meanwhile others vanish without a
//! close (some mid-frame), send garbage, stop reading, or ping without reading. Every
//! message of a well-behaved client must come back exactly once and in order, every faulty
//! client must get the RFC's answer, and afterwards the registry, the task count and the
//! heap return to where they were.

mod support;

#[path = "../examples/echo/resource.rs"]
mod resource;
#[allow(dead_code)]
#[path = "../examples/chat/room.rs"]
mod room;

use std::{
    collections::HashMap,
    net::SocketAddr,
    time::{Duration, Instant},
};

use futures_util::{SinkExt, StreamExt};
use support::{
    close_frame_of, connect, counting::Counting, counting::allocated, eventually, http_head,
    masked, raw_upgrade, stalled_client, start_with_handle,
};
use tokio::{io::AsyncWriteExt, task::JoinSet};
use tokio_tungstenite::tungstenite::Message;
use ws_server::{Backpressure, Heartbeat, Server, ServerHandle};

#[global_allocator]
static COUNTING: Counting = Counting;

const ECHO_CLIENTS: usize = 200;
const ECHO_MESSAGES: usize = 100;
/// Messages an echo client keeps in flight.
const WINDOW: usize = 8;
const CHAT_CLIENTS: usize = 40;
const CHAT_MESSAGES: usize = 25;
const VANISHERS: usize = 40;
const GARBAGE: usize = 40;
const STALLED: usize = 20;
/// Clients that ping as fast as they can and read nothing.
const PINGERS: usize = 10;
/// Rounds of all the above, one after another.
const ROUNDS: usize = 5;
/// How long any one client may take for all its messages (pings keep arriving, so a
/// per-message timeout would never fire).
const DEADLINE: Duration = Duration::from_secs(60);

fn server() -> ws_server::Builder {
    Server::builder()
        .route::<resource::Echo>()
        .route::<room::Chat>()
        .backpressure(
            Backpressure::DEFAULT
                .with_max_queue(64 * 1024)
                .with_grace(Duration::from_millis(500)),
        )
        .heartbeat(Heartbeat::DEFAULT.with_ping_interval(Some(Duration::from_secs(1))))
        .close_timeout(Duration::from_secs(1))
}

/// Sends numbered messages with up to [`WINDOW`] in flight; returns how many came back
/// in order, failing on a gap, a duplicate or a reordering.
async fn echo_client(addr: SocketAddr, id: usize) -> usize {
    let (mut sink, mut stream) = connect(addr, "/echo").await.split();
    let deadline = tokio::time::Instant::now() + DEADLINE;
    let mut received = 0;
    let mut sent = 0;
    while received < ECHO_MESSAGES {
        while sent < ECHO_MESSAGES && sent - received < WINDOW {
            let text = format!("client {id} message {sent} {}", "x".repeat(sent % 200));
            sink.send(Message::text(text)).await.expect("send");
            sent += 1;
        }
        let message = tokio::time::timeout_at(deadline, stream.next())
            .await
            .unwrap_or_else(|_| panic!("client {id}: echo {received} not back in time"))
            .expect("open")
            .expect("read");
        let Message::Text(text) = message else {
            continue;
        };
        let expected = format!("client {id} message {received} ");
        assert!(
            text.starts_with(&expected),
            "expected {expected:?}, got {text:?}"
        );
        received += 1;
    }
    sink.send(Message::Close(None)).await.expect("close");
    received
}

/// Joins the chat as `w{id}`, waits for everyone, says its numbered lines, and checks that
/// it hears every well-behaved member's lines exactly once and in order.
async fn chat_client(addr: SocketAddr, id: usize, server: ServerHandle) -> usize {
    let (mut sink, mut stream) = connect(addr, &format!("/chat?name=w{id}")).await.split();
    eventually("every chat member to join", || {
        let members = server.connections_at("/chat");
        let named_w = |conn: &&ws_server::Connection| {
            conn.query("name").is_some_and(|name| name.starts_with('w'))
        };
        members.iter().filter(named_w).count() == CHAT_CLIENTS
    })
    .await;
    let sending = async {
        for seq in 0..CHAT_MESSAGES {
            let line = format!("line {seq}");
            sink.send(Message::text(line)).await.expect("send");
        }
    };
    let mut next_seq: HashMap<String, usize> = HashMap::new();
    let mut heard = 0;
    let hearing = async {
        while heard < CHAT_CLIENTS * CHAT_MESSAGES {
            let message = stream.next().await.expect("open").expect("read");
            let Message::Text(text) = message else {
                continue;
            };
            // Lines of well-behaved members read "w7: line 3"; others are not counted.
            let Some((name, seq)) = text
                .split_once(": line ")
                .filter(|(name, _)| name.starts_with('w'))
            else {
                continue;
            };
            let expected = next_seq.entry(name.to_owned()).or_default();
            assert_eq!(
                seq.parse::<usize>().ok(),
                Some(*expected),
                "{name} out of order"
            );
            *expected += 1;
            heard += 1;
        }
    };
    let talk = async { tokio::join!(sending, hearing) };
    tokio::time::timeout(DEADLINE, talk)
        .await
        .unwrap_or_else(|_| panic!("w{id} heard {heard} lines in {DEADLINE:?}"));
    assert!(next_seq.values().all(|&n| n == CHAT_MESSAGES));
    sink.send(Message::Close(None)).await.expect("close");
    heard
}

/// Connects, sends something, and disappears without a close frame: half of them in the
/// middle of a frame.
async fn vanisher(addr: SocketAddr, id: usize) {
    if id.is_multiple_of(2) {
        let mut chat = connect(addr, &format!("/chat?name=v{id}")).await;
        chat.send(Message::text("here and gone"))
            .await
            .expect("send");
        drop(chat);
    } else {
        let mut raw = raw_upgrade(addr, "/echo", &masked(true, 0x1, b"one")).await;
        let frame = masked(true, 0x2, &[9; 1000]);
        raw.write_all(&frame[..500]).await.expect("half a frame");
        drop(raw);
    }
}

/// Sends one kind of garbage and checks the server's answer: a close code, or 400.
async fn garbage(addr: SocketAddr, id: usize) {
    let (wire, code): (Vec<u8>, u16) = match id % 5 {
        0 => (vec![0x81, 0x03, b'a', b'b', b'c'], 1002), // unmasked
        1 => (masked(true, 0x3, b"reserved opcode"), 1002),
        2 => (masked(true, 0x1, &[0xce, 0xba, 0xff, 0xfe]), 1007),
        3 => (masked(false, 0x9, b"fragmented ping"), 1002),
        _ => {
            let head = http_head(addr, "GARBAGE \x01\x02 nonsense\r\n\r\n").await;
            assert!(head.starts_with("HTTP/1.1 400"), "{head:?}");
            return;
        }
    };
    let stream = raw_upgrade(addr, "/echo", &wire).await;
    assert_eq!(
        close_frame_of(stream).await.0,
        code,
        "garbage kind {}",
        id % 5
    );
}

/// Stops reading while the server has much to say: on the echo, by sending a lot.
async fn stalled(addr: SocketAddr, id: usize) -> tokio::net::TcpStream {
    let mut stream = stalled_client(addr, "/echo").await;
    let frame = masked(true, 0x2, &vec![id as u8; 4096]);
    let flood = async {
        for _ in 0..200 {
            if stream.write_all(&frame).await.is_err() {
                break;
            }
        }
    };
    // The server stops reading once it gives up on this client; so does the flood.
    let _ = tokio::time::timeout(Duration::from_secs(5), flood).await;
    stream
}

/// Pings without reading for a while (empty and full pings, by turns), then vanishes.
async fn pinger(addr: SocketAddr, id: usize) {
    let mut stream = stalled_client(addr, "/echo").await;
    let ping = masked(
        true,
        0x9,
        &vec![b'p'; if id.is_multiple_of(2) { 0 } else { 125 }],
    );
    let batch = ping.repeat(16 * 1024 / ping.len());
    let flood = async { while stream.write_all(&batch).await.is_ok() {} };
    // The server stops reading once its pongs back up, so the writes stall.
    let _ = tokio::time::timeout(Duration::from_secs(2), flood).await;
}

/// One round: every kind of client at once. Returns the echoes and chat lines that came
/// back, each checked for order and duplicates.
async fn round_of_clients(addr: SocketAddr, server: &ServerHandle) -> (usize, usize) {
    let mut stalled_clients = Vec::new();
    for id in 0..STALLED {
        stalled_clients.push(tokio::spawn(stalled(addr, id)));
    }
    let mut chat = JoinSet::new();
    for id in 0..CHAT_CLIENTS {
        chat.spawn(chat_client(addr, id, server.clone()));
    }
    let mut echo = JoinSet::new();
    for id in 0..ECHO_CLIENTS {
        echo.spawn(echo_client(addr, id));
    }
    let mut faults = JoinSet::new();
    for id in 0..VANISHERS {
        faults.spawn(vanisher(addr, id));
    }
    for id in 0..GARBAGE {
        faults.spawn(garbage(addr, id));
    }
    for id in 0..PINGERS {
        faults.spawn(pinger(addr, id));
    }
    let echoed: usize = echo.join_all().await.into_iter().sum();
    let heard: usize = chat.join_all().await.into_iter().sum();
    faults.join_all().await;
    // The stalled clients vanish last, still holding unread data.
    for client in stalled_clients {
        drop(client.await.expect("stalled client"));
    }
    (echoed, heard)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundreds_of_clients_with_faults_lose_nothing_and_leave_nothing_behind() {
    let (addr, server) = start_with_handle(server()).await;
    let runtime = tokio::runtime::Handle::current();
    // Warm up thread-local pools and lazily built tables before the baseline.
    for id in 0..4 {
        echo_client(addr, 10_000 + id).await;
    }
    eventually("warm-up connections to end", || {
        server.connection_count() == 0
    })
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let baseline_heap = allocated();
    let baseline_tasks = runtime.metrics().num_alive_tasks();
    let started = Instant::now();

    let peak = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let sampler = {
        let (server, peak) = (server.clone(), peak.clone());
        tokio::spawn(async move {
            loop {
                peak.fetch_max(
                    server.connection_count(),
                    std::sync::atomic::Ordering::Relaxed,
                );
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
    };
    let (mut echoed, mut heard) = (0, 0);
    for round in 0..ROUNDS {
        let (round_echoed, round_heard) = round_of_clients(addr, &server).await;
        assert_eq!(
            round_echoed,
            ECHO_CLIENTS * ECHO_MESSAGES,
            "round {round}: echoes lost"
        );
        assert_eq!(
            round_heard,
            CHAT_CLIENTS * CHAT_CLIENTS * CHAT_MESSAGES,
            "round {round}: chat lines lost"
        );
        echoed += round_echoed;
        heard += round_heard;
        eventually("the round's connections to leave the registry", || {
            server.connection_count() == 0
        })
        .await;
    }
    sampler.abort();
    let peak = peak.load(std::sync::atomic::Ordering::Relaxed);
    eventually("every connection to leave the registry", || {
        server.connection_count() == 0
    })
    .await;
    let settled = Instant::now() + Duration::from_secs(10);
    while runtime.metrics().num_alive_tasks() > baseline_tasks && Instant::now() < settled {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let tasks = runtime.metrics().num_alive_tasks();
    let heap = allocated();
    println!(
        "soak: {ROUNDS} rounds of {} clients ({ECHO_CLIENTS} echo, {CHAT_CLIENTS} chat, {VANISHERS} vanishing, \
         {GARBAGE} garbage, {STALLED} stalled, {PINGERS} pinging), peak {peak} connections at once; {echoed} echoes \
         and {heard} chat deliveries, lost 0, in {:.1?}; tasks {baseline_tasks} -> {tasks}; \
         heap {baseline_heap} -> {heap} bytes",
        ECHO_CLIENTS + CHAT_CLIENTS + VANISHERS + GARBAGE + STALLED + PINGERS,
        started.elapsed(),
    );
    assert!(
        tasks <= baseline_tasks,
        "tasks left behind: {baseline_tasks} -> {tasks}"
    );
    assert!(
        heap < baseline_heap + 512 * 1024,
        "heap grew from {baseline_heap} to {heap} bytes"
    );
}
