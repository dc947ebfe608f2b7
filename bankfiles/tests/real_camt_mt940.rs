//! The CAMT.053 and MT940 readers on real bank files, through the crate's `read`. The files are
//! in `tests/samples/camt` and `tests/samples/mt940`, unmodified; where each comes from and its
//! licence are in the README.md beside it.
//!
//! The balance check is the point of each test: where a file states both balances, the opening
//! balance plus every entry must give the closing balance, which holds only if each sign (CRDT
//! and DBIT, C, D, RC and RD) was read the way the bank meant it. The one entry checked by value
//! in each file was read out of the file by eye.

use budgetsmart_bankfiles::{Format, Item, Options, read};
use chrono::NaiveDate;
use rust_decimal::Decimal;

struct Account {
    number: String,
    institution: Option<String>,
    currency: Option<String>,
    opening: Option<(Decimal, NaiveDate)>,
    closing: Option<(Decimal, NaiveDate)>,
}

struct Row {
    line: u32,
    account: usize,
    date: NaiveDate,
    amount: Decimal,
    currency: Option<String>,
    description: String,
    bank_id: Option<String>,
}

struct Sample {
    format: Format,
    accounts: Vec<Account>,
    rows: Vec<Row>,
}

impl Sample {
    /// The entry that starts on `line`.
    fn at(&self, line: u32) -> &Row {
        self.rows.iter().find(|r| r.line == line).unwrap_or_else(|| panic!("no entry starts on line {line}"))
    }

    /// Opening + entries = closing, for every account that states both balances; returns how
    /// many accounts were checked.
    fn balances_add_up(&self) -> usize {
        let mut checked = 0;
        for (index, account) in self.accounts.iter().enumerate() {
            let (Some((opening, _)), Some((closing, _))) = (account.opening, account.closing) else {
                continue;
            };
            let moved: Decimal = self.rows.iter().filter(|r| r.account == index).map(|r| r.amount).sum();
            assert_eq!(
                opening + moved,
                closing,
                "account {}: opening {opening} + entries {moved} is not the closing {closing}",
                account.number
            );
            checked += 1;
        }
        checked
    }
}

/// Reads a sample, failing on any row error: a real file must read whole.
fn read_sample(bytes: &[u8]) -> Sample {
    let mut rows = Vec::new();
    let statement = read(bytes, &Options::default(), &mut |item| match item {
        Item::Entry(entry) => rows.push(Row {
            line: entry.line,
            account: entry.account,
            date: entry.date,
            amount: entry.amount,
            currency: entry.currency,
            description: entry.description,
            bank_id: entry.bank_id,
        }),
        Item::Error(error) => panic!("line {}: {}", error.line, error.message),
    })
    .expect("the sample reads");
    let accounts = statement
        .accounts
        .iter()
        .map(|a| Account {
            number: a.number.clone(),
            institution: a.institution.clone(),
            currency: a.currency.clone(),
            opening: a.opening.as_ref().map(|b| (b.amount, b.on)),
            closing: a.closing.as_ref().map(|b| (b.amount, b.on)),
        })
        .collect();
    Sample { format: statement.format, accounts, rows }
}

fn d(text: &str) -> Decimal {
    text.parse().expect("a decimal")
}

fn day(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").expect("a day")
}

/// SNS Bank (camt.053.001.02): two statements of two accounts in one file; the bank gives no
/// `AcctSvcrRef` or `EndToEndId`, only an `NtryRef`, which is not taken as an id.
#[test]
fn camt_001_02_sns_two_accounts() {
    let sample = read_sample(include_bytes!("samples/camt/example-camt053-a.xml"));
    assert_eq!(sample.format, Format::Camt053);
    assert_eq!(sample.accounts.len(), 2);
    assert_eq!(sample.rows.len(), 11);
    assert_eq!(sample.rows.iter().filter(|r| r.account == 1).count(), 4);
    let first = &sample.accounts[0];
    assert_eq!(first.number, "NL14SNSB0012345678");
    assert_eq!(first.institution.as_deref(), Some("SNSBNL2A"));
    assert_eq!(first.currency.as_deref(), Some("EUR"));
    assert_eq!(first.opening, Some((d("203.69"), day("2026-01-23"))));
    assert_eq!(first.closing, Some((d("661.69"), day("2026-04-08"))));
    assert_eq!(sample.accounts[1].number, "NL78SNSB0022446688");
    assert_eq!(sample.balances_add_up(), 2);

    let entry = sample.at(107);
    assert_eq!((entry.account, entry.date, entry.amount), (0, day("2026-01-26"), d("500.00")));
    assert_eq!(entry.currency.as_deref(), Some("EUR"));
    assert_eq!(entry.bank_id, None);
    assert_eq!(entry.description, "GreatExample BV · Opname");
    let fee = sample.at(77);
    assert_eq!((fee.date, fee.amount), (day("2026-01-24"), d("-7.95")));
    assert_eq!(fee.description, "Kosten gebruik betaalrekening inclusief 1 betaalpas", "AddtlNtryInf");
}

/// A month of a Belgian business account (camt.053.001.02, Deutsche Bank export, anonymised):
/// 268 entries, ids from `EndToEndId` (`InstrId` is `NOTPROVIDED`).
#[test]
fn camt_001_02_a_month_of_a_business_account() {
    let sample = read_sample(include_bytes!("samples/camt/BE68793230773034-202411.xml"));
    assert_eq!(sample.format, Format::Camt053);
    assert_eq!(sample.accounts.len(), 1);
    assert_eq!(sample.rows.len(), 268);
    let account = &sample.accounts[0];
    assert_eq!(account.number, "BE68793230773034");
    assert_eq!(account.institution.as_deref(), Some("DEUTBEB4NDX"));
    assert_eq!(account.currency.as_deref(), Some("EUR"), "from the balances: the Acct names no Ccy");
    assert_eq!(account.opening, Some((d("59370.37"), day("2024-11-01"))));
    assert_eq!(account.closing, Some((d("87539.12"), day("2024-11-30"))));
    assert_eq!(sample.balances_add_up(), 1);

    let received = sample.at(56);
    assert_eq!((received.date, received.amount), (day("2024-11-29"), d("50000")));
    assert_eq!(received.bank_id.as_deref(), Some("E2ESEKOZLQO41354223"));
    assert_eq!(received.description, "Stellar Ltd · Transfer ref HBAVHC9717", "money in names the debtor");
    let paid = sample.at(122);
    assert_eq!((paid.date, paid.amount), (day("2024-11-29"), d("-131.7")));
    assert_eq!(paid.bank_id.as_deref(), Some("E2EKIIOEVGZ83982075"));
    assert_eq!(paid.description, "Zeta NV · Transfer ref TGHJWD6680", "money out names the creditor");
}

/// camt.053.001.08 (genkgo/camt's fixture): `Othr/Id`, `Pty/Nm`, `Sts/Cd`, `BookgDt/DtTm`. Its
/// balances are made up and do not add up (the closing is a DBIT in SEK), so instead of the
/// relation each sign is checked against the file.
#[test]
fn camt_001_08() {
    let sample = read_sample(include_bytes!("samples/camt/camt053.v8.xml"));
    assert_eq!(sample.format, Format::Camt053);
    assert_eq!(sample.accounts.len(), 1);
    assert_eq!(sample.rows.len(), 1);
    let account = &sample.accounts[0];
    assert_eq!(account.number, "NL26VAYB8060476890");
    assert_eq!(account.institution.as_deref(), Some("AAAA BANKEN"));
    assert_eq!(account.currency.as_deref(), Some("EUR"));
    assert_eq!(account.opening, Some((d("18.15"), day("2014-12-30"))), "OPBD, CRDT");
    assert_eq!(account.closing, Some((d("-27.00"), day("2014-12-30"))), "CLBD, DBIT");

    let entry = sample.at(110);
    assert_eq!((entry.date, entry.amount), (day("2014-12-31"), d("8.85")), "the booking DtTm's day, CRDT");
    assert_eq!(entry.currency.as_deref(), Some("EUR"));
    assert_eq!(entry.bank_id.as_deref(), Some("AAAASESS-FP-CN_98765/01"));
    assert_eq!(entry.description, "NAME NAME", "Dbtr/Pty/Nm; the remittance is structured only");
}

/// Two `Stmt` of one account in one file (camt.053.001.02, genkgo/camt): one account, the first
/// statement's opening and the last one's closing, and the relation holds across both.
#[test]
fn camt_001_02_two_statements_of_one_account() {
    let sample = read_sample(include_bytes!("samples/camt/camt053.v2.multi.statement.xml"));
    assert_eq!(sample.format, Format::Camt053);
    assert_eq!(sample.accounts.len(), 1);
    assert_eq!(sample.rows.len(), 2);
    assert_eq!(sample.accounts[0].opening, Some((d("18.15"), day("2014-12-30"))));
    assert_eq!(sample.accounts[0].closing, Some((d("20.00"), day("2014-12-31"))));
    assert_eq!(sample.balances_add_up(), 1);

    let entry = sample.at(145);
    assert_eq!((entry.date, entry.amount), (day("2014-12-31"), d("-7.00")));
    assert_eq!(entry.bank_id.as_deref(), Some("000000002"), "EndToEndId");
    assert_eq!(entry.description, "Company Name 2 · Transaction Description 2");
}

/// ASN Bank (MT940 with SWIFT block headers): a month as 31 daily messages of one account.
#[test]
fn mt940_asn_bank_a_month_of_messages() {
    let sample = read_sample(include_bytes!("samples/mt940/0708271685_09022020_164516.940.txt"));
    assert_eq!(sample.format, Format::Mt940);
    assert_eq!(sample.accounts.len(), 1);
    assert_eq!(sample.rows.len(), 8);
    let account = &sample.accounts[0];
    assert_eq!(account.number, "NL81ASNB9999999999");
    assert_eq!(account.institution, None);
    assert_eq!(account.currency.as_deref(), Some("EUR"));
    assert_eq!(account.opening, Some((d("444.29"), day("2020-01-01"))), "the first message's :60F:");
    assert_eq!(account.closing, Some((d("501.23"), day("2020-01-31"))), "the last message's :62F:");
    assert_eq!(sample.balances_add_up(), 1);

    let entry = sample.at(6);
    assert_eq!((entry.date, entry.amount), (day("2020-01-01"), d("-65.00")));
    assert_eq!(entry.currency.as_deref(), Some("EUR"));
    assert_eq!(entry.bank_id, None, "ASN writes no bank reference");
    assert_eq!(entry.description, "NL47INGB9999999999 hr gjlm paulissen Betaling sieraden");
    let fee = sample.at(198);
    assert_eq!((fee.date, fee.amount), (day("2020-01-25"), d("-1.65")));
    assert_eq!(fee.description, "Kosten gebruik betaalrekening inclusief 1 betaalpas");
}

/// A German bank's SEPA MT940 (betterplace's file): 20 accounts, `?NN` subfields, funds codes
/// (`CR`, `DR`), a reversal (`RCR`), overdrawn balances.
#[test]
fn mt940_german_sepa_twenty_accounts() {
    let sample = read_sample(include_bytes!("samples/mt940/sepa_mt9401.sta"));
    assert_eq!(sample.format, Format::Mt940);
    assert_eq!(sample.accounts.len(), 20);
    assert_eq!(sample.rows.len(), 97);
    let first = &sample.accounts[0];
    assert_eq!(first.number, "50880050/0194774600888");
    assert_eq!(first.institution.as_deref(), Some("50880050"), "the bank code before the slash");
    assert_eq!(first.opening, Some((d("-1234718.36"), day("2007-09-03"))));
    assert_eq!(first.closing, Some((d("-1237628.23"), day("2007-09-04"))));
    assert_eq!(sample.balances_add_up(), 20);

    let entry = sample.at(5);
    assert_eq!((entry.account, entry.date, entry.amount), (0, day("2007-09-04"), d("300")));
    assert_eq!(entry.bank_id.as_deref(), Some("0724710345313905"));
    let reversal = sample.at(19);
    assert_eq!((reversal.amount, reversal.bank_id.as_deref()), (d("-204.88"), None), "RC takes money out");
    let named = sample.at(586);
    assert_eq!(named.amount, d("50.05"));
    assert!(
        named.description.starts_with(
            "Richter Renate 70 Zeichen Beginn Fuellzeichen xxxxxxxx · TO 25 TFNr 50005 Eingangskanal Mint"
        ),
        "?32+?33, then the SVWZ+ purpose: {}",
        named.description
    );
}
