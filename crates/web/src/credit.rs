//! Credit information over HTTP: the portal pages of records, lists and the catalog; the
//! staff pages of records, publication, lists, catalog and export; the credit API.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form, Json};
use serde::Deserialize;
use serde_json::{json, Value};
use xinjian_app::credit::{ExportFormat, ExportWhat, ListEntryInput, RecordAction, RecordInput};
use xinjian_core::credit::{CatalogKind, CategoryRule, ListType, Nature, Period, Severity};
use xinjian_core::role::Permission;
use xinjian_store::credit::RecordQuery;

use crate::auth::Ctx;
use crate::error::WebError;
use crate::pages::{file_download, render, show_refusal, XLSX_TYPE};
use crate::{blocking, call, AppState};

const PAGE: i64 = 50;

fn day(s: &str, field: &str) -> Result<Option<chrono::NaiveDate>, WebError> {
    if s.trim().is_empty() {
        return Ok(None);
    }
    xinjian_core::dates::parse_date(s)
        .map(Some)
        .map_err(|e| WebError::bad_request(field, e))
}

fn list_types() -> Vec<Value> {
    ListType::ALL
        .iter()
        .map(|l| json!({ "code": l.as_str(), "name": l.label() }))
        .collect()
}

fn list_type(s: &str) -> Result<ListType, WebError> {
    ListType::parse(s).ok_or_else(|| WebError::not_found("名单"))
}

// ---------- portal ----------

pub async fn portal_subject(
    State(state): State<AppState>,
    Extension(ctx): Extension<Ctx>,
    Path(code): Path<String>,
) -> Result<Response, WebError> {
    let app = state.app.clone();
    let s = blocking(move || app.public_subject_credit(&code)).await?;
    render(&state, "portal_subject.html", &ctx, json!({ "s": s }))
}

#[derive(Deserialize)]
pub struct PageQuery {
    #[serde(default)]
    page: Option<i64>,
}

async fn portal_records(
    state: AppState,
    ctx: Ctx,
    kind: &'static str,
    title: &'static str,
    q: PageQuery,
) -> Result<Response, WebError> {
    let page = q.page.unwrap_or(1).max(1);
    let app = state.app.clone();
    let rows = blocking(move || app.latest_public_records(kind, PAGE, (page - 1) * PAGE)).await?;
    let items: Vec<Value> = rows
        .into_iter()
        .map(|(code, name, r)| json!({ "code": code, "name": name, "r": r }))
        .collect();
    let more = items.len() as i64 == PAGE;
    render(
        &state,
        "portal_records.html",
        &ctx,
        json!({ "title": title, "kind": kind, "items": items, "page": page, "more": more }),
    )
}

pub async fn portal_penalties(
    State(state): State<AppState>,
    Extension(ctx): Extension<Ctx>,
    Query(q): Query<PageQuery>,
) -> Result<Response, WebError> {
    portal_records(state, ctx, "penalty", "行政处罚公示", q).await
}

pub async fn portal_licenses(
    State(state): State<AppState>,
    Extension(ctx): Extension<Ctx>,
    Query(q): Query<PageQuery>,
) -> Result<Response, WebError> {
    portal_records(state, ctx, "license", "行政许可公示", q).await
}

pub async fn portal_list(
    State(state): State<AppState>,
    Extension(ctx): Extension<Ctx>,
    Path(list): Path<String>,
    Query(q): Query<PageQuery>,
) -> Result<Response, WebError> {
    let list = list_type(&list)?;
    let page = q.page.unwrap_or(1).max(1);
    let app = state.app.clone();
    let (items, total) = blocking(move || app.list_members(list, PAGE, (page - 1) * PAGE)).await?;
    // The public sees the public fields of an entry only.
    let items: Vec<Value> = items
        .into_iter()
        .map(|e| json!({ "code": e.subject_code, "name": e.subject_name, "e": e.public }))
        .collect();
    render(
        &state,
        "portal_list.html",
        &ctx,
        json!({ "list": list.as_str(), "title": list.label(), "items": items, "total": total, "page": page,
                "pages": (total + PAGE - 1) / PAGE, "lists": list_types() }),
    )
}

pub async fn portal_catalog(
    State(state): State<AppState>,
    Extension(ctx): Extension<Ctx>,
) -> Result<Response, WebError> {
    let app = state.app.clone();
    let (kinds, rules) = blocking(move || Ok((app.catalog()?, app.severity_rules()?))).await?;
    render(
        &state,
        "portal_catalog.html",
        &ctx,
        json!({ "kinds": catalog_rows(&kinds), "rules": rules_rows(&rules) }),
    )
}

fn catalog_rows(kinds: &[CatalogKind]) -> Vec<Value> {
    kinds
        .iter()
        .map(|k| {
            let periods: Vec<Value> = ["minor", "general", "serious", "none"]
                .iter()
                .filter_map(|key| {
                    k.periods.get(*key).map(|p| {
                        json!({ "key": key,
                                "label": Severity::parse(key).map(|s| s.label()).unwrap_or("—"),
                                "min": p.min_months, "max": p.max_months })
                    })
                })
                .collect();
            json!({ "code": k.code, "name": k.name, "nature": k.nature.as_str(), "nature_label": k.nature.label(),
                    "default_severity": k.default_severity.map(|s| s.as_str()),
                    "default_severity_label": k.default_severity.map(|s| s.label()),
                    "is_public": k.is_public, "publish_workdays": k.publish_workdays, "periods": periods })
        })
        .collect()
}

fn rules_rows(rules: &[CategoryRule]) -> Vec<Value> {
    let mut rows: Vec<&CategoryRule> = rules.iter().collect();
    rows.sort_by_key(|r| (r.severity, r.category.clone()));
    rows.iter()
        .map(|r| json!({ "category": r.category, "severity": r.severity.as_str(), "severity_label": r.severity.label(),
                         "revokes": r.revokes_business_licence }))
        .collect()
}

pub async fn api_public_catalog(State(state): State<AppState>) -> Result<Response, WebError> {
    let app = state.app.clone();
    let kinds = blocking(move || app.catalog())
        .await
        .map_err(|e| e.api(true))?;
    Ok(Json(kinds).into_response())
}

// ---------- staff: records ----------

#[derive(Deserialize, Default)]
pub struct RecordsQuery {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    held: Option<String>,
    #[serde(default)]
    page: Option<i64>,
}

pub async fn records_page(
    State(state): State<AppState>,
    Extension(ctx): Extension<Ctx>,
    Query(q): Query<RecordsQuery>,
) -> Result<Response, WebError> {
    let page = q.page.unwrap_or(1).max(1);
    let query = RecordQuery {
        kind: (!q.kind.is_empty()).then(|| q.kind.clone()),
        subject_code: (!q.code.trim().is_empty()).then(|| xinjian_core::uscc::normalize(&q.code)),
        held_only: q.held.is_some(),
        limit: PAGE,
        offset: (page - 1) * PAGE,
    };
    let (rows, total, kinds) = call(&state, &ctx, move |app, actor| {
        let (rows, total) = app.records(actor, &query)?;
        Ok((rows, total, app.catalog()?))
    })
    .await?;
    let pages = (total + PAGE - 1) / PAGE;
    let link = |p: i64| {
        format!(
            "/records?kind={}&code={}{}&page={p}",
            q.kind,
            q.code,
            if q.held.is_some() { "&held=1" } else { "" }
        )
    };
    render(
        &state,
        "records.html",
        &ctx,
        json!({ "rows": rows, "total": total, "kinds": catalog_rows(&kinds), "kind": q.kind, "code": q.code,
                "held": q.held.is_some(), "pageno": page, "pages": pages.max(1),
                "prev": (page > 1).then(|| link(page - 1)), "next": (page < pages).then(|| link(page + 1)),
                "can_write": ctx.actor.can(Permission::CreditWrite) }),
    )
}

async fn record_page(
    state: &AppState,
    ctx: &Ctx,
    id: i64,
    extra: Value,
) -> Result<Response, WebError> {
    let (r, versions) = call(state, ctx, move |app, actor| app.record(actor, id)).await?;
    let versions: Vec<Value> = versions
        .iter()
        .rev()
        .map(|v| {
            json!({ "version": v.version, "status_label": v.state.status.label(), "held": v.state.held,
                    "published_on": v.state.published_on, "publicity_until": v.state.publicity_until,
                    "source": xinjian_app::registry::source_label(&v.source),
                    "actor": xinjian_app::registry::actor_label(&v.actor),
                    "reason": v.reason, "at": xinjian_app::accounts::format_local(&v.created_at) })
        })
        .collect();
    let mut v = json!({ "r": r, "versions": versions, "can_write": ctx.actor.can(Permission::CreditWrite) });
    if let (Some(o), Value::Object(e)) = (v.as_object_mut(), extra) {
        o.extend(e);
    }
    render(state, "record_detail.html", ctx, v)
}

pub async fn record_detail(
    State(state): State<AppState>,
    Extension(ctx): Extension<Ctx>,
    Path(id): Path<i64>,
) -> Result<Response, WebError> {
    record_page(&state, &ctx, id, json!({})).await
}

#[derive(Deserialize)]
pub struct ChangeForm {
    version: i64,
    action: RecordAction,
    #[serde(default)]
    reason: String,
}

pub async fn record_change(
    State(state): State<AppState>,
    Extension(ctx): Extension<Ctx>,
    Path(id): Path<i64>,
    Form(f): Form<ChangeForm>,
) -> Result<Response, WebError> {
    let r = call(&state, &ctx, move |app, actor| {
        app.change_record(actor, id, f.version, f.action, &f.reason)
    })
    .await;
    match r {
        Ok(_) => Ok(Redirect::to(&format!("/records/{id}")).into_response()),
        Err(e) => show_refusal(e, |flash| record_page(&state, &ctx, id, flash)).await,
    }
}

pub async fn record_new(
    State(state): State<AppState>,
    Extension(ctx): Extension<Ctx>,
) -> Result<Response, WebError> {
    render(
        &state,
        "record_form.html",
        &ctx,
        json!({ "f": RecordInput { kind: "penalty".into(), ..Default::default() } }),
    )
}

pub struct RecordForm {
    input: RecordInput,
    hold: Option<String>,
}

pub async fn record_create(
    State(state): State<AppState>,
    Extension(ctx): Extension<Ctx>,
    Form(f): Form<RecordFormRaw>,
) -> Result<Response, WebError> {
    let f = f.into_form();
    let input = f.input.clone();
    let hold = f.hold.is_some();
    let res = call(&state, &ctx, move |app, actor| {
        app.submit_records(actor, &[input], hold)
    })
    .await?;
    if let Some(e) = res.errors.first() {
        // The ID number is never echoed back to the browser.
        let mut echo = f.input.clone();
        echo.person_id.clear();
        let mut r = render(
            &state,
            "record_form.html",
            &ctx,
            json!({ "f": echo, "hold": hold, "flash": format!("{}：{}", field_label(&e.field), e.reason), "flash_kind": "error" }),
        )?;
        *r.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
        return Ok(r);
    }
    let code = xinjian_core::uscc::normalize(&f.input.code);
    if code.is_empty() {
        // A natural person's record: the person's key was given on storing.
        return Ok(Redirect::to("/records").into_response());
    }
    Ok(Redirect::to(&format!("/records?code={code}")).into_response())
}

/// The form as posted (the `_csrf` field and the rest, all strings).
#[derive(Deserialize)]
pub struct RecordFormRaw {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    person_id: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    document_number: String,
    #[serde(default)]
    decision_date: String,
    #[serde(default)]
    categories: String,
    #[serde(default)]
    severity: String,
    #[serde(default)]
    authority: String,
    #[serde(default)]
    content: String,
    #[serde(default)]
    facts: String,
    #[serde(default)]
    basis: String,
    #[serde(default)]
    fine_amount: String,
    #[serde(default)]
    certificate_name: String,
    #[serde(default)]
    license_number: String,
    #[serde(default)]
    valid_from: String,
    #[serde(default)]
    valid_to: String,
    #[serde(default)]
    source_department: String,
    #[serde(default)]
    hold: Option<String>,
}

impl RecordFormRaw {
    fn into_form(self) -> RecordForm {
        RecordForm {
            input: RecordInput {
                kind: self.kind,
                code: self.code,
                person_id: self.person_id,
                name: self.name,
                document_number: self.document_number,
                decision_date: self.decision_date,
                categories: self.categories,
                severity: self.severity,
                authority: self.authority,
                content: self.content,
                facts: self.facts,
                basis: self.basis,
                fine_amount: self.fine_amount,
                certificate_name: self.certificate_name,
                license_number: self.license_number,
                valid_from: self.valid_from,
                valid_to: self.valid_to,
                source_department: self.source_department,
            },
            hold: self.hold,
        }
    }
}

fn field_label(f: &str) -> &str {
    match f {
        "code" => "统一社会信用代码",
        "person_id" => "证件号码",
        "name" => "行政相对人名称",
        "document_number" => "决定文书号",
        "decision_date" => "决定日期",
        "categories" => "类别",
        "severity" => "失信严重程度",
        "fine_amount" => "罚款金额（万元）",
        "valid_from" => "有效期自",
        "valid_to" => "有效期至",
        "kind" => "信息类别",
        other => other,
    }
}

// ---------- staff: publication ----------

#[derive(Deserialize)]
pub struct AsOfQuery {
    #[serde(default)]
    as_of: String,
    #[serde(default)]
    page: Option<usize>,
}

/// Rows of the publication report on one page.
const REPORT_PAGE: usize = 100;

pub async fn publicity_page(
    State(state): State<AppState>,
    Extension(ctx): Extension<Ctx>,
    Query(q): Query<AsOfQuery>,
) -> Result<Response, WebError> {
    let as_of = day(&q.as_of, "as_of")?.unwrap_or_else(xinjian_app::today);
    let late_since = publicity_late_since(as_of);
    let rows = call(&state, &ctx, move |app, actor| {
        app.publicity_report_since(actor, as_of, Some(late_since))
    })
    .await?;
    let counts = xinjian_app::credit::publicity_counts(&rows);
    let total = rows.len();
    let pages = total.div_ceil(REPORT_PAGE).max(1);
    let page = q.page.unwrap_or(1).clamp(1, pages);
    let shown: Vec<_> = rows
        .into_iter()
        .skip((page - 1) * REPORT_PAGE)
        .take(REPORT_PAGE)
        .collect();
    let link = |p: usize| format!("/publicity?as_of={as_of}&page={p}");
    render(
        &state,
        "publicity.html",
        &ctx,
        json!({ "rows": shown, "as_of": as_of, "counts": counts, "late_since": late_since,
                "total": total, "pageno": page, "pages": pages,
                "prev": (page > 1).then(|| link(page - 1)), "next": (page < pages).then(|| link(page + 1)) }),
    )
}

/// The staff report shows late publications of the year before the day asked about (the CLI
/// and the API report them all).
fn publicity_late_since(as_of: chrono::NaiveDate) -> chrono::NaiveDate {
    as_of - chrono::Duration::days(365)
}

/// The staff report, every row, as an Excel workbook.
pub async fn publicity_export(
    State(state): State<AppState>,
    Extension(ctx): Extension<Ctx>,
    Query(q): Query<AsOfQuery>,
) -> Result<Response, WebError> {
    let as_of = day(&q.as_of, "as_of")?.unwrap_or_else(xinjian_app::today);
    let file = call(&state, &ctx, move |app, actor| {
        app.publicity_report_xlsx(actor, as_of, Some(publicity_late_since(as_of)))
    })
    .await?;
    crate::pages::file_download(
        file,
        crate::pages::XLSX_TYPE,
        &format!("publicity-{as_of}.xlsx"),
    )
}

pub async fn api_publicity(
    State(state): State<AppState>,
    Extension(ctx): Extension<Ctx>,
    Query(q): Query<AsOfQuery>,
) -> Result<Response, WebError> {
    let as_of = day(&q.as_of, "as_of")
        .map_err(|e| e.api(true))?
        .unwrap_or_else(xinjian_app::today);
    let rows = call(&state, &ctx, move |app, actor| {
        app.publicity_report(actor, as_of)
    })
    .await
    .map_err(|e| e.api(true))?;
    let items: Vec<_> = rows.into_iter().map(|r| r.item).collect();
    Ok(Json(items).into_response())
}

// ---------- staff: lists ----------

#[derive(Deserialize)]
pub struct ListsQuery {
    #[serde(default)]
    r#type: String,
    #[serde(default)]
    page: Option<i64>,
}

async fn lists_view(
    state: &AppState,
    ctx: &Ctx,
    q: &ListsQuery,
    extra: Value,
) -> Result<Response, WebError> {
    let list = if q.r#type.is_empty() {
        ListType::SeriousDishonest
    } else {
        list_type(&q.r#type)?
    };
    let page = q.page.unwrap_or(1).max(1);
    let (items, total) = call(state, ctx, move |app, actor| {
        actor.require(Permission::CreditRead)?;
        app.list_members(list, PAGE, (page - 1) * PAGE)
    })
    .await?;
    let mut v = json!({ "list": list.as_str(), "title": list.label(), "items": items, "total": total,
                        "page": page, "pages": ((total + PAGE - 1) / PAGE).max(1), "lists": list_types(),
                        "can_manage": ctx.actor.can(Permission::ListManage), "today": xinjian_app::today() });
    if let (Some(o), Value::Object(e)) = (v.as_object_mut(), extra) {
        o.extend(e);
    }
    render(state, "lists.html", ctx, v)
}

pub async fn lists_page(
    State(state): State<AppState>,
    Extension(ctx): Extension<Ctx>,
    Query(q): Query<ListsQuery>,
) -> Result<Response, WebError> {
    lists_view(&state, &ctx, &q, json!({})).await
}

pub async fn list_enter(
    State(state): State<AppState>,
    Extension(ctx): Extension<Ctx>,
    Form(f): Form<ListEntryForm>,
) -> Result<Response, WebError> {
    let input = ListEntryInput {
        code: f.code.clone(),
        list_type: ListType::parse(&f.list_type)
            .map(|l| l.label().to_owned())
            .unwrap_or(f.list_type.clone()),
        entered_on: f.entered_on.clone(),
        decision_number: f.decision_number.clone(),
        authority: f.authority.clone(),
        reason: f.reason.clone(),
        basis: f.basis.clone(),
        term_until: f.term_until.clone(),
    };
    let q = ListsQuery {
        r#type: f.list_type.clone(),
        page: None,
    };
    match call(&state, &ctx, move |app, actor| {
        app.enter_list(actor, &input)
    })
    .await
    {
        Ok(_) => Ok(Redirect::to(&format!("/lists?type={}", f.list_type)).into_response()),
        // The form comes back filled in.
        Err(e) => {
            show_refusal(e, |mut flash| {
                flash["f"] = json!(f);
                lists_view(&state, &ctx, &q, flash)
            })
            .await
        }
    }
}

#[derive(Deserialize, serde::Serialize)]
pub struct ListEntryForm {
    #[serde(default)]
    code: String,
    #[serde(default)]
    list_type: String,
    #[serde(default)]
    entered_on: String,
    #[serde(default)]
    decision_number: String,
    #[serde(default)]
    authority: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    basis: String,
    #[serde(default)]
    term_until: String,
}

#[derive(Deserialize)]
pub struct ExitForm {
    version: i64,
    #[serde(default)]
    exited_on: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    list_type: String,
}

pub async fn list_exit(
    State(state): State<AppState>,
    Extension(ctx): Extension<Ctx>,
    Path(id): Path<i64>,
    Form(f): Form<ExitForm>,
) -> Result<Response, WebError> {
    let q = ListsQuery {
        r#type: f.list_type.clone(),
        page: None,
    };
    let on = if f.exited_on.trim().is_empty() {
        xinjian_app::today().to_string()
    } else {
        f.exited_on.clone()
    };
    match call(&state, &ctx, move |app, actor| {
        app.exit_list(actor, id, f.version, &on, &f.reason)
    })
    .await
    {
        Ok(_) => Ok(Redirect::to(&format!("/lists?type={}", q.r#type)).into_response()),
        Err(e) => show_refusal(e, |flash| lists_view(&state, &ctx, &q, flash)).await,
    }
}

// ---------- staff: catalog ----------

async fn catalog_view(state: &AppState, ctx: &Ctx, extra: Value) -> Result<Response, WebError> {
    let app = state.app.clone();
    let (kinds, rules) = blocking(move || Ok((app.catalog()?, app.severity_rules()?))).await?;
    let mut v = json!({ "kinds": catalog_rows(&kinds), "rules": rules_rows(&rules),
                        "can_edit": ctx.actor.can(Permission::CatalogAdmin),
                        "natures": Nature::ALL.iter().map(|n| json!({"code": n.as_str(), "name": n.label()})).collect::<Vec<_>>(),
                        "severities": Severity::ALL.iter().map(|n| json!({"code": n.as_str(), "name": n.label()})).collect::<Vec<_>>() });
    if let (Some(o), Value::Object(e)) = (v.as_object_mut(), extra) {
        o.extend(e);
    }
    render(state, "catalog.html", ctx, v)
}

pub async fn catalog_page(
    State(state): State<AppState>,
    Extension(ctx): Extension<Ctx>,
) -> Result<Response, WebError> {
    catalog_view(&state, &ctx, json!({})).await
}

#[derive(Deserialize)]
pub struct KindForm {
    code: String,
    name: String,
    nature: String,
    #[serde(default)]
    default_severity: String,
    #[serde(default)]
    is_public: Option<String>,
    #[serde(default)]
    publish_workdays: String,
    #[serde(default)]
    minor_min: String,
    #[serde(default)]
    minor_max: String,
    #[serde(default)]
    general_min: String,
    #[serde(default)]
    general_max: String,
    #[serde(default)]
    serious_min: String,
    #[serde(default)]
    serious_max: String,
    #[serde(default)]
    none_min: String,
    #[serde(default)]
    none_max: String,
}

fn months(s: &str, field: &str) -> Result<Option<u32>, WebError> {
    let t = s.trim();
    if t.is_empty() {
        return Ok(None);
    }
    t.parse::<u32>()
        .ok()
        .filter(|m| *m <= 600)
        .map(Some)
        .ok_or_else(|| WebError::bad_request(field, "月数应为 0–600 的整数"))
}

impl KindForm {
    fn to_kind(&self) -> Result<CatalogKind, WebError> {
        let nature = Nature::parse(&self.nature)
            .ok_or_else(|| WebError::bad_request("nature", "信息性质无效"))?;
        let mut periods = std::collections::BTreeMap::new();
        let keys: [(&str, &str, &str); 4] = [
            ("minor", &self.minor_min, &self.minor_max),
            ("general", &self.general_min, &self.general_max),
            ("serious", &self.serious_min, &self.serious_max),
            ("none", &self.none_min, &self.none_max),
        ];
        for (key, min, max) in keys {
            if min.trim().is_empty() && max.trim().is_empty() {
                continue;
            }
            periods.insert(
                key.to_owned(),
                Period {
                    min_months: months(min, "periods")?.unwrap_or(0),
                    max_months: months(max, "periods")?,
                },
            );
        }
        Ok(CatalogKind {
            code: self.code.trim().to_owned(),
            name: self.name.trim().to_owned(),
            nature,
            default_severity: Severity::parse(&self.default_severity),
            is_public: self.is_public.is_some(),
            publish_workdays: months(&self.publish_workdays, "publish_workdays")?,
            periods,
        })
    }
}

async fn catalog_result(
    state: &AppState,
    ctx: &Ctx,
    r: Result<(), WebError>,
    ok: &str,
) -> Result<Response, WebError> {
    match r {
        Ok(()) => catalog_view(state, ctx, json!({ "flash": ok, "flash_kind": "ok" })).await,
        Err(e) => show_refusal(e, |flash| catalog_view(state, ctx, flash)).await,
    }
}

pub async fn catalog_kind_save(
    State(state): State<AppState>,
    Extension(ctx): Extension<Ctx>,
    Form(f): Form<KindForm>,
) -> Result<Response, WebError> {
    let r = match f.to_kind() {
        Ok(k) => {
            call(&state, &ctx, move |app, actor| {
                app.save_catalog_kind(actor, &k)
            })
            .await
        }
        Err(e) => Err(e),
    };
    catalog_result(&state, &ctx, r, "已保存信息类别").await
}

#[derive(Deserialize)]
pub struct CategoryForm {
    category: String,
    severity: String,
    #[serde(default)]
    revokes: Option<String>,
}

pub async fn catalog_category_save(
    State(state): State<AppState>,
    Extension(ctx): Extension<Ctx>,
    Form(f): Form<CategoryForm>,
) -> Result<Response, WebError> {
    let r = match Severity::parse(&f.severity) {
        Some(severity) => {
            let rule = CategoryRule {
                category: f.category.trim().to_owned(),
                severity,
                revokes_business_licence: f.revokes.is_some(),
            };
            call(&state, &ctx, move |app, actor| {
                app.save_severity_rule(actor, &rule)
            })
            .await
        }
        None => Err(WebError::bad_request("severity", "严重程度无效")),
    };
    catalog_result(&state, &ctx, r, "已保存处罚类别对照").await
}

// ---------- staff: export ----------

#[derive(Deserialize)]
pub struct ExportQuery {
    #[serde(default)]
    what: String,
    #[serde(default)]
    format: String,
    #[serde(default)]
    since: String,
    #[serde(default)]
    until: String,
}

pub async fn export_page(
    State(state): State<AppState>,
    Extension(ctx): Extension<Ctx>,
) -> Result<Response, WebError> {
    render(&state, "export.html", &ctx, json!({}))
}

pub async fn export_download(
    State(state): State<AppState>,
    Extension(ctx): Extension<Ctx>,
    Query(q): Query<ExportQuery>,
) -> Result<Response, WebError> {
    let what = match q.what.as_str() {
        "lists" => ExportWhat::Lists,
        _ => ExportWhat::Records,
    };
    let format = ExportFormat::parse(if q.format.is_empty() {
        "xlsx"
    } else {
        &q.format
    })
    .ok_or_else(|| WebError::bad_request("format", "格式应为 xlsx、csv 或 json"))?;
    let since = day(&q.since, "since")?;
    let until = day(&q.until, "until")?;
    // Into a temporary file, then sent as it is read: an export of a whole jurisdiction is
    // not held in memory.
    let file = call(&state, &ctx, move |app, actor| {
        let mut out = std::io::BufWriter::new(app.scratch_file()?);
        app.export_credit(actor, what, since, until, format, &mut out)?;
        // `into_inner` writes out what is buffered.
        out.into_inner()
            .map_err(|e| xinjian_app::AppError::Internal(format!("写出失败：{}", e.error())))
    })
    .await?;
    let base = if what == ExportWhat::Records {
        "credit-records"
    } else {
        "list-entries"
    };
    let name = format!("{base}-{}", xinjian_app::today());
    match format {
        ExportFormat::Xlsx => file_download(file, XLSX_TYPE, &format!("{name}.xlsx")),
        ExportFormat::Csv => file_download(file, "text/csv; charset=utf-8", &format!("{name}.csv")),
        ExportFormat::Json => file_download(file, "application/json", &format!("{name}.json")),
    }
}

// ---------- API ----------

/// `POST /api/v1/records` — a batch of records from a department: `{"records": [...],
/// "hold": false}`. Valid records are stored; refused ones are listed in `errors`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordBatch {
    /// Read one by one (`RecordInput::from_json`), so a bad item is refused alone.
    records: Vec<serde_json::Value>,
    #[serde(default)]
    hold: bool,
}

pub async fn api_records_post(
    State(state): State<AppState>,
    Extension(ctx): Extension<Ctx>,
    body: axum::body::Bytes,
) -> Result<Response, WebError> {
    let batch: RecordBatch = serde_json::from_slice(&body).map_err(|e| {
        WebError::bad_request("body", format!("请求体不是有效的记录批次 JSON：{e}")).api(true)
    })?;
    let res = call(&state, &ctx, move |app, actor| {
        app.submit_json_records(actor, &batch.records, batch.hold)
    })
    .await
    .map_err(|e| e.api(true))?;
    let status = if res.imported + res.updated + res.unchanged == 0 {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    Ok((status, Json(res)).into_response())
}

pub async fn api_records_get(
    State(state): State<AppState>,
    Extension(ctx): Extension<Ctx>,
    Query(q): Query<RecordsQuery>,
) -> Result<Response, WebError> {
    let page = q.page.unwrap_or(1).max(1);
    let query = RecordQuery {
        kind: (!q.kind.is_empty()).then(|| q.kind.clone()),
        subject_code: (!q.code.trim().is_empty()).then(|| xinjian_core::uscc::normalize(&q.code)),
        held_only: q.held.is_some(),
        limit: PAGE,
        offset: (page - 1) * PAGE,
    };
    let (rows, total) = call(&state, &ctx, move |app, actor| app.records(actor, &query))
        .await
        .map_err(|e| e.api(true))?;
    Ok(Json(json!({ "total": total, "items": rows })).into_response())
}

pub async fn api_record(
    State(state): State<AppState>,
    Extension(ctx): Extension<Ctx>,
    Path(id): Path<i64>,
) -> Result<Response, WebError> {
    let (r, versions) = call(&state, &ctx, move |app, actor| app.record(actor, id))
        .await
        .map_err(|e| e.api(true))?;
    let versions: Vec<Value> = versions
        .iter()
        .map(|v| json!({ "version": v.version, "status": v.state.status.as_str(), "held": v.state.held,
                         "published_on": v.state.published_on, "publicity_until": v.state.publicity_until,
                         "source": v.source, "actor": v.actor, "reason": v.reason, "at": v.created_at }))
        .collect();
    Ok(Json(json!({ "record": r, "versions": versions })).into_response())
}

pub async fn api_subject_credit(
    State(state): State<AppState>,
    Extension(ctx): Extension<Ctx>,
    Path(code): Path<String>,
) -> Result<Response, WebError> {
    let (records, lists) = call(&state, &ctx, move |app, actor| {
        app.subject_credit(actor, &code)
    })
    .await
    .map_err(|e| e.api(true))?;
    Ok(Json(json!({ "records": records, "lists": lists })).into_response())
}
