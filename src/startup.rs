//! [`Application::build`]: open the store, migrate, bind the listener (port 0
//! picks a free port; the bound address is logged and exposed for tests),
//! mount the routes, start the cache-invalidation listener (PostgreSQL), and
//! run until a signal.
//!
//! SIGTERM stops gracefully without cutting an accepted request (SPEC §4
//! "graceful shutdown"; see `Drain`): new connections are refused at once,
//! every response from then on carries `Connection: close` (RFC 9112 §9.6) so
//! clients on kept-alive connections get their answer and send nothing more
//! on them, and the workers stop once those connections have closed (at most
//! `server.shutdown_timeout_secs`). SIGINT and SIGQUIT stop at once.

use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use actix_web::dev::{Server, ServerHandle, ServiceRequest, ServiceResponse};
use actix_web::http::ConnectionType;
use actix_web::middleware::Next;
use actix_web::middleware::from_fn;
use actix_web::{App, HttpResponse, web};

use crate::configuration::{DatabaseUrl, Settings};
use crate::error::{self, AppError};
use crate::routes;
use crate::state::AppState;
use crate::store::Store;
use crate::store::notify::{Listener, Subscriber};
use crate::telemetry;

pub struct Application {
    address: SocketAddr,
    server: Server,
    state: web::Data<AppState>,
    /// PostgreSQL: this node's subscription to cache invalidations; it stops
    /// with the server.
    invalidations: Option<Listener>,
    drain: Arc<Drain>,
    /// A second handle on the listening socket, to refuse new connections
    /// while the server still runs (see `Drain::run`).
    listening_socket: TcpStream,
    grace: Duration,
    /// Delivers queued mail; stops after the server, finishing what it sends.
    outbox: crate::email::worker::OutboxWorker,
    /// Applies bulk-invite jobs; stops after the chunk in progress.
    jobs: crate::jobs::JobWorker,
    /// Re-fetches SAML metadata from its URL.
    metadata: crate::jobs::MetadataRefresher,
}

impl Application {
    pub async fn build(mut settings: Settings) -> anyhow::Result<Application> {
        if let Some((path, created)) = settings.sso.load_key_file()? {
            tracing::info!(
                file = %path.display(),
                created,
                "sso.secret_key is not set: IdP client secrets are sealed with the key in this file"
            );
        }
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
        if settings.email.outbox_key.generated {
            tracing::warn!(
                "email.outbox_key is not set: queued mail is sealed with a key of this process \
                 only and cannot be sent after a restart (set it for anything but a trial)"
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
        // A `TcpStream` over a duplicate of the listening socket: only used to
        // `shutdown(2)` it, which makes the kernel refuse new connections.
        let listening_socket = TcpStream::from(OwnedFd::from(listener.try_clone()?));
        tracing::info!(%address, "listening");
        let workers = settings.server.workers;
        let shutdown = settings.server.shutdown_timeout;
        let outbox = crate::email::worker::OutboxWorker::spawn(store.clone(), &settings)?;
        let jobs = crate::jobs::JobWorker::spawn(
            store.clone(),
            crate::email::Composer::new(&settings),
            outbox.waker(),
        );
        let metadata = crate::jobs::MetadataRefresher::spawn(store.clone(), &settings.sso);
        let state = web::Data::new(AppState::new(
            store,
            Arc::new(settings),
            outbox.waker(),
            jobs.waker(),
        ));
        let invalidations = match &state.settings.database.url {
            DatabaseUrl::Postgres(url) => {
                let shared: Arc<AppState> = state.clone().into_inner();
                let weak: Weak<dyn Subscriber> = Arc::downgrade(&shared) as Weak<dyn Subscriber>;
                Some(Listener::spawn(url.clone(), weak, state.listening.clone())?)
            }
            DatabaseUrl::Sqlite(_) => None,
        };
        let openapi = web::Data::new(routes::api::openapi());
        let app_state = state.clone();
        let drain = Arc::new(Drain::default());
        let drain_data = web::Data::from(drain.clone());
        let connections = drain.clone();
        let mut server = actix_web::HttpServer::new(move || {
            let max_body = app_state.settings.server.max_body_bytes;
            App::new()
                .wrap(from_fn(telemetry::request_telemetry))
                .wrap(from_fn(close_while_draining))
                .app_data(drain_data.clone())
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
                .configure(routes::pages::configure)
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
        .on_connect(move |_, data| {
            data.insert(connections.opened());
        })
        .disable_signals()
        .listen(listener)?
        .shutdown_timeout(shutdown.as_secs());
        if workers > 0 {
            server = server.workers(workers);
        }
        Ok(Application {
            address,
            server: server.run(),
            state,
            invalidations,
            drain,
            listening_socket,
            grace: shutdown,
            outbox,
            jobs,
            metadata,
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

    /// Serve until stopped through [`Application::handle`] or by a signal.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let Application {
            server,
            invalidations: _invalidations,
            drain,
            listening_socket,
            grace,
            outbox,
            jobs,
            metadata,
            ..
        } = self;
        let done = Self::serve(server, drain, listening_socket, grace).await;
        metadata.stop(grace).await;
        jobs.stop(grace).await;
        // Mail not yet claimed stays pending in the database for the next start.
        outbox.stop(grace).await;
        done
    }

    async fn serve(
        server: Server,
        drain: Arc<Drain>,
        listening_socket: TcpStream,
        grace: Duration,
    ) -> std::io::Result<()> {
        let handle = server.handle();
        let mut server = std::pin::pin!(server);
        let signal = tokio::select! {
            done = &mut server => return done,
            signal = stop_signal() => signal,
        };
        match signal {
            Ok(StopSignal::Graceful) => {
                // The server keeps running (and taking commands) while it drains.
                let (done, ()) =
                    tokio::join!(&mut server, drain.run(&handle, &listening_socket, grace));
                return done;
            }
            Ok(StopSignal::Immediate) => {
                tracing::info!("stopping at once (SIGINT/SIGQUIT)");
                drop(handle.stop(false));
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot watch for signals; stop via the handle only")
            }
        }
        server.await
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

enum StopSignal {
    /// SIGTERM.
    Graceful,
    /// SIGINT, SIGQUIT.
    Immediate,
}

async fn stop_signal() -> std::io::Result<StopSignal> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let mut quit = signal(SignalKind::quit())?;
    Ok(tokio::select! {
        _ = term.recv() => StopSignal::Graceful,
        _ = int.recv() => StopSignal::Immediate,
        _ = quit.recv() => StopSignal::Immediate,
    })
}

/// The graceful stop. actix-server's own (`ServerHandle::stop(true)`) cuts
/// requests: it tells every connection to close as soon as it is idle — a
/// request the client has just sent on a kept-alive connection is then
/// dropped unanswered — and a stopping worker drops connections accepted
/// just before. So the server is stopped in this order instead, and actix's
/// graceful stop only comes last, when no connection is left.
#[derive(Default)]
struct Drain {
    /// Set once the listener is closed: responses carry `Connection: close`.
    draining: AtomicBool,
    /// Open client connections: a [`ConnectionGuard`] lives in each
    /// connection's data and counts it down when the connection ends.
    open: Arc<AtomicUsize>,
}

/// Counts one open connection (see [`Drain`]).
struct ConnectionGuard(Arc<AtomicUsize>);

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// How long connections accepted just before the listener closed may take
/// to reach their worker.
const HANDOFF: Duration = Duration::from_millis(50);

impl Drain {
    fn opened(&self) -> ConnectionGuard {
        self.open.fetch_add(1, Ordering::SeqCst);
        ConnectionGuard(self.open.clone())
    }

    fn open(&self) -> usize {
        self.open.load(Ordering::SeqCst)
    }

    async fn run(&self, handle: &ServerHandle, listening_socket: &TcpStream, grace: Duration) {
        let started = Instant::now();
        tracing::info!(
            open_connections = self.open(),
            "SIGTERM: refusing new connections; open ones get `Connection: close`"
        );
        // 1. Refuse new connections (a closed port, not a reset after connect).
        //    On Linux, shutting down a listening socket stops it listening.
        //    The accept thread is paused first, or it would try to accept on
        //    the closed socket and log an error.
        handle.pause().await;
        tokio::time::sleep(Duration::from_millis(2)).await;
        if let Err(e) = listening_socket.shutdown(Shutdown::Read) {
            tracing::warn!(error = %e, "cannot close the listening socket early");
        }
        tokio::time::sleep(HANDOFF).await;
        // 2. Every response from now on closes its connection: a client on a
        //    kept-alive connection gets its answer and sends nothing more there.
        self.draining.store(true, Ordering::SeqCst);
        // 3. Wait for the connections to close: busy ones after their next
        //    response, idle ones at the keep-alive timeout.
        while self.open() > 0 && started.elapsed() < grace {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let left = self.open();
        if left == 0 {
            tracing::info!(elapsed = ?started.elapsed(), "all connections closed; stopping");
            drop(handle.stop(true));
        } else {
            tracing::warn!(
                open_connections = left,
                "grace period over; closing the rest"
            );
            drop(handle.stop(false));
        }
    }
}

/// Middleware: once the server drains, every response closes its connection.
async fn close_while_draining(
    req: ServiceRequest,
    next: Next<impl actix_web::body::MessageBody>,
) -> Result<ServiceResponse<impl actix_web::body::MessageBody>, actix_web::Error> {
    let drain = req.app_data::<web::Data<Drain>>().cloned();
    let mut res = next.call(req).await?;
    if drain.is_some_and(|d| d.draining.load(Ordering::SeqCst)) {
        res.response_mut()
            .head_mut()
            .set_connection_type(ConnectionType::Close);
    }
    Ok(res)
}
