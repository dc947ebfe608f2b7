//! Money and dates as the sentences of explanations, insights and emails show them.

use budgetsmart_common::currency::Currency;
use chrono::NaiveDate;
use rust_decimal::Decimal;

/// "1,450.00 USD": rounded to the currency's minor unit, thousands grouped.
pub fn money(amount: Decimal, currency: &str) -> String {
    let minor = Currency::parse(currency).map_or(2, |c| c.minor_units());
    let mut rounded = amount.round_dp(minor);
    rounded.rescale(minor);
    let text = rounded.abs().to_string();
    let (whole, fraction) = text.split_once('.').map_or((text.as_str(), None), |(w, f)| (w, Some(f)));
    let mut grouped = String::new();
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    let sign = if rounded.is_sign_negative() && !rounded.is_zero() { "-" } else { "" };
    match fraction {
        Some(f) => format!("{sign}{grouped}.{f} {currency}"),
        None => format!("{sign}{grouped} {currency}"),
    }
}

/// "2026-12-01" as "1 Dec 2026".
pub fn day(day: NaiveDate) -> String {
    day.format("%-d %b %Y").to_string()
}

/// "2026-12" as "December 2026".
pub fn month(first_day: NaiveDate) -> String {
    first_day.format("%B %Y").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_is_grouped_and_rounded_to_the_currency() {
        assert_eq!(money(Decimal::new(2_007_067, 2), "USD"), "20,070.67 USD");
        assert_eq!(money(Decimal::new(999, 1), "JPY"), "100 JPY");
        assert_eq!(money(Decimal::new(-12345, 2), "EUR"), "-123.45 EUR");
        assert_eq!(money(Decimal::new(5, 0), "USD"), "5.00 USD");
    }

    #[test]
    fn dates_read_as_people_write_them() {
        let d = NaiveDate::from_ymd_opt(2026, 12, 1).expect("date");
        assert_eq!(day(d), "1 Dec 2026");
        assert_eq!(month(d), "December 2026");
    }
}
