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

#[ws_resource("/minimal")]
#[derive(Default)]
struct Minimal;

impl Handler for Minimal {}

fn main() {
    use ws_server::Resource;
    assert_eq!(Chat::PATH, "/chat/room-1");
    assert_eq!(Minimal::PATH, "/minimal");
    let addr = String::from("127.0.0.1:0");
    // Only type-checked: the futures are never polled.
    let _by_expression = serve!(addr);
    let _by_literal = serve!("localhost:9001");
}
