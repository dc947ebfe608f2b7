//! Days as banks write them: `2026-03-14`, `14.03.2026`, `14.03.26`, `03/14/2026`, `20260314`,
//! `14 Mär 2026`, `Mar 14, 2026`, with or without a time after them (`2026-03-14T00:00:00+01:00`,
//! `2026-03-14 19:42:42`). Which of day and month comes first is the file's, not the cell's:
//! `infer` reads it from the sampled values.

use chrono::NaiveDate;

use crate::model::DateOrder;
use crate::tabular::headers;

/// What one value says about the file's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Evidence {
    /// A four-digit year first, or `20260314`.
    Ymd,
    /// A first number above 12.
    Dmy,
    /// A second number above 12.
    Mdy,
    /// A date under either order (`05/06/2026`), or one with the month written out.
    Any,
}

/// The order the sampled values point to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Guess {
    /// `None` when no value tells (every day was 12 or less).
    pub(crate) order: Option<DateOrder>,
    /// Values pointed two ways: the column is probably not one date format.
    pub(crate) conflicting: bool,
}

#[derive(Debug, Clone, Copy)]
struct Num {
    value: u32,
    digits: usize,
}

#[derive(Debug, Clone, Copy)]
enum Token {
    Num(Num),
    Month(u32),
}

#[derive(Debug, Clone, Copy)]
enum Split {
    Compact { year: i32, month: u32, day: u32 },
    Numeric([Num; 3]),
    Named { month: u32, first: Num, second: Num },
}

/// The day `text` names, reading ambiguous numbers in `order`.
pub(crate) fn parse(text: &str, order: DateOrder) -> Option<NaiveDate> {
    match split(text)? {
        Split::Compact { year, month, day } => NaiveDate::from_ymd_opt(year, month, day),
        Split::Named { month, first, second } => named(month, first, second),
        Split::Numeric(parts) => numeric(parts, order),
    }
}

/// What `text` says about the order, or `None` when it is not a date.
pub(crate) fn evidence(text: &str) -> Option<Evidence> {
    match split(text)? {
        Split::Compact { year, month, day } => {
            NaiveDate::from_ymd_opt(year, month, day).map(|_| Evidence::Ymd)
        }
        Split::Named { month, first, second } => named(month, first, second).map(|_| Evidence::Any),
        Split::Numeric(parts) if parts[0].digits == 4 => {
            numeric(parts, DateOrder::Ymd).map(|_| Evidence::Ymd)
        }
        Split::Numeric(parts) => {
            match (numeric(parts, DateOrder::Dmy).is_some(), numeric(parts, DateOrder::Mdy).is_some()) {
                (true, true) => Some(Evidence::Any),
                (true, false) => Some(Evidence::Dmy),
                (false, true) => Some(Evidence::Mdy),
                (false, false) => None,
            }
        }
    }
}

/// The order the values point to; values that are not dates are ignored.
pub(crate) fn infer<'a>(values: impl IntoIterator<Item = &'a str>) -> Guess {
    let (mut ymd, mut dmy, mut mdy) = (0usize, 0usize, 0usize);
    for value in values {
        match evidence(value) {
            Some(Evidence::Ymd) => ymd += 1,
            Some(Evidence::Dmy) => dmy += 1,
            Some(Evidence::Mdy) => mdy += 1,
            Some(Evidence::Any) | None => {}
        }
    }
    let counts = [(ymd, DateOrder::Ymd), (dmy, DateOrder::Dmy), (mdy, DateOrder::Mdy)];
    let kinds = counts.iter().filter(|(n, _)| *n > 0).count();
    let order = counts.iter().filter(|(n, _)| *n > 0).max_by_key(|(n, _)| *n).map(|&(_, order)| order);
    Guess { order, conflicting: kinds > 1 }
}

fn numeric(parts: [Num; 3], order: DateOrder) -> Option<NaiveDate> {
    let [a, b, c] = parts;
    let (year, month, day) = if a.digits == 4 {
        (a, b, c)
    } else {
        match order {
            DateOrder::Ymd => (a, b, c),
            DateOrder::Dmy => (c, b, a),
            DateOrder::Mdy => (c, a, b),
        }
    };
    if month.digits > 2 || day.digits > 2 {
        return None;
    }
    NaiveDate::from_ymd_opt(year_of(year)?, month.value, day.value)
}

fn named(month: u32, first: Num, second: Num) -> Option<NaiveDate> {
    // `2026 Mar 14` is rare but unambiguous; otherwise the day comes before the year.
    let (day, year) = if first.digits == 4 { (second, first) } else { (first, second) };
    if day.digits > 2 {
        return None;
    }
    NaiveDate::from_ymd_opt(year_of(year)?, month, day.value)
}

/// Two-digit years are this century's up to 69, the last century's from 70.
fn year_of(num: Num) -> Option<i32> {
    let value = i32::try_from(num.value).ok()?;
    match num.digits {
        4 => Some(value),
        2 if value < 70 => Some(2000 + value),
        2 => Some(1900 + value),
        _ => None,
    }
}

fn split(text: &str) -> Option<Split> {
    let text = text.trim();
    let mut tokens: Vec<Token> = Vec::with_capacity(3);
    let mut chars = text.char_indices().peekable();
    let mut tail = text.len();
    while let Some(&(at, c)) = chars.peek() {
        if tokens.len() == 3 {
            tail = at;
            break;
        }
        if c.is_ascii_digit() {
            let mut end = at;
            while let Some(&(i, d)) = chars.peek() {
                if !d.is_ascii_digit() {
                    break;
                }
                end = i + 1;
                chars.next();
            }
            let run = &text[at..end];
            if run.len() == 8 && tokens.is_empty() {
                return tail_ok(&text[end..]).then(|| compact(run)).flatten();
            }
            if run.len() > 4 {
                return None;
            }
            tokens.push(Token::Num(Num { value: run.parse().ok()?, digits: run.len() }));
        } else if c.is_alphabetic() {
            let mut end = at;
            while let Some(&(i, d)) = chars.peek() {
                if !d.is_alphabetic() {
                    break;
                }
                end = i + d.len_utf8();
                chars.next();
            }
            tokens.push(Token::Month(month(&text[at..end])?));
        } else if matches!(c, '-' | '.' | '/' | ' ' | ',') && !tokens.is_empty() {
            chars.next();
        } else {
            return None;
        }
    }
    if tokens.len() != 3 || !tail_ok(&text[tail..]) {
        return None;
    }
    match tokens.as_slice() {
        &[Token::Num(a), Token::Num(b), Token::Num(c)] => Some(Split::Numeric([a, b, c])),
        &[Token::Month(month), Token::Num(first), Token::Num(second)]
        | &[Token::Num(first), Token::Month(month), Token::Num(second)] => {
            Some(Split::Named { month, first, second })
        }
        _ => None,
    }
}

/// What may follow a date: nothing, a time (`T00:00:00`, ` 19:42`), or the trailing dot of
/// `2026.09.15.`.
fn tail_ok(tail: &str) -> bool {
    let tail = tail.strip_prefix('.').unwrap_or(tail);
    tail.is_empty()
        || tail.starts_with(char::is_whitespace)
        || (tail.starts_with(['T', 't']) && tail[1..].starts_with(|c: char| c.is_ascii_digit()))
}

fn compact(run: &str) -> Option<Split> {
    Some(Split::Compact {
        year: run[..4].parse().ok()?,
        month: run[4..6].parse().ok()?,
        day: run[6..].parse().ok()?,
    })
}

/// A month's name or abbreviation in English, German, French, Dutch or Spanish.
fn month(word: &str) -> Option<u32> {
    const MONTHS: [&[&str]; 12] = [
        &["jan", "january", "janv", "janvier", "januar", "janner", "jaenner", "januari", "ene", "enero"],
        &["feb", "february", "fev", "fevr", "fevrier", "februar", "februari", "febrero"],
        &["mar", "march", "mars", "marz", "maerz", "maart", "mrt", "marzo"],
        &["apr", "april", "avr", "avril", "abr", "abril"],
        &["may", "mai", "mei", "mayo"],
        &["jun", "june", "juin", "juni", "junio"],
        &["jul", "july", "juil", "juillet", "juli", "julio"],
        &["aug", "august", "aout", "augustus", "ago", "agosto"],
        &["sep", "sept", "september", "septembre", "septiembre", "set"],
        &["oct", "october", "octobre", "okt", "oktober", "octubre"],
        &["nov", "november", "novembre", "noviembre"],
        &["dec", "december", "decembre", "dez", "dezember", "dic", "diciembre"],
    ];
    let (plain, ae) = (headers::key(word), headers::key_ae(word));
    MONTHS
        .iter()
        .position(|names| names.contains(&plain.as_str()) || names.contains(&ae.as_str()))
        .and_then(|i| u32::try_from(i + 1).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> Option<NaiveDate> {
        NaiveDate::from_ymd_opt(y, m, d)
    }

    #[test]
    fn the_ways_banks_write_days() {
        assert_eq!(parse("2026-03-14", DateOrder::Dmy), day(2026, 3, 14));
        assert_eq!(parse("2026/03/14", DateOrder::Mdy), day(2026, 3, 14));
        assert_eq!(parse("20260314", DateOrder::Ymd), day(2026, 3, 14));
        assert_eq!(parse("14.03.2026", DateOrder::Dmy), day(2026, 3, 14));
        assert_eq!(parse("14.03.26", DateOrder::Dmy), day(2026, 3, 14));
        assert_eq!(parse("03/14/2026", DateOrder::Mdy), day(2026, 3, 14));
        assert_eq!(parse("14 Mar 2026", DateOrder::Mdy), day(2026, 3, 14));
        assert_eq!(parse("14-Mär-2026", DateOrder::Dmy), day(2026, 3, 14));
        assert_eq!(parse("Mar 14, 2026", DateOrder::Dmy), day(2026, 3, 14));
        assert_eq!(parse("14 déc. 2026", DateOrder::Dmy), day(2026, 12, 14));
        assert_eq!(parse("2026-03-14T00:00:00+01:00", DateOrder::Ymd), day(2026, 3, 14));
        assert_eq!(parse("2026-06-06 19:42:42", DateOrder::Ymd), day(2026, 6, 6));
        assert_eq!(parse("2026.09.15.", DateOrder::Ymd), day(2026, 9, 15));
    }

    #[test]
    fn what_is_not_a_day() {
        assert_eq!(parse("32.13.2026", DateOrder::Dmy), None);
        assert_eq!(parse("12.50", DateOrder::Dmy), None);
        assert_eq!(parse("-12.50", DateOrder::Dmy), None);
        assert_eq!(parse("1.234,56", DateOrder::Dmy), None);
        assert_eq!(parse("10:11:12", DateOrder::Dmy), None);
        assert_eq!(parse("DE89370400440532013000", DateOrder::Dmy), None);
        assert_eq!(parse("Datum", DateOrder::Dmy), None);
        assert_eq!(parse("", DateOrder::Dmy), None);
        assert_eq!(parse("02/30/2026", DateOrder::Mdy), None);
    }

    #[test]
    fn evidence_per_value() {
        assert_eq!(evidence("2026-03-04"), Some(Evidence::Ymd));
        assert_eq!(evidence("20260304"), Some(Evidence::Ymd));
        assert_eq!(evidence("14/03/2026"), Some(Evidence::Dmy));
        assert_eq!(evidence("03/14/2026"), Some(Evidence::Mdy));
        assert_eq!(evidence("03/04/2026"), Some(Evidence::Any));
        assert_eq!(evidence("4 Mar 2026"), Some(Evidence::Any));
        assert_eq!(evidence("Total"), None);
    }

    #[test]
    fn the_file_decides_the_order() {
        let dmy = infer(["03/04/2026", "13/04/2026", "01/05/2026"]);
        assert_eq!(dmy, Guess { order: Some(DateOrder::Dmy), conflicting: false });
        let mdy = infer(["03/04/2026", "04/13/2026"]);
        assert_eq!(mdy, Guess { order: Some(DateOrder::Mdy), conflicting: false });
        let ymd = infer(["2026-04-03", "2026-04-13"]);
        assert_eq!(ymd.order, Some(DateOrder::Ymd));
        let unknown = infer(["03/04/2026", "01/02/2026"]);
        assert_eq!(unknown, Guess { order: None, conflicting: false });
        let mixed = infer(["13/04/2026", "04/13/2026", "14/04/2026"]);
        assert_eq!(mixed, Guess { order: Some(DateOrder::Dmy), conflicting: true });
    }
}
