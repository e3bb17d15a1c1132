//! Interval estimates. The normal quantile and the median come from statrs; the interval
//! formulas below are not in any maintained Rust crate, so they are written here and tested
//! against published reference values.

use statrs::distribution::{ContinuousCDF, Normal};
use statrs::statistics::{Data, Median};

/// The two-sided 95% standard normal quantile (1.959963984540054).
pub fn z95() -> f64 {
    Normal::standard().inverse_cdf(0.975)
}

/// Wilson score interval for `k` successes in `n` trials (Wilson 1927; Newcombe 1998 method 3).
pub fn wilson(k: u64, n: u64) -> Option<(f64, f64)> {
    if n == 0 {
        return None;
    }
    let z = z95();
    let n = n as f64;
    let p = k as f64 / n;
    let z2 = z * z;
    let centre = p + z2 / (2.0 * n);
    let spread = z * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    let denominator = 1.0 + z2 / n;
    Some((
        (centre - spread) / denominator,
        (centre + spread) / denominator,
    ))
}

/// Difference of two proportions `k1/n1 − k2/n2` with Newcombe's hybrid score interval
/// (Newcombe 1998, method 10), built from the two Wilson intervals.
pub fn newcombe(k1: u64, n1: u64, k2: u64, n2: u64) -> Option<(f64, f64, f64)> {
    let (l1, u1) = wilson(k1, n1)?;
    let (l2, u2) = wilson(k2, n2)?;
    let p1 = k1 as f64 / n1 as f64;
    let p2 = k2 as f64 / n2 as f64;
    let d = p1 - p2;
    let lower = d - ((p1 - l1).powi(2) + (u2 - p2).powi(2)).sqrt();
    let upper = d + ((u1 - p1).powi(2) + (p2 - l2).powi(2)).sqrt();
    Some((d, lower, upper))
}

/// The median, with the mean of the two middle values for an even count.
pub fn median(values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    Some(Data::new(values.to_vec()).median())
}

/// One person's follow-up: time in days and whether it ended in the event (else censored).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Observation {
    pub time: f64,
    pub event: bool,
}

/// The Kaplan–Meier estimate of the proportion with the event by `day`, with a 95% interval
/// from Greenwood's variance on the log(−log) scale (the default of lifelines and of
/// Kalbfleisch and Prentice). Events are counted before censorings at the same time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KaplanMeier {
    pub proportion: f64,
    pub ci: (f64, f64),
}

pub fn kaplan_meier(observations: &[Observation], day: f64) -> Option<KaplanMeier> {
    if observations.is_empty() {
        return None;
    }
    let mut times: Vec<f64> = observations
        .iter()
        .filter(|o| o.event && o.time <= day)
        .map(|o| o.time)
        .collect();
    times.sort_by(f64::total_cmp);
    times.dedup();
    let mut survival = 1.0;
    let mut greenwood = 0.0;
    for t in times {
        let at_risk = observations.iter().filter(|o| o.time >= t).count() as f64;
        let events = observations
            .iter()
            .filter(|o| o.event && o.time == t)
            .count() as f64;
        survival *= 1.0 - events / at_risk;
        if at_risk > events {
            greenwood += events / (at_risk * (at_risk - events));
        }
    }
    let proportion = 1.0 - survival;
    let ci = if survival >= 1.0 {
        (0.0, 0.0)
    } else if survival <= 0.0 {
        (1.0, 1.0)
    } else {
        let z = z95();
        let v = survival.ln();
        let shift = z * greenwood.sqrt() / v;
        // v < 0, so `shift` < 0: adding it gives the upper bound of survival.
        let upper_survival = (-((-v).ln() + shift).exp()).exp();
        let lower_survival = (-((-v).ln() - shift).exp()).exp();
        (1.0 - upper_survival, 1.0 - lower_survival)
    };
    Some(KaplanMeier { proportion, ci })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn the_normal_quantile_is_the_tabulated_one() {
        assert!(close(z95(), 1.959_963_984_540_054));
    }

    #[test]
    fn wilson_matches_newcombes_published_examples() {
        // Newcombe (1998), Table I: 81/263 → 0.2553 to 0.3662; 15/148 → 0.0624 to 0.1605.
        let (l, u) = wilson(81, 263).unwrap();
        assert!(
            (l - 0.2553).abs() < 5e-5 && (u - 0.3662).abs() < 5e-5,
            "{l} {u}"
        );
        let (l, u) = wilson(15, 148).unwrap();
        assert!(
            (l - 0.0624).abs() < 5e-5 && (u - 0.1605).abs() < 5e-5,
            "{l} {u}"
        );
        // 0/10 → 0 to 0.2775.
        let (l, u) = wilson(0, 10).unwrap();
        assert!(close(l, 0.0) && (u - 0.2775).abs() < 5e-5);
    }

    #[test]
    fn newcombe_matches_the_published_hybrid_score_example() {
        // Newcombe (1998), Table II example (a): 56/70 − 48/80 → 0.0524 to 0.3339.
        let (d, l, u) = newcombe(56, 70, 48, 80).unwrap();
        assert!(close(d, 0.2));
        assert!(
            (l - 0.0524).abs() < 5e-5 && (u - 0.3339).abs() < 5e-5,
            "{l} {u}"
        );
    }

    #[test]
    fn kaplan_meier_matches_a_hand_computed_example() {
        // Six people: events at 2, 3 (two), 5; censored at 3 and 8.
        let obs = [
            Observation {
                time: 2.0,
                event: true,
            },
            Observation {
                time: 3.0,
                event: true,
            },
            Observation {
                time: 3.0,
                event: true,
            },
            Observation {
                time: 3.0,
                event: false,
            },
            Observation {
                time: 5.0,
                event: true,
            },
            Observation {
                time: 8.0,
                event: false,
            },
        ];
        // S(3) = 5/6 · 3/5 = 0.5; S(5) = 0.5 · 1/2 = 0.25.
        let at3 = kaplan_meier(&obs, 3.0).unwrap();
        assert!(close(at3.proportion, 0.5));
        let at5 = kaplan_meier(&obs, 5.0).unwrap();
        assert!(close(at5.proportion, 0.75));
        // Greenwood at 3: 1/(6·5) + 2/(5·3) = 1/6. On the log(−log) scale the survival
        // bounds are 0.110948 and 0.803709, so the proportion's are
        // 0.196291 and 0.889052 (computed independently with Python's math module).
        assert!((at3.ci.0 - 0.196_290_763).abs() < 1e-8, "{:?}", at3.ci);
        assert!((at3.ci.1 - 0.889_051_740).abs() < 1e-8, "{:?}", at3.ci);
    }

    #[test]
    fn with_no_events_the_proportion_and_its_interval_are_zero() {
        let obs = [Observation {
            time: 30.0,
            event: false,
        }];
        let km = kaplan_meier(&obs, 91.0).unwrap();
        assert_eq!((km.proportion, km.ci), (0.0, (0.0, 0.0)));
    }

    #[test]
    fn the_median_of_an_even_count_is_the_mean_of_the_middle_two() {
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(&[5.0, 1.0, 3.0]), Some(3.0));
        assert_eq!(median(&[]), None);
    }
}
