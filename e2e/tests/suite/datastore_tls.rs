//! TLS to the datastores (rustls), chosen by the URL as production configures it: each
//! connection helper the services use reaches a private TLS-only server, verifies the
//! certificate against the CA it was given, and refuses a server whose certificate it cannot
//! verify. Then a whole engine runs on TLS-only PostgreSQL, Redis and RabbitMQ.

use std::time::Duration;

use budgetsmart_common::database;
use budgetsmart_common::events::BusConfig;
use budgetsmart_common::redis_client;
use e2e::tls::{TestCerts, TlsPostgres, TlsRedis, TlsTerminator};
use e2e::{amqp_url, url_addr};
use lapin::BasicProperties;
use lapin::options::{BasicPublishOptions, QueueDeclareOptions};
use lapin::types::FieldTable;

#[tokio::test]
async fn postgres_over_verified_tls_and_nothing_else() {
    let certs = TestCerts::generate();
    let server = TlsPostgres::start(&certs).await;
    let ca = certs.path("ca.pem");

    let pool =
        database::connect(&server.url(&format!("sslmode=verify-full&sslrootcert={ca}")), "tls_check", 2)
            .await
            .expect("connects over TLS, verifying the certificate and host name");
    let encrypted: bool = sqlx::query_scalar("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        .fetch_one(&pool)
        .await
        .expect("reads its own connection");
    assert!(encrypted, "the session is encrypted");
    pool.close().await;

    let plain = database::connect(&server.url("sslmode=disable"), "tls_check", 1).await;
    assert!(plain.is_err(), "the server takes no plaintext, so TLS really carried the first connection");
    let other = certs.path("other-ca.pem");
    let untrusted =
        database::connect(&server.url(&format!("sslmode=verify-full&sslrootcert={other}")), "x", 1).await;
    let error = format!("{:#}", untrusted.expect_err("a certificate from another CA is refused"));
    assert!(error.contains("cannot reach PostgreSQL"), "{error}");
}

#[tokio::test]
async fn redis_over_verified_tls() {
    let certs = TestCerts::generate();
    let server = TlsRedis::start(&certs).await;
    let url = format!("rediss://localhost:{}", server.port);

    let mut redis =
        redis_client::connect(&url, Some(&certs.path("ca.pem"))).await.expect("connects over TLS");
    let pong: String = redis::cmd("PING").query_async(&mut redis).await.expect("answers");
    assert_eq!(pong, "PONG");

    // The built-in roots do not include the test CA, nor does another CA sign its certificate.
    // (One attempt each: the connection manager would keep retrying.)
    for ca in [None, Some(certs.path("other-ca.pem"))] {
        let client = redis_client::client(&url, ca.as_deref()).expect("a client");
        let attempt = client.get_multiplexed_async_connection().await;
        assert!(attempt.is_err(), "an unverifiable certificate is refused (CA {ca:?})");
    }
    // A CA file with a plaintext URL is a configuration mistake, named as such.
    let plain = format!("redis://localhost:{}", server.port);
    let error = redis_client::client(&plain, Some(&certs.path("ca.pem"))).expect_err("refused").to_string();
    assert!(error.contains("REDIS_CA_FILE") && error.contains("rediss://"), "{error}");
}

fn bus(url: String, ca_file: Option<String>) -> BusConfig {
    BusConfig {
        amqp_url: url,
        ca_file,
        exchange: "tls-check.events".into(),
        dead_letter_exchange: "tls-check.dlx".into(),
        queue_prefix: "tls-check.".into(),
        delivery_limit: 5,
        prefetch: 4,
    }
}

#[tokio::test]
async fn rabbitmq_over_verified_tls() {
    let certs = TestCerts::generate();
    let terminator = TlsTerminator::start(&certs, url_addr(&amqp_url(), 5672)).await;
    let url = format!("amqps://guest:guest@localhost:{}/%2f", terminator.addr.port());

    let connection =
        bus(url.clone(), Some(certs.path("ca.pem"))).connect("tls-check").await.expect("connects");
    let channel = connection.create_channel().await.expect("a channel");
    let options = QueueDeclareOptions { exclusive: true, auto_delete: true, ..Default::default() };
    let queue = channel.queue_declare("".into(), options, FieldTable::default()).await.expect("declares");
    channel
        .basic_publish(
            "".into(),
            queue.name().as_str().into(),
            BasicPublishOptions::default(),
            b"over TLS",
            BasicProperties::default(),
        )
        .await
        .expect("publishes");
    let got = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            if let Some(message) = channel
                .basic_get(queue.name().as_str().into(), lapin::options::BasicGetOptions { no_ack: true })
                .await
                .expect("gets")
            {
                return message.delivery.data.clone();
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("the message comes back");
    assert_eq!(got, b"over TLS");
    let _ = connection.close(200, "done".into()).await;

    assert!(bus(url.clone(), None).connect("tls-check").await.is_err(), "the test CA is not a built-in root");
    assert!(bus(url, Some(certs.path("other-ca.pem"))).connect("tls-check").await.is_err());
    let plain = bus(amqp_url(), Some(certs.path("ca.pem"))).connect("tls-check").await;
    let error = plain.expect_err("refused").to_string();
    assert!(error.contains("AMQP_CA_FILE") && error.contains("amqps://"), "{error}");
}

#[tokio::test]
async fn an_engine_runs_on_tls_only_datastores() {
    use budgetsmart_common::jwt::TokenSettings;
    use budgetsmart_common::keys::KeyMaterial;
    use budgetsmart_common::service::BackendConfig;
    use budgetsmart_proto::engine::v1::RegisterRequest;
    use budgetsmart_proto::engine::v1::auth_client::AuthClient;

    let certs = TestCerts::generate();
    let (postgres, redis) = (TlsPostgres::start(&certs).await, TlsRedis::start(&certs).await);
    let terminator = TlsTerminator::start(&certs, url_addr(&amqp_url(), 5672)).await;
    let ca = certs.path("ca.pem");
    let id = uuid::Uuid::now_v7().simple().to_string();
    let mut bus =
        bus(format!("amqps://guest:guest@localhost:{}/%2f", terminator.addr.port()), Some(ca.clone()));
    bus.exchange = format!("tls-{id}.events");
    bus.dead_letter_exchange = format!("tls-{id}.dlx");
    bus.queue_prefix = format!("tls-{id}.");
    let loopback = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    let tls = format!("sslmode=verify-full&sslrootcert={ca}");
    let backend = BackendConfig {
        grpc_addr: loopback,
        admin_addr: loopback,
        database_url: postgres.url(&tls).replace("/postgres?", "/budgetsmart?"),
        database_max_connections: 4,
        bus,
        keys: KeyMaterial::generate(),
        tokens: TokenSettings::default(),
        service_token: secrecy::SecretString::from(format!("tls-service-token-{id}")),
        retention: Default::default(),
    };
    let engine = engine::build(engine::EngineConfig {
        redis_ca_file: Some(ca.clone()),
        ..e2e::engine_config(backend, format!("rediss://localhost:{}", redis.port), format!("tls-{id}:"))
    })
    .await
    .expect("the engine starts with every datastore over TLS");
    let addr = engine.grpc_addr();
    let activity = engine.bus_activity();
    let shutdown = tokio_util::sync::CancellationToken::new();
    let running = tokio::spawn(engine.run(shutdown.clone()));

    // A registration writes PostgreSQL, and its user_registered event leaves by the relay. A
    // queue must be bound for it: the relay keeps an event no queue takes (`mandatory`).
    let witness_connection = lapin::Connection::connect(&amqp_url(), lapin::ConnectionProperties::default())
        .await
        .expect("broker");
    let witness_channel = witness_connection.create_channel().await.expect("channel");
    let exclusive =
        lapin::options::QueueDeclareOptions { exclusive: true, auto_delete: true, ..Default::default() };
    let witness =
        witness_channel.queue_declare("".into(), exclusive, Default::default()).await.expect("witness queue");
    witness_channel
        .queue_bind(
            witness.name().clone(),
            format!("tls-{id}.events").as_str().into(),
            "user_registered.v1".into(),
            Default::default(),
            Default::default(),
        )
        .await
        .expect("bound");
    let channel =
        tonic::transport::Endpoint::from_shared(format!("http://{addr}")).expect("a URL").connect_lazy();
    let request = RegisterRequest {
        email: format!("tls-{id}@example.com"),
        password: "correct horse battery staple".into(),
        name: "Tls".into(),
    };
    AuthClient::new(channel).register(request).await.expect("registers");
    let published = e2e::eventually(Duration::from_secs(10), || async {
        (activity.counts().published >= 1).then_some(())
    })
    .await;
    assert!(published.is_some(), "the event was published over amqps: {:?}", activity.counts());

    shutdown.cancel();
    let stopped = tokio::time::timeout(Duration::from_secs(15), running).await;
    assert!(matches!(stopped, Ok(Ok(Ok(())))), "stops cleanly: {stopped:?}");

    // Leave nothing on the shared broker.
    let connection = lapin::Connection::connect(&amqp_url(), lapin::ConnectionProperties::default())
        .await
        .expect("broker");
    let channel = connection.create_channel().await.expect("channel");
    for queue in [format!("tls-{id}.engine.events"), format!("tls-{id}.engine.events.dlq")] {
        let _ = channel.queue_delete(queue.as_str().into(), Default::default()).await;
    }
    for exchange in [format!("tls-{id}.events"), format!("tls-{id}.dlx")] {
        let _ = channel.exchange_delete(exchange.as_str().into(), Default::default()).await;
    }
}
