//! The echo matrix: payload sizes × connection counts × servers, interleaved and repeated.

use std::{collections::BTreeMap, fmt::Write, io, num::NonZeroUsize, ops::Range, time::Duration};

use tokio::task::LocalSet;

use super::{Cores, micros, order};
use crate::{
    echo_load::{EchoLoad, EchoReport, Fleet},
    kind::{Kind, ServerProcess},
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
    /// Pieces each message is written in (see [`EchoLoad::pieces`]).
    pub pieces: NonZeroUsize,
    /// Rounds per cell: in each, every server has one window (the table shows medians).
    pub rounds: usize,
    /// The rounds of a cell are split into this many blocks, each with servers started
    /// afresh (see `run_cell`).
    pub blocks: usize,
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
    /// Pieces each message was written in.
    pieces: usize,
}

/// Runs the plan, one cell after another. A cell's servers all run at once, each with its
/// connections open throughout a block of rounds (servers start afresh for each block); in
/// each round every server in turn (in a balanced order, see `order`) has a warm-up and a
/// measured window while the others' connections sit idle. Windows that take turns a
/// second or so apart see the same machine, which a server's run of its own a minute later
/// does not: on a shared VM, the same binary's rate drifts by 10–20% between such runs.
pub fn run_plan(plan: &Plan, cores: &Cores) -> io::Result<Results> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let mut results = Results {
        pieces: plan.pieces.get(),
        ..Results::default()
    };
    for &size in &plan.sizes {
        for &connections in &plan.connections {
            let runs =
                LocalSet::new().block_on(&runtime, run_cell(plan, cores, size, connections))?;
            results.runs.insert((size, connections), runs);
        }
    }
    Ok(results)
}

async fn run_cell(
    plan: &Plan,
    cores: &Cores,
    size: usize,
    connections: usize,
) -> io::Result<BTreeMap<Kind, Vec<EchoReport>>> {
    let mut runs: BTreeMap<Kind, Vec<EchoReport>> = BTreeMap::new();
    // Two processes of one binary can differ by several percent for as long as they run
    // (where the loader and the allocator put things): each block starts every server
    // anew, so that no server keeps one lucky or unlucky process for a whole cell.
    for (block, rounds) in blocks(plan.rounds, plan.blocks).enumerate() {
        let order = start_order(&plan.kinds, block);
        let mut servers = start_servers(plan, &order, cores, size, connections).await?;
        for round in rounds {
            for kind in order::balanced(&plan.kinds, round) {
                let Some((_, _, fleet)) = servers.iter_mut().find(|(k, _, _)| *k == kind) else {
                    continue;
                };
                let report = fleet.window(plan.warmup, plan.duration).await?;
                eprintln!(
                    "round {}/{}  {size:>6} B × {connections:>4}  {kind:<17} {:>9.0} msg/s  {:>6} µs/msg{}",
                    round + 1,
                    plan.rounds,
                    report.rate(),
                    micros(report.cpu_per_message().map(|cpu| cpu.as_secs_f64())),
                    failed_note(report.failed),
                );
                runs.entry(kind).or_default().push(report);
            }
        }
        for (_, server, fleet) in servers {
            fleet.close().await;
            drop(server);
        }
    }
    Ok(runs)
}

/// The order in which block `block` starts the servers. Where a server starts colours
/// its whole block (the first one started cost 6% more than the same binary started last,
/// at 64 KiB × 1 over 120 rounds): odd blocks start them in reverse, and every other pair
/// of blocks from half-way round, so that each server starts early as often as late.
fn start_order(kinds: &[Kind], block: usize) -> Vec<Kind> {
    let mut order = kinds.to_vec();
    order.rotate_left(kinds.len() / 2 * (block / 2 % 2));
    if block % 2 == 1 {
        order.reverse();
    }
    order
}

/// The servers of `order`, started in that order, with their connections open.
async fn start_servers(
    plan: &Plan,
    order: &[Kind],
    cores: &Cores,
    size: usize,
    connections: usize,
) -> io::Result<Vec<(Kind, ServerProcess, Fleet)>> {
    let mut servers = Vec::with_capacity(order.len());
    for &kind in order {
        let server = cores.start(kind)?;
        let fleet = Fleet::connect(&EchoLoad {
            addr: server.addr(),
            path: "/echo".to_owned(),
            connections,
            size,
            pieces: plan.pieces,
            warmup: plan.warmup,
            duration: plan.duration,
            raw: !kind.is_websocket(),
            server_pid: Some(server.pid()),
        })
        .await?;
        servers.push((kind, server, fleet));
    }
    Ok(servers)
}

/// `rounds` split into `count` consecutive blocks as even as can be (at least one, and
/// none empty).
fn blocks(rounds: usize, count: usize) -> impl Iterator<Item = Range<usize>> {
    let count = count.clamp(1, rounds.max(1));
    (0..count).map(move |block| rounds * block / count..rounds * (block + 1) / count)
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
        let mut out = String::new();
        if self.pieces > 1 {
            let _ = writeln!(
                out,
                "Each message written in {} pieces, with a yield between them.\n",
                self.pieces
            );
        }
        out.push_str(
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
        out.push_str(&self.paired_table());
        if !verdicts.is_empty() {
            out.push_str(
                "\nws-server against the targets (CPU/msg ≤ every peer's; ≤ 1.05× raw TCP for 16 B and 1 KiB; \
                 msgs/s ≥ 0.97× every peer's), each a median of paired ratios (ws-server's window against the \
                 other server's window of the same round, seconds apart), which cancels the machine's drift. \
                 A median short of a target is MISSED when so many rounds fall short that chance alone would \
                 do it at most one time in 32 (a sign test: 5 of 5, 9 of 10, 27 of 40), and behind within \
                 noise otherwise; servers take turns in a balanced order (each runs after each other \
                 equally often), and start afresh for each block of rounds, so that no server keeps \
                 one process's luck for a whole cell:\n\n",
            );
            out.push_str(&verdicts);
        }
        out
    }

    /// ws-server's CPU per message divided by each other server's in the same round: the
    /// median, and in how many rounds ws-server cost more. Steadier than the medians of
    /// the table above, which the machine's drift between rounds moves.
    fn paired_table(&self) -> String {
        let others: Vec<Kind> = self
            .runs
            .values()
            .flat_map(|by_kind| by_kind.keys().copied())
            .filter(|kind| *kind != Kind::WsServer)
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        if others.is_empty() || !self.runs.values().any(|k| k.contains_key(&Kind::WsServer)) {
            return String::new();
        }
        let mut out = String::from(
            "\nws-server's server CPU per message ÷ the other server's, median over the paired rounds \
             (and in how many rounds ws-server cost more)",
        );
        if others.contains(&Kind::WsServerControl) {
            out.push_str(
                ". ws-server-again is a second process of the same binary: its column is the noise \
                 floor, what two runs of one server differ by",
            );
        }
        out.push_str(":\n\n| payload | conns |");
        for kind in &others {
            let _ = write!(out, " ÷ {kind} |");
        }
        out.push_str("\n|---:|---:|");
        out.push_str(&"---:|".repeat(others.len()));
        out.push('\n');
        for (&(size, connections), by_kind) in &self.runs {
            let ours = series(by_kind, &Kind::WsServer, cpu);
            let _ = write!(out, "| {} | {connections} |", size_label(size));
            for kind in &others {
                let ratios = paired_ratios(&ours, &series(by_kind, kind, cpu));
                let cell = Standing::of(&ratios, |r| r > 1.0).map_or_else(
                    || "-".to_owned(),
                    |s| format!("{:.2} ({}/{})", s.median, s.beyond, s.runs),
                );
                let _ = write!(out, " {cell} |");
            }
            out.push('\n');
        }
        out
    }
}

/// One server's figure in each round of a cell, in round order (for pairing).
fn series(
    by_kind: &BTreeMap<Kind, Vec<EchoReport>>,
    kind: &Kind,
    f: fn(&EchoReport) -> Option<f64>,
) -> Vec<Option<f64>> {
    by_kind
        .get(kind)
        .map_or_else(Vec::new, |reports| reports.iter().map(f).collect())
}

/// Server CPU per message, in seconds.
fn cpu(report: &EchoReport) -> Option<f64> {
    report.cpu_per_message().map(|cpu| cpu.as_secs_f64())
}

fn verdict(size: usize, connections: usize, by_kind: &BTreeMap<Kind, Vec<EchoReport>>) -> String {
    let series = |kind: &Kind, f: fn(&EchoReport) -> Option<f64>| series(by_kind, kind, f);
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
    // The comparisons that chance would not explain, apart from those it would.
    let listed = |consistent: bool| {
        misses
            .iter()
            .filter(|(_, standing)| standing.is_consistent() == consistent)
            .map(|(what, s)| format!("{what} {:.2} ({} of {} rounds)", s.median, s.beyond, s.runs))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let status = if failed > 0 {
        format!("MISSED: {failed} failed connections")
    } else if misses.is_empty() {
        "met".to_owned()
    } else {
        [
            ("MISSED", listed(true)),
            ("behind within noise", listed(false)),
        ]
        .into_iter()
        .filter(|(_, list)| !list.is_empty())
        .map(|(label, list)| format!("{label}: {list}"))
        .collect::<Vec<_>>()
        .join("; ")
    };
    format!(
        "- {} × {connections}: {status}{}\n",
        size_label(size),
        control_note(&our_cpu, &series(&Kind::WsServerControl, cpu)),
    )
}

/// How far ws-server's CPU per message stood from its own second process in the same
/// cell (nothing if there was none): the spread that chance and process layout alone give.
fn control_note(ours: &[Option<f64>], control: &[Option<f64>]) -> String {
    Standing::of(&paired_ratios(ours, control), |r| r > 1.0).map_or_else(String::new, |s| {
        format!(
            " (against its own second process: {:.2}, {} of {} rounds above)",
            s.median, s.beyond, s.runs
        )
    })
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

    /// Runs of 1,000 echoes, at these µs of server CPU each.
    fn runs(cpus: &[u64]) -> Vec<EchoReport> {
        cpus.iter().map(|&cpu| run(1000, cpu)).collect()
    }

    fn cell(ours: &[u64], theirs: &[u64]) -> BTreeMap<Kind, Vec<EchoReport>> {
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
            missed.contains("MISSED: CPU × fastwebsockets 1.10 (5 of 5 rounds)"),
            "{missed}"
        );
        let noisy = verdict(16, 100, &cell(&[11, 9, 11, 9, 11], &[10; 5]));
        assert!(
            noisy.contains("behind within noise: CPU × fastwebsockets 1.10 (3 of 5 rounds)"),
            "{noisy}"
        );
        assert!(!noisy.contains("MISSED"), "{noisy}");
    }

    #[test]
    fn blocks_cover_every_round_once_in_order() {
        for (rounds, count) in [(40, 4), (40, 3), (5, 8), (1, 1), (0, 4), (7, 0)] {
            let all: Vec<Range<usize>> = blocks(rounds, count).collect();
            let flat: Vec<usize> = all.iter().cloned().flatten().collect();
            assert_eq!(flat, (0..rounds).collect::<Vec<_>>(), "{rounds} in {count}");
            assert!(all.iter().all(|b| !b.is_empty() || rounds == 0), "{all:?}");
            let sizes: Vec<usize> = all.iter().map(|b| b.len()).collect();
            let (min, max) = (sizes.iter().min(), sizes.iter().max());
            assert!(
                max.zip(min).is_none_or(|(max, min)| max - min <= 1),
                "{sizes:?}"
            );
        }
        assert_eq!(blocks(40, 4).count(), 4);
    }

    #[test]
    fn every_server_starts_early_as_often_as_late() {
        let kinds = Kind::ALL;
        let last = kinds.len() - 1;
        for kind in kinds {
            let positions: Vec<usize> = (0..4)
                .map(|block| {
                    let order = start_order(&kinds, block);
                    assert_eq!(order.len(), kinds.len());
                    order
                        .iter()
                        .position(|&k| k == kind)
                        .expect("every server starts")
                })
                .collect();
            // Over four blocks, the mean position is the middle one.
            assert_eq!(
                positions.iter().sum::<usize>() * 2,
                last * 4,
                "{kind}: {positions:?}"
            );
        }
        assert_eq!(start_order(&[], 3), Vec::new());
    }

    #[test]
    fn a_verdict_quotes_the_control_when_there_is_one() {
        let mut with_control = cell(&[11; 5], &[10; 5]);
        with_control.insert(Kind::WsServerControl, runs(&[10, 12, 11, 11, 10]));
        let verdict = verdict(16, 100, &with_control);
        assert!(
            verdict.ends_with(" (against its own second process: 1.00, 2 of 5 rounds above)\n"),
            "{verdict}"
        );
        assert!(
            verdict.contains("MISSED: CPU × fastwebsockets 1.10"),
            "{verdict}"
        );
        assert!(
            !verdict.contains("ws-server-again"),
            "the control is no peer: {verdict}"
        );
    }

    #[test]
    fn the_paired_table_divides_round_by_round() {
        // Round by round: 11/10, 9/10, 12/10, 11/10, 10/10.
        let results = Results {
            runs: BTreeMap::from([((16, 100), cell(&[11, 9, 12, 11, 10], &[10; 5]))]),
            ..Results::default()
        };
        let table = results.paired_table();
        assert!(
            table.contains("| payload | conns | ÷ fastwebsockets |"),
            "{table}"
        );
        assert!(table.contains("| 16 B | 100 | 1.10 (3/5) |"), "{table}");
        assert!(
            !table.contains("ws-server-again"),
            "no control, no word of it: {table}"
        );
    }

    #[test]
    fn a_verdict_keeps_what_missed_apart_from_what_is_noise() {
        let mut mixed = cell(&[11; 5], &[10; 5]);
        mixed.insert(Kind::TokioWebSockets, runs(&[10, 10, 12, 10, 12]));
        assert_eq!(
            verdict(16, 100, &mixed),
            "- 16 B × 100: MISSED: CPU × fastwebsockets 1.10 (5 of 5 rounds); \
             behind within noise: CPU × tokio-websockets 1.10 (3 of 5 rounds)\n"
        );
    }
}
