//! Postgres pools: one schema per service, found through `search_path`.

use std::time::Duration;

use sqlx::PgPool;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

/// Connects a pool whose connections resolve unqualified names in `schema`, creating the
/// database first if it does not exist yet (a fresh local server has only `postgres`).
pub async fn connect(url: &str, schema: &str, max_connections: u32) -> anyhow::Result<PgPool> {
    ensure_database(url).await?;
    let options: PgConnectOptions = url
        .parse::<PgConnectOptions>()
        .map_err(|e| anyhow::anyhow!("DATABASE_URL is not a valid Postgres URL: {e}"))?
        .options([("search_path", schema)]);
    PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(5))
        .connect_with(options)
        .await
        .map_err(|e| anyhow::anyhow!("cannot reach PostgreSQL at DATABASE_URL: {e}"))
}

/// Applies the service's `migrator` inside `schema`, then common's own migrations (the event
/// tables: outbox, inbox, received events), each with its bookkeeping table in `schema`, so
/// services sharing a database never see each other's migration history.
///
/// Common's run after the service's: services older than them created the same tables in their
/// first migrations, which stay as applied history, and common's are written to be no-ops there.
pub async fn migrate(pool: &PgPool, migrator: Migrator, schema: &'static str) -> anyhow::Result<()> {
    run(pool, migrator, schema, "_sqlx_migrations").await?;
    run(pool, sqlx::migrate!("./migrations"), schema, "_sqlx_common_migrations").await
}

async fn run(pool: &PgPool, mut migrator: Migrator, schema: &'static str, table: &str) -> anyhow::Result<()> {
    migrator.create_schema(schema);
    migrator.dangerous_set_table_name(format!("{schema}.{table}"));
    migrator.run(pool).await.map_err(|e| anyhow::anyhow!("migrating schema {schema} ({table}): {e}"))?;
    Ok(())
}

async fn ensure_database(url: &str) -> anyhow::Result<()> {
    use sqlx::migrate::MigrateDatabase;
    let unreachable = |e: sqlx::Error| anyhow::anyhow!("cannot reach PostgreSQL at DATABASE_URL: {e}");
    if sqlx::Postgres::database_exists(url).await.map_err(unreachable)? {
        return Ok(());
    }
    // Several services may race to create it; losing that race is fine.
    if let Err(error) = sqlx::Postgres::create_database(url).await
        && !sqlx::Postgres::database_exists(url).await.map_err(unreachable)?
    {
        return Err(anyhow::anyhow!("cannot create the database named in DATABASE_URL: {error}"));
    }
    Ok(())
}
