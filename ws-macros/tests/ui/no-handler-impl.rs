use ws_server::ws_resource;

#[ws_resource("/chat")]
#[derive(Default)]
struct Chat;

fn main() {}
