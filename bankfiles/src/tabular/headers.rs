//! Column names as banks and apps write them, in English, German, French, Dutch and Spanish,
//! and the key they are compared by: `Betrag (EUR)`, `betrag` and `BETRAG` are one name, and so
//! are `Währung`, `Wahrung` and `Waehrung` (exports transliterate umlauts, or drop them).

/// What a column holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    Date,
    /// One signed amount.
    Amount,
    /// Money out, in a column of its own.
    Debit,
    /// Money in, in a column of its own.
    Credit,
    /// Says which way an unsigned amount went (`Af Bij`, `S/H`).
    Indicator,
    /// Who: payee, payer, counterparty.
    Payee,
    /// What for: the remittance text, a memo.
    Memo,
    Currency,
    Category,
    Id,
    /// A running balance: it parses as an amount but is never the transaction's.
    Balance,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lang {
    En,
    De,
    Fr,
    Nl,
    Es,
}

use Lang::{De, En, Es, Fr, Nl};

/// (rank, language, name): a lower rank wins when several columns could hold the role.
type Names = &'static [(u8, Lang, &'static str)];

/// Booking dates rank before plain dates, which rank before transaction dates, which rank
/// before value dates: an entry's day is the day the bank booked it.
const DATE: Names = &[
    (0, En, "booking date"),
    (0, En, "posting date"),
    (0, En, "posted date"),
    (0, En, "post date"),
    (0, En, "date posted"),
    (0, De, "Buchungstag"),
    (0, De, "Buchungsdatum"),
    (0, De, "Buchung"),
    (0, Fr, "date de comptabilisation"),
    (0, Fr, "date comptable"),
    (0, Nl, "Boekdatum"),
    (0, Nl, "Boekingsdatum"),
    (0, Es, "Fecha contable"),
    (0, Es, "Fecha de contabilización"),
    (1, En, "date"),
    (1, Fr, "date"),
    (1, De, "Datum"),
    (1, Nl, "Datum"),
    (1, Es, "Fecha"),
    (2, En, "transaction date"),
    (2, En, "trans date"),
    (2, En, "trans. date"),
    (2, De, "Umsatzdatum"),
    (2, De, "Belegdatum"),
    (2, Fr, "date d'opération"),
    (2, Fr, "date de l'opération"),
    (2, Fr, "date opération"),
    (2, Nl, "Transactiedatum"),
    (2, Es, "Fecha operación"),
    (2, Es, "Fecha de operación"),
    (2, Es, "F. Operación"),
    (5, En, "value date"),
    (5, De, "Wertstellung"),
    (5, De, "Wertstellungsdatum"),
    // German Valuta is the value date; Dutch Valuta is the currency (see CURRENCY): the
    // cells decide which.
    (5, De, "Valuta"),
    (5, De, "Valutadatum"),
    (5, Nl, "Valutadatum"),
    (5, Nl, "Rentedatum"),
    (5, Fr, "date de valeur"),
    (5, Fr, "date valeur"),
    (5, Es, "Fecha valor"),
    (5, Es, "F. Valor"),
];

const AMOUNT: Names = &[
    (0, En, "amount"),
    (0, En, "transaction amount"),
    (1, En, "value"),
    (0, De, "Betrag"),
    (0, De, "Umsatz"),
    (0, De, "Buchungsbetrag"),
    (0, Fr, "montant"),
    (0, Fr, "montant de l'opération"),
    (0, Nl, "Bedrag"),
    (0, Nl, "Transactiebedrag"),
    (0, Es, "Importe"),
    (0, Es, "Cantidad"),
    (0, Es, "Monto"),
];

const DEBIT: Names = &[
    (0, En, "debit"),
    (0, En, "debits"),
    (0, En, "debit amount"),
    (0, En, "withdrawal"),
    (0, En, "withdrawals"),
    (0, En, "money out"),
    (0, En, "paid out"),
    (0, En, "outflow"),
    (0, En, "out"),
    (0, En, "spent"),
    (0, De, "Soll"),
    (0, De, "Ausgang"),
    (0, De, "Ausgabe"),
    (0, De, "Ausgaben"),
    (0, De, "Belastung"),
    (0, Fr, "débit"),
    (0, Fr, "montant débit"),
    (0, Nl, "Af"),
    (0, Nl, "Debet"),
    (0, Nl, "Uitgaven"),
    (0, Es, "Cargo"),
    (0, Es, "Cargos"),
    (0, Es, "Debe"),
    (0, Es, "Débito"),
    (0, Es, "Retiro"),
];

const CREDIT: Names = &[
    (0, En, "credit"),
    (0, En, "credits"),
    (0, En, "credit amount"),
    (0, En, "deposit"),
    (0, En, "deposits"),
    (0, En, "money in"),
    (0, En, "paid in"),
    (0, En, "inflow"),
    (0, En, "in"),
    (0, En, "received"),
    (0, De, "Haben"),
    (0, De, "Eingang"),
    (0, De, "Einnahme"),
    (0, De, "Einnahmen"),
    (0, De, "Gutschrift"),
    (0, Fr, "crédit"),
    (0, Fr, "montant crédit"),
    (0, Nl, "Bij"),
    (0, Nl, "Inkomsten"),
    (0, Es, "Abono"),
    (0, Es, "Abonos"),
    (0, Es, "Haber"),
    (0, Es, "Crédito"),
    (0, Es, "Ingreso"),
    (0, Es, "Ingresos"),
];

const INDICATOR: Names = &[
    (0, En, "Credit/Debit"),
    (0, En, "Debit/Credit"),
    (0, En, "Dr/Cr"),
    (0, En, "Cr/Dr"),
    (0, En, "Credit Debit Indicator"),
    (0, En, "Debit Credit Indicator"),
    (0, De, "Soll/Haben"),
    (0, De, "S/H"),
    (0, De, "Soll-Haben-Kennzeichen"),
    (0, Fr, "Débit/Crédit"),
    (0, Fr, "Sens"),
    (0, Nl, "Af Bij"),
    (0, Nl, "Af/Bij"),
    (0, Nl, "CreditDebet"),
    (0, Nl, "Credit/Debet"),
    (0, Nl, "Debet/Credit"),
    (0, Es, "Cargo/Abono"),
    (0, Es, "Debe/Haber"),
];

const PAYEE: Names = &[
    (0, En, "payee"),
    (0, En, "payee name"),
    (0, En, "name"),
    (0, En, "merchant"),
    (0, En, "merchant name"),
    (0, En, "counterparty"),
    (0, En, "counter party"),
    (0, En, "counterparty name"),
    (0, En, "beneficiary"),
    (0, En, "partner name"),
    (1, En, "payer"),
    (1, En, "recipient"),
    (0, De, "Beguenstigter/Zahlungspflichtiger"),
    (0, De, "Auftraggeber / Empfänger"),
    (0, De, "Begünstigter / Auftraggeber"),
    (0, De, "Name Zahlungsbeteiligter"),
    (0, De, "Empfänger"),
    (0, De, "Zahlungsempfänger"),
    (0, De, "Zahlungsempfänger*in"),
    (1, De, "Auftraggeber"),
    (1, De, "Gegenpartei"),
    (0, Fr, "bénéficiaire"),
    (0, Fr, "tiers"),
    (0, Fr, "contrepartie"),
    (1, Fr, "nom"),
    (0, Nl, "Naam / Omschrijving"),
    (0, Nl, "Naam tegenpartij"),
    (0, Nl, "Naam tegenrekening"),
    (0, Nl, "Tegenpartij"),
    (1, Nl, "Naam"),
    (0, Es, "Beneficiario"),
    (0, Es, "Ordenante"),
    (0, Es, "Destinatario"),
    (1, Es, "Nombre"),
];

/// Remittance text ranks before a bank's own booking text (`Buchungstext` is often just
/// `LASTSCHRIFT`).
const MEMO: Names = &[
    (0, En, "description"),
    (0, En, "transaction description"),
    (1, En, "memo"),
    (1, En, "narrative"),
    (1, En, "details"),
    (1, En, "transaction details"),
    (1, En, "payment reference"),
    (1, En, "notes"),
    (1, En, "note"),
    (2, En, "original description"),
    (2, En, "text"),
    (0, De, "Verwendungszweck"),
    (1, De, "Vorgang/Verwendungszweck"),
    (1, De, "Beschreibung"),
    (1, De, "Buchungsdetails"),
    (2, De, "Buchungstext"),
    (0, Fr, "libellé"),
    (0, Fr, "libellé de l'opération"),
    (0, Fr, "libellé opération"),
    (1, Fr, "détail"),
    (1, Fr, "informations complémentaires"),
    (0, Nl, "Omschrijving"),
    (1, Nl, "Mededelingen"),
    (1, Nl, "Beschrijving"),
    (0, Es, "Concepto"),
    (0, Es, "Descripción"),
    (1, Es, "Detalle"),
    (1, Es, "Observaciones"),
    (1, Es, "Movimiento"),
];

const CURRENCY: Names = &[
    (0, En, "currency"),
    (0, En, "currency code"),
    (0, En, "ccy"),
    (0, De, "Währung"),
    (0, De, "Währungscode"),
    (0, Fr, "devise"),
    (0, Fr, "monnaie"),
    (0, Nl, "Valuta"),
    (0, Nl, "Valutacode"),
    (0, Nl, "Munt"),
    (0, Es, "Moneda"),
    (0, Es, "Divisa"),
];

const CATEGORY: Names = &[
    (0, En, "category"),
    (1, En, "spending category"),
    (0, De, "Kategorie"),
    (0, Fr, "catégorie"),
    (0, Nl, "Categorie"),
    (0, Es, "Categoría"),
];

/// Only taken when the sampled values are all different (see `detect`): a reference that
/// repeats would merge distinct entries downstream.
const ID: Names = &[
    (0, En, "transaction id"),
    (0, En, "transaction reference"),
    (0, En, "fitid"),
    (1, En, "id"),
    (2, En, "reference"),
    (2, En, "reference number"),
    (0, De, "Transaktions-ID"),
    (1, De, "Referenz"),
    (1, De, "Referenznummer"),
    (1, De, "Buchungsreferenz"),
    (1, Fr, "référence"),
    (0, Nl, "Transactie-ID"),
    (1, Nl, "Referentie"),
    (1, Es, "Referencia"),
    (1, Es, "Número de referencia"),
];

const BALANCE: Names = &[
    (0, En, "balance"),
    (0, En, "running balance"),
    (0, En, "available balance"),
    (0, De, "Saldo"),
    (0, De, "Kontostand"),
    (0, De, "Saldo nach Buchung"),
    (0, Fr, "solde"),
    (0, Nl, "Saldo"),
    (0, Nl, "Saldo na mutatie"),
    (0, Nl, "Saldo na boeking"),
    (0, Es, "Saldo"),
    (0, Es, "Saldo disponible"),
];

const TABLE: &[(Role, Names)] = &[
    (Role::Date, DATE),
    (Role::Amount, AMOUNT),
    (Role::Debit, DEBIT),
    (Role::Credit, CREDIT),
    (Role::Indicator, INDICATOR),
    (Role::Payee, PAYEE),
    (Role::Memo, MEMO),
    (Role::Currency, CURRENCY),
    (Role::Category, CATEGORY),
    (Role::Id, ID),
    (Role::Balance, BALANCE),
];

/// ISO codes seen as a unit after a column name (`Amount EUR`, `Umsatz in EUR`).
const UNIT_CODES: &[&str] = &[
    "eur", "usd", "gbp", "chf", "cad", "aud", "nzd", "jpy", "sek", "nok", "dkk", "pln", "czk", "huf", "ron",
    "bgn", "inr", "brl", "mxn", "zar", "sgd", "hkd",
];

/// What a header can mean: each role it names, with the synonym's rank and language.
pub(crate) fn classify(header: &str) -> Vec<(Role, u8, Lang)> {
    let (plain, expanded) = (key(header), key_ae(header));
    if plain.is_empty() {
        return Vec::new();
    }
    let mut found = Vec::new();
    for &(role, names) in TABLE {
        for &(rank, lang, name) in names {
            if key(name) == plain || key_ae(name) == expanded {
                found.push((role, rank, lang));
            }
        }
    }
    found
}

/// Whether two column names are the same name.
pub(crate) fn same(a: &str, b: &str) -> bool {
    key(a) == key(b) || key_ae(a) == key_ae(b)
}

/// Whether the header row is in a language that writes days before months: some header names
/// a known column in German, French, Dutch or Spanish and in no English synonym.
pub(crate) fn foreign(headers: &[String]) -> bool {
    headers.iter().any(|h| {
        let langs = classify(h);
        !langs.is_empty() && langs.iter().all(|&(_, _, lang)| lang != En)
    })
}

/// The currency a header gives as its unit: `Amount (EUR)`, `Betrag (€)`, `Amount GBP`.
pub(crate) fn unit_currency(header: &str) -> Option<String> {
    if let (Some(open), Some(close)) = (header.find('('), header.rfind(')'))
        && open < close
        && let Some(code) = unit_code(&header[open + 1..close])
    {
        return Some(code);
    }
    let last = header.split_whitespace().last()?;
    let lower = last.to_ascii_lowercase();
    (header.split_whitespace().count() > 1 && UNIT_CODES.contains(&lower.as_str()))
        .then(|| lower.to_ascii_uppercase())
}

fn unit_code(inner: &str) -> Option<String> {
    let inner = inner.trim();
    match inner {
        "€" => return Some("EUR".to_owned()),
        "£" => return Some("GBP".to_owned()),
        _ => {}
    }
    let lower = inner.to_ascii_lowercase();
    let upper_code = inner.len() == 3 && inner.chars().all(|c| c.is_ascii_uppercase());
    (upper_code || UNIT_CODES.contains(&lower.as_str())).then(|| inner.to_ascii_uppercase())
}

/// A unit in parentheses, alone: `(EUR)`, `(€)`, `($)`.
fn is_unit(inner: &str) -> bool {
    let inner = inner.trim();
    unit_code(inner).is_some() || matches!(inner, "$" | "¥" | "₹" | "CHF")
}

/// The key with umlauts dropped to their vowel (`Währung` → `wahrung`).
pub(crate) fn key(text: &str) -> String {
    fold(text, false)
}

/// The key with umlauts written out (`Währung` → `waehrung`), as ASCII-only exports spell them.
pub(crate) fn key_ae(text: &str) -> String {
    fold(text, true)
}

fn fold(text: &str, ae: bool) -> String {
    let text = without_units(text);
    let mut out = String::with_capacity(text.len());
    for c in text.chars().flat_map(char::to_lowercase) {
        match c {
            'ä' => out.push_str(if ae { "ae" } else { "a" }),
            'ö' => out.push_str(if ae { "oe" } else { "o" }),
            'ü' => out.push_str(if ae { "ue" } else { "u" }),
            'ß' => out.push_str("ss"),
            'à' | 'á' | 'â' | 'ã' | 'å' => out.push('a'),
            'æ' => out.push_str("ae"),
            'ç' => out.push('c'),
            'è' | 'é' | 'ê' | 'ë' => out.push('e'),
            'ì' | 'í' | 'î' | 'ï' => out.push('i'),
            'ñ' => out.push('n'),
            'ò' | 'ó' | 'ô' | 'õ' | 'ø' => out.push('o'),
            'œ' => out.push_str("oe"),
            'ù' | 'ú' | 'û' => out.push('u'),
            'ý' | 'ÿ' => out.push('y'),
            c if c.is_alphanumeric() => out.push(c),
            _ => out.push(' '),
        }
    }
    let mut words: Vec<&str> = out.split_whitespace().collect();
    // `Amount EUR`, `Umsatz in EUR`: the unit is not part of the name.
    if words.len() > 1 && words.last().is_some_and(|w| UNIT_CODES.contains(w)) {
        words.pop();
        if words.len() > 1 && words.last() == Some(&"in") {
            words.pop();
        }
    }
    words.join(" ")
}

/// The text without parenthesised units; other parenthesised words stay, as words
/// (`Amount (Foreign Currency)` is not `Amount`).
fn without_units(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('(') {
        let Some(length) = rest[open..].find(')') else { break };
        let inner = &rest[open + 1..open + length];
        out.push_str(&rest[..open]);
        out.push(' ');
        if !is_unit(inner) {
            out.push_str(inner);
            out.push(' ');
        }
        rest = &rest[open + length + 1..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roles(header: &str) -> Vec<Role> {
        let mut found: Vec<Role> = classify(header).into_iter().map(|(role, _, _)| role).collect();
        // The same word in two languages (`Datum`, `débit`/`debit`) is one role.
        found.dedup();
        found
    }

    #[test]
    fn keys_ignore_case_accents_punctuation_and_units() {
        assert_eq!(key("Betrag (EUR)"), "betrag");
        assert_eq!(key("Betrag (€)"), "betrag");
        assert_eq!(key("Amount (Foreign Currency)"), "amount foreign currency");
        assert_eq!(key("Umsatz in EUR"), "umsatz");
        assert_eq!(key("Naam / Omschrijving"), "naam omschrijving");
        assert_eq!(key("  Date d'opération "), "date d operation");
        assert!(same("Währung", "Waehrung"));
        assert!(same("Währung", "WAHRUNG"));
        assert!(same("Zahlungsempfänger*in", "Zahlungsempfaenger*in"));
        assert!(!same("Amount (EUR)", "Amount (Foreign Currency)"));
    }

    #[test]
    fn units_name_a_currency() {
        assert_eq!(unit_currency("Amount (EUR)").as_deref(), Some("EUR"));
        assert_eq!(unit_currency("Betrag (€)").as_deref(), Some("EUR"));
        assert_eq!(unit_currency("Amount (GBP)").as_deref(), Some("GBP"));
        assert_eq!(unit_currency("Amount GBP").as_deref(), Some("GBP"));
        assert_eq!(unit_currency("Amount"), None);
        assert_eq!(unit_currency("Amount (Foreign Currency)"), None);
    }

    #[test]
    fn synonyms_in_five_languages() {
        // English
        assert_eq!(roles("Posted Date"), [Role::Date]);
        assert_eq!(roles("Money Out"), [Role::Debit]);
        assert_eq!(roles("Paid in"), [Role::Credit]);
        assert_eq!(roles("Payee"), [Role::Payee]);
        // German
        assert_eq!(roles("Buchungstag"), [Role::Date]);
        assert_eq!(roles("Betrag (EUR)"), [Role::Amount]);
        assert_eq!(roles("Soll"), [Role::Debit]);
        assert_eq!(roles("Haben"), [Role::Credit]);
        assert_eq!(roles("Verwendungszweck"), [Role::Memo]);
        assert_eq!(roles("Beguenstigter/Zahlungspflichtiger"), [Role::Payee]);
        assert_eq!(roles("Auftraggeber / Empfänger"), [Role::Payee]);
        assert_eq!(roles("Waehrung"), [Role::Currency]);
        assert_eq!(roles("S/H"), [Role::Indicator]);
        // French
        assert_eq!(roles("Date d'opération"), [Role::Date]);
        assert_eq!(roles("Montant"), [Role::Amount]);
        assert_eq!(roles("Libellé"), [Role::Memo]);
        assert_eq!(roles("Débit"), [Role::Debit]);
        assert_eq!(roles("Crédit"), [Role::Credit]);
        assert_eq!(roles("Catégorie"), [Role::Category]);
        // Dutch
        assert_eq!(roles("Boekdatum"), [Role::Date]);
        assert_eq!(roles("Bedrag (EUR)"), [Role::Amount]);
        assert_eq!(roles("Af Bij"), [Role::Indicator]);
        assert_eq!(roles("Naam / Omschrijving"), [Role::Payee]);
        assert_eq!(roles("Mededelingen"), [Role::Memo]);
        // Spanish
        assert_eq!(roles("Fecha operación"), [Role::Date]);
        assert_eq!(roles("F. Valor"), [Role::Date]);
        assert_eq!(roles("Importe"), [Role::Amount]);
        assert_eq!(roles("Concepto"), [Role::Memo]);
        assert_eq!(roles("Divisa"), [Role::Currency]);
        assert_eq!(roles("Cargo"), [Role::Debit]);
        assert_eq!(roles("Abono"), [Role::Credit]);
    }

    #[test]
    fn valuta_is_a_date_or_a_currency_until_the_cells_say() {
        let found = roles("Valuta");
        assert!(found.contains(&Role::Date) && found.contains(&Role::Currency));
    }

    #[test]
    fn booking_dates_rank_before_value_dates() {
        let rank =
            |h: &str| classify(h).into_iter().find(|&(r, _, _)| r == Role::Date).map(|(_, rank, _)| rank);
        assert!(rank("Buchungstag") < rank("Wertstellung"));
        assert!(rank("Booking Date") < rank("Value Date"));
    }

    #[test]
    fn the_header_language() {
        fn headers(names: &[&str]) -> Vec<String> {
            names.iter().map(|s| (*s).to_owned()).collect()
        }
        assert!(foreign(&headers(&["Datum", "Betrag", "Verwendungszweck"])));
        assert!(foreign(&headers(&["Fecha", "Importe"])));
        assert!(!foreign(&headers(&["Date", "Amount", "Description"])));
    }
}
