//! The `rates` table: loading a parsed file, and the rate a transaction of a day gets.

use std::collections::HashMap;

use budgetsmart_common::currency::Currency;
use chrono::NaiveDate;
use rust_decimal::Decimal;
use sqlx::PgConnection;
use uuid::Uuid;

use budgetsmart_common::money;
use budgetsmart_proto::engine::v1 as pb;

use crate::error::{AppError, AppResult};
use crate::rates::conversion::{Conversion, RATE_PLACES, RateSource, cross_rate, round_rate};
use crate::rates::ecb::Parsed;
use crate::validation::Violations;

/// A reference rate older than this many days before a transaction is not its rate: the ECB
/// publishes every TARGET business day, and its longest gap (Easter, Thursday to Tuesday) is
/// five days, so a longer
/// one means the currency stopped being published (RUB since March 2022).
pub const MAX_RATE_AGE_DAYS: i32 = 7;

/// What a load stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Loaded {
    pub days: usize,
    pub rates: usize,
    pub first: Option<NaiveDate>,
    pub last: Option<NaiveDate>,
}

/// Stores every rate of `parsed` (a day loaded again takes the file's values), in the caller's
/// transaction: either the whole file is stored or none of it.
pub async fn load(conn: &mut PgConnection, parsed: &Parsed) -> AppResult<Loaded> {
    let mut currencies = Vec::new();
    let mut days = Vec::new();
    let mut per_eur = Vec::new();
    for day in &parsed.days {
        // EUR is 1 on every published day: a cross rate is then a join of one day's rows, and
        // the newest EUR row says how far the publication has reached.
        currencies.push("EUR".to_owned());
        days.push(day.day);
        per_eur.push(Decimal::ONE);
        for (currency, rate) in &day.rates {
            currencies.push(currency.code().to_owned());
            days.push(day.day);
            per_eur.push(*rate);
        }
    }
    for chunk in (0..currencies.len()).collect::<Vec<_>>().chunks(10_000) {
        let (start, end) = (chunk[0], chunk[chunk.len() - 1] + 1);
        sqlx::query(
            "INSERT INTO rates (currency, day, per_eur) SELECT * FROM UNNEST($1::text[], $2::date[], $3::numeric[]) \
             ON CONFLICT (currency, day) DO UPDATE SET per_eur = EXCLUDED.per_eur, loaded_at = now() \
             WHERE rates.per_eur <> EXCLUDED.per_eur",
        )
        .bind(&currencies[start..end])
        .bind(&days[start..end])
        .bind(&per_eur[start..end])
        .execute(&mut *conn)
        .await?;
    }
    Ok(Loaded {
        days: parsed.days.len(),
        rates: currencies.len() - parsed.days.len(),
        first: parsed.days.first().map(|d| d.day),
        last: parsed.days.last().map(|d| d.day),
    })
}

/// The rate a transaction of `$3` in `$1` gets in `home` (an SQL expression): the reference
/// rate of its day, else the last one before it. Only once the ECB has published that day or
/// a later one (so no rate of that day can still come), and not older than `$4` days
/// ([`MAX_RATE_AGE_DAYS`]); otherwise none, and the transaction is pending.
fn quote_sql(home: &str) -> String {
    format!(
        "SELECT c.day, c.per_eur AS from_per_eur, h.per_eur AS home_per_eur \
         FROM rates c JOIN rates h ON h.currency = {home} AND h.day = c.day \
         WHERE c.currency = $1 AND c.day <= $3 AND c.day >= $3 - $4::int \
         AND EXISTS (SELECT 1 FROM rates p WHERE p.currency = 'EUR' AND p.day >= $3) \
         ORDER BY c.day DESC LIMIT 1"
    )
}

/// Largest bank rate accepted (the `rate` column holds ten integer digits).
const MAX_RATE: i64 = 1_000_000_000;

/// A conversion whose home amount fits the column; a huge amount at a large rate may not.
pub fn fits(conversion: Conversion) -> AppResult<Conversion> {
    match conversion.home_amount {
        Some(amount)
            if money::validate_positive(amount, conversion.home_currency).is_err() && !amount.is_zero() =>
        {
            Err(AppError::field("amount", "is too large once converted to your home currency"))
        }
        _ => Ok(conversion),
    }
}

/// A quoted reference rate: its day, and both currencies per euro.
type Quoted = (NaiveDate, Decimal, Decimal);

fn quoted(amount: Decimal, quoted: Option<Quoted>, home: Currency) -> AppResult<Conversion> {
    fits(match quoted {
        Some((on, from_per_eur, home_per_eur)) => {
            Conversion::at(amount, cross_rate(from_per_eur, home_per_eur), on, RateSource::Ecb, home)
        }
        None => Conversion::pending(home),
    })
}

/// How `amount` in `from` on `day` is expressed in `home`, with the bank's own conversion
/// when the person gave one.
pub async fn express(
    conn: &mut PgConnection,
    amount: Decimal,
    from: Currency,
    day: NaiveDate,
    home: Currency,
    bank: Option<&Bank>,
) -> AppResult<Conversion> {
    if from == home || bank.is_some() {
        return decide(amount, from, day, home, bank, || None);
    }
    let found: Option<Quoted> = sqlx::query_as(sqlx::AssertSqlSafe(quote_sql("$2")))
        .bind(from.code())
        .bind(home.code())
        .bind(day)
        .bind(MAX_RATE_AGE_DAYS)
        .fetch_optional(conn)
        .await?;
    decide(amount, from, day, home, bank, || found)
}

/// The conversion of `amount`: none needed in the home currency, the bank's when given, else
/// the quoted reference rate (`quote`, asked only then), else pending.
fn decide(
    amount: Decimal,
    from: Currency,
    day: NaiveDate,
    home: Currency,
    bank: Option<&Bank>,
    quote: impl FnOnce() -> Option<Quoted>,
) -> AppResult<Conversion> {
    if from == home {
        return Ok(Conversion::same(amount, home));
    }
    if let Some(bank) = bank {
        return bank.conversion(amount, day, home).and_then(fits);
    }
    quoted(amount, quote(), home)
}

/// [`express`] in the user's home currency, read in the same round trip: this runs on every
/// create.
pub async fn express_for_user(
    conn: &mut PgConnection,
    user_id: Uuid,
    amount: Decimal,
    from: Currency,
    day: NaiveDate,
    bank: Option<&Bank>,
) -> AppResult<Conversion> {
    #[derive(sqlx::FromRow)]
    struct Row {
        home: String,
        day: Option<NaiveDate>,
        from_per_eur: Option<Decimal>,
        home_per_eur: Option<Decimal>,
    }
    let sql = format!(
        "SELECT u.default_currency AS home, q.day, q.from_per_eur, q.home_per_eur FROM users u \
         LEFT JOIN LATERAL ({}) q ON u.default_currency <> $1 WHERE u.id = $2",
        quote_sql("u.default_currency")
    );
    let row: Row = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(from.code())
        .bind(user_id)
        .bind(day)
        .bind(MAX_RATE_AGE_DAYS)
        .fetch_one(conn)
        .await?;
    let home = currency_of(&row.home)?;
    let found = match (row.day, row.from_per_eur, row.home_per_eur) {
        (Some(on), Some(from_per_eur), Some(home_per_eur)) => Some((on, from_per_eur, home_per_eur)),
        _ => None,
    };
    decide(amount, from, day, home, bank, || found)
}

/// A stored currency code (validated when it was written) as a [`Currency`].
pub fn currency_of(code: &str) -> AppResult<Currency> {
    Currency::parse(code.trim())
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("stored home currency {code:?} is unknown")))
}

/// A bank's own conversion of a payment, as the person gave it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Bank {
    /// One unit of the payment's currency in the home currency.
    Rate(Decimal),
    /// What the bank charged in the home currency.
    Charged(Decimal),
}

impl Bank {
    /// Reads the bank conversion of a request; a violation names `rate` or `home_amount`.
    pub fn from_proto(violations: &mut Violations, given: Option<&pb::BankConversion>) -> Option<Bank> {
        use pb::bank_conversion::Conversion as Given;
        let (field, raw) = match given?.conversion.as_ref()? {
            Given::Rate(raw) => ("rate", raw),
            Given::HomeAmount(raw) => ("home_amount", raw),
        };
        match money::parse_decimal(raw.trim()) {
            // Kept to RATE_PLACES; one that rounds to nothing is no rate.
            Ok(value)
                if field == "rate"
                    && round_rate(value) > Decimal::ZERO
                    && value < Decimal::from(MAX_RATE) =>
            {
                Some(Bank::Rate(round_rate(value)))
            }
            Ok(value) if value > Decimal::ZERO && field == "home_amount" => Some(Bank::Charged(value)),
            _ if field == "rate" => {
                violations.add(
                    field,
                    format!("must be a decimal above zero (to {RATE_PLACES} places) and below {MAX_RATE}"),
                );
                None
            }
            _ => {
                violations.add(field, "must be a positive decimal amount in your home currency");
                None
            }
        }
    }

    /// The conversion it gives `amount` on `day`; an amount charged must fit the home
    /// currency's minor unit.
    pub fn conversion(&self, amount: Decimal, day: NaiveDate, home: Currency) -> AppResult<Conversion> {
        Ok(match *self {
            Bank::Rate(rate) => Conversion::at(amount, round_rate(rate), day, RateSource::Bank, home),
            Bank::Charged(charged) => {
                let charged = money::validate_positive(charged, home).map_err(|e| {
                    AppError::field("home_amount", format!("{e} ({} is your home currency)", home.code()))
                })?;
                Conversion::charged(amount, charged, day, home)
            }
        })
    }
}

/// Reference rates already looked up, for work that converts many rows (an import, a new home
/// currency, newly loaded rates): one query per currency pair and day, however many rows share it.
#[derive(Default)]
pub struct Quotes {
    known: HashMap<(Currency, Currency, NaiveDate), Option<(Decimal, NaiveDate)>>,
}

impl Quotes {
    /// [`express`] by the reference rate, from the cache when the pair and day were seen.
    pub async fn express(
        &mut self,
        conn: &mut PgConnection,
        amount: Decimal,
        from: Currency,
        day: NaiveDate,
        home: Currency,
    ) -> AppResult<Conversion> {
        if from == home {
            return Ok(Conversion::same(amount, home));
        }
        let quote = match self.known.get(&(from, home, day)) {
            Some(quote) => *quote,
            None => {
                let unit = express(conn, Decimal::ONE, from, day, home, None).await?;
                let quote = unit.rate.zip(unit.rate_date);
                self.known.insert((from, home, day), quote);
                quote
            }
        };
        fits(match quote {
            Some((rate, on)) => Conversion::at(amount, rate, on, RateSource::Ecb, home),
            None => Conversion::pending(home),
        })
    }
}

/// The user's home currency.
pub async fn home_currency(conn: &mut PgConnection, user_id: Uuid) -> AppResult<Currency> {
    let code: String = sqlx::query_scalar("SELECT default_currency FROM users WHERE id = $1")
        .bind(user_id)
        .fetch_one(conn)
        .await?;
    currency_of(&code)
}
