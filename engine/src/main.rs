//! The engine binary: read config, build, serve until SIGTERM. `engine migrate` only migrates;
//! `engine rates import FILE` loads an ECB reference-rate file.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    // One line naming what is wrong (e.g. the variable), not a backtrace.
    match run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("engine: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run() -> anyhow::Result<()> {
    budgetsmart_common::config::load_dotenv();
    budgetsmart_common::telemetry::init("engine");
    let config = engine::EngineConfig::from_env()?;
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["migrate"] => return engine::startup::migrate(&config.backend.database_url).await,
        ["rates", "import", file] => {
            // The command may run before the engine ever started on this database.
            engine::startup::migrate(&config.backend.database_url).await?;
            return engine::exchange::import_file(&config.backend.database_url, file).await;
        }
        [] => {}
        _ => anyhow::bail!("usage: engine [migrate | rates import FILE]"),
    }
    let engine = engine::build(config).await?;
    engine.run(budgetsmart_common::shutdown::on_signal()).await
}
