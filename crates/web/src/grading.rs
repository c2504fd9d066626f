//! Credit grading over HTTP: the grade API (staff and the entity itself), the statistics page
//! with its chart and export, evaluation runs, and the rules.

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form, Json};
use serde::Deserialize;
use serde_json::{json, Value};
use xinjian_app::grading::{grade_labels, risk_labels};
use xinjian_core::grade::GradeRules;
use xinjian_core::role::Permission;

use crate::auth::Ctx;
use crate::error::WebError;
use crate::pages::{render, show_refusal, xlsx};
use crate::{call, AppState};

#[derive(Deserialize)]
pub struct AsOf {
    #[serde(default)]
    as_of: String,
}

fn as_of(s: &str) -> Result<Option<chrono::NaiveDate>, WebError> {
    if s.trim().is_empty() {
        return Ok(None);
    }
    xinjian_core::dates::parse_iso_date(s)
        .map(Some)
        .map_err(|e| WebError::bad_request("as_of", e))
}

/// `GET /api/v1/subjects/{code}/grade?as_of=` — `{code, as_of, grade, rule_version, reasons}`.
pub async fn api_grade(
    State(state): State<AppState>,
    Extension(ctx): Extension<Ctx>,
    Path(code): Path<String>,
    Query(q): Query<AsOf>,
) -> Result<Response, WebError> {
    let t = as_of(&q.as_of).map_err(|e| e.api(true))?;
    let v = call(&state, &ctx, move |app, actor| {
        app.grade_of(actor, &code, t)
    })
    .await
    .map_err(|e| e.api(true))?;
    Ok(Json(v.json).into_response())
}

#[derive(Deserialize)]
pub struct StatsQuery {
    #[serde(default)]
    by: String,
    #[serde(default)]
    started: Option<String>,
    #[serde(default)]
    saved: Option<String>,
}

pub async fn grades_page(
    State(state): State<AppState>,
    Extension(ctx): Extension<Ctx>,
    Query(q): Query<StatsQuery>,
) -> Result<Response, WebError> {
    let flash = if q.started.is_some() {
        json!({ "flash": "评价已开始，完成后下方“评价批次”中显示结果（刷新页面查看）。", "flash_kind": "ok" })
    } else if q.saved.is_some() {
        json!({ "flash": "已保存新的规则版本，下次评价起使用。", "flash_kind": "ok" })
    } else {
        json!({})
    };
    grades_view(&state, &ctx, q.by == "division", flash).await
}

async fn grades_view(
    state: &AppState,
    ctx: &Ctx,
    by_division: bool,
    extra: Value,
) -> Result<Response, WebError> {
    let (groups, runs, rules) = call(state, ctx, move |app, actor| {
        Ok((
            app.grade_groups(actor, by_division)?,
            app.evaluation_runs(actor)?,
            app.grade_rules()?,
        ))
    })
    .await?;
    let mut totals = [0i64; 4];
    let mut risk_totals = [0i64; 4];
    for g in &groups {
        for i in 0..4 {
            totals[i] += g.grades[i];
            risk_totals[i] += g.risk[i];
        }
    }
    let all: i64 = totals.iter().sum();
    // Stacked bars (SVG rectangles: the page's CSP allows no inline styles): x and width in
    // per cent of each group.
    let bars = |pct: &[f64; 4]| {
        let mut x = 0.0;
        ["A", "B", "C", "D"]
            .iter()
            .zip(pct)
            .map(|(g, w)| {
                let bar = json!({ "grade": g, "x": x, "w": w });
                x += w;
                bar
            })
            .collect::<Vec<_>>()
    };
    let chart: Vec<Value> = groups
        .iter()
        .take(15)
        .map(|g| json!({ "group": g.group, "total": g.total, "bars": bars(&g.pct) }))
        .collect();
    let total_pct = totals.map(|n| {
        if all == 0 {
            0.0
        } else {
            (n as f64 * 1000.0 / all as f64).round() / 10.0
        }
    });
    let overall = bars(&total_pct);
    let mut v = json!({ "groups": groups, "chart": chart, "overall": overall, "by": if by_division { "division" } else { "industry" }, "runs": runs,
                "totals": totals, "total_pct": total_pct, "all": all, "risk_totals": risk_totals, "grades": grade_labels(), "risks": risk_labels(),
                "show_risk": ctx.actor.can(Permission::RiskRead), "can_run": ctx.actor.can(Permission::GradeRun),
                "can_rules": ctx.actor.can(Permission::GradeRulesAdmin), "rules": rules.0, "card": rules.1 });
    if let (Some(o), Value::Object(e)) = (v.as_object_mut(), extra) {
        o.extend(e);
    }
    render(state, "grades.html", ctx, v)
}

#[derive(Deserialize)]
pub struct RunForm {
    #[serde(default)]
    full: Option<String>,
    #[serde(default)]
    as_of: String,
}

/// Start an evaluation run in the background; the page lists it as running.
pub async fn grades_run(
    State(state): State<AppState>,
    Extension(ctx): Extension<Ctx>,
    Form(f): Form<RunForm>,
) -> Result<Response, WebError> {
    if !ctx.actor.can(Permission::GradeRun) {
        return Err(WebError::forbidden());
    }
    let t = as_of(&f.as_of)?;
    let full = f.full.is_some();
    let app = state.app.clone();
    let actor = ctx.actor.clone();
    std::thread::spawn(move || {
        if let Err(e) = app.evaluate_jurisdiction(&actor, t, full, &mut |_, _| {}) {
            tracing::warn!(error = %e, "evaluation run failed");
        }
    });
    Ok(Redirect::to("/grades?started=1").into_response())
}

pub async fn grades_export(
    State(state): State<AppState>,
    Extension(ctx): Extension<Ctx>,
    Query(q): Query<StatsQuery>,
) -> Result<Response, WebError> {
    let by_division = q.by == "division";
    let bytes = call(&state, &ctx, move |app, actor| {
        app.grade_groups_xlsx(actor, by_division)
    })
    .await?;
    Ok(xlsx(
        bytes,
        &format!(
            "grades-by-{}-{}.xlsx",
            if by_division { "division" } else { "industry" },
            xinjian_app::today()
        ),
    ))
}

#[derive(Deserialize)]
pub struct RulesForm {
    version: String,
    window_months: u32,
    #[serde(default)]
    cycle_months: Option<u32>,
    general_b_max: u32,
    cutoff_general: u32,
    cutoff_higher: u32,
    cutoff_high: u32,
}

pub async fn rules_save(
    State(state): State<AppState>,
    Extension(ctx): Extension<Ctx>,
    Form(f): Form<RulesForm>,
) -> Result<Response, WebError> {
    let r = call(&state, &ctx, move |app, actor| {
        let (base, mut card) = app.grade_rules()?;
        let rules = GradeRules {
            version: f.version.trim().to_owned(),
            window_months: f.window_months,
            cycle_months: f.cycle_months.unwrap_or(base.cycle_months),
            general_b_max: f.general_b_max,
            ..base
        };
        card.version = format!("{}-risk", rules.version);
        card.cutoffs = [f.cutoff_general, f.cutoff_higher, f.cutoff_high];
        app.save_grade_rules(actor, &rules, &card)
    })
    .await;
    match r {
        Ok(()) => Ok(Redirect::to("/grades?saved=1").into_response()),
        Err(e) => show_refusal(e, |flash| grades_view(&state, &ctx, false, flash)).await,
    }
}
