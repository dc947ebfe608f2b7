//! The gateway binary: read config, build, serve until SIGTERM.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    budgetsmart_common::config::load_dotenv();
    budgetsmart_common::telemetry::init("gateway");
    let config = gateway::GatewayConfig::from_env()?;
    gateway::build(config).await?.run(budgetsmart_common::shutdown::on_signal()).await
}
