//! Many short runs of one server on a multi-threaded runtime, each with a fresh process:
//! the spread between runs, and any run that collapses (its CPU per message far above the
//! others', as when every worker waits on one lock while one works).

use std::{fmt::Write, io, num::NonZeroUsize, time::Duration};

use super::Cores;
use crate::{
    echo_load::{self, EchoLoad},
    kind::Kind,
};

/// A run whose CPU per message is this many times the median of its server's runs.
const COLLAPSE: f64 = 2.0;

/// What to run.
#[derive(Debug, Clone)]
pub struct Stress {
    /// The servers, each run in turn.
    pub kinds: Vec<Kind>,
    /// Connections per run, each with one message in flight.
    pub connections: usize,
    /// Payload bytes per message.
    pub size: usize,
    /// Runs per server, each with a fresh process.
    pub runs: usize,
    /// Load before measuring.
    pub warmup: Duration,
    /// How long to measure.
    pub duration: Duration,
}

/// One run's figures.
#[derive(Debug, Clone, Copy)]
struct Run {
    rate: f64,
    cpu_per_message: Option<f64>,
}

/// Runs every server `runs` times, by turns; returns a markdown table, and whether a run
/// collapsed.
pub fn run(stress: &Stress, cores: &Cores) -> io::Result<(String, bool)> {
    let mut results: Vec<(Kind, Vec<Run>)> = stress
        .kinds
        .iter()
        .map(|&kind| (kind, Vec::new()))
        .collect();
    for round in 0..stress.runs {
        for (kind, runs) in &mut results {
            let server = cores.start(*kind)?;
            let report = echo_load::run(&EchoLoad {
                addr: server.addr(),
                path: "/echo".to_owned(),
                connections: stress.connections,
                size: stress.size,
                pieces: NonZeroUsize::MIN,
                warmup: stress.warmup,
                duration: stress.duration,
                raw: !kind.is_websocket(),
                server_pid: Some(server.pid()),
            })?;
            let run = Run {
                rate: report.rate(),
                cpu_per_message: report.cpu_per_message().map(|cpu| cpu.as_secs_f64()),
            };
            eprintln!(
                "run {}/{}  {kind}: {:.0} msg/s, {} µs/msg, {} failed",
                round + 1,
                stress.runs,
                run.rate,
                run.cpu_per_message
                    .map_or_else(|| "-".to_owned(), |s| format!("{:.2}", s * 1e6)),
                report.failed,
            );
            runs.push(run);
        }
    }
    let mut out = String::from(
        "| server | runs | msgs/s min / median / max | CPU µs/msg min / median / max | collapsed runs |\n|---|---:|---:|---:|---:|\n",
    );
    let mut collapsed_any = false;
    for (kind, runs) in &results {
        let rates = sorted(runs.iter().map(|run| run.rate));
        let cpus = sorted(runs.iter().filter_map(|run| run.cpu_per_message));
        let median_cpu = median(&cpus);
        let collapsed = cpus
            .iter()
            .filter(|&&cpu| median_cpu.is_some_and(|median| cpu > median * COLLAPSE))
            .count();
        collapsed_any |= collapsed > 0;
        let _ = writeln!(
            out,
            "| {kind} | {} | {:.0} / {:.0} / {:.0} | {} | {collapsed} |",
            runs.len(),
            rates.first().copied().unwrap_or(0.0),
            median(&rates).unwrap_or(0.0),
            rates.last().copied().unwrap_or(0.0),
            match (cpus.first(), median_cpu, cpus.last()) {
                (Some(min), Some(median), Some(max)) =>
                    format!("{:.2} / {:.2} / {:.2}", min * 1e6, median * 1e6, max * 1e6),
                _ => "-".to_owned(),
            },
        );
    }
    let _ = write!(
        out,
        "\nA run collapsed when its CPU per message is over {COLLAPSE}× its server's median.\n"
    );
    Ok((out, collapsed_any))
}

fn sorted(values: impl Iterator<Item = f64>) -> Vec<f64> {
    let mut values: Vec<f64> = values.collect();
    values.sort_by(f64::total_cmp);
    values
}

fn median(sorted: &[f64]) -> Option<f64> {
    (!sorted.is_empty()).then(|| sorted[sorted.len() / 2])
}
