//! Xinjian over HTTP: the JSON API under `/api/v1`, server-rendered pages in Chinese, static
//! assets. Handlers are thin: they parse input, call the `xinjian-app` use case on a blocking
//! thread, and render. Who may call what is decided once, in [`auth`], from [`routes::ROUTES`].

pub mod api;
pub mod auth;
pub mod credit;
pub mod error;
pub mod grading;
pub mod openapi;
pub mod pages;
pub mod routes;
pub mod templates;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;
use xinjian_app::App;

pub use error::WebError;

/// Largest upload accepted (import files); larger ones get a clear 413 message.
pub const MAX_UPLOAD_BYTES: usize = 100 * 1024 * 1024;

/// Shared state of every handler.
#[derive(Clone)]
pub struct AppState {
    pub app: App,
    pub templates: Arc<templates::Templates>,
    /// Set cookies with `Secure` (behind HTTPS).
    pub secure_cookies: bool,
}

/// Run a blocking use case off the async runtime.
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> xinjian_app::Result<T> + Send + 'static,
) -> Result<T, WebError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| WebError::internal(format!("任务中断：{e}")))?
        .map_err(WebError::from)
}

/// A subject entered or changed by staff: the page form and the JSON API
/// (`POST /api/v1/subjects`, `PUT /api/v1/subjects/{code}`) take the same fields.
#[derive(serde::Deserialize)]
pub struct SubjectChange {
    #[serde(flatten)]
    pub subject: xinjian_app::registry::SubjectInput,
    /// Why the subject is entered or changed (required for changes).
    #[serde(default)]
    pub reason: String,
    /// The version the change is based on: a stale version is a 409 conflict.
    #[serde(default)]
    pub version: Option<i64>,
}

/// Run a use case as the caller, on a blocking thread.
pub async fn call<T: Send + 'static>(
    state: &AppState,
    ctx: &auth::Ctx,
    f: impl FnOnce(&xinjian_app::App, &xinjian_app::Actor) -> xinjian_app::Result<T> + Send + 'static,
) -> Result<T, WebError> {
    let app = state.app.clone();
    let actor = ctx.actor.clone();
    blocking(move || f(&app, &actor)).await
}

/// The whole router. Every route registered here must appear in [`routes::ROUTES`]; the
/// auth middleware refuses (500, logged) a matched route that is missing from the table.
pub fn router(state: AppState) -> Router {
    let upload = Router::new()
        .route("/imports", post(pages::import_upload))
        .layer(DefaultBodyLimit::max(MAX_UPLOAD_BYTES));
    Router::new()
        // portal + public API
        .route("/", get(pages::portal_home))
        .route("/search", get(pages::portal_search))
        .route("/s/{code}", get(credit::portal_subject))
        .route("/public/penalties", get(credit::portal_penalties))
        .route("/public/licenses", get(credit::portal_licenses))
        .route("/public/lists/{list}", get(credit::portal_list))
        .route("/public/catalog", get(credit::portal_catalog))
        .route("/api/v1/public/catalog", get(credit::api_public_catalog))
        .route("/healthz", get(api::healthz))
        .route("/static/{file}", get(pages::static_file))
        .route("/api/v1/openapi.json", get(openapi::document))
        .route("/api/v1/public/search", get(api::public_search))
        .route("/api/v1/public/subjects/{code}", get(api::public_subject))
        // login
        .route("/login", get(pages::login_page).post(pages::login_submit))
        .route("/logout", post(pages::logout))
        .route("/api/v1/me", get(api::me))
        // workspace
        .route("/workspace", get(pages::workspace))
        .route(
            "/subjects",
            get(pages::subjects).post(pages::subject_create),
        )
        .route("/subjects/new", get(pages::subject_new))
        .route("/subjects/lookup", post(pages::subject_lookup))
        .route(
            "/subjects/{code}",
            get(pages::subject_detail).post(pages::subject_update),
        )
        .route("/subjects/{code}/edit", get(pages::subject_edit))
        .route("/subjects/{code}/reveal", post(pages::subject_reveal))
        .route("/my", get(pages::my_subject))
        .route("/imports", get(pages::imports_page))
        .merge(upload)
        .route("/imports/template.xlsx", get(pages::import_template))
        .route("/imports/demo-messy.csv", get(pages::import_demo_file))
        .route(
            "/imports/demo-penalties.csv",
            get(pages::import_demo_penalties),
        )
        .route("/imports/{id}", get(pages::import_detail))
        .route("/imports/{id}/errors.xlsx", get(pages::import_errors_xlsx))
        .route("/quality", get(pages::quality))
        .route(
            "/records",
            get(credit::records_page).post(credit::record_create),
        )
        .route("/records/new", get(credit::record_new))
        .route("/records/{id}", get(credit::record_detail))
        .route("/records/{id}/change", post(credit::record_change))
        .route("/publicity", get(credit::publicity_page))
        .route("/publicity/export.xlsx", get(credit::publicity_export))
        .route("/lists", get(credit::lists_page).post(credit::list_enter))
        .route("/lists/{id}/exit", post(credit::list_exit))
        .route("/catalog", get(credit::catalog_page))
        .route("/catalog/kinds", post(credit::catalog_kind_save))
        .route("/catalog/categories", post(credit::catalog_category_save))
        .route("/grades", get(grading::grades_page))
        .route("/grades/run", post(grading::grades_run))
        .route("/grades/export.xlsx", get(grading::grades_export))
        .route("/grades/rules", post(grading::rules_save))
        .route("/export", get(credit::export_page))
        .route("/export/download", get(credit::export_download))
        .route(
            "/admin/users",
            get(pages::users_page).post(pages::user_create),
        )
        .route("/admin/users/{id}/active", post(pages::user_active))
        .route("/admin/users/{id}/password", post(pages::user_password))
        .route("/admin/users/{id}/tokens", post(pages::token_issue))
        .route("/admin/tokens/{id}/revoke", post(pages::token_revoke))
        .route("/admin/audit", get(pages::audit_page))
        .route(
            "/admin/calendar",
            get(pages::calendar_page).post(pages::calendar_upload),
        )
        // staff / department API
        .route(
            "/api/v1/subjects",
            get(api::subjects).post(api::subject_create),
        )
        .route("/api/v1/subjects/lookup", post(api::subject_lookup))
        .route(
            "/api/v1/subjects/{code}",
            get(api::subject).put(api::subject_update),
        )
        .route("/api/v1/subjects/{code}/history", get(api::subject_history))
        .route("/api/v1/imports/{id}", get(api::import_job))
        .route(
            "/api/v1/records",
            get(credit::api_records_get).post(credit::api_records_post),
        )
        .route("/api/v1/records/{id}", get(credit::api_record))
        .route("/api/v1/publicity", get(credit::api_publicity))
        .route("/api/v1/subjects/{code}/grade", get(grading::api_grade))
        .route(
            "/api/v1/subjects/{code}/credit",
            get(credit::api_subject_credit),
        )
        .route("/api/v1/calendar/add-workdays", get(api::add_workdays))
        .route("/api/v1/audit/verify", get(api::audit_verify))
        .fallback(error::not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::authorize,
        ))
        .layer(DefaultBodyLimit::max(1024 * 1024))
        .layer(tower_http::compression::CompressionLayer::new())
        .layer(axum::middleware::from_fn(error::security_headers))
        .with_state(state)
}

/// Serve on a bound listener until the task is dropped (benchmarks).
pub async fn serve_on(app: App, listener: tokio::net::TcpListener) -> std::io::Result<()> {
    let state = AppState {
        app,
        templates: Arc::new(templates::Templates::new()),
        secure_cookies: false,
    };
    axum::serve(listener, router(state)).await
}

/// Bind and serve until Ctrl-C. `on_ready` receives the bound address (port 0 → real port).
pub async fn serve(
    app: App,
    addr: SocketAddr,
    on_ready: impl FnOnce(SocketAddr),
) -> std::io::Result<()> {
    let state = AppState {
        app,
        templates: Arc::new(templates::Templates::new()),
        secure_cookies: false,
    };
    let listener = tokio::net::TcpListener::bind(addr).await?;
    on_ready(listener.local_addr()?);
    axum::serve(listener, router(state))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
}
