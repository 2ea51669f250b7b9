//! The storage layer's one error type. Database errors are classified here so
//! that nothing above this layer inspects diesel errors.

use diesel::result::{DatabaseErrorKind, Error as DieselError};

/// Which uniqueness rule a write broke, read from the index name (PostgreSQL)
/// or the column list in the message (SQLite); both name the columns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UniqueField {
    UserName,
    Email,
    ExternalId,
    DisplayName,
    Slug,
    Name,
    Subject,
    Other(String),
}

impl UniqueField {
    fn classify(text: &str) -> UniqueField {
        let t = text.to_ascii_lowercase();
        if t.contains("user_name_lower") {
            UniqueField::UserName
        } else if t.contains("email_lower") {
            UniqueField::Email
        } else if t.contains("display_name_lower") {
            UniqueField::DisplayName
        } else if t.contains("external_id") {
            UniqueField::ExternalId
        } else if t.contains("slug") {
            UniqueField::Slug
        } else if t.contains("subject") {
            UniqueField::Subject
        } else if t.contains("name") {
            UniqueField::Name
        } else {
            UniqueField::Other(text.to_owned())
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    #[error("already exists ({0:?})")]
    Unique(UniqueField),
    /// An optimistic-concurrency check failed: the row changed since it was read.
    #[error("the record was changed by someone else")]
    VersionConflict,
    #[error("a referenced record does not exist: {0}")]
    ForeignKey(String),
    /// Transient: serialization failure, lock timeout, SQLite busy. Safe to retry.
    #[error("the database is busy: {0}")]
    Busy(String),
    /// No connection could be had (pool timeout, server down).
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    #[error("cannot connect to the database: {0}")]
    Connect(String),
    #[error("migration failed: {0}")]
    Migration(String),
    /// A stored value we cannot read back (bad JSON, unknown enum text).
    #[error("corrupt record: {0}")]
    Corrupt(String),
    #[error("database error: {0}")]
    Database(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl StoreError {
    pub fn corrupt(what: impl std::fmt::Display) -> Self {
        StoreError::Corrupt(what.to_string())
    }
}

impl From<DieselError> for StoreError {
    fn from(err: DieselError) -> Self {
        match err {
            DieselError::NotFound => StoreError::NotFound,
            DieselError::DatabaseError(kind, info) => {
                let message = info.message().to_owned();
                match kind {
                    DatabaseErrorKind::UniqueViolation => StoreError::Unique(
                        UniqueField::classify(info.constraint_name().unwrap_or(&message)),
                    ),
                    DatabaseErrorKind::ForeignKeyViolation => StoreError::ForeignKey(message),
                    DatabaseErrorKind::SerializationFailure => StoreError::Busy(message),
                    // The server went away (restart, pg_terminate_backend): a
                    // database that is unavailable, not a failure of ours.
                    DatabaseErrorKind::ClosedConnection
                    | DatabaseErrorKind::UnableToSendCommand => StoreError::Unavailable(message),
                    _ if is_connection_lost(&message) => StoreError::Unavailable(message),
                    _ if is_sqlite_locked(&message) => StoreError::Busy(format!(
                        "{message}: another process (a running `rollcall serve` beside the CLI, \
                         or the reverse) held the SQLite file's write lock for more than {} s; \
                         retry when it is idle",
                        super::SQLITE_BUSY_TIMEOUT.as_secs()
                    )),
                    _ if is_busy(&message) => StoreError::Busy(message),
                    _ => StoreError::Database(message),
                }
            }
            // COMMIT failed and so did the rollback after it: what counts is
            // why the commit failed (a lost connection is Unavailable).
            DieselError::RollbackErrorOnCommit { commit_error, .. } => {
                StoreError::from(*commit_error)
            }
            // The connection's transaction state is lost, mostly with the
            // connection itself; the pool discards such a connection.
            DieselError::BrokenTransactionManager => {
                StoreError::Unavailable("the database connection is in a broken state".to_owned())
            }
            DieselError::SerializationError(e) | DieselError::DeserializationError(e) => {
                StoreError::Corrupt(e.to_string())
            }
            other => StoreError::Database(other.to_string()),
        }
    }
}

/// SQLite's answer when `busy_timeout` ran out waiting for another
/// connection's write lock. Within the gateway every write goes through one
/// connection, so this comes from another process.
fn is_sqlite_locked(message: &str) -> bool {
    message.to_ascii_lowercase().contains("database is locked")
}

/// libpq's and PostgreSQL's texts for a connection that is gone. (diesel
/// usually reports these as `ClosedConnection`; the texts cover the rest.)
fn is_connection_lost(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    m.contains("terminating connection")
        || m.contains("server closed the connection unexpectedly")
        || m.contains("no connection to the server")
        || m.contains("connection to server was lost")
        || m.contains("could not receive data from server")
        || m.contains("could not send data to server")
        || m.contains("the database system is shutting down")
        || m.contains("the database system is starting up")
        || m.contains("the database system is in recovery mode")
}

fn is_busy(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    m.contains("database is locked")
        || m.contains("database table is locked")
        || m.contains("deadlock detected")
        || m.contains("lock timeout")
}

impl From<serde_json::Error> for StoreError {
    fn from(e: serde_json::Error) -> Self {
        StoreError::Corrupt(format!("stored JSON: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db_error(kind: DatabaseErrorKind, message: &str) -> DieselError {
        DieselError::DatabaseError(kind, Box::new(message.to_owned()))
    }

    #[test]
    fn a_lost_connection_is_unavailable_not_a_database_failure() {
        for (kind, message) in [
            (DatabaseErrorKind::ClosedConnection, "whatever libpq said"),
            (
                DatabaseErrorKind::Unknown,
                "terminating connection due to administrator command",
            ),
            (
                DatabaseErrorKind::Unknown,
                "server closed the connection unexpectedly\n\tThis probably means…",
            ),
            (
                DatabaseErrorKind::Unknown,
                "the database system is shutting down",
            ),
        ] {
            let e = StoreError::from(db_error(kind, message));
            assert!(matches!(e, StoreError::Unavailable(_)), "{message}: {e:?}");
        }
        let e = StoreError::from(db_error(
            DatabaseErrorKind::Unknown,
            "syntax error at or near",
        ));
        assert!(matches!(e, StoreError::Database(_)), "{e:?}");
    }

    #[test]
    fn a_locked_sqlite_file_says_who_holds_it() {
        let e = StoreError::from(db_error(DatabaseErrorKind::Unknown, "database is locked"));
        let StoreError::Busy(m) = e else {
            panic!("not Busy: {e:?}")
        };
        assert!(m.contains("another process"), "{m}");
    }

    #[test]
    fn classifies_both_backends_messages() {
        assert_eq!(
            UniqueField::classify("users_org_user_name_lower_key"),
            UniqueField::UserName
        );
        assert_eq!(
            UniqueField::classify("UNIQUE constraint failed: users.org_id, users.user_name_lower"),
            UniqueField::UserName
        );
        assert_eq!(
            UniqueField::classify("UNIQUE constraint failed: users.org_id, users.email_lower"),
            UniqueField::Email
        );
        assert_eq!(UniqueField::classify("orgs_slug_key"), UniqueField::Slug);
        assert_eq!(
            UniqueField::classify("groups_directory_display_name_lower_key"),
            UniqueField::DisplayName
        );
        assert_eq!(
            UniqueField::classify("users_directory_external_id_key"),
            UniqueField::ExternalId
        );
    }
}
