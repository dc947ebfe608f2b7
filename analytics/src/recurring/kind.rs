//! What a recurring payment is: a subscription one can cancel, a bill, housing, a loan, or
//! income. A person reads "cancel it to save" only about the first, so the rules lean on
//! the strongest evidence first:
//!
//! 1. the person's own correction of this merchant;
//! 2. money in is income;
//! 3. the merchant's name ("PROPERTIES", "ELECTRIC", "NAVIENT", "NETFLIX");
//! 4. the category's name ("Rent", "Utilities", "Loans"), or what the person taught by
//!    correcting another merchant of that category;
//! 5. the amount and cadence: a fixed monthly charge that is a large share of a month's
//!    spending is housing; an amount that varies is a bill; a fixed small price is a
//!    subscription.
//!
//! docs/analytics.md has the rules' accuracy on labelled households they were not written on.

use std::collections::HashMap;

use rust_decimal::Decimal;
use uuid::Uuid;

/// What a recurring payment is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// A service one can cancel or downgrade (streaming, gym, software).
    Subscription,
    /// Utilities, phone, internet, insurance: needed, though the provider can change.
    Bill,
    /// Rent or mortgage.
    Housing,
    /// A loan's instalments.
    Loan,
    /// Money coming in: salary, pension, benefits.
    Income,
}

impl Kind {
    /// Every kind, as the API lists them.
    pub const ALL: [Kind; 5] = [Kind::Subscription, Kind::Bill, Kind::Housing, Kind::Loan, Kind::Income];

    /// The API's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Subscription => "subscription",
            Kind::Bill => "bill",
            Kind::Housing => "housing",
            Kind::Loan => "loan",
            Kind::Income => "income",
        }
    }

    /// The kind of an API name.
    pub fn parse(text: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == text)
    }

    /// Whether cancelling it is a saving a person could make this month.
    pub fn is_cancellable(self) -> bool {
        self == Kind::Subscription
    }
}

/// Words in a merchant's name, or a category's, that say what kind of payment it is. Matched
/// against whole words of the normalised name, so "gas" does not match "vegas".
const HOUSING_WORDS: &[&str] = &[
    "rent",
    "rental",
    "rentals",
    "properties",
    "property",
    "apartments",
    "apartment",
    "apts",
    "realty",
    "landlord",
    "mortgage",
    "housing",
    "hoa",
    "lease",
    "leasing",
    "residential",
    "homes",
    "tenancy",
];
const LOAN_WORDS: &[&str] = &[
    "loan",
    "loans",
    "lending",
    "navient",
    "nelnet",
    "mohela",
    "sallie",
    "aidvantage",
    "student",
    "finance",
    "financial",
    "auto finance",
    "credit union",
    "debt",
    "installment",
    "instalment",
    "affirm",
    "klarna",
];
const BILL_WORDS: &[&str] = &[
    "electric",
    "electricity",
    "energy",
    "power",
    "utility",
    "utilities",
    "water",
    "sewer",
    "natural gas",
    "edison",
    "pg&e",
    "pge",
    "duke",
    "coned",
    "comcast",
    "xfinity",
    "spectrum",
    "verizon",
    "att",
    "t-mobile",
    "tmobile",
    "sprint",
    "internet",
    "broadband",
    "fiber",
    "wireless",
    "mobile",
    "phone",
    "telecom",
    "cable",
    "insurance",
    "insur",
    "geico",
    "progressive",
    "allstate",
    "state farm",
    "farmers insurance",
    "liberty mutual",
    "nationwide",
    "trash",
    "waste",
    "bills",
    "bill",
    "council tax",
    "tax",
];
const SUBSCRIPTION_WORDS: &[&str] = &[
    "netflix",
    "spotify",
    "hulu",
    "disney",
    "disneyplus",
    "hbo",
    "paramount",
    "peacock",
    "prime",
    "youtube",
    "apple",
    "icloud",
    "itunes",
    "adobe",
    "microsoft",
    "dropbox",
    "google",
    "audible",
    "kindle",
    "patreon",
    "substack",
    "nytimes",
    "wsj",
    "times",
    "gym",
    "fitness",
    "peloton",
    "planet fitness",
    "membership",
    "subscription",
    "subscriptions",
    "streaming",
    "entertainment",
    "music",
    "games",
    "xbox",
    "playstation",
    "nintendo",
    "github",
    "notion",
    "1password",
    "openai",
    "chatgpt",
    "duolingo",
    "headspace",
    "calm",
    "crunchyroll",
    "siriusxm",
    "twitch",
];
const INCOME_WORDS: &[&str] = &["salary", "payroll", "income", "wages", "pension", "dividend", "interest"];

/// Merchants and categories known to bill once a year, so that two charges a year apart at
/// one price are enough to call them yearly.
const YEARLY_WORDS: &[&str] = &[
    "prime",
    "membership",
    "costco",
    "sams",
    "annual",
    "yearly",
    "renewal",
    "domain",
    "domains",
    "godaddy",
    "namecheap",
    "squarespace",
    "insurance",
    "aaa",
    "norton",
    "mcafee",
    "microsoft",
    "office",
    "dmv",
    "registration",
    "license",
    "licence",
    "subscription",
    "subscriptions",
];

/// A fixed monthly charge at least this share of a usual month's spending is housing.
const HOUSING_SHARE: Decimal = Decimal::from_parts(20, 0, 0, false, 2);

fn has_word(name: &str, words: &[&str]) -> bool {
    let lower = name.to_lowercase();
    let tokens: Vec<&str> = lower.split(|c: char| !(c.is_alphanumeric() || c == '&' || c == '-')).collect();
    words.iter().any(|w| {
        if w.contains(' ') {
            // A phrase: its words in a row.
            let parts: Vec<&str> = w.split(' ').collect();
            tokens.windows(parts.len()).any(|win| win == parts.as_slice())
        } else {
            tokens.contains(w)
        }
    })
}

/// The kind a name says, if any of its words says one.
pub fn by_words(name: &str) -> Option<Kind> {
    // Housing and loans first: "Mortgage Insurance" is housing, "Auto Finance" a loan.
    [
        (Kind::Housing, HOUSING_WORDS),
        (Kind::Loan, LOAN_WORDS),
        (Kind::Income, INCOME_WORDS),
        (Kind::Bill, BILL_WORDS),
        (Kind::Subscription, SUBSCRIPTION_WORDS),
    ]
    .into_iter()
    .find(|(_, words)| has_word(name, words))
    .map(|(kind, _)| kind)
}

/// Whether the merchant or its category is known to bill yearly.
pub fn bills_yearly(merchant: &str, category_name: Option<&str>) -> bool {
    has_word(merchant, YEARLY_WORDS) || category_name.is_some_and(|c| has_word(c, YEARLY_WORDS))
}

/// What the classifier knows of a series.
#[derive(Debug, Clone)]
pub struct Evidence<'a> {
    /// The normalised merchant.
    pub merchant: &'a str,
    /// The charges' currency.
    pub currency: &'a str,
    /// The latest charge's category and its name.
    pub category: Option<(Uuid, &'a str)>,
    /// Money in rather than out.
    pub credit: bool,
    /// Most charges at one price.
    pub fixed_price: bool,
    /// Monthly.
    pub monthly: bool,
    /// The charge as a share of the user's median monthly spending, when known.
    pub share_of_month: Option<Decimal>,
}

/// What the person taught: a kind per merchant, and the kinds they gave merchants of a
/// category, which then apply to that category's other merchants.
#[derive(Debug, Clone, Default)]
pub struct Taught {
    /// Corrected kinds by series: currency, normalised merchant, and whether it is money in.
    pub merchants: HashMap<(String, String, bool), Kind>,
    /// The kind last given to a merchant of each category.
    pub categories: HashMap<Uuid, Kind>,
}

/// A kind and the reason, for the explanation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Classified {
    /// The kind.
    pub kind: Kind,
    /// Why, as a clause: "you said so", "its name", "its category Rent", ...
    pub reason: String,
    /// Whether it is the person's own correction.
    pub corrected: bool,
    /// Whether only the amount and cadence spoke (no correction, name or category).
    pub by_amount_alone: bool,
}

/// Classifies one recurring series.
pub fn classify(e: &Evidence<'_>, taught: &Taught) -> Classified {
    let of =
        |kind: Kind, reason: String| Classified { kind, reason, corrected: false, by_amount_alone: false };
    if let Some(kind) = taught.merchants.get(&(e.currency.to_owned(), e.merchant.to_owned(), e.credit)) {
        return Classified {
            kind: *kind,
            reason: "you marked it so".into(),
            corrected: true,
            by_amount_alone: false,
        };
    }
    if e.credit {
        return of(Kind::Income, "it is money coming in".into());
    }
    // A subscription has a price: a varying amount at a "fitness" or "music" merchant is
    // spending there, whatever its name says.
    let says = |kind: &Kind| *kind != Kind::Income && (e.fixed_price || *kind != Kind::Subscription);
    if let Some(kind) = by_words(e.merchant).filter(says) {
        return of(kind, "from its name".into());
    }
    if let Some((id, name)) = e.category {
        if let Some(kind) = taught.categories.get(&id) {
            return of(*kind, format!("you marked another {name} payment so"));
        }
        if let Some(kind) = by_words(name).filter(says) {
            return of(kind, format!("from its category, {name}"));
        }
    }
    let alone = |kind: Kind, reason: &str| Classified {
        kind,
        reason: reason.into(),
        corrected: false,
        by_amount_alone: true,
    };
    if e.fixed_price && e.monthly && e.share_of_month.is_some_and(|s| s >= HOUSING_SHARE) {
        return alone(Kind::Housing, "a fixed monthly charge this large is usually rent");
    }
    if e.fixed_price {
        alone(Kind::Subscription, "a fixed price at a regular cadence")
    } else {
        alone(Kind::Bill, "an amount that varies at a regular cadence")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn evidence<'a>(merchant: &'a str, category: Option<&'a str>, fixed: bool) -> Evidence<'a> {
        Evidence {
            merchant,
            currency: "USD",
            category: category.map(|c| (Uuid::nil(), c)),
            credit: false,
            fixed_price: fixed,
            monthly: true,
            share_of_month: Some(Decimal::new(5, 2)),
        }
    }

    #[test]
    fn names_and_categories_say_what_a_payment_is() {
        let none = Taught::default();
        assert_eq!(classify(&evidence("maple street properties", None, true), &none).kind, Kind::Housing);
        assert_eq!(classify(&evidence("maple street", Some("Rent"), true), &none).kind, Kind::Housing);
        assert_eq!(classify(&evidence("city power", None, false), &none).kind, Kind::Bill);
        assert_eq!(classify(&evidence("navient", None, true), &none).kind, Kind::Loan);
        assert_eq!(
            classify(&evidence("netflix", Some("Entertainment"), true), &none).kind,
            Kind::Subscription
        );
        assert_eq!(classify(&evidence("las vegas club", None, true), &none).kind, Kind::Subscription);
        let mut credit = evidence("acme corp", None, true);
        credit.credit = true;
        assert_eq!(classify(&credit, &none).kind, Kind::Income);
    }

    #[test]
    fn a_large_fixed_monthly_charge_is_housing_and_a_varying_one_a_bill() {
        let none = Taught::default();
        let mut big = evidence("j smith", None, true);
        big.share_of_month = Some(Decimal::new(45, 2));
        assert_eq!(classify(&big, &none).kind, Kind::Housing);
        assert_eq!(classify(&evidence("j smith", None, false), &none).kind, Kind::Bill);
    }

    #[test]
    fn corrections_win_and_teach_the_category() {
        let mut taught = Taught::default();
        taught.merchants.insert(("USD".into(), "netflix".into(), false), Kind::Bill);
        let id = Uuid::now_v7();
        taught.categories.insert(id, Kind::Loan);
        let netflix = classify(&evidence("netflix", None, true), &taught);
        assert!(netflix.corrected && netflix.kind == Kind::Bill);
        let mut other = evidence("j smith", Some("Family"), true);
        other.category = Some((id, "Family"));
        assert_eq!(classify(&other, &taught).kind, Kind::Loan);
    }

    #[test]
    fn subscription_words_speak_only_for_a_fixed_price_and_corrections_for_their_own_series() {
        let none = Taught::default();
        let varying = classify(&evidence("city fitness", None, false), &none);
        assert!(varying.kind == Kind::Bill && varying.by_amount_alone, "{varying:?}");
        assert_eq!(classify(&evidence("city fitness", None, true), &none).kind, Kind::Subscription);
        let mut taught = Taught::default();
        taught.merchants.insert(("USD".into(), "paypal".into(), false), Kind::Bill);
        let mut credit = evidence("paypal", None, true);
        credit.credit = true;
        assert_eq!(classify(&credit, &taught).kind, Kind::Income);
        assert_eq!(classify(&evidence("paypal", None, true), &taught).kind, Kind::Bill);
    }

    #[test]
    fn yearly_billers_are_known_by_name_or_category() {
        assert!(bills_yearly("amazon prime", None));
        assert!(bills_yearly("acme", Some("Insurance")));
        assert!(!bills_yearly("delta air", Some("Travel")));
        assert!(!bills_yearly("marriott hotel", None));
    }
}
