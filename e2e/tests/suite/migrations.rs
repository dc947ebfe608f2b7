//! The event tables (outbox, inbox, received events) have one owner, common's migrations,
//! applied by every service after its own. Services older than them created the same tables in
//! their first migrations, which stay as applied history; this checks that every service's
//! schema ends with exactly the tables common defines, and that migrating again changes nothing.

use std::collections::BTreeSet;

use budgetsmart_common::database;
use e2e::admin_database_url;
use sqlx::PgPool;
use sqlx::migrate::Migrator;
use uuid::Uuid;

/// Every column (name, type, nullability, default) and index of the event tables in `schema`.
async fn event_tables(pool: &PgPool, schema: &str) -> BTreeSet<String> {
    let tables = ["outbox", "inbox", "received_events"];
    let columns: Vec<(String, String, String, String, Option<String>)> = sqlx::query_as(
        "SELECT table_name::text, column_name::text, data_type::text, is_nullable::text, column_default::text \
         FROM information_schema.columns WHERE table_schema = $1 AND table_name = ANY($2)",
    )
    .bind(schema)
    .bind(&tables[..])
    .fetch_all(pool)
    .await
    .expect("reads the columns");
    let indexes: Vec<(String, String)> = sqlx::query_as(
        "SELECT indexname::text, indexdef FROM pg_indexes WHERE schemaname = $1 AND tablename = ANY($2)",
    )
    .bind(schema)
    .bind(&tables[..])
    .fetch_all(pool)
    .await
    .expect("reads the indexes");
    let mut shape: BTreeSet<String> = columns.into_iter().map(|c| format!("{c:?}")).collect();
    shape.extend(
        indexes.into_iter().map(|(name, def)| format!("{name}: {}", def.replace(&format!("{schema}."), ""))),
    );
    shape
}

#[tokio::test]
async fn every_service_ends_with_the_event_tables_common_defines() {
    let name = format!("migrations_{}", Uuid::now_v7().simple());
    let base = admin_database_url();
    let url = format!("{}/{name}", &base[..base.rfind('/').expect("the URL names a database")]);

    // Common's migrations alone, in a schema of their own: the definition.
    let pool = database::connect(&url, "events_only", 2).await.expect("connects");
    database::migrate(&pool, sqlx::migrate!("../common/migrations"), "events_only").await.expect("migrates");
    let defined = event_tables(&pool, "events_only").await;
    assert_eq!(defined.iter().filter(|l| l.contains("_pkey")).count(), 3, "{defined:#?}");
    pool.close().await;

    let services: [(&'static str, Migrator); 3] = [
        ("engine", sqlx::migrate!("../engine/migrations")),
        ("analytics", sqlx::migrate!("../analytics/migrations")),
        ("notification", sqlx::migrate!("../notification/migrations")),
    ];
    for (schema, migrator) in services {
        let pool = database::connect(&url, schema, 2).await.expect("connects");
        database::migrate(&pool, migrator, schema).await.expect("migrates");
        assert_eq!(event_tables(&pool, schema).await, defined, "{schema} differs from common's definition");
        pool.close().await;
    }
    // Migrating again is a no-op: the bookkeeping of both migrators is in place.
    let pool = database::connect(&url, "engine", 2).await.expect("connects");
    database::migrate(&pool, sqlx::migrate!("../engine/migrations"), "engine").await.expect("migrates again");
    let applied: i64 = sqlx::query_scalar("SELECT count(*) FROM engine._sqlx_common_migrations")
        .fetch_one(&pool)
        .await
        .expect("common's bookkeeping is in the service's schema");
    assert_eq!(applied as usize, sqlx::migrate!("../common/migrations").migrations.len());
    pool.close().await;

    let admin = PgPool::connect(&base).await.expect("connects");
    let drop = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
    sqlx::query(sqlx::AssertSqlSafe(drop)).execute(&admin).await.expect("drops the test database");
    admin.close().await;
}
