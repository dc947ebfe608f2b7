//! `make chaos`: faults under load, with every acknowledged write, event and email accounted
//! for afterwards, in the spirit of Jepsen's checkers (lost, duplicated, recovered).
//!
//! Each scenario gets a fresh [`stack::Stack`]: the four services as child processes, a private
//! PostgreSQL and Redis, and a proxy in front of the shared RabbitMQ. [`load`] drives creates,
//! edits and deletes through the gateway and records what was acknowledged; [`scenarios`]
//! injects one fault mid-run; [`reconcile`] checks the engine, the bus, the analytics read
//! model and the notification deliveries against what was acknowledged and committed.

pub mod load;
pub mod reconcile;
pub mod scenarios;
pub mod stack;

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use scenarios::{Fault, Profile, Report};

/// The command line.
pub struct Args {
    /// `--profile full|ci` (default full).
    pub profile: Profile,
    /// `--bin DIR`: where the service binaries are (default target/debug).
    pub bin: PathBuf,
    /// `--out FILE`: also write the report there.
    pub out: Option<PathBuf>,
    /// The scenarios named, or all seven.
    pub faults: Vec<Fault>,
    /// How the report says it was produced (`CHAOS_COMMAND`, default `make chaos`).
    pub command: String,
}

impl Args {
    /// Reads the arguments after the program name.
    pub fn parse(args: impl Iterator<Item = String>) -> anyhow::Result<Args> {
        let mut parsed = Args {
            profile: Profile::full(),
            bin: PathBuf::from("target/debug"),
            out: None,
            faults: Vec::new(),
            command: std::env::var("CHAOS_COMMAND").unwrap_or_else(|_| "make chaos".into()),
        };
        let mut args = args;
        while let Some(arg) = args.next() {
            let mut value = || args.next().ok_or_else(|| anyhow::anyhow!("{arg} needs a value"));
            match arg.as_str() {
                "--profile" => {
                    parsed.profile = match value()?.as_str() {
                        "full" => Profile::full(),
                        "ci" => Profile::ci(),
                        other => anyhow::bail!("unknown profile {other}: full or ci"),
                    }
                }
                "--bin" => parsed.bin = PathBuf::from(value()?),
                "--out" => parsed.out = Some(PathBuf::from(value()?)),
                name => parsed.faults.push(
                    Fault::ALL
                        .into_iter()
                        .find(|f| f.name() == name)
                        .ok_or_else(|| anyhow::anyhow!("unknown scenario {name}"))?,
                ),
            }
        }
        if parsed.faults.is_empty() {
            parsed.faults = Fault::ALL.to_vec();
        }
        Ok(parsed)
    }
}

/// Runs the scenarios one after another; one that cannot even start is a failed report.
pub async fn run_all(args: &Args) -> Vec<Report> {
    let logs = PathBuf::from(".cache/chaos");
    let mut reports = Vec::new();
    for &fault in &args.faults {
        eprintln!("== chaos: {} ({})", fault.name(), fault.describe(&args.profile));
        let report = match scenarios::run(fault, &args.profile, &args.bin, &logs).await {
            Ok(report) => report,
            Err(e) => Report::failed(fault, &args.profile, format!("{e:#}")),
        };
        let verdict = if report.problems.is_empty() { "pass".to_owned() } else { report.problems.join("; ") };
        eprintln!("   {}: {verdict}", fault.name());
        reports.push(report);
    }
    reports
}

/// The machine, for the report: cores, CPU model and memory.
pub fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|l| l.trim_start_matches([' ', '\t', ':']));
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let kib: u64 = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|l| l.trim().trim_end_matches(" kB").parse().ok())
        .unwrap_or(0);
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!("{cores} cores ({}), {} GiB", cpu.unwrap_or("unknown CPU"), kib / 1024 / 1024)
}

fn seconds(d: Option<Duration>) -> String {
    d.map_or("not recovered".into(), |d| format!("{:.1} s", d.as_secs_f64()))
}

/// The Markdown report of a run: one summary table, then each scenario's details.
pub fn render(reports: &[Report], profile: &Profile, command: &str, machine: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# Resilience\n");
    let _ = writeln!(
        out,
        "Produced by `{command}` (profile `{}`: {} users, one write per user every {} ms, plus a login, \
         refresh and profile loop) on {}: {machine}. Services are debug builds, run as child processes.\n",
        profile.name,
        profile.users,
        profile.pace.as_millis(),
        chrono::Utc::now().format("%Y-%m-%d"),
    );
    let _ = writeln!(
        out,
        "| scenario | acknowledged writes (create/edit/delete) | acked during the fault | retried attempts | \
         events expected | received | lost | duplicate deliveries | duplicated effects | dead-lettered | recovered in | result |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|---|---|---|---|---|");
    for r in reports {
        let f = &r.findings;
        let dead: u32 = f.dead_lettered.values().sum();
        let _ = writeln!(
            out,
            "| {} | {} ({}/{}/{}) | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            r.fault.name(),
            r.tally.creates + r.tally.edits + r.tally.deletes,
            r.tally.creates,
            r.tally.edits,
            r.tally.deletes,
            r.acked_during_fault,
            r.tally.retried.values().sum::<u64>(),
            f.events_expected,
            f.events_received,
            f.lost(),
            f.duplicate_deliveries + f.emails_duplicated,
            f.duplicated_effects(),
            dead,
            seconds(r.recovered),
            if r.problems.is_empty() { "pass" } else { "FAIL" },
        );
    }
    let _ = writeln!(out);
    for r in reports {
        let f = &r.findings;
        let _ = writeln!(out, "## {}\n", r.fault.name());
        let _ = writeln!(out, "Fault: {}.\n", r.description);
        let retried: Vec<String> = r.tally.retried.iter().map(|(k, v)| format!("{k}×{v}")).collect();
        let sessions: Vec<String> = r.tally.sessions.iter().map(|(k, v)| format!("{k}×{v}")).collect();
        let not_applied: Vec<String> = f.not_applied.iter().map(|(k, v)| format!("{k} {v}")).collect();
        let dead: Vec<String> = f.dead_lettered.iter().map(|(k, v)| format!("{k} {v}")).collect();
        let lines = [
            format!(
                "- retried attempts by answer: {}",
                if retried.is_empty() { "none".into() } else { retried.join(", ") }
            ),
            format!("- sessions (login, refresh, profile read): {}", sessions.join(", ")),
            format!(
                "- engine: {} acknowledged writes not reflected; {} stored transactions whose create was never acknowledged",
                f.lost_writes, f.unacknowledged_stored
            ),
            format!(
                "- bus: {} events committed, {} published, {} lost, {} published more than once",
                f.events_expected, f.events_received, f.events_lost, f.duplicate_deliveries
            ),
            format!("- consumers, events routed but not applied: {}", not_applied.join(", ")),
            format!(
                "- analytics: {} rows off the engine's; daily totals over the engine's sum for {} users, under for {}",
                f.analytics_rows_off, f.totals_over, f.totals_under
            ),
            format!(
                "- notification: {} deliveries due ({} budget alerts), {} missing, {} duplicated, {} unsent; \
                 {} emails missing, {} extra copies with the same Message-ID",
                f.deliveries_expected,
                f.alerts,
                f.deliveries_missing,
                f.deliveries_duplicated,
                f.deliveries_unsent,
                f.emails_missing,
                f.emails_duplicated
            ),
            format!("- dead-letter queues: {}", dead.join(", ")),
            format!("- recovered in: {}", seconds(r.recovered)),
        ];
        for line in &lines {
            let _ = writeln!(out, "{line}");
        }
        for note in &r.notes {
            let _ = writeln!(out, "- {note}");
        }
        for problem in &r.problems {
            let _ = writeln!(out, "- **problem:** {problem}");
        }
        let _ = writeln!(out);
    }
    out
}
