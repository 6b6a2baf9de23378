use ws_server::{Handler, ws_resource};

#[ws_resource("/chat", window_bits = 8)]
#[derive(Default)]
struct Chat;

impl Handler for Chat {}

fn main() {}
