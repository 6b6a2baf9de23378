//! A real `redis-server` (which `scripts/test.sh` installs) on a free loopback port.

use std::{net::TcpListener, process::Stdio, time::Duration};

use tokio::{
    process::{Child, Command},
    time::Instant,
};

use super::STEP;

/// A `redis-server` on a loopback port, stopped when dropped.
pub(crate) struct Redis {
    process: Child,
    port: u16,
}

impl Redis {
    pub(crate) async fn start() -> Redis {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("free port")
            .port();
        Redis::start_on(port).await
    }

    pub(crate) async fn start_on(port: u16) -> Redis {
        let process = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("redis-server (scripts/test.sh installs it)");
        let redis = Redis { process, port };
        let ready = async {
            while redis
                .query::<String>(&mut redis::cmd("PING"))
                .await
                .is_err()
            {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        };
        tokio::time::timeout(STEP, ready)
            .await
            .expect("redis-server started");
        redis
    }

    pub(crate) fn port(&self) -> u16 {
        self.port
    }

    pub(crate) fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    pub(crate) async fn query<T: redis::FromRedisValue>(
        &self,
        cmd: &mut redis::Cmd,
    ) -> redis::RedisResult<T> {
        let client = redis::Client::open(self.url())?;
        let mut conn = client.get_multiplexed_async_connection().await?;
        cmd.query_async(&mut conn).await
    }

    /// How many connections subscribe to `channel`.
    pub(crate) async fn subscribers(&self, channel: &str) -> i64 {
        let counts: Vec<(String, i64)> = self
            .query(redis::cmd("PUBSUB").arg("NUMSUB").arg(channel))
            .await
            .expect("PUBSUB NUMSUB");
        counts[0].1
    }

    pub(crate) async fn wait_for_subscribers(&self, channel: &str, count: i64) {
        let deadline = Instant::now() + STEP;
        loop {
            let now = self.subscribers(channel).await;
            if now == count {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{channel}: {now} subscribers, not {count}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub(crate) async fn stop(mut self) {
        let _ = self.process.kill().await;
    }
}

/// Starts `builder`, which has a Redis backplane, and waits until the backplane is
/// connected.
pub(crate) async fn start_connected(
    builder: ws_server::Builder,
) -> (std::net::SocketAddr, ws_server::ServerHandle) {
    let (addr, server) = super::start_with_handle(builder).await;
    super::eventually("backplane connected", || {
        server
            .backplane_stats()
            .is_some_and(|stats| stats.connected)
    })
    .await;
    (addr, server)
}
