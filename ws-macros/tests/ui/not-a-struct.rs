use ws_server::ws_resource;

#[ws_resource("/chat")]
enum Chat {
    Open,
}

fn main() {}
