#[tokio::main]
async fn main() -> std::io::Result<()> {
    ws_server::serve!(9001).await
}
