//! Graceful shutdown: close 1001 to everyone, wait for the handshakes, stop what is stuck,
//! and run every `on_close` exactly once.

mod support;

use std::{future::pending, time::Duration};

use tokio::{net::TcpStream, sync::oneshot};
use ws_server::{CloseCode, Connection, Handler, Rejection, Request, Server, Text, ws_resource};

use support::{
    Recorder, STEP, connect, events, expect_close, raw_upgrade, record, round_trip, start_running,
    unique_tag, wait_for,
};

/// Never finishes handling a message.
#[ws_resource("/stuck")]
struct Stuck {
    tag: String,
}

impl Handler for Stuck {
    async fn accept(request: &Request) -> Result<Self, Rejection> {
        let tag = request.query("tag").unwrap_or_default().into_owned();
        Ok(Stuck { tag })
    }

    async fn on_text(&mut self, _conn: &Connection, _text: Text) {
        record(&self.tag, "stuck");
        pending::<()>().await;
    }

    async fn on_close(&mut self, _conn: &Connection, code: CloseCode, reason: &str) {
        record(&self.tag, format!("close:{}:{reason}", code.as_u16()));
    }
}

fn builder(close_timeout: Duration) -> ws_server::Builder {
    Server::builder()
        .route::<Recorder>()
        .route::<Stuck>()
        .close_timeout(close_timeout)
        .shutdown_timeout(Duration::from_millis(800))
}

#[tokio::test]
async fn shutdown_closes_every_connection_with_1001_and_runs_on_close_once() {
    let (addr, handle, running) = start_running(builder(Duration::from_millis(300))).await;
    let tags: Vec<String> = (0..3).map(|_| unique_tag()).collect();
    let mut clients = Vec::new();
    for tag in &tags {
        let mut client = connect(addr, &format!("/record?tag={tag}")).await;
        assert_eq!(round_trip(&mut client, "hi").await, "hi");
        clients.push(client);
    }
    let readers: Vec<_> = clients
        .into_iter()
        .map(|mut client| tokio::spawn(async move { expect_close(&mut client).await }))
        .collect();

    tokio::time::timeout(STEP, handle.shutdown())
        .await
        .expect("shutdown finished");
    assert!(handle.is_shutting_down());
    for reader in readers {
        let (code, reason) = reader.await.expect("reader");
        assert_eq!((code, reason.as_str()), (1001, "server shutting down"));
    }
    for tag in &tags {
        assert_eq!(
            events(tag),
            ["open", "text:hi", "close:1001:server shutting down"],
            "on_close must run exactly once, before shutdown returns"
        );
    }
    assert_eq!(handle.connection_count(), 0);
    tokio::time::timeout(STEP, running)
        .await
        .expect("run returned")
        .expect("run task")
        .expect("run result");
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "the listener still accepts after shutdown"
    );
}

#[tokio::test]
async fn shutdown_stops_peers_that_never_answer_and_handlers_that_never_finish() {
    let (signal, on_signal) = oneshot::channel::<()>();
    // The close timeout is longer than the shutdown's deadline: the shutdown must stop
    // these connections itself.
    let server = builder(Duration::from_secs(30))
        .bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = server.local_addr().expect("addr");
    let running = tokio::spawn(server.with_graceful_shutdown(async {
        let _ = on_signal.await;
    }));
    // A peer that never reads, so never answers the close.
    let deaf = unique_tag();
    let _deaf = raw_upgrade(addr, &format!("/record?tag={deaf}"), b"").await;
    // A handler stuck in a callback.
    let stuck = unique_tag();
    let mut client = connect(addr, &format!("/stuck?tag={stuck}")).await;
    futures_util::SinkExt::send(&mut client, "wait forever".into())
        .await
        .expect("send");
    wait_for(&stuck, |events| events == ["stuck"]).await;
    wait_for(&deaf, |events| events == ["open"]).await;

    signal.send(()).expect("signal");
    tokio::time::timeout(STEP, running)
        .await
        .expect("the shutdown has a deadline")
        .expect("run task")
        .expect("run result");
    assert_eq!(events(&deaf), ["open", "close:1001:server shutting down"]);
    assert_eq!(events(&stuck), ["stuck", "close:1001:server shutting down"]);
}
