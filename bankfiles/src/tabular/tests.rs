#![allow(clippy::unwrap_used)]

use chrono::NaiveDate;

use super::*;
use crate::model::{AmountColumns, DateOrder, FileError};
use crate::numbers::DecimalMark;

struct Read {
    accounts: Vec<StatementAccount>,
    detection: CsvDetection,
    items: Vec<Item>,
}

impl Read {
    fn entries(&self) -> Vec<&Entry> {
        self.items
            .iter()
            .filter_map(|item| match item {
                Item::Entry(entry) => Some(entry),
                Item::Error(_) => None,
            })
            .collect()
    }

    fn errors(&self) -> Vec<&RowError> {
        self.items
            .iter()
            .filter_map(|item| match item {
                Item::Error(error) => Some(error),
                Item::Entry(_) => None,
            })
            .collect()
    }

    fn amounts(&self) -> Vec<String> {
        self.entries().iter().map(|e| e.amount.to_string()).collect()
    }
}

fn run(text: &str, profile: Option<&str>, mapping: Option<&ColumnMapping>) -> Result<Read, ReadError> {
    let mut items = Vec::new();
    let (accounts, detection) = read(text, profile, mapping, &mut |item| items.push(item))?;
    Ok(Read { accounts, detection, items })
}

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

#[test]
fn our_own_format_is_a_profile() {
    let r = run(
        "date,description,amount,currency,category\n2026-03-01,Coffee,-3.50,EUR,Food\n2026-03-02,Salary,2500.00,EUR,\n",
        None,
        None,
    )
    .unwrap();
    assert_eq!(r.detection.profile, Some("budgetsmart"));
    assert!(r.detection.confidence >= 0.9);
    let entries = r.entries();
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0].date, day(2026, 3, 1));
    assert_eq!(entries[0].amount.to_string(), "-3.50");
    assert_eq!(entries[0].currency.as_deref(), Some("EUR"));
    assert_eq!(entries[0].category.as_deref(), Some("Food"));
    assert_eq!(entries[0].description, "Coffee");
    assert_eq!(entries[1].category, None);
    assert_eq!((entries[0].line, entries[1].line), (2, 3));
    assert_eq!(r.accounts.len(), 1);
    assert_eq!(r.accounts[0].number, "");
}

#[test]
fn a_german_file_with_a_preamble_and_no_profile() {
    let text = "Kontoinhaber;Max Mustermann\nIBAN;DE12 3456\n\n\
                Buchungstag;Valuta;Buchungstext;Auftraggeber / Empfänger;Verwendungszweck;Betrag (EUR)\n\
                14.03.2026;14.03.2026;Lastschrift;REWE Markt;Einkauf 4711;-1.234,56\n\
                \n\
                03.03.2026;04.03.2026;Gutschrift;Arbeitgeber GmbH;Lohn März;2.500,00\n";
    let r = run(text, None, None).unwrap();
    let layout = &r.detection.layout;
    assert_eq!(r.detection.profile, None);
    assert_eq!(layout.delimiter, b';');
    assert_eq!(layout.header_line, 4);
    assert_eq!(layout.date, 0);
    assert_eq!(layout.date_order, DateOrder::Dmy);
    assert_eq!(layout.decimal, DecimalMark::Comma);
    assert_eq!(layout.description, [3, 4]);
    assert_eq!(layout.amount, AmountColumns::Signed(5));
    assert_eq!(layout.currency, None);
    assert!((r.detection.confidence - 0.95).abs() < 1e-9, "{}", r.detection.confidence);
    assert_eq!(r.amounts(), ["-1234.56", "2500.00"]);
    let entries = r.entries();
    assert_eq!(entries[0].description, "REWE Markt · Einkauf 4711");
    assert_eq!(entries[1].date, day(2026, 3, 3));
    assert_eq!((entries[0].line, entries[1].line), (5, 7));
    assert_eq!(r.accounts[0].currency.as_deref(), Some("EUR"));
}

#[test]
fn date_orders_from_the_values() {
    let us =
        run("Date,Description,Amount\n03/14/2026,Coffee,-3.50\n03/01/2026,Tea,-2.00\n", None, None).unwrap();
    assert_eq!(us.detection.layout.date_order, DateOrder::Mdy);
    assert_eq!(us.entries()[0].date, day(2026, 3, 14));
    let uk =
        run("Date,Description,Amount\n14/03/2026,Coffee,-3.50\n01/03/2026,Tea,-2.00\n", None, None).unwrap();
    assert_eq!(uk.detection.layout.date_order, DateOrder::Dmy);
    assert_eq!(uk.entries()[1].date, day(2026, 3, 1));
    let iso = run("Date,Description,Amount\n2026-03-04,Coffee,-3.50\n", None, None).unwrap();
    assert_eq!(iso.detection.layout.date_order, DateOrder::Ymd);
    // Every day 12 or less: dollars say month first, and the guess is less sure.
    let unsure =
        run("Date,Description,Amount\n03/04/2026,Coffee,$3.50\n03/05/2026,Tea,$2.00\n", None, None).unwrap();
    assert_eq!(unsure.detection.layout.date_order, DateOrder::Mdy);
    assert!(unsure.detection.confidence < us.detection.confidence);
    let euros =
        run("Date,Description,Amount\n03/04/2026,Coffee,3.50 €\n03/05/2026,Tea,€2.00\n", None, None).unwrap();
    assert_eq!(euros.detection.layout.date_order, DateOrder::Dmy);
}

#[test]
fn french_debit_and_credit_with_a_decimal_comma_and_thousands() {
    let text = "Date opération;Libellé;Débit;Crédit\n14/03/2026;CB CARREFOUR;1 234,56;\n15/03/2026;VIR SALAIRE;;2 500,00\n";
    let r = run(text, None, None).unwrap();
    assert_eq!(r.detection.layout.amount, AmountColumns::DebitCredit { debit: 2, credit: 3 });
    assert_eq!(r.detection.layout.decimal, DecimalMark::Comma);
    assert_eq!(r.amounts(), ["-1234.56", "2500.00"]);
    assert_eq!(r.entries()[0].description, "CB CARREFOUR");
}

#[test]
fn english_money_out_and_in_beside_a_balance() {
    let text = "Date,Description,Paid out,Paid in,Balance\n14/03/2026,Tesco,12.50,,100.00\n15/03/2026,Salary,,2000.00,2100.00\n";
    let r = run(text, None, None).unwrap();
    assert_eq!(r.detection.layout.amount, AmountColumns::DebitCredit { debit: 2, credit: 3 });
    assert_eq!(r.amounts(), ["-12.50", "2000.00"]);
}

#[test]
fn a_dutch_indicator_column() {
    let text =
        "Datum;Omschrijving;Af Bij;Bedrag\n20260102;Albert Heijn;Af;12,34\n20260103;Salaris;Bij;2500,00\n";
    let r = run(text, None, None).unwrap();
    assert_eq!(r.detection.profile, None);
    match &r.detection.layout.amount {
        AmountColumns::Indicator { amount, indicator, out } => {
            assert_eq!((*amount, *indicator), (3, 2));
            assert_eq!(out, &["af"]);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(r.detection.layout.date_order, DateOrder::Ymd);
    assert_eq!(r.amounts(), ["-12.34", "2500.00"]);
}

#[test]
fn spanish_with_a_currency_column() {
    let text =
        "Fecha;Concepto;Importe;Divisa\n14/03/2026;Mercadona;-45,20;eur\n15/03/2026;Nómina;1.800,00;EUR\n";
    let r = run(text, None, None).unwrap();
    assert_eq!(r.detection.layout.currency, Some(3));
    let entries = r.entries();
    assert_eq!(entries[0].currency.as_deref(), Some("EUR"));
    assert_eq!(entries[1].amount.to_string(), "1800.00");
    assert_eq!(entries[1].description, "Nómina");
}

#[test]
fn columns_found_by_their_cells_alone() {
    let text = "When,What,How much\n14/03/2026,Coffee at the corner,-3.50\n15/03/2026,Salary March,2500.00\n";
    let r = run(text, None, None).unwrap();
    let layout = &r.detection.layout;
    assert_eq!(
        (layout.date, layout.description.clone(), layout.amount.clone()),
        (0, vec![1], AmountColumns::Signed(2))
    );
    assert!(r.detection.confidence < 0.7, "{}", r.detection.confidence);
    assert_eq!(r.entries().len(), 2);
}

#[test]
fn a_mapping_overrides_detection() {
    let text = "When,What,How much\n03/04/2026,Coffee,-3.50\n";
    let mapping = ColumnMapping {
        date: Some("when".to_owned()),
        description: vec!["What".to_owned()],
        amount: Some("How much".to_owned()),
        date_order: Some(DateOrder::Dmy),
        decimal: Some(DecimalMark::Point),
        ..ColumnMapping::default()
    };
    let r = run(text, None, Some(&mapping)).unwrap();
    assert_eq!(r.detection.profile, None);
    assert!((r.detection.confidence - 1.0).abs() < f64::EPSILON);
    assert_eq!(r.entries()[0].date, day(2026, 4, 3));

    // Only what is given is overridden: here the order, on a file a profile would match.
    let ours = "date,description,amount,currency\n03/04/2026,Coffee,-3.50,EUR\n";
    let mapping = ColumnMapping { date_order: Some(DateOrder::Dmy), ..ColumnMapping::default() };
    let r = run(ours, None, Some(&mapping)).unwrap();
    assert_eq!(r.detection.profile, None);
    assert_eq!(r.entries()[0].date, day(2026, 4, 3));
    assert_eq!(r.entries()[0].currency.as_deref(), Some("EUR"));

    let mapping = ColumnMapping { amount: Some("Betrag".to_owned()), ..ColumnMapping::default() };
    match run(text, None, Some(&mapping)) {
        Err(ReadError::Option { field, message }) => {
            assert_eq!(field, "amount_column");
            assert!(message.contains("\"Betrag\""), "{message}");
        }
        Err(other) => panic!("{other:?}"),
        Ok(_) => panic!("read"),
    }
    let mapping = ColumnMapping { debit: Some("How much".to_owned()), ..ColumnMapping::default() };
    assert!(matches!(run(text, None, Some(&mapping)), Err(ReadError::Option { field: "credit_column", .. })));
}

#[test]
fn a_named_profile() {
    match run("date,description,amount\n", Some("quicken"), None) {
        Err(ReadError::Option { field, message }) => {
            assert_eq!(field, "profile");
            assert!(message.starts_with("unknown profile \"quicken\"; known: budgetsmart, "), "{message}");
        }
        Err(other) => panic!("{other:?}"),
        Ok(_) => panic!("read"),
    }
    // Named, a profile is used even on a header it would not match, as far as its columns go.
    let r = run("Date,Payee,Total\n2026-03-01,Cafe,-3.50\n", Some("budgetsmart"), None);
    assert!(matches!(r, Err(ReadError::File(FileError { line: 1, .. }))));
}

#[test]
fn no_date_column_is_a_file_error() {
    match run("Description,Amount\nCoffee,-3.50\nTea,-2.00\n", None, None) {
        Err(ReadError::File(error)) => {
            assert_eq!(error.line, 1);
            assert!(error.message.contains("?date_column="), "{}", error.message);
        }
        Err(other) => panic!("{other:?}"),
        Ok(_) => panic!("read"),
    }
    match run("Date,Description\n2026-03-01,Coffee\n", None, None) {
        Err(ReadError::File(error)) => {
            assert!(error.message.contains("?amount_column="), "{}", error.message)
        }
        Err(other) => panic!("{other:?}"),
        Ok(_) => panic!("read"),
    }
}

#[test]
fn rows_that_cannot_be_read_are_errors_and_the_rest_still_reads() {
    let text = "date,description,amount,currency\r\n2026-03-01,Coffee,-3.50,EUR\r\n\r\n2026-02-30,Bad day,-1.00,EUR\r\n\
                2026-03-02,Nothing,0.00,EUR\r\n,,,\r\nTotal,,-4.50,\r\n2026-03-03,Tea,-2.00,EUR\r\n";
    let r = run(text, None, None).unwrap();
    assert_eq!(r.entries().len(), 2);
    let errors: Vec<(u32, &str)> = r.errors().iter().map(|e| (e.line, e.message.as_str())).collect();
    assert_eq!(
        errors,
        [
            (4, "date: cannot read \"2026-02-30\" as a day"),
            (5, "amount is zero"),
            (7, "date: cannot read \"Total\" as a day"),
        ]
    );
    assert_eq!(r.entries()[1].line, 8);
}

#[test]
fn a_multi_account_app_export() {
    let text = "\u{feff}\"Account\",\"Flag\",\"Date\",\"Payee\",\"Category Group/Category\",\"Category Group\",\"Category\",\"Memo\",\"Outflow\",\"Inflow\",\"Cleared\"\n\
                \"Checking\",\"\",\"04/15/2026\",\"Grocer\",\"Food: Groceries\",\"Food\",\"Groceries\",\"weekly\",$45.00,$0.00,\"Cleared\"\n\
                \"Savings\",\"\",\"04/16/2026\",\"Transfer : Checking\",\"\",\"\",\"\",\"\",$0.00,$200.00,\"Cleared\"\n\
                \"Checking\",\"\",\"04/16/2026\",\"Transfer : Savings\",\"\",\"\",\"\",\"\",$200.00,$0.00,\"Cleared\"\n";
    let r = run(text, None, None).unwrap();
    assert_eq!(r.detection.profile, Some("ynab-register"));
    let numbers: Vec<&str> = r.accounts.iter().map(|a| a.number.as_str()).collect();
    assert_eq!(numbers, ["Checking", "Savings"]);
    let entries = r.entries();
    assert_eq!(entries.iter().map(|e| e.account).collect::<Vec<_>>(), [0, 1, 0]);
    assert_eq!(r.amounts(), ["-45.00", "200.00", "-200.00"]);
    assert_eq!(entries[0].category.as_deref(), Some("Groceries"));
    assert_eq!(entries[0].description, "Grocer · weekly");
    assert_eq!(entries[0].date, day(2026, 4, 15));
}

#[test]
fn the_profile_names() {
    let names = profile_names();
    for name in
        ["budgetsmart", "ynab-register", "firefly-iii", "actual", "chase-checking", "ing-nl", "n26", "dkb"]
    {
        assert!(names.contains(&name), "{name}");
    }
}
