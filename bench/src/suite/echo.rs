//! The echo matrix: payload sizes × connection counts × servers, interleaved and repeated.

use std::{collections::BTreeMap, fmt::Write, io, time::Duration};

use super::{Cores, micros, rotated};
use crate::{
    echo_load::{EchoLoad, EchoReport, run},
    kind::Kind,
    stats::{median, ratio},
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
            if let Some(ours) = summaries.get(&Kind::WsServer) {
                verdicts.push_str(&verdict(
                    size,
                    connections,
                    ours,
                    best_rate,
                    best_cpu,
                    raw_cpu,
                ));
            }
        }
        if !verdicts.is_empty() {
            out.push_str("\nws-server against the targets (CPU/msg ≤ best peer; ≤ 1.05× raw TCP for 16 B and 1 KiB; msgs/s ≥ 0.97× best peer):\n\n");
            out.push_str(&verdicts);
        }
        out
    }
}

fn verdict(
    size: usize,
    connections: usize,
    ours: &Summary,
    best_rate: Option<f64>,
    best_cpu: Option<f64>,
    raw_cpu: Option<f64>,
) -> String {
    let mut misses = Vec::new();
    if let (Some(cpu), Some(best)) = (ours.cpu, best_cpu)
        && cpu > best
    {
        misses.push(format!("CPU {:.2}× best peer", cpu / best));
    }
    if let (Some(cpu), Some(raw)) = (ours.cpu, raw_cpu)
        && size <= 1024
        && cpu > raw * 1.05
    {
        misses.push(format!("CPU {:.2}× raw TCP", cpu / raw));
    }
    if let (Some(rate), Some(best)) = (ours.rate, best_rate)
        && rate < best * 0.97
    {
        misses.push(format!("msgs/s {:.2}× best peer", rate / best));
    }
    if ours.failed > 0 {
        misses.push(format!("{} failed connections", ours.failed));
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
