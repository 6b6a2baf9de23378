//! Callbacks run one at a time and in order; the connection handle exposes the request.

mod support;

use futures_util::SinkExt;
use support::{Recorder, connect, next, round_trip, start, unique_tag, wait_for};
use tokio_tungstenite::tungstenite::{Message, client::IntoClientRequest};
use ws_server::{Connection, Handler, Server, Text, ws_resource};

#[tokio::test]
async fn callbacks_of_one_connection_run_one_at_a_time_in_order() {
    let addr = start(Server::builder().route::<Recorder>()).await;
    let tag = unique_tag();
    let mut client = connect(addr, &format!("/record?tag={tag}")).await;
    for n in 1..=3 {
        client
            .feed(Message::text(format!("sleep {n}")))
            .await
            .expect("feed");
    }
    client
        .feed(Message::Binary(vec![1, 2, 3].into()))
        .await
        .expect("feed");
    client.flush().await.expect("flush");
    assert_eq!(
        next(&mut client).await,
        Message::Binary(vec![1, 2, 3].into())
    );
    client.close(None).await.expect("close");
    let events = wait_for(&tag, |events| {
        events.iter().any(|e| e.starts_with("close:"))
    })
    .await;
    let expected = [
        "open",
        "text:sleep 1",
        "begin:1",
        "end:1",
        "text:sleep 2",
        "begin:2",
        "end:2",
        "text:sleep 3",
        "begin:3",
        "end:3",
        "binary:3",
        "close:1005:",
    ];
    assert_eq!(events, expected);
}

#[tokio::test]
async fn a_connection_handle_sends_from_another_task() {
    let addr = start(Server::builder().route::<Recorder>()).await;
    let mut client = connect(addr, &format!("/record?tag={}", unique_tag())).await;
    client.send(Message::text("later")).await.expect("send");
    assert_eq!(next(&mut client).await, Message::text("from another task"));
}

/// Answers each message with what it knows of the request.
#[ws_resource("/inspect/here")]
#[derive(Default)]
struct Inspect;

impl Handler for Inspect {
    async fn on_text(&mut self, conn: &Connection, text: Text) {
        let answer = match text.as_str() {
            "path" => conn.path().to_owned(),
            "peer" => conn
                .peer_addr()
                .map(|peer| peer.to_string())
                .unwrap_or_default(),
            "header" => conn
                .headers()
                .get("x-custom")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("-")
                .to_owned(),
            name => conn
                .query(name)
                .map(|v| v.into_owned())
                .unwrap_or_else(|| "<none>".to_owned()),
        };
        let _ = conn.send_text(answer).await;
    }
}

#[tokio::test]
async fn path_query_headers_and_peer_are_visible() {
    let addr = start(Server::builder().route::<Inspect>()).await;
    let mut request = format!("ws://{addr}/inspect/here?name=J%C3%BCrgen+M&room=42&room=43")
        .into_client_request()
        .expect("request");
    request
        .headers_mut()
        .insert("x-custom", "custom value".parse().expect("header"));
    let (mut client, _) = tokio_tungstenite::connect_async(request)
        .await
        .expect("connect");
    assert_eq!(round_trip(&mut client, "path").await, "/inspect/here");
    assert_eq!(round_trip(&mut client, "name").await, "Jürgen M");
    assert_eq!(round_trip(&mut client, "room").await, "42");
    assert_eq!(round_trip(&mut client, "missing").await, "<none>");
    assert_eq!(round_trip(&mut client, "header").await, "custom value");
    let local = match client.get_ref() {
        tokio_tungstenite::MaybeTlsStream::Plain(stream) => {
            stream.local_addr().expect("local addr")
        }
        _ => unreachable!("plain TCP"),
    };
    assert_eq!(round_trip(&mut client, "peer").await, local.to_string());
}
