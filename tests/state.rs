//! Server-wide state: given to the builder, read in `accept`, in callbacks and outside.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};

use tokio_tungstenite::tungstenite::{self, http::StatusCode};
use ws_server::{Connection, Handler, Rejection, Request, Server, Text, ws_resource};

use support::{connect, round_trip, start_with_handle};

struct Tokens(Vec<&'static str>);

#[derive(Default)]
struct Counter(AtomicUsize);

#[ws_resource("/counted")]
struct Counted;

impl Handler for Counted {
    async fn accept(request: &Request) -> Result<Self, Rejection> {
        let tokens = request.state::<Tokens>().expect("tokens state");
        match request.query("token") {
            Some(token) if tokens.0.contains(&&*token) => Ok(Counted),
            _ => Err(StatusCode::UNAUTHORIZED.into()),
        }
    }

    async fn on_text(&mut self, conn: &Connection, _text: Text) {
        let counter = conn.state::<Counter>().expect("counter state");
        let count = counter.0.fetch_add(1, Ordering::SeqCst) + 1;
        let _ = conn.send_text(count.to_string()).await;
    }
}

#[tokio::test]
async fn state_reaches_accept_callbacks_and_the_handle() {
    let (addr, server) = start_with_handle(
        Server::builder()
            .route::<Counted>()
            .state(Tokens(vec!["let-me-in"]))
            .state(Counter::default()),
    )
    .await;

    let refused = tokio_tungstenite::connect_async(format!("ws://{addr}/counted?token=nope")).await;
    match refused {
        Err(tungstenite::Error::Http(response)) => assert_eq!(response.status(), 401),
        other => panic!("expected 401, got {other:?}"),
    }

    let mut a = connect(addr, "/counted?token=let-me-in").await;
    let mut b = connect(addr, "/counted?token=let-me-in").await;
    assert_eq!(round_trip(&mut a, "x").await, "1");
    assert_eq!(round_trip(&mut b, "x").await, "2");
    assert_eq!(round_trip(&mut a, "x").await, "3");
    let counter = server.state::<Counter>().expect("counter");
    assert_eq!(counter.0.load(Ordering::SeqCst), 3);
    assert!(server.state::<String>().is_none());
}
