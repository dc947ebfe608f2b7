//! Money: exact decimals with a currency, and the conversions to and from the proto `Money`.

use budgetsmart_proto::common::v1::Money as ProtoMoney;
use rust_decimal::Decimal;

use crate::currency::Currency;

/// Nanos in one unit, as in google.type.Money.
const NANOS_PER_UNIT: i64 = 1_000_000_000;

/// Why an amount was refused; the text is safe to show to the client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("is not a known ISO 4217 currency code")]
    UnknownCurrency,
    #[error("must be a decimal number such as \"12.34\"")]
    NotADecimal,
    #[error("must be greater than zero")]
    NotPositive,
    #[error("has more decimal places than {currency} allows ({places})")]
    TooPrecise { currency: &'static str, places: u32 },
    #[error("is too large")]
    TooLarge,
    #[error("units and nanos must have the same sign and nanos must be below 10^9")]
    Malformed,
}

/// Largest magnitude a `NUMERIC(19,4)` column holds: 15 integer digits.
pub const MAX_AMOUNT: Decimal = Decimal::from_parts(2_764_472_319, 232_830, 0, false, 0);

fn max_amount() -> Decimal {
    MAX_AMOUNT
}

/// Parses a JSON decimal string such as `"12.34"`. Exponents and blanks are refused.
pub fn parse_decimal(text: &str) -> Result<Decimal, MoneyError> {
    let ok = !text.is_empty() && text.chars().all(|c| c.is_ascii_digit() || c == '.' || c == '-' || c == '+');
    if !ok {
        return Err(MoneyError::NotADecimal);
    }
    text.parse::<Decimal>().map_err(|_| MoneyError::NotADecimal)
}

/// Checks a currency code against ISO 4217.
pub fn parse_currency(code: &str) -> Result<Currency, MoneyError> {
    Currency::parse(code).ok_or(MoneyError::UnknownCurrency)
}

/// Checks that `amount` is positive, within range, and has no more places than `currency` has.
pub fn validate_positive(amount: Decimal, currency: Currency) -> Result<Decimal, MoneyError> {
    if amount <= Decimal::ZERO {
        return Err(MoneyError::NotPositive);
    }
    if amount > max_amount() {
        return Err(MoneyError::TooLarge);
    }
    if amount.normalize().scale() > currency.minor_units() {
        return Err(MoneyError::TooPrecise { currency: currency.code(), places: currency.minor_units() });
    }
    Ok(amount.normalize())
}

/// Formats an amount with exactly the currency's minor units: `12.3` USD → `"12.30"`.
pub fn format_amount(amount: Decimal, currency: Currency) -> String {
    let mut rounded = amount.round_dp(currency.minor_units());
    rounded.rescale(currency.minor_units());
    rounded.to_string()
}

/// Builds a proto `Money` from an exact decimal.
pub fn to_proto(amount: Decimal, currency: &str) -> ProtoMoney {
    let units = amount.trunc();
    let nanos = ((amount - units) * Decimal::from(NANOS_PER_UNIT)).trunc();
    ProtoMoney {
        currency_code: currency.to_owned(),
        units: i64::try_from(units).unwrap_or(i64::MAX),
        nanos: i32::try_from(nanos).unwrap_or(0),
    }
}

/// Reads a proto `Money` back into an exact decimal and its code (not yet validated).
pub fn from_proto(money: &ProtoMoney) -> Result<(Decimal, String), MoneyError> {
    let mixed_signs = (money.units > 0 && money.nanos < 0) || (money.units < 0 && money.nanos > 0);
    if mixed_signs || i64::from(money.nanos).abs() >= NANOS_PER_UNIT {
        return Err(MoneyError::Malformed);
    }
    let amount = Decimal::from(money.units) + Decimal::new(i64::from(money.nanos), 9);
    Ok((amount.normalize(), money.currency_code.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_largest_amount_is_fifteen_nines() {
        assert_eq!(MAX_AMOUNT, Decimal::new(999_999_999_999_999, 0));
    }

    fn usd() -> Currency {
        Currency::parse("USD").expect("USD is in the table")
    }

    #[test]
    fn round_trips_through_proto() {
        for text in ["12.34", "0.01", "999999999.9999", "-5.5", "1200"] {
            let amount = parse_decimal(text).expect("valid decimal");
            let (back, code) = from_proto(&to_proto(amount, "USD")).expect("valid money");
            assert_eq!(back, amount.normalize(), "{text}");
            assert_eq!(code, "USD");
        }
    }

    #[test]
    fn validates_places_sign_and_shape() {
        assert_eq!(validate_positive(Decimal::new(1234, 2), usd()), Ok(Decimal::new(1234, 2)));
        assert_eq!(validate_positive(Decimal::new(12_340, 3), usd()), Ok(Decimal::new(1234, 2)));
        assert!(matches!(
            validate_positive(Decimal::new(12_345, 3), usd()),
            Err(MoneyError::TooPrecise { places: 2, .. })
        ));
        assert_eq!(validate_positive(Decimal::ZERO, usd()), Err(MoneyError::NotPositive));
        assert_eq!(validate_positive(Decimal::new(-1, 0), usd()), Err(MoneyError::NotPositive));
        let jpy = Currency::parse("JPY").expect("JPY is in the table");
        assert!(validate_positive(Decimal::new(1055, 1), jpy).is_err());
        assert_eq!(parse_decimal("1e5"), Err(MoneyError::NotADecimal));
        assert_eq!(parse_decimal(" 1"), Err(MoneyError::NotADecimal));
        assert_eq!(parse_decimal(""), Err(MoneyError::NotADecimal));
    }

    #[test]
    fn formats_with_minor_units() {
        assert_eq!(format_amount(Decimal::new(123, 1), usd()), "12.30");
        let jpy = Currency::parse("JPY").expect("JPY is in the table");
        assert_eq!(format_amount(Decimal::new(1200, 0), jpy), "1200");
    }

    #[test]
    fn refuses_mixed_signs() {
        let bad = ProtoMoney { currency_code: "USD".into(), units: 1, nanos: -5 };
        assert_eq!(from_proto(&bad), Err(MoneyError::Malformed));
    }
}
