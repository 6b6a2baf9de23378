use ws_server::ws_resource;

#[ws_resource("/chat")]
fn chat() {}

fn main() {}
