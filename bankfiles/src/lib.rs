//! Bank statement files read into one shape.
//!
//! A person's bank gives them an OFX/QFX file, a CAMT.053 or MT940 statement, a QIF file, or a
//! CSV in the bank's own layout; an app they leave gives them its CSV export. [`read`] takes
//! any of them and hands out [`Item`]s one at a time (a 50,000-row file is never held as
//! parsed rows), then answers the [`Statement`]: the format, the accounts the file names (with
//! the balances it states), and for a CSV how its layout was found.
//!
//! Modules, plain types first:
//! - `model`: the shape (entries, accounts, balances, CSV layouts, errors).
//! - `numbers`, `text`: amounts as banks write them; bytes to text (UTF-8 or Windows-1252).
//! - `detect`: which format a file is.
//! - `ofx`, `qif`, `camt`, `mt940`: one reader per format.
//! - `tabular`: CSVs: layout detection, the shipped profiles, column mappings.
//!
//! Nothing here knows users, currencies' rates or the database: what an entry means for a
//! person (duplicates, accounts, categories) is the engine's decision.

mod camt;
mod detect;
pub mod model;
mod mt940;
pub mod numbers;
mod ofx;
mod qif;
mod tabular;
pub mod text;

pub use model::{
    AccountKind, AmountColumns, Balance, ColumnMapping, CsvDetection, CsvLayout, DateOrder, Entry, FileError,
    Format, Item, Options, ReadError, RowError, Statement, StatementAccount,
};
pub use numbers::DecimalMark;

/// Reads `bytes`, handing each entry or row error to `sink` in file order, and answers what
/// the file was. A structurally broken file answers `ReadError::File` naming where it broke;
/// entries already handed out must then be discarded (callers read a file once to check it
/// before they write anything).
pub fn read(bytes: &[u8], options: &Options<'_>, sink: &mut dyn FnMut(Item)) -> Result<Statement, ReadError> {
    let text = text::decode(bytes);
    let format = detect::format(&text, options.content_type);
    let (accounts, csv) = match format {
        Format::Csv => {
            let (accounts, detection) = tabular::read(&text, options.profile, options.mapping, sink)?;
            (accounts, Some(detection))
        }
        Format::Ofx => (ofx::read(&text, sink)?, None),
        Format::Qif => (qif::read(&text, sink)?, None),
        Format::Camt053 => (camt::read(&text, sink)?, None),
        Format::Mt940 => (mt940::read(&text, sink)?, None),
    };
    Ok(Statement { format, accounts, csv })
}

/// The names `?profile=` accepts.
pub fn profiles() -> Vec<&'static str> {
    tabular::profile_names()
}
