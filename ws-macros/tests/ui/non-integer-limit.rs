use ws_server::{Handler, ws_resource};

#[ws_resource("/chat", max_message = "1MB")]
#[derive(Default)]
struct Chat;

impl Handler for Chat {}

fn main() {}
