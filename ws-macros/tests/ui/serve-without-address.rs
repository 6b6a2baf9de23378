#[tokio::main]
async fn main() -> std::io::Result<()> {
    ws_server::serve!().await
}
