//! Rolling restarts: a shutdown in `ShutdownMode::Restart` closes each connection with 1012
//! at its own moment, spread evenly over the window, while the others keep being served;
//! and the chat example does it on SIGTERM, as an orchestrator would stop it.

mod support;

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::{net::TcpStream, time::Instant};
use tokio_tungstenite::tungstenite::Message;
use ws_server::{Server, ShutdownMode};

use support::{
    Client, Recorder, STEP, connect, events, example::Example, start_running, unique_tag, wait_for,
};

const CLIENTS: usize = 200;
const WINDOW: Duration = Duration::from_secs(2);
/// How late a close may come, past its moment, on a busy 2-core machine.
const SLACK: Duration = Duration::from_millis(500);

/// What one client saw once the shutdown began.
#[derive(Debug)]
struct Seen {
    /// When the close frame came, since the shutdown began.
    closed_at: Duration,
    code: u16,
    reason: String,
    /// When its latest echo came back, since the shutdown began.
    last_echo: Option<Duration>,
}

/// Echoes a message every 50 ms until the server's close frame comes.
async fn echo_until_closed(mut client: Client, began: Instant) -> Seen {
    let mut last_echo = None;
    loop {
        client
            .send(Message::text("still here?"))
            .await
            .expect("send");
        loop {
            let message = tokio::time::timeout(WINDOW + STEP, client.next())
                .await
                .expect("the server answers or closes")
                .expect("the connection stays up until closed")
                .expect("a message");
            match message {
                Message::Text(text) => {
                    assert_eq!(text.as_str(), "still here?");
                    last_echo = Some(began.elapsed());
                    break;
                }
                Message::Close(frame) => {
                    let frame = frame.expect("a close code");
                    return Seen {
                        closed_at: began.elapsed(),
                        code: u16::from(frame.code),
                        reason: frame.reason.to_string(),
                        last_echo,
                    };
                }
                _ => {}
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_closes_with_1012_spread_evenly_over_the_window_and_serves_the_rest() {
    let (addr, handle, running) = start_running(Server::builder().route::<Recorder>()).await;
    let tags: Vec<String> = (0..CLIENTS).map(|_| unique_tag()).collect();
    let mut clients = Vec::new();
    for tag in &tags {
        clients.push(connect(addr, &format!("/record?tag={tag}")).await);
    }
    for tag in &tags {
        wait_for(tag, |events| events == ["open"]).await;
    }

    let began = Instant::now();
    let readers: Vec<_> = clients
        .into_iter()
        .map(|client| tokio::spawn(echo_until_closed(client, began)))
        .collect();
    let shutdown = tokio::spawn({
        let handle = handle.clone();
        async move {
            handle
                .shutdown_with(ShutdownMode::Restart { window: WINDOW })
                .await
        }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "a restarting server still accepts: the load balancer should send clients elsewhere"
    );
    let mut seen = Vec::new();
    for reader in readers {
        seen.push(reader.await.expect("client"));
    }
    tokio::time::timeout(STEP, shutdown)
        .await
        .expect("the shutdown ends after the window")
        .expect("shutdown task");
    let took = began.elapsed();
    tokio::time::timeout(STEP, running)
        .await
        .expect("run returned")
        .expect("run task")
        .expect("run result");

    for (tag, seen) in tags.iter().zip(&seen) {
        assert_eq!(
            (seen.code, seen.reason.as_str()),
            (1012, "server restarting")
        );
        assert!(
            seen.closed_at <= WINDOW + SLACK,
            "closed at {:?}, after the window",
            seen.closed_at
        );
        wait_for(tag, |events| {
            events.last().is_some_and(|e| e.starts_with("close"))
        })
        .await;
        assert_eq!(
            events(tag).last().map(String::as_str),
            Some("close:1012:server restarting")
        );
    }
    assert!(took >= WINDOW, "the shutdown returned after {took:?}");

    // Even: each tenth of the window closes about a tenth of the clients, never a burst.
    let mut tenths = [0usize; 10];
    for seen in &seen {
        let tenth = seen.closed_at.as_secs_f64() / WINDOW.as_secs_f64() * 10.0;
        tenths[(tenth as usize).min(9)] += 1;
    }
    let share = CLIENTS / 10;
    assert!(
        tenths
            .iter()
            .all(|&count| count >= share / 2 && count <= share * 2),
        "closes per tenth of the window: {tenths:?}"
    );
    // Served meanwhile: the clients closed last echoed in the window's second half.
    let late: Vec<&Seen> = seen
        .iter()
        .filter(|seen| seen.closed_at >= WINDOW.mul_f64(0.8))
        .collect();
    assert!(!late.is_empty());
    for seen in late {
        let last_echo = seen.last_echo.expect("echoes during the window");
        assert!(
            last_echo >= WINDOW / 2,
            "a client closed at {:?} last echoed at {last_echo:?}",
            seen.closed_at
        );
    }
}

/// Reads the chat's messages until its close frame; when that came, and its code and reason.
async fn read_until_closed(mut client: Client, began: Instant) -> (Duration, u16, String) {
    loop {
        let message = tokio::time::timeout(WINDOW + STEP, client.next())
            .await
            .expect("closed in time")
            .expect("the connection stays up until closed")
            .expect("a message");
        if let Message::Close(frame) = message {
            let frame = frame.expect("a close code");
            return (
                began.elapsed(),
                u16::from(frame.code),
                frame.reason.to_string(),
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_chat_example_spreads_its_closes_on_sigterm() {
    let mut chat = Example::start("chat", &["--restart-window", "1.5"]).await;
    let window = Duration::from_millis(1500);
    let mut clients = Vec::new();
    for n in 0..40 {
        clients.push(connect(chat.addr, &format!("/chat?name=user{n}")).await);
    }
    // Everyone has been welcomed (others' joins may come first): the server knows all.
    for client in &mut clients {
        loop {
            match support::next(client).await {
                Message::Text(text) if text.starts_with("Welcome") => break,
                Message::Text(text) if text.ends_with("has joined") => {}
                other => panic!("expected a welcome, got {other:?}"),
            }
        }
    }

    let began = Instant::now();
    let readers: Vec<_> = clients
        .into_iter()
        .map(|client| tokio::spawn(read_until_closed(client, began)))
        .collect();
    let status = std::process::Command::new("kill")
        .args(["-TERM", &chat.pid().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
    let mut closed_at = Vec::new();
    for reader in readers {
        let (at, code, reason) = reader.await.expect("client");
        assert_eq!((code, reason.as_str()), (1012, "server restarting"));
        closed_at.push(at);
    }
    assert!(
        tokio::time::timeout(STEP, chat.wait())
            .await
            .expect("exits in time"),
        "the chat exits successfully after a restart"
    );
    closed_at.sort();
    let (first, last) = (closed_at[0], closed_at[closed_at.len() - 1]);
    assert!(
        first < window / 4 && last >= window.mul_f64(0.75) && last <= window + SLACK,
        "closes from {first:?} to {last:?}, not spread over {window:?}"
    );
    let log = chat.log().join("\n");
    assert!(
        log.contains("shutting down: closing every connection") && log.contains("code=1012"),
        "{log}"
    );
}
