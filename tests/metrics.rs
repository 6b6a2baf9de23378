//! The chat example with `--metrics`, run as its own process: after real traffic (joins, a
//! refused name, a malformed handshake, messages, a clean close and a lost connection),
//! its Prometheus endpoint reports exactly that traffic; two of them on a real Redis count
//! what crosses the backplane, and what is dropped while Redis is down.

mod support;

use std::{collections::BTreeSet, net::TcpListener, time::Duration};

use futures_util::SinkExt;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};
use tokio_tungstenite::tungstenite::{
    Message,
    protocol::{CloseFrame, frame::coding::CloseCode},
};

use support::{
    STEP, connect, example::Example, http_head, next, read_close, redis_server::Redis, status_of,
};

/// The metrics text served at `http://{addr}/metrics`.
async fn scrape(addr: &str) -> String {
    let fetch = async {
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        let request = format!("GET /metrics HTTP/1.0\r\nHost: {addr}\r\n\r\n");
        stream.write_all(request.as_bytes()).await.expect("write");
        let mut response = String::new();
        stream.read_to_string(&mut response).await.expect("read");
        response
    };
    let response = tokio::time::timeout(STEP, fetch)
        .await
        .expect("scraped in time");
    let (head, body) = response.split_once("\r\n\r\n").expect("an HTTP response");
    assert!(
        head.starts_with("HTTP/1.0 200") || head.starts_with("HTTP/1.1 200"),
        "{head}"
    );
    body.to_owned()
}

/// The value of the series `name` whose labels are exactly `labels`, in Prometheus text.
fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let wanted: BTreeSet<String> = labels
        .iter()
        .map(|(key, value)| format!("{key}=\"{value}\""))
        .collect();
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .find_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let (series_name, labels) = match series.split_once('{') {
                Some((series_name, labels)) => (series_name, labels.strip_suffix('}')?),
                None => (series, ""),
            };
            let labels: BTreeSet<String> = labels
                .split(',')
                .filter(|label| !label.is_empty())
                .map(str::to_owned)
                .collect();
            (series_name == name && labels == wanted).then(|| value.parse().ok())?
        })
}

fn text_of(message: Message) -> String {
    match message {
        Message::Text(text) => text.to_string(),
        other => panic!("expected text, got {other:?}"),
    }
}

#[tokio::test]
async fn the_chat_example_serves_prometheus_metrics_that_count_its_traffic() {
    let metrics_addr = free_addr();
    let chat = Example::start("chat", &["--metrics", &metrics_addr]).await;
    let addr = chat.addr;
    let resource = ("resource", "/chat");

    // Every text the clients receive, to count what the server sent.
    let mut received = Vec::new();
    let mut alice = connect(addr, "/chat?name=alice").await;
    received.push(text_of(next(&mut alice).await));
    let mut bob = connect(addr, "/chat?name=bob").await;
    received.push(text_of(next(&mut bob).await));
    let joined = text_of(next(&mut alice).await);
    assert_eq!(joined, "bob has joined");
    received.push(joined);

    // Refused by `accept` with a close, and a request that is no WebSocket handshake.
    let mut taken = connect(addr, "/chat?name=alice").await;
    assert_eq!(read_close(&mut taken).await.0, 4001);
    drop(taken);
    let head = http_head(addr, "GET /chat HTTP/1.1\r\nHost: chat\r\n\r\n").await;
    assert_eq!(status_of(&head), 400);

    let said = ["one", "two", "three"];
    for text in said {
        alice.send(Message::text(text)).await.expect("send");
        for client in [&mut alice, &mut bob] {
            let line = text_of(next(client).await);
            assert_eq!(line, format!("alice: {text}"));
            received.push(line);
        }
    }
    // Connections add their counts within a second, not only when they end.
    let counted = wait_for(
        &metrics_addr,
        "ws_messages_received_total",
        &[resource],
        3.0,
    )
    .await;
    assert_eq!(counted, 3.0);

    // Bob leaves with a close handshake (1000), alice's connection is just dropped (1006).
    bob.close(Some(CloseFrame {
        code: CloseCode::Normal,
        reason: "".into(),
    }))
    .await
    .expect("close");
    assert!(matches!(next(&mut bob).await, Message::Close(_)));
    let left = text_of(next(&mut alice).await);
    assert_eq!(left, "bob has left");
    received.push(left);
    drop(alice);

    let deadline = tokio::time::Instant::now() + STEP;
    let text = loop {
        let text = scrape(&metrics_addr).await;
        let closed = |code| {
            sample(
                &text,
                "ws_connections_closed_total",
                &[resource, ("code", code)],
            )
        };
        if closed("1006") == Some(1.0) && closed("1000") == Some(1.0) {
            break text;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never closed:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let value = |name, labels: &[(&str, &str)]| {
        sample(&text, name, labels).unwrap_or_else(|| panic!("no {name} {labels:?} in\n{text}"))
    };
    assert_eq!(value("ws_connections", &[resource]), 0.0);
    assert_eq!(value("ws_connections_opened_total", &[resource]), 2.0);
    let rejected = |status| {
        value(
            "ws_handshakes_rejected_total",
            &[resource, ("status", status)],
        )
    };
    assert_eq!(rejected("400"), 1.0);
    assert_eq!(rejected("4001"), 1.0);
    assert_eq!(value("ws_messages_received_total", &[resource]), 3.0);
    assert_eq!(
        value("ws_messages_sent_total", &[resource]),
        received.len() as f64
    );
    // Client frames are masked: 2 header bytes and a 4-byte key; the close carries 1000.
    let bytes_in: usize = said.iter().map(|text| 6 + text.len()).sum::<usize>() + (6 + 2);
    assert_eq!(
        value("ws_bytes_received_total", &[resource]),
        bytes_in as f64
    );
    // Every text is short (a 2-byte header), and so is the close that answers bob's.
    let bytes_out: usize = received.iter().map(|text| 2 + text.len()).sum::<usize>() + (2 + 2);
    assert_eq!(value("ws_bytes_sent_total", &[resource]), bytes_out as f64);
    assert_eq!(
        value("ws_slow_consumers_total", &[resource, ("policy", "close")]),
        0.0
    );
}

/// Polls the metrics at `addr` until `series` (labels `labels`) reaches `at_least`; returns
/// its value then.
async fn wait_for(addr: &str, series: &str, labels: &[(&str, &str)], at_least: f64) -> f64 {
    let deadline = tokio::time::Instant::now() + STEP;
    loop {
        let text = scrape(addr).await;
        match sample(&text, series, labels) {
            Some(value) if value >= at_least => return value,
            _ => {}
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{series} {labels:?} never reached {at_least}:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn free_addr() -> String {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("free port")
        .to_string()
}

#[tokio::test]
async fn two_chat_servers_on_redis_count_what_crosses_the_backplane() {
    let redis = Redis::start().await;
    let (metrics_a, metrics_b) = (free_addr(), free_addr());
    let url = redis.url();
    let a = Example::start("chat", &["--metrics", &metrics_a, "--redis", &url]).await;
    let b = Example::start("chat", &["--metrics", &metrics_b, "--redis", &url]).await;
    for addr in [&metrics_a, &metrics_b] {
        wait_for(addr, "ws_backplane_connected", &[], 1.0).await;
    }
    let mut alice = connect(a.addr, "/chat?name=alice").await;
    next(&mut alice).await;
    // "alice has joined" has crossed (to nobody yet) before bob joins.
    wait_for(&metrics_a, "ws_backplane_published_total", &[], 1.0).await;
    wait_for(&metrics_b, "ws_backplane_received_total", &[], 1.0).await;
    let mut bob = connect(b.addr, "/chat?name=bob").await;
    next(&mut bob).await;
    assert_eq!(text_of(next(&mut alice).await), "bob has joined");

    let published = |text: &str| sample(text, "ws_backplane_published_total", &[]).unwrap_or(0.0);
    let received = |text: &str| sample(text, "ws_backplane_received_total", &[]).unwrap_or(0.0);
    let published_before = published(&scrape(&metrics_a).await);
    let received_before = received(&scrape(&metrics_b).await);
    alice.send(Message::text("hi")).await.expect("send");
    assert_eq!(text_of(next(&mut bob).await), "alice: hi");
    assert_eq!(text_of(next(&mut alice).await), "alice: hi");
    // Counted once Redis has answered, which may be just after the delivery.
    let series = "ws_backplane_published_total";
    let published_after = wait_for(&metrics_a, series, &[], published_before + 1.0).await;
    assert_eq!(published_after, published_before + 1.0);
    let series = "ws_backplane_received_total";
    let received_after = wait_for(&metrics_b, series, &[], received_before + 1.0).await;
    assert_eq!(received_after, received_before + 1.0);

    // Without Redis, both say so, and what A would publish is counted as dropped.
    redis.stop().await;
    for addr in [&metrics_a, &metrics_b] {
        let deadline = tokio::time::Instant::now() + STEP;
        while sample(&scrape(addr).await, "ws_backplane_connected", &[]) != Some(0.0) {
            assert!(
                tokio::time::Instant::now() < deadline,
                "{addr} still connected"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    alice.send(Message::text("anyone?")).await.expect("send");
    assert_eq!(text_of(next(&mut alice).await), "alice: anyone?");
    wait_for(&metrics_a, "ws_backplane_dropped_total", &[], 1.0).await;
}
