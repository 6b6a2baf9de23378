//! The echo matrix: payload sizes × connection counts × servers, interleaved and repeated.

use std::{collections::BTreeMap, fmt::Write, io, time::Duration};

use super::{Cores, micros, rotated};
use crate::{
    echo_load::{EchoLoad, EchoReport, run},
    kind::Kind,
    stats::{median, paired_ratio, ratio},
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
                 repetitions:\n\n",
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
    let mut misses = Vec::new();
    for peer in by_kind.keys().filter(|kind| kind.is_peer()) {
        if let Some(ratio) = paired_ratio(&our_cpu, &series(peer, cpu))
            && ratio > 1.0
        {
            misses.push(format!("CPU {ratio:.2}× {peer}"));
        }
        if let Some(ratio) = paired_ratio(&our_rate, &series(peer, rate))
            && ratio < 0.97
        {
            misses.push(format!("msgs/s {ratio:.2}× {peer}"));
        }
    }
    if let Some(ratio) = paired_ratio(&our_cpu, &series(&Kind::RawTcp, cpu))
        && size <= 1024
        && ratio > 1.05
    {
        misses.push(format!("CPU {ratio:.2}× raw TCP"));
    }
    let failed: usize = by_kind
        .get(&Kind::WsServer)
        .map_or(0, |reports| reports.iter().map(|r| r.failed).sum());
    if failed > 0 {
        misses.push(format!("{failed} failed connections"));
    }
    let status = if misses.is_empty() {
        "met".to_owned()
    } else {
        format!("MISSED: {}", misses.join(", "))
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
