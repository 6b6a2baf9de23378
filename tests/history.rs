//! Topic history on a real Redis: a client that reconnects to another node with the
//! offset of the last message it saw gets exactly what it missed, in order, then the live
//! messages, even while messages keep coming; or it is told that it cannot recover,
//! because the history was trimmed or reset.

mod support;

use std::{net::SocketAddr, time::Duration};

use ws_server::{Connection, Handler, History, Message, Offset, Server, ServerHandle, ws_resource};

use support::{
    Client, STEP, connect, next,
    redis_server::{Redis, start_connected},
};

/// Subscribes to topic `news` (or `short:news` at `/short`) from the offset in the
/// query's `since`, then sends `recovery: <what subscribe_since said>`.
#[ws_resource("/news")]
#[derive(Default)]
struct News;

impl Handler for News {
    async fn on_open(&mut self, conn: &Connection) {
        subscribe(conn, "news").await;
    }
}

#[ws_resource("/short")]
#[derive(Default)]
struct Short;

impl Handler for Short {
    async fn on_open(&mut self, conn: &Connection) {
        subscribe(conn, "short:news").await;
    }
}

#[ws_resource("/brief")]
#[derive(Default)]
struct Brief;

impl Handler for Brief {
    async fn on_open(&mut self, conn: &Connection) {
        subscribe(conn, "brief:news").await;
    }
}

async fn subscribe(conn: &Connection, topic: &str) {
    let since: Option<Offset> = conn.query("since").map(|s| s.parse().expect("an offset"));
    let recovery = conn.subscribe_since(topic, since.as_ref()).await;
    let _ = conn.send_text(format!("recovery: {recovery:?}")).await;
}

/// A small queue, and senders wait for room.
#[ws_resource("/patient", slow_consumer = "wait", max_queue = 4096)]
#[derive(Default)]
struct Patient;

impl Handler for Patient {
    async fn on_open(&mut self, conn: &Connection) {
        subscribe(conn, "long:news").await;
    }
}

/// Clients receive `<offset> <text>`.
fn with_offset(offset: &Offset, message: Message) -> Message {
    match message {
        Message::Text(text) => Message::from(format!("{offset} {text}")),
        binary => binary,
    }
}

async fn node(redis: &Redis) -> (SocketAddr, ServerHandle) {
    start_connected(
        Server::builder()
            .route::<News>()
            .route::<Short>()
            .route::<Brief>()
            .route::<Patient>()
            .redis_backplane(redis.url())
            .topic_history("short:", History::new(3).format(with_offset))
            .topic_history("long:", History::new(5000).format(with_offset))
            .topic_history(
                "brief:",
                History::new(100)
                    .max_age(Duration::from_secs(1))
                    .format(with_offset),
            )
            .topic_history("", History::new(1000).format(with_offset)),
    )
    .await
}

async fn text(client: &mut Client) -> String {
    match next(client).await {
        tokio_tungstenite::tungstenite::Message::Text(text) => text.to_string(),
        other => panic!("expected text, got {other:?}"),
    }
}

/// A published message as a client receives it: its offset and its text.
fn parse(received: &str) -> (Offset, &str) {
    let (offset, text) = received.split_once(' ').expect("offset, then text");
    (offset.parse().expect("an offset"), text)
}

async fn publish(server: &ServerHandle, topic: &str, text: String) -> Offset {
    let delivery = server.publish(topic, text).await;
    assert_eq!(
        delivery.queued(),
        0,
        "local subscribers hear it through Redis"
    );
    delivery.offset().expect("recorded")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_reconnecting_to_another_node_gets_exactly_what_it_missed_while_messages_keep_coming()
 {
    let redis = Redis::start().await;
    let (addr_a, a) = node(&redis).await;
    let (addr_b, b) = node(&redis).await;

    let mut first = connect(addr_a, "/news").await;
    assert_eq!(
        text(&mut first).await,
        "recovery: Ok(Subscribed { latest: None })"
    );
    let one = publish(&b, "news", "m1".to_owned()).await;
    let two = publish(&a, "news", "m2".to_owned()).await;
    assert_eq!(parse(&text(&mut first).await), (one, "m1"));
    assert_eq!(parse(&text(&mut first).await), (two, "m2"));
    drop(first);

    // Missed while away: m3..m5, from both nodes.
    for i in 3..=5 {
        let node = if i % 2 == 0 { &a } else { &b };
        publish(node, "news", format!("m{i}")).await;
    }
    // And while it comes back to B, m6..m300 keep coming, from both nodes.
    let publishing = tokio::spawn({
        let (a, b) = (a.clone(), b.clone());
        async move {
            for i in 6..=300 {
                let node = if i % 2 == 0 { &a } else { &b };
                publish(node, "news", format!("m{i}")).await;
            }
        }
    });
    let mut back = connect(addr_b, &format!("/news?since={two}")).await;
    let mut expected = 3;
    let mut recovery = None;
    let mut last = two;
    while expected <= 300 {
        let received = tokio::time::timeout(STEP, text(&mut back))
            .await
            .unwrap_or_else(|_| panic!("m{expected} never came"));
        if let Some(said) = received.strip_prefix("recovery: ") {
            assert!(recovery.is_none(), "one answer");
            recovery = Some((said.to_owned(), expected));
            continue;
        }
        let (offset, body) = parse(&received);
        assert_eq!(
            body,
            format!("m{expected}"),
            "in order, once each: {received} after {last} ({recovery:?})"
        );
        assert_eq!(
            offset.to_string().split(':').next(),
            one.to_string().split(':').next()
        );
        assert_ne!(offset, last);
        last = offset;
        expected += 1;
    }
    publishing.await.expect("published");
    let (said, at) = recovery.expect("the recovery was told");
    assert!(
        said.starts_with("Ok(Recovered { missed: ") && at >= 6,
        "{said} after m{}",
        at - 1
    );
    // Nothing after m300, no duplicate.
    assert!(
        tokio::time::timeout(Duration::from_millis(300), next(&mut back))
            .await
            .is_err()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_cut_off_from_redis_delivers_from_the_history_what_its_subscribers_missed() {
    let redis = Redis::start().await;
    let (addr_a, a) = node(&redis).await;
    let (_, b) = node(&redis).await;
    let mut client = connect(addr_a, "/news").await;
    assert_eq!(
        text(&mut client).await,
        "recovery: Ok(Subscribed { latest: None })"
    );
    publish(&b, "news", "m1".to_owned()).await;
    assert_eq!(parse(&text(&mut client).await).1, "m1");

    // Every subscription connection is cut: A hears nothing until it has reconnected,
    // while B goes on publishing (its commands connection is not a subscription).
    let _: redis::Value = redis
        .query(redis::cmd("CLIENT").arg("KILL").arg("TYPE").arg("pubsub"))
        .await
        .expect("CLIENT KILL");
    for i in 2..=200 {
        publish(&b, "news", format!("m{i}")).await;
        if i % 20 == 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    for i in 2..=200 {
        assert_eq!(parse(&text(&mut client).await).1, format!("m{i}"));
    }
    assert!(
        tokio::time::timeout(Duration::from_millis(300), next(&mut client))
            .await
            .is_err(),
        "nothing twice"
    );
    drop(a);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_whose_messages_were_trimmed_or_reset_is_told_it_cannot_recover() {
    let redis = Redis::start().await;
    let (addr, server) = node(&redis).await;

    let first = publish(&server, "short:news", "m1".to_owned()).await;
    for i in 2..=5 {
        publish(&server, "short:news", format!("m{i}")).await;
    }
    let latest = publish(&server, "short:news", "m6".to_owned()).await;
    // The history keeps 3: m4..m6. From m3 on it has everything after; from m1 it does not.
    let mut trimmed = connect(addr, &format!("/short?since={first}")).await;
    assert_eq!(
        text(&mut trimmed).await,
        format!("recovery: Ok(Trimmed {{ latest: Some({latest:?}) }})",)
    );
    let live = publish(&server, "short:news", "m7".to_owned()).await;
    assert_eq!(parse(&text(&mut trimmed).await), (live, "m7"));

    // Redis loses the topic's history: a new epoch begins.
    let _: i64 = redis
        .query(redis::cmd("DEL").arg("ws-server:history:short:news"))
        .await
        .expect("DEL");
    let renewed = publish(&server, "short:news", "m8".to_owned()).await;
    assert_ne!(
        renewed.to_string()[..16],
        live.to_string()[..16],
        "a new epoch"
    );
    let mut reset = connect(addr, &format!("/short?since={live}")).await;
    assert_eq!(
        text(&mut reset).await,
        format!("recovery: Ok(Reset {{ latest: Some({renewed:?}) }})")
    );

    // Within the history, recovery still works.
    let mut recovered = connect(addr, &format!("/short?since={renewed}")).await;
    assert_eq!(
        text(&mut recovered).await,
        "recovery: Ok(Recovered { missed: 0 })"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recovery_far_larger_than_the_queue_waits_for_room_under_the_wait_policy() {
    let redis = Redis::start().await;
    let (addr, server) = node(&redis).await;
    let first = publish(&server, "long:news", "m0".to_owned()).await;
    // 3,000 messages of about 40 bytes: 30 times what the queue holds, and more than
    // what messages from other nodes may wait for.
    for i in 1..=3000 {
        publish(&server, "long:news", format!("m{i}")).await;
    }
    let mut client = connect(addr, &format!("/patient?since={first}")).await;
    for i in 1..=3000 {
        let received = text(&mut client).await;
        assert_eq!(parse(&received).1, format!("m{i}"));
    }
    assert_eq!(
        text(&mut client).await,
        "recovery: Ok(Recovered { missed: 3000 })"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_older_than_the_age_bound_leave_the_history() {
    let redis = Redis::start().await;
    let (addr, server) = node(&redis).await;
    let old = publish(&server, "brief:news", "old".to_owned()).await;
    let kept = publish(&server, "brief:news", "kept".to_owned()).await;
    let mut early = connect(addr, &format!("/brief?since={old}")).await;
    assert_eq!(parse(&text(&mut early).await), (kept, "kept"));
    assert_eq!(
        text(&mut early).await,
        "recovery: Ok(Recovered { missed: 1 })"
    );

    // Messages keep coming, every 300 ms, for 1.5 s: the history stays, its first two
    // messages age out of it.
    let mut new = kept;
    for i in 0..5 {
        tokio::time::sleep(Duration::from_millis(300)).await;
        new = publish(&server, "brief:news", format!("tick {i}")).await;
    }
    let len: i64 = redis
        .query(redis::cmd("XLEN").arg("ws-server:history:brief:news"))
        .await
        .expect("XLEN");
    assert!(
        len <= 4,
        "{len} messages kept: only those under a second old"
    );
    let mut late = connect(addr, &format!("/brief?since={kept}")).await;
    assert_eq!(
        text(&mut late).await,
        format!("recovery: Ok(Trimmed {{ latest: Some({new:?}) }})")
    );

    // No message for longer than the age bound: the history is gone, a new epoch begins.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let renewed = publish(&server, "brief:news", "after a pause".to_owned()).await;
    let mut after_pause = connect(addr, &format!("/brief?since={new}")).await;
    assert_eq!(
        text(&mut after_pause).await,
        format!("recovery: Ok(Reset {{ latest: Some({renewed:?}) }})")
    );
}

#[tokio::test]
async fn a_history_without_redis_is_refused_when_binding() {
    let error = Server::builder()
        .route::<News>()
        .topic_history("", History::new(10))
        .bind("127.0.0.1:0")
        .await
        .expect_err("no Redis to keep it in");
    assert_eq!(error.kind(), std::io::ErrorKind::InvalidInput);
    assert!(error.to_string().contains("redis_backplane"), "{error}");
}
