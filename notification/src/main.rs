//! The notification binary: read config, build, serve until SIGTERM.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    budgetsmart_common::config::load_dotenv();
    budgetsmart_common::telemetry::init("notification");
    let config = notification::NotificationConfig::from_env()?;
    notification::build(config).await?.run(budgetsmart_common::shutdown::on_signal()).await
}
