//! The engine binary: read config, build, serve until SIGTERM.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    budgetsmart_common::config::load_dotenv();
    budgetsmart_common::telemetry::init("engine");
    let config = engine::EngineConfig::from_env()?;
    let engine = engine::build(config).await?;
    engine.run(budgetsmart_common::shutdown::on_signal()).await
}
