//! permessage-deflate against an independent client that offers it: Python's
//! `websockets`, installed into a virtual environment by `scripts/test.sh`, talking to the
//! echo example's resource.

mod support;

use std::{path::PathBuf, process::Stdio, time::Duration};

use tokio::process::Command;
use ws_server::Server;

use support::start;

#[path = "../examples/echo/resource.rs"]
mod echo;

/// The venv's interpreter: `WS_SERVER_PYTHON`, else where `scripts/test.sh` puts it.
fn python() -> PathBuf {
    let python = std::env::var_os("WS_SERVER_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let home = std::env::var_os("HOME").unwrap_or_default();
            PathBuf::from(home).join(".cache/ws-server-py/bin/python")
        });
    assert!(
        python.exists(),
        "no Python with `websockets` at {}: run scripts/test.sh, which installs it",
        python.display()
    );
    python
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_websockets_exchanges_compressed_messages_of_every_size() {
    let addr = start(Server::builder().route::<echo::Echo>()).await;
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/interop/deflate_client.py"
    );
    let run = Command::new(python())
        .arg(script)
        .arg(format!("ws://{addr}/echo"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .expect("the Python client finished in time")
        .expect("run the Python client");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "client failed:\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains("negotiated: permessage-deflate"),
        "{stdout}"
    );
    assert!(stdout.contains("ok: 1000000 bytes"), "{stdout}");
    assert!(stdout.contains("ok: fragmented"), "{stdout}");
}
