//! The runs behind `ws-bench matrix`, `idle` and `fanout`: each server in turn, pinned to
//! its own core, repeated, summarized as markdown tables.

pub mod echo;
pub mod fanout;
pub mod idle;
mod order;

use std::io;

use crate::kind::{Kind, ServerProcess, can_pin, pin_self};

/// The pause between runs.
const SETTLE: std::time::Duration = std::time::Duration::from_millis(500);

/// The cores the generator and the servers run on.
#[derive(Debug, Clone, Copy)]
pub struct Cores {
    server: Option<usize>,
}

impl Cores {
    /// Pins this process to core 0 and will start servers on core 1, where `taskset` and
    /// two cores are there; otherwise leaves scheduling to the kernel (and says so).
    pub fn pin() -> Cores {
        if can_pin() && pin_self(0).is_ok() {
            Cores { server: Some(1) }
        } else {
            eprintln!(
                "ws-bench: cannot pin to cores (needs taskset and 2 cores): results are noisier"
            );
            Cores { server: None }
        }
    }

    /// Starts a server on its core, after a pause that lets the kernel finish with the
    /// previous run's sockets.
    pub fn start(&self, kind: Kind) -> io::Result<ServerProcess> {
        std::thread::sleep(SETTLE);
        ServerProcess::start(kind, self.server)
    }

    /// Whether the generator and the server have a core each.
    pub fn pinned(&self) -> bool {
        self.server.is_some()
    }
}

/// Microseconds, from seconds, for tables.
fn micros(seconds: Option<f64>) -> String {
    seconds.map_or_else(|| "-".to_owned(), |s| format!("{:.2}", s * 1e6))
}
