//! Finding a CSV's delimiter and header row. Banks put account details, a period and a balance
//! above the header, with blank lines between: the header is the first line of names that the
//! lines after it agree with in width, and the delimiter is the one under which such a header
//! is widest.

use csv::ReaderBuilder;

use crate::model::FileError;
use crate::numbers::{DecimalMark, parse_amount};
use crate::tabular::dates;

/// The header must be among this many records.
pub(crate) const HEADER_SCAN: usize = 20;
/// Data rows that detection looks at.
pub(crate) const SAMPLE_ROWS: usize = 50;
/// Rows after a header candidate checked for a matching width.
const FOLLOWING: usize = 10;
const DELIMITERS: [u8; 4] = [b',', b';', b'\t', b'|'];

/// The start of a file: what detection decides on.
#[derive(Debug, Clone)]
pub(crate) struct Sample {
    pub(crate) delimiter: u8,
    /// 1-based.
    pub(crate) header_line: u32,
    /// Where the header record starts; reading resumes there.
    pub(crate) header_offset: usize,
    /// Trimmed.
    pub(crate) headers: Vec<String>,
    /// The first data rows, blank ones left out.
    pub(crate) rows: Vec<Vec<String>>,
}

/// Turns the csv reader's record positions into lines. A record's position is where the
/// previous one ended, before any line breaks and blank lines that precede it (and the `\n`
/// of a `\r\n`), so the record's own line is found by skipping those.
pub(crate) struct Lines<'a> {
    text: &'a str,
    offset: usize,
    line: u32,
}

impl<'a> Lines<'a> {
    /// Counting starts at `offset`, which is on `line`.
    pub(crate) fn new(text: &'a str, offset: usize, line: u32) -> Lines<'a> {
        Lines { text, offset, line }
    }

    /// The real start and 1-based line of the record reported at `position`; positions must not
    /// go backwards.
    pub(crate) fn locate(&mut self, position: usize) -> (usize, u32) {
        let bytes = self.text.as_bytes();
        let mut start = position.min(bytes.len());
        while start < bytes.len() && matches!(bytes[start], b'\n' | b'\r') {
            start += 1;
        }
        if start > self.offset {
            let breaks = bytes[self.offset..start].iter().filter(|&&b| b == b'\n').count();
            self.line = self.line.saturating_add(u32::try_from(breaks).unwrap_or(u32::MAX));
            self.offset = start;
        }
        (start, self.line)
    }
}

#[derive(Debug)]
struct Record {
    offset: usize,
    line: u32,
    fields: Vec<String>,
}

/// Finds the delimiter and header; `prefer` (a profile's delimiter) wins ties.
pub(crate) fn sniff(text: &str, prefer: Option<u8>) -> Result<Sample, FileError> {
    if text.trim().is_empty() {
        return Err(FileError::at(0, "the file is empty"));
    }
    let (from, forced) = excel_separator(text).map_or((0, None), |(delimiter, end)| (end, Some(delimiter)));
    let mut candidates: Vec<u8> = match forced {
        Some(delimiter) => vec![delimiter],
        None => DELIMITERS.to_vec(),
    };
    if let Some(preferred) = prefer
        && let Some(at) = candidates.iter().position(|&d| d == preferred)
    {
        candidates.swap(0, at);
    }
    let mut best: Option<(f64, Sample)> = None;
    for delimiter in candidates {
        let records = records(text, from, delimiter, HEADER_SCAN + SAMPLE_ROWS + 1);
        let Some((at, agreement)) = header_index(&records) else { continue };
        let score = records[at].fields.len() as f64 * agreement;
        if best.as_ref().is_none_or(|(best_score, _)| score > *best_score) {
            best = Some((score, sample(delimiter, &records, at)));
        }
    }
    best.map(|(_, sample)| sample).ok_or_else(|| {
        FileError::at(
            0,
            format!(
                "cannot find the header row: no line among the first {HEADER_SCAN} names the columns \
                 (date, amount, description…) with the rows below it as wide"
            ),
        )
    })
}

/// Excel's `sep=;` first line: the delimiter, and where the data starts.
fn excel_separator(text: &str) -> Option<(u8, usize)> {
    let end = text.find('\n').map_or(text.len(), |i| i + 1);
    let first = text[..end].trim();
    let rest = first.get(..4).filter(|p| p.eq_ignore_ascii_case("sep="))?;
    let delimiter = &first.as_bytes()[rest.len()..];
    match delimiter {
        [d] => Some((*d, end)),
        _ => None,
    }
}

fn records(text: &str, from: usize, delimiter: u8, limit: usize) -> Vec<Record> {
    let mut reader = ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .flexible(true)
        .from_reader(&text.as_bytes()[from..]);
    let mut lines = Lines::new(text, 0, 1);
    let mut out = Vec::new();
    for record in reader.records() {
        // Only I/O and UTF-8 fail, and neither can in a `&str`.
        let Ok(record) = record else { break };
        let position = record.position().map_or(0, |p| usize::try_from(p.byte()).unwrap_or(usize::MAX));
        let (offset, line) = lines.locate(from.saturating_add(position));
        out.push(Record { offset, line, fields: record.iter().map(|f| f.trim().to_owned()).collect() });
        if out.len() >= limit {
            break;
        }
    }
    out
}

/// The first record that names columns and that the next rows agree with, and the share of
/// those rows that do.
fn header_index(records: &[Record]) -> Option<(usize, f64)> {
    for (at, record) in records.iter().enumerate().take(HEADER_SCAN) {
        let width = record.fields.len();
        if width < 2 || !names_columns(&record.fields) {
            continue;
        }
        let following: Vec<&Record> =
            records[at + 1..].iter().filter(|r| !is_blank(&r.fields)).take(FOLLOWING).collect();
        if following.is_empty() {
            return Some((at, 1.0));
        }
        let agreeing = following.iter().filter(|r| fits(width, &r.fields)).count();
        let share = agreeing as f64 / following.len() as f64;
        if share >= 0.8 {
            return Some((at, share));
        }
    }
    None
}

/// A row as wide as the header, give or take one: Chase ends rows with a comma its header lacks,
/// Firefly III's header names one column more than its rows hold; blank cells past the end are
/// Excel's.
fn fits(width: usize, fields: &[String]) -> bool {
    fields.len().abs_diff(width) <= 1
        || (fields.len() > width && fields[width..].iter().all(|f| f.is_empty()))
}

pub(crate) fn is_blank(fields: &[String]) -> bool {
    fields.iter().all(|f| f.trim().is_empty())
}

/// Two or more cells, every one of them a name: letters, and not a date or an amount.
fn names_columns(fields: &[String]) -> bool {
    let cells: Vec<&str> = fields.iter().map(|f| f.trim()).filter(|f| !f.is_empty()).collect();
    cells.len() >= 2 && cells.iter().all(|cell| is_name(cell))
}

fn is_name(cell: &str) -> bool {
    cell.chars().any(char::is_alphabetic)
        && dates::evidence(cell).is_none()
        && parse_amount(cell, DecimalMark::Point).is_none()
        && parse_amount(cell, DecimalMark::Comma).is_none()
}

fn sample(delimiter: u8, records: &[Record], at: usize) -> Sample {
    let header = &records[at];
    Sample {
        delimiter,
        header_line: header.line,
        header_offset: header.offset,
        headers: header.fields.clone(),
        rows: records[at + 1..]
            .iter()
            .filter(|r| !is_blank(&r.fields))
            .take(SAMPLE_ROWS)
            .map(|r| r.fields.clone())
            .collect(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_comma_file_with_a_header_on_line_one() {
        let s = sniff("date,description,amount\n2026-03-01,Coffee,-3.50\n2026-03-02,Salary,2500.00\n", None)
            .unwrap();
        assert_eq!(s.delimiter, b',');
        assert_eq!(s.header_line, 1);
        assert_eq!(s.headers, ["date", "description", "amount"]);
        assert_eq!(s.rows.len(), 2);
    }

    #[test]
    fn a_preamble_and_blank_lines_above_the_header() {
        let text = "\"Girokonto\";\"DE00 1234\"\r\n\"\"\r\n\"Kontostand vom 05.10.2026:\";\"1.000,00 €\"\r\n\r\n\
                    \"Buchungsdatum\";\"Wertstellung\";\"Verwendungszweck\";\"Betrag (€)\"\r\n\
                    \"04.10.26\";\"04.10.26\";\"Ticket, Berlin\";\"-29,90\"\r\n\
                    \"03.10.26\";\"03.10.26\";\"Geschenk\";\"50,00\"\r\n";
        let s = sniff(text, None).unwrap();
        assert_eq!(s.delimiter, b';');
        assert_eq!(s.header_line, 5);
        assert_eq!(&text[s.header_offset..s.header_offset + 15], "\"Buchungsdatum\"");
        assert_eq!(s.headers[3], "Betrag (€)");
        assert_eq!(s.rows.len(), 2);
        assert_eq!(s.rows[0][2], "Ticket, Berlin");
    }

    #[test]
    fn tabs_and_pipes() {
        let s = sniff("Date\tPayee\tAmount\n03/01/2026\tCafe\t-3.50\n", None).unwrap();
        assert_eq!(s.delimiter, b'\t');
        let s =
            sniff("Date|Payee|Amount\n03/01/2026|Cafe, Inc|-3.50\n03/02/2026|Shop|-1.00\n", None).unwrap();
        assert_eq!(s.delimiter, b'|');
    }

    #[test]
    fn excel_sep_line() {
        let s = sniff("sep=;\nDatum;Betrag\n01.03.2026;-3,50\n", None).unwrap();
        assert_eq!(s.delimiter, b';');
        assert_eq!(s.header_line, 2);
    }

    #[test]
    fn no_header_at_all() {
        assert!(sniff("2026-03-01,-3.50\n2026-03-02,2500.00\n", None).is_err());
        assert_eq!(sniff("  \n", None).unwrap_err().message, "the file is empty");
    }

    #[test]
    fn lines_skip_blank_lines_and_crlf() {
        let text = "a\r\n\r\nb\nc";
        let mut lines = Lines::new(text, 0, 1);
        assert_eq!(lines.locate(0), (0, 1));
        assert_eq!(lines.locate(2), (5, 3));
        assert_eq!(lines.locate(6), (7, 4));
    }
}
