//! What each user wants to receive: email on or off, each kind on or off, a minimum anomaly
//! score, immediate or a daily digest, and quiet hours.

use chrono::NaiveTime;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::kind::Kind;

/// Immediate emails, or one digest a day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Digest {
    /// Each email as it happens.
    Immediate,
    /// Alerts wait for one email a day.
    Daily,
}

impl Digest {
    /// The API name.
    pub fn as_str(self) -> &'static str {
        match self {
            Digest::Immediate => "immediate",
            Digest::Daily => "daily",
        }
    }

    /// Parses an API name.
    pub fn parse(name: &str) -> Option<Digest> {
        match name {
            "immediate" => Some(Digest::Immediate),
            "daily" => Some(Digest::Daily),
            _ => None,
        }
    }
}

/// A daily window, in the user's time zone, when email waits. `start > end` spans midnight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuietHours {
    /// When the window opens.
    pub start: NaiveTime,
    /// When it closes and held email goes out.
    pub end: NaiveTime,
}

/// One user's preferences.
#[derive(Debug, Clone, PartialEq)]
pub struct Preferences {
    /// Email as a whole.
    pub email_enabled: bool,
    /// Each kind, in [`Kind::ALL`] order.
    pub types: [bool; 8],
    /// Anomalies scoring below this (0..1) are not emailed.
    pub min_anomaly_score: f64,
    /// Immediate or daily.
    pub digest: Digest,
    /// When email waits.
    pub quiet_hours: Option<QuietHours>,
}

impl Default for Preferences {
    /// Everything on, immediate, no quiet hours; anomalies from a middling score up.
    fn default() -> Self {
        Preferences {
            email_enabled: true,
            types: [true; 8],
            min_anomaly_score: 0.5,
            digest: Digest::Immediate,
            quiet_hours: None,
        }
    }
}

impl Preferences {
    /// Whether `kind` is wanted at all.
    pub fn wants(&self, kind: Kind) -> bool {
        kind.is_security() || (self.email_enabled && self.type_enabled(kind))
    }

    /// Turns `kind` on or off (a security kind is not a preference: nothing changes).
    pub fn set(&mut self, kind: Kind, on: bool) {
        if let Some(i) = index(kind) {
            self.types[i] = on;
        }
    }

    /// Whether `kind` is on, regardless of the master switch; a security kind always is.
    pub fn type_enabled(&self, kind: Kind) -> bool {
        index(kind).is_none_or(|i| self.types[i])
    }
}

/// Its place in [`Kind::ALL`]; `None` for a security kind, which has none.
fn index(kind: Kind) -> Option<usize> {
    Kind::ALL.iter().position(|k| *k == kind)
}

#[derive(sqlx::FromRow)]
struct Row {
    email_enabled: bool,
    budget_threshold_reached: bool,
    anomaly_detected: bool,
    prediction_completed: bool,
    insight_generated: bool,
    monthly_summary: bool,
    welcome: bool,
    goal_reached: bool,
    goal_at_risk: bool,
    min_anomaly_score: f64,
    digest: String,
    quiet_start: Option<NaiveTime>,
    quiet_end: Option<NaiveTime>,
}

/// The user's preferences, or the defaults if they never saved any.
pub async fn load(conn: &mut PgConnection, user_id: Uuid) -> sqlx::Result<Preferences> {
    let row: Option<Row> = sqlx::query_as(
        "SELECT email_enabled, budget_threshold_reached, anomaly_detected, prediction_completed, \
         insight_generated, monthly_summary, welcome, goal_reached, goal_at_risk, min_anomaly_score, digest, \
         quiet_start, quiet_end FROM preferences WHERE user_id = $1",
    )
    .bind(user_id)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(from_row).unwrap_or_default())
}

fn from_row(row: Row) -> Preferences {
    Preferences {
        email_enabled: row.email_enabled,
        // Kind::ALL order.
        types: [
            row.budget_threshold_reached,
            row.anomaly_detected,
            row.prediction_completed,
            row.insight_generated,
            row.monthly_summary,
            row.welcome,
            row.goal_reached,
            row.goal_at_risk,
        ],
        min_anomaly_score: row.min_anomaly_score,
        digest: Digest::parse(&row.digest).unwrap_or(Digest::Immediate),
        quiet_hours: row.quiet_start.zip(row.quiet_end).map(|(start, end)| QuietHours { start, end }),
    }
}

/// Replaces the user's preferences.
pub async fn save(conn: &mut PgConnection, user_id: Uuid, prefs: &Preferences) -> sqlx::Result<()> {
    let t = |kind| prefs.type_enabled(kind);
    sqlx::query(
        "INSERT INTO preferences (user_id, email_enabled, budget_threshold_reached, anomaly_detected, \
           prediction_completed, insight_generated, monthly_summary, welcome, min_anomaly_score, digest, \
           quiet_start, quiet_end, goal_reached, goal_at_risk, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, now()) \
         ON CONFLICT (user_id) DO UPDATE SET email_enabled = EXCLUDED.email_enabled, \
           budget_threshold_reached = EXCLUDED.budget_threshold_reached, \
           anomaly_detected = EXCLUDED.anomaly_detected, prediction_completed = EXCLUDED.prediction_completed, \
           insight_generated = EXCLUDED.insight_generated, monthly_summary = EXCLUDED.monthly_summary, \
           welcome = EXCLUDED.welcome, goal_reached = EXCLUDED.goal_reached, \
           goal_at_risk = EXCLUDED.goal_at_risk, min_anomaly_score = EXCLUDED.min_anomaly_score, \
           digest = EXCLUDED.digest, quiet_start = EXCLUDED.quiet_start, quiet_end = EXCLUDED.quiet_end, \
           updated_at = now()",
    )
    .bind(user_id)
    .bind(prefs.email_enabled)
    .bind(t(Kind::BudgetThresholdReached))
    .bind(t(Kind::AnomalyDetected))
    .bind(t(Kind::PredictionCompleted))
    .bind(t(Kind::InsightGenerated))
    .bind(t(Kind::MonthlySummary))
    .bind(t(Kind::Welcome))
    .bind(prefs.min_anomaly_score)
    .bind(prefs.digest.as_str())
    .bind(prefs.quiet_hours.map(|q| q.start))
    .bind(prefs.quiet_hours.map(|q| q.end))
    .bind(t(Kind::GoalReached))
    .bind(t(Kind::GoalAtRisk))
    .execute(conn)
    .await?;
    Ok(())
}

/// Turns one kind off, keeping the rest (the unsubscribe link).
pub async fn turn_off(conn: &mut PgConnection, user_id: Uuid, kind: Kind) -> sqlx::Result<()> {
    set_false(conn, user_id, kind.as_str()).await
}

/// Turns all email off (the digest's unsubscribe link).
pub async fn turn_off_email(conn: &mut PgConnection, user_id: Uuid) -> sqlx::Result<()> {
    set_false(conn, user_id, "email_enabled").await
}

/// `column` is one of the boolean columns, never user input.
async fn set_false(conn: &mut PgConnection, user_id: Uuid, column: &'static str) -> sqlx::Result<()> {
    // One statement, so a concurrent PUT and an unsubscribe do not lose each other's change.
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO preferences (user_id, {column}) VALUES ($1, false) \
         ON CONFLICT (user_id) DO UPDATE SET {column} = false, updated_at = now()"
    )))
    .bind(user_id)
    .execute(conn)
    .await?;
    Ok(())
}
