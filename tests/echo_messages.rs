//! Messages go through the echo resource intact: text, binary, empty, large, fragmented.

mod support;

use bytes::Bytes;
use futures_util::SinkExt;
use support::{Client, connect, next, round_trip, start};
use tokio_tungstenite::tungstenite::{
    Message,
    protocol::frame::{
        Frame,
        coding::{Data, OpCode},
    },
};
use ws_server::{Connection, Handler, Server, Text, ws_resource};

#[ws_resource("/echo")]
#[derive(Default)]
struct Echo;

impl Handler for Echo {
    async fn on_text(&mut self, conn: &Connection, text: Text) {
        conn.send_text(text).await.expect("send");
    }

    async fn on_binary(&mut self, conn: &Connection, data: Bytes) {
        conn.send_binary(data).await.expect("send");
    }
}

async fn echo_client() -> Client {
    let addr = start(Server::builder().route::<Echo>()).await;
    connect(addr, "/echo").await
}

#[tokio::test]
async fn text_and_binary_come_back_unchanged() {
    let mut client = echo_client().await;
    assert_eq!(
        round_trip(&mut client, "Hello, κόσμε").await,
        "Hello, κόσμε"
    );
    assert_eq!(round_trip(&mut client, "").await, "");
    let data = Bytes::from((0..=255u8).collect::<Vec<_>>());
    client
        .send(Message::Binary(data.clone()))
        .await
        .expect("send");
    assert_eq!(next(&mut client).await, Message::Binary(data));
    client
        .send(Message::Binary(Bytes::new()))
        .await
        .expect("send");
    assert_eq!(next(&mut client).await, Message::Binary(Bytes::new()));
}

#[tokio::test]
async fn a_large_message_within_the_default_limits_is_echoed() {
    let mut client = echo_client().await;
    let data: Bytes = (0..1_000_000u32)
        .map(|i| (i % 253) as u8)
        .collect::<Vec<_>>()
        .into();
    client
        .send(Message::Binary(data.clone()))
        .await
        .expect("send");
    assert_eq!(next(&mut client).await, Message::Binary(data));
}

#[tokio::test]
async fn fragments_with_an_interleaved_ping_are_reassembled() {
    let mut client = echo_client().await;
    let frames = [
        Frame::message(
            Bytes::from_static("frag".as_bytes()),
            OpCode::Data(Data::Text),
            false,
        ),
        Frame::ping(Bytes::from_static(b"mid-message")),
        Frame::message(
            Bytes::from_static("mented ".as_bytes()),
            OpCode::Data(Data::Continue),
            false,
        ),
        Frame::message(
            Bytes::from_static("wörld".as_bytes()),
            OpCode::Data(Data::Continue),
            true,
        ),
    ];
    for frame in frames {
        client.send(Message::Frame(frame)).await.expect("send");
    }
    let mut saw_pong = false;
    loop {
        match tokio::time::timeout(support::STEP, futures_util::StreamExt::next(&mut client))
            .await
            .expect("reply in time")
            .expect("open")
            .expect("read")
        {
            Message::Pong(payload) => {
                assert_eq!(&payload[..], b"mid-message");
                saw_pong = true;
            }
            Message::Text(text) => {
                assert_eq!(text.as_str(), "fragmented wörld");
                break;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(
        saw_pong,
        "the ping was answered before the message completed"
    );
}

#[tokio::test]
async fn many_messages_arrive_in_order_and_clients_are_independent() {
    let addr = start(Server::builder().route::<Echo>()).await;
    let mut a = connect(addr, "/echo").await;
    let mut b = connect(addr, "/echo").await;
    for i in 0..200 {
        a.feed(Message::text(format!("a{i}"))).await.expect("feed");
    }
    a.flush().await.expect("flush");
    assert_eq!(round_trip(&mut b, "b only").await, "b only");
    for i in 0..200 {
        assert_eq!(next(&mut a).await, Message::text(format!("a{i}")));
    }
}
