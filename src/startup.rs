//! [`Application::build`]: open the store, migrate, bind the listener (port 0
//! picks a free port; the bound address is logged and exposed for tests),
//! mount the routes, and run until SIGTERM/SIGINT (graceful: in-flight
//! requests get `server.shutdown_timeout_secs` to finish).

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;

use actix_web::dev::{Server, ServerHandle};
use actix_web::middleware::from_fn;
use actix_web::{App, HttpResponse, web};

use crate::configuration::Settings;
use crate::error::{self, AppError};
use crate::routes;
use crate::state::AppState;
use crate::store::Store;
use crate::telemetry;

pub struct Application {
    address: SocketAddr,
    server: Server,
    state: web::Data<AppState>,
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Application> {
        let db = settings.database.clone();
        let store = tokio::task::spawn_blocking(move || -> anyhow::Result<Store> {
            let store = Store::open(&db)?;
            let applied = store.migrate()?;
            if !applied.is_empty() {
                tracing::info!(migrations = ?applied, "applied database migrations");
            }
            Ok(store)
        })
        .await??;
        tracing::info!(database = %settings.database.url.redacted(), "database ready");
        if settings.scim.cursor_key.generated {
            tracing::warn!(
                "scim.cursor_key is not set: SCIM paging cursors are signed with a key of this \
                 process only (set the same key on every node behind a load balancer)"
            );
        }
        Self::with_store(settings, store)
    }

    /// Serve an already opened and migrated store.
    pub fn with_store(settings: Settings, store: Store) -> anyhow::Result<Application> {
        let listener = TcpListener::bind((settings.server.host.as_str(), settings.server.port))
            .map_err(|e| {
                anyhow::anyhow!(
                    "cannot listen on {}:{}: {e}",
                    settings.server.host,
                    settings.server.port
                )
            })?;
        let address = listener.local_addr()?;
        tracing::info!(%address, "listening");
        let workers = settings.server.workers;
        let shutdown = settings.server.shutdown_timeout;
        let state = web::Data::new(AppState::new(store, Arc::new(settings)));
        let openapi = web::Data::new(routes::api::openapi());
        let app_state = state.clone();
        let mut server = actix_web::HttpServer::new(move || {
            let max_body = app_state.settings.server.max_body_bytes;
            App::new()
                .wrap(from_fn(telemetry::request_telemetry))
                .app_data(app_state.clone())
                .app_data(openapi.clone())
                .app_data(
                    web::JsonConfig::default()
                        .limit(max_body)
                        .error_handler(error::json_error_handler),
                )
                .app_data(web::QueryConfig::default().error_handler(error::query_error_handler))
                .app_data(web::PathConfig::default().error_handler(error::path_error_handler))
                .app_data(web::PayloadConfig::new(max_body))
                .service(routes::health::healthz)
                .service(routes::health::readyz)
                .route("/api/v1/openapi.json", web::get().to(serve_openapi))
                .configure(routes::scim::configure)
                .service(
                    web::scope("/api/v1")
                        .wrap(from_fn(crate::state::forget_org_after_write))
                        .configure(|cfg| {
                            routes::api::configure(
                                &mut utoipa_actix_web::service_config::ServiceConfig::new(cfg),
                            )
                        }),
                )
                .default_service(web::to(not_found))
        })
        .listen(listener)?
        .shutdown_timeout(shutdown.as_secs());
        if workers > 0 {
            server = server.workers(workers);
        }
        Ok(Application {
            address,
            server: server.run(),
            state,
        })
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    pub fn state(&self) -> web::Data<AppState> {
        self.state.clone()
    }

    /// Stop the server from elsewhere (tests, signal handlers).
    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}

async fn serve_openapi(doc: web::Data<utoipa::openapi::OpenApi>) -> HttpResponse {
    HttpResponse::Ok().json(doc.get_ref())
}

async fn not_found(req: actix_web::HttpRequest) -> Result<HttpResponse, AppError> {
    Err(AppError::NotFound(format!(
        "no route for {} {}",
        req.method(),
        req.path()
    )))
}
