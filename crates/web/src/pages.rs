//! Server-rendered pages: the public portal and the staff workspace.

use axum::extract::{Multipart, Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use xinjian_app::accounts::NewAccount;
use xinjian_app::credit::CreditImportOptions;
use xinjian_app::demo;
use xinjian_app::import::ImportOptions;
use xinjian_core::credit_row::FileKind;
use xinjian_core::role::{allows, Permission, Role};
use xinjian_core::subject::RegStatus;
use xinjian_store::subjects::SubjectQuery;

use crate::auth::{Ctx, SESSION_COOKIE};
use crate::error::WebError;
use crate::{blocking, call, AppState};

#[derive(Serialize)]
struct Me {
    username: String,
    role: &'static str,
    role_label: &'static str,
    staff: bool,
    department: Option<String>,
    display_name: String,
}

#[derive(Serialize)]
struct NavItem {
    label: &'static str,
    href: Option<&'static str>,
    note: &'static str,
}

#[derive(Serialize)]
struct NavGroup {
    title: &'static str,
    items: Vec<NavItem>,
}

fn item(label: &'static str, href: &'static str, p: Permission, role: Role) -> Option<NavItem> {
    allows(role, p).then_some(NavItem {
        label,
        href: Some(href),
        note: "",
    })
}
fn todo(label: &'static str, note: &'static str) -> Option<NavItem> {
    Some(NavItem {
        label,
        href: None,
        note,
    })
}

/// The workspace navigation: every module of the platform, honest about what is built.
fn nav(role: Role) -> Vec<NavGroup> {
    let groups = vec![
        (
            "主体登记",
            vec![
                item("主体名录", "/subjects", Permission::SubjectRead, role),
                item("导入登记信息", "/imports", Permission::SubjectImport, role),
                item("重错码治理", "/quality", Permission::RegistryQuality, role),
            ],
        ),
        (
            "信用信息",
            vec![
                item("信用记录", "/records", Permission::CreditRead, role),
                item("双公示", "/publicity", Permission::CreditRead, role),
                item("名单管理", "/lists", Permission::CreditRead, role),
                item("信用信息目录", "/catalog", Permission::CreditRead, role)
                    .or_else(|| item("信用信息目录", "/catalog", Permission::CatalogAdmin, role)),
                item("数据共享导出", "/export", Permission::CreditExport, role),
            ],
        ),
        (
            "信用评价",
            vec![item(
                "评价结果与统计",
                "/grades",
                Permission::GradeRead,
                role,
            )],
        ),
        (
            "双随机、一公开",
            vec![
                todo("抽查事项清单", "随机抽查事项清单"),
                todo("两库管理", "检查对象名录库与执法检查人员名录库"),
                todo("抽查计划与抽取", "可验证的随机抽取"),
            ],
        ),
        (
            "联合奖惩",
            vec![
                todo("信用核查", "对其他部门的信用核查接口"),
                todo("发起与响应", "联合奖惩的触发与反馈"),
            ],
        ),
        (
            "权益保护",
            vec![
                todo("异议处理", "3 个工作日内核实"),
                todo("信用修复", "10 个工作日内审核"),
                todo("信用承诺", "告知承诺与容缺受理"),
            ],
        ),
        (
            "代理记账",
            vec![
                todo("许可审批", "代理记账资格审批"),
                todo("年度备案", "每年 4 月 30 日前"),
                todo("无证经营监测", "经营范围含代理记账但无许可的主体"),
            ],
        ),
        (
            "系统管理",
            vec![
                item("用户与令牌", "/admin/users", Permission::UserAdmin, role),
                item("审计日志", "/admin/audit", Permission::AuditRead, role),
                item(
                    "工作日历",
                    "/admin/calendar",
                    Permission::CalendarRead,
                    role,
                ),
            ],
        ),
    ];
    groups
        .into_iter()
        .map(|(title, items)| NavGroup {
            title,
            items: items.into_iter().flatten().collect(),
        })
        .filter(|g| !g.items.is_empty())
        .collect()
}

/// The common template context: who is logged in, CSRF token, navigation.
fn base(ctx: &Ctx) -> Value {
    let me = ctx.user().map(|u| Me {
        username: u.username.clone(),
        role: u.role.as_str(),
        role_label: u.role.label(),
        staff: u.role.is_staff(),
        department: u.department.clone(),
        display_name: u.display_name.clone(),
    });
    let nav = ctx.user().map(|u| nav(u.role)).unwrap_or_default();
    json!({ "me": me, "csrf": ctx.csrf, "nav": nav, "county": demo::COUNTY })
}

fn merge(mut a: Value, b: Value) -> Value {
    if let (Some(a), Value::Object(b)) = (a.as_object_mut(), b) {
        a.extend(b);
    }
    a
}

pub(crate) fn render(
    state: &AppState,
    name: &str,
    ctx: &Ctx,
    extra: Value,
) -> Result<Response, WebError> {
    Ok(state
        .templates
        .render(name, merge(base(ctx), extra))?
        .into_response())
}

/// A form refused for a reason the user can fix (a client error other than 403): the page is
/// shown again, by `view`, with the reason on top and the error's status. Other errors pass on.
pub(crate) async fn show_refusal<F, Fut>(e: WebError, view: F) -> Result<Response, WebError>
where
    F: FnOnce(Value) -> Fut,
    Fut: std::future::Future<Output = Result<Response, WebError>>,
{
    if !e.status.is_client_error() || e.status == StatusCode::FORBIDDEN {
        return Err(e);
    }
    let status = e.status;
    let mut resp = view(json!({ "flash": e.detail, "flash_kind": "error" })).await?;
    *resp.status_mut() = status;
    Ok(resp)
}

// ---------- portal ----------

pub async fn portal_home(
    State(state): State<AppState>,
    Extension(ctx): Extension<Ctx>,
) -> Result<Response, WebError> {
    render(&state, "portal_home.html", &ctx, json!({}))
}

#[derive(Deserialize)]
pub struct SearchQuery {
    #[serde(default)]
    q: String,
}

/// Subjects a portal search shows.
const PORTAL_RESULTS: i64 = 50;

pub async fn portal_search(
    State(state): State<AppState>,
    Extension(ctx): Extension<Ctx>,
    Query(q): Query<SearchQuery>,
) -> Result<Response, WebError> {
    let app = state.app.clone();
    let text = q.q.clone();
    // One more than is shown, to say whether there are more.
    let (mut results, error) =
        match blocking(move || app.public_search(&text, PORTAL_RESULTS + 1)).await {
            Ok(r) => (r, None),
            Err(e) if e.status.is_client_error() => (Vec::new(), Some(e.detail)),
            Err(e) => return Err(e),
        };
    let more = results.len() > PORTAL_RESULTS as usize;
    results.truncate(PORTAL_RESULTS as usize);
    render(
        &state,
        "portal_search.html",
        &ctx,
        json!({ "q": q.q, "results": results, "more": more, "shown": PORTAL_RESULTS, "error": error }),
    )
}

pub async fn static_file(Path(file): Path<String>) -> Response {
    let (body, ty): (&'static str, &str) = match file.as_str() {
        "app.css" => (include_str!("../static/app.css"), "text/css; charset=utf-8"),
        "import.js" => (
            include_str!("../static/import.js"),
            "text/javascript; charset=utf-8",
        ),
        _ => return (StatusCode::NOT_FOUND, "not found").into_response(),
    };
    (
        [
            (header::CONTENT_TYPE, ty),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        body,
    )
        .into_response()
}

// ---------- login ----------

#[derive(Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n.to_owned(),
        _ => String::new(),
    }
}

fn demo_hint(state: &AppState) -> Option<&'static str> {
    state
        .app
        .data_dir()
        .join(demo::MESSY_FILE)
        .exists()
        .then_some(demo::DEMO_PASSWORD)
}

pub async fn login_page(
    State(state): State<AppState>,
    Extension(ctx): Extension<Ctx>,
    Query(q): Query<NextQuery>,
) -> Result<Response, WebError> {
    render(
        &state,
        "login.html",
        &ctx,
        json!({ "next": safe_next(q.next.as_deref()), "demo": demo_hint(&state) }),
    )
}

#[derive(Deserialize)]
pub struct LoginForm {
    username: String,
    password: String,
    #[serde(default)]
    next: String,
}

pub async fn login_submit(
    State(state): State<AppState>,
    Extension(ctx): Extension<Ctx>,
    Form(f): Form<LoginForm>,
) -> Result<Response, WebError> {
    let app = state.app.clone();
    let (u, p) = (f.username.clone(), f.password.clone());
    match blocking(move || app.login(&u, &p)).await {
        Ok(session) => {
            let dest = match safe_next(Some(&f.next)) {
                n if !n.is_empty() => n,
                _ if session.user.role == Role::Entity => "/my".to_owned(),
                _ => "/workspace".to_owned(),
            };
            let cookie = format!(
                "{SESSION_COOKIE}={}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{}",
                session.token,
                xinjian_app::accounts::SESSION_HOURS * 3600,
                if state.secure_cookies { "; Secure" } else { "" }
            );
            Ok(([(header::SET_COOKIE, cookie)], Redirect::to(&dest)).into_response())
        }
        Err(e) if e.status.is_client_error() => {
            let mut resp = render(
                &state,
                "login.html",
                &ctx,
                json!({ "error": e.detail, "username": f.username, "next": safe_next(Some(&f.next)), "demo": demo_hint(&state) }),
            )?;
            *resp.status_mut() = e.status;
            Ok(resp)
        }
        Err(e) => Err(e),
    }
}

pub async fn logout(
    State(state): State<AppState>,
    Extension(ctx): Extension<Ctx>,
) -> Result<Response, WebError> {
    if let Some(token) = ctx.session.clone() {
        call(&state, &ctx, move |app, actor| app.logout(actor, &token)).await?;
    }
    let clear = format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0");
    Ok(([(header::SET_COOKIE, clear)], Redirect::to("/")).into_response())
}

// ---------- workspace ----------

pub async fn workspace(
    State(state): State<AppState>,
    Extension(ctx): Extension<Ctx>,
) -> Result<Response, WebError> {
    let (stats, credit) = call(&state, &ctx, move |app, actor| {
        Ok((app.registry_stats(actor).ok(), app.credit_stats(actor).ok()))
    })
    .await?;
    let today = xinjian_app::today();
    let workday = state.app.calendar().is_workday(today).ok();
    render(
        &state,
        "workspace.html",
        &ctx,
        json!({ "stats": stats, "credit": credit, "today": today.to_string(), "today_workday": workday}),
    )
}

#[derive(Deserialize, Default)]
pub struct SubjectsQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    bookkeeping: Option<String>,
    #[serde(default)]
    flagged: Option<String>,
    #[serde(default)]
    page: Option<i64>,
}

const PAGE: i64 = 50;

pub async fn subjects(
    State(state): State<AppState>,
    Extension(ctx): Extension<Ctx>,
    Query(q): Query<SubjectsQuery>,
) -> Result<Response, WebError> {
    subjects_list(&state, &ctx, q, None).await
}

/// The registry list, with a notice (`flash`) when there is something to say: a search that
/// was refused (an ID number in the address) or a lookup that found nobody.
async fn subjects_list(
    state: &AppState,
    ctx: &Ctx,
    mut q: SubjectsQuery,
    mut notice: Option<String>,
) -> Result<Response, WebError> {
    let pageno = q.page.unwrap_or(1).max(1);
    let query = SubjectQuery {
        q: q.q.clone(),
        status: RegStatus::parse(&q.status),
        kind: None,
        flagged_only: q.flagged.is_some(),
        bookkeeping_only: q.bookkeeping.is_some(),
        limit: PAGE,
        offset: (pageno - 1) * PAGE,
    };
    let page = match call(state, ctx, move |app, actor| {
        app.search_subjects(actor, &query)
    })
    .await
    {
        Ok(page) => page,
        // Refused: say why and where to look instead, without echoing the number.
        Err(e) if e.field.as_deref() == Some(xinjian_app::registry::SEARCH_FIELD) => {
            notice = Some(e.detail);
            q.q.clear();
            xinjian_app::registry::SubjectPage::default()
        }
        Err(e) => return Err(e),
    };
    let pages = ((page.total + PAGE - 1) / PAGE).max(1);
    let link = |p: i64| {
        format!(
            "/subjects?q={}&status={}{}{}&page={p}",
            crate::error::urlencode(&q.q),
            q.status,
            if q.bookkeeping.is_some() {
                "&bookkeeping=1"
            } else {
                ""
            },
            if q.flagged.is_some() {
                "&flagged=1"
            } else {
                ""
            }
        )
    };
    let statuses: Vec<(&str, &str)> = RegStatus::ALL
        .iter()
        .map(|s| (s.as_str(), s.label()))
        .collect();
    render(
        state,
        "subjects.html",
        ctx,
        json!({
            "flash": notice, "flash_kind": "error",
            "page": page, "q": q.q, "status": q.status, "statuses": statuses,
            "bookkeeping": q.bookkeeping.is_some(), "flagged": q.flagged.is_some(),
            "pageno": pageno, "pages": pages,
            "prev": (pageno > 1).then(|| link(pageno - 1)), "next": (pageno < pages).then(|| link(pageno + 1)),
        }),
    )
}

#[derive(Deserialize)]
pub struct PersonLookupForm {
    #[serde(default)]
    id_number: String,
}

/// 按证件号码查找自然人: the number comes in the form body (never the address) and the lookup is
/// audited; found, the person's page (its address carries the registry key, not the number).
pub async fn subject_lookup(
    State(state): State<AppState>,
    Extension(ctx): Extension<Ctx>,
    Form(f): Form<PersonLookupForm>,
) -> Result<Response, WebError> {
    let found = call(&state, &ctx, move |app, actor| {
        app.lookup_person(actor, &f.id_number)
    })
    .await;
    let notice = match found {
        Ok(Some(key)) => return Ok(Redirect::to(&format!("/subjects/{key}")).into_response()),
        Ok(None) => "没有以该证件号码登记的自然人".to_owned(),
        Err(e) if e.field.is_some() => e.detail,
        Err(e) => return Err(e),
    };
    subjects_list(&state, &ctx, SubjectsQuery::default(), Some(notice)).await
}

async fn subject_page(
    state: &AppState,
    ctx: &Ctx,
    code: String,
    revealed: Option<String>,
) -> Result<Response, WebError> {
    let (s, history) = call(state, ctx, move |app, actor| {
        Ok((
            app.subject(actor, &code)?,
            app.subject_history(actor, &code)?,
        ))
    })
    .await?;
    let can_reveal = ctx.actor.can(Permission::PersonalDataRead);
    let can_edit = ctx.actor.can(Permission::SubjectWrite);
    let credit = if ctx.actor.can(Permission::CreditRead) {
        let code = s.code.clone();
        Some(
            call(state, ctx, move |app, actor| {
                app.subject_credit(actor, &code)
            })
            .await?,
        )
    } else {
        None
    };
    let (records, lists) = credit
        .map(|(r, l)| (Some(r), Some(l)))
        .unwrap_or((None, None));
    // The grade: staff, or the entity itself (never the risk class for the entity).
    let code = s.code.clone();
    let grade = call(state, ctx, move |app, actor| {
        Ok(app.grade_of(actor, &code, None).ok())
    })
    .await?;
    render(
        state,
        "subject_detail.html",
        ctx,
        json!({ "s": s, "history": history, "can_reveal": can_reveal, "can_edit": can_edit, "revealed": revealed,
                "can_see_imports": ctx.actor.can(Permission::SubjectImport), "records": records, "lists": lists,
                "grade": grade }),
    )
}

pub async fn subject_detail(
    State(state): State<AppState>,
    Extension(ctx): Extension<Ctx>,
    Path(code): Path<String>,
) -> Result<Response, WebError> {
    subject_page(&state, &ctx, code, None).await
}

fn status_options() -> Vec<(&'static str, &'static str)> {
    RegStatus::ALL
        .iter()
        .map(|s| (s.as_str(), s.label()))
        .collect()
}

#[derive(Deserialize)]
pub struct NewSubjectQuery {
    /// `natural_person` for the form that registers a person.
    #[serde(default)]
    kind: String,
}

pub async fn subject_new(
    State(state): State<AppState>,
    Extension(ctx): Extension<Ctx>,
    Query(q): Query<NewSubjectQuery>,
) -> Result<Response, WebError> {
    let person = q.kind == "natural_person";
    render(
        &state,
        "subject_form.html",
        &ctx,
        json!({ "s": {}, "statuses": status_options(), "is_new": true, "person": person }),
    )
}

pub async fn subject_edit(
    State(state): State<AppState>,
    Extension(ctx): Extension<Ctx>,
    Path(code): Path<String>,
) -> Result<Response, WebError> {
    let s = call(&state, &ctx, move |app, actor| app.subject(actor, &code)).await?;
    render(
        &state,
        "subject_form.html",
        &ctx,
        json!({ "s": s, "statuses": status_options(), "is_new": false, "person": s.kind == "natural_person" }),
    )
}

/// Re-show the form with the error, keeping what was typed (except the ID number).
fn form_error(
    state: &AppState,
    ctx: &Ctx,
    f: &crate::SubjectChange,
    is_new: bool,
    e: WebError,
) -> Result<Response, WebError> {
    if !e.status.is_client_error() || e.status == StatusCode::FORBIDDEN {
        return Err(e);
    }
    // The ID number is never echoed back to the browser.
    let mut echo = f.subject.clone();
    echo.legal_rep_id.clear();
    echo.person_id.clear();
    // A person's form: a new one (no code, an ID number given) or an edit (a person key).
    let person = (is_new
        && f.subject.code.trim().is_empty()
        && !f.subject.person_id.trim().is_empty())
        || xinjian_core::subject::is_person_key(&xinjian_core::uscc::normalize(&f.subject.code));
    let mut s = serde_json::to_value(echo).unwrap_or_default();
    s["version"] = json!(f.version);
    let mut r = render(
        state,
        "subject_form.html",
        ctx,
        json!({ "s": s, "statuses": status_options(), "is_new": is_new, "person": person, "flash": e.detail, "flash_kind": "error", "reason": f.reason }),
    )?;
    *r.status_mut() = e.status;
    Ok(r)
}

pub async fn subject_create(
    State(state): State<AppState>,
    Extension(ctx): Extension<Ctx>,
    Form(f): Form<crate::SubjectChange>,
) -> Result<Response, WebError> {
    let (input, reason) = (f.subject.clone(), f.reason.clone());
    match call(&state, &ctx, move |app, actor| {
        app.create_subject_input(actor, input, &reason)
    })
    .await
    {
        Ok(s) => Ok(Redirect::to(&format!("/subjects/{}", s.code)).into_response()),
        Err(e) => form_error(&state, &ctx, &f, true, e),
    }
}

pub async fn subject_update(
    State(state): State<AppState>,
    Extension(ctx): Extension<Ctx>,
    Path(code): Path<String>,
    Form(f): Form<crate::SubjectChange>,
) -> Result<Response, WebError> {
    let (mut input, reason) = (f.subject.clone(), f.reason.clone());
    input.code = code.clone();
    let Some(version) = f.version else {
        return form_error(
            &state,
            &ctx,
            &f,
            false,
            WebError::bad_request("version", "表单缺少版本号，请刷新后重试"),
        );
    };
    match call(&state, &ctx, move |app, actor| {
        app.update_subject_input(actor, &code, input, version, &reason)
    })
    .await
    {
        Ok(s) => Ok(Redirect::to(&format!("/subjects/{}", s.code)).into_response()),
        Err(e) => form_error(&state, &ctx, &f, false, e),
    }
}

pub async fn my_subject(
    State(state): State<AppState>,
    Extension(ctx): Extension<Ctx>,
) -> Result<Response, WebError> {
    let code = ctx
        .user()
        .and_then(|u| u.subject_code.clone())
        .ok_or_else(|| WebError::not_found("关联主体"))?;
    subject_page(&state, &ctx, code, None).await
}

#[derive(Deserialize)]
pub struct RevealForm {
    #[serde(default)]
    purpose: String,
}

pub async fn subject_reveal(
    State(state): State<AppState>,
    Extension(ctx): Extension<Ctx>,
    Path(code): Path<String>,
    Form(f): Form<RevealForm>,
) -> Result<Response, WebError> {
    let c = code.clone();
    let full = call(&state, &ctx, move |app, actor| {
        app.reveal_id_number(actor, &c, &f.purpose)
    })
    .await?;
    subject_page(
        &state,
        &ctx,
        code,
        Some(full.unwrap_or_else(|| "（无）".into())),
    )
    .await
}

// ---------- imports ----------

fn status_labels() -> Value {
    json!({ "running": "导入中", "done": "已完成", "failed": "失败", "interrupted": "已中断" })
}

/// Labels of the import kinds.
fn kind_labels() -> Value {
    json!({ "subjects": "市场主体登记信息", "penalties": "行政处罚", "licenses": "行政许可", "lists": "名单" })
}

pub async fn imports_page(
    State(state): State<AppState>,
    Extension(ctx): Extension<Ctx>,
) -> Result<Response, WebError> {
    let jobs = call(&state, &ctx, move |app, actor| app.recent_imports(actor)).await?;
    render(
        &state,
        "imports.html",
        &ctx,
        json!({ "jobs": jobs, "status_labels": status_labels(), "max_mb": crate::MAX_UPLOAD_BYTES / 1024 / 1024,
                "demo_file": state.app.data_dir().join(demo::MESSY_FILE).exists(),
                "penalty_file": state.app.data_dir().join(xinjian_app::demo_credit::PENALTY_FILE).exists(),
                "kind_labels": kind_labels() }),
    )
}

/// Receive the file into the data directory, start the job on a background thread and send
/// the browser to the job's page, which shows progress.
pub async fn import_upload(
    State(state): State<AppState>,
    Extension(ctx): Extension<Ctx>,
    mut mp: Multipart,
) -> Result<Response, WebError> {
    let dir = state.app.data_dir().join("uploads");
    tokio::fs::create_dir_all(&dir)
        .await
        .map_err(|e| WebError::internal(e.to_string()))?;
    let mut saved: Option<(String, std::path::PathBuf)> = None;
    let mut allow_flagged = false;
    let mut hold = false;
    let mut kind = String::from("subjects");
    while let Some(mut field) = mp
        .next_field()
        .await
        .map_err(|e| WebError::bad_request("file", format!("上传内容无法读取：{e}")))?
    {
        match field.name() {
            Some("file") => {
                let name = field
                    .file_name()
                    .unwrap_or("upload")
                    .chars()
                    .filter(|c| !matches!(c, '/' | '\\' | '\0'))
                    .take(120)
                    .collect::<String>();
                let path = dir.join(format!(
                    "{}-{}",
                    xinjian_app::random_hex(8),
                    if name.is_empty() { "upload" } else { &name }
                ));
                let mut f = tokio::fs::File::create(&path)
                    .await
                    .map_err(|e| WebError::internal(e.to_string()))?;
                use tokio::io::AsyncWriteExt;
                // Stream to disk; on any failure the partial file is removed.
                let copied: Result<(), WebError> = async {
                    while let Some(chunk) = field.chunk().await.map_err(|e| {
                        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                            WebError::too_large()
                        } else {
                            WebError::bad_request("file", format!("上传中断：{e}"))
                        }
                    })? {
                        f.write_all(&chunk)
                            .await
                            .map_err(|e| WebError::internal(e.to_string()))?;
                    }
                    f.flush()
                        .await
                        .map_err(|e| WebError::internal(e.to_string()))
                }
                .await;
                if let Err(e) = copied {
                    drop(f);
                    let _ = tokio::fs::remove_file(&path).await;
                    return Err(e);
                }
                saved = Some((name, path));
            }
            Some("allow_flagged") => allow_flagged = true,
            Some("hold") => hold = true,
            Some("kind") => {
                kind = field
                    .text()
                    .await
                    .map_err(|e| WebError::bad_request("kind", format!("上传内容无法读取：{e}")))?
            }
            _ => {}
        }
    }
    let Some((name, path)) = saved else {
        return Err(WebError::bad_request("file", "请选择要导入的文件"));
    };
    if tokio::fs::metadata(&path)
        .await
        .map(|m| m.len())
        .unwrap_or(0)
        == 0
    {
        let _ = tokio::fs::remove_file(&path).await;
        return Err(WebError::bad_request("file", "文件是空的"));
    }
    if kind != "subjects" {
        let Some(file_kind) = FileKind::parse(&kind) else {
            let _ = tokio::fs::remove_file(&path).await;
            return Err(WebError::bad_request("kind", "未知的数据类别"));
        };
        let opts = CreditImportOptions { hold };
        let p2 = path.clone();
        let id = call(&state, &ctx, move |app, actor| {
            app.start_credit_import(actor, file_kind, &name, &p2, opts)
        })
        .await?;
        let app = state.app.clone();
        let actor = ctx.actor.clone();
        std::thread::spawn(move || {
            if let Err(e) = app.run_credit_import(&actor, id, file_kind, &path, opts, &mut |_| {}) {
                tracing::info!(import = id, error = %e, "import ended with an error");
            }
        });
        return Ok(Redirect::to(&format!("/imports/{id}")).into_response());
    }
    let opts = ImportOptions { allow_flagged };
    let p2 = path.clone();
    let id = call(&state, &ctx, move |app, actor| {
        app.start_subject_import(actor, &name, &p2, opts)
    })
    .await?;
    let app = state.app.clone();
    let actor = ctx.actor.clone();
    std::thread::spawn(move || {
        if let Err(e) = app.run_subject_import(&actor, id, &path, opts, &mut |_| {}) {
            tracing::info!(import = id, error = %e, "import ended with an error");
        }
    });
    Ok(Redirect::to(&format!("/imports/{id}")).into_response())
}

pub async fn import_detail(
    State(state): State<AppState>,
    Extension(ctx): Extension<Ctx>,
    Path(id): Path<i64>,
) -> Result<Response, WebError> {
    let (job, errors) = call(&state, &ctx, move |app, actor| {
        Ok((
            app.import_job(actor, id)?,
            app.import_errors(actor, id, 200)?,
        ))
    })
    .await?;
    render(
        &state,
        "import_detail.html",
        &ctx,
        json!({ "job": job, "errors": errors, "status_labels": status_labels(), "kind_labels": kind_labels() }),
    )
}

pub(crate) fn xlsx(bytes: Vec<u8>, filename: &str) -> Response {
    (
        [
            (header::CONTENT_TYPE, XLSX_TYPE.to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}\""),
            ),
        ],
        bytes,
    )
        .into_response()
}

pub const XLSX_TYPE: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// A download sent from a file as it is read (a large export or error report is not held in
/// memory), from its start, with its length.
pub(crate) fn file_download(
    mut file: std::fs::File,
    content_type: &str,
    filename: &str,
) -> Result<Response, WebError> {
    use std::io::Seek;
    let failed = |e: std::io::Error| {
        WebError::from(xinjian_app::AppError::Internal(format!(
            "读取临时文件失败：{e}"
        )))
    };
    let len = file.seek(std::io::SeekFrom::End(0)).map_err(failed)?;
    file.rewind().map_err(failed)?;
    let body = axum::body::Body::from_stream(tokio_util::io::ReaderStream::with_capacity(
        tokio::fs::File::from_std(file),
        64 * 1024,
    ));
    Ok((
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}\""),
            ),
            (header::CONTENT_LENGTH, len.to_string()),
        ],
        body,
    )
        .into_response())
}

pub async fn import_errors_xlsx(
    State(state): State<AppState>,
    Extension(ctx): Extension<Ctx>,
    Path(id): Path<i64>,
) -> Result<Response, WebError> {
    let report = call(&state, &ctx, move |app, actor| {
        app.import_errors_xlsx(actor, id)
    })
    .await?;
    file_download(report, XLSX_TYPE, &format!("import-{id}-errors.xlsx"))
}

pub async fn import_template() -> Result<Response, WebError> {
    let bytes = blocking(xinjian_app::import::template_workbook).await?;
    Ok(xlsx(bytes, "subjects-template.xlsx"))
}

pub async fn import_demo_file(State(state): State<AppState>) -> Result<Response, WebError> {
    demo_file(&state, demo::MESSY_FILE).await
}

pub async fn import_demo_penalties(State(state): State<AppState>) -> Result<Response, WebError> {
    demo_file(&state, xinjian_app::demo_credit::PENALTY_FILE).await
}

async fn demo_file(state: &AppState, file: &str) -> Result<Response, WebError> {
    let path = state.app.data_dir().join(file);
    let bytes = tokio::fs::read(&path)
        .await
        .map_err(|_| WebError::not_found("演示文件（请先运行 xinjian demo）"))?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=gbk".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{file}\""),
            ),
        ],
        bytes,
    )
        .into_response())
}

pub async fn quality(
    State(state): State<AppState>,
    Extension(ctx): Extension<Ctx>,
) -> Result<Response, WebError> {
    let r = call(&state, &ctx, move |app, actor| app.quality_report(actor)).await?;
    render(&state, "quality.html", &ctx, json!({ "r": r }))
}

// ---------- administration ----------

async fn users_view(state: &AppState, ctx: &Ctx, extra: Value) -> Result<Response, WebError> {
    let (users, tokens) = call(state, ctx, move |app, actor| {
        Ok((app.list_users(actor)?, app.list_tokens(actor)?))
    })
    .await?;
    let now = xinjian_app::now();
    let users: Vec<Value> = users
        .into_iter()
        .map(|u| {
            let locked = u.locked_until.as_deref().is_some_and(|t| t > now.as_str());
            merge(
                serde_json::to_value(&u).unwrap_or_default(),
                json!({ "locked": locked }),
            )
        })
        .collect();
    let roles: Vec<(&str, &str)> = Role::ALL.iter().map(|r| (r.as_str(), r.label())).collect();
    let role_labels: serde_json::Map<String, Value> = Role::ALL
        .iter()
        .map(|r| (r.as_str().to_owned(), json!(r.label())))
        .collect();
    render(
        state,
        "users.html",
        ctx,
        merge(
            json!({ "users": users, "tokens": tokens, "roles": roles, "role_labels": role_labels }),
            extra,
        ),
    )
}

pub async fn users_page(
    State(state): State<AppState>,
    Extension(ctx): Extension<Ctx>,
) -> Result<Response, WebError> {
    users_view(&state, &ctx, json!({})).await
}

#[derive(Deserialize)]
pub struct UserForm {
    username: String,
    #[serde(default)]
    display_name: String,
    role: String,
    #[serde(default)]
    department: String,
    #[serde(default)]
    subject_code: String,
    password: String,
}

async fn with_flash(
    state: &AppState,
    ctx: &Ctx,
    r: Result<Value, WebError>,
) -> Result<Response, WebError> {
    match r {
        Ok(extra) => users_view(state, ctx, extra).await,
        Err(e) => show_refusal(e, |flash| users_view(state, ctx, flash)).await,
    }
}

pub async fn user_create(
    State(state): State<AppState>,
    Extension(ctx): Extension<Ctx>,
    Form(f): Form<UserForm>,
) -> Result<Response, WebError> {
    let r = async {
        let role = Role::parse(&f.role).ok_or_else(|| WebError::bad_request("role", "角色无效"))?;
        let account = NewAccount {
            username: f.username.trim().to_owned(),
            display_name: f.display_name,
            role,
            department: Some(f.department),
            subject_code: Some(f.subject_code),
            password: f.password,
        };
        let name = account.username.clone();
        call(&state, &ctx, move |app, actor| {
            app.create_user(actor, &account)
        })
        .await?;
        Ok(json!({ "flash": format!("已创建用户 {name}") }))
    }
    .await;
    with_flash(&state, &ctx, r).await
}

#[derive(Deserialize)]
pub struct ActiveForm {
    active: String,
}

pub async fn user_active(
    State(state): State<AppState>,
    Extension(ctx): Extension<Ctx>,
    Path(id): Path<i64>,
    Form(f): Form<ActiveForm>,
) -> Result<Response, WebError> {
    let active = f.active == "1";
    let r = call(&state, &ctx, move |app, actor| {
        app.set_user_active(actor, id, active)
    })
    .await
    .map(|_| json!({ "flash": if active { "已启用" } else { "已停用，该用户的登录会话已结束" } }));
    with_flash(&state, &ctx, r).await
}

#[derive(Deserialize)]
pub struct PasswordForm {
    password: String,
}

pub async fn user_password(
    State(state): State<AppState>,
    Extension(ctx): Extension<Ctx>,
    Path(id): Path<i64>,
    Form(f): Form<PasswordForm>,
) -> Result<Response, WebError> {
    let r = call(&state, &ctx, move |app, actor| {
        app.reset_password(actor, id, &f.password)
    })
    .await
    .map(|_| json!({ "flash": "密码已重置，账号锁定已解除" }));
    with_flash(&state, &ctx, r).await
}

#[derive(Deserialize)]
pub struct TokenForm {
    name: String,
}

pub async fn token_issue(
    State(state): State<AppState>,
    Extension(ctx): Extension<Ctx>,
    Path(id): Path<i64>,
    Form(f): Form<TokenForm>,
) -> Result<Response, WebError> {
    let r = call(&state, &ctx, move |app, actor| {
        app.issue_token(actor, id, &f.name)
    })
    .await
    .map(|t| json!({ "new_token": t }));
    with_flash(&state, &ctx, r).await
}

pub async fn token_revoke(
    State(state): State<AppState>,
    Extension(ctx): Extension<Ctx>,
    Path(id): Path<i64>,
) -> Result<Response, WebError> {
    let r = call(&state, &ctx, move |app, actor| app.revoke_token(actor, id))
        .await
        .map(|_| json!({ "flash": "令牌已吊销" }));
    with_flash(&state, &ctx, r).await
}

#[derive(Deserialize)]
pub struct AuditQuery {
    #[serde(default)]
    q: String,
}

pub async fn audit_page(
    State(state): State<AppState>,
    Extension(ctx): Extension<Ctx>,
    Query(q): Query<AuditQuery>,
) -> Result<Response, WebError> {
    let filter = q.q.clone();
    let (entries, verify) = call(&state, &ctx, move |app, actor| {
        Ok((
            app.audit_recent(actor, &filter, 200)?,
            app.audit_verify(actor)?,
        ))
    })
    .await?;
    let verify = match verify {
        xinjian_store::audit::Verification::Ok { entries, head_hash } => {
            json!({ "ok": true, "text": format!("完整，共 {entries} 条；链头哈希 {head_hash}") })
        }
        xinjian_store::audit::Verification::Broken { entry, fault } => {
            json!({ "ok": false, "text": format!("第 {entry} 条起被篡改：{fault}") })
        }
    };
    render(
        &state,
        "audit.html",
        &ctx,
        json!({ "entries": entries, "verify": verify, "q": q.q }),
    )
}

#[derive(Deserialize)]
pub struct CalendarQuery {
    date: Option<String>,
    n: Option<u32>,
}

pub async fn calendar_page(
    State(state): State<AppState>,
    Extension(ctx): Extension<Ctx>,
    Query(q): Query<CalendarQuery>,
) -> Result<Response, WebError> {
    calendar_view(&state, &ctx, q, json!({})).await
}

async fn calendar_view(
    state: &AppState,
    ctx: &Ctx,
    q: CalendarQuery,
    extra: Value,
) -> Result<Response, WebError> {
    let cal = state.app.calendar();
    let (result, ok) = match (&q.date, q.n) {
        (Some(d), Some(n)) if !d.is_empty() => match xinjian_core::dates::parse_date(d) {
            Ok(date) => match cal.add_workdays(date, n) {
                Ok(r) => (Some(format!("{date} 之后第 {n} 个工作日是 {r}")), true),
                Err(e) => (Some(e.to_string()), false),
            },
            Err(e) => (Some(e), false),
        },
        _ => (None, true),
    };
    render(
        state,
        "calendar.html",
        ctx,
        merge(
            json!({ "years": cal.years(), "date": q.date, "n": q.n.unwrap_or(7), "result": result, "result_ok": ok,
                    "can_load": ctx.actor.can(Permission::CalendarAdmin) }),
            extra,
        ),
    )
}

#[derive(Deserialize)]
pub struct CalendarForm {
    json: String,
}

pub async fn calendar_upload(
    State(state): State<AppState>,
    Extension(ctx): Extension<Ctx>,
    Form(f): Form<CalendarForm>,
) -> Result<Response, WebError> {
    let q = CalendarQuery {
        date: None,
        n: None,
    };
    match call(&state, &ctx, move |app, actor| {
        app.load_calendar_years(actor, &f.json)
    })
    .await
    {
        Ok(years) => {
            calendar_view(
                &state,
                &ctx,
                q,
                json!({ "flash": format!("已导入 {:?} 年的节假日安排", years) }),
            )
            .await
        }
        Err(e) if e.status.is_client_error() => {
            let mut r = calendar_view(
                &state,
                &ctx,
                q,
                json!({ "flash": e.detail, "flash_kind": "error" }),
            )
            .await?;
            *r.status_mut() = e.status;
            Ok(r)
        }
        Err(e) => Err(e),
    }
}
