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
                    _ if is_busy(&message) => StoreError::Busy(message),
                    _ => StoreError::Database(message),
                }
            }
            DieselError::SerializationError(e) | DieselError::DeserializationError(e) => {
                StoreError::Corrupt(e.to_string())
            }
            other => StoreError::Database(other.to_string()),
        }
    }
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
