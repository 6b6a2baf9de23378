use ws_server::{Bytes, CloseCode, Connection, Handler, Rejection, Request, Text, serve, ws_resource};

#[ws_resource("/chat/room-1", max_payload = 65_536, max_frames = 16usize, max_message = 1048576,)]
struct Chat {
    name: String,
}

impl Handler for Chat {
    async fn accept(request: &Request) -> Result<Self, Rejection> {
        Ok(Chat { name: request.query("name").unwrap_or_default().into_owned() })
    }

    async fn on_open(&mut self, conn: &Connection) {
        let _ = conn.send_text(format!("welcome {}", self.name)).await;
    }

    async fn on_text(&mut self, conn: &Connection, text: Text) {
        let _ = conn.send_text(text).await;
    }

    async fn on_binary(&mut self, conn: &Connection, data: Bytes) {
        let _ = conn.send_binary(data).await;
    }

    async fn on_close(&mut self, _conn: &Connection, _code: CloseCode, _reason: &str) {}
}

#[ws_resource(
    "/ticker",
    compression = "off",
    max_queue = 262144,
    slow_consumer = "drop",
    ping_interval = "15s",
    pong_timeout = "500ms",
    idle_timeout = "off"
)]
#[derive(Default)]
struct Ticker;

impl Handler for Ticker {}

#[ws_resource(
    "/slow",
    slow_consumer = "wait",
    ping_interval = "off",
    idle_timeout = "2h",
    compression = "client-takeover",
    compress_threshold = 0,
    window_bits = 10
)]
#[derive(Default)]
struct Slow;

impl Handler for Slow {}

#[ws_resource("/minimal")]
#[derive(Default)]
struct Minimal;

impl Handler for Minimal {}

fn main() {
    use ws_server::Resource;
    assert_eq!(Chat::PATH, "/chat/room-1");
    assert_eq!(Minimal::PATH, "/minimal");
    use std::time::Duration;
    let ticker = Ticker::CONFIG;
    assert_eq!(ticker.max_queue(), Some(262144));
    assert_eq!(ticker.slow_consumer(), Some(ws_server::SlowConsumer::Drop));
    assert_eq!(ticker.ping_interval(), Some(Some(Duration::from_secs(15))));
    assert_eq!(ticker.pong_timeout(), Some(Duration::from_millis(500)));
    assert_eq!(ticker.idle_timeout(), Some(None));
    assert_eq!(ticker.compression(), Some(false));
    let slow = Slow::CONFIG;
    assert_eq!(slow.ping_interval(), Some(None));
    assert_eq!(slow.idle_timeout(), Some(Some(Duration::from_secs(7200))));
    assert_eq!(slow.slow_consumer(), Some(ws_server::SlowConsumer::Wait));
    assert_eq!(slow.compression(), Some(true));
    assert_eq!(slow.client_context_takeover(), Some(true));
    assert_eq!((slow.compress_threshold(), slow.window_bits()), (Some(0), Some(10)));
    let addr = String::from("127.0.0.1:0");
    // Only type-checked: the servers are never started.
    let _by_expression = serve!(addr);
    let _by_literal = serve!("localhost:9001").state(7u32).with_graceful_shutdown(async {});
}

#[ws_resource(
    "/secure",
    origins = ["https://app.example.com", "http://localhost:8080", "https://*.example.org"],
    protocols = ["chat.v2", "chat.v1"],
    allow_no_protocol = true,
    max_connections = 1000,
)]
#[derive(Default)]
struct Secure;

impl Handler for Secure {}

#[ws_resource("/public", origins = "any")]
#[derive(Default)]
struct Public;

impl Handler for Public {}

const _: () = {
    use ws_server::{Origins, Resource};
    assert!(matches!(Public::CONFIG.origins(), Some(Origins::Any)));
    assert!(matches!(Secure::CONFIG.max_connections(), Some(1000)));
    assert!(matches!(Secure::CONFIG.allow_no_protocol(), Some(true)));
};
