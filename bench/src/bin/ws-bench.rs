//! The load generator and benchmark runner.
//!
//! ```text
//! ws-bench all                      # everything below, as markdown (scripts/bench.sh)
//! ws-bench matrix                   # echo: 16 B, 1 KiB, 64 KiB × 1, 100, 1000 connections
//! ws-bench idle                     # resident memory per idle connection (10,000)
//! ws-bench fanout                   # one publisher, 1,000 subscribers
//! ws-bench load 127.0.0.1:9001      # one closed-loop echo run against any local server
//! ws-bench stress --workers 8        # many runs on a multi-threaded runtime: any collapse?
//! ```

use std::{fs, io, num::NonZeroUsize, path::PathBuf, time::Duration};

use clap::{Args, Parser, Subcommand};
use ws_bench::{
    echo_load::{self, EchoLoad},
    kind::Kind,
    loopback::loopback_target,
    suite::{self, Cores},
};

#[derive(Parser)]
#[command(
    about = "ws-server's benchmarks: closed-loop echo, idle memory and fan-out, side by side with peers"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// The echo matrix, idle memory and fan-out, written as one markdown report.
    All {
        #[command(flatten)]
        matrix: MatrixArgs,
        /// Repetitions of the fan-out run (a fresh server each; 3-second windows).
        #[arg(long, default_value_t = 5)]
        fanout_reps: usize,
        /// Idle connections held for the memory figure.
        #[arg(long, default_value_t = 10_000)]
        idle_connections: usize,
        /// Subscribers in the fan-out run.
        #[arg(long, default_value_t = 1000)]
        subscribers: usize,
        /// Where to write the report (also printed).
        #[arg(long, default_value = "target/bench/report.md")]
        out: PathBuf,
    },
    /// The echo matrix: payload sizes × connection counts × servers.
    Matrix(MatrixArgs),
    /// Resident memory per idle connection.
    Idle {
        #[command(flatten)]
        servers: Servers,
        #[arg(long, default_value_t = 10_000)]
        connections: usize,
    },
    /// One publisher, many subscribers: deliveries per second and CPU per delivery.
    Fanout {
        #[command(flatten)]
        servers: Servers,
        #[arg(long, default_value_t = 1000)]
        subscribers: usize,
        /// Payload bytes per message (at least 8).
        #[arg(long, default_value_t = 16)]
        size: usize,
        #[command(flatten)]
        timing: Timing,
    },
    /// Many short echo runs, a fresh server process each, on a multi-threaded runtime:
    /// the spread between runs, and whether any run collapsed (exits with 2 if one did).
    Stress {
        #[command(flatten)]
        servers: Servers,
        #[arg(long, default_value_t = 1024)]
        connections: usize,
        #[arg(long, default_value_t = 16)]
        size: usize,
        /// Runs per server.
        #[arg(long, default_value_t = 7)]
        runs: usize,
        /// Seconds measured per run.
        #[arg(long, default_value_t = 2.0)]
        secs: f64,
        /// Seconds of load before measuring.
        #[arg(long, default_value_t = 0.5)]
        warmup: f64,
    },
    /// One closed-loop echo run against a server already running on this machine.
    Load {
        /// host:port, on a loopback address.
        target: String,
        #[arg(long, default_value = "/echo")]
        path: String,
        #[arg(long, default_value_t = 100)]
        connections: usize,
        #[arg(long, default_value_t = 16)]
        size: usize,
        /// A plain TCP echo: no handshake, the frame comes back as sent.
        #[arg(long)]
        raw: bool,
        #[command(flatten)]
        pieces: Pieces,
        #[command(flatten)]
        timing: Timing,
    },
}

#[derive(Args, Clone)]
struct Servers {
    /// Runs the servers on multi-threaded runtimes of this many workers, as
    /// `#[tokio::main]` does (not pinned); by default each runs on one thread, pinned.
    #[arg(long)]
    workers: Option<usize>,
    /// An older build's `bench-server` binary, run as `ws-server-before` (name it in
    /// `--servers`): builds a before/after comparison into one run.
    #[arg(long)]
    before: Option<PathBuf>,
    /// Servers to run, comma separated. `ws-floor`, the least a WebSocket echo can do (an
    /// anchor like `raw-tcp`, echo only), runs only when named.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "ws-server,tokio-tungstenite,fastwebsockets,tokio-websockets,raw-tcp"
    )]
    servers: Vec<Kind>,
}

/// Seconds measured per run, outside the matrix.
const RUN_SECS: f64 = 3.0;
/// Seconds of load before a run's measured window, outside the matrix.
const RUN_WARMUP: f64 = 0.5;

/// Timing of runs that each have a server of their own.
#[derive(Args, Clone)]
struct Timing {
    /// Repetitions of each run; tables show medians.
    #[arg(long, default_value_t = 3)]
    reps: usize,
    /// Seconds measured per run.
    #[arg(long, default_value_t = RUN_SECS)]
    secs: f64,
    /// Seconds of load before measuring.
    #[arg(long, default_value_t = RUN_WARMUP)]
    warmup: f64,
}

/// The echo matrix's timing: short windows taking turns between servers.
#[derive(Args, Clone)]
struct Rounds {
    /// Rounds per cell: in each, every server has one window; tables show medians.
    #[arg(long, default_value_t = 40)]
    rounds: usize,
    /// Seconds measured per window.
    #[arg(long, default_value_t = 0.25)]
    secs: f64,
    /// Seconds of load before each window.
    #[arg(long, default_value_t = 0.1)]
    warmup: f64,
    /// Blocks per cell: each starts every server afresh and runs its share of the rounds.
    #[arg(long, default_value_t = 4)]
    blocks: usize,
    /// Leave out the second ws-server process that each cell otherwise runs as a control:
    /// its ratio to ws-server shows how far two processes of one binary differ.
    #[arg(long)]
    no_control: bool,
}

#[derive(Args, Clone)]
struct Pieces {
    /// Writes each message in this many pieces, yielding between them, so that servers
    /// read frames in parts, as from a real network.
    #[arg(long, default_value = "1")]
    pieces: NonZeroUsize,
}

#[derive(Args, Clone)]
struct MatrixArgs {
    #[command(flatten)]
    servers: Servers,
    /// Payload sizes in bytes.
    #[arg(long, value_delimiter = ',', default_value = "16,1024,65536")]
    sizes: Vec<usize>,
    /// Connection counts.
    #[arg(long, value_delimiter = ',', default_value = "1,100,1000")]
    connections: Vec<usize>,
    #[command(flatten)]
    pieces: Pieces,
    #[command(flatten)]
    timing: Rounds,
}

impl Timing {
    fn windows(&self) -> (Duration, Duration) {
        (
            Duration::from_secs_f64(self.warmup),
            Duration::from_secs_f64(self.secs),
        )
    }
}

impl MatrixArgs {
    fn plan(&self) -> suite::echo::Plan {
        let mut kinds = self.servers.servers.clone();
        if !self.timing.no_control
            && kinds.contains(&Kind::WsServer)
            && !kinds.contains(&Kind::WsServerControl)
        {
            kinds.push(Kind::WsServerControl);
        }
        suite::echo::Plan {
            kinds,
            sizes: self.sizes.clone(),
            connections: self.connections.clone(),
            pieces: self.pieces.pieces,
            rounds: self.timing.rounds,
            blocks: self.timing.blocks,
            warmup: Duration::from_secs_f64(self.timing.warmup),
            duration: Duration::from_secs_f64(self.timing.secs),
        }
    }
}

fn main() -> io::Result<()> {
    match Cli::parse().command {
        Command::All {
            matrix,
            fanout_reps,
            idle_connections,
            subscribers,
            out,
        } => {
            let cores = matrix.servers.cores();
            let mut report = header(&cores);
            report.push_str("\n## Echo (closed loop, one message in flight per connection)\n\n");
            report.push_str(&suite::echo::run_plan(&matrix.plan(), &cores)?.table());
            report.push_str("\n## Idle memory\n\n");
            report.push_str(&suite::idle::run(
                &matrix.servers.servers,
                idle_connections,
                &cores,
            )?);
            report.push_str("\n## Fan-out (one publisher, encode once where the server can)\n\n");
            let fanout_timing = Timing {
                reps: fanout_reps,
                secs: RUN_SECS,
                warmup: RUN_WARMUP,
            };
            report.push_str(&suite::fanout::run(
                &matrix.servers.servers,
                subscribers,
                16,
                fanout_timing.reps,
                fanout_timing.windows(),
                &cores,
            )?);
            if let Some(dir) = out.parent() {
                fs::create_dir_all(dir)?;
            }
            fs::write(&out, &report)?;
            println!("{report}");
            eprintln!("written to {}", out.display());
        }
        Command::Matrix(matrix) => {
            let cores = matrix.servers.cores();
            println!("{}", cores.describe());
            println!("{}", suite::echo::run_plan(&matrix.plan(), &cores)?.table());
        }
        Command::Idle {
            servers,
            connections,
        } => {
            let cores = servers.cores();
            println!(
                "{}",
                suite::idle::run(&servers.servers, connections, &cores)?
            );
        }
        Command::Fanout {
            servers,
            subscribers,
            size,
            timing,
        } => {
            let cores = servers.cores();
            let table = suite::fanout::run(
                &servers.servers,
                subscribers,
                size,
                timing.reps,
                timing.windows(),
                &cores,
            )?;
            println!("{table}");
        }
        Command::Stress {
            servers,
            connections,
            size,
            runs,
            secs,
            warmup,
        } => {
            let cores = servers.cores();
            println!("{}", cores.describe());
            let (table, collapsed) = suite::stress::run(
                &suite::stress::Stress {
                    kinds: servers.servers.clone(),
                    connections,
                    size,
                    runs,
                    warmup: Duration::from_secs_f64(warmup),
                    duration: Duration::from_secs_f64(secs),
                },
                &cores,
            )?;
            println!("{table}");
            if collapsed {
                std::process::exit(2);
            }
        }
        Command::Load {
            target,
            path,
            connections,
            size,
            raw,
            pieces,
            timing,
        } => {
            let addr = loopback_target(&target).map_err(io::Error::other)?;
            let (warmup, duration) = timing.windows();
            let report = echo_load::run(&EchoLoad {
                addr,
                path,
                connections,
                size,
                pieces: pieces.pieces,
                warmup,
                duration,
                raw,
                server_pid: None,
            })?;
            let quantile = |q: f64| report.latency.value_at_quantile(q) as f64 / 1000.0;
            println!(
                "{:.0} msgs/s over {connections} connections, {size} B{}; latency µs p50 {:.1} p90 {:.1} p99 {:.1} p99.9 {:.1} max {:.1}; {} failed",
                report.rate(),
                match pieces.pieces.get() {
                    1 => String::new(),
                    pieces => format!(" in {pieces} pieces"),
                },
                quantile(0.5),
                quantile(0.9),
                quantile(0.99),
                quantile(0.999),
                report.latency.max() as f64 / 1000.0,
                report.failed,
            );
        }
    }
    Ok(())
}

impl Servers {
    fn cores(&self) -> Cores {
        Cores::pin(self.workers, self.before.clone())
    }
}

/// What the report was measured on.
fn header(cores: &Cores) -> String {
    let cpu = fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find_map(|line| line.strip_prefix("model name"))
                .map(|name| name.trim_start_matches([' ', '\t', ':']).to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned());
    format!(
        "# ws-bench report\n\n{cpu}; {}. Medians of the repetitions; CPU is the server process's time on a CPU over the measured window, from /proc/PID/task/*/schedstat (in nanoseconds).\n",
        cores.describe()
    )
}
