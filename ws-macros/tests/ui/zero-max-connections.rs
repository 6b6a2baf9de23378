use ws_server::{Handler, ws_resource};

#[ws_resource("/chat", max_connections = 0)]
#[derive(Default)]
struct Chat;

impl Handler for Chat {}

fn main() {}
