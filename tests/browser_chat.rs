//! The chat example in two headless Chromium windows, driven through WebDriver
//! (chromedriver): they join, talk, see each other's messages and the leave notice; a
//! taken name is refused with a reason the page shows.
//!
//! Needs Debian's `chromium` and `chromium-driver`, which `.ci/run` installs.

mod support;

#[path = "../examples/chat/room.rs"]
mod room;

use std::{
    net::{SocketAddr, TcpListener},
    path::PathBuf,
    process::Stdio,
    time::Duration,
};

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;
use tokio::process::{Child, Command};
use ws_server::Server;

use support::{eventually, start_with_handle};

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";
/// Chromium is slow to start on a small machine.
const BROWSER_STEP: Duration = Duration::from_secs(20);

/// chromedriver on a free loopback port; killed when dropped.
struct Driver {
    _process: Child,
    url: String,
}

async fn chromedriver() -> Driver {
    assert!(
        std::path::Path::new(CHROMEDRIVER).exists() && std::path::Path::new(CHROMIUM).exists(),
        "this test needs Debian's chromium and chromium-driver (apt-get install chromium \
         chromium-driver; .ci/run installs them)"
    );
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("free port")
        .port();
    let process = Command::new(CHROMEDRIVER)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start chromedriver");
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let ready = async {
        while tokio::net::TcpStream::connect(addr).await.is_err() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    tokio::time::timeout(BROWSER_STEP, ready)
        .await
        .expect("chromedriver did not start");
    Driver {
        _process: process,
        url: format!("http://{addr}"),
    }
}

/// A fresh profile directory per window, removed when dropped.
struct Profile(PathBuf);

impl Profile {
    fn new(name: &str) -> Profile {
        let dir =
            std::env::temp_dir().join(format!("ws-server-chat-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("profile dir");
        Profile(dir)
    }
}

impl Drop for Profile {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn window(driver: &Driver, profile: &Profile) -> Client {
    window_with(driver, profile, &[]).await
}

/// A Chromium window with `more` command-line arguments.
async fn window_with(driver: &Driver, profile: &Profile, more: &[&str]) -> Client {
    let mut args = vec![
        "--headless".to_owned(),
        "--no-sandbox".to_owned(),
        "--disable-gpu".to_owned(),
        "--disable-quic".to_owned(),
        "--no-first-run".to_owned(),
        "--disable-background-networking".to_owned(),
        "--disable-component-update".to_owned(),
        "--disable-sync".to_owned(),
        format!("--user-data-dir={}", profile.0.display()),
    ];
    args.extend(more.iter().map(|arg| (*arg).to_owned()));
    let mut capabilities = serde_json::Map::new();
    capabilities.insert(
        "goog:chromeOptions".to_owned(),
        json!({ "binary": CHROMIUM, "args": args }),
    );
    let mut builder = ClientBuilder::new(HttpConnector::new());
    builder.capabilities(capabilities);
    tokio::time::timeout(BROWSER_STEP, builder.connect(&driver.url))
        .await
        .expect("chromium did not start in time")
        .expect("WebDriver session")
}

/// Opens the page at `page` and asks to join as `name`.
async fn try_join(window: &Client, page: &str, name: &str) {
    window.goto(page).await.expect("open the page");
    let field = window.find(Locator::Id("name")).await.expect("name field");
    field.send_keys(name).await.expect("type the name");
    window
        .find(Locator::Id("join"))
        .await
        .expect("join")
        .click()
        .await
        .expect("click join");
}

async fn join(window: &Client, page: &str, name: &str) {
    try_join(window, page, name).await;
    wait_for_text(window, "status", &format!("connected as {name}")).await;
    // The page records `WebSocket.extensions`: what Chromium negotiated.
    let extensions = window
        .find(Locator::Id("status"))
        .await
        .expect("status")
        .attr("data-extensions")
        .await
        .expect("attribute")
        .unwrap_or_default();
    assert!(
        extensions.starts_with("permessage-deflate"),
        "Chromium did not negotiate compression: {extensions:?}"
    );
}

async fn say(window: &Client, text: &str) {
    let field = window
        .find(Locator::Id("message"))
        .await
        .expect("message field");
    field.send_keys(text).await.expect("type");
    window
        .find(Locator::Id("send"))
        .await
        .expect("send")
        .click()
        .await
        .expect("click send");
}

/// Waits until the element's text contains `expected`; returns the text.
async fn wait_for_text(window: &Client, id: &str, expected: &str) -> String {
    let poll = async {
        loop {
            let text = window
                .find(Locator::Id(id))
                .await
                .expect("element")
                .text()
                .await
                .expect("text");
            if text.contains(expected) {
                return text;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    tokio::time::timeout(BROWSER_STEP, poll)
        .await
        .unwrap_or_else(|_| panic!("#{id} never showed {expected:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_browsers_chat_and_see_each_other_leave() {
    let (addr, server) = start_with_handle(
        Server::builder()
            .route::<room::Chat>()
            .fallback(room::page()),
    )
    .await;
    let driver = chromedriver().await;
    let (alice_profile, bob_profile) = (Profile::new("alice"), Profile::new("bob"));
    let alice = window(&driver, &alice_profile).await;
    let bob = window(&driver, &bob_profile).await;

    let page = format!("http://{addr}/");
    join(&alice, &page, "alice").await;
    wait_for_text(&alice, "log", "Welcome, alice! Nobody else is here yet.").await;
    // A taken name: the page shows why (a browser sees the close, never an HTTP status).
    try_join(&bob, &page, "alice").await;
    wait_for_text(&bob, "status", "disconnected (4001 that name is taken)").await;
    join(&bob, &page, "bob").await;
    wait_for_text(&bob, "log", "Welcome, bob! Here: alice.").await;
    wait_for_text(&alice, "log", "bob has joined").await;
    assert_eq!(server.connections_at("/chat").len(), 2);

    say(&alice, "hello bob").await;
    wait_for_text(&bob, "log", "alice: hello bob").await;
    wait_for_text(&alice, "log", "alice: hello bob").await;
    say(&bob, "hi alice").await;
    wait_for_text(&alice, "log", "bob: hi alice").await;

    bob.close().await.expect("close bob's window");
    let log = wait_for_text(&alice, "log", "bob has left").await;
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(
        lines,
        [
            "Welcome, alice! Nobody else is here yet.",
            "bob has joined",
            "alice: hello bob",
            "bob: hi alice",
            "bob has left",
        ]
    );
    eventually("bob's connection left the registry", || {
        server.connections_at("/chat").len() == 1
    })
    .await;
    alice.close().await.expect("close alice's window");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_tls_chromium_chats_whether_its_websocket_rides_http2_or_not() {
    let generated =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("certificate");
    let tls = ws_server::TlsConfig::from_pem(
        generated.cert.pem().as_bytes(),
        generated.signing_key.serialize_pem().as_bytes(),
    )
    .expect("TLS config");
    let (addr, server) = start_with_handle(
        Server::builder()
            .route::<room::Chat>()
            .fallback(room::page())
            .tls(tls),
    )
    .await;
    let driver = chromedriver().await;
    let (alice_profile, bob_profile) = (Profile::new("tls-alice"), Profile::new("tls-bob"));
    // Trusts the test's own certificate: it is the only one this window sees.
    let trust = ["--ignore-certificate-errors"];
    let alice = window_with(&driver, &alice_profile, &trust).await;
    let bob = window_with(&driver, &bob_profile, &trust).await;

    let page = format!("https://localhost:{}/", addr.port());
    join(&alice, &page, "alice").await;
    join(&bob, &page, "bob").await;
    wait_for_text(&alice, "log", "bob has joined").await;
    say(&bob, "over TLS").await;
    wait_for_text(&alice, "log", "bob: over TLS").await;
    let versions: Vec<http::Version> = server
        .connections_at("/chat")
        .iter()
        .map(|conn| conn.request().version())
        .collect();
    assert_eq!(versions.len(), 2);
    // Which one Chromium picks is its business; the chat must work either way.
    eprintln!("Chromium's chat WebSockets went over {versions:?}");
    alice.close().await.expect("close alice's window");
    bob.close().await.expect("close bob's window");
}
