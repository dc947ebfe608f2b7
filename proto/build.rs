//! Generates the gRPC and event code with the vendored `protoc`, so no system install is needed.

use std::path::PathBuf;

const PROTOS: &[&str] = &[
    "proto/budgetsmart/common/v1/money.proto",
    "proto/budgetsmart/common/v1/received_events.proto",
    "proto/budgetsmart/common/v1/forecast.proto",
    "proto/budgetsmart/engine/v1/engine.proto",
    "proto/budgetsmart/analytics/v1/analytics.proto",
    "proto/budgetsmart/notification/v1/notification.proto",
    "proto/budgetsmart/events/v1/events.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    let mut config = tonic_prost_build::Config::new();
    config.protoc_executable(protoc_bin_vendored::protoc_bin_path()?);
    tonic_prost_build::configure()
        .file_descriptor_set_path(out_dir.join("budgetsmart_descriptor.bin"))
        .compile_with_config(config, PROTOS, &["proto"])?;
    Ok(())
}
