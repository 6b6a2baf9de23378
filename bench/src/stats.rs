//! Summaries of repeated runs.

/// The median of `values` (the mean of the middle two for an even count); `None` if empty.
pub fn median(mut values: Vec<f64>) -> Option<f64> {
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    match values.len() {
        0 => None,
        len if len % 2 == 1 => Some(values[mid]),
        _ => Some((values[mid - 1] + values[mid]) / 2.0),
    }
}

/// The ratios `ours[i] / theirs[i]` of the repetitions in which both ran: runs of one
/// repetition ran close together, so that slow drift of a shared machine cancels out of
/// each ratio.
pub fn paired_ratios(ours: &[Option<f64>], theirs: &[Option<f64>]) -> Vec<f64> {
    ours.iter()
        .zip(theirs)
        .filter_map(|pair| match pair {
            (Some(ours), Some(theirs)) if *theirs > 0.0 => Some(ours / theirs),
            _ => None,
        })
        .collect()
}

/// Where paired ratios stand against a target.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Standing {
    /// The median ratio.
    pub median: f64,
    /// The median falls short of the target.
    pub short: bool,
    /// Repetitions whose ratio falls short.
    pub beyond: usize,
    /// Repetitions compared.
    pub runs: usize,
}

impl Standing {
    /// How `ratios` stand against a target that a ratio falls short of when `short` says
    /// so; `None` without a ratio.
    pub fn of(ratios: &[f64], short: impl Fn(f64) -> bool) -> Option<Standing> {
        let median = median(ratios.to_vec())?;
        Some(Standing {
            median,
            short: short(median),
            beyond: ratios.iter().filter(|&&ratio| short(ratio)).count(),
            runs: ratios.len(),
        })
    }

    /// So many repetitions fall short that noise alone would rarely do it: were the two
    /// servers equal, each ratio would fall on either side with even odds, and this many
    /// or more of them on the short side would come at most one time in 32 (a sign test).
    /// Five of five qualify, nine of ten, and never fewer than five runs.
    pub fn is_consistent(&self) -> bool {
        sign_test_tail(self.runs, self.beyond) <= 1.0 / 32.0
    }
}

/// The chance that `at_least` or more of `runs` fair coin flips come up heads.
fn sign_test_tail(runs: usize, at_least: usize) -> f64 {
    let mut ways = 1.0; // runs choose k, from k = 0
    let mut tail = 0.0;
    for k in 0..=runs {
        if k >= at_least {
            tail += ways;
        }
        ways = ways * (runs - k) as f64 / (k + 1) as f64;
    }
    tail / 2f64.powi(runs as i32)
}

/// `value / best`, formatted as a ratio such as `1.04×`; `-` when either is missing.
pub fn ratio(value: Option<f64>, best: Option<f64>) -> String {
    match (value, best) {
        (Some(value), Some(best)) if best > 0.0 => format!("{:.2}×", value / best),
        _ => "-".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_of_odd_and_even_counts() {
        assert_eq!(median(vec![]), None);
        assert_eq!(median(vec![3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(vec![4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(ratio(Some(3.0), Some(2.0)), "1.50×");
        assert_eq!(ratio(None, Some(2.0)), "-");
    }

    #[test]
    fn paired_ratios_pair_runs_of_the_same_repetition() {
        // A machine twice as fast in the second repetition: the pairs still say 1.5×.
        let ours = [Some(3.0), Some(1.5), None];
        let theirs = [Some(2.0), Some(1.0), Some(1.0)];
        assert_eq!(paired_ratios(&ours, &theirs), [1.5, 1.5]);
        assert!(paired_ratios(&[None], &[Some(1.0)]).is_empty());
    }

    #[test]
    fn the_sign_test_tail_counts_outcomes() {
        assert_eq!(sign_test_tail(5, 5), 1.0 / 32.0);
        assert_eq!(sign_test_tail(10, 9), 11.0 / 1024.0);
        assert_eq!(sign_test_tail(4, 0), 1.0);
    }

    #[test]
    fn a_miss_is_consistent_only_when_nearly_every_run_misses() {
        let behind = [1.1, 1.2, 1.05, 1.3, 1.01];
        let standing = Standing::of(&behind, |r| r > 1.0).expect("ratios");
        assert_eq!(
            (standing.median, standing.beyond, standing.runs),
            (1.1, 5, 5)
        );
        assert!(standing.is_consistent());
        let mixed = Standing::of(&[1.1, 0.9, 1.2, 1.05, 0.95], |r| r > 1.0).expect("ratios");
        assert_eq!(mixed.beyond, 3);
        assert!(!mixed.is_consistent());
        let few = Standing::of(&[1.1, 1.2, 1.3], |r| r > 1.0).expect("ratios");
        assert!(!few.is_consistent(), "three runs cannot tell");
        let nine_of_ten = [1.1, 1.2, 1.05, 1.3, 1.01, 1.1, 1.2, 1.05, 1.3, 0.9];
        let standing = Standing::of(&nine_of_ten, |r| r > 1.0).expect("ratios");
        assert!(standing.is_consistent(), "nine of ten: 11 in 1024");
        let eight_of_ten = [1.1, 1.2, 1.05, 1.3, 1.01, 1.1, 1.2, 1.05, 0.9, 0.9];
        let standing = Standing::of(&eight_of_ten, |r| r > 1.0).expect("ratios");
        assert!(!standing.is_consistent(), "eight of ten: 56 in 1024");
        let slower = Standing::of(&[0.9, 0.95, 1.0, 0.8, 0.96], |r| r < 0.97).expect("ratios");
        assert_eq!(slower.beyond, 4);
        assert_eq!(Standing::of(&[], |r| r > 1.0), None);
    }
}
