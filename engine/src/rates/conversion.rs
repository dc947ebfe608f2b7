//! How an amount in one currency is expressed in another: the rules, without the database.
//!
//! - A cross rate goes through the euro, as the ECB publishes every rate per euro: one unit of
//!   `C` is `H per EUR / C per EUR` units of `H`. It is kept to [`RATE_PLACES`] decimal places.
//! - The converted amount is `amount × rate`, rounded to the home currency's minor unit (USD 2,
//!   JPY 0, KWD 3), half away from zero: the rule card networks and banks use, so a converted
//!   amount matches the statement's more often than banker's rounding would.
//! - A bank's rate, or the amount the bank charged, is taken as given (the statement is the
//!   truth for that payment).

use budgetsmart_common::currency::Currency;
use chrono::NaiveDate;
use rust_decimal::{Decimal, RoundingStrategy};

/// Decimal places kept of a rate (the `rate` column is `numeric(20,10)`).
pub const RATE_PLACES: u32 = 10;

/// Where a rate came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateSource {
    /// The ECB reference rate of `rate_date`.
    Ecb,
    /// The rate the person's bank applied, given by them.
    Bank,
}

impl RateSource {
    /// The stored and answered name.
    pub fn as_str(self) -> &'static str {
        match self {
            RateSource::Ecb => "ecb",
            RateSource::Bank => "bank",
        }
    }
}

/// A transaction's amount in its owner's home currency.
#[derive(Debug, Clone, PartialEq)]
pub struct Conversion {
    pub home_currency: Currency,
    /// `None` while the rate is pending.
    pub home_amount: Option<Decimal>,
    /// `None` when the currencies agree, or while pending.
    pub rate: Option<Decimal>,
    pub rate_date: Option<NaiveDate>,
    pub source: Option<RateSource>,
}

impl Conversion {
    /// An amount already in the home currency.
    pub fn same(amount: Decimal, home: Currency) -> Self {
        Conversion {
            home_currency: home,
            home_amount: Some(amount),
            rate: None,
            rate_date: None,
            source: None,
        }
    }

    /// No rate yet: stored, not counted, never guessed.
    pub fn pending(home: Currency) -> Self {
        Conversion { home_currency: home, home_amount: None, rate: None, rate_date: None, source: None }
    }

    /// `amount` at `rate` (already rounded to [`RATE_PLACES`]).
    pub fn at(amount: Decimal, rate: Decimal, on: NaiveDate, source: RateSource, home: Currency) -> Self {
        Conversion {
            home_currency: home,
            home_amount: Some(home_amount(amount, rate, home)),
            rate: Some(rate),
            rate_date: Some(on),
            source: Some(source),
        }
    }

    /// The amount a bank charged in the home currency; the rate is what it implies.
    pub fn charged(amount: Decimal, charged: Decimal, on: NaiveDate, home: Currency) -> Self {
        Conversion {
            home_currency: home,
            home_amount: Some(charged),
            rate: Some(round_rate(charged / amount)),
            rate_date: Some(on),
            source: Some(RateSource::Bank),
        }
    }

    /// Whether the rate is still unknown.
    pub fn is_pending(&self) -> bool {
        self.home_amount.is_none()
    }
}

/// One unit of a currency worth `from_per_eur` per euro, in one worth `home_per_eur`.
pub fn cross_rate(from_per_eur: Decimal, home_per_eur: Decimal) -> Decimal {
    round_rate(home_per_eur / from_per_eur)
}

/// A rate kept to [`RATE_PLACES`].
pub fn round_rate(rate: Decimal) -> Decimal {
    rate.round_dp_with_strategy(RATE_PLACES, RoundingStrategy::MidpointAwayFromZero).normalize()
}

/// `amount × rate`, to `home`'s minor unit, half away from zero.
pub fn home_amount(amount: Decimal, rate: Decimal, home: Currency) -> Decimal {
    (amount * rate).round_dp_with_strategy(home.minor_units(), RoundingStrategy::MidpointAwayFromZero)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(text: &str) -> Decimal {
        text.parse().expect("a decimal")
    }

    fn currency(code: &str) -> Currency {
        Currency::parse(code).expect("ISO 4217")
    }

    #[test]
    fn crosses_through_the_euro() {
        // ECB 2024-12-05: USD 1.0538, GBP 0.82830 per euro. One pound in dollars:
        let rate = cross_rate(dec("0.82830"), dec("1.0538"));
        assert_eq!(rate, dec("1.2722443559"));
        assert_eq!(home_amount(dec("100.00"), rate, currency("USD")), dec("127.22"));
    }

    #[test]
    fn rounds_to_the_home_minor_unit_half_away_from_zero() {
        // JPY has no minor unit, KWD three.
        assert_eq!(home_amount(dec("10.00"), dec("162.35"), currency("JPY")), dec("1624"));
        assert_eq!(home_amount(dec("1.00"), dec("0.5"), currency("JPY")), dec("1"), "0.5 goes up");
        assert_eq!(home_amount(dec("2.00"), dec("0.5"), currency("JPY")), dec("1"));
        assert_eq!(
            home_amount(dec("3.00"), dec("0.5"), currency("JPY")),
            dec("2"),
            "1.5 goes up, not to even"
        );
        assert_eq!(home_amount(dec("12.34"), dec("0.3075"), currency("KWD")), dec("3.795"));
        assert_eq!(home_amount(dec("0.01"), dec("0.05"), currency("KWD")), dec("0.001"), "0.0005 goes up");
        assert_eq!(home_amount(dec("1000"), dec("0.0066371"), currency("USD")), dec("6.64"));
    }

    #[test]
    fn a_bank_charge_implies_its_rate() {
        let on = NaiveDate::from_ymd_opt(2024, 12, 5).expect("a day");
        let charged = Conversion::charged(dec("420.00"), dec("455.10"), on, currency("USD"));
        assert_eq!(charged.home_amount, Some(dec("455.10")), "the statement's amount is kept as given");
        assert_eq!(charged.rate, Some(dec("1.0835714286")));
        assert_eq!(charged.source, Some(RateSource::Bank));
        assert!(!charged.is_pending());
        assert!(Conversion::pending(currency("USD")).is_pending());
    }
}
