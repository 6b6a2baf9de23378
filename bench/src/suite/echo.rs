//! The echo matrix: payload sizes × connection counts × servers, interleaved and repeated.

use std::{collections::BTreeMap, fmt::Write, io, time::Duration};

use super::{Cores, micros, rotated};
use crate::{
    echo_load::{EchoLoad, EchoReport, run},
    kind::Kind,
    stats::{Standing, median, paired_ratios, ratio},
};

/// What the matrix covers.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Servers, in the order of the first repetition.
    pub kinds: Vec<Kind>,
    /// Payload sizes in bytes.
    pub sizes: Vec<usize>,
    /// Connection counts.
    pub connections: Vec<usize>,
    /// Repetitions of every run (the table shows medians).
    pub reps: usize,
    /// Load before each measured window.
    pub warmup: Duration,
    /// Each measured window.
    pub duration: Duration,
}

/// One cell of the matrix.
type Cell = (usize, usize);

/// Every run's report, by cell and server.
#[derive(Debug, Default)]
pub struct Results {
    runs: BTreeMap<Cell, BTreeMap<Kind, Vec<EchoReport>>>,
}

/// Runs the plan: for each repetition, each cell, each server (rotated), a fresh server
/// process and one measured window.
pub fn run_plan(plan: &Plan, cores: Cores) -> io::Result<Results> {
    let mut results = Results::default();
    for rep in 0..plan.reps {
        for &size in &plan.sizes {
            for &connections in &plan.connections {
                for kind in rotated(&plan.kinds, rep) {
                    let server = cores.start(kind)?;
                    let load = EchoLoad {
                        addr: server.addr(),
                        path: "/echo".to_owned(),
                        connections,
                        size,
                        warmup: plan.warmup,
                        duration: plan.duration,
                        raw: !kind.is_websocket(),
                        server_pid: Some(server.pid()),
                    };
                    let report = run(&load)?;
                    drop(server);
                    eprintln!(
                        "rep {}/{}  {size:>6} B × {connections:>4}  {kind:<17} {:>9.0} msg/s  {:>6} µs/msg{}",
                        rep + 1,
                        plan.reps,
                        report.rate(),
                        micros(report.cpu_per_message().map(|cpu| cpu.as_secs_f64())),
                        failed_note(report.failed),
                    );
                    results
                        .runs
                        .entry((size, connections))
                        .or_default()
                        .entry(kind)
                        .or_default()
                        .push(report);
                }
            }
        }
    }
    Ok(results)
}

fn failed_note(failed: usize) -> String {
    if failed == 0 {
        String::new()
    } else {
        format!("  ({failed} connections FAILED)")
    }
}

/// Medians of one server's runs in one cell.
#[derive(Debug, Clone, Copy)]
struct Summary {
    rate: Option<f64>,
    cpu: Option<f64>,
    p50: Option<f64>,
    p99: Option<f64>,
    utilization: Option<f64>,
    failed: usize,
}

fn summarize(reports: &[EchoReport]) -> Summary {
    let of =
        |f: &dyn Fn(&EchoReport) -> Option<f64>| median(reports.iter().filter_map(f).collect());
    Summary {
        rate: of(&|r| Some(r.rate())),
        cpu: of(&|r| r.cpu_per_message().map(|cpu| cpu.as_secs_f64())),
        p50: of(&|r| Some(r.latency.value_at_quantile(0.5) as f64 / 1e9)),
        p99: of(&|r| Some(r.latency.value_at_quantile(0.99) as f64 / 1e9)),
        utilization: of(&|r| {
            r.server_cpu
                .map(|cpu| cpu.as_secs_f64() / r.elapsed.as_secs_f64())
        }),
        failed: reports.iter().map(|r| r.failed).sum(),
    }
}

impl Results {
    /// The markdown table: medians, with ratios to the best peer (and, for CPU, to the raw
    /// TCP echo), and whether ws-server meets the targets in each cell.
    pub fn table(&self) -> String {
        let mut out = String::from(
            "| payload | conns | server | msgs/s | × best peer | server CPU µs/msg | × best peer | × raw TCP | p50 µs | p99 µs | server CPU use |\n\
             |---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|\n",
        );
        let mut verdicts = String::new();
        for (&(size, connections), by_kind) in &self.runs {
            let summaries: BTreeMap<Kind, Summary> = by_kind
                .iter()
                .map(|(kind, reports)| (*kind, summarize(reports)))
                .collect();
            let peers = || summaries.iter().filter(|(kind, _)| kind.is_peer());
            let best_rate = peers().filter_map(|(_, s)| s.rate).reduce(f64::max);
            let best_cpu = peers().filter_map(|(_, s)| s.cpu).reduce(f64::min);
            let raw_cpu = summaries.get(&Kind::RawTcp).and_then(|s| s.cpu);
            for (kind, s) in &summaries {
                let _ = writeln!(
                    out,
                    "| {} | {connections} | {kind}{} | {} | {} | {} | {} | {} | {} | {} | {} |",
                    size_label(size),
                    if s.failed > 0 { " (failures)" } else { "" },
                    s.rate
                        .map_or_else(|| "-".to_owned(), |rate| format!("{rate:.0}")),
                    ratio(s.rate, best_rate),
                    micros(s.cpu),
                    ratio(s.cpu, best_cpu),
                    ratio(s.cpu, raw_cpu),
                    micros(s.p50),
                    micros(s.p99),
                    s.utilization
                        .map_or_else(|| "-".to_owned(), |u| format!("{:.0}%", u * 100.0)),
                );
            }
            if by_kind.contains_key(&Kind::WsServer) {
                verdicts.push_str(&verdict(size, connections, by_kind));
            }
        }
        if !verdicts.is_empty() {
            out.push_str(
                "\nws-server against the targets (CPU/msg ≤ every peer's; ≤ 1.05× raw TCP for 16 B and 1 KiB; \
                 msgs/s ≥ 0.97× every peer's), each a median of paired ratios (ws-server's run against the \
                 other server's run of the same repetition), which cancels the machine's drift between \
                 repetitions. A median short of a target is MISSED when every one of at least five \
                 repetitions falls short (by chance one time in 32), and behind within noise otherwise:\n\n",
            );
            out.push_str(&verdicts);
        }
        out
    }
}

fn verdict(size: usize, connections: usize, by_kind: &BTreeMap<Kind, Vec<EchoReport>>) -> String {
    let series = |kind: &Kind, f: fn(&EchoReport) -> Option<f64>| -> Vec<Option<f64>> {
        by_kind
            .get(kind)
            .map_or_else(Vec::new, |reports| reports.iter().map(f).collect())
    };
    let cpu = |r: &EchoReport| r.cpu_per_message().map(|cpu| cpu.as_secs_f64());
    let rate = |r: &EchoReport| Some(r.rate());
    let (our_cpu, our_rate) = (series(&Kind::WsServer, cpu), series(&Kind::WsServer, rate));
    // Each shortfall: what fell short, by how much, and in how many repetitions.
    let mut misses: Vec<(String, Standing)> = Vec::new();
    let mut check =
        |what: String, theirs: Vec<Option<f64>>, ours: &[Option<f64>], short: fn(f64) -> bool| {
            if let Some(standing) = Standing::of(&paired_ratios(ours, &theirs), short)
                && standing.short
            {
                misses.push((what, standing));
            }
        };
    for peer in by_kind.keys().filter(|kind| kind.is_peer()) {
        check(format!("CPU × {peer}"), series(peer, cpu), &our_cpu, |r| {
            r > 1.0
        });
        check(
            format!("msgs/s × {peer}"),
            series(peer, rate),
            &our_rate,
            |r| r < 0.97,
        );
    }
    if size <= 1024 {
        check(
            "CPU × raw TCP".to_owned(),
            series(&Kind::RawTcp, cpu),
            &our_cpu,
            |r| r > 1.05,
        );
    }
    let failed: usize = by_kind
        .get(&Kind::WsServer)
        .map_or(0, |reports| reports.iter().map(|r| r.failed).sum());
    let listed = misses
        .iter()
        .map(|(what, s)| format!("{what} {:.2} ({} of {} runs)", s.median, s.beyond, s.runs))
        .collect::<Vec<_>>()
        .join(", ");
    let status = if failed > 0 {
        format!("MISSED: {failed} failed connections")
    } else if misses.is_empty() {
        "met".to_owned()
    } else if misses.iter().any(|(_, standing)| standing.is_consistent()) {
        format!("MISSED: {listed}")
    } else {
        format!("behind within noise: {listed}")
    };
    format!("- {} × {connections}: {status}\n", size_label(size))
}

fn size_label(size: usize) -> String {
    if size >= 1024 && size.is_multiple_of(1024) {
        format!("{} KiB", size / 1024)
    } else {
        format!("{size} B")
    }
}

#[cfg(test)]
mod tests {
    use hdrhistogram::Histogram;

    use super::*;

    /// A run of `messages` echoes in one second, at `cpu_us` µs of server CPU each.
    fn run(messages: u64, cpu_us: u64) -> EchoReport {
        EchoReport {
            messages,
            elapsed: Duration::from_secs(1),
            latency: Histogram::new(3).expect("histogram"),
            server_cpu: Some(Duration::from_micros(messages * cpu_us)),
            failed: 0,
        }
    }

    fn cell(ours: &[u64], theirs: &[u64]) -> BTreeMap<Kind, Vec<EchoReport>> {
        let runs = |cpus: &[u64]| cpus.iter().map(|&cpu| run(1000, cpu)).collect();
        BTreeMap::from([
            (Kind::WsServer, runs(ours)),
            (Kind::FastWebSockets, runs(theirs)),
        ])
    }

    #[test]
    fn verdicts_tell_a_consistent_miss_from_noise() {
        let met = verdict(16, 100, &cell(&[9; 5], &[10; 5]));
        assert_eq!(met, "- 16 B × 100: met\n");
        let missed = verdict(16, 100, &cell(&[11; 5], &[10; 5]));
        assert!(
            missed.contains("MISSED: CPU × fastwebsockets 1.10 (5 of 5 runs)"),
            "{missed}"
        );
        let noisy = verdict(16, 100, &cell(&[11, 9, 11, 9, 11], &[10; 5]));
        assert!(
            noisy.contains("behind within noise: CPU × fastwebsockets 1.10 (3 of 5 runs)"),
            "{noisy}"
        );
    }
}
