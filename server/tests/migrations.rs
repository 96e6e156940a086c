//! The SQLite and PostgreSQL migrations must build the same schema: the same tables, the same
//! columns with the same nullability, and the same named indexes. Column types differ by dialect
//! on purpose (`INTEGER` against `BIGINT`...) and are not compared.

use sqlx::Row;
use std::collections::BTreeSet;
use testkit::{database, Backend};

/// `table.column` with `NOT NULL` or `NULL`, and `index name ON table`, one entry each.
#[derive(Debug, Default, PartialEq)]
struct Schema {
    tables: BTreeSet<String>,
    columns: BTreeSet<String>,
    indexes: BTreeSet<String>,
}

fn column(table: &str, name: &str, not_null: bool) -> String {
    format!("{table}.{name} {}", if not_null { "NOT NULL" } else { "NULL" })
}

async fn sqlite_schema() -> Schema {
    let t = database(Backend::Sqlite).await;
    let pool = t.db.read();
    let mut schema = Schema::default();
    // A primary key never holds NULL in the shop, whatever SQLite's `notnull` says of it.
    let rows = sqlx::query(
        "SELECT m.name AS tbl, p.name AS col, p.\"notnull\" AS not_null, p.pk AS pk \
         FROM sqlite_master m JOIN pragma_table_info(m.name) p \
         WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name <> '_sqlx_migrations'",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    for r in rows {
        let (table, name): (String, String) = (r.get("tbl"), r.get("col"));
        let not_null = r.get::<i64, _>("not_null") != 0 || r.get::<i64, _>("pk") != 0;
        schema.tables.insert(table.clone());
        schema.columns.insert(column(&table, &name, not_null));
    }
    // Indexes the migrations name (automatic ones, for keys and UNIQUE, have no SQL).
    let rows = sqlx::query(
        "SELECT name, tbl_name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL \
         AND tbl_name <> '_sqlx_migrations'",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    for r in rows {
        schema.indexes.insert(format!("{} ON {}", r.get::<String, _>("name"), r.get::<String, _>("tbl_name")));
    }
    schema
}

async fn postgres_schema() -> Schema {
    let t = database(Backend::Postgres).await;
    let pool = t.db.read();
    let mut schema = Schema::default();
    let rows = sqlx::query(
        "SELECT c.table_name::text AS tbl, c.column_name::text AS col, c.is_nullable::text AS nullable \
         FROM information_schema.columns c JOIN information_schema.tables t \
           ON t.table_schema = c.table_schema AND t.table_name = c.table_name \
         WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE' \
           AND c.table_name <> '_sqlx_migrations'",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    for r in rows {
        let (table, name, nullable): (String, String, String) = (r.get("tbl"), r.get("col"), r.get("nullable"));
        schema.tables.insert(table.clone());
        schema.columns.insert(column(&table, &name, nullable == "NO"));
    }
    // Indexes the migrations name (those behind a primary key or UNIQUE carry the constraint's name).
    let rows = sqlx::query(
        "SELECT indexname::text AS name, tablename::text AS tbl FROM pg_indexes \
         WHERE schemaname = current_schema() AND tablename <> '_sqlx_migrations' \
           AND indexname NOT IN (SELECT conname FROM pg_constraint)",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    for r in rows {
        schema.indexes.insert(format!("{} ON {}", r.get::<String, _>("name"), r.get::<String, _>("tbl")));
    }
    schema
}

/// What one side has and the other lacks, for the failure message.
fn only_in(a: &BTreeSet<String>, b: &BTreeSet<String>) -> Vec<String> {
    a.difference(b).cloned().collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_and_postgres_migrations_build_the_same_schema() {
    let (sqlite, postgres) = (sqlite_schema().await, postgres_schema().await);
    assert!(sqlite.tables.len() >= 10, "the migrations ran: {:?}", sqlite.tables);
    for (what, s, p) in [
        ("tables", &sqlite.tables, &postgres.tables),
        ("columns", &sqlite.columns, &postgres.columns),
        ("indexes", &sqlite.indexes, &postgres.indexes),
    ] {
        assert!(
            s == p,
            "{what} differ:\n  only in SQLite: {:?}\n  only in PostgreSQL: {:?}",
            only_in(s, p),
            only_in(p, s)
        );
    }
}
