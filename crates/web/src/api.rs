//! JSON API handlers (`/api/v1`).

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::json;
use xinjian_store::subjects::SubjectQuery;

use crate::auth::Ctx;
use crate::error::WebError;
use crate::{blocking, AppState};

fn api<T>(r: Result<T, WebError>) -> Result<T, WebError> {
    r.map_err(|e| e.api(true))
}

pub async fn healthz(State(state): State<AppState>) -> Response {
    let app = state.app.clone();
    match blocking(move || Ok(app.db.conn()?.query_row("SELECT 1", &[])?)).await {
        Ok(_) => Json(json!({ "status": "ok", "database": state.app.db.backend().name(), "version": env!("CARGO_PKG_VERSION") })).into_response(),
        Err(_) => (axum::http::StatusCode::SERVICE_UNAVAILABLE, Json(json!({ "status": "unavailable" }))).into_response(),
    }
}

#[derive(Deserialize)]
pub struct Q {
    #[serde(default)]
    q: String,
    #[serde(default)]
    limit: Option<i64>,
    #[serde(default)]
    offset: Option<i64>,
}

/// `GET /api/v1/public/search?q=` → `[{code, name}]`.
pub async fn public_search(
    State(state): State<AppState>,
    Query(q): Query<Q>,
) -> Result<Response, WebError> {
    let app = state.app.clone();
    let limit = q.limit.unwrap_or(20);
    let rows = api(blocking(move || app.public_search(&q.q, limit)).await)?;
    let out: Vec<_> = rows
        .iter()
        .map(|s| json!({ "code": s.code, "name": s.name }))
        .collect();
    Ok(Json(out).into_response())
}

/// `GET /api/v1/public/subjects/{code}` → the subject's public information, its records
/// public today (`records`) and its current list memberships (`lists`).
pub async fn public_subject(
    State(state): State<AppState>,
    Path(code): Path<String>,
) -> Result<Response, WebError> {
    let app = state.app.clone();
    let s = api(blocking(move || app.public_subject_credit(&code)).await)?;
    Ok(Json(s).into_response())
}

pub async fn me(Extension(ctx): Extension<Ctx>) -> Result<Response, WebError> {
    let u = ctx
        .user()
        .ok_or_else(|| WebError::unauthenticated("请先登录").api(true))?;
    Ok(Json(json!({ "username": u.username, "role": u.role.as_str(), "department": u.department, "subject_code": u.subject_code })).into_response())
}

pub async fn subjects(
    State(state): State<AppState>,
    Extension(ctx): Extension<Ctx>,
    Query(q): Query<Q>,
) -> Result<Response, WebError> {
    let app = state.app.clone();
    let query = SubjectQuery {
        q: q.q,
        limit: q.limit.unwrap_or(50),
        offset: q.offset.unwrap_or(0),
        ..Default::default()
    };
    let page = api(blocking(move || app.search_subjects(&ctx.actor, &query)).await)?;
    Ok(Json(page).into_response())
}

pub async fn subject(
    State(state): State<AppState>,
    Extension(ctx): Extension<Ctx>,
    Path(code): Path<String>,
) -> Result<Response, WebError> {
    let app = state.app.clone();
    let s = api(blocking(move || app.subject(&ctx.actor, &code)).await)?;
    Ok(Json(s).into_response())
}

pub async fn subject_history(
    State(state): State<AppState>,
    Extension(ctx): Extension<Ctx>,
    Path(code): Path<String>,
) -> Result<Response, WebError> {
    let app = state.app.clone();
    let h = api(blocking(move || app.subject_history(&ctx.actor, &code)).await)?;
    Ok(Json(h).into_response())
}

pub async fn import_job(
    State(state): State<AppState>,
    Extension(ctx): Extension<Ctx>,
    Path(id): Path<i64>,
) -> Result<Response, WebError> {
    let app = state.app.clone();
    let job = api(blocking(move || app.import_job(&ctx.actor, id)).await)?;
    Ok(Json(job).into_response())
}

#[derive(Deserialize)]
pub struct AddQ {
    date: String,
    n: u32,
}

/// `GET /api/v1/calendar/add-workdays?date=YYYY-MM-DD&n=N` → `{date, n, result}`.
pub async fn add_workdays(
    State(state): State<AppState>,
    Query(q): Query<AddQ>,
) -> Result<Response, WebError> {
    let date = xinjian_core::dates::parse_date(&q.date)
        .map_err(|e| WebError::bad_request("date", e).api(true))?;
    let r = state
        .app
        .calendar()
        .add_workdays(date, q.n)
        .map_err(|e| WebError::from(xinjian_app::AppError::from(e)).api(true))?;
    Ok(
        Json(json!({ "date": date.to_string(), "n": q.n, "result": r.to_string() }))
            .into_response(),
    )
}

pub async fn audit_verify(
    State(state): State<AppState>,
    Extension(ctx): Extension<Ctx>,
) -> Result<Response, WebError> {
    let app = state.app.clone();
    let v = api(blocking(move || app.audit_verify(&ctx.actor)).await)?;
    Ok(Json(match v {
        xinjian_store::audit::Verification::Ok { entries, head_hash } => {
            json!({ "ok": true, "entries": entries, "head_hash": head_hash })
        }
        xinjian_store::audit::Verification::Broken { entry, fault } => {
            json!({ "ok": false, "entry": entry, "reason": fault.to_string() })
        }
    })
    .into_response())
}

#[derive(Deserialize)]
pub struct PersonLookup {
    #[serde(default)]
    id_number: String,
}

/// `POST /api/v1/subjects/lookup` — `{"id_number": "…"}` → `{"code": "Z…"}` of the natural
/// person registered with it, or 404. The number travels in the body, never the address, and
/// the lookup is audited.
pub async fn subject_lookup(
    State(state): State<AppState>,
    Extension(ctx): Extension<Ctx>,
    body: Result<Json<PersonLookup>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, WebError> {
    let Json(b) = body.map_err(|e| {
        WebError::bad_request("body", format!("请求体不是有效的 JSON：{e}")).api(true)
    })?;
    let app = state.app.clone();
    match api(blocking(move || app.lookup_person(&ctx.actor, &b.id_number)).await)? {
        Some(code) => Ok(Json(json!({ "code": code })).into_response()),
        None => Err(WebError::not_found("以该证件号码登记的自然人").api(true)),
    }
}

pub async fn subject_create(
    State(state): State<AppState>,
    Extension(ctx): Extension<Ctx>,
    body: Result<Json<crate::SubjectChange>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, WebError> {
    let Json(b) = body.map_err(|e| {
        WebError::bad_request("body", format!("请求体不是有效的 JSON：{e}")).api(true)
    })?;
    let app = state.app.clone();
    let s =
        api(blocking(move || app.create_subject_input(&ctx.actor, b.subject, &b.reason)).await)?;
    Ok((axum::http::StatusCode::CREATED, Json(s)).into_response())
}

pub async fn subject_update(
    State(state): State<AppState>,
    Extension(ctx): Extension<Ctx>,
    Path(code): Path<String>,
    body: Result<Json<crate::SubjectChange>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, WebError> {
    let Json(mut b) = body.map_err(|e| {
        WebError::bad_request("body", format!("请求体不是有效的 JSON：{e}")).api(true)
    })?;
    let version = b.version.ok_or_else(|| {
        WebError::bad_request("version", "须提供所依据的版本号 version").api(true)
    })?;
    if b.subject.code.trim().is_empty() {
        b.subject.code = code.clone();
    }
    let app = state.app.clone();
    let s = api(blocking(move || {
        app.update_subject_input(&ctx.actor, &code, b.subject, version, &b.reason)
    })
    .await)?;
    Ok(Json(s).into_response())
}
