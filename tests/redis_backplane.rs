//! Several servers as one through a real Redis (`redis-server`, which `scripts/test.sh`
//! installs): publishes and broadcasts on one server reach the clients of the other,
//! exactly once and in order; a node's last subscriber leaving unsubscribes it in Redis;
//! delivery resumes after Redis restarts.

mod support;

#[path = "../examples/chat/room.rs"]
mod room;

use std::{net::SocketAddr, time::Instant};

use futures_util::SinkExt;
use tokio_tungstenite::tungstenite::Message;
use ws_server::{Connection, Handler, Server, ServerHandle, Text, ws_resource};

use support::{
    Client, STEP, connect, eventually, next,
    redis_server::{Redis, start_connected},
    round_trip,
};

/// `sub:T` subscribes (and answers), `pub:T:X` publishes X to T, `all:X` broadcasts X to
/// the resource.
#[ws_resource("/room")]
#[derive(Default)]
struct Room;

impl Handler for Room {
    async fn on_text(&mut self, conn: &Connection, text: Text) {
        if let Some(topic) = text.strip_prefix("sub:") {
            conn.subscribe(topic);
            let _ = conn.send_text(format!("subscribed:{topic}")).await;
        } else if let Some(topic) = text.strip_prefix("unsub:") {
            conn.unsubscribe(topic);
            let _ = conn.send_text(format!("unsubscribed:{topic}")).await;
        } else if let Some(rest) = text.strip_prefix("pub:") {
            let (topic, message) = rest.split_once(':').expect("pub:T:X");
            let _ = conn.server().publish(topic, message.to_owned()).await;
        } else if let Some(message) = text.strip_prefix("all:") {
            let _ = conn
                .server()
                .broadcast_at(conn.path(), message.to_owned())
                .await;
        }
    }
}

async fn node(redis: &Redis) -> (SocketAddr, ServerHandle) {
    start_connected(
        Server::builder()
            .route::<Room>()
            .redis_backplane(redis.url()),
    )
    .await
}

async fn text(client: &mut Client) -> String {
    match next(client).await {
        Message::Text(text) => text.to_string(),
        other => panic!("expected text, got {other:?}"),
    }
}

const NEWS: &str = "ws-server:topic:news";

/// Two servers on one Redis, each with a client subscribed to "news".
struct Pair {
    server_a: ServerHandle,
    server_b: ServerHandle,
    a: Client,
    b: Client,
}

async fn subscribed_pair(redis: &Redis) -> Pair {
    let (addr_a, server_a) = node(redis).await;
    let (addr_b, server_b) = node(redis).await;
    let mut a = connect(addr_a, "/room").await;
    let mut b = connect(addr_b, "/room").await;
    assert_eq!(round_trip(&mut a, "sub:news").await, "subscribed:news");
    assert_eq!(round_trip(&mut b, "sub:news").await, "subscribed:news");
    redis.wait_for_subscribers(NEWS, 2).await;
    Pair {
        server_a,
        server_b,
        a,
        b,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_publish_on_one_server_reaches_the_other_exactly_once_in_order() {
    let redis = Redis::start().await;
    let Pair {
        server_a,
        server_b,
        mut a,
        mut b,
    } = subscribed_pair(&redis).await;

    const COUNT: usize = 5000;
    let started = Instant::now();
    for i in 0..COUNT {
        let delivery = server_a.publish("news", format!("n{i}")).await;
        assert_eq!(delivery.queued(), 1, "local delivery on A");
    }
    for i in 0..COUNT {
        assert_eq!(
            text(&mut b).await,
            format!("n{i}"),
            "B's subscriber, in order"
        );
    }
    let elapsed = started.elapsed();
    println!(
        "cross-node: {COUNT} messages A -> Redis -> B in {elapsed:?} ({:.0} msg/s)",
        COUNT as f64 / elapsed.as_secs_f64()
    );
    for i in 0..COUNT {
        assert_eq!(
            text(&mut a).await,
            format!("n{i}"),
            "A's own subscriber, once"
        );
    }
    // Nothing twice: the next message after a marker is the marker.
    let _ = server_a.publish("news", "end").await;
    assert_eq!(text(&mut a).await, "end");
    assert_eq!(text(&mut b).await, "end");

    // Binary payloads cross exactly, and from a connection's own publish too.
    let bytes: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    let _ = server_a.publish("news", bytes.clone()).await;
    assert_eq!(next(&mut b).await, Message::binary(bytes.clone()));
    assert_eq!(next(&mut a).await, Message::binary(bytes));
    a.send(Message::text("pub:news:from a client"))
        .await
        .expect("send");
    assert_eq!(text(&mut b).await, "from a client");
    assert_eq!(text(&mut a).await, "from a client");

    // Broadcasts to a resource cross too.
    b.send(Message::text("all:hello everyone"))
        .await
        .expect("send");
    assert_eq!(text(&mut a).await, "hello everyone");
    assert_eq!(text(&mut b).await, "hello everyone");
    let _ = server_b.broadcast_all("to all").await;
    assert_eq!(text(&mut a).await, "to all");
    assert_eq!(text(&mut b).await, "to all");
    let stats = server_a.backplane_stats().expect("stats");
    assert!(
        stats.published >= COUNT as u64 && stats.dropped == 0,
        "{stats:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_last_local_subscriber_leaving_unsubscribes_the_node() {
    let redis = Redis::start().await;
    let (addr_a, _server_a) = node(&redis).await;
    let (addr_b, _server_b) = node(&redis).await;
    let mut a = connect(addr_a, "/room").await;
    let mut b1 = connect(addr_b, "/room").await;
    let mut b2 = connect(addr_b, "/room").await;
    for client in [&mut a, &mut b1, &mut b2] {
        assert_eq!(round_trip(client, "sub:news").await, "subscribed:news");
    }
    // One subscription per node, however many local subscribers.
    redis.wait_for_subscribers(NEWS, 2).await;
    assert_eq!(round_trip(&mut b1, "unsub:news").await, "unsubscribed:news");
    assert_eq!(redis.subscribers(NEWS).await, 2, "b2 still subscribes on B");
    b2.close(None).await.expect("close");
    redis.wait_for_subscribers(NEWS, 1).await;
    assert_eq!(round_trip(&mut a, "unsub:news").await, "unsubscribed:news");
    redis.wait_for_subscribers(NEWS, 0).await;
}

/// The topic's last local subscriber leaving while another subscribes, over and over from
/// two connections at once: whichever way each race goes, the node ends up subscribed in
/// Redis, since it has a subscriber.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_joining_as_the_last_leaves_keeps_the_node_subscribed() {
    let redis = Redis::start().await;
    let (addr, _server) = node(&redis).await;
    let mut clients = [connect(addr, "/room").await, connect(addr, "/room").await];
    assert_eq!(
        round_trip(&mut clients[0], "sub:news").await,
        "subscribed:news"
    );
    redis.wait_for_subscribers(NEWS, 1).await;
    for round in 0..1000 {
        let [leaving, joining] = &mut clients;
        if round % 2 == 1 {
            std::mem::swap(leaving, joining);
        }
        let (left, joined) = tokio::join!(
            round_trip(leaving, "unsub:news"),
            round_trip(joining, "sub:news")
        );
        assert_eq!((&*left, &*joined), ("unsubscribed:news", "subscribed:news"));
        if round % 2 == 1 {
            std::mem::swap(leaving, joining);
        }
        redis.wait_for_subscribers(NEWS, 1).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivery_resumes_after_redis_restarts() {
    let redis = Redis::start().await;
    let port = redis.port();
    let Pair {
        server_a,
        server_b,
        mut a,
        mut b,
    } = subscribed_pair(&redis).await;

    redis.stop().await;
    eventually("B noticed", || {
        server_b
            .backplane_stats()
            .is_some_and(|stats| !stats.connected)
    })
    .await;
    // Local delivery goes on; the publish to B is reported, not waited for.
    let delivery = tokio::time::timeout(STEP, server_a.publish("news", "while down"))
        .await
        .expect("publishing does not hang while Redis is down");
    assert_eq!(delivery.queued(), 1);
    assert_eq!(text(&mut a).await, "while down");
    eventually("the lost publish is counted", || {
        server_a
            .backplane_stats()
            .is_some_and(|stats| stats.dropped >= 1)
    })
    .await;

    let redis = Redis::start_on(port).await;
    // Both nodes reconnect and resubscribe by themselves.
    redis.wait_for_subscribers(NEWS, 2).await;
    let _ = server_a.publish("news", "after the restart").await;
    assert_eq!(
        text(&mut b).await,
        "after the restart",
        "B missed or got stale messages"
    );
    assert_eq!(text(&mut a).await, "after the restart");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_chat_servers_on_one_redis_are_one_room() {
    let redis = Redis::start().await;
    let chat = || {
        Server::builder()
            .route::<room::Chat>()
            .fallback(room::page())
            .redis_backplane(redis.url())
    };
    let (addr_a, _) = start_connected(chat()).await;
    let (addr_b, server_b) = start_connected(chat()).await;
    redis.wait_for_subscribers("ws-server:path:/chat", 2).await;
    let mut alice = connect(addr_a, "/chat?name=alice").await;
    assert!(text(&mut alice).await.starts_with("Welcome, alice"));
    // "alice has joined" is on its way to B; let it land before Bob arrives there.
    eventually("B received Alice's join", || {
        server_b
            .backplane_stats()
            .is_some_and(|stats| stats.received >= 1)
    })
    .await;
    let mut bob = connect(addr_b, "/chat?name=bob").await;
    assert!(text(&mut bob).await.starts_with("Welcome, bob"));
    assert_eq!(text(&mut alice).await, "bob has joined");
    alice
        .send(Message::text("hello from A"))
        .await
        .expect("send");
    assert_eq!(text(&mut bob).await, "alice: hello from A");
    assert_eq!(text(&mut alice).await, "alice: hello from A");
    bob.close(None).await.expect("close");
    assert_eq!(text(&mut alice).await, "bob has left");
}
