//! Fan-out for each server: one publisher, many subscribers.

use std::{collections::BTreeMap, fmt::Write, io, time::Duration};

use super::{Cores, micros, order};
use crate::{
    fanout_load::{FanoutLoad, FanoutReport, run as run_load},
    kind::Kind,
    stats::{median, ratio},
};

/// Runs fan-out `reps` times for each server in `kinds` with every endpoint (not the
/// anchors), interleaved, and returns the markdown table.
pub fn run(
    kinds: &[Kind],
    subscribers: usize,
    size: usize,
    reps: usize,
    (warmup, duration): (Duration, Duration),
    cores: &Cores,
) -> io::Result<String> {
    let kinds: Vec<Kind> = kinds
        .iter()
        .copied()
        .filter(|k| k.is_full_server())
        .collect();
    let mut runs: BTreeMap<Kind, Vec<FanoutReport>> = BTreeMap::new();
    for rep in 0..reps {
        for kind in order::balanced(&kinds, rep) {
            let server = cores.start(kind)?;
            let load = FanoutLoad {
                addr: server.addr(),
                subscribers,
                size,
                warmup,
                duration,
                server_pid: Some(server.pid()),
            };
            let report = run_load(&load)?;
            drop(server);
            eprintln!(
                "rep {}/{reps}  fan-out × {subscribers}  {kind:<17} {:>10.0} deliveries/s  {:>6} µs/delivery{}",
                rep + 1,
                report.rate(),
                micros(report.cpu_per_delivery().map(|cpu| cpu.as_secs_f64())),
                if report.failed > 0 { "  (FAILED)" } else { "" },
            );
            runs.entry(kind).or_default().push(report);
        }
    }
    let summary: BTreeMap<Kind, (Option<f64>, Option<f64>, usize)> = runs
        .iter()
        .map(|(kind, reports)| {
            let rate = median(reports.iter().map(FanoutReport::rate).collect());
            let cpu = median(
                reports
                    .iter()
                    .filter_map(|r| r.cpu_per_delivery().map(|cpu| cpu.as_secs_f64()))
                    .collect(),
            );
            (*kind, (rate, cpu, reports.iter().map(|r| r.failed).sum()))
        })
        .collect();
    let peers = || summary.iter().filter(|(kind, _)| kind.is_peer());
    let best_rate = peers().filter_map(|(_, s)| s.0).reduce(f64::max);
    let best_cpu = peers().filter_map(|(_, s)| s.1).reduce(f64::min);
    let mut out = format!(
        "| server ({subscribers} subscribers, {size} B) | deliveries/s | × best peer | server CPU µs/delivery | × best peer |\n\
         |---|---:|---:|---:|---:|\n"
    );
    for (kind, (rate, cpu, failed)) in &summary {
        let _ = writeln!(
            out,
            "| {kind}{} | {} | {} | {} | {} |",
            if *failed > 0 { " (failures)" } else { "" },
            rate.map_or_else(|| "-".to_owned(), |r| format!("{r:.0}")),
            ratio(*rate, best_rate),
            micros(*cpu),
            ratio(*cpu, best_cpu),
        );
    }
    Ok(out)
}
