//! The runs behind `ws-bench matrix`, `idle` and `fanout`: each server in turn, pinned to
//! its own core, repeated, summarized as markdown tables.

pub mod echo;
pub mod fanout;
pub mod idle;
mod order;
pub mod stress;

use std::io;

use crate::kind::{Kind, Launch, ServerProcess, can_pin, pin_self};

/// The pause between runs.
const SETTLE: std::time::Duration = std::time::Duration::from_millis(500);

/// Where the generator and the servers run, and how servers are started.
#[derive(Debug, Clone)]
pub struct Cores {
    launch: Launch,
}

impl Cores {
    /// Pins this process to core 0 and, where `taskset` and two cores are there, servers on
    /// a single-threaded runtime to core 1; servers with `workers` threads are not pinned
    /// (they share the machine with the generator, as in a deployment). Otherwise leaves
    /// scheduling to the kernel (and says so).
    pub fn pin(workers: Option<usize>, before: Option<std::path::PathBuf>) -> Cores {
        let pinned = can_pin() && pin_self(0).is_ok();
        if !pinned {
            eprintln!(
                "ws-bench: cannot pin to cores (needs taskset and 2 cores): results are noisier"
            );
        }
        Cores {
            launch: Launch {
                server_core: (pinned && workers.is_none()).then_some(1),
                workers,
                before,
            },
        }
    }

    /// Starts a server on its core, after a pause that lets the kernel finish with the
    /// previous run's sockets.
    pub fn start(&self, kind: Kind) -> io::Result<ServerProcess> {
        std::thread::sleep(SETTLE);
        ServerProcess::start(kind, &self.launch)
    }

    /// How the servers run, for a report's header.
    pub fn describe(&self) -> String {
        let runtime = match self.launch.workers {
            Some(workers) => format!("servers on a multi-threaded runtime of {workers} workers"),
            None => "servers on a single-threaded runtime".to_owned(),
        };
        match self.launch.server_core {
            Some(core) => {
                format!("generator on core 0, server on core {core} (taskset); {runtime}")
            }
            None => format!("servers not pinned; {runtime}"),
        }
    }
}

/// Microseconds, from seconds, for tables.
fn micros(seconds: Option<f64>) -> String {
    seconds.map_or_else(|| "-".to_owned(), |s| format!("{:.2}", s * 1e6))
}
