//! Several servers as one cluster on a real Redis: every node lists every node's
//! connections and reaches them (send, close) wherever they live; claims are exclusive
//! across nodes; a node killed with `kill -9` drops out within the presence TTL; after a
//! Redis restart every node registers again.

mod support;

#[path = "../examples/chat/room.rs"]
mod room;

use std::{
    net::SocketAddr,
    time::{Duration, Instant},
};

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;
use ws_server::{
    CloseCode, ClusterConnection, Connection, Handler, Server, ServerHandle, Text, ws_resource,
};

use support::{
    Client, STEP, connect,
    example::Example,
    expect_close, next,
    redis_server::{Redis, start_connected},
    round_trip, start_with_handle,
};

/// `claim:NAME` answers `claimed:true` or `claimed:false`; `release:NAME` answers
/// `released:BOOL`.
#[ws_resource("/room")]
#[derive(Default)]
struct Room;

impl Handler for Room {
    async fn on_text(&mut self, conn: &Connection, text: Text) {
        if let Some(name) = text.strip_prefix("claim:") {
            let won = conn.claim(name).await.expect("Redis answers");
            let _ = conn.send_text(format!("claimed:{won}")).await;
        } else if let Some(name) = text.strip_prefix("release:") {
            let released = conn.release(name);
            let _ = conn.send_text(format!("released:{released}")).await;
        }
    }
}

#[ws_resource("/lobby")]
#[derive(Default)]
struct Lobby;

impl Handler for Lobby {}

/// Receives broadcasts; a small queue, and senders wait for room.
#[ws_resource("/patient", slow_consumer = "wait", max_queue = 8192)]
#[derive(Default)]
struct Patient;

impl Handler for Patient {}

const TTL: Duration = Duration::from_secs(1);

async fn node(redis: &Redis) -> (SocketAddr, ServerHandle) {
    start_connected(
        Server::builder()
            .route::<Room>()
            .route::<Lobby>()
            .route::<Patient>()
            .redis_backplane(redis.url())
            .presence_ttl(TTL),
    )
    .await
}

/// Polls `server`'s cluster listing at `path` until `done` holds; returns it.
async fn listing(
    server: &ServerHandle,
    path: &str,
    done: impl Fn(&[ClusterConnection]) -> bool,
) -> Vec<ClusterConnection> {
    let deadline = Instant::now() + STEP;
    loop {
        let conns = server
            .cluster_connections_at(path)
            .await
            .expect("Redis answers");
        if done(&conns) {
            return conns;
        }
        assert!(
            Instant::now() < deadline,
            "the listing never settled: {conns:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn names(conns: &[ClusterConnection]) -> Vec<String> {
    let mut names: Vec<String> = conns
        .iter()
        .filter_map(|conn| conn.query("name").map(|name| name.into_owned()))
        .collect();
    names.sort();
    names
}

async fn text(client: &mut Client) -> String {
    match next(client).await {
        Message::Text(text) => text.to_string(),
        other => panic!("expected text, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_list_reach_and_close_each_others_connections() {
    let redis = Redis::start().await;
    let (addr_a, a) = node(&redis).await;
    let (addr_b, b) = node(&redis).await;
    let (addr_c, c) = node(&redis).await;
    let _ann = connect(addr_a, "/room?name=ann").await;
    let mut bea = connect(addr_b, "/room?name=bea").await;
    let mut cid = connect(addr_c, "/room?name=cid").await;
    let _cal = connect(addr_c, "/lobby?name=cal").await;

    let everyone = |conns: &[ClusterConnection]| names(conns) == ["ann", "bea", "cid"];
    let rooms = listing(&a, "/room", everyone).await;
    listing(&b, "/room", everyone).await;
    listing(&c, "/room", everyone).await;
    assert_eq!(a.cluster_connections().await.expect("listing").len(), 4);
    assert_eq!(c.cluster_connection_count().await.expect("count"), 4);
    for conn in &rooms {
        let home = match conn.query("name").as_deref() {
            Some("ann") => &a,
            Some("bea") => &b,
            _ => &c,
        };
        assert_eq!(conn.node(), home.node_id());
        assert_eq!(conn.path(), "/room");
        assert_eq!(conn.as_local().is_some(), conn.node() == a.node_id());
    }

    // From A, a message to Cid on C and a close for Bea on B.
    let find = |name: &str| {
        rooms
            .iter()
            .find(|conn| conn.query("name").as_deref() == Some(name))
            .expect("listed")
            .clone()
    };
    find("cid").send_text("hello from A").await.expect("sent");
    assert_eq!(text(&mut cid).await, "hello from A");
    find("bea")
        .close(CloseCode::new(4002), "closed from A")
        .expect("sent");
    assert_eq!(
        expect_close(&mut bea).await,
        (4002, "closed from A".to_owned())
    );
    listing(&a, "/room", |conns| names(conns) == ["ann", "cid"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_racing_for_a_claim_exactly_one_wins() {
    let redis = Redis::start().await;
    let (addr_a, _a) = node(&redis).await;
    let (addr_b, _b) = node(&redis).await;
    let mut on_a = connect(addr_a, "/room").await;
    let mut on_b = connect(addr_b, "/room").await;
    for round in 0..20 {
        let claim = format!("claim:name-{round}");
        on_a.send(Message::text(claim.clone())).await.expect("send");
        on_b.send(Message::text(claim)).await.expect("send");
        let (won_a, won_b) = (text(&mut on_a).await, text(&mut on_b).await);
        let wins = [&won_a, &won_b]
            .iter()
            .filter(|answer| answer.as_str() == "claimed:true")
            .count();
        assert_eq!(wins, 1, "round {round}: {won_a} and {won_b}");
        // The winner gives it up: then it is the other's to take.
        let (winner, loser) = if won_a == "claimed:true" {
            (&mut on_a, &mut on_b)
        } else {
            (&mut on_b, &mut on_a)
        };
        let name = format!("name-{round}");
        assert_eq!(
            round_trip(winner, &format!("release:{name}")).await,
            "released:true"
        );
        let deadline = Instant::now() + STEP;
        while round_trip(loser, &format!("claim:{name}")).await != "claimed:true" {
            assert!(Instant::now() < deadline, "{name} was never free again");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    // A holder's end frees its names too.
    assert_eq!(round_trip(&mut on_a, "claim:kept").await, "claimed:true");
    assert_eq!(round_trip(&mut on_b, "claim:kept").await, "claimed:false");
    drop(on_a);
    let deadline = Instant::now() + STEP;
    while round_trip(&mut on_b, "claim:kept").await != "claimed:true" {
        assert!(Instant::now() < deadline, "a closed holder kept its claim");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_redis_restarts_every_node_registers_its_connections_and_claims_again() {
    let redis = Redis::start().await;
    let port = redis.port();
    let (addr_a, a) = node(&redis).await;
    let (addr_b, _b) = node(&redis).await;
    let mut ann = connect(addr_a, "/room?name=ann").await;
    let _bea = connect(addr_b, "/room?name=bea").await;
    assert_eq!(round_trip(&mut ann, "claim:ann").await, "claimed:true");
    listing(&a, "/room", |conns| names(conns) == ["ann", "bea"]).await;

    redis.stop().await;
    let redis = Redis::start_on(port).await;
    // Redis came back empty; the nodes write everything again.
    listing(&a, "/room", |conns| names(conns) == ["ann", "bea"]).await;
    let mut other = connect(addr_b, "/room?name=other").await;
    let deadline = Instant::now() + STEP;
    loop {
        let held: Option<String> = redis
            .query(redis::cmd("GET").arg("ws-server:claim:ann"))
            .await
            .expect("GET");
        if held.is_some() {
            break;
        }
        assert!(Instant::now() < deadline, "the claim was not taken back");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(round_trip(&mut other, "claim:ann").await, "claimed:false");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chat_node_killed_without_a_goodbye_drops_out_within_the_ttl() {
    let redis = Redis::start().await;
    let url = redis.url();
    let mut doomed = Example::start("chat", &["--redis", &url, "--presence-ttl", "1"]).await;
    let (addr, server) = start_with_handle(
        Server::builder()
            .route::<room::Chat>()
            .fallback(room::page())
            .redis_backplane(url.clone())
            .presence_ttl(TTL),
    )
    .await;
    let mut zoe = connect(doomed.addr, "/chat?name=zoe").await;
    assert!(text(&mut zoe).await.starts_with("Welcome, zoe"));
    listing(&server, "/chat", |conns| names(conns) == ["zoe"]).await;

    // One chat across the nodes: the welcome names Zoe, and her name is taken here too.
    let mut yan = connect(addr, "/chat?name=yan").await;
    assert_eq!(text(&mut yan).await, "Welcome, yan! Here: zoe.");
    let mut impostor = connect(addr, "/chat?name=zoe").await;
    assert_eq!(
        expect_close(&mut impostor).await,
        (4001, "that name is taken".to_owned())
    );

    let status = std::process::Command::new("kill")
        .args(["-KILL", &doomed.pid().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let killed = Instant::now();
    let _ = doomed.wait().await;
    listing(&server, "/chat", |conns| names(conns) == ["yan"]).await;
    let gone = killed.elapsed();
    assert!(
        gone <= TTL + Duration::from_millis(1500),
        "the dead node was listed for {gone:?}"
    );
    // Her name is free again once her node's claims have expired.
    let deadline = Instant::now() + STEP;
    loop {
        let mut zoe = connect(addr, "/chat?name=zoe").await;
        if let Message::Text(welcome) = next(&mut zoe).await {
            assert_eq!(welcome.as_str(), "Welcome, zoe! Here: yan.");
            break;
        }
        assert!(Instant::now() < deadline, "zoe's name stayed taken");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!("a killed node dropped out of the listing after {gone:?}");
    let _ = zoe.next().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_under_the_wait_policy_does_not_hold_up_what_other_nodes_send() {
    let redis = Redis::start().await;
    let (addr_a, a) = node(&redis).await;
    let (_, b) = node(&redis).await;
    redis
        .wait_for_subscribers("ws-server:path:/patient", 2)
        .await;
    // On A: one client that never reads, one that does.
    let _stalled = support::stalled_client(addr_a, "/patient").await;
    let mut reader = connect(addr_a, "/patient").await;
    support::eventually("both connected on A", || {
        a.connections_at("/patient").len() == 2
    })
    .await;
    // From B, far more than the stalled queue and socket buffers hold (less than the
    // backlog a connection may have).
    let chunk = "x".repeat(1000);
    for round in 0..500 {
        let _ = b.broadcast_at("/patient", format!("{round}:{chunk}")).await;
    }
    for round in 0..500 {
        let got = text(&mut reader).await;
        assert!(
            got.starts_with(&format!("{round}:")),
            "expected message {round}, got {}",
            &got[..got.len().min(20)]
        );
    }
}
