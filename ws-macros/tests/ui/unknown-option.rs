use ws_server::{Handler, ws_resource};

#[ws_resource("/chat", max_payloads = 10)]
#[derive(Default)]
struct Chat;

impl Handler for Chat {}

fn main() {}
