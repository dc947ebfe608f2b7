//! The kinds of email, as the API and the preferences name them.

/// One kind of email. The names are the API's (`notification.kind`, `preferences.types`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// A budget or category limit's alert threshold was crossed.
    BudgetThresholdReached,
    /// A transaction looks unusual.
    AnomalyDetected,
    /// The month-end forecast says the budget will be exceeded.
    PredictionCompleted,
    /// A new insight about spending.
    InsightGenerated,
    /// The summary of a month.
    MonthlySummary,
    /// Sent once, when the new account's address is verified.
    Welcome,
    /// A savings goal's target was met.
    GoalReached,
    /// A savings goal's date will be missed at the current pace.
    GoalAtRisk,
    /// A link to set a new password, asked for by whoever knows the address. A security
    /// email: not a preference, never held for quiet hours or a digest.
    PasswordReset,
    /// A link that proves an address: the new account's, or one it is changing to. A
    /// security email.
    VerifyEmail,
    /// To the old address, after the account's address changed. A security email.
    EmailChanged,
}

impl Kind {
    /// The security emails: sent whatever the preferences say, at once, and stopped only by a
    /// hard bounce (see `suppression`).
    pub const SECURITY: [Kind; 3] = [Kind::PasswordReset, Kind::VerifyEmail, Kind::EmailChanged];

    /// Every kind the preferences list, in their order.
    pub const ALL: [Kind; 8] = [
        Kind::BudgetThresholdReached,
        Kind::AnomalyDetected,
        Kind::PredictionCompleted,
        Kind::InsightGenerated,
        Kind::MonthlySummary,
        Kind::Welcome,
        Kind::GoalReached,
        Kind::GoalAtRisk,
    ];

    /// The API name, e.g. `budget_threshold_reached`.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::BudgetThresholdReached => "budget_threshold_reached",
            Kind::AnomalyDetected => "anomaly_detected",
            Kind::PredictionCompleted => "prediction_completed",
            Kind::InsightGenerated => "insight_generated",
            Kind::MonthlySummary => "monthly_summary",
            Kind::Welcome => "welcome",
            Kind::GoalReached => "goal_reached",
            Kind::GoalAtRisk => "goal_at_risk",
            Kind::PasswordReset => "password_reset",
            Kind::VerifyEmail => "verify_email",
            Kind::EmailChanged => "email_changed",
        }
    }

    /// Whether it is a security email (see [`Kind::SECURITY`]).
    pub fn is_security(self) -> bool {
        Kind::SECURITY.contains(&self)
    }

    /// Parses any kind's name, the security ones too (a delivery row's `kind`).
    pub fn parse_any(name: &str) -> Option<Kind> {
        Kind::parse(name).or_else(|| Kind::SECURITY.into_iter().find(|k| k.as_str() == name))
    }

    /// Parses the name of a kind the preferences list.
    pub fn parse(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == name)
    }

    /// The template pair (`<name>.txt`, `<name>.html`) that renders it.
    pub fn template(self) -> &'static str {
        match self {
            // The email is about what the prediction means, not the prediction itself.
            Kind::PredictionCompleted => "projected_overspend",
            other => other.as_str(),
        }
    }

    /// Whether a daily-digest user gets it in the digest. The welcome and the summary are
    /// already one-offs, so they always go out alone, and security email goes out at once.
    pub fn digestible(self) -> bool {
        !matches!(self, Kind::Welcome | Kind::MonthlySummary) && !self.is_security()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for kind in Kind::ALL {
            assert_eq!(Kind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(Kind::parse("digest"), None);
        assert_eq!(Kind::parse("password_reset"), None, "not a preference");
        assert_eq!(Kind::parse_any("password_reset"), Some(Kind::PasswordReset));
        for kind in Kind::SECURITY {
            assert_eq!(Kind::parse_any(kind.as_str()), Some(kind));
            assert!(!kind.digestible(), "{kind:?} goes out at once");
        }
    }
}
