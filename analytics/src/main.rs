//! The analytics binary: read config, build, serve until SIGTERM.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    budgetsmart_common::config::load_dotenv();
    budgetsmart_common::telemetry::init("analytics");
    let config = analytics::AnalyticsConfig::from_env()?;
    analytics::build(config).await?.run(budgetsmart_common::shutdown::on_signal()).await
}
