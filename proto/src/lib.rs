//! Generated protobuf types and gRPC stubs for every BudgetSmart contract.
//!
//! Module paths follow the proto packages without the `budgetsmart.` prefix, e.g.
//! `budgetsmart.engine.v1` is [`engine::v1`].
#![allow(missing_docs, rust_2018_idioms, unreachable_pub, clippy::all, clippy::pedantic)]

/// Types shared by several services: money and pagination.
pub mod common {
    pub mod v1 {
        tonic::include_proto!("budgetsmart.common.v1");
    }
}

/// The engine's public gRPC API.
pub mod engine {
    pub mod v1 {
        tonic::include_proto!("budgetsmart.engine.v1");
    }
}

/// The analytics service's gRPC API.
pub mod analytics {
    pub mod v1 {
        tonic::include_proto!("budgetsmart.analytics.v1");
    }
}

/// The notification service's gRPC API.
pub mod notification {
    pub mod v1 {
        tonic::include_proto!("budgetsmart.notification.v1");
    }
}

/// Domain-event payloads published on RabbitMQ.
pub mod events {
    pub mod v1 {
        tonic::include_proto!("budgetsmart.events.v1");
    }
}

/// Encoded `FileDescriptorSet` of every contract, for gRPC reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("budgetsmart_descriptor");
