//! Pings, pong deadlines and idle timeouts, with clients that answer and clients that
//! don't.

mod support;

use std::time::Duration;

use futures_util::StreamExt;
use tokio::io::AsyncWriteExt;
use ws_server::{CloseCode, Connection, Handler, Rejection, Request, Server, Text, ws_resource};

use support::{
    connect, masked, raw_upgrade, read_frame, record, round_trip, start, unique_tag, wait_for,
};

macro_rules! echo_and_record {
    ($name:ident) => {
        impl Handler for $name {
            async fn accept(request: &Request) -> Result<Self, Rejection> {
                let tag = request.query("tag").unwrap_or_default().into_owned();
                Ok($name { tag })
            }

            async fn on_text(&mut self, conn: &Connection, text: Text) {
                let _ = conn.send_text(text).await;
            }

            async fn on_close(&mut self, _conn: &Connection, code: CloseCode, reason: &str) {
                record(&self.tag, format!("close:{}:{reason}", code.as_u16()));
            }
        }
    };
}

#[ws_resource("/beat", ping_interval = "100ms", pong_timeout = "200ms")]
struct Beat {
    tag: String,
}
echo_and_record!(Beat);

#[ws_resource("/idle", ping_interval = "off", idle_timeout = "300ms")]
struct Idle {
    tag: String,
}
echo_and_record!(Idle);

#[ws_resource("/slow-idle", ping_interval = "off", idle_timeout = "5m")]
#[derive(Default)]
struct SlowIdle;
impl Handler for SlowIdle {}

async fn server() -> std::net::SocketAddr {
    start(
        Server::builder()
            .route::<Beat>()
            .route::<Idle>()
            .close_timeout(Duration::from_millis(500)),
    )
    .await
}

#[tokio::test]
async fn a_client_that_ignores_pings_is_closed_with_1001() {
    let addr = server().await;
    let tag = unique_tag();
    let mut stream = raw_upgrade(addr, &format!("/beat?tag={tag}"), b"").await;
    // It reads what comes, but never answers.
    let (first, _) = read_frame(&mut stream).await;
    assert_eq!(first, 0x89, "expected a ping first");
    let close = loop {
        let (head, payload) = read_frame(&mut stream).await;
        match head {
            0x89 => continue,
            0x88 => break payload,
            other => panic!("unexpected frame {other:#x}"),
        }
    };
    assert_eq!(u16::from_be_bytes([close[0], close[1]]), 1001);
    assert_eq!(&close[2..], b"ping timeout");
    wait_for(&tag, |events| events == ["close:1001:ping timeout"]).await;
}

#[tokio::test]
async fn a_client_that_answers_pings_stays_connected() {
    let addr = server().await;
    let tag = unique_tag();
    let mut client = connect(addr, &format!("/beat?tag={tag}")).await;
    // tungstenite answers pings while it reads; read for several pong deadlines.
    let mut pings = 0;
    let listen = async {
        while let Some(Ok(message)) = client.next().await {
            assert!(message.is_ping(), "unexpected {message:?}");
            pings += 1;
        }
    };
    let _ = tokio::time::timeout(Duration::from_millis(1000), listen).await;
    assert!(pings >= 5, "only {pings} pings in a second");
    assert_eq!(round_trip(&mut client, "still here").await, "still here");
    assert!(support::events(&tag).is_empty());
}

#[tokio::test]
async fn a_silent_client_is_closed_after_the_idle_timeout() {
    let addr = server().await;
    let tag = unique_tag();
    let mut stream = raw_upgrade(addr, &format!("/idle?tag={tag}"), b"").await;
    let (head, payload) = read_frame(&mut stream).await;
    assert_eq!(head, 0x88);
    assert_eq!(u16::from_be_bytes([payload[0], payload[1]]), 1001);
    assert_eq!(&payload[2..], b"idle timeout");
    stream
        .write_all(&masked(true, 0x8, &payload[..2]))
        .await
        .expect("close reply");
    wait_for(&tag, |events| events == ["close:1001:idle timeout"]).await;
}

#[tokio::test]
async fn a_talking_client_is_not_idle() {
    let addr = server().await;
    let tag = unique_tag();
    let mut client = connect(addr, &format!("/idle?tag={tag}")).await;
    for i in 0..10 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(round_trip(&mut client, &i.to_string()).await, i.to_string());
    }
    assert!(
        support::events(&tag).is_empty(),
        "closed although it talked"
    );
}

/// A user's own tests often run on tokio's paused clock: the connections' deadlines follow
/// it, so a 5-minute idle timeout fires as soon as the runtime has nothing else to do,
/// instead of five minutes later.
#[test]
fn deadlines_follow_a_paused_clock() {
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .start_paused(true)
            .build()
            .expect("runtime");
        let outcome = runtime.block_on(async {
            let addr = start(Server::builder().route::<SlowIdle>()).await;
            let begun = tokio::time::Instant::now();
            let (mut client, _) =
                tokio_tungstenite::connect_async(format!("ws://{addr}/slow-idle"))
                    .await
                    .expect("handshake");
            let message = client.next().await;
            (message, begun.elapsed())
        });
        let _ = done.send(outcome);
    });
    let (message, waited) = finished
        .recv_timeout(Duration::from_secs(30))
        .expect("the idle timeout did not follow the paused clock");
    let Some(Ok(tokio_tungstenite::tungstenite::Message::Close(Some(close)))) = message else {
        panic!("expected a close frame, got {message:?}");
    };
    assert_eq!(u16::from(close.code), 1001);
    assert_eq!(close.reason.as_str(), "idle timeout");
    assert!(
        waited >= Duration::from_secs(300),
        "closed after {waited:?}"
    );
}
