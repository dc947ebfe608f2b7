//! The suppression list: addresses that get no more email from us, whatever any account's
//! preferences say. An address lands here when its owner unsubscribes from everything (a
//! digest's or an "all" link), or when its mail server answers that the mailbox does not
//! exist (a hard bounce).
//!
//! It is keyed by the address, not the account, on purpose: someone who registered with
//! another person's address cannot turn email back on in the preferences, nor register again
//! with the same address, and reach that person. Taking an address off the list is an operator's
//! decision (a row deleted by hand), not an API call.

use sqlx::PgConnection;

/// Why an address is on the list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Why {
    /// Its owner unsubscribed from every email.
    Unsubscribed,
    /// Its mail server said the mailbox does not exist.
    Bounced,
}

impl Why {
    fn as_str(self) -> &'static str {
        match self {
            Why::Unsubscribed => "unsubscribed",
            Why::Bounced => "bounced",
        }
    }

    /// What a suppressed email's `last_error` says.
    pub fn note(self) -> &'static str {
        match self {
            Why::Unsubscribed => "the address unsubscribed from all email",
            Why::Bounced => "the address bounced: its mail server says the mailbox does not exist",
        }
    }

    fn parse(text: &str) -> Option<Why> {
        match text {
            "unsubscribed" => Some(Why::Unsubscribed),
            "bounced" => Some(Why::Bounced),
            _ => None,
        }
    }
}

/// The list's key for `address`: trimmed and lower-cased, as mail servers compare in practice.
fn key(address: &str) -> String {
    address.trim().to_lowercase()
}

/// Puts `address` on the list. A bounce overrides an earlier unsubscribe (it also stops the
/// security emails an unsubscribed address still gets); otherwise the first reason stays.
pub async fn add(conn: &mut PgConnection, address: &str, why: Why) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO suppressed_addresses (address, reason) VALUES ($1, $2) \
         ON CONFLICT (address) DO UPDATE SET reason = EXCLUDED.reason WHERE EXCLUDED.reason = 'bounced'",
    )
    .bind(key(address))
    .bind(why.as_str())
    .execute(conn)
    .await?;
    Ok(())
}

/// Why `address` gets no email, or `None` when it may.
pub async fn check(conn: &mut PgConnection, address: &str) -> sqlx::Result<Option<Why>> {
    let reason: Option<String> =
        sqlx::query_scalar("SELECT reason FROM suppressed_addresses WHERE address = $1")
            .bind(key(address))
            .fetch_optional(conn)
            .await?;
    Ok(reason.as_deref().and_then(Why::parse))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_compared_as_mail_servers_do() {
        assert_eq!(key(" Ana@Example.COM "), "ana@example.com");
        for why in [Why::Unsubscribed, Why::Bounced] {
            assert_eq!(Why::parse(why.as_str()), Some(why));
        }
    }
}
