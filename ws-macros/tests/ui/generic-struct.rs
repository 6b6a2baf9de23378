use ws_server::ws_resource;

#[ws_resource("/chat")]
struct Chat<T> {
    state: T,
}

fn main() {}
