//! Bus helpers: a test-owned queue on the test's exchange, and publishing raw events as a
//! producer would.

use std::time::Duration;

use futures_util::StreamExt;
use lapin::options::{BasicConsumeOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use lapin::{Connection, ConnectionProperties};
use uuid::Uuid;

use crate::env::amqp_url;
use crate::system::TestSystem;

/// A test-owned queue bound to the test's exchange, for counting what was published.
pub struct TestQueue {
    _connection: Connection,
    consumer: lapin::Consumer,
}

impl TestQueue {
    /// Collects deliveries until none arrives for `quiet`.
    pub async fn drain(&mut self, quiet: Duration) -> Vec<lapin::message::Delivery> {
        let mut deliveries = Vec::new();
        while let Ok(Some(Ok(delivery))) = tokio::time::timeout(quiet, self.consumer.next()).await {
            deliveries.push(delivery);
        }
        deliveries
    }
}

impl TestSystem {
    /// A queue of the test's own, bound to `routing_keys` on the test exchange.
    pub async fn listen(&self, routing_keys: &[&str]) -> TestQueue {
        let connection =
            Connection::connect(&amqp_url(), ConnectionProperties::default()).await.expect("broker");
        let channel = connection.create_channel().await.expect("channel");
        let options = QueueDeclareOptions { exclusive: true, auto_delete: true, ..Default::default() };
        let queue = channel.queue_declare("".into(), options, FieldTable::default()).await.expect("queue");
        for key in routing_keys {
            channel
                .queue_bind(
                    queue.name().clone(),
                    self.bus.exchange.as_str().into(),
                    (*key).into(),
                    QueueBindOptions::default(),
                    FieldTable::default(),
                )
                .await
                .expect("bind");
        }
        let consumer = channel
            .basic_consume(
                queue.name().clone(),
                "test".into(),
                BasicConsumeOptions { no_ack: true, ..Default::default() },
                FieldTable::default(),
            )
            .await
            .expect("consume");
        TestQueue { _connection: connection, consumer }
    }

    /// Publishes a raw event on the test's exchange, as a producer would: `name` is the event
    /// name, `id` its message id, `user_id` the header.
    pub async fn publish(&self, name: &str, id: Uuid, user_id: &str, payload: &[u8]) {
        use lapin::BasicProperties;
        use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
        use lapin::types::AMQPValue;
        let connection =
            Connection::connect(&self.bus.amqp_url, ConnectionProperties::default()).await.expect("connects");
        let channel = connection.create_channel().await.expect("a channel");
        channel.confirm_select(ConfirmSelectOptions::default()).await.expect("confirms");
        let mut headers = FieldTable::default();
        headers.insert("user_id".into(), AMQPValue::LongString(user_id.to_owned().into()));
        let properties = BasicProperties::default()
            .with_message_id(id.to_string().into())
            .with_type(name.into())
            .with_headers(headers);
        channel
            .basic_publish(
                self.bus.exchange.as_str().into(),
                format!("{name}.v1").as_str().into(),
                BasicPublishOptions::default(),
                payload,
                properties,
            )
            .await
            .expect("publishes")
            .await
            .expect("confirmed");
        let _ = connection.close(200, "done".into()).await;
    }
}
