use budgetsmart_bankfiles::{Format, Item, Options, read};

/// Reads a sample file through the crate's front door, as an upload would be: the statement and
/// its entries. A refused file or any unreadable row fails the test.
macro_rules! read_sample {
    ($path:literal) => {{
        let mut items = Vec::new();
        let statement =
            match read(include_bytes!($path), &Options::default(), &mut |item: Item| items.push(item)) {
                Ok(statement) => statement,
                Err(error) => panic!("{}: {error:?}", $path),
            };
        let errors: Vec<_> = items.iter().filter(|item| matches!(item, Item::Error(_))).cloned().collect();
        assert!(errors.is_empty(), "{}: {errors:?}", $path);
        let entries: Vec<_> = items
            .into_iter()
            .filter_map(|item| match item {
                Item::Entry(entry) => Some(entry),
                Item::Error(_) => None,
            })
            .collect();
        (statement, entries)
    }};
}

// OFX and QIF
//
// Where each file comes from, and its licence: samples/ofx/README.md, samples/qif/README.md. The
// values asserted were read off the files by eye.

#[test]
fn ofx_1_sgml_with_an_intuit_tag() {
    let (statement, entries) = read_sample!("samples/ofx/bank_medium.ofx");
    assert_eq!(statement.format, Format::Ofx);
    assert_eq!(statement.accounts.len(), 1);
    let account = &statement.accounts[0];
    assert_eq!(account.number, "12300 000012345678");
    assert_eq!(account.institution.as_deref(), Some("160000100"));
    assert_eq!(account.currency.as_deref(), Some("CAD"));
    assert_eq!(account.kind.map(|kind| kind.as_str()), Some("checking"));
    assert_eq!(
        account.closing.as_ref().map(|b| (b.amount.to_string(), b.on.to_string())),
        Some(("382.34".to_owned(), "2009-05-23".to_owned()))
    );

    assert_eq!(entries.len(), 3);
    let first = &entries[0];
    assert_eq!(first.line, 15);
    assert_eq!(first.account, 0);
    assert_eq!(first.date.to_string(), "2009-04-01");
    assert_eq!(first.amount.to_string(), "-6.60");
    assert_eq!(first.bank_id.as_deref(), Some("0000123456782009040100001"));
    // NAME, and the memo without the name it repeats.
    assert_eq!(first.description, "MCDONALD'S #112 · POS MERCHANDISE");
    assert_eq!(first.currency, None);
    let second = &entries[1];
    assert_eq!(
        (second.date.to_string(), second.amount.to_string(), second.description.as_str()),
        ("2009-04-02".to_owned(), "-316.67".to_owned(), "Joe's Bald Hairstyles · MISCELLANEOUS PAYMENTS")
    );
}

#[test]
fn ofx_2_xml_with_cdata() {
    let (statement, entries) = read_sample!("samples/ofx/suncorp.ofx");
    assert_eq!(statement.format, Format::Ofx);
    assert_eq!(statement.accounts.len(), 1);
    let account = &statement.accounts[0];
    assert_eq!(account.number, "123456789");
    assert_eq!(account.institution.as_deref(), Some("SUNCORP"));
    assert_eq!(account.currency.as_deref(), Some("AUD"));
    assert_eq!(
        account.closing.as_ref().map(|b| (b.amount.to_string(), b.on.to_string())),
        Some(("1234.12".to_owned(), "2013-12-15".to_owned()))
    );

    assert_eq!(entries.len(), 1);
    let entry = &entries[0];
    assert_eq!(entry.line, 35);
    assert_eq!(entry.date.to_string(), "2013-12-15");
    assert_eq!(entry.amount.to_string(), "-16.85");
    assert_eq!(entry.bank_id.as_deref(), Some("1"));
    // The memo starts with the whole name: the memo alone, whitespace collapsed.
    assert_eq!(entry.description, "EFTPOS WDL HANDYWAY ALDI STORE GEELONG WEST VICAU");
}

#[test]
fn ofx_credit_card_with_an_xml_header_and_open_leaves() {
    let (statement, entries) = read_sample!("samples/ofx/anzcc.ofx");
    assert_eq!(statement.format, Format::Ofx);
    assert_eq!(statement.accounts.len(), 1);
    let account = &statement.accounts[0];
    assert_eq!(account.number, "1234123412341234");
    assert_eq!(account.kind.map(|kind| kind.as_str()), Some("credit_card"));
    assert_eq!(account.institution, None);
    assert_eq!(account.currency.as_deref(), Some("AUD"));
    assert_eq!(
        account.closing.as_ref().map(|b| (b.amount.to_string(), b.on.to_string())),
        Some(("-123.45".to_owned(), "2017-05-10".to_owned()))
    );

    assert_eq!(entries.len(), 1);
    let entry = &entries[0];
    assert_eq!(entry.line, 29);
    assert_eq!(entry.date.to_string(), "2017-05-08");
    assert_eq!(entry.amount.to_string(), "-5.50");
    assert_eq!(entry.bank_id.as_deref(), Some("201705080001"));
    assert_eq!(entry.description, "SOME MEMO");
}

#[test]
fn ofx_with_two_accounts() {
    let (statement, entries) = read_sample!("samples/ofx/multiple_accounts2.ofx");
    assert_eq!(statement.format, Format::Ofx);
    let accounts: Vec<_> = statement
        .accounts
        .iter()
        .map(|a| {
            (
                a.number.as_str(),
                a.kind.map(|kind| kind.as_str()),
                a.institution.as_deref(),
                a.currency.as_deref(),
                a.closing.as_ref().map(|b| (b.amount.to_string(), b.on.to_string())),
            )
        })
        .collect();
    assert_eq!(
        accounts,
        vec![
            (
                "9100",
                Some("checking"),
                Some("123"),
                Some("USD"),
                Some(("111".to_owned(), "2012-06-03".to_owned()))
            ),
            (
                "9200",
                Some("savings"),
                Some("123"),
                Some("USD"),
                Some(("222".to_owned(), "2012-06-03".to_owned()))
            ),
        ]
    );
    assert!(entries.is_empty());
}

#[test]
fn qif_quickens_own_example() {
    let (statement, entries) = read_sample!("samples/qif/quicken_non_investement_account.qif");
    assert_eq!(statement.format, Format::Qif);
    assert_eq!(statement.accounts.len(), 1);
    assert_eq!(statement.accounts[0].number, "");
    assert_eq!(statement.accounts[0].kind.map(|kind| kind.as_str()), Some("checking"));

    let rows: Vec<_> = entries
        .iter()
        .map(|e| {
            (e.line, e.date.to_string(), e.amount.to_string(), e.description.as_str(), e.category.as_deref())
        })
        .collect();
    assert_eq!(
        rows,
        vec![
            // `L[linda]` is a transfer, not a category; the split lines leave T alone.
            (2, "1994-06-01".to_owned(), "-1000.00".to_owned(), "Bank Of Mortgage · Memo", None),
            (15, "1994-06-02".to_owned(), "75.00".to_owned(), "Deposit", None),
            (19, "1994-06-03".to_owned(), "-10.00".to_owned(), "Anthony Hopkins · Film", Some("Entertain")),
        ]
    );
    assert!(entries.iter().all(|e| e.bank_id.is_none() && e.currency.is_none() && e.account == 0));
}

#[test]
fn qif_with_day_first_dates() {
    let (statement, entries) = read_sample!("samples/qif/3_records_ddmmyyyy.qif");
    assert_eq!(statement.format, Format::Qif);
    assert_eq!(statement.accounts.len(), 1);
    let rows: Vec<_> = entries
        .iter()
        .map(|e| (e.date.to_string(), e.amount.to_string(), e.description.as_str(), e.category.as_deref()))
        .collect();
    assert_eq!(
        rows,
        vec![
            // 01/06/2010 is the 1st of June: 29/12/2010 later in the file puts the day first.
            ("2010-01-01".to_owned(), "-10.00".to_owned(), "Description · Reference", Some("Debit")),
            ("2010-06-01".to_owned(), "-20.00".to_owned(), "Description · Reference", Some("Debit")),
            ("2010-12-29".to_owned(), "30.00".to_owned(), "Description · Reference", Some("Credit")),
        ]
    );
}
