//! The analytics binary: read config, build, serve until SIGTERM. `analytics migrate` only migrates.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    // One line naming what is wrong (e.g. the variable), not a backtrace.
    match run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("analytics: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run() -> anyhow::Result<()> {
    budgetsmart_common::config::load_dotenv();
    budgetsmart_common::telemetry::init("analytics");
    let config = analytics::AnalyticsConfig::from_env()?;
    if std::env::args().nth(1).as_deref() == Some("migrate") {
        return analytics::startup::migrate(&config.backend.database_url).await;
    }
    analytics::build(config).await?.run(budgetsmart_common::shutdown::on_signal()).await
}
