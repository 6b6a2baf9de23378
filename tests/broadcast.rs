//! The registry's three iterations (all connections, one path, a connection's peers),
//! broadcast and topics, seen by real clients.

mod support;

use std::sync::Arc;

use futures_util::SinkExt;
use tokio::sync::Barrier;
use tokio_tungstenite::tungstenite::Message;
use ws_server::{Connection, Handler, Server, Text, ws_resource};

use support::{Client, connect, eventually, next, round_trip, start_with_handle};

/// Answers commands: `peers`, `all:X`, `others:X`, `sub:T`, `unsub:T`, `pub:T:X`,
/// `pubothers:T:X`.
#[ws_resource("/room")]
#[derive(Default)]
struct Room;

impl Handler for Room {
    async fn on_text(&mut self, conn: &Connection, text: Text) {
        let text = text.as_str();
        if text == "peers" {
            let _ = conn
                .send_text(format!("peers:{}", conn.peers().len()))
                .await;
        } else if let Some(message) = text.strip_prefix("all:") {
            let _ = conn
                .server()
                .broadcast_at(conn.path(), message.to_owned())
                .await;
        } else if let Some(message) = text.strip_prefix("others:") {
            let _ = conn.broadcast_peers(message.to_owned()).await;
        } else if let Some(topic) = text.strip_prefix("sub:") {
            let new = conn.subscribe(topic);
            let _ = conn.send_text(format!("subscribed:{topic}:{new}")).await;
        } else if let Some(topic) = text.strip_prefix("unsub:") {
            let was = conn.unsubscribe(topic);
            let _ = conn.send_text(format!("unsubscribed:{topic}:{was}")).await;
        } else if let Some(rest) = text.strip_prefix("pub:") {
            let (topic, message) = rest.split_once(':').expect("pub:T:X");
            let _ = conn.server().publish(topic, message.to_owned()).await;
        } else if let Some(rest) = text.strip_prefix("pubothers:") {
            let (topic, message) = rest.split_once(':').expect("pubothers:T:X");
            let _ = conn.publish_peers(topic, message.to_owned()).await;
        }
    }
}

#[ws_resource("/other")]
#[derive(Default)]
struct Other;

impl Handler for Other {}

async fn text(client: &mut Client) -> String {
    match next(client).await {
        Message::Text(text) => text.to_string(),
        other => panic!("expected text, got {other:?}"),
    }
}

async fn send(client: &mut Client, text: &str) {
    client.send(Message::text(text)).await.expect("send");
}

#[tokio::test]
async fn iterations_see_all_connections_one_path_and_the_peers() {
    let (addr, server) =
        start_with_handle(Server::builder().route::<Room>().route::<Other>()).await;
    let mut a = connect(addr, "/room").await;
    let mut b = connect(addr, "/room").await;
    let mut c = connect(addr, "/room").await;
    let mut other = connect(addr, "/other").await;
    eventually("4 live connections", || server.connection_count() == 4).await;
    assert_eq!(server.connections().len(), 4);
    assert_eq!(server.connections_at("/room").len(), 3);
    assert_eq!(server.connections_at("/other").len(), 1);
    assert!(server.connections_at("/nowhere").is_empty());
    assert_eq!(round_trip(&mut a, "peers").await, "peers:2");

    // To the whole resource, the sender included; not to another path.
    send(&mut a, "all:hello room").await;
    for client in [&mut a, &mut b, &mut c] {
        assert_eq!(text(client).await, "hello room");
    }
    // To the peers only.
    send(&mut a, "others:psst").await;
    assert_eq!(text(&mut b).await, "psst");
    assert_eq!(text(&mut c).await, "psst");
    assert_eq!(
        round_trip(&mut a, "peers").await,
        "peers:2",
        "a got its own psst"
    );

    // From outside any handler.
    let delivery = server.broadcast_at("/other", "only other").await;
    assert_eq!((delivery.queued(), delivery.missed()), (1, 0));
    assert_eq!(
        text(&mut other).await,
        "only other",
        "other got room traffic"
    );
    let delivery = server.broadcast_all("everyone").await;
    assert_eq!(delivery.queued(), 4);
    for client in [&mut a, &mut b, &mut c, &mut other] {
        assert_eq!(text(client).await, "everyone");
    }

    // A closed connection leaves every iteration.
    b.close(None).await.expect("close");
    eventually("b left", || server.connection_count() == 3).await;
    assert_eq!(round_trip(&mut a, "peers").await, "peers:1");
    assert_eq!(server.connections_at("/room").len(), 2);
}

#[tokio::test]
async fn the_registry_stays_exact_under_concurrent_opens_and_closes() {
    const STAYING: usize = 10;
    const PASSING: usize = 60;
    let (addr, server) = start_with_handle(Server::builder().route::<Room>()).await;
    let mut staying = Vec::new();
    for _ in 0..STAYING {
        staying.push(connect(addr, "/room").await);
    }
    let start = Arc::new(Barrier::new(PASSING));
    let visitors: Vec<_> = (0..PASSING)
        .map(|_| {
            let start = start.clone();
            tokio::spawn(async move {
                start.wait().await;
                let mut client = connect(addr, "/room").await;
                let peers = round_trip(&mut client, "peers").await;
                client.close(None).await.expect("close");
                peers
            })
        })
        .collect();
    for visitor in visitors {
        let peers = visitor.await.expect("visitor");
        let count: usize = peers["peers:".len()..].parse().expect("count");
        assert!(
            (STAYING..STAYING + PASSING).contains(&count),
            "a visitor saw {count} peers"
        );
    }
    eventually("only the staying clients are left", || {
        server.connection_count() == STAYING
    })
    .await;
    assert_eq!(
        round_trip(&mut staying[0], "peers").await,
        format!("peers:{}", STAYING - 1)
    );
}

#[tokio::test]
async fn topics_reach_their_subscribers_and_closed_connections_leave_them() {
    let (addr, server) = start_with_handle(Server::builder().route::<Room>()).await;
    let mut a = connect(addr, "/room").await;
    let mut b = connect(addr, "/room").await;
    let mut c = connect(addr, "/room").await;
    assert_eq!(round_trip(&mut a, "sub:news").await, "subscribed:news:true");
    assert_eq!(
        round_trip(&mut a, "sub:news").await,
        "subscribed:news:false"
    );
    assert_eq!(round_trip(&mut b, "sub:news").await, "subscribed:news:true");
    assert_eq!(
        round_trip(&mut c, "sub:sports").await,
        "subscribed:sports:true"
    );
    assert_eq!(server.subscriber_count("news"), 2);

    let delivery = server.publish("news", "n1").await;
    assert_eq!(delivery.queued(), 2);
    assert_eq!(text(&mut a).await, "n1");
    assert_eq!(text(&mut b).await, "n1");
    send(&mut a, "pubothers:news:n2").await;
    assert_eq!(text(&mut b).await, "n2");
    send(&mut a, "pub:news:n3").await;
    assert_eq!(
        text(&mut a).await,
        "n3",
        "a got n2 although it published it to others"
    );
    assert_eq!(text(&mut b).await, "n3");
    // c subscribes to another topic only: its next message is its own answer.
    assert_eq!(round_trip(&mut c, "peers").await, "peers:2");

    assert_eq!(
        round_trip(&mut b, "unsub:news").await,
        "unsubscribed:news:true"
    );
    assert_eq!(
        round_trip(&mut b, "unsub:news").await,
        "unsubscribed:news:false"
    );
    assert_eq!(server.publish("news", "n4").await.queued(), 1);
    assert_eq!(text(&mut a).await, "n4");

    a.close(None).await.expect("close");
    c.close(None).await.expect("close");
    eventually("closed connections left their topics", || {
        server.subscriber_count("news") == 0 && server.subscriber_count("sports") == 0
    })
    .await;
    assert_eq!(server.publish("news", "n5").await.queued(), 0);
}

#[ws_resource("/big", max_message = 16777216, max_queue = 16777216)]
#[derive(Default)]
struct Big;

impl Handler for Big {}

/// Compressing a large broadcast takes long; the registry must not be locked meanwhile,
/// or every open, close and listing on other threads waits for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broadcast_compresses_outside_the_registry_lock() {
    let (addr, server) = start_with_handle(Server::builder().route::<Big>()).await;
    let (_client, head) = support::deflate_upgrade(addr, "/big", "permessage-deflate").await;
    assert!(head.contains("permessage-deflate"), "{head}");
    eventually("the client to be registered", || {
        server.connection_count() == 1
    })
    .await;
    // Compressible, but not trivially: lines of numbers.
    let text: String = (0..400_000).map(|i| format!("{i:08}\n")).collect();
    // When each listing on another thread completed. Counted, not timed one by one: a
    // thread of a busy machine may be descheduled for a while, but listings that wait for
    // a held lock cannot complete at all until it is released.
    let sampler = {
        let server = server.clone();
        std::thread::spawn(move || {
            let mut done = Vec::new();
            let until = std::time::Instant::now() + std::time::Duration::from_secs(3);
            while std::time::Instant::now() < until {
                let _ = server.connections_at("/big");
                done.push(std::time::Instant::now());
            }
            done
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let started = std::time::Instant::now();
    let delivery = server.broadcast_at("/big", text).await;
    let took = started.elapsed();
    assert_eq!(delivery.queued(), 1);
    let done = sampler.join().expect("sampler");
    // The middle of the broadcast, clear of its first and last tenth.
    let (from, to) = (started + took / 10, started + took * 9 / 10);
    let during = done.iter().filter(|at| **at > from && **at < to).count();
    println!("the broadcast took {took:?}; {during} listings completed in its middle");
    assert!(
        during >= 100,
        "only {during} listings completed during a broadcast of {took:?}"
    );
}
