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
    let server = ws_server::Backpressure::DEFAULT;
    let ticker = Ticker::CONFIG.backpressure(server);
    assert_eq!(ticker.max_queue_len(), 262144);
    assert_eq!(ticker.slow_consumer(), ws_server::SlowConsumer::Drop);
    let heartbeat = Ticker::CONFIG.heartbeat(ws_server::Heartbeat::DEFAULT);
    assert_eq!(heartbeat.ping_every(), Some(std::time::Duration::from_secs(15)));
    assert_eq!(heartbeat.pong_deadline(), std::time::Duration::from_millis(500));
    assert_eq!(heartbeat.idle_after(), None);
    assert!(!Ticker::CONFIG.compression_settings(ws_server::Compression::DEFAULT).is_enabled());
    let heartbeat = Slow::CONFIG.heartbeat(ws_server::Heartbeat::DEFAULT);
    assert_eq!(heartbeat.ping_every(), None);
    assert_eq!(heartbeat.idle_after(), Some(std::time::Duration::from_secs(7200)));
    assert_eq!(Slow::CONFIG.backpressure(server).slow_consumer(), ws_server::SlowConsumer::Wait);
    let compression = Slow::CONFIG.compression_settings(ws_server::Compression::OFF);
    assert!(compression.is_enabled() && compression.allows_client_context_takeover());
    assert_eq!((compression.threshold_len(), compression.window_bits_value()), (0, 10));
    let addr = String::from("127.0.0.1:0");
    // Only type-checked: the servers are never started.
    let _by_expression = serve!(addr);
    let _by_literal = serve!("localhost:9001").state(7u32).with_shutdown(async {});
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
    assert!(matches!(Public::CONFIG.origin_policy(Origins::SameHost), Origins::Any));
    assert!(Secure::CONFIG.connection_limit().is_some());
};
