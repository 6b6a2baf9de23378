//! Every line a connection logs carries its id, path and peer, through one `tracing` span.

mod support;

use std::{
    io::Write,
    sync::{Arc, Mutex},
};

use support::{connect, eventually, expect_close, masked, raw_upgrade, start};
use tokio::io::AsyncWriteExt;
use ws_server::Server;

echo_resource!(Echo, "/logged");

/// Collects what the subscriber writes.
#[derive(Clone, Default)]
struct Lines(Arc<Mutex<Vec<u8>>>);

impl Write for Lines {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("lock").extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Lines {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("lock")).into_owned()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connections_lines_share_its_span() {
    let lines = Lines::default();
    let writer = lines.clone();
    tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::INFO)
        .init();
    let addr = start(Server::builder().route::<Echo>()).await;
    let mut polite = connect(addr, "/logged?who=polite").await;
    drop(expect_close_after_close(&mut polite).await);
    // A protocol violation: its INFO line is in the connection's span too.
    let mut rude = raw_upgrade(addr, "/logged?who=rude", &[]).await;
    rude.write_all(&masked(true, 0x3, b"reserved"))
        .await
        .expect("write");
    assert_eq!(support::close_frame_of(rude).await.0, 1002);
    eventually("both connections to be logged as closed", || {
        lines.text().matches("connection closed").count() == 2
    })
    .await;
    let text = lines.text();
    for needle in [
        "connection opened",
        "failing the connection",
        "connection closed",
    ] {
        let line = text
            .lines()
            .find(|line| line.contains(needle))
            .unwrap_or_else(|| panic!("no {needle:?} in {text}"));
        assert!(
            line.contains("conn{id=")
                && line.contains("path=\"/logged\"")
                && line.contains("peer=127.0.0.1:"),
            "{line}"
        );
    }
}

/// Closes from the client's side and waits for the server to end the connection.
async fn expect_close_after_close(client: &mut support::Client) -> (u16, String) {
    client.close(None).await.expect("close");
    expect_close(client).await
}
