//! The sentence each recurring payment carries: what it is and why, its numbers, and what
//! comes next.

use chrono::NaiveDate;

use super::{Kind, Recurring, Status};
use crate::merchant::display;
use crate::text::{day, money};

/// How a sentence names a kind.
fn label(kind: Kind) -> &'static str {
    match kind {
        Kind::Subscription => "a subscription",
        Kind::Bill => "a bill",
        Kind::Housing => "your housing payment",
        Kind::Loan => "a loan payment",
        Kind::Income => "income",
    }
}

/// One or two sentences with the numbers, as of `today`.
pub fn explain(r: &Recurring, today: NaiveDate) -> String {
    let name = display(&r.merchant);
    let count = if r.credit { "payments" } else { "charges" };
    let price = if r.fixed_price {
        money(r.expected_amount, &r.currency)
    } else {
        format!("about {}", money(r.expected_amount, &r.currency))
    };
    let what = if r.kind == Kind::Income && !r.kind_corrected {
        format!(
            "{name} pays you {price} {}, {} {count} since {}.",
            r.cadence.phrase(),
            r.occurrences,
            day(r.first_seen)
        )
    } else {
        format!(
            "{name} is {} ({}): {price} {}, {} {count} since {}.",
            label(r.kind),
            r.kind_reason,
            r.cadence.phrase(),
            r.occurrences,
            day(r.first_seen),
        )
    };
    // The latest price change of the last year is worth a word.
    let change = r
        .price_changes
        .iter()
        .rev()
        .find(|c| (today - c.on).num_days() <= 365)
        .map(|c| {
            format!(
                " It went from {} to {} on {}.",
                money(c.from, &r.currency),
                money(c.to, &r.currency),
                day(c.on)
            )
        })
        .unwrap_or_default();
    let next = match r.status {
        Status::Active if r.next_expected < today => {
            format!("The one due around {} has not come yet.", day(r.next_expected))
        }
        Status::Active => format!("The next is expected around {}.", day(r.next_expected)),
        Status::Late => format!(
            "The one expected around {} has not come: {} days late.",
            day(r.next_expected),
            (today - r.next_expected).num_days()
        ),
        Status::Ended => format!(
            "Nothing since {}, though one was due around {}: it looks ended.",
            day(r.last_seen),
            day(r.next_expected)
        ),
    };
    format!("{what}{change} {next}")
}

#[cfg(test)]
mod tests {
    use chrono::Months;
    use rust_decimal::Decimal;

    use super::*;
    use crate::history::Debit;
    use crate::recurring::detect;

    #[test]
    fn rent_reads_as_rent_with_its_numbers() {
        let start = NaiveDate::from_ymd_opt(2025, 6, 1).expect("date");
        let debits: Vec<Debit> = (0..6)
            .map(|m| {
                Debit::new(
                    start.checked_add_months(Months::new(m)).expect("date"),
                    "MAPLE STREET",
                    145_000,
                    None,
                )
            })
            .collect();
        let mut rent = detect(&debits, NaiveDate::from_ymd_opt(2025, 11, 20).expect("date")).remove(0);
        rent.kind = Kind::Housing;
        rent.kind_reason = "from its category, Rent".into();
        let text = explain(&rent, NaiveDate::from_ymd_opt(2025, 11, 20).expect("date"));
        assert_eq!(
            text,
            "Maple Street is your housing payment (from its category, Rent): 1,450.00 USD every month, \
             6 charges since 1 Jun 2025. The next is expected around 1 Dec 2025."
        );
        assert_eq!(rent.expected_amount, Decimal::new(145_000, 2));
    }
}
