//! The European Central Bank's euro reference-rate files, in the four shapes it publishes:
//!
//! - the historical CSV (`eurofxref-hist.csv`): `Date,USD,JPY,…,` then one row per day, newest
//!   first, `N/A` where a currency had no rate that day (or no longer has one);
//! - the daily CSV (`eurofxref.csv`): `Date, USD, …` then one row, the day written
//!   `05 December 2024`;
//! - the historical and the daily XML (`eurofxref-hist.xml`, `eurofxref-daily.xml`): a
//!   `gesmes:Envelope` whose `<Cube time="…">` elements hold `<Cube currency="…" rate="…"/>`.
//!
//! A file is read whole or refused whole: one unreadable day or rate refuses it, so a damaged
//! download never half-replaces the rates already loaded. A currency our ISO 4217 table does not
//! hold (the historical file keeps the pre-euro CYP, MTL, SIT, …) is skipped and counted.

use std::collections::BTreeMap;

use budgetsmart_common::currency::Currency;
use chrono::NaiveDate;
use rust_decimal::Decimal;

/// One published day: units of each currency per euro.
#[derive(Debug, Clone, PartialEq)]
pub struct DayRates {
    pub day: NaiveDate,
    pub rates: Vec<(Currency, Decimal)>,
}

/// What a file held.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Parsed {
    /// The days, oldest first.
    pub days: Vec<DayRates>,
    /// Currency codes the file has and our ISO 4217 table does not, skipped.
    pub skipped_currencies: Vec<String>,
}

/// Why a file was refused.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("{0}")]
pub struct Unreadable(pub String);

fn refuse(message: impl Into<String>) -> Unreadable {
    Unreadable(message.into())
}

/// Reads an ECB file, XML or CSV, by its content.
pub fn parse(bytes: &[u8]) -> Result<Parsed, Unreadable> {
    let text = std::str::from_utf8(bytes).map_err(|_| refuse("the file is not UTF-8 text"))?;
    let text = text.trim_start_matches('\u{feff}').trim_start();
    let mut parsed = if text.starts_with('<') { parse_xml(text)? } else { parse_csv(text)? };
    if parsed.days.is_empty() {
        return Err(refuse("the file holds no rates"));
    }
    parsed.days.sort_by_key(|d| d.day);
    if parsed.days.windows(2).any(|w| w[0].day == w[1].day) {
        return Err(refuse("a day appears twice"));
    }
    parsed.skipped_currencies.sort();
    parsed.skipped_currencies.dedup();
    Ok(parsed)
}

/// A rate as published: a positive decimal. `None` for "no rate that day".
fn rate(day: NaiveDate, code: &str, raw: &str) -> Result<Option<Decimal>, Unreadable> {
    let raw = raw.trim();
    if raw.is_empty() || raw.eq_ignore_ascii_case("N/A") {
        return Ok(None);
    }
    match raw.parse::<Decimal>() {
        Ok(rate) if rate > Decimal::ZERO => Ok(Some(rate)),
        _ => Err(refuse(format!("{day} {code}: {raw:?} is not a positive rate"))),
    }
}

/// Three capital letters, as a currency column is headed.
fn is_code(text: &str) -> bool {
    text.len() == 3 && text.bytes().all(|b| b.is_ascii_uppercase())
}

/// A day as published: `2024-12-05`, or `05 December 2024` in the daily CSV.
fn day(raw: &str) -> Result<NaiveDate, Unreadable> {
    let raw = raw.trim();
    NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .or_else(|_| NaiveDate::parse_from_str(raw, "%d %B %Y"))
        .map_err(|_| refuse(format!("{raw:?} is not a day")))
}

/// Adds one day's rates, skipping (and noting) currencies we do not know.
fn push(parsed: &mut Parsed, on: NaiveDate, rates: BTreeMap<String, Decimal>) -> Result<(), Unreadable> {
    let mut known = Vec::with_capacity(rates.len());
    for (code, rate) in rates {
        if code == "EUR" {
            return Err(refuse(format!("{on}: EUR is the base, it has no rate")));
        }
        match Currency::parse(&code) {
            Some(currency) => known.push((currency, rate)),
            None => parsed.skipped_currencies.push(code),
        }
    }
    parsed.days.push(DayRates { day: on, rates: known });
    Ok(())
}

fn parse_csv(text: &str) -> Result<Parsed, Unreadable> {
    let mut reader = csv::ReaderBuilder::new().has_headers(true).flexible(true).from_reader(text.as_bytes());
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| refuse(format!("cannot read the header: {e}")))?
        .iter()
        .map(|h| h.trim().to_owned())
        .collect();
    if !headers.first().is_some_and(|h| h.eq_ignore_ascii_case("date")) {
        return Err(refuse("the header must start with Date, as the ECB's files do"));
    }
    // Every row has the header's fields, and the file ends with its last line's newline: a
    // download cut mid-line ends in a shorter row, or in a rate cut short ("1.16" of "1.1684").
    if !text.ends_with('\n') {
        return Err(refuse("the file does not end with a complete line (a cut download?)"));
    }
    let codes = &headers[1..];
    if let Some(bad) = codes.iter().find(|c| !(c.is_empty() || is_code(c))) {
        return Err(refuse(format!("{bad:?} in the header is not a currency code")));
    }
    let mut parsed = Parsed::default();
    for record in reader.records() {
        let record = record.map_err(|e| refuse(format!("cannot read a row: {e}")))?;
        if record.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        if record.len() != headers.len() {
            return Err(refuse(format!(
                "a row has {} fields where the header has {}",
                record.len(),
                headers.len()
            )));
        }
        let on = day(record.get(0).unwrap_or_default())?;
        let mut rates = BTreeMap::new();
        for (code, raw) in codes.iter().zip(record.iter().skip(1)) {
            if code.is_empty() {
                // The trailing comma of every line.
                continue;
            }
            if let Some(rate) = rate(on, code, raw)? {
                rates.insert(code.clone(), rate);
            }
        }
        push(&mut parsed, on, rates)?;
    }
    Ok(parsed)
}

fn parse_xml(text: &str) -> Result<Parsed, Unreadable> {
    use quick_xml::events::{BytesStart, Event};

    fn attribute(element: &BytesStart<'_>, name: &[u8]) -> Result<Option<String>, Unreadable> {
        for attribute in element.attributes() {
            let attribute = attribute.map_err(|e| refuse(format!("a malformed attribute: {e}")))?;
            if attribute.key.as_ref() == name {
                let value =
                    std::str::from_utf8(&attribute.value).map_err(|_| refuse("an attribute is not UTF-8"))?;
                return Ok(Some(value.to_owned()));
            }
        }
        Ok(None)
    }

    let mut reader = quick_xml::Reader::from_str(text);
    let mut parsed = Parsed::default();
    let mut current: Option<(NaiveDate, BTreeMap<String, Decimal>)> = None;
    let mut saw_envelope = false;
    // Open elements: a download cut short ends with some still open.
    let mut depth = 0usize;
    loop {
        let event = reader.read_event().map_err(|e| refuse(format!("not well-formed XML: {e}")))?;
        match event {
            Event::End(_) => depth = depth.saturating_sub(1),
            Event::Start(ref element) | Event::Empty(ref element) => {
                if matches!(event, Event::Start(_)) {
                    depth += 1;
                }
                let name = element.local_name();
                if name.as_ref() == b"Envelope" {
                    saw_envelope = true;
                }
                if name.as_ref() != b"Cube" {
                    continue;
                }
                if let Some(time) = attribute(element, b"time")? {
                    if let Some((on, rates)) = current.take() {
                        push(&mut parsed, on, rates)?;
                    }
                    current = Some((day(&time)?, BTreeMap::new()));
                } else if let Some(code) = attribute(element, b"currency")? {
                    let Some((on, rates)) = current.as_mut() else {
                        return Err(refuse(format!("the rate of {code} is outside a day's Cube")));
                    };
                    let raw = attribute(element, b"rate")?.unwrap_or_default();
                    match rate(*on, &code, &raw)? {
                        Some(rate) => {
                            rates.insert(code.trim().to_owned(), rate);
                        }
                        None => return Err(refuse(format!("{on} {code}: the rate is missing"))),
                    }
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if depth > 0 {
        return Err(refuse("the XML ends before its elements close (a cut download?)"));
    }
    if let Some((on, rates)) = current.take() {
        push(&mut parsed, on, rates)?;
    }
    if !saw_envelope {
        return Err(refuse("not an ECB reference-rate file (no gesmes:Envelope)"));
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").expect("a day")
    }

    fn rate_of(parsed: &Parsed, on: &str, code: &str) -> Option<Decimal> {
        parsed
            .days
            .iter()
            .find(|r| r.day == d(on))
            .and_then(|r| r.rates.iter().find(|(c, _)| c.code() == code).map(|(_, r)| *r))
    }

    #[test]
    fn reads_the_historical_csv_with_na_cells_and_the_trailing_comma() {
        let csv =
            "Date,USD,JPY,CYP,RUB,\n2024-12-31,1.0389,163.06,N/A,N/A,\n2024-12-30,1.0444,164.35,N/A,N/A,\n";
        let parsed = parse(csv.as_bytes()).expect("readable");
        assert_eq!(parsed.days.len(), 2);
        assert_eq!(parsed.days[0].day, d("2024-12-30"), "oldest first");
        assert_eq!(rate_of(&parsed, "2024-12-31", "JPY"), Some("163.06".parse().expect("a decimal")));
        assert_eq!(parsed.days[0].rates.len(), 2, "N/A is no rate");
        assert_eq!(parsed.skipped_currencies, Vec::<String>::new(), "a column of only N/A is never read");
    }

    #[test]
    fn reads_the_daily_csv_with_spaces_and_a_written_date() {
        let csv = "Date, USD, JPY, GBP, \n05 December 2024, 1.0538, 158.10, 0.82830, \n";
        let parsed = parse(csv.as_bytes()).expect("readable");
        assert_eq!(parsed.days[0].day, d("2024-12-05"));
        assert_eq!(rate_of(&parsed, "2024-12-05", "GBP"), Some("0.82830".parse().expect("a decimal")));
    }

    #[test]
    fn reads_the_xml_envelope() {
        let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<gesmes:Envelope xmlns:gesmes="http://www.gesmes.org/xml/2002-08-01" xmlns="http://www.ecb.int/vocabulary/2002-08-01/eurofxref">
	<gesmes:subject>Reference rates</gesmes:subject>
	<Cube>
		<Cube time='2024-12-05'>
			<Cube currency='USD' rate='1.0538'/>
			<Cube currency='ZZZ' rate='2'/>
		</Cube>
		<Cube time="2024-12-04"><Cube currency="USD" rate="1.0491"/></Cube>
	</Cube>
</gesmes:Envelope>"#;
        let parsed = parse(xml.as_bytes()).expect("readable");
        assert_eq!(parsed.days.len(), 2);
        assert_eq!(rate_of(&parsed, "2024-12-04", "USD"), Some("1.0491".parse().expect("a decimal")));
        assert_eq!(parsed.skipped_currencies, vec!["ZZZ".to_owned()]);
    }

    #[test]
    fn reads_the_ecbs_real_files() {
        let hist = parse(include_bytes!("../../../data/rates/eurofxref-hist.csv")).expect("historical CSV");
        assert_eq!(
            (hist.days.first().map(|d| d.day), hist.days.last().map(|d| d.day)),
            (Some(d("2025-11-03")), Some(d("2026-04-13")))
        );
        assert_eq!(rate_of(&hist, "2026-04-13", "USD"), Some("1.1684".parse().expect("a decimal")));
        assert_eq!(rate_of(&hist, "2026-01-02", "BGN"), None, "Bulgaria joined the euro: N/A");
        let xml = parse(include_bytes!("../../../data/rates/eurofxref-hist.xml")).expect("historical XML");
        assert_eq!(xml.days.len(), 8);
        let daily = parse(include_bytes!("../../../data/rates/eurofxref-daily.xml")).expect("daily XML");
        assert_eq!((daily.days.len(), daily.days[0].rates.len()), (1, 29));
        let csv = parse(include_bytes!("../../../data/rates/eurofxref.csv")).expect("daily CSV");
        assert_eq!(csv.days[0].day, d("2026-04-13"));
        assert_eq!(
            csv.days[0].rates,
            hist.days.last().map(|d| d.rates.clone()).unwrap_or_default(),
            "the same day, two formats"
        );
    }

    #[test]
    fn refuses_a_damaged_file_whole() {
        for (bad, why) in [
            ("Date,USD,\n2024-12-31,1.03x,\n", "a bad rate"),
            ("Date,USD,\n2024-12-31,-1,\n", "a negative rate"),
            ("Date,USD,\n31/12/2024,1.03,\n", "a bad day"),
            ("Date,USD,\n2024-12-31,1.03,\n2024-12-31,1.04,\n", "a repeated day"),
            ("Date,USD,JPY,\n2024-12-31,1.03,163.1,\n2024-12-30,1.04,\n", "a short row"),
            ("Date,USD,JPY,\n2024-12-31,1.03,16", "a cut last line"),
            ("Date,USD,\n", "no rows"),
            ("USD,JPY\n1,2\n", "no Date column"),
            ("<html><body>Service unavailable</body></html>", "an error page"),
            (
                "<gesmes:Envelope><Cube><Cube time='2024-12-05'><Cube currency='USD' rate='1.05'/>",
                "truncated XML",
            ),
            ("\u{0}\u{1}binary", "not text"),
        ] {
            assert!(parse(bad.as_bytes()).is_err(), "{why} must refuse the file");
        }
        assert!(parse(&[0xff, 0xfe, 0x00]).is_err());
    }
}
