//! Which of the caller's accounts each account a file names goes to: the one with the same
//! number, else a new one (made when the import is written, never by a preview), or the one
//! the caller named with `?account_id=`, which must be theirs and must not be another
//! account's statement.

use budgetsmart_bankfiles::{AccountKind, StatementAccount};
use budgetsmart_common::currency::Currency;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::accounts::store::{self as accounts, NewAccount, number_hint};
use crate::error::{AppError, AppResult};
use crate::imports::store::AccountSummary;

/// A file's account, linked to one of the caller's (or to none: a CSV with no account named).
#[derive(Debug, Clone)]
pub struct Linked {
    pub account_id: Option<Uuid>,
    pub name: String,
    /// The number the file gives, to find the account next time.
    pub number: Option<String>,
    /// Made by this import (in a preview: would be).
    pub created: bool,
    /// What rows without a currency of their own are in.
    pub currency: Currency,
    pub kind: &'static str,
    pub institution: Option<String>,
    /// An account the caller named that had no number yet takes the file's.
    adopt: bool,
}

impl Linked {
    pub fn summary(&self, rows: u32, statement: &StatementAccount) -> AccountSummary {
        AccountSummary {
            account_id: self.account_id,
            name: self.name.clone(),
            number_hint: self.number.as_deref().map(number_hint).unwrap_or_default(),
            created: self.created,
            rows,
            currency: self.currency.code().to_owned(),
            opening_balance: statement.opening.as_ref().map(|b| b.amount.to_string()),
            closing_balance: statement.closing.as_ref().map(|b| b.amount.to_string()),
        }
    }
}

fn kind_name(kind: Option<AccountKind>) -> &'static str {
    kind.map(AccountKind::as_str).unwrap_or("checking")
}

/// A new account's name: the bank's name where the file gives one (a routing number or BIC
/// is not a name), else its type, with the number's last four: "Credit card …4321".
fn new_name(statement: &StatementAccount, kind: &str) -> String {
    let label = match &statement.institution {
        Some(bank) if bank.chars().any(|c| c.is_lowercase() || c == ' ') => bank.trim().to_owned(),
        _ => match kind {
            "savings" => "Savings".to_owned(),
            "credit_card" => "Credit card".to_owned(),
            "cash" => "Cash".to_owned(),
            _ => "Checking".to_owned(),
        },
    };
    format!("{label} …{}", number_hint(&statement.number))
}

/// Links every account of the file, reading only: nothing is created here.
pub async fn plan(
    conn: &mut PgConnection,
    user_id: Uuid,
    statements: &[StatementAccount],
    target: Option<Uuid>,
    home: Currency,
) -> AppResult<Vec<Linked>> {
    let unnamed = [StatementAccount::default()];
    let statements = if statements.is_empty() { &unnamed[..] } else { statements };
    let currency_of = |s: &StatementAccount, fallback: Currency| {
        s.currency.as_deref().and_then(Currency::parse).unwrap_or(fallback)
    };
    if let Some(target) = target {
        let account = match accounts::find(conn, user_id, target).await {
            Ok(account) => account,
            Err(AppError::NotFound(_)) => return Err(AppError::field("account_id", "no such account")),
            Err(other) => return Err(other),
        };
        if statements.len() > 1 {
            return Err(AppError::field(
                "account_id",
                format!(
                    "the file holds {} accounts; import it without account_id and each goes to its own",
                    statements.len()
                ),
            ));
        }
        let number = statements[0].number.trim();
        if let Some(own) = account.number.as_deref()
            && !number.is_empty()
            && own != number
        {
            return Err(AppError::field(
                "account_id",
                format!(
                    "the file is a statement of account …{}, not of this account (…{})",
                    number_hint(number),
                    number_hint(own)
                ),
            ));
        }
        let account_currency = Currency::parse(account.currency()).unwrap_or(home);
        return Ok(vec![Linked {
            account_id: Some(account.id),
            name: account.name.clone(),
            adopt: account.number.is_none() && !number.is_empty(),
            number: (!number.is_empty()).then(|| number.to_owned()).or(account.number.clone()),
            created: false,
            currency: currency_of(&statements[0], account_currency),
            kind: "checking",
            institution: account.institution.clone(),
        }]);
    }
    let mut linked = Vec::with_capacity(statements.len());
    for statement in statements {
        let number = statement.number.trim();
        let kind = kind_name(statement.kind);
        if number.is_empty() {
            linked.push(Linked {
                account_id: None,
                name: String::new(),
                number: None,
                created: false,
                currency: currency_of(statement, home),
                kind,
                institution: None,
                adopt: false,
            });
            continue;
        }
        let existing = accounts::by_number(conn, user_id, number).await?;
        linked.push(match existing {
            Some(account) => Linked {
                account_id: Some(account.id),
                name: account.name.clone(),
                number: Some(number.to_owned()),
                created: false,
                currency: currency_of(statement, Currency::parse(account.currency()).unwrap_or(home)),
                kind,
                institution: account.institution.clone(),
                adopt: false,
            },
            None => Linked {
                account_id: None,
                name: new_name(statement, kind),
                number: Some(number.to_owned()),
                created: true,
                currency: currency_of(statement, home),
                kind,
                institution: statement.institution.clone(),
                adopt: false,
            },
        });
    }
    Ok(linked)
}

/// Makes the accounts `plan` found missing, and gives a named account the file's number.
pub async fn realize(conn: &mut PgConnection, user_id: Uuid, linked: &mut [Linked]) -> AppResult<()> {
    for account in linked.iter_mut() {
        if account.adopt
            && let (Some(id), Some(number)) = (account.account_id, account.number.as_deref())
        {
            accounts::adopt_number(conn, user_id, id, number).await?;
        }
        if account.account_id.is_some() || !account.created {
            continue;
        }
        let Some(number) = account.number.as_deref() else { continue };
        // A file read again after its account was made (a resumed import) finds it.
        if let Some(existing) = accounts::by_number(conn, user_id, number).await? {
            account.account_id = Some(existing.id);
            continue;
        }
        let new = NewAccount {
            name: &account.name,
            institution: account.institution.as_deref(),
            currency: account.currency.code(),
            kind: account.kind,
            number: Some(number),
        };
        account.account_id = Some(accounts::insert(conn, user_id, &new).await?.id);
    }
    Ok(())
}
