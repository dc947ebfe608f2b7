//! Amounts as banks write them: `-1234.56`, `1.234,56`, `1,234.56`, `(12.00)`, `12.00-`,
//! `€ 12,50`, `+5`. Never a float.

use rust_decimal::Decimal;

/// Which character separates the units from the cents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecimalMark {
    Point,
    Comma,
}

/// Reads a signed amount written with `mark` as the decimal separator; the other of `.` and
/// `,` (and spaces, apostrophes, non-breaking spaces) may group thousands. Currency symbols and
/// codes around the number are ignored. `None` when it is not a number.
pub fn parse_amount(text: &str, mark: DecimalMark) -> Option<Decimal> {
    let text = text.trim_matches(decoration);
    if text.is_empty() {
        return None;
    }
    let (decimal, group) = match mark {
        DecimalMark::Point => ('.', ','),
        DecimalMark::Comma => (',', '.'),
    };
    let mut negative = false;
    let mut digits = String::with_capacity(text.len());
    let mut seen_digit = false;
    let mut seen_decimal = false;
    let mut open_paren = false;
    for (i, c) in text.char_indices() {
        match c {
            '0'..='9' => {
                seen_digit = true;
                digits.push(c);
            }
            c if c == decimal => {
                if seen_decimal {
                    return None;
                }
                seen_decimal = true;
                digits.push('.');
            }
            c if c == group || c == ' ' || c == '\'' || c == '\u{a0}' || c == '\u{202f}' => {
                // A group mark after the decimal mark is not a number ("1.234.5" in Comma).
                if seen_decimal {
                    return None;
                }
            }
            '-' | '\u{2212}' => {
                // Leading or trailing minus ("12.00-" in German and MT940-style exports).
                if seen_digit && i + c.len_utf8() != text.len() {
                    return None;
                }
                if negative {
                    return None;
                }
                negative = true;
            }
            '+' => {
                if seen_digit && i + 1 != text.len() {
                    return None;
                }
            }
            '(' if !seen_digit => open_paren = true,
            ')' if open_paren => negative = true,
            // A symbol or code between a leading sign and the number ("-€12"); not inside it.
            c if decoration(c) && !seen_digit => {}
            _ => return None,
        }
    }
    if !seen_digit {
        return None;
    }
    let value: Decimal = digits.parse().ok()?;
    Some(if negative { -value } else { value })
}

/// What may stand around a number: currency symbols and codes, spaces.
fn decoration(c: char) -> bool {
    c.is_alphabetic() || c.is_whitespace() || "$€£¥₹₩₺₽₪₫฿₦₱₴₲₡₵".contains(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(text: &str) -> Option<String> {
        parse_amount(text, DecimalMark::Point).map(|d| d.to_string())
    }
    fn c(text: &str) -> Option<String> {
        parse_amount(text, DecimalMark::Comma).map(|d| d.to_string())
    }

    #[test]
    fn the_ways_banks_write_amounts() {
        assert_eq!(p("-1234.56").as_deref(), Some("-1234.56"));
        assert_eq!(p("1,234.56").as_deref(), Some("1234.56"));
        assert_eq!(c("1.234,56").as_deref(), Some("1234.56"));
        assert_eq!(c("-12,5").as_deref(), Some("-12.5"));
        assert_eq!(c("12,50-").as_deref(), Some("-12.50"));
        assert_eq!(p("(12.00)").as_deref(), Some("-12.00"));
        assert_eq!(p("$1,000.00").as_deref(), Some("1000.00"));
        assert_eq!(c("€ 12,50").as_deref(), Some("12.50"));
        assert_eq!(c("12,50 EUR").as_deref(), Some("12.50"));
        assert_eq!(c("1 234,56").as_deref(), Some("1234.56"));
        assert_eq!(p("+5").as_deref(), Some("5"));
        assert_eq!(p("1'234.50").as_deref(), Some("1234.50"));
        assert_eq!(p("-€12.00").as_deref(), Some("-12.00"));
        assert_eq!(p("USD 1,200.00").as_deref(), Some("1200.00"));
    }

    #[test]
    fn what_is_not_an_amount() {
        assert_eq!(p(""), None);
        assert_eq!(p("abc"), None);
        assert_eq!(p("1.2.3"), None);
        assert_eq!(c("1,2,3"), None);
        assert_eq!(p("12-3"), None);
        assert_eq!(p("--5"), None);
        assert_eq!(p("1e5"), None);
        assert_eq!(p("-"), None);
        assert_eq!(p("12 USD 5"), None);
    }
}
