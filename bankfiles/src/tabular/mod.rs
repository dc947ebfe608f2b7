//! Bank and app CSV exports. The layout comes from a shipped profile when the header row is
//! one (or the caller names one), else it is inferred column by column; a caller's mapping
//! overrides either. Only the first rows are held for detection; the rest are read one at a
//! time and handed to the sink, so a 50,000-row file is never held as parsed rows.
//!
//! (`tabular`, not `csv`: that name is the csv crate's.)

mod dates;
mod detect;
mod headers;
mod money;
mod plan;
mod profiles;
mod rows;
mod sniff;

use std::collections::HashMap;

use csv::ReaderBuilder;

use crate::model::{ColumnMapping, CsvDetection, Entry, Item, ReadError, RowError, StatementAccount};
use plan::Plan;
use rows::Row;
use sniff::{Lines, Sample};

/// Reads a decoded CSV: every row goes to `sink` as an entry or an error; what comes back is
/// the accounts the entries refer to (by index) and how the layout was found.
pub(crate) fn read(
    text: &str,
    profile: Option<&str>,
    mapping: Option<&ColumnMapping>,
    sink: &mut dyn FnMut(Item),
) -> Result<(Vec<StatementAccount>, CsvDetection), ReadError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let named = match profile {
        Some(name) => Some(profiles::find(name).ok_or_else(|| ReadError::Option {
            field: "profile",
            message: format!("unknown profile \"{name}\"; known: {}", profiles::names().join(", ")),
        })?),
        None => None,
    };
    let sample = sniff::sniff(text, named.map(|p| p.delimiter))?;
    let pinned = detect::pin(mapping, &sample.headers)?;
    // A caller who maps columns has said the file is not what a profile would make of it.
    let mapped = mapping.is_some_and(|m| !m.is_empty());
    let chosen = named.or_else(|| if mapped { None } else { profiles::matching(&sample.headers) });
    let (plan, profile, confidence) = match chosen {
        Some(profile) => {
            let plan = profiles::plan(profile, &sample, &pinned)?;
            // A header match with a row the profile cannot read is a near miss: a changed
            // export, or a user's own date format.
            let confidence =
                if named.is_some() || detect::parse_rate(&plan, &sample) >= 1.0 { 1.0 } else { 0.95 };
            (plan, Some(profile.name), confidence)
        }
        None => {
            let found = detect::detect(&sample, &pinned)?;
            (found.plan, None, found.confidence)
        }
    };
    let accounts = stream(text, &sample, &plan, sink);
    Ok((accounts, CsvDetection { profile, confidence, layout: plan.layout }))
}

/// The shipped profiles' names, for the API's documentation and errors.
pub(crate) fn profile_names() -> Vec<&'static str> {
    profiles::names()
}

/// Reads every data row after the header and hands it to `sink`.
fn stream(text: &str, sample: &Sample, plan: &Plan, sink: &mut dyn FnMut(Item)) -> Vec<StatementAccount> {
    let mut accounts = Accounts::new(plan);
    let mut reader = ReaderBuilder::new()
        .delimiter(sample.delimiter)
        .has_headers(false)
        .flexible(true)
        .from_reader(&text.as_bytes()[sample.header_offset..]);
    let mut lines = Lines::new(text, sample.header_offset, sample.header_line);
    let mut records = reader.records();
    // The header row itself.
    records.next();
    for record in records {
        let record = match record {
            Ok(record) => record,
            Err(error) => {
                let line = error
                    .position()
                    .map_or(0, |p| u32::try_from(p.line()).unwrap_or(u32::MAX))
                    .saturating_add(sample.header_line.saturating_sub(1));
                sink(Item::Error(RowError { line, message: format!("cannot read the row: {error}") }));
                continue;
            }
        };
        let position = record.position().map_or(0, |p| usize::try_from(p.byte()).unwrap_or(usize::MAX));
        let (_, line) = lines.locate(sample.header_offset.saturating_add(position));
        let cells: Vec<&str> = record.iter().collect();
        match rows::convert(plan, &cells) {
            Row::Skip => {}
            Row::Zero => sink(Item::Error(RowError { line, message: "amount is zero".to_owned() })),
            Row::Error(message) => sink(Item::Error(RowError { line, message })),
            Row::Entries(entries) => {
                for booked in entries {
                    let account = accounts.index(&booked.account);
                    sink(Item::Entry(Entry {
                        line,
                        account,
                        date: booked.date,
                        amount: booked.amount,
                        currency: booked.currency,
                        description: booked.description,
                        bank_id: booked.bank_id,
                        category: booked.category,
                    }));
                }
            }
        }
    }
    accounts.finish()
}

/// The accounts in the order rows first name them.
struct Accounts<'p> {
    plan: &'p Plan,
    list: Vec<StatementAccount>,
    by_number: HashMap<String, usize>,
}

impl<'p> Accounts<'p> {
    fn new(plan: &'p Plan) -> Accounts<'p> {
        Accounts { plan, list: Vec::new(), by_number: HashMap::new() }
    }

    fn index(&mut self, number: &str) -> usize {
        if let Some(&index) = self.by_number.get(number) {
            return index;
        }
        let index = self.list.len();
        self.list.push(StatementAccount {
            number: number.to_owned(),
            institution: self.plan.institution.map(str::to_owned),
            currency: self.plan.currency.clone(),
            kind: self.plan.kind,
            ..StatementAccount::default()
        });
        self.by_number.insert(number.to_owned(), index);
        index
    }

    /// A file without rows still has its one account.
    fn finish(mut self) -> Vec<StatementAccount> {
        if self.list.is_empty() {
            self.index("");
        }
        self.list
    }
}

#[cfg(test)]
mod tests;
