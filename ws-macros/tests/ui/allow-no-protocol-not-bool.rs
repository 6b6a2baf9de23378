use ws_server::{Handler, ws_resource};

#[ws_resource("/chat", allow_no_protocol = "yes")]
#[derive(Default)]
struct Chat;

impl Handler for Chat {}

fn main() {}
