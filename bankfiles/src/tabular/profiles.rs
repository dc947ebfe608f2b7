//! Shipped profiles: the exact header rows that apps and banks export, and how to read them.
//! A file matches a profile when its header row has every one of the profile's columns (by
//! key, in any order) and no column the profile does not know; `optional` columns are those
//! some versions of the export add or drop. Each profile names where its layout comes from.

use crate::model::{AccountKind, AmountColumns, CsvLayout, DateOrder, FileError, ReadError};
use crate::numbers::DecimalMark;
use crate::tabular::detect::{self, Pinned};
use crate::tabular::headers;
use crate::tabular::plan::{AccountRule, Plan};
use crate::tabular::sniff::Sample;

#[derive(Debug, Clone, Copy)]
pub(crate) enum Money {
    Signed(&'static str),
    DebitCredit { debit: &'static str, credit: &'static str },
    Indicator { amount: &'static str, indicator: &'static str, out: &'static [&'static str] },
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum AccountsBy {
    Single,
    Column(&'static str),
    /// See `AccountRule::Sides`.
    Sides {
        source: &'static str,
        destination: &'static str,
        source_type: &'static str,
        destination_type: &'static str,
    },
}

#[derive(Debug)]
pub(crate) struct Profile {
    pub(crate) name: &'static str,
    /// The header row as the export writes it.
    pub(crate) headers: &'static [&'static str],
    /// Columns that some versions of the export lack or add.
    pub(crate) optional: &'static [&'static str],
    /// Columns the profile does not list may follow (an app that adds metadata columns).
    pub(crate) open: bool,
    /// The export's delimiter; sniffing still decides, this only breaks ties.
    pub(crate) delimiter: u8,
    pub(crate) date: &'static str,
    /// `None`: read from the values (apps that write the user's own date format).
    pub(crate) date_order: Option<DateOrder>,
    /// `None`: read from the values.
    pub(crate) decimal: Option<DecimalMark>,
    pub(crate) money: Money,
    /// Joined with " · ", blanks skipped.
    pub(crate) description: &'static [&'static str],
    /// (column when money goes out, column when it comes in), put before the description.
    pub(crate) counterparty: Option<(&'static str, &'static str)>,
    /// A per-row currency column.
    pub(crate) currency: Option<&'static str>,
    pub(crate) category: Option<&'static str>,
    pub(crate) bank_id: Option<&'static str>,
    pub(crate) accounts: AccountsBy,
    pub(crate) fee: Option<&'static str>,
    /// Rows left out: a column and the values that mean not booked.
    pub(crate) skip: Option<(&'static str, &'static [&'static str])>,
    pub(crate) split_parent: Option<&'static str>,
    pub(crate) unquote_formulas: bool,
    /// The currency of a single-currency bank's accounts; `None` lets the engine use the
    /// account's or the user's.
    pub(crate) account_currency: Option<&'static str>,
    pub(crate) institution: Option<&'static str>,
    pub(crate) kind: Option<AccountKind>,
}

const BASE: Profile = Profile {
    name: "",
    headers: &[],
    optional: &[],
    open: false,
    delimiter: b',',
    date: "",
    date_order: None,
    decimal: None,
    money: Money::Signed(""),
    description: &[],
    counterparty: None,
    currency: None,
    category: None,
    bank_id: None,
    accounts: AccountsBy::Single,
    fee: None,
    skip: None,
    split_parent: None,
    unquote_formulas: false,
    account_currency: None,
    institution: None,
    kind: None,
};

pub(crate) static PROFILES: &[Profile] = &[
    // This app's own format: the import's `date,description,amount,currency[,category]` and
    // the export's (gateway/src/routes/export.rs), which adds type, notes, id, category_id and
    // created_at and defuses formulas with a leading `'`. ISO dates, signed point amounts.
    Profile {
        name: "budgetsmart",
        headers: &[
            "date",
            "description",
            "amount",
            "currency",
            "category",
            "type",
            "notes",
            "id",
            "category_id",
            "created_at",
        ],
        optional: &["category", "type", "notes", "id", "category_id", "created_at"],
        date: "date",
        money: Money::Signed("amount"),
        description: &["description"],
        currency: Some("currency"),
        category: Some("category"),
        bank_id: Some("id"),
        unquote_formulas: true,
        ..BASE
    },
    // YNAB (nYNAB) "Export budget" → "… - Register.csv". The date and the amounts follow the
    // budget's own formats (`04/15/2026`, `$45.00`, `45,00€`), so both are read from the values.
    // Layout as in public importers' fixtures, e.g. the YNAB register tests indexed from
    // GitHub; no official specification is published.
    Profile {
        name: "ynab-register",
        headers: &[
            "Account",
            "Flag",
            "Date",
            "Payee",
            "Category Group/Category",
            "Category Group",
            "Category",
            "Memo",
            "Outflow",
            "Inflow",
            "Cleared",
        ],
        date: "Date",
        money: Money::DebitCredit { debit: "Outflow", credit: "Inflow" },
        description: &["Payee", "Memo"],
        category: Some("Category"),
        accounts: AccountsBy::Column("Account"),
        ..BASE
    },
    // Firefly III, Export data → transactions: app/Support/Export/ExportDataGenerator.php,
    // exportTransactions() (firefly-iii/firefly-iii @ a95b82b1, AGPL-3.0; layout only).
    // Withdrawals are written negative, deposits and transfers positive; the account is the
    // side whose type is an asset or liability. Before 6.2 the native_* columns did not exist,
    // since August 2025 they are primary_*/pc_*.
    Profile {
        name: "firefly-iii",
        headers: &[
            "user_id",
            "group_id",
            "journal_id",
            "created_at",
            "updated_at",
            "group_title",
            "type",
            "currency_code",
            "amount",
            "foreign_currency_code",
            "foreign_amount",
            "primary_currency_code",
            "pc_amount",
            "pc_foreign_amount",
            "description",
            "date",
            "source_name",
            "source_iban",
            "source_type",
            "destination_name",
            "destination_iban",
            "destination_type",
            "reconciled",
            "category",
            "budget",
            "bill",
            "tags",
            "notes",
        ],
        optional: &[
            "primary_currency_code",
            "pc_amount",
            "pc_foreign_amount",
            "native_currency_code",
            "native_amount",
            "native_foreign_amount",
        ],
        open: true,
        date: "date",
        date_order: Some(DateOrder::Ymd),
        decimal: Some(DecimalMark::Point),
        money: Money::Signed("amount"),
        description: &["description"],
        counterparty: Some(("destination_name", "source_name")),
        currency: Some("currency_code"),
        category: Some("category"),
        bank_id: Some("journal_id"),
        accounts: AccountsBy::Sides {
            source: "source_name",
            destination: "destination_name",
            source_type: "source_type",
            destination_type: "destination_type",
        },
        ..BASE
    },
    // Actual Budget, account menu → Export: packages/loot-core/src/server/transactions/export/
    // export-to-csv.ts (actualbudget/actual, MIT). exportQueryToCSV writes a split's parent
    // with Amount 0 and its total in Split_Amount; newer versions add Category_Group and prefix
    // formula-like text with `'`; exportToCSV writes Reconciled instead of Split_Amount; the
    // single-account export drops Account and adds Balance.
    Profile {
        name: "actual",
        headers: &[
            "Account",
            "Date",
            "Payee",
            "Notes",
            "Category_Group",
            "Category",
            "Amount",
            "Split_Amount",
            "Cleared",
        ],
        optional: &["Account", "Category_Group", "Split_Amount", "Reconciled", "Balance"],
        date: "Date",
        date_order: Some(DateOrder::Ymd),
        decimal: Some(DecimalMark::Point),
        money: Money::Signed("Amount"),
        description: &["Payee", "Notes"],
        category: Some("Category"),
        accounts: AccountsBy::Column("Account"),
        split_parent: Some("Split_Amount"),
        unquote_formulas: true,
        ..BASE
    },
    // Chase checking and savings, "Download account activity" → CSV. Rows end with a comma
    // the header lacks. Layout as documented by public importers (e.g. beangulp Chase importers
    // and firefly-iii/import-configurations us/chase, CC BY-SA 4.0).
    Profile {
        name: "chase-checking",
        headers: &["Details", "Posting Date", "Description", "Amount", "Type", "Balance", "Check or Slip #"],
        date: "Posting Date",
        date_order: Some(DateOrder::Mdy),
        decimal: Some(DecimalMark::Point),
        money: Money::Signed("Amount"),
        description: &["Description"],
        account_currency: Some("USD"),
        institution: Some("JPMorgan Chase"),
        ..BASE
    },
    // Chase credit cards: purchases negative, payments positive. Older downloads start with a
    // Card column.
    Profile {
        name: "chase-credit-card",
        headers: &[
            "Card",
            "Transaction Date",
            "Post Date",
            "Description",
            "Category",
            "Type",
            "Amount",
            "Memo",
        ],
        optional: &["Card", "Memo"],
        date: "Post Date",
        date_order: Some(DateOrder::Mdy),
        decimal: Some(DecimalMark::Point),
        money: Money::Signed("Amount"),
        description: &["Description", "Memo"],
        category: Some("Category"),
        account_currency: Some("USD"),
        institution: Some("JPMorgan Chase"),
        kind: Some(AccountKind::CreditCard),
        ..BASE
    },
    // ING Netherlands, "Af- en bijschrijvingen downloaden" → puntkomma-gescheiden: every cell
    // quoted, YYYYMMDD dates, unsigned comma amounts with an Af/Bij column. Since 2020 two
    // columns follow (Saldo na mutatie, Tag); the older comma-separated download lacks them.
    // Layout per firefly-iii/import-configurations nl/ing/default.json (CC BY-SA 4.0).
    Profile {
        name: "ing-nl",
        headers: &[
            "Datum",
            "Naam / Omschrijving",
            "Rekening",
            "Tegenrekening",
            "Code",
            "Af Bij",
            "Bedrag (EUR)",
            "Mutatiesoort",
            "Mededelingen",
            "Saldo na mutatie",
            "Tag",
        ],
        optional: &["Saldo na mutatie", "Tag"],
        delimiter: b';',
        date: "Datum",
        date_order: Some(DateOrder::Ymd),
        decimal: Some(DecimalMark::Comma),
        money: Money::Indicator { amount: "Bedrag (EUR)", indicator: "Af Bij", out: &["Af"] },
        description: &["Naam / Omschrijving", "Mededelingen"],
        accounts: AccountsBy::Column("Rekening"),
        account_currency: Some("EUR"),
        institution: Some("ING"),
        ..BASE
    },
    // N26, app/web "Download CSV" since the 2023 relaunch; Account Name is the main account or
    // a Space. Layout per public importers (beancount-n26, N26 test fixtures indexed from
    // GitHub).
    Profile {
        name: "n26",
        headers: &[
            "Booking Date",
            "Value Date",
            "Partner Name",
            "Partner Iban",
            "Type",
            "Payment Reference",
            "Account Name",
            "Amount (EUR)",
            "Original Amount",
            "Original Currency",
            "Exchange Rate",
        ],
        date: "Booking Date",
        date_order: Some(DateOrder::Ymd),
        decimal: Some(DecimalMark::Point),
        money: Money::Signed("Amount (EUR)"),
        description: &["Partner Name", "Payment Reference"],
        accounts: AccountsBy::Column("Account Name"),
        account_currency: Some("EUR"),
        institution: Some("N26"),
        ..BASE
    },
    // DKB Girokonto, the banking portal since 2023: UTF-8 with a BOM, `;`, four preamble lines
    // (account, blank, balance, blank), DD.MM.YY dates, comma amounts (some downloads add ` €`
    // or name the column `Betrag`), payer and payee both written, pending rows `Vorgemerkt`.
    // Layout per firefly-iii/import-configurations de/dkb (CC BY-SA 4.0) and public importers.
    Profile {
        name: "dkb",
        headers: &[
            "Buchungsdatum",
            "Wertstellung",
            "Status",
            "Zahlungspflichtige*r",
            "Zahlungsempfänger*in",
            "Verwendungszweck",
            "Umsatztyp",
            "IBAN",
            "Betrag (€)",
            "Gläubiger-ID",
            "Mandatsreferenz",
            "Kundenreferenz",
        ],
        optional: &["IBAN", "Gläubiger-ID", "Mandatsreferenz", "Kundenreferenz"],
        delimiter: b';',
        date: "Buchungsdatum",
        date_order: Some(DateOrder::Dmy),
        decimal: Some(DecimalMark::Comma),
        money: Money::Signed("Betrag (€)"),
        description: &["Verwendungszweck"],
        counterparty: Some(("Zahlungsempfänger*in", "Zahlungspflichtige*r")),
        skip: Some(("Status", &["Vorgemerkt"])),
        account_currency: Some("EUR"),
        institution: Some("DKB"),
        ..BASE
    },
    // Sparkassen (Finanz Informatik), Umsätze → Export "CSV-CAMT-Format": Windows-1252, `;`,
    // every cell quoted, DD.MM.YY, signed comma amounts, umlauts in the header transliterated,
    // pending rows "Umsatz vorgemerkt". Layout per firefly-iii/import-configurations
    // de/sparkasse/neubrandenburg-demmin/csv-camt.json (CC BY-SA 4.0) and public importers.
    Profile {
        name: "sparkasse-camt",
        headers: &[
            "Auftragskonto",
            "Buchungstag",
            "Valutadatum",
            "Buchungstext",
            "Verwendungszweck",
            "Glaeubiger ID",
            "Mandatsreferenz",
            "Kundenreferenz (End-to-End)",
            "Sammlerreferenz",
            "Lastschrift Ursprungsbetrag",
            "Auslagenersatz Ruecklastschrift",
            "Beguenstigter/Zahlungspflichtiger",
            "Kontonummer/IBAN",
            "BIC (SWIFT-Code)",
            "Betrag",
            "Waehrung",
            "Info",
        ],
        delimiter: b';',
        date: "Buchungstag",
        date_order: Some(DateOrder::Dmy),
        decimal: Some(DecimalMark::Comma),
        money: Money::Signed("Betrag"),
        description: &["Beguenstigter/Zahlungspflichtiger", "Verwendungszweck"],
        currency: Some("Waehrung"),
        accounts: AccountsBy::Column("Auftragskonto"),
        skip: Some(("Info", &["Umsatz vorgemerkt"])),
        institution: Some("Sparkasse"),
        ..BASE
    },
    // Revolut, Statements → Excel/CSV: one row per movement with its currency; the fee is
    // charged on top; rows that did not complete have no Completed Date and are left out.
    // Layout per public importers' fixtures (Revolut's help centre describes the columns).
    Profile {
        name: "revolut",
        headers: &[
            "Type",
            "Product",
            "Started Date",
            "Completed Date",
            "Description",
            "Amount",
            "Fee",
            "Currency",
            "State",
            "Balance",
        ],
        optional: &["Balance"],
        date: "Completed Date",
        date_order: Some(DateOrder::Ymd),
        decimal: Some(DecimalMark::Point),
        money: Money::Signed("Amount"),
        description: &["Description"],
        currency: Some("Currency"),
        fee: Some("Fee"),
        skip: Some(("State", &["PENDING", "REVERTED", "DECLINED", "FAILED"])),
        institution: Some("Revolut"),
        ..BASE
    },
    // Monzo, Export transactions → CSV. Amount is signed in the account's currency; Money Out
    // and Money In repeat it. Layout per firefly-iii/import-configurations gb/monzo
    // (18 columns, CC BY-SA 4.0) and public importers; newer exports add Balance columns.
    Profile {
        name: "monzo",
        headers: &[
            "Transaction ID",
            "Date",
            "Time",
            "Type",
            "Name",
            "Emoji",
            "Category",
            "Amount",
            "Currency",
            "Local amount",
            "Local currency",
            "Notes and #tags",
            "Address",
            "Receipt",
            "Description",
            "Category split",
            "Money Out",
            "Money In",
        ],
        optional: &["Money Out", "Money In", "Balance", "Balance currency"],
        date: "Date",
        date_order: Some(DateOrder::Dmy),
        decimal: Some(DecimalMark::Point),
        money: Money::Signed("Amount"),
        description: &["Name", "Notes and #tags"],
        currency: Some("Currency"),
        category: Some("Category"),
        bank_id: Some("Transaction ID"),
        institution: Some("Monzo"),
        ..BASE
    },
    // Barclays UK online banking, Export → CSV: the account as sort code and number, Memo the
    // bank's text. Layout per firefly-iii/import-configurations gb/barclays (CC BY-SA 4.0).
    Profile {
        name: "barclays-uk",
        headers: &["Number", "Date", "Account", "Amount", "Subcategory", "Memo"],
        date: "Date",
        date_order: Some(DateOrder::Dmy),
        decimal: Some(DecimalMark::Point),
        money: Money::Signed("Amount"),
        description: &["Memo"],
        accounts: AccountsBy::Column("Account"),
        account_currency: Some("GBP"),
        institution: Some("Barclays"),
        ..BASE
    },
];

pub(crate) fn names() -> Vec<&'static str> {
    PROFILES.iter().map(|p| p.name).collect()
}

pub(crate) fn find(name: &str) -> Option<&'static Profile> {
    PROFILES.iter().find(|p| p.name.eq_ignore_ascii_case(name.trim()))
}

/// The profile whose header row this is.
pub(crate) fn matching(header_row: &[String]) -> Option<&'static Profile> {
    PROFILES.iter().find(|p| matches(p, header_row))
}

fn matches(profile: &Profile, header_row: &[String]) -> bool {
    let present: Vec<&str> = header_row.iter().map(|h| h.trim()).filter(|h| !h.is_empty()).collect();
    let optional = |name: &str| profile.optional.iter().any(|o| headers::same(o, name));
    let has_required = profile
        .headers
        .iter()
        .filter(|&&name| !optional(name))
        .all(|&name| present.iter().any(|&p| headers::same(p, name)));
    let known = |name: &str| profile.headers.iter().chain(profile.optional).any(|&h| headers::same(h, name));
    has_required && (profile.open || present.iter().all(|&p| known(p)))
}

/// The profile's plan for this file, with the caller's mapping over it.
pub(crate) fn plan(profile: &Profile, sample: &Sample, pinned: &Pinned) -> Result<Plan, ReadError> {
    let header_row = &sample.headers;
    let find = |name: &str| header_row.iter().position(|h| headers::same(h, name));
    let need = |name: &str| -> Result<usize, ReadError> {
        find(name).ok_or_else(|| {
            ReadError::File(FileError::at(
                sample.header_line,
                format!("the header has no \"{name}\" column, which the {} profile reads", profile.name),
            ))
        })
    };
    let date = match pinned.date {
        Some(column) => column,
        None => need(profile.date)?,
    };
    let amount = match profile.money {
        Money::Signed(amount) => AmountColumns::Signed(need(amount)?),
        Money::DebitCredit { debit, credit } => {
            AmountColumns::DebitCredit { debit: need(debit)?, credit: need(credit)? }
        }
        Money::Indicator { amount, indicator, out } => AmountColumns::Indicator {
            amount: need(amount)?,
            indicator: need(indicator)?,
            out: out.iter().map(|o| o.to_lowercase()).collect(),
        },
    };
    let amount = detect::override_money(amount, pinned)?;
    let values = detect::value_columns(&amount);
    let description = if pinned.description.is_empty() {
        profile.description.iter().filter_map(|&name| find(name)).collect()
    } else {
        pinned.description.clone()
    };
    let currency = pinned.currency.or_else(|| profile.currency.and_then(find));
    let (decimal, _) = detect::choose_decimal(sample, &values, pinned.decimal.or(profile.decimal));
    let (date_order, _) = detect::choose_order(
        sample,
        date,
        pinned.date_order.or(profile.date_order),
        &values,
        currency,
        decimal,
    );
    let account = match profile.accounts {
        AccountsBy::Single => AccountRule::Single,
        AccountsBy::Column(name) => find(name).map_or(AccountRule::Single, AccountRule::Column),
        AccountsBy::Sides { source, destination, source_type, destination_type } => {
            match (find(source), find(destination), find(source_type), find(destination_type)) {
                (Some(source), Some(destination), Some(source_type), Some(destination_type)) => {
                    AccountRule::Sides { source, destination, source_type, destination_type }
                }
                _ => AccountRule::Single,
            }
        }
    };
    let accounts_currency = profile
        .account_currency
        .map(str::to_owned)
        .or_else(|| if currency.is_none() { detect::unit_currency(sample, &values) } else { None });
    let layout = CsvLayout {
        delimiter: sample.delimiter,
        header_line: sample.header_line,
        headers: header_row.clone(),
        date,
        date_order,
        description,
        amount,
        decimal,
        currency,
        category: pinned.category.or_else(|| profile.category.and_then(find)),
        bank_id: profile.bank_id.and_then(find),
    };
    Ok(Plan {
        layout,
        account,
        counterparty: profile.counterparty.and_then(|(out, into)| Some((find(out)?, find(into)?))),
        fee: profile.fee.and_then(find),
        skip: profile.skip.and_then(|(name, values)| find(name).map(|column| (column, values))),
        split_parent: profile.split_parent.and_then(find),
        unquote_formulas: profile.unquote_formulas,
        currency: accounts_currency,
        institution: profile.institution,
        kind: profile.kind,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(names: &[&str]) -> Vec<String> {
        names.iter().map(|n| (*n).to_owned()).collect()
    }

    #[test]
    fn names_are_unique_and_every_header_row_matches_its_own_profile_only() {
        let mut seen = names();
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(seen.len(), PROFILES.len());
        for profile in PROFILES {
            let header_row = row(profile.headers);
            let matched: Vec<&str> =
                PROFILES.iter().filter(|p| matches(p, &header_row)).map(|p| p.name).collect();
            assert_eq!(matched, [profile.name], "{}", profile.name);
            // Every column a profile reads is in its header row.
            assert!(profile.headers.iter().any(|h| headers::same(h, profile.date)), "{}", profile.name);
        }
    }

    #[test]
    fn optional_and_unknown_columns() {
        let bare = row(&["date", "description", "amount", "currency"]);
        assert_eq!(matching(&bare).map(|p| p.name), Some("budgetsmart"));
        let extra = row(&["date", "description", "amount", "currency", "balance"]);
        assert_eq!(matching(&extra).map(|p| p.name), None);
        let old_ing = row(&[
            "Datum",
            "Naam / Omschrijving",
            "Rekening",
            "Tegenrekening",
            "Code",
            "Af Bij",
            "Bedrag (EUR)",
            "MutatieSoort",
            "Mededelingen",
        ]);
        assert_eq!(matching(&old_ing).map(|p| p.name), Some("ing-nl"));
        assert_eq!(find("YNAB-Register").map(|p| p.name), Some("ynab-register"));
        assert!(find("quicken").is_none());
    }
}
