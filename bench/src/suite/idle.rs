//! Idle memory for each server.

use std::{fmt::Write, io};

use super::Cores;
use crate::{idle, kind::Kind};

/// Measures each server in `kinds` with every endpoint (not the anchors) holding
/// `connections` idle connections, and returns the markdown table.
pub fn run(kinds: &[Kind], connections: usize, cores: &Cores) -> io::Result<String> {
    let mut out = String::from(
        "| server | idle connections | RSS before | RSS after | per connection | still echoing |\n\
         |---|---:|---:|---:|---:|---:|\n",
    );
    for &kind in kinds.iter().filter(|kind| kind.is_full_server()) {
        let server = cores.start(kind)?;
        let report = idle::run(server.addr(), "/echo", connections, server.pid())?;
        drop(server);
        let per = report.per_connection() / 1024.0;
        eprintln!("idle  {kind:<17} {per:.2} KiB per connection");
        let _ = writeln!(
            out,
            "| {kind} | {} | {:.1} MiB | {:.1} MiB | {per:.2} KiB | {}/{} |",
            report.connections,
            report.rss_before as f64 / 1048576.0,
            report.rss_after as f64 / 1048576.0,
            report.alive,
            report.sampled,
        );
    }
    Ok(out)
}
