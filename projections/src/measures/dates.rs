//! Calendar arithmetic the measures share.

use chrono::{Datelike, Months, NaiveDate};

/// `date` plus `months` calendar months; a day the target month lacks becomes its last day
/// (31 August + 6 months = 28 or 29 February).
pub fn add_months(date: NaiveDate, months: u32) -> NaiveDate {
    date.checked_add_months(Months::new(months))
        .unwrap_or(NaiveDate::MAX)
}

/// `2024Q1`.
pub fn quarter(date: NaiveDate) -> String {
    format!("{}Q{}", date.year(), (date.month() - 1) / 3 + 1)
}

pub fn days_between(from: NaiveDate, to: NaiveDate) -> i64 {
    (to - from).num_days()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn a_month_end_that_does_not_exist_becomes_the_last_day() {
        assert_eq!(add_months(d(2023, 8, 31), 6), d(2024, 2, 29));
        assert_eq!(add_months(d(2022, 8, 31), 6), d(2023, 2, 28));
        assert_eq!(add_months(d(2024, 1, 15), 12), d(2025, 1, 15));
    }

    #[test]
    fn quarters_are_calendar_quarters() {
        assert_eq!(quarter(d(2024, 3, 31)), "2024Q1");
        assert_eq!(quarter(d(2024, 4, 1)), "2024Q2");
        assert_eq!(quarter(d(2023, 12, 31)), "2023Q4");
    }
}
