//! Building and running the notification service.

use std::net::SocketAddr;
use std::sync::Arc;

use budgetsmart_common::service::{self, Backend};
use budgetsmart_proto::notification::v1::notifications_server::NotificationsServer;
use budgetsmart_proto::notification::v1::unsubscribe_server::UnsubscribeServer;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::api::{NotificationsService, UnsubscribeService};
use crate::clients::Upstreams;
use crate::config::NotificationConfig;
use crate::consumers;
use crate::intake::Intake;
use crate::links::Links;
use crate::mailer::Mailer;
use crate::scheduler;
use crate::sender::{Pacing, Sender};
use crate::templates::Templates;
use crate::unsubscribe::UnsubscribeSigner;

/// Postgres schema the notification service owns.
pub const SCHEMA: &str = "notification";

/// A built service: connected, migrated, queue declared, port bound.
pub struct Notification {
    backend: Backend,
    intake: Intake,
    sender: Sender,
    links: Links,
}

/// Applies the notification migrations to the database at `database_url` (`migrate` command).
pub async fn migrate(database_url: &str) -> anyhow::Result<()> {
    service::migrate_only(SCHEMA, database_url, sqlx::migrate!("./migrations")).await
}

/// Connects, migrates, declares the queue and binds the gRPC port. SMTP is not contacted:
/// email waits in the table while it is down.
pub async fn build(config: NotificationConfig) -> anyhow::Result<Notification> {
    let templates = Arc::new(Templates::new().map_err(|e| anyhow::anyhow!("the email templates: {e:#}"))?);
    let links =
        Links::new(config.public_base_url.clone(), UnsubscribeSigner::new(config.unsubscribe_secret.clone()));
    let upstreams = Upstreams::new(
        &config.engine_url,
        &config.analytics_url,
        &config.channels,
        config.backend.service_token.clone(),
    )?;
    let wake = Arc::new(Notify::new());
    let intake = Intake::new(templates.clone(), links.clone(), upstreams.clone(), wake.clone());
    let from = config
        .mail_from
        .parse()
        .map_err(|e| anyhow::anyhow!("configuration: MAIL_FROM: not an address ({e})"))?;
    let mailer = Mailer::new(&config.smtp).map_err(|e| anyhow::anyhow!("configuration: SMTP_HOST: {e:#}"))?;
    let backend = Backend::prepare(
        SCHEMA,
        &config.backend,
        sqlx::migrate!("./migrations"),
        consumers::spec(intake.clone()),
    )
    .await?;
    let pacing = Pacing {
        senders: config.senders,
        poll_interval: config.poll_interval,
        max_attempts: config.max_attempts,
        retry_base: config.retry_base,
        lease: config.lease,
    };
    let sender = Sender::new(
        backend.pool().clone(),
        templates,
        links.clone(),
        mailer,
        upstreams,
        from,
        pacing,
        backend.outbox().clone(),
        wake,
    );
    Ok(Notification { backend, intake, sender, links })
}

impl Notification {
    /// The address gRPC is served on.
    pub fn grpc_addr(&self) -> SocketAddr {
        self.backend.grpc_addr()
    }

    /// What this replica's outbox relay and event consumer have done.
    pub fn bus_activity(&self) -> std::sync::Arc<budgetsmart_common::events::BusActivity> {
        self.backend.activity()
    }

    /// Serves, consumes, sends and schedules until `shutdown`, then drains.
    pub async fn run(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let Notification { backend, intake, sender, links } = self;
        let pool = backend.pool().clone();
        let notifications = NotificationsServer::with_interceptor(
            NotificationsService::new(pool.clone(), intake.clone()),
            backend.auth(),
        );
        // No token interceptor: the signed token in the request is the credential.
        let unsubscribe = UnsubscribeServer::new(UnsubscribeService::new(pool.clone(), links));
        let sending = tokio::spawn(sender.run(shutdown.clone()));
        let scheduling = tokio::spawn(scheduler::run(pool, intake, shutdown.clone()));
        let served = backend
            .serve(
                shutdown.clone(),
                &["budgetsmart.notification.v1.Notifications", "budgetsmart.notification.v1.Unsubscribe"],
                |router| router.add_service(notifications).add_service(unsubscribe),
            )
            .await;
        shutdown.cancel();
        let _ = tokio::join!(sending, scheduling);
        served
    }
}
