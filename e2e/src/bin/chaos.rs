//! `make chaos`: the fault suite. Usage: `chaos [--profile full|ci] [--out FILE] [--bin DIR]
//! [scenario...]`; with no scenario, all seven. Exits non-zero if any scenario fails.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = e2e::chaos::Args::parse(std::env::args().skip(1))?;
    let reports = e2e::chaos::run_all(&args).await;
    let report = e2e::chaos::render(&reports, &args.profile, &args.command, &e2e::chaos::machine());
    println!("{report}");
    if let Some(out) = &args.out {
        std::fs::write(out, &report)?;
        eprintln!("wrote {}", out.display());
    }
    let failed: Vec<&str> =
        reports.iter().filter(|r| !r.problems.is_empty()).map(|r| r.fault.name()).collect();
    if !failed.is_empty() {
        eprintln!("chaos: failed: {}", failed.join(", "));
        std::process::exit(1);
    }
    Ok(())
}
