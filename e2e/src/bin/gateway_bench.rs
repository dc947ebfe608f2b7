//! The gateway's own cost: `GET /api/v1/me` through the gateway against the engine's `GetMe`
//! called over gRPC directly, same users, same tokens, same run.
//!
//! Usage: `gateway_bench <gateway-url> <engine-grpc-url> <clients> <seconds-per-phase>`.
//! Phases alternate (direct, gateway, direct, gateway) so a noisy moment on the shared
//! machine lands on both sides. Prints a Markdown table; the overhead is the difference of
//! the medians (and of the 99th percentiles).

use std::time::{Duration, Instant};

use budgetsmart_proto::engine::v1::GetMeRequest;
use budgetsmart_proto::engine::v1::users_client::UsersClient;
use tonic::metadata::MetadataValue;
use tonic::transport::Channel;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    anyhow::ensure!(
        args.len() == 5,
        "usage: gateway_bench <gateway-url> <engine-grpc-url> <clients> <seconds>"
    );
    let base = format!("{}/api/v1", args[1].trim_end_matches('/'));
    let engine = Channel::from_shared(args[2].clone())?.tcp_nodelay(true).connect().await?;
    let clients: usize = args[3].parse()?;
    let seconds: u64 = args[4].parse()?;
    let http = reqwest::Client::builder().pool_max_idle_per_host(clients).tcp_nodelay(true).build()?;

    let mut tokens = Vec::with_capacity(clients);
    for i in 0..clients {
        tokens.push(e2e::bench_user(&http, &base, &format!("gwbench-{i}")).await?);
    }

    let (mut direct, mut gateway) = (Vec::new(), Vec::new());
    let mut errors = 0u64;
    for phase in 0..4 {
        let through_gateway = phase % 2 == 1;
        let deadline = Instant::now() + Duration::from_secs(seconds);
        let mut workers = Vec::with_capacity(clients);
        for token in &tokens {
            let (http, base, token, engine) = (http.clone(), base.clone(), token.clone(), engine.clone());
            workers.push(tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut errors = 0u64;
                let mut users = UsersClient::new(engine);
                let bearer: MetadataValue<_> = format!("Bearer {token}").parse().expect("a token is ASCII");
                while Instant::now() < deadline {
                    let sent = Instant::now();
                    let ok = if through_gateway {
                        match http.get(format!("{base}/me")).bearer_auth(&token).send().await {
                            Ok(response) => response.status().is_success() && response.bytes().await.is_ok(),
                            Err(_) => false,
                        }
                    } else {
                        let mut request = tonic::Request::new(GetMeRequest {});
                        request.metadata_mut().insert("authorization", bearer.clone());
                        users.get_me(request).await.is_ok()
                    };
                    latencies.push(sent.elapsed());
                    errors += u64::from(!ok);
                }
                (latencies, errors)
            }));
        }
        for worker in workers {
            let (latencies, failed) = worker.await?;
            errors += failed;
            if through_gateway { gateway.extend(latencies) } else { direct.extend(latencies) }
        }
    }

    let pct = |samples: &mut Vec<Duration>, p: f64| {
        samples.sort_unstable();
        let i = ((samples.len() as f64 * p).ceil() as usize).clamp(1, samples.len().max(1)) - 1;
        samples.get(i).map(|d| d.as_secs_f64() * 1000.0).unwrap_or(f64::NAN)
    };
    let total = seconds as f64 * 2.0;
    let (d50, d99, g50, g99) =
        (pct(&mut direct, 0.5), pct(&mut direct, 0.99), pct(&mut gateway, 0.5), pct(&mut gateway, 0.99));
    println!("| metric | gRPC to the engine directly | through the gateway (HTTP) | gateway overhead |");
    println!("|---|---|---|---|");
    println!("| clients | {clients} | {clients} | |");
    println!(
        "| requests per second | {:.0} | {:.0} | |",
        direct.len() as f64 / total,
        gateway.len() as f64 / total
    );
    println!("| latency p50 | {d50:.3} ms | {g50:.3} ms | {:.3} ms |", g50 - d50);
    println!("| latency p99 | {d99:.3} ms | {g99:.3} ms | {:.3} ms |", g99 - d99);
    println!("| failed requests | {errors} | | |");
    Ok(())
}
