//! Every shipped CSV profile against a sample in its export's exact layout (tests/samples/csv,
//! see the README there), through the public API with no options: the file must be recognised
//! as CSV, match its profile, and read every row.
#![allow(clippy::unwrap_used)]

use std::path::Path;

use budgetsmart_bankfiles::{Entry, Format, Item, Options, RowError, Statement, read};

struct Case {
    file: &'static str,
    profile: &'static str,
    entries: usize,
    accounts: usize,
    /// One row, by its line in the file.
    line: u32,
    date: &'static str,
    amount: &'static str,
    description: &'static str,
}

const CASES: &[Case] = &[
    Case {
        file: "budgetsmart.csv",
        profile: "budgetsmart",
        entries: 8,
        accounts: 1,
        line: 3,
        date: "2026-03-02",
        amount: "-25.00",
        description: "+1 Mobile monthly plan",
    },
    Case {
        file: "ynab-register.csv",
        profile: "ynab-register",
        entries: 9,
        accounts: 2,
        line: 5,
        date: "2026-03-05",
        amount: "3100.00",
        description: "Employer Inc · March salary",
    },
    Case {
        file: "firefly-iii.csv",
        profile: "firefly-iii",
        // Eight journals; the transfer between two own accounts is an entry in each.
        entries: 9,
        accounts: 3,
        line: 3,
        date: "2026-03-02",
        amount: "-45.20",
        description: "REWE · Groceries week 9",
    },
    Case {
        file: "actual.csv",
        profile: "actual",
        // Nine rows; a split's parent row is left to its children.
        entries: 8,
        accounts: 2,
        line: 5,
        date: "2026-03-03",
        amount: "-80.5",
        description: "Costco · (SPLIT 1 OF 2)",
    },
    Case {
        file: "chase-checking.csv",
        profile: "chase-checking",
        entries: 8,
        accounts: 1,
        line: 2,
        date: "2026-03-13",
        amount: "-23.47",
        description: "AMAZON MKTPL*2K4LT9XJ2 Amzn.com/bill WA 03/12",
    },
    Case {
        file: "chase-credit-card.csv",
        profile: "chase-credit-card",
        entries: 7,
        accounts: 1,
        line: 4,
        date: "2026-03-11",
        amount: "850.00",
        description: "Payment Thank You-Mobile",
    },
    Case {
        file: "ing-nl.csv",
        profile: "ing-nl",
        entries: 8,
        accounts: 1,
        line: 6,
        date: "2026-03-09",
        amount: "-1125.40",
        description: "Woningstichting Eigen Haard · Naam: Woningstichting Eigen Haard Omschrijving: Huur maart \
                      Valutadatum: 09-03-2026",
    },
    Case {
        file: "n26.csv",
        profile: "n26",
        entries: 8,
        accounts: 2,
        line: 6,
        date: "2026-03-05",
        amount: "-18.40",
        description: "AMAZON.COM",
    },
    Case {
        file: "dkb.csv",
        profile: "dkb",
        // Nine rows after a four-line preamble; the pending one is left for the next download.
        entries: 8,
        accounts: 1,
        line: 7,
        date: "2026-03-30",
        amount: "-45.20",
        description: "REWE Markt Berlin · VISA Debitkartenumsatz",
    },
    Case {
        file: "sparkasse-camt.csv",
        profile: "sparkasse-camt",
        entries: 7,
        accounts: 1,
        line: 7,
        date: "2026-03-12",
        amount: "-12.30",
        description: "Café Zeitlos · 2026-03-11T19:02 Debitk.1 2029-12 Straße des 17. Juni",
    },
    Case {
        file: "revolut.csv",
        profile: "revolut",
        // Nine rows; one reverted and one pending.
        entries: 7,
        accounts: 1,
        line: 7,
        date: "2026-03-07",
        amount: "-101.00",
        description: "Cash at Bancomat",
    },
    Case {
        file: "monzo.csv",
        profile: "monzo",
        entries: 8,
        accounts: 1,
        line: 7,
        date: "2026-03-13",
        amount: "-15.32",
        description: "Uber · late, after dinner",
    },
    Case {
        file: "barclays-uk.csv",
        profile: "barclays-uk",
        entries: 8,
        accounts: 1,
        line: 5,
        date: "2026-03-10",
        amount: "2450.00",
        description: "ACME LTD SALARY BGC",
    },
];

fn sample(file: &str) -> Vec<u8> {
    std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/samples/csv").join(file)).unwrap()
}

fn read_all(bytes: &[u8], options: &Options<'_>) -> (Statement, Vec<Entry>, Vec<RowError>) {
    let (mut entries, mut errors) = (Vec::new(), Vec::new());
    let statement = read(bytes, options, &mut |item| match item {
        Item::Entry(entry) => entries.push(entry),
        Item::Error(error) => errors.push(error),
    })
    .unwrap();
    (statement, entries, errors)
}

#[test]
fn every_profile_reads_its_sample() {
    for case in CASES {
        let (statement, entries, errors) = read_all(&sample(case.file), &Options::default());
        let file = case.file;
        assert_eq!(statement.format, Format::Csv, "{file}");
        let detection = statement.csv.unwrap();
        assert_eq!(detection.profile, Some(case.profile), "{file}");
        assert!((detection.confidence - 1.0).abs() < f64::EPSILON, "{file}: {}", detection.confidence);
        assert!(errors.is_empty(), "{file}: {errors:?}");
        assert_eq!(entries.len(), case.entries, "{file}");
        assert_eq!(statement.accounts.len(), case.accounts, "{file}");
        let entry = entries
            .iter()
            .find(|e| e.line == case.line)
            .unwrap_or_else(|| panic!("{file}: no line {}", case.line));
        assert_eq!(entry.date.to_string(), case.date, "{file}");
        assert_eq!(entry.amount.to_string(), case.amount, "{file}");
        assert_eq!(entry.description, case.description, "{file}");
        assert!(entries.iter().all(|e| e.account < statement.accounts.len()), "{file}");
    }
}

#[test]
fn what_the_profiles_carry_besides() {
    let (statement, entries, _) = read_all(&sample("budgetsmart.csv"), &Options::default());
    assert_eq!(statement.accounts[0].number, "");
    let coffee = &entries[0];
    assert_eq!(coffee.currency.as_deref(), Some("EUR"));
    assert_eq!(coffee.category.as_deref(), Some("Eating out"));
    assert_eq!(coffee.bank_id.as_deref(), Some("0195f2a1-6b1c-7d3e-9a41-1c2d3e4f5a61"));
    assert_eq!(entries[5].currency.as_deref(), Some("GBP"));

    let (statement, entries, _) = read_all(&sample("ynab-register.csv"), &Options::default());
    let numbers: Vec<&str> = statement.accounts.iter().map(|a| a.number.as_str()).collect();
    assert_eq!(numbers, ["Checking", "Visa"]);
    let tip = entries.iter().find(|e| e.line == 9).unwrap();
    assert_eq!((tip.account, tip.category.as_deref()), (1, Some("Tips")));

    let (statement, entries, _) = read_all(&sample("firefly-iii.csv"), &Options::default());
    let numbers: Vec<&str> = statement.accounts.iter().map(|a| a.number.as_str()).collect();
    assert_eq!(numbers, ["Checking", "Savings", "Visa"]);
    let transfer: Vec<(usize, String)> =
        entries.iter().filter(|e| e.line == 5).map(|e| (e.account, e.amount.to_string())).collect();
    assert_eq!(transfer, [(0, "-500.00".to_owned()), (1, "500.00".to_owned())]);
    let opening = entries.iter().find(|e| e.line == 2).unwrap();
    assert_eq!((opening.account, opening.amount.to_string().as_str()), (0, "1500.00"));
    assert_eq!(entries.iter().find(|e| e.line == 3).unwrap().bank_id.as_deref(), Some("202"));

    let (_, entries, _) = read_all(&sample("actual.csv"), &Options::default());
    let coupon = entries.iter().find(|e| e.line == 10).unwrap();
    assert_eq!(coupon.description, "Shoe Store · -10% coupon");

    let (statement, _, _) = read_all(&sample("chase-credit-card.csv"), &Options::default());
    assert_eq!(statement.accounts[0].currency.as_deref(), Some("USD"));

    let (statement, entries, _) = read_all(&sample("ing-nl.csv"), &Options::default());
    assert_eq!(statement.accounts[0].number, "NL91INGB0001234567");
    assert_eq!(statement.accounts[0].currency.as_deref(), Some("EUR"));
    assert_eq!(entries.iter().find(|e| e.line == 4).unwrap().amount.to_string(), "25.00");

    let (_, entries, _) = read_all(&sample("dkb.csv"), &Options::default());
    let salary = entries.iter().find(|e| e.line == 8).unwrap();
    assert_eq!(salary.description, "Muster Software GmbH · Gehalt März 2026");
    assert_eq!(salary.amount.to_string(), "3410.55");

    let (_, entries, _) = read_all(&sample("revolut.csv"), &Options::default());
    let dollars = entries.iter().find(|e| e.line == 5).unwrap();
    assert_eq!((dollars.currency.as_deref(), dollars.amount.to_string().as_str()), (Some("USD"), "108.52"));

    let (_, entries, _) = read_all(&sample("monzo.csv"), &Options::default());
    let uber = entries.iter().find(|e| e.line == 7).unwrap();
    assert_eq!(uber.bank_id.as_deref(), Some("tx_0000AbCdEf0006"));
    assert_eq!(uber.category.as_deref(), Some("Transport"));
    assert_eq!(uber.currency.as_deref(), Some("GBP"));

    let (statement, _, _) = read_all(&sample("barclays-uk.csv"), &Options::default());
    assert_eq!(statement.accounts[0].number, "20-32-06 13152170");
}

#[test]
fn a_named_profile_is_sure() {
    let options = Options { profile: Some("monzo"), ..Options::default() };
    let (statement, entries, errors) = read_all(&sample("monzo.csv"), &options);
    assert_eq!(statement.csv.unwrap().profile, Some("monzo"));
    assert_eq!((entries.len(), errors.len()), (8, 0));
}

/// The ING sample with its header in English: no profile matches, detection still reads it the
/// same, and says it is less sure.
#[test]
fn a_renamed_header_is_detected_with_less_confidence() {
    let text = String::from_utf8(sample("ing-nl.csv")).unwrap();
    let (_, body) = text.split_once("\r\n").unwrap();
    let english = "\"Date\";\"Name\";\"Account\";\"Counter account\";\"Code\";\"Debit/credit\";\"Amount (EUR)\";\
                   \"Transaction type\";\"Notes\";\"Balance after\";\"Tag\"\r\n";
    let renamed = format!("{english}{body}");
    let (statement, entries, errors) = read_all(renamed.as_bytes(), &Options::default());
    let detection = statement.csv.unwrap();
    assert_eq!(detection.profile, None);
    assert!(detection.confidence < 1.0, "{}", detection.confidence);
    assert!(detection.confidence >= 0.8, "{}", detection.confidence);
    assert!(errors.is_empty(), "{errors:?}");

    let (_, original, _) = read_all(&sample("ing-nl.csv"), &Options::default());
    fn amounts(entries: &[Entry]) -> Vec<String> {
        entries.iter().map(|e| e.amount.to_string()).collect()
    }
    assert_eq!(amounts(&entries), amounts(&original));
    assert_eq!(entries[0].description, original[0].description);

    // Our own format with a German header.
    let text = String::from_utf8(sample("budgetsmart.csv")).unwrap();
    let rows: String = text
        .lines()
        .skip(1)
        .map(|line| line.split(',').take(4).collect::<Vec<_>>().join(",") + "\n")
        .collect();
    let german = format!("Datum,Beschreibung,Betrag,Währung\n{rows}");
    let (statement, entries, errors) = read_all(german.as_bytes(), &Options::default());
    let detection = statement.csv.unwrap();
    assert_eq!(detection.profile, None);
    assert!(detection.confidence < 1.0 && detection.confidence >= 0.8, "{}", detection.confidence);
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(entries.len(), 8);
    assert_eq!(entries[0].currency.as_deref(), Some("EUR"));
}
