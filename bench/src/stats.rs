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

/// The median over repetitions of `ours[i] / theirs[i]`: runs of one repetition ran close
/// together, so that slow drift of a shared machine cancels out of each ratio. `None`
/// without a single pair.
pub fn paired_ratio(ours: &[Option<f64>], theirs: &[Option<f64>]) -> Option<f64> {
    median(
        ours.iter()
            .zip(theirs)
            .filter_map(|pair| match pair {
                (Some(ours), Some(theirs)) if *theirs > 0.0 => Some(ours / theirs),
                _ => None,
            })
            .collect(),
    )
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
        assert_eq!(paired_ratio(&ours, &theirs), Some(1.5));
        assert_eq!(paired_ratio(&[None], &[Some(1.0)]), None);
    }
}
