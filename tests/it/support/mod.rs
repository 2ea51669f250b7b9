//! Shared test fixtures: databases on both backends, the running server.

pub mod app;
pub mod db;
pub mod smtp;

pub use app::TestApp;
pub use db::{Backend, TestDb};

/// Run a test body once per backend: `both_backends!(fn_a, fn_b)` makes
/// `postgres::fn_a`, `sqlite::fn_a`, …, each calling `fn_a(&TestDb)`.
#[macro_export]
macro_rules! store_suite {
    ($($name:ident),* $(,)?) => {
        mod postgres {
            $( #[test] fn $name() { let db = $crate::support::TestDb::postgres(); super::$name(&db); } )*
        }
        mod sqlite {
            $( #[test] fn $name() { let db = $crate::support::TestDb::sqlite(); super::$name(&db); } )*
        }
    };
}

/// Like `store_suite!` for async tests over the running server:
/// each `fn_a(Backend)` runs on both backends.
#[macro_export]
macro_rules! http_suite {
    ($($name:ident),* $(,)?) => {
        mod postgres {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { super::$name($crate::support::Backend::Postgres).await; } )*
        }
        mod sqlite {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { super::$name($crate::support::Backend::Sqlite).await; } )*
        }
    };
}
