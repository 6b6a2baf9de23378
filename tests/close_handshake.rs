//! The close handshake from either side, and connections that end without one.

mod support;

use futures_util::SinkExt;
use support::{Recorder, connect, expect_close, next, start, unique_tag, wait_for};
use tokio_tungstenite::tungstenite::{
    Message,
    protocol::{CloseFrame, frame::coding::CloseCode},
};
use ws_server::Server;

async fn recorder_client(tag: &str) -> support::Client {
    let addr = start(Server::builder().route::<Recorder>()).await;
    connect(addr, &format!("/record?tag={tag}")).await
}

fn closed(events: &[String]) -> bool {
    events.iter().any(|e| e.starts_with("close:"))
}

#[tokio::test]
async fn client_close_code_and_reason_reach_on_close_and_the_code_is_echoed() {
    let tag = unique_tag();
    let mut client = recorder_client(&tag).await;
    let frame = CloseFrame {
        code: CloseCode::from(4321),
        reason: "see you".into(),
    };
    client
        .send(Message::Close(Some(frame)))
        .await
        .expect("send close");
    assert_eq!(expect_close(&mut client).await.0, 4321);
    let events = wait_for(&tag, closed).await;
    assert_eq!(events, ["open", "close:4321:see you"]);
}

#[tokio::test]
async fn a_close_without_a_code_is_reported_as_1005() {
    let tag = unique_tag();
    let mut client = recorder_client(&tag).await;
    client.send(Message::Close(None)).await.expect("send close");
    assert_eq!(
        expect_close(&mut client).await.0,
        1005,
        "an empty close is echoed empty"
    );
    assert_eq!(
        wait_for(&tag, closed).await.last().map(String::as_str),
        Some("close:1005:")
    );
}

#[tokio::test]
async fn server_initiated_close_reaches_the_client_and_on_close() {
    let tag = unique_tag();
    let mut client = recorder_client(&tag).await;
    client.send(Message::text("close-me")).await.expect("send");
    assert_eq!(
        expect_close(&mut client).await,
        (4000, "as you wish".to_owned())
    );
    // tungstenite answers the close; the server then ends the connection.
    let events = wait_for(&tag, closed).await;
    assert_eq!(
        events.last().map(String::as_str),
        Some("close:4000:as you wish")
    );
}

#[tokio::test]
async fn messages_queued_before_a_close_are_delivered_first() {
    let tag = unique_tag();
    let mut client = recorder_client(&tag).await;
    client.feed(Message::text("one")).await.expect("feed");
    client.feed(Message::text("two")).await.expect("feed");
    client.feed(Message::text("close-me")).await.expect("feed");
    client
        .feed(Message::text("ignored after the close"))
        .await
        .expect("feed");
    client.flush().await.expect("flush");
    assert_eq!(next(&mut client).await, Message::text("one"));
    assert_eq!(next(&mut client).await, Message::text("two"));
    assert_eq!(expect_close(&mut client).await.0, 4000);
    let events = wait_for(&tag, closed).await;
    assert!(!events.iter().any(|e| e.contains("ignored")), "{events:?}");
}

#[tokio::test]
async fn a_client_that_vanishes_without_a_close_still_gets_on_close_1006() {
    let tag = unique_tag();
    let client = recorder_client(&tag).await;
    wait_for(&tag, |events| events.contains(&"open".to_owned())).await;
    drop(client);
    let events = wait_for(&tag, closed).await;
    assert_eq!(events, ["open", "close:1006:"]);
}

#[tokio::test]
async fn a_client_that_never_answers_the_close_is_dropped_after_the_timeout() {
    use std::time::Duration;
    let addr = start(
        Server::builder()
            .route::<Recorder>()
            .close_timeout(Duration::from_millis(200)),
    )
    .await;
    let tag = unique_tag();
    let mut stream = support::raw_upgrade(addr, &format!("/record?tag={tag}"), &[]).await;
    tokio::io::AsyncWriteExt::write_all(&mut stream, &support::masked(true, 1, b"close-me"))
        .await
        .expect("write");
    // Keep the socket open and silent: the server must give up on its own.
    let events = wait_for(&tag, closed).await;
    assert_eq!(
        events.last().map(String::as_str),
        Some("close:4000:as you wish")
    );
    let mut rest = Vec::new();
    let read = tokio::io::AsyncReadExt::read_to_end(&mut stream, &mut rest);
    tokio::time::timeout(support::STEP, read)
        .await
        .expect("server closed the socket")
        .expect("read");
}

#[tokio::test]
async fn a_panicking_callback_closes_its_connection_with_1011_and_on_close_still_runs() {
    let addr = start(Server::builder().route::<Recorder>()).await;
    let mut neighbour = connect(addr, &format!("/record?tag={}", unique_tag())).await;
    let tag = unique_tag();
    let mut client = connect(addr, &format!("/record?tag={tag}")).await;
    client.send(Message::text("panic")).await.expect("send");
    assert_eq!(
        expect_close(&mut client).await,
        (1011, "internal error".to_owned())
    );
    let events = wait_for(&tag, closed).await;
    assert_eq!(
        events.last().map(String::as_str),
        Some("close:1011:internal error")
    );
    assert_eq!(
        support::round_trip(&mut neighbour, "still here").await,
        "still here"
    );
}
