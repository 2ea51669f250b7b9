//! Embedded migrations, one tree per backend with identical names
//! (`migrations/postgres`, `migrations/sqlite`; see `migrations/README.md`).

use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use super::{DbConnection, StoreError};

const POSTGRES: EmbeddedMigrations = embed_migrations!("migrations/postgres");
const SQLITE: EmbeddedMigrations = embed_migrations!("migrations/sqlite");

/// Apply what is pending on this connection's backend; returns the names applied.
pub fn run_pending(conn: &mut DbConnection) -> Result<Vec<String>, StoreError> {
    let applied = match conn {
        DbConnection::Pg(c) => c.run_pending_migrations(POSTGRES).map(names),
        DbConnection::Sqlite(c) => c.run_pending_migrations(SQLITE).map(names),
    };
    applied.map_err(|e| StoreError::Migration(e.to_string()))
}

fn names(versions: Vec<diesel::migration::MigrationVersion<'_>>) -> Vec<String> {
    versions.into_iter().map(|v| v.to_string()).collect()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::Path;

    fn tree(backend: &str) -> BTreeSet<String> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("migrations")
            .join(backend);
        std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap())
            .filter(|e| e.path().is_dir())
            .map(|e| {
                for f in ["up.sql", "down.sql"] {
                    assert!(e.path().join(f).is_file(), "{:?} lacks {f}", e.path());
                }
                e.file_name().to_string_lossy().into_owned()
            })
            .collect()
    }

    #[test]
    fn both_backends_list_the_same_migrations() {
        let pg = tree("postgres");
        let sqlite = tree("sqlite");
        assert!(!pg.is_empty());
        assert_eq!(
            pg, sqlite,
            "migrations/postgres and migrations/sqlite must match"
        );
    }
}
