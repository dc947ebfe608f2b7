//! Money as people read it in email: "$1,234.50", "€1,234.50", "1,234.50 CHF".

use budgetsmart_common::currency::Currency;
use budgetsmart_common::money::format_amount;
use rust_decimal::Decimal;

/// Formats a decimal `amount` in `currency` with grouping, the currency's minor units and its
/// symbol where one is unambiguous; a negative amount gets a leading minus.
pub fn format_money(amount: Decimal, currency: &str) -> String {
    let code = currency.trim().to_ascii_uppercase();
    // The API's own rounding to the currency's minor units; an unknown code gets two places.
    let text = match Currency::parse(&code) {
        Some(known) => format_amount(amount.abs(), known),
        None => format!("{:.2}", amount.abs().round_dp(2)),
    };
    let rounded: Decimal = text.parse().unwrap_or_default();
    let (whole, fraction) = text.split_once('.').map_or((text.as_str(), None), |(w, f)| (w, Some(f)));
    let mut grouped = String::with_capacity(whole.len() + whole.len() / 3);
    for (i, digit) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    if let Some(fraction) = fraction {
        grouped.push('.');
        grouped.push_str(fraction);
    }
    let sign = if amount.is_sign_negative() && !rounded.is_zero() { "-" } else { "" };
    match symbol(&code) {
        Some(symbol) => format!("{sign}{symbol}{grouped}"),
        None => format!("{sign}{grouped} {code}"),
    }
}

/// Symbols that are unambiguous on their own; other currencies show their code.
fn symbol(code: &str) -> Option<&'static str> {
    Some(match code {
        "USD" => "$",
        "EUR" => "€",
        "GBP" => "£",
        "JPY" => "¥",
        "INR" => "₹",
        "KRW" => "₩",
        "CAD" => "CA$",
        "AUD" => "A$",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        s.parse().expect("a decimal")
    }

    #[test]
    fn groups_rounds_and_signs() {
        assert_eq!(format_money(d("1234.5"), "USD"), "$1,234.50");
        assert_eq!(format_money(d("-400"), "EUR"), "-€400.00");
        assert_eq!(format_money(d("1234567.891"), "CHF"), "1,234,567.89 CHF");
        assert_eq!(format_money(d("1500"), "JPY"), "¥1,500");
        assert_eq!(format_money(d("0.004"), "usd"), "$0.00");
        assert_eq!(format_money(d("-0.001"), "GBP"), "£0.00");
        assert_eq!(format_money(d("999.999"), "USD"), "$1,000.00");
    }
}
