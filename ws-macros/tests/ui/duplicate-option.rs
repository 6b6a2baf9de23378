use ws_server::{Handler, ws_resource};

#[ws_resource("/chat", max_frames = 4, max_payload = 100, max_frames = 8)]
#[derive(Default)]
struct Chat;

impl Handler for Chat {}

fn main() {}
