//! The gateway binary: read config, build, serve until SIGTERM.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    // One line naming what is wrong (e.g. the variable), not a backtrace.
    match run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("gateway: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run() -> anyhow::Result<()> {
    budgetsmart_common::config::load_dotenv();
    budgetsmart_common::telemetry::init("gateway");
    let config = gateway::GatewayConfig::from_env()?;
    gateway::build(config).await?.run(budgetsmart_common::shutdown::on_signal()).await
}
