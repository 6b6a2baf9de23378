//! The order in which servers take their turns, round after round.
//!
//! A server's window can be coloured by the one just before it (caches, the kernel's
//! per-CPU state, a vCPU that was busy or idle), so no server may always follow the same
//! other one, as it would if the order were only rotated. The rounds go through a Williams
//! design instead: over one cycle of it, every server runs in every position, and right
//! after every other server, equally often.

use crate::kind::Kind;

/// The order of `kinds` in round `round`.
pub(super) fn balanced(kinds: &[Kind], round: usize) -> Vec<Kind> {
    let rows = williams_rows(kinds.len());
    match rows.get(round % rows.len().max(1)) {
        Some(row) => row.iter().map(|&i| kinds[i]).collect(),
        None => Vec::new(),
    }
}

/// The rows of a Williams design for `n` treatments: a Latin square whose first row is
/// 0, 1, n-1, 2, n-2, ... and whose row r adds r to each entry; for an odd `n`, the
/// mirror image of each row as well.
fn williams_rows(n: usize) -> Vec<Vec<usize>> {
    let first: Vec<usize> = (0..n)
        .map(|j| match j {
            0 => 0,
            j if j % 2 == 1 => j.div_ceil(2),
            j => n - j / 2,
        })
        .collect();
    let mut rows: Vec<Vec<usize>> = (0..n)
        .map(|r| first.iter().map(|&a| (a + r) % n).collect())
        .collect();
    if !n.is_multiple_of(2) {
        let mirrored: Vec<Vec<usize>> = rows
            .iter()
            .map(|row| row.iter().rev().copied().collect())
            .collect();
        rows.extend(mirrored);
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    /// How many rounds make one cycle of the design for `n` servers.
    fn cycle_len(n: usize) -> usize {
        if n.is_multiple_of(2) { n } else { 2 * n }
    }

    /// Over one cycle: each server in each position, and after each other server, the
    /// same number of times.
    fn assert_balanced(n: usize) {
        let rows = williams_rows(n);
        assert_eq!(rows.len(), cycle_len(n), "n = {n}");
        let mut position = vec![vec![0; n]; n];
        let mut follows = vec![vec![0; n]; n];
        for row in &rows {
            let mut sorted = row.clone();
            sorted.sort_unstable();
            assert_eq!(sorted, (0..n).collect::<Vec<_>>(), "n = {n}: {row:?}");
            for (p, &t) in row.iter().enumerate() {
                position[t][p] += 1;
            }
            for pair in row.windows(2) {
                follows[pair[0]][pair[1]] += 1;
            }
        }
        let per_position = rows.len() / n;
        assert!(
            position.iter().flatten().all(|&c| c == per_position),
            "n = {n}"
        );
        let per_pair = if n.is_multiple_of(2) { 1 } else { 2 };
        for (a, row) in follows.iter().enumerate() {
            for (b, &count) in row.iter().enumerate() {
                let expected = if a == b { 0 } else { per_pair };
                assert_eq!(count, expected, "n = {n}: {a} before {b}");
            }
        }
    }

    #[test]
    fn every_server_follows_every_other_equally_often() {
        for n in 1..=8 {
            assert_balanced(n);
        }
    }

    #[test]
    fn five_servers_are_not_merely_rotated() {
        let kinds = [
            Kind::WsServer,
            Kind::Tungstenite,
            Kind::FastWebSockets,
            Kind::TokioWebSockets,
            Kind::RawTcp,
        ];
        let before_ws_server: std::collections::BTreeSet<Kind> = (0..cycle_len(5))
            .filter_map(|round| {
                let order = balanced(&kinds, round);
                let at = order.iter().position(|&k| k == Kind::WsServer)?;
                at.checked_sub(1).map(|before| order[before])
            })
            .collect();
        assert_eq!(before_ws_server.len(), 4, "{before_ws_server:?}");
    }
}
